//! The CLI refuses bad input with exit code 2 and a message naming the problem, before any AWS
//! call: the endpoint these runs are given has nothing listening, so reaching it would fail
//! differently.

use assert_cmd::Command;

const TEMPLATE: &str = "examples/federation/template.yaml";

fn stackfleet() -> Command {
    let mut command = Command::cargo_bin("stackfleet").expect("the stackfleet binary");
    command
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE")
        // A closed port (through the SDK's own AWS_ENDPOINT_URL): any AWS call would fail as a
        // connection error (exit 1), not exit 2.
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9");
    command
}

fn refused(args: &[&str], expected: &str) {
    let output = stackfleet().args(args).output().expect("run stackfleet");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
    assert!(
        stderr.contains(expected),
        "{args:?}: expected {expected:?} in {stderr}"
    );
}

#[test]
fn malformed_account_ids_are_refused() {
    refused(
        &[
            "deploy",
            "--stack-name",
            "s",
            "--template",
            TEMPLATE,
            "--accounts",
            "12345678901",
        ],
        "must be exactly 12 digits",
    );
    refused(
        &[
            "plan",
            "--stack-name",
            "s",
            "--template",
            TEMPLATE,
            "--exclude",
            "abc",
        ],
        "must be exactly 12 digits",
    );
}

#[test]
fn a_missing_template_file_is_refused() {
    refused(
        &["deploy", "--stack-name", "s", "--template", "nowhere.yaml"],
        "cannot read the template nowhere.yaml",
    );
}

#[test]
fn a_template_that_is_not_a_template_is_refused() {
    refused(
        &["deploy", "--stack-name", "s", "--template", "Cargo.toml"],
        "Cargo.toml: the template is neither JSON nor YAML",
    );
}

#[test]
fn an_unreadable_rerun_report_is_refused() {
    refused(
        &[
            "deploy",
            "--stack-name",
            "s",
            "--template",
            TEMPLATE,
            "--rerun-failed",
            "no-such-report.json",
        ],
        "cannot read the report no-such-report.json",
    );
    refused(
        &[
            "deploy",
            "--stack-name",
            "s",
            "--template",
            TEMPLATE,
            "--rerun-failed",
            "Cargo.toml",
        ],
        "is not a stackfleet JSON report",
    );
}

#[test]
fn bad_flags_are_refused() {
    refused(
        &["deploy", "--stack-name", "9s", "--template", TEMPLATE],
        "invalid stack name",
    );
    refused(
        &[
            "deploy",
            "--stack-name",
            "s",
            "--template",
            TEMPLATE,
            "--failure-tolerance",
            "120%",
        ],
        "failure tolerance",
    );
    refused(
        &[
            "deploy",
            "--stack-name",
            "s",
            "--template",
            TEMPLATE,
            "--regions",
            "mars-1",
        ],
        "invalid region",
    );
    refused(
        &[
            "deploy",
            "--stack-name",
            "s",
            "--template",
            TEMPLATE,
            "--parameter",
            "novalue",
        ],
        "is not KEY=VALUE",
    );
    refused(
        &[
            "deploy",
            "--stack-name",
            "s",
            "--template",
            TEMPLATE,
            "--capabilities",
            "CAPABILITY_ALL",
        ],
        "unknown capability",
    );
    refused(&["deploy", "--stack-name", "s"], "--template");
    refused(
        &[
            "deploy",
            "--stack-name",
            "s",
            "--template",
            TEMPLATE,
            "--rerun-failed",
            "r.json",
            "--accounts",
            "123456789012",
        ],
        "cannot be used with",
    );
}

#[test]
fn an_unreachable_endpoint_is_not_called_bad_input() {
    let output = stackfleet()
        .args([
            "deploy",
            "--stack-name",
            "s",
            "--template",
            TEMPLATE,
            "--parameter",
            "SamlMetadataDocument=x",
        ])
        .env("AWS_MAX_ATTEMPTS", "1")
        .output()
        .expect("run stackfleet");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("could not validate the template"), "{stderr}");
}
