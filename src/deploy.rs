//! `stackfleet deploy`: validate everything, resolve the targets, roll out wave by wave, report.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use stackfleet_aws::{CloudWatchAlarms, StsAssumer};
use stackfleet_core::lifecycle::{Clock, DriveOptions, TokioClock};
use stackfleet_core::ports::{Alarms, NoAlarms};
use stackfleet_core::report::{targets_count, Report};
use stackfleet_core::rollout::{
    roll_out_waves, RolloutOptions, StopReason, StopSignal, WaveEvent, WavedRollout, WavesRolled,
};
use stackfleet_core::waves::Wave;
use stackfleet_core::{OutcomeKind, RunId};

use crate::cli::DeployArgs;
use crate::inputs::{self, Prepared};
use crate::output::{print_summary, write_file, Next};
use crate::progress::Progress;
use crate::resume::{resume_command, Earlier, Takeover};
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

/// Where a run that can be resumed keeps its report when --report-json was not given.
fn default_report_path(run: &RunId) -> PathBuf {
    Path::new(".stackfleet").join(run.as_str()).join("report.json")
}

/// Waves that got no target: said before anything runs, as a plan says it.
fn warn_of_empty_waves(waves: &[Wave]) {
    for wave in waves.iter().filter(|w| w.targets.is_empty()) {
        eprintln!(
            "stackfleet: warning: wave {:?} has no target (none of its accounts or OUs is among \
             this rollout's targets); it is passed over",
            wave.name
        );
    }
}

/// "wave canary", and "wave 2" for a wave named by its place.
fn called(wave: &Wave) -> String {
    if wave.name.starts_with("wave ") {
        wave.name.clone()
    } else {
        format!("wave {}", wave.name)
    }
}

/// The waves, with progress on stderr: a line per wave and per bake, the bar or a line per target.
async fn roll<W: Alarms>(
    alarms: &W,
    assumer: &StsAssumer,
    rollout: WavedRollout<'_>,
    clock: &TokioClock,
    stop: &StopSignal,
    progress: &mut Progress,
) -> WavesRolled {
    let count = rollout.waves.len();
    let watching = match rollout.alarms.len() {
        0 => String::new(),
        1 => format!(", watching alarm {}", rollout.alarms[0]),
        n => format!(", watching {n} alarms"),
    };
    roll_out_waves(assumer, alarms, rollout, clock, stop, |event| match event {
        WaveEvent::Started { index, wave } => progress.say(&format!(
            "{} ({} of {count}): {}",
            called(wave),
            index + 1,
            targets_count(wave.targets.len())
        )),
        WaveEvent::Landed(outcome) => progress.landed(outcome),
        WaveEvent::Baking { wave, seconds } => {
            progress.say(&format!("{}: baking {seconds} s{watching}", called(wave)));
        }
        WaveEvent::Halted(halt) => progress.say(&format!("stackfleet: the rollout {halt}")),
    })
    .await
}

pub async fn deploy(args: DeployArgs) -> Result<ExitCode, CliError> {
    let resolved = inputs::local_document(&args.spec, &args.targets, Some(&args.pace))?;
    let earlier = match (&args.resume, &args.rerun_failed) {
        (Some(path), _) => Some(Earlier::read(path, Takeover::Resume, &resolved)?),
        (None, Some(path)) => Some(Earlier::read(path, Takeover::Rerun, &resolved)?),
        (None, None) => None,
    };
    match &earlier {
        Some(earlier) if earlier.waves.is_empty() && earlier.how == Takeover::Rerun => {
            println!("nothing failed in that report, and every target was started: nothing to re-run");
            return Ok(ExitCode::SUCCESS);
        }
        Some(earlier) if earlier.waves.is_empty() => {
            println!(
                "every target of run {} succeeded: nothing to resume",
                earlier.report.run
            );
            return Ok(ExitCode::SUCCESS);
        }
        _ => {}
    }
    let Prepared {
        spec,
        no_echo,
        run,
        config,
        resolution,
        concurrency,
        tolerance,
        waves,
        alarms,
    } = inputs::prepare(
        resolved,
        &args.spec,
        &args.aws,
        earlier.as_ref().map(Earlier::carried),
    )
    .await?;
    warn_of_empty_waves(&waves);

    // Listen for Ctrl-C before announcing the run: from then on an interrupt must still
    // leave reports behind.
    let stop = StopSignal::new();
    let interrupts = listen_for_interrupts(stop.clone())?;
    let running: Vec<&Wave> = waves.iter().filter(|w| !w.targets.is_empty()).collect();
    let resuming = match &earlier {
        Some(earlier) if earlier.how == Takeover::Resume => "resuming ",
        _ => "",
    };
    eprintln!(
        "stackfleet: {resuming}run {run}: stack {} to {} ({} skipped) in {} wave{}, {} at a time, failure tolerance {tolerance}",
        spec.stack_name,
        targets_count(resolution.targets.len()),
        resolution.skipped.len(),
        running.len(),
        if running.len() == 1 { "" } else { "s" },
        concurrency,
    );

    let clock = TokioClock::new();
    let started_at_ms = clock.now_ms();
    let mut progress = Progress::new(resolution.targets.len(), "deploying", args.no_progress);
    let rollout = WavedRollout {
        spec: &spec,
        run: &run,
        waves: &waves,
        alarms: &alarms,
        options: RolloutOptions {
            concurrency: usize::try_from(concurrency).unwrap_or(usize::MAX),
            tolerance,
            drive: DriveOptions::default(),
        },
    };
    let assumer = StsAssumer::new(&config);
    let WavesRolled {
        outcomes: fresh,
        halt,
    } = if alarms.is_empty() {
        roll(&NoAlarms, &assumer, rollout, &clock, &stop, &mut progress).await
    } else {
        let gates = CloudWatchAlarms::from_config(&config);
        roll(&gates, &assumer, rollout, &clock, &stop, &mut progress).await
    };
    progress.finish();

    // A resume reports the whole rollout: the earlier successes, this run's outcomes, all waves.
    let (outcomes, waves, started_at_ms) = match earlier {
        Some(earlier) if earlier.how == Takeover::Resume => (
            earlier.whole(fresh),
            earlier.recorded,
            earlier.report.started_at_ms,
        ),
        _ => {
            let mut outcomes = resolution.skipped;
            outcomes.extend(fresh);
            (outcomes, waves, started_at_ms)
        }
    };
    let total: usize = waves.iter().map(|w| w.targets.len()).sum();
    let failed = outcomes
        .iter()
        .filter(|o| o.kind() == OutcomeKind::Failed)
        .count();
    let within_tolerance = !tolerance.exceeded(failed, total);
    let report = Report::new(
        run.clone(),
        spec.stack_name.clone(),
        started_at_ms,
        clock.now_ms(),
        within_tolerance,
        outcomes,
    )
    .with_waves(waves, halt);

    let interrupted = stop.reason() == Some(StopReason::Interrupted);
    let resumable = (report.halt.is_some() || interrupted) && !report.rerun_targets().is_empty();
    // A run that can be resumed needs its report, kept by default when not asked for; a resume
    // brings the same run's default report up to date.
    let keep_by_default = resumable || args.resume.is_some();
    let report_json = match (&args.report_json, keep_by_default) {
        (Some(path), _) => Some(path.clone()),
        (None, true) => {
            let path = default_report_path(&run);
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)
                    .map_err(|e| CliError::Runtime(format!("cannot make {}: {e}", dir.display())))?;
            }
            Some(path)
        }
        (None, false) => None,
    };
    let reports = [
        (
            report_json.as_deref(),
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
    let argv: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let next = Next {
        report_json: report_json.as_deref(),
        resume: match (&report_json, resumable) {
            (Some(path), true) => Some(resume_command(&argv, path, &no_echo)),
            _ => None,
        },
        kept_by_default: args.report_json.is_none(),
    };
    print_summary(&report, tolerance, &next);
    interrupts.abort();

    Ok(match stop.reason() {
        Some(StopReason::Interrupted) => ExitCode::from(INTERRUPTED),
        _ if report.halt.is_some() || !within_tolerance => ExitCode::from(1),
        _ => ExitCode::SUCCESS,
    })
}
