//! The rollout report: every outcome, counts per outcome, failures grouped by root cause; as
//! JSON (read back by `--rerun-failed`), Markdown and JUnit XML.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::errors::ErrorName;
use crate::ids::{RunId, StackName, Target};
use crate::outcome::{Outcome, OutcomeKind};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub total: usize,
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub failed: usize,
    pub skipped: usize,
}

impl Summary {
    pub fn of(outcomes: &[Outcome]) -> Self {
        let mut summary = Self {
            total: outcomes.len(),
            ..Self::default()
        };
        for outcome in outcomes {
            *match outcome.kind() {
                OutcomeKind::Created => &mut summary.created,
                OutcomeKind::Updated => &mut summary.updated,
                OutcomeKind::Unchanged => &mut summary.unchanged,
                OutcomeKind::Failed => &mut summary.failed,
                OutcomeKind::Skipped => &mut summary.skipped,
            } += 1;
        }
        summary
    }
}

/// Targets that failed for the same reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FailureGroup {
    pub error: ErrorName,
    /// The root cause with account IDs blanked, so that one cause in many accounts is one group.
    pub cause: String,
    pub targets: Vec<Target>,
}

/// Replaces every run of twelve digits (an account ID, in ARNs and messages) with `<account>`.
fn without_account_ids(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut digits = String::new();
    let flush = |digits: &mut String, out: &mut String| {
        if digits.len() == 12 {
            out.push_str("<account>");
        } else {
            out.push_str(digits);
        }
        digits.clear();
    };
    for c in text.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
        } else {
            flush(&mut digits, &mut out);
            out.push(c);
        }
    }
    flush(&mut digits, &mut out);
    out
}

/// Failures grouped by error and root cause, largest group first.
/// "1 target", "3 targets": for the count of a group in what people read.
pub fn targets_count(n: usize) -> String {
    if n == 1 {
        "1 target".to_owned()
    } else {
        format!("{n} targets")
    }
}

pub fn group_failures(outcomes: &[Outcome]) -> Vec<FailureGroup> {
    let mut groups: BTreeMap<(ErrorName, String), Vec<Target>> = BTreeMap::new();
    for outcome in outcomes {
        if let Some(failure) = outcome.failure() {
            let cause = without_account_ids(&failure.root_cause.to_string());
            groups
                .entry((failure.error, cause))
                .or_default()
                .push(outcome.target.clone());
        }
    }
    let mut groups: Vec<FailureGroup> = groups
        .into_iter()
        .map(|((error, cause), targets)| FailureGroup {
            error,
            cause,
            targets,
        })
        .collect();
    groups.sort_by_key(|group| std::cmp::Reverse(group.targets.len()));
    groups
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub run: RunId,
    pub stack_name: StackName,
    pub started_at_ms: u64,
    pub finished_at_ms: u64,
    /// Whether failures stayed within the tolerance.
    pub within_tolerance: bool,
    pub summary: Summary,
    pub failure_groups: Vec<FailureGroup>,
    pub outcomes: Vec<Outcome>,
}

impl Report {
    pub fn new(
        run: RunId,
        stack_name: StackName,
        started_at_ms: u64,
        finished_at_ms: u64,
        within_tolerance: bool,
        outcomes: Vec<Outcome>,
    ) -> Self {
        Self {
            run,
            stack_name,
            started_at_ms,
            finished_at_ms,
            within_tolerance,
            summary: Summary::of(&outcomes),
            failure_groups: group_failures(&outcomes),
            outcomes,
        }
    }

    pub fn from_json(json: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(json)
    }

    /// The targets that failed: what a re-run should touch.
    pub fn failed_targets(&self) -> Vec<Target> {
        self.outcomes
            .iter()
            .filter(|o| o.kind() == OutcomeKind::Failed)
            .map(|o| o.target.clone())
            .collect()
    }

    pub fn to_markdown(&self) -> String {
        let s = &self.summary;
        let mut md = format!(
            "# stackfleet rollout `{}` of stack `{}`\n\n",
            self.run, self.stack_name
        );
        let seconds = self.finished_at_ms.saturating_sub(self.started_at_ms) as f64 / 1000.0;
        let _ = writeln!(md, "{} targets in {seconds:.1} s: **{} created, {} updated, {} unchanged, {} failed, {} skipped**.\n", s.total, s.created, s.updated, s.unchanged, s.failed, s.skipped);
        if !self.failure_groups.is_empty() {
            md.push_str("## Failures by root cause\n\n");
            for group in &self.failure_groups {
                let targets: Vec<String> = group.targets.iter().map(|t| format!("`{t}`")).collect();
                let _ = writeln!(
                    md,
                    "- **{}**, {}: {}\n  - {}",
                    targets_count(group.targets.len()),
                    group.error,
                    group.cause,
                    targets.join(", ")
                );
            }
            md.push('\n');
        }
        md.push_str("## Targets\n\n| target | outcome | status | seconds | AWS calls | detail |\n|---|---|---|---|---|---|\n");
        for outcome in &self.outcomes {
            let detail = match (
                outcome.failure(),
                outcome.skipped_reason(),
                &outcome.recovered_from,
            ) {
                (Some(failure), _, _) => format!("{}: {}", failure.error, failure.root_cause),
                (_, Some(reason), _) => reason.to_owned(),
                (_, _, Some(from)) => format!("recovered from {from}"),
                _ => String::new(),
            };
            let _ = writeln!(
                md,
                "| {} | {} | {} | {:.1} | {} | {} |",
                outcome.target,
                outcome.kind(),
                outcome.final_status.as_ref().map(|s| s.as_str()).unwrap_or("-"),
                outcome.duration_ms as f64 / 1000.0,
                outcome.aws_calls,
                detail.replace('|', "\\|").replace('\n', " ")
            );
        }
        md
    }

    /// One test suite, one test case per target named by its account and region; failures as
    /// failures, skipped targets as skipped.
    pub fn to_junit(&self) -> String {
        use quick_junit::{NonSuccessKind, Report as Junit, TestCase, TestCaseStatus, TestSuite};
        let mut suite = TestSuite::new(format!("stackfleet {}", self.stack_name));
        for outcome in &self.outcomes {
            let status = match (outcome.failure(), outcome.kind()) {
                (Some(failure), _) => {
                    let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    status.set_type(failure.error.as_str());
                    status.set_message(failure.root_cause.to_string());
                    status
                }
                (None, OutcomeKind::Skipped) => {
                    let mut status = TestCaseStatus::skipped();
                    if let Some(reason) = outcome.skipped_reason() {
                        status.set_message(reason.to_owned());
                    }
                    status
                }
                (None, _) => TestCaseStatus::success(),
            };
            let mut case = TestCase::new(outcome.target.to_string(), status);
            case.set_classname(self.stack_name.to_string());
            case.set_time(std::time::Duration::from_millis(outcome.duration_ms));
            case.set_system_out(format!("{}", outcome.kind()));
            suite.add_test_case(case);
        }
        let mut junit = Junit::new(format!("stackfleet-{}", self.run));
        junit.add_test_suite(suite);
        junit
            .to_string()
            .unwrap_or_else(|e| format!("<!-- JUnit report could not be written: {e} -->"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::RootCause;

    fn failed(target: &str, reason: &str) -> Outcome {
        Outcome::failed(
            target.parse().unwrap(),
            ErrorName::StackFailed,
            RootCause::message(reason),
            10,
            3,
        )
    }

    #[test]
    fn one_cause_in_many_accounts_is_one_group() {
        let outcomes = vec![
            failed(
                "111111111111:us-east-1",
                "Role arn:aws:iam::111111111111:role/X already exists",
            ),
            failed(
                "222222222222:us-east-1",
                "Role arn:aws:iam::222222222222:role/X already exists",
            ),
            failed("333333333333:us-east-1", "Bucket name taken"),
            Outcome::skipped("444444444444:us-east-1".parse().unwrap(), "account is SUSPENDED"),
        ];
        let groups = group_failures(&outcomes);
        assert_eq!(groups.len(), 2);
        assert_eq!(
            groups[0].cause,
            "Role arn:aws:iam::<account>:role/X already exists"
        );
        assert_eq!(groups[0].targets.len(), 2);
        let summary = Summary::of(&outcomes);
        assert_eq!((summary.total, summary.failed, summary.skipped), (4, 3, 1));
    }

    #[test]
    fn counts_read_as_english() {
        assert_eq!(targets_count(0), "0 targets");
        assert_eq!(targets_count(1), "1 target");
        assert_eq!(targets_count(412), "412 targets");
    }

    #[test]
    fn the_json_report_gives_back_exactly_the_failed_targets() {
        let outcomes = vec![
            failed("111111111111:us-east-1", "x"),
            Outcome::skipped("444444444444:us-east-1".parse().unwrap(), "account is SUSPENDED"),
        ];
        let report = Report::new("r1".parse().unwrap(), "s".parse().unwrap(), 0, 5, false, outcomes);
        let json = serde_json::to_string_pretty(&report).unwrap();
        let back = Report::from_json(&json).unwrap();
        assert_eq!(back, report);
        assert_eq!(
            back.failed_targets(),
            vec!["111111111111:us-east-1".parse().unwrap()]
        );
        assert!(report.to_markdown().contains("1 target**, StackFailed: x"));
    }
}
