//! What a user reads at the end of a run, and the report files.

use std::collections::BTreeMap;
use std::path::Path;

use stackfleet_core::report::{targets_count, Report, Summary};
use stackfleet_core::rollout::FailureTolerance;
use stackfleet_core::Target;

/// Targets listed per group before "and N more".
const LISTED: usize = 8;

pub fn list_targets(targets: &[Target]) -> String {
    let mut listed: Vec<String> = targets.iter().take(LISTED).map(ToString::to_string).collect();
    if targets.len() > LISTED {
        listed.push(format!("and {} more", targets.len() - LISTED));
    }
    listed.join(", ")
}

/// Writes next to the destination, flushes to disk, then renames: a report is whole or absent,
/// never half, whenever the process (or the machine) stops.
pub fn write_file(path: &Path, contents: &str) -> Result<(), String> {
    use std::io::Write as _;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let partial = path.with_file_name(format!(".{file_name}.partial"));
    std::fs::File::create(&partial)
        .and_then(|mut file| {
            file.write_all(contents.as_bytes())?;
            file.sync_data()
        })
        .and_then(|()| std::fs::rename(&partial, path))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// What a user can do next, and with which report.
#[derive(Debug)]
pub struct Next<'a> {
    pub report_json: Option<&'a Path>,
    /// The command that resumes the run, when it halted or was interrupted.
    pub resume: Option<String>,
    /// The JSON report was not asked for: written to a default place to resume from.
    pub kept_by_default: bool,
}

/// How each wave went, one line each: for rollouts of more than one wave.
fn print_waves(report: &Report) {
    if report.waves.len() < 2 {
        return;
    }
    let by_target: BTreeMap<&Target, &stackfleet_core::Outcome> =
        report.outcomes.iter().map(|o| (&o.target, o)).collect();
    println!("\nwaves:");
    for wave in &report.waves {
        let outcomes: Vec<stackfleet_core::Outcome> = wave
            .targets
            .iter()
            .filter_map(|t| by_target.get(t).map(|o| (*o).clone()))
            .collect();
        let s = Summary::of(&outcomes);
        let not_started = outcomes
            .iter()
            .filter(|o| o.wants_rerun() && o.failure().is_none())
            .count();
        let counts: Vec<String> = [
            (s.created, "created"),
            (s.updated, "updated"),
            (s.unchanged, "unchanged"),
            (s.failed, "failed"),
            (not_started, "not started"),
            (s.skipped - not_started, "skipped"),
        ]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect();
        println!(
            "  {}: {}{}{}",
            wave.name,
            targets_count(wave.targets.len()),
            if counts.is_empty() { "" } else { ": " },
            counts.join(", ")
        );
    }
}

pub fn print_summary(report: &Report, tolerance: FailureTolerance, next: &Next<'_>) {
    let s = &report.summary;
    let seconds = report.finished_at_ms.saturating_sub(report.started_at_ms) as f64 / 1000.0;
    println!(
        "\n{} targets in {seconds:.1} s: {} created, {} updated, {} unchanged, {} failed, {} skipped",
        s.total, s.created, s.updated, s.unchanged, s.failed, s.skipped
    );
    print_waves(report);
    if !report.failure_groups.is_empty() {
        println!("\nfailures by root cause:");
        for group in &report.failure_groups {
            println!(
                "  {}  {}: {}",
                targets_count(group.targets.len()),
                group.error,
                group.cause
            );
            println!("      {}", list_targets(&group.targets));
        }
    }
    let mut skipped: BTreeMap<&str, Vec<Target>> = BTreeMap::new();
    for outcome in &report.outcomes {
        if let Some(reason) = outcome.skipped_reason() {
            skipped.entry(reason).or_default().push(outcome.target.clone());
        }
    }
    if !skipped.is_empty() {
        println!("\nskipped:");
        for (reason, targets) in skipped {
            println!("  {}  {reason}", targets_count(targets.len()));
            println!("      {}", list_targets(&targets));
        }
    }
    let verdict = if report.within_tolerance {
        "within"
    } else {
        "beyond"
    };
    println!(
        "\n{} failed, {verdict} the failure tolerance ({tolerance})",
        s.failed
    );
    if let Some(halt) = &report.halt {
        println!("the rollout {halt}; later waves were not started");
    }
    let left = report.rerun_targets().len();
    if let (None, Some(path), true) = (&next.resume, next.report_json, next.kept_by_default) {
        println!("the report of the whole rollout is in {}", path.display());
    }
    match (&next.resume, next.report_json) {
        (Some(command), Some(path)) => {
            let kept = if next.kept_by_default {
                format!(
                    "its report is kept in {} (no --report-json was given)",
                    path.display()
                )
            } else {
                format!("its report is {}", path.display())
            };
            println!(
                "{} left to do; {kept}. Once the cause is fixed, resume the rollout (same run, the \
                 targets without a success, wave by wave) with:\n  {command}",
                targets_count(left)
            );
        }
        _ if left == 0 => {}
        (_, Some(path)) => println!(
            "re-run the failures and the targets not started: the same command with --rerun-failed {}",
            path.display()
        ),
        (_, None) => {
            println!("(pass --report-json FILE to be able to re-run the failures with --rerun-failed FILE)");
        }
    }
}
