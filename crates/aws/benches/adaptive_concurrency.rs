//! Throttle-adaptive concurrency on the fakes, on a paused clock: 5,000 accounts x 2 regions
//! (10,000 targets), operations of 30 to 300 s (seeded), the caller's STS throttled and 5% of
//! CloudFormation calls throttled in each target, at a fixed concurrency and at an adaptive one
//! (`Pacing::Adaptive`) under the same ceiling. Three kinds of caller throttling:
//!
//! - `coin 20%`: a fifth of AssumeRole calls, whatever the load (a seeded coin): the issue's
//!   scenario;
//! - `quota 10/s`: the caller's STS quota as AWS keeps one, a token bucket (200 calls, refilled
//!   at 10 a second): the more calls, the more throttles. The fixed run loses about a fifth of
//!   its AssumeRole calls to it, in the burst of its first 1,000 starts;
//! - `quota 4/s`: a bucket refilled slower than the steady demand (about 6 starts a second at
//!   1,000 in flight): no schedule keeps 1,000 in flight.
//!
//! Printed: makespan against the ideal (greedy list scheduling of the durations in target order
//! at the ceiling, nothing throttled; under a quota, also with each start taking a token),
//! AWS calls per target against the minimum (the same rollout with nothing throttled), the
//! share of calls throttled, targets that failed (their retries spent), and how low the window
//! went.

#[path = "shared/schedule.rs"]
mod schedule;

use schedule::{durations, list_schedule};

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use std::time::Duration;

use stackfleet_aws::fake::{Call, FakeCloud, Script};
use stackfleet_core::lifecycle::{DriveOptions, TokioClock};
use stackfleet_core::paced::{Pace, Pacing};
use stackfleet_core::ports::NoAlarms;
use stackfleet_core::rollout::{
    roll_out_waves, FailureTolerance, RolloutOptions, StopSignal, WaveEvent, WavedRollout,
};
use stackfleet_core::spec::{TemplateBody, TemplateSource};
use stackfleet_core::waves::Wave;
use stackfleet_core::{OutcomeKind, RolloutSpec, RunId, Target};

const ACCOUNTS: usize = 5000;
const REGIONS: [&str; 2] = ["us-east-1", "eu-west-1"];
const CONCURRENCY: usize = 1000;
const SEED: u64 = 0x5eed_f1ee7;
/// Share of AssumeRole calls the `coin` throttles.
const CALLER_COIN: f64 = 0.20;
/// Share of each target's CloudFormation calls throttled, in every scenario but `none`.
const CLOUDFORMATION_COIN: f64 = 0.05;
/// The caller's STS quota: the burst the bucket holds.
const QUOTA_BURST: u32 = 200;

const STACK_CALLS: [Call; 5] = [
    Call::DescribeStacks,
    Call::CreateStack,
    Call::UpdateStack,
    Call::DescribeStackEvents,
    Call::DeleteStack,
];

/// `list_schedule`, each start also taking a token from a bucket of `burst` refilled at
/// `per_second`: a lower bound under the quota, for a schedule that knew the quota.
fn quota_schedule(jobs: &[u64], machines: usize, per_second: f64, burst: u32) -> u64 {
    let mut free_at: BinaryHeap<Reverse<u64>> = (0..machines).map(|_| Reverse(0)).collect();
    let (mut tokens, mut filled_at, mut makespan) = (f64::from(burst), 0.0_f64, 0);
    for job in jobs {
        let Reverse(free) = free_at.pop().unwrap_or(Reverse(0));
        let mut start = (free as f64).max(filled_at);
        tokens = (tokens + (start - filled_at) * per_second).min(f64::from(burst));
        if tokens < 1.0 {
            start += (1.0 - tokens) / per_second;
            tokens = 1.0;
        }
        tokens -= 1.0;
        filled_at = start;
        let end = start.ceil() as u64 + job;
        makespan = makespan.max(end);
        free_at.push(Reverse(end));
    }
    makespan
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Caller {
    None,
    Coin,
    Quota(f64),
}

impl Caller {
    fn name(self) -> String {
        match self {
            Self::None => "none".into(),
            Self::Coin => format!("coin {:.0}%", CALLER_COIN * 100.0),
            Self::Quota(per_second) => format!("quota {per_second}/s"),
        }
    }
}

struct Figures {
    makespan: u64,
    calls_per_target: f64,
    caller_throttled: f64,
    cloudformation_throttled: f64,
    failed: usize,
    lowest: usize,
    lowered: usize,
    wall: Duration,
}

fn simulate(caller: Caller, pacing: Pacing, targets: &[Target], seconds: &[u64]) -> Figures {
    let wall = std::time::Instant::now();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let cloud = FakeCloud::new();
        for (target, duration) in targets.iter().zip(seconds) {
            cloud.script(target, [Script::succeed_after(Duration::from_secs(*duration))]);
        }
        match caller {
            Caller::None => {}
            Caller::Coin => cloud.throttle_at_random(&[Call::AssumeRole], CALLER_COIN, SEED),
            Caller::Quota(per_second) => cloud.quota(Call::AssumeRole, per_second, QUOTA_BURST),
        }
        if caller != Caller::None {
            // One coin serves every call; seeding it again before any call changes nothing.
            cloud.throttle_at_random(&STACK_CALLS, CLOUDFORMATION_COIN, SEED);
        }
        let body = TemplateBody::parse(r#"{"Resources":{"Topic":{"Type":"AWS::SNS::Topic"}}}"#.into())
            .expect("template");
        let spec = RolloutSpec::new("bench".parse().expect("name"), TemplateSource::Body(body));
        let run: RunId = "bench".parse().expect("run");
        let waves = [Wave {
            name: "all".into(),
            bake_seconds: 0,
            failure_tolerance: FailureTolerance::Percent(100),
            targets: targets.to_vec(),
        }];
        let rollout = WavedRollout {
            spec: &spec,
            run: &run,
            waves: &waves,
            alarms: &[],
            options: RolloutOptions {
                concurrency: CONCURRENCY,
                pacing,
                tolerance: FailureTolerance::Percent(100),
                drive: DriveOptions::default(),
            },
            lost: &std::collections::BTreeSet::new(),
        };
        let mut lowest = CONCURRENCY;
        let mut lowered = 0;
        let started = tokio::time::Instant::now();
        let rolled = roll_out_waves(
            &cloud,
            &NoAlarms,
            rollout,
            &TokioClock::new(),
            &StopSignal::new(),
            |event| {
                if let WaveEvent::Paced(Pace::Lowered { limit, .. }) = event {
                    lowest = lowest.min(limit);
                    lowered += 1;
                }
            },
        )
        .await;
        let makespan = started.elapsed().as_secs();
        let outcomes = rolled.outcomes;
        let made: u64 = outcomes.iter().map(|o| u64::from(o.aws_calls)).sum();
        let stack_calls: usize = STACK_CALLS.iter().map(|c| cloud.count(*c)).sum();
        let stack_throttled: usize = STACK_CALLS.iter().map(|c| cloud.throttled(*c)).sum();
        Figures {
            makespan,
            calls_per_target: made as f64 / outcomes.len() as f64,
            caller_throttled: cloud.throttled(Call::AssumeRole) as f64
                / cloud.count(Call::AssumeRole).max(1) as f64,
            cloudformation_throttled: stack_throttled as f64 / stack_calls.max(1) as f64,
            failed: outcomes
                .iter()
                .filter(|o| o.kind() == OutcomeKind::Failed)
                .count(),
            lowest,
            lowered,
            wall: wall.elapsed(),
        }
    })
}

fn main() {
    let targets: Vec<Target> = (1..=ACCOUNTS)
        .flat_map(|n| REGIONS.map(|region| format!("{n:012}:{region}")))
        .map(|text| text.parse().expect("target"))
        .collect();
    let seconds = durations(SEED, targets.len());
    let ideal = list_schedule(&seconds, CONCURRENCY);
    println!(
        "\nadaptive concurrency: {ACCOUNTS} accounts x {} regions, operations 30-300 s (seed {SEED:#x}), \
         concurrency {CONCURRENCY}, poll interval 10 s, paused clock; CloudFormation: {:.0}% of each \
         target's calls throttled; the caller's AssumeRole: `coin` throttles {:.0}% whatever the \
         load, `quota` is a token bucket of {QUOTA_BURST} calls refilled at the rate shown",
        REGIONS.len(),
        CLOUDFORMATION_COIN * 100.0,
        CALLER_COIN * 100.0,
    );
    let unthrottled = simulate(Caller::None, Pacing::Fixed, &targets, &seconds);
    let minimum = unthrottled.calls_per_target;
    println!(
        "| caller throttling | concurrency | makespan | ideal | ratio | ideal under the quota | AWS calls/target \
         | minimum | ratio | AssumeRole throttled | CloudFormation throttled | failed | lowest window (lowerings) \
         | wall time |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    let row = |caller: Caller, pacing: Pacing, f: &Figures| {
        let window = match pacing {
            Pacing::Fixed => "-".to_owned(),
            Pacing::Adaptive => format!("{} ({})", f.lowest, f.lowered),
        };
        let under_quota = match caller {
            Caller::Quota(per_second) => {
                format!(
                    "{} s",
                    quota_schedule(&seconds, CONCURRENCY, per_second, QUOTA_BURST)
                )
            }
            Caller::None | Caller::Coin => "-".into(),
        };
        println!(
            "| {} | {} | {} s | {ideal} s | {:.3} | {under_quota} | {:.2} | {minimum:.2} | {:.3} | {:.1}% | {:.1}% | {} | {window} | {:.1} s |",
            caller.name(),
            match pacing {
                Pacing::Fixed => "fixed",
                Pacing::Adaptive => "adaptive",
            },
            f.makespan,
            f.makespan as f64 / ideal as f64,
            f.calls_per_target,
            f.calls_per_target / minimum,
            f.caller_throttled * 100.0,
            f.cloudformation_throttled * 100.0,
            f.failed,
            f.wall.as_secs_f64(),
        );
    };
    row(Caller::None, Pacing::Fixed, &unthrottled);
    for caller in [Caller::Coin, Caller::Quota(10.0), Caller::Quota(4.0)] {
        for pacing in [Pacing::Fixed, Pacing::Adaptive] {
            row(caller, pacing, &simulate(caller, pacing, &targets, &seconds));
        }
    }
}
