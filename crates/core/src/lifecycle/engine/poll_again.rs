//! `poll` made again, after the step it repeats may have launched the next operation.

use super::{poll, Engine};
use crate::lifecycle::{EngineError, InFlight, Job, Phase, Step};
use crate::ports::StackOperations;
use crate::stack::{StackDescription, StackStatus};

/// `poll` for a poll made again with the state the first one was given: the state machine
/// retried it (its invocation timed out or crashed, or threw a passing error), or a local run
/// retries it after a passing error. The first may have launched the next operation (the update
/// after ContinueUpdateRollback, the create after the delete, whatever a wait for somebody else's
/// operation came to) and followed it under a phase `state` no longer names: that operation is
/// then taken from the stack's newest event of this run (by its token, as `start_again` takes
/// it), not replayed under the old phase (a false NeedsAttention at UPDATE_COMPLETE, our own
/// update waited for as somebody else's and then updated again, a second create).
///
/// Only a recovery or a wait launches anything after it: Creating and Updating are polled as
/// `poll` polls them. The others cost one DescribeStackEvents more, and when their stack is gone,
/// one DescribeStacks by name. Where events carry no token, the poll goes on as `poll` would.
pub async fn poll_again<S: StackOperations>(
    stacks: &S,
    job: &Job<'_>,
    state: InFlight,
    now_ms: u64,
) -> Result<Step, EngineError> {
    if matches!(state.phase, Phase::Creating | Phase::Updating) {
        return poll(stacks, job, state, now_ms).await;
    }
    let mut engine = Engine::new(stacks, job, state.progress, now_ms, state.recovered_from.clone());
    engine.adopted = state.adopted.clone();
    let found = match engine.stacks.describe_stack(&state.stack_id).await {
        Ok(found) => found.filter(|s| s.status != StackStatus::DeleteComplete),
        Err(error) => return engine.settle(&error, Some(&state.stack_id)),
    };
    let found = match found {
        Some(stack) => Some(stack),
        // The delete (ours, or the one waited for) is over: the create that follows makes a new
        // stack of the same name, which the first poll may have launched.
        None => match engine.stacks.describe_stack(job.spec.stack_name.as_str()).await {
            Ok(by_name) => by_name.filter(|s| s.status != StackStatus::DeleteComplete),
            Err(error) => return engine.settle(&error, None),
        },
    };
    let Some(stack) = found else {
        // Nothing launched after the delete: the create is still to make.
        return engine.advance(state, None).await;
    };
    let page = match engine.stacks.stack_events(&stack.stack_id, None).await {
        Ok(page) => page,
        Err(error) => return engine.settle(&error, Some(&stack.stack_id)),
    };
    match engine.our_operation(&page.events) {
        Some(phase) if phase != state.phase || stack.stack_id != state.stack_id => {
            tracing::info!(stack = %stack.stack_id, was = ?state.phase, now = ?phase, "a poll made again follows the operation its first try launched");
            let launched = engine.in_flight(&stack.stack_id, phase);
            engine.advance(launched, Some(stack)).await
        }
        _ => {
            let found = same_stack(&state, stack);
            engine.advance(state, found).await
        }
    }
}

/// What the first poll would have found: the stack it followed, or none when that one is gone
/// and a stack of the name is somebody else's (its create then collides, as the first poll's would).
fn same_stack(state: &InFlight, stack: StackDescription) -> Option<StackDescription> {
    (stack.stack_id == state.stack_id).then_some(stack)
}
