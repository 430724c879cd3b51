//! Stack outputs across the fleet against moto: each successful outcome carries its stack's
//! outputs in the JSON report, `--outputs-json` writes them as {account: {region: {key: value}}},
//! and `stackfleet outputs --report` prints the same map, or one key of it.

mod support;

use serde_json::json;
use support::{demo_org, outcome_of, read_json, run, Moto};

const TEMPLATE: &str = "Parameters:
  Env:
    Type: String
Resources:
  Handle:
    Type: AWS::CloudFormation::WaitConditionHandle
Outputs:
  Env:
    Value: !Ref Env
  Where:
    Value: !Sub \"${AWS::AccountId}-${AWS::Region}\"
";

#[test]
fn every_successful_target_reports_its_outputs_and_the_map_gathers_them() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("org.json");
    demo_org(&moto, &["seed", state.to_str().unwrap(), "--size", "plain:2"]);
    let org = read_json(&state);
    let ids: Vec<String> = (0..2)
        .map(|n| org["accounts"][n]["id"].as_str().unwrap().to_owned())
        .collect();
    let template = dir.path().join("outputs.yaml");
    std::fs::write(&template, TEMPLATE).unwrap();
    let (report, outputs) = (dir.path().join("report.json"), dir.path().join("outputs.json"));
    let accounts = ids.join(",");
    let deploy = |env: &str| {
        run(
            &moto,
            &[
                "deploy",
                "--no-progress",
                "--stack-name",
                "org-outputs",
                "--template",
                template.to_str().unwrap(),
                "--parameter",
                &format!("Env={env}"),
                "--accounts",
                &accounts,
                "--regions",
                "us-east-1",
                "--poll-interval",
                "1",
                "--report-json",
                report.to_str().unwrap(),
                "--outputs-json",
                outputs.to_str().unwrap(),
            ],
        )
    };

    let created = deploy("prod");
    assert_eq!(
        created.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let expected = |env: &str| {
        let mut map = serde_json::Map::new();
        for id in &ids {
            map.insert(
                id.clone(),
                json!({"us-east-1": {"Env": env, "Where": format!("{id}-us-east-1")}}),
            );
        }
        serde_json::Value::Object(map)
    };
    assert_eq!(read_json(&outputs), expected("prod"));
    let outcome = outcome_of(&read_json(&report), &format!("{}:us-east-1", ids[0])).clone();
    assert_eq!(outcome["kind"], "Created", "{outcome}");
    assert_eq!(outcome["outputs"]["Env"], "prod", "{outcome}");

    // An update reports the outputs as they are after it; an unchanged target as they stand.
    let updated = deploy("staging");
    assert_eq!(
        updated.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&updated.stderr)
    );
    assert_eq!(read_json(&outputs), expected("staging"));
    let unchanged = deploy("staging");
    assert_eq!(unchanged.status.code(), Some(0));
    let outcome = outcome_of(&read_json(&report), &format!("{}:us-east-1", ids[1])).clone();
    assert_eq!(outcome["kind"], "Unchanged", "{outcome}");
    assert_eq!(read_json(&outputs), expected("staging"));

    let printed = run(&moto, &["outputs", "--report", report.to_str().unwrap()]);
    assert_eq!(printed.status.code(), Some(0));
    let printed: serde_json::Value = serde_json::from_slice(&printed.stdout).unwrap();
    assert_eq!(printed, expected("staging"));
    let one = run(
        &moto,
        &["outputs", "--report", report.to_str().unwrap(), "--key", "Where"],
    );
    let one: serde_json::Value = serde_json::from_slice(&one.stdout).unwrap();
    assert_eq!(
        one,
        json!({ids[0].clone(): {"us-east-1": format!("{}-us-east-1", ids[0])}, ids[1].clone(): {"us-east-1": format!("{}-us-east-1", ids[1])}})
    );
}

#[test]
fn outputs_needs_an_execution_or_a_report() {
    let moto = Moto::start();
    let refused = run(&moto, &["outputs"]);
    assert_eq!(refused.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("EXECUTION_ARN") && stderr.contains("--report"),
        "{stderr}"
    );
    let missing = run(&moto, &["outputs", "--report", "/nonexistent/report.json"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("cannot read the report"));
}
