//! `stackfleet deploy`: validate everything, resolve the targets, roll out wave by wave, report.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use aws_config::SdkConfig;
use stackfleet_aws::{CloudWatchAlarms, StsAssumer};
use stackfleet_core::lifecycle::{Clock, DriveOptions, TokioClock};
use stackfleet_core::paced::Pacing;
use stackfleet_core::ports::NoAlarms;
use stackfleet_core::report::{targets_count, Report};
use stackfleet_core::rollout::{
    roll_out_waves_with, Deploying, RolloutOptions, StopReason, StopSignal, TargetDriver, WaveEvent,
    WavedRollout, WavesRolled,
};
use stackfleet_core::waves::Wave;
use stackfleet_core::{RunId, Target};

use crate::cli::DeployArgs;
use crate::inputs::{self, Prepared};
use crate::live_report::{Draft, LiveReport};
use crate::output::{print_summary, write_file, Next, ReportLock};
use crate::progress::Progress;
use crate::resume::{resume_command, Earlier, Takeover};
use crate::signals::{stop_on_signals, INTERRUPTED};
use crate::CliError;

/// Where a run keeps its report when --report-json was not given: made ready (its directory),
/// for the run to write as it goes.
pub(crate) fn default_report_path(run: &RunId) -> Result<PathBuf, CliError> {
    let dir = Path::new(".stackfleet").join(run.as_str());
    std::fs::create_dir_all(&dir)
        .map_err(|e| CliError::Runtime(format!("cannot make {}: {e}", dir.display())))?;
    Ok(dir.join("report.json"))
}

/// A default report that nothing will resume from goes, with the directories made for it when
/// nothing else is in them.
pub(crate) fn forget_default_report(path: &Path) {
    let _ = std::fs::remove_file(path);
    for dir in path.ancestors().skip(1).take(2) {
        let _ = std::fs::remove_dir(dir);
    }
}

/// The reports a run writes besides the JSON one.
#[derive(Debug, Clone, Copy)]
pub struct ReportEnds<'a> {
    pub markdown: Option<&'a Path>,
    pub junit: Option<&'a Path>,
    /// The stack outputs map (`outputs::outputs_map`).
    pub outputs: Option<&'a Path>,
}

/// A run's reports at its end: the JSON one finished where `kept` (else its default file
/// forgotten), the run's hold on it released, then the Markdown and JUnit ones written.
pub fn finish_reports(
    live: LiveReport,
    lock: ReportLock,
    report: &Report,
    kept: Option<&PathBuf>,
    report_json: &Path,
    ends: ReportEnds<'_>,
) -> Result<(), CliError> {
    let json = serde_json::to_string_pretty(report).unwrap_or_default();
    live.finish(kept.map(|_| json.as_str()))
        .map_err(CliError::Runtime)?;
    drop(lock);
    if kept.is_none() {
        forget_default_report(report_json);
    }
    let outputs = || {
        let map = stackfleet_core::outputs::outputs_map(&report.outcomes);
        serde_json::to_string_pretty(&map).unwrap_or_default()
    };
    for (path, contents) in [
        (ends.markdown, report.to_markdown()),
        (ends.junit, report.to_junit()),
        (ends.outputs, ends.outputs.map(|_| outputs()).unwrap_or_default()),
    ] {
        if let Some(path) = path {
            write_file(path, &contents).map_err(CliError::Runtime)?;
        }
    }
    Ok(())
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

/// The waves, with progress on stderr: a line per wave and per bake, the bar or a line per
/// target. Each target is deployed, or applied (`driver`), with sessions from `assumer`; the
/// rollout's alarms are read through `config`.
pub(crate) async fn roll<D: TargetDriver>(
    (assumer, config): (&StsAssumer, &SdkConfig),
    driver: &D,
    rollout: WavedRollout<'_>,
    clock: &TokioClock,
    stop: &StopSignal,
    progress: &mut Progress,
    live: &LiveReport,
) -> WavesRolled {
    if rollout.alarms.is_empty() {
        let told = told(rollout, progress, live);
        roll_out_waves_with(assumer, driver, &NoAlarms, rollout, clock, stop, told).await
    } else {
        let gates = CloudWatchAlarms::from_config(config);
        let told = told(rollout, progress, live);
        roll_out_waves_with(assumer, driver, &gates, rollout, clock, stop, told).await
    }
}

/// What the user is told of each event of the waves.
fn told<'a>(
    rollout: WavedRollout<'_>,
    progress: &'a mut Progress,
    live: &'a LiveReport,
) -> impl FnMut(WaveEvent<'_>) + 'a {
    let count = rollout.waves.len();
    let watching = match rollout.alarms.len() {
        0 => String::new(),
        1 => format!(", watching alarm {}", rollout.alarms[0]),
        n => format!(", watching {n} alarms"),
    };
    move |event| match event {
        WaveEvent::Started { index, wave } => progress.say(&format!(
            "{} ({} of {count}): {}",
            called(wave),
            index + 1,
            targets_count(wave.targets.len())
        )),
        WaveEvent::Landed(outcome) => {
            progress.landed(outcome);
            live.landed(outcome);
        }
        WaveEvent::Baking { wave, seconds } => {
            progress.say(&format!("{}: baking {seconds} s{watching}", called(wave)));
        }
        WaveEvent::Halted(halt) => progress.say(&format!("stackfleet: the rollout {halt}")),
        WaveEvent::Paced(pace) => progress.say(&format!("stackfleet: {pace}")),
    }
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
    let prepared = inputs::prepare(
        resolved,
        &args.spec,
        &args.aws,
        earlier.as_ref().map(Earlier::carried),
    )
    .await?;
    warn_of_empty_waves(&prepared.waves);
    // Before the report starts: what the pre-flight decides is known from the first line.
    let checked = crate::preflight::check(
        args.preflight,
        &prepared.config,
        &prepared.spec,
        &prepared.run,
        prepared.waves.clone(),
        usize::try_from(prepared.concurrency).unwrap_or(usize::MAX),
        args.no_progress,
    )
    .await;

    let clock = TokioClock::new();
    let argv: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    // The JSON report is written before the first target starts and kept up to date as
    // outcomes land: a run killed at any point leaves what landed, for --resume. A resume
    // reports the whole rollout: the earlier outcomes, this run's, all waves.
    let report_json = match &args.report_json {
        Some(path) => path.clone(),
        None => default_report_path(&prepared.run)?,
    };
    let (known, recorded, started_at_ms) = match &earlier {
        // What the Organization refuses now (an account that left, or was written into the
        // report) is reported with why, over the earlier outcome of that target.
        Some(earlier) if earlier.how == Takeover::Resume => (
            crate::resume::overlay(&earlier.report.outcomes, prepared.resolution.skipped.clone()),
            earlier.recorded.clone(),
            earlier.report.started_at_ms,
        ),
        _ => (
            prepared.resolution.skipped.clone(),
            prepared.waves.clone(),
            clock.now_ms(),
        ),
    };
    let known = crate::resume::overlay(&known, checked.decided);
    let draft = Draft {
        run: prepared.run.clone(),
        stack_name: prepared.spec.stack_name.clone(),
        started_at_ms,
        known,
        waves: recorded,
    };
    let lock = ReportLock::take(&report_json).map_err(CliError::Runtime)?;
    let live = LiveReport::start(report_json.clone(), draft.clone()).map_err(CliError::Runtime)?;
    // Listen for Ctrl-C and SIGTERM before announcing the run: from then on a stop must still
    // leave reports behind.
    let stop = StopSignal::new();
    let signals = stop_on_signals(stop.clone(), live.kept())?;
    announce(earlier.as_ref(), &prepared);
    eprintln!(
        "stackfleet: the JSON report {} is kept up to date as targets land; should this run be \
         killed, resume it with:\n  {}",
        report_json.display(),
        resume_command(&argv, &report_json, &prepared.no_echo).replace('\n', "\n  ")
    );
    let Prepared {
        spec,
        no_echo,
        run,
        config,
        resolution,
        concurrency,
        tolerance,
        alarms,
        ..
    } = prepared;
    // The waves, less what the pre-flight took out.
    let waves = checked.waves;

    // A resume takes over, as a start made again, the targets an earlier attempt may have
    // launched without reporting; a target reported failed is deployed afresh.
    let lost: BTreeSet<Target> = match &earlier {
        Some(earlier) if earlier.how == Takeover::Resume => earlier.taken_over(),
        _ => BTreeSet::new(),
    };
    let mut progress = Progress::new(resolution.targets.len(), "deploying", args.no_progress);
    let rollout = WavedRollout {
        spec: &spec,
        run: &run,
        waves: &waves,
        alarms: &alarms,
        options: RolloutOptions {
            concurrency: usize::try_from(concurrency).unwrap_or(usize::MAX),
            pacing: Pacing::Adaptive,
            tolerance,
            drive: DriveOptions::default(),
        },
        lost: &lost,
    };
    let assumer = StsAssumer::new(&config);
    let WavesRolled {
        outcomes: fresh,
        halt,
    } = roll(
        (&assumer, &config),
        &Deploying,
        rollout,
        &clock,
        &stop,
        &mut progress,
        &live,
    )
    .await;
    progress.finish();

    let report = draft.finished(fresh, tolerance, halt, clock.now_ms());

    let interrupted = stop.reason() == Some(StopReason::Interrupted);
    let resumable = (report.halt.is_some() || interrupted) && !report.rerun_targets().is_empty();
    // Without --report-json, the report stays only when a run can be resumed from it, or
    // brings a resumed run's report up to date.
    let keep = args.report_json.is_some() || resumable || args.resume.is_some();
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
        resume: resumable.then(|| resume_command(&argv, &report_json, &no_echo)),
        kept_by_default: args.report_json.is_none(),
        replan: false,
    };
    print_summary(&report, tolerance, &next);
    signals.abort();

    Ok(match stop.reason() {
        Some(StopReason::Interrupted) => ExitCode::from(INTERRUPTED),
        _ if checked.refused || report.halt.is_some() || !report.within_tolerance => ExitCode::from(1),
        _ => ExitCode::SUCCESS,
    })
}

/// The run, said before it starts: what it deploys, where, how fast.
fn announce(earlier: Option<&Earlier>, prepared: &Prepared) {
    let Prepared {
        run,
        spec,
        resolution,
        waves,
        concurrency,
        tolerance,
        ..
    } = prepared;
    let running = waves.iter().filter(|w| !w.targets.is_empty()).count();
    let resuming = match earlier {
        Some(earlier) if earlier.how == Takeover::Resume => "resuming ",
        _ => "",
    };
    eprintln!(
        "stackfleet: {resuming}run {run}: stack {} to {} ({} skipped) in {running} wave{}, up to {concurrency} at a time (fewer while STS throttles), failure tolerance {tolerance}",
        spec.stack_name,
        targets_count(resolution.targets.len()),
        resolution.skipped.len(),
        if running == 1 { "" } else { "s" },
    );
    if earlier.is_some_and(|e| e.how == Takeover::Resume && e.report.in_progress) {
        eprintln!(
            "stackfleet: that report was left in progress (its run was killed): operations the \
             run left running are followed, and those it finished reported, not started again"
        );
    }
}
