//! `plan` on the fakes, paused time: it leaves nothing behind, and what it cleans up it names by
//! stack ID, so that a deploy racing it never loses its stack.

use stackfleet_aws::fake::{Call, FakeCloud};
use stackfleet_core::lifecycle::Job;
use stackfleet_core::plan::{plan_target, PlanVerdict, TargetPlan};
use stackfleet_core::spec::{TemplateBody, TemplateSource};
use stackfleet_core::stack::StackStatus;
use stackfleet_core::{RolloutSpec, RunId, Target};

const TEMPLATE: &str = r#"{"Resources":{"ReadOnly":{"Type":"AWS::IAM::Role"}}}"#;
const STACK: &str = "org-federation";

fn target() -> Target {
    "111111111111:eu-west-1".parse().unwrap()
}

async fn plan(cloud: &FakeCloud) -> TargetPlan {
    let body = TemplateBody::parse(TEMPLATE.into()).unwrap();
    let spec = RolloutSpec::new(STACK.parse().unwrap(), TemplateSource::Body(body));
    let (target, run): (Target, RunId) = (target(), "plan-1".parse().unwrap());
    let job = Job {
        target: &target,
        spec: &spec,
        run: &run,
        new_account: false,
    };
    plan_target(cloud, &job).await
}

#[tokio::test(start_paused = true)]
async fn a_plan_of_a_new_stack_removes_the_empty_stack_its_change_set_made() {
    let cloud = FakeCloud::new();

    let planned = plan(&cloud).await;

    assert!(
        matches!(planned.verdict, PlanVerdict::WouldCreate { .. }),
        "{planned:?}"
    );
    assert_eq!(cloud.stack_status(&target(), STACK), None, "nothing left by name");
    assert_eq!(
        cloud.operations(&target()),
        vec![Call::DeleteStack],
        "the REVIEW_IN_PROGRESS stack, deleted"
    );
}

/// Between the change set and the cleanup, the name comes to belong to another stack (a deploy
/// found the empty one, replaced it, and created the real one): the plan leaves that one alone.
#[tokio::test(start_paused = true)]
async fn a_plan_racing_a_deploy_never_deletes_the_stack_the_deploy_made() {
    let cloud = FakeCloud::new();
    cloud.after_next(&target(), Call::DescribeChangeSet, |cloud| {
        assert_eq!(
            cloud.stack_status(&target(), STACK),
            Some(StackStatus::ReviewInProgress),
            "the change set made the empty stack"
        );
        cloud.put_stack(&target(), STACK, StackStatus::CreateComplete);
    });

    let planned = plan(&cloud).await;

    assert!(
        matches!(planned.verdict, PlanVerdict::WouldCreate { .. }),
        "{planned:?}"
    );
    assert_eq!(
        cloud.stack_status(&target(), STACK),
        Some(StackStatus::CreateComplete),
        "the deploy's stack stands"
    );
    assert_eq!(
        cloud.count(Call::DeleteStack),
        0,
        "{:?}",
        cloud.operations(&target())
    );
}
