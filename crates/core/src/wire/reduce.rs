//! Wire types: reduce. The Reduce step's input and output. The reducer Lambda writes the output,
//! the state machine passes it through to the execution's end (or to its Fail state's cause), and
//! the operator commands read it back from the execution: one type for all three, so a field the
//! reducer adds is a field the CLI reads, or a test that fails.

use serde::{Deserialize, Serialize};

use crate::errors::ErrorName;
use crate::ids::{RunId, Target};
use crate::report::{FailureGroup, Summary};
use crate::waves::Halt;

/// What the state machine hands the reducer Lambda: a Gate step between waves, or the Reduce
/// step at the end (`"action"` says which).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "camelCase")]
pub enum ReducerRequest {
    Gate(crate::wire::gate::GateRequest),
    Reduce(ReduceRequest),
    /// A plan-first run: every target planned, write the plan.
    Plan(crate::wire::review::PlanRequest),
    /// A plan-first run: look for the plan's approval.
    Approval(crate::wire::review::ApprovalRequest),
}

/// What the state machine hands Reduce (`"run.$": "$.run"`): the run's records are in the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReduceRequest {
    pub run: RunId,
}

/// Failure groups Reduce returns, and targets named in each: the rest are in report.json.
pub const REDUCED_GROUPS: usize = 10;
pub const REDUCED_GROUP_TARGETS: usize = 10;

/// One failure group as Reduce returns it: its size, and its first targets only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FailureDigest {
    pub error: ErrorName,
    /// The normalised cause (request IDs, timestamps, account IDs blanked).
    pub cause: String,
    pub count: usize,
    /// At most `REDUCED_GROUP_TARGETS`.
    pub targets: Vec<Target>,
}

impl FailureDigest {
    pub fn of(group: &FailureGroup) -> Self {
        Self {
            error: group.error,
            cause: group.cause.clone(),
            count: group.targets.len(),
            targets: group
                .targets
                .iter()
                .take(REDUCED_GROUP_TARGETS)
                .cloned()
                .collect(),
        }
    }
}

/// What Reduce returns. It stays small whatever the fleet's size (the 256 KiB state limit):
/// counts, the largest failure groups (bounded) and S3 keys, never the outcomes themselves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Reduced {
    pub run: RunId,
    pub summary: Summary,
    /// The `REDUCED_GROUPS` largest failure groups.
    pub failures: Vec<FailureDigest>,
    /// How many failure groups there are in all (report.json has every one).
    pub failure_groups: usize,
    /// Read by the state machine's Choice: beyond tolerance, the execution fails.
    pub within_tolerance: bool,
    /// Set when the rollout stopped between waves: the execution fails with `cause`.
    pub halt: Option<Halt>,
    /// One paragraph: what failed where, or why it halted. The Fail state shows it.
    pub cause: String,
    /// Where the ready input for a re-run or a resume is (the run's document with
    /// `resume: <run>`): every target without a success, in its wave. Null when all succeeded.
    pub resume_input_key: Option<String>,
    /// Where report.json was written, for `stackfleet report`.
    pub report_key: String,
    /// Where outputs.json was written (`{account: {region: {key: value}}}`), for `stackfleet
    /// outputs` and the next step of a pipeline. Empty from a Reduce that wrote none (before
    /// outputs were kept).
    #[serde(default)]
    pub outputs_key: String,
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    const FIXTURE: &str = include_str!("../../../../tests/fixtures/reducer-output.json");

    #[test]
    fn the_reducer_output_fixture_round_trips() {
        let json: Value = serde_json::from_str(FIXTURE).unwrap();
        let reduced: Reduced = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(reduced.summary.failed, 1);
        assert_eq!(reduced.report_key, "runs/deploy-2026-11-21-1/report.json");
        assert_eq!(serde_json::to_value(&reduced).unwrap(), json);
    }

    #[test]
    fn an_unknown_field_is_an_error_not_a_silent_drop() {
        let mut json: Value = serde_json::from_str(FIXTURE).unwrap();
        json["rerunInput"] = Value::from("runs/x/rerun.json");
        let error = serde_json::from_value::<Reduced>(json).unwrap_err();
        assert!(error.to_string().contains("rerunInput"), "{error}");
    }
}
