//! The JSON report of a local run, kept on disk while the run goes on: written whole before the
//! first target starts (every target not reported yet), then again as outcomes land, each time
//! through a temporary file and a rename. A run killed at any moment, by SIGKILL too, leaves a
//! report that reads, with what had landed and marked in progress; `--resume` finishes it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use stackfleet_core::lifecycle::{Clock, SystemClock};
use stackfleet_core::report::{Report, NOT_REPORTED_YET};
use stackfleet_core::rollout::FailureTolerance;
use stackfleet_core::waves::{Halt, Wave};
use stackfleet_core::{Outcome, OutcomeKind, RunId, StackName, Target};

use crate::output::write_file;
use crate::resume::overlay;

/// The least time between two writes. Each write is the whole report (a few MB at 5,000
/// targets): outcomes landing together are written together, a handful of writes rather than
/// one per outcome. A slow disk widens the gap to a few times what a write takes.
const MIN_GAP: Duration = Duration::from_millis(200);

/// What the report of a run says before this run's first outcome.
#[derive(Debug, Clone)]
pub struct Draft {
    pub run: RunId,
    pub stack_name: StackName,
    pub started_at_ms: u64,
    /// Outcomes known before the run: the skipped targets, or the resumed report's outcomes.
    pub known: Vec<Outcome>,
    /// Every wave with all its targets, as the final report records them.
    pub waves: Vec<Wave>,
}

impl Draft {
    /// The run's final report: this run's outcomes over what was known, within the tolerance
    /// or not over every target of the waves, with the waves and the halt.
    pub fn finished(
        self,
        fresh: Vec<Outcome>,
        tolerance: FailureTolerance,
        halt: Option<Halt>,
        now_ms: u64,
    ) -> Report {
        let outcomes = overlay(&self.known, fresh);
        let total: usize = self.waves.iter().map(|w| w.targets.len()).sum();
        let failed = outcomes
            .iter()
            .filter(|o| o.kind() == OutcomeKind::Failed)
            .count();
        Report::new(
            self.run,
            self.stack_name,
            self.started_at_ms,
            now_ms,
            !tolerance.exceeded(failed, total),
            outcomes,
        )
        .with_waves(self.waves, halt)
    }

    /// The report in progress: `landed` over what was known, and every other target of the
    /// waves not reported yet (not started, for a resume to deploy).
    pub fn report(&self, landed: &[Outcome], now_ms: u64) -> Report {
        let mut outcomes = overlay(&self.known, landed.to_vec());
        let unheard: Vec<Outcome> = {
            let heard: BTreeSet<&Target> = outcomes.iter().map(|o| &o.target).collect();
            self.waves
                .iter()
                .flat_map(|wave| &wave.targets)
                .filter(|target| !heard.contains(target))
                .map(|target| Outcome::not_started(target.clone(), NOT_REPORTED_YET))
                .collect()
        };
        outcomes.extend(unheard);
        // Not within the tolerance until the run says so: a pipeline step that reads the report
        // of a killed run must not take it for a pass.
        let mut report = Report::new(
            self.run.clone(),
            self.stack_name.clone(),
            self.started_at_ms,
            now_ms,
            false,
            outcomes,
        )
        .with_waves(self.waves.clone(), None);
        report.in_progress = true;
        report
    }
}

#[derive(Debug, Default)]
struct Landed {
    outcomes: Vec<Outcome>,
    /// Bumped at each outcome: what the writer compares with what it last wrote.
    version: u64,
    closed: bool,
}

#[derive(Debug)]
struct Shared {
    path: PathBuf,
    draft: Draft,
    landed: Mutex<Landed>,
    changed: Condvar,
    /// Held for each write, so that the writer, a last flush and the final report never
    /// interleave; true once the final report is written: nothing partial goes over it.
    writing: Mutex<bool>,
}

fn locked<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    /// Writes the report with what has landed; the version written.
    fn write_partial(&self) -> Result<u64, String> {
        let finished = locked(&self.writing);
        let (outcomes, version) = {
            let landed = locked(&self.landed);
            (landed.outcomes.clone(), landed.version)
        };
        if *finished {
            return Ok(version);
        }
        let report = self.draft.report(&outcomes, SystemClock.now_ms());
        let json = serde_json::to_string_pretty(&report)
            .map_err(|e| format!("cannot write {}: {e}", self.path.display()))?;
        write_file(&self.path, &json)?;
        Ok(version)
    }

    /// The writer: once something landed, writes, then lets at least `MIN_GAP` pass.
    fn keep(&self) {
        let mut written = 0;
        let mut warned = false;
        loop {
            {
                let mut landed = locked(&self.landed);
                while landed.version == written && !landed.closed {
                    landed = self.changed.wait(landed).unwrap_or_else(PoisonError::into_inner);
                }
                if landed.closed {
                    return;
                }
                // On a failed write, wait for the next outcome rather than try again at once.
                written = landed.version;
            }
            let began = Instant::now();
            match self.write_partial() {
                Ok(version) => written = version,
                Err(error) if !warned => {
                    warned = true;
                    eprintln!("stackfleet: warning: the JSON report is not kept up to date: {error}");
                }
                Err(_) => {}
            }
            let gap = MIN_GAP.max(began.elapsed().saturating_mul(4));
            let landed = locked(&self.landed);
            drop(
                self.changed
                    .wait_timeout_while(landed, gap, |landed| !landed.closed)
                    .unwrap_or_else(PoisonError::into_inner),
            );
        }
    }
}

/// The JSON report of the run in progress, kept at its path.
#[derive(Debug)]
pub struct LiveReport {
    shared: Arc<Shared>,
    writer: Option<JoinHandle<()>>,
}

/// A handle on the report for whoever has to write it one last time before the process ends
/// (a second Ctrl-C).
#[derive(Debug, Clone)]
pub struct KeptReport(Arc<Shared>);

impl KeptReport {
    /// Writes what has landed, at once.
    pub fn flush(&self) -> Result<(), String> {
        self.0.write_partial().map(|_| ())
    }

    pub fn path(&self) -> &Path {
        &self.0.path
    }
}

impl LiveReport {
    /// Writes the first report (nothing reported yet) and starts keeping it up to date. An
    /// error here stops the run before any target: a report that cannot be written at the
    /// start would not be written at the end either.
    pub fn start(path: PathBuf, draft: Draft) -> Result<Self, String> {
        let shared = Arc::new(Shared {
            path,
            draft,
            landed: Mutex::default(),
            changed: Condvar::new(),
            writing: Mutex::new(false),
        });
        shared.write_partial()?;
        let keeper = Arc::clone(&shared);
        let writer = std::thread::Builder::new()
            .name("report-writer".into())
            .spawn(move || keeper.keep())
            .map_err(|e| format!("cannot start the report writer: {e}"))?;
        Ok(Self {
            shared,
            writer: Some(writer),
        })
    }

    pub fn kept(&self) -> KeptReport {
        KeptReport(Arc::clone(&self.shared))
    }

    /// One more outcome: written with the next write, within `MIN_GAP` or so.
    pub fn landed(&self, outcome: &Outcome) {
        let mut landed = locked(&self.shared.landed);
        landed.outcomes.push(outcome.clone());
        landed.version += 1;
        self.shared.changed.notify_all();
    }

    /// Stops keeping the report and writes the final one over it (`None`: leaves the last
    /// partial one, for the caller to remove).
    pub fn finish(mut self, last: Option<&str>) -> Result<(), String> {
        locked(&self.shared.landed).closed = true;
        self.shared.changed.notify_all();
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
        let mut finished = locked(&self.shared.writing);
        *finished = true;
        match last {
            Some(json) => write_file(&self.shared.path, json),
            None => Ok(()),
        }
    }
}

impl Drop for LiveReport {
    /// A run that ends early (an error) stops the writer too; the report stays in progress.
    fn drop(&mut self) {
        locked(&self.shared.landed).closed = true;
        self.shared.changed.notify_all();
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use stackfleet_core::report::Report;

    use super::*;

    fn target(n: u64) -> Target {
        format!("{n:012}:us-east-1").parse().unwrap()
    }

    fn created(n: u64) -> Outcome {
        let mut outcome = Outcome::skipped(target(n), "");
        outcome.verdict = stackfleet_core::Verdict::Created;
        outcome
    }

    fn draft(known: Vec<Outcome>, targets: std::ops::RangeInclusive<u64>) -> Draft {
        Draft {
            run: "r1".parse().unwrap(),
            stack_name: "s".parse().unwrap(),
            started_at_ms: 7,
            known,
            waves: vec![Wave {
                name: "all".into(),
                bake_seconds: 0,
                failure_tolerance: FailureTolerance::Count(0),
                targets: targets.map(target).collect(),
            }],
        }
    }

    fn read(path: &Path) -> Report {
        Report::from_json(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    #[test]
    fn a_report_in_progress_lists_every_target_once_those_not_landed_as_not_reported() {
        let suspended = Outcome::skipped(target(9), "account is SUSPENDED");
        let report = draft(vec![suspended], 1..=3).report(&[created(2)], 50);
        assert!(report.in_progress);
        assert!(!report.within_tolerance, "no pass until the run says so");
        let seen: Vec<(Target, Option<&str>)> = report
            .outcomes
            .iter()
            .map(|o| (o.target.clone(), o.skipped_reason()))
            .collect();
        assert_eq!(
            seen,
            [
                (target(9), Some("account is SUSPENDED")),
                (target(2), None),
                (target(1), Some(NOT_REPORTED_YET)),
                (target(3), Some(NOT_REPORTED_YET)),
            ]
        );
        assert_eq!(report.rerun_targets(), [target(1), target(3)]);
        assert_eq!((report.started_at_ms, report.finished_at_ms), (7, 50));
        let back = Report::from_json(&serde_json::to_string(&report).unwrap()).unwrap();
        assert!(back.in_progress, "in progress reads back");
    }

    #[test]
    fn the_file_follows_the_outcomes_and_the_final_report_replaces_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.json");
        let live = LiveReport::start(path.clone(), draft(Vec::new(), 1..=3)).unwrap();
        let first = read(&path);
        assert!(first.in_progress);
        assert_eq!(first.rerun_targets().len(), 3, "written before any target starts");

        live.landed(&created(1));
        live.landed(&created(3));
        // The writer's pace, not a sleep: wait (bounded) until the file shows both.
        let deadline = Instant::now() + Duration::from_secs(10);
        while read(&path).succeeded().len() < 2 {
            assert!(
                Instant::now() < deadline,
                "the landed outcomes were never written"
            );
            std::thread::yield_now();
        }
        assert_eq!(read(&path).rerun_targets(), [target(2)]);

        live.kept().flush().unwrap();
        let mut last = draft(Vec::new(), 1..=3).report(&[created(1), created(2), created(3)], 9);
        last.in_progress = false;
        live.finish(Some(&serde_json::to_string(&last).unwrap())).unwrap();
        let end = read(&path);
        assert!(!end.in_progress);
        assert_eq!(end.succeeded().len(), 3);
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["report.json"], "no temporary file is left behind");
    }

    #[test]
    fn after_the_final_report_a_flush_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.json");
        let live = LiveReport::start(path.clone(), draft(Vec::new(), 1..=1)).unwrap();
        let kept = live.kept();
        live.finish(Some("{}")).unwrap();
        kept.flush().unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{}");
    }

    #[test]
    fn a_report_that_cannot_be_written_stops_the_run_before_it_starts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing").join("report.json");
        let error = LiveReport::start(path, draft(Vec::new(), 1..=1)).unwrap_err();
        assert!(
            error.contains("cannot write") && error.contains("missing"),
            "{error}"
        );
    }
}
