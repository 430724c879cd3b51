//! The handlers called directly, on the fakes and paused time: what each function reads, writes
//! and returns.

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use stackfleet_aws::fake::{Call, FakeCloud, FakeOrganization, FakeStore, FakeTemplates, Script, ROOT};
use stackfleet_core::lifecycle::{Clock, TokioClock};
use stackfleet_core::ports::{PortError, RunStore};
use stackfleet_core::run_keys::RunKeys;
use stackfleet_core::{AccountId, ErrorName, Outcome, OutcomeKind, RunId, Target};
use stackfleet_lambda::error::LambdaError;
use stackfleet_lambda::input::Acceptance;
use stackfleet_lambda::lister::ListerSettings;
use stackfleet_lambda::reducer::{reduce, ReduceRequest};
use stackfleet_lambda::worker::{CaughtError, Worker, WorkerRequest, WorkerResponse};
use support::{discover_on, fixture, start, templates};

fn id(n: u64) -> AccountId {
    format!("{n:012}").parse().unwrap()
}

fn target(n: u64) -> Target {
    format!("{n:012}:us-east-1").parse().unwrap()
}

/// The fixtures' Organization: management 123456789012; 111.., 222.., 333.. under the root.
fn organization() -> FakeOrganization {
    let org = FakeOrganization::new(&"123456789012".parse().unwrap());
    for n in [1, 2, 3] {
        org.add_account(&id(n * 111_111_111_111), &format!("member-{n}"), "ACTIVE", ROOT);
    }
    org.add_account(&id(444_444_444_444), "payments-prod", "ACTIVE", ROOT);
    org
}

/// Discover over the fixtures' Organization and default spec, under `acceptance`.
async fn discover_with(
    store: &FakeStore,
    cloud: &FakeCloud,
    templates: &FakeTemplates,
    acceptance: Acceptance,
    execution: &str,
    input: Value,
) -> Result<stackfleet_lambda::lister::Discovered, LambdaError> {
    let settings = ListerSettings {
        default_spec: fixture("default-spec.json"),
        acceptance,
        worker_concurrency: None,
    };
    discover_on(
        &organization(),
        cloud,
        store,
        templates,
        &settings,
        execution,
        input,
    )
    .await
}

async fn discover(
    store: &FakeStore,
    execution: &str,
    input: Value,
) -> Result<stackfleet_lambda::lister::Discovered, LambdaError> {
    discover_with(
        store,
        &FakeCloud::new(),
        &templates(),
        Acceptance::default(),
        execution,
        input,
    )
    .await
}

/// The targets of every wave the lister wrote, in order.
async fn listed(store: &FakeStore, run: &RunId) -> Vec<Target> {
    let keys = RunKeys::new(run);
    let mut all = Vec::new();
    for index in 0.. {
        let Some(text) = store.get(&keys.wave(index)).await.unwrap() else {
            break;
        };
        all.extend(serde_json::from_str::<Vec<Target>>(&text).unwrap());
    }
    all.sort();
    all
}

#[tokio::test(start_paused = true)]
async fn the_lister_writes_the_run_and_returns_compact_targets() {
    let store = FakeStore::new();
    let discovered = discover(
        &store,
        "deploy-2026-11-21-1",
        fixture("execution-input-pipeline.json"),
    )
    .await
    .unwrap();

    assert_eq!(
        discovered.run.as_str(),
        "deploy-2026-11-21-1-20261121T101413Z",
        "the execution's name and the second it started"
    );
    assert_eq!(
        listed(&store, &discovered.run).await,
        vec![
            target(111_111_111_111),
            target(333_333_333_333),
            target(444_444_444_444)
        ]
    );
    assert_eq!((discovered.targets, discovered.skipped), (3, 1));
    let record: stackfleet_core::wire::lister::RunRecord = serde_json::from_str(
        &store
            .get("runs/deploy-2026-11-21-1-20261121T101413Z/run.json")
            .await
            .unwrap()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        (record.concurrency, record.failure_tolerance),
        (20, stackfleet_core::rollout::FailureTolerance::Percent(10))
    );
    let keys = store.keys();
    for key in [
        "spec.json",
        "run.json",
        "waves/0.json",
        "outcomes/123456789012-us-east-1.json",
    ] {
        assert!(
            keys.contains(&format!("runs/deploy-2026-11-21-1-20261121T101413Z/{key}")),
            "{key} in {keys:?}"
        );
    }
    assert!(
        serde_json::to_string(&discovered).unwrap().len() < 200,
        "the Map's input stays small"
    );
}

#[tokio::test(start_paused = true)]
async fn a_new_account_event_targets_that_account_alone() {
    let store = FakeStore::new();
    let discovered = discover(
        &store,
        "new-account-444",
        fixture("event-create-account-result.json"),
    )
    .await
    .unwrap();
    assert_eq!(
        listed(&store, &discovered.run).await,
        vec![target(444_444_444_444)]
    );
    let record = stackfleet_lambda::records::record(&store, &discovered.run)
        .await
        .unwrap();
    assert!(record.new_account);
}

#[tokio::test(start_paused = true)]
async fn a_rerun_input_targets_exactly_its_list() {
    let store = FakeStore::new();
    let discovered = discover(&store, "rerun", fixture("execution-input-rerun.json"))
        .await
        .unwrap();
    assert_eq!(
        listed(&store, &discovered.run).await,
        vec![target(111_111_111_111), target(333_333_333_333)]
    );
    assert_eq!(discovered.skipped, 0);
}

#[tokio::test(start_paused = true)]
async fn bad_execution_input_is_refused_by_name() {
    let store = FakeStore::new();
    let mut input = fixture("execution-input-pipeline.json");
    input["targets"]["accounts"] = json!(["12345"]);
    let error = discover(&store, "bad", input).await.unwrap_err();
    assert_eq!(error.name, ErrorName::InvalidInput);
    assert!(error.message.contains("12 digits"), "{error}");

    let mut input = fixture("execution-input-pipeline.json");
    input["targets"]["ous"] = json!(["ou-ab12-nothere1"]);
    let error = discover(&store, "bad", input).await.unwrap_err();
    assert_eq!(error.name, ErrorName::InvalidInput);
    assert!(error.message.contains("does not exist"), "{error}");

    let cloud = FakeCloud::new();
    cloud.reject_templates("Template format error: unresolved [Nope]");
    let error = discover_with(
        &store,
        &cloud,
        &templates(),
        Acceptance::default(),
        "bad",
        fixture("execution-input-pipeline.json"),
    )
    .await
    .unwrap_err();
    assert_eq!(error.name, ErrorName::TemplateInvalid);
    assert!(
        store.keys().iter().all(|k| !k.starts_with("runs/bad-")),
        "a refused run writes nothing"
    );
}

/// A worker over the fakes, invoked as a Lambda function with this timeout: each invocation's
/// deadline is read on the worker's own (paused) clock. Deadlines: see tests/worker_deadline.rs.
struct Invocations {
    worker: Worker<FakeCloud, FakeStore, TokioClock>,
    clock: TokioClock,
    timeout_ms: u64,
}

impl Invocations {
    async fn handle(&self, request: WorkerRequest) -> Result<WorkerResponse, LambdaError> {
        let deadline_ms = self.clock.now_ms() + self.timeout_ms;
        self.worker.handle(request, deadline_ms).await
    }
}

fn worker(cloud: &FakeCloud, store: &FakeStore, timeout_seconds: u64) -> Invocations {
    let clock = TokioClock::new();
    Invocations {
        worker: Worker::new(cloud.clone(), store.clone(), clock),
        clock,
        timeout_ms: timeout_seconds * 1000,
    }
}

async fn seeded_run(store: &FakeStore) -> RunId {
    discover(store, "run-1", fixture("execution-input-rerun.json"))
        .await
        .unwrap()
        .run
}

/// A run whose failures never stop it.
async fn tolerant_run(store: &FakeStore) -> RunId {
    let mut input = fixture("execution-input-rerun.json");
    input["failureTolerance"] = json!("100%");
    discover(store, "run-1", input).await.unwrap().run
}

async fn stored_outcome(store: &FakeStore, run: &RunId, target: &Target) -> Outcome {
    let key = format!("runs/{run}/outcomes/{}-{}.json", target.account, target.region);
    serde_json::from_str(&store.get(&key).await.unwrap().expect("the outcome is stored")).unwrap()
}

#[tokio::test(start_paused = true)]
async fn a_duplicated_start_is_harmless() {
    let (cloud, store) = (FakeCloud::new(), FakeStore::new());
    let run = seeded_run(&store).await;
    let target = target(111_111_111_111);
    cloud.script(&target, [Script::succeed_after(Duration::from_secs(600))]);
    let worker = worker(&cloud, &store, 90);

    let first = worker.handle(start(&run, &target)).await.unwrap();
    let second = worker.handle(start(&run, &target)).await.unwrap();

    assert!(!first.done && !second.done);
    assert_eq!(
        cloud.operations(&target),
        vec![Call::CreateStack],
        "the second start adopted the first's create"
    );
}

#[tokio::test(start_paused = true)]
async fn assume_failures_are_outcomes_or_named_errors() {
    let (cloud, store) = (FakeCloud::new(), FakeStore::new());
    let run = tolerant_run(&store).await;
    let worker = worker(&cloud, &store, 90);

    let denied = target(111_111_111_111);
    cloud.deny_role(&denied.account);
    let response = worker.handle(start(&run, &denied)).await.unwrap();
    assert_eq!(response.outcome, Some(OutcomeKind::Failed));
    assert_eq!(
        stored_outcome(&store, &run, &denied).await.error(),
        Some(ErrorName::AccessDenied)
    );

    let fresh = target(333_333_333_333);
    cloud.not_ready_for(&fresh.account, 1);
    let request = WorkerRequest::Start {
        run: run.clone(),
        target: fresh.clone(),
        wave: 0,
        new_account: true,
    };
    let error = worker.handle(request.clone()).await.unwrap_err();
    assert_eq!(
        error.name,
        ErrorName::AccountNotReady,
        "thrown for the state machine to retry"
    );
    assert!(
        worker.handle(request).await.unwrap().done,
        "the retry goes through"
    );

    cloud.fail_next(
        &fresh,
        Call::DescribeStacks,
        PortError::Throttled("Rate exceeded".into()),
    );
    let error = worker.handle(start(&run, &fresh)).await.unwrap_err();
    assert_eq!(lambda_runtime::Diagnostic::from(error).error_type, "Throttled");
}

#[tokio::test(start_paused = true)]
async fn a_caught_failure_is_recorded_once_and_the_reducer_reports_it() {
    let (cloud, store) = (FakeCloud::new(), FakeStore::new());
    let run = seeded_run(&store).await;
    let worker = worker(&cloud, &store, 150);
    let (ok, broken) = (target(111_111_111_111), target(333_333_333_333));
    worker.handle(start(&run, &ok)).await.unwrap();

    let caught = CaughtError {
        error: "Throttled".into(),
        cause: "Rate exceeded".into(),
    };
    let fail = |t: &Target| WorkerRequest::Fail {
        run: run.clone(),
        target: t.clone(),
        wave: 0,
        error: caught.clone(),
    };
    assert_eq!(
        worker.handle(fail(&broken)).await.unwrap().outcome,
        Some(OutcomeKind::Failed)
    );
    assert_eq!(
        worker.handle(fail(&ok)).await.unwrap().outcome,
        Some(OutcomeKind::Created),
        "a real outcome is kept"
    );
    let failed = RunKeys::new(&run).failed();
    let markers: Vec<String> = store
        .keys()
        .into_iter()
        .filter(|k| k.starts_with(&failed))
        .collect();
    assert_eq!(
        markers,
        [format!("{failed}0/333333333333-us-east-1")],
        "one marker, for the failure only: what `stackfleet status` counts"
    );

    let reduced = reduce(&store, ReduceRequest { run: run.clone() }, 9_000)
        .await
        .unwrap();
    assert_eq!((reduced.summary.created, reduced.summary.failed), (1, 1));
    assert!(!reduced.within_tolerance);
    assert_eq!(reduced.failures[0].error, ErrorName::Throttled);
    assert!(
        reduced.cause.contains("333333333333:us-east-1"),
        "{}",
        reduced.cause
    );
    let key = reduced.resume_input_key.expect("a resume input");
    let rerun: stackfleet_core::Rollout =
        serde_json::from_str(&store.get(&key).await.unwrap().unwrap()).unwrap();
    assert_eq!(
        rerun.resume,
        Some(run.clone()),
        "it resumes this run: its waves, less its successes"
    );
    assert_eq!(
        rerun.stack_name.unwrap().as_str(),
        "org-baseline",
        "the rest of the document is kept"
    );
    assert!(store.keys().contains(&format!("runs/{run}/report.md")));
}

#[tokio::test(start_paused = true)]
async fn the_reducer_never_loses_a_target() {
    let store = FakeStore::new();
    let run = seeded_run(&store).await;
    let reduced = reduce(&store, ReduceRequest { run }, 9_000).await.unwrap();
    assert_eq!(
        reduced.summary.failed, 2,
        "no outcome was written for either target"
    );
    assert!(reduced.failures[0].cause.contains("no outcome was recorded"));
}
