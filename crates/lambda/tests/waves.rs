//! The serverless path's waves, through the real handlers on the fakes and paused time: the
//! state machine's loop (Gate; the Deploy Map's children: Start, Poll, RecordFailure; Bake;
//! Reduce) played by `Machine` exactly as statemachine.asl.json sequences it. The same
//! scenarios run end to end on moto in tests/statemachine.

mod support;

use std::time::Duration;

use serde_json::json;
use stackfleet_aws::fake::{Call, FakeCloud, Script};
use stackfleet_core::lifecycle::Clock;
use stackfleet_core::waves::AlarmState;
use stackfleet_core::wire::gate::GateAction;
use stackfleet_core::{Outcome, OutcomeKind, Target};
use support::{account, rollout, target, Machine};

fn failing(cloud: &FakeCloud, target: &Target) {
    cloud.script(
        target,
        [Script::fail_after(
            Duration::from_secs(30),
            "Role",
            "AWS::IAM::Role",
            "Role with name X already exists",
        )],
    );
}

#[tokio::test(start_paused = true)]
async fn a_canary_failure_halts_before_any_other_wave_and_a_resume_finishes_the_rest() {
    let machine = Machine::new(20);
    failing(&machine.cloud, &target(3));
    let waves = json!([
        {"name": "canary", "accounts": [account(3), account(4)], "bakeSeconds": 600},
        {"percent": 40},
        {"percent": 100}
    ]);
    let halted = machine.execute("first", rollout(&waves)).await;

    let halt = halted.reduced.halt.clone().expect("halted");
    assert_eq!(halt.wave, "canary");
    assert!(
        halted.reduced.cause.contains("halted at wave \"canary\""),
        "{}",
        halted.reduced.cause
    );
    assert_eq!(
        halted.gate_actions,
        [GateAction::Deploy, GateAction::Halt],
        "no bake, no second wave"
    );
    for n in (0..20).filter(|n| ![3, 4].contains(n)) {
        assert!(!machine.touched(&target(n)), "{} was touched", target(n));
    }
    let report = machine.report(&halted.reduced).await;
    // The canary's other target ran or not, by its order in the wave: past the tolerance (0),
    // no new target starts, in the wave or after it.
    let s = report.summary;
    assert_eq!(
        (s.total, s.failed, s.created + s.skipped),
        (21, 1, 20),
        "20 members and the management account"
    );
    let management: Target = "999999999999:us-east-1".parse().unwrap();
    let skipped = report
        .outcomes
        .iter()
        .filter(|o| o.kind() == OutcomeKind::Skipped && o.target != management);
    assert!(
        skipped.clone().all(Outcome::wants_rerun),
        "not started, so re-run"
    );
    assert!(skipped.count() >= 18);

    // The fix: the next create in that account succeeds. The resume keeps the waves and
    // deploys the 19 targets without a success, from the canary on.
    machine
        .cloud
        .script(&target(3), [Script::succeed_after(Duration::from_secs(30))]);
    let input = machine.resume_input(&halted.reduced).await;
    let resumed = machine.execute("resume", input).await;
    assert_eq!(resumed.reduced.halt, None);
    let s = resumed.reduced.summary;
    assert_eq!(
        (s.total, s.created, s.failed, s.skipped),
        (21, 20, 0, 1),
        "the whole rollout in one report"
    );
    assert!(
        machine
            .cloud
            .operations(&target(4))
            .iter()
            .filter(|c| **c == Call::CreateStack)
            .count()
            == 1,
        "created once"
    );
    let waves = machine.report(&resumed.reduced).await.waves;
    assert_eq!(
        waves.iter().map(|w| w.name.as_str()).collect::<Vec<_>>(),
        ["canary", "wave 2", "wave 3"]
    );
    assert!(
        waves[0].targets.contains(&target(3)),
        "the canary's unfinished targets only"
    );
    assert_eq!(
        waves[1].targets.len() + waves[2].targets.len(),
        18,
        "the later waves as assigned"
    );
}

#[tokio::test(start_paused = true)]
async fn past_a_waves_tolerance_no_new_target_starts_and_the_rest_are_not_started() {
    let machine = Machine::new(20);
    let waves = json!([{"count": 10, "failureTolerance": 1}, {"percent": 100}]);
    // Every target fails: the second failure passes the first wave's tolerance.
    for n in 0..20 {
        failing(&machine.cloud, &target(n));
    }
    let mut input = rollout(&waves);
    input["failureTolerance"] = json!("100%");
    let ended = machine.execute("tolerance", input).await;
    let halt = ended.reduced.halt.expect("halted");
    assert!(
        halt.reason
            .contains("2 of 10 targets failed in the wave (1 tolerated)"),
        "{}",
        halt.reason
    );
    let s = ended.reduced.summary;
    assert_eq!(
        (s.failed, s.skipped),
        (2, 19),
        "8 of the wave not started, 10 of the next, the management account"
    );
    let touched = (0..20).filter(|n| machine.touched(&target(*n))).count();
    assert_eq!(touched, 2);
}

#[tokio::test(start_paused = true)]
async fn an_alarm_that_fires_during_the_bake_halts_after_it() {
    let machine = Machine::new(20);
    machine.alarms.put_alarm("errors", AlarmState::Ok);
    let mut input = rollout(&json!([{"name": "first", "count": 5, "bakeSeconds": 300}, {"percent": 100}]));
    input["alarms"] = json!(["errors"]);
    let alarms = machine.alarms.clone();
    let started = machine.clock.now_ms();
    let fire = tokio::spawn(async move {
        // Five creates of 30 s, one at a time, then two minutes into the bake.
        tokio::time::sleep(Duration::from_secs(5 * 30 + 120)).await;
        alarms.set_state("errors", AlarmState::Alarm);
    });
    let ended = machine.execute("alarm", input).await;
    fire.await.unwrap();
    let halt = ended.reduced.halt.expect("halted");
    assert!(
        halt.reason
            .contains("alarm in ALARM: errors (during the bake of wave \"first\")"),
        "{}",
        halt.reason
    );
    let baked_ms = machine.clock.now_ms() - started;
    assert!(
        baked_ms < (5 * 30 + 300) * 1000,
        "halted before the bake's end: {baked_ms} ms"
    );
    assert_eq!(ended.reduced.summary.created, 5);
    assert_eq!(
        ended.reduced.summary.skipped, 16,
        "15 not started, and the management account"
    );
    assert!(ended.gate_actions.contains(&GateAction::Bake));

    // A quiet alarm lets the rollout through after the whole bake.
    let quiet = Machine::new(10);
    quiet.alarms.put_alarm("errors", AlarmState::Ok);
    let mut input = rollout(&json!([{"count": 5, "bakeSeconds": 300}, {"percent": 100}]));
    input["alarms"] = json!(["errors"]);
    let began = quiet.clock.now_ms();
    let ended = quiet.execute("quiet", input).await;
    assert_eq!((ended.reduced.halt, ended.reduced.summary.created), (None, 10));
    assert!(
        quiet.clock.now_ms() - began >= (10 * 30 + 300) * 1000,
        "the bake was waited out"
    );

    // A misspelt alarm is refused before anything is touched.
    let mut input = rollout(&json!([{"count": 5}]));
    input["alarms"] = json!(["erors"]);
    let refused = quiet.discover("typo", input).await.unwrap_err();
    assert!(
        refused.message.contains("not found in CloudWatch: erors"),
        "{refused}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_child_that_ends_without_an_outcome_is_recorded_failed_and_reported() {
    let mut machine = Machine::new(6);
    machine.aborted = vec![target(2)];
    let input = rollout(&json!([{"count": 3, "failureTolerance": "100%"}, {"percent": 100}]));
    let mut input = input;
    input["failureTolerance"] = json!("100%");
    let ended = machine.execute("aborted", input).await;
    let report = machine.report(&ended.reduced).await;
    let lost = report.outcomes.iter().find(|o| o.target == target(2)).unwrap();
    assert_eq!(lost.kind(), OutcomeKind::Failed);
    assert!(
        lost.failure()
            .unwrap()
            .root_cause
            .reason
            .contains("child execution"),
        "{lost:?}"
    );
    assert_eq!(
        (ended.reduced.summary.created, ended.reduced.summary.failed),
        (5, 1)
    );
}
