//! An execution name used again (Step Functions allows it 90 days after an execution closed;
//! run records are kept longer) is another run: its records go under another prefix, and its
//! report holds only its own outcomes.

mod support;

use std::time::Duration;

use serde_json::json;
use stackfleet_aws::fake::{FakeAlarms, FakeCloud, FakeStore};
use stackfleet_core::run_keys::RunKeys;
use stackfleet_core::{ErrorName, OutcomeKind, RunId};
use stackfleet_lambda::error::LambdaError;
use stackfleet_lambda::lister::{list, ListerPorts, ListerRequest};
use support::{account, open_settings, rollout, target, templates, Machine};

const NINETY_ONE_DAYS: Duration = Duration::from_secs(91 * 24 * 3600);

fn under(store: &FakeStore, run: &RunId) -> Vec<String> {
    let prefix = format!("runs/{run}/");
    store
        .keys()
        .into_iter()
        .filter(|k| k.starts_with(&prefix))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_name_used_again_is_a_new_run_whose_records_never_mix_with_the_old() {
    let machine = Machine::new(3);
    machine.cloud.deny_role(&account(2));
    let mut input = rollout(&json!([]));
    input["failureTolerance"] = json!("100%");
    let first = machine.execute("nightly", input.clone()).await;
    assert_eq!(
        (first.reduced.summary.created, first.reduced.summary.failed),
        (2, 1)
    );
    let first_report = machine.store.object(&first.reduced.report_key);

    // 91 days on, the same name runs again, for accounts 0 and 1 only.
    tokio::time::advance(NINETY_ONE_DAYS).await;
    input["targets"] = json!({"accounts": [account(0), account(1)], "regions": ["us-east-1"]});
    let second = machine.execute("nightly", input).await;

    let (old, new) = (&first.reduced.run, &second.reduced.run);
    assert_ne!(old, new, "another run ID");
    assert!(old.as_str().starts_with("nightly-") && new.as_str().starts_with("nightly-"));
    let old_keys = under(&machine.store, old);
    let new_keys = under(&machine.store, new);
    assert!(!old_keys.is_empty() && !new_keys.is_empty());
    assert!(
        new_keys.iter().all(|k| !old_keys.contains(k)),
        "no record is shared: {new_keys:?}"
    );

    // The new report holds its two targets, both updated; the old failure is not among them.
    let report = machine.report(&second.reduced).await;
    let kinds: Vec<(String, OutcomeKind)> = report
        .outcomes
        .iter()
        .map(|o| (o.target.to_string(), o.kind()))
        .collect();
    assert_eq!(
        kinds,
        [
            (target(0).to_string(), OutcomeKind::Unchanged),
            (target(1).to_string(), OutcomeKind::Unchanged)
        ]
    );
    assert_eq!(second.reduced.summary.failed, 0);
    assert_eq!(second.reduced.resume_input_key, None, "nothing to re-run");
    assert!(
        under(&machine.store, new)
            .iter()
            .all(|k| !k.starts_with(&RunKeys::new(new).failed())),
        "no failed marker for `stackfleet status` to count"
    );
    // And the old run's report is as it was written.
    assert_eq!(machine.store.object(&first.reduced.report_key), first_report);
}

async fn discover(store: &FakeStore, start_time: Option<&str>) -> Result<RunId, LambdaError> {
    let (org, cloud) = (Machine::new(1).org, FakeCloud::new());
    let ports = ListerPorts {
        org: &org,
        validator: &cloud,
        alarms: &FakeAlarms::new(),
        templates: &templates(),
        store,
    };
    let request = ListerRequest {
        execution: "nightly".into(),
        start_time: start_time.map(str::to_owned),
        input: rollout(&json!([])),
    };
    let discovered = list(ports, &open_settings(json!({})), request, 1_000).await?;
    Ok(discovered.run)
}

#[tokio::test(start_paused = true)]
async fn a_definition_without_the_start_time_keeps_the_name_as_the_run() {
    let store = FakeStore::new();
    let run = discover(&store, None).await.unwrap();
    assert_eq!(
        run.as_str(),
        "nightly",
        "as before run IDs carried the start time"
    );
}

#[tokio::test(start_paused = true)]
async fn a_start_time_that_is_not_a_time_is_refused_before_anything_is_written() {
    let store = FakeStore::new();
    let error = discover(&store, Some("yesterday")).await.unwrap_err();
    assert_eq!(error.name, ErrorName::InvalidInput);
    assert_eq!(
        error.message,
        "startTime: \"yesterday\" is not an RFC 3339 time; the state machine passes $$.Execution.StartTime"
    );
    assert!(store.keys().is_empty(), "{:?}", store.keys());
}
