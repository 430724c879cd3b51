//! The operator commands through the real binary against moto's Step Functions: a pipeline's
//! re-submitted `start` finds its execution instead of starting a second, and `status`, `rerun`
//! and `report` say plainly what they can and cannot do yet. (Moto runs no state machine, and
//! keeps no map runs: the decisions on finished executions are tested in operator_mocks.rs.)

mod support;

use std::process::Output;

use aws_sdk_s3::primitives::ByteStream;
use serde_json::{json, Value};
use stackfleet_core::report::Report;
use stackfleet_core::run_keys::RunKeys;
use stackfleet_core::{Outcome, RunId};
use support::{run, stackfleet, Moto};

const BUCKET: &str = "stackfleet-runs";
const DEFINITION: &str = r#"{"StartAt":"Done","States":{"Done":{"Type":"Succeed"}}}"#;
/// moto records a start without running the machine (outside the tests that switch its engine
/// on), so `start` would wait its 2 minutes for a Discover that never comes: these tests do not
/// wait. The wait itself is tested on the fakes (crates/aws/tests/operator_discovery.rs).
const START: [&str; 9] = [
    "--no-wait",
    "--stack-name",
    "org-federation",
    "--template",
    "examples/federation/template.yaml",
    "--ou",
    "r-ab12",
    "--regions",
    "us-east-1",
];

fn start(moto: &Moto, machine: &str, extra: &[&str]) -> Output {
    let mut args = vec!["start", "--state-machine-arn", machine];
    args.extend(START);
    args.extend(extra);
    run(moto, &args)
}

/// Exit 2, with `message` on stderr: a refusal that says why.
fn assert_refused(output: &Output, message: &str) {
    assert_eq!(output.status.code(), Some(2), "{}", stderr(output));
    assert!(stderr(output).contains(message), "{}", stderr(output));
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
    let machine = create_machine(&sfn, "stackfleet", DEFINITION).await;
    (machine, sfn, s3)
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

    let changed = start(
        &moto,
        &machine,
        &[
            "--parameter",
            "IdpName=corp-sso",
            "--capabilities",
            "CAPABILITY_NAMED_IAM",
            "--role-name",
            "stackfleet-deploy",
            "--external-id",
            "pipeline-1",
        ],
    );
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
    for defaulted in [
        "capabilities",
        "tags",
        "recovery",
        "operationTimeoutSeconds",
        "pollIntervalSeconds",
    ] {
        assert!(
            input.get(defaulted).is_none(),
            "{defaulted}: not given, so the stored default's applies"
        );
    }
    let described = sfn
        .describe_execution()
        .execution_arn(stdout(&changed))
        .send()
        .await
        .unwrap();
    let given: Value = serde_json::from_str(described.input().unwrap()).unwrap();
    assert_eq!(given["parameters"]["IdpName"], "corp-sso");
    assert_eq!(given["capabilities"], serde_json::json!(["CAPABILITY_NAMED_IAM"]));
    assert_eq!(
        given["deployRole"],
        serde_json::json!({ "name": "stackfleet-deploy", "externalId": "pipeline-1" })
    );
    let external_alone = start(&moto, &machine, &["--external-id", "pipeline-1"]);
    assert_refused(&external_alone, "--external-id needs --role-name");

    let name = arn.rsplit(':').next().unwrap();
    let taken = start(&moto, &machine, &["--name", name, "--parameter", "IdpName=other"]);
    assert_refused(&taken, "already exists (RUNNING) with a different input");
    assert_eq!(executions(&sfn, &machine).await, 2);
}

#[tokio::test]
async fn status_rerun_and_report_of_a_running_execution() {
    let moto = Moto::start();
    let (machine, _, _) = state_machine(&moto).await;
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
    assert_refused(&rerun, "is still RUNNING: wait for it to end");

    let report = run(&moto, &["report", &arn]);
    assert_refused(&report, "its report is written when every target is done");
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
    assert_refused(&rerun, "ended ABORTED before its targets were reduced");
}

/// Switches moto to running state machines (its ASL engine) instead of only recording starts.
fn execute_state_machines(moto: &Moto) {
    use std::io::{Read, Write};
    let address = moto.endpoint.trim_start_matches("http://");
    let body = r#"{"stepfunctions": {"execute_state_machine": true}}"#;
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    write!(
        stream,
        "POST /moto-api/config HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 20"), "{answer}");
}

/// Our state machine's shape and state names, with Pass states where the Lambdas would be:
/// three targets through a Distributed Map, then a Reduce that returns what the reducer does.
fn stand_in(reduced: &Value) -> String {
    let mut parameters = reduced.as_object().unwrap().clone();
    parameters.remove("reportKey");
    parameters.insert(
        "reportKey.$".into(),
        json!("States.Format('runs/{}/report.json', $$.Execution.Name)"),
    );
    json!({
        "StartAt": "Discover",
        "States": {
            "Discover": {
                "Type": "Pass",
                "Result": { "targets": ["111111111111:us-east-1", "222222222222:us-east-1", "333333333333:us-east-1"] },
                "Next": "Deploy"
            },
            "Deploy": {
                "Type": "Map",
                "ItemsPath": "$.targets",
                "ItemProcessor": {
                    "ProcessorConfig": { "Mode": "DISTRIBUTED", "ExecutionType": "STANDARD" },
                    "StartAt": "Finished",
                    "States": { "Finished": { "Type": "Pass", "Result": {}, "End": true } }
                },
                "ResultPath": null,
                "Next": "Reduce"
            },
            "Reduce": { "Type": "Pass", "Parameters": parameters, "Next": "Within tolerance?" },
            "Within tolerance?": {
                "Type": "Choice",
                "Choices": [{ "Variable": "$.withinTolerance", "BooleanEquals": false, "Next": "Failures beyond tolerance" }],
                "Default": "Rolled out"
            },
            "Failures beyond tolerance": { "Type": "Fail", "Error": "TargetsFailed", "CausePath": "$.cause" },
            "Rolled out": { "Type": "Succeed" }
        }
    })
    .to_string()
}

async fn create_machine(sfn: &aws_sdk_sfn::Client, name: &str, definition: &str) -> String {
    sfn.create_state_machine()
        .name(name)
        .definition(definition)
        .role_arn("arn:aws:iam::123456789012:role/stackfleet-state-machine")
        .tags(
            aws_sdk_sfn::types::Tag::builder()
                .key(stackfleet_core::operator::BUCKET_TAG)
                .value(BUCKET)
                .build(),
        )
        .send()
        .await
        .unwrap()
        .state_machine_arn
}

#[tokio::test]
async fn watch_status_report_and_rerun_refusal_of_executions_that_ran() {
    let moto = Moto::start();
    let (_, sfn, s3) = state_machine(&moto).await;
    execute_state_machines(&moto);
    let failing: Value = serde_json::from_str(include_str!("fixtures/reducer-output.json")).unwrap();
    let machine = create_machine(&sfn, "stackfleet-failing", &stand_in(&failing)).await;

    let arn = stdout(&start(&moto, &machine, &[]));
    let watched = run(&moto, &["watch", &arn, "--interval", "1", "--no-progress"]);
    let text = stdout(&watched);
    assert_eq!(watched.status.code(), Some(1), "{text}");
    assert!(text.contains("state      FAILED"), "{text}");
    assert!(
        text.contains("targets    3: 3 done (1 failed), 0 running, 0 pending"),
        "{text}"
    );
    assert!(
        text.contains("result     1 created, 0 updated, 0 unchanged, 1 failed, 1 skipped"),
        "{text}"
    );
    assert!(text.contains("failed     1 target  Throttled: "), "{text}");
    assert!(
        text.contains(&format!("re-run     stackfleet rerun {arn}")),
        "{text}"
    );

    let status: Value = serde_json::from_str(&stdout(&run(&moto, &["status", &arn, "--json"]))).unwrap();
    assert_eq!(status["status"], "FAILED");
    assert_eq!(status["summary"]["failed"], 1);

    // The report where Reduce said it wrote it, in each format.
    let name = arn.rsplit(':').next().unwrap();
    let written = Report::new(
        RunId::from_lossy(name),
        "org-baseline".parse().unwrap(),
        1_000,
        9_000,
        false,
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
    assert_eq!(Report::from_json(&stdout(&json)).unwrap(), written);
    let junit = stdout(&run(&moto, &["report", &arn, "--format", "junit"]));
    let parsed = roxmltree::Document::parse(&junit).unwrap();
    assert!(
        parsed
            .descendants()
            .any(|n| n.attribute("name") == Some("111111111111:us-east-1")),
        "{junit}"
    );
    assert!(stdout(&run(&moto, &["report", &arn])).contains("org-baseline"));

    // `rerun` of this execution would start a second execution, which moto 5.2.1's engine cannot
    // do (StartExecution answers 500: it deep-copies its state with the first execution's lock
    // inside). operator_mocks.rs starts the resume input at the SDK seam instead.

    let succeeding = json!({
        "run": "x",
        "summary": { "total": 3, "created": 2, "updated": 0, "unchanged": 0, "failed": 0, "skipped": 1 },
        "failures": [],
        "failureGroups": 0,
        "withinTolerance": true,
        "halt": null,
        "cause": "0 of 2 targets failed",
        "resumeInputKey": null,
        "reportKey": "x"
    });
    // A moto of its own: after one execution, this moto's engine answers any start with a 500.
    let moto = Moto::start();
    let (_, sfn, _) = state_machine(&moto).await;
    execute_state_machines(&moto);
    let machine = create_machine(&sfn, "stackfleet-succeeding", &stand_in(&succeeding)).await;
    let arn = stdout(&start(&moto, &machine, &[]));
    let watched = run(&moto, &["watch", &arn, "--interval", "1", "--no-progress"]);
    assert_eq!(watched.status.code(), Some(0), "{}", stdout(&watched));
    let refused = run(&moto, &["rerun", &arn]);
    let name = arn.rsplit(':').next().unwrap();
    assert_refused(
        &refused,
        &format!("nothing failed in {name} (SUCCEEDED): 2 created, 0 updated, 0 unchanged, 1 skipped; nothing to re-run"),
    );
    assert_eq!(executions(&sfn, &machine).await, 1, "nothing started");
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
                "--external-id",
                "pipeline-1",
            ],
            "--external-id needs --role-name",
        ),
    ];
    for (args, message) in cases {
        assert_refused(&run(args), message);
    }
}
