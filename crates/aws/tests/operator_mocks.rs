//! The Step Functions adapter behind core's `Executions` port, at the SDK seam: `aws-smithy-mocks`
//! answers as Step Functions would, with its modelled errors. What the operator decides over the
//! port is tested on the in-memory fake (operator_fakes.rs); a submit is also run here over the
//! adapter, so that the look-then-start sequence is seen as the SDK sees it.

use aws_sdk_sfn::operation::describe_execution::{DescribeExecutionError, DescribeExecutionOutput};
use aws_sdk_sfn::operation::describe_map_run::DescribeMapRunOutput;
use aws_sdk_sfn::operation::get_execution_history::GetExecutionHistoryOutput;
use aws_sdk_sfn::operation::list_map_runs::ListMapRunsOutput;
use aws_sdk_sfn::operation::list_tags_for_resource::ListTagsForResourceOutput;
use aws_sdk_sfn::operation::start_execution::{StartExecutionError, StartExecutionOutput};
use aws_sdk_sfn::types::error::{ExecutionAlreadyExists, ExecutionDoesNotExist};
use aws_sdk_sfn::types::{
    ExecutionStatus, HistoryEvent, HistoryEventType, MapRunExecutionCounts, MapRunItemCounts, MapRunListItem,
    MapRunStatus, StateExitedEventDetails, Tag,
};
use aws_sdk_sfn::Client as Sfn;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use aws_smithy_types::error::ErrorMetadata;
use aws_smithy_types::DateTime;
use stackfleet_aws::SfnExecutions;
use stackfleet_core::executions::{Executions, ItemCounts, Status};
use stackfleet_core::operator::{self, OperatorError};
use stackfleet_core::ports::PortError;

const MACHINE: &str = "arn:aws:states:us-east-1:111111111111:stateMachine:stackfleet";
const MAP_RUN: &str = "arn:aws:states:us-east-1:111111111111:mapRun:stackfleet/Deploy:1f2e";
const INPUT: &str = r#"{"stackName":"org-baseline"}"#;

fn arn(name: &str) -> String {
    format!("arn:aws:states:us-east-1:111111111111:execution:stackfleet:{name}")
}

fn execution(name: &str, status: &str) -> DescribeExecutionOutput {
    DescribeExecutionOutput::builder()
        .execution_arn(arn(name))
        .state_machine_arn(MACHINE)
        .name(name)
        .status(ExecutionStatus::from(status))
        .start_date(DateTime::from_secs(1_700_000_000))
        .input(INPUT)
        .build()
        .unwrap()
}

fn does_not_exist() -> DescribeExecutionError {
    DescribeExecutionError::ExecutionDoesNotExist(
        ExecutionDoesNotExist::builder()
            .message("Execution Does Not Exist")
            .build(),
    )
}

fn started(name: &'static str) -> Rule {
    mock!(Sfn::start_execution).then_output(move || {
        StartExecutionOutput::builder()
            .execution_arn(arn(name))
            .start_date(DateTime::from_secs(1_700_000_100))
            .build()
            .unwrap()
    })
}

fn adapter(rules: &[&Rule]) -> SfnExecutions {
    SfnExecutions::new(mock_client!(aws_sdk_sfn, RuleMode::MatchAny, rules))
}

fn exited(id: i64, kind: HistoryEventType, state: &str, output: &str) -> HistoryEvent {
    HistoryEvent::builder()
        .id(id)
        .timestamp(DateTime::from_secs(1_700_000_200))
        .r#type(kind)
        .state_exited_event_details(
            StateExitedEventDetails::builder()
                .name(state)
                .output(output)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap()
}

#[tokio::test]
async fn describe_maps_the_execution_and_reads_a_missing_one_as_none() {
    let describe = mock!(Sfn::describe_execution)
        .sequence()
        .output(|| {
            let mut answer = execution("deploy-1", "FAILED");
            answer.stop_date = Some(DateTime::from_secs(1_700_000_300));
            answer.error = Some("TargetsFailed".into());
            answer
        })
        .output(|| execution("deploy-2", "PENDING_REDRIVE"))
        .error(does_not_exist)
        .build();
    let sfn = adapter(&[&describe]);

    let failed = sfn.describe(&arn("deploy-1")).await.unwrap().unwrap();
    assert_eq!(failed.status, Status::Failed);
    assert_eq!(
        (failed.name.as_str(), failed.error.as_deref()),
        ("deploy-1", Some("TargetsFailed"))
    );
    assert_eq!(
        (failed.started_at_ms, failed.stopped_at_ms),
        (1_700_000_000_000, Some(1_700_000_300_000))
    );
    assert_eq!(failed.input.as_deref(), Some(INPUT));
    let redriving = sfn.describe(&arn("deploy-2")).await.unwrap().unwrap();
    assert_eq!(redriving.status.to_string(), "PENDING_REDRIVE");
    assert!(!redriving.status.is_finished());
    assert_eq!(sfn.describe(&arn("gone")).await.unwrap(), None);
}

#[tokio::test]
async fn describe_refused_for_another_reason_is_an_error_not_none() {
    let describe = mock!(Sfn::describe_execution).then_error(|| {
        DescribeExecutionError::generic(
            ErrorMetadata::builder()
                .code("AccessDeniedException")
                .message("not authorized to perform: states:DescribeExecution")
                .build(),
        )
    });
    let error = adapter(&[&describe]).describe(&arn("x")).await.unwrap_err();
    assert!(matches!(error, PortError::AccessDenied(_)), "{error:?}");
}

fn input() -> serde_json::Value {
    serde_json::from_str(INPUT).unwrap()
}

fn already_exists() -> StartExecutionError {
    StartExecutionError::ExecutionAlreadyExists(
        ExecutionAlreadyExists::builder()
            .message("Execution Already Exists")
            .build(),
    )
}

#[tokio::test]
async fn item_counts_come_from_the_executions_map_run() {
    let none_yet = mock!(Sfn::list_map_runs)
        .match_requests(|r| r.execution_arn() == Some(arn("discovering").as_str()))
        .then_output(|| {
            ListMapRunsOutput::builder()
                .set_map_runs(Some(Vec::new()))
                .build()
                .unwrap()
        });
    let map_runs = mock!(Sfn::list_map_runs)
        .match_requests(|r| r.execution_arn() == Some(arn("deploy-2").as_str()))
        .then_output(|| {
            ListMapRunsOutput::builder()
                .map_runs(
                    MapRunListItem::builder()
                        .execution_arn(arn("deploy-2"))
                        .map_run_arn(MAP_RUN)
                        .state_machine_arn(MACHINE)
                        .start_date(DateTime::from_secs(1))
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap()
        });
    let map_run = mock!(Sfn::describe_map_run)
        .match_requests(|r| r.map_run_arn() == Some(MAP_RUN))
        .then_output(|| {
            DescribeMapRunOutput::builder()
                .map_run_arn(MAP_RUN)
                .execution_arn(arn("deploy-2"))
                .status(MapRunStatus::Running)
                .start_date(DateTime::from_secs(1))
                .max_concurrency(50)
                .tolerated_failure_percentage(0.0)
                .tolerated_failure_count(0)
                .item_counts(
                    MapRunItemCounts::builder()
                        .total(800)
                        .pending(230)
                        .running(50)
                        .succeeded(512)
                        .failed(5)
                        .timed_out(2)
                        .aborted(1)
                        .results_written(0)
                        .build(),
                )
                .execution_counts(MapRunExecutionCounts::builder().total(800).build())
                .build()
                .unwrap()
        });
    let sfn = adapter(&[&none_yet, &map_runs, &map_run]);
    assert_eq!(sfn.item_counts(&arn("discovering")).await.unwrap(), None);
    let items = sfn.item_counts(&arn("deploy-2")).await.unwrap().unwrap();
    assert_eq!(
        items,
        ItemCounts {
            total: 800,
            pending: 230,
            running: 50,
            succeeded: 512,
            failed: 5,
            timed_out: 2,
            aborted: 1,
        }
    );
    assert_eq!(items.finished(), 520);
}

#[tokio::test]
async fn start_execution_begins_one_or_reads_a_taken_name_as_none() {
    let name = "org-baseline-1a2b";
    let start = mock!(Sfn::start_execution)
        .match_requests(move |r| {
            r.name() == Some(name) && r.state_machine_arn() == Some(MACHINE) && r.input() == Some(INPUT)
        })
        .sequence()
        .output(move || {
            StartExecutionOutput::builder()
                .execution_arn(arn(name))
                .start_date(DateTime::from_secs(1))
                .build()
                .unwrap()
        })
        .error(already_exists)
        .build();
    let sfn = adapter(&[&start]);
    assert_eq!(
        sfn.start_execution(MACHINE, name, INPUT).await.unwrap(),
        Some(arn(name))
    );
    assert_eq!(sfn.start_execution(MACHINE, name, INPUT).await.unwrap(), None);
    assert_eq!(start.num_calls(), 2);
}

#[tokio::test]
async fn a_submit_looks_first_and_starts_only_a_free_name() {
    let name = "org-baseline-1a2b";
    let describe = mock!(Sfn::describe_execution)
        .match_requests(move |r| r.execution_arn() == Some(arn(name).as_str()))
        .then_error(does_not_exist);
    let start = started(name);
    let submitted = operator::submit(&adapter(&[&describe, &start]), MACHINE, name, &input())
        .await
        .unwrap();
    assert_eq!((submitted.arn, submitted.existing), (arn(name), None));
    assert_eq!((describe.num_calls(), start.num_calls()), (1, 1));

    // A name already taken: the existing execution, and no StartExecution at all.
    let taken = mock!(Sfn::describe_execution).then_output(move || execution(name, "RUNNING"));
    let start = started(name);
    let submitted = operator::submit(&adapter(&[&taken, &start]), MACHINE, name, &input())
        .await
        .unwrap();
    let existing = submitted.existing.expect("the existing execution");
    assert_eq!((existing.arn, existing.status), (arn(name), Status::Running));
    assert_eq!(start.num_calls(), 0);
}

#[tokio::test]
async fn a_submit_that_loses_the_race_for_its_name_describes_the_winner() {
    // Our look finds nothing, another submit starts first, ours is refused by name.
    let describe = mock!(Sfn::describe_execution)
        .sequence()
        .error(does_not_exist)
        .output(|| execution("org-baseline-race", "RUNNING"))
        .build();
    let start = mock!(Sfn::start_execution).then_error(already_exists);
    let submitted = operator::submit(
        &adapter(&[&describe, &start]),
        MACHINE,
        "org-baseline-race",
        &input(),
    )
    .await
    .unwrap();
    assert!(
        submitted
            .existing
            .as_ref()
            .is_some_and(|e| e.arn == arn("org-baseline-race")),
        "{submitted:?}"
    );
    assert_eq!((describe.num_calls(), start.num_calls()), (2, 1));
}

#[tokio::test]
async fn a_submit_refuses_a_malformed_state_machine_arn_before_any_call() {
    let start = started("x");
    let error = operator::submit(
        &adapter(&[&start]),
        "arn:aws:states:us-east-1:111111111111:activity:x",
        "n",
        &input(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&error, OperatorError::Aws(PortError::Rejected { code, .. }) if code == "InvalidArn"),
        "{error:?}"
    );
    assert_eq!(start.num_calls(), 0);
}

#[tokio::test]
async fn a_states_output_is_found_in_the_history_newest_first_across_pages() {
    let history = mock!(Sfn::get_execution_history)
        .match_requests(|r| r.reverse_order() == Some(true) && r.include_execution_data() == Some(true))
        .sequence()
        // The newest page: the execution's end, and a Map state of the same name.
        .output(|| {
            GetExecutionHistoryOutput::builder()
                .events(
                    HistoryEvent::builder()
                        .id(12)
                        .timestamp(DateTime::from_secs(1_700_000_300))
                        .r#type(HistoryEventType::ExecutionFailed)
                        .build()
                        .unwrap(),
                )
                .events(exited(
                    11,
                    HistoryEventType::MapStateExited,
                    "Reduce",
                    "{\"map\":1}",
                ))
                .next_token("page-2")
                .build()
                .unwrap()
        })
        .output(|| {
            GetExecutionHistoryOutput::builder()
                .events(exited(
                    9,
                    HistoryEventType::TaskStateExited,
                    "Reduce",
                    "{\"newest\":1}",
                ))
                .events(exited(
                    4,
                    HistoryEventType::TaskStateExited,
                    "Reduce",
                    "{\"older\":1}",
                ))
                .build()
                .unwrap()
        })
        // Another execution's history, in which the state never ran.
        .output(|| {
            GetExecutionHistoryOutput::builder()
                .events(exited(3, HistoryEventType::TaskStateExited, "Discover", "{}"))
                .build()
                .unwrap()
        })
        .build();
    let sfn = adapter(&[&history]);
    assert_eq!(
        sfn.state_output(&arn("deploy-1"), "Reduce")
            .await
            .unwrap()
            .as_deref(),
        Some("{\"newest\":1}")
    );
    assert_eq!(history.num_calls(), 2, "the second page was read");
    assert_eq!(sfn.state_output(&arn("typo"), "Reduce").await.unwrap(), None);
}

#[tokio::test]
async fn a_tag_is_looked_up_by_key() {
    let tags = mock!(Sfn::list_tags_for_resource)
        .match_requests(|r| r.resource_arn() == Some(MACHINE))
        .then_output(|| {
            ListTagsForResourceOutput::builder()
                .tags(Tag::builder().key("owner").value("platform").build())
                .tags(
                    Tag::builder()
                        .key("stackfleet:bucket")
                        .value("stackfleet-runs-abc")
                        .build(),
                )
                .build()
        });
    let sfn = adapter(&[&tags]);
    assert_eq!(
        sfn.tag(MACHINE, "stackfleet:bucket").await.unwrap().as_deref(),
        Some("stackfleet-runs-abc")
    );
    assert_eq!(sfn.tag(MACHINE, "cost-centre").await.unwrap(), None);
}
