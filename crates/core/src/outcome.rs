//! What happened in one target, as a user reads it in a report.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::errors::ErrorName;
use crate::ids::Target;
use crate::stack::StackStatus;

impl OutcomeKind {
    pub fn is_success(self) -> bool {
        matches!(self, Self::Created | Self::Updated | Self::Unchanged)
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

/// How a target ended, with what only that ending has: a failure's cause, a skip's reason. One
/// enum, so that an outcome carries a failure exactly when it failed. In JSON its tag is the
/// outcome's `kind`, next to the outcome's other fields (`failure`, `skippedReason`).
///
/// Its field-less twin `OutcomeKind` (how a target ended, without the detail: what summaries
/// count and the state machine reads) is derived from it, with the conversion between them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, strum::EnumDiscriminants)]
#[serde(tag = "kind")]
#[strum_discriminants(
    name(OutcomeKind),
    derive(
        Hash,
        PartialOrd,
        Ord,
        Serialize,
        Deserialize,
        strum::Display,
        strum::EnumString,
        strum::EnumIter,
        strum::IntoStaticStr
    )
)]
pub enum Verdict {
    Created,
    Updated,
    Unchanged,
    Failed {
        failure: Failure,
    },
    Skipped {
        #[serde(rename = "skippedReason")]
        skipped_reason: String,
        /// Skipped by this rollout's own stop (tolerance passed, a halt, an interrupt), not for
        /// what the account is: a re-run or a resume deploys it.
        #[serde(rename = "notStarted", default, skip_serializing_if = "std::ops::Not::not")]
        not_started: bool,
    },
    /// `apply` did not execute the reviewed change set: it was no longer AVAILABLE, or the
    /// stack had changed since the plan, so what would run is not what was reviewed; or the
    /// plan had no change set to review there (a recovery, which `recoveredFrom` then names,
    /// or a busy stack). Nothing unreviewed was changed; a re-run plans the target again.
    Stale {
        #[serde(rename = "staleReason")]
        stale_reason: String,
    },
}

impl Verdict {
    pub fn kind(&self) -> OutcomeKind {
        self.into()
    }
}

/// The final word on one target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Outcome {
    pub target: Target,
    #[serde(flatten)]
    pub verdict: Verdict,
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
    /// The stack's outputs after a success (created, updated or unchanged), by key, as
    /// CloudFormation answers them: `Report::outputs` gathers them across the fleet.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub outputs: BTreeMap<String, String>,
    /// Resources that existed in the account and the create imported into the stack
    /// (`adoptExisting`), as "TYPE LOGICAL_ID".
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub adopted: Vec<String>,
}

impl Outcome {
    /// A target that was never attempted, and why.
    pub fn skipped(target: Target, reason: impl Into<String>) -> Self {
        Self {
            target,
            verdict: Verdict::Skipped {
                skipped_reason: reason.into(),
                not_started: false,
            },
            stack_id: None,
            final_status: None,
            duration_ms: 0,
            aws_calls: 0,
            recovered_from: None,
            outputs: BTreeMap::new(),
            adopted: Vec::new(),
        }
    }

    /// A target this rollout did not start because it stopped (tolerance, halt, interrupt):
    /// Skipped, and deployed by a re-run or a resume.
    pub fn not_started(target: Target, reason: impl Into<String>) -> Self {
        Self {
            verdict: Verdict::Skipped {
                skipped_reason: reason.into(),
                not_started: true,
            },
            ..Self::skipped(target, "")
        }
    }

    /// Failed, stale, or not started by this rollout's own stop: what a re-run deploys (or,
    /// for a stale target, plans again).
    pub fn wants_rerun(&self) -> bool {
        matches!(
            self.verdict,
            Verdict::Failed { .. }
                | Verdict::Stale { .. }
                | Verdict::Skipped {
                    not_started: true,
                    ..
                }
        )
    }

    /// A target whose reviewed change set `apply` did not execute, and why.
    pub fn stale(target: Target, reason: impl Into<String>, duration_ms: u64, aws_calls: u32) -> Self {
        Self {
            verdict: Verdict::Stale {
                stale_reason: reason.into(),
            },
            duration_ms,
            aws_calls,
            ..Self::skipped(target, "")
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
            verdict: Verdict::Failed {
                failure: Failure { error, root_cause },
            },
            stack_id: None,
            final_status: None,
            duration_ms,
            aws_calls,
            recovered_from: None,
            outputs: BTreeMap::new(),
            adopted: Vec::new(),
        }
    }

    /// A target whose outcome object at `location` could not be read, or is not an outcome of
    /// it: Failed (Internal) with the error and the place, so that the rest of the report
    /// stands and a re-run or a resume deploys the target again (one that finds its stack done
    /// reads Unchanged).
    pub fn unreadable(target: Target, location: &str, error: impl fmt::Display) -> Self {
        Self::failed(
            target,
            ErrorName::Internal,
            RootCause::message(format!(
                "the outcome object {location} could not be read: {error}"
            )),
            0,
            0,
        )
    }

    /// `target`'s outcome as stored at `location` (`text`), or `unreadable` when the text is
    /// not an outcome of that target.
    pub fn stored(target: Target, location: &str, text: &str) -> Self {
        match serde_json::from_str::<Self>(text) {
            Ok(outcome) if outcome.target == target => outcome,
            Ok(outcome) => Self::unreadable(
                target,
                location,
                format_args!("it holds the outcome of {}", outcome.target),
            ),
            Err(error) => Self::unreadable(target, location, format_args!("not an outcome: {error}")),
        }
    }

    pub fn kind(&self) -> OutcomeKind {
        self.verdict.kind()
    }

    /// Why it failed; `None` unless it did.
    pub fn failure(&self) -> Option<&Failure> {
        match &self.verdict {
            Verdict::Failed { failure } => Some(failure),
            _ => None,
        }
    }

    /// Why it was never attempted; `None` unless it was skipped.
    pub fn skipped_reason(&self) -> Option<&str> {
        match &self.verdict {
            Verdict::Skipped { skipped_reason, .. } => Some(skipped_reason),
            _ => None,
        }
    }

    /// Why its reviewed change set was not executed; `None` unless it is stale.
    pub fn stale_reason(&self) -> Option<&str> {
        match &self.verdict {
            Verdict::Stale { stale_reason } => Some(stale_reason),
            _ => None,
        }
    }

    pub fn error(&self) -> Option<ErrorName> {
        self.failure().map(|f| f.error)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use strum::IntoEnumIterator;

    use super::*;

    fn target() -> Target {
        "111111111111:us-east-1".parse().unwrap()
    }

    #[test]
    fn the_json_keeps_kind_failure_and_skipped_reason_side_by_side() {
        let failed = Outcome::failed(
            target(),
            ErrorName::StackFailed,
            RootCause::message("Role ReadOnly already exists"),
            1500,
            4,
        );
        let json = serde_json::to_value(&failed).unwrap();
        assert_eq!(
            json,
            json!({
                "target": "111111111111:us-east-1",
                "kind": "Failed",
                "failure": { "error": "StackFailed", "rootCause": { "reason": "Role ReadOnly already exists" } },
                "durationMs": 1500,
                "awsCalls": 4
            })
        );
        assert_eq!(serde_json::from_value::<Outcome>(json).unwrap(), failed);

        let skipped = Outcome::skipped(target(), "account is SUSPENDED");
        let json = serde_json::to_value(&skipped).unwrap();
        assert_eq!(json["kind"], "Skipped");
        assert_eq!(json["skippedReason"], "account is SUSPENDED");
        assert_eq!(serde_json::from_value::<Outcome>(json).unwrap(), skipped);
    }

    #[test]
    fn a_failed_kind_without_its_failure_does_not_read() {
        let json =
            json!({ "target": "111111111111:us-east-1", "kind": "Failed", "durationMs": 0, "awsCalls": 0 });
        assert!(serde_json::from_value::<Outcome>(json).is_err());
        let created =
            json!({ "target": "111111111111:us-east-1", "kind": "Created", "durationMs": 0, "awsCalls": 3 });
        let outcome: Outcome = serde_json::from_value(created).unwrap();
        assert_eq!((outcome.kind(), outcome.failure()), (OutcomeKind::Created, None));
    }

    #[test]
    fn a_stored_outcome_that_does_not_read_is_its_target_failing_with_the_error() {
        let key = "runs/r1/outcomes/111111111111-us-east-1.json";
        let created =
            json!({ "target": "111111111111:us-east-1", "kind": "Created", "durationMs": 0, "awsCalls": 3 });
        let read = Outcome::stored(target(), key, &created.to_string());
        assert_eq!(read.kind(), OutcomeKind::Created);

        let cause = |outcome: Outcome| {
            let failure = outcome.failure().cloned().unwrap();
            assert_eq!((outcome.target, failure.error), (target(), ErrorName::Internal));
            failure.root_cause.reason
        };
        assert_eq!(
            cause(Outcome::stored(
                target(),
                key,
                "{\"target\": \"111111111111:us-east-1\", \"kind\""
            )),
            "the outcome object runs/r1/outcomes/111111111111-us-east-1.json could not be read: \
             not an outcome: EOF while parsing an object at line 1 column 43"
        );
        let elsewhere = created.to_string().replace("111111111111", "222222222222");
        assert_eq!(
            cause(Outcome::stored(target(), key, &elsewhere)),
            "the outcome object runs/r1/outcomes/111111111111-us-east-1.json could not be read: \
             it holds the outcome of 222222222222:us-east-1"
        );
    }

    #[test]
    fn a_stale_target_reads_back_with_its_reason_and_is_re_run() {
        let stale = Outcome::stale(target(), "the stack changed since the plan", 20, 3);
        let json = serde_json::to_value(&stale).unwrap();
        assert_eq!(
            json,
            json!({
                "target": "111111111111:us-east-1",
                "kind": "Stale",
                "staleReason": "the stack changed since the plan",
                "durationMs": 20,
                "awsCalls": 3
            })
        );
        // What the reducer reads back from a run's outcome object.
        let key = "runs/r1/outcomes/111111111111-us-east-1.json";
        let back = Outcome::stored(target(), key, &json.to_string());
        assert_eq!(back.kind(), OutcomeKind::Stale);
        assert_eq!(back.stale_reason(), Some("the stack changed since the plan"));
        assert!(back.wants_rerun() && !back.kind().is_success());
        assert_eq!((back.failure(), back.skipped_reason()), (None, None));
    }

    #[test]
    fn kinds_are_named_as_in_json() {
        for kind in OutcomeKind::iter() {
            assert_eq!(serde_json::to_string(&kind).unwrap(), format!("\"{kind}\""));
            assert_eq!(kind.to_string().parse::<OutcomeKind>(), Ok(kind));
        }
    }
}
