//! What happened in one target, as a user reads it in a report.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::errors::ErrorName;
use crate::ids::Target;
use crate::stack::StackStatus;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum OutcomeKind {
    Created,
    Updated,
    Unchanged,
    Failed,
    Skipped,
}

impl OutcomeKind {
    pub fn is_success(self) -> bool {
        matches!(self, Self::Created | Self::Updated | Self::Unchanged)
    }
}

impl fmt::Display for OutcomeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// Why a target failed: for a stack operation, the first resource that failed in it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RootCause {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logical_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    pub reason: String,
}

impl RootCause {
    /// A cause with only a message: an API call refused, a timeout.
    pub fn message(reason: impl Into<String>) -> Self {
        Self {
            logical_id: None,
            resource_type: None,
            status: None,
            reason: reason.into(),
        }
    }
}

impl fmt::Display for RootCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.logical_id, &self.resource_type, &self.status) {
            (Some(id), Some(kind), Some(status)) => write!(f, "{id} ({kind}) {status}: {}", self.reason),
            _ => f.write_str(&self.reason),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Failure {
    pub error: ErrorName,
    pub root_cause: RootCause,
}

/// The final word on one target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Outcome {
    pub target: Target,
    pub kind: OutcomeKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub final_status: Option<StackStatus>,
    pub duration_ms: u64,
    /// AWS API calls this target cost (SDK retries of one call count once).
    pub aws_calls: u32,
    /// The state a stack was recovered from before this outcome (deleted and created again, or
    /// its rollback continued).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovered_from: Option<StackStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<Failure>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped_reason: Option<String>,
}

impl Outcome {
    /// A target that was never attempted, and why.
    pub fn skipped(target: Target, reason: impl Into<String>) -> Self {
        Self {
            target,
            kind: OutcomeKind::Skipped,
            stack_id: None,
            final_status: None,
            duration_ms: 0,
            aws_calls: 0,
            recovered_from: None,
            failure: None,
            skipped_reason: Some(reason.into()),
        }
    }

    /// A target that failed before or outside any stack operation.
    pub fn failed(
        target: Target,
        error: ErrorName,
        root_cause: RootCause,
        duration_ms: u64,
        aws_calls: u32,
    ) -> Self {
        Self {
            target,
            kind: OutcomeKind::Failed,
            stack_id: None,
            final_status: None,
            duration_ms,
            aws_calls,
            recovered_from: None,
            failure: Some(Failure { error, root_cause }),
            skipped_reason: None,
        }
    }

    pub fn error(&self) -> Option<ErrorName> {
        self.failure.as_ref().map(|f| f.error)
    }
}
