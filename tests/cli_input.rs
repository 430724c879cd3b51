//! The CLI refuses bad input with exit code 2 and a message naming the problem, before any AWS
//! call: the endpoint these runs are given is a closed port, so reaching it would fail
//! differently (exit 1, as the last test shows).

mod support;

use std::process::Output;

const TEMPLATE: &str = "examples/federation/template.yaml";
const CLOSED_PORT: &str = "http://127.0.0.1:9";

fn run(args: &[&str]) -> Output {
    support::stackfleet_at(CLOSED_PORT)
        .args(args)
        .output()
        .expect("run stackfleet")
}

/// `deploy` of the example, plus `extra`.
fn deploy(extra: &[&str]) -> Vec<String> {
    let base = ["deploy", "--stack-name", "s", "--template", TEMPLATE];
    base.iter().chain(extra).map(|a| (*a).to_owned()).collect()
}

fn refused(args: &[String], expected: &str) {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = run(&args);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
    assert!(
        stderr.contains(expected),
        "{args:?}: expected {expected:?} in {stderr}"
    );
}

fn words(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| (*a).to_owned()).collect()
}

#[test]
fn malformed_account_ids_are_refused() {
    refused(
        &deploy(&["--accounts", "12345678901"]),
        "must be exactly 12 digits",
    );
    refused(
        &words(&[
            "plan",
            "--stack-name",
            "s",
            "--template",
            TEMPLATE,
            "--exclude",
            "abc",
        ]),
        "must be exactly 12 digits",
    );
}

#[test]
fn a_missing_template_file_is_refused() {
    refused(
        &words(&["deploy", "--stack-name", "s", "--template", "nowhere.yaml"]),
        "cannot read the template nowhere.yaml",
    );
}

#[test]
fn a_template_that_is_not_a_template_is_refused() {
    refused(
        &words(&["deploy", "--stack-name", "s", "--template", "Cargo.toml"]),
        "Cargo.toml: the template is neither JSON nor YAML",
    );
}

#[test]
fn an_unreadable_rerun_report_is_refused() {
    refused(
        &deploy(&["--rerun-failed", "no-such-report.json"]),
        "cannot read the report no-such-report.json",
    );
    refused(
        &deploy(&["--rerun-failed", "Cargo.toml"]),
        "is not a stackfleet JSON report",
    );
}

#[test]
fn bad_flags_are_refused() {
    refused(
        &words(&["deploy", "--stack-name", "9s", "--template", TEMPLATE]),
        "invalid stack name",
    );
    refused(&deploy(&["--failure-tolerance", "120%"]), "failure tolerance");
    refused(&deploy(&["--regions", "mars-1"]), "invalid region");
    refused(&deploy(&["--parameter", "novalue"]), "is not KEY=VALUE");
    refused(
        &deploy(&["--capabilities", "CAPABILITY_ALL"]),
        "unknown capability",
    );
    refused(&words(&["deploy", "--stack-name", "s"]), "--template");
    refused(
        &deploy(&["--rerun-failed", "r.json", "--accounts", "123456789012"]),
        "cannot be used with",
    );
}

#[test]
fn an_unreachable_endpoint_is_not_called_bad_input() {
    let output = support::stackfleet_at(CLOSED_PORT)
        .args(deploy(&["--parameter", "SamlMetadataDocument=x"]))
        .env("AWS_MAX_ATTEMPTS", "1")
        .output()
        .expect("run stackfleet");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("could not validate the template"), "{stderr}");
}

/// A rollout document in a temporary directory, next to a copy of the example template.
fn document(text: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(TEMPLATE, dir.path().join("template.yaml")).unwrap();
    let path = dir.path().join("rollout.yaml");
    std::fs::write(&path, text).unwrap();
    (dir, path.to_str().unwrap().to_owned())
}

#[test]
fn a_misspelt_field_in_the_rollout_document_is_refused_by_name() {
    let (_dir, spec) = document("stackName: s\ntemplate: {file: template.yaml}\nrecover: stop\n");
    refused(&words(&["deploy", "--spec", &spec]), "unknown field `recover`");
    let (_dir, spec) =
        document("stackName: s\ntemplate: {file: template.yaml}\ntargets: {regoins: [us-east-1]}\n");
    refused(&words(&["plan", "--spec", &spec]), "unknown field `regoins`");
    let (_dir, spec) = document("stackName: s\ntemplate: {file: gone.yaml}\n");
    refused(&words(&["deploy", "--spec", &spec]), "cannot read the template");
    refused(
        &words(&["deploy", "--spec", "no-such-rollout.yaml"]),
        "cannot read the rollout document",
    );
    let (_dir, spec) = document("stackName: s\ntemplate: {file: template.yaml}\nfailureTolerance: 120%\n");
    refused(
        &words(&[
            "start",
            "--state-machine-arn",
            "arn:aws:states:us-east-1:111111111111:stateMachine:m",
            "--spec",
            &spec,
        ]),
        "120%",
    );
}

#[test]
fn the_schema_command_prints_the_committed_schema() {
    let output = run(&["schema"]);
    assert_eq!(output.status.code(), Some(0));
    let committed = std::fs::read_to_string("schema/rollout.schema.json").unwrap();
    assert_eq!(String::from_utf8_lossy(&output.stdout), committed);
}

#[test]
fn a_local_resume_takes_a_report_of_the_same_stack_not_a_resume_field() {
    let (dir, spec) = document("stackName: s\ntemplate: {file: template.yaml}\nresume: run-7\n");
    refused(&words(&["deploy", "--spec", &spec]), "pass --resume REPORT.json");
    refused(&words(&["plan", "--spec", &spec]), "pass --resume REPORT.json");

    let report = dir.path().join("report.json");
    std::fs::write(
        &report,
        r#"{"run": "run-7", "stackName": "other", "startedAtMs": 0, "finishedAtMs": 1,
            "withinTolerance": false, "summary": {"total": 0, "created": 0, "updated": 0,
            "unchanged": 0, "failed": 0, "skipped": 0}, "failureGroups": [], "outcomes": []}"#,
    )
    .unwrap();
    let report = report.to_str().unwrap();
    refused(
        &deploy(&["--resume", report]),
        "is a report of stack other, and this rollout is of stack s",
    );
    refused(&deploy(&["--rerun-failed", report]), "is a report of stack other");
    refused(
        &deploy(&["--resume", report, "--run-id", "r2"]),
        "cannot be used with",
    );
    refused(
        &deploy(&["--resume", report, "--rerun-failed", report]),
        "cannot be used with",
    );
    refused(
        &deploy(&["--resume", report, "--ou", "r-ab12"]),
        "cannot be used with",
    );
}
