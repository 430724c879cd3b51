//! What `stackfleet start` waits for once it has started an execution: Discover's verdict on
//! the input. The state machine's lister holds the input to the stored default spec (the
//! policy), so only it can say whether a field is refused; `start` waits for that answer (a few
//! seconds) so that a pipeline's start step fails on bad input, saying which fields the machine
//! accepts, instead of an execution failing later where nobody looks.

use std::time::Duration;

use serde_json::Value;

use crate::executions::{Executions, Status};
use crate::operator::OperatorError;

/// The state machine's tag naming the fields an execution input may change (the CDK app's
/// `inputFields`, space-separated).
pub const INPUT_FIELDS_TAG: &str = "stackfleet:input-fields";
/// The state machine's tag saying which inputs it takes: `any`, or `new-account` only.
pub const ACCEPT_TAG: &str = "stackfleet:accept";

/// How Discover took the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Discovery {
    /// Listed: targets to deploy to, waves, and targets reported Skipped at once.
    Listed { targets: u64, waves: u64, skipped: u64 },
    /// The execution ended before Discover handed over: its error and cause.
    Refused { error: String, cause: String },
    /// The execution already succeeded (its Discover output no longer in the history's reach).
    Finished,
    /// Still at Discover when the patience ran out (a large Organization, a throttled one).
    Pending,
}

/// Looks every `step` until Discover has answered, for at most `patience`.
pub async fn await_discovery<E: Executions>(
    executions: &E,
    execution_arn: &str,
    patience: Duration,
    step: Duration,
) -> Result<Discovery, OperatorError> {
    let began = tokio::time::Instant::now();
    loop {
        if let Some(output) = executions.state_output(execution_arn, "Discover").await? {
            let output: Value = serde_json::from_str(&output).unwrap_or_default();
            let count = |field: &str| output.get(field).and_then(Value::as_u64).unwrap_or(0);
            return Ok(Discovery::Listed {
                targets: count("targets"),
                waves: count("waves"),
                skipped: count("skipped"),
            });
        }
        if let Some(execution) = executions.describe(execution_arn).await? {
            if execution.status == Status::Succeeded {
                return Ok(Discovery::Finished);
            }
            if execution.status.is_finished() {
                return Ok(Discovery::Refused {
                    error: execution.error.unwrap_or_else(|| execution.status.to_string()),
                    cause: execution.cause.unwrap_or_default(),
                });
            }
        }
        if began.elapsed() >= patience {
            return Ok(Discovery::Pending);
        }
        tokio::time::sleep(step).await;
    }
}

/// What a state machine accepts from an execution input, from its tags, for a refusal's
/// message: `None` when it carries no such tag (deployed before the tags, or by hand).
pub async fn accepted_fields<E: Executions>(executions: &E, state_machine_arn: &str) -> Option<String> {
    let fields = executions
        .tag(state_machine_arn, INPUT_FIELDS_TAG)
        .await
        .ok()
        .flatten();
    let accept = executions.tag(state_machine_arn, ACCEPT_TAG).await.ok().flatten();
    match (accept.as_deref(), fields) {
        (Some("new-account"), _) => Some("no execution input: it takes new-account events only".into()),
        (_, Some(fields)) if fields.trim().is_empty() => Some("no change to its default spec".into()),
        // `inputFields: *` (a tag value cannot hold `*`).
        (_, Some(fields)) if fields.trim() == "all-fields" => {
            Some("a change to any field, anywhere in the Organization (inputFields *)".into())
        }
        (_, Some(fields)) => Some(format!(
            "changes to {} (and resume, alarms); every other field comes from its stored default spec",
            fields.split_whitespace().collect::<Vec<_>>().join(", ")
        )),
        (_, None) => None,
    }
}
