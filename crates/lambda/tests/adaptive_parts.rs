//! The state machine's concurrency under the caller's throttling (`window::parts`): a worker
//! invocation that STS or the run bucket throttled leaves its tally under the wave, and the Gate
//! runs the next part at a limit lowered by the share of calls throttled, in parts of a few
//! rounds, then climbs back. Played by `Machine` on the fakes and paused time, through the real
//! handlers; tests/statemachine/throttled.test.mjs runs it against moto.

mod support;

use serde_json::json;
use stackfleet_aws::fake::Call;
use stackfleet_core::ports::{all_pages, PortError, RunStore};
use stackfleet_core::run_keys::RunKeys;
use stackfleet_core::window::parts::{Heard, Tally};
use stackfleet_core::wire::gate::GateAction;
use stackfleet_core::{OutcomeKind, RunId, Target};
use support::{account, lone_run, lone_target, start, target, Machine};

/// The throttled markers of wave `wave`, read back.
async fn markers(store: &impl RunStore, run: &RunId, wave: usize) -> Vec<(Target, Heard)> {
    let keys = RunKeys::new(run);
    let prefix = keys.throttled_in_wave(wave);
    let prefix = prefix.as_str();
    let listed = all_pages(|page| async move { store.list(prefix, page.as_deref()).await })
        .await
        .unwrap();
    listed
        .iter()
        .map(|key| {
            let (_, target, heard) = keys.throttled_tally(wave, key).expect("a throttled marker");
            (target, heard)
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn an_invocation_throttled_by_sts_leaves_its_tally_and_a_clean_one_leaves_none() {
    let machine = Machine::new(0);
    let run = lone_run(&machine.cloud, &machine.store, "sts").await;
    let target = lone_target();
    machine.cloud.fail_next(
        &target,
        Call::AssumeRole,
        PortError::Throttled("Rate exceeded".into()),
    );

    let error = machine
        .worker
        .handle(start(&run, &target), u64::MAX)
        .await
        .expect_err("the state machine retries a Throttled");
    assert_eq!(error.name.to_string(), "Throttled");
    let marked = markers(&machine.store, &run, 0).await;
    assert_eq!(marked.len(), 1, "{marked:?}");
    let (marked_target, heard) = marked[0].clone();
    assert_eq!(marked_target, target);
    assert_eq!(
        heard.sts,
        Tally {
            calls: 1,
            throttled: 1
        }
    );
    assert!(heard.bucket.calls > 0 && heard.bucket.throttled == 0, "{heard:?}");

    machine
        .worker
        .handle(start(&run, &target), u64::MAX)
        .await
        .expect("the retried Start goes on");
    assert_eq!(
        markers(&machine.store, &run, 0).await.len(),
        1,
        "no marker without a throttle"
    );
}

#[tokio::test(start_paused = true)]
async fn an_invocation_throttled_by_the_run_bucket_tallies_the_bucket_apart() {
    let machine = Machine::new(0);
    let run = lone_run(&machine.cloud, &machine.store, "bucket").await;
    machine.store.throttle_puts(1);

    let error = machine
        .worker
        .handle(start(&run, &lone_target()), u64::MAX)
        .await
        .expect_err("the state machine retries a Throttled");
    assert_eq!(error.name.to_string(), "Throttled");
    let marked = markers(&machine.store, &run, 0).await;
    assert_eq!(marked.len(), 1, "{marked:?}");
    let heard = marked[0].1;
    assert_eq!(heard.bucket.throttled, 1, "{heard:?}");
    assert_eq!(heard.sts, Tally::default(), "AssumeRole never came: {heard:?}");
}

/// 230 accounts at concurrency 40: a canary of 30 whose every first AssumeRole is throttled,
/// a bake, then the other 200.
#[tokio::test(start_paused = true)]
async fn a_throttled_part_lowers_the_next_parts_limit_and_clean_parts_raise_it_back() {
    let machine = Machine::new(230);
    let canary: Vec<String> = (0..30).map(|n| account(n).to_string()).collect();
    for n in 0..30 {
        machine.cloud.fail_next(
            &target(n),
            Call::AssumeRole,
            PortError::Throttled("Rate exceeded".into()),
        );
    }
    let mut input = support::rollout(&json!([
        {"name": "canary", "accounts": canary, "bakeSeconds": 60},
        {"name": "all", "percent": 100}
    ]));
    input["concurrency"] = json!(40);

    let ended = machine.execute("paced", input).await;

    // The canary at the ceiling; each of its 30 Starts throttled once (the retried Start is not
    // marked, so the share reads as all): halved, through the bake into the next wave, in a
    // part of 4 rounds (80 targets); that part clean: back to 40 for the remaining 120.
    assert_eq!(ended.parts, [(40, 30), (20, 80), (40, 120)]);
    assert_eq!(
        ended.gate_actions,
        [
            GateAction::Deploy,
            GateAction::Bake,
            GateAction::Deploy,
            GateAction::Deploy,
            GateAction::Done
        ]
    );
    let report = machine.report(&ended.reduced).await;
    let failed = report
        .outcomes
        .iter()
        .filter(|outcome| outcome.kind() == OutcomeKind::Failed)
        .count();
    assert_eq!(failed, 0);
    let created = report
        .outcomes
        .iter()
        .filter(|outcome| outcome.kind() == OutcomeKind::Created)
        .count();
    assert_eq!(created, 230, "throttles delay targets, they fail none");
    assert_eq!(markers(&machine.store, &ended.reduced.run, 0).await.len(), 30);
    assert!(markers(&machine.store, &ended.reduced.run, 1).await.is_empty());
}
