//! What a user reads at the end of a run, and the report files.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use stackfleet_core::escape::terminal_line;
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
    // The process's own: two writers never share, and so never tear, one partial file.
    let partial = path.with_file_name(format!(".{file_name}.{}.partial", std::process::id()));
    std::fs::File::create(&partial)
        .and_then(|mut file| {
            file.write_all(contents.as_bytes())?;
            file.sync_data()
        })
        .and_then(|()| std::fs::rename(&partial, path))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Holds `PATH.lock` for as long as it lives: one run at a time writes a report. A second one
/// (a `--resume` started while the run it resumes still goes on, say an orphaned CI job) is
/// refused, instead of both driving the same targets and each dropping the other's outcomes.
/// The lock file goes when the run ends.
#[derive(Debug)]
pub struct ReportLock {
    path: std::path::PathBuf,
    _file: std::fs::File,
}

impl Drop for ReportLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

impl ReportLock {
    pub fn take(report: &Path) -> Result<Self, String> {
        let file_name = report
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let path = report.with_file_name(format!("{file_name}.lock"));
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        match file.try_lock() {
            Ok(()) => Ok(Self { path, _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => Err(format!(
                "another stackfleet run is writing {} (it holds {}): let it end, or stop it, \
                 before resuming its report",
                report.display(),
                path.display()
            )),
            Err(std::fs::TryLockError::Error(e)) => Err(format!("cannot lock {}: {e}", path.display())),
        }
    }
}

/// What a user can do next, and with which report.
#[derive(Debug)]
pub struct Next<'a> {
    pub report_json: Option<&'a Path>,
    /// The command that resumes the run, when it halted or was interrupted.
    pub resume: Option<String>,
    /// The JSON report was not asked for: written to a default place to resume from.
    pub kept_by_default: bool,
    /// An apply's report: what is left is planned again, not re-run.
    pub replan: bool,
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
            .filter(|o| o.wants_rerun() && o.skipped_reason().is_some())
            .count();
        let counts: Vec<String> = [
            (s.created, "created"),
            (s.updated, "updated"),
            (s.unchanged, "unchanged"),
            (s.failed, "failed"),
            (s.stale, "stale"),
            (not_started, "not started"),
            (s.skipped - not_started, "skipped"),
        ]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect();
        println!(
            "  {}: {}{}{}",
            terminal_line(&wave.name),
            targets_count(wave.targets.len()),
            if counts.is_empty() { "" } else { ": " },
            counts.join(", ")
        );
    }
}

/// The failures by root cause and the skipped targets by reason: text that member accounts
/// and AWS control, so escaped for a terminal.
fn causes(report: &Report) -> String {
    let mut text = String::new();
    if !report.failure_groups.is_empty() {
        text.push_str("\nfailures by root cause:\n");
        for group in &report.failure_groups {
            let _ = writeln!(
                text,
                "  {}  {}: {}\n      {}",
                targets_count(group.targets.len()),
                group.error,
                terminal_line(&group.cause),
                list_targets(&group.targets)
            );
        }
    }
    let mut skipped: BTreeMap<&str, Vec<Target>> = BTreeMap::new();
    for outcome in &report.outcomes {
        if let Some(reason) = outcome.skipped_reason() {
            skipped.entry(reason).or_default().push(outcome.target.clone());
        }
    }
    if !report.stale_groups.is_empty() {
        text.push_str("\nstale (not applied, nothing changed: plan them again):\n");
        for group in &report.stale_groups {
            let _ = writeln!(
                text,
                "  {}  {}\n      {}",
                targets_count(group.targets.len()),
                terminal_line(&group.reason),
                list_targets(&group.targets)
            );
        }
    }
    if !skipped.is_empty() {
        text.push_str("\nskipped:\n");
        for (reason, targets) in skipped {
            let _ = writeln!(
                text,
                "  {}  {}\n      {}",
                targets_count(targets.len()),
                terminal_line(reason),
                list_targets(&targets)
            );
        }
    }
    text
}

pub fn print_summary(report: &Report, tolerance: FailureTolerance, next: &Next<'_>) {
    let s = &report.summary;
    let seconds = report.finished_at_ms.saturating_sub(report.started_at_ms) as f64 / 1000.0;
    let stale = if s.stale > 0 {
        format!(", {} stale", s.stale)
    } else {
        String::new()
    };
    println!(
        "\n{} targets in {seconds:.1} s: {} created, {} updated, {} unchanged, {} failed, {} skipped{stale}",
        s.total, s.created, s.updated, s.unchanged, s.failed, s.skipped
    );
    print_waves(report);
    print!("{}", causes(report));
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
        println!(
            "the rollout {}; later waves were not started",
            terminal_line(&halt.to_string())
        );
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
        (_, Some(path)) if next.replan => println!(
            "plan the failed, stale and not-started targets again, with the document the plan was \
             made from, then review and apply that plan:\n  stackfleet plan --spec ROLLOUT.yaml \
             --rerun-failed {} --out PLAN.json",
            path.display()
        ),
        (_, None) if next.replan => {
            println!(
                "(pass --report-json FILE to be able to plan the rest again with plan --rerun-failed FILE)"
            );
        }
        (_, Some(path)) => println!(
            "re-run the failures and the targets not started: the same command with --rerun-failed {}",
            path.display()
        ),
        (_, None) => {
            println!("(pass --report-json FILE to be able to re-run the failures with --rerun-failed FILE)");
        }
    }
}

#[cfg(test)]
mod tests {
    use stackfleet_core::{ErrorName, Outcome, RootCause};

    use super::*;

    #[test]
    fn one_run_at_a_time_writes_a_report() {
        let dir = tempfile::tempdir().unwrap();
        let report = dir.path().join("report.json");
        let held = ReportLock::take(&report).unwrap();
        let refused = ReportLock::take(&report).unwrap_err();
        assert!(
            refused.starts_with("another stackfleet run is writing"),
            "{refused}"
        );
        drop(held);
        ReportLock::take(&report).expect("free once the first run ends");
    }

    #[test]
    fn causes_reach_the_terminal_as_plain_words() {
        let outcomes = vec![
            Outcome::failed(
                "111111111111:us-east-1".parse().unwrap(),
                ErrorName::StackFailed,
                RootCause::message("\u{1b}[31mRole\u{1b}[0m \u{1b}]8;;https://evil.example\u{7}X\u{1b}]8;;\u{7} exists\u{9b}2J\r\n[2/2] 222222222222:us-east-1 Created \u{202E}gpj.exe"),
                10,
                3,
            ),
            Outcome::skipped("222222222222:us-east-1".parse().unwrap(), "hook: \u{1b}]0;title\u{7}no\u{7}"),
        ];
        let report = Report::new("r1".parse().unwrap(), "s".parse().unwrap(), 0, 5, false, outcomes);
        assert_eq!(
            causes(&report),
            "\nfailures by root cause:\n  1 target  StackFailed: Role X exists2J [2/2] <account>:us-east-1 Created gpj.exe\n      111111111111:us-east-1\n\nskipped:\n  1 target  hook: no\n      222222222222:us-east-1\n"
        );
    }
}
