//! `adoptExisting` on the fakes, paused time: a create whose template names a role made by hand
//! imports it (a CREATE change set with ImportExistingResources, executed under the create's
//! token) when the template keeps it with `DeletionPolicy: Retain`, and the outcome says what
//! was adopted; without Retain the change set is refused and the target fails with why, its
//! empty stack gone; without `adoptExisting` the create is a CreateStack as ever.
//! The request the SDK sends is checked in sdk_mocks.rs (moto ignores ImportExistingResources).

use stackfleet_aws::fake::{Call, FakeCloud};
use stackfleet_core::errors::ErrorName;
use stackfleet_core::lifecycle::{run_target, DriveOptions, Job, TokioClock};
use stackfleet_core::outcome::Verdict;
use stackfleet_core::spec::{TemplateBody, TemplateSource};
use stackfleet_core::stack::{NamedKind, StackStatus};
use stackfleet_core::{Outcome, RolloutSpec, RunId, Target};

const STACK: &str = "org-federation";

fn template(deletion_policy: &str) -> String {
    format!(
        r#"{{"Resources": {{
            "FederatedReadOnly": {{"Type": "AWS::IAM::Role", {deletion_policy}
                "Properties": {{"RoleName": "FederatedReadOnly"}}}},
            "Handle": {{"Type": "AWS::CloudFormation::WaitConditionHandle"}}
        }}}}"#
    )
}

fn spec(template: &str, adopt_existing: bool) -> RolloutSpec {
    let body = TemplateBody::parse(template.into()).unwrap();
    let mut spec = RolloutSpec::new(STACK.parse().unwrap(), TemplateSource::Body(body));
    spec.adopt_existing = adopt_existing;
    spec
}

async fn deploy(cloud: &FakeCloud, target: &Target, spec: &RolloutSpec) -> Outcome {
    let run: RunId = "adopt-1".parse().unwrap();
    let job = Job {
        target,
        spec,
        run: &run,
        new_account: false,
    };
    run_target(cloud, &job, &TokioClock::new(), DriveOptions::default()).await
}

fn with_role_made_by_hand() -> (FakeCloud, Target) {
    let cloud = FakeCloud::new();
    let target: Target = "111111111111:us-east-1".parse().unwrap();
    cloud.put_iam_resource(&target.account, NamedKind::Role, "FederatedReadOnly");
    (cloud, target)
}

#[tokio::test(start_paused = true)]
async fn a_role_made_by_hand_and_kept_with_retain_is_adopted_and_the_outcome_says_so() {
    let (cloud, target) = with_role_made_by_hand();
    let outcome = deploy(
        &cloud,
        &target,
        &spec(&template(r#""DeletionPolicy": "Retain","#), true),
    )
    .await;

    assert_eq!(outcome.verdict, Verdict::Created, "{outcome:?}");
    assert_eq!(outcome.adopted, ["AWS::IAM::Role FederatedReadOnly"]);
    assert_eq!(cloud.count(Call::CreateStack), 0, "a change set, not CreateStack");
    assert_eq!(cloud.count(Call::ExecuteChangeSet), 1);
    assert_eq!(
        cloud.stack_status(&target, STACK),
        Some(StackStatus::CreateComplete)
    );
    let json = serde_json::to_value(&outcome).unwrap();
    assert_eq!(json["adopted"][0], "AWS::IAM::Role FederatedReadOnly");
}

#[tokio::test(start_paused = true)]
async fn without_retain_the_change_set_is_refused_the_target_fails_with_why_and_nothing_is_left() {
    let (cloud, target) = with_role_made_by_hand();
    let outcome = deploy(&cloud, &target, &spec(&template(""), true)).await;

    let Verdict::Failed { failure } = &outcome.verdict else {
        panic!("expected a failure: {outcome:?}");
    };
    assert_eq!(failure.error, ErrorName::StackFailed);
    let cause = failure.root_cause.to_string();
    assert!(cause.contains("must have a DeletionPolicy of Retain"), "{cause}");
    assert!(
        cause.contains("only resources the template keeps with DeletionPolicy: Retain"),
        "{cause}"
    );
    assert_eq!(cloud.count(Call::ExecuteChangeSet), 0);
    assert!(
        matches!(
            cloud.stack_status(&target, STACK),
            None | Some(StackStatus::DeleteComplete)
        ),
        "the empty stack is gone: {:?}",
        cloud.stack_status(&target, STACK)
    );
}

#[tokio::test(start_paused = true)]
async fn without_adopt_existing_a_create_is_a_create_stack_and_nothing_is_adopted() {
    let cloud = FakeCloud::new();
    let target: Target = "222222222222:us-east-1".parse().unwrap();
    let outcome = deploy(
        &cloud,
        &target,
        &spec(&template(r#""DeletionPolicy": "Retain","#), false),
    )
    .await;

    assert_eq!(outcome.verdict, Verdict::Created);
    assert!(outcome.adopted.is_empty());
    assert_eq!(cloud.count(Call::CreateStack), 1);
    assert_eq!(cloud.count(Call::CreateChangeSet), 0);
}
