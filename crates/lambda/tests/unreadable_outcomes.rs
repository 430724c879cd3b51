//! One outcome object that cannot be read (not JSON, another target's, refused by S3) is reported
//! for its target, Failed with the error and the key; the rest of the report stands. A passing
//! fault (throttling) fails the Reduce step instead, which the state machine retries.

mod support;

use serde_json::json;
use stackfleet_aws::fake::FakeStore;
use stackfleet_core::ports::{Page, PortError, PortResult, RunStore};
use stackfleet_core::report::Report;
use stackfleet_core::run_keys::RunKeys;
use stackfleet_core::{ErrorName, OutcomeKind, Rollout, RunId};
use stackfleet_lambda::reducer::{reduce, ReduceRequest, Reduced};
use support::{rollout, target, Machine};

/// The run store, but a read of `key` fails with `error`.
struct Refusing {
    store: FakeStore,
    key: String,
    error: PortError,
}

impl RunStore for Refusing {
    async fn put(&self, key: &str, body: String, content_type: &str) -> PortResult<()> {
        self.store.put(key, body, content_type).await
    }

    async fn put_new(&self, key: &str, body: String, content_type: &str) -> PortResult<bool> {
        self.store.put_new(key, body, content_type).await
    }

    async fn get(&self, key: &str) -> PortResult<Option<String>> {
        if key == self.key {
            return Err(self.error.clone());
        }
        self.store.get(key).await
    }

    async fn list(&self, prefix: &str, page: Option<&str>) -> PortResult<Page<String>> {
        self.store.list(prefix, page).await
    }
}

/// A run of three targets, all created.
async fn three_created() -> (Machine, RunId) {
    let machine = Machine::new(3);
    let ended = machine.execute("nightly", rollout(&json!([]))).await;
    assert_eq!(ended.reduced.summary.created, 3);
    (machine, ended.reduced.run)
}

async fn report_of<S: RunStore>(store: &S, reduced: &Reduced) -> Report {
    serde_json::from_str(&store.get(&reduced.report_key).await.unwrap().unwrap()).unwrap()
}

/// (target, kind, failure cause) of every outcome of the report.
fn rows(report: &Report) -> Vec<(String, OutcomeKind, Option<String>)> {
    report
        .outcomes
        .iter()
        .map(|o| {
            let cause = o.failure().map(|f| format!("{}: {}", f.error, f.root_cause));
            (o.target.to_string(), o.kind(), cause)
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn garbage_in_one_outcome_object_fails_that_target_alone_naming_the_key() {
    let (machine, run) = three_created().await;
    let keys = RunKeys::new(&run);
    let broken = keys.outcome(&target(1));
    machine
        .store
        .put(&broken, "{\"kind\": \"Crea".into(), "application/json")
        .await
        .unwrap();
    // Another target's outcome under target 2's key, and an object that is no target's.
    let first = machine.store.object(&keys.outcome(&target(0)));
    machine
        .store
        .put(&keys.outcome(&target(2)), first, "application/json")
        .await
        .unwrap();
    let stray = format!("{}notes.txt", keys.outcomes());
    machine
        .store
        .put(&stray, "hello".into(), "text/plain")
        .await
        .unwrap();

    let reduced = reduce(&machine.store, ReduceRequest { run: run.clone() }, 9_000)
        .await
        .unwrap();
    let s = reduced.summary;
    assert_eq!(
        (s.created, s.failed, s.skipped),
        (1, 2, 1),
        "and the management account skipped"
    );
    let report = report_of(&machine.store, &reduced).await;
    assert_eq!(
        rows(&report)[..3],
        [
            (target(0).to_string(), OutcomeKind::Created, None),
            (
                target(1).to_string(),
                OutcomeKind::Failed,
                Some(format!(
                    "Internal: the outcome object {broken} could not be read: not an outcome: \
                     EOF while parsing a string at line 1 column 14"
                ))
            ),
            (
                target(2).to_string(),
                OutcomeKind::Failed,
                Some(format!(
                    "Internal: the outcome object {} could not be read: it holds the outcome of {}",
                    keys.outcome(&target(2)),
                    target(0)
                ))
            ),
        ]
    );
    // Both are re-run; the created target is not.
    let key = reduced.resume_input_key.expect("a resume input");
    let resume: Rollout = serde_json::from_str(&machine.store.object(&key)).unwrap();
    assert_eq!(resume.resume, Some(run));
    assert_eq!(report.rerun_targets(), [target(1), target(2)]);
    assert!(
        report.to_markdown().contains(&broken),
        "the Markdown names the key"
    );
}

#[tokio::test(start_paused = true)]
async fn an_outcome_object_s3_refuses_is_that_target_failing_with_the_refusal() {
    let (machine, run) = three_created().await;
    let key = RunKeys::new(&run).outcome(&target(2));
    let store = Refusing {
        store: machine.store.clone(),
        key: key.clone(),
        error: PortError::AccessDenied("KMS key disabled".into()),
    };
    let reduced = reduce(&store, ReduceRequest { run }, 9_000).await.unwrap();
    assert_eq!((reduced.summary.created, reduced.summary.failed), (2, 1));
    let report = report_of(&store, &reduced).await;
    assert_eq!(
        rows(&report)[2],
        (
            target(2).to_string(),
            OutcomeKind::Failed,
            Some(format!(
                "Internal: the outcome object {key} could not be read: access denied: KMS key disabled"
            ))
        )
    );
}

#[tokio::test(start_paused = true)]
async fn a_throttled_read_fails_the_step_to_be_retried_not_the_target() {
    let (machine, run) = three_created().await;
    let before = machine.store.object(&RunKeys::new(&run).report_json());
    let store = Refusing {
        store: machine.store.clone(),
        key: RunKeys::new(&run).outcome(&target(0)),
        error: PortError::Throttled("SlowDown".into()),
    };
    let error = reduce(&store, ReduceRequest { run: run.clone() }, 9_000)
        .await
        .unwrap_err();
    assert_eq!(error.name, ErrorName::Throttled);
    assert_eq!(
        machine.store.object(&RunKeys::new(&run).report_json()),
        before,
        "the report is not rewritten with a target failed for a passing fault"
    );
}
