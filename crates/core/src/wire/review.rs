//! Wire types: a plan-first run (`mode: plan`). When every target is planned, the Plan step
//! writes the plan for review and answers its digest; the Approval step then looks, once a
//! minute, for the approval a person writes (`stackfleet approve`), until the plan expires; with
//! it (or expired, approving nothing), the Gate runs the waves again, applying.

use serde::{Deserialize, Serialize};

use crate::ids::RunId;
use crate::wire::gate::Cursor;
use crate::wire::worker::CaughtError;

/// Groups a Plan step's answer names at most (the plan has every one): a state payload stays
/// small whatever the fleet.
pub const DIGEST_GROUPS: usize = 25;

/// How often the Approval step looks for the approval, at most.
pub const APPROVAL_LOOK_SECONDS: u64 = 60;

/// The Plan step's input (`"run.$": "$.run"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlanRequest {
    pub run: RunId,
}

/// The Approval step's input: the run, and when its plan expires (the Plan step's answer, then
/// the Approval step's own, carry it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApprovalRequest {
    pub run: RunId,
    pub expires_at_ms: u64,
}

/// One group of the plan, for a person deciding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GroupDigest {
    /// What `stackfleet approve --group` takes.
    pub id: String,
    pub headline: String,
    pub targets: usize,
    /// Whether `apply` would have a change set to execute there (a create or an update).
    pub changes: bool,
}

/// The Plan step's answer, and `stackfleet status`'s while the plan waits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlanDigest {
    pub run: RunId,
    /// plan.json and plan.md in the run bucket.
    pub plan_key: String,
    pub plan_md_key: String,
    /// When the plan expires unapproved (ms since the epoch).
    pub expires_at_ms: u64,
    pub targets: usize,
    /// The `DIGEST_GROUPS` largest groups; `group_count` says how many there are.
    pub groups: Vec<GroupDigest>,
    pub group_count: usize,
}

/// What the Approval step found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, strum::Display)]
#[serde(rename_all = "camelCase")]
#[strum(serialize_all = "camelCase")]
pub enum ApprovalAction {
    /// No approval yet: wait `waitSeconds`, then look again.
    Wait,
    /// Approved, or expired: the Gate runs the waves, applying what was approved.
    Apply,
}

/// The Approval step's answer; its `run`, `cursor` and `mapError` are the Gate's input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApprovalResponse {
    pub run: RunId,
    pub action: ApprovalAction,
    pub wait_seconds: u64,
    pub expires_at_ms: u64,
    /// Always null: the Gate starts the waves from the first.
    pub cursor: Option<Cursor>,
    pub map_error: Option<CaughtError>,
}

/// approval.json: what a person approved (or the state machine, for an expired plan: nothing).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Approval {
    /// The group IDs to apply: the plan's, each checked.
    pub groups: Vec<String>,
    /// Who approved: the caller's ARN (STS GetCallerIdentity), or "stackfleet" for an expiry.
    pub approved_by: String,
    pub approved_at_ms: u64,
    /// The plan expired unapproved: nothing is applied, every change set is deleted, and the
    /// execution fails.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub expired: bool,
}
