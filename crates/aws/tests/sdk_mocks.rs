//! The real adapters (STS, CloudFormation) under the real lifecycle, at the SDK seam:
//! `aws-smithy-mocks` answers each call as AWS would. One test per stack state and AWS error.

mod sts_answers;

use std::time::Duration;

use aws_sdk_cloudformation::config::retry::RetryConfig;
use aws_sdk_cloudformation::operation::continue_update_rollback::ContinueUpdateRollbackOutput;
use aws_sdk_cloudformation::operation::create_stack::{CreateStackError, CreateStackOutput};
use aws_sdk_cloudformation::operation::delete_stack::DeleteStackOutput;
use aws_sdk_cloudformation::operation::describe_stack_events::DescribeStackEventsOutput;
use aws_sdk_cloudformation::operation::describe_stacks::{DescribeStacksError, DescribeStacksOutput};
use aws_sdk_cloudformation::operation::update_stack::{UpdateStackError, UpdateStackOutput};
use aws_sdk_cloudformation::operation::validate_template::{ValidateTemplateError, ValidateTemplateOutput};
use aws_sdk_cloudformation::types::{ResourceStatus, Stack, StackEvent, StackStatus as SdkStatus, Tag};
use aws_sdk_cloudformation::Client as Cfn;
use aws_sdk_sts::operation::assume_role::AssumeRoleError;
use aws_sdk_sts::Client as Sts;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use aws_smithy_types::error::ErrorMetadata;
use aws_smithy_types::DateTime;
use stackfleet_aws::{CfnStacks, StsAssumer};
use stackfleet_core::lifecycle::{self, run_target, DriveOptions, Job, Progress};
use stackfleet_core::ports::StackOperations;
use stackfleet_core::preflight::{preflight, PreflightError};
use stackfleet_core::spec::{RecoveryPolicy, TemplateBody, TemplateSource};
use stackfleet_core::stack::{StackStatus, MANAGED_BY_TAG, MANAGED_BY_VALUE};
use stackfleet_core::{ErrorName, Outcome, OutcomeKind, RolloutSpec, RunId, Target};

const STACK_ID: &str = "arn:aws:cloudformation:eu-west-1:111111111111:stack/org-baseline/0f1e";
const TEMPLATE: &str = r#"{"Resources":{"ReadOnly":{"Type":"AWS::IAM::Role"}}}"#;
const OURS: &str = "stackfleet-run-1-update";

fn spec(recovery: RecoveryPolicy) -> RolloutSpec {
    let body = TemplateBody::parse(TEMPLATE.into()).unwrap();
    let mut spec = RolloutSpec::new("org-baseline".parse().unwrap(), TemplateSource::Body(body));
    spec.recovery = recovery;
    spec.parameters.insert("Env".into(), "prod".into());
    spec
}

fn target() -> Target {
    "111111111111:eu-west-1".parse().unwrap()
}

/// A stack stackfleet made: it carries the managed-by tag among others.
fn stack(status: &str) -> DescribeStacksOutput {
    stack_tagged(
        status,
        &[("team", "platform"), (MANAGED_BY_TAG, MANAGED_BY_VALUE)],
    )
}

fn stack_tagged(status: &str, tags: &[(&str, &str)]) -> DescribeStacksOutput {
    let tags = tags
        .iter()
        .map(|(key, value)| Tag::builder().key(*key).value(*value).build())
        .collect();
    DescribeStacksOutput::builder()
        .stacks(
            Stack::builder()
                .stack_id(STACK_ID)
                .stack_name("org-baseline")
                .stack_status(SdkStatus::from(status))
                .creation_time(DateTime::from_secs(0))
                .set_tags(Some(tags))
                .build(),
        )
        .build()
}

/// The request carries stackfleet's tag alongside the document's.
fn tagged(tags: &[Tag]) -> bool {
    tags.iter()
        .any(|t| t.key() == Some(MANAGED_BY_TAG) && t.value() == Some(MANAGED_BY_VALUE))
}

fn validation(message: &str) -> ErrorMetadata {
    ErrorMetadata::builder()
        .code("ValidationError")
        .message(message)
        .build()
}

fn throttling_xml() -> Option<String> {
    Some(
        "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>\
         <Message>Rate exceeded</Message></Error><RequestId>r1</RequestId></ErrorResponse>"
            .into(),
    )
}

/// DescribeStacks answering each status in turn; `None` is "does not exist".
fn describe(statuses: &[Option<&'static str>]) -> Rule {
    let mut sequence = mock!(Cfn::describe_stacks).sequence();
    for status in statuses.iter().copied() {
        sequence = match status {
            None => sequence.error(|| {
                DescribeStacksError::generic(validation("Stack with id org-baseline does not exist"))
            }),
            Some(status) => sequence.output(move || stack(status)),
        };
    }
    sequence.build()
}

type EventRow = (
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
);

/// One events page, rows newest first: (logical ID, type, status, reason, token).
fn events(rows: &[EventRow], next: Option<&str>) -> DescribeStackEventsOutput {
    let events = rows
        .iter()
        .map(|(id, kind, status, reason, token)| {
            StackEvent::builder()
                .stack_id(STACK_ID)
                .event_id(format!("{id}-{status}"))
                .stack_name("org-baseline")
                .logical_resource_id(*id)
                .resource_type(*kind)
                .resource_status(ResourceStatus::from(*status))
                .set_resource_status_reason(reason.map(str::to_owned))
                .set_client_request_token(token.map(str::to_owned))
                .timestamp(DateTime::from_secs(0))
                .build()
        })
        .collect();
    DescribeStackEventsOutput::builder()
        .set_stack_events(Some(events))
        .set_next_token(next.map(str::to_owned))
        .build()
}

/// The newest event of a stack an earlier run brought to `status`: not this run's to report.
fn settled_by_an_earlier_run(status: &'static str) -> Rule {
    mock!(Cfn::describe_stack_events).then_output(move || {
        let earlier = Some("stackfleet-run-0-update");
        events(
            &[(
                "org-baseline",
                "AWS::CloudFormation::Stack",
                status,
                None,
                earlier,
            )],
            None,
        )
    })
}

fn create_ok() -> Rule {
    mock!(Cfn::create_stack)
        .match_requests(|r| {
            r.client_request_token() == Some("stackfleet-run-1-create")
                && r.parameters().iter().any(|p| p.parameter_key() == Some("Env"))
                && tagged(r.tags())
        })
        .then_output(|| CreateStackOutput::builder().stack_id(STACK_ID).build())
}

fn update_ok() -> Rule {
    mock!(Cfn::update_stack)
        .match_requests(|r| r.client_request_token() == Some(OURS) && tagged(r.tags()))
        .then_output(|| UpdateStackOutput::builder().stack_id(STACK_ID).build())
}

fn delete_ok() -> Rule {
    mock!(Cfn::delete_stack)
        .match_requests(|r| r.stack_name() == Some(STACK_ID))
        .then_output(|| DeleteStackOutput::builder().build())
}

fn cloudformation(rules: &[&Rule]) -> Cfn {
    mock_client!(aws_sdk_cloudformation, RuleMode::MatchAny, rules, |config| {
        config.retry_config(
            RetryConfig::standard()
                .with_max_attempts(3)
                .with_initial_backoff(Duration::from_millis(1)),
        )
    })
}

fn assume_ok() -> Rule {
    mock!(Sts::assume_role)
        .match_requests(|r| {
            r.role_arn() == Some("arn:aws:iam::111111111111:role/OrganizationAccountAccessRole")
                && r.role_session_name() == Some("stackfleet-run-1")
        })
        .then_output(sts_answers::assumed)
}

/// Runs one target through the real STS and CloudFormation adapters, on paused time.
async fn deploy(cfn_rules: &[&Rule], spec: &RolloutSpec) -> Outcome {
    deploy_with(&assume_ok(), cfn_rules, spec, false).await
}

async fn deploy_with(assume: &Rule, cfn_rules: &[&Rule], spec: &RolloutSpec, new_account: bool) -> Outcome {
    drive(assume, cfn_rules, spec, new_account, false).await
}

/// The target of a resumed run: its earlier attempt may have finished an operation unreported.
async fn resume(cfn_rules: &[&Rule], spec: &RolloutSpec) -> Outcome {
    drive(&assume_ok(), cfn_rules, spec, false, true).await
}

async fn drive(
    assume: &Rule,
    cfn_rules: &[&Rule],
    spec: &RolloutSpec,
    new_account: bool,
    resumed: bool,
) -> Outcome {
    let sts = mock_client!(aws_sdk_sts, RuleMode::MatchAny, [assume]);
    let assumer = StsAssumer::from_clients(sts, cloudformation(cfn_rules).config().clone());
    let (target, run): (Target, RunId) = (target(), "run-1".parse().unwrap());
    let job = Job {
        target: &target,
        spec,
        run: &run,
        new_account,
    };
    let options = DriveOptions {
        transient_retries: 2,
        retry_backoff: Duration::from_secs(1),
        resumed,
    };
    run_target(&assumer, &job, &lifecycle::TokioClock::new(), options).await
}

#[tokio::test(start_paused = true)]
async fn create() {
    let (describe, create) = (
        describe(&[None, Some("CREATE_IN_PROGRESS"), Some("CREATE_COMPLETE")]),
        create_ok(),
    );
    let outcome = deploy(&[&describe, &create], &spec(RecoveryPolicy::Recreate)).await;
    assert_eq!(outcome.kind(), OutcomeKind::Created, "{outcome:?}");
    assert_eq!(outcome.stack_id.as_deref(), Some(STACK_ID));
    assert_eq!(outcome.final_status, Some(StackStatus::CreateComplete));
    assert_eq!(create.num_calls(), 1);
    assert_eq!(outcome.aws_calls, 5, "assume, describe, create, two polls");
}

#[tokio::test(start_paused = true)]
async fn update() {
    let (describe, update) = (
        describe(&[
            Some("UPDATE_COMPLETE"),
            Some("UPDATE_IN_PROGRESS"),
            Some("UPDATE_COMPLETE"),
        ]),
        update_ok(),
    );
    let outcome = deploy(&[&describe, &update], &spec(RecoveryPolicy::Recreate)).await;
    assert_eq!(outcome.kind(), OutcomeKind::Updated, "{outcome:?}");
    assert_eq!(update.num_calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_resume_reports_what_this_run_finished_unreported_without_a_second_operation() {
    for (status, token, kind) in [
        ("CREATE_COMPLETE", "stackfleet-run-1-create", OutcomeKind::Created),
        ("UPDATE_COMPLETE", OURS, OutcomeKind::Updated),
    ] {
        let describe = describe(&[Some(status)]);
        let ours = mock!(Cfn::describe_stack_events).then_output(move || {
            events(
                &[
                    (
                        "org-baseline",
                        "AWS::CloudFormation::Stack",
                        status,
                        None,
                        Some(token),
                    ),
                    ("ReadOnly", "AWS::IAM::Role", "CREATE_COMPLETE", None, Some(token)),
                ],
                None,
            )
        });
        let (create, update) = (create_ok(), update_ok());
        let rules = [&describe, &ours, &create, &update];
        let outcome = resume(&rules, &spec(RecoveryPolicy::Recreate)).await;
        assert_eq!(outcome.kind(), kind, "{outcome:?}");
        assert_eq!(
            outcome.final_status.as_ref().map(StackStatus::as_str),
            Some(status)
        );
        assert_eq!((create.num_calls(), update.num_calls()), (0, 0), "{status}");
        assert_eq!(outcome.aws_calls, 3, "assume, describe, the newest events");
    }

    // An earlier run's finished update is no outcome of this one: the resume updates.
    let describe = describe(&[
        Some("UPDATE_COMPLETE"),
        Some("UPDATE_IN_PROGRESS"),
        Some("UPDATE_COMPLETE"),
    ]);
    let (earlier, update) = (settled_by_an_earlier_run("UPDATE_COMPLETE"), update_ok());
    let outcome = resume(&[&describe, &earlier, &update], &spec(RecoveryPolicy::Recreate)).await;
    assert_eq!(outcome.kind(), OutcomeKind::Updated, "{outcome:?}");
    assert_eq!((earlier.num_calls(), update.num_calls()), (1, 1));
}

#[tokio::test(start_paused = true)]
async fn no_op_update_is_unchanged() {
    let describe = describe(&[Some("CREATE_COMPLETE")]);
    let update = mock!(Cfn::update_stack)
        .then_error(|| UpdateStackError::generic(validation("No updates are to be performed.")));
    let outcome = deploy(&[&describe, &update], &spec(RecoveryPolicy::Recreate)).await;
    assert_eq!(outcome.kind(), OutcomeKind::Unchanged, "{outcome:?}");
    assert_eq!(outcome.final_status, Some(StackStatus::CreateComplete));
    assert!(outcome.failure().is_none());
}

#[tokio::test(start_paused = true)]
async fn a_stack_busy_with_someone_elses_update_is_waited_for_then_updated() {
    let describe = describe(&[
        Some("UPDATE_IN_PROGRESS"),
        Some("UPDATE_IN_PROGRESS"),
        Some("UPDATE_COMPLETE"),
        Some("UPDATE_COMPLETE"),
    ]);
    let foreign = mock!(Cfn::describe_stack_events).then_output(|| {
        let console = Some("Console-UpdateStack-77a1");
        events(
            &[(
                "org-baseline",
                "AWS::CloudFormation::Stack",
                "UPDATE_IN_PROGRESS",
                Some("User Initiated"),
                console,
            )],
            None,
        )
    });
    let update = update_ok();
    let outcome = deploy(&[&describe, &foreign, &update], &spec(RecoveryPolicy::Recreate)).await;
    assert_eq!(outcome.kind(), OutcomeKind::Updated, "{outcome:?}");
    assert_eq!(
        update.num_calls(),
        1,
        "our update waits for theirs, then runs once"
    );
}

#[tokio::test(start_paused = true)]
async fn our_own_operation_is_adopted_by_token_after_a_duplicated_start() {
    let describe = describe(&[Some("CREATE_IN_PROGRESS"), Some("CREATE_COMPLETE")]);
    let ours = mock!(Cfn::describe_stack_events).then_output(|| {
        let token = Some("stackfleet-run-1-create");
        events(
            &[(
                "org-baseline",
                "AWS::CloudFormation::Stack",
                "CREATE_IN_PROGRESS",
                Some("User Initiated"),
                token,
            )],
            None,
        )
    });
    let create = create_ok();
    let outcome = deploy(&[&describe, &ours, &create], &spec(RecoveryPolicy::Recreate)).await;
    assert_eq!(outcome.kind(), OutcomeKind::Created, "{outcome:?}");
    assert_eq!(
        create.num_calls(),
        0,
        "the running create is ours: no second CreateStack"
    );
}

#[tokio::test(start_paused = true)]
async fn rollback_complete_is_deleted_and_created_again_under_recreate() {
    let describe = describe(&[
        Some("ROLLBACK_COMPLETE"),
        Some("DELETE_COMPLETE"),
        Some("CREATE_COMPLETE"),
    ]);
    let (delete, create) = (delete_ok(), create_ok());
    let outcome = deploy(&[&describe, &delete, &create], &spec(RecoveryPolicy::Recreate)).await;
    assert_eq!(outcome.kind(), OutcomeKind::Created, "{outcome:?}");
    assert_eq!(outcome.recovered_from, Some(StackStatus::RollbackComplete));
    assert_eq!((delete.num_calls(), create.num_calls()), (1, 1));
}

#[tokio::test(start_paused = true)]
async fn describe_stacks_tells_a_stack_stackfleet_manages_by_its_tag() {
    let answers = mock!(Cfn::describe_stacks)
        .sequence()
        .output(|| stack("UPDATE_COMPLETE"))
        .output(|| stack_tagged("UPDATE_COMPLETE", &[("team", "platform")]))
        .output(|| stack_tagged("UPDATE_COMPLETE", &[(MANAGED_BY_TAG, "somebody-else")]))
        .build();
    let stacks = CfnStacks::new(cloudformation(&[&answers]));
    let mut managed = Vec::new();
    for _ in 0..3 {
        let found = stacks.describe_stack("org-baseline").await.unwrap().unwrap();
        managed.push(found.managed);
    }
    assert_eq!(managed, [true, false, false]);
}

#[tokio::test(start_paused = true)]
async fn a_stack_without_the_tag_is_left_alone_at_the_sdk_seam() {
    let describe = mock!(Cfn::describe_stacks).then_output(|| stack_tagged("ROLLBACK_COMPLETE", &[]));
    let (delete, create) = (delete_ok(), create_ok());
    let outcome = deploy(&[&describe, &delete, &create], &spec(RecoveryPolicy::Recreate)).await;
    assert_eq!(outcome.error(), Some(ErrorName::NeedsAttention), "{outcome:?}");
    let reason = &outcome.failure().unwrap().root_cause.reason;
    assert!(reason.contains("not created by stackfleet"), "{reason}");
    assert_eq!((delete.num_calls(), create.num_calls()), (0, 0));
}

#[tokio::test(start_paused = true)]
async fn rollback_complete_is_left_alone_under_stop() {
    let describe = describe(&[Some("ROLLBACK_COMPLETE")]);
    let delete = delete_ok();
    let outcome = deploy(&[&describe, &delete], &spec(RecoveryPolicy::Stop)).await;
    assert_eq!(outcome.error(), Some(ErrorName::NeedsAttention), "{outcome:?}");
    assert!(outcome
        .failure()
        .unwrap()
        .root_cause
        .reason
        .contains("ROLLBACK_COMPLETE"));
    assert_eq!(delete.num_calls(), 0);
}

#[tokio::test(start_paused = true)]
async fn update_rollback_failed_is_continued_then_updated() {
    let describe = describe(&[
        Some("UPDATE_ROLLBACK_FAILED"),
        Some("UPDATE_ROLLBACK_IN_PROGRESS"),
        Some("UPDATE_ROLLBACK_COMPLETE"),
        Some("UPDATE_COMPLETE"),
    ]);
    let rollback_events = mock!(Cfn::describe_stack_events).then_output(|| {
        events(
            &[
                (
                    "org-baseline",
                    "AWS::CloudFormation::Stack",
                    "UPDATE_ROLLBACK_FAILED",
                    None,
                    None,
                ),
                (
                    "Logs",
                    "AWS::S3::Bucket",
                    "UPDATE_FAILED",
                    Some("bucket is not empty"),
                    None,
                ),
                (
                    "org-baseline",
                    "AWS::CloudFormation::Stack",
                    "UPDATE_ROLLBACK_IN_PROGRESS",
                    None,
                    None,
                ),
            ],
            None,
        )
    });
    let continue_rollback = mock!(Cfn::continue_update_rollback)
        .match_requests(|r| {
            r.client_request_token() == Some("stackfleet-run-1-continue")
                && r.resources_to_skip() == ["Logs".to_string()]
        })
        .then_output(|| ContinueUpdateRollbackOutput::builder().build());
    let update = update_ok();
    let mut spec = spec(RecoveryPolicy::Recreate);
    spec.skip_failed_rollback_resources = true;
    let outcome = deploy(&[&describe, &rollback_events, &continue_rollback, &update], &spec).await;
    assert_eq!(outcome.kind(), OutcomeKind::Updated, "{outcome:?}");
    assert_eq!(outcome.recovered_from, Some(StackStatus::UpdateRollbackFailed));
    assert_eq!((continue_rollback.num_calls(), update.num_calls()), (1, 1));
}

#[tokio::test(start_paused = true)]
async fn delete_failed_again_needs_attention_with_the_reason() {
    let describe = describe(&[Some("DELETE_FAILED"), Some("DELETE_FAILED")]);
    let delete = delete_ok();
    let delete_events = mock!(Cfn::describe_stack_events).then_output(|| {
        let token = Some("stackfleet-run-1-delete");
        events(
            &[
                (
                    "org-baseline",
                    "AWS::CloudFormation::Stack",
                    "DELETE_FAILED",
                    Some("resources failed to delete"),
                    token,
                ),
                (
                    "Logs",
                    "AWS::S3::Bucket",
                    "DELETE_FAILED",
                    Some("The bucket you tried to delete is not empty"),
                    token,
                ),
                (
                    "org-baseline",
                    "AWS::CloudFormation::Stack",
                    "DELETE_IN_PROGRESS",
                    None,
                    token,
                ),
                (
                    "org-baseline",
                    "AWS::CloudFormation::Stack",
                    "DELETE_FAILED",
                    Some("an older delete"),
                    Some("someone"),
                ),
            ],
            None,
        )
    });
    let create = create_ok();
    let outcome = deploy(
        &[&describe, &delete, &delete_events, &create],
        &spec(RecoveryPolicy::Recreate),
    )
    .await;
    assert_eq!(outcome.error(), Some(ErrorName::NeedsAttention), "{outcome:?}");
    let cause = outcome.failure().unwrap().root_cause.clone();
    assert_eq!(cause.logical_id.as_deref(), Some("Logs"));
    assert_eq!(cause.reason, "The bucket you tried to delete is not empty");
    assert_eq!((delete.num_calls(), create.num_calls()), (1, 0));
}

#[tokio::test(start_paused = true)]
async fn review_in_progress_is_deleted_then_created() {
    let describe = describe(&[Some("REVIEW_IN_PROGRESS"), None, Some("CREATE_COMPLETE")]);
    let (delete, create) = (delete_ok(), create_ok());
    let outcome = deploy(&[&describe, &delete, &create], &spec(RecoveryPolicy::Recreate)).await;
    assert_eq!(outcome.kind(), OutcomeKind::Created, "{outcome:?}");
    assert_eq!(outcome.recovered_from, Some(StackStatus::ReviewInProgress));
}

#[tokio::test(start_paused = true)]
async fn an_update_rolled_back_is_reported_with_its_root_cause_across_event_pages() {
    let describe = describe(&[Some("UPDATE_COMPLETE"), Some("UPDATE_ROLLBACK_COMPLETE")]);
    let stack_type = "AWS::CloudFormation::Stack";
    let newest = mock!(Cfn::describe_stack_events)
        .match_requests(|r| r.next_token().is_none())
        .then_output(move || {
            events(
                &[
                    (
                        "org-baseline",
                        stack_type,
                        "UPDATE_ROLLBACK_COMPLETE",
                        None,
                        Some(OURS),
                    ),
                    ("Admin", "AWS::IAM::Role", "UPDATE_COMPLETE", None, Some(OURS)),
                    (
                        "org-baseline",
                        stack_type,
                        "UPDATE_ROLLBACK_IN_PROGRESS",
                        Some("The following resource(s) failed to update: [ReadOnly]"),
                        Some(OURS),
                    ),
                    (
                        "Admin",
                        "AWS::IAM::Role",
                        "UPDATE_FAILED",
                        Some("Resource update cancelled"),
                        Some(OURS),
                    ),
                ],
                Some("page-2"),
            )
        });
    let older = mock!(Cfn::describe_stack_events)
        .match_requests(|r| r.next_token() == Some("page-2"))
        .then_output(move || {
            events(
                &[
                    (
                        "ReadOnly",
                        "AWS::IAM::Role",
                        "UPDATE_FAILED",
                        Some("Policy arn:aws:iam::aws:policy/Nope does not exist"),
                        Some(OURS),
                    ),
                    (
                        "ReadOnly",
                        "AWS::IAM::Role",
                        "UPDATE_IN_PROGRESS",
                        None,
                        Some(OURS),
                    ),
                    (
                        "org-baseline",
                        stack_type,
                        "UPDATE_IN_PROGRESS",
                        Some("User Initiated"),
                        Some(OURS),
                    ),
                    (
                        "Old",
                        "AWS::IAM::Role",
                        "CREATE_FAILED",
                        Some("from an older operation"),
                        Some("stackfleet-run-0-create"),
                    ),
                ],
                None,
            )
        });
    let update = update_ok();
    let outcome = deploy(
        &[&describe, &newest, &older, &update],
        &spec(RecoveryPolicy::Recreate),
    )
    .await;
    assert_eq!(outcome.error(), Some(ErrorName::StackFailed), "{outcome:?}");
    assert_eq!(outcome.final_status, Some(StackStatus::UpdateRollbackComplete));
    let cause = outcome.failure().unwrap().root_cause.clone();
    assert_eq!(cause.logical_id.as_deref(), Some("ReadOnly"));
    assert_eq!(cause.resource_type.as_deref(), Some("AWS::IAM::Role"));
    assert_eq!(cause.reason, "Policy arn:aws:iam::aws:policy/Nope does not exist");
    assert_eq!((newest.num_calls(), older.num_calls()), (1, 1));
}

#[tokio::test(start_paused = true)]
async fn throttling_is_retried_by_the_sdk_then_succeeds() {
    let describe = mock!(Cfn::describe_stacks)
        .sequence()
        .http_status(400, throttling_xml())
        .times(2)
        .output(|| stack("CREATE_COMPLETE"))
        .build();
    let update = mock!(Cfn::update_stack)
        .then_error(|| UpdateStackError::generic(validation("No updates are to be performed.")));
    let outcome = deploy(&[&describe, &update], &spec(RecoveryPolicy::Recreate)).await;
    assert_eq!(outcome.kind(), OutcomeKind::Unchanged, "{outcome:?}");
    assert_eq!(describe.num_calls(), 3, "two throttled attempts, then the answer");
}

#[tokio::test(start_paused = true)]
async fn throttling_that_outlasts_the_retries_is_throttled() {
    let describe = mock!(Cfn::describe_stacks)
        .sequence()
        .http_status(400, throttling_xml())
        .repeatedly()
        .build();
    let stacks = CfnStacks::new(cloudformation(&[&describe]));
    let (spec, target, run) = (spec(RecoveryPolicy::Recreate), target(), "run-1".parse().unwrap());
    let job = Job {
        target: &target,
        spec: &spec,
        run: &run,
        new_account: false,
    };

    let error = lifecycle::start(
        &stacks,
        &job,
        Progress {
            started_at_ms: 0,
            aws_calls: 0,
        },
        0,
    )
    .await
    .unwrap_err();
    assert_eq!(error.name, ErrorName::Throttled);
    assert_eq!(describe.num_calls(), 3, "the SDK's three attempts");

    // The local driver retries the step twice more, then reports the target Throttled.
    let outcome = deploy(&[&describe], &spec).await;
    assert_eq!(outcome.error(), Some(ErrorName::Throttled), "{outcome:?}");
}

#[tokio::test(start_paused = true)]
async fn access_denied_names_the_role_and_a_new_account_is_not_ready_instead() {
    let denied = mock!(Sts::assume_role).then_error(|| {
        AssumeRoleError::generic(
            ErrorMetadata::builder()
                .code("AccessDenied")
                .message("User: arn:aws:sts::000000000000:assumed-role/ci is not authorized to perform: sts:AssumeRole")
                .build(),
        )
    });
    let describe = describe(&[None]);
    let spec = spec(RecoveryPolicy::Recreate);

    let outcome = deploy_with(&denied, &[&describe], &spec, false).await;
    assert_eq!(outcome.error(), Some(ErrorName::AccessDenied), "{outcome:?}");
    let reason = outcome.failure().unwrap().root_cause.reason.clone();
    assert!(
        reason.contains("arn:aws:iam::111111111111:role/OrganizationAccountAccessRole"),
        "{reason}"
    );
    assert_eq!(denied.num_calls(), 1, "a denied role is not retried");

    let outcome = deploy_with(&denied, &[&describe], &spec, true).await;
    assert_eq!(outcome.error(), Some(ErrorName::AccountNotReady), "{outcome:?}");
    assert_eq!(denied.num_calls(), 1 + 3, "a new account is retried");
    assert_eq!(describe.num_calls(), 0);
}

/// STS turned off for the account in the region stackfleet calls STS in says nothing of the
/// target's region: the role cannot be assumed from here, a failure that names it (a new
/// account, not set up yet, is retried as not ready).
#[tokio::test(start_paused = true)]
async fn sts_turned_off_for_the_account_fails_naming_it() {
    let disabled = mock!(Sts::assume_role).then_error(|| {
        AssumeRoleError::generic(
            ErrorMetadata::builder()
                .code("RegionDisabledException")
                .message("STS is not activated in this region for account:111111111111.")
                .build(),
        )
    });
    let describe = describe(&[None]);
    let spec = spec(RecoveryPolicy::Recreate);

    let outcome = deploy_with(&disabled, &[&describe], &spec, false).await;
    assert_eq!(outcome.error(), Some(ErrorName::AccessDenied), "{outcome:?}");
    let reason = &outcome.failure().unwrap().root_cause.reason;
    assert!(
        reason.contains("STS is turned off for this account in the region stackfleet calls STS in"),
        "{reason}"
    );
    assert_eq!(disabled.num_calls(), 1, "not retried");
    assert_eq!(describe.num_calls(), 0);

    let outcome = deploy_with(&disabled, &[&describe], &spec, true).await;
    assert_eq!(outcome.error(), Some(ErrorName::AccountNotReady), "{outcome:?}");
    assert_eq!(disabled.num_calls(), 1 + 3, "a new account is retried");
}

fn refused_session() -> Rule {
    mock!(Cfn::describe_stacks).then_error(|| {
        DescribeStacksError::generic(
            ErrorMetadata::builder()
                .code("InvalidClientTokenId")
                .message("The security token included in the request is invalid.")
                .build(),
        )
    })
}

/// A fresh session refused at the target's first look is a region the account has not enabled
/// (an opt-in region answers so): Skipped at once, not retried. A new account is retried instead.
#[tokio::test(start_paused = true)]
async fn a_region_not_enabled_is_skipped_at_once() {
    let spec = spec(RecoveryPolicy::Recreate);
    let refused = refused_session();
    let outcome = deploy(&[&refused], &spec).await;
    assert_eq!(outcome.kind(), OutcomeKind::Skipped, "{outcome:?}");
    let reason = outcome.skipped_reason().unwrap();
    assert!(
        reason.starts_with("region not enabled: the account does not accept calls in eu-west-1 (enable the region in the account,"),
        "{reason}"
    );
    assert_eq!(refused.num_calls(), 1, "not retried");

    let refused = refused_session();
    let outcome = deploy_with(&assume_ok(), &[&refused], &spec, true).await;
    assert_eq!(outcome.error(), Some(ErrorName::AccountNotReady), "{outcome:?}");
    assert_eq!(refused.num_calls(), 1 + 2, "a new account is retried");
}

/// Refused in the middle of our own operation, the session's credentials say something else went
/// wrong: the target fails (and is re-run), never Skipped as if nothing had been deployed.
#[tokio::test(start_paused = true)]
async fn a_session_refused_mid_operation_fails_the_target() {
    let describe = mock!(Cfn::describe_stacks)
        .sequence()
        .output(|| DescribeStacksOutput::builder().build())
        .error(|| {
            DescribeStacksError::generic(
                ErrorMetadata::builder()
                    .code("InvalidClientTokenId")
                    .message("The security token included in the request is invalid.")
                    .build(),
            )
        })
        .build();
    let outcome = deploy(&[&describe, &create_ok()], &spec(RecoveryPolicy::Recreate)).await;
    assert_eq!(outcome.kind(), OutcomeKind::Failed, "{outcome:?}");
    assert!(
        format!("{outcome:?}").contains("region not enabled"),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn refused_credentials_mean_a_disabled_region_only_in_a_target() {
    let refused = mock!(Cfn::describe_stacks).then_error(|| {
        DescribeStacksError::generic(
            ErrorMetadata::builder()
                .code("InvalidClientTokenId")
                .message("The security token included in the request is invalid.")
                .build(),
        )
    });
    // The caller's own credentials (a local run's validation): they are bad, whatever the region.
    let own = CfnStacks::new(cloudformation(&[&refused]));
    let error = own.describe_stack("org-baseline").await.unwrap_err();
    assert!(
        matches!(&error, stackfleet_core::ports::PortError::Rejected { code, .. } if code == "InvalidClientTokenId"),
        "{error:?}"
    );
    let session = CfnStacks::in_target(cloudformation(&[&refused]));
    let error = session.describe_stack("org-baseline").await.unwrap_err();
    assert!(
        matches!(error, stackfleet_core::ports::PortError::RegionNotEnabled(_)),
        "{error:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn an_invalid_template_is_caught_once_before_any_target_and_at_create() {
    let refused = mock!(Cfn::validate_template).then_error(|| {
        ValidateTemplateError::generic(validation(
            "Template format error: Unresolved resource dependencies [Nope]",
        ))
    });
    let spec = spec(RecoveryPolicy::Recreate);
    let error = preflight(&CfnStacks::new(cloudformation(&[&refused])), &spec)
        .await
        .unwrap_err();
    assert!(matches!(error, PreflightError::Template(_)), "{error}");
    assert!(
        error.to_string().contains("Unresolved resource dependencies"),
        "{error}"
    );

    let accepted = mock!(Cfn::validate_template).then_output(|| ValidateTemplateOutput::builder().build());
    preflight(&CfnStacks::new(cloudformation(&[&accepted])), &spec)
        .await
        .unwrap();

    let describe = describe(&[None]);
    let create = mock!(Cfn::create_stack)
        .then_error(|| CreateStackError::generic(validation("Parameters: [Env] must have values")));
    let outcome = deploy(&[&describe, &create], &spec).await;
    assert_eq!(outcome.error(), Some(ErrorName::TemplateInvalid), "{outcome:?}");
    assert!(outcome
        .failure()
        .unwrap()
        .root_cause
        .reason
        .contains("must have values"));
}
