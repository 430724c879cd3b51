//! Discover's side of the wire: what the state machine hands the lister, what the lister hands
//! the Map, and the run record it leaves in the run store.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ids::{RunId, StackName, Target};
use crate::rollout::FailureTolerance;

/// The Discover state's input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListerRequest {
    /// The execution's name (`$$.Execution.Name`): the run's ID is made from it.
    pub execution: String,
    /// The execution input as started: a rollout document (laid over the stored default spec),
    /// or the EventBridge event of a new account. Kept a JSON value here because the lister
    /// tells the two apart and names what is wrong with either.
    pub input: Value,
}

/// The Map's input: small at any scale (about 25 bytes a target).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Discovered {
    pub run: RunId,
    pub targets: Vec<Target>,
    /// The Map's MaxConcurrency.
    pub concurrency: u32,
    pub failure_tolerance: FailureTolerance,
    /// The run is a new account's: its workers read AccessDenied as "not ready yet".
    pub new_account: bool,
    /// Targets reported Skipped without being attempted (their outcomes are already stored).
    pub skipped: usize,
}

/// `runs/<run>/run.json`: written by the lister, read by the reducer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RunRecord {
    pub run: RunId,
    pub stack_name: StackName,
    pub started_at_ms: u64,
    pub targets: Vec<Target>,
    pub failure_tolerance: FailureTolerance,
}
