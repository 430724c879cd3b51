//! The operator commands' decisions through the real Step Functions adapter, at the SDK seam:
//! `aws-smithy-mocks` answers as Step Functions would; run records come from the fake store.

use aws_sdk_sfn::operation::describe_execution::{DescribeExecutionError, DescribeExecutionOutput};
use aws_sdk_sfn::operation::describe_map_run::DescribeMapRunOutput;
use aws_sdk_sfn::operation::get_execution_history::GetExecutionHistoryOutput;
use aws_sdk_sfn::operation::list_map_runs::ListMapRunsOutput;
use aws_sdk_sfn::operation::list_tags_for_resource::ListTagsForResourceOutput;
use aws_sdk_sfn::operation::start_execution::{StartExecutionError, StartExecutionOutput};
use aws_sdk_sfn::types::{
    ExecutionStatus, HistoryEvent, HistoryEventType, MapRunItemCounts, MapRunListItem,
    StateExitedEventDetails, Tag,
};
use aws_sdk_sfn::Client as Sfn;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use aws_smithy_types::error::ErrorMetadata;
use aws_smithy_types::DateTime;
use serde_json::{json, Value};
use stackfleet_aws::fake::FakeStore;
use stackfleet_aws::operator::{self, OperatorError};
use stackfleet_aws::sfn::{Executions, Status};
use stackfleet_core::ports::RunStore;
use stackfleet_core::report::Report;
use stackfleet_core::{Outcome, RunId};

const MACHINE: &str = "arn:aws:states:us-east-1:111111111111:stateMachine:stackfleet";
const REDUCER_OUTPUT: &str = include_str!("../../../tests/fixtures/reducer-output.json");

fn arn(name: &str) -> String {
    format!("arn:aws:states:us-east-1:111111111111:execution:stackfleet:{name}")
}

fn input() -> Value {
    json!({
        "stackName": "org-baseline",
        "template": { "url": "https://templates.s3.amazonaws.com/baseline.yaml" },
        "targets": { "ous": ["ou-ab12-cdef3456"], "regions": ["us-east-1"] }
    })
}

fn execution(name: &str, status: &str, input: &Value, output: Option<&str>) -> DescribeExecutionOutput {
    DescribeExecutionOutput::builder()
        .execution_arn(arn(name))
        .state_machine_arn(MACHINE)
        .name(name)
        .status(ExecutionStatus::from(status))
        .start_date(DateTime::from_secs(1_700_000_000))
        .input(input.to_string())
        .set_output(output.map(str::to_owned))
        .build()
        .unwrap()
}

fn no_such_execution() -> Rule {
    mock!(Sfn::describe_execution).then_error(|| {
        DescribeExecutionError::generic(
            ErrorMetadata::builder()
                .code("ExecutionDoesNotExist")
                .message("Execution Does Not Exist")
                .build(),
        )
    })
}

fn started() -> Rule {
    mock!(Sfn::start_execution).then_output(|| {
        StartExecutionOutput::builder()
            .execution_arn(arn("started-by-this-submit"))
            .start_date(DateTime::from_secs(1_700_000_100))
            .build()
            .unwrap()
    })
}

fn executions(rules: &[&Rule]) -> Executions {
    Executions::new(mock_client!(aws_sdk_sfn, RuleMode::MatchAny, rules))
}

/// The history of an execution that failed after Reduce: its newest events first.
fn history_with_reduce(output: &str) -> Rule {
    let output = output.to_owned();
    mock!(Sfn::get_execution_history)
        .match_requests(|r| r.reverse_order() == Some(true) && r.include_execution_data() == Some(true))
        .then_output(move || {
            let exited = |id, kind, name: &str, output: &str| {
                HistoryEvent::builder()
                    .id(id)
                    .timestamp(DateTime::from_secs(1_700_000_200))
                    .r#type(kind)
                    .state_exited_event_details(
                        StateExitedEventDetails::builder()
                            .name(name)
                            .output(output)
                            .build()
                            .unwrap(),
                    )
                    .build()
                    .unwrap()
            };
            GetExecutionHistoryOutput::builder()
                .events(exited(9, HistoryEventType::TaskStateExited, "Reduce", &output))
                .events(exited(5, HistoryEventType::MapStateExited, "Deploy", "{}"))
                .build()
                .unwrap()
        })
}

#[tokio::test]
async fn start_names_the_execution_after_its_input() {
    let describe = no_such_execution();
    let name = operator::execution_name(&"org-baseline".parse().unwrap(), &input());
    let start = mock!(Sfn::start_execution)
        .match_requests({
            let name = name.clone();
            move |r| r.name() == Some(name.as_str()) && r.state_machine_arn() == Some(MACHINE)
        })
        .then_output(|| {
            StartExecutionOutput::builder()
                .execution_arn(arn("org-baseline-new"))
                .start_date(DateTime::from_secs(1))
                .build()
                .unwrap()
        });
    let submitted = operator::submit(&executions(&[&describe, &start]), MACHINE, &name, &input())
        .await
        .unwrap();
    assert_eq!(submitted.existing, None);
    assert_eq!(submitted.arn, arn("org-baseline-new"));
    assert_eq!(start.num_calls(), 1);
}

#[tokio::test]
async fn a_resubmitted_start_does_not_start_twice() {
    let name = operator::execution_name(&"org-baseline".parse().unwrap(), &input());
    // The first submit's execution is running (or already done): the retry finds it.
    for status in ["RUNNING", "SUCCEEDED"] {
        let describe = mock!(Sfn::describe_execution)
            .match_requests({
                let name = name.clone();
                move |r| r.execution_arn() == Some(arn(&name).as_str())
            })
            .then_output({
                let name = name.clone();
                move || execution(&name, status, &input(), None)
            });
        let start = started();
        let submitted = operator::submit(&executions(&[&describe, &start]), MACHINE, &name, &input())
            .await
            .unwrap();
        assert_eq!(start.num_calls(), 0, "{status}: nothing new started");
        assert_eq!(submitted.arn, arn(&name));
        assert_eq!(submitted.existing.unwrap().status.to_string(), status);
    }
    // One that already ended badly is not what a retry should report as started.
    for status in ["FAILED", "ABORTED", "TIMED_OUT"] {
        let describe = mock!(Sfn::describe_execution).then_output({
            let name = name.clone();
            move || execution(&name, status, &input(), None)
        });
        let start = started();
        let error = operator::submit(&executions(&[&describe, &start]), MACHINE, &name, &input())
            .await
            .unwrap_err();
        let message = error.to_string();
        assert!(
            message.contains(&format!("already ran with this input and ended {status}")),
            "{message}"
        );
        assert!(
            message.contains(&format!("stackfleet rerun {}", arn(&name))),
            "{message}"
        );
        assert_eq!(start.num_calls(), 0);
    }
}

#[tokio::test]
async fn two_submits_racing_end_with_one_execution() {
    // Our look finds nothing, the other submit starts first, ours is refused by name.
    let describe = mock!(Sfn::describe_execution)
        .sequence()
        .error(|| {
            DescribeExecutionError::generic(ErrorMetadata::builder().code("ExecutionDoesNotExist").build())
        })
        .output(|| execution("org-baseline-race", "RUNNING", &input(), None))
        .build();
    let start = mock!(Sfn::start_execution).then_error(|| {
        StartExecutionError::generic(
            ErrorMetadata::builder()
                .code("ExecutionAlreadyExists")
                .message("Execution Already Exists")
                .build(),
        )
    });
    let submitted = operator::submit(
        &executions(&[&describe, &start]),
        MACHINE,
        "org-baseline-race",
        &input(),
    )
    .await
    .unwrap();
    assert_eq!(submitted.arn, arn("org-baseline-race"));
    assert!(submitted.existing.is_some());
    assert_eq!((describe.num_calls(), start.num_calls()), (2, 1));
}

#[tokio::test]
async fn a_chosen_name_taken_by_another_input_is_refused() {
    let other = json!({ "stackName": "org-baseline", "parameters": { "Env": "dev" } });
    let describe =
        mock!(Sfn::describe_execution).then_output(move || execution("nightly", "SUCCEEDED", &other, None));
    let start = started();
    let error = operator::submit(&executions(&[&describe, &start]), MACHINE, "nightly", &input())
        .await
        .unwrap_err();
    let OperatorError::Refused(message) = error else {
        panic!("expected a refusal, got {error:?}")
    };
    assert!(
        message.contains("nightly already exists (SUCCEEDED) with a different input"),
        "{message}"
    );
    assert!(message.contains("--name"), "{message}");
    assert_eq!(start.num_calls(), 0);
}

#[tokio::test]
async fn rerun_of_a_successful_execution_is_refused_clearly() {
    let reduced = json!({
        "run": "all-good",
        "summary": { "total": 40, "created": 30, "updated": 6, "unchanged": 2, "failed": 0, "skipped": 2 },
        "failures": [],
        "withinTolerance": true,
        "cause": "0 of 38 targets failed",
        "rerunInput": null,
        "reportKey": "runs/all-good/report.json"
    })
    .to_string();
    let describe = mock!(Sfn::describe_execution)
        .then_output(move || execution("all-good", "SUCCEEDED", &input(), Some(&reduced)));
    let start = started();
    let error = operator::rerun(&executions(&[&describe, &start]), &arn("all-good"), None)
        .await
        .unwrap_err();
    let OperatorError::Refused(message) = error else {
        panic!("expected a refusal, got {error:?}")
    };
    assert_eq!(
        message,
        "nothing failed in all-good (SUCCEEDED): 30 created, 6 updated, 2 unchanged, 2 skipped; nothing to re-run"
    );
    assert_eq!(start.num_calls(), 0, "no execution started");
}

#[tokio::test]
async fn rerun_starts_exactly_the_failures_of_a_failed_execution() {
    let reduced: Value = serde_json::from_str(REDUCER_OUTPUT).unwrap();
    let expected = reduced["rerunInput"].clone();
    let describe = mock!(Sfn::describe_execution)
        .sequence()
        .output(|| {
            let mut failed = execution("deploy-1", "FAILED", &input(), None);
            failed.error = Some("TargetsFailed".into());
            failed
        })
        // The re-run's own name is free.
        .error(|| {
            DescribeExecutionError::generic(ErrorMetadata::builder().code("ExecutionDoesNotExist").build())
        })
        .build();
    let history = history_with_reduce(REDUCER_OUTPUT);
    let start = mock!(Sfn::start_execution)
        .match_requests(move |r| {
            r.input()
                .and_then(|text| serde_json::from_str::<Value>(text).ok())
                == Some(expected.clone())
                && r.name().is_some_and(|name| name.starts_with("org-baseline-"))
        })
        .then_output(|| {
            StartExecutionOutput::builder()
                .execution_arn(arn("org-baseline-rerun"))
                .start_date(DateTime::from_secs(1))
                .build()
                .unwrap()
        });
    let submitted = operator::rerun(
        &executions(&[&describe, &history, &start]),
        &arn("deploy-1"),
        None,
    )
    .await
    .unwrap();
    assert_eq!(submitted.arn, arn("org-baseline-rerun"));
    assert_eq!((history.num_calls(), start.num_calls()), (1, 1));
}

#[tokio::test]
async fn rerun_refuses_running_executions_and_those_that_failed_before_any_target() {
    let running = mock!(Sfn::describe_execution).then_output(|| execution("busy", "RUNNING", &input(), None));
    let start = started();
    let error = operator::rerun(&executions(&[&running, &start]), &arn("busy"), None)
        .await
        .unwrap_err();
    assert!(error.to_string().contains("busy is still RUNNING"), "{error}");

    let early = mock!(Sfn::describe_execution).then_output(|| {
        let mut failed = execution("typo", "FAILED", &input(), None);
        failed.error = Some("InvalidInput".into());
        failed.cause = Some("the rollout spec: unknown field `stackname`".into());
        failed
    });
    let history = mock!(Sfn::get_execution_history).then_output(|| {
        GetExecutionHistoryOutput::builder()
            .events(
                HistoryEvent::builder()
                    .id(3)
                    .timestamp(DateTime::from_secs(1))
                    .r#type(HistoryEventType::ExecutionFailed)
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap()
    });
    let error = operator::rerun(&executions(&[&early, &history, &start]), &arn("typo"), None)
        .await
        .unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("typo ended FAILED before its targets were reduced"),
        "{message}"
    );
    assert!(
        message.contains("InvalidInput: the rollout spec: unknown field `stackname`"),
        "{message}"
    );
    assert_eq!(start.num_calls(), 0);
}

#[tokio::test]
async fn status_counts_targets_from_the_map_run_and_failures_from_the_store() {
    let describe =
        mock!(Sfn::describe_execution).then_output(|| execution("deploy-2", "RUNNING", &input(), None));
    let map_runs = mock!(Sfn::list_map_runs)
        .match_requests(|r| r.execution_arn() == Some(arn("deploy-2").as_str()))
        .then_output(|| {
            ListMapRunsOutput::builder()
                .map_runs(
                    MapRunListItem::builder()
                        .execution_arn(arn("deploy-2"))
                        .map_run_arn("arn:aws:states:us-east-1:111111111111:mapRun:stackfleet/Deploy:1f2e")
                        .state_machine_arn(MACHINE)
                        .start_date(DateTime::from_secs(1))
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap()
        });
    let map_run = mock!(Sfn::describe_map_run).then_output(|| {
        let counts = MapRunItemCounts::builder()
            .total(800)
            .pending(238)
            .running(50)
            .succeeded(512)
            .failed(0)
            .timed_out(0)
            .aborted(0)
            .results_written(0)
            .build();
        DescribeMapRunOutput::builder()
            .map_run_arn("arn:aws:states:us-east-1:111111111111:mapRun:stackfleet/Deploy:1f2e")
            .execution_arn(arn("deploy-2"))
            .status(aws_sdk_sfn::types::MapRunStatus::Running)
            .start_date(DateTime::from_secs(1))
            .max_concurrency(50)
            .tolerated_failure_percentage(0.0)
            .tolerated_failure_count(0)
            .item_counts(counts)
            .execution_counts(
                aws_sdk_sfn::types::MapRunExecutionCounts::builder()
                    .total(800)
                    .pending(238)
                    .running(50)
                    .succeeded(512)
                    .failed(0)
                    .timed_out(0)
                    .aborted(0)
                    .results_written(0)
                    .build(),
            )
            .build()
            .unwrap()
    });
    let store = FakeStore::new();
    let keys = stackfleet_core::run_keys::RunKeys::new(&RunId::from_lossy("deploy-2"));
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
    let other = stackfleet_core::run_keys::RunKeys::new(&RunId::from_lossy("deploy-20"));
    store
        .put(
            &format!("{}444444444444-us-east-1", other.failed()),
            String::new(),
            "text/plain",
        )
        .await
        .unwrap();

    let status = operator::status(
        &executions(&[&describe, &map_runs, &map_run]),
        Some(&store),
        &arn("deploy-2"),
    )
    .await
    .unwrap();
    assert_eq!(status.execution.status, Status::Running);
    let items = status.items.unwrap();
    assert_eq!(
        (items.total, items.finished(), items.running, items.pending),
        (800, 512, 50, 238)
    );
    assert_eq!(status.failed, Some(3));
    assert_eq!(status.reduced, None, "no summary before Reduce");
}

#[tokio::test]
async fn the_report_is_read_where_reduce_wrote_it_or_its_absence_explained() {
    let describe = mock!(Sfn::describe_execution)
        .sequence()
        .output(|| execution("deploy-1", "FAILED", &input(), None))
        .output(|| execution("deploy-4", "RUNNING", &input(), None))
        .build();
    // reducer-output.json names runs/deploy-2026-11-21-1/report.json.
    let history = history_with_reduce(REDUCER_OUTPUT);
    let sfn = executions(&[&describe, &history]);
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
    let key = stackfleet_core::run_keys::RunKeys::new(&written.run).report_json();
    store
        .put(&key, serde_json::to_string(&written).unwrap(), "application/json")
        .await
        .unwrap();
    assert_eq!(
        operator::report(&sfn, &store, &arn("deploy-1")).await.unwrap(),
        written
    );
    let error = operator::report(&sfn, &store, &arn("deploy-4"))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("deploy-4 is still RUNNING"), "{error}");
}

#[tokio::test]
async fn the_bucket_comes_from_the_state_machine_tag_unless_given() {
    let tags = mock!(Sfn::list_tags_for_resource)
        .match_requests(|r| r.resource_arn() == Some(MACHINE))
        .then_output(|| {
            ListTagsForResourceOutput::builder()
                .tags(Tag::builder().key("owner").value("platform").build())
                .tags(
                    Tag::builder()
                        .key(operator::BUCKET_TAG)
                        .value("stackfleet-runs-abc")
                        .build(),
                )
                .build()
        });
    let sfn = executions(&[&tags]);
    assert_eq!(
        operator::bucket(&sfn, MACHINE, None).await.unwrap(),
        "stackfleet-runs-abc"
    );
    assert_eq!(
        operator::bucket(&sfn, MACHINE, Some("mine")).await.unwrap(),
        "mine"
    );
    assert_eq!(tags.num_calls(), 1, "a given bucket costs no call");
}

#[tokio::test]
async fn a_rerun_of_a_rerun_is_a_new_execution_even_with_the_same_failures() {
    // B re-ran A's failures and the same target failed again: B's rerunInput equals A's.
    let names = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let source = mock!(Sfn::describe_execution)
        .match_requests(|r| {
            r.execution_arn()
                .is_some_and(|arn| arn.ends_with(":deploy-a") || arn.ends_with(":rerun-b"))
        })
        .then_output(|| {
            let mut failed = execution("deploy-a", "FAILED", &input(), None);
            failed.error = Some("TargetsFailed".into());
            failed
        });
    let fresh = no_such_execution();
    let history = history_with_reduce(REDUCER_OUTPUT);
    let start = mock!(Sfn::start_execution)
        .match_requests({
            let names = names.clone();
            move |r| {
                names
                    .lock()
                    .unwrap()
                    .push(r.name().unwrap_or_default().to_owned());
                true
            }
        })
        .then_output(|| {
            StartExecutionOutput::builder()
                .execution_arn(arn("next"))
                .start_date(DateTime::from_secs(1))
                .build()
                .unwrap()
        });
    let sfn = executions(&[&source, &fresh, &history, &start]);
    operator::rerun(&sfn, &arn("deploy-a"), None).await.unwrap();
    operator::rerun(&sfn, &arn("rerun-b"), None).await.unwrap();
    let names = names.lock().unwrap().clone();
    assert_eq!(names.len(), 2);
    assert_ne!(names[0], names[1], "each source execution names its own re-run");
}
