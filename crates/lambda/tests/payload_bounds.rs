//! Step Functions refuses a state whose input or output passes 256 KiB
//! (`States.DataLimitExceeded`, which no Catch takes). Every state's payload is measured here at
//! 20,000 targets (10,000 accounts x 2 regions) in waves, every one of them failing with its own
//! text, through the real handlers on the fakes: none grows with the fleet beyond one wave part.

mod support;

use serde::Serialize;
use serde_json::json;
use stackfleet_aws::fake::{FakeAlarms, FakeCloud, FakeOrganization, FakeStore, ROOT};
use stackfleet_core::wire::gate::{GateAction, GateRequest, GateResponse, PART_SIZE};
use stackfleet_core::wire::worker::CaughtError;
use stackfleet_core::{AccountId, ErrorName, Outcome, RootCause};
use stackfleet_lambda::gate::gate;
use stackfleet_lambda::lister::ListerRequest;
use stackfleet_lambda::records::put_outcome;
use stackfleet_lambda::reducer::{reduce, ReduceRequest};
use stackfleet_lambda::worker::WorkerRequest;

const ACCOUNTS: u64 = 10_000;
const LIMIT: usize = 256 * 1024;
/// What the test holds every payload under: the limit with a fifth to spare.
const BOUND: usize = LIMIT * 4 / 5;

fn size<T: Serialize>(value: &T) -> usize {
    serde_json::to_string(value).unwrap().len()
}

#[derive(Default)]
struct Largest(Vec<(&'static str, usize)>);

impl Largest {
    fn saw(&mut self, state: &'static str, bytes: usize) {
        match self.0.iter_mut().find(|(s, _)| *s == state) {
            Some((_, largest)) => *largest = (*largest).max(bytes),
            None => self.0.push((state, bytes)),
        }
    }
}

#[tokio::test]
async fn no_state_passes_256_kib_at_20000_targets_and_20000_distinct_failures() {
    let org = FakeOrganization::new(&"999999999999".parse().unwrap());
    let accounts: Vec<AccountId> = (0..ACCOUNTS)
        .map(|n| format!("{:012}", 100_000_000_000 + n).parse().unwrap())
        .collect();
    for (n, id) in accounts.iter().enumerate() {
        org.add_account(id, &format!("member-{n}"), "ACTIVE", ROOT);
    }
    let store = FakeStore::with_s3_pages();
    let input = json!({
        "stackName": "org-baseline",
        "template": {"url": support::TEMPLATE_URL},
        "targets": {"regions": ["us-east-1", "ap-southeast-2"]},
        "concurrency": 10000,
        "failureTolerance": "100%",
        "waves": [
            {"name": "canary", "accounts": [accounts[0], accounts[1]]},
            {"percent": 10, "failureTolerance": "100%"},
            {"percent": 100, "failureTolerance": "100%"}
        ]
    });
    let mut largest = Largest::default();
    let request = ListerRequest {
        execution: "org-baseline-scale".into(),
        start_time: Some(support::START_TIME.into()),
        input,
    };
    largest.saw("Discover (input)", size(&request));
    let settings = support::open_settings(json!({}));
    let discovered = support::discover_on(
        &org,
        &FakeCloud::new(),
        &store,
        &support::templates(),
        &settings,
        &request.execution,
        request.input.clone(),
    )
    .await
    .unwrap();
    assert_eq!(discovered.targets, 20_000);
    largest.saw("Discover (output)", size(&discovered));
    let run = discovered.run.clone();

    // The state machine's loop: Gate, then the Map over the part, until the Gate says done.
    let mut request = GateRequest {
        run: run.clone(),
        cursor: None,
        map_error: None,
    };
    let mut parts = 0;
    let mut failed_so_far = 0u64;
    loop {
        largest.saw("Gate (input)", size(&request));
        let response: GateResponse = gate(&store, &FakeAlarms::new(), request.clone(), 1_000)
            .await
            .unwrap();
        largest.saw("Gate, Deploy Map, Bake (output = input)", size(&response));
        match response.action {
            GateAction::Deploy => {}
            GateAction::Done => break,
            other => panic!("unexpected {other:?}"),
        }
        parts += 1;
        assert!(response.items.len() <= PART_SIZE);
        for target in &response.items {
            let start = WorkerRequest::Start {
                run: run.clone(),
                target: target.clone(),
                wave: response.wave,
                new_account: false,
            };
            largest.saw("Start (input)", size(&start));
            // Every target fails with a text of its own, as CloudFormation's do (a request ID
            // each, and here a resource name of its own that no normalising merges).
            failed_so_far += 1;
            let outcome = Outcome::failed(
                target.clone(),
                ErrorName::StackFailed,
                RootCause::message(format!(
                    "Bucket b{failed_so_far}x already exists (Service: S3, Status Code: 409, Request ID: {failed_so_far:08x}-0b7d-4c53-9a61-6f6f1d2a9b11)"
                )),
                1_000,
                6,
            );
            put_outcome(&store, &run, response.wave, &outcome).await.unwrap();
        }
        request = GateRequest {
            run: run.clone(),
            cursor: response.cursor.clone(),
            map_error: None,
        };
    }
    assert!(
        parts >= 6,
        "a wave over {PART_SIZE} targets runs in parts: {parts}"
    );
    let caught = CaughtError {
        error: "States.TaskFailed".into(),
        cause: "x".repeat(32 * 1024),
    };
    let fail = WorkerRequest::Fail {
        run: run.clone(),
        target: "100000000000:us-east-1".parse().unwrap(),
        wave: 0,
        error: caught,
    };
    largest.saw("RecordFailure (input, a 32 KiB cause)", size(&fail));

    let reduced = reduce(&store, ReduceRequest { run: run.clone() }, 2_000)
        .await
        .unwrap();
    assert_eq!(reduced.summary.failed, 20_000);
    assert_eq!(reduced.failure_groups, 20_000, "every text distinct");
    largest.saw("Reduce, Halted?, Fail (output)", size(&reduced));

    println!("largest payload per state at 20,000 targets, 20,000 distinct failures (limit {LIMIT} bytes):");
    for (state, bytes) in &largest.0 {
        println!(
            "  {state:<45} {bytes:>7} bytes  ({:.0}% of the limit)",
            *bytes as f64 * 100.0 / LIMIT as f64
        );
        assert!(*bytes < BOUND, "{state}: {bytes} bytes, over {BOUND}");
    }
}
