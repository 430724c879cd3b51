//! The rollout report: every outcome, counts per outcome, failures grouped by root cause; as
//! JSON (read back by `--rerun-failed`), Markdown and JUnit XML.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::errors::ErrorName;
use crate::escape::{junit, markdown_inline};
use crate::ids::{RunId, StackName, Target};
use crate::outcome::{Outcome, OutcomeKind};
use crate::waves::{Halt, Wave};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub total: usize,
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub failed: usize,
    pub skipped: usize,
    /// Targets whose reviewed change set `apply` did not execute (absent from reports of
    /// deploys, which have none).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub stale: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
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
                OutcomeKind::Stale => &mut summary.stale,
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
    /// The root cause, normalised (`normalised`), so that one cause in many accounts is one group.
    pub cause: String,
    pub targets: Vec<Target>,
}

/// A failure's text with what differs between targets of one cause blanked: account IDs,
/// request IDs and other UUIDs, timestamps, long hex IDs, and this run's own ID (in tokens and
/// session names). Real CloudFormation reasons carry a request ID each; without this, every
/// failure on AWS would be its own group. Each target keeps its raw text in its outcome.
pub fn normalised(text: &str, run: &RunId) -> String {
    use std::sync::OnceLock;
    static RULES: OnceLock<Vec<(regex_lite::Regex, &'static str)>> = OnceLock::new();
    let rules = RULES.get_or_init(|| {
        [
            (r"(?i)(request[ -]?id:?\s*)[A-Za-z0-9-]+", "${1}<id>"),
            (
                r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
                "<id>",
            ),
            (
                r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})?",
                "<time>",
            ),
            (r"\b[0-9a-fA-F]{16,}\b", "<id>"),
            (r"\b\d{12}\b", "<account>"),
        ]
        .into_iter()
        .map(|(pattern, with)| (regex_lite::Regex::new(pattern).expect("a valid pattern"), with))
        .collect()
    });
    let mut text = text.replace(run.as_str(), "<run>");
    for (pattern, with) in rules {
        text = pattern.replace_all(&text, *with).into_owned();
    }
    text
}

/// Stale targets that were not applied for the same reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StaleGroup {
    /// The reason, normalised as failure causes are.
    pub reason: String,
    pub targets: Vec<Target>,
}

/// Stale targets grouped by their normalised reason, largest group first.
pub fn group_stale(outcomes: &[Outcome], run: &RunId) -> Vec<StaleGroup> {
    let mut groups: BTreeMap<String, Vec<Target>> = BTreeMap::new();
    for outcome in outcomes {
        if let Some(reason) = outcome.stale_reason() {
            groups
                .entry(normalised(reason, run))
                .or_default()
                .push(outcome.target.clone());
        }
    }
    let mut groups: Vec<StaleGroup> = groups
        .into_iter()
        .map(|(reason, targets)| StaleGroup { reason, targets })
        .collect();
    groups.sort_by_key(|group| std::cmp::Reverse(group.targets.len()));
    groups
}

/// "1 target", "3 targets": for the count of a group in what people read.
pub fn targets_count(n: usize) -> String {
    if n == 1 {
        "1 target".to_owned()
    } else {
        format!("{n} targets")
    }
}

pub fn group_failures(outcomes: &[Outcome], run: &RunId) -> Vec<FailureGroup> {
    let mut groups: BTreeMap<(ErrorName, String), Vec<Target>> = BTreeMap::new();
    for outcome in outcomes {
        if let Some(failure) = outcome.failure() {
            let cause = normalised(&failure.root_cause.to_string(), run);
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
    /// The stale targets of an `apply`, by reason.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stale_groups: Vec<StaleGroup>,
    pub outcomes: Vec<Outcome>,
    /// The waves as assigned, each with its targets: what a resume or a re-run keeps. Empty in
    /// reports of versions before waves (one wave of every target, then).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub waves: Vec<Wave>,
    /// Why the rollout stopped between waves, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub halt: Option<Halt>,
    /// The template version every target got (the state machine pins it at Discover).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<crate::pinned::PinnedTemplate>,
    /// Written while the run went on (a local run keeps its report up to date as outcomes
    /// land): if it stays so, the run was killed. A target without an outcome yet is listed
    /// not started, with the reason `NOT_REPORTED_YET`; a resume deploys it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub in_progress: bool,
}

/// The reason a report still in progress gives to a target that had no outcome yet.
pub const NOT_REPORTED_YET: &str = "no outcome yet: the run was still going when this report was written \
     (a resume deploys this target, following an operation it left running)";

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
            stack_name,
            started_at_ms,
            finished_at_ms,
            within_tolerance,
            summary: Summary::of(&outcomes),
            failure_groups: group_failures(&outcomes, &run),
            stale_groups: group_stale(&outcomes, &run),
            run,
            outcomes,
            waves: Vec::new(),
            halt: None,
            template: None,
            in_progress: false,
        }
    }

    /// The pinned template the run deployed.
    pub fn with_template(self, template: Option<crate::pinned::PinnedTemplate>) -> Self {
        Self { template, ..self }
    }

    /// The waves the targets ran in, and the halt: recorded for a resume or a re-run.
    pub fn with_waves(self, waves: Vec<Wave>, halt: Option<Halt>) -> Self {
        Self { waves, halt, ..self }
    }

    /// The targets a re-run deploys: those that failed and those this rollout did not start.
    pub fn rerun_targets(&self) -> Vec<Target> {
        self.outcomes
            .iter()
            .filter(|o| o.wants_rerun())
            .map(|o| o.target.clone())
            .collect()
    }

    /// The targets that need nothing more: created, updated or unchanged.
    pub fn succeeded(&self) -> std::collections::BTreeSet<Target> {
        self.outcomes
            .iter()
            .filter(|o| o.kind().is_success())
            .map(|o| o.target.clone())
            .collect()
    }

    /// The waves as recorded, or (a report from before waves) one wave of every target that was
    /// deployed or meant to be, with `tolerance`: the report does not say what it was.
    pub fn recorded_waves(&self, tolerance: crate::rollout::FailureTolerance) -> Vec<Wave> {
        if !self.waves.is_empty() {
            return self.waves.clone();
        }
        vec![Wave {
            name: "all".into(),
            bake_seconds: 0,
            failure_tolerance: tolerance,
            targets: self
                .outcomes
                .iter()
                .filter(|o| o.kind() != OutcomeKind::Skipped || o.wants_rerun())
                .map(|o| o.target.clone())
                .collect(),
        }]
    }

    pub fn from_json(json: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(json)
    }

    pub fn to_markdown(&self) -> String {
        let s = &self.summary;
        let mut md = format!(
            "# stackfleet rollout `{}` of stack `{}`\n\n",
            self.run, self.stack_name
        );
        let seconds = self.finished_at_ms.saturating_sub(self.started_at_ms) as f64 / 1000.0;
        let stale = if s.stale > 0 {
            format!(", {} stale", s.stale)
        } else {
            String::new()
        };
        let _ = writeln!(md, "{} targets in {seconds:.1} s: **{} created, {} updated, {} unchanged, {} failed, {} skipped{stale}**.\n", s.total, s.created, s.updated, s.unchanged, s.failed, s.skipped);
        if let Some(template) = &self.template {
            let _ = writeln!(
                md,
                "Template `{}`, version `{}`, SHA-256 `{}`.\n",
                template.url.as_str(),
                template.version_id,
                template.sha256
            );
        }
        if let Some(halt) = &self.halt {
            let _ = writeln!(
                md,
                "**The rollout {}.** The targets of later waves were not started.\n",
                markdown_inline(&halt.to_string())
            );
        }
        waves_table(&mut md, &self.waves);
        if !self.failure_groups.is_empty() {
            md.push_str("## Failures by root cause\n\n");
            for group in &self.failure_groups {
                let targets: Vec<String> = group.targets.iter().map(|t| format!("`{t}`")).collect();
                let _ = writeln!(
                    md,
                    "- **{}**, {}: {}\n  - {}",
                    targets_count(group.targets.len()),
                    group.error,
                    markdown_inline(&group.cause),
                    targets.join(", ")
                );
            }
            md.push('\n');
        }
        if !self.stale_groups.is_empty() {
            md.push_str("## Stale: not applied, plan again\n\n");
            for group in &self.stale_groups {
                let targets: Vec<String> = group.targets.iter().map(|t| format!("`{t}`")).collect();
                let _ = writeln!(
                    md,
                    "- **{}**: {}\n  - {}",
                    targets_count(group.targets.len()),
                    markdown_inline(&group.reason),
                    targets.join(", ")
                );
            }
            md.push('\n');
        }
        md.push_str("## Targets\n\n| target | outcome | status | seconds | AWS calls | detail |\n|---|---|---|---|---|---|\n");
        for outcome in &self.outcomes {
            let detail = match (
                outcome.failure(),
                outcome.skipped_reason().or(outcome.stale_reason()),
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
                markdown_inline(outcome.final_status.as_ref().map_or("-", |s| s.as_str())),
                outcome.duration_ms as f64 / 1000.0,
                outcome.aws_calls,
                markdown_inline(&detail)
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
                    status.set_message(junit(&failure.root_cause.to_string()));
                    status
                }
                (None, OutcomeKind::Skipped) => {
                    let mut status = TestCaseStatus::skipped();
                    if let Some(reason) = outcome.skipped_reason() {
                        status.set_message(junit(reason));
                    }
                    status
                }
                // Nothing ran: skipped as far as JUnit goes, saying why and that it is stale.
                (None, OutcomeKind::Stale) => {
                    let mut status = TestCaseStatus::skipped();
                    if let Some(reason) = outcome.stale_reason() {
                        status.set_message(junit(&format!("Stale: {reason}")));
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

/// The waves as a Markdown table, when there are several: a report's and a plan's.
pub(crate) fn waves_table(md: &mut String, waves: &[Wave]) {
    if waves.len() <= 1 {
        return;
    }
    md.push_str("## Waves\n\n| wave | targets | bake (s) | tolerance |\n|---|---|---|---|\n");
    for wave in waves {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} |",
            markdown_inline(&wave.name),
            wave.targets.len(),
            wave.bake_seconds,
            wave.failure_tolerance
        );
    }
    md.push('\n');
}

#[cfg(test)]
#[path = "report_tests.rs"]
mod tests;
