//! What the operator commands decide, over the `Executions` port and the run store: an execution
//! started once per input, its status while it runs, a re-run of only its failures, and its
//! report. No AWS here: the CLI passes the Step Functions adapter, tests pass the in-memory fake.

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::document::Rollout;
use crate::executions::{self, Execution, Executions, ItemCounts, Status};
use crate::ids::{RunId, StackName};
use crate::outputs::OutputsMap;
use crate::ports::{all_pages, PortError, RunStore};
use crate::report::Report;
use crate::run_keys::RunKeys;
use crate::wire::reduce::Reduced;

/// The state machine tag naming the bucket of its runs' records (set by the CDK app).
pub const BUCKET_TAG: &str = "stackfleet:bucket";
/// The state whose output carries the summary and the resume input's key (statemachine.asl.json).
pub const REDUCE_STATE: &str = "Reduce";
/// The run ID holds the whole name, before the start time (`run_ids`).
const NAME_LIMIT: usize = crate::run_ids::NAME_ROOM;
const HASH_CHARS: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum OperatorError {
    /// Not done as asked; the message says why and what to do instead.
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Aws(#[from] PortError),
}

/// `<stack>-<16 hex digits of the input's SHA-256>`: the same input always gets the same name,
/// so a pipeline that retries its submit finds the execution it started.
pub fn execution_name(stack: &StackName, input: &Value) -> String {
    let digest = Sha256::digest(canonical(input).as_bytes());
    let hash: String = digest.iter().map(|byte| format!("{byte:02x}")).collect();
    let room = NAME_LIMIT - HASH_CHARS - 1;
    let stack: String = stack.as_str().chars().take(room).collect();
    format!("{stack}-{}", &hash[..HASH_CHARS])
}

/// JSON with every object's keys sorted: equal values, equal text, whatever order the keys
/// were written in.
fn canonical(value: &Value) -> String {
    serde_json::to_string(&crate::wire::Sorted::of(value)).unwrap_or_default()
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submitted {
    pub arn: String,
    pub name: String,
    /// The execution that already had this name; nothing new was started.
    pub existing: Option<Execution>,
}

fn parse_json(text: &str) -> Option<Value> {
    serde_json::from_str(text).ok()
}

/// The execution named `name`, started with `input` unless one of that name exists: `None` when
/// this call began it. It looks first because StartExecution answers a running execution of the
/// same name and input with its ARN, as if it had started it: only a look tells a retry from a
/// first start. A start that loses the race for the name between look and start describes the
/// winner.
async fn start_once<E: Executions>(
    executions: &E,
    state_machine_arn: &str,
    name: &str,
    input: &str,
) -> Result<(String, Option<Execution>), PortError> {
    let arn = executions::execution_arn(state_machine_arn, name).ok_or_else(|| PortError::Rejected {
        code: "InvalidArn".into(),
        message: format!("{state_machine_arn} is not a state machine ARN"),
    })?;
    if let Some(existing) = executions.describe(&arn).await? {
        return Ok((existing.arn.clone(), Some(existing)));
    }
    if let Some(started) = executions.start_execution(state_machine_arn, name, input).await? {
        return Ok((started, None));
    }
    match executions.describe(&arn).await? {
        Some(winner) => Ok((winner.arn.clone(), Some(winner))),
        None => Err(PortError::Rejected {
            code: "ExecutionAlreadyExists".into(),
            message: format!("the name {name} is taken, but no execution {arn} can be described"),
        }),
    }
}

/// Starts `input` as `name`, once. An execution of that name with the same input that is
/// running or succeeded is the one this submit asked for; one that ended otherwise, or one
/// with another input, is refused: starting again needs a name the user chooses.
pub async fn submit<E: Executions>(
    executions: &E,
    state_machine_arn: &str,
    name: &str,
    input: &Value,
) -> Result<Submitted, OperatorError> {
    let (arn, existing) = start_once(executions, state_machine_arn, name, &input.to_string()).await?;
    let Some(existing) = existing else {
        return Ok(Submitted {
            arn,
            name: name.to_owned(),
            existing: None,
        });
    };
    if existing.input.as_deref().and_then(parse_json).as_ref() != Some(input) {
        return Err(OperatorError::Refused(format!(
            "an execution named {name} already exists ({}) with a different input: choose another --name",
            existing.status
        )));
    }
    match &existing.status {
        Status::Running | Status::Succeeded | Status::Other(_) => Ok(Submitted {
            arn,
            name: name.to_owned(),
            existing: Some(existing),
        }),
        // A retry of a submit whose rollout already ended badly must not read as started.
        ended => Err(OperatorError::Refused(format!(
            "{name} already ran with this input and ended {ended}: re-run its failures with \
             `stackfleet rerun {arn}`, or pass --name to start the same input again"
        ))),
    }
}

pub(crate) async fn described<E: Executions>(executions: &E, arn: &str) -> Result<Execution, OperatorError> {
    executions.describe(arn).await?.ok_or_else(|| {
        OperatorError::Refused(format!(
            "no execution {arn}: check the ARN, and that --region is the state machine's region"
        ))
    })
}

/// What the Reduce step returned, once it has run.
pub async fn reduced<E: Executions>(
    executions: &E,
    execution: &Execution,
) -> Result<Option<Reduced>, OperatorError> {
    let output = match execution.status {
        // A succeeded execution ends in a Succeed state that passes Reduce's output through.
        Status::Succeeded => execution.output.clone(),
        Status::Running | Status::Other(_) => None,
        // A failed one may have failed after Reduce (beyond tolerance): its history has it.
        Status::Failed | Status::TimedOut | Status::Aborted => {
            executions.state_output(&execution.arn, REDUCE_STATE).await?
        }
    };
    output
        .map(|text| {
            serde_json::from_str(&text).map_err(|e| {
                OperatorError::Refused(format!(
                    "the Reduce step of {} returned what this stackfleet cannot read ({e}): \
                     is this CLI older than the deployed functions?",
                    execution.name
                ))
            })
        })
        .transpose()
}

/// An execution, seen from outside while it runs.
#[derive(Debug, Clone, PartialEq)]
pub struct RunStatus {
    pub execution: Execution,
    /// The Map run's items (one per target); `None` while the targets are being discovered.
    pub items: Option<ItemCounts>,
    /// Targets recorded Failed so far (their markers in the store); `None` without a store.
    pub failed: Option<usize>,
    /// The run whose records are the execution's: `runs/<run>/` in the run bucket.
    pub run: RunId,
    /// The summary, once Reduce has run.
    pub reduced: Option<Reduced>,
    /// A plan-first run's plan, once written: its groups, and whether it still waits.
    pub plan: Option<crate::approving::PlanStatus>,
}

/// How `arn` stands. The store is optional: without it (no bucket, no access) the status still
/// says what Step Functions knows, only not how many targets failed so far.
pub async fn status<E: Executions, S: RunStore>(
    executions: &E,
    store: Option<&S>,
    arn: &str,
) -> Result<RunStatus, OperatorError> {
    let execution = described(executions, arn).await?;
    let items = executions.item_counts(arn).await?;
    let run = execution.run();
    let failed = match store {
        Some(store) => {
            let prefix = RunKeys::new(&run).failed();
            let prefix = prefix.as_str();
            let markers = all_pages(|page| async move { store.list(prefix, page.as_deref()).await }).await?;
            Some(markers.len())
        }
        None => None,
    };
    let reduced = reduced(executions, &execution).await?;
    let plan = crate::approving::plan_status(executions, &execution).await?;
    Ok(RunStatus {
        execution,
        items,
        failed,
        run,
        reduced,
        plan,
    })
}

/// The input of a new execution that deploys every target of `arn` without a success (failed,
/// not started after a halt or the tolerance, never reported), in their waves: the object
/// Reduce wrote to the run store (`resumeInputKey`).
pub async fn rerun_input<E: Executions, S: RunStore>(
    executions: &E,
    store: &S,
    arn: &str,
) -> Result<Rollout, OperatorError> {
    let execution = described(executions, arn).await?;
    let name = &execution.name;
    if !execution.status.is_finished() {
        return Err(OperatorError::Refused(format!(
            "{name} is still {}: wait for it to end (stackfleet watch {arn}), then re-run its failures",
            execution.status
        )));
    }
    let Some(reduced) = reduced(executions, &execution).await? else {
        let why = match (&execution.error, &execution.cause) {
            (Some(error), Some(cause)) => format!("{error}: {cause}"),
            (Some(error), None) => error.clone(),
            _ => "no error recorded".to_owned(),
        };
        let advice = if execution.error.is_some() {
            "fix the cause, then start the rollout again"
        } else {
            "start the rollout again"
        };
        return Err(OperatorError::Refused(format!(
            "{name} ended {} before its targets were reduced to a report ({why}), so it names no failed \
             targets: {advice} (targets already deployed read Unchanged)",
            execution.status
        )));
    };
    match &reduced.resume_input_key {
        Some(key) => {
            let text = store.get(key).await?.ok_or_else(|| {
                OperatorError::Refused(format!(
                    "{key} is gone from the run bucket: the bucket's lifecycle rule may have expired it"
                ))
            })?;
            serde_json::from_str(&text)
                .map_err(|e| OperatorError::Refused(format!("{key} is not a rollout document: {e}")))
        }
        None => {
            let s = reduced.summary;
            Err(OperatorError::Refused(format!(
                "nothing failed in {name} ({}): {} created, {} updated, {} unchanged, {} skipped; nothing to re-run",
                execution.status, s.created, s.updated, s.unchanged, s.skipped
            )))
        }
    }
}

/// Starts a new execution of every target of `arn` without a success (its resume input), named `name` or after
/// `arn` and its input (so a repeated `rerun` of `arn` finds the first one, while a re-run of
/// that re-run, whose input may be the same, is a new execution). Refused when nothing failed.
pub async fn rerun<E: Executions, S: RunStore>(
    executions: &E,
    store: &S,
    arn: &str,
    name: Option<&str>,
) -> Result<Submitted, OperatorError> {
    let machine = executions::state_machine_arn(arn)
        .ok_or_else(|| OperatorError::Refused(format!("{arn:?} is not an execution ARN")))?;
    let document = rerun_input(executions, store, arn).await?;
    let input = serde_json::to_value(&document)
        .map_err(|e| OperatorError::Refused(format!("the resume input of {arn} does not serialise: {e}")))?;
    let name = match name {
        Some(name) => name.to_owned(),
        None => {
            let stack: StackName = document.stack_name.clone().ok_or_else(|| {
                OperatorError::Refused(format!("the resume input of {arn} names no stackName"))
            })?;
            execution_name(&stack, &serde_json::json!({ "rerunOf": arn, "input": input }))
        }
    };
    submit(executions, &machine, &name, &input).await
}

/// The bucket of a state machine's run records: `given`, else its `stackfleet:bucket` tag.
pub async fn bucket<E: Executions>(
    executions: &E,
    state_machine_arn: &str,
    given: Option<&str>,
) -> Result<String, OperatorError> {
    if let Some(bucket) = given {
        return Ok(bucket.to_owned());
    }
    executions
        .tag(state_machine_arn, BUCKET_TAG)
        .await?
        .ok_or_else(|| {
            OperatorError::Refused(format!(
                "{state_machine_arn} has no {BUCKET_TAG} tag: pass --bucket with the bucket of its run records"
            ))
        })
}

/// The run's full report (report.json), where Reduce says it wrote it. The store is read only
/// then: a key that does not exist reads as AccessDenied to a role without s3:ListBucket.
pub async fn report<E: Executions, S: RunStore>(
    executions: &E,
    store: &S,
    arn: &str,
) -> Result<Report, OperatorError> {
    let reduced = finished(executions, arn).await?;
    let key = &reduced.report_key;
    let text = written(store, key).await?;
    Report::from_json(&text)
        .map_err(|e| OperatorError::Refused(format!("{key} is not a stackfleet report: {e}")))
}

/// The stack outputs of a finished execution's targets, as its Reduce wrote them.
pub async fn outputs<E: Executions, S: RunStore>(
    executions: &E,
    store: &S,
    arn: &str,
) -> Result<OutputsMap, OperatorError> {
    let reduced = finished(executions, arn).await?;
    let key = &reduced.outputs_key;
    if key.is_empty() {
        return Err(OperatorError::Refused(format!(
            "{arn} was reduced by a stackfleet that kept no outputs: `stackfleet report {arn} --format json` has each target's"
        )));
    }
    let text = written(store, key).await?;
    serde_json::from_str(&text)
        .map_err(|e| OperatorError::Refused(format!("{key} is not a stackfleet outputs map: {e}")))
}

/// An object Reduce wrote, or why it is not there.
async fn written<S: RunStore>(store: &S, key: &str) -> Result<String, OperatorError> {
    store.get(key).await?.ok_or_else(|| {
        OperatorError::Refused(format!(
            "{key} is gone from the run bucket: the bucket's lifecycle rule may have expired it"
        ))
    })
}

/// What Reduce answered for a finished execution, or why there is nothing yet.
async fn finished<E: Executions>(executions: &E, arn: &str) -> Result<Reduced, OperatorError> {
    let execution = described(executions, arn).await?;
    if !execution.status.is_finished() {
        return Err(OperatorError::Refused(format!(
            "{} is still {}: its report is written when every target is done (stackfleet watch {arn})",
            execution.name, execution.status
        )));
    }
    reduced(executions, &execution).await?.ok_or_else(|| {
        OperatorError::Refused(format!(
            "{} ended {} before any report was written ({}): no target was reduced to an outcome",
            execution.name,
            execution.status,
            execution.error.as_deref().unwrap_or("no error recorded")
        ))
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn names_follow_the_input_and_fit_a_run_id() {
        let stack: StackName = "org-baseline".parse().unwrap();
        let a = execution_name(
            &stack,
            &json!({"stackName": "org-baseline", "parameters": {"Env": "prod"}}),
        );
        let again = execution_name(
            &stack,
            &json!({"parameters": {"Env": "prod"}, "stackName": "org-baseline"}),
        );
        let other = execution_name(
            &stack,
            &json!({"stackName": "org-baseline", "parameters": {"Env": "dev"}}),
        );
        assert_eq!(a, again, "key order does not change the name");
        assert_ne!(a, other);
        assert!(a.starts_with("org-baseline-") && a.len() == "org-baseline-".len() + HASH_CHARS);
        let long: StackName = "a".repeat(128).parse().unwrap();
        let name = execution_name(&long, &json!({}));
        assert_eq!(name.len(), NAME_LIMIT);
        assert!(
            crate::run_ids::name_fits(&name),
            "the run ID holds the whole name"
        );
    }
}
