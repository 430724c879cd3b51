//! The worker: follows one target's lifecycle for as long as its invocation may run (core's
//! `follow`, as a local run does), and `fail` records a target that the state machine caught
//! failing. Each final outcome goes to the run store.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use stackfleet_core::lifecycle::{follow, Clock, Followed, InFlight, Job, PassingErrors};
use stackfleet_core::ports::{AssumeRole, RunStore};
pub use stackfleet_core::wire::worker::{CaughtError, WorkerRequest, WorkerResponse};
use stackfleet_core::{ErrorName, Outcome, RolloutSpec, RootCause, RunId, Target};
use tracing::Instrument;

use crate::error::LambdaError;
use crate::records::{self, get_json, put_outcome, RunKeys};

/// Kept free at the end of an invocation: the last poll (which the SDK may retry) and the S3
/// write of the outcome must fit in it before Lambda ends the invocation.
pub const HAND_BACK_MARGIN: Duration = Duration::from_secs(15);

/// Every log line of a target carries its account, region, stack and run.
fn target_span(run: &RunId, target: &Target) -> tracing::Span {
    tracing::info_span!(
        "target",
        account = %target.account,
        region = %target.region,
        run = %run,
        stack = tracing::field::Empty
    )
}

/// Clients and caches live as long as the Lambda process: built once, reused by every invocation.
#[derive(Debug)]
pub struct Worker<A, S, C> {
    assumer: A,
    store: S,
    clock: C,
    specs: Mutex<HashMap<RunId, Arc<RolloutSpec>>>,
}

impl<A: AssumeRole, S: RunStore, C: Clock> Worker<A, S, C> {
    pub fn new(assumer: A, store: S, clock: C) -> Self {
        Self {
            assumer,
            store,
            clock,
            specs: Mutex::new(HashMap::new()),
        }
    }

    async fn spec(&self, run: &RunId) -> Result<Arc<RolloutSpec>, LambdaError> {
        let cached = self
            .specs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(run)
            .cloned();
        if let Some(spec) = cached {
            return Ok(spec);
        }
        let spec = Arc::new(records::spec(&self.store, run).await?);
        self.specs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(run.clone(), Arc::clone(&spec));
        Ok(spec)
    }

    /// One invocation. `deadline_ms` is when Lambda ends it (`LambdaEvent.context.deadline`,
    /// milliseconds since the epoch): the target is followed until the next look would come
    /// within `HAND_BACK_MARGIN` of it, then handed back. A deadline already that close (or
    /// past, as local emulators may send) still allows one step.
    pub async fn handle(&self, request: WorkerRequest, deadline_ms: u64) -> Result<WorkerResponse, LambdaError> {
        let hand_back_at_ms = deadline_ms.saturating_sub(millis(HAND_BACK_MARGIN));
        match request {
            WorkerRequest::Start {
                run,
                target,
                new_account,
            } => {
                let span = target_span(&run, &target);
                self.follow(run, target, new_account, None, hand_back_at_ms)
                    .instrument(span)
                    .await
            }
            WorkerRequest::Poll {
                run,
                target,
                new_account,
                state,
            } => {
                let span = target_span(&run, &target);
                self.follow(run, target, new_account, Some(state), hand_back_at_ms)
                    .instrument(span)
                    .await
            }
            WorkerRequest::Fail { run, target, error } => {
                let span = target_span(&run, &target);
                self.record_failure(run, target, &error).instrument(span).await
            }
        }
    }

    /// Passing errors are thrown: the state machine's Retry knows them by name and calls again
    /// with the state this invocation started from.
    async fn follow(
        &self,
        run: RunId,
        target: Target,
        new_account: bool,
        state: Option<InFlight>,
        hand_back_at_ms: u64,
    ) -> Result<WorkerResponse, LambdaError> {
        let spec = self.spec(&run).await?;
        let job = Job {
            target: &target,
            spec: &spec,
            run: &run,
            new_account,
        };
        tracing::Span::current().record("stack", spec.stack_name.as_str());
        let followed = follow(
            &self.assumer,
            &job,
            state,
            &self.clock,
            Some(hand_back_at_ms),
            PassingErrors::Throw,
        )
        .await?;
        match followed {
            Followed::Done(outcome) => self.finish(&run, &target, new_account, outcome).await,
            Followed::HandBack { state, wait } => Ok(WorkerResponse {
                run,
                target,
                new_account,
                done: false,
                state: Some(state),
                wait_seconds: wait.as_secs(),
                outcome: None,
            }),
        }
    }

    async fn finish(
        &self,
        run: &RunId,
        target: &Target,
        new_account: bool,
        outcome: Outcome,
    ) -> Result<WorkerResponse, LambdaError> {
        tracing::info!(kind = %outcome.kind(), error = ?outcome.error(), calls = outcome.aws_calls, "outcome");
        put_outcome(&self.store, run, &outcome).await?;
        Ok(WorkerResponse {
            run: run.clone(),
            target: target.clone(),
            new_account,
            done: true,
            state: None,
            wait_seconds: 0,
            outcome: Some(outcome.kind()),
        })
    }

    /// A target the state machine caught failing (retries spent, or a Lambda fault): recorded
    /// as Failed so that no target is lost, unless it already has its outcome.
    async fn record_failure(
        &self,
        run: RunId,
        target: Target,
        error: &CaughtError,
    ) -> Result<WorkerResponse, LambdaError> {
        let key = RunKeys::new(&run).outcome(&target);
        let existing: Option<Outcome> = get_json(&self.store, &key).await?;
        let outcome = match existing {
            Some(outcome) => outcome,
            None => {
                let name = error.error.parse().unwrap_or(ErrorName::Internal);
                let cause = if error.cause.is_empty() {
                    error.error.clone()
                } else {
                    format!("{}: {}", error.error, error.cause)
                };
                let outcome = Outcome::failed(target.clone(), name, RootCause::message(cause), 0, 0);
                put_outcome(&self.store, &run, &outcome).await?;
                outcome
            }
        };
        Ok(WorkerResponse {
            run,
            target,
            new_account: false,
            done: true,
            state: None,
            wait_seconds: 0,
            outcome: Some(outcome.kind()),
        })
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
