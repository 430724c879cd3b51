//! Discover's side of the wire: what the state machine hands the lister, what the lister hands
//! the Map, and the run record it leaves in the run store.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ids::{RunId, StackName};
use crate::rollout::FailureTolerance;

/// The Discover state's input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListerRequest {
    /// The execution's name (`$$.Execution.Name`): the run's ID is made from it and
    /// `start_time` (`run_ids::of_execution`).
    pub execution: String,
    /// When the execution started (`$$.Execution.StartTime`, RFC 3339): a name used again after
    /// 90 days is another run. Absent only from a state machine definition older than the
    /// lister, whose run is then named after the execution alone, as it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    /// The execution input as started: a rollout document (laid over the stored default spec),
    /// or the EventBridge event of a new account. Kept a JSON value here because the lister
    /// tells the two apart and names what is wrong with either.
    pub input: Value,
}

/// Discover's output: counts and the run, whatever the fleet's size. The targets are in the
/// run store, one object per wave; the Gate step hands the Map one wave's part at a time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Discovered {
    pub run: RunId,
    /// Targets to deploy to, in all waves.
    pub targets: usize,
    pub waves: usize,
    /// Targets reported Skipped without being attempted (their outcomes are already stored).
    pub skipped: usize,
    /// Where the Gate step begins: always null here (the state machine passes it on).
    pub cursor: Option<super::gate::Cursor>,
    /// Always null here: the Deploy Map's Catch fills it (the state machine passes it on).
    pub map_error: Option<super::worker::CaughtError>,
}

/// One wave in the run record: its targets are in `waves/<index>.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WaveHeader {
    pub name: String,
    pub bake_seconds: u64,
    pub failure_tolerance: FailureTolerance,
    pub size: usize,
}

/// `runs/<run>/run.json`: written by the lister, read by the gate, the workers (on a failure)
/// and the reducer. Small at any scale: the targets are in one object per wave.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RunRecord {
    pub run: RunId,
    pub stack_name: StackName,
    pub started_at_ms: u64,
    /// The rollout's tolerance, over `total`.
    pub failure_tolerance: FailureTolerance,
    /// Targets to deploy to, in all waves.
    pub total: usize,
    /// The Map's MaxConcurrency.
    pub concurrency: u32,
    /// The run is a new account's: its workers read AccessDenied as "not ready yet".
    pub new_account: bool,
    pub waves: Vec<WaveHeader>,
    /// Watched after each wave and during its bake.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alarms: Vec<String>,
    /// The run this one resumes: its successes are in `inherited.json`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resumes: Option<RunId>,
    /// The template every target deploys: the URL given, the object version Discover read, and
    /// its SHA-256. None only in records from before templates were pinned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<crate::pinned::PinnedTemplate>,
    /// The execution input as given, when it was a rollout document (not a new account's
    /// event): what a resume of this run repeats, so that it is held to the default spec of
    /// its own day, not to this run's whole document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<crate::document::Rollout>,
    /// A plan-first run (`mode: plan`): how long its plan waits for approval. None: a deploy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval_timeout_seconds: Option<u64>,
}

impl RunRecord {
    /// Wave `index`'s name; empty for an index the run does not have.
    pub fn wave_name(&self, index: usize) -> String {
        self.waves.get(index).map(|w| w.name.clone()).unwrap_or_default()
    }

    /// What wave `index` may fail.
    pub fn budget(&self, index: usize) -> Option<crate::waves::Budget> {
        self.waves.get(index).map(|wave| crate::waves::Budget {
            wave: wave.failure_tolerance,
            wave_size: wave.size,
            overall: self.failure_tolerance,
            total: self.total,
        })
    }
}
