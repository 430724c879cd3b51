//! Waves: a rollout in steps. A canary wave of chosen accounts or OUs, then waves sized by a
//! count or a share of the targets; after each, a bake time during which CloudWatch alarms are
//! watched; a halt when a wave's failures pass its tolerance or an alarm fires. The assignment
//! of targets to waves is made once per rollout and recorded (run record, report), so a resume
//! or a re-run sees the same waves. Both runners decide with the functions here: the local
//! runner in `rollout::roll_out_waves`, the state machine in the reducer's Gate step.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::ids::{AccountId, Target};
use crate::rollout::FailureTolerance;
use crate::spec::SpecError;

/// Waves a document may have.
pub const MAX_WAVES: usize = 50;
/// A bake may last up to a week.
pub const MAX_BAKE_SECONDS: u64 = 7 * 24 * 3600;
/// Alarms a document may name (DescribeAlarms takes 100 names a call).
pub const MAX_ALARMS: usize = 100;
/// During a bake, the alarms are looked at this often.
pub const ALARM_LOOK_SECONDS: u64 = 60;
/// The wave that takes the targets no written wave took.
pub const REST_WAVE: &str = "rest";

/// One wave as written: either chosen accounts or OUs (a canary), or a size (`percent` of all
/// the rollout's targets, or a `count`). Chosen waves take their targets first, wherever they
/// are written; sized waves then take theirs, in order, from what is left, by a stable hash of
/// the target. Targets left after the last wave form a final wave, `rest`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WaveSpec {
    /// Shown in plans, progress and halts. Default: `wave N`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub name: Option<String>,
    /// The targets of these accounts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accounts: Vec<AccountId>,
    /// The targets of accounts under these OUs (child OUs included).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(inner(regex(pattern = r"^(r-[0-9a-z]{4,32}|ou-[0-9a-z]{4,32}-[0-9a-z]{8,32})$")))]
    pub ous: Vec<String>,
    /// This share of all the rollout's targets (rounded up), from those still unassigned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100))]
    pub percent: Option<u8>,
    /// This many targets, from those still unassigned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub count: Option<usize>,
    /// Seconds to wait after the wave, watching the alarms, before the next one. Default: 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(max = 604_800))]
    pub bake_seconds: Option<u64>,
    /// Failures tolerated in this wave. Default: the rollout's failureTolerance, applied to
    /// the wave (the same count, or the same share of the wave).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_tolerance: Option<FailureTolerance>,
}

impl WaveSpec {
    fn chooses(&self) -> bool {
        !self.accounts.is_empty() || !self.ous.is_empty()
    }
}

/// Checks written waves and alarm names; the error names the wave.
pub fn check(waves: &[WaveSpec], alarms: &[String]) -> Result<(), SpecError> {
    let invalid = |text: String| Err(SpecError::Invalid(text));
    if waves.len() > MAX_WAVES {
        return invalid(format!("{} waves: give at most {MAX_WAVES}", waves.len()));
    }
    let mut names = BTreeSet::new();
    for (index, wave) in waves.iter().enumerate() {
        let name = wave_name(wave, index);
        let ways = usize::from(wave.chooses())
            + usize::from(wave.percent.is_some())
            + usize::from(wave.count.is_some());
        if ways != 1 {
            return invalid(format!(
                "wave {name:?}: give exactly one of accounts/ous (a canary), percent, or count"
            ));
        }
        if wave.percent.is_some_and(|p| !(1..=100).contains(&p)) {
            return invalid(format!("wave {name:?}: percent is 1 to 100"));
        }
        if wave.count == Some(0) {
            return invalid(format!("wave {name:?}: count is at least 1"));
        }
        if wave.bake_seconds.is_some_and(|s| s > MAX_BAKE_SECONDS) {
            return invalid(format!(
                "wave {name:?}: bakeSeconds is at most {MAX_BAKE_SECONDS} (a week)"
            ));
        }
        if name.is_empty() || name.len() > 64 || name.chars().any(char::is_control) {
            return invalid(format!("wave {name:?}: a name of 1 to 64 printable characters"));
        }
        if !names.insert(name.clone()) || name == REST_WAVE {
            return invalid(format!(
                "wave {name:?}: names must be unique, and {REST_WAVE:?} is taken"
            ));
        }
    }
    if alarms.len() > MAX_ALARMS {
        return invalid(format!("{} alarms: give at most {MAX_ALARMS}", alarms.len()));
    }
    if let Some(bad) = alarms.iter().find(|a| a.is_empty() || a.len() > 255) {
        return invalid(format!("alarm name {bad:?}: 1 to 255 characters"));
    }
    Ok(())
}

fn wave_name(wave: &WaveSpec, index: usize) -> String {
    wave.name.clone().unwrap_or_else(|| format!("wave {}", index + 1))
}

/// A wave and its targets: what runs, and what the run record and the report keep.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Wave {
    pub name: String,
    pub bake_seconds: u64,
    pub failure_tolerance: FailureTolerance,
    pub targets: Vec<Target>,
}

/// Where a target falls in the order of sized waves: a hash of the target alone, so the same
/// fleet gets the same waves in every run, and a wave spreads over accounts.
fn stable_rank(target: &Target) -> [u8; 8] {
    let digest = Sha256::digest(target.to_string().as_bytes());
    let mut rank = [0u8; 8];
    rank.copy_from_slice(&digest[..8]);
    rank
}

/// Assigns `targets` to waves. `chosen[i]` is the set of accounts wave `i` chooses (its
/// accounts, and the accounts under its OUs); it is ignored for sized waves. `overall` is the
/// rollout's failure tolerance, a wave's default. Without written waves, one wave `all`.
/// Waves that get no target are kept (a plan shows them) and skipped when running.
pub fn assign(
    specs: &[WaveSpec],
    chosen: &[BTreeSet<AccountId>],
    overall: FailureTolerance,
    targets: &[Target],
) -> Vec<Wave> {
    let wave = |name: String, spec: Option<&WaveSpec>, targets: Vec<Target>| Wave {
        name,
        bake_seconds: spec.and_then(|s| s.bake_seconds).unwrap_or(0),
        failure_tolerance: spec.and_then(|s| s.failure_tolerance).unwrap_or(overall),
        targets,
    };
    if specs.is_empty() {
        return vec![wave("all".into(), None, targets.to_vec())];
    }
    let mut ordered: Vec<&Target> = targets.iter().collect();
    ordered.sort_by_key(|t| (stable_rank(t), (*t).clone()));
    let mut taken: BTreeMap<usize, Vec<Target>> = BTreeMap::new();
    let mut left: Vec<&Target> = Vec::with_capacity(ordered.len());
    for target in ordered {
        let canary = specs
            .iter()
            .enumerate()
            .find(|(i, s)| s.chooses() && chosen.get(*i).is_some_and(|c| c.contains(&target.account)));
        match canary {
            Some((i, _)) => taken.entry(i).or_default().push(target.clone()),
            None => left.push(target),
        }
    }
    let total = targets.len();
    let mut left = left.into_iter();
    let mut waves = Vec::with_capacity(specs.len() + 1);
    for (i, spec) in specs.iter().enumerate() {
        let mine = if spec.chooses() {
            taken.remove(&i).unwrap_or_default()
        } else {
            let size = match (spec.percent, spec.count) {
                (Some(p), _) => (total * usize::from(p)).div_ceil(100),
                (None, Some(n)) => n,
                (None, None) => 0,
            };
            left.by_ref().take(size).cloned().collect()
        };
        waves.push(wave(wave_name(spec, i), Some(spec), mine));
    }
    let rest: Vec<Target> = left.cloned().collect();
    if !rest.is_empty() {
        waves.push(wave(REST_WAVE.into(), None, rest));
    }
    waves
}

/// What a wave may fail before it stops starting targets and halts the rollout: its own
/// tolerance over its own size, and the rollout's over all the targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub wave: FailureTolerance,
    pub wave_size: usize,
    pub overall: FailureTolerance,
    pub total: usize,
}

impl Budget {
    /// Why no new target may start, once either tolerance is passed; `None` within both.
    pub fn exceeded(&self, wave_failed: usize, overall_failed: usize) -> Option<String> {
        if self.wave.exceeded(wave_failed, self.wave_size) {
            Some(format!(
                "{wave_failed} of {} targets failed in the wave ({} tolerated)",
                self.wave_size, self.wave
            ))
        } else if self.overall.exceeded(overall_failed, self.total) {
            Some(format!(
                "{overall_failed} of {} targets failed in the rollout ({} tolerated)",
                self.total, self.overall
            ))
        } else {
            None
        }
    }

    /// True when no count of failures can pass the budget: no need to count them.
    pub fn is_unlimited(&self) -> bool {
        self.wave == FailureTolerance::Percent(100) && self.overall == FailureTolerance::Percent(100)
    }
}

/// Why a rollout stopped between waves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Halt {
    /// The wave that ran last (its name) and its position, from 0.
    pub wave: String,
    pub wave_index: usize,
    pub reason: String,
}

impl fmt::Display for Halt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "halted at wave {:?} ({} of the waves): {}",
            self.wave,
            self.wave_index + 1,
            self.reason
        )
    }
}

/// A CloudWatch alarm's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, strum::Display, strum::EnumString)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[strum(serialize_all = "SCREAMING_SNAKE_CASE")]
pub enum AlarmState {
    Ok,
    Alarm,
    InsufficientData,
}

/// Why the alarms halt the rollout, if they do: any alarm in ALARM, or a named alarm that does
/// not exist (a gate that cannot be read does not let a rollout through).
pub fn alarm_verdict(names: &[String], states: &BTreeMap<String, AlarmState>) -> Option<String> {
    let missing: Vec<&str> = names
        .iter()
        .filter(|n| !states.contains_key(*n))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        return Some(format!(
            "alarm{} not found in CloudWatch: {}",
            if missing.len() == 1 { "" } else { "s" },
            missing.join(", ")
        ));
    }
    let firing: Vec<&str> = names
        .iter()
        .filter(|n| states.get(*n) == Some(&AlarmState::Alarm))
        .map(String::as_str)
        .collect();
    (!firing.is_empty()).then(|| format!("alarm in ALARM: {}", firing.join(", ")))
}

/// Seconds to wait before the next look during a bake that has `left` seconds to go.
pub fn next_bake_look(left: u64) -> u64 {
    left.clamp(1, ALARM_LOOK_SECONDS)
}

/// The waves of a run that still have work: every target without a success in `done`, wave by
/// wave (a wave with nothing left is dropped). What `--resume`, `--rerun-failed` and the state
/// machine's resume input run.
pub fn remaining(waves: &[Wave], done: &BTreeSet<Target>) -> Vec<Wave> {
    waves
        .iter()
        .map(|wave| Wave {
            targets: wave
                .targets
                .iter()
                .filter(|t| !done.contains(t))
                .cloned()
                .collect(),
            ..wave.clone()
        })
        .filter(|wave| !wave.targets.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn targets(n: usize) -> Vec<Target> {
        (0..n)
            .map(|i| {
                format!("{:012}:us-east-1", 100_000_000_000u64 + i as u64)
                    .parse()
                    .unwrap()
            })
            .collect()
    }

    fn sized(percent: Option<u8>, count: Option<usize>) -> WaveSpec {
        WaveSpec {
            percent,
            count,
            ..WaveSpec::default()
        }
    }

    #[test]
    fn canaries_first_then_sizes_by_a_stable_hash_then_the_rest() {
        let all = targets(100);
        let canary: AccountId = all[42].account.clone();
        let specs = vec![
            sized(Some(10), None),
            WaveSpec {
                name: Some("canary".into()),
                accounts: vec![canary.clone()],
                bake_seconds: Some(300),
                ..WaveSpec::default()
            },
            sized(None, Some(30)),
        ];
        let chosen = vec![BTreeSet::new(), BTreeSet::from([canary]), BTreeSet::new()];
        let waves = assign(&specs, &chosen, FailureTolerance::Count(2), &all);
        let sizes: Vec<(&str, usize)> = waves.iter().map(|w| (w.name.as_str(), w.targets.len())).collect();
        assert_eq!(
            sizes,
            [("wave 1", 10), ("canary", 1), ("wave 3", 30), ("rest", 59)]
        );
        assert_eq!(waves[1].targets, vec![all[42].clone()]);
        assert_eq!(
            (waves[1].bake_seconds, waves[1].failure_tolerance),
            (300, FailureTolerance::Count(2))
        );
        // Every target once, and the same assignment whatever the input order.
        let mut seen: Vec<Target> = waves.iter().flat_map(|w| w.targets.clone()).collect();
        seen.sort();
        assert_eq!(seen, all);
        let mut shuffled = all;
        shuffled.reverse();
        assert_eq!(
            assign(&specs, &chosen, FailureTolerance::Count(2), &shuffled),
            waves
        );
    }

    #[test]
    fn no_waves_is_one_wave_and_a_wave_may_be_empty() {
        let all = targets(3);
        let waves = assign(&[], &[], FailureTolerance::Count(0), &all);
        assert_eq!(waves.len(), 1);
        assert_eq!(waves[0].targets, all);
        let stranger: AccountId = "999999999999".parse().unwrap();
        let specs = vec![WaveSpec {
            accounts: vec![stranger.clone()],
            ..WaveSpec::default()
        }];
        let waves = assign(
            &specs,
            &[BTreeSet::from([stranger])],
            FailureTolerance::Count(0),
            &all,
        );
        assert_eq!(waves[0].targets.len(), 0);
        assert_eq!(waves[1].name, REST_WAVE);
    }

    #[test]
    fn written_waves_are_checked_and_the_error_names_the_wave() {
        let both = WaveSpec {
            name: Some("canary".into()),
            percent: Some(5),
            accounts: vec!["111111111111".parse().unwrap()],
            ..WaveSpec::default()
        };
        assert!(check(&[both], &[])
            .unwrap_err()
            .to_string()
            .contains("\"canary\""));
        assert!(check(&[sized(Some(0), None)], &[]).is_err());
        assert!(check(&[sized(None, Some(1)), sized(None, Some(2))], &[]).is_ok());
        let twice = WaveSpec {
            name: Some("a".into()),
            count: Some(1),
            ..WaveSpec::default()
        };
        assert!(check(&[twice.clone(), twice], &[]).is_err());
        assert!(check(&[], &[String::new()]).is_err());
    }

    #[test]
    fn a_budget_names_the_tolerance_it_passed() {
        let budget = Budget {
            wave: FailureTolerance::Count(0),
            wave_size: 5,
            overall: FailureTolerance::Percent(10),
            total: 100,
        };
        assert_eq!(budget.exceeded(0, 0), None);
        assert!(budget
            .exceeded(1, 1)
            .unwrap()
            .contains("1 of 5 targets failed in the wave"));
        let loose = Budget {
            wave: FailureTolerance::Percent(100),
            ..budget
        };
        assert!(loose
            .exceeded(5, 11)
            .unwrap()
            .contains("in the rollout (10% tolerated)"));
    }

    #[test]
    fn alarms_halt_when_firing_or_missing() {
        let names = vec!["errors".to_owned(), "latency".to_owned()];
        let mut states = BTreeMap::from([
            ("errors".to_owned(), AlarmState::Ok),
            ("latency".to_owned(), AlarmState::InsufficientData),
        ]);
        assert_eq!(alarm_verdict(&names, &states), None);
        states.insert("errors".into(), AlarmState::Alarm);
        assert_eq!(alarm_verdict(&names, &states).unwrap(), "alarm in ALARM: errors");
        states.remove("latency");
        assert!(alarm_verdict(&names, &states)
            .unwrap()
            .contains("not found in CloudWatch: latency"));
        assert_eq!(
            (next_bake_look(0), next_bake_look(30), next_bake_look(3600)),
            (1, 30, 60)
        );
    }

    #[test]
    fn what_remains_keeps_each_target_in_its_wave() {
        let all = targets(10);
        let waves = assign(
            &[sized(None, Some(4))],
            &[BTreeSet::new()],
            FailureTolerance::Count(0),
            &all,
        );
        let done: BTreeSet<Target> = waves[0].targets.iter().cloned().collect();
        let left = remaining(&waves, &done);
        assert_eq!(left.len(), 1);
        assert_eq!(left[0], waves[1]);
    }
}
