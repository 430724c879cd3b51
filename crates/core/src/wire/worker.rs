//! Wire types: worker. What the state machine sends the worker Lambda (Start, Poll, and Fail
//! after a Catch) and what it answers, which the state machine's Choice and Wait read. The JSON
//! fixtures tests/fixtures/worker-*.json are these shapes.

use serde::{Deserialize, Serialize};

use crate::ids::{RunId, Target};
use crate::lifecycle::InFlight;
use crate::outcome::OutcomeKind;

/// The error a Catch hands over, as Step Functions writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaughtError {
    #[serde(rename = "Error")]
    pub error: String,
    #[serde(rename = "Cause", default)]
    pub cause: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "action")]
pub enum WorkerRequest {
    #[serde(rename_all = "camelCase")]
    Start {
        run: RunId,
        target: Target,
        /// The target's wave (its position, from 0): whose budget a failure counts against.
        #[serde(default)]
        wave: usize,
        #[serde(default)]
        new_account: bool,
    },
    #[serde(rename_all = "camelCase")]
    Poll {
        run: RunId,
        target: Target,
        #[serde(default)]
        wave: usize,
        #[serde(default)]
        new_account: bool,
        state: InFlight,
        /// How many times the state machine tried this Poll before (`$$.State.RetryCount`):
        /// above 0, the first try may have launched the next operation before its answer was
        /// lost, and the worker follows that one (`FollowFrom::PollAgain`).
        #[serde(default)]
        retried: u32,
    },
    #[serde(rename_all = "camelCase")]
    Fail {
        run: RunId,
        target: Target,
        #[serde(default)]
        wave: usize,
        error: CaughtError,
    },
}

/// What the state machine loops on: `done`, else wait `waitSeconds` and poll with `state`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkerResponse {
    pub run: RunId,
    pub target: Target,
    pub wave: usize,
    pub new_account: bool,
    pub done: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<InFlight>,
    pub wait_seconds: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<OutcomeKind>,
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    fn round_trips<T: Serialize + for<'de> Deserialize<'de>>(fixture: &str) -> T {
        let json: Value = serde_json::from_str(fixture).unwrap();
        let typed: T = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(serde_json::to_value(&typed).unwrap(), json);
        typed
    }

    #[test]
    fn the_worker_fixtures_round_trip() {
        let poll: WorkerRequest =
            round_trips(include_str!("../../../../tests/fixtures/worker-input-poll.json"));
        let WorkerRequest::Poll { state, .. } = poll else {
            panic!("a poll request: {poll:?}");
        };
        assert_eq!(state.progress.aws_calls, 7);
        let fail: WorkerRequest =
            round_trips(include_str!("../../../../tests/fixtures/worker-input-fail.json"));
        assert!(matches!(fail, WorkerRequest::Fail { error, .. } if error.error == "Throttled"));
        let pending: WorkerResponse = round_trips(include_str!(
            "../../../../tests/fixtures/worker-output-pending.json"
        ));
        assert_eq!((pending.done, pending.wait_seconds), (false, 10));
        let done: WorkerResponse =
            round_trips(include_str!("../../../../tests/fixtures/worker-output-done.json"));
        assert_eq!(done.outcome, Some(OutcomeKind::Created));
    }
}
