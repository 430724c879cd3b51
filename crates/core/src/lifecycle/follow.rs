//! The one follow loop: assume the deploy role, start or poll, then wait and poll again until the
//! target is done. The local runner follows a target to its end in one call; the worker follows
//! it until its invocation has to end and hands the state back to the state machine, which calls
//! again after a Wait. Both run this loop, so they cannot drift apart.

use std::time::Duration;

use super::counted::Counted;
use super::drive::{assume_failure, millis, Clock, DriveOptions};
use super::{poll, poll_again, schedule, start, start_again, EngineError, InFlight, Job, Progress, Step};
use crate::outcome::Outcome;
use crate::ports::{AssumeRole, PortError};

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
    /// Still running, and the next look would pass the hand-back time, or costs less through the
    /// state machine (see `schedule`): look again after `wait` (whole seconds), with this state.
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
    /// A look made again with the state the first was given, its answer lost (the state machine
    /// retried the worker's Poll): an operation that look launched next is followed under its
    /// own phase, never replayed under the old one (`poll_again`).
    PollAgain(InFlight),
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

/// What to do about a running operation: the one place that says so. Every driver asks here: this
/// loop, and the state machine's Wait through `Followed::HandBack`. The schedule is `schedule`'s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NextLook {
    WaitHere(Duration),
    HandBack(Duration),
}

/// `launched`: the step that left `state` launched its operation (see `schedule`: the first look
/// is at once). `hand_back_at_ms`: when the caller must have the target back (`None`: never, a
/// local run).
fn next_look(
    job: &Job<'_>,
    state: &InFlight,
    launched: bool,
    now_ms: u64,
    hand_back_at_ms: Option<u64>,
) -> NextLook {
    let poll = job.spec.poll_interval();
    // The operation (or the wait for somebody else's) began when its deadline was set.
    let began_ms = state
        .deadline_ms
        .saturating_sub(millis(job.spec.operation_timeout()));
    let age = Duration::from_millis(now_ms.saturating_sub(began_ms));
    let wait = if launched {
        Duration::ZERO
    } else {
        schedule::next_wait(poll, age)
    };
    let Some(hand_back_at_ms) = hand_back_at_ms else {
        return NextLook::WaitHere(wait);
    };
    if schedule::cheaper_handed_back(age, wait) || now_ms.saturating_add(millis(wait)) > hand_back_at_ms {
        let to_deadline = Duration::from_millis(state.deadline_ms.saturating_sub(now_ms));
        return NextLook::HandBack(schedule::handed_back_wait(poll, age, to_deadline));
    }
    NextLook::WaitHere(wait)
}

/// Follows one target from `from` (`None`: not started yet) until it is done, or until the next
/// look would pass `hand_back_at_ms` (milliseconds since the epoch; `None`: never) or costs less
/// through the state machine (`schedule::cheaper_handed_back`; only when there is a hand-back
/// time). At least one step is taken whatever the time, so every call makes progress.
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
    // `again`: the next step repeats one whose answer was lost, and may find what it launched.
    let (from, mut again) = match from {
        FollowFrom::Start => (None, false),
        FollowFrom::StartAgain => (None, true),
        FollowFrom::InFlight(state) => (Some(state), false),
        FollowFrom::PollAgain(state) => (Some(state), true),
    };
    let started_at_ms = from
        .as_ref()
        .map_or_else(|| clock.now_ms(), |state| state.progress.started_at_ms);
    let calls_before = from.as_ref().map_or(0, |state| state.progress.aws_calls);
    let assumer = Counted::new(assumer);
    let request = job.assume_request();
    let mut attempt = 0;
    let mut caller_throttles = 0;
    let session = loop {
        match assumer.assume(request).await {
            Ok(session) => break session,
            Err(error) => {
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
            Some(in_flight) if again => poll_again(&session, job, in_flight.clone(), clock.now_ms()).await,
            Some(in_flight) => poll(&session, job, in_flight.clone(), clock.now_ms()).await,
        };
        let repeated = std::mem::take(&mut again);
        match step {
            Ok(Step::Done(outcome)) => return Ok(Followed::Done(outcome)),
            Ok(Step::Pending(in_flight)) => {
                attempt = 0;
                // A new deadline: this step launched an operation (or began waiting for one).
                let launched = state
                    .as_ref()
                    .is_none_or(|before| before.deadline_ms != in_flight.deadline_ms);
                let wait = match next_look(job, &in_flight, launched, clock.now_ms(), hand_back_at_ms) {
                    NextLook::WaitHere(wait) => wait,
                    NextLook::HandBack(wait) => {
                        return Ok(Followed::HandBack {
                            state: in_flight,
                            wait,
                        })
                    }
                };
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
                // `state` still holds the step to retry. The failed poll may have launched the
                // next operation before its error (a launch call whose answer was lost after
                // CloudFormation took it): it is polled again as such (`poll_again`). A repeated
                // start adopts what the failed one launched if it still runs (`start`; not
                // `start_again` unless asked for: a run ID given again may find an older run's
                // operation ended).
                again = repeated || state.is_some();
                if let Some(in_flight) = &mut state {
                    in_flight.progress = progress;
                }
            }
        }
    }
}
