//! A plan-first execution (`mode: plan`) played by `Machine` on the fakes and paused time, through
//! the real handlers: the waves plan every target (change sets kept), Plan writes plan.json and
//! plan.md, Approval waits for the approval `stackfleet approve` writes, then the waves apply the
//! approved groups' change sets only, delete the others', and report a stack that moved since
//! the plan Stale. Unapproved, the plan expires: nothing is applied and the run halts.
//! tests/statemachine/plan-first.test.mjs runs the shipped definition against moto.

mod support;

use std::time::Duration;

use serde_json::json;
use stackfleet_aws::fake::Call;
use stackfleet_core::plan::PlanFile;
use stackfleet_core::run_keys::RunKeys;
use stackfleet_core::stack::StackStatus;
use stackfleet_core::wire::gate::GateAction;
use stackfleet_core::wire::review::PlanDigest;
use stackfleet_core::{OutcomeKind, Target};
use support::{rollout, target, Machine};

const STACK: &str = "org-baseline";

fn plan_first(timeout_seconds: u64) -> serde_json::Value {
    let mut input = rollout(&json!([]));
    input["mode"] = json!("plan");
    input["approvalTimeoutSeconds"] = json!(timeout_seconds);
    input
}

/// The groups of the plan that create stacks.
fn creates(digest: &PlanDigest) -> Vec<String> {
    digest
        .groups
        .iter()
        .filter(|g| g.headline.starts_with("stack does not exist yet"))
        .map(|g| g.id.clone())
        .collect()
}

fn every_group(digest: &PlanDigest) -> Vec<String> {
    digest.groups.iter().map(|g| g.id.clone()).collect()
}

fn kind(report: &stackfleet_core::report::Report, target: &Target) -> OutcomeKind {
    report
        .outcomes
        .iter()
        .find(|o| &o.target == target)
        .map(|o| o.kind())
        .unwrap_or_else(|| panic!("no outcome for {target}"))
}

#[tokio::test(start_paused = true)]
async fn the_plan_waits_for_approval_then_only_the_approved_group_is_applied() {
    let mut machine = Machine::new(4);
    // Target 3 holds the stack already (another template): its plan is an update.
    machine
        .cloud
        .put_stack(&target(3), STACK, StackStatus::CreateComplete);
    machine.approve = Some(creates);
    let ended = machine.execute("reviewed", plan_first(3600)).await;

    assert_eq!(
        ended.gate_actions,
        [
            GateAction::Deploy,
            GateAction::Plan,
            GateAction::Deploy,
            GateAction::Done
        ],
        "the waves plan, then apply"
    );
    let run = &ended.reduced.run;
    let keys = RunKeys::new(run);
    let plan = PlanFile::parse(&machine.store.object(&keys.plan_json())).unwrap();
    assert_eq!(plan.targets.len(), 4);
    assert_eq!(plan.groups.len(), 2, "{:?}", plan.groups);
    let markdown = machine.store.object(&keys.plan_md());
    assert!(
        markdown.contains("stackfleet approve EXECUTION_ARN --group ID"),
        "{markdown}"
    );

    let report = machine.report(&ended.reduced).await;
    for n in 0..3 {
        assert_eq!(kind(&report, &target(n)), OutcomeKind::Created, "{}", target(n));
    }
    assert_eq!(kind(&report, &target(3)), OutcomeKind::Skipped);
    let skipped = report.outcomes.iter().find(|o| o.target == target(3)).unwrap();
    assert!(
        skipped.skipped_reason().unwrap().contains("was not approved"),
        "{skipped:?}"
    );
    // The reviewed change sets were executed, nothing deployed around them; the unapproved one
    // was deleted, its stack left as it was.
    assert_eq!(machine.cloud.count(Call::ExecuteChangeSet), 3);
    assert_eq!(machine.cloud.count(Call::CreateStack), 0);
    assert!(machine.cloud.change_sets(&target(3)).is_empty());
    assert_eq!(
        machine.cloud.stack_status(&target(3), STACK),
        Some(StackStatus::CreateComplete)
    );
    assert!(ended.reduced.halt.is_none() && ended.reduced.within_tolerance);
}

#[tokio::test(start_paused = true)]
async fn a_stack_that_moved_after_the_plan_is_stale_and_left_alone() {
    let mut machine = Machine::new(2);
    machine
        .cloud
        .put_stack(&target(0), STACK, StackStatus::CreateComplete);
    machine.after_plan = Some(|machine| {
        // Somebody else updates the stack between the review and the apply.
        machine
            .cloud
            .begin_foreign_update(&target(0), STACK, Duration::from_secs(30));
    });
    machine.approve = Some(every_group);
    let ended = machine.execute("moved", plan_first(3600)).await;

    let report = machine.report(&ended.reduced).await;
    assert_eq!(kind(&report, &target(0)), OutcomeKind::Stale);
    assert_eq!(kind(&report, &target(1)), OutcomeKind::Created);
    assert_eq!(machine.cloud.count(Call::ExecuteChangeSet), 1);
}

#[tokio::test(start_paused = true)]
async fn an_unapproved_plan_expires_its_change_sets_are_deleted_and_the_run_halts() {
    let machine = Machine::new(2);
    let started = machine.clock_ms();
    let ended = machine.execute("unapproved", plan_first(120)).await;

    let halt = ended.reduced.halt.clone().expect("halted");
    assert!(halt.reason.contains("expired unapproved"), "{halt:?}");
    assert!(
        machine.clock_ms() >= started + 120_000,
        "it waited out the approval timeout"
    );
    let report = machine.report(&ended.reduced).await;
    for n in 0..2 {
        assert_eq!(kind(&report, &target(n)), OutcomeKind::Skipped);
        assert!(machine.cloud.change_sets(&target(n)).is_empty(), "{}", target(n));
        // The empty stack each CREATE change set made is gone with it.
        assert!(
            matches!(
                machine.cloud.stack_status(&target(n), STACK),
                None | Some(StackStatus::DeleteComplete)
            ),
            "{}",
            target(n)
        );
    }
    assert_eq!(machine.cloud.count(Call::ExecuteChangeSet), 0);
}
