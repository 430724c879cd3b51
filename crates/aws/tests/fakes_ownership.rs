//! Stack ownership on the fakes, paused time: stackfleet touches only stacks that carry its
//! `stackfleet:managed-by` tag, unless the rollout adopts them; every stack it makes carries it.

use std::time::Duration;

use stackfleet_aws::fake::{Call, FakeCloud};
use stackfleet_core::lifecycle::{run_target, DriveOptions, Job, TokioClock};
use stackfleet_core::plan::{plan_target, PlanVerdict};
use stackfleet_core::spec::{RecoveryPolicy, TemplateBody, TemplateSource};
use stackfleet_core::stack::{StackStatus, MANAGED_BY_TAG, MANAGED_BY_VALUE};
use stackfleet_core::{ErrorName, Outcome, OutcomeKind, RolloutSpec, RunId, Target};

const TEMPLATE: &str = r#"{"Resources":{"ReadOnly":{"Type":"AWS::IAM::Role"}}}"#;
const STACK: &str = "org-federation";
const NOT_OURS: &str = "stack org-federation exists but was not created by stackfleet (no \
                        stackfleet:managed-by tag): pass --adopt (document: adopt: true) to take it over";
/// Every call that changes a stack.
const MUTATING: [Call; 5] = [
    Call::CreateStack,
    Call::UpdateStack,
    Call::DeleteStack,
    Call::ContinueUpdateRollback,
    Call::CreateChangeSet,
];

fn spec(adopt: bool) -> RolloutSpec {
    let body = TemplateBody::parse(TEMPLATE.into()).unwrap();
    let mut spec = RolloutSpec::new(STACK.parse().unwrap(), TemplateSource::Body(body));
    spec.tags.insert("team".into(), "identity".into());
    spec.adopt = adopt;
    spec
}

fn target() -> Target {
    "111111111111:eu-west-1".parse().unwrap()
}

fn tags(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn managed_tags() -> Vec<(String, String)> {
    tags(&[("team", "identity"), (MANAGED_BY_TAG, MANAGED_BY_VALUE)])
}

async fn deploy(cloud: &FakeCloud, spec: &RolloutSpec) -> Outcome {
    let (target, run): (Target, RunId) = (target(), "run-1".parse().unwrap());
    let job = Job {
        target: &target,
        spec,
        run: &run,
        new_account: false,
    };
    run_target(cloud, &job, &TokioClock::new(), DriveOptions::default()).await
}

fn mutating_calls(cloud: &FakeCloud) -> usize {
    MUTATING.iter().map(|call| cloud.count(*call)).sum()
}

fn assert_refused(outcome: &Outcome, status: StackStatus) {
    assert_eq!(outcome.error(), Some(ErrorName::NeedsAttention), "{outcome:?}");
    assert_eq!(outcome.failure().unwrap().root_cause.reason, NOT_OURS);
    assert_eq!(outcome.final_status, Some(status));
    assert!(
        outcome.stack_id.is_some(),
        "the stack in the way is named: {outcome:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_stack_somebody_else_made_is_refused_and_nothing_is_changed() {
    let cloud = FakeCloud::new();
    let foreign = [("owner", "network-team")];
    cloud.put_unmanaged_stack(&target(), STACK, StackStatus::UpdateComplete, &foreign);

    let outcome = deploy(&cloud, &spec(false)).await;

    assert_refused(&outcome, StackStatus::UpdateComplete);
    assert_eq!(mutating_calls(&cloud), 0, "no mutating call was made");
    assert!(cloud.operations(&target()).is_empty());
    assert_eq!(cloud.stack_tags(&target(), STACK), Some(tags(&foreign)));
}

#[tokio::test(start_paused = true)]
async fn adopted_it_is_updated_and_the_update_puts_the_tag_on() {
    let cloud = FakeCloud::new();
    cloud.put_unmanaged_stack(
        &target(),
        STACK,
        StackStatus::UpdateComplete,
        &[("owner", "network-team")],
    );

    let adopted = deploy(&cloud, &spec(true)).await;

    assert_eq!(adopted.kind(), OutcomeKind::Updated, "{adopted:?}");
    assert_eq!(cloud.operations(&target()), vec![Call::UpdateStack]);
    // UpdateStack's tags replace the stack's: the document's and stackfleet's remain.
    assert_eq!(cloud.stack_tags(&target(), STACK), Some(managed_tags()));

    // Tagged now, it is stackfleet's: the next run needs no --adopt.
    let next = deploy(&cloud, &spec(false)).await;
    assert_eq!(next.kind(), OutcomeKind::Unchanged, "{next:?}");
}

#[tokio::test(start_paused = true)]
async fn an_unmanaged_stack_in_rollback_complete_is_not_deleted() {
    let cloud = FakeCloud::new();
    cloud.put_unmanaged_stack(&target(), STACK, StackStatus::RollbackComplete, &[]);
    let mut spec = spec(false);
    spec.recovery = RecoveryPolicy::Recreate;

    let outcome = deploy(&cloud, &spec).await;

    assert_refused(&outcome, StackStatus::RollbackComplete);
    assert_eq!(cloud.count(Call::DeleteStack), 0);
    assert_eq!(
        cloud.stack_status(&target(), STACK),
        Some(StackStatus::RollbackComplete)
    );
}

#[tokio::test(start_paused = true)]
async fn an_unmanaged_failed_rollback_is_not_continued_unless_adopted() {
    let cloud = FakeCloud::new();
    cloud.put_unmanaged_stack(&target(), STACK, StackStatus::UpdateRollbackFailed, &[]);

    let refused = deploy(&cloud, &spec(false)).await;
    assert_refused(&refused, StackStatus::UpdateRollbackFailed);
    assert_eq!(mutating_calls(&cloud), 0);

    let adopted = deploy(&cloud, &spec(true)).await;
    assert_eq!(adopted.kind(), OutcomeKind::Updated, "{adopted:?}");
    assert_eq!(
        cloud.operations(&target()),
        vec![Call::ContinueUpdateRollback, Call::UpdateStack]
    );
    assert_eq!(cloud.stack_tags(&target(), STACK), Some(managed_tags()));
}

#[tokio::test(start_paused = true)]
async fn somebody_elses_running_operation_is_waited_for_then_the_stack_is_refused() {
    let cloud = FakeCloud::new();
    cloud.put_unmanaged_stack(&target(), STACK, StackStatus::CreateComplete, &[]);
    cloud.begin_foreign_update(&target(), STACK, Duration::from_secs(20 * 60));

    let outcome = deploy(&cloud, &spec(false)).await;

    assert_refused(&outcome, StackStatus::UpdateComplete);
    assert!(outcome.duration_ms >= 20 * 60 * 1000, "waited: {outcome:?}");
    assert_eq!(mutating_calls(&cloud), 0);
}

#[tokio::test(start_paused = true)]
async fn stacks_stackfleet_creates_carry_the_tag_recreated_ones_too() {
    let cloud = FakeCloud::new();

    let created = deploy(&cloud, &spec(false)).await;
    assert_eq!(created.kind(), OutcomeKind::Created, "{created:?}");
    assert_eq!(cloud.stack_tags(&target(), STACK), Some(managed_tags()));

    // An adopted stack only a delete can recover comes back as stackfleet's.
    let other = FakeCloud::new();
    other.put_unmanaged_stack(&target(), STACK, StackStatus::RollbackComplete, &[]);
    let recreated = deploy(&other, &spec(true)).await;
    assert_eq!(recreated.kind(), OutcomeKind::Created, "{recreated:?}");
    assert_eq!(
        other.operations(&target()),
        vec![Call::DeleteStack, Call::CreateStack]
    );
    assert_eq!(other.stack_tags(&target(), STACK), Some(managed_tags()));
}

#[tokio::test(start_paused = true)]
async fn plan_says_the_stack_is_not_stackfleets_and_what_adopt_would_do() {
    let cloud = FakeCloud::new();
    cloud.put_unmanaged_stack(&target(), STACK, StackStatus::UpdateComplete, &[]);
    let (target, run): (Target, RunId) = (target(), "plan-1".parse().unwrap());
    let plan = |spec: RolloutSpec| {
        let (cloud, target, run) = (cloud.clone(), target.clone(), run.clone());
        async move {
            let job = Job {
                target: &target,
                spec: &spec,
                run: &run,
                new_account: false,
            };
            plan_target(&cloud, &job).await
        }
    };

    let refused = plan(spec(false)).await;
    assert_eq!(
        refused.verdict,
        PlanVerdict::NotManaged {
            status: StackStatus::UpdateComplete
        }
    );
    assert!(!refused.adopts);
    assert!(
        refused.headline().contains("would refuse it without --adopt"),
        "{}",
        refused.headline()
    );
    assert_eq!(cloud.count(Call::CreateChangeSet), 0);

    let adopted = plan(spec(true)).await;
    assert!(adopted.adopts, "{adopted:?}");
    assert!(
        matches!(adopted.verdict, PlanVerdict::WouldUpdate { .. }),
        "{adopted:?}"
    );
    assert!(
        adopted.headline().starts_with(
            "stack exists but is not managed by stackfleet: the deploy would adopt it (--adopt)"
        ),
        "{}",
        adopted.headline()
    );
    assert!(cloud.operations(&target).is_empty(), "a plan changes nothing");
}
