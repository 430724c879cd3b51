//! Reduce: every outcome of the run, counted and grouped by root cause; report.json and
//! report.md next to them; and a `rerunInput` narrowed to the failures.

use futures::stream::{self, StreamExt, TryStreamExt};
use stackfleet_core::ports::{all_pages, RunStore};
use stackfleet_core::report::Report;
use stackfleet_core::rollout::FailureTolerance;
use stackfleet_core::{ErrorName, Outcome, OutcomeKind, RootCause};

use crate::error::LambdaError;
use crate::input::rerun_input;
use crate::records::{self, get_json, required, RunKeys, RunRecord};

/// The Reduce step's wire shapes are core's: the operator commands read the same type back.
pub use stackfleet_core::wire::reduce::{ReduceRequest, Reduced};

/// Outcomes read from the store at once.
const READS_IN_FLIGHT: usize = 32;
/// Failure groups and targets spelled out in the cause a failed execution shows.
const CAUSE_GROUPS: usize = 5;
const CAUSE_TARGETS: usize = 10;

fn cause(report: &Report, tolerance: FailureTolerance, attempted: usize) -> String {
    let s = &report.summary;
    let mut cause = format!(
        "{} of {attempted} targets failed ({tolerance} tolerated); {} created, {} updated, {} unchanged, {} skipped.",
        s.failed, s.created, s.updated, s.unchanged, s.skipped
    );
    for group in report.failure_groups.iter().take(CAUSE_GROUPS) {
        let mut targets: Vec<String> = group
            .targets
            .iter()
            .take(CAUSE_TARGETS)
            .map(ToString::to_string)
            .collect();
        if group.targets.len() > CAUSE_TARGETS {
            targets.push(format!("and {} more", group.targets.len() - CAUSE_TARGETS));
        }
        cause.push_str(&format!(
            " {} in {}: {} [{}].",
            group.error,
            group.targets.len(),
            group.cause,
            targets.join(", ")
        ));
    }
    if report.failure_groups.len() > CAUSE_GROUPS {
        cause.push_str(&format!(
            " {} more causes in report.json.",
            report.failure_groups.len() - CAUSE_GROUPS
        ));
    }
    cause
}

pub async fn reduce<S: RunStore>(
    store: &S,
    request: ReduceRequest,
    now_ms: u64,
) -> Result<Reduced, LambdaError> {
    let keys = RunKeys::new(&request.run);
    let record: RunRecord = required(store, &keys.record()).await?;
    let document = records::document(store, &request.run).await?;
    let prefix = keys.outcomes();
    let prefix = prefix.as_str();
    let outcome_keys = all_pages(|page| async move { store.list(prefix, page.as_deref()).await }).await?;
    let mut outcomes: Vec<Outcome> = stream::iter(outcome_keys)
        .map(|key| async move { get_json::<S, Outcome>(store, &key).await })
        .buffer_unordered(READS_IN_FLIGHT)
        .try_filter_map(|found| async move { Ok(found) })
        .try_collect()
        .await?;
    // A target with no outcome was lost somewhere between Map and store: it is reported, never dropped.
    for target in &record.targets {
        if !outcomes.iter().any(|o| &o.target == target) {
            outcomes.push(Outcome::failed(
                target.clone(),
                ErrorName::Internal,
                RootCause::message("no outcome was recorded for this target"),
                0,
                0,
            ));
        }
    }
    outcomes.sort_by(|a, b| a.target.cmp(&b.target));

    let attempted = outcomes
        .iter()
        .filter(|o| o.kind() != OutcomeKind::Skipped)
        .count();
    let failed: Vec<_> = outcomes
        .iter()
        .filter(|o| o.kind() == OutcomeKind::Failed)
        .map(|o| o.target.clone())
        .collect();
    let tolerance = record.failure_tolerance;
    let within_tolerance = !tolerance.exceeded(failed.len(), attempted);
    let report = Report::new(
        request.run.clone(),
        record.stack_name,
        record.started_at_ms,
        now_ms,
        within_tolerance,
        outcomes,
    );
    records::put_json(store, &keys.report_json(), &report).await?;
    store
        .put(&keys.report_md(), report.to_markdown(), "text/markdown")
        .await?;
    tracing::info!(run = %request.run, failed = failed.len(), attempted, within_tolerance, "reduced");

    Ok(Reduced {
        run: request.run,
        cause: cause(&report, tolerance, attempted),
        summary: report.summary,
        failures: report.failure_groups,
        within_tolerance,
        rerun_input: (!failed.is_empty()).then(|| rerun_input(&document, &failed)),
        report_key: keys.report_json(),
    })
}
