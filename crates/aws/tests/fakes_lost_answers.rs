//! A local run whose launch call took effect but lost its answer (a read timeout after
//! CloudFormation took it: a passing error) retries the step. When that step was a poll that
//! launched the next operation of a recovery or of a wait, the retry follows that operation under
//! its own phase, found by the run's token, instead of replaying the old phase. On the fakes and
//! paused time.

use std::time::Duration;

use stackfleet_aws::fake::{Call, FakeCloud, Script};
use stackfleet_core::lifecycle::{run_target, DriveOptions, Job, TokioClock};
use stackfleet_core::ports::PortError;
use stackfleet_core::spec::{TemplateBody, TemplateSource};
use stackfleet_core::stack::StackStatus;
use stackfleet_core::{Outcome, OutcomeKind, RolloutSpec, RunId, Target};

const TEMPLATE: &str = r#"{"Resources":{"ReadOnly":{"Type":"AWS::IAM::Role"}}}"#;
const STACK: &str = "org-baseline";

fn spec() -> RolloutSpec {
    let body = TemplateBody::parse(TEMPLATE.into()).unwrap();
    let mut spec = RolloutSpec::new(STACK.parse().unwrap(), TemplateSource::Body(body));
    spec.poll_interval_seconds = 15;
    spec
}

fn target() -> Target {
    "121212121212:eu-west-1".parse().unwrap()
}

fn lost() -> PortError {
    PortError::Transport("operation timeout: no answer within 30 s".into())
}

async fn deploy(cloud: &FakeCloud) -> Outcome {
    let (spec, run, target): (_, RunId, _) = (spec(), "lost-answers".parse().unwrap(), target());
    let job = Job {
        target: &target,
        spec: &spec,
        run: &run,
        new_account: false,
    };
    run_target(cloud, &job, &TokioClock::new(), DriveOptions::default()).await
}

#[tokio::test(start_paused = true)]
async fn an_update_launched_after_a_continued_rollback_whose_answer_was_lost_reports_updated() {
    let cloud = FakeCloud::new();
    cloud.put_stack(&target(), STACK, StackStatus::UpdateRollbackFailed);
    cloud.script(
        &target(),
        [
            Script::succeed_after(Duration::from_secs(20)),
            Script::succeed_after(Duration::from_secs(120)),
        ],
    );
    cloud.lose_next_answer(&target(), Call::UpdateStack, lost());

    let outcome = deploy(&cloud).await;

    assert_eq!(
        outcome.kind(),
        OutcomeKind::Updated,
        "not NeedsAttention: {outcome:?}"
    );
    assert_eq!(outcome.recovered_from, Some(StackStatus::UpdateRollbackFailed));
    assert_eq!(
        cloud.operations(&target()),
        vec![Call::ContinueUpdateRollback, Call::UpdateStack]
    );
}

#[tokio::test(start_paused = true)]
async fn our_update_launched_after_somebody_elses_whose_answer_was_lost_is_ours_not_waited_for() {
    let cloud = FakeCloud::new();
    cloud.put_stack(&target(), STACK, StackStatus::CreateComplete);
    cloud.begin_foreign_update(&target(), STACK, Duration::from_secs(40));
    cloud.script(&target(), [Script::succeed_after(Duration::from_secs(120))]);
    cloud.lose_next_answer(&target(), Call::UpdateStack, lost());

    let outcome = deploy(&cloud).await;

    assert_eq!(outcome.kind(), OutcomeKind::Updated, "not Unchanged: {outcome:?}");
    assert_eq!(cloud.operations(&target()), vec![Call::UpdateStack]);
    assert_eq!(cloud.count(Call::UpdateStack), 1, "no second UpdateStack");
}

#[tokio::test(start_paused = true)]
async fn a_create_launched_after_the_recovery_delete_whose_answer_was_lost_is_not_made_again() {
    let cloud = FakeCloud::new();
    cloud.put_stack(&target(), STACK, StackStatus::RollbackComplete);
    cloud.script(
        &target(),
        [
            Script::succeed_after(Duration::from_secs(20)),
            Script::succeed_after(Duration::from_secs(120)),
        ],
    );
    cloud.lose_next_answer(&target(), Call::CreateStack, lost());

    let outcome = deploy(&cloud).await;

    assert_eq!(outcome.kind(), OutcomeKind::Created, "{outcome:?}");
    assert_eq!(outcome.recovered_from, Some(StackStatus::RollbackComplete));
    assert_eq!(
        cloud.operations(&target()),
        vec![Call::DeleteStack, Call::CreateStack]
    );
    assert_eq!(
        cloud.count(Call::CreateStack),
        1,
        "CreateStack was not called again"
    );
}
