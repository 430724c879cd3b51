//! What must still hold, at apply, for a reviewed change set to be what runs: it is there,
//! AVAILABLE, of the planned stack, with the reviewed changes; and the stack is as planned.

use super::file::{change_digest, PlanGroup, PlannedTarget};
use super::{would, PlanVerdict};
use crate::ports::{PortError, StackOperations};
use crate::stack::{ChangeSetType, StackDescription, StackStatus};

/// What the checks before an execution found.
pub(super) enum Check {
    /// Execute the change set: a create or an update, as planned.
    Go(ChangeSetType),
    /// A plan without changes, or a recovery, of a stack that has not moved.
    Unchanged(StackDescription),
    Stale(String),
}

/// The stack as it is now, if it is still as the plan saw it; else why not.
pub(super) async fn unmoved<S: StackOperations>(
    stacks: &S,
    planned: &PlannedTarget,
) -> Result<Result<StackDescription, String>, PortError> {
    let Some(stack_id) = planned.stack_id.as_deref() else {
        return Ok(Err("the plan recorded no stack here".into()));
    };
    let now = stacks
        .describe_stack(stack_id)
        .await?
        .filter(|s| s.status != StackStatus::DeleteComplete);
    let Some(now) = now else {
        return Ok(Err(format!("the planned stack {stack_id} no longer exists")));
    };
    let then = (planned.stack_status.as_ref(), planned.stack_last_updated_ms);
    if then != (Some(&now.status), now.last_updated_ms) {
        return Ok(Err(format!(
            "the stack changed since the plan: it was {} (last updated {}), it is {} (last \
             updated {})",
            planned.stack_status.as_ref().map_or("unknown", |s| s.as_str()),
            when(planned.stack_last_updated_ms),
            now.status,
            when(now.last_updated_ms)
        )));
    }
    Ok(Ok(now))
}

/// A time as people and `report::normalised` read it.
pub(super) fn when(ms: Option<i64>) -> String {
    ms.and_then(chrono::DateTime::from_timestamp_millis).map_or_else(
        || "at an unknown time".to_owned(),
        |t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    )
}

/// Everything that must still hold for the reviewed change set to be what runs.
pub(super) async fn check<S: StackOperations>(
    stacks: &S,
    planned: &PlannedTarget,
    group: &PlanGroup,
) -> Result<Check, PortError> {
    let Some(stack_id) = planned.stack_id.as_deref() else {
        return Ok(Check::Stale("the plan recorded no stack here".into()));
    };
    let kind = match (&group.verdict, planned.change_set_id.as_deref()) {
        (PlanVerdict::WouldCreate { .. }, Some(id)) => Some((ChangeSetType::Create, id)),
        (PlanVerdict::WouldUpdate { .. }, Some(id)) => Some((ChangeSetType::Update, id)),
        _ => None,
    };
    if let Some((kind, id)) = kind {
        let Some(described) = stacks.describe_change_set(id).await? else {
            return Ok(Check::Stale(format!(
                "the reviewed change set {id} no longer exists (deleted, or another change set \
                 was executed on the stack)"
            )));
        };
        if !described.is_available() {
            return Ok(Check::Stale(format!(
                "the reviewed change set is {} (execution {}) and can no longer be executed{}",
                described.status,
                described.execution_status.as_deref().unwrap_or("status unknown"),
                described
                    .status_reason
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default()
            )));
        }
        if described.stack_id.as_deref().is_some_and(|id| id != stack_id) {
            return Ok(Check::Stale(format!(
                "the change set belongs to stack {}, not to the planned stack {stack_id}",
                described.stack_id.unwrap_or_default()
            )));
        }
        if change_digest(&would(kind, described.changes), group.adopts) != planned.change_digest {
            return Ok(Check::Stale(
                "the change set's changes are not the reviewed ones: the plan file does not \
                 describe this change set"
                    .into(),
            ));
        }
    }
    Ok(match (unmoved(stacks, planned).await?, kind) {
        (Err(why), _) => Check::Stale(why),
        (Ok(_), Some((kind, _))) => Check::Go(kind),
        (Ok(now), None) => Check::Unchanged(now),
    })
}
