//! `stackfleet deploy`: validate everything, resolve the targets, roll out, report.

use std::path::Path;
use std::process::ExitCode;

use stackfleet_aws::StsAssumer;
use stackfleet_core::lifecycle::{Clock, DriveOptions, TokioClock};
use stackfleet_core::report::Report;
use stackfleet_core::rollout::{roll_out, Rollout, RolloutOptions, StopReason, StopSignal};
use stackfleet_core::targeting::Resolution;
use stackfleet_core::OutcomeKind;

use crate::cli::DeployArgs;
use crate::inputs::{self, InputError, Prepared};
use crate::output::{print_summary, write_file};
use crate::progress::Progress;
use crate::CliError;

/// Exit code of a run stopped by Ctrl-C, as shells expect.
const INTERRUPTED: u8 = 130;

/// The first Ctrl-C stops new starts; a second one abandons the run at once.
fn listen_for_interrupts(stop: StopSignal) -> Result<tokio::task::JoinHandle<()>, CliError> {
    use tokio::signal::unix::{signal, SignalKind};
    // Registered here, synchronously: a signal that arrives before the task first runs is kept.
    let mut interrupts = signal(SignalKind::interrupt())
        .map_err(|e| CliError::Runtime(format!("cannot listen for Ctrl-C: {e}")))?;
    Ok(tokio::spawn(async move {
        if interrupts.recv().await.is_some() {
            stop.stop(StopReason::Interrupted);
            eprintln!(
                "stackfleet: interrupted: starting nothing new, waiting for the targets in flight \
                 (Ctrl-C again to abandon them, without reports)"
            );
            if interrupts.recv().await.is_some() {
                std::process::exit(i32::from(INTERRUPTED));
            }
        }
    }))
}

fn rerun_targets(path: &Path) -> Result<Resolution, InputError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| InputError::new(format!("cannot read the report {}: {e}", path.display())))?;
    let report = Report::from_json(&text).map_err(|e| {
        InputError::new(format!(
            "{} is not a stackfleet JSON report (--report-json): {e}",
            path.display()
        ))
    })?;
    Ok(Resolution {
        targets: report.failed_targets(),
        skipped: Vec::new(),
    })
}

pub async fn deploy(args: DeployArgs) -> Result<ExitCode, CliError> {
    let rerun = args.rerun_failed.as_deref().map(rerun_targets).transpose()?;
    if rerun.as_ref().is_some_and(|r| r.targets.is_empty()) {
        println!("nothing failed in that report: nothing to re-run");
        return Ok(ExitCode::SUCCESS);
    }
    let Prepared {
        spec,
        run,
        config,
        resolution,
        concurrency,
        tolerance,
    } = inputs::prepare(&args.spec, &args.targets, Some(&args.pace), &args.aws, rerun).await?;

    // Listen for Ctrl-C before announcing the run: from then on an interrupt must still
    // leave reports behind.
    let stop = StopSignal::new();
    let interrupts = listen_for_interrupts(stop.clone())?;
    eprintln!(
        "stackfleet: run {run}: stack {} to {} targets ({} skipped), {} at a time, failure tolerance {tolerance}",
        spec.stack_name,
        resolution.targets.len(),
        resolution.skipped.len(),
        concurrency,
    );

    let clock = TokioClock::new();
    let started_at_ms = clock.now_ms();
    let mut progress = Progress::new(resolution.targets.len(), "deploying", args.no_progress);
    let rollout = Rollout {
        spec: &spec,
        run: &run,
        targets: &resolution.targets,
        options: RolloutOptions {
            concurrency: usize::try_from(concurrency).unwrap_or(usize::MAX),
            tolerance,
            drive: DriveOptions::default(),
        },
    };
    let assumer = StsAssumer::new(&config);
    let rolled = roll_out(&assumer, rollout, &clock, &stop, |outcome| {
        progress.landed(outcome);
    })
    .await;
    progress.finish();

    let failed = rolled.iter().filter(|o| o.kind() == OutcomeKind::Failed).count();
    let within_tolerance = !tolerance.exceeded(failed, rolled.len());
    let mut outcomes = resolution.skipped;
    outcomes.extend(rolled);
    let report = Report::new(
        run,
        spec.stack_name.clone(),
        started_at_ms,
        clock.now_ms(),
        within_tolerance,
        outcomes,
    );

    let reports = [
        (
            args.report_json.as_deref(),
            serde_json::to_string_pretty(&report).unwrap_or_default(),
        ),
        (args.report_md.as_deref(), report.to_markdown()),
        (args.report_junit.as_deref(), report.to_junit()),
    ];
    for (path, contents) in reports {
        if let Some(path) = path {
            write_file(path, &contents).map_err(CliError::Runtime)?;
        }
    }
    print_summary(&report, tolerance, args.report_json.as_deref());
    interrupts.abort();

    Ok(match stop.reason() {
        Some(StopReason::Interrupted) => ExitCode::from(INTERRUPTED),
        _ if within_tolerance => ExitCode::SUCCESS,
        _ => ExitCode::from(1),
    })
}
