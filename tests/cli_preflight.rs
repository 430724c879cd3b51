//! The pre-flight through the real binary against moto, which gives no validation events: the
//! template's named roles are looked up in each account. `deploy --preflight strict` starts
//! nothing while a target is blocked; `--preflight skip-blocked` deploys the others and reports
//! the blocked one; `plan --out` records the blocker, grouped, in its JSON and Markdown.

mod support;

use serde_json::Value;
use support::{demo_org, demo_org_output, outcome_of, read_json, run, Moto};

const STACK: &str = "org-federation";
const BLOCKER: &str = "AWS::IAM::Role FederatedReadOnly: already exists in the account, outside \
                       this stack (RoleName FederatedReadOnly)";

/// (kind, the reason a user reads) of each target's outcome.
fn outcome(report: &Value, target: &str) -> (String, String) {
    let found = outcome_of(report, target);
    let reason = found["skippedReason"]
        .as_str()
        .or(found["failure"]["rootCause"]["reason"].as_str())
        .unwrap_or_default();
    (found["kind"].as_str().unwrap().to_owned(), reason.to_owned())
}

#[test]
fn strict_starts_nothing_skip_blocked_deploys_the_rest_and_the_plan_records_the_blocker() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("org.json");
    demo_org(&moto, &["seed", state.to_str().unwrap(), "--size", "plain:3"]);
    let org = read_json(&state);
    let ids: Vec<String> = (0..3)
        .map(|n| org["accounts"][n]["id"].as_str().unwrap().to_owned())
        .collect();
    // Somebody made the role by hand in the first account.
    demo_org(&moto, &["conflict", &ids[0]]);
    let [blocked, free_1, free_2] = [0, 1, 2].map(|n| format!("{}:us-east-1", ids[n]));
    let accounts = ids.join(",");
    let rollout = |command: &str, extra: &[&str]| -> Vec<String> {
        let base = [
            command,
            "--spec",
            "examples/federation/rollout.yaml",
            "--accounts",
            &accounts,
            "--poll-interval",
            "1",
        ];
        [&base[..], extra]
            .concat()
            .iter()
            .map(|s| (*s).to_owned())
            .collect()
    };
    let stacks = || -> Value {
        serde_json::from_str(&demo_org_output(
            &moto,
            &["stacks", state.to_str().unwrap(), STACK],
        ))
        .unwrap()
    };

    let strict_report = dir.path().join("strict.json");
    let args = rollout(
        "deploy",
        &[
            "--preflight",
            "strict",
            "--no-progress",
            "--report-json",
            strict_report.to_str().unwrap(),
        ],
    );
    let strict = run(&moto, &args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(strict.status.code(), Some(1));
    assert_eq!(
        stacks(),
        serde_json::json!({}),
        "nothing started, nothing left by the pre-flight"
    );
    let report = read_json(&strict_report);
    assert_eq!(
        outcome(&report, &blocked),
        (
            "Failed".to_owned(),
            format!("blocked by pre-flight, nothing started: {BLOCKER}")
        )
    );
    for free in [&free_1, &free_2] {
        assert_eq!(
            outcome(&report, free),
            (
                "Skipped".to_owned(),
                "not started: the pre-flight blocked 1 target (--preflight strict)".to_owned()
            )
        );
    }
    assert!(String::from_utf8_lossy(&strict.stderr).contains(&format!("{BLOCKER}: 1 target")));

    let skip_report = dir.path().join("skip.json");
    let args = rollout(
        "deploy",
        &[
            "--preflight",
            "skip-blocked",
            "--failure-tolerance",
            "50%",
            "--no-progress",
            "--report-json",
            skip_report.to_str().unwrap(),
        ],
    );
    let skipped = run(&moto, &args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(skipped.status.code(), Some(0), "1 of 3 failed, within 50%");
    let report = read_json(&skip_report);
    assert_eq!(outcome(&report, &blocked).0, "Failed");
    assert_eq!(outcome(&report, &free_1).0, "Created");
    assert_eq!(outcome(&report, &free_2).0, "Created");
    let deployed = stacks();
    assert_eq!(deployed[&ids[1]], "CREATE_COMPLETE");
    assert_eq!(deployed[&ids[2]], "CREATE_COMPLETE");
    assert!(
        deployed.get(&ids[0]).is_none(),
        "the blocked account was not touched: {deployed}"
    );

    // Planned again: the deployed stacks hold their roles (no conflict), the hand-made one blocks.
    let plan_json = dir.path().join("plan.json");
    let plan_md = dir.path().join("plan.md");
    let args = rollout(
        "plan",
        &[
            "--out",
            plan_json.to_str().unwrap(),
            "--report-md",
            plan_md.to_str().unwrap(),
        ],
    );
    let planned = run(&moto, &args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(planned.status.code(), Some(1), "a blocked target fails the plan");
    let plan = read_json(&plan_json);
    assert_eq!(plan["blocked"].as_array().unwrap().len(), 1, "{plan}");
    let group = &plan["blocked"][0];
    assert_eq!(group["resourceType"], "AWS::IAM::Role");
    assert_eq!(group["logicalId"], "FederatedReadOnly");
    assert_eq!(group["foundBy"], "nameLookup");
    assert_eq!(group["targets"], serde_json::json!([blocked]));
    let blocked_group = plan["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["verdict"] == "blocked")
        .unwrap_or_else(|| panic!("no blocked group: {plan}"));
    assert_eq!(blocked_group["targets"], serde_json::json!([blocked]));
    let planned_blocked = plan["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["target"] == blocked.as_str())
        .unwrap();
    assert!(
        planned_blocked.get("changeSetId").is_none(),
        "no change set kept: {planned_blocked}"
    );
    let markdown = std::fs::read_to_string(&plan_md).unwrap();
    assert!(
        markdown.contains("## Blocked before any change")
            && markdown.contains(&format!("{BLOCKER}: 1 target")),
        "{markdown}"
    );

    // `plan --json` without --out: the same shape on stdout, nothing kept.
    let args = rollout("plan", &["--json"]);
    let printed = run(&moto, &args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(printed.status.code(), Some(1), "still blocked");
    let json: Value = serde_json::from_slice(&printed.stdout).expect("stdout is one JSON document");
    assert_eq!(json["version"], plan["version"]);
    assert_eq!(json["blocked"], plan["blocked"], "{json}");
    assert_eq!(
        json["groups"].as_array().unwrap().len(),
        plan["groups"].as_array().unwrap().len()
    );
    assert!(
        json["targets"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t.get("changeSetId").is_none()),
        "a plan not kept records no change set: {json}"
    );
}
