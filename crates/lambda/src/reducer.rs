//! Reduce: every outcome of the run (and of the runs it resumed), counted and grouped by
//! normalised root cause; report.json, report.md and the resume input next to them. Returns
//! counts, the largest groups and keys only: bounded whatever the number of targets or failures.

use futures::stream::{self, StreamExt, TryStreamExt};
use stackfleet_core::outputs::outputs_map;
use stackfleet_core::ports::{all_pages, RunStore};
use stackfleet_core::report::Report;
use stackfleet_core::template::TemplateRef;
use stackfleet_core::waves::Halt;
use stackfleet_core::wire::reduce::{FailureDigest, REDUCED_GROUPS};
use stackfleet_core::{ErrorName, Outcome, OutcomeKind, Rollout, RootCause};

use crate::error::LambdaError;
use crate::records::{self, get_json, RunKeys};

/// The Reduce step's wire shapes are core's: the operator commands read the same type back.
pub use stackfleet_core::wire::reduce::{ReduceRequest, Reduced, ReducerRequest};

/// Outcomes read from the store at once.
const READS_IN_FLIGHT: usize = 32;
/// Failure groups and targets spelled out in the cause a failed execution shows.
const CAUSE_GROUPS: usize = 5;
const CAUSE_TARGETS: usize = 10;

fn cause(report: &Report, attempted: usize, resume_key: Option<&str>) -> String {
    let s = &report.summary;
    let mut cause = String::new();
    if let Some(halt) = &report.halt {
        cause.push_str(&format!("The rollout {halt}. "));
    }
    cause.push_str(&format!(
        "{} of {attempted} targets failed; {} created, {} updated, {} unchanged, {} skipped.",
        s.failed, s.created, s.updated, s.unchanged, s.skipped
    ));
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
    if let Some(key) = resume_key {
        cause.push_str(&format!(
            " To re-run or resume: stackfleet rerun EXECUTION_ARN, or start an execution with the input in {key} of the run bucket."
        ));
    }
    cause
}

/// Reduce. Safe to repeat (the state machine retries it): everything is computed again from the
/// store and written whole over what a try before wrote.
pub async fn reduce<S: RunStore>(
    store: &S,
    request: ReduceRequest,
    now_ms: u64,
) -> Result<Reduced, LambdaError> {
    let run = &request.run;
    let keys = RunKeys::new(run);
    let record = records::record(store, run).await?;
    let document = records::document(store, run).await?;
    let halt: Option<Halt> = match get_json(store, &keys.halt()).await? {
        Some(halt) => Some(halt),
        // A plan-first run whose plan expired unapproved applied nothing: it ends halted.
        None => crate::review::expired_halt(store, &record).await?,
    };
    let by_wave = records::waves(store, &record).await?;
    let prefix = keys.outcomes();
    let prefix = prefix.as_str();
    let outcome_keys = all_pages(|page| async move { store.list(prefix, page.as_deref()).await }).await?;
    let keys = &keys;
    let mut outcomes: Vec<Outcome> = stream::iter(outcome_keys)
        .map(|key| async move { records::stored_outcome(store, keys, &key).await })
        .buffer_unordered(READS_IN_FLIGHT)
        .try_filter_map(|found| async move { Ok(found) })
        .try_collect()
        .await?;
    if record.resumes.is_some() {
        let inherited: Vec<Outcome> = get_json(store, &keys.inherited()).await?.unwrap_or_default();
        outcomes.extend(inherited);
    }
    let seen: std::collections::BTreeSet<_> = outcomes.iter().map(|o| o.target.clone()).collect();
    // A target without an outcome is reported, never dropped: not started when its wave came
    // after a halt, lost (Failed) otherwise.
    for (index, targets) in by_wave.iter().enumerate() {
        for target in targets.iter().filter(|t| !seen.contains(*t)) {
            outcomes.push(match &halt {
                Some(halt) if index > halt.wave_index => {
                    Outcome::not_started(target.clone(), format!("not started: the rollout {halt}"))
                }
                _ => Outcome::failed(
                    target.clone(),
                    ErrorName::Internal,
                    RootCause::message("no outcome was recorded for this target"),
                    0,
                    0,
                ),
            });
        }
    }
    outcomes.sort_by(|a, b| a.target.cmp(&b.target));

    let attempted = outcomes
        .iter()
        .filter(|o| o.kind() != OutcomeKind::Skipped)
        .count();
    let failed = outcomes
        .iter()
        .filter(|o| o.kind() == OutcomeKind::Failed)
        .count();
    let within_tolerance = !record.failure_tolerance.exceeded(failed, attempted);
    let waves = records::named_waves(&record, by_wave);
    let report = Report::new(
        run.clone(),
        record.stack_name,
        record.started_at_ms,
        now_ms,
        within_tolerance,
        outcomes,
    )
    .with_waves(waves, halt.clone())
    .with_template(record.template.clone());
    records::put_json(store, &keys.report_json(), &report).await?;
    store
        .put(&keys.report_md(), report.to_markdown(), "text/markdown")
        .await?;
    // Every run has one, empty when no stack has outputs: a pipeline reads it without asking.
    records::put_json(store, &keys.outputs_json(), &outputs_map(&report.outcomes)).await?;
    let resume_input_key = if report.outcomes.iter().any(Outcome::wants_rerun) {
        // What the run's input said, resuming this run: a resume is held to the default spec
        // of its own day (a field this run's document took from an older default is not the
        // input's to repeat). A new account's run resumes with the default alone.
        let input = match (&record.input, record.new_account) {
            (Some(given), _) => Rollout {
                resume: Some(run.clone()),
                ..given.clone()
            },
            (None, true) => Rollout {
                resume: Some(run.clone()),
                ..Rollout::default()
            },
            // A record from before inputs were kept: the run's document, its template the URL
            // as given rather than this run's pin.
            (None, false) => Rollout {
                resume: Some(run.clone()),
                template: match &record.template {
                    Some(pinned) => Some(TemplateRef::Url(pinned.url.clone())),
                    None => document.template.clone(),
                },
                ..document
            },
        };
        records::put_json(store, &keys.resume_input(), &input).await?;
        Some(keys.resume_input())
    } else {
        None
    };
    tracing::info!(run = %run, failed, attempted, within_tolerance, halted = halt.is_some(), "reduced");

    Ok(Reduced {
        run: run.clone(),
        cause: cause(&report, attempted, resume_input_key.as_deref()),
        summary: report.summary,
        failures: report
            .failure_groups
            .iter()
            .take(REDUCED_GROUPS)
            .map(FailureDigest::of)
            .collect(),
        failure_groups: report.failure_groups.len(),
        within_tolerance,
        halt,
        resume_input_key,
        report_key: keys.report_json(),
        outputs_key: keys.outputs_json(),
    })
}
