//! The lifecycle driven against the in-memory fakes on tokio's paused clock: hours of stack
//! operations run in milliseconds, deterministically.

use std::time::Duration;

use stackfleet_aws::fake::{Call, FakeCloud, Script};
use stackfleet_core::lifecycle::{self, run_target, Clock, DriveOptions, Job, Progress, Step, TokioClock};
use stackfleet_core::ports::{AssumeRequest, AssumeRole, PortError};
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

fn target(account: &str) -> Target {
    format!("{account}:eu-west-1").parse().unwrap()
}

fn run() -> RunId {
    "run-1".parse().unwrap()
}

/// One target to its outcome through the local driver, as `stackfleet deploy` drives it.
async fn deploy(
    cloud: &FakeCloud,
    target: &Target,
    spec: &RolloutSpec,
    run: &RunId,
    new_account: bool,
) -> Outcome {
    let job = Job {
        target,
        spec,
        run,
        new_account,
    };
    run_target(cloud, &job, &TokioClock::new(), DriveOptions::default()).await
}

#[tokio::test(start_paused = true)]
async fn a_forty_minute_operation_completes_without_waiting_forty_minutes() {
    let cloud = FakeCloud::new();
    let target = target("111111111111");
    cloud.script(&target, [Script::succeed_after(Duration::from_secs(40 * 60))]);
    let (spec, run) = (spec(), run());

    let wall = std::time::Instant::now();
    let outcome = deploy(&cloud, &target, &spec, &run, false).await;

    assert_eq!(outcome.kind(), OutcomeKind::Created, "{outcome:?}");
    assert!(
        outcome.duration_ms >= 40 * 60 * 1000,
        "virtual duration {} ms",
        outcome.duration_ms
    );
    assert!(
        wall.elapsed() < Duration::from_secs(10),
        "took {:?} of real time",
        wall.elapsed()
    );
    // assume + describe + create, the early looks at once and at 1.875, 3.75 and 7.5 s, and one
    // describe per 15 s poll over 40 minutes.
    assert_eq!(outcome.aws_calls, 3 + 4 + 160, "{outcome:?}");
    assert_eq!(
        cloud.stack_status(&target, "org-baseline"),
        Some(StackStatus::CreateComplete)
    );
}

#[tokio::test(start_paused = true)]
async fn two_concurrent_starts_of_one_run_leave_exactly_one_operation() {
    let cloud = FakeCloud::new();
    let target = target("222222222222");
    let (spec, run) = (spec(), run());
    let job = Job {
        target: &target,
        spec: &spec,
        run: &run,
        new_account: false,
    };
    let clock = TokioClock::new();

    let (first, second) = tokio::join!(
        run_target(&cloud, &job, &clock, DriveOptions::default()),
        run_target(&cloud, &job, &clock, DriveOptions::default()),
    );

    assert_eq!(cloud.operations(&target), vec![Call::CreateStack]);
    assert_eq!(
        cloud.count(Call::CreateStack),
        2,
        "both starts did call CreateStack"
    );
    assert_eq!(
        (first.kind(), second.kind()),
        (OutcomeKind::Created, OutcomeKind::Created)
    );
    assert_eq!(first.stack_id, second.stack_id);
}

#[tokio::test(start_paused = true)]
async fn the_steps_survive_serialisation_between_invocations() {
    // The serverless path hands the state from one Lambda invocation to the next as JSON.
    let cloud = FakeCloud::new();
    let target = target("333333333333");
    let (spec, run) = (spec(), run());
    cloud.put_stack(&target, "org-baseline", StackStatus::UpdateRollbackFailed);
    cloud.script(
        &target,
        [
            Script::succeed_after(Duration::from_secs(120)),
            Script::succeed_after(Duration::from_secs(300)),
        ],
    );
    let job = Job {
        target: &target,
        spec: &spec,
        run: &run,
        new_account: false,
    };
    let clock = TokioClock::new();
    let session = cloud
        .assume(AssumeRequest {
            target: &target,
            role: &spec.deploy_role,
            run: &run,
            session_duration_seconds: None,
            new_account: false,
        })
        .await
        .unwrap();

    let progress = Progress {
        started_at_ms: clock.now_ms(),
        aws_calls: 1,
    };
    let mut step = lifecycle::start(&session, &job, progress, clock.now_ms())
        .await
        .unwrap();
    let mut phases = Vec::new();
    let outcome = loop {
        let json = serde_json::to_string(&step).unwrap();
        step = serde_json::from_str(&json).unwrap();
        match step {
            Step::Done(outcome) => break outcome,
            Step::Pending(state) => {
                phases.push(
                    serde_json::to_value(&state).unwrap()["phase"]
                        .as_str()
                        .unwrap()
                        .to_owned(),
                );
                tokio::time::sleep(Duration::from_secs(60)).await;
                step = lifecycle::poll(&session, &job, state, clock.now_ms())
                    .await
                    .unwrap();
            }
        }
    };

    assert_eq!(outcome.kind(), OutcomeKind::Updated);
    assert_eq!(outcome.recovered_from, Some(StackStatus::UpdateRollbackFailed));
    assert_eq!(
        cloud.operations(&target),
        vec![Call::ContinueUpdateRollback, Call::UpdateStack]
    );
    assert!(
        phases.contains(&"continuingRollback".to_owned()) && phases.contains(&"updating".to_owned()),
        "{phases:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_new_account_not_ready_yet_is_retried_until_its_role_exists() {
    let cloud = FakeCloud::new();
    let target = target("444444444444");
    cloud.not_ready_for(&target.account, 3);
    let (spec, run) = (spec(), run());

    let outcome = deploy(&cloud, &target, &spec, &run, true).await;

    assert_eq!(outcome.kind(), OutcomeKind::Created, "{outcome:?}");
    assert_eq!(cloud.count(Call::AssumeRole), 4);
}

#[tokio::test(start_paused = true)]
async fn a_missing_role_fails_at_once_and_says_which_role() {
    let cloud = FakeCloud::new();
    let target = target("555555555555");
    cloud.deny_role(&target.account);
    let (spec, run) = (spec(), run());

    let outcome = deploy(&cloud, &target, &spec, &run, false).await;

    assert_eq!(outcome.error(), Some(ErrorName::AccessDenied));
    let reason = &outcome.failure().unwrap().root_cause.reason;
    assert!(
        reason.contains("arn:aws:iam::555555555555:role/OrganizationAccountAccessRole"),
        "{reason}"
    );
    assert_eq!(cloud.count(Call::AssumeRole), 1, "access denied is not retried");
    assert!(cloud.operations(&target).is_empty());
}

#[tokio::test(start_paused = true)]
async fn somebody_elses_hour_long_update_is_waited_for_then_ours_runs() {
    let cloud = FakeCloud::new();
    let target = target("666666666666");
    cloud.put_stack(&target, "org-baseline", StackStatus::CreateComplete);
    cloud.begin_foreign_update(&target, "org-baseline", Duration::from_secs(50 * 60));
    let (spec, run) = (spec(), run());

    let outcome = deploy(&cloud, &target, &spec, &run, false).await;

    assert_eq!(outcome.kind(), OutcomeKind::Updated, "{outcome:?}");
    assert_eq!(cloud.operations(&target), vec![Call::UpdateStack]);
    assert!(outcome.duration_ms >= 50 * 60 * 1000);
}

#[tokio::test(start_paused = true)]
async fn an_operation_past_its_timeout_is_reported_timed_out() {
    let cloud = FakeCloud::new();
    let target = target("777777777777");
    cloud.script(&target, [Script::succeed_after(Duration::from_secs(3 * 3600))]);
    let (mut spec, run) = (spec(), run());
    spec.operation_timeout_seconds = 3600;

    let outcome = deploy(&cloud, &target, &spec, &run, false).await;

    assert_eq!(outcome.error(), Some(ErrorName::TimedOut), "{outcome:?}");
    assert_eq!(outcome.final_status, Some(StackStatus::CreateInProgress));
}

#[tokio::test(start_paused = true)]
async fn throttling_mid_poll_is_retried_and_a_failed_create_is_recreated_next_run() {
    let cloud = FakeCloud::new();
    let target = target("888888888888");
    let spec = spec();
    cloud.script(
        &target,
        [Script::fail_after(
            Duration::from_secs(90),
            "ReadOnly",
            "AWS::IAM::Role",
            "Role with name ReadOnly already exists.",
        )],
    );
    cloud.fail_next(
        &target,
        Call::DescribeStacks,
        PortError::Throttled("Rate exceeded".into()),
    );
    let first_run: RunId = "first".parse().unwrap();

    let failed = deploy(&cloud, &target, &spec, &first_run, false).await;

    assert_eq!(failed.error(), Some(ErrorName::StackFailed), "{failed:?}");
    let cause = &failed.failure().unwrap().root_cause;
    assert_eq!(cause.logical_id.as_deref(), Some("ReadOnly"));
    assert_eq!(cause.reason, "Role with name ReadOnly already exists.");
    assert_eq!(failed.final_status, Some(StackStatus::RollbackComplete));

    let second_run: RunId = "second".parse().unwrap();
    let recreated = deploy(&cloud, &target, &spec, &second_run, false).await;

    assert_eq!(recreated.kind(), OutcomeKind::Created, "{recreated:?}");
    assert_eq!(recreated.recovered_from, Some(StackStatus::RollbackComplete));
    assert_eq!(
        cloud.operations(&target),
        vec![Call::CreateStack, Call::DeleteStack, Call::CreateStack]
    );
}
