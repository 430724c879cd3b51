//! Wire types: reduce. The Reduce step's input and output. The reducer Lambda writes the output,
//! the state machine passes it through to the execution's end (or to its Fail state's cause), and
//! the operator commands read it back from the execution: one type for all three, so a field the
//! reducer adds is a field the CLI reads, or a test that fails.

use serde::{Deserialize, Serialize};

use crate::document::Rollout;
use crate::ids::RunId;
use crate::report::{FailureGroup, Summary};

/// What the state machine hands Reduce (`"run.$": "$.run"`): the run's records are in the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReduceRequest {
    pub run: RunId,
}

/// What Reduce returns. It stays small whatever the fleet's size (the 256 KiB state limit): the
/// largest failure groups and S3 keys, never the outcomes themselves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Reduced {
    pub run: RunId,
    pub summary: Summary,
    pub failures: Vec<FailureGroup>,
    /// Read by the state machine's Choice: beyond tolerance, the execution fails.
    pub within_tolerance: bool,
    /// One paragraph: what failed where. The state machine's Fail state shows it.
    pub cause: String,
    /// The run's rollout document narrowed to the failed targets (`targets.list`): a ready
    /// execution input; null when nothing failed.
    pub rerun_input: Option<Rollout>,
    /// Where report.json was written, for `stackfleet report`.
    pub report_key: String,
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
        json["rerunKey"] = Value::from("runs/x/rerun.json");
        let error = serde_json::from_value::<Reduced>(json).unwrap_err();
        assert!(error.to_string().contains("rerunKey"), "{error}");
    }
}
