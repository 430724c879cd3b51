//! `apply --auto` against moto: the plan records the document's autoApprove rules; `--auto`
//! applies the groups they approve and leaves the others, change sets kept, for a person, who
//! applies them later with `--group`.

mod support;

use std::path::Path;

use stackfleet_aws::StsAssumer;
use stackfleet_core::ports::StackOperations;
use support::{demo_org, kind_of, read_json, run, session_in, Moto, MARKER_TEMPLATE};

/// The marker stack's rollout flags, with `Env=env`, to `accounts`.
fn marker(template: &Path, env: &str, accounts: &str) -> Vec<String> {
    [
        "--stack-name",
        "org-marker",
        "--template",
        template.to_str().unwrap(),
        "--parameter",
        &format!("Env={env}"),
        "--accounts",
        accounts,
        "--regions",
        "us-east-1",
        "--poll-interval",
        "1",
    ]
    .map(str::to_owned)
    .to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_applies_what_the_rules_approve_and_leaves_the_rest_with_its_change_sets_for_a_person() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("org.json");
    demo_org(&moto, &["seed", state.to_str().unwrap(), "--size", "plain:2"]);
    let org = read_json(&state);
    let ids: Vec<String> = (0..2)
        .map(|n| org["accounts"][n]["id"].as_str().unwrap().to_owned())
        .collect();
    let [a, b] = [0, 1].map(|n| format!("{}:us-east-1", ids[n]));
    let template = dir.path().join("marker.yaml");
    std::fs::write(&template, MARKER_TEMPLATE).unwrap();
    // A already holds v2 (nothing to change: approved); B has no stack (its create adds an SSM
    // parameter: denied). moto lists no resource change for a parameter's new value.
    let mut deploy = vec!["deploy".to_owned(), "--no-progress".to_owned()];
    deploy.extend(marker(&template, "v2", &ids[0]));
    let deployed = run(&moto, &deploy.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(deployed.status.code(), Some(0));
    let spec = dir.path().join("rollout.yaml");
    std::fs::write(&spec, "autoApprove:\n  denyResourceTypes: [\"AWS::SSM::*\"]\n").unwrap();

    let (plan_path, plan_md) = (dir.path().join("plan.json"), dir.path().join("plan.md"));
    let mut args: Vec<String> = [
        "plan",
        "--spec",
        spec.to_str().unwrap(),
        "--run-id",
        "review-1",
        "--out",
    ]
    .map(str::to_owned)
    .to_vec();
    args.extend([
        plan_path.to_str().unwrap().to_owned(),
        "--report-md".into(),
        plan_md.to_str().unwrap().into(),
    ]);
    args.extend(marker(&template, "v2", &ids.join(",")));
    assert_eq!(
        run(&moto, &args.iter().map(String::as_str).collect::<Vec<_>>())
            .status
            .code(),
        Some(0)
    );
    let plan = read_json(&plan_path);
    assert_eq!(
        plan["document"]["autoApprove"]["denyResourceTypes"][0], "AWS::SSM::*",
        "recorded"
    );
    let group_of = |target: &str| -> String {
        let planned = plan["targets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["target"] == target);
        planned.unwrap()["group"].as_str().unwrap().to_owned()
    };
    let markdown = std::fs::read_to_string(&plan_md).unwrap();
    assert!(markdown.contains("`apply --auto` applies it"), "{markdown}");
    assert!(
        markdown.contains("For a person: it touches AWS::SSM::Parameter Marker, and autoApprove.denyResourceTypes lists AWS::SSM::\\*"),
        "{markdown}"
    );

    // --auto: A's group only; B's change set stays for a person.
    let report_path = dir.path().join("auto.json");
    let plan_arg = plan_path.to_str().unwrap();
    let auto = run(
        &moto,
        &[
            "apply",
            plan_arg,
            "--auto",
            "--run-id",
            "auto-1",
            "--no-progress",
            "--report-json",
            report_path.to_str().unwrap(),
        ],
    );
    assert_eq!(auto.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&auto.stderr);
    assert!(
        stderr.contains(&format!("group {} is left for a person", group_of(&b))),
        "{stderr}"
    );
    let report = read_json(&report_path);
    assert_eq!(kind_of(&report, &a), "Unchanged", "{report}");
    assert_eq!(kind_of(&report, &b), "Skipped", "{report}");
    assert!(report.to_string().contains("is left for a person"), "{report}");
    let change_set = plan["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["target"] == b.as_str())
        .unwrap()["changeSetId"]
        .as_str()
        .unwrap()
        .to_owned();
    let assumer = StsAssumer::new(&moto.sdk_config().await);
    let kept = session_in(&assumer, &b.parse().unwrap())
        .await
        .describe_change_set(&change_set)
        .await
        .unwrap();
    assert!(
        kept.is_some_and(|c| c.is_available()),
        "B's change set is kept for a person"
    );

    // The person applies B's group.
    let person = dir.path().join("person.json");
    let applied = run(
        &moto,
        &[
            "apply",
            plan_arg,
            "--group",
            &group_of(&b),
            "--run-id",
            "person-1",
            "--no-progress",
            "--report-json",
            person.to_str().unwrap(),
        ],
    );
    assert_eq!(applied.status.code(), Some(0));
    assert_eq!(kind_of(&read_json(&person), &b), "Created");
}
