//! Throttle-adaptive concurrency on the fakes and paused time: a throttle of the caller's
//! AssumeRole lowers the targets in flight for everybody, and the window climbs back; a throttle
//! of CloudFormation inside one target backs off that target only.

mod sns_rollout;

use sns_rollout::{spec, targets};

use std::cell::RefCell;
use std::time::Duration;

use stackfleet_aws::fake::{Call, FakeCloud, Script};
use stackfleet_core::lifecycle::{DriveOptions, TokioClock};
use stackfleet_core::paced::{Pace, Pacing};
use stackfleet_core::ports::{NoAlarms, PortError};
use stackfleet_core::rollout::{
    roll_out_waves, FailureTolerance, RolloutOptions, StopSignal, WaveEvent, WavedRollout,
};
use stackfleet_core::waves::Wave;
use stackfleet_core::{OutcomeKind, RunId, Target};
use tokio::time::Instant;

const CEILING: usize = 20;

/// What a rollout showed: the window's changes (with the second they came), how many
/// operations ran at each second, and how many targets were not created.
#[derive(Debug, Default)]
struct Watched {
    paces: Vec<(u64, Pace)>,
    running: Vec<usize>,
    failed: usize,
}

impl Watched {
    fn lowerings(&self) -> Vec<(u64, Pace)> {
        self.paces
            .iter()
            .filter(|(_, pace)| matches!(pace, Pace::Lowered { .. }))
            .copied()
            .collect()
    }
}

/// Rolls `targets` out at `CEILING`, counting the operations running once a second.
async fn watch(cloud: &FakeCloud, targets: &[Target], pacing: Pacing) -> Watched {
    let (spec, run): (_, RunId) = (spec(), "paced".parse().unwrap());
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
            concurrency: CEILING,
            pacing,
            tolerance: FailureTolerance::Percent(100),
            drive: DriveOptions::default(),
        },
        lost: &std::collections::BTreeSet::new(),
    };
    let began = Instant::now();
    let paces = RefCell::new(Vec::new());
    let done = RefCell::new(false);
    let rolling = async {
        let rolled = roll_out_waves(
            cloud,
            &NoAlarms,
            rollout,
            &TokioClock::new(),
            &StopSignal::new(),
            |event| {
                if let WaveEvent::Paced(pace) = event {
                    paces.borrow_mut().push((began.elapsed().as_secs(), pace));
                }
            },
        )
        .await;
        *done.borrow_mut() = true;
        rolled
    };
    let sampling = async {
        let mut running = Vec::new();
        while !*done.borrow() {
            running.push(cloud.operations_running());
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        running
    };
    let (rolled, running) = tokio::join!(rolling, sampling);
    Watched {
        paces: paces.into_inner(),
        running,
        failed: rolled
            .outcomes
            .iter()
            .filter(|o| o.kind() != OutcomeKind::Created)
            .count(),
    }
}

/// What the caller's STS saw by the time its quota was lifted.
#[derive(Debug)]
struct Starved {
    /// Targets that had called AssumeRole, whatever the answer.
    begun: usize,
    throttled: usize,
}

/// 100 targets of 120 s each at 20 in flight; the caller's STS lets 20 calls through at once
/// and then one every 20 s, until its quota is lifted at 600 s: starved from the second round
/// of starts (120 s) on.
async fn starved(pacing: Pacing) -> (Watched, Starved) {
    let cloud = FakeCloud::new();
    let targets = targets(100);
    for target in &targets {
        cloud.script(target, [Script::succeed_after(Duration::from_secs(120))]);
    }
    cloud.quota(Call::AssumeRole, 0.05, 20);
    let lifting = async {
        tokio::time::sleep(Duration::from_secs(LIFTED_AT)).await;
        let starved = Starved {
            begun: cloud.targets_calling(Call::AssumeRole),
            throttled: cloud.throttled(Call::AssumeRole),
        };
        cloud.lift_throttles();
        starved
    };
    tokio::join!(watch(&cloud, &targets, pacing), lifting)
}

const LIFTED_AT: u64 = 600;

#[tokio::test(start_paused = true)]
async fn a_throttled_assume_role_lowers_the_targets_in_flight_and_they_climb_back() {
    let (fixed, fixed_sts) = starved(Pacing::Fixed).await;
    let (paced, paced_sts) = starved(Pacing::Adaptive).await;

    assert!(
        fixed.failed > 0,
        "at a fixed 20, targets spend their retries on the caller's quota"
    );
    assert_eq!(paced.failed, 0, "paced, they wait for it: {paced:?}");
    let lowerings = paced.lowerings();
    let Some((
        at,
        Pace::Lowered {
            api: "STS",
            was: CEILING,
            ..
        },
    )) = lowerings.first().copied()
    else {
        panic!("lowered from the ceiling, by STS: {lowerings:?}");
    };
    assert!((120..140).contains(&at), "when the second round began: {at} s");
    let lowest = lowerings.iter().filter_map(|(_, pace)| match pace {
        Pace::Lowered { limit, .. } => Some(*limit),
        Pace::Restored { .. } => None,
    });
    assert!(
        lowest.min().is_some_and(|limit| limit <= CEILING / 2),
        "{lowerings:?}"
    );
    assert!(
        paced_sts.begun < fixed_sts.begun && paced_sts.throttled <= fixed_sts.throttled,
        "fewer targets begun into the throttle, no more calls throttled: {paced_sts:?} against {fixed_sts:?}"
    );
    // Once the quota is lifted, the window is back at the ceiling, and so are the operations.
    assert!(
        matches!(paced.paces.last(), Some((after, Pace::Restored { limit: CEILING })) if *after >= LIFTED_AT),
        "{:?}",
        paced.paces
    );
    let lifted = usize::try_from(LIFTED_AT).unwrap();
    assert!(
        paced.running[lifted..].contains(&CEILING),
        "{:?}",
        &paced.running[lifted..]
    );
}

#[tokio::test(start_paused = true)]
async fn throttled_cloudformation_in_one_target_backs_off_that_target_only() {
    let cloud = FakeCloud::new();
    let targets = targets(60);
    for target in &targets {
        cloud.script(target, [Script::succeed_after(Duration::from_secs(60))]);
    }
    // The first target's CloudFormation throttles its first five DescribeStacks: about 2.5
    // minutes of backoff, within its retries.
    let slow = &targets[0];
    for _ in 0..5 {
        cloud.fail_next(
            slow,
            Call::DescribeStacks,
            PortError::Throttled("Rate exceeded".into()),
        );
    }

    let watched = watch(&cloud, &targets, Pacing::Adaptive).await;

    assert_eq!(watched.failed, 0);
    assert_eq!(watched.paces, [], "the window never moved");
    // The first target waits without a running operation; the others fill the window: the
    // first 60 s run 19 operations, not fewer.
    assert!(
        watched.running[1..55].iter().all(|n| *n == CEILING - 1),
        "{:?}",
        watched.running
    );
}

#[tokio::test(start_paused = true)]
async fn cloudformation_throttled_everywhere_leaves_the_window_alone() {
    let cloud = FakeCloud::new();
    let targets = targets(200);
    cloud.throttle_at_random(
        &[Call::DescribeStacks, Call::CreateStack, Call::DescribeStackEvents],
        0.05,
        7,
    );

    let watched = watch(&cloud, &targets, Pacing::Adaptive).await;

    assert_eq!(watched.failed, 0);
    assert!(
        cloud.throttled(Call::DescribeStacks) > 10,
        "the coin did throttle"
    );
    assert_eq!(
        watched.paces,
        [],
        "each target backed off alone; the window never moved"
    );
}
