//! `apply` of a target whose plan was a recovery (a stack in ROLLBACK_COMPLETE, DELETE_FAILED,
//! UPDATE_ROLLBACK_FAILED, ...): a change set cannot be made for such a stack, so the plan shows
//! the recovery a deploy would make, and the apply makes that one, as the lifecycle does (a
//! delete under `recovery: recreate`, ContinueUpdateRollback), followed to its end. What a
//! deploy does next (a create, an update) was never reviewed: the target is then Stale, and a
//! re-run plans it, now with a change set to review.

use super::apply::retried;
use super::check::unmoved;
use super::PlannedTarget;
use crate::lifecycle::{
    client_request_token, decide, not_managed, rollback_failed_resources, Clock, Decision, DriveOptions, Job,
};
use crate::ports::{PortError, StackOperations};
use crate::stack::StackStatus;

/// How a reviewed recovery went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Recovered {
    /// Recovered; what follows is planned again.
    Stale(String),
    /// Not touched: the stack is not as the plan saw it.
    NotStarted(String),
    /// The recovery is not stackfleet's to make, or it failed: a person has to look.
    Attention(String),
}

/// The recovery of `planned`'s stack, if it is still as planned.
pub(super) async fn recover<S: StackOperations>(
    stacks: &S,
    job: &Job<'_>,
    planned: &PlannedTarget,
    clock: &dyn Clock,
    options: DriveOptions,
) -> Result<Recovered, PortError> {
    let spec = job.spec;
    let stack = match retried(options, || unmoved(stacks, planned)).await? {
        Ok(stack) => stack,
        Err(why) => return Ok(Recovered::NotStarted(why)),
    };
    let from = stack.status.clone();
    let (deleting, opening) = match decide(Some((&stack).into()), spec.recovery, spec.adopt) {
        Decision::DeleteThenCreate => {
            let token = client_request_token(job.run, "delete");
            retried(options, || stacks.delete_stack(&stack.stack_id, &token)).await?;
            (true, "deleted (recovery: recreate); its create")
        }
        Decision::ContinueRollbackThenUpdate => {
            let skip = if spec.skip_failed_rollback_resources {
                let page = retried(options, || stacks.stack_events(&stack.stack_id, None)).await?;
                rollback_failed_resources(&page.events)
            } else {
                Vec::new()
            };
            let token = client_request_token(job.run, "continue");
            retried(options, || {
                stacks.continue_update_rollback(&stack.stack_id, &skip, &token)
            })
            .await?;
            (false, "rolled back to UPDATE_ROLLBACK_COMPLETE; its update")
        }
        Decision::NotManaged => return Ok(Recovered::Attention(not_managed(spec))),
        _ => {
            return Ok(Recovered::Attention(format!(
                "stack is {from} ({}); recovery policy is {:?}: fix or delete it, then plan again",
                stack.status_reason.as_deref().unwrap_or("no reason given"),
                spec.recovery
            )))
        }
    };
    let deadline_ms = clock.now_ms() + spec.operation_timeout_seconds * 1000;
    loop {
        tokio::time::sleep(spec.poll_interval()).await;
        let now = retried(options, || stacks.describe_stack(&stack.stack_id)).await?;
        let recovered = || {
            Recovered::Stale(format!(
                "recovered: the {from} stack was {opening} was never reviewed: plan it again"
            ))
        };
        let Some(now) = now else {
            return Ok(recovered());
        };
        match now.status {
            StackStatus::DeleteComplete if deleting => return Ok(recovered()),
            StackStatus::UpdateRollbackComplete if !deleting => return Ok(recovered()),
            ref running if running.is_in_progress() && clock.now_ms() < deadline_ms => {}
            ref ended => {
                return Ok(Recovered::Attention(format!(
                    "the recovery of the {from} stack ended in {ended} ({}): fix or delete it, \
                     then plan again",
                    now.status_reason.as_deref().unwrap_or("no reason given")
                )))
            }
        }
    }
}
