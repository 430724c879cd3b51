//! The per-target lifecycle: `start` decides and launches, `poll` follows until a final outcome,
//! and `follow` loops over them. Between steps the whole state is an `InFlight` value that
//! serialises, so one process (a local run) or many Lambda invocations (the state machine) can
//! drive the same target.

mod counted;
mod decide;
mod drive;
mod engine;
mod events;
mod follow;
pub mod schedule;

use std::fmt;

use serde::{Deserialize, Serialize};

pub use counted::Counted;
pub use decide::{decide, Decision, Found};
pub use drive::{
    assume_failure, millis, run_target, Clock, Deploying, DriveOptions, SystemClock, TargetDriver, TokioClock,
};
pub(crate) use engine::not_managed;
pub use engine::{poll, poll_again, start, start_again};
pub(crate) use events::rollback_failed_resources;
pub use follow::{follow, follow_from, FollowFrom, Followed, PassingErrors};

use crate::errors::ErrorName;
use crate::ids::{RunId, Target};
use crate::outcome::Outcome;
use crate::spec::RolloutSpec;
use crate::stack::StackStatus;

/// One target of one rollout.
#[derive(Debug, Clone, Copy)]
pub struct Job<'a> {
    pub target: &'a Target,
    pub spec: &'a RolloutSpec,
    pub run: &'a RunId,
    /// See `AssumeRequest::new_account`.
    pub new_account: bool,
}

impl<'a> Job<'a> {
    /// The session this target is reached through: the spec's deploy role, named after the run.
    pub fn assume_request(&self) -> crate::ports::AssumeRequest<'a> {
        crate::ports::AssumeRequest {
            target: self.target,
            role: &self.spec.deploy_role,
            run: self.run,
            session_duration_seconds: self.spec.session_duration_seconds,
            new_account: self.new_account,
        }
    }
}

/// What a target has cost so far: carried from step to step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    pub started_at_ms: u64,
    pub aws_calls: u32,
}

/// The operation being followed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "phase")]
pub enum Phase {
    Creating,
    Updating,
    /// Deleting a stack that only a delete could recover; a create follows.
    Deleting,
    /// ContinueUpdateRollback on UPDATE_ROLLBACK_FAILED; an update follows.
    ContinuingRollback,
    /// Somebody else's operation holds the stack; decide again once it ends.
    WaitingForOther {
        seen: StackStatus,
    },
}

impl Phase {
    /// Our operations' ClientRequestTokens end in this word, so a later step (or a duplicated
    /// start) can tell our operation from anybody else's.
    pub(crate) fn operation(&self) -> Option<&'static str> {
        match self {
            Self::Creating => Some("create"),
            Self::Updating => Some("update"),
            Self::Deleting => Some("delete"),
            Self::ContinuingRollback => Some("continue"),
            Self::WaitingForOther { .. } => None,
        }
    }

    pub(crate) fn from_operation(operation: &str) -> Option<Self> {
        [
            Self::Creating,
            Self::Updating,
            Self::Deleting,
            Self::ContinuingRollback,
        ]
        .into_iter()
        .find(|phase| phase.operation() == Some(operation))
    }

    /// The stack-level status of the event that opens this operation.
    pub(crate) fn opening_status(&self) -> &'static str {
        match self {
            Self::Creating => "CREATE_IN_PROGRESS",
            Self::Deleting => "DELETE_IN_PROGRESS",
            Self::ContinuingRollback => "UPDATE_ROLLBACK_IN_PROGRESS",
            Self::Updating | Self::WaitingForOther { .. } => "UPDATE_IN_PROGRESS",
        }
    }
}

/// A target between steps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InFlight {
    pub target: Target,
    pub run: RunId,
    pub stack_id: String,
    #[serde(flatten)]
    pub phase: Phase,
    /// When this phase gives up, in milliseconds since the Unix epoch.
    pub deadline_ms: u64,
    pub progress: Progress,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovered_from: Option<StackStatus>,
    /// Resources the create imports (`adoptExisting`): what its outcome says it adopted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub adopted: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "step")]
pub enum Step {
    Done(Outcome),
    Pending(InFlight),
}

/// A step that could not finish for a reason that may pass (throttling, a new account, the
/// network): the caller retries the same step later, or gives up with this name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct EngineError {
    pub name: ErrorName,
    pub message: String,
    pub progress: Progress,
}

impl EngineError {
    /// The target's Failed outcome once nobody retries this error any more.
    pub fn into_outcome(self, target: &Target, now_ms: u64) -> Outcome {
        Outcome::failed(
            target.clone(),
            self.name,
            crate::outcome::RootCause::message(self.message),
            now_ms.saturating_sub(self.progress.started_at_ms),
            self.progress.aws_calls,
        )
    }
}

impl fmt::Display for EngineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.name, self.message)
    }
}

/// The ClientRequestToken of one of our operations in one run.
pub fn client_request_token(run: &RunId, operation: &str) -> String {
    format!("stackfleet-{run}-{operation}")
}
