//! What a user reads at the end of a run, and the report files.

use std::collections::BTreeMap;
use std::path::Path;

use stackfleet_core::report::{targets_count, Report};
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

/// Writes next to the destination, then renames: a report is whole or absent, never half.
pub fn write_file(path: &Path, contents: &str) -> Result<(), String> {
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let partial = path.with_file_name(format!(".{file_name}.partial"));
    std::fs::write(&partial, contents)
        .and_then(|()| std::fs::rename(&partial, path))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

pub fn print_summary(report: &Report, tolerance: FailureTolerance, report_json: Option<&Path>) {
    let s = &report.summary;
    let seconds = report.finished_at_ms.saturating_sub(report.started_at_ms) as f64 / 1000.0;
    println!(
        "\n{} targets in {seconds:.1} s: {} created, {} updated, {} unchanged, {} failed, {} skipped",
        s.total, s.created, s.updated, s.unchanged, s.failed, s.skipped
    );
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
    if s.failed > 0 {
        match report_json {
            Some(path) => println!(
                "re-run only the failures: the same command with --rerun-failed {}",
                path.display()
            ),
            None => println!(
                "(pass --report-json FILE to be able to re-run only the failures with --rerun-failed FILE)"
            ),
        }
    }
}
