//! The execution input: a pipeline's full spec, a console re-run's `rerunInput`, or the
//! EventBridge event of a new account. Each is merged field by field over the stored default
//! spec, then parsed at this edge into core's types.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use stackfleet_core::targeting::Selection;
use stackfleet_core::{AccountId, Region, RolloutSpec, Target};

use crate::error::LambdaError;

/// Which accounts and regions, as an execution input names them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TargetsInput {
    #[serde(default)]
    pub accounts: Vec<AccountId>,
    #[serde(default)]
    pub ous: Vec<String>,
    /// Every tag must match.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    #[serde(default)]
    pub exclude: Vec<AccountId>,
    #[serde(default)]
    pub regions: Vec<Region>,
    #[serde(default)]
    pub include_management_account: bool,
    /// Exactly these targets (a re-run's failures); the other selectors are then ignored.
    #[serde(default)]
    pub list: Vec<Target>,
}

impl TargetsInput {
    pub fn selection(&self) -> Selection {
        Selection {
            accounts: self.accounts.clone(),
            ous: self.ous.clone(),
            tag_filters: self.tags.clone().into_iter().collect(),
            exclude: self.exclude.clone(),
            include_management_account: self.include_management_account,
            regions: self.regions.clone(),
        }
    }
}

/// A parsed execution input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RolloutInput {
    pub spec: RolloutSpec,
    pub targets: TargetsInput,
    pub concurrency: u32,
    pub tolerated_failure_percentage: u8,
    /// Set for a new-account event: AccessDenied then means "not ready yet".
    pub new_account: bool,
}

/// Fields of the execution input that are about the rollout, not the stack.
const ROLLOUT_FIELDS: [&str; 4] = [
    "targets",
    "concurrency",
    "toleratedFailurePercentage",
    "newAccount",
];
const DEFAULT_CONCURRENCY: u32 = 50;
/// Step Functions' ceiling for a Distributed Map's child executions at once.
const MAX_CONCURRENCY: u32 = 10_000;

/// Objects that are one choice, not a set of settings: `template` is `{"body"}` or `{"url"}`,
/// and a body merged into a default's url would be both.
const REPLACED_WHOLE: [&str; 1] = ["template"];

/// `input` over `default`: objects merge key by key (except `template`, which `input` replaces),
/// anything else in `input` wins. An explicit empty list in `input` therefore clears the default's.
pub fn merge(default: &Value, input: &Value) -> Value {
    match (default, input) {
        (Value::Object(base), Value::Object(over)) => {
            let mut merged = base.clone();
            for (key, value) in over {
                let combined = match base.get(key) {
                    Some(below) if !REPLACED_WHOLE.contains(&key.as_str()) => merge(below, value),
                    _ => value.clone(),
                };
                merged.insert(key.clone(), combined);
            }
            Value::Object(merged)
        }
        (_, over) => over.clone(),
    }
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
fn for_new_account(account: &AccountId) -> Value {
    serde_json::json!({
        "targets": { "accounts": [account], "ous": [], "tags": {}, "list": [] },
        "newAccount": true,
    })
}

/// Merges the input over the default and parses it. Returns the merged input too: it is what
/// a re-run starts from.
pub fn parse(default: &Value, input: &Value) -> Result<(RolloutInput, Value), LambdaError> {
    let effective = match new_account_event(input)? {
        Some(account) => for_new_account(&account),
        None => input.clone(),
    };
    let merged = merge(default, &effective);
    let Value::Object(fields) = &merged else {
        return Err(LambdaError::invalid("the execution input must be a JSON object"));
    };
    let (rollout, stack): (Map<String, Value>, Map<String, Value>) = fields
        .clone()
        .into_iter()
        .partition(|(key, _)| ROLLOUT_FIELDS.contains(&key.as_str()));
    let spec: RolloutSpec = serde_json::from_value(Value::Object(stack))
        .map_err(|e| LambdaError::invalid(format!("the rollout spec: {e}")))?;
    spec.validate().map_err(|e| LambdaError::invalid(e.to_string()))?;
    let targets: TargetsInput = match rollout.get("targets") {
        Some(targets) => serde_json::from_value(targets.clone())
            .map_err(|e| LambdaError::invalid(format!("targets: {e}")))?,
        None => TargetsInput::default(),
    };
    if targets.regions.is_empty() && targets.list.is_empty() {
        return Err(LambdaError::invalid(
            "targets.regions is empty: name at least one region",
        ));
    }
    let number = |key: &str, default: u64, max: u64| -> Result<u64, LambdaError> {
        match rollout.get(key) {
            None => Ok(default),
            Some(value) => value
                .as_u64()
                .filter(|n| (1..=max).contains(n) || (key == "toleratedFailurePercentage" && *n == 0))
                .ok_or_else(|| {
                    LambdaError::invalid(format!("{key} must be a whole number up to {max}, not {value}"))
                }),
        }
    };
    let concurrency = number(
        "concurrency",
        u64::from(DEFAULT_CONCURRENCY),
        u64::from(MAX_CONCURRENCY),
    )?;
    let tolerated = number("toleratedFailurePercentage", 0, 100)?;
    let new_account = rollout
        .get("newAccount")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    Ok((
        RolloutInput {
            spec,
            targets,
            concurrency: u32::try_from(concurrency).unwrap_or(MAX_CONCURRENCY),
            tolerated_failure_percentage: u8::try_from(tolerated).unwrap_or(100),
            new_account,
        },
        merged,
    ))
}

/// `merged` narrowed to exactly `failed`: what the console's "Start execution" or the CLI takes
/// to re-run only the failures.
pub fn rerun_input(merged: &Value, failed: &[Target]) -> Value {
    let mut rerun = merged.clone();
    if let Value::Object(fields) = &mut rerun {
        fields.insert("targets".into(), serde_json::json!({ "list": failed }));
        fields.remove("newAccount");
    }
    rerun
}
