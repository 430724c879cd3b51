//! The CloudFormation adapter's change-set calls at the SDK seam (`aws-smithy-mocks`), and one
//! reviewed target applied through the real adapters: what moto does not answer as AWS does
//! (ChangeSetNotFound, InvalidChangeSetStatus, LastUpdatedTime).

mod sts_answers;

use std::time::Duration;

use aws_sdk_cloudformation::operation::describe_change_set::{
    DescribeChangeSetError, DescribeChangeSetOutput,
};
use aws_sdk_cloudformation::operation::describe_stacks::DescribeStacksOutput;
use aws_sdk_cloudformation::operation::execute_change_set::{ExecuteChangeSetError, ExecuteChangeSetOutput};
use aws_sdk_cloudformation::types::error::{ChangeSetNotFoundException, InvalidChangeSetStatusException};
use aws_sdk_cloudformation::types::{
    Change, ChangeAction, ChangeSetStatus, ExecutionStatus, Replacement, ResourceChange, Stack,
    StackStatus as SdkStatus, Tag,
};
use aws_sdk_cloudformation::Client as Cfn;
use aws_sdk_sts::Client as Sts;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use aws_smithy_types::error::ErrorMetadata;
use aws_smithy_types::DateTime;
use stackfleet_aws::{CfnStacks, StsAssumer};
use stackfleet_core::lifecycle::{DriveOptions, Job, TokioClock};
use stackfleet_core::plan::{apply_target, PlanFile, PlanVerdict, Reviewed, TargetPlan};
use stackfleet_core::ports::{PortError, StackOperations};
use stackfleet_core::stack::{self, StackStatus, MANAGED_BY_TAG, MANAGED_BY_VALUE};
use stackfleet_core::{OutcomeKind, Rollout, RunId, Target};

const STACK_ID: &str = "arn:aws:cloudformation:eu-west-1:111111111111:stack/org-baseline/0f1e";
const CHANGE_SET: &str = "arn:aws:cloudformation:eu-west-1:111111111111:changeSet/stackfleet-plan-p1/9a";
/// When the plan saw the stack last updated: 2026-01-01T00:00:00Z.
const PLANNED_AT_SECS: i64 = 1_767_225_600;

fn stack(status: &str, last_updated_secs: Option<i64>) -> DescribeStacksOutput {
    let managed = Tag::builder().key(MANAGED_BY_TAG).value(MANAGED_BY_VALUE).build();
    DescribeStacksOutput::builder()
        .stacks(
            Stack::builder()
                .stack_id(STACK_ID)
                .stack_name("org-baseline")
                .stack_status(SdkStatus::from(status))
                .creation_time(DateTime::from_secs(1_700_000_000))
                .set_last_updated_time(last_updated_secs.map(DateTime::from_secs))
                .tags(managed)
                .build(),
        )
        .build()
}

fn modify_read_only() -> ResourceChange {
    ResourceChange::builder()
        .action(ChangeAction::Modify)
        .logical_resource_id("ReadOnly")
        .resource_type("AWS::IAM::Role")
        .replacement(Replacement::False)
        .build()
}

fn available() -> DescribeChangeSetOutput {
    DescribeChangeSetOutput::builder()
        .change_set_id(CHANGE_SET)
        .stack_id(STACK_ID)
        .status(ChangeSetStatus::CreateComplete)
        .execution_status(ExecutionStatus::Available)
        .changes(Change::builder().resource_change(modify_read_only()).build())
        .build()
}

fn cloudformation(rules: &[&Rule]) -> Cfn {
    mock_client!(aws_sdk_cloudformation, RuleMode::MatchAny, rules)
}

#[tokio::test]
async fn a_missing_change_set_reads_as_none_and_an_available_one_with_its_stack() {
    let missing = mock!(Cfn::describe_change_set)
        .match_requests(|r| r.change_set_name() == Some("gone"))
        .then_error(|| {
            DescribeChangeSetError::ChangeSetNotFoundException(
                ChangeSetNotFoundException::builder()
                    .message("ChangeSet [gone] does not exist")
                    .build(),
            )
        });
    let there = mock!(Cfn::describe_change_set)
        .match_requests(|r| r.change_set_name() == Some(CHANGE_SET))
        .then_output(available);
    let stacks = CfnStacks::new(cloudformation(&[&missing, &there]));

    assert_eq!(stacks.describe_change_set("gone").await.unwrap(), None);
    let found = stacks.describe_change_set(CHANGE_SET).await.unwrap().unwrap();
    assert!(found.is_available(), "{found:?}");
    assert_eq!(found.stack_id.as_deref(), Some(STACK_ID));
    assert_eq!(found.changes[0].replacement.as_deref(), Some("False"));
}

#[tokio::test]
async fn execute_sends_the_token_and_names_an_unavailable_change_set() {
    let executed = mock!(Cfn::execute_change_set)
        .match_requests(|r| {
            r.change_set_name() == Some(CHANGE_SET)
                && r.client_request_token() == Some("stackfleet-a1-update")
        })
        .then_output(|| ExecuteChangeSetOutput::builder().build());
    let refused = mock!(Cfn::execute_change_set)
        .match_requests(|r| r.change_set_name() == Some("obsolete"))
        .then_error(|| {
            ExecuteChangeSetError::InvalidChangeSetStatusException(
                InvalidChangeSetStatusException::builder()
                    .message("ChangeSet [obsolete] cannot be executed in its current status of [OBSOLETE]")
                    .meta(ErrorMetadata::builder().code("InvalidChangeSetStatus").build())
                    .build(),
            )
        });
    let stacks = CfnStacks::new(cloudformation(&[&executed, &refused]));

    stacks
        .execute_change_set(CHANGE_SET, "stackfleet-a1-update")
        .await
        .unwrap();
    let error = stacks.execute_change_set("obsolete", "t").await.unwrap_err();
    assert!(
        matches!(&error, PortError::Rejected { code, message }
            if code == "InvalidChangeSetStatus" && message.contains("OBSOLETE")),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_stack_last_updated_reads_that_time_and_one_never_updated_its_creation() {
    let answers = mock!(Cfn::describe_stacks)
        .sequence()
        .output(|| stack("UPDATE_COMPLETE", Some(PLANNED_AT_SECS)))
        .output(|| stack("CREATE_COMPLETE", None))
        .build();
    let stacks = CfnStacks::new(cloudformation(&[&answers]));
    let updated = stacks.describe_stack("org-baseline").await.unwrap().unwrap();
    assert_eq!(updated.last_updated_ms, Some(PLANNED_AT_SECS * 1000));
    let created = stacks.describe_stack("org-baseline").await.unwrap().unwrap();
    assert_eq!(created.last_updated_ms, Some(1_700_000_000_000));
}

fn assume_ok() -> Rule {
    mock!(Sts::assume_role).then_output(sts_answers::assumed)
}

/// One target reviewed against the stack as it was at `PLANNED_AT_SECS`, applied through the
/// real STS and CloudFormation adapters.
async fn apply(cfn_rules: &[&Rule]) -> stackfleet_core::Outcome {
    let target: Target = "111111111111:eu-west-1".parse().unwrap();
    let reviewed = TargetPlan {
        target: target.clone(),
        verdict: PlanVerdict::WouldUpdate {
            changes: vec![stack::ResourceChange {
                action: "Modify".into(),
                logical_id: "ReadOnly".into(),
                resource_type: "AWS::IAM::Role".into(),
                replacement: Some("False".into()),
            }],
        },
        adopts: false,
        reviewed: Some(Reviewed {
            change_set_id: Some(CHANGE_SET.into()),
            stack_id: STACK_ID.into(),
            stack_status: StackStatus::UpdateComplete,
            stack_last_updated_ms: Some(PLANNED_AT_SECS * 1000),
        }),
    };
    let document = Rollout::parse(
        "stackName: org-baseline\ntemplate: {body: '{\"Resources\": {}}'}\npollIntervalSeconds: 5\n",
    )
    .unwrap();
    let plan = PlanFile::new(
        "p1".parse().unwrap(),
        0,
        document,
        Vec::new(),
        &[reviewed],
        Vec::new(),
    );
    let spec = plan.document.resolve().unwrap().spec;
    let sts = mock_client!(aws_sdk_sts, RuleMode::MatchAny, [&assume_ok()]);
    let assumer = StsAssumer::from_clients(sts, cloudformation(cfn_rules).config().clone());
    let run: RunId = "a1".parse().unwrap();
    let job = Job {
        target: &target,
        spec: &spec,
        run: &run,
        new_account: false,
    };
    let options = DriveOptions {
        transient_retries: 1,
        retry_backoff: Duration::from_secs(1),
        resumed: false,
    };
    let applied = apply_target(
        &assumer,
        &job,
        &plan.targets[0],
        &plan.groups[0],
        &TokioClock::new(),
        options,
    )
    .await;
    applied.outcome
}

#[tokio::test(start_paused = true)]
async fn a_reviewed_update_is_executed_with_the_runs_token_and_followed_to_its_end() {
    let describe = mock!(Cfn::describe_change_set).then_output(available);
    let stacks = mock!(Cfn::describe_stacks)
        .sequence()
        .output(|| stack("UPDATE_COMPLETE", Some(PLANNED_AT_SECS)))
        .output(|| stack("UPDATE_IN_PROGRESS", Some(PLANNED_AT_SECS + 60)))
        .output(|| stack("UPDATE_COMPLETE", Some(PLANNED_AT_SECS + 60)))
        .build();
    let execute = mock!(Cfn::execute_change_set)
        .match_requests(|r| r.client_request_token() == Some("stackfleet-a1-update"))
        .then_output(|| ExecuteChangeSetOutput::builder().build());

    let outcome = apply(&[&describe, &stacks, &execute]).await;

    assert_eq!(outcome.kind(), OutcomeKind::Updated, "{outcome:?}");
    assert_eq!(outcome.final_status, Some(StackStatus::UpdateComplete));
    assert_eq!(execute.num_calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_change_set_made_obsolete_between_the_check_and_the_execution_is_stale() {
    let describe = mock!(Cfn::describe_change_set).then_output(available);
    let stacks = mock!(Cfn::describe_stacks).then_output(|| stack("UPDATE_COMPLETE", Some(PLANNED_AT_SECS)));
    let obsolete = mock!(Cfn::execute_change_set).then_error(|| {
        ExecuteChangeSetError::InvalidChangeSetStatusException(
            InvalidChangeSetStatusException::builder()
                .message("ChangeSet cannot be executed in its current execution status of [OBSOLETE]")
                .build(),
        )
    });

    let outcome = apply(&[&describe, &stacks, &obsolete]).await;

    assert_eq!(outcome.kind(), OutcomeKind::Stale, "{outcome:?}");
    assert!(
        outcome
            .stale_reason()
            .unwrap()
            .contains("no longer available when executed"),
        "{outcome:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn an_execution_status_other_than_available_is_stale_without_an_execution() {
    let describe = mock!(Cfn::describe_change_set).then_output(|| {
        let mut obsolete = available();
        obsolete.execution_status = Some(ExecutionStatus::Obsolete);
        obsolete
    });
    let stacks = mock!(Cfn::describe_stacks).then_output(|| stack("UPDATE_COMPLETE", Some(PLANNED_AT_SECS)));
    let execute = mock!(Cfn::execute_change_set).then_output(|| ExecuteChangeSetOutput::builder().build());

    let outcome = apply(&[&describe, &stacks, &execute]).await;

    assert_eq!(outcome.kind(), OutcomeKind::Stale, "{outcome:?}");
    assert!(
        outcome.stale_reason().unwrap().contains("(execution OBSOLETE)"),
        "{outcome:?}"
    );
    assert_eq!(execute.num_calls(), 0);
}
