//! The pre-flight's AWS calls at the SDK seam (`aws-smithy-mocks`), where moto answers nothing
//! like AWS: DescribeEvents of a change set that CloudFormation's early validation FAILED, and
//! a plan through the real STS, CloudFormation and IAM adapters that reports it; IAM's lookups
//! (NoSuchEntity is "free", AccessDenied an error).

mod sts_answers;

use aws_sdk_cloudformation::operation::create_change_set::CreateChangeSetOutput;
use aws_sdk_cloudformation::operation::delete_change_set::DeleteChangeSetOutput;
use aws_sdk_cloudformation::operation::delete_stack::DeleteStackOutput;
use aws_sdk_cloudformation::operation::describe_change_set::DescribeChangeSetOutput;
use aws_sdk_cloudformation::operation::describe_events::{DescribeEventsError, DescribeEventsOutput};
use aws_sdk_cloudformation::operation::describe_stacks::{DescribeStacksError, DescribeStacksOutput};
use aws_sdk_cloudformation::types::{
    ChangeSetStatus, EventType, ExecutionStatus, OperationEvent, Stack, StackStatus as SdkStatus,
    ValidationStatus,
};
use aws_sdk_cloudformation::Client as Cfn;
use aws_sdk_iam::operation::get_policy::{GetPolicyError, GetPolicyOutput};
use aws_sdk_iam::operation::get_role::{GetRoleError, GetRoleOutput};
use aws_sdk_iam::types::error::NoSuchEntityException;
use aws_sdk_iam::types::Role;
use aws_sdk_iam::Client as Iam;
use aws_sdk_sts::Client as Sts;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use aws_smithy_types::error::ErrorMetadata;
use aws_smithy_types::DateTime;
use stackfleet_aws::{CfnStacks, IamNames, StsAssumer};
use stackfleet_core::lifecycle::Job;
use stackfleet_core::plan::{plan_target, Blocker, FoundBy};
use stackfleet_core::ports::{NamedResources, PortError, StackOperations};
use stackfleet_core::spec::{TemplateBody, TemplateSource};
use stackfleet_core::stack::NamedKind;
use stackfleet_core::{RolloutSpec, RunId, Target};

const STACK_ID: &str = "arn:aws:cloudformation:eu-west-1:111111111111:stack/org-federation/0f1e";
const CHANGE_SET: &str = "arn:aws:cloudformation:eu-west-1:111111111111:changeSet/stackfleet-plan-p1/9a";
const REFUSED: &str = "The following hook(s)/validation failed: [AWS::EarlyValidation::ResourceExistenceCheck]. \
                       To troubleshoot Early Validation errors, use the DescribeEvents API for detailed failure information.";

fn name_conflict() -> OperationEvent {
    OperationEvent::builder()
        .event_type(EventType::ValidationError)
        .logical_resource_id("FederatedReadOnly")
        .resource_type("AWS::IAM::Role")
        .validation_name("ResourceExistenceCheck")
        .validation_status(ValidationStatus::Failed)
        .validation_status_reason(
            "Resource of type 'AWS::IAM::Role' with identifier 'FederatedReadOnly' already exists \
             in account 111111111111.",
        )
        .build()
}

fn cloudformation(rules: &[&Rule]) -> Cfn {
    mock_client!(aws_sdk_cloudformation, RuleMode::MatchAny, rules)
}

#[tokio::test]
async fn a_change_sets_failed_events_are_asked_for_by_its_id_filtered_to_failures_and_paged() {
    let first = mock!(Cfn::describe_events)
        .match_requests(|r| {
            r.change_set_name() == Some(CHANGE_SET)
                && r.filters().and_then(|f| f.failed_events()) == Some(true)
                && r.next_token().is_none()
        })
        .then_output(|| {
            DescribeEventsOutput::builder()
                .operation_events(name_conflict())
                .next_token("page-2")
                .build()
        });
    let second = mock!(Cfn::describe_events)
        .match_requests(|r| r.next_token() == Some("page-2"))
        .then_output(|| DescribeEventsOutput::builder().build());
    let stacks = CfnStacks::new(cloudformation(&[&first, &second]));

    let page = stacks.change_set_failures(CHANGE_SET, None).await.unwrap();

    assert_eq!(page.next_page.as_deref(), Some("page-2"));
    let event = &page.items[0];
    assert_eq!(event.logical_id.as_deref(), Some("FederatedReadOnly"));
    assert_eq!(event.resource_type.as_deref(), Some("AWS::IAM::Role"));
    assert_eq!(event.event_type.as_deref(), Some("VALIDATION_ERROR"));
    assert!(
        event.reason.as_deref().unwrap().contains("already exists"),
        "{event:?}"
    );
    assert!(stacks
        .change_set_failures(CHANGE_SET, Some("page-2"))
        .await
        .unwrap()
        .items
        .is_empty());
}

/// A new stack's plan through the real adapters, its change set FAILED by validation with
/// `events` as DescribeEvents' answer: the blockers the plan reports, and the calls' rules.
async fn plan_refused(events: Rule) -> (Vec<Blocker>, Vec<Rule>) {
    let missing = mock!(Cfn::describe_stacks)
        .match_requests(|r| r.stack_name() == Some("org-federation"))
        .then_error(|| {
            DescribeStacksError::generic(
                ErrorMetadata::builder()
                    .code("ValidationError")
                    .message("Stack with id org-federation does not exist")
                    .build(),
            )
        });
    let review = mock!(Cfn::describe_stacks)
        .match_requests(|r| r.stack_name() == Some(STACK_ID))
        .then_output(|| {
            DescribeStacksOutput::builder()
                .stacks(
                    Stack::builder()
                        .stack_id(STACK_ID)
                        .stack_name("org-federation")
                        .stack_status(SdkStatus::ReviewInProgress)
                        .creation_time(DateTime::from_secs(1_767_225_600))
                        .build(),
                )
                .build()
        });
    let create = mock!(Cfn::create_change_set).then_output(|| {
        CreateChangeSetOutput::builder()
            .id(CHANGE_SET)
            .stack_id(STACK_ID)
            .build()
    });
    let failed = mock!(Cfn::describe_change_set).then_output(|| {
        DescribeChangeSetOutput::builder()
            .change_set_id(CHANGE_SET)
            .stack_id(STACK_ID)
            .status(ChangeSetStatus::Failed)
            .status_reason(REFUSED)
            .execution_status(ExecutionStatus::Unavailable)
            .build()
    });
    let delete_change_set = mock!(Cfn::delete_change_set)
        .match_requests(|r| r.change_set_name() == Some(CHANGE_SET))
        .then_output(|| DeleteChangeSetOutput::builder().build());
    let delete_stack = mock!(Cfn::delete_stack)
        .match_requests(|r| r.stack_name() == Some(STACK_ID))
        .then_output(|| DeleteStackOutput::builder().build());
    // No IAM call is expected: CloudFormation validated the change set itself.
    let no_lookup = mock!(Iam::get_role).then_output(|| GetRoleOutput::builder().build());
    let rules = vec![
        missing,
        review,
        create,
        failed,
        events,
        delete_change_set,
        delete_stack,
        no_lookup,
    ];
    let cfn = cloudformation(&rules[..7].iter().collect::<Vec<_>>());
    let iam = mock_client!(aws_sdk_iam, RuleMode::MatchAny, [&rules[7]]);
    let sts = mock_client!(
        aws_sdk_sts,
        RuleMode::MatchAny,
        [&mock!(Sts::assume_role).then_output(sts_answers::assumed)]
    );
    let assumer = StsAssumer::from_clients(sts, cfn.config().clone()).with_iam(iam.config().clone());
    let template = r#"{"Resources":{"FederatedReadOnly":{"Type":"AWS::IAM::Role","Properties":{"RoleName":"FederatedReadOnly"}}}}"#;
    let spec = RolloutSpec::new(
        "org-federation".parse().unwrap(),
        TemplateSource::Body(TemplateBody::parse(template.into()).unwrap()),
    );
    let target: Target = "111111111111:eu-west-1".parse().unwrap();
    let run: RunId = "p1".parse().unwrap();
    let job = Job {
        target: &target,
        spec: &spec,
        run: &run,
        new_account: false,
    };
    let planned = plan_target(&assumer, &job).await;
    (planned.blockers().to_vec(), rules)
}

#[tokio::test(start_paused = true)]
async fn a_plan_reports_what_validation_refused_and_deletes_the_change_set_and_its_empty_stack() {
    let events = mock!(Cfn::describe_events).then_output(|| {
        DescribeEventsOutput::builder()
            .operation_events(name_conflict())
            .build()
    });

    let (blockers, rules) = plan_refused(events).await;

    assert_eq!(
        blockers,
        [Blocker {
            resource_type: Some("AWS::IAM::Role".into()),
            logical_id: Some("FederatedReadOnly".into()),
            // The account is blanked: one cause in many accounts is one group.
            reason: "Resource of type 'AWS::IAM::Role' with identifier 'FederatedReadOnly' already \
                     exists in account <account>."
                .into(),
            found_by: FoundBy::ValidationEvent,
        }]
    );
    let [events, delete_change_set, delete_stack, no_lookup] = [4, 5, 6, 7].map(|i| rules[i].num_calls());
    assert_eq!((events, delete_change_set, delete_stack), (1, 1, 1));
    assert_eq!(
        no_lookup, 0,
        "no name is looked up where CloudFormation validated"
    );
}

#[tokio::test(start_paused = true)]
async fn without_events_the_change_sets_status_reason_is_the_blocker() {
    let unknown = mock!(Cfn::describe_events).then_error(|| {
        DescribeEventsError::generic(
            ErrorMetadata::builder()
                .code("InvalidAction")
                .message("DescribeEvents is not valid for this endpoint")
                .build(),
        )
    });

    let (blockers, _) = plan_refused(unknown).await;

    assert_eq!(
        blockers,
        [Blocker {
            resource_type: None,
            logical_id: None,
            reason: format!("the change set failed: {REFUSED}"),
            found_by: FoundBy::ChangeSet,
        }]
    );
}

#[tokio::test]
async fn iam_lookups_read_no_such_entity_as_free_and_a_refusal_as_an_error() {
    let taken = mock!(Iam::get_role)
        .match_requests(|r| r.role_name() == Some("FederatedReadOnly"))
        .then_output(|| {
            let role = Role::builder()
                .path("/")
                .role_name("FederatedReadOnly")
                .role_id("AROAFAKE")
                .arn("arn:aws:iam::111111111111:role/FederatedReadOnly")
                .create_date(DateTime::from_secs(1_546_300_800))
                .build()
                .unwrap();
            GetRoleOutput::builder().role(role).build()
        });
    let free = mock!(Iam::get_role)
        .match_requests(|r| r.role_name() == Some("FederatedAdmin"))
        .then_error(|| {
            GetRoleError::NoSuchEntityException(
                NoSuchEntityException::builder()
                    .message("The role with name FederatedAdmin cannot be found.")
                    .build(),
            )
        });
    let policy = "arn:aws:iam::111111111111:policy/stackfleet-boundary";
    let denied = mock!(Iam::get_policy)
        .match_requests(move |r| r.policy_arn() == Some(policy))
        .then_error(|| {
            GetPolicyError::generic(
                ErrorMetadata::builder()
                    .code("AccessDenied")
                    .message("not authorized to perform: iam:GetPolicy")
                    .build(),
            )
        });
    let found_policy = mock!(Iam::get_policy)
        .match_requests(|r| r.policy_arn() == Some("arn:aws:iam::111111111111:policy/other"))
        .then_output(|| GetPolicyOutput::builder().build());
    let iam = IamNames::new(mock_client!(
        aws_sdk_iam,
        RuleMode::MatchAny,
        [&taken, &free, &denied, &found_policy]
    ));

    assert!(iam
        .named_resource_exists(NamedKind::Role, "FederatedReadOnly")
        .await
        .unwrap());
    assert!(!iam
        .named_resource_exists(NamedKind::Role, "FederatedAdmin")
        .await
        .unwrap());
    assert!(iam
        .named_resource_exists(NamedKind::ManagedPolicy, "arn:aws:iam::111111111111:policy/other")
        .await
        .unwrap());
    let error = iam
        .named_resource_exists(NamedKind::ManagedPolicy, policy)
        .await
        .unwrap_err();
    assert!(matches!(error, PortError::AccessDenied(_)), "{error:?}");
}
