//! The one follow loop: assume the deploy role, start or poll, then wait and poll again until the
//! target is done. The local runner follows a target to its end in one call; the worker follows
//! it until its invocation has to end and hands the state back to the state machine, which calls
//! again after a Wait. Both run this loop, so they cannot drift apart.

use std::time::Duration;

use super::counted::Counted;
use super::drive::{assume_failure, millis, region_not_enabled, Clock, DriveOptions};
use super::{poll, start, start_again, EngineError, InFlight, Job, Progress, Step};
use crate::outcome::Outcome;
use crate::ports::{AssumeRequest, AssumeRole, PortError};

/// How long a paced target waits out throttles of the caller's AssumeRole
/// (`AssumeRole::waits_out_throttles`) before they count as its own: a quota that lets nothing
/// through for an hour will not, and the run should end.
const CALLER_THROTTLE_PATIENCE_MS: u64 = 3_600_000;
/// The waits between those tries double this many times (5 s to 20 s with the default backoff),
/// then stay: the window, not the wait, sets how many targets try.
const CALLER_THROTTLE_BACKOFFS: u32 = 2;

/// Where a `follow` left the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Followed {
    Done(Outcome),
    /// Still running, and the next look would pass the hand-back time: look again after `wait`,
    /// with this state.
    HandBack {
        state: InFlight,
        wait: Duration,
    },
}

/// Where `follow` takes a target up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FollowFrom {
    /// Not started yet.
    Start,
    /// Started before in this run, its answer lost (the worker's invocation timed out or
    /// crashed): an operation it launched is followed, never launched twice (`start_again`).
    StartAgain,
    /// Between two looks at a running operation.
    InFlight(InFlight),
}

/// `None`: not started yet.
impl From<Option<InFlight>> for FollowFrom {
    fn from(state: Option<InFlight>) -> Self {
        state.map_or(Self::Start, Self::InFlight)
    }
}

/// What becomes of an error that may pass (throttling, a new account, the network).
#[derive(Debug, Clone, Copy)]
pub enum PassingErrors {
    /// Retried in this process with backoff; once the retries are spent, the target fails with
    /// the error's name. A local run does this.
    RetryHere(DriveOptions),
    /// Returned at once: the worker throws it, and the state machine's Retry (which knows the
    /// error by name) calls again with the state it last had.
    Throw,
}

impl PassingErrors {
    /// The wait before try `attempt + 1`, or `None` when this error is not retried here.
    fn retry_after(self, attempt: u32) -> Option<Duration> {
        match self {
            Self::RetryHere(options) if attempt < options.transient_retries => {
                Some(options.retry_backoff.saturating_mul(2u32.saturating_pow(attempt)))
            }
            Self::RetryHere(_) | Self::Throw => None,
        }
    }
}

/// How long to wait before looking at a running operation again. The one place that says so:
/// every driver (this loop, and the state machine's Wait through `Followed::HandBack`) asks here.
fn next_look(job: &Job<'_>, _state: &InFlight) -> Duration {
    job.spec.poll_interval()
}

/// Follows one target from `from` (`None`: not started yet) until it is done, or until the next
/// look would pass `hand_back_at_ms` (milliseconds since the epoch; `None`: never). At least one
/// step is taken whatever the time, so every call makes progress.
///
/// `Err` only under `PassingErrors::Throw`: a passing error, with what the target had cost before
/// it. Everything else, assume failures included, ends as an outcome.
pub async fn follow<A: AssumeRole>(
    assumer: &A,
    job: &Job<'_>,
    from: Option<InFlight>,
    clock: &dyn Clock,
    hand_back_at_ms: Option<u64>,
    passing: PassingErrors,
) -> Result<Followed, EngineError> {
    follow_from(assumer, job, from.into(), clock, hand_back_at_ms, passing).await
}

/// `follow`, from a start made again too (`FollowFrom::StartAgain`).
pub async fn follow_from<A: AssumeRole>(
    assumer: &A,
    job: &Job<'_>,
    from: FollowFrom,
    clock: &dyn Clock,
    hand_back_at_ms: Option<u64>,
    passing: PassingErrors,
) -> Result<Followed, EngineError> {
    let (from, again) = match from {
        FollowFrom::Start => (None, false),
        FollowFrom::StartAgain => (None, true),
        FollowFrom::InFlight(state) => (Some(state), false),
    };
    let started_at_ms = from
        .as_ref()
        .map_or_else(|| clock.now_ms(), |state| state.progress.started_at_ms);
    let calls_before = from.as_ref().map_or(0, |state| state.progress.aws_calls);
    let assumer = Counted::new(assumer);
    let request = AssumeRequest {
        target: job.target,
        role: &job.spec.deploy_role,
        run: job.run,
        session_duration_seconds: job.spec.session_duration_seconds,
        new_account: job.new_account,
    };
    let mut attempt = 0;
    let mut caller_throttles = 0;
    let session = loop {
        match assumer.assume(request).await {
            Ok(session) => break session,
            Err(error) => {
                if let Some(skipped) = region_not_enabled(job.target, &error) {
                    return Ok(Followed::Done(skipped));
                }
                let calls = calls_before + assumer.calls();
                // The caller's quota, not the target: the assumer keeps the target waiting for
                // room, and it tries again without spending its own retries (within a bound, so
                // that a quota that never recovers still ends the run).
                let caller_throttled =
                    matches!(error, PortError::Throttled(_)) && assumer.waits_out_throttles();
                let patient = clock.now_ms() < started_at_ms.saturating_add(CALLER_THROTTLE_PATIENCE_MS);
                if caller_throttled && patient {
                    if let Some(wait) = passing.retry_after(caller_throttles.min(CALLER_THROTTLE_BACKOFFS)) {
                        tracing::info!(target = %job.target, %error, "the caller's AssumeRole was throttled; waiting for room");
                        tokio::time::sleep(wait).await;
                        caller_throttles += 1;
                        continue;
                    }
                }
                if error.name().is_transient() {
                    if let Some(wait) = passing.retry_after(attempt) {
                        tracing::info!(target = %job.target, %error, attempt, "assume role failed; retrying");
                        tokio::time::sleep(wait).await;
                        attempt += 1;
                        continue;
                    }
                    if let PassingErrors::Throw = passing {
                        return Err(EngineError {
                            name: error.name(),
                            message: error.to_string(),
                            progress: Progress {
                                started_at_ms,
                                aws_calls: calls,
                            },
                        });
                    }
                }
                let outcome = assume_failure(job, &error, started_at_ms, clock.now_ms(), calls);
                return Ok(Followed::Done(outcome));
            }
        }
    };

    let mut progress = Progress {
        started_at_ms,
        aws_calls: calls_before + assumer.calls(),
    };
    let mut state = from.map(|state| InFlight { progress, ..state });
    let mut attempt = 0;
    loop {
        let step = match &state {
            None if again => start_again(&session, job, progress, clock.now_ms()).await,
            None => start(&session, job, progress, clock.now_ms()).await,
            Some(in_flight) => poll(&session, job, in_flight.clone(), clock.now_ms()).await,
        };
        match step {
            Ok(Step::Done(outcome)) => return Ok(Followed::Done(outcome)),
            Ok(Step::Pending(in_flight)) => {
                attempt = 0;
                let wait = next_look(job, &in_flight);
                if hand_back_at_ms.is_some_and(|at| clock.now_ms().saturating_add(millis(wait)) > at) {
                    return Ok(Followed::HandBack {
                        state: in_flight,
                        wait,
                    });
                }
                tracing::debug!(target = %job.target, phase = ?in_flight.phase, "waiting");
                progress = in_flight.progress;
                state = Some(in_flight);
                tokio::time::sleep(wait).await;
            }
            Err(error) => {
                let Some(wait) = passing.retry_after(attempt) else {
                    if let PassingErrors::Throw = passing {
                        return Err(error);
                    }
                    return Ok(Followed::Done(error.into_outcome(job.target, clock.now_ms())));
                };
                tracing::info!(target = %job.target, name = %error.name, message = %error.message, attempt, "step failed; retrying");
                progress = error.progress;
                tokio::time::sleep(wait).await;
                attempt += 1;
                // `state` still holds the step to retry: a poll is safe to repeat, and a repeated
                // start finds and adopts whatever the failed one launched.
                if let Some(in_flight) = &mut state {
                    in_flight.progress = progress;
                }
            }
        }
    }
}
