//! Waves through the real binary against moto: the plan shows them; a canary of the Prod OU
//! fails on the demo's hand-made roles, the deploy halts there (exit 1) with nothing beyond the
//! canary deployed and prints the command that resumes it; after the fix, that command finishes
//! the rollout, under the same run, with a CloudWatch alarm watched between the waves.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;

use serde_json::Value;
use support::{demo_org, demo_org_output, stackfleet, Moto};

const STACK: &str = "org-federation";

fn repo(path: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(path)
        .display()
        .to_string()
}

/// The federation example with a canary wave of `prod_ou`, a wave of two, `more` waves, and an
/// alarm gate; the template named by its absolute path.
fn waved_document(dir: &Path, prod_ou: &str, more: &str) -> String {
    let example = std::fs::read_to_string(repo("examples/federation/rollout.yaml")).unwrap();
    let template = repo("examples/federation/template.yaml");
    let document = example.replace("file: template.yaml", &format!("file: {template}"))
        + &format!(
            "waves:\n  - name: canary\n    ous: [{prod_ou}]\n  - count: 2\n{more}alarms: [federation-errors]\n"
        );
    let path = dir.join(format!("rollout{}.yaml", more.len()));
    std::fs::write(&path, document).unwrap();
    path.display().to_string()
}

/// Words of a command line as a POSIX shell splits them (single quotes are all stackfleet
/// writes).
fn shell_words(line: &str) -> Vec<String> {
    let (mut words, mut word, mut quoted, mut started) = (Vec::new(), String::new(), false, false);
    for c in line.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                started = true;
            }
            ' ' if !quoted => {
                if started {
                    words.push(std::mem::take(&mut word));
                }
                started = false;
            }
            _ => {
                word.push(c);
                started = true;
            }
        }
    }
    if started {
        words.push(word);
    }
    words
}

/// Which accounts have the stack, read inside each.
fn stacks(moto: &Moto, state: &Path) -> BTreeMap<String, String> {
    let printed = demo_org_output(moto, &["stacks", state.to_str().unwrap(), STACK]);
    serde_json::from_str(printed.trim()).unwrap()
}

fn report(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("the JSON report")).unwrap()
}

fn said(output: &Output) -> (String, String) {
    let (stdout, stderr) = (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    );
    eprintln!("{stderr}{stdout}");
    (stdout, stderr)
}

#[test]
fn a_failing_canary_halts_the_deploy_and_the_printed_command_resumes_it() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("org.json");
    demo_org(&moto, &["seed", state.to_str().unwrap(), "--size", "small"]);
    demo_org(&moto, &["alarm", "federation-errors", "OK"]);
    let org: Value = serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    let prod: Vec<String> = org["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["ou"] == "Prod")
        .map(|a| a["id"].as_str().unwrap().to_owned())
        .collect();
    let prod_ou = org["ous"]["Prod"].as_str().unwrap();

    // The plan shows the waves first, an empty one with a warning.
    let nobody = "  - name: nobody\n    accounts: ['999999999999']\n    bakeSeconds: 600\n";
    let plan = stackfleet(&moto)
        .args(["plan", "--spec", &waved_document(dir.path(), prod_ou, nobody)])
        .output()
        .expect("run stackfleet plan");
    let (stdout, _) = said(&plan);
    // The pre-flight finds the seeded hand-made roles: blocked targets make the plan exit 1.
    assert_eq!(plan.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("FederatedReadOnly: already exists in the account"),
        "{stdout}"
    );
    let waves_at = stdout.find("waves, in order:").expect("the waves");
    assert!(
        waves_at < stdout.find("plan for stack").unwrap(),
        "before the change groups"
    );
    for line in [
        "1. canary: 4 targets, bake 0 s, failure tolerance 10%",
        "2. wave 2: 2 targets, bake 0 s, failure tolerance 10%",
        "3. nobody: 0 targets, bake 600 s, failure tolerance 10%",
        "4. rest: 1 target, bake 0 s, failure tolerance 10%",
        r#"warning: wave "nobody" has no target"#,
    ] {
        assert!(stdout.contains(line), "{line:?} in {stdout}");
    }

    let spec = waved_document(dir.path(), prod_ou, "");

    // No --report-json: the halt keeps one anyway, under the working directory.
    let halted = stackfleet(&moto)
        .current_dir(dir.path())
        .args(["deploy", "--spec", &spec, "--poll-interval", "1", "--no-progress"])
        .output()
        .expect("run stackfleet");
    let (stdout, stderr) = said(&halted);

    assert_eq!(halted.status.code(), Some(1), "{stdout}");
    assert!(stderr.contains("wave canary (1 of 3): 4 targets"), "{stderr}");
    assert!(!stderr.contains("wave wave 2"), "{stderr}");
    assert!(
        stdout.contains(r#"the rollout halted at wave "canary" (1 of the waves): 3 of 4 targets failed in the wave (10% tolerated)"#),
        "{stdout}"
    );
    let touched = stacks(&moto, &state);
    assert!(
        touched.keys().all(|account| prod.contains(account)),
        "nothing beyond the canary was deployed: {touched:?}"
    );
    let command = stdout
        .lines()
        .map(str::trim)
        .find(|line| line.contains("--resume"))
        .unwrap_or_else(|| panic!("no resume command in {stdout}"));
    let words = shell_words(command);
    let kept = words.last().unwrap().clone();
    assert!(
        kept.starts_with(".stackfleet/") && kept.ends_with("/report.json"),
        "{command}"
    );
    let first = report(&dir.path().join(&kept));
    assert_eq!(first["halt"]["wave"], "canary");
    let not_started = first["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["notStarted"] == true)
        .count();
    assert_eq!(not_started, 3, "wave 2 and the rest");

    demo_org(&moto, &["fix", state.to_str().unwrap(), STACK]);
    let resumed = stackfleet(&moto)
        .current_dir(dir.path())
        .args(&words[1..])
        .output()
        .expect("run the resume command");
    let (stdout, stderr) = said(&resumed);

    assert_eq!(resumed.status.code(), Some(0), "{stdout}");
    assert!(stderr.contains("resuming run"), "{stderr}");
    assert!(
        stderr.contains("wave canary (1 of 3): 3 targets"),
        "only the canary's failures: {stderr}"
    );
    let whole = report(&dir.path().join(&kept));
    assert_eq!(whole["run"], first["run"], "the same run");
    assert_eq!(whole["waves"], first["waves"], "the same waves");
    assert!(whole.get("halt").is_none());
    let summary = &whole["summary"];
    assert_eq!(
        (
            summary["created"].as_u64(),
            summary["failed"].as_u64(),
            summary["skipped"].as_u64()
        ),
        (Some(7), Some(0), Some(3)),
        "the earlier canary success, this run's six, the suspended and management accounts: {summary}"
    );
    assert_eq!(stacks(&moto, &state).len(), 7);
}
