//! Crash-safe local runs, through the real binary against moto: a rollout stopped by SIGTERM (a
//! CI cancel), then resumed and killed by SIGKILL at the start and midway, then resumed to the
//! end. The JSON report reads whenever it is looked at, says it is in progress until the end,
//! and the finished rollout reports every target once, under one run, with one operation each.

mod support;

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant};

use serde_json::Value;
use stackfleet_aws::StsAssumer;
use stackfleet_core::ports::StackOperations;
use stackfleet_core::Target;
use support::{demo_org, session_in, stackfleet, Moto, MANAGEMENT_ACCOUNT, MARKER_TEMPLATE};

const STACK: &str = "crash-safe";
const REGIONS: [&str; 2] = ["us-east-1", "eu-west-1"];

/// A `stackfleet deploy` running, its output going to files.
struct Deploy {
    child: Child,
    stdout: PathBuf,
    stderr: PathBuf,
}

impl Deploy {
    /// Two at a time, each target a second (one poll): eight targets take about four seconds.
    fn start(moto: &Moto, dir: &Path, name: &str, extra: &[&str]) -> Self {
        let (stdout, stderr) = (dir.join(format!("{name}.out")), dir.join(format!("{name}.err")));
        let template = dir.join("template.yaml");
        std::fs::write(&template, MARKER_TEMPLATE).unwrap();
        let report = dir.join("report.json");
        let child = stackfleet(moto)
            .current_dir(dir)
            .args(["deploy", "--stack-name", STACK, "--parameter", "Env=prod"])
            .args(["--template", template.to_str().unwrap()])
            .args(["--poll-interval", "1", "--concurrency", "2", "--no-progress"])
            .args(["--report-json", report.to_str().unwrap()])
            .args(extra)
            .stdout(File::create(&stdout).unwrap())
            .stderr(File::create(&stderr).unwrap())
            .spawn()
            .expect("start stackfleet");
        Self {
            child,
            stdout,
            stderr,
        }
    }

    fn said(&self) -> String {
        let out = std::fs::read_to_string(&self.stdout).unwrap_or_default();
        let err = std::fs::read_to_string(&self.stderr).unwrap_or_default();
        format!("{err}{out}")
    }

    /// Waits until `ready` holds, looking every few milliseconds, for at most 60 s; the run
    /// must still be going then.
    fn wait_until(&mut self, what: &str, mut ready: impl FnMut(&Self) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !ready(self) {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("the run ended ({status}) before {what}:\n{}", self.said());
            }
            assert!(Instant::now() < deadline, "never {what}:\n{}", self.said());
            // The pace of the looking, not a wait for something to happen.
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn signal(&mut self, signal: &str) -> ExitStatus {
        let sent = std::process::Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        self.child.wait().unwrap()
    }
}

/// The report as it is on disk now, if written yet: it must read, whenever it is read.
fn on_disk(path: &Path) -> Option<Value> {
    let text = std::fs::read_to_string(path).ok()?;
    Some(serde_json::from_str(&text).unwrap_or_else(|e| panic!("a torn report ({e}): {text}")))
}

fn succeeded(report: &Value) -> usize {
    report["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| ["Created", "Updated", "Unchanged"].contains(&o["kind"].as_str().unwrap()))
        .count()
}

/// Each target of the report with its outcome kinds: every target must be there, once.
fn reported_once(report: &Value, targets: &[String]) -> BTreeMap<String, String> {
    let mut seen: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for outcome in report["outcomes"].as_array().unwrap() {
        let target = outcome["target"].as_str().unwrap().to_owned();
        seen.entry(target)
            .or_default()
            .push(outcome["kind"].as_str().unwrap().to_owned());
    }
    assert_eq!(
        seen.keys().cloned().collect::<Vec<_>>(),
        targets,
        "every target, nothing else: {report}"
    );
    seen.into_iter()
        .map(|(target, kinds)| {
            assert_eq!(kinds.len(), 1, "{target} reported {kinds:?}");
            (target, kinds[0].clone())
        })
        .collect()
}

/// The stack-level events that open an operation, with their tokens, read inside the target.
async fn operations(assumer: &StsAssumer, target: &Target) -> Vec<(String, Option<String>)> {
    let session = session_in(assumer, target).await;
    let page = session
        .stack_events(STACK, None)
        .await
        .expect("the stack's events");
    assert!(page.next_page.is_none());
    page.events
        .into_iter()
        .filter(|e| e.is_stack_level() && e.status.ends_with("_IN_PROGRESS"))
        .map(|e| (e.status, e.token))
        .collect()
}

#[test]
fn a_run_stopped_or_killed_anywhere_resumes_to_every_target_reported_once_and_deployed_once() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("org.json");
    demo_org(&moto, &["seed", state.to_str().unwrap(), "--size", "plain:4"]);
    let org: Value = serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    let members: Vec<String> = org["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|a| REGIONS.map(|r| format!("{}:{r}", a["id"].as_str().unwrap())))
        .collect();
    // The management account's targets are reported too: skipped.
    let mut targets = members.clone();
    targets.extend(REGIONS.map(|r| format!("{MANAGEMENT_ACCOUNT}:{r}")));
    targets.sort();
    let path = dir.path().join("report.json");
    let resume = ["--resume", path.to_str().unwrap()];

    // SIGTERM, as a CI cancel sends it, once a target landed: like Ctrl-C, nothing new starts,
    // the targets in flight finish and are reported, exit 130, the resume command is printed.
    let mut first = Deploy::start(&moto, dir.path(), "first", &["--regions", &REGIONS.join(",")]);
    first.wait_until("a target landed", |_| {
        on_disk(&path).is_some_and(|r| succeeded(&r) >= 1)
    });
    let status = first.signal("-TERM");
    let said = first.said();
    assert_eq!(status.code(), Some(130), "{said}");
    assert!(
        said.contains("stackfleet: terminated (SIGTERM): starting nothing new"),
        "{said}"
    );
    assert!(said.contains("--resume"), "{said}");
    let stopped = on_disk(&path).unwrap();
    let run = stopped["run"].as_str().unwrap().to_owned();
    assert!(
        stopped.get("inProgress").is_none(),
        "the report is final: {stopped}"
    );
    let kinds = reported_once(&stopped, &targets);
    let not_started = stopped["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["skippedReason"] == "not started: the rollout was interrupted")
        .count();
    assert!(not_started >= 2, "nothing new started: {kinds:?}");
    let landed = succeeded(&stopped);

    // SIGKILL as soon as the resume said where its report is: nothing of this run landed.
    let mut killed_early = Deploy::start(&moto, dir.path(), "killed-early", &resume);
    killed_early.wait_until("the report was announced", |run| {
        run.said().contains("is kept up to date")
    });
    killed_early.child.kill().unwrap();
    killed_early.child.wait().unwrap();
    let early = on_disk(&path).unwrap();
    assert_eq!(early["run"], run.as_str());
    assert_eq!(early["inProgress"], true, "{early}");
    reported_once(&early, &targets);
    assert_eq!(succeeded(&early), landed, "the earlier successes stay");

    // SIGKILL midway: one more landed, others left in flight.
    let mut killed = Deploy::start(&moto, dir.path(), "killed", &resume);
    killed.wait_until("one more target landed", |_| {
        on_disk(&path).is_some_and(|r| succeeded(&r) > landed)
    });
    killed.child.kill().unwrap();
    killed.child.wait().unwrap();
    let midway = on_disk(&path).unwrap();
    assert_eq!(midway["inProgress"], true, "{midway}");
    let kinds = reported_once(&midway, &targets);
    assert!(
        kinds.values().any(|kind| kind == "Skipped"),
        "targets were left to do: {kinds:?}"
    );
    assert!(succeeded(&midway) < members.len(), "{kinds:?}");

    // The last resume finishes the rollout under the same run.
    let last = Deploy::start(&moto, dir.path(), "last", &resume);
    let output = last.child.wait_with_output().unwrap();
    let said = std::fs::read_to_string(&last.stderr).unwrap();
    assert_eq!(output.status.code(), Some(0), "{said}");
    assert!(
        said.contains("that report was left in progress (its run was killed)"),
        "{said}"
    );
    let done = on_disk(&path).unwrap();
    assert_eq!(done["run"], run.as_str());
    assert!(done.get("inProgress").is_none(), "{done}");
    let kinds = reported_once(&done, &targets);
    let created: Vec<&String> = kinds.keys().filter(|t| kinds[*t] == "Created").collect();
    assert_eq!(created.len(), members.len(), "{kinds:?}");

    // One operation per stack: the create of this run, never a second create or an update.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let assumer = StsAssumer::new(&moto.sdk_config().await);
        let token = format!("stackfleet-{run}-create");
        for target in &members {
            let opened = operations(&assumer, &target.parse().unwrap()).await;
            assert_eq!(
                opened,
                [("CREATE_IN_PROGRESS".to_owned(), Some(token.clone()))],
                "{target}"
            );
        }
    });
}
