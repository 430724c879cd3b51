//! Secrets through the real binary against moto: parameters given as references to an SSM
//! SecureString and a Secrets Manager secret reach the stacks resolved, and no canary value
//! (those, or a NoEcho value given in plaintext) appears in anything the run writes or prints,
//! with every log level on.

mod support;

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;
use support::{demo_org, demo_org_output, stackfleet, Moto};

const SSM_CANARY: &str = "canary-ssm-4b1f9e27";
const SECRET_CANARY: &str = "canary-sm-c03d5a81";
const PLAIN_CANARY: &str = "canary-plain-77e2d0c4";
const FLAG_CANARY: &str = "canary-flag-19a6f3b5";
const CANARIES: [&str; 4] = [SSM_CANARY, SECRET_CANARY, PLAIN_CANARY, FLAG_CANARY];

/// Three NoEcho parameters and a role whose fixed name makes a second stack of the same
/// template fail in every account (the role is taken).
const TEMPLATE: &str = "AWSTemplateFormatVersion: '2010-09-09'
Parameters:
  DbPassword:
    Type: String
    NoEcho: true
  ApiToken:
    Type: String
    NoEcho: true
  LegacyKey:
    Type: String
    NoEcho: true
  Env:
    Type: String
Resources:
  Canary:
    Type: AWS::IAM::Role
    Properties:
      RoleName: SecretsCanary
      Description: !Join ['-', [!Ref Env, !Ref DbPassword, !Ref ApiToken, !Ref LegacyKey]]
      AssumeRolePolicyDocument:
        Version: '2012-10-17'
        Statement: []
";

struct Setup {
    moto: Moto,
    _dir: tempfile::TempDir,
    state: PathBuf,
    spec: PathBuf,
    /// The run's working directory: everything it writes lands here.
    out: PathBuf,
}

fn setup() -> Setup {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("org.json");
    demo_org(&moto, &["seed", state.to_str().unwrap(), "--size", "plain:2"]);
    demo_org(&moto, &["secret", "ssm", "/stackfleet/db-password", SSM_CANARY]);
    let api = format!(r#"{{"token": "{SECRET_CANARY}", "user": "deploy"}}"#);
    demo_org(&moto, &["secret", "secretsmanager", "stackfleet/api", &api]);

    let inputs = dir.path().join("in");
    std::fs::create_dir(&inputs).unwrap();
    std::fs::write(inputs.join("template.yaml"), TEMPLATE).unwrap();
    let spec = inputs.join("rollout.yaml");
    std::fs::write(
        &spec,
        format!(
            "stackName: secrets-canary\ntemplate: {{file: template.yaml}}\ncapabilities: [CAPABILITY_NAMED_IAM]\n\
             parameters:\n  DbPassword: '{{{{resolve:ssm-secure:/stackfleet/db-password}}}}'\n  \
             ApiToken: '{{{{resolve:secretsmanager:stackfleet/api:SecretString:token}}}}'\n  \
             LegacyKey: {PLAIN_CANARY}\n  Env: prod\n\
             targets: {{regions: [us-east-1]}}\npollIntervalSeconds: 1\n"
        ),
    )
    .unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    Setup {
        moto,
        _dir: dir,
        state,
        spec,
        out,
    }
}

fn run(setup: &Setup, args: &[&str]) -> Output {
    stackfleet(&setup.moto)
        .current_dir(&setup.out)
        .env("RUST_LOG", "trace")
        .args(args)
        .output()
        .expect("run stackfleet")
}

/// What the run said to its user: stdout, and stackfleet's own lines of stderr (not the logs).
fn said(output: &Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr);
    let own: Vec<&str> = stderr.lines().filter(|l| l.starts_with("stackfleet")).collect();
    format!("{}\n{}", String::from_utf8_lossy(&output.stdout), own.join("\n"))
}

/// Every file under `dir`, by path, with its contents.
fn files(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(files(&path));
        } else {
            let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
            found.push((path, text));
        }
    }
    found
}

/// No canary in what the run printed or in any file it wrote.
fn assert_no_canary(setup: &Setup, output: &Output) {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("TRACE") || stderr.contains("DEBUG"),
        "logs were on: {stderr:.2000}"
    );
    for canary in CANARIES {
        assert!(!stdout.contains(canary), "{canary} on stdout:\n{stdout}");
        if let Some(at) = stderr.find(canary) {
            let from = stderr[..at].rfind('\n').unwrap_or(0);
            panic!(
                "{canary} on stderr: {}",
                &stderr[from..(at + 200).min(stderr.len())]
            );
        }
        for (path, text) in files(&setup.out) {
            assert!(!text.contains(canary), "{canary} in {}", path.display());
        }
    }
}

#[test]
fn secrets_reach_the_stacks_and_nothing_the_run_writes_or_prints() {
    let setup = setup();
    let spec = setup.spec.to_str().unwrap();
    let outputs = [
        "--report-json",
        "report.json",
        "--report-md",
        "report.md",
        "--report-junit",
        "report.xml",
    ];

    let deployed = run(
        &setup,
        &[&["deploy", "--spec", spec, "--no-progress"], &outputs[..]].concat(),
    );
    assert_eq!(deployed.status.code(), Some(0), "{}", said(&deployed));
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(setup.out.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["summary"]["created"], 2, "{report}");
    assert_no_canary(&setup, &deployed);

    // moto's DescribeStacks shows even NoEcho values (CloudFormation shows ****): the stacks got
    // the resolved values, not the references.
    let stacks: Value = serde_json::from_str(&demo_org_output(
        &setup.moto,
        &["parameters", setup.state.to_str().unwrap(), "secrets-canary"],
    ))
    .unwrap();
    let stacks = stacks.as_object().unwrap();
    assert_eq!(stacks.len(), 2, "{stacks:?}");
    for parameters in stacks.values() {
        assert_eq!(parameters["DbPassword"], SSM_CANARY);
        assert_eq!(parameters["ApiToken"], SECRET_CANARY);
        assert_eq!(parameters["LegacyKey"], PLAIN_CANARY);
    }

    // A second stack of the same template fails in every account (its role name is taken): the
    // run halts, keeps its report under .stackfleet/ and prints a resume command, in which the
    // NoEcho value given as a flag is masked.
    let flag = format!("LegacyKey={FLAG_CANARY}");
    let halted = run(
        &setup,
        &[
            "deploy",
            "--spec",
            spec,
            "--stack-name",
            "secrets-canary-again",
            "--parameter",
            &flag,
            "--concurrency",
            "1",
            "--no-progress",
        ],
    );
    let stdout = String::from_utf8_lossy(&halted.stdout);
    assert_eq!(halted.status.code(), Some(1), "{}", said(&halted));
    assert!(stdout.contains("--parameter 'LegacyKey=****'"), "{stdout}");
    assert!(
        stdout.contains("NoEcho parameter LegacyKey shown as ****"),
        "{stdout}"
    );
    let kept = files(&setup.out.join(".stackfleet"));
    assert_eq!(kept.len(), 1, "the halted run's report: {kept:?}");
    assert_no_canary(&setup, &halted);
}

#[test]
fn a_reference_to_nothing_stops_the_run_before_any_target() {
    let setup = setup();
    let spec = setup.spec.to_str().unwrap();
    let output = run(
        &setup,
        &[
            "deploy",
            "--spec",
            spec,
            "--parameter",
            "DbPassword={{resolve:ssm-secure:/stackfleet/missing}}",
            "--no-progress",
        ],
    );
    let said = said(&output);
    assert_eq!(output.status.code(), Some(2), "{said}");
    assert!(
        said.contains(
            "parameters.DbPassword: {{resolve:ssm-secure:/stackfleet/missing}} names no SSM parameter"
        ),
        "{said}"
    );
    let stacks = demo_org_output(
        &setup.moto,
        &["stacks", setup.state.to_str().unwrap(), "secrets-canary"],
    );
    assert_eq!(stacks.trim(), "{}", "no target was touched");
}

#[test]
fn start_refuses_a_no_echo_value_in_plaintext_before_sending() {
    let dir = tempfile::tempdir().unwrap();
    let template = dir.path().join("template.yaml");
    std::fs::write(&template, TEMPLATE).unwrap();
    // Nothing listens there: a refusal that had sent anything would fail otherwise (exit 1).
    let output = support::stackfleet_at("http://127.0.0.1:9")
        .args([
            "start",
            "--state-machine-arn",
            "arn:aws:states:us-east-1:123456789012:stateMachine:stackfleet",
            "--stack-name",
            "secrets-canary",
            "--template",
            template.to_str().unwrap(),
            "--parameter",
            &format!("LegacyKey={PLAIN_CANARY}"),
            "--parameter",
            "DbPassword={{resolve:ssm-secure:/stackfleet/db-password}}",
        ])
        .output()
        .expect("run stackfleet");
    let said = said(&output);
    assert_eq!(output.status.code(), Some(2), "{said}");
    assert!(
        said.contains("parameter LegacyKey is NoEcho in the template and given in plaintext"),
        "{said}"
    );
    assert!(!said.contains(PLAIN_CANARY), "{said}");
}
