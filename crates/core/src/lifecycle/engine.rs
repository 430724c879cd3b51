//! The lifecycle's steps: what `start` and `poll` do with what CloudFormation answers.
//!
//! A step is a loop, not a recursion: when our call collides with an operation that got there
//! first, the step looks at the stack once more and acts on what it finds, in the same loop.

mod adopting;
mod poll_again;

pub use poll_again::poll_again;

use super::counted::Counted;
use super::events;
use super::{client_request_token, decide, Decision, EngineError, InFlight, Job, Phase, Progress, Step};
use crate::errors::ErrorName;
use crate::outcome::{Failure, RootCause, Verdict};
use crate::ports::{PortError, StackOperations};
use crate::spec::RolloutSpec;
use crate::stack::{StackDescription, StackEvent, StackRequest, StackStatus, UpdateStarted, MANAGED_BY_TAG};
use crate::Outcome;

/// Decides what the target needs and launches it.
pub async fn start<S: StackOperations>(
    stacks: &S,
    job: &Job<'_>,
    progress: Progress,
    now_ms: u64,
) -> Result<Step, EngineError> {
    let mut engine = Engine::new(stacks, job, progress, now_ms, None);
    match engine.stacks.describe_stack(job.spec.stack_name.as_str()).await {
        Ok(found) => engine.act_on(found).await,
        Err(error) => engine.first_look_failed(&error),
    }
}

/// `start` for a target whose start ran before in this run and may have launched an operation
/// (its Lambda invocation timed out or crashed, and the state machine invoked it again). A
/// running operation of ours is adopted, as `start` adopts it. One that already ended is
/// followed to its outcome as a poll would have: what that start's operation came to, not a
/// second operation (`start` would update a stack we just created and call it Unchanged, or
/// delete a create of ours that failed and try again). Costs one DescribeStackEvents over
/// `start` when the stack exists and is not busy; where events carry no token, `start`.
pub async fn start_again<S: StackOperations>(
    stacks: &S,
    job: &Job<'_>,
    progress: Progress,
    now_ms: u64,
) -> Result<Step, EngineError> {
    let mut engine = Engine::new(stacks, job, progress, now_ms, None);
    let found = match engine.stacks.describe_stack(job.spec.stack_name.as_str()).await {
        Ok(found) => found,
        Err(error) => return engine.first_look_failed(&error),
    };
    if let Some(stack) = found
        .as_ref()
        .filter(|s| !s.status.is_in_progress() && s.status != StackStatus::DeleteComplete)
    {
        let page = match engine.stacks.stack_events(&stack.stack_id, None).await {
            Ok(page) => page,
            Err(error) => return engine.settle(&error, Some(&stack.stack_id)),
        };
        if let Some(phase) = engine.our_operation(&page.events) {
            let ended = engine.in_flight(&stack.stack_id, phase);
            return engine.advance(ended, found).await;
        }
    }
    engine.act_on(found).await
}

/// Follows the operation one step: the final outcome, or the state to poll again.
pub async fn poll<S: StackOperations>(
    stacks: &S,
    job: &Job<'_>,
    state: InFlight,
    now_ms: u64,
) -> Result<Step, EngineError> {
    let mut engine = Engine::new(stacks, job, state.progress, now_ms, state.recovered_from.clone());
    engine.adopted = state.adopted.clone();
    match engine.stacks.describe_stack(&state.stack_id).await {
        Ok(found) => engine.advance(state, found).await,
        Err(error) => engine.settle(&error, Some(&state.stack_id)),
    }
}

/// Why a stack of the rollout's name that stackfleet did not make is left alone, and what to do.
pub(crate) fn not_managed(spec: &RolloutSpec) -> String {
    format!(
        "stack {} exists but was not created by stackfleet (no {MANAGED_BY_TAG} tag): pass \
         --adopt (document: adopt: true) to take it over",
        spec.stack_name
    )
}

/// What a call that launches an operation came to.
#[allow(clippy::large_enum_variant)] // One per step, returned once: boxing buys nothing.
enum Launch {
    Step(Result<Step, EngineError>),
    /// A duplicated start, or somebody else, got there first: the stack has to be looked at again.
    Collided {
        error: PortError,
        stack_id: Option<String>,
    },
}

struct Engine<'a, S> {
    /// Every call of the step goes through this wrapper, which counts it.
    stacks: Counted<&'a S>,
    job: &'a Job<'a>,
    started_at_ms: u64,
    /// What the target had cost before this step.
    calls_before: u32,
    now_ms: u64,
    recovered_from: Option<StackStatus>,
    /// What the create imported (`adoptExisting`), carried to the outcome.
    adopted: Vec<String>,
}

impl<'a, S: StackOperations> Engine<'a, S> {
    fn new(
        stacks: &'a S,
        job: &'a Job<'a>,
        progress: Progress,
        now_ms: u64,
        recovered_from: Option<StackStatus>,
    ) -> Self {
        Self {
            stacks: Counted::new(stacks),
            job,
            started_at_ms: progress.started_at_ms,
            calls_before: progress.aws_calls,
            now_ms,
            recovered_from,
            adopted: Vec::new(),
        }
    }

    fn progress(&self) -> Progress {
        Progress {
            started_at_ms: self.started_at_ms,
            aws_calls: self.calls_before + self.stacks.calls(),
        }
    }

    fn token(&self, phase: &Phase) -> String {
        client_request_token(self.job.run, phase.operation().unwrap_or("wait"))
    }

    fn deadline(&self) -> u64 {
        self.now_ms + self.job.spec.operation_timeout_seconds * 1000
    }

    fn request(&self, phase: &Phase) -> StackRequest {
        let spec = self.job.spec;
        StackRequest {
            stack_name: spec.stack_name.to_string(),
            template: spec.template.clone(),
            parameters: spec.parameters_for(self.job.target),
            capabilities: spec.capabilities.clone(),
            tags: spec.stack_tags(),
            token: self.token(phase),
            termination_protection: spec.termination_protection,
        }
    }

    fn pending(&self, stack_id: &str, phase: Phase) -> Step {
        Step::Pending(self.in_flight(stack_id, phase))
    }

    fn in_flight(&self, stack_id: &str, phase: Phase) -> InFlight {
        InFlight {
            target: self.job.target.clone(),
            run: self.job.run.clone(),
            stack_id: stack_id.to_owned(),
            phase,
            deadline_ms: self.deadline(),
            progress: self.progress(),
            recovered_from: self.recovered_from.clone(),
            adopted: self.adopted.clone(),
        }
    }

    fn done(&self, verdict: Verdict, stack: Option<&StackDescription>) -> Step {
        let outputs = stack
            .filter(|_| verdict.kind().is_success())
            .map(|s| s.outputs.clone())
            .unwrap_or_default();
        Step::Done(Outcome {
            target: self.job.target.clone(),
            verdict,
            stack_id: stack.map(|s| s.stack_id.clone()),
            final_status: stack.map(|s| s.status.clone()),
            duration_ms: self.now_ms.saturating_sub(self.started_at_ms),
            aws_calls: self.progress().aws_calls,
            recovered_from: self.recovered_from.clone(),
            outputs,
            adopted: self.adopted.clone(),
        })
    }

    fn failed(&self, stack: Option<&StackDescription>, error: ErrorName, root_cause: RootCause) -> Step {
        let failure = Failure { error, root_cause };
        self.done(Verdict::Failed { failure }, stack)
    }

    /// An error no branch handles: transient ones go back to the caller to retry, the rest end
    /// the target with their contract name.
    /// The target's first look, before anything is launched, failed. A fresh session refused
    /// there (`RegionNotEnabled`: what an opt-in region the account has not enabled answers) is
    /// Skipped at once, since waiting will not change it and nothing was deployed; a new
    /// account, which answers so while it is set up, is retried as not ready. Refused later, in
    /// the middle of an operation, the same error is a failure: something else went wrong.
    fn first_look_failed(&self, error: &PortError) -> Result<Step, EngineError> {
        let PortError::RegionNotEnabled(detail) = error else {
            return self.settle(error, None);
        };
        let region = &self.job.target.region;
        if self.job.new_account {
            return Err(EngineError {
                name: ErrorName::AccountNotReady,
                message: format!("{error} (the account is new: {region} may not be set up yet)"),
                progress: self.progress(),
            });
        }
        let reason = format!(
            "region not enabled: the account does not accept calls in {region} (enable the \
             region in the account, or leave it out of targets.regions) ({detail})"
        );
        Ok(Step::Done(Outcome {
            aws_calls: self.progress().aws_calls,
            ..Outcome::skipped(self.job.target.clone(), reason)
        }))
    }

    fn settle(&self, error: &PortError, stack_id: Option<&str>) -> Result<Step, EngineError> {
        let name = error.name();
        if name.is_transient() {
            return Err(EngineError {
                name,
                message: error.to_string(),
                progress: self.progress(),
            });
        }
        let mut step = self.failed(None, name, RootCause::message(error.to_string()));
        if let (Step::Done(outcome), Some(id)) = (&mut step, stack_id) {
            outcome.stack_id = Some(id.to_owned());
        }
        Ok(step)
    }

    /// Acts on what DescribeStacks found. When our call collides (another start, another
    /// operator), one fresh look decides again; a second collision is the caller's to retry.
    async fn act_on(&mut self, mut found: Option<StackDescription>) -> Result<Step, EngineError> {
        let mut looked_again = false;
        loop {
            let (error, stack_id) = match self.launch(found).await {
                Launch::Step(step) => return step,
                Launch::Collided { error, stack_id } => (error, stack_id),
            };
            if looked_again {
                return self.settle(&error, stack_id.as_deref());
            }
            looked_again = true;
            found = match self
                .stacks
                .describe_stack(self.job.spec.stack_name.as_str())
                .await
            {
                Ok(found) => found,
                Err(error) => return self.settle(&error, None),
            };
        }
    }

    /// What the lifecycle table says to do with the stack, done.
    async fn launch(&mut self, found: Option<StackDescription>) -> Launch {
        let Some(stack) = found else {
            return self.create().await;
        };
        let spec = self.job.spec;
        let step = match decide(Some((&stack).into()), spec.recovery, spec.adopt) {
            Decision::Create => return self.create().await,
            Decision::Update => return self.update(&stack).await,
            Decision::InspectRunningOperation => self.inspect_running(&stack).await,
            Decision::DeleteThenCreate => {
                self.recovered_from = Some(stack.status.clone());
                self.delete(&stack).await
            }
            Decision::ContinueRollbackThenUpdate => self.continue_rollback(&stack).await,
            Decision::NeedsAttention => {
                let reason = format!(
                    "stack is {} ({}); recovery policy is {:?}: fix or delete it, then re-run",
                    stack.status,
                    stack.status_reason.as_deref().unwrap_or("no reason given"),
                    spec.recovery,
                );
                Ok(self.failed(
                    Some(&stack),
                    ErrorName::NeedsAttention,
                    RootCause::message(reason),
                ))
            }
            Decision::NotManaged => Ok(self.failed(
                Some(&stack),
                ErrorName::NeedsAttention,
                RootCause::message(not_managed(spec)),
            )),
        };
        Launch::Step(step)
    }

    async fn create(&mut self) -> Launch {
        if self.job.spec.adopt_existing {
            return self.create_adopting().await;
        }
        let request = self.request(&Phase::Creating);
        match self.stacks.create_stack(&request).await {
            Ok(stack_id) => Launch::Step(Ok(self.pending(&stack_id, Phase::Creating))),
            Err(error @ (PortError::AlreadyExists(_) | PortError::StackBusy(_))) => Launch::Collided {
                error,
                stack_id: None,
            },
            Err(error) => Launch::Step(self.settle(&error, None)),
        }
    }

    async fn update(&self, stack: &StackDescription) -> Launch {
        let request = self.request(&Phase::Updating);
        let step = match self.stacks.update_stack(&request).await {
            Ok(UpdateStarted::Started { stack_id }) => Ok(self.pending(&stack_id, Phase::Updating)),
            Ok(UpdateStarted::NoChanges) => Ok(self.done(Verdict::Unchanged, Some(stack))),
            Err(error @ PortError::StackBusy(_)) => {
                return Launch::Collided {
                    error,
                    stack_id: Some(stack.stack_id.clone()),
                }
            }
            Err(error) => self.settle(&error, Some(&stack.stack_id)),
        };
        Launch::Step(step)
    }

    async fn delete(&self, stack: &StackDescription) -> Result<Step, EngineError> {
        let token = self.token(&Phase::Deleting);
        match self.stacks.delete_stack(&stack.stack_id, &token).await {
            Ok(()) => Ok(self.pending(&stack.stack_id, Phase::Deleting)),
            Err(error) => self.settle(&error, Some(&stack.stack_id)),
        }
    }

    async fn continue_rollback(&mut self, stack: &StackDescription) -> Result<Step, EngineError> {
        self.recovered_from = Some(stack.status.clone());
        let skip = if self.job.spec.skip_failed_rollback_resources {
            match self.stacks.stack_events(&stack.stack_id, None).await {
                Ok(page) => events::rollback_failed_resources(&page.events),
                Err(error) => return self.settle(&error, Some(&stack.stack_id)),
            }
        } else {
            Vec::new()
        };
        let token = self.token(&Phase::ContinuingRollback);
        match self
            .stacks
            .continue_update_rollback(&stack.stack_id, &skip, &token)
            .await
        {
            Ok(()) => Ok(self.pending(&stack.stack_id, Phase::ContinuingRollback)),
            Err(error) => self.settle(&error, Some(&stack.stack_id)),
        }
    }

    /// An operation is running. If its newest event carries one of this run's tokens it is ours
    /// (a retried or duplicated start): follow it. Otherwise wait for it to end.
    async fn inspect_running(&self, stack: &StackDescription) -> Result<Step, EngineError> {
        let page = match self.stacks.stack_events(&stack.stack_id, None).await {
            Ok(page) => page,
            Err(error) => return self.settle(&error, Some(&stack.stack_id)),
        };
        let phase = self
            .our_operation(&page.events)
            .unwrap_or_else(|| Phase::WaitingForOther {
                seen: stack.status.clone(),
            });
        Ok(self.pending(&stack.stack_id, phase))
    }

    /// The operation of this run that the newest of `events` (newest first) belongs to, by its
    /// ClientRequestToken; `None` when it is somebody else's, or carries no token.
    fn our_operation(&self, events: &[StackEvent]) -> Option<Phase> {
        let prefix = client_request_token(self.job.run, "");
        events
            .first()
            .and_then(|newest| newest.token.as_deref())
            .and_then(|token| token.strip_prefix(&prefix))
            .and_then(Phase::from_operation)
    }

    /// Where a followed operation stands: still running, ended (then an outcome, or the next
    /// operation of a recovery), or gone.
    async fn advance(
        &mut self,
        state: InFlight,
        found: Option<StackDescription>,
    ) -> Result<Step, EngineError> {
        use StackStatus as S;
        let Some(stack) = found.filter(|s| s.status != S::DeleteComplete) else {
            return match state.phase {
                // The recovery delete finished: now the create it was for.
                Phase::Deleting | Phase::WaitingForOther { .. } => self.act_on(None).await,
                _ => Ok(self.failed(
                    None,
                    ErrorName::StackFailed,
                    RootCause::message(format!(
                        "stack {} was deleted while we followed it",
                        state.stack_id
                    )),
                )),
            };
        };
        if stack.status.is_in_progress() {
            return Ok(self.still_running(state, &stack));
        }
        match (&state.phase, &stack.status) {
            (Phase::Creating, S::CreateComplete) => Ok(self.done(Verdict::Created, Some(&stack))),
            (Phase::Updating, S::UpdateComplete) => Ok(self.done(Verdict::Updated, Some(&stack))),
            // UPDATE_ROLLBACK_COMPLETE decides to an update; somebody else's ending, to anything.
            (Phase::ContinuingRollback, S::UpdateRollbackComplete) | (Phase::WaitingForOther { .. }, _) => {
                self.act_on(Some(stack)).await
            }
            (Phase::Deleting | Phase::ContinuingRollback, _) => {
                // The recovery itself failed: a human has to look.
                let cause = self.cause_of(&state, &stack).await;
                Ok(self.failed(Some(&stack), ErrorName::NeedsAttention, cause))
            }
            (Phase::Creating | Phase::Updating, _) => {
                let cause = self.cause_of(&state, &stack).await;
                Ok(self.failed(Some(&stack), ErrorName::StackFailed, cause))
            }
        }
    }

    fn still_running(&self, state: InFlight, stack: &StackDescription) -> Step {
        if self.now_ms < state.deadline_ms {
            return Step::Pending(InFlight {
                progress: self.progress(),
                ..state
            });
        }
        let minutes = self.job.spec.operation_timeout_seconds / 60;
        let (error, reason) = match state.phase {
            Phase::WaitingForOther { .. } => (
                ErrorName::StackBusy,
                format!(
                    "another operation kept the stack in {} for over {minutes} min",
                    stack.status
                ),
            ),
            _ => (
                ErrorName::TimedOut,
                format!(
                    "our operation did not finish within {minutes} min; the stack is still {}",
                    stack.status
                ),
            ),
        };
        self.failed(Some(stack), error, RootCause::message(reason))
    }

    /// The root cause of a failed operation. Reading it must never cost the outcome: when the
    /// events cannot be read, the stack's status reason stands in.
    async fn cause_of(&self, state: &InFlight, stack: &StackDescription) -> RootCause {
        let fallback = || {
            RootCause::message(format!(
                "stack ended in {}: {}",
                stack.status,
                stack.status_reason.as_deref().unwrap_or("no reason given")
            ))
        };
        let token = self.token(&state.phase);
        let opening = state.phase.opening_status();
        match events::operation_events(&self.stacks, &stack.stack_id, &token, opening).await {
            Ok(events) => events::root_cause(&events).unwrap_or_else(fallback),
            Err(error) => {
                tracing::warn!(stack = %stack.stack_id, %error, "could not read stack events for the root cause");
                fallback()
            }
        }
    }
}
