//! `adoptExisting` at the SDK seam (`aws-smithy-mocks`): the CREATE change set is sent with
//! ImportExistingResources, an update's without it, and the Import changes CloudFormation
//! answers are read as such. moto ignores ImportExistingResources (it never imports): this is
//! where the request is checked; crates/aws/tests/fakes_adopt.rs runs the whole create.

use aws_sdk_cloudformation::operation::create_change_set::CreateChangeSetOutput;
use aws_sdk_cloudformation::operation::describe_change_set::DescribeChangeSetOutput;
use aws_sdk_cloudformation::types::{
    Change, ChangeAction, ChangeSetStatus, ChangeSetType as SdkType, ExecutionStatus, ResourceChange,
};
use aws_sdk_cloudformation::Client as Cfn;
use aws_smithy_mocks::{mock, mock_client, RuleMode};
use stackfleet_aws::CfnStacks;
use stackfleet_core::ports::StackOperations;
use stackfleet_core::spec::{TemplateBody, TemplateSource};
use stackfleet_core::stack::{ChangeSetRequest, ChangeSetType, StackRequest};

const STACK_ID: &str = "arn:aws:cloudformation:us-east-1:111111111111:stack/org-federation/1a";
const CHANGE_SET: &str = "arn:aws:cloudformation:us-east-1:111111111111:changeSet/stackfleet-adopt-r1/2b";

fn request(kind: ChangeSetType, import: bool) -> ChangeSetRequest {
    let body = TemplateBody::parse(
        r#"{"Resources": {"H": {"Type": "AWS::CloudFormation::WaitConditionHandle"}}}"#.into(),
    )
    .unwrap();
    ChangeSetRequest {
        stack: StackRequest {
            stack_name: "org-federation".into(),
            template: TemplateSource::Body(body),
            parameters: Vec::new(),
            capabilities: Vec::new(),
            tags: Vec::new(),
            token: "stackfleet-r1-create".into(),
            termination_protection: false,
        },
        change_set_name: "stackfleet-adopt-r1".into(),
        change_set_type: kind,
        import_existing_resources: import,
    }
}

#[tokio::test]
async fn a_create_that_adopts_asks_cloudformation_to_import_existing_resources() {
    let importing = mock!(Cfn::create_change_set)
        .match_requests(|r| {
            r.import_existing_resources() == Some(true)
                && r.change_set_type() == Some(&SdkType::Create)
                && r.client_token() == Some("stackfleet-r1-create")
        })
        .then_output(|| {
            CreateChangeSetOutput::builder()
                .id(CHANGE_SET)
                .stack_id(STACK_ID)
                .build()
        });
    let stacks = CfnStacks::new(mock_client!(
        aws_sdk_cloudformation,
        RuleMode::MatchAny,
        [&importing]
    ));

    let created = stacks
        .create_change_set(&request(ChangeSetType::Create, true))
        .await
        .unwrap();
    assert_eq!(
        (created.id.as_str(), created.stack_id.as_str()),
        (CHANGE_SET, STACK_ID)
    );
    assert_eq!(importing.num_calls(), 1);
}

#[tokio::test]
async fn without_adoption_the_flag_is_not_sent() {
    let plain = mock!(Cfn::create_change_set)
        .match_requests(|r| r.import_existing_resources().is_none())
        .then_output(|| {
            CreateChangeSetOutput::builder()
                .id(CHANGE_SET)
                .stack_id(STACK_ID)
                .build()
        });
    let stacks = CfnStacks::new(mock_client!(aws_sdk_cloudformation, RuleMode::MatchAny, [&plain]));

    stacks
        .create_change_set(&request(ChangeSetType::Update, false))
        .await
        .unwrap();
    assert_eq!(plain.num_calls(), 1);
}

#[tokio::test]
async fn the_import_changes_cloudformation_answers_are_read_as_imports() {
    let described = mock!(Cfn::describe_change_set).then_output(|| {
        let import = ResourceChange::builder()
            .action(ChangeAction::Import)
            .logical_resource_id("FederatedReadOnly")
            .resource_type("AWS::IAM::Role")
            .physical_resource_id("FederatedReadOnly")
            .build();
        DescribeChangeSetOutput::builder()
            .change_set_id(CHANGE_SET)
            .stack_id(STACK_ID)
            .status(ChangeSetStatus::CreateComplete)
            .execution_status(ExecutionStatus::Available)
            .changes(Change::builder().resource_change(import).build())
            .build()
    });
    let stacks = CfnStacks::new(mock_client!(
        aws_sdk_cloudformation,
        RuleMode::MatchAny,
        [&described]
    ));

    let found = stacks.describe_change_set(CHANGE_SET).await.unwrap().unwrap();
    assert_eq!(found.changes.len(), 1);
    assert_eq!(found.changes[0].action, "Import");
    assert_eq!(found.changes[0].logical_id, "FederatedReadOnly");
}
