//! Which run's records the operator commands read for an execution: its own (the lister's
//! mapping, `run_ids::of_execution`), never those of an earlier execution of the same name,
//! which Step Functions lets a name be used again for after 90 days.

use stackfleet_aws::fake::{FakeExecutions, FakeStore};
use stackfleet_core::executions::Execution;
use stackfleet_core::operator;
use stackfleet_core::ports::RunStore;
use stackfleet_core::run_ids;
use stackfleet_core::run_keys::RunKeys;
use stackfleet_core::RunId;

const MACHINE: &str = "arn:aws:states:us-east-1:111111111111:stateMachine:stackfleet";
const NINETY_DAYS_MS: u64 = 90 * 24 * 3600 * 1000;

/// `accounts` failed markers in wave 0 of `run`.
async fn failed(store: &FakeStore, run: &RunId, accounts: &[&str]) {
    let keys = RunKeys::new(run);
    for account in accounts {
        let marker = format!("{}{account}-us-east-1", keys.failed_in_wave(0));
        store.put(&marker, String::new(), "text/plain").await.unwrap();
    }
}

fn running(sfn: &FakeExecutions, name: &str) -> Execution {
    let arn = sfn.add(MACHINE, name, "{}");
    sfn.executions().into_iter().find(|e| e.arn == arn).unwrap()
}

#[test]
fn an_execution_maps_to_its_name_and_start_as_the_lister_maps_it() {
    let sfn = FakeExecutions::new();
    let execution = running(&sfn, "nightly");
    // What Discover is given: $$.Execution.Name and $$.Execution.StartTime.
    let start_time = run_ids::start_time_text(execution.started_at_ms);
    let listed = run_ids::of_execution(&execution.name, run_ids::start_time_ms(&start_time).unwrap());
    assert_eq!(execution.run(), listed);
    assert!(
        execution.run().as_str().starts_with("nightly-2023"),
        "{}",
        execution.run()
    );
}

#[tokio::test]
async fn a_reused_name_reads_only_its_own_run() {
    let sfn = FakeExecutions::new();
    let store = FakeStore::new();
    let now = running(&sfn, "nightly");
    let before = run_ids::of_execution("nightly", now.started_at_ms - NINETY_DAYS_MS);
    failed(&store, &before, &["111111111111", "222222222222"]).await;
    failed(&store, &now.run(), &["333333333333"]).await;

    let status = operator::status(&sfn, Some(&store), &now.arn).await.unwrap();
    assert_eq!(status.run, now.run());
    assert_eq!(
        status.failed,
        Some(1),
        "the earlier execution's two failures are not this one's"
    );
}

#[tokio::test]
async fn an_older_run_named_after_the_execution_alone_is_not_this_ones() {
    let sfn = FakeExecutions::new();
    let store = FakeStore::new();
    let execution = running(&sfn, "nightly");
    // 90 days ago a stackfleet that named runs after the execution alone ran one of this name.
    let legacy: RunId = "nightly".parse().unwrap();
    failed(&store, &legacy, &["111111111111", "222222222222"]).await;

    let status = operator::status(&sfn, Some(&store), &execution.arn)
        .await
        .unwrap();
    assert_eq!(status.run, execution.run());
    assert_eq!(status.failed, Some(0));
}
