//! The error contract, held both ways: every error name statemachine.asl.json retries or catches
//! is one the Rust code can send (or AWS's own), every name the worker may throw for a retry is
//! retried, and so is every Lambda invocation that never answered (a Lambda timeout or crash) or
//! was throttled; a retried Poll is told it is one.

use std::collections::BTreeSet;

use serde_json::Value;
use stackfleet_core::ErrorName;
use stackfleet_lambda::worker::{WorkerRequest, UNANSWERED};
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

/// The name of every Task state, nested ones included.
fn tasks(states: &Value, found: &mut Vec<String>) {
    for (name, state) in states.as_object().unwrap() {
        if state["Type"] == "Task" {
            found.push(name.clone());
        }
        if let Some(nested) = state.get("ItemProcessor").or_else(|| state.get("Iterator")) {
            tasks(&nested["States"], found);
        }
    }
}

#[test]
fn an_invocation_that_never_answered_is_retried_by_every_lambda_task_and_nothing_else_is_by_wildcard() {
    let definition = definition();
    let mut found = Vec::new();
    handlers(&definition["States"], &mut found);
    let mut all = Vec::new();
    tasks(&definition["States"], &mut all);
    assert_eq!(
        all.iter().map(String::as_str).collect::<BTreeSet<_>>(),
        [
            "Approval",
            "Discover",
            "Gate",
            "Plan",
            "Poll",
            "RecordFailure",
            "Reduce",
            "Start"
        ]
        .into(),
    );
    for task in &all {
        let retries = rules(&found, task, "Retry");
        // A worker timeout would fail the target while its operation goes on; a lister or
        // reducer one would end the execution without a baseline or a report.
        for name in UNANSWERED {
            assert!(
                retries.iter().any(|names| names.iter().any(|n| n == name)),
                "{task} does not retry {name}"
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

/// The Retry rule of `task` that matches `error`, whole.
fn retrier<'a>(definition: &'a Value, task: &str, error: &str) -> Option<&'a Value> {
    let states = &definition["States"];
    let state = states
        .get(task)
        .unwrap_or(&states["Deploy"]["ItemProcessor"]["States"][task]);
    state["Retry"].as_array()?.iter().find(|rule| {
        rule["ErrorEquals"]
            .as_array()
            .is_some_and(|names| names.iter().any(|n| n == error))
    })
}

#[test]
fn every_lambda_task_outlasts_throttling_as_long_as_the_worker_does() {
    // The lister and the reducer are reserved 10 invocations, shared by every execution: a batch
    // of new-account events, or more than 10 executions at once, is throttled.
    let definition = definition();
    let worker = retrier(&definition, "Start", "Lambda.TooManyRequestsException").unwrap();
    assert!(worker["MaxAttempts"].as_u64().unwrap() >= 12, "{worker}");
    for task in ["Discover", "Gate", "Poll", "RecordFailure", "Reduce"] {
        let rule = retrier(&definition, task, "Lambda.TooManyRequestsException");
        assert_eq!(rule, Some(worker), "{task}");
    }
}

#[test]
fn a_retried_poll_tells_the_worker_it_is_one() {
    let definition = definition();
    let parameters = &definition["States"]["Deploy"]["ItemProcessor"]["States"]["Poll"]["Parameters"];
    assert_eq!(parameters["retried.$"], "$$.State.RetryCount");
    // What the Poll sends is the worker's Poll request: its fixture, with every parameter.
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/worker-input-poll.json"
    );
    let mut request: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    for name in parameters.as_object().unwrap().keys() {
        let field = name.trim_end_matches(".$");
        assert!(
            request.get(field).is_some(),
            "the worker's Poll request has no {field}"
        );
    }
    request["retried"] = 2.into();
    let parsed: WorkerRequest = serde_json::from_value(request).unwrap();
    assert!(
        matches!(parsed, WorkerRequest::Poll { retried: 2, .. }),
        "{parsed:?}"
    );
}
