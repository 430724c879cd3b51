//! Many targets at once, in one process: bounded concurrency, a failure tolerance that stops new
//! starts once passed, and an interruption that lets what runs finish. What `stackfleet deploy`
//! does; the state machine does the same with a Map state.

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

use futures::stream::{self, StreamExt};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ids::{RunId, Target};
use crate::lifecycle::{run_target, Clock, DriveOptions, Job};
use crate::outcome::{Outcome, OutcomeKind};
use crate::ports::AssumeRole;
use crate::spec::RolloutSpec;

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
    pub concurrency: usize,
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
}

/// Deploys to every target and returns one outcome per target, in the targets' order.
/// `on_outcome` sees each as it lands (progress bars, logs).
pub async fn roll_out<A: AssumeRole>(
    assumer: &A,
    rollout: Rollout<'_>,
    clock: &dyn Clock,
    stop: &StopSignal,
    mut on_outcome: impl FnMut(&Outcome),
) -> Vec<Outcome> {
    let Rollout {
        spec,
        run,
        targets,
        options,
    } = rollout;
    let total = targets.len();
    let mut failed = 0;
    let mut landed: Vec<(usize, Outcome)> = Vec::with_capacity(total);
    let mut running = stream::iter(targets.iter().enumerate())
        .map(|(index, target)| async move {
            // Checked when the target is about to start, not when it was queued.
            if let Some(reason) = stop.reason() {
                return (index, not_started(target, reason, options.tolerance));
            }
            let job = Job {
                target,
                spec,
                run,
                new_account: false,
            };
            (index, run_target(assumer, &job, clock, options.drive).await)
        })
        .buffer_unordered(options.concurrency.max(1));
    while let Some((index, outcome)) = running.next().await {
        if outcome.kind() == OutcomeKind::Failed {
            failed += 1;
            if options.tolerance.exceeded(failed, total) {
                stop.stop(StopReason::ToleranceExceeded);
            }
        }
        on_outcome(&outcome);
        landed.push((index, outcome));
    }
    landed.sort_by_key(|(index, _)| *index);
    landed.into_iter().map(|(_, outcome)| outcome).collect()
}

fn not_started(target: &Target, reason: StopReason, tolerance: FailureTolerance) -> Outcome {
    let why = match reason {
        StopReason::ToleranceExceeded => {
            format!("not started: failures passed the tolerance ({tolerance})")
        }
        StopReason::Interrupted => "not started: the rollout was interrupted".to_owned(),
    };
    Outcome::skipped(target.clone(), why)
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
