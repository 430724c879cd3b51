//! `stackfleet approve` and `status` for a plan-first execution (`mode: plan`), on the in-memory
//! Step Functions and run store: the plan read from the Plan step's output and the run bucket,
//! each group checked against it, the approval written once; refused while planning, after the
//! expiry, for an unknown group, and a second time.

use serde_json::json;
use stackfleet_aws::fake::{FakeExecutions, FakeStore};
use stackfleet_core::approving::{self, APPROVAL_STATE, PLAN_STATE};
use stackfleet_core::operator::OperatorError;
use stackfleet_core::plan::{PlanFile, PlanVerdict, Reviewed, TargetPlan};
use stackfleet_core::ports::RunStore;
use stackfleet_core::run_keys::RunKeys;
use stackfleet_core::stack::StackStatus;
use stackfleet_core::waves::Wave;
use stackfleet_core::wire::review::{Approval, GroupDigest, PlanDigest};
use stackfleet_core::{Rollout, RunId};

const MACHINE: &str = "arn:aws:states:us-east-1:111111111111:stateMachine:stackfleet";
const NOW: u64 = 1_795_000_000_000;

fn refusal(error: OperatorError) -> String {
    match error {
        OperatorError::Refused(message) => message,
        OperatorError::Aws(error) => panic!("expected a refusal, got {error:?}"),
    }
}

/// A plan of two groups (two creates, one with no changes) in the store, and its digest.
async fn planned(store: &FakeStore) -> PlanDigest {
    let run = RunId::from_lossy("reviewed-20261122T101413Z");
    let plans: Vec<TargetPlan> = [
        ("111111111111", PlanVerdict::WouldCreate { changes: Vec::new() }),
        ("222222222222", PlanVerdict::WouldCreate { changes: Vec::new() }),
        ("333333333333", PlanVerdict::NoChanges),
    ]
    .into_iter()
    .map(|(account, verdict)| TargetPlan {
        target: format!("{account}:us-east-1").parse().unwrap(),
        reviewed: matches!(verdict, PlanVerdict::WouldCreate { .. }).then(|| Reviewed {
            change_set_id: Some(format!(
                "arn:aws:cloudformation:us-east-1:{account}:changeSet/stackfleet-plan-reviewed/1"
            )),
            stack_id: format!("arn:aws:cloudformation:us-east-1:{account}:stack/org-baseline/1"),
            stack_status: StackStatus::ReviewInProgress,
            stack_last_updated_ms: Some(1),
        }),
        verdict,
        adopts: false,
    })
    .collect();
    let wave = Wave {
        name: "all".into(),
        bake_seconds: 0,
        failure_tolerance: Default::default(),
        targets: plans.iter().map(|p| p.target.clone()).collect(),
    };
    let plan = PlanFile::new(
        run.clone(),
        NOW - 60_000,
        Rollout::default(),
        vec![wave],
        &plans,
        Vec::new(),
    );
    let keys = RunKeys::new(&run);
    store
        .put(
            &keys.plan_json(),
            serde_json::to_string(&plan).unwrap(),
            "application/json",
        )
        .await
        .unwrap();
    PlanDigest {
        run,
        plan_key: keys.plan_json(),
        plan_md_key: keys.plan_md(),
        expires_at_ms: NOW + 3_600_000,
        targets: 3,
        groups: plan
            .groups
            .iter()
            .map(|g| GroupDigest {
                id: g.id.clone(),
                headline: g.headline.clone(),
                targets: g.targets.len(),
                changes: g.has_change_sets(),
            })
            .collect(),
        group_count: plan.groups.len(),
    }
}

#[tokio::test]
async fn a_plan_is_approved_once_each_group_checked_against_the_plan() {
    let (sfn, store) = (FakeExecutions::new(), FakeStore::new());
    let arn = sfn.add(MACHINE, "reviewed", r#"{"mode": "plan"}"#);
    let message = refusal(
        approving::approve(&sfn, &store, &arn, &[], "arn:aws:iam::1:user/a", NOW)
            .await
            .unwrap_err(),
    );
    assert!(message.contains("still planning"), "{message}");

    let digest = planned(&store).await;
    sfn.exit_state(&arn, PLAN_STATE, &serde_json::to_string(&digest).unwrap());
    let message = refusal(
        approving::approve(&sfn, &store, &arn, &["0000".into()], "arn:aws:iam::1:user/a", NOW)
            .await
            .unwrap_err(),
    );
    for group in &digest.groups {
        assert!(message.contains(&group.id), "the groups there are: {message}");
    }

    let creates = digest.groups[0].id.clone();
    let approval = approving::approve(
        &sfn,
        &store,
        &arn,
        std::slice::from_ref(&creates),
        "arn:aws:iam::1:user/a",
        NOW,
    )
    .await
    .unwrap();
    assert_eq!(approval.groups, std::slice::from_ref(&creates));
    let written: Approval =
        serde_json::from_str(&store.object(&RunKeys::new(&digest.run).approval())).unwrap();
    assert_eq!(written, approval);
    assert_eq!(written.approved_by, "arn:aws:iam::1:user/a");

    let message = refusal(
        approving::approve(&sfn, &store, &arn, &[], "arn:aws:iam::1:user/b", NOW)
            .await
            .unwrap_err(),
    );
    assert!(message.contains("approved already"), "{message}");
    let kept: Approval = serde_json::from_str(&store.object(&RunKeys::new(&digest.run).approval())).unwrap();
    assert_eq!(kept, approval, "the first approval stands");
}

#[tokio::test]
async fn an_expired_or_ended_plan_is_not_approved_and_status_tells_waiting_from_decided() {
    let (sfn, store) = (FakeExecutions::new(), FakeStore::new());
    let arn = sfn.add(MACHINE, "late", r#"{"mode": "plan"}"#);
    let digest = planned(&store).await;
    sfn.exit_state(&arn, PLAN_STATE, &serde_json::to_string(&digest).unwrap());
    let execution = stackfleet_core::executions::Executions::describe(&sfn, &arn)
        .await
        .unwrap()
        .unwrap();
    let waiting = approving::plan_status(&sfn, &execution).await.unwrap().unwrap();
    assert!(!waiting.decided);
    assert_eq!(waiting.digest, digest);

    let message = refusal(
        approving::approve(&sfn, &store, &arn, &[], "me", digest.expires_at_ms)
            .await
            .unwrap_err(),
    );
    assert!(message.contains("expired"), "{message}");

    let applying = json!({"run": digest.run, "action": "apply", "waitSeconds": 0,
        "expiresAtMs": digest.expires_at_ms, "cursor": null, "mapError": null});
    sfn.exit_state(&arn, APPROVAL_STATE, &applying.to_string());
    assert!(
        approving::plan_status(&sfn, &execution)
            .await
            .unwrap()
            .unwrap()
            .decided
    );

    sfn.fail(&arn, "Halted", Some("the plan expired"));
    let message = refusal(
        approving::approve(&sfn, &store, &arn, &[], "me", NOW)
            .await
            .unwrap_err(),
    );
    assert!(message.contains("only a running execution"), "{message}");
}
