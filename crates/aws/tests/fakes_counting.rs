//! An outcome's `aws_calls` comes from the `Counted` decorator around the ports: it must be the
//! number of calls AWS saw, whatever path the lifecycle took, retries and failures included.

use std::time::Duration;

use stackfleet_aws::fake::{Call, FakeCloud, Script};
use stackfleet_core::lifecycle::{run_target, Counted, DriveOptions, Job, TokioClock};
use stackfleet_core::ports::{AssumeRequest, AssumeRole, PortError, StackOperations};
use stackfleet_core::spec::{TemplateBody, TemplateSource};
use stackfleet_core::stack::StackStatus;
use stackfleet_core::{ErrorName, Outcome, OutcomeKind, RolloutSpec, RunId, Target};

const TEMPLATE: &str = r#"{"Resources":{"ReadOnly":{"Type":"AWS::IAM::Role"}}}"#;

fn spec() -> RolloutSpec {
    let body = TemplateBody::parse(TEMPLATE.into()).unwrap();
    let mut spec = RolloutSpec::new("org-baseline".parse().unwrap(), TemplateSource::Body(body));
    spec.poll_interval_seconds = 15;
    spec
}

fn target() -> Target {
    "111111111111:eu-west-1".parse().unwrap()
}

async fn deploy(cloud: &FakeCloud, spec: &RolloutSpec, new_account: bool) -> Outcome {
    let (target, run): (Target, RunId) = (target(), "run-1".parse().unwrap());
    let job = Job {
        target: &target,
        spec,
        run: &run,
        new_account,
    };
    run_target(cloud, &job, &TokioClock::new(), DriveOptions::default()).await
}

#[tokio::test(start_paused = true)]
async fn a_create_costs_assume_describe_create_and_its_polls() {
    let cloud = FakeCloud::new();
    cloud.script(&target(), [Script::succeed_after(Duration::from_secs(30))]);

    let outcome = deploy(&cloud, &spec(), false).await;

    assert_eq!(outcome.kind(), OutcomeKind::Created);
    assert_eq!(
        outcome.aws_calls, 9,
        "assume, describe, create, looks at once and at 1.875, 3.75, 7.5, 15 and 30 s"
    );
    assert_eq!(outcome.aws_calls as usize, cloud.total_calls());
}

#[tokio::test(start_paused = true)]
async fn every_path_counts_exactly_the_calls_aws_saw() {
    let failing = Script::fail_after(
        Duration::from_secs(90),
        "ReadOnly",
        "AWS::IAM::Role",
        "Role with name ReadOnly already exists.",
    );
    type Setup = Box<dyn Fn(&FakeCloud, &mut RolloutSpec)>;
    let cases: Vec<(&str, Setup, OutcomeKind)> = vec![
        (
            "somebody else's update waited for, then ours",
            Box::new(|cloud, _| {
                cloud.put_stack(&target(), "org-baseline", StackStatus::CreateComplete);
                cloud.begin_foreign_update(&target(), "org-baseline", Duration::from_secs(600));
            }),
            OutcomeKind::Updated,
        ),
        (
            "ROLLBACK_COMPLETE deleted and created again",
            Box::new(|cloud, _| cloud.put_stack(&target(), "org-baseline", StackStatus::RollbackComplete)),
            OutcomeKind::Created,
        ),
        (
            "UPDATE_ROLLBACK_FAILED continued, skipping what failed, then updated",
            Box::new(|cloud, spec| {
                cloud.put_stack(&target(), "org-baseline", StackStatus::UpdateRollbackFailed);
                spec.skip_failed_rollback_resources = true;
            }),
            OutcomeKind::Updated,
        ),
        (
            "a failed create, its root cause read from the events",
            Box::new(move |cloud, _| cloud.script(&target(), [failing.clone()])),
            OutcomeKind::Failed,
        ),
        (
            "throttled mid-poll and retried",
            Box::new(|cloud, _| {
                let throttled = PortError::Throttled("Rate exceeded".into());
                cloud.fail_next(&target(), Call::DescribeStacks, throttled);
            }),
            OutcomeKind::Created,
        ),
        (
            "a new account's role not there for two tries",
            Box::new(|cloud, _| cloud.not_ready_for(&target().account, 2)),
            OutcomeKind::Created,
        ),
        (
            "a missing role",
            Box::new(|cloud, _| cloud.deny_role(&target().account)),
            OutcomeKind::Failed,
        ),
    ];
    for (case, setup, kind) in cases {
        let (cloud, mut spec) = (FakeCloud::new(), spec());
        setup(&cloud, &mut spec);
        let new_account = case.contains("new account");

        let outcome = deploy(&cloud, &spec, new_account).await;

        assert_eq!(outcome.kind(), kind, "{case}: {outcome:?}");
        assert_eq!(
            outcome.aws_calls as usize,
            cloud.total_calls(),
            "{case}: {outcome:?}"
        );
        assert!(outcome.aws_calls > 0, "{case}: {outcome:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn the_decorator_counts_each_call_failed_or_not_and_nothing_else() {
    let cloud = FakeCloud::new();
    let (target, run, spec) = (target(), "run-1".parse::<RunId>().unwrap(), spec());
    cloud.put_stack(&target, "org-baseline", StackStatus::CreateComplete);
    cloud.fail_next(
        &target,
        Call::DescribeStackEvents,
        PortError::Throttled("Rate exceeded".into()),
    );
    let assumer = Counted::new(&cloud);
    let request = AssumeRequest {
        target: &target,
        role: &spec.deploy_role,
        run: &run,
        session_duration_seconds: None,
        new_account: false,
    };

    let session = Counted::new(assumer.assume(request).await.unwrap());
    let found = session.describe_stack("org-baseline").await.unwrap().unwrap();
    let refused = session.stack_events(&found.stack_id, None).await;
    session.stack_events(&found.stack_id, None).await.unwrap();

    assert_eq!(refused.unwrap_err().name(), ErrorName::Throttled);
    assert_eq!((assumer.calls(), session.calls()), (1, 3));
    assert_eq!(cloud.total_calls(), 4);
}
