//! Shared by the end-to-end tests: a moto server of their own on a free loopback port.
#![allow(dead_code)] // each test file uses a different part

use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_credential_types::Credentials;
use stackfleet_aws::AwsSettings;

/// moto's default account: what plain "testing" credentials act as.
pub const MANAGEMENT_ACCOUNT: &str = "123456789012";

/// A moto server that lives as long as the value.
#[derive(Debug)]
pub struct Moto {
    child: Child,
    pub endpoint: String,
}

fn python() -> PathBuf {
    let python = std::env::var_os("STACKFLEET_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python"));
    assert!(
        python.exists(),
        "no Python with moto at {}: run scripts/test (or scripts/python-env) once to set it up",
        python.display()
    );
    python
}

fn free_port() -> u16 {
    let listener =
        TcpListener::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0)).expect("bind a loopback port");
    listener.local_addr().expect("local address").port()
}

/// A one-resource template with one parameter (an SSM parameter named /stackfleet/marker).
pub const MARKER_TEMPLATE: &str = r#"
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Env:
    Type: String
Resources:
  Marker:
    Type: AWS::SSM::Parameter
    Properties:
      Name: /stackfleet/marker
      Type: String
      Value: !Ref Env
"#;

impl Moto {
    pub fn start() -> Self {
        let port = free_port();
        // moto with ValidateTemplate answering the template's parameters, as AWS does.
        let server = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/moto_server.py");
        let child = Command::new(python())
            .arg(server)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto");
        let moto = Self {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        // Readiness, not timing: poll until the port answers, within a generous bound.
        let deadline = Instant::now() + Duration::from_secs(60);
        let address = SocketAddrV4::new(Ipv4Addr::LOCALHOST, port);
        while TcpStream::connect_timeout(&address.into(), Duration::from_millis(200)).is_err() {
            assert!(
                Instant::now() < deadline,
                "moto did not listen on {address} within 60 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        moto
    }

    /// The management account's configuration, built the one way stackfleet builds it, with
    /// the static credentials moto expects instead of the machine's credential chain.
    pub async fn sdk_config(&self) -> SdkConfig {
        let settings = AwsSettings {
            region: Some("us-east-1".into()),
            endpoint_url: Some(self.endpoint.clone()),
            ..AwsSettings::default()
        };
        settings
            .sdk_config()
            .await
            .into_builder()
            .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
                "testing", "testing", None, None, "moto",
            )))
            .build()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The demo's Organization script, for the CLI tests.
pub fn demo_org(moto: &Moto, args: &[&str]) {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/demo_org.py");
    let status = Command::new(python())
        .arg(script)
        .arg(&moto.endpoint)
        .args(args)
        .stdout(Stdio::null())
        .status()
        .expect("run scripts/demo_org.py");
    assert!(status.success(), "scripts/demo_org.py {args:?} failed");
}

/// What the demo's Organization script prints (`stacks`, `get`), for the CLI tests.
pub fn demo_org_output(moto: &Moto, args: &[&str]) -> String {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/demo_org.py");
    let output = Command::new(python())
        .arg(script)
        .arg(&moto.endpoint)
        .args(args)
        .output()
        .expect("run scripts/demo_org.py");
    assert!(output.status.success(), "scripts/demo_org.py {args:?} failed");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The stackfleet binary, pointed at moto with the management account's credentials.
pub fn stackfleet(moto: &Moto) -> Command {
    stackfleet_at(&moto.endpoint)
}

/// The stackfleet binary with every AWS call sent to `endpoint` (through the SDK's own
/// `AWS_ENDPOINT_URL`), static test credentials, and no look-up of instance metadata.
pub fn stackfleet_at(endpoint: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_stackfleet"));
    command
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .env("AWS_ENDPOINT_URL", endpoint);
    command
}

/// A session in `target` through the default deploy role, as a person would open one to look at
/// (or change by hand) what a run did there.
pub async fn session_in(
    assumer: &stackfleet_aws::StsAssumer,
    target: &stackfleet_core::Target,
) -> stackfleet_aws::CfnStacks {
    use stackfleet_core::ports::{AssumeRequest, AssumeRole};
    let role = stackfleet_core::spec::DeployRole::default();
    let run: stackfleet_core::RunId = "by-hand".parse().unwrap();
    assumer
        .assume(AssumeRequest {
            target,
            role: &role,
            run: &run,
            session_duration_seconds: None,
            new_account: false,
        })
        .await
        .expect("assume into the member account")
}

/// `command` run with `args` to its end, its stderr echoed into the test's log (shown when it
/// fails).
pub fn run_with(mut command: Command, args: &[&str]) -> Output {
    let output = command.args(args).output().expect("run stackfleet");
    eprintln!("{}", String::from_utf8_lossy(&output.stderr));
    output
}

/// `stackfleet` against `moto`, run with `args`.
pub fn run(moto: &Moto, args: &[&str]) -> Output {
    run_with(stackfleet(moto), args)
}

/// A JSON file the run wrote (a report, a plan).
pub fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("the JSON file")).unwrap()
}

/// `target`'s outcome in a JSON report.
pub fn outcome_of<'r>(report: &'r serde_json::Value, target: &str) -> &'r serde_json::Value {
    report["outcomes"]
        .as_array()
        .expect("the report's outcomes")
        .iter()
        .find(|o| o["target"] == target)
        .unwrap_or_else(|| panic!("no outcome for {target}: {report}"))
}

/// `target`'s outcome kind in a JSON report (Created, Skipped ...).
pub fn kind_of(report: &serde_json::Value, target: &str) -> String {
    outcome_of(report, target)["kind"]
        .as_str()
        .expect("an outcome's kind")
        .to_owned()
}
