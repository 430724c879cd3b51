//! Wire types: the Gate step, between the waves. It hands the Deploy Map one wave's part at a
//! time, counts the wave's failures against its budget, watches the alarms through the bake, and
//! says when to halt. The state machine only loops on what it answers (`action`).

use serde::{Deserialize, Serialize};

use crate::ids::{RunId, Target};
use crate::wire::worker::CaughtError;

/// Targets handed to one Map run at most: one part of a wave. About 30 bytes a target in JSON,
/// so a part stays near 120 KB, under Step Functions' 256 KiB state payload with room for the
/// rest; a larger wave runs as several parts, one after the other, its budget counted over all
/// of them. (`payload_bounds` in the lambda crate's tests measures it at 20,000 targets.)
pub const PART_SIZE: usize = 4_000;

/// Where the rollout is: the wave and part the Map just ran, or the bake under way, and the
/// targets in flight the state machine has come to (`window::parts`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Cursor {
    pub wave: usize,
    /// The part the Map just ran: `count` of the wave's targets from position `from`.
    pub from: usize,
    pub count: usize,
    /// The targets in flight of that part (the Map's MaxConcurrency): where the next part's
    /// limit starts from, carried across waves and bakes (a quota does not forget a burst
    /// because a wave ended).
    pub limit: u32,
    /// When the Gate handed the part to the Map (ms since the epoch): the throttled markers
    /// after it are that part's.
    pub handed_at_ms: u64,
    /// Set while baking after `wave`: when the bake ends (ms since the epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bake_until_ms: Option<u64>,
}

/// The Gate step's input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GateRequest {
    pub run: RunId,
    /// Null on the first call.
    #[serde(default)]
    pub cursor: Option<Cursor>,
    /// What the Deploy Map's Catch caught, when the Map run itself failed.
    #[serde(default)]
    pub map_error: Option<CaughtError>,
}

/// What the state machine does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, strum::Display)]
#[serde(rename_all = "camelCase")]
#[strum(serialize_all = "camelCase")]
pub enum GateAction {
    /// Run the Map over `items`.
    Deploy,
    /// Wait `waitSeconds`, then ask again.
    Bake,
    /// Stopped between waves: Reduce, then fail with the halt as the cause.
    Halt,
    /// Every wave ran: Reduce.
    Done,
    /// A plan-first run (`mode: plan`) planned every target: write the plan and wait for its
    /// approval; then the Gate runs the waves again, applying.
    Plan,
}

/// The Gate step's output: at most one part's items, whatever the fleet's size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GateResponse {
    pub run: RunId,
    pub action: GateAction,
    /// What the next Gate call continues from.
    pub cursor: Option<Cursor>,
    /// The wave of `items` (its position, from 0), passed to each worker.
    pub wave: usize,
    pub wave_name: String,
    /// The targets of this part (Deploy only).
    pub items: Vec<Target>,
    pub wait_seconds: u64,
    /// The Map's MaxConcurrency: the configured concurrency, lowered while the caller's APIs
    /// throttle.
    pub concurrency: u32,
    pub new_account: bool,
    /// Always null: the Deploy Map's Catch fills it.
    pub map_error: Option<CaughtError>,
}
