//! `stackfleet apply PLAN.json --group ID | --all`: the reviewed change sets of a plan, executed
//! wave by wave as a deploy runs its targets (concurrency, tolerance, alarms, halts, reports),
//! each only while it and its stack are as planned; then the change sets not executed deleted.

use std::collections::{BTreeMap, BTreeSet};
use std::process::ExitCode;

use stackfleet_aws::StsAssumer;
use stackfleet_core::escape::terminal_line;
use stackfleet_core::lifecycle::{Clock, DriveOptions, TokioClock};
use stackfleet_core::paced::Pacing;
use stackfleet_core::plan::{discard_unapplied, Applying, Approval, PlanFile};
use stackfleet_core::report::targets_count;
use stackfleet_core::rollout::{RolloutOptions, StopReason, StopSignal, WavedRollout, WavesRolled};
use stackfleet_core::Outcome;

use crate::cli::ApplyArgs;
use crate::deploy::{default_report_path, finish_reports, roll, ReportEnds};
use crate::inputs::{self, InputError};
use crate::live_report::{Draft, LiveReport};
use crate::output::{print_summary, Next, ReportLock};
use crate::progress::Progress;
use crate::signals::{stop_on_signals, INTERRUPTED};
use crate::CliError;

/// The plan file, read and checked whole: refused (exit 2) when altered, or not a plan.
fn read_plan(args: &ApplyArgs) -> Result<PlanFile, InputError> {
    let path = args.plan.display();
    let text = std::fs::read_to_string(&args.plan)
        .map_err(|e| InputError::new(format!("cannot read the plan {path}: {e}")))?;
    PlanFile::parse(&text).map_err(|e| InputError::new(format!("{path}: {e}")))
}

/// The groups to apply: those named, every one (`--all`), and under `--auto` those the plan's
/// rules approve; and the groups `--auto` leaves for a person (each said on stderr, with why).
fn selected_groups(
    args: &ApplyArgs,
    plan: &PlanFile,
) -> Result<(BTreeSet<String>, BTreeMap<String, String>), InputError> {
    let path = args.plan.display();
    let mut selected = if args.groups.is_empty() && !args.all {
        BTreeSet::new()
    } else {
        plan.select(&args.groups)
            .map_err(|e| InputError::new(format!("{path}: {e}")))?
    };
    let mut for_a_person = BTreeMap::new();
    if args.auto {
        for (id, approval) in plan.approvals() {
            match approval {
                Approval::Approved => {
                    selected.insert(id.to_owned());
                }
                Approval::ForAPerson(_) if selected.contains(id) => {}
                Approval::ForAPerson(why) => {
                    eprintln!(
                        "stackfleet: group {id} is left for a person ({}): stackfleet apply {path} --group {id}",
                        terminal_line(&why)
                    );
                    for_a_person.insert(id.to_owned(), why);
                }
            }
        }
        if selected.is_empty() {
            eprintln!("stackfleet: --auto: the plan's rules approve no group; nothing to apply");
        }
    }
    Ok((selected, for_a_person))
}

pub async fn apply(args: ApplyArgs) -> Result<ExitCode, CliError> {
    let plan = read_plan(&args)?;
    // The document the plan was made from; only the pace may be set anew.
    let mut document = plan.document.clone();
    document.concurrency = args.pace.concurrency.or(document.concurrency);
    document.failure_tolerance = args.pace.failure_tolerance.or(document.failure_tolerance);
    let resolved = inputs::resolve(&document)
        .map_err(|e| InputError::new(format!("{}: document: {e}", args.plan.display())))?;
    let (selected, for_a_person) = selected_groups(&args, &plan)?;
    let (waves, mut others) = plan.selection(&selected);
    // Said as what it is: waiting for a person, its change set kept.
    let planned = plan.planned();
    for outcome in &mut others {
        let group = planned.get(&outcome.target).map(|(_, group)| &group.id);
        if let Some((id, why)) = group.and_then(|g| for_a_person.get_key_value(g)) {
            *outcome = Outcome::skipped(
                outcome.target.clone(),
                format!("not applied: its group {id} is left for a person ({why}); its change set is kept"),
            );
        }
    }
    let spec = resolved.spec;
    let tolerance = resolved.tolerance;
    let concurrency = usize::try_from(resolved.concurrency).unwrap_or(usize::MAX);
    let config = inputs::aws_settings(&args.aws).sdk_config().await;
    let run = inputs::run_id(args.run_id.as_ref());
    let clock = TokioClock::new();

    let report_json = match &args.report_json {
        Some(path) => path.clone(),
        None => default_report_path(&run)?,
    };
    let draft = Draft {
        run: run.clone(),
        stack_name: spec.stack_name.clone(),
        started_at_ms: clock.now_ms(),
        known: others,
        waves: waves.clone(),
    };
    let lock = ReportLock::take(&report_json).map_err(CliError::Runtime)?;
    let live = LiveReport::start(report_json.clone(), draft.clone()).map_err(CliError::Runtime)?;
    let stop = StopSignal::new();
    let signals = stop_on_signals(stop.clone(), live.kept())?;
    let applied: usize = waves.iter().map(|w| w.targets.len()).sum();
    let running = waves.iter().filter(|w| !w.targets.is_empty()).count();
    eprintln!(
        "stackfleet: run {run}: applying plan {} to stack {}: {} of {} group{}, {applied} of {} in \
         {} wave{}, {concurrency} at a time, failure tolerance {tolerance}",
        plan.plan_id,
        spec.stack_name,
        selected.len(),
        plan.groups.len(),
        if plan.groups.len() == 1 { "" } else { "s" },
        targets_count(plan.targets.len()),
        running,
        if running == 1 { "" } else { "s" },
    );

    let mut progress = Progress::new(applied, "applying", args.no_progress);
    let rollout = WavedRollout {
        spec: &spec,
        run: &run,
        waves: &waves,
        alarms: &resolved.alarms,
        options: RolloutOptions {
            concurrency,
            pacing: Pacing::Adaptive,
            tolerance,
            drive: DriveOptions::default(),
        },
        // A plan is applied once: no target of it was launched before this run.
        lost: &BTreeSet::new(),
    };
    let assumer = StsAssumer::new(&config);
    let applying = Applying::new(&plan);
    let WavesRolled {
        outcomes: fresh,
        halt,
    } = roll(
        (&assumer, &config),
        &applying,
        rollout,
        &clock,
        &stop,
        &mut progress,
        &live,
    )
    .await;
    progress.finish();

    // A plan is applied once: what this apply did not execute is planned again, not kept;
    // except, under --auto, the groups left for a person to apply.
    let mut kept = applying.executed();
    kept.extend(
        plan.groups
            .iter()
            .filter(|g| for_a_person.contains_key(&g.id))
            .flat_map(|g| g.targets.iter().cloned()),
    );
    let discarded = discard_unapplied(&assumer, &plan, &spec, &run, &kept, concurrency).await;
    if discarded.deleted > 0 {
        eprintln!(
            "stackfleet: deleted {} change set{} of the plan that this apply did not execute",
            discarded.deleted,
            if discarded.deleted == 1 { "" } else { "s" }
        );
    }
    for (target, why) in &discarded.left {
        eprintln!(
            "stackfleet: warning: the change set of {target} could not be deleted: {}",
            terminal_line(why)
        );
    }

    let report = draft.finished(fresh, tolerance, halt, clock.now_ms());
    // Kept when asked for, or when something is left to plan again from it.
    let keep = args.report_json.is_some() || !report.rerun_targets().is_empty();
    let ends = ReportEnds {
        markdown: args.report_md.as_deref(),
        junit: args.report_junit.as_deref(),
        outputs: args.outputs_json.as_deref(),
    };
    finish_reports(
        live,
        lock,
        &report,
        keep.then_some(&report_json),
        &report_json,
        ends,
    )?;
    let next = Next {
        report_json: keep.then_some(report_json.as_path()),
        resume: None,
        kept_by_default: args.report_json.is_none(),
        replan: true,
    };
    print_summary(&report, tolerance, &next);
    signals.abort();

    Ok(match stop.reason() {
        Some(StopReason::Interrupted) => ExitCode::from(INTERRUPTED),
        _ if report.halt.is_some() || !report.within_tolerance => ExitCode::from(1),
        _ => ExitCode::SUCCESS,
    })
}
