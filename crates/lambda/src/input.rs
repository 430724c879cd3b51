//! The execution input: a pipeline's rollout document, a re-run's or resume's input, or the
//! EventBridge event of a new account. The stored default spec (itself a rollout document) is
//! the policy: a document input is laid over it field by field and may change only what the
//! machine's allow-list names (`InputPolicy`); a new-account event deploys the default exactly.

use serde_json::Value;
use stackfleet_core::document::Resolved;
use stackfleet_core::policy::InputPolicy;
use stackfleet_core::{AccountId, Rollout};

use crate::error::LambdaError;

/// How a state machine takes its inputs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Acceptance {
    /// What a document input may change (`STACKFLEET_INPUT_FIELDS`).
    pub policy: InputPolicy,
    /// Only new-account events (`STACKFLEET_ACCEPT=new-account`): the bootstrap machine, whose
    /// deploy role is an administrator role in every account, takes no other input.
    pub new_accounts_only: bool,
}

/// A parsed execution input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RolloutInput {
    /// The input over the stored default: the run's own rollout document, which a re-run narrows.
    pub document: Rollout,
    pub resolved: Resolved,
    /// The stored default spec: its targets bound every run's.
    pub default: Rollout,
    /// The account of a new-account event: AccessDenied then means "not ready yet".
    pub new_account: Option<AccountId>,
    /// The run's targets must lie within the default's (`InputPolicy::bounds_targets`).
    pub bounded: bool,
    /// The input as given, when it is a rollout document.
    pub given: Option<Rollout>,
}

/// The account an EventBridge new-account event is about, if `input` is one: Organizations'
/// `CreateAccountResult` (via CloudTrail) or Control Tower's `CreateManagedAccount`.
pub fn new_account_event(input: &Value) -> Result<Option<AccountId>, LambdaError> {
    if input.get("detail-type").is_none() || input.get("source").is_none() {
        return Ok(None);
    }
    let details = &input["detail"]["serviceEventDetails"];
    let (state, account) = match input["detail"]["eventName"].as_str() {
        Some("CreateAccountResult") => {
            let status = &details["createAccountStatus"];
            (status["state"].as_str(), status["accountId"].as_str())
        }
        Some("CreateManagedAccount") => {
            let status = &details["createManagedAccountStatus"];
            (status["state"].as_str(), status["account"]["accountId"].as_str())
        }
        other => {
            return Err(LambdaError::invalid(format!(
                "an EventBridge event stackfleet does not handle: {other:?} (expected CreateAccountResult or CreateManagedAccount)"
            )))
        }
    };
    if state != Some("SUCCEEDED") {
        return Err(LambdaError::invalid(format!(
            "the account creation did not succeed (state {state:?}): nothing to deploy"
        )));
    }
    let account = account.ok_or_else(|| LambdaError::invalid("the event names no account ID"))?;
    account
        .parse()
        .map(Some)
        .map_err(|e| LambdaError::invalid(format!("{e}")))
}

/// Reads the input, checks it against the stored default spec and the machine's acceptance,
/// lays it over the default and checks the result whole. Unknown or misspelt fields, and
/// fields the machine does not let an input change, are refused with their names before
/// anything else happens.
pub fn parse(default: &Value, input: &Value, acceptance: &Acceptance) -> Result<RolloutInput, LambdaError> {
    let default: Rollout = serde_json::from_value(default.clone())
        .map_err(|e| LambdaError::invalid(format!("the stored default spec: {e}")))?;
    let new_account = new_account_event(input)?;
    let (document, given) = match &new_account {
        // Exactly the default: the lister keeps the account's targets if the default's
        // targeting admits them.
        Some(_) => (Rollout::default().over(default.clone()), None),
        None if acceptance.new_accounts_only => {
            return Err(LambdaError::invalid(
                "this state machine accepts only the EventBridge events of new accounts (its deploy \
                 role is an administrator role, STACKFLEET_ACCEPT=new-account): start rollouts on \
                 the main stackfleet state machine",
            ))
        }
        None => {
            if !input.is_object() {
                return Err(LambdaError::invalid(
                    "the execution input must be a JSON object: a rollout document",
                ));
            }
            let given: Rollout = serde_json::from_value(input.clone())
                .map_err(|e| LambdaError::invalid(format!("the execution input: {e}")))?;
            let document = given.clone().over(default.clone());
            acceptance
                .policy
                .check(&default, &document)
                .map_err(|e| LambdaError::invalid(e.to_string()))?;
            (document, Some(given))
        }
    };
    let resolved = document
        .resolve()
        .map_err(|e| LambdaError::invalid(e.to_string()))?;
    if resolved.targets.regions.is_empty() && resolved.targets.list.is_empty() {
        return Err(LambdaError::invalid(
            "targets.regions is empty: name at least one region",
        ));
    }
    Ok(RolloutInput {
        document,
        resolved,
        default,
        new_account,
        bounded: acceptance.policy.bounds_targets(),
        given,
    })
}
