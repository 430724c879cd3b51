//! Waves on the fakes and paused time, as `stackfleet deploy` runs them: canaries first, a halt
//! that leaves later waves untouched, wave and rollout tolerances, alarms through a bake, and a
//! resume or a re-run from the halted report.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use stackfleet_aws::fake::{Call, FakeAlarms, FakeCloud, Script};
use stackfleet_core::lifecycle::{DriveOptions, TokioClock};
use stackfleet_core::paced::Pacing;
use stackfleet_core::report::Report;
use stackfleet_core::rollout::{
    roll_out_waves, FailureTolerance, RolloutOptions, StopSignal, WaveEvent, WavedRollout, WavesRolled,
};
use stackfleet_core::spec::{TemplateBody, TemplateSource};
use stackfleet_core::stack::StackStatus;
use stackfleet_core::waves::{assign, remaining, AlarmState, Wave, WaveSpec};
use stackfleet_core::{AccountId, OutcomeKind, RolloutSpec, RunId, Target};
use tokio::sync::Notify;
use tokio::time::Instant;

const STACK: &str = "org-baseline";

fn spec() -> RolloutSpec {
    let body = TemplateBody::parse(r#"{"Resources":{"Topic":{"Type":"AWS::SNS::Topic"}}}"#.into()).unwrap();
    RolloutSpec::new(STACK.parse().unwrap(), TemplateSource::Body(body))
}

fn targets(count: u64) -> Vec<Target> {
    (1..=count)
        .map(|n| format!("{n:012}:eu-west-1").parse().unwrap())
        .collect()
}

fn canary(accounts: &[&Target], bake_seconds: u64) -> WaveSpec {
    WaveSpec {
        name: Some("canary".into()),
        accounts: accounts.iter().map(|t| t.account.clone()).collect(),
        bake_seconds: Some(bake_seconds),
        failure_tolerance: Some(FailureTolerance::Count(0)),
        ..WaveSpec::default()
    }
}

fn sized(name: &str, count: usize, tolerance: Option<FailureTolerance>) -> WaveSpec {
    WaveSpec {
        name: Some(name.into()),
        count: Some(count),
        failure_tolerance: tolerance,
        ..WaveSpec::default()
    }
}

/// The waves as `deploy` assigns them: each canary's accounts chosen.
fn waves(specs: &[WaveSpec], overall: FailureTolerance, targets: &[Target]) -> Vec<Wave> {
    let chosen: Vec<BTreeSet<AccountId>> = specs
        .iter()
        .map(|s| s.accounts.iter().cloned().collect())
        .collect();
    assign(specs, &chosen, overall, targets)
}

fn quota() -> Script {
    Script::fail_after(
        Duration::from_secs(60),
        "Topic",
        "AWS::SNS::Topic",
        "quota exceeded",
    )
}

/// What the runner said, with the virtual time of each saying; `baking` is told when a bake
/// begins.
#[derive(Debug, Default, Clone)]
struct Heard {
    said: Arc<Mutex<Vec<(Instant, String)>>>,
    baking: Arc<Notify>,
}

impl Heard {
    fn push(&self, line: String) {
        if line.starts_with("bake") {
            self.baking.notify_one();
        }
        self.said.lock().unwrap().push((Instant::now(), line));
    }

    fn lines(&self) -> Vec<String> {
        self.said.lock().unwrap().iter().map(|(_, l)| l.clone()).collect()
    }

    fn when(&self, prefix: &str) -> Instant {
        self.said
            .lock()
            .unwrap()
            .iter()
            .find(|(_, l)| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("never heard {prefix:?}"))
            .0
    }
}

/// One rollout of `waves`, one target at a time, watching the alarms `names`.
async fn roll_with(
    cloud: &FakeCloud,
    (alarms, names): (&FakeAlarms, &[&str]),
    waves: &[Wave],
    overall: FailureTolerance,
    run: &str,
    heard: &Heard,
) -> WavesRolled {
    let (spec, run): (_, RunId) = (spec(), run.parse().unwrap());
    let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    let rollout = WavedRollout {
        spec: &spec,
        run: &run,
        waves,
        alarms: &names,
        options: RolloutOptions {
            concurrency: 1,
            pacing: Pacing::Adaptive,
            tolerance: overall,
            drive: DriveOptions::default(),
        },
        lost: &std::collections::BTreeSet::new(),
    };
    roll_out_waves(
        cloud,
        alarms,
        rollout,
        &TokioClock::new(),
        &StopSignal::new(),
        |event| {
            heard.push(match event {
                WaveEvent::Started { wave, .. } => format!("start {}", wave.name),
                WaveEvent::Landed(outcome) => format!("landed {} {}", outcome.target, outcome.kind()),
                WaveEvent::Baking { wave, seconds } => format!("bake {} {seconds}", wave.name),
                WaveEvent::Halted(halt) => format!("halt {}", halt.wave),
                WaveEvent::Paced(pace) => pace.to_string(),
            });
        },
    )
    .await
}

/// One rollout of `waves` without alarms, and what it said.
async fn roll(
    cloud: &FakeCloud,
    waves: &[Wave],
    overall: FailureTolerance,
    run: &str,
) -> (WavesRolled, Heard) {
    let heard = Heard::default();
    let rolled = roll_with(cloud, (&FakeAlarms::new(), &[]), waves, overall, run, &heard).await;
    (rolled, heard)
}

/// One rollout of `waves` watching alarm `errors`.
async fn roll_watching(
    cloud: &FakeCloud,
    alarms: &FakeAlarms,
    waves: &[Wave],
    run: &str,
    heard: &Heard,
) -> WavesRolled {
    roll_with(
        cloud,
        (alarms, &["errors"]),
        waves,
        FailureTolerance::Count(0),
        run,
        heard,
    )
    .await
}

fn sizes(waves: &[Wave]) -> Vec<(&str, usize)> {
    waves.iter().map(|w| (w.name.as_str(), w.targets.len())).collect()
}

/// The JSON report `deploy` writes of a rollout, read back.
fn report_of(run: &str, rolled: WavesRolled, waves: &[Wave]) -> Report {
    let (run, stack) = (run.parse().unwrap(), STACK.parse().unwrap());
    let report =
        Report::new(run, stack, 0, 1, false, rolled.outcomes).with_waves(waves.to_vec(), rolled.halt);
    Report::from_json(&serde_json::to_string(&report).unwrap()).unwrap()
}

fn kind_of(rolled: &WavesRolled, target: &Target) -> OutcomeKind {
    rolled
        .outcomes
        .iter()
        .find(|o| &o.target == target)
        .map(|o| o.kind())
        .unwrap()
}

/// A canary of two, a wave of three, the rest (five); the canary's second target (one at a
/// time) fails to create.
fn canary_fails() -> (FakeCloud, Vec<Target>, Vec<Wave>) {
    let cloud = FakeCloud::new();
    let all = targets(10);
    let specs = [canary(&[&all[3], &all[7]], 0), sized("wave 2", 3, None)];
    let waves = waves(&specs, FailureTolerance::Percent(50), &all);
    cloud.script(&waves[0].targets[1], [quota()]);
    (cloud, all, waves)
}

#[tokio::test(start_paused = true)]
async fn a_failing_canary_halts_and_no_target_beyond_the_canary_is_touched() {
    let (cloud, all, waves) = canary_fails();
    assert_eq!(sizes(&waves), [("canary", 2), ("wave 2", 3), ("rest", 5)]);
    let canaries: BTreeSet<&Target> = waves[0].targets.iter().collect();
    assert_eq!(
        canaries,
        BTreeSet::from([&all[3], &all[7]]),
        "the canary's accounts"
    );

    let (rolled, heard) = roll(&cloud, &waves, FailureTolerance::Percent(50), "canary-1").await;

    let halt = rolled.halt.as_ref().expect("halted");
    assert_eq!((halt.wave.as_str(), halt.wave_index), ("canary", 0));
    assert!(
        halt.reason
            .contains("1 of 2 targets failed in the wave (0 tolerated)"),
        "{halt}"
    );
    assert_eq!(kind_of(&rolled, &waves[0].targets[0]), OutcomeKind::Created);
    assert_eq!(kind_of(&rolled, &waves[0].targets[1]), OutcomeKind::Failed);
    assert_eq!(rolled.outcomes.len(), 10, "every target is reported");
    for later in waves[1..].iter().flat_map(|w| &w.targets) {
        let outcome = rolled.outcomes.iter().find(|o| &o.target == later).unwrap();
        assert!(outcome.wants_rerun(), "{outcome:?}");
        assert!(
            outcome
                .skipped_reason()
                .unwrap()
                .contains("halted at wave \"canary\""),
            "{outcome:?}"
        );
        assert!(cloud.operations(later).is_empty(), "{later} was touched");
        assert_eq!(cloud.stack_status(later, STACK), None);
    }
    assert_eq!(
        cloud.count(Call::AssumeRole),
        2,
        "only the canary's targets were entered"
    );
    assert_eq!(heard.lines().iter().filter(|l| l.starts_with("start")).count(), 1);
    assert!(heard.lines().contains(&"halt canary".to_owned()));
}

#[tokio::test(start_paused = true)]
async fn a_wave_halts_on_its_own_tolerance_or_on_the_rollouts() {
    let all = targets(10);
    let specs = [
        sized("first", 4, Some(FailureTolerance::Count(2))),
        sized("second", 4, None),
    ];
    let overall = FailureTolerance::Count(3);
    let waves = waves(&specs, overall, &all);
    assert_eq!(waves.len(), 3);
    assert_eq!(
        waves[1].failure_tolerance, overall,
        "a wave's default is the rollout's"
    );

    // Two failures in the first wave: within its 2 and the rollout's 3, so the second wave runs;
    // two more there are 4 in all: past the rollout's 3, though within the wave's own.
    let cloud = FakeCloud::new();
    for target in waves[0].targets[..2].iter().chain(&waves[1].targets[..2]) {
        cloud.script(target, [quota()]);
    }
    let (rolled, _) = roll(&cloud, &waves, overall, "tolerance-1").await;
    let halt = rolled.halt.expect("halted by the rollout's tolerance");
    assert_eq!(halt.wave, "second");
    assert!(
        halt.reason
            .contains("4 of 10 targets failed in the rollout (3 tolerated)"),
        "{}",
        halt.reason
    );
    for target in &waves[2].targets {
        assert!(
            cloud.operations(target).is_empty(),
            "the last wave was not started"
        );
    }

    // Three failures in the first wave: past its own 2, within the rollout's 3: halts there.
    let cloud = FakeCloud::new();
    for target in &waves[0].targets[..3] {
        cloud.script(target, [quota()]);
    }
    let (rolled, _) = roll(&cloud, &waves, overall, "tolerance-2").await;
    let halt = rolled.halt.expect("halted by the wave's tolerance");
    assert_eq!(halt.wave, "first");
    assert!(
        halt.reason
            .contains("3 of 4 targets failed in the wave (2 tolerated)"),
        "{}",
        halt.reason
    );
    assert_eq!(
        cloud.count(Call::AssumeRole),
        3,
        "the third failure stops new starts in the wave"
    );
}

/// A canary with a bake of `bake` seconds watching alarm `errors`, then two more waves.
fn baked(bake: u64) -> (FakeCloud, Vec<Wave>) {
    let all = targets(6);
    let specs = [canary(&[&all[0]], bake), sized("wave 2", 2, None)];
    (FakeCloud::new(), waves(&specs, FailureTolerance::Count(0), &all))
}

#[tokio::test(start_paused = true)]
async fn an_alarm_that_fires_during_the_bake_halts_the_rollout_after_it() {
    let (cloud, waves) = baked(600);
    let alarms = FakeAlarms::new();
    alarms.put_alarm("errors", AlarmState::Ok);
    let heard = Heard::default();
    // The alarm fires 150 s into the bake, as a regression would show in the metrics.
    let firing = {
        let (alarms, heard) = (alarms.clone(), heard.clone());
        tokio::spawn(async move {
            heard.baking.notified().await;
            tokio::time::sleep(Duration::from_secs(150)).await;
            alarms.set_state("errors", AlarmState::Alarm);
        })
    };

    let rolled = roll_watching(&cloud, &alarms, &waves, "alarm-1", &heard).await;
    firing.await.unwrap();

    let halt = rolled.halt.clone().expect("halted by the alarm");
    assert_eq!(halt.wave, "canary");
    assert!(halt.reason.contains("alarm in ALARM: errors"), "{}", halt.reason);
    assert!(halt.reason.contains("during the bake"), "{}", halt.reason);
    let noticed = heard.when("halt canary") - heard.when("bake canary");
    assert_eq!(
        noticed,
        Duration::from_secs(180),
        "seen at the first look after it fired"
    );
    assert_eq!(kind_of(&rolled, &waves[0].targets[0]), OutcomeKind::Created);
    for target in waves[1..].iter().flat_map(|w| &w.targets) {
        assert!(cloud.operations(target).is_empty());
    }
}

#[tokio::test(start_paused = true)]
async fn a_quiet_bake_lasts_its_seconds_and_the_rollout_goes_on() {
    let (cloud, waves) = baked(300);
    let alarms = FakeAlarms::new();
    alarms.put_alarm("errors", AlarmState::Ok);
    let heard = Heard::default();

    let rolled = roll_watching(&cloud, &alarms, &waves, "quiet-1", &heard).await;

    assert_eq!(rolled.halt, None);
    assert!(rolled.outcomes.iter().all(|o| o.kind() == OutcomeKind::Created));
    assert_eq!(
        heard.when("start wave 2") - heard.when("bake canary"),
        Duration::from_secs(300),
        "the bake took bakeSeconds"
    );
    // At once after the canary, every 60 s of its bake, and at once after wave 2 (no bake).
    assert_eq!(alarms.calls(), 1 + 5 + 1);
}

#[tokio::test(start_paused = true)]
async fn resuming_from_the_halted_report_finishes_the_rest_wave_by_wave() {
    let (cloud, _all, waves) = canary_fails();
    let overall = FailureTolerance::Percent(50);
    let (halted, _) = roll(&cloud, &waves, overall, "resumed-1").await;
    let report = report_of("resumed-1", halted, &waves);

    // The cause is fixed: the failed canary's next operations succeed (the fake's default).
    let left = remaining(
        &report.recorded_waves(FailureTolerance::default()),
        &report.succeeded(),
    );
    assert_eq!(sizes(&left), [("canary", 1), ("wave 2", 3), ("rest", 5)]);
    let (resumed, heard) = roll(&cloud, &left, overall, "resumed-1").await;

    assert_eq!(resumed.halt, None);
    assert_eq!(resumed.outcomes.len(), 9);
    assert!(
        resumed.outcomes.iter().all(|o| o.kind().is_success()),
        "{:?}",
        resumed.outcomes
    );
    let (succeeded, failed) = (&waves[0].targets[0], &waves[0].targets[1]);
    assert_eq!(
        cloud.operations(failed),
        [Call::CreateStack, Call::DeleteStack, Call::CreateStack],
        "the rolled-back canary is recreated"
    );
    assert_eq!(
        cloud.operations(succeeded),
        [Call::CreateStack],
        "a success is left alone"
    );
    let starts: Vec<String> = heard
        .lines()
        .into_iter()
        .filter(|l| l.starts_with("start"))
        .collect();
    assert_eq!(starts, ["start canary", "start wave 2", "start rest"]);
    for target in waves.iter().flat_map(|w| &w.targets) {
        assert_eq!(
            cloud.stack_status(target, STACK),
            Some(StackStatus::CreateComplete),
            "{target}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_rerun_deploys_the_failed_and_the_not_started_targets() {
    // No written waves: one wave; the tolerance stops new starts at the first failure.
    let cloud = FakeCloud::new();
    let all = targets(6);
    let waves = waves(&[], FailureTolerance::Count(0), &all);
    cloud.script(&all[2], [quota()]);
    let (stopped, _) = roll(&cloud, &waves, FailureTolerance::Count(0), "first-1").await;
    let kinds: Vec<OutcomeKind> = stopped.outcomes.iter().map(|o| o.kind()).collect();
    use OutcomeKind::{Created, Failed, Skipped};
    assert_eq!(kinds, [Created, Created, Failed, Skipped, Skipped, Skipped]);
    let report = report_of("first-1", stopped, &waves);

    let rerun: BTreeSet<Target> = report.rerun_targets().into_iter().collect();
    assert_eq!(
        rerun,
        all[2..].iter().cloned().collect(),
        "the failed one and the three not started"
    );
    let others: BTreeSet<Target> = all.iter().filter(|t| !rerun.contains(*t)).cloned().collect();
    let (again, _) = roll(
        &cloud,
        &remaining(&report.recorded_waves(FailureTolerance::default()), &others),
        FailureTolerance::Count(0),
        "second-1",
    )
    .await;

    assert_eq!(again.outcomes.len(), 4);
    assert!(
        again.outcomes.iter().all(|o| o.kind() == Created),
        "{:?}",
        again.outcomes
    );
    for target in &all {
        assert_eq!(
            cloud.stack_status(target, STACK),
            Some(StackStatus::CreateComplete),
            "{target}"
        );
    }
}
