//! How soon a local run notices that an operation ended, with the default flags (poll interval
//! 10 s): a look at once, early looks at 1.25, 2.5 and 5 s, then every 10 s. On the fakes and
//! paused time, so the durations are exact.

use std::time::Duration;

use stackfleet_aws::fake::{FakeCloud, Script};
use stackfleet_core::lifecycle::{run_target, DriveOptions, Job, TokioClock};
use stackfleet_core::spec::{TemplateBody, TemplateSource};
use stackfleet_core::{Outcome, OutcomeKind, RolloutSpec, RunId, Target};

fn default_spec() -> RolloutSpec {
    let body = TemplateBody::parse(r#"{"Resources":{"Topic":{"Type":"AWS::SNS::Topic"}}}"#.into()).unwrap();
    RolloutSpec::new("org-baseline".parse().unwrap(), TemplateSource::Body(body))
}

/// A create that CloudFormation ends after `seconds`, followed as `stackfleet deploy` does.
async fn create_taking(seconds: f64) -> Outcome {
    let (target, run): (Target, RunId) = (
        "111111111111:eu-west-1".parse().unwrap(),
        "run-1".parse().unwrap(),
    );
    let cloud = FakeCloud::new();
    cloud.script(&target, [Script::succeed_after(Duration::from_secs_f64(seconds))]);
    let spec = default_spec();
    let job = Job {
        target: &target,
        spec: &spec,
        run: &run,
        new_account: false,
    };
    let outcome = run_target(&cloud, &job, &TokioClock::new(), DriveOptions::default()).await;
    assert_eq!(outcome.kind(), OutcomeKind::Created, "{outcome:?}");
    outcome
}

#[tokio::test(start_paused = true)]
async fn a_forty_second_operation_is_noticed_as_it_ends() {
    let outcome = create_taking(40.0).await;

    assert_eq!(outcome.duration_ms, 40_000, "the look at 40 s finds it done");
    assert_eq!(
        outcome.aws_calls,
        3 + 8,
        "assume, describe, create, looks at once and at 1.25, 2.5, 5, 10, 20, 30 and 40 s"
    );
}

#[tokio::test(start_paused = true)]
async fn an_operation_that_ends_as_it_is_launched_is_noticed_at_once() {
    // As an emulator (moto, LocalStack) ends every operation.
    let outcome = create_taking(0.0).await;

    assert_eq!(outcome.duration_ms, 0, "a fixed 10 s interval noticed it at 10 s");
    assert_eq!(outcome.aws_calls, 4, "assume, describe, create, one look");
}

#[tokio::test(start_paused = true)]
async fn an_operation_of_a_second_is_noticed_a_quarter_second_after_it_ends() {
    let outcome = create_taking(1.0).await;

    assert_eq!(
        outcome.duration_ms, 1_250,
        "a fixed 10 s interval noticed it at 10 s"
    );
    assert_eq!(
        outcome.aws_calls, 5,
        "assume, describe, create, looks at once and at 1.25 s"
    );
}

#[tokio::test(start_paused = true)]
async fn every_operation_is_noticed_within_its_own_length_and_never_later_than_every_ten_seconds() {
    for tenths in (5..=1300).step_by(7) {
        let ends_ms = tenths * 100;
        let outcome = create_taking(ends_ms as f64 / 1000.0).await;

        let late_ms = outcome.duration_ms - ends_ms;
        let fixed_ms = ends_ms.div_ceil(10_000) * 10_000;
        assert!(
            outcome.duration_ms <= fixed_ms,
            "{ends_ms} ms: noticed at {} ms, after the fixed schedule's {fixed_ms}",
            outcome.duration_ms
        );
        assert!(
            late_ms <= ends_ms.clamp(1_250, 10_000),
            "{ends_ms} ms: noticed {late_ms} ms late"
        );
    }
}
