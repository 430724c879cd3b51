//! What a run takes over from an earlier JSON report: `--resume` finishes that rollout under its
//! run ID, `--rerun-failed` deploys its failed and not-started targets under a new one; both in
//! the report's waves. And the command line that resumes a halted run.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use stackfleet_core::document::Resolved;
use stackfleet_core::report::Report;
use stackfleet_core::rollout::FailureTolerance;
use stackfleet_core::secrets;
use stackfleet_core::waves::{remaining, Wave, REST_WAVE};
use stackfleet_core::{Outcome, OutcomeKind, Target};

use crate::inputs::{Carried, InputError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Takeover {
    /// `--resume`: the same run, every target without a success.
    Resume,
    /// `--rerun-failed`: a new run of the failed and the not-started targets.
    Rerun,
}

impl Takeover {
    fn flag(self) -> &'static str {
        match self {
            Self::Resume => "--resume",
            Self::Rerun => "--rerun-failed",
        }
    }
}

/// An earlier report, and what this run takes over from it.
#[derive(Debug)]
pub struct Earlier {
    pub how: Takeover,
    pub report: Report,
    /// The report's waves, each with all its targets.
    pub recorded: Vec<Wave>,
    /// What this run deploys, wave by wave: empty when nothing is left to do.
    pub waves: Vec<Wave>,
}

pub(crate) fn read_report(path: &Path) -> Result<Report, InputError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| InputError::new(format!("cannot read the report {}: {e}", path.display())))?;
    Report::from_json(&text).map_err(|e| {
        InputError::new(format!(
            "{} is not a stackfleet JSON report (--report-json): {e}",
            path.display()
        ))
    })
}

/// `waves` narrowed to `wanted`, each target in its wave; a wanted target no wave holds (nothing
/// lost) goes to the `rest` wave, made if need be.
fn in_their_waves(waves: &[Wave], wanted: &[Target], tolerance: FailureTolerance) -> Vec<Wave> {
    let wanted_set: BTreeSet<&Target> = wanted.iter().collect();
    let held: BTreeSet<&Target> = waves.iter().flat_map(|w| &w.targets).collect();
    let everyone_else: BTreeSet<Target> = held
        .iter()
        .filter(|t| !wanted_set.contains(*t))
        .map(|t| (*t).clone())
        .collect();
    let mut narrowed = remaining(waves, &everyone_else);
    let stray: Vec<Target> = wanted.iter().filter(|t| !held.contains(t)).cloned().collect();
    if !stray.is_empty() {
        match narrowed.iter_mut().find(|w| w.name == REST_WAVE) {
            Some(rest) => rest.targets.extend(stray),
            None => narrowed.push(Wave {
                name: REST_WAVE.into(),
                bake_seconds: 0,
                failure_tolerance: tolerance,
                targets: stray,
            }),
        }
    }
    narrowed
}

impl Earlier {
    /// Reads the report at `path`; refused when it is another stack's.
    pub fn read(path: &Path, how: Takeover, resolved: &Resolved) -> Result<Self, InputError> {
        let report = read_report(path)?;
        if report.stack_name != resolved.spec.stack_name {
            return Err(InputError::new(format!(
                "{} is a report of stack {}, and this rollout is of stack {}: {} takes the same \
                 stack (its template, parameters and the rest may change)",
                path.display(),
                report.stack_name,
                resolved.spec.stack_name,
                how.flag()
            )));
        }
        // A report from before waves had one, whose tolerance was the rollout's: today's, then.
        let recorded = report.recorded_waves(resolved.tolerance);
        let waves = match how {
            Takeover::Resume => {
                // Failed, not started, and never reported: every target without a success.
                let mut wanted: Vec<Target> = remaining(&recorded, &report.succeeded())
                    .into_iter()
                    .flat_map(|w| w.targets)
                    .collect();
                let listed: BTreeSet<Target> = wanted.iter().cloned().collect();
                wanted.extend(report.rerun_targets().into_iter().filter(|t| !listed.contains(t)));
                in_their_waves(&recorded, &wanted, resolved.tolerance)
            }
            Takeover::Rerun => in_their_waves(&recorded, &report.rerun_targets(), resolved.tolerance),
        };
        Ok(Self {
            how,
            report,
            recorded,
            waves,
        })
    }

    /// The targets of this run that an earlier attempt may have launched without reporting the
    /// end: every one but those the report says failed. Each is taken over as a start made
    /// again (an operation of this run found on the stack, running or ended, is followed, never
    /// launched twice; without one it starts as usual). A target reported failed is deployed
    /// afresh: that failure was seen, and the resume is its retry.
    pub fn taken_over(&self) -> BTreeSet<Target> {
        let failed: BTreeSet<&Target> = self
            .report
            .outcomes
            .iter()
            .filter(|o| o.kind() == OutcomeKind::Failed)
            .map(|o| &o.target)
            .collect();
        self.waves
            .iter()
            .flat_map(|w| &w.targets)
            .filter(|t| !failed.contains(t))
            .cloned()
            .collect()
    }

    pub fn carried(&self) -> Carried {
        Carried {
            waves: self.waves.clone(),
            run: (self.how == Takeover::Resume).then(|| self.report.run.clone()),
        }
    }
}

/// `base`, each outcome replaced by the one of `fresh` for the same target, in `base`'s order;
/// then the outcomes of `fresh` for targets `base` has none of, in their order. A resumed
/// rollout's outcomes: the earlier report's, with this run's over them.
pub fn overlay(base: &[Outcome], fresh: Vec<Outcome>) -> Vec<Outcome> {
    let mut fresh: BTreeMap<Target, (usize, Outcome)> = fresh
        .into_iter()
        .enumerate()
        .map(|(index, outcome)| (outcome.target.clone(), (index, outcome)))
        .collect();
    let mut whole: Vec<Outcome> = base
        .iter()
        .map(|earlier| {
            fresh
                .remove(&earlier.target)
                .map_or_else(|| earlier.clone(), |(_, outcome)| outcome)
        })
        .collect();
    let mut unheard: Vec<(usize, Outcome)> = fresh.into_values().collect();
    unheard.sort_by_key(|(index, _)| *index);
    whole.extend(unheard.into_iter().map(|(_, outcome)| outcome));
    whole
}

/// Flags left out of the resume command, with their values: the report gives the targets and
/// the run ID.
const DROPPED_WITH_VALUE: &[&str] = &[
    "--resume",
    "--rerun-failed",
    "--run-id",
    "--accounts",
    "--ou",
    "--tag-filter",
    "--exclude",
    "--regions",
];
const DROPPED_SWITCHES: &[&str] = &["--include-management-account"];

/// An argument as a POSIX shell reads it back.
fn quoted(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-./:=,@%+".contains(c));
    if plain {
        arg.to_owned()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

/// `KEY=VALUE` of a `--parameter`, its value masked when KEY is NoEcho (a reference stays: it
/// is no secret); `None` when nothing was masked.
fn masked_parameter(key_value: &str, no_echo: &BTreeSet<String>) -> Option<String> {
    let (key, value) = key_value.split_once('=')?;
    let shown = secrets::shown(key, value, no_echo);
    let reference = matches!(secrets::SecretRef::parse(value), Ok(Some(_)));
    (shown != value && !reference).then(|| format!("{key}={shown}"))
}

/// The command line that resumes this run: the one given (`argv`, program first), without its
/// targeting, run ID, `--resume` and `--rerun-failed`, with `--resume REPORT`. The value of a
/// `--parameter` that the template declares NoEcho is shown as `****`, and a second line says so.
pub fn resume_command(argv: &[String], report: &Path, no_echo: &BTreeSet<String>) -> String {
    let mut kept: Vec<String> = Vec::with_capacity(argv.len() + 2);
    let mut masked: Vec<&str> = Vec::new();
    let mut args = argv.iter();
    while let Some(arg) = args.next() {
        let (name, inline_value) = match arg.split_once('=') {
            Some((name, _)) => (name, true),
            None => (arg.as_str(), false),
        };
        if DROPPED_WITH_VALUE.contains(&name) {
            if !inline_value {
                args.next();
            }
        } else if name == PARAMETER {
            let key_value = match arg.split_once('=') {
                Some((_, key_value)) => Some(key_value),
                None => args.next().map(String::as_str),
            };
            let Some(key_value) = key_value else {
                kept.push(arg.clone());
                continue;
            };
            let shown = masked_parameter(key_value, no_echo);
            if shown.is_some() {
                masked.push(key_value.split('=').next().unwrap_or_default());
            }
            kept.push(PARAMETER.into());
            kept.push(shown.unwrap_or_else(|| key_value.to_owned()));
        } else if !DROPPED_SWITCHES.contains(&arg.as_str()) {
            kept.push(arg.clone());
        }
    }
    kept.push("--resume".into());
    kept.push(report.display().to_string());
    let command = kept.iter().map(|arg| quoted(arg)).collect::<Vec<_>>().join(" ");
    if masked.is_empty() {
        command
    } else {
        format!(
            "{command}\n  (NoEcho parameter {} shown as {}: give the value again, or better a \
             {{{{resolve:ssm-secure:NAME}}}} reference, which is never written out)",
            masked.join(", "),
            secrets::MASK
        )
    }
}

const PARAMETER: &str = "--parameter";

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<String> {
        line.split(' ').map(str::to_owned).collect()
    }

    #[test]
    fn the_resume_command_keeps_the_document_and_pace_and_drops_targeting_and_the_run() {
        let argv = words(
            "stackfleet deploy --spec rollout.yaml --accounts 111111111111 --ou=ou-ab12-prod0001 \
             --run-id r1 --include-management-account --failure-tolerance 10% --resume old.json \
             --report-json r.json",
        );
        assert_eq!(
            resume_command(&argv, Path::new(".stackfleet/r1/report.json"), &BTreeSet::new()),
            "stackfleet deploy --spec rollout.yaml --failure-tolerance 10% --report-json r.json \
             --resume .stackfleet/r1/report.json"
        );
        let argv = vec![
            "stackfleet".to_owned(),
            "deploy".to_owned(),
            "--parameter".to_owned(),
            "Motto=it's fine".to_owned(),
        ];
        assert_eq!(
            resume_command(&argv, Path::new("my report.json"), &BTreeSet::new()),
            r"stackfleet deploy --parameter 'Motto=it'\''s fine' --resume 'my report.json'"
        );
    }

    #[test]
    fn the_resume_command_masks_no_echo_parameters_and_says_so() {
        let argv = words(
            "stackfleet deploy --spec r.yaml --parameter Db=hunter2 --parameter=Key=k-1 \
             --parameter Env=prod --parameter Token={{resolve:ssm-secure:/stackfleet/t}}",
        );
        let no_echo: BTreeSet<String> = ["Db", "Key", "Token"].map(str::to_owned).into();
        let command = resume_command(&argv, Path::new("r.json"), &no_echo);
        assert!(
            !command.contains("hunter2") && !command.contains("k-1"),
            "{command}"
        );
        let (line, note) = command.split_once('\n').unwrap();
        assert_eq!(
            line,
            "stackfleet deploy --spec r.yaml --parameter 'Db=****' --parameter 'Key=****' \
             --parameter Env=prod --parameter 'Token={{resolve:ssm-secure:/stackfleet/t}}' --resume r.json"
        );
        assert!(note.contains("NoEcho parameter Db, Key shown as ****"), "{note}");
    }

    fn target(n: u64) -> Target {
        format!("{n:012}:us-east-1").parse().unwrap()
    }

    fn wave(name: &str, targets: &[u64]) -> Wave {
        Wave {
            name: name.into(),
            bake_seconds: 60,
            failure_tolerance: FailureTolerance::Count(0),
            targets: targets.iter().map(|n| target(*n)).collect(),
        }
    }

    #[test]
    fn wanted_targets_keep_their_waves_and_strays_go_last() {
        let waves = vec![wave("canary", &[1, 2]), wave("wave 2", &[3, 4])];
        let narrowed = in_their_waves(
            &waves,
            &[target(2), target(4), target(9)],
            FailureTolerance::Count(3),
        );
        assert_eq!(narrowed.len(), 3);
        assert_eq!(
            (narrowed[0].name.as_str(), narrowed[0].targets.clone()),
            ("canary", vec![target(2)])
        );
        assert_eq!(
            (narrowed[1].name.as_str(), narrowed[1].targets.clone()),
            ("wave 2", vec![target(4)])
        );
        assert_eq!(narrowed[2].name, REST_WAVE);
        assert_eq!(narrowed[2].targets, vec![target(9)]);
        assert_eq!(narrowed[2].failure_tolerance, FailureTolerance::Count(3));
    }

    #[test]
    fn a_resumed_rollout_reports_the_earlier_successes_and_this_run_in_the_earlier_order() {
        let failed = |n| {
            Outcome::failed(
                target(n),
                stackfleet_core::ErrorName::StackFailed,
                stackfleet_core::RootCause::message("quota"),
                1,
                1,
            )
        };
        let created = |n| {
            let mut outcome = Outcome::skipped(target(n), "");
            outcome.verdict = stackfleet_core::Verdict::Created;
            outcome
        };
        let earlier = [
            created(1),
            failed(2),
            Outcome::not_started(target(3), "not started: halted"),
        ];
        let whole = overlay(&earlier, vec![created(4), created(3), created(2)]);
        let seen: Vec<(Target, OutcomeKind)> = whole.iter().map(|o| (o.target.clone(), o.kind())).collect();
        use OutcomeKind::Created;
        assert_eq!(
            seen,
            [
                (target(1), Created),
                (target(2), Created),
                (target(3), Created),
                (target(4), Created)
            ]
        );
    }
}
