//! Every Lambda's input and output has a fixture in tests/fixtures; each round-trips through the
//! Rust type the function uses, so the state machine test and the code agree on every field.

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use stackfleet_core::rollout::FailureTolerance;
use stackfleet_core::wire::gate::GateResponse;
use stackfleet_core::{ErrorName, Rollout};
use stackfleet_lambda::input::{self, Acceptance};
use stackfleet_lambda::lister::{Discovered, ListerRequest};
use stackfleet_lambda::reducer::{Reduced, ReducerRequest};
use stackfleet_lambda::worker::{WorkerRequest, WorkerResponse};

fn fixture(name: &str) -> Value {
    let path = format!("{}/../../tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn round_trips<T: Serialize + DeserializeOwned>(name: &str) -> T {
    let json = fixture(name);
    let typed: T = serde_json::from_value(json.clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(
        serde_json::to_value(&typed).unwrap(),
        json,
        "{name} changes in a round trip"
    );
    typed
}

#[test]
fn lambda_inputs_and_outputs_round_trip() {
    round_trips::<ListerRequest>("lister-input.json");
    round_trips::<Discovered>("lister-output.json");
    assert!(matches!(
        round_trips::<WorkerRequest>("worker-input-start.json"),
        WorkerRequest::Start { .. }
    ));
    assert!(matches!(
        round_trips::<WorkerRequest>("worker-input-poll.json"),
        WorkerRequest::Poll { .. }
    ));
    assert!(matches!(
        round_trips::<WorkerRequest>("worker-input-fail.json"),
        WorkerRequest::Fail { .. }
    ));
    assert!(!round_trips::<WorkerResponse>("worker-output-pending.json").done);
    assert!(round_trips::<WorkerResponse>("worker-output-done.json").done);
    assert!(matches!(
        round_trips::<ReducerRequest>("reducer-input.json"),
        ReducerRequest::Reduce(_)
    ));
    assert!(matches!(
        round_trips::<ReducerRequest>("gate-input.json"),
        ReducerRequest::Gate(_)
    ));
    let gate: GateResponse = round_trips("gate-output.json");
    assert_eq!(gate.items, vec!["333333333333:us-east-1".parse().unwrap()]);
    let reduced: Reduced = round_trips("reducer-output.json");
    assert_eq!(reduced.halt.unwrap().wave, "canary");
    assert_eq!(reduced.failures[0].count, 1);
}

#[test]
fn rollout_documents_round_trip() {
    for name in [
        "default-spec.json",
        "execution-input-pipeline.json",
        "execution-input-rerun.json",
    ] {
        round_trips::<Rollout>(name);
    }
    let root = format!("{}/../..", env!("CARGO_MANIFEST_DIR"));
    for example in [
        "infra/default-spec.example.json",
        "examples/bootstrap/new-account-spec.json",
    ] {
        let text = std::fs::read_to_string(format!("{root}/{example}")).unwrap();
        Rollout::parse(&text).unwrap_or_else(|e| panic!("{example}: {e}"));
    }
}

/// The default acceptance: the default allow-list, any input.
fn policy() -> Acceptance {
    Acceptance::default()
}

/// A machine whose inputs may change every field.
fn open() -> Acceptance {
    Acceptance {
        policy: stackfleet_core::policy::InputPolicy::everything(),
        new_accounts_only: false,
    }
}

#[test]
fn the_three_kinds_of_execution_input_parse_over_the_default_spec() {
    let default = fixture("default-spec.json");

    let pipeline = input::parse(&default, &fixture("execution-input-pipeline.json"), &policy()).unwrap();
    assert_eq!(
        (pipeline.resolved.concurrency, pipeline.resolved.tolerance),
        (20, FailureTolerance::Percent(10))
    );
    assert_eq!(pipeline.resolved.targets.exclude.len(), 1);
    assert_eq!(pipeline.new_account, None);

    let rerun = input::parse(&default, &fixture("execution-input-rerun.json"), &policy()).unwrap();
    assert_eq!(rerun.resolved.targets.list.len(), 2);

    // A new account's event deploys the default exactly: its targeting too, which the lister
    // then applies to that account.
    let created = input::parse(&default, &fixture("event-create-account-result.json"), &policy()).unwrap();
    assert_eq!(created.new_account, Some("444444444444".parse().unwrap()));
    assert_eq!(created.document, Rollout::default().over(created.default.clone()));
    assert_eq!(created.resolved.targets.ous, vec!["r-ab12".to_owned()]);
    assert_eq!(created.resolved.spec.stack_name.as_str(), "org-baseline");
    assert_eq!(created.document.parameters["Env"], "prod");

    let managed = input::parse(&default, &fixture("event-create-managed-account.json"), &policy()).unwrap();
    assert_eq!(managed.new_account, Some("555555555555".parse().unwrap()));
}

#[test]
fn a_misspelt_field_in_the_input_or_the_default_is_refused_by_name() {
    let default = fixture("default-spec.json");
    let mut typo = fixture("execution-input-pipeline.json");
    typo["targets"]["regoins"] = serde_json::json!(["us-east-1"]);
    let error = input::parse(&default, &typo, &policy()).unwrap_err();
    assert_eq!(error.name, ErrorName::InvalidInput);
    assert!(error.message.contains("regoins"), "{}", error.message);

    let mut bad_default = default;
    bad_default["toleratedFailurePercentage"] = serde_json::json!(10);
    let error = input::parse(&bad_default, &fixture("execution-input-rerun.json"), &policy()).unwrap_err();
    assert!(
        error.message.contains("default spec") && error.message.contains("toleratedFailurePercentage"),
        "{}",
        error.message
    );
    let file = serde_json::json!({ "template": { "file": "template.yaml" } });
    let error = input::parse(&fixture("default-spec.json"), &file, &open()).unwrap_err();
    assert!(error.message.contains("template.url"), "{}", error.message);
}

#[test]
fn a_template_in_the_input_replaces_the_defaults_whole() {
    // On a machine whose inputs may change the template (`inputFields: *`); the default
    // allow-list refuses it (tests/trust.rs).
    let body = serde_json::json!({ "template": { "body": "Resources: {T: {Type: AWS::SNS::Topic}}" } });
    let pipeline = input::parse(&fixture("default-spec.json"), &body, &open()).unwrap();
    assert!(matches!(
        pipeline.resolved.spec.template,
        stackfleet_core::TemplateSource::Body(_)
    ));

    let url_only = serde_json::json!({ "template": { "url": "https://templates.s3.amazonaws.com/v2.yaml" } });
    let by_url = input::parse(&fixture("default-spec.json"), &url_only, &open()).unwrap();
    assert!(matches!(
        by_url.resolved.spec.template,
        stackfleet_core::TemplateSource::Url(_)
    ));
}
