//! The operator commands through the real binary against moto's Step Functions: a pipeline's
//! re-submitted `start` finds its execution instead of starting a second, and `status`, `rerun`
//! and `report` say plainly what they can and cannot do yet. (Moto runs no state machine, and
//! keeps no map runs: the decisions on finished executions are tested in operator_mocks.rs.)

mod support;

use std::process::Output;

use aws_sdk_s3::primitives::ByteStream;
use serde_json::Value;
use stackfleet_core::report::Report;
use stackfleet_core::run_keys::RunKeys;
use stackfleet_core::{Outcome, RunId};
use support::{stackfleet, Moto};

const BUCKET: &str = "stackfleet-runs";
const DEFINITION: &str = r#"{"StartAt":"Done","States":{"Done":{"Type":"Succeed"}}}"#;
const START: [&str; 10] = [
    "--stack-name",
    "org-federation",
    "--template",
    "examples/federation/template.yaml",
    "--parameters-file",
    "examples/federation/demo-parameters.json",
    "--ou",
    "r-ab12",
    "--regions",
    "us-east-1",
];

fn run(moto: &Moto, args: &[&str]) -> Output {
    let output = stackfleet(moto).args(args).output().expect("run stackfleet");
    eprintln!("{}", String::from_utf8_lossy(&output.stderr));
    output
}

fn start(moto: &Moto, machine: &str, extra: &[&str]) -> Output {
    let mut args = vec!["start", "--state-machine-arn", machine];
    args.extend(START);
    args.extend(extra);
    run(moto, &args)
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A state machine tagged with its records bucket, as the CDK app deploys it.
async fn state_machine(moto: &Moto) -> (String, aws_sdk_sfn::Client, aws_sdk_s3::Client) {
    let config = moto.sdk_config().await;
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(true)
            .build(),
    );
    s3.create_bucket().bucket(BUCKET).send().await.unwrap();
    let sfn = aws_sdk_sfn::Client::new(&config);
    let created = sfn
        .create_state_machine()
        .name("stackfleet")
        .definition(DEFINITION)
        .role_arn("arn:aws:iam::123456789012:role/stackfleet-state-machine")
        .tags(
            aws_sdk_sfn::types::Tag::builder()
                .key("stackfleet:bucket")
                .value(BUCKET)
                .build(),
        )
        .send()
        .await
        .unwrap();
    (created.state_machine_arn, sfn, s3)
}

async fn executions(sfn: &aws_sdk_sfn::Client, machine: &str) -> usize {
    let listed = sfn
        .list_executions()
        .state_machine_arn(machine)
        .send()
        .await
        .unwrap();
    listed.executions.len()
}

#[tokio::test]
async fn a_pipeline_retrying_start_gets_the_same_execution() {
    let moto = Moto::start();
    let (machine, sfn, _) = state_machine(&moto).await;

    let first = start(&moto, &machine, &[]);
    assert_eq!(first.status.code(), Some(0));
    let arn = stdout(&first);
    assert!(
        arn.starts_with("arn:aws:states:us-east-1:") && arn.contains(":execution:stackfleet:org-federation-"),
        "{arn}"
    );

    let retry = start(&moto, &machine, &[]);
    assert_eq!(retry.status.code(), Some(0), "a retry is not an error");
    assert_eq!(stdout(&retry), arn, "the retry names the first execution");
    assert!(
        stderr(&retry).contains("already started with this input"),
        "{}",
        stderr(&retry)
    );
    assert_eq!(executions(&sfn, &machine).await, 1, "one rollout, not two");

    let changed = start(&moto, &machine, &["--parameter", "IdpName=corp-sso"]);
    assert_eq!(changed.status.code(), Some(0));
    assert_ne!(stdout(&changed), arn, "another input is another rollout");
    assert_eq!(executions(&sfn, &machine).await, 2);

    // The submitted input is the spec and the selection given, for the lister to merge.
    let described = sfn.describe_execution().execution_arn(&arn).send().await.unwrap();
    let input: Value = serde_json::from_str(described.input().unwrap()).unwrap();
    assert_eq!(input["stackName"], "org-federation");
    assert_eq!(input["targets"]["ous"], serde_json::json!(["r-ab12"]));
    assert_eq!(input["targets"]["regions"], serde_json::json!(["us-east-1"]));
    assert!(
        input.get("deployRole").is_none(),
        "no --role-name: the stored default's role applies"
    );
    assert!(
        input.get("concurrency").is_none(),
        "no --concurrency: the stored default's applies"
    );

    let name = arn.rsplit(':').next().unwrap();
    let taken = start(&moto, &machine, &["--name", name, "--parameter", "IdpName=other"]);
    assert_eq!(taken.status.code(), Some(2));
    assert!(
        stderr(&taken).contains("already exists (RUNNING) with a different input"),
        "{}",
        stderr(&taken)
    );
    assert_eq!(executions(&sfn, &machine).await, 2);
}

#[tokio::test]
async fn status_rerun_and_report_of_a_running_execution() {
    let moto = Moto::start();
    let (machine, _, s3) = state_machine(&moto).await;
    let arn = stdout(&start(&moto, &machine, &[]));

    let status = run(&moto, &["status", &arn]);
    assert_eq!(status.status.code(), Some(0));
    let text = stdout(&status);
    assert!(text.contains("state      RUNNING"), "{text}");
    assert!(text.contains("targets    discovering the targets"), "{text}");

    let json = run(&moto, &["status", &arn, "--json"]);
    let json: Value = serde_json::from_str(&stdout(&json)).unwrap();
    assert_eq!(
        (json["status"].as_str(), json["executionArn"].as_str()),
        (Some("RUNNING"), Some(arn.as_str()))
    );

    let rerun = run(&moto, &["rerun", &arn]);
    assert_eq!(rerun.status.code(), Some(2));
    assert!(
        stderr(&rerun).contains("is still RUNNING: wait for it to end"),
        "{}",
        stderr(&rerun)
    );

    let report = run(&moto, &["report", &arn]);
    assert_eq!(report.status.code(), Some(2));
    assert!(
        stderr(&report).contains("its report is written when every target is done"),
        "{}",
        stderr(&report)
    );

    // Reduce's report.json, where the bucket tag says: read back in each format.
    let name = arn.rsplit(':').next().unwrap();
    let written = Report::new(
        RunId::from_lossy(name),
        "org-federation".parse().unwrap(),
        1_000,
        9_000,
        true,
        vec![Outcome::skipped(
            "111111111111:us-east-1".parse().unwrap(),
            "the management account",
        )],
    );
    s3.put_object()
        .bucket(BUCKET)
        .key(RunKeys::new(&written.run).report_json())
        .body(ByteStream::from(serde_json::to_vec(&written).unwrap()))
        .send()
        .await
        .unwrap();
    let json = run(&moto, &["report", &arn, "--format", "json"]);
    assert_eq!(json.status.code(), Some(0));
    assert_eq!(Report::from_json(&stdout(&json)).unwrap(), written);
    let junit = run(&moto, &["report", &arn, "--format", "junit"]);
    let xml = stdout(&junit);
    let parsed = roxmltree::Document::parse(&xml).unwrap();
    assert!(
        parsed
            .descendants()
            .any(|n| n.attribute("name") == Some("111111111111:us-east-1")),
        "{xml}"
    );
    let md = run(&moto, &["report", &arn]);
    assert!(stdout(&md).contains("org-federation"), "{}", stdout(&md));
}

#[tokio::test]
async fn watch_follows_an_execution_to_its_end() {
    let moto = Moto::start();
    let (machine, sfn, _) = state_machine(&moto).await;
    let arn = stdout(&start(&moto, &machine, &[]));
    let watch = stackfleet(&moto)
        .args(["watch", &arn, "--interval", "1", "--no-progress"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Somebody stops the rollout from the console while it is watched.
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    sfn.stop_execution().execution_arn(&arn).send().await.unwrap();
    let watched = watch.wait_with_output().unwrap();
    eprintln!("{}", stderr(&watched));
    assert_eq!(
        watched.status.code(),
        Some(1),
        "an execution that did not succeed"
    );
    assert!(
        stderr(&watched).contains("RUNNING discovering the targets"),
        "{}",
        stderr(&watched)
    );
    assert!(
        stdout(&watched).contains("state      ABORTED"),
        "{}",
        stdout(&watched)
    );

    let rerun = run(&moto, &["rerun", &arn]);
    assert_eq!(rerun.status.code(), Some(2));
    assert!(
        stderr(&rerun).contains("ended ABORTED before its targets were reduced"),
        "{}",
        stderr(&rerun)
    );
}

#[test]
fn bad_operator_input_is_refused_before_any_call() {
    // Nothing listens here: a call would fail with a transport error (exit 1), not exit 2.
    let nowhere = "http://127.0.0.1:9";
    let run = |args: &[&str]| support::stackfleet_at(nowhere).args(args).output().unwrap();
    let cases: [(&[&str], &str); 4] = [
        (
            &["status", "arn:aws:states:us-east-1:1:stateMachine:x"],
            "is not an execution ARN",
        ),
        (&["rerun", "not-an-arn"], "is not an execution ARN"),
        (
            &[
                "start",
                "--state-machine-arn",
                "arn:aws:states:us-east-1:1:execution:x:y",
                "--stack-name",
                "s",
                "--template",
                "examples/federation/template.yaml",
            ],
            "is not a state machine ARN",
        ),
        (
            &[
                "start",
                "--state-machine-arn",
                "arn:aws:states:us-east-1:1:stateMachine:x",
                "--stack-name",
                "s",
                "--template",
                "examples/federation/template.yaml",
                "--failure-tolerance",
                "3",
            ],
            "tolerates a percentage of the targets",
        ),
    ];
    for (args, message) in cases {
        let output = run(args);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {}", stderr(&output));
        assert!(stderr(&output).contains(message), "{args:?}: {}", stderr(&output));
    }
}
