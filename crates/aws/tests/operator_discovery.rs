//! What `stackfleet start` reports after starting an execution: Discover's verdict, waited for
//! on paused time, and the fields the machine accepts when it refuses the input.

use std::time::Duration;

use stackfleet_aws::fake::FakeExecutions;
use stackfleet_core::started::{accepted_fields, await_discovery, Discovery, ACCEPT_TAG, INPUT_FIELDS_TAG};

const MACHINE: &str = "arn:aws:states:us-east-1:111111111111:stateMachine:stackfleet";
const PATIENCE: Duration = Duration::from_secs(120);
const STEP: Duration = Duration::from_secs(2);

#[tokio::test(start_paused = true)]
async fn discover_s_counts_are_reported_once_it_has_listed() {
    let executions = FakeExecutions::new();
    let arn = executions.add(MACHINE, "run-1", "{}");
    let later = executions.clone();
    let lister = arn.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(7)).await;
        later.exit_state(
            &lister,
            "Discover",
            r#"{"run":"run-1","targets":412,"waves":3,"skipped":2}"#,
        );
    });
    let began = tokio::time::Instant::now();
    let verdict = await_discovery(&executions, &arn, PATIENCE, STEP).await.unwrap();
    assert_eq!(
        verdict,
        Discovery::Listed {
            targets: 412,
            waves: 3,
            skipped: 2
        }
    );
    assert!(began.elapsed() < Duration::from_secs(10), "{:?}", began.elapsed());
}

#[tokio::test(start_paused = true)]
async fn a_refusal_comes_back_with_its_cause_and_what_the_machine_accepts() {
    let executions = FakeExecutions::new();
    let arn = executions.add(MACHINE, "run-2", "{}");
    let cause = "the execution input may not change parameters.SamlMetadataDocument: ...";
    executions.fail(&arn, "InvalidInput", Some(cause));
    let verdict = await_discovery(&executions, &arn, PATIENCE, STEP).await.unwrap();
    assert_eq!(
        verdict,
        Discovery::Refused {
            error: "InvalidInput".into(),
            cause: cause.into()
        }
    );

    assert_eq!(
        accepted_fields(&executions, MACHINE).await,
        None,
        "no tags: nothing claimed"
    );
    executions.set_tag(
        MACHINE,
        INPUT_FIELDS_TAG,
        "targets concurrency failureTolerance waves",
    );
    let accepted = accepted_fields(&executions, MACHINE).await.unwrap();
    assert!(
        accepted.starts_with("changes to targets, concurrency, failureTolerance, waves (and resume, alarms)"),
        "{accepted}"
    );
    executions.set_tag(MACHINE, INPUT_FIELDS_TAG, "all-fields");
    assert!(accepted_fields(&executions, MACHINE)
        .await
        .unwrap()
        .contains("any field"));
    executions.set_tag(MACHINE, INPUT_FIELDS_TAG, " ");
    assert_eq!(
        accepted_fields(&executions, MACHINE).await.unwrap(),
        "no change to its default spec"
    );
    executions.set_tag(MACHINE, ACCEPT_TAG, "new-account");
    assert!(accepted_fields(&executions, MACHINE)
        .await
        .unwrap()
        .contains("new-account events only"));
}

#[tokio::test(start_paused = true)]
async fn an_execution_that_already_succeeded_is_no_wait() {
    let executions = FakeExecutions::new();
    let arn = executions.add(MACHINE, "run-4", "{}");
    executions.finish(&arn, stackfleet_core::executions::Status::Succeeded, Some("{}"));
    let began = tokio::time::Instant::now();
    assert_eq!(
        await_discovery(&executions, &arn, PATIENCE, STEP).await.unwrap(),
        Discovery::Finished
    );
    assert_eq!(began.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn a_slow_discover_is_left_to_watch_after_the_patience() {
    let executions = FakeExecutions::new();
    let arn = executions.add(MACHINE, "run-3", "{}");
    let began = tokio::time::Instant::now();
    assert_eq!(
        await_discovery(&executions, &arn, PATIENCE, STEP).await.unwrap(),
        Discovery::Pending
    );
    assert!(began.elapsed() >= PATIENCE && began.elapsed() < PATIENCE + STEP * 2);
}
