//! Secrets through the serverless path, on the fakes: the lister refuses a NoEcho value in
//! plaintext before it writes anything, the worker resolves references with its own role and
//! CloudFormation gets the value, and no record of the run holds it.

mod support;

use serde_json::{json, Value};
use stackfleet_aws::fake::{FakeCloud, FakeOrganization, FakeSecrets, FakeStore, ROOT};
use stackfleet_core::lifecycle::{Clock, TokioClock};
use stackfleet_core::ports::RunStore;
use stackfleet_core::{ErrorName, OutcomeKind, Target};
use stackfleet_lambda::error::LambdaError;
use stackfleet_lambda::lister::Discovered;
use stackfleet_lambda::worker::{CaughtError, Worker, WorkerRequest};

const CANARY: &str = "canary-5d1e0b7a";
const TEMPLATE: &str =
    "Parameters:\n  Env:\n    Type: String\n  DbPassword:\n    Type: String\n    NoEcho: true\n\
                        Resources:\n  Topic:\n    Type: AWS::SNS::Topic\n";

fn target() -> Target {
    "111111111111:us-east-1".parse().unwrap()
}

fn input(password: &str) -> Value {
    json!({
        "stackName": "org-secrets",
        "template": {"url": "https://templates.s3.us-east-1.amazonaws.com/secrets.yaml"},
        "parameters": {"Env": "prod", "DbPassword": password},
        "targets": {"list": ["111111111111:us-east-1"]},
    })
}

async fn discover(store: &FakeStore, execution: &str, input: Value) -> Result<Discovered, LambdaError> {
    let org = FakeOrganization::new(&"123456789012".parse().unwrap());
    org.add_account(&"111111111111".parse().unwrap(), "member", "ACTIVE", ROOT);
    let default = json!({"deployRole": {"name": "OrganizationAccountAccessRole"}, "targets": {"regions": ["us-east-1"]}});
    let templates = support::templates();
    templates.put("templates", "secrets.yaml", TEMPLATE);
    let settings = support::open_settings(default);
    support::discover_on(
        &org,
        &FakeCloud::new(),
        store,
        &templates,
        &settings,
        execution,
        input,
    )
    .await
}

/// Every object the run wrote, whole.
async fn everything_stored(store: &FakeStore) -> String {
    let mut all = String::new();
    for key in store.keys() {
        all.push_str(&key);
        all.push_str(&store.get(&key).await.unwrap().unwrap_or_default());
    }
    all
}

#[tokio::test(start_paused = true)]
async fn a_no_echo_value_in_plaintext_is_refused_before_anything_is_written() {
    let store = FakeStore::new();
    let error = discover(&store, "plain", input(CANARY)).await.unwrap_err();
    assert_eq!(error.name, ErrorName::InvalidInput);
    assert!(
        error.message.contains("parameter DbPassword is NoEcho"),
        "{error}"
    );
    assert!(!error.message.contains(CANARY), "{error}");
    assert!(store.keys().is_empty(), "nothing written: {:?}", store.keys());
}

#[tokio::test(start_paused = true)]
async fn the_worker_resolves_references_and_only_cloudformation_gets_the_value() {
    let (cloud, store, clock) = (FakeCloud::new(), FakeStore::new(), TokioClock::new());
    let secrets = FakeSecrets::new();
    secrets.put_parameter("/stackfleet/db-password", CANARY);
    let run = discover(
        &store,
        "referenced",
        input("{{resolve:ssm-secure:/stackfleet/db-password}}"),
    )
    .await
    .unwrap()
    .run;
    let worker = Worker::new(cloud.clone(), store.clone(), clock).with_secrets(secrets.clone());

    let mut response = worker
        .handle(support::start(&run, &target()), clock.now_ms() + 900_000)
        .await
        .unwrap();
    while !response.done {
        tokio::time::sleep(std::time::Duration::from_secs(response.wait_seconds)).await;
        let poll = WorkerRequest::Poll {
            run: run.clone(),
            target: target(),
            wave: 0,
            new_account: false,
            state: response.state.clone().unwrap(),
            retried: 0,
        };
        response = worker.handle(poll, clock.now_ms() + 900_000).await.unwrap();
    }
    assert_eq!(response.outcome, Some(OutcomeKind::Created));
    let parameters = cloud.stack_parameters(&target(), "org-secrets").unwrap();
    assert!(
        parameters.contains(&("DbPassword".into(), CANARY.into())),
        "{parameters:?}"
    );
    assert_eq!(
        secrets.reads(),
        ["/stackfleet/db-password"],
        "read once for the run"
    );
    let stored = everything_stored(&store).await;
    assert!(!stored.contains(CANARY), "a record holds the secret: {stored}");
    assert!(
        stored.contains("{{resolve:ssm-secure:/stackfleet/db-password}}"),
        "the reference is kept"
    );
    assert!(!serde_json::to_string(&response).unwrap().contains(CANARY));
}

#[tokio::test(start_paused = true)]
async fn a_reference_that_cannot_be_read_fails_the_target_naming_it() {
    let (cloud, store, clock) = (FakeCloud::new(), FakeStore::new(), TokioClock::new());
    let secrets = FakeSecrets::new();
    secrets.put_secret("other-team/db", CANARY);
    secrets.deny("other-team/db");
    let run = discover(
        &store,
        "denied",
        input("{{resolve:secretsmanager:other-team/db}}"),
    )
    .await
    .unwrap()
    .run;
    let worker = Worker::new(cloud.clone(), store.clone(), clock).with_secrets(secrets);

    let error = worker
        .handle(support::start(&run, &target()), clock.now_ms() + 900_000)
        .await
        .unwrap_err();
    assert_eq!(error.name, ErrorName::AccessDenied);
    assert!(
        error.message.contains("{{resolve:secretsmanager:other-team/db}}"),
        "{error}"
    );
    assert!(
        cloud.stack_parameters(&target(), "org-secrets").is_none(),
        "no stack call"
    );

    // The state machine catches it and has the worker record it: the target's Failed outcome.
    let fail = WorkerRequest::Fail {
        run: run.clone(),
        target: target(),
        wave: 0,
        error: CaughtError {
            error: error.name.to_string(),
            cause: error.message.clone(),
        },
    };
    assert_eq!(
        worker.handle(fail, clock.now_ms()).await.unwrap().outcome,
        Some(OutcomeKind::Failed)
    );
    let stored = everything_stored(&store).await;
    assert!(
        stored.contains("could not be read") && !stored.contains(CANARY),
        "{stored}"
    );

    let unread = Worker::new(cloud, store, clock);
    let error = unread
        .handle(support::start(&run, &target()), clock.now_ms() + 900_000)
        .await
        .unwrap_err();
    assert!(error.message.contains("cannot read secrets"), "{error}");
}
