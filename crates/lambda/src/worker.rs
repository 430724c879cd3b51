//! The worker: `start` and `poll` steps of one target's lifecycle, and `fail` to record a target
//! that the state machine caught failing. Each final outcome goes to the run store.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use stackfleet_core::lifecycle::{assume_failure, poll, start, Clock, InFlight, Job, Progress, Step};
use stackfleet_core::ports::{AssumeRequest, AssumeRole, RunStore};
use stackfleet_core::{ErrorName, Outcome, OutcomeKind, RolloutSpec, RootCause, RunId, Target};
use tracing::Instrument;

use crate::error::LambdaError;
use crate::records::{self, get_json, put_outcome, RunKeys};

/// The error a Catch hands over, as Step Functions writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaughtError {
    #[serde(rename = "Error")]
    pub error: String,
    #[serde(rename = "Cause", default)]
    pub cause: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "action")]
pub enum WorkerRequest {
    #[serde(rename_all = "camelCase")]
    Start {
        run: RunId,
        target: Target,
        #[serde(default)]
        new_account: bool,
    },
    #[serde(rename_all = "camelCase")]
    Poll {
        run: RunId,
        target: Target,
        #[serde(default)]
        new_account: bool,
        state: InFlight,
    },
    #[serde(rename_all = "camelCase")]
    Fail {
        run: RunId,
        target: Target,
        error: CaughtError,
    },
}

/// What the state machine loops on: `done`, else wait `waitSeconds` and poll with `state`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkerResponse {
    pub run: RunId,
    pub target: Target,
    pub new_account: bool,
    pub done: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<InFlight>,
    pub wait_seconds: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<OutcomeKind>,
}

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
    /// How long one invocation may keep polling before handing back to the state machine.
    poll_budget: Duration,
    specs: Mutex<HashMap<RunId, Arc<RolloutSpec>>>,
}

impl<A: AssumeRole, S: RunStore, C: Clock> Worker<A, S, C> {
    pub fn new(assumer: A, store: S, clock: C, poll_budget: Duration) -> Self {
        Self {
            assumer,
            store,
            clock,
            poll_budget,
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

    pub async fn handle(&self, request: WorkerRequest) -> Result<WorkerResponse, LambdaError> {
        match request {
            WorkerRequest::Start {
                run,
                target,
                new_account,
            } => {
                let span = target_span(&run, &target);
                self.step(run, target, new_account, None).instrument(span).await
            }
            WorkerRequest::Poll {
                run,
                target,
                new_account,
                state,
            } => {
                let span = target_span(&run, &target);
                self.step(run, target, new_account, Some(state))
                    .instrument(span)
                    .await
            }
            WorkerRequest::Fail { run, target, error } => {
                let span = target_span(&run, &target);
                self.record_failure(run, target, &error).instrument(span).await
            }
        }
    }

    async fn step(
        &self,
        run: RunId,
        target: Target,
        new_account: bool,
        state: Option<InFlight>,
    ) -> Result<WorkerResponse, LambdaError> {
        let spec = self.spec(&run).await?;
        let job = Job {
            target: &target,
            spec: &spec,
            run: &run,
            new_account,
        };
        tracing::Span::current().record("stack", spec.stack_name.as_str());
        let invoked_at = self.clock.now_ms();
        let started_at_ms = state.as_ref().map_or(invoked_at, |s| s.progress.started_at_ms);
        let calls_before = state.as_ref().map_or(0, |s| s.progress.aws_calls);
        let request = AssumeRequest {
            target: &target,
            role: &spec.deploy_role,
            run: &run,
            session_duration_seconds: spec.session_duration_seconds,
            new_account,
        };
        let session = match self.assumer.assume(request).await {
            Ok(session) => session,
            Err(error) if error.name().is_transient() => return Err(error.into()),
            Err(error) => {
                let outcome =
                    assume_failure(&job, &error, started_at_ms, self.clock.now_ms(), calls_before + 1);
                return self.finish(&run, &target, new_account, outcome).await;
            }
        };
        let mut step = match state {
            None => {
                start(
                    &session,
                    &job,
                    Progress {
                        started_at_ms,
                        aws_calls: 1,
                    },
                    invoked_at,
                )
                .await?
            }
            Some(mut state) => {
                state.progress.aws_calls += 1;
                poll(&session, &job, state, invoked_at).await?
            }
        };
        // Short operations end within one invocation: no Wait/Poll round trip is paid for them.
        let budget_ends = invoked_at + u64::try_from(self.poll_budget.as_millis()).unwrap_or(u64::MAX);
        loop {
            match step {
                Step::Done(outcome) => return self.finish(&run, &target, new_account, outcome).await,
                Step::Pending(state)
                    if self.clock.now_ms() + spec.poll_interval_seconds * 1000 <= budget_ends =>
                {
                    tokio::time::sleep(spec.poll_interval()).await;
                    step = poll(&session, &job, state, self.clock.now_ms()).await?;
                }
                Step::Pending(state) => {
                    return Ok(WorkerResponse {
                        run,
                        target,
                        new_account,
                        done: false,
                        state: Some(state),
                        wait_seconds: spec.poll_interval_seconds,
                        outcome: None,
                    })
                }
            }
        }
    }

    async fn finish(
        &self,
        run: &RunId,
        target: &Target,
        new_account: bool,
        outcome: Outcome,
    ) -> Result<WorkerResponse, LambdaError> {
        tracing::info!(kind = %outcome.kind, error = ?outcome.error(), calls = outcome.aws_calls, "outcome");
        put_outcome(&self.store, run, &outcome).await?;
        Ok(WorkerResponse {
            run: run.clone(),
            target: target.clone(),
            new_account,
            done: true,
            state: None,
            wait_seconds: 0,
            outcome: Some(outcome.kind),
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
            outcome: Some(outcome.kind),
        })
    }
}
