//! Many targets at once, in one process: bounded concurrency (lowered while the caller's APIs
//! throttle: `paced`), a failure tolerance that stops new starts once passed, and an
//! interruption that lets what runs finish. What `stackfleet deploy` does; the state machine
//! does the same with a Map state.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ids::{RunId, Target};
use crate::lifecycle::{Clock, DriveOptions, Job};
pub use crate::lifecycle::{Deploying, TargetDriver};
use crate::outcome::{Outcome, OutcomeKind};
use crate::paced::{admit, Admitted, Limiter, Pace, Paced, Pacing};
use crate::ports::{Alarms, AssumeRole};
use crate::spec::RolloutSpec;
use crate::waves::{alarm_verdict, next_bake_look, Budget, Halt, Wave};

/// How many failures a rollout takes before it starts no new target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureTolerance {
    Count(usize),
    Percent(u8),
}

impl Default for FailureTolerance {
    fn default() -> Self {
        Self::Count(0)
    }
}

impl FailureTolerance {
    /// True once `failed` of `total` targets is more than tolerated.
    pub fn exceeded(self, failed: usize, total: usize) -> bool {
        match self {
            Self::Count(limit) => failed > limit,
            Self::Percent(percent) => failed * 100 > usize::from(percent) * total,
        }
    }
}

impl FromStr for FailureTolerance {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad =
            || format!("failure tolerance {s:?}: give a count (3) or a percentage from 0% to 100% (5%)");
        match s.strip_suffix('%') {
            Some(percent) => match percent.parse::<u8>() {
                Ok(p) if p <= 100 => Ok(Self::Percent(p)),
                _ => Err(bad()),
            },
            None => s.parse().map(Self::Count).map_err(|_| bad()),
        }
    }
}

/// In a rollout document: a count (`3`), or a percentage as a string (`"5%"`).
impl Serialize for FailureTolerance {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Count(n) => serializer.serialize_u64(*n as u64),
            Self::Percent(_) => serializer.serialize_str(&self.to_string()),
        }
    }
}

impl<'de> Deserialize<'de> for FailureTolerance {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Written {
            Count(u64),
            Text(String),
        }
        match Written::deserialize(deserializer)? {
            Written::Count(n) => usize::try_from(n)
                .map(Self::Count)
                .map_err(serde::de::Error::custom),
            Written::Text(text) => text.parse().map_err(serde::de::Error::custom),
        }
    }
}

impl JsonSchema for FailureTolerance {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "FailureTolerance".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "Failures tolerated before no new target starts: a count (3) or a percentage of the targets (\"5%\").",
            "anyOf": [
                { "type": "integer", "minimum": 0 },
                { "type": "string", "pattern": "^([0-9]|[1-9][0-9]|100)%$|^[0-9]+$" }
            ]
        })
    }
}

impl fmt::Display for FailureTolerance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Count(n) => write!(f, "{n}"),
            Self::Percent(p) => write!(f, "{p}%"),
        }
    }
}

/// Why a rollout stopped starting targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    ToleranceExceeded,
    Interrupted,
}

/// Shared between the runner and whoever may interrupt it (a Ctrl-C handler).
#[derive(Debug, Clone, Default)]
pub struct StopSignal(Arc<AtomicU8>);

impl StopSignal {
    pub fn new() -> Self {
        Self::default()
    }

    /// The first reason given wins.
    pub fn stop(&self, reason: StopReason) {
        let code = match reason {
            StopReason::ToleranceExceeded => 1,
            StopReason::Interrupted => 2,
        };
        let _ = self
            .0
            .compare_exchange(0, code, Ordering::SeqCst, Ordering::SeqCst);
    }

    pub fn reason(&self) -> Option<StopReason> {
        match self.0.load(Ordering::SeqCst) {
            1 => Some(StopReason::ToleranceExceeded),
            2 => Some(StopReason::Interrupted),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct RolloutOptions {
    /// Targets in flight at most; with `Pacing::Adaptive`, fewer while the caller is throttled.
    pub concurrency: usize,
    pub pacing: Pacing,
    pub tolerance: FailureTolerance,
    pub drive: DriveOptions,
}

/// One rollout: a spec applied to targets.
#[derive(Debug, Clone, Copy)]
pub struct Rollout<'a> {
    pub spec: &'a RolloutSpec,
    pub run: &'a RunId,
    pub targets: &'a [Target],
    pub options: RolloutOptions,
    /// Targets an earlier attempt of this run may have launched without reporting (a killed
    /// run's "no outcome yet"): each is taken over as a start made again, its operation found on
    /// the stack followed, never launched twice. Every other target starts afresh, one that
    /// failed before included.
    pub lost: &'a BTreeSet<Target>,
}

/// Deploys to every target and returns one outcome per target, in the targets' order.
/// `on_outcome` sees each as it lands (progress bars, logs). One wave: the tolerance is the
/// rollout's, over all its targets.
pub async fn roll_out<A: AssumeRole>(
    assumer: &A,
    rollout: Rollout<'_>,
    clock: &dyn Clock,
    stop: &StopSignal,
    mut on_outcome: impl FnMut(&Outcome),
) -> Vec<Outcome> {
    let total = rollout.targets.len();
    let budget = Budget {
        wave: rollout.options.tolerance,
        wave_size: total,
        overall: rollout.options.tolerance,
        total,
    };
    let limiter = Limiter::new(rollout.options.pacing, rollout.options.concurrency, clock);
    let runner = Runner {
        assumer,
        driver: &Deploying,
        limiter: &limiter,
        clock,
        stop,
    };
    run_wave(runner, rollout, budget, 0, |event| {
        if let WaveEvent::Landed(outcome) = event {
            on_outcome(outcome);
        }
    })
    .await
}

/// What the waves of one rollout share.
struct Runner<'a, A, D> {
    assumer: &'a A,
    driver: &'a D,
    limiter: &'a Limiter<'a>,
    clock: &'a dyn Clock,
    stop: &'a StopSignal,
}

impl<A, D> Clone for Runner<'_, A, D> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<A, D> Copy for Runner<'_, A, D> {}

/// One wave: its targets as many at once as the limiter allows; once its failures (or the
/// rollout's, `failed_before` of them in earlier waves) pass the budget, no new target starts.
async fn run_wave<'r, A: AssumeRole, D: TargetDriver>(
    runner: Runner<'_, A, D>,
    rollout: Rollout<'r>,
    budget: Budget,
    failed_before: usize,
    mut on_event: impl FnMut(WaveEvent<'_>),
) -> Vec<Outcome> {
    let Runner {
        assumer,
        driver,
        limiter,
        clock,
        stop,
    } = runner;
    let assumer = &Paced::new(assumer, limiter);
    let Rollout {
        spec,
        run,
        targets,
        options,
        lost,
    } = rollout;
    let why_stopped = std::sync::Mutex::new(String::new());
    let why_stopped = &why_stopped;
    let mut failed = 0;
    let mut landed: Vec<(usize, Outcome)> = Vec::with_capacity(targets.len());
    let start = |(index, target): (usize, &'r Target)| async move {
        // Checked when the target is about to start, not when it was queued.
        if let Some(reason) = stop.reason() {
            let why = why_stopped.lock().map(|w| w.clone()).unwrap_or_default();
            return (index, not_started(target, reason, &why));
        }
        let job = Job {
            target,
            spec,
            run,
            new_account: false,
        };
        let drive = DriveOptions {
            resumed: lost.contains(target),
            ..options.drive
        };
        (index, driver.drive(assumer, &job, clock, drive).await)
    };
    admit(limiter, targets.iter().enumerate(), start, |admitted| {
        let (index, outcome) = match admitted {
            Admitted::Landed(landed) => landed,
            Admitted::Paced(pace) => return on_event(WaveEvent::Paced(pace)),
        };
        limiter.landed(&outcome.target);
        if outcome.kind() == OutcomeKind::Failed {
            failed += 1;
            if let Some(why) = budget.exceeded(failed, failed_before + failed) {
                if let Ok(mut slot) = why_stopped.lock() {
                    if slot.is_empty() {
                        *slot = why;
                    }
                }
                stop.stop(StopReason::ToleranceExceeded);
            }
        }
        on_event(WaveEvent::Landed(&outcome));
        landed.push((index, outcome));
    })
    .await;
    landed.sort_by_key(|(index, _)| *index);
    landed.into_iter().map(|(_, outcome)| outcome).collect()
}

fn not_started(target: &Target, reason: StopReason, why: &str) -> Outcome {
    let why = match reason {
        StopReason::ToleranceExceeded if why.is_empty() => {
            "not started: failures passed the tolerance".to_owned()
        }
        StopReason::ToleranceExceeded => format!("not started: {why}"),
        StopReason::Interrupted => "not started: the rollout was interrupted".to_owned(),
    };
    Outcome::not_started(target.clone(), why)
}

/// What a rollout in waves reports as it goes.
#[derive(Debug)]
pub enum WaveEvent<'a> {
    /// A wave begins (position from 0).
    Started {
        index: usize,
        wave: &'a Wave,
    },
    Landed(&'a Outcome),
    /// The wave went well; baking for this many seconds, watching the alarms.
    Baking {
        wave: &'a Wave,
        seconds: u64,
    },
    Halted(&'a Halt),
    /// The caller's APIs throttled, and fewer targets are in flight; or that is over.
    Paced(Pace),
}

/// A rollout in waves: the same targets, in the order the waves give.
#[derive(Debug, Clone, Copy)]
pub struct WavedRollout<'a> {
    pub spec: &'a RolloutSpec,
    pub run: &'a RunId,
    pub waves: &'a [Wave],
    pub alarms: &'a [String],
    pub options: RolloutOptions,
    /// As `Rollout::lost`.
    pub lost: &'a BTreeSet<Target>,
}

/// How a rollout in waves ended: every target's outcome (wave by wave), and the halt if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WavesRolled {
    pub outcomes: Vec<Outcome>,
    pub halt: Option<Halt>,
}

/// Runs the waves in order. After each: a halt if its failures passed the budget; otherwise,
/// when there are alarms or a bake, the alarms are read at once and then every
/// `ALARM_LOOK_SECONDS` for the bake; any in ALARM (or missing) halts. After a halt or an
/// interrupt, the targets of later waves are reported not started.
pub async fn roll_out_waves<A: AssumeRole, W: Alarms>(
    assumer: &A,
    alarms: &W,
    rollout: WavedRollout<'_>,
    clock: &dyn Clock,
    stop: &StopSignal,
    on_event: impl FnMut(WaveEvent<'_>),
) -> WavesRolled {
    roll_out_waves_with(assumer, &Deploying, alarms, rollout, clock, stop, on_event).await
}

/// `roll_out_waves`, each target taken to its outcome by `driver` with sessions from `assumer`.
pub async fn roll_out_waves_with<A: AssumeRole, D: TargetDriver, W: Alarms>(
    assumer: &A,
    driver: &D,
    alarms: &W,
    rollout: WavedRollout<'_>,
    clock: &dyn Clock,
    stop: &StopSignal,
    mut on_event: impl FnMut(WaveEvent<'_>),
) -> WavesRolled {
    let total: usize = rollout.waves.iter().map(|w| w.targets.len()).sum();
    let mut outcomes = Vec::with_capacity(total);
    let mut failed_before = 0;
    let mut halt: Option<Halt> = None;
    let limiter = Limiter::new(rollout.options.pacing, rollout.options.concurrency, clock);
    let runner = Runner {
        assumer,
        driver,
        limiter: &limiter,
        clock,
        stop,
    };
    for (index, wave) in rollout.waves.iter().enumerate() {
        let ended = halt
            .as_ref()
            .map(|h| format!("not started: the rollout {h}"))
            .or_else(|| {
                (stop.reason() == Some(StopReason::Interrupted))
                    .then(|| "not started: the rollout was interrupted".to_owned())
            });
        if let Some(why) = ended {
            outcomes.extend(
                wave.targets
                    .iter()
                    .map(|t| Outcome::not_started(t.clone(), why.clone())),
            );
            continue;
        }
        if wave.targets.is_empty() {
            continue;
        }
        on_event(WaveEvent::Started { index, wave });
        let budget = Budget {
            wave: wave.failure_tolerance,
            wave_size: wave.targets.len(),
            overall: rollout.options.tolerance,
            total,
        };
        let one = Rollout {
            spec: rollout.spec,
            run: rollout.run,
            targets: &wave.targets,
            options: rollout.options,
            lost: rollout.lost,
        };
        let landed = run_wave(runner, one, budget, failed_before, &mut on_event).await;
        let failed = landed.iter().filter(|o| o.kind() == OutcomeKind::Failed).count();
        failed_before += failed;
        outcomes.extend(landed);
        let halted = |reason: String| Halt {
            wave: wave.name.clone(),
            wave_index: index,
            reason,
        };
        if let Some(why) = budget.exceeded(failed, failed_before) {
            halt = Some(halted(why));
        } else if stop.reason().is_none() && index + 1 < rollout.waves.len() {
            halt = bake(alarms, rollout.alarms, wave, stop, &mut on_event)
                .await
                .map(halted);
        }
        if let Some(h) = &halt {
            on_event(WaveEvent::Halted(h));
        }
    }
    WavesRolled { outcomes, halt }
}

/// The alarms at once, then through the bake; the reason to halt, if any. An interrupt ends the
/// bake early (within a second) without a halt: the runner reports it.
async fn bake<W: Alarms>(
    alarms: &W,
    names: &[String],
    wave: &Wave,
    stop: &StopSignal,
    on_event: &mut impl FnMut(WaveEvent<'_>),
) -> Option<String> {
    let look = || async {
        if names.is_empty() {
            return None;
        }
        match alarms.states(names).await {
            Ok(states) => alarm_verdict(names, &states),
            Err(error) => Some(format!("the alarms could not be read: {error}")),
        }
    };
    if let Some(why) = look().await {
        return Some(why);
    }
    if wave.bake_seconds == 0 {
        return None;
    }
    on_event(WaveEvent::Baking {
        wave,
        seconds: wave.bake_seconds,
    });
    let mut left = wave.bake_seconds;
    while left > 0 {
        let wait = next_bake_look(left);
        for _ in 0..wait {
            if stop.reason().is_some() {
                return None;
            }
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        }
        left -= wait;
        if let Some(why) = look().await {
            return Some(format!("{why} (during the bake of wave {:?})", wave.name));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tolerance_parses_and_counts() {
        assert_eq!("3".parse(), Ok(FailureTolerance::Count(3)));
        assert_eq!("5%".parse(), Ok(FailureTolerance::Percent(5)));
        assert!("101%".parse::<FailureTolerance>().is_err());
        assert!("-1".parse::<FailureTolerance>().is_err());
        assert!(!FailureTolerance::Count(0).exceeded(0, 10));
        assert!(FailureTolerance::Count(0).exceeded(1, 10));
        assert!(!FailureTolerance::Percent(10).exceeded(10, 100));
        assert!(FailureTolerance::Percent(10).exceeded(11, 100));
    }

    #[test]
    fn the_first_stop_reason_wins() {
        let stop = StopSignal::new();
        assert_eq!(stop.reason(), None);
        stop.stop(StopReason::Interrupted);
        stop.stop(StopReason::ToleranceExceeded);
        assert_eq!(stop.reason(), Some(StopReason::Interrupted));
    }
}
