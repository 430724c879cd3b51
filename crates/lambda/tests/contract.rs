//! The error contract, held both ways: every error name statemachine.asl.json retries or catches
//! is one the Rust code can send, and every name the worker may throw for a retry is retried.

use std::collections::BTreeSet;

use serde_json::Value;
use stackfleet_core::ErrorName;
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
            let aws_own = name.starts_with("States.") || name.starts_with("Lambda.");
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
