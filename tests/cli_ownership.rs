//! Stack ownership through the real binary against moto: a stack of the rollout's name that
//! somebody made by hand is refused (plan says so, deploy leaves it untouched), until `--adopt`
//! takes it over and tags it; from then on it is stackfleet's.

mod support;

use std::path::Path;
use std::process::Output;

use serde_json::Value;
use stackfleet_aws::StsAssumer;
use stackfleet_core::ports::StackOperations;
use stackfleet_core::spec::{TemplateBody, TemplateSource};
use stackfleet_core::stack::{StackDescription, StackRequest, StackStatus};
use stackfleet_core::Target;
use support::{demo_org, run, session_in, Moto, MARKER_TEMPLATE};

const STACK: &str = "org-federation";

/// `plan` or `deploy` of the stack to one account, with `extra` flags.
fn rollout(moto: &Moto, command: &str, template: &Path, account: &str, extra: &[&str]) -> Output {
    let base = [
        command,
        "--stack-name",
        STACK,
        "--template",
        template.to_str().unwrap(),
        "--parameter",
        "Env=prod",
        "--accounts",
        account,
        "--regions",
        "us-east-1",
        "--poll-interval",
        "1",
    ];
    run(moto, &[&base[..], extra].concat())
}

fn deploy(
    moto: &Moto,
    template: &Path,
    account: &str,
    extra: &[&str],
    report: &Path,
) -> (Option<i32>, Value) {
    let report_arg = report.to_str().unwrap();
    let flags = [&["--no-progress", "--report-json", report_arg], extra].concat();
    let output = rollout(moto, "deploy", template, account, &flags);
    let report = std::fs::read_to_string(report).expect("the JSON report");
    (output.status.code(), serde_json::from_str(&report).unwrap())
}

/// The stack as DescribeStacks shows it inside the member account.
async fn read_back(assumer: &StsAssumer, target: &Target) -> StackDescription {
    session_in(assumer, target)
        .await
        .describe_stack(STACK)
        .await
        .expect("describe")
        .expect("the stack exists")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hand_made_stack_is_refused_until_adopt_takes_it_over() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("org.json");
    demo_org(&moto, &["seed", state.to_str().unwrap(), "--size", "plain:1"]);
    let org: Value = serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    let account = org["accounts"][0]["id"].as_str().unwrap().to_owned();
    let target: Target = format!("{account}:us-east-1").parse().unwrap();
    let template = dir.path().join("federation.yaml");
    std::fs::write(&template, MARKER_TEMPLATE).unwrap();

    // Another team made a stack of the same name with their own tool, long ago.
    let assumer = StsAssumer::new(&moto.sdk_config().await);
    let by_hand = session_in(&assumer, &target).await;
    by_hand
        .create_stack(&StackRequest {
            stack_name: STACK.into(),
            template: TemplateSource::Body(TemplateBody::parse(MARKER_TEMPLATE.into()).unwrap()),
            parameters: vec![("Env".into(), "theirs".into())],
            capabilities: Vec::new(),
            tags: vec![("owner".into(), "network-team".into())],
            token: "by-hand-1".into(),
            termination_protection: false,
        })
        .await
        .expect("the hand-made stack");
    let theirs = read_back(&assumer, &target).await;
    assert!(!theirs.managed, "{theirs:?}");

    let plan = rollout(&moto, "plan", &template, &account, &[]);
    let stdout = String::from_utf8_lossy(&plan.stdout);
    assert_eq!(plan.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains(
            "stack exists (CREATE_COMPLETE) but is not managed by stackfleet (no \
             stackfleet:managed-by tag): the deploy would refuse it without --adopt"
        ),
        "{stdout}"
    );

    let (code, report) = deploy(&moto, &template, &account, &[], &dir.path().join("refused.json"));
    assert_eq!(code, Some(1), "a refused target is a failure: {report}");
    let outcome = &report["outcomes"][0];
    assert_eq!(outcome["kind"], "Failed", "{outcome}");
    assert_eq!(outcome["failure"]["error"], "NeedsAttention", "{outcome}");
    let reason = outcome["failure"]["rootCause"]["reason"].as_str().unwrap();
    assert_eq!(
        reason,
        "stack org-federation exists but was not created by stackfleet (no stackfleet:managed-by \
         tag): pass --adopt (document: adopt: true) to take it over"
    );
    let untouched = read_back(&assumer, &target).await;
    assert_eq!(
        (untouched.status, untouched.managed),
        (StackStatus::CreateComplete, false),
        "the hand-made stack was not updated"
    );

    let plan = rollout(&moto, "plan", &template, &account, &["--adopt"]);
    let stdout = String::from_utf8_lossy(&plan.stdout);
    assert!(
        stdout.contains("not managed by stackfleet: the deploy would adopt it (--adopt)"),
        "{stdout}"
    );

    let (code, report) = deploy(
        &moto,
        &template,
        &account,
        &["--adopt"],
        &dir.path().join("adopted.json"),
    );
    assert_eq!(code, Some(0), "{report}");
    assert_eq!(report["outcomes"][0]["kind"], "Updated", "{report}");
    // moto returns the stack's Tags in DescribeStacks: the update put stackfleet's on.
    let adopted = read_back(&assumer, &target).await;
    assert_eq!(
        (adopted.status, adopted.managed),
        (StackStatus::UpdateComplete, true)
    );

    let (code, report) = deploy(&moto, &template, &account, &[], &dir.path().join("ours.json"));
    assert_eq!(code, Some(0), "stackfleet's own now, without --adopt: {report}");
    assert_eq!(report["outcomes"][0]["kind"], "Unchanged", "{report}");
}
