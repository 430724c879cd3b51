//! Driving one target from start to outcome in one process: what `stackfleet deploy` does for
//! each target. The serverless path drives the same steps from the state machine instead.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{poll, start, EngineError, Job, Progress, Step};
use crate::errors::ErrorName;
use crate::outcome::{Outcome, RootCause};
use crate::ports::{AssumeRequest, AssumeRole, PortError};

/// Wall-clock milliseconds, as the lifecycle's timestamps and deadlines count them.
pub trait Clock: Send + Sync {
    fn now_ms(&self) -> u64;
}

/// Wall-clock time read through tokio's clock: under `tokio::time::pause()` it advances with
/// virtual time, so hour-long operations in tests report hour-long durations.
#[derive(Debug, Clone, Copy)]
pub struct TokioClock {
    wall_ms_at_anchor: u64,
    anchor: tokio::time::Instant,
}

impl TokioClock {
    pub fn new() -> Self {
        Self {
            wall_ms_at_anchor: SystemClock.now_ms(),
            anchor: tokio::time::Instant::now(),
        }
    }
}

impl Default for TokioClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for TokioClock {
    fn now_ms(&self) -> u64 {
        let elapsed = u64::try_from(self.anchor.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.wall_ms_at_anchor.saturating_add(elapsed)
    }
}

/// Wall-clock time read from the system at every call: for processes that are frozen between
/// uses (a Lambda sandbox), where a monotonic anchor would stop with the process.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
    }
}

/// How patiently a local run retries a step that failed for a passing reason.
#[derive(Debug, Clone, Copy)]
pub struct DriveOptions {
    /// Tries after the first, for throttling, a new account, or the network.
    pub transient_retries: u32,
    /// The first wait; each further one doubles.
    pub retry_backoff: Duration,
}

impl Default for DriveOptions {
    fn default() -> Self {
        // 5 + 10 + ... + 160 s: about five minutes, time enough for a new account's role.
        Self {
            transient_retries: 6,
            retry_backoff: Duration::from_secs(5),
        }
    }
}

/// Takes one target to its final outcome: assume the deploy role, start, poll until done.
/// Never fails: whatever goes wrong becomes a Failed outcome with the contract's name.
pub async fn run_target<A: AssumeRole>(
    assumer: &A,
    job: &Job<'_>,
    clock: &dyn Clock,
    options: DriveOptions,
) -> Outcome {
    let started_at_ms = clock.now_ms();
    let mut aws_calls = 0;
    let request = AssumeRequest {
        target: job.target,
        role: &job.spec.deploy_role,
        run: job.run,
        session_duration_seconds: job.spec.session_duration_seconds,
        new_account: job.new_account,
    };
    let mut attempt = 0;
    let session = loop {
        aws_calls += 1;
        match assumer.assume(request).await {
            Ok(session) => break session,
            Err(error) if error.name().is_transient() && attempt < options.transient_retries => {
                tracing::info!(target = %job.target, %error, attempt, "assume role failed; retrying");
                tokio::time::sleep(backoff(options, attempt)).await;
                attempt += 1;
            }
            Err(error) => return assume_failure(job, &error, started_at_ms, clock.now_ms(), aws_calls),
        }
    };

    let mut progress = Progress {
        started_at_ms,
        aws_calls,
    };
    let mut state: Option<super::InFlight> = None;
    let mut attempt = 0;
    loop {
        let step = match &state {
            None => start(&session, job, progress, clock.now_ms()).await,
            Some(in_flight) => poll(&session, job, in_flight.clone(), clock.now_ms()).await,
        };
        match step {
            Ok(Step::Done(outcome)) => return outcome,
            Ok(Step::Pending(in_flight)) => {
                attempt = 0;
                progress = in_flight.progress;
                tracing::debug!(target = %job.target, phase = ?in_flight.phase, "waiting");
                state = Some(in_flight);
                tokio::time::sleep(job.spec.poll_interval()).await;
            }
            Err(EngineError {
                name,
                message,
                progress: spent,
            }) => {
                if attempt >= options.transient_retries {
                    return Outcome::failed(
                        job.target.clone(),
                        name,
                        RootCause::message(message),
                        clock.now_ms().saturating_sub(started_at_ms),
                        spent.aws_calls,
                    );
                }
                tracing::info!(target = %job.target, %name, %message, attempt, "step failed; retrying");
                progress = spent;
                tokio::time::sleep(backoff(options, attempt)).await;
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

fn backoff(options: DriveOptions, attempt: u32) -> Duration {
    options.retry_backoff.saturating_mul(2u32.saturating_pow(attempt))
}

/// The outcome of a target whose deploy role could not be assumed, naming the role.
pub fn assume_failure(
    job: &Job<'_>,
    error: &PortError,
    started_at_ms: u64,
    now_ms: u64,
    aws_calls: u32,
) -> Outcome {
    let role = job.spec.deploy_role.arn(job.target);
    let reason = match error.name() {
        ErrorName::AccessDenied => format!(
            "cannot assume {role}: the role is missing, or does not trust the caller{} ({error})",
            if job.spec.deploy_role.external_id.is_some() {
                " with this external ID"
            } else {
                ""
            }
        ),
        _ => format!("cannot assume {role}: {error}"),
    };
    Outcome::failed(
        job.target.clone(),
        error.name(),
        RootCause::message(reason),
        now_ms.saturating_sub(started_at_ms),
        aws_calls,
    )
}
