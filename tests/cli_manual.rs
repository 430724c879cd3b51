//! `stackfleet completions SHELL` and `stackfleet man`, generated from the clap definitions:
//! every shell gets a script that knows every command, and man a page per command.

use std::process::Command;

const COMMANDS: [&str; 8] = [
    "deploy", "plan", "apply", "start", "status", "watch", "rerun", "report",
];

fn stackfleet(args: &[&str]) -> std::process::Output {
    let output = Command::new(env!("CARGO_BIN_EXE_stackfleet"))
        .args(args)
        .output()
        .expect("run stackfleet");
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

#[test]
fn every_shell_gets_a_completion_script_that_knows_every_command() {
    for (shell, registers) in [
        ("bash", "complete -F _stackfleet"),
        ("zsh", "#compdef stackfleet"),
        ("fish", "complete -c stackfleet"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let script = String::from_utf8(stackfleet(&["completions", shell]).stdout).unwrap();
        assert!(script.contains(registers), "{shell}: {script}");
        for command in COMMANDS {
            assert!(script.contains(command), "{shell} does not complete {command}");
        }
        assert!(
            script.contains("report-junit"),
            "{shell} does not complete deploy's flags"
        );
    }
}

#[test]
fn an_unknown_shell_is_refused_naming_the_ones_there_are() {
    let output = Command::new(env!("CARGO_BIN_EXE_stackfleet"))
        .args(["completions", "tcsh"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("bash") && stderr.contains("powershell"),
        "{stderr}"
    );
}

#[test]
fn man_prints_stackfleet_1_and_writes_a_page_per_command() {
    let page = String::from_utf8(stackfleet(&["man"]).stdout).unwrap();
    assert!(page.contains(".TH stackfleet 1"), "{page}");
    assert!(page.contains(env!("CARGO_PKG_VERSION")));
    let dir = tempfile::tempdir().unwrap();
    stackfleet(&["man", "--out-dir", dir.path().to_str().unwrap()]);
    for command in COMMANDS {
        let page = std::fs::read_to_string(dir.path().join(format!("stackfleet-{command}.1")))
            .unwrap_or_else(|e| panic!("no page for {command}: {e}"));
        assert!(page.contains(&format!(".TH stackfleet-{command} 1")), "{page}");
    }
}

#[test]
fn version_names_the_commit() {
    let version = String::from_utf8(stackfleet(&["--version"]).stdout).unwrap();
    let expected = format!("stackfleet {} (commit ", env!("CARGO_PKG_VERSION"));
    assert!(version.starts_with(&expected), "{version}");
}
