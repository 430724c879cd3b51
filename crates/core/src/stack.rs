//! What core knows of a CloudFormation stack: its status, its events, the requests that change it.
//! Adapters translate SDK types into these; nothing here names an SDK type.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use strum::{AsRefStr, Display, EnumIter, EnumString};

use crate::spec::{Capability, TemplateSource};

/// A stack's status, as CloudFormation names it. Statuses this build does not know are kept
/// verbatim in `Other`, so a new AWS status is reported rather than lost. The names are derived
/// (SCREAMING_SNAKE_CASE of the variant), so the table cannot drift from the variants.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, AsRefStr, Display, EnumString, EnumIter,
)]
#[serde(from = "String", into = "String")]
#[strum(serialize_all = "SCREAMING_SNAKE_CASE")]
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
    /// Parsing never fails: an unknown name lands here, and is written back as it came.
    #[strum(default, transparent)]
    Other(String),
}

impl StackStatus {
    pub fn as_str(&self) -> &str {
        self.as_ref()
    }

    /// An operation is still running. REVIEW_IN_PROGRESS is not one: it is a stack created by a
    /// change set that nobody executed, and it stays so until somebody acts.
    pub fn is_in_progress(&self) -> bool {
        !matches!(self, Self::ReviewInProgress) && self.as_str().ends_with("_IN_PROGRESS")
    }
}

// `From<&str>` comes with the derived, infallible `FromStr`; serde reads owned strings.
impl From<String> for StackStatus {
    fn from(name: String) -> Self {
        Self::from(name.as_str())
    }
}

/// A status name as CloudFormation writes it; names newer than this build are kept too.
impl schemars::JsonSchema for StackStatus {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "StackStatus".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^[A-Z_]+$",
            "description": "A stack status as CloudFormation names it, such as UPDATE_COMPLETE.",
        })
    }
}

impl From<StackStatus> for String {
    fn from(status: StackStatus) -> String {
        match status {
            StackStatus::Other(name) => name,
            known => known.as_str().to_owned(),
        }
    }
}

/// The tag every stack stackfleet creates or updates carries: a stack is stackfleet's to
/// update, recover or delete only if it carries this tag with `MANAGED_BY_VALUE` (or the rollout
/// says `adopt`). A rollout document may not set it itself.
pub const MANAGED_BY_TAG: &str = "stackfleet:managed-by";
pub const MANAGED_BY_VALUE: &str = "stackfleet";

/// The stack's tags, as DescribeStacks lists them, mark it as stackfleet's.
pub fn carries_managed_by<'t>(tags: impl IntoIterator<Item = (&'t str, &'t str)>) -> bool {
    tags.into_iter()
        .any(|(key, value)| key == MANAGED_BY_TAG && value == MANAGED_BY_VALUE)
}

/// DescribeStacks, reduced to what the lifecycle decides on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StackDescription {
    pub stack_id: String,
    pub status: StackStatus,
    pub status_reason: Option<String>,
    /// The stack carries the `stackfleet:managed-by` tag: stackfleet made it (or adopted it).
    #[serde(default)]
    pub managed: bool,
    /// LastUpdatedTime, or CreationTime for a stack never updated, in milliseconds since the
    /// Unix epoch: any operation on the stack moves it, so a reviewed plan can tell that the
    /// stack it was made against is no longer the stack there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_updated_ms: Option<i64>,
    /// The stack's outputs, by key: what a successful outcome reports.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub outputs: BTreeMap<String, String>,
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

/// What CreateStack and UpdateStack carry. Built by core from a spec and a target. Its
/// parameters may hold resolved secrets: its `Debug` shows their names only.
#[derive(Clone, PartialEq, Eq)]
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

impl std::fmt::Debug for StackRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StackRequest")
            .field("stack_name", &self.stack_name)
            .field("template", &self.template)
            .field(
                "parameters",
                &crate::spec::Masked(self.parameters.iter().map(|(name, _)| name)),
            )
            .field("capabilities", &self.capabilities)
            .field("tags", &self.tags)
            .field("token", &self.token)
            .field("termination_protection", &self.termination_protection)
            .finish()
    }
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
    /// CloudFormation's ImportExistingResources: resources of the template that exist already
    /// (named, kept with DeletionPolicy Retain) are imported instead of created.
    pub import_existing_resources: bool,
}

/// One resource change a change set would make.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub struct ResourceChange {
    /// Add, Modify, Remove, Import, Dynamic.
    pub action: String,
    pub logical_id: String,
    pub resource_type: String,
    /// True, False or Conditional, for Modify.
    pub replacement: Option<String>,
}

/// What CreateChangeSet made: the change set, and the stack it belongs to. A CREATE change set
/// makes that stack, empty, in REVIEW_IN_PROGRESS; its ID is the only safe handle on it, since
/// by the time it is cleaned up the name may belong to a stack somebody else made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeSetCreated {
    pub id: String,
    pub stack_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeSetDescription {
    pub change_set_id: String,
    /// The stack it belongs to, by ID.
    pub stack_id: Option<String>,
    /// CREATE_PENDING, CREATE_IN_PROGRESS, CREATE_COMPLETE, FAILED, ...
    pub status: String,
    pub status_reason: Option<String>,
    /// AVAILABLE (it can be executed), UNAVAILABLE, EXECUTE_IN_PROGRESS, EXECUTE_COMPLETE,
    /// EXECUTE_FAILED, OBSOLETE.
    pub execution_status: Option<String>,
    pub changes: Vec<ResourceChange>,
}

impl ChangeSetDescription {
    /// Computed, and not executed, failed or made obsolete: ExecuteChangeSet would take it.
    pub fn is_available(&self) -> bool {
        self.status == "CREATE_COMPLETE" && self.execution_status.as_deref() == Some("AVAILABLE")
    }
}

/// One failed event of a change set, as DescribeEvents gives it: a validation (or hook) that
/// refused it, before anything was executed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeSetEvent {
    pub logical_id: Option<String>,
    pub resource_type: Option<String>,
    /// VALIDATION_ERROR, HOOK_INVOCATION_ERROR, ...
    pub event_type: Option<String>,
    /// The validation's or the resource's reason.
    pub reason: Option<String>,
}

/// One resource of a stack as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackResource {
    pub logical_id: String,
    pub resource_type: String,
    pub physical_id: Option<String>,
}

/// The IAM resources whose names a template may fix, and that CloudFormation cannot create when
/// the name is taken in the account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, strum::EnumIter, strum::IntoStaticStr)]
pub enum NamedKind {
    Role,
    ManagedPolicy,
    User,
    Group,
    InstanceProfile,
}

impl NamedKind {
    /// The CloudFormation resource type, and the property that names it.
    pub fn of_type(resource_type: &str) -> Option<(Self, &'static str)> {
        Some(match resource_type {
            "AWS::IAM::Role" => (Self::Role, "RoleName"),
            "AWS::IAM::ManagedPolicy" => (Self::ManagedPolicy, "ManagedPolicyName"),
            "AWS::IAM::User" => (Self::User, "UserName"),
            "AWS::IAM::Group" => (Self::Group, "GroupName"),
            "AWS::IAM::InstanceProfile" => (Self::InstanceProfile, "InstanceProfileName"),
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_and_unknown_ones_survive() {
        use strum::IntoEnumIterator;
        let known: Vec<StackStatus> = StackStatus::iter()
            .filter(|s| !matches!(s, StackStatus::Other(_)))
            .collect();
        assert_eq!(known.len(), 23, "every status CloudFormation documents");
        for status in known {
            let name = status.to_string();
            assert!(
                !name.is_empty() && name.chars().all(|c| c.is_ascii_uppercase() || c == '_'),
                "{name}"
            );
            assert_eq!(StackStatus::from(name.as_str()), status);
            assert_eq!(serde_json::to_string(&status).unwrap(), format!("\"{name}\""));
        }
        assert_eq!(
            StackStatus::UpdateRollbackCompleteCleanupInProgress.as_str(),
            "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS"
        );
        let future = StackStatus::from("UPDATE_PAUSED");
        assert_eq!(future, StackStatus::Other("UPDATE_PAUSED".into()));
        assert_eq!(future.as_str(), "UPDATE_PAUSED");
        assert_eq!(serde_json::to_string(&future).unwrap(), "\"UPDATE_PAUSED\"");
        assert_eq!(
            serde_json::from_str::<StackStatus>("\"UPDATE_PAUSED\"").unwrap(),
            future
        );
    }

    #[test]
    fn only_the_managed_by_tag_with_its_value_marks_a_stack_as_stackfleets() {
        assert!(carries_managed_by([
            ("team", "platform"),
            (MANAGED_BY_TAG, MANAGED_BY_VALUE)
        ]));
        assert!(!carries_managed_by([("team", "platform")]));
        assert!(!carries_managed_by([(MANAGED_BY_TAG, "terraform")]));
        assert!(!carries_managed_by([("Stackfleet:Managed-By", MANAGED_BY_VALUE)]));
    }

    #[test]
    fn review_in_progress_is_not_an_operation() {
        assert!(StackStatus::UpdateRollbackCompleteCleanupInProgress.is_in_progress());
        assert!(!StackStatus::ReviewInProgress.is_in_progress());
        assert!(!StackStatus::UpdateRollbackFailed.is_in_progress());
    }
}
