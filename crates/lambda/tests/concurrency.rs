//! The worker function's reserved concurrency bounds a run's: each Deploy Map child runs one
//! worker invocation at a time, and the Map runs as many children at once as the run's
//! concurrency (the Gate hands it the run record's, for MaxConcurrencyPath). A run asking for
//! more is refused at Discover, naming both numbers, before anything is written.

mod support;

use serde_json::{json, Value};
use stackfleet_aws::fake::{FakeAlarms, FakeCloud, FakeOrganization, FakeStore, ROOT};
use stackfleet_core::wire::gate::{GateAction, GateRequest};
use stackfleet_core::ErrorName;
use stackfleet_lambda::error::LambdaError;
use stackfleet_lambda::gate::gate;
use stackfleet_lambda::lister::Discovered;
use support::{account, discover_on, open_settings, templates, TEMPLATE_URL};

/// The worker's reserved concurrency in these tests.
const RESERVED: u32 = 20;

fn organization() -> FakeOrganization {
    let org = FakeOrganization::new(&"999999999999".parse().unwrap());
    for n in 0..3 {
        org.add_account(&account(n), &format!("member-{n}"), "ACTIVE", ROOT);
    }
    org
}

/// A default spec over the Organization's accounts, with `concurrency` if given.
fn default_spec(concurrency: Option<u32>) -> Value {
    let mut spec = json!({
        "stackName": "org-baseline",
        "template": {"url": TEMPLATE_URL},
        "targets": {"regions": ["us-east-1"]},
    });
    if let Some(concurrency) = concurrency {
        spec["concurrency"] = json!(concurrency);
    }
    spec
}

async fn discover(
    store: &FakeStore,
    default: Value,
    reserved: Option<u32>,
    input: Value,
) -> Result<Discovered, LambdaError> {
    let mut settings = open_settings(default);
    settings.worker_concurrency = reserved;
    let cloud = FakeCloud::new();
    discover_on(
        &organization(),
        &cloud,
        store,
        &templates(),
        &settings,
        "run-1",
        input,
    )
    .await
}

fn nothing_written(store: &FakeStore) {
    assert!(store.keys().is_empty(), "{:?}", store.keys());
}

#[tokio::test(start_paused = true)]
async fn an_input_asking_for_more_than_the_worker_may_run_is_refused_with_both_numbers() {
    let store = FakeStore::new();

    let error = discover(
        &store,
        default_spec(None),
        Some(RESERVED),
        json!({"concurrency": 50}),
    )
    .await
    .unwrap_err();

    assert_eq!(error.name, ErrorName::InvalidInput);
    let message = error.message;
    assert!(message.starts_with("concurrency: 50 is above"), "{message}");
    assert!(message.contains("reserved concurrency of 20"), "{message}");
    assert!(message.contains("at most 20"), "{message}");
    assert!(message.contains("-c workerConcurrency=50"), "{message}");
    nothing_written(&store);
}

#[tokio::test(start_paused = true)]
async fn a_default_concurrency_above_the_reserve_is_refused_too() {
    // No concurrency anywhere: the rollout document's default, 50.
    let store = FakeStore::new();
    let error = discover(&store, default_spec(None), Some(RESERVED), json!({}))
        .await
        .unwrap_err();
    assert!(
        error.message.starts_with("concurrency: 50 is above"),
        "{}",
        error.message
    );
    nothing_written(&store);

    let store = FakeStore::new();
    let error = discover(&store, default_spec(Some(30)), Some(RESERVED), json!({}))
        .await
        .unwrap_err();
    assert!(
        error.message.starts_with("concurrency: 30 is above"),
        "{}",
        error.message
    );
    nothing_written(&store);
}

#[tokio::test(start_paused = true)]
async fn a_run_within_the_reserve_reaches_the_map_with_its_concurrency() {
    let store = FakeStore::new();
    let discovered = discover(
        &store,
        default_spec(Some(5)),
        Some(RESERVED),
        json!({"concurrency": RESERVED}),
    )
    .await
    .unwrap();
    assert_eq!(discovered.targets, 3);

    let request = GateRequest {
        run: discovered.run,
        cursor: None,
        map_error: None,
    };
    let response = gate(&store, &FakeAlarms::new(), request, 1_000).await.unwrap();
    assert_eq!(response.action, GateAction::Deploy);
    assert_eq!(
        response.concurrency, RESERVED,
        "the Map's MaxConcurrencyPath reads this"
    );
}

#[tokio::test(start_paused = true)]
async fn without_a_reserve_any_valid_concurrency_is_taken() {
    let store = FakeStore::new();
    discover(&store, default_spec(None), None, json!({"concurrency": 10_000}))
        .await
        .unwrap();
}
