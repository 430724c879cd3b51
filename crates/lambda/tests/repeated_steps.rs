//! Discover and the Gate are retried by the state machine when their invocation is throttled,
//! times out or crashes, with the same input: a repeat gives the same answer and leaves the run's
//! records exactly as the first try left them (Discover's run and start time come from the
//! execution, not its clock; the Gate's cursor is its input, and what it records is keyed by
//! target). On the fakes.

mod support;

use std::collections::BTreeMap;

use serde_json::{json, Value};
use stackfleet_aws::fake::{FakeAlarms, FakeStore, ROOT};
use stackfleet_core::wire::gate::{GateAction, GateRequest};
use stackfleet_core::wire::worker::CaughtError;
use stackfleet_core::Target;
use stackfleet_lambda::gate::gate;
use stackfleet_lambda::lister::{list, Discovered, ListerPorts, ListerRequest};
use support::{account, target, Machine, START_TIME, TEMPLATE_URL};

/// Every object of the run bucket, by key.
fn snapshot(store: &FakeStore) -> BTreeMap<String, String> {
    store
        .keys()
        .into_iter()
        .map(|key| (key.clone(), store.object(&key)))
        .collect()
}

/// Four active accounts and a suspended one, listed by hand: a canary wave, the rest after.
fn machine_and_input() -> (Machine, Value) {
    let machine = Machine::new(4);
    machine
        .org
        .add_account(&account(4), "member-4", "SUSPENDED", ROOT);
    let listed: Vec<Target> = (0..5).map(target).collect();
    let input = json!({
        "stackName": "org-baseline",
        "template": {"url": TEMPLATE_URL},
        "targets": {"list": listed},
        "concurrency": 5,
        "failureTolerance": 0,
        "waves": [{"name": "canary", "accounts": [account(1)]}, {"percent": 100}],
    });
    (machine, input)
}

/// Discover as the state machine asks it for the execution "repeat", at `now_ms` by its clock.
async fn discover(machine: &Machine, input: &Value, now_ms: u64) -> Discovered {
    let ports = ListerPorts {
        org: &machine.org,
        validator: &machine.cloud,
        alarms: &FakeAlarms::new(),
        templates: &machine.templates,
        store: &machine.store,
    };
    let request = ListerRequest {
        execution: "repeat".into(),
        start_time: Some(START_TIME.into()),
        input: input.clone(),
    };
    list(ports, &machine.settings, request, now_ms).await.unwrap()
}

#[tokio::test]
async fn a_discover_repeated_a_minute_later_answers_the_same_and_writes_nothing_different() {
    let (machine, input) = machine_and_input();
    let first = discover(&machine, &input, 1_000).await;
    let written = snapshot(&machine.store);

    let repeated = discover(&machine, &input, 61_000).await;

    assert_eq!(repeated, first);
    assert_eq!(
        (first.targets, first.waves, first.skipped),
        (4, 2, 1),
        "{first:?}"
    );
    assert!(
        written.keys().any(|key| key.contains("/outcomes/")),
        "the suspended account's Skipped outcome is among the records: {:?}",
        written.keys()
    );
    assert_eq!(snapshot(&machine.store), written);
}

#[tokio::test]
async fn a_gate_repeated_after_a_lost_part_answers_the_same_and_records_each_lost_target_once() {
    let (machine, input) = machine_and_input();
    let run = discover(&machine, &input, 1_000).await.run;
    let deployed = gate(
        &machine.store,
        &machine.alarms,
        GateRequest {
            run: run.clone(),
            cursor: None,
            map_error: None,
        },
        2_000,
    )
    .await
    .unwrap();
    assert_eq!(
        (deployed.action, deployed.items.clone()),
        (GateAction::Deploy, vec![target(1)])
    );
    // The Deploy Map run failed before its child wrote an outcome: the Gate records it lost.
    let after_part = GateRequest {
        run,
        cursor: deployed.cursor.clone(),
        map_error: Some(CaughtError {
            error: "States.ItemReaderFailed".into(),
            cause: "the Map run failed".into(),
        }),
    };
    let first = gate(&machine.store, &machine.alarms, after_part.clone(), 3_000)
        .await
        .unwrap();
    let written = snapshot(&machine.store);

    let repeated = gate(&machine.store, &machine.alarms, after_part, 3_000)
        .await
        .unwrap();

    assert_eq!(
        first.action,
        GateAction::Halt,
        "the lost canary is past a tolerance of 0"
    );
    assert_eq!(repeated, first, "the cursor did not move on");
    let lost: Vec<&String> = written
        .keys()
        .filter(|key| key.contains(&format!("outcomes/{}", account(1))))
        .collect();
    assert_eq!(lost.len(), 1, "{:?}", written.keys());
    assert_eq!(snapshot(&machine.store), written);
}
