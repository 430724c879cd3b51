//! Simulated time: 1,000 targets whose operations take 30 to 300 s (seeded), rolled out on the
//! fakes with tokio's clock paused, at concurrency 1,000 and 100. Prints the makespan against the
//! ideal (the longest operation at full concurrency; greedy list scheduling in target order at
//! 100), and AWS calls per target against the minimum (assume + describe + the operation + one
//! describe per poll interval the operation spans).

#[path = "shared/schedule.rs"]
mod schedule;

use schedule::{durations, list_schedule};

use std::time::Duration;

use stackfleet_aws::fake::{FakeCloud, Script};
use stackfleet_core::lifecycle::{DriveOptions, TokioClock};
use stackfleet_core::paced::Pacing;
use stackfleet_core::rollout::{roll_out, FailureTolerance, Rollout, RolloutOptions, StopSignal};
use stackfleet_core::spec::{TemplateBody, TemplateSource};
use stackfleet_core::{OutcomeKind, RolloutSpec, RunId, Target};

const TARGETS: usize = 1000;
const SEED: u64 = 0x5eed_f1ee7;

struct Figures {
    makespan: Duration,
    ideal: u64,
    calls_per_target: f64,
    minimum_calls_per_target: f64,
}

fn simulate(concurrency: usize, seconds: &[u64]) -> Figures {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let cloud = FakeCloud::new();
        let targets: Vec<Target> = (1..=seconds.len())
            .map(|n| format!("{n:012}:us-east-1").parse().expect("target"))
            .collect();
        for (target, duration) in targets.iter().zip(seconds) {
            cloud.script(target, [Script::succeed_after(Duration::from_secs(*duration))]);
        }
        let body = TemplateBody::parse(r#"{"Resources":{"Topic":{"Type":"AWS::SNS::Topic"}}}"#.into())
            .expect("template");
        let spec = RolloutSpec::new("bench".parse().expect("name"), TemplateSource::Body(body));
        let run: RunId = "bench".parse().expect("run");
        let options = RolloutOptions {
            concurrency,
            pacing: Pacing::Adaptive,
            tolerance: FailureTolerance::Count(0),
            drive: DriveOptions::default(),
        };
        let rollout = Rollout {
            spec: &spec,
            run: &run,
            targets: &targets,
            options,
            lost: &std::collections::BTreeSet::new(),
        };
        let started = tokio::time::Instant::now();
        let outcomes = roll_out(&cloud, rollout, &TokioClock::new(), &StopSignal::new(), |_| {}).await;
        let makespan = started.elapsed();
        assert!(
            outcomes.iter().all(|o| o.kind() == OutcomeKind::Created),
            "every simulated target succeeds"
        );
        let poll = spec.poll_interval_seconds;
        let minimum: u64 = seconds.iter().map(|d| 3 + d.div_ceil(poll)).sum();
        let made: u64 = outcomes.iter().map(|o| u64::from(o.aws_calls)).sum();
        let ideal = if concurrency >= seconds.len() {
            *seconds.iter().max().unwrap_or(&0)
        } else {
            list_schedule(seconds, concurrency)
        };
        Figures {
            makespan,
            ideal,
            calls_per_target: made as f64 / seconds.len() as f64,
            minimum_calls_per_target: minimum as f64 / seconds.len() as f64,
        }
    })
}

fn main() {
    let seconds = durations(SEED, TARGETS);
    println!("\nsimulated: {TARGETS} targets, operations 30-300 s (seed {SEED:#x}), poll interval 10 s, paused clock");
    println!("| concurrency | makespan | ideal | ratio | AWS calls/target | minimum | wall time |");
    println!("|---|---|---|---|---|---|---|");
    for concurrency in [1000, 100] {
        let wall = std::time::Instant::now();
        let f = simulate(concurrency, &seconds);
        println!(
            "| {concurrency} | {} s | {} s | {:.3} | {:.2} | {:.2} | {:.2} s |",
            f.makespan.as_secs(),
            f.ideal,
            f.makespan.as_secs_f64() / f.ideal as f64,
            f.calls_per_target,
            f.minimum_calls_per_target,
            wall.elapsed().as_secs_f64()
        );
    }
}
