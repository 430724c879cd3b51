//! The operator commands' decisions (core's `operator`) on the in-memory Step Functions and run
//! store: what a re-submitted start, a re-run, `status`, `report` and `outputs` do for each way
//! an execution can stand. What the SDK adapter itself does is in operator_mocks.rs.

use serde_json::{json, Value};
use stackfleet_aws::fake::{FakeExecutions, FakeStore};
use stackfleet_core::executions::{ItemCounts, Status};
use stackfleet_core::operator::{self, OperatorError, REDUCE_STATE};
use stackfleet_core::ports::RunStore;
use stackfleet_core::report::Report;
use stackfleet_core::run_keys::RunKeys;
use stackfleet_core::{Outcome, RunId};

const MACHINE: &str = "arn:aws:states:us-east-1:111111111111:stateMachine:stackfleet";
/// A run halted at its canary: its resume input is at runs/deploy-2026-11-21-1/resume-input.json.
const REDUCER_OUTPUT: &str = include_str!("../../../tests/fixtures/reducer-output.json");

/// The resume input Reduce wrote for REDUCER_OUTPUT's run.
fn resume_input() -> Value {
    let mut document = input();
    document["resume"] = json!("deploy-2026-11-21-1");
    document
}

/// The run bucket with that resume input in it.
async fn bucket_with_resume_input() -> FakeStore {
    let store = FakeStore::new();
    store
        .put(
            "runs/deploy-2026-11-21-1/resume-input.json",
            resume_input().to_string(),
            "application/json",
        )
        .await
        .unwrap();
    store
}

fn input() -> Value {
    json!({
        "stackName": "org-baseline",
        "template": { "url": "https://templates.s3.amazonaws.com/baseline.yaml" },
        "targets": { "ous": ["ou-ab12-cdef3456"], "regions": ["us-east-1"] }
    })
}

fn name_of_input() -> String {
    operator::execution_name(&"org-baseline".parse().unwrap(), &input())
}

fn refusal(error: OperatorError) -> String {
    match error {
        OperatorError::Refused(message) => message,
        OperatorError::Aws(error) => panic!("expected a refusal, got {error:?}"),
    }
}

/// An execution that ran its targets, failed some beyond tolerance, and failed after Reduce.
fn failed_after_reduce(sfn: &FakeExecutions, name: &str) -> String {
    let arn = sfn.add(MACHINE, name, &input().to_string());
    sfn.exit_state(&arn, REDUCE_STATE, REDUCER_OUTPUT);
    sfn.fail(&arn, "TargetsFailed", Some("1 of 2 targets failed"));
    arn
}

#[tokio::test]
async fn a_first_start_starts_the_execution_named_after_its_input() {
    let sfn = FakeExecutions::new();
    let submitted = operator::submit(&sfn, MACHINE, &name_of_input(), &input())
        .await
        .unwrap();
    assert_eq!(submitted.existing, None);
    let starts = sfn.starts();
    assert_eq!(starts.len(), 1);
    assert_eq!(starts[0].name, name_of_input());
    assert_eq!(serde_json::from_str::<Value>(&starts[0].input).unwrap(), input());
    assert_eq!(sfn.executions()[0].arn, submitted.arn);
}

#[tokio::test]
async fn a_resubmitted_start_while_running_or_succeeded_starts_nothing() {
    for status in [Status::Running, Status::Succeeded] {
        let sfn = FakeExecutions::new();
        let first = operator::submit(&sfn, MACHINE, &name_of_input(), &input())
            .await
            .unwrap();
        if status == Status::Succeeded {
            sfn.finish(&first.arn, Status::Succeeded, Some(REDUCER_OUTPUT));
        }
        let retry = operator::submit(&sfn, MACHINE, &name_of_input(), &input())
            .await
            .unwrap();
        assert_eq!(retry.arn, first.arn, "{status}");
        assert_eq!(retry.existing.map(|e| e.status), Some(status.clone()));
        assert_eq!(sfn.starts().len(), 1, "{status}: nothing new started");
    }
}

#[tokio::test]
async fn a_resubmitted_start_that_ended_badly_is_refused_with_the_rerun_hint() {
    for status in [Status::Failed, Status::Aborted, Status::TimedOut] {
        let sfn = FakeExecutions::new();
        let arn = sfn.add(MACHINE, &name_of_input(), &input().to_string());
        sfn.finish(&arn, status.clone(), None);
        let message = refusal(
            operator::submit(&sfn, MACHINE, &name_of_input(), &input())
                .await
                .unwrap_err(),
        );
        assert!(
            message.contains(&format!("already ran with this input and ended {status}")),
            "{message}"
        );
        assert!(message.contains(&format!("stackfleet rerun {arn}")), "{message}");
        assert!(sfn.starts().is_empty(), "{status}: nothing started");
    }
}

#[tokio::test]
async fn two_submits_racing_end_with_one_execution() {
    let sfn = FakeExecutions::new();
    let (name, input) = (name_of_input(), input());
    // Both look before either starts: one begins the execution, the other finds it taken.
    let (a, b) = tokio::join!(
        operator::submit(&sfn, MACHINE, &name, &input),
        operator::submit(&sfn, MACHINE, &name, &input),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.arn, b.arn);
    assert_eq!(
        usize::from(a.existing.is_some()) + usize::from(b.existing.is_some()),
        1,
        "one submit started it, the other found it"
    );
    let starts = sfn.starts();
    assert_eq!(starts.len(), 2, "both raced to StartExecution");
    assert_eq!(starts.iter().filter(|s| s.began).count(), 1);
    assert_eq!(sfn.executions().len(), 1);
}

#[tokio::test]
async fn a_chosen_name_taken_by_another_input_is_refused() {
    let sfn = FakeExecutions::new();
    let other = json!({ "stackName": "org-baseline", "parameters": { "Env": "dev" } });
    let arn = sfn.add(MACHINE, "nightly", &other.to_string());
    sfn.finish(&arn, Status::Succeeded, None);
    let message = refusal(
        operator::submit(&sfn, MACHINE, "nightly", &input())
            .await
            .unwrap_err(),
    );
    assert!(
        message.contains("nightly already exists (SUCCEEDED) with a different input"),
        "{message}"
    );
    assert!(message.contains("--name"), "{message}");
    assert!(sfn.starts().is_empty());
}

#[tokio::test]
async fn rerun_of_a_successful_execution_is_refused_clearly() {
    let sfn = FakeExecutions::new();
    let reduced = json!({
        "run": "all-good",
        "summary": { "total": 40, "created": 30, "updated": 6, "unchanged": 2, "failed": 0, "skipped": 2 },
        "failures": [],
        "failureGroups": 0,
        "withinTolerance": true,
        "halt": null,
        "cause": "0 of 38 targets failed",
        "resumeInputKey": null,
        "reportKey": "runs/all-good/report.json"
    })
    .to_string();
    let arn = sfn.add(MACHINE, "all-good", &input().to_string());
    sfn.finish(&arn, Status::Succeeded, Some(&reduced));
    let message = refusal(
        operator::rerun(&sfn, &FakeStore::new(), &arn, None)
            .await
            .unwrap_err(),
    );
    assert_eq!(
        message,
        "nothing failed in all-good (SUCCEEDED): 30 created, 6 updated, 2 unchanged, 2 skipped; nothing to re-run"
    );
    assert!(sfn.starts().is_empty(), "no execution started");
}

#[tokio::test]
async fn rerun_starts_the_resume_input_reduce_wrote() {
    let sfn = FakeExecutions::new();
    let store = bucket_with_resume_input().await;
    let arn = failed_after_reduce(&sfn, "deploy-1");
    let expected = resume_input();
    let submitted = operator::rerun(&sfn, &store, &arn, None).await.unwrap();
    assert_eq!(submitted.existing, None);
    let starts = sfn.starts();
    assert_eq!(starts.len(), 1);
    assert_eq!(serde_json::from_str::<Value>(&starts[0].input).unwrap(), expected);
    assert!(starts[0].name.starts_with("org-baseline-"), "{}", starts[0].name);
    assert_eq!(starts[0].state_machine_arn, MACHINE);

    // Asked twice, the re-run finds the one it started.
    let again = operator::rerun(&sfn, &store, &arn, None).await.unwrap();
    assert_eq!(again.arn, submitted.arn);
    assert_eq!(sfn.starts().len(), 1);
}

#[tokio::test]
async fn rerun_refuses_running_executions_and_those_that_failed_before_any_target() {
    let sfn = FakeExecutions::new();
    let busy = sfn.add(MACHINE, "busy", &input().to_string());
    let message = refusal(
        operator::rerun(&sfn, &FakeStore::new(), &busy, None)
            .await
            .unwrap_err(),
    );
    assert!(message.contains("busy is still RUNNING"), "{message}");

    let typo = sfn.add(MACHINE, "typo", &input().to_string());
    sfn.fail(
        &typo,
        "InvalidInput",
        Some("the rollout spec: unknown field `stackname`"),
    );
    let message = refusal(
        operator::rerun(&sfn, &FakeStore::new(), &typo, None)
            .await
            .unwrap_err(),
    );
    assert!(
        message.contains("typo ended FAILED before its targets were reduced"),
        "{message}"
    );
    assert!(
        message.contains("InvalidInput: the rollout spec: unknown field `stackname`"),
        "{message}"
    );
    assert!(sfn.starts().is_empty());
}

#[tokio::test]
async fn a_rerun_of_a_rerun_is_a_new_execution_even_with_the_same_failures() {
    let sfn = FakeExecutions::new();
    let store = bucket_with_resume_input().await;
    let a = failed_after_reduce(&sfn, "deploy-a");
    let b = operator::rerun(&sfn, &store, &a, None).await.unwrap();
    // B re-ran A's failures and the same target failed again: B's resume input equals A's.
    sfn.exit_state(&b.arn, REDUCE_STATE, REDUCER_OUTPUT);
    sfn.fail(&b.arn, "TargetsFailed", None);
    let c = operator::rerun(&sfn, &store, &b.arn, None).await.unwrap();
    assert_eq!(c.existing, None, "a new execution");
    assert_ne!(c.arn, b.arn);
    let names: Vec<String> = sfn.starts().into_iter().map(|s| s.name).collect();
    assert_eq!(names.len(), 2);
    assert_ne!(names[0], names[1], "each source execution names its own re-run");
}

#[tokio::test]
async fn status_counts_targets_from_the_map_run_and_failures_from_the_store() {
    let sfn = FakeExecutions::new();
    let arn = sfn.add(MACHINE, "deploy-2", &input().to_string());
    sfn.set_item_counts(
        &arn,
        ItemCounts {
            total: 800,
            pending: 238,
            running: 50,
            succeeded: 512,
            ..ItemCounts::default()
        },
    );
    let store = FakeStore::new();
    let run = sfn.executions()[0].run();
    let keys = RunKeys::new(&run);
    for marker in [
        "111111111111-us-east-1",
        "222222222222-us-east-1",
        "333333333333-eu-west-1",
    ] {
        store
            .put(&format!("{}{marker}", keys.failed()), String::new(), "text/plain")
            .await
            .unwrap();
    }
    // Another run's markers are not this run's failures.
    let other = RunKeys::new(&stackfleet_core::run_ids::of_execution("deploy-20", 0));
    store
        .put(
            &format!("{}444444444444-us-east-1", other.failed()),
            String::new(),
            "text/plain",
        )
        .await
        .unwrap();

    let status = operator::status(&sfn, Some(&store), &arn).await.unwrap();
    assert_eq!(status.execution.status, Status::Running);
    let items = status.items.unwrap();
    assert_eq!(
        (items.total, items.finished(), items.running, items.pending),
        (800, 512, 50, 238)
    );
    assert_eq!(status.failed, Some(3));
    assert_eq!(status.run, run);
    assert_eq!(status.reduced, None, "no summary before Reduce");

    let without_store = operator::status(&sfn, None::<&FakeStore>, &arn).await.unwrap();
    assert_eq!(without_store.failed, None, "unknown, not zero");
}

#[tokio::test]
async fn status_of_a_finished_execution_carries_the_reduced_summary() {
    let sfn = FakeExecutions::new();
    let arn = failed_after_reduce(&sfn, "deploy-3");
    let status = operator::status(&sfn, None::<&FakeStore>, &arn).await.unwrap();
    let reduced = status.reduced.unwrap();
    assert_eq!((reduced.summary.failed, reduced.within_tolerance), (1, false));
    assert_eq!(
        reduced.failures[0].targets[0].to_string(),
        "333333333333:us-east-1"
    );
}

#[tokio::test]
async fn the_report_is_read_where_reduce_wrote_it_or_its_absence_explained() {
    let sfn = FakeExecutions::new();
    // reducer-output.json names runs/deploy-2026-11-21-1/report.json.
    let done = failed_after_reduce(&sfn, "deploy-1");
    let busy = sfn.add(MACHINE, "deploy-4", &input().to_string());
    let store = FakeStore::new();
    let written = Report::new(
        RunId::from_lossy("deploy-2026-11-21-1"),
        "org-baseline".parse().unwrap(),
        1,
        2,
        false,
        vec![Outcome::skipped(
            "111111111111:us-east-1".parse().unwrap(),
            "the management account",
        )],
    );
    let key = RunKeys::new(&written.run).report_json();
    assert_eq!(
        refusal(operator::report(&sfn, &store, &done).await.unwrap_err()),
        format!("{key} is gone from the run bucket: the bucket's lifecycle rule may have expired it")
    );
    store
        .put(&key, serde_json::to_string(&written).unwrap(), "application/json")
        .await
        .unwrap();
    assert_eq!(operator::report(&sfn, &store, &done).await.unwrap(), written);
    let message = refusal(operator::report(&sfn, &store, &busy).await.unwrap_err());
    assert!(message.contains("deploy-4 is still RUNNING"), "{message}");
}

#[tokio::test]
async fn the_bucket_comes_from_the_state_machine_tag_unless_given() {
    let sfn = FakeExecutions::new();
    assert_eq!(
        operator::bucket(&sfn, MACHINE, Some("mine")).await.unwrap(),
        "mine",
        "a given bucket needs no tag"
    );
    let message = refusal(operator::bucket(&sfn, MACHINE, None).await.unwrap_err());
    assert!(message.contains("pass --bucket"), "{message}");
    sfn.set_tag(MACHINE, "owner", "platform");
    sfn.set_tag(MACHINE, operator::BUCKET_TAG, "stackfleet-runs-abc");
    assert_eq!(
        operator::bucket(&sfn, MACHINE, None).await.unwrap(),
        "stackfleet-runs-abc"
    );
}

#[tokio::test]
async fn an_unknown_execution_is_refused_with_a_hint_at_the_region() {
    let sfn = FakeExecutions::new();
    let message = refusal(
        operator::rerun(
            &sfn,
            &FakeStore::new(),
            &format!("{}:gone", MACHINE.replace("stateMachine", "execution")),
            None,
        )
        .await
        .unwrap_err(),
    );
    assert!(message.contains("no execution"), "{message}");
    assert!(message.contains("--region"), "{message}");
}

#[tokio::test]
async fn the_outputs_are_read_where_reduce_wrote_them_and_an_older_reduce_is_explained() {
    let sfn = FakeExecutions::new();
    // reducer-output.json names runs/deploy-2026-11-21-1/outputs.json.
    let done = failed_after_reduce(&sfn, "deploy-1");
    let store = FakeStore::new();
    let map = json!({"111111111111": {"us-east-1": {"RoleArn": "arn:aws:iam::111111111111:role/r"}}});
    let key = RunKeys::new(&RunId::from_lossy("deploy-2026-11-21-1")).outputs_json();
    store
        .put(&key, map.to_string(), "application/json")
        .await
        .unwrap();
    let read = operator::outputs(&sfn, &store, &done).await.unwrap();
    assert_eq!(serde_json::to_value(read).unwrap(), map);

    let mut older: Value = serde_json::from_str(REDUCER_OUTPUT).unwrap();
    older.as_object_mut().unwrap().remove("outputsKey");
    let before = sfn.add(MACHINE, "deploy-5", &input().to_string());
    sfn.exit_state(&before, REDUCE_STATE, &older.to_string());
    sfn.fail(&before, "TargetsFailed", Some("1 of 2 targets failed"));
    let message = refusal(operator::outputs(&sfn, &store, &before).await.unwrap_err());
    assert!(
        message.contains("kept no outputs") && message.contains("stackfleet report"),
        "{message}"
    );
}
