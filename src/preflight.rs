//! `deploy --preflight`: every target checked before anything starts, as `plan` checks it (a
//! change set made and deleted, named IAM resources looked up), at the rollout's concurrency.
//! `strict` starts nothing when a target is blocked; `skip-blocked` deploys the others.

use std::collections::BTreeSet;

use aws_config::SdkConfig;
use stackfleet_aws::StsAssumer;
use stackfleet_core::escape::terminal_line;
use stackfleet_core::outcome::Outcome;
use stackfleet_core::plan::{group_blockers, preflight_all, BlockerGroup, Preflight};
use stackfleet_core::report::targets_count;
use stackfleet_core::spec::RolloutSpec;
use stackfleet_core::waves::Wave;
use stackfleet_core::{RunId, Target};

use crate::cli::PreflightMode;
use crate::output::list_targets;
use crate::progress::Progress;

/// What the pre-flight leaves a deploy: the outcomes it decided, and the waves still to run.
#[derive(Debug)]
pub struct Checked {
    /// Blocked targets (Failed, NeedsAttention); under `strict` with any blocked, every other
    /// target too (not started, for a re-run to deploy).
    pub decided: Vec<Outcome>,
    pub waves: Vec<Wave>,
    /// `strict` found a blocked target: the run must end non-zero, having started nothing.
    pub refused: bool,
}

/// The blocker groups, as `plan` prints them.
pub fn print_blocked(groups: &[BlockerGroup]) {
    for group in groups {
        eprintln!("  {}", terminal_line(&group.headline()));
        eprintln!("      {}", list_targets(&group.targets));
    }
}

pub async fn check(
    mode: PreflightMode,
    config: &SdkConfig,
    spec: &RolloutSpec,
    run: &RunId,
    waves: Vec<Wave>,
    concurrency: usize,
    no_progress: bool,
) -> Checked {
    let targets: Vec<Target> = waves.iter().flat_map(|w| w.targets.clone()).collect();
    if mode == PreflightMode::Off || targets.is_empty() {
        return Checked {
            decided: Vec::new(),
            waves,
            refused: false,
        };
    }
    eprintln!(
        "stackfleet: pre-flight of {} (a change set made and deleted in each, named IAM \
         resources looked up): nothing is changed",
        targets_count(targets.len())
    );
    let mut progress = Progress::new(targets.len(), "pre-flight", no_progress);
    let assumer = StsAssumer::new(config);
    let checked = preflight_all(&assumer, spec, run, &targets, concurrency, |_| progress.tick()).await;
    progress.finish();
    let blocked: Vec<&Preflight> = checked.iter().filter(|p| p.is_blocked()).collect();
    if blocked.is_empty() {
        eprintln!("stackfleet: pre-flight: no target is blocked");
        return Checked {
            decided: Vec::new(),
            waves,
            refused: false,
        };
    }
    let groups = group_blockers(blocked.iter().map(|p| (&p.target, p.blockers.as_slice())));
    let mut decided: Vec<Outcome> = blocked.iter().filter_map(|p| p.outcome()).collect();
    let blocked_targets: BTreeSet<&Target> = blocked.iter().map(|p| &p.target).collect();
    let refused = mode == PreflightMode::Strict;
    if refused {
        eprintln!(
            "stackfleet: pre-flight blocked {}: nothing is started (--preflight strict):",
            targets_count(blocked.len())
        );
        print_blocked(&groups);
        let reason = format!(
            "not started: the pre-flight blocked {} (--preflight strict)",
            targets_count(blocked.len())
        );
        decided.extend(
            targets
                .iter()
                .filter(|t| !blocked_targets.contains(t))
                .map(|t| Outcome::not_started(t.clone(), reason.clone())),
        );
        let waves = waves
            .into_iter()
            .map(|wave| Wave {
                targets: Vec::new(),
                ..wave
            })
            .collect();
        return Checked {
            decided,
            waves,
            refused,
        };
    }
    eprintln!(
        "stackfleet: pre-flight blocked {}, reported failed (NeedsAttention) and not deployed; \
         the others are (--preflight skip-blocked):",
        targets_count(blocked.len())
    );
    print_blocked(&groups);
    let waves = waves
        .into_iter()
        .map(|wave| Wave {
            targets: wave
                .targets
                .iter()
                .filter(|t| !blocked_targets.contains(t))
                .cloned()
                .collect(),
            ..wave
        })
        .collect();
    Checked {
        decided,
        waves,
        refused,
    }
}
