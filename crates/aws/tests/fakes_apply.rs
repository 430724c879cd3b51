//! `plan --out` then `apply` on the fakes, paused time: exactly the reviewed change sets are
//! executed, a target whose stack or change set moved after the plan is Stale and left as it
//! is, groups are applied by ID, and the change sets not executed are deleted at the end.

use std::time::Duration;

use stackfleet_aws::fake::{Call, FakeAlarms, FakeCloud, Script};
use stackfleet_core::lifecycle::{run_target, DriveOptions, Job, TokioClock};
use stackfleet_core::paced::Pacing;
use stackfleet_core::plan::{
    change_digest, discard_unapplied, plan_all, Applying, Discarded, PlanFile, PlanVerdict,
};
use stackfleet_core::rollout::{
    roll_out_waves_with, FailureTolerance, RolloutOptions, StopSignal, WavedRollout,
};
use stackfleet_core::stack::{ResourceChange, StackStatus};
use stackfleet_core::waves::Wave;
use stackfleet_core::{Outcome, OutcomeKind, Rollout, RolloutSpec, RunId, Target};

const STACK: &str = "org-federation";
const TEMPLATE: &str = r#"{"Resources":{"ReadOnly":{"Type":"AWS::IAM::Role"}}}"#;

fn document() -> Rollout {
    Rollout::parse(&format!(
        "stackName: {STACK}\ntemplate: {{body: '{TEMPLATE}'}}\npollIntervalSeconds: 5\n"
    ))
    .unwrap()
}

fn spec() -> RolloutSpec {
    document().resolve().unwrap().spec
}

fn target(n: u64) -> Target {
    format!("{n:012}:eu-west-1").parse().unwrap()
}

fn wave(name: &str, targets: &[Target]) -> Wave {
    Wave {
        name: name.into(),
        bake_seconds: 0,
        failure_tolerance: FailureTolerance::Count(0),
        targets: targets.to_vec(),
    }
}

/// Targets 1 and 2 have a stack stackfleet made earlier (from another template: an update),
/// 3 has none (a create), 4 has this very template deployed (no changes).
async fn fleet() -> FakeCloud {
    let cloud = FakeCloud::new();
    cloud.put_stack(&target(1), STACK, StackStatus::UpdateComplete);
    cloud.put_stack(&target(2), STACK, StackStatus::UpdateComplete);
    let (spec, run, four): (RolloutSpec, RunId, Target) = (spec(), "earlier".parse().unwrap(), target(4));
    let job = Job {
        target: &four,
        spec: &spec,
        run: &run,
        new_account: false,
    };
    let created = run_target(&cloud, &job, &TokioClock::new(), DriveOptions::default()).await;
    assert_eq!(created.kind(), OutcomeKind::Created, "{created:?}");
    cloud
}

async fn plan_for_review(cloud: &FakeCloud, waves: Vec<Wave>) -> PlanFile {
    let targets: Vec<Target> = waves.iter().flat_map(|w| w.targets.clone()).collect();
    let run: RunId = "plan-7".parse().unwrap();
    let plans = plan_all(cloud, &spec(), &run, &targets, 4, true, |_| {}).await;
    let plan = PlanFile::new(run, 0, document(), waves, &plans, Vec::new());
    plan.check().unwrap();
    plan
}

fn group_of(plan: &PlanFile, target: &Target) -> String {
    plan.targets
        .iter()
        .find(|t| &t.target == target)
        .unwrap()
        .group
        .clone()
}

/// `apply` of the groups `selected` (every group when empty), as the CLI runs it: the narrowed
/// waves, then the clean-up. The outcomes are those of the waves, then the others'.
async fn apply(cloud: &FakeCloud, plan: &PlanFile, selected: &[String]) -> (Vec<Outcome>, Discarded) {
    let spec = plan.document.resolve().unwrap().spec;
    let run: RunId = "apply-1".parse().unwrap();
    let (waves, mut others) = plan.selection(&plan.select(selected).unwrap());
    let applying = Applying::new(plan);
    let rollout = WavedRollout {
        spec: &spec,
        run: &run,
        waves: &waves,
        alarms: &[],
        options: RolloutOptions {
            concurrency: 4,
            pacing: Pacing::Adaptive,
            tolerance: FailureTolerance::Count(0),
            drive: DriveOptions::default(),
        },
        lost: &std::collections::BTreeSet::new(),
    };
    let clock = TokioClock::new();
    let rolled = roll_out_waves_with(
        cloud,
        &applying,
        &FakeAlarms::new(),
        rollout,
        &clock,
        &StopSignal::new(),
        |_| {},
    )
    .await;
    let discarded = discard_unapplied(cloud, plan, &spec, &run, &applying.executed(), 4).await;
    let mut outcomes = rolled.outcomes;
    outcomes.append(&mut others);
    (outcomes, discarded)
}

fn outcome_of<'a>(outcomes: &'a [Outcome], target: &Target) -> &'a Outcome {
    outcomes.iter().find(|o| &o.target == target).unwrap()
}

#[tokio::test(start_paused = true)]
async fn apply_executes_exactly_the_reviewed_change_sets_and_nothing_else() {
    let cloud = fleet().await;
    let all: Vec<Target> = (1..=4).map(target).collect();
    let plan = plan_for_review(&cloud, vec![wave("all", &all)]).await;

    // The plan kept a change set where it would create or update, and changed no stack.
    for n in 1..=3 {
        assert_eq!(cloud.change_sets(&target(n)).len(), 1, "target {n}");
        assert!(!cloud.operations(&target(n)).contains(&Call::UpdateStack));
    }
    assert!(
        cloud.change_sets(&target(4)).is_empty(),
        "no changes: nothing kept"
    );
    assert_eq!(
        cloud.stack_status(&target(3), STACK),
        Some(StackStatus::ReviewInProgress)
    );
    assert_eq!(plan.groups.len(), 3, "{:?}", plan.groups);

    let (outcomes, discarded) = apply(&cloud, &plan, &[]).await;

    let kinds: Vec<OutcomeKind> = all.iter().map(|t| outcome_of(&outcomes, t).kind()).collect();
    use OutcomeKind::{Created, Unchanged, Updated};
    assert_eq!(kinds, [Updated, Updated, Created, Unchanged], "{outcomes:#?}");
    for n in 1..=3 {
        // The change set, and no other operation: not an UpdateStack from the document.
        assert_eq!(
            cloud.operations(&target(n)),
            vec![Call::ExecuteChangeSet],
            "target {n}"
        );
        assert_eq!(cloud.stack_template(&target(n), STACK).as_deref(), Some(TEMPLATE));
    }
    assert_eq!(cloud.count(Call::ExecuteChangeSet), 3);
    assert_eq!(discarded, Discarded::default(), "everything was executed");
}

#[tokio::test(start_paused = true)]
async fn a_stack_that_moved_after_the_plan_is_stale_untouched_and_its_change_set_deleted() {
    let cloud = fleet().await;
    let plan = plan_for_review(&cloud, vec![wave("all", &[target(1), target(2)])]).await;
    // Somebody updates target 1's stack after the review; it has ended by the apply.
    cloud.begin_foreign_update(&target(1), STACK, Duration::from_secs(60));
    tokio::time::advance(Duration::from_secs(120)).await;

    let (outcomes, discarded) = apply(&cloud, &plan, &[]).await;

    let stale = outcome_of(&outcomes, &target(1));
    assert_eq!(stale.kind(), OutcomeKind::Stale, "{stale:?}");
    let reason = stale.stale_reason().unwrap();
    assert!(
        reason.starts_with("the stack changed since the plan: it was UPDATE_COMPLETE (last updated 2026-"),
        "{reason}"
    );
    assert!(!cloud.operations(&target(1)).contains(&Call::ExecuteChangeSet));
    assert_eq!(outcome_of(&outcomes, &target(2)).kind(), OutcomeKind::Updated);
    assert_eq!(discarded.deleted, 1, "{discarded:?}");
    assert!(
        cloud.change_sets(&target(1)).is_empty(),
        "the stale change set is gone"
    );
}

#[tokio::test(start_paused = true)]
async fn a_change_set_gone_after_the_plan_makes_its_target_stale() {
    let cloud = fleet().await;
    let plan = plan_for_review(&cloud, vec![wave("all", &[target(1), target(2)])]).await;
    let gone = cloud.change_sets(&target(2)).remove(0);
    cloud.delete_change_set(&gone);

    let (outcomes, discarded) = apply(&cloud, &plan, &[]).await;

    let stale = outcome_of(&outcomes, &target(2));
    assert_eq!(stale.kind(), OutcomeKind::Stale, "{stale:?}");
    assert!(
        stale.stale_reason().unwrap().contains("no longer exists"),
        "{stale:?}"
    );
    assert_eq!(outcome_of(&outcomes, &target(1)).kind(), OutcomeKind::Updated);
    // Deleting what is already gone is no failure of the clean-up.
    assert_eq!((discarded.deleted, discarded.left.len()), (1, 0), "{discarded:?}");
}

#[tokio::test(start_paused = true)]
async fn only_the_selected_groups_run_and_the_others_change_sets_and_empty_stacks_go() {
    let cloud = fleet().await;
    let all: Vec<Target> = (1..=3).map(target).collect();
    let plan = plan_for_review(&cloud, vec![wave("all", &all)]).await;
    let updates = group_of(&plan, &target(1));
    assert_eq!(
        updates,
        group_of(&plan, &target(2)),
        "the same changes, one group"
    );
    assert_ne!(updates, group_of(&plan, &target(3)));

    let (outcomes, discarded) = apply(&cloud, &plan, &[updates]).await;

    assert_eq!(outcome_of(&outcomes, &target(1)).kind(), OutcomeKind::Updated);
    assert_eq!(outcome_of(&outcomes, &target(2)).kind(), OutcomeKind::Updated);
    let left = outcome_of(&outcomes, &target(3));
    assert_eq!(left.kind(), OutcomeKind::Skipped);
    assert!(
        left.skipped_reason().unwrap().contains("was not selected"),
        "{left:?}"
    );
    assert!(!left.wants_rerun(), "not chosen is no failure");
    assert_eq!(discarded.deleted, 1);
    assert!(cloud.change_sets(&target(3)).is_empty());
    assert_eq!(
        cloud.stack_status(&target(3), STACK),
        None,
        "the CREATE change set's empty stack, deleted with it"
    );
}

#[tokio::test(start_paused = true)]
async fn a_failed_execution_halts_the_waves_and_the_unstarted_change_sets_are_deleted() {
    let cloud = fleet().await;
    cloud.script(
        &target(1),
        [Script::fail_after(
            Duration::from_secs(40),
            "ReadOnly",
            "AWS::IAM::Role",
            "Role with name ReadOnly already exists",
        )],
    );
    let plan = plan_for_review(
        &cloud,
        vec![
            wave("canary", &[target(1)]),
            wave("rest", &[target(2), target(3)]),
        ],
    )
    .await;

    let (outcomes, discarded) = apply(&cloud, &plan, &[]).await;

    let failed = outcome_of(&outcomes, &target(1));
    let failure = failed.failure().expect("failed");
    assert_eq!(
        failure.root_cause.logical_id.as_deref(),
        Some("ReadOnly"),
        "{failed:?}"
    );
    assert_eq!(
        failure.root_cause.reason,
        "Role with name ReadOnly already exists"
    );
    for n in [2, 3] {
        let later = outcome_of(&outcomes, &target(n));
        assert!(
            later.wants_rerun() && later.failure().is_none(),
            "not started: {later:?}"
        );
        assert!(cloud.change_sets(&target(n)).is_empty(), "target {n}");
    }
    assert_eq!(discarded.deleted, 2);
    assert_eq!(cloud.stack_status(&target(3), STACK), None);
}

/// A plan file consistent in itself, but whose changes are not those of the change sets (edited
/// and its digests recomputed): the change set is checked against CloudFormation, and not run.
#[tokio::test(start_paused = true)]
async fn a_plan_file_that_misdescribes_its_change_sets_executes_nothing() {
    let cloud = fleet().await;
    let mut plan = plan_for_review(&cloud, vec![wave("all", &[target(1)])]).await;
    let group = &mut plan.groups[0];
    group.verdict = PlanVerdict::WouldUpdate {
        changes: vec![ResourceChange {
            action: "Add".into(),
            logical_id: "Harmless".into(),
            resource_type: "AWS::SNS::Topic".into(),
            replacement: None,
        }],
    };
    group.change_digest = change_digest(&group.verdict, false);
    group.id = group.change_digest[..12].to_owned();
    plan.targets[0].change_digest = group.change_digest.clone();
    plan.targets[0].group = group.id.clone();
    plan.check().expect("consistent in itself");

    let (outcomes, _) = apply(&cloud, &plan, &[]).await;

    let stale = outcome_of(&outcomes, &target(1));
    assert_eq!(stale.kind(), OutcomeKind::Stale);
    assert!(
        stale.stale_reason().unwrap().contains("not the reviewed ones"),
        "{stale:?}"
    );
    assert_eq!(cloud.count(Call::ExecuteChangeSet), 0);
}

/// A stack only a delete recovers has no change set to review: the plan shows the recovery, the
/// apply makes it and nothing more, and the next plan has the create to review.
#[tokio::test(start_paused = true)]
async fn a_reviewed_recovery_is_made_then_the_target_is_planned_again() {
    let cloud = FakeCloud::new();
    cloud.put_stack(&target(1), STACK, StackStatus::RollbackComplete);
    let plan = plan_for_review(&cloud, vec![wave("all", &[target(1)])]).await;
    assert!(
        matches!(plan.groups[0].verdict, PlanVerdict::WouldRecover { .. }),
        "{:?}",
        plan.groups
    );

    let (outcomes, _) = apply(&cloud, &plan, &[]).await;

    let recovered = outcome_of(&outcomes, &target(1));
    assert_eq!(recovered.kind(), OutcomeKind::Stale, "{recovered:?}");
    assert_eq!(recovered.recovered_from, Some(StackStatus::RollbackComplete));
    assert_eq!(
        recovered.stale_reason(),
        Some(
            "recovered: the ROLLBACK_COMPLETE stack was deleted (recovery: recreate); its create \
             was never reviewed: plan it again"
        )
    );
    assert_eq!(cloud.operations(&target(1)), vec![Call::DeleteStack], "no create");
    assert_eq!(cloud.stack_status(&target(1), STACK), None);
    let again = plan_for_review(&cloud, vec![wave("all", &[target(1)])]).await;
    assert!(
        matches!(again.groups[0].verdict, PlanVerdict::WouldCreate { .. }),
        "{:?}",
        again.groups
    );
}
