//! The pre-flight on the fakes, paused time: `plan` reports what would refuse a deploy (a name
//! taken in the account, looked up where CloudFormation validates nothing; a change set that
//! CloudFormation's validation FAILED, with its events), groups it across targets, and leaves
//! nothing behind; what a stack holds already is no conflict.

use stackfleet_aws::fake::{Call, FakeCloud, Refusal};
use stackfleet_core::errors::ErrorName;
use stackfleet_core::lifecycle::{run_target, DriveOptions, Job, TokioClock};
use stackfleet_core::outcome::Verdict;
use stackfleet_core::plan::{
    group_blockers, plan_all, plan_target, plan_target_for_review, preflight_target, Blocker, FoundBy,
    PlanVerdict,
};
use stackfleet_core::spec::{TemplateBody, TemplateSource};
use stackfleet_core::stack::NamedKind;
use stackfleet_core::{RolloutSpec, RunId, Target};

const STACK: &str = "org-federation";
const TEMPLATE: &str = r#"{
  "Parameters": {"ReadOnlyName": {"Type": "String", "Default": "FederatedReadOnly"}},
  "Resources": {
    "FederatedReadOnly": {"Type": "AWS::IAM::Role", "Properties": {"RoleName": {"Ref": "ReadOnlyName"}}},
    "Auditors": {"Type": "AWS::IAM::Group", "Properties": {"GroupName": "auditors"}}
  }
}"#;

fn spec(template: &str) -> RolloutSpec {
    let body = TemplateBody::parse(template.into()).unwrap();
    RolloutSpec::new(STACK.parse().unwrap(), TemplateSource::Body(body))
}

fn target(account: &str) -> Target {
    format!("{account}:us-east-1").parse().unwrap()
}

fn run() -> RunId {
    "plan-1".parse().unwrap()
}

fn job<'a>(target: &'a Target, spec: &'a RolloutSpec, run: &'a RunId) -> Job<'a> {
    Job {
        target,
        spec,
        run,
        new_account: false,
    }
}

fn role_taken() -> Blocker {
    Blocker {
        resource_type: Some("AWS::IAM::Role".into()),
        logical_id: Some("FederatedReadOnly".into()),
        reason: "already exists in the account, outside this stack (RoleName FederatedReadOnly)".into(),
        found_by: FoundBy::NameLookup,
    }
}

#[tokio::test(start_paused = true)]
async fn names_taken_by_hand_block_their_targets_grouped_across_them_and_nothing_is_left_behind() {
    let cloud = FakeCloud::new();
    let targets = [
        target("111111111111"),
        target("222222222222"),
        target("333333333333"),
    ];
    for blocked in &targets[..2] {
        cloud.put_iam_resource(&blocked.account, NamedKind::Role, "FederatedReadOnly");
    }
    let spec = spec(TEMPLATE);

    let plans = plan_all(&cloud, &spec, &run(), &targets, 4, true, |_| {}).await;

    assert!(
        matches!(plans[2].verdict, PlanVerdict::WouldCreate { .. }),
        "{:?}",
        plans[2]
    );
    for blocked in &plans[..2] {
        assert_eq!(blocked.blockers(), [role_taken()], "{blocked:?}");
        assert_eq!(
            blocked.reviewed, None,
            "a blocked target keeps no change set for review"
        );
        assert!(cloud.change_sets(&blocked.target).is_empty());
        assert_eq!(
            cloud.stack_status(&blocked.target, STACK),
            None,
            "the empty stack went too"
        );
    }
    let groups = group_blockers(plans.iter().map(|p| (&p.target, p.blockers())));
    assert_eq!(groups.len(), 1);
    assert_eq!(
        groups[0].headline(),
        "AWS::IAM::Role FederatedReadOnly: already exists in the account, outside this stack \
         (RoleName FederatedReadOnly): 2 targets"
    );
    assert_eq!(groups[0].targets, targets[..2]);
    // Both names, in each target: the role and the group.
    assert_eq!(cloud.count(Call::GetIamResource), 6);
}

#[tokio::test(start_paused = true)]
async fn a_change_set_that_validation_refused_is_reported_with_its_events_and_deleted() {
    let cloud = FakeCloud::new();
    let here = target("111111111111");
    cloud.refuse_next_change_set(
        &here,
        Refusal::name_taken("AWS::IAM::Role", "FederatedReadOnly", "FederatedReadOnly"),
    );
    let spec = spec(TEMPLATE);
    let run = run();

    let planned = plan_target_for_review(&cloud, &job(&here, &spec, &run)).await;

    assert_eq!(
        planned.blockers(),
        [Blocker {
            resource_type: Some("AWS::IAM::Role".into()),
            logical_id: Some("FederatedReadOnly".into()),
            reason: "Resource of type 'AWS::IAM::Role' with identifier 'FederatedReadOnly' already exists."
                .into(),
            found_by: FoundBy::ValidationEvent,
        }]
    );
    assert!(
        cloud.change_sets(&here).is_empty(),
        "the refused change set is deleted"
    );
    assert_eq!(cloud.stack_status(&here, STACK), None);
    // CloudFormation validated it: no name is looked up besides.
    assert_eq!(cloud.count(Call::GetIamResource), 0);
}

#[tokio::test(start_paused = true)]
async fn a_blocked_targets_preflight_is_a_failure_that_needs_a_person() {
    let cloud = FakeCloud::new();
    let here = target("111111111111");
    cloud.put_iam_resource(&here.account, NamedKind::Group, "auditors");
    let spec = spec(TEMPLATE);
    let run = run();

    let checked = preflight_target(&cloud, &job(&here, &spec, &run)).await;

    assert!(checked.is_blocked());
    let outcome = checked.outcome().unwrap();
    let Verdict::Failed { failure } = &outcome.verdict else {
        panic!("{outcome:?}");
    };
    assert_eq!(failure.error, ErrorName::NeedsAttention);
    assert_eq!(failure.root_cause.logical_id.as_deref(), Some("Auditors"));
    assert_eq!(
        failure.root_cause.reason,
        "blocked by pre-flight, nothing started: AWS::IAM::Group Auditors: already exists in the \
         account, outside this stack (GroupName auditors)"
    );
    assert!(
        outcome.wants_rerun(),
        "a re-run deploys it once the name is freed"
    );
    assert!(
        cloud.operations(&here).iter().all(|c| *c == Call::DeleteStack),
        "nothing deployed"
    );
}

#[tokio::test(start_paused = true)]
async fn what_the_stack_holds_already_is_no_conflict_even_listed_as_added() {
    let cloud = FakeCloud::new();
    let here = target("111111111111");
    let run = run();
    let first = spec(TEMPLATE);
    let deployed = run_target(
        &cloud,
        &job(&here, &first, &run),
        &TokioClock::new(),
        DriveOptions::default(),
    )
    .await;
    assert!(deployed.verdict.kind().is_success(), "{deployed:?}");
    // An emulator that lists every resource of an update as Add; and one more role, whose name
    // somebody took by hand.
    cloud.list_every_resource_as_added();
    cloud.put_iam_resource(&here.account, NamedKind::Role, "Auditor");
    let changed = spec(&TEMPLATE.replace(
        r#""Auditors":"#,
        r#""Auditor": {"Type": "AWS::IAM::Role", "Properties": {"RoleName": "Auditor"}},
    "Auditors":"#,
    ));

    let planned = plan_target(&cloud, &job(&here, &changed, &run)).await;

    assert_eq!(
        planned.blockers(),
        [Blocker {
            resource_type: Some("AWS::IAM::Role".into()),
            logical_id: Some("Auditor".into()),
            reason: "already exists in the account, outside this stack (RoleName Auditor)".into(),
            found_by: FoundBy::NameLookup,
        }],
        "the stack's own role and group are not conflicts; the hand-made Auditor is"
    );
    assert_eq!(cloud.count(Call::DescribeStackResources), 1);
}
