//! Reduce writes the fleet's stack outputs next to the report: outputs.json, `{account: {region:
//! {key: value}}}`, of every target that succeeded, and names it in its answer for `stackfleet
//! outputs`. Played by `Machine` on the fakes (which show the outputs a test sets once a stack is
//! complete); tests/statemachine/e2e.test.mjs reads it back from moto.

mod support;

use serde_json::json;
use stackfleet_core::OutcomeKind;
use support::{rollout, target, Machine};

#[tokio::test(start_paused = true)]
async fn reduce_writes_the_outputs_of_every_successful_target() {
    let machine = Machine::new(3);
    for n in 0..2 {
        let arn = format!("arn:aws:iam::{}:role/reader", target(n).account);
        machine
            .cloud
            .set_outputs(&target(n), "org-baseline", [("RoleArn", arn.as_str())]);
    }
    let ended = machine
        .execute("outputs", rollout(&json!([{"name": "all", "percent": 100}])))
        .await;

    let report = machine.report(&ended.reduced).await;
    let created = report
        .outcomes
        .iter()
        .filter(|o| o.kind() == OutcomeKind::Created)
        .count();
    assert_eq!(created, 3);
    let key = &ended.reduced.outputs_key;
    assert!(key.ends_with("/outputs.json"), "{key}");
    let written: serde_json::Value = serde_json::from_str(&machine.store.object(key)).unwrap();
    let role = |n: u64| format!("arn:aws:iam::{}:role/reader", target(n).account);
    assert_eq!(
        written,
        json!({
            target(0).account.to_string(): {"us-east-1": {"RoleArn": role(0)}},
            target(1).account.to_string(): {"us-east-1": {"RoleArn": role(1)}},
        }),
        "the third stack has no outputs"
    );
}
