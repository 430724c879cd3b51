//! What core knows of a CloudFormation stack: its status, its events, the requests that change it.
//! Adapters translate SDK types into these; nothing here names an SDK type.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::spec::{Capability, TemplateSource};

/// A stack's status, as CloudFormation names it. Statuses this build does not know are kept
/// verbatim in `Other`, so a new AWS status is reported rather than lost.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum StackStatus {
    CreateInProgress,
    CreateFailed,
    CreateComplete,
    RollbackInProgress,
    RollbackFailed,
    RollbackComplete,
    DeleteInProgress,
    DeleteFailed,
    DeleteComplete,
    UpdateInProgress,
    UpdateCompleteCleanupInProgress,
    UpdateComplete,
    UpdateFailed,
    UpdateRollbackInProgress,
    UpdateRollbackFailed,
    UpdateRollbackCompleteCleanupInProgress,
    UpdateRollbackComplete,
    ReviewInProgress,
    ImportInProgress,
    ImportComplete,
    ImportRollbackInProgress,
    ImportRollbackFailed,
    ImportRollbackComplete,
    Other(String),
}

const NAMES: [(StackStatus, &str); 23] = [
    (StackStatus::CreateInProgress, "CREATE_IN_PROGRESS"),
    (StackStatus::CreateFailed, "CREATE_FAILED"),
    (StackStatus::CreateComplete, "CREATE_COMPLETE"),
    (StackStatus::RollbackInProgress, "ROLLBACK_IN_PROGRESS"),
    (StackStatus::RollbackFailed, "ROLLBACK_FAILED"),
    (StackStatus::RollbackComplete, "ROLLBACK_COMPLETE"),
    (StackStatus::DeleteInProgress, "DELETE_IN_PROGRESS"),
    (StackStatus::DeleteFailed, "DELETE_FAILED"),
    (StackStatus::DeleteComplete, "DELETE_COMPLETE"),
    (StackStatus::UpdateInProgress, "UPDATE_IN_PROGRESS"),
    (
        StackStatus::UpdateCompleteCleanupInProgress,
        "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
    ),
    (StackStatus::UpdateComplete, "UPDATE_COMPLETE"),
    (StackStatus::UpdateFailed, "UPDATE_FAILED"),
    (
        StackStatus::UpdateRollbackInProgress,
        "UPDATE_ROLLBACK_IN_PROGRESS",
    ),
    (StackStatus::UpdateRollbackFailed, "UPDATE_ROLLBACK_FAILED"),
    (
        StackStatus::UpdateRollbackCompleteCleanupInProgress,
        "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS",
    ),
    (StackStatus::UpdateRollbackComplete, "UPDATE_ROLLBACK_COMPLETE"),
    (StackStatus::ReviewInProgress, "REVIEW_IN_PROGRESS"),
    (StackStatus::ImportInProgress, "IMPORT_IN_PROGRESS"),
    (StackStatus::ImportComplete, "IMPORT_COMPLETE"),
    (
        StackStatus::ImportRollbackInProgress,
        "IMPORT_ROLLBACK_IN_PROGRESS",
    ),
    (StackStatus::ImportRollbackFailed, "IMPORT_ROLLBACK_FAILED"),
    (StackStatus::ImportRollbackComplete, "IMPORT_ROLLBACK_COMPLETE"),
];

impl StackStatus {
    pub fn as_str(&self) -> &str {
        match self {
            Self::Other(name) => name,
            known => NAMES
                .iter()
                .find(|(status, _)| status == known)
                .map_or("UNKNOWN", |(_, name)| name),
        }
    }

    /// An operation is still running. REVIEW_IN_PROGRESS is not one: it is a stack created by a
    /// change set that nobody executed, and it stays so until somebody acts.
    pub fn is_in_progress(&self) -> bool {
        !matches!(self, Self::ReviewInProgress) && self.as_str().ends_with("_IN_PROGRESS")
    }
}

impl From<String> for StackStatus {
    fn from(name: String) -> Self {
        NAMES
            .iter()
            .find(|(_, known)| *known == name)
            .map_or(Self::Other(name), |(status, _)| status.clone())
    }
}

impl From<&str> for StackStatus {
    fn from(name: &str) -> Self {
        Self::from(name.to_owned())
    }
}

impl From<StackStatus> for String {
    fn from(status: StackStatus) -> String {
        status.as_str().to_owned()
    }
}

impl fmt::Display for StackStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// DescribeStacks, reduced to what the lifecycle decides on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StackDescription {
    pub stack_id: String,
    pub status: StackStatus,
    pub status_reason: Option<String>,
}

/// One stack event. `token` is the ClientRequestToken of the operation that caused it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StackEvent {
    pub logical_id: String,
    pub resource_type: String,
    pub status: String,
    pub reason: Option<String>,
    pub token: Option<String>,
    /// Milliseconds since the Unix epoch.
    pub timestamp_ms: i64,
}

impl StackEvent {
    /// The event describes the stack itself rather than one of its resources.
    pub fn is_stack_level(&self) -> bool {
        self.resource_type == "AWS::CloudFormation::Stack"
    }
}

/// One page of DescribeStackEvents, newest first as CloudFormation returns them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventPage {
    pub events: Vec<StackEvent>,
    pub next_page: Option<String>,
}

/// What CreateStack and UpdateStack carry. Built by core from a spec and a target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackRequest {
    pub stack_name: String,
    pub template: TemplateSource,
    pub parameters: Vec<(String, String)>,
    pub capabilities: Vec<Capability>,
    pub tags: Vec<(String, String)>,
    pub token: String,
    /// Only CreateStack takes it; UpdateStack leaves protection as it is.
    pub termination_protection: bool,
}

/// UpdateStack either starts an operation or finds nothing to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpdateStarted {
    Started { stack_id: String },
    NoChanges,
}

/// CREATE for a stack that does not exist yet, UPDATE otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ChangeSetType {
    Create,
    Update,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeSetRequest {
    pub stack: StackRequest,
    pub change_set_name: String,
    pub change_set_type: ChangeSetType,
}

/// One resource change a change set would make.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceChange {
    /// Add, Modify, Remove, Import, Dynamic.
    pub action: String,
    pub logical_id: String,
    pub resource_type: String,
    /// True, False or Conditional, for Modify.
    pub replacement: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeSetDescription {
    pub change_set_id: String,
    /// CREATE_PENDING, CREATE_IN_PROGRESS, CREATE_COMPLETE, FAILED, ...
    pub status: String,
    pub status_reason: Option<String>,
    pub changes: Vec<ResourceChange>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_and_unknown_ones_survive() {
        for (status, name) in NAMES {
            assert_eq!(status.as_str(), name);
            assert_eq!(StackStatus::from(name), status);
        }
        let future = StackStatus::from("UPDATE_PAUSED");
        assert_eq!(future, StackStatus::Other("UPDATE_PAUSED".into()));
        assert_eq!(serde_json::to_string(&future).unwrap(), "\"UPDATE_PAUSED\"");
    }

    #[test]
    fn review_in_progress_is_not_an_operation() {
        assert!(StackStatus::UpdateRollbackCompleteCleanupInProgress.is_in_progress());
        assert!(!StackStatus::ReviewInProgress.is_in_progress());
        assert!(!StackStatus::UpdateRollbackFailed.is_in_progress());
    }
}
