//! Reviewed rollouts through the real binary against moto: `plan --out` keeps the change sets and
//! writes the plan (JSON and Markdown), `apply` executes exactly those, a stack updated behind the
//! plan's back is Stale and keeps its change, what was not applied is deleted, and a re-run plans
//! the stale target again.

mod support;

use std::path::Path;
use std::process::Output;

use stackfleet_aws::{CfnStacks, StsAssumer};
use stackfleet_core::ports::StackOperations;
use stackfleet_core::Target;
use support::{
    demo_org, kind_of, read_json, run, run_with, session_in, stackfleet, stackfleet_at, Moto, MARKER_TEMPLATE,
};

const STACK: &str = "org-marker";

/// `stackfleet` against moto with Organizations at a port where nothing listens, tried once: a
/// command that reads the Organization fails.
fn without_organizations(moto: &Moto) -> std::process::Command {
    let mut command = stackfleet(moto);
    command
        .env("AWS_ENDPOINT_URL_ORGANIZATIONS", "http://127.0.0.1:9")
        .env("AWS_MAX_ATTEMPTS", "1");
    command
}

/// `plan` or `deploy` of the marker stack with `Env=env` to `accounts`, and `extra` flags.
fn rollout(moto: &Moto, command: &str, template: &Path, env: &str, accounts: &str, extra: &[&str]) -> Output {
    rollout_by(stackfleet(moto), command, template, env, accounts, extra)
}

/// `rollout`, run by `stackfleet` as given (its environment set).
fn rollout_by(
    stackfleet: std::process::Command,
    command: &str,
    template: &Path,
    env: &str,
    accounts: &str,
    extra: &[&str],
) -> Output {
    let parameter = format!("Env={env}");
    let base = [
        command,
        "--stack-name",
        STACK,
        "--template",
        template.to_str().unwrap(),
        "--parameter",
        &parameter,
        "--accounts",
        accounts,
        "--regions",
        "us-east-1",
        "--poll-interval",
        "1",
    ];
    run_with(stackfleet, &[&base[..], extra].concat())
}

/// A session in `target` (`ACCOUNT:REGION`).
async fn session(assumer: &StsAssumer, target: &str) -> CfnStacks {
    session_in(assumer, &target.parse().unwrap()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_out_then_apply_runs_what_was_reviewed_and_a_moved_stack_is_stale_then_planned_again() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("org.json");
    demo_org(&moto, &["seed", state.to_str().unwrap(), "--size", "plain:3"]);
    let org = read_json(&state);
    let ids: Vec<String> = (0..3)
        .map(|n| org["accounts"][n]["id"].as_str().unwrap().to_owned())
        .collect();
    let [a, b, c] = [0, 1, 2].map(|n| format!("{}:us-east-1", ids[n]));
    let template = dir.path().join("marker.yaml");
    std::fs::write(&template, MARKER_TEMPLATE).unwrap();
    let first_two = format!("{},{}", ids[0], ids[1]);
    let all = ids.join(",");

    let deployed = rollout(&moto, "deploy", &template, "v1", &first_two, &["--no-progress"]);
    assert_eq!(deployed.status.code(), Some(0));

    // The plan for review: an update in A and B, a create in C, each change set kept.
    let (plan_path, plan_md) = (dir.path().join("plan.json"), dir.path().join("plan.md"));
    let planned = rollout(
        &moto,
        "plan",
        &template,
        "v2",
        &all,
        &[
            "--run-id",
            "review-1",
            "--out",
            plan_path.to_str().unwrap(),
            "--report-md",
            plan_md.to_str().unwrap(),
        ],
    );
    let stdout = String::from_utf8_lossy(&planned.stdout);
    assert_eq!(planned.status.code(), Some(0), "{stdout}");
    let plan = read_json(&plan_path);
    assert_eq!(plan["version"], 1);
    assert_eq!(plan["planId"], "review-1");
    let groups = plan["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 2, "{plan}");
    for group in groups {
        let id = group["id"].as_str().unwrap();
        assert!(stdout.contains(&format!("[{id}] ")), "{stdout}");
        assert!(std::fs::read_to_string(&plan_md)
            .unwrap()
            .contains(&format!("### `{id}`")));
    }
    let assumer = StsAssumer::new(&moto.sdk_config().await);
    let change_set_of = |target: &str| -> String {
        let planned = plan["targets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["target"] == target);
        planned.unwrap()["changeSetId"].as_str().unwrap().to_owned()
    };
    for target in [&a, &b, &c] {
        let kept = session(&assumer, target)
            .await
            .describe_change_set(&change_set_of(target))
            .await
            .unwrap()
            .expect("the plan kept its change set");
        assert!(kept.is_available(), "{kept:?}");
        assert!(
            kept.change_set_id.contains("changeSet/stackfleet-plan-review-1/"),
            "{kept:?}"
        );
    }

    // After the review, somebody updates B's stack.
    let behind = rollout(&moto, "deploy", &template, "v3", &ids[1], &["--no-progress"]);
    assert_eq!(behind.status.code(), Some(0));

    // The plan's targets are the Organization as read at planning: apply reads it no more (a
    // plan reads it, so it fails without it).
    let replanned = rollout_by(
        without_organizations(&moto),
        "plan",
        &template,
        "v2",
        &ids[0],
        &[],
    );
    assert_ne!(replanned.status.code(), Some(0), "plan needs Organizations");
    assert!(String::from_utf8_lossy(&replanned.stderr).contains("could not read the Organization"));
    let report_path = dir.path().join("apply.json");
    let applied = run_with(
        without_organizations(&moto),
        &[
            "apply",
            plan_path.to_str().unwrap(),
            "--all",
            "--run-id",
            "apply-1",
            "--no-progress",
            "--report-json",
            report_path.to_str().unwrap(),
        ],
    );
    let stdout = String::from_utf8_lossy(&applied.stdout);
    assert_eq!(
        applied.status.code(),
        Some(0),
        "a stale target is no failure: {stdout}"
    );
    let report = read_json(&report_path);
    assert_eq!(
        [kind_of(&report, &a), kind_of(&report, &b), kind_of(&report, &c)],
        ["Updated", "Stale", "Created"],
        "{report}"
    );
    assert_eq!(report["summary"]["stale"], 1);
    let stale = &report["staleGroups"][0];
    assert!(
        stale["reason"]
            .as_str()
            .unwrap()
            .starts_with("the stack changed since the plan"),
        "{stale}"
    );
    assert!(stdout.contains("--rerun-failed"), "{stdout}");

    // A's operation is the change set executed under this apply's token; B was not touched and
    // its change set is gone.
    let a_events = session(&assumer, &a)
        .await
        .stack_events(STACK, None)
        .await
        .unwrap();
    assert_eq!(
        a_events.events[0].token.as_deref(),
        Some("stackfleet-apply-1-update"),
        "{:?}",
        a_events.events[0]
    );
    let b_session = session(&assumer, &b).await;
    let b_events = b_session.stack_events(STACK, None).await.unwrap();
    assert!(
        b_events
            .events
            .iter()
            .all(|e| e.token.as_deref() != Some("stackfleet-apply-1-update")),
        "{b_events:?}"
    );
    assert_eq!(
        b_session.describe_change_set(&change_set_of(&b)).await.unwrap(),
        None,
        "the change set apply did not execute is deleted"
    );

    // The re-run plans B again (and only B), and its apply updates it.
    let plan_again = dir.path().join("plan-again.json");
    let replanned = run(
        &moto,
        &[
            "plan",
            "--stack-name",
            STACK,
            "--template",
            template.to_str().unwrap(),
            "--parameter",
            "Env=v2",
            "--poll-interval",
            "1",
            "--rerun-failed",
            report_path.to_str().unwrap(),
            "--out",
            plan_again.to_str().unwrap(),
        ],
    );
    assert_eq!(replanned.status.code(), Some(0));
    let again = read_json(&plan_again);
    let targets: Vec<&str> = again["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["target"].as_str().unwrap())
        .collect();
    assert_eq!(targets, [b.as_str()]);
    let report_again = dir.path().join("apply-again.json");
    let applied = run_with(
        stackfleet(&moto),
        &[
            "apply",
            plan_again.to_str().unwrap(),
            "--all",
            "--no-progress",
            "--report-json",
            report_again.to_str().unwrap(),
        ],
    );
    assert_eq!(applied.status.code(), Some(0));
    assert_eq!(kind_of(&read_json(&report_again), &b), "Updated");
}

/// Before any AWS call: an altered plan, an unknown group, or neither --group nor --all.
#[test]
fn apply_refuses_an_altered_plan_and_an_unknown_group_before_any_aws_call() {
    use stackfleet_core::plan::{PlanFile, PlanVerdict, TargetPlan};
    let dir = tempfile::tempdir().unwrap();
    let unreachable = "http://127.0.0.1:9";
    let target: Target = "111111111111:us-east-1".parse().unwrap();
    let plans = [TargetPlan {
        target: target.clone(),
        verdict: PlanVerdict::NoChanges,
        adopts: false,
        reviewed: None,
    }];
    let waves = vec![stackfleet_core::waves::Wave {
        name: "all".into(),
        bake_seconds: 0,
        failure_tolerance: stackfleet_core::rollout::FailureTolerance::Count(0),
        targets: vec![target],
    }];
    let document =
        stackfleet_core::Rollout::parse("stackName: s\ntemplate: {body: 'Resources: {}'}\n").unwrap();
    let plan = PlanFile::new("p1".parse().unwrap(), 0, document, waves, &plans, Vec::new());
    let path = dir.path().join("plan.json");
    let path_text = path.to_str().unwrap();
    let id = plan.groups[0].id.clone();

    let mut altered = serde_json::to_value(&plan).unwrap();
    altered["groups"][0]["verdict"] = "wouldUpdate".into();
    altered["groups"][0]["changes"] = serde_json::json!([]);
    std::fs::write(&path, altered.to_string()).unwrap();
    let output = run_with(stackfleet_at(unreachable), &["apply", path_text, "--all"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!(
            "group {id}: its changeDigest and id are not those of its verdict"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("altered after `stackfleet plan` wrote it; plan again"),
        "{stderr}"
    );

    std::fs::write(&path, serde_json::to_string(&plan).unwrap()).unwrap();
    let output = run_with(
        stackfleet_at(unreachable),
        &["apply", path_text, "--group", "deadbeef0000"],
    );
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!(
            "no group deadbeef0000 in this plan; its groups are {id}"
        )),
        "{stderr}"
    );

    let output = run_with(stackfleet_at(unreachable), &["apply", path_text]);
    assert_eq!(output.status.code(), Some(2), "--group or --all is required");
}
