//! The worker: follows one target's lifecycle for as long as its invocation may run (core's
//! `follow`, as a local run does), and `fail` records a target that the state machine caught
//! failing. Each final outcome goes to the run store.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use stackfleet_core::lifecycle::{follow_from, millis, Clock, FollowFrom, Followed, Job, PassingErrors};
use stackfleet_core::ports::{AssumeRole, NoSecrets, RunStore, Secrets};
use stackfleet_core::secrets;
use stackfleet_core::window::parts::Heard;
pub use stackfleet_core::wire::worker::{CaughtError, WorkerRequest, WorkerResponse};
use stackfleet_core::{ErrorName, Outcome, OutcomeKind, RolloutSpec, RootCause, RunId, Target};
use tracing::Instrument;

use crate::error::LambdaError;
use crate::heard::{tallied, Caller};

mod reviewed;
use crate::records::{self, get_json, put_json, put_outcome, RunKeys};
use reviewed::{Reviewing, Stage};
use stackfleet_core::waves::Halt;

/// Kept free at the end of an invocation: the last look (DescribeStacks, and the events pages of
/// a failure's root cause, each of which the SDK may retry with backoff when throttled) and the
/// S3 write of the outcome must fit in it before Lambda ends the invocation. A Lambda timeout is
/// retried by the state machine (Start and Poll are idempotent: see `starting`), but costs an
/// invocation and, retried too often, the target: so the margin is generous.
pub const HAND_BACK_MARGIN: Duration = Duration::from_secs(60);

/// The errors a worker task ends with when the worker never answered: Lambda's own for an
/// invocation that timed out or crashed (`Lambda.Unknown` when the payload names no error type,
/// `Sandbox.Timedout` when it does), and the Task's own timeout. The state machine retries them
/// in every worker task: Start and Poll are idempotent (see `Worker::starting`), and
/// RecordFailure keeps an outcome already written.
pub const UNANSWERED: [&str; 3] = ["Lambda.Unknown", "Sandbox.Timedout", "States.Timeout"];

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
/// The cached specs hold the run's secrets resolved: in this process's memory only.
#[derive(Debug)]
pub struct Worker<A, S, C, K = NoSecrets> {
    /// The caller's own APIs, heard by the invocation's tally (`heard`).
    assumer: Caller<A>,
    store: Caller<S>,
    clock: C,
    secrets: K,
    specs: Mutex<HashMap<RunId, Arc<RolloutSpec>>>,
    records: Mutex<HashMap<RunId, Arc<stackfleet_core::wire::lister::RunRecord>>>,
    /// A plan-first run's approved plan (`reviewed`).
    reviews: Mutex<HashMap<RunId, Arc<Reviewing>>>,
}

impl<A: AssumeRole, S: RunStore, C: Clock> Worker<A, S, C> {
    /// A worker that resolves no reference: a run whose parameters hold one fails its targets
    /// until `with_secrets` gives it a way to read them.
    pub fn new(assumer: A, store: S, clock: C) -> Self {
        Self {
            assumer: Caller(assumer),
            store: Caller(store),
            clock,
            secrets: NoSecrets,
            specs: Mutex::new(HashMap::new()),
            records: Mutex::new(HashMap::new()),
            reviews: Mutex::new(HashMap::new()),
        }
    }
}

impl<A: AssumeRole, S: RunStore, C: Clock, K: Secrets> Worker<A, S, C, K> {
    /// Resolves the references in a run's parameters with `secrets`, in the worker's own account.
    pub fn with_secrets<R: Secrets>(self, secrets: R) -> Worker<A, S, C, R> {
        Worker {
            assumer: self.assumer,
            store: self.store,
            clock: self.clock,
            secrets,
            specs: self.specs,
            records: self.records,
            reviews: self.reviews,
        }
    }

    fn cached<T>(&self, cache: &Mutex<HashMap<RunId, Arc<T>>>, run: &RunId) -> Option<Arc<T>> {
        cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(run)
            .cloned()
    }

    fn remember<T>(&self, cache: &Mutex<HashMap<RunId, Arc<T>>>, run: &RunId, value: Arc<T>) {
        cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(run.clone(), value);
    }

    /// The run's spec, its references resolved: read and resolved once per process and run. A
    /// reference that cannot be resolved fails the target with an error naming it; it is not
    /// cached, so a retry after the secret is made succeeds.
    async fn spec(&self, run: &RunId) -> Result<Arc<RolloutSpec>, LambdaError> {
        if let Some(spec) = self.cached(&self.specs, run) {
            return Ok(spec);
        }
        let written = records::spec(&self.store, run).await?;
        let spec = Arc::new(
            secrets::resolve(&self.secrets, &written)
                .await
                .map_err(|e| LambdaError::new(e.name(), e.to_string()))?,
        );
        self.remember(&self.specs, run, Arc::clone(&spec));
        Ok(spec)
    }

    /// One invocation. `deadline_ms` is when Lambda ends it (`LambdaEvent.context.deadline`,
    /// milliseconds since the epoch): the target is followed until the next look would come
    /// within `HAND_BACK_MARGIN` of it, or until the operation is old enough that a Wait of the
    /// state machine costs less than waiting here (core's `lifecycle::schedule`), then handed
    /// back. A deadline already that close (or past, as local emulators may send) still allows
    /// one step.
    pub async fn handle(
        &self,
        request: WorkerRequest,
        deadline_ms: u64,
    ) -> Result<WorkerResponse, LambdaError> {
        let (run, target, wave) = match &request {
            WorkerRequest::Start {
                run, target, wave, ..
            }
            | WorkerRequest::Poll {
                run, target, wave, ..
            }
            | WorkerRequest::Fail {
                run, target, wave, ..
            } => (run.clone(), target.clone(), *wave),
        };
        let (answer, heard) = tallied(self.invoke(request, deadline_ms)).await;
        if heard.throttled() {
            self.mark_throttled(&run, &target, wave, heard).await;
        }
        answer
    }

    /// Leaves the invocation's tally for the Gate. A marker that cannot be written (the bucket
    /// throttling still) costs the next part's limit that much evidence, never the target.
    async fn mark_throttled(&self, run: &RunId, target: &Target, wave: usize, heard: Heard) {
        let key = RunKeys::new(run).throttled_marker(wave, target, self.clock.now_ms(), heard);
        tracing::warn!(%target, sts = ?heard.sts, bucket = ?heard.bucket, "throttled by the caller's APIs");
        if let Err(error) = self.store.0.put(&key, String::new(), "text/plain").await {
            tracing::warn!(%target, %error, "the throttled marker was not written");
        }
    }

    async fn invoke(&self, request: WorkerRequest, deadline_ms: u64) -> Result<WorkerResponse, LambdaError> {
        let (run, target, wave, new_account, asked) = match request {
            WorkerRequest::Start {
                run,
                target,
                wave,
                new_account,
            } => (run, target, wave, new_account, Asked::Follow(FollowFrom::Start)),
            WorkerRequest::Poll {
                run,
                target,
                wave,
                new_account,
                state,
                retried,
            } => {
                // A retried Poll's first try may have launched the next operation: followed
                // under its own phase, found by the run's tokens (one DescribeStackEvents more).
                let from = if retried > 0 {
                    FollowFrom::PollAgain(state)
                } else {
                    FollowFrom::InFlight(state)
                };
                (run, target, wave, new_account, Asked::Follow(from))
            }
            WorkerRequest::Fail {
                run,
                target,
                wave,
                error,
            } => (run, target, wave, false, Asked::RecordFailure(error)),
        };
        let span = target_span(&run, &target);
        let done = |kind| done(run.clone(), target.clone(), wave, new_account, kind);
        let stage = self.stage(&run).instrument(span.clone()).await?;
        if let Stage::Planning = stage {
            match asked {
                Asked::RecordFailure(caught) => {
                    let why = if caught.cause.is_empty() {
                        caught.error.clone()
                    } else {
                        format!("{}: {}", caught.error, caught.cause)
                    };
                    self.unplanned(&run, &target, why).instrument(span).await?;
                }
                _ => self.plan(&run, &target, new_account).instrument(span).await?,
            }
            return Ok(WorkerResponse {
                outcome: None,
                ..done(OutcomeKind::Skipped)
            });
        }
        let asked = match asked {
            Asked::Follow(FollowFrom::Start) => self.starting(&run, &target).instrument(span.clone()).await?,
            other => other,
        };
        let outcome = match asked {
            Asked::NotStarted(why) => Outcome::not_started(target.clone(), format!("not started: {why}")),
            Asked::Follow(from) => {
                let hand_back_at_ms = deadline_ms.saturating_sub(millis(HAND_BACK_MARGIN));
                let followed = match (&stage, from) {
                    (Stage::Applying(reviewing), from @ (FollowFrom::Start | FollowFrom::StartAgain)) => {
                        let again = from == FollowFrom::StartAgain;
                        self.apply(&run, &target, new_account, reviewing, again, hand_back_at_ms)
                            .instrument(span.clone())
                            .await?
                    }
                    (_, from) => {
                        self.follow(&run, &target, new_account, from, hand_back_at_ms)
                            .instrument(span.clone())
                            .await?
                    }
                };
                match followed {
                    Followed::Done(outcome) => outcome,
                    Followed::HandBack { state, wait } => {
                        return Ok(WorkerResponse {
                            run,
                            target,
                            wave,
                            new_account,
                            done: false,
                            state: Some(state),
                            wait_seconds: wait.as_secs(),
                            outcome: None,
                        })
                    }
                }
            }
            // Retries spent, or a Lambda fault: recorded as Failed so that no target is lost,
            // unless the target already has its outcome (the fault came after it was written).
            Asked::RecordFailure(caught) => {
                let key = RunKeys::new(&run).outcome(&target);
                let recorded: Option<Outcome> = get_json(&self.store, &key).instrument(span.clone()).await?;
                if let Some(outcome) = recorded {
                    return Ok(done(outcome.kind()));
                }
                caught_failure(&target, &caught)
            }
        };
        span.in_scope(|| {
            tracing::info!(kind = %outcome.kind(), error = ?outcome.error(), calls = outcome.aws_calls, "outcome");
        });
        put_outcome(&self.store, &run, wave, &outcome)
            .instrument(span.clone())
            .await?;
        if outcome.kind() == OutcomeKind::Failed {
            self.check_budget(&run, wave).instrument(span).await?;
        }
        Ok(done(outcome.kind()))
    }

    /// What a Start comes to. The first Start of a target leaves a marker before its first call
    /// to the target. A Start that finds the marker is a retry (its invocation's answer was lost:
    /// a Lambda timeout or crash, `Lambda.Unknown`, `Sandbox.Timedout`, `States.Timeout`, or a
    /// passing error): it follows what the first one may have launched, found by the run's
    /// ClientRequestTokens, and never launches it twice, even after the stop. A Start without the
    /// marker after the stop does not start.
    async fn starting(&self, run: &RunId, target: &Target) -> Result<Asked, LambdaError> {
        let keys = RunKeys::new(run);
        if self.store.get(&keys.started_marker(target)).await?.is_some() {
            tracing::info!("started before in this run: following what that start launched");
            return Ok(Asked::Follow(FollowFrom::StartAgain));
        }
        let stop: Option<Halt> = get_json(&self.store, &keys.stop()).await?;
        if let Some(stop) = stop {
            return Ok(Asked::NotStarted(stop.reason));
        }
        self.store
            .put(&keys.started_marker(target), String::new(), "text/plain")
            .await?;
        Ok(Asked::Follow(FollowFrom::Start))
    }

    /// After a failure: once the wave's failures or the rollout's pass their tolerance, the stop
    /// marker tells every later Start of the run not to start.
    async fn check_budget(&self, run: &RunId, wave: usize) -> Result<(), LambdaError> {
        let keys = RunKeys::new(run);
        if self.store.get(&keys.stop()).await?.is_some() {
            return Ok(());
        }
        let record = records::record(&self.store, run).await?;
        if let Some(reason) = records::budget_passed(&self.store, &record, wave).await? {
            tracing::warn!(%reason, "stop: no new target of the run starts");
            let stop = Halt {
                wave: record.wave_name(wave),
                wave_index: wave,
                reason,
            };
            put_json(&self.store, &keys.stop(), &stop).await?;
        }
        Ok(())
    }

    /// Passing errors are thrown: the state machine's Retry knows them by name and calls again
    /// with the state this invocation started from.
    async fn follow(
        &self,
        run: &RunId,
        target: &Target,
        new_account: bool,
        from: FollowFrom,
        hand_back_at_ms: u64,
    ) -> Result<Followed, LambdaError> {
        let spec = self.spec(run).await?;
        let job = Job {
            target,
            spec: &spec,
            run,
            new_account,
        };
        tracing::Span::current().record("stack", spec.stack_name.as_str());
        let followed = follow_from(
            &self.assumer,
            &job,
            from,
            &self.clock,
            Some(hand_back_at_ms),
            PassingErrors::Throw,
        )
        .await?;
        Ok(followed)
    }
}

/// What an invocation was asked to do.
enum Asked {
    Follow(FollowFrom),
    /// A Start after the run stopped starting targets, with why.
    NotStarted(String),
    RecordFailure(CaughtError),
}

/// The outcome of a target the state machine caught failing, under the name it was caught by.
fn caught_failure(target: &Target, caught: &CaughtError) -> Outcome {
    let name = caught.error.parse().unwrap_or(ErrorName::Internal);
    let cause = if caught.cause.is_empty() {
        caught.error.clone()
    } else {
        format!("{}: {}", caught.error, caught.cause)
    };
    Outcome::failed(target.clone(), name, RootCause::message(cause), 0, 0)
}

/// What the state machine's Choice ends the target's loop on.
fn done(run: RunId, target: Target, wave: usize, new_account: bool, kind: OutcomeKind) -> WorkerResponse {
    WorkerResponse {
        run,
        target,
        wave,
        new_account,
        done: true,
        state: None,
        wait_seconds: 0,
        outcome: Some(kind),
    }
}
