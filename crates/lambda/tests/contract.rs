//! The error contract, held both ways: every error name statemachine.asl.json retries or catches
//! is one the Rust code can send (or AWS's own), every name the worker may throw for a retry is
//! retried, and so is a worker invocation that never answered (a Lambda timeout or crash).

use std::collections::BTreeSet;

use serde_json::Value;
use stackfleet_core::ErrorName;
use stackfleet_lambda::worker::UNANSWERED;
use strum::IntoEnumIterator;

fn definition() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../statemachine.asl.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// (state name, "Retry" | "Catch", error names) for every task, nested ones included.
fn handlers(states: &Value, found: &mut Vec<(String, &'static str, Vec<String>)>) {
    for (name, state) in states.as_object().unwrap() {
        for kind in ["Retry", "Catch"] {
            for rule in state[kind].as_array().into_iter().flatten() {
                let names = rule["ErrorEquals"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|n| n.as_str().unwrap().to_owned())
                    .collect();
                found.push((name.clone(), kind, names));
            }
        }
        if let Some(nested) = state.get("ItemProcessor").or_else(|| state.get("Iterator")) {
            handlers(&nested["States"], found);
        }
    }
}

#[test]
fn every_error_the_machine_names_is_one_rust_sends() {
    let definition = definition();
    let mut found = Vec::new();
    handlers(&definition["States"], &mut found);
    assert!(
        found.len() > 10,
        "the definition has Retry and Catch rules: {found:?}"
    );
    let sent: BTreeSet<&str> = ErrorName::iter().map(ErrorName::as_str).collect();
    for (state, kind, names) in &found {
        for name in names {
            let aws_own = ["States.", "Lambda.", "Sandbox."]
                .iter()
                .any(|prefix| name.starts_with(prefix));
            assert!(
                aws_own || sent.contains(name.as_str()),
                "{state} {kind} names {name:?}, which no Rust code sends"
            );
        }
    }
}

#[test]
fn every_transient_error_rust_sends_is_retried_by_every_worker_task() {
    let definition = definition();
    let mut found = Vec::new();
    handlers(&definition["States"], &mut found);
    for task in ["Start", "Poll"] {
        let retried: BTreeSet<String> = found
            .iter()
            .filter(|(state, kind, _)| state == task && *kind == "Retry")
            .flat_map(|(_, _, names)| names.clone())
            .collect();
        for name in ErrorName::iter().filter(|n| n.is_transient()) {
            assert!(retried.contains(name.as_str()), "{task} does not retry {name}");
        }
        let caught: Vec<_> = found
            .iter()
            .filter(|(state, kind, _)| state == task && *kind == "Catch")
            .collect();
        assert!(
            caught.iter().any(|(_, _, names)| names == &["States.ALL"]),
            "{task} catches everything, so no target is lost"
        );
    }
}

/// The names each rule of `task`'s `kind` ("Retry" or "Catch") matches, rule by rule.
fn rules<'a>(found: &'a [(String, &'static str, Vec<String>)], task: &str, kind: &str) -> Vec<&'a [String]> {
    found
        .iter()
        .filter(|(state, k, _)| state == task && *k == kind)
        .map(|(_, _, names)| names.as_slice())
        .collect()
}

#[test]
fn an_invocation_that_never_answered_is_retried_by_every_worker_task_and_nothing_else_is_by_wildcard() {
    let definition = definition();
    let mut found = Vec::new();
    handlers(&definition["States"], &mut found);
    for task in ["Start", "Poll", "RecordFailure"] {
        let retries = rules(&found, task, "Retry");
        for name in UNANSWERED {
            assert!(
                retries.iter().any(|names| names.iter().any(|n| n == name)),
                "{task} does not retry {name}: a worker timeout would fail the target while its \
                 operation goes on"
            );
        }
        // A wildcard would retry StackFailed and the other final errors too.
        for names in &retries {
            for wildcard in ["States.ALL", "States.TaskFailed"] {
                assert!(!names.iter().any(|n| n == wildcard), "{task} retries {wildcard}");
            }
        }
    }
}

#[test]
fn every_placeholder_is_one_the_deployment_fills() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../statemachine.asl.json"
    ))
    .unwrap();
    let placeholders: BTreeSet<&str> = text
        .match_indices("${")
        .map(|(at, _)| &text[at..at + text[at..].find('}').unwrap() + 1])
        .collect();
    let expected: BTreeSet<&str> = [
        "${ListerFunctionArn}",
        "${WorkerFunctionArn}",
        "${ReducerFunctionArn}",
    ]
    .into();
    assert_eq!(placeholders, expected);
}
