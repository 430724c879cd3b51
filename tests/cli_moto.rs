//! The demo's story in short, through the real binary against moto: plan, deploy with grouped
//! failures, re-run exactly the failures, deploy again; reports read back as JSON and JUnit XML.

mod support;

use std::path::Path;

use serde_json::Value;
use support::{demo_org, run, stackfleet, Moto};

/// The federation rollout document (16 at a time, 10% tolerated), polled every second.
const STACK: [&str; 4] = [
    "--spec",
    "examples/federation/rollout.yaml",
    "--poll-interval",
    "1",
];

fn deploy(moto: &Moto, extra: &[&str], report: &Path) -> (Option<i32>, Value) {
    let report_arg = report.to_str().unwrap();
    let args: Vec<&str> = ["deploy"]
        .iter()
        .chain(STACK.iter())
        .chain(extra.iter())
        .chain(["--no-progress", "--report-json", report_arg].iter())
        .copied()
        .collect();
    let output = run(moto, &args);
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(report).expect("the JSON report")).unwrap();
    (output.status.code(), report)
}

fn count(report: &Value, kind: &str) -> u64 {
    report["summary"][kind].as_u64().unwrap()
}

fn targets_of(report: &Value, kind: &str) -> Vec<String> {
    let mut targets: Vec<String> = report["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["kind"] == kind)
        .map(|o| o["target"].as_str().unwrap().to_owned())
        .collect();
    targets.sort();
    targets
}

fn seeded() -> (Moto, tempfile::TempDir, Value) {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("org.json");
    demo_org(&moto, &["seed", state.to_str().unwrap(), "--size", "small"]);
    let org: Value = serde_json::from_str(&std::fs::read_to_string(state).unwrap()).unwrap();
    (moto, dir, org)
}

#[test]
fn the_demo_in_short_plan_deploy_rerun_the_failures_then_nothing_to_do() {
    let (moto, dir, org) = seeded();
    let mut conflicts: Vec<String> = org["conflicts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| format!("{}:us-east-1", a.as_str().unwrap()))
        .collect();
    conflicts.sort();

    // The plan's pre-flight finds the hand-made roles before anything is deployed (moto gives
    // no validation events: the role names are looked up), and exits 1 for them.
    let plan = run(&moto, &[&["plan"], &STACK[..]].concat());
    let stdout = String::from_utf8_lossy(&plan.stdout);
    assert_eq!(plan.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("4 targets: stack does not exist yet: would create AWS::IAM::Role FederatedAdmin"),
        "{stdout}"
    );
    let blocked = stdout
        .lines()
        .skip_while(|line| !line.starts_with("blocked before any change"))
        .collect::<Vec<_>>();
    assert_eq!(
        blocked[1].trim(),
        "AWS::IAM::Role FederatedReadOnly: already exists in the account, outside this stack \
         (RoleName FederatedReadOnly): 3 targets",
        "{stdout}"
    );
    assert_eq!(blocked[2].trim(), conflicts.join(", "), "{stdout}");

    // The plan left nothing behind: every stack is then created, none recovered from REVIEW_IN_PROGRESS.
    let first = dir.path().join("first.json");
    let junit = dir.path().join("first.xml");
    let (code, report) = deploy(
        &moto,
        &[
            "--failure-tolerance",
            "50%",
            "--report-junit",
            junit.to_str().unwrap(),
        ],
        &first,
    );
    assert_eq!(code, Some(0), "3 of 7 failed, within 50%");
    assert_eq!(
        (
            count(&report, "created"),
            count(&report, "failed"),
            count(&report, "skipped")
        ),
        (4, 3, 3)
    );
    assert!(report["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .all(|o| o.get("recoveredFrom").is_none()));
    let groups = report["failureGroups"].as_array().unwrap();
    assert_eq!(groups.len(), 1, "one root cause: {groups:?}");
    assert_eq!(groups[0]["error"], "StackFailed");
    assert!(groups[0]["cause"]
        .as_str()
        .unwrap()
        .contains("Role with name FederatedReadOnly already exists"));
    assert_eq!(targets_of(&report, "Failed"), conflicts);

    let xml = std::fs::read_to_string(&junit).unwrap();
    let junit = roxmltree::Document::parse(&xml).expect("JUnit output is XML");
    let cases: Vec<_> = junit
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    assert_eq!(cases.len(), 10, "one test case per target");
    let failed: Vec<String> = cases
        .iter()
        .filter(|c| c.children().any(|n| n.has_tag_name("failure")))
        .map(|c| c.attribute("name").unwrap().to_owned())
        .collect();
    assert_eq!(failed, conflicts, "failed cases are named ACCOUNT:REGION");
    assert_eq!(
        cases
            .iter()
            .filter(|c| c.children().any(|n| n.has_tag_name("skipped")))
            .count(),
        3
    );

    demo_org(
        &moto,
        &[
            "fix",
            dir.path().join("org.json").to_str().unwrap(),
            "org-federation",
        ],
    );
    let rerun = dir.path().join("rerun.json");
    let (code, report) = deploy(&moto, &["--rerun-failed", first.to_str().unwrap()], &rerun);
    assert_eq!(code, Some(0));
    assert_eq!(
        targets_of(&report, "Created"),
        conflicts,
        "exactly the failed targets, and only them"
    );
    assert_eq!(count(&report, "total"), 3);

    let again = dir.path().join("again.json");
    let (code, report) = deploy(&moto, &[], &again);
    assert_eq!(code, Some(0));
    assert_eq!(
        (
            count(&report, "unchanged"),
            count(&report, "skipped"),
            count(&report, "total")
        ),
        (7, 3, 10)
    );

    let nothing = dir.path().join("nothing.json");
    let output = run(
        &moto,
        &[
            &["deploy"],
            &STACK[..],
            &[
                "--rerun-failed",
                again.to_str().unwrap(),
                "--report-json",
                nothing.to_str().unwrap(),
            ],
        ]
        .concat(),
    );
    assert_eq!(output.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&output.stdout).contains("nothing failed in that report"));
}

#[test]
fn past_the_tolerance_no_new_target_starts_and_the_exit_code_is_1() {
    let (moto, dir, _org) = seeded();
    let report_path = dir.path().join("report.json");
    let (code, report) = deploy(
        &moto,
        &["--concurrency", "1", "--failure-tolerance", "0"],
        &report_path,
    );
    assert_eq!(code, Some(1));
    assert_eq!(count(&report, "failed"), 1, "the first failure stops new starts");
    assert_eq!(report["withinTolerance"], false);
    let outcomes = report["outcomes"].as_array().unwrap();
    let failed_at = outcomes.iter().position(|o| o["kind"] == "Failed").unwrap();
    for later in &outcomes[failed_at + 1..] {
        assert_eq!(later["kind"], "Skipped", "{later}");
        assert!(
            later["skippedReason"]
                .as_str()
                .unwrap()
                .starts_with("not started"),
            "{later}"
        );
    }
    let created = outcomes.iter().filter(|o| o["kind"] == "Created").count();
    assert_eq!(
        created + 1 + (outcomes.len() - failed_at - 1),
        7,
        "every active account is accounted for"
    );

    // Re-run as advised, once fixed: the failure and every target the stop left unstarted.
    let mut wanted: Vec<String> = outcomes[failed_at..]
        .iter()
        .filter(|o| o["kind"] == "Failed" || o["notStarted"] == true)
        .map(|o| o["target"].as_str().unwrap().to_owned())
        .collect();
    wanted.sort();
    assert!(
        wanted.len() > 1,
        "the other hand-made roles are in accounts not started"
    );
    demo_org(
        &moto,
        &[
            "fix",
            dir.path().join("org.json").to_str().unwrap(),
            "org-federation",
        ],
    );
    // A report is a file anyone may edit: a failure written in for an account outside the
    // Organization is held to it like any target, and Skipped.
    let mut edited = report.clone();
    let mut planted = outcomes[failed_at].clone();
    planted["target"] = "555555555555:us-east-1".into();
    edited["outcomes"].as_array_mut().unwrap().push(planted.clone());
    // And one in a region the document does not deploy to, of a member account.
    let member = outcomes[failed_at]["target"]
        .as_str()
        .unwrap()
        .replace("us-east-1", "eu-west-1");
    planted["target"] = member.clone().into();
    edited["outcomes"].as_array_mut().unwrap().push(planted);
    std::fs::write(&report_path, edited.to_string()).unwrap();
    let rerun_path = dir.path().join("rerun.json");
    let (code, rerun) = deploy(
        &moto,
        &["--rerun-failed", report_path.to_str().unwrap()],
        &rerun_path,
    );
    assert_eq!(code, Some(0));
    assert_eq!(
        targets_of(&rerun, "Created"),
        wanted,
        "not-started targets are re-run too"
    );
    assert_eq!(count(&rerun, "total") as usize, wanted.len() + 2);
    let stranger = rerun["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["target"] == "555555555555:us-east-1")
        .expect("the planted target is reported");
    assert_eq!(stranger["kind"], "Skipped");
    assert_eq!(
        stranger["skippedReason"],
        "the account is not a member of this Organization"
    );
    let elsewhere = rerun["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["target"] == member.as_str())
        .expect("the planted region is reported");
    assert_eq!(elsewhere["kind"], "Skipped");
    assert_eq!(
        elsewhere["skippedReason"],
        "its region is not among the document's regions"
    );
}

#[test]
fn targeting_by_ou_tag_and_exclusion_against_moto() {
    let (moto, dir, org) = seeded();
    let prod_ou = org["ous"]["Prod"].as_str().unwrap();
    let prod: Vec<&str> = org["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["ou"] == "Prod")
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    let workloads = org["ous"]["Workloads"].as_str().unwrap();

    let report_path = dir.path().join("ou.json");
    let exclude = prod[3];
    let (_, report) = deploy(
        &moto,
        &[
            "--ou",
            workloads,
            "--tag-filter",
            "env=prod",
            "--exclude",
            exclude,
            "--failure-tolerance",
            "100%",
        ],
        &report_path,
    );
    let mut touched: Vec<String> = report["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["target"].as_str().unwrap().to_owned())
        .collect();
    touched.sort();
    let mut expected: Vec<String> = prod[..3].iter().map(|a| format!("{a}:us-east-1")).collect();
    expected.sort();
    assert_eq!(
        touched, expected,
        "Prod under Workloads, tagged env=prod, less the excluded one"
    );
    assert!(!prod_ou.is_empty());

    let output = run(
        &moto,
        &[&["plan"], &STACK[..], &["--ou", "ou-zzzz-zzzzzzzz"]].concat(),
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("OU ou-zzzz-zzzzzzzz does not exist"));
}

#[test]
fn ctrl_c_starts_nothing_new_and_still_writes_the_reports() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;

    let (moto, dir, _org) = seeded();
    let report = dir.path().join("interrupted.json");
    let markdown = dir.path().join("interrupted.md");
    let mut child = stackfleet(&moto)
        .args(["deploy"])
        .args(&STACK[..2])
        // Each target then sits in its first 5 s poll interval: the interrupt lands mid-flight.
        .args([
            "--poll-interval",
            "5",
            "--concurrency",
            "2",
            "--failure-tolerance",
            "100%",
            "--no-progress",
        ])
        .args([
            "--report-json",
            report.to_str().unwrap(),
            "--report-md",
            markdown.to_str().unwrap(),
        ])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("start stackfleet");
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    let mut line = String::new();
    while stderr.read_line(&mut line).expect("read stderr") > 0 && !line.contains("stackfleet: run") {
        seen.push_str(&line);
        line.clear();
    }
    assert!(line.contains("7 targets"), "no run announced; stderr: {seen}");
    let sent = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let status = child.wait().unwrap();

    assert_eq!(status.code(), Some(130));
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(&report).expect("the JSON report was written"))
            .unwrap();
    assert!(markdown.exists(), "the Markdown report was written");
    let interrupted = report["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["skippedReason"] == "not started: the rollout was interrupted")
        .count();
    assert!(
        count(&report, "total") == 10 && interrupted >= 5,
        "at most the two in flight ran: {report}"
    );
}
