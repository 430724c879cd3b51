//! The execution input: a pipeline's rollout document, a console re-run's `rerunInput`, or the
//! EventBridge event of a new account. Each is laid over the stored default spec (itself a
//! rollout document) field by field, then checked whole.

use serde_json::Value;
use stackfleet_core::document::Resolved;
use stackfleet_core::{AccountId, Rollout, Targets};

use crate::error::LambdaError;

/// A parsed execution input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RolloutInput {
    /// The input over the stored default: the run's own rollout document, which a re-run narrows.
    pub document: Rollout,
    pub resolved: Resolved,
    /// Set for a new-account event: AccessDenied then means "not ready yet".
    pub new_account: bool,
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

/// What a new-account event stands for: the default spec, deployed to that account alone.
fn for_new_account(account: AccountId) -> Rollout {
    Rollout {
        targets: Targets {
            accounts: vec![account],
            ..Targets::default()
        },
        ..Rollout::default()
    }
}

/// Lays the input over the stored default spec and checks the result whole. Unknown or
/// misspelt fields are refused with their name, before anything else happens.
pub fn parse(default: &Value, input: &Value) -> Result<RolloutInput, LambdaError> {
    let default: Rollout = serde_json::from_value(default.clone())
        .map_err(|e| LambdaError::invalid(format!("the stored default spec: {e}")))?;
    let (given, new_account) = match new_account_event(input)? {
        Some(account) => (for_new_account(account), true),
        None => {
            if !input.is_object() {
                return Err(LambdaError::invalid(
                    "the execution input must be a JSON object: a rollout document",
                ));
            }
            let given: Rollout = serde_json::from_value(input.clone())
                .map_err(|e| LambdaError::invalid(format!("the execution input: {e}")))?;
            (given, false)
        }
    };
    let document = given.over(default);
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
        new_account,
    })
}
