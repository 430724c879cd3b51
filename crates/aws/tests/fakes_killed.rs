//! A local rollout killed at any point (its future dropped, as SIGKILL drops the process) and
//! resumed under the same run, on the fakes and paused time: the operations it left running
//! are followed, those it finished but never reported are reported, none is started twice.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use stackfleet_aws::fake::{Call, FakeCloud, Script};
use stackfleet_core::lifecycle::{DriveOptions, TokioClock};
use stackfleet_core::paced::Pacing;
use stackfleet_core::rollout::{roll_out, FailureTolerance, Rollout, RolloutOptions, StopSignal};
use stackfleet_core::spec::{TemplateBody, TemplateSource};
use stackfleet_core::stack::StackStatus;
use stackfleet_core::{OutcomeKind, RolloutSpec, RunId, Target};

const TEMPLATE: &str = r#"{"Resources":{"ReadOnly":{"Type":"AWS::IAM::Role"}}}"#;
const STACK: &str = "org-baseline";
/// Each operation: ten minutes and seven seconds, so that one ends between two 15 s polls.
const OPERATION: Duration = Duration::from_secs(607);

fn spec() -> RolloutSpec {
    let body = TemplateBody::parse(TEMPLATE.into()).unwrap();
    let mut spec = RolloutSpec::new(STACK.parse().unwrap(), TemplateSource::Body(body));
    spec.poll_interval_seconds = 15;
    spec
}

/// Six targets, three at a time; the first two have the stack from an earlier run (updates),
/// the others not (creates).
fn fleet() -> (FakeCloud, Vec<Target>) {
    let cloud = FakeCloud::new();
    let targets: Vec<Target> = (1..=6)
        .map(|n| format!("{n:012}:eu-west-1").parse().unwrap())
        .collect();
    for (index, target) in targets.iter().enumerate() {
        if index < 2 {
            cloud.put_stack(target, STACK, StackStatus::UpdateComplete);
        }
        cloud.script(target, [Script::succeed_after(OPERATION)]);
    }
    (cloud, targets)
}

fn options() -> RolloutOptions {
    RolloutOptions {
        concurrency: 3,
        pacing: Pacing::Adaptive,
        tolerance: FailureTolerance::Count(0),
        drive: DriveOptions::default(),
    }
}

#[tokio::test(start_paused = true)]
async fn a_rollout_killed_anywhere_and_resumed_reports_each_target_once_and_starts_nothing_twice() {
    let (spec, run): (_, RunId) = (spec(), "killed".parse().unwrap());
    // Mid-operation; just after the first three operations ended, before a poll saw it; once
    // the first three landed and the next three run.
    for kill_after in [300, 610, 900].map(Duration::from_secs) {
        let (cloud, targets) = fleet();
        let mut reported: BTreeMap<Target, Vec<OutcomeKind>> = BTreeMap::new();
        let first = Rollout {
            spec: &spec,
            run: &run,
            targets: &targets,
            options: options(),
            lost: &BTreeSet::new(),
        };
        let killed = tokio::time::timeout(
            kill_after,
            roll_out(&cloud, first, &TokioClock::new(), &StopSignal::new(), |outcome| {
                reported
                    .entry(outcome.target.clone())
                    .or_default()
                    .push(outcome.kind());
            }),
        )
        .await;
        assert!(killed.is_err(), "the kill came before the end");

        // The resume: the same run, every target without a success in what had landed.
        let left: Vec<Target> = targets
            .iter()
            .filter(|t| !reported.contains_key(*t))
            .cloned()
            .collect();
        assert!(!left.is_empty(), "at {kill_after:?}");
        // None of them has an outcome: each is taken over, its operation followed if launched.
        let lost: BTreeSet<Target> = left.iter().cloned().collect();
        let resumed = Rollout {
            spec: &spec,
            run: &run,
            targets: &left,
            options: options(),
            lost: &lost,
        };
        for outcome in roll_out(&cloud, resumed, &TokioClock::new(), &StopSignal::new(), |_| {}).await {
            reported
                .entry(outcome.target.clone())
                .or_default()
                .push(outcome.kind());
        }

        for (index, target) in targets.iter().enumerate() {
            let (kind, operation) = if index < 2 {
                (OutcomeKind::Updated, Call::UpdateStack)
            } else {
                (OutcomeKind::Created, Call::CreateStack)
            };
            assert_eq!(
                reported.get(target).map(Vec::as_slice),
                Some(&[kind][..]),
                "{target} killed at {kill_after:?}: one outcome, the operation's own"
            );
            assert_eq!(
                cloud.operations(target),
                [operation],
                "{target} killed at {kill_after:?}: one operation"
            );
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_run_that_is_no_resume_applies_a_changed_document_under_the_same_run_id() {
    // A pipeline that deploys again with the same --run-id and a new parameter: the stack this
    // run created is updated, not taken as done.
    let (cloud, targets) = fleet();
    let run: RunId = "reused".parse().unwrap();
    let mut spec = spec();
    let target = &targets[2..3];
    for env in ["dev", "prod"] {
        spec.parameters.insert("Env".into(), env.into());
        let rollout = Rollout {
            spec: &spec,
            run: &run,
            targets: target,
            options: options(),
            lost: &BTreeSet::new(),
        };
        roll_out(&cloud, rollout, &TokioClock::new(), &StopSignal::new(), |_| {}).await;
    }
    assert_eq!(
        cloud.operations(&target[0]),
        [Call::CreateStack, Call::UpdateStack]
    );
    assert_eq!(
        cloud.stack_parameters(&target[0], STACK),
        Some(vec![("Env".to_owned(), "prod".to_owned())])
    );
}

/// A target the killed run reported Failed is deployed afresh by the resume (after the fix),
/// not reported failed again from the operation that failed before.
#[tokio::test(start_paused = true)]
async fn a_resume_deploys_a_target_that_failed_before_afresh() {
    let cloud = FakeCloud::new();
    let (spec, run): (_, RunId) = (spec(), "fixed".parse().unwrap());
    let failing: &[Target] = &["000000000007:eu-west-1".parse().unwrap()];
    cloud.script(
        &failing[0],
        [Script::fail_after(
            Duration::from_secs(30),
            "Role",
            "AWS::IAM::Role",
            "already exists",
        )],
    );
    let first = Rollout {
        spec: &spec,
        run: &run,
        targets: failing,
        options: options(),
        lost: &BTreeSet::new(),
    };
    let failed = roll_out(&cloud, first, &TokioClock::new(), &StopSignal::new(), |_| {}).await;
    assert_eq!(failed[0].kind(), OutcomeKind::Failed);

    // The resume: that target has an outcome (Failed), so it is not among the lost ones.
    let resumed = Rollout {
        spec: &spec,
        run: &run,
        targets: failing,
        options: options(),
        lost: &BTreeSet::new(),
    };
    let again = roll_out(&cloud, resumed, &TokioClock::new(), &StopSignal::new(), |_| {}).await;
    assert_eq!(again[0].kind(), OutcomeKind::Created, "{:?}", again[0]);
    assert_eq!(
        cloud.operations(&failing[0]),
        [Call::CreateStack, Call::DeleteStack, Call::CreateStack],
        "the failed create's stack recreated (recovery: recreate)"
    );
}
