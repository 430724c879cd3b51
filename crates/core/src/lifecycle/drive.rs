//! Driving one target from start to outcome in one process: what `stackfleet deploy` does for
//! each target. The serverless path follows the same loop in each worker invocation instead.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::follow::{follow_from, FollowFrom, Followed, PassingErrors};
use super::Job;
use crate::errors::ErrorName;
use crate::outcome::{Outcome, RootCause};
use crate::ports::{AssumeRole, PortError};

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

/// A duration in the lifecycle's unit, milliseconds, saturating rather than wrapping.
pub fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

impl Clock for TokioClock {
    fn now_ms(&self) -> u64 {
        let elapsed = millis(self.anchor.elapsed());
        self.wall_ms_at_anchor.saturating_add(elapsed)
    }
}

/// Wall-clock time read from the system at every call: for processes that are frozen between
/// uses (a Lambda sandbox), where a monotonic anchor would stop with the process.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        millis(SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default())
    }
}

/// How a local run drives each target: how patiently it retries a step that failed for a
/// passing reason, and whether it resumes an earlier attempt of the same run.
#[derive(Debug, Clone, Copy)]
pub struct DriveOptions {
    /// Tries after the first, for throttling, a new account, or the network.
    pub transient_retries: u32,
    /// The first wait; each further one doubles.
    pub retry_backoff: Duration,
    /// This target's earlier attempt, in a killed run of the same ID, may have launched an
    /// operation and lost its outcome: it starts as a start made again
    /// (`FollowFrom::StartAgain`), following this run's operation found on the stack, running or
    /// ended, instead of launching another. Off for every other target, where the same run ID
    /// may come with a changed document that must be applied (`Rollout::lost` says which).
    pub resumed: bool,
}

impl Default for DriveOptions {
    fn default() -> Self {
        // 5 + 10 + ... + 160 s: about five minutes, time enough for a new account's role.
        Self {
            transient_retries: 6,
            retry_backoff: Duration::from_secs(5),
            resumed: false,
        }
    }
}

/// Takes one target to its final outcome in this process, as `stackfleet deploy` does: assume
/// the deploy role, start, poll until done, retrying passing errors here. Never fails: whatever
/// goes wrong becomes a Failed outcome with the contract's name.
pub async fn run_target<A: AssumeRole>(
    assumer: &A,
    job: &Job<'_>,
    clock: &dyn Clock,
    options: DriveOptions,
) -> Outcome {
    let mut from = if options.resumed {
        FollowFrom::StartAgain
    } else {
        FollowFrom::Start
    };
    loop {
        match follow_from(assumer, job, from, clock, None, PassingErrors::RetryHere(options)).await {
            Ok(Followed::Done(outcome)) => return outcome,
            // Without a hand-back time `follow` keeps the target; if it ever handed it back, the
            // right thing would still be to follow on.
            Ok(Followed::HandBack { state, .. }) => from = FollowFrom::InFlight(state),
            // Retried here, an error comes back as an outcome; this arm keeps the promise anyway.
            Err(error) => return error.into_outcome(job.target, clock.now_ms()),
        }
    }
}

/// How one target is taken to its outcome: deployed (`Deploying`), or its reviewed change set
/// applied (`plan::Applying`). Waves, tolerance and interrupts are the rollout's, whichever
/// (`rollout::roll_out_waves_with`).
pub trait TargetDriver: Send + Sync {
    /// `assumer` opens the target's session: the rollout's, paced by its window.
    fn drive<A: AssumeRole>(
        &self,
        assumer: &A,
        job: &Job<'_>,
        clock: &dyn Clock,
        options: DriveOptions,
    ) -> impl std::future::Future<Output = Outcome> + Send;
}

/// What `deploy` does with each target: the lifecycle, from the stack as found.
#[derive(Debug)]
pub struct Deploying;

impl TargetDriver for Deploying {
    fn drive<A: AssumeRole>(
        &self,
        assumer: &A,
        job: &Job<'_>,
        clock: &dyn Clock,
        options: DriveOptions,
    ) -> impl std::future::Future<Output = Outcome> + Send {
        run_target(assumer, job, clock, options)
    }
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
