//! The parallel runner on the fakes and paused time: concurrency, tolerance, interruption.

mod sns_rollout;

use sns_rollout::{spec, targets};

use std::time::Duration;

use stackfleet_aws::fake::{Call, FakeCloud, Script};
use stackfleet_core::lifecycle::{DriveOptions, TokioClock};
use stackfleet_core::paced::Pacing;
use stackfleet_core::rollout::{roll_out, FailureTolerance, Rollout, RolloutOptions, StopReason, StopSignal};
use stackfleet_core::{OutcomeKind, RunId};

fn options(concurrency: usize, tolerance: FailureTolerance) -> RolloutOptions {
    RolloutOptions {
        concurrency,
        pacing: Pacing::Adaptive,
        tolerance,
        drive: DriveOptions::default(),
    }
}

fn kinds(outcomes: &[stackfleet_core::Outcome]) -> Vec<OutcomeKind> {
    outcomes.iter().map(|o| o.kind()).collect()
}

#[tokio::test(start_paused = true)]
async fn a_thousand_ten_minute_targets_at_concurrency_100_take_a_hundred_minutes() {
    let cloud = FakeCloud::new();
    let targets = targets(1000);
    for target in &targets {
        cloud.script(target, [Script::succeed_after(Duration::from_secs(600))]);
    }
    let (spec, run): (_, RunId) = (spec(), "wide".parse().unwrap());
    let clock = TokioClock::new();
    let start = tokio::time::Instant::now();
    let rollout = Rollout {
        spec: &spec,
        run: &run,
        targets: &targets,
        options: options(100, FailureTolerance::Count(0)),
        lost: &std::collections::BTreeSet::new(),
    };

    let outcomes = roll_out(&cloud, rollout, &clock, &StopSignal::new(), |_| {}).await;

    assert_eq!(outcomes.len(), 1000);
    assert!(outcomes.iter().all(|o| o.kind() == OutcomeKind::Created));
    assert_eq!(
        outcomes.iter().map(|o| &o.target).collect::<Vec<_>>(),
        targets.iter().collect::<Vec<_>>(),
        "in the targets' order"
    );
    let makespan = start.elapsed();
    // Ten waves of 100; each target also waits out its last 10 s poll interval.
    assert!(
        makespan >= Duration::from_secs(6000) && makespan <= Duration::from_secs(6200),
        "{makespan:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn past_the_tolerance_nothing_new_starts() {
    let cloud = FakeCloud::new();
    let targets = targets(10);
    for target in &targets[2..4] {
        cloud.script(
            target,
            [Script::fail_after(
                Duration::from_secs(60),
                "Topic",
                "AWS::SNS::Topic",
                "quota",
            )],
        );
    }
    let (spec, run): (_, RunId) = (spec(), "careful".parse().unwrap());
    let rollout = Rollout {
        spec: &spec,
        run: &run,
        targets: &targets,
        options: options(1, FailureTolerance::Count(1)),
        lost: &std::collections::BTreeSet::new(),
    };
    let stop = StopSignal::new();

    let outcomes = roll_out(&cloud, rollout, &TokioClock::new(), &stop, |_| {}).await;

    use OutcomeKind::{Created, Failed, Skipped};
    assert_eq!(
        kinds(&outcomes),
        [Created, Created, Failed, Failed, Skipped, Skipped, Skipped, Skipped, Skipped, Skipped]
    );
    assert_eq!(stop.reason(), Some(StopReason::ToleranceExceeded));
    assert!(outcomes[4]
        .skipped_reason()
        .unwrap()
        .contains("2 of 10 targets failed in the wave (1 tolerated)"));
    assert_eq!(
        cloud.count(Call::AssumeRole),
        4,
        "skipped targets cost no AWS call"
    );
}

#[tokio::test(start_paused = true)]
async fn an_interrupt_lets_the_targets_in_flight_finish_and_starts_nothing_new() {
    let cloud = FakeCloud::new();
    let targets = targets(6);
    for target in &targets {
        cloud.script(target, [Script::succeed_after(Duration::from_secs(600))]);
    }
    let (spec, run): (_, RunId) = (spec(), "interrupted".parse().unwrap());
    let rollout = Rollout {
        spec: &spec,
        run: &run,
        targets: &targets,
        options: options(2, FailureTolerance::Count(0)),
        lost: &std::collections::BTreeSet::new(),
    };
    let stop = StopSignal::new();
    let interrupt = stop.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(300)).await;
        interrupt.stop(StopReason::Interrupted);
    });

    let mut landed = Vec::new();
    let outcomes = roll_out(&cloud, rollout, &TokioClock::new(), &stop, |o| {
        landed.push(o.kind());
    })
    .await;

    use OutcomeKind::{Created, Skipped};
    assert_eq!(
        kinds(&outcomes),
        [Created, Created, Skipped, Skipped, Skipped, Skipped]
    );
    assert_eq!(landed.len(), 6, "progress saw every outcome");
    assert_eq!(
        outcomes[2].skipped_reason(),
        Some("not started: the rollout was interrupted")
    );
}
