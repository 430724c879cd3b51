//! The worker's invocations for one long operation, on the fakes and a paused clock: how many
//! invocations and Waits an operation of each length takes, how long the worker waits inside
//! them, and when the operation is noticed. `scripts/bench cost` prices these with what it
//! measured in aws-local-stepfunctions (transitions per Wait and Poll, Lambda time per
//! invocation): neither moto nor `cargo lambda watch` can hold an operation for ten minutes
//! (moto ends it at once; the emulator's deadline is long past, so every invocation takes one
//! step). Prints one JSON object per operation length.

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::Duration;

use serde_json::{json, Value};
use stackfleet_aws::fake::{FakeCloud, FakeOrganization, FakeStore, Script, ROOT};
use stackfleet_core::lifecycle::{Clock, TokioClock};
use stackfleet_core::OutcomeKind;
use stackfleet_lambda::worker::{Worker, WorkerRequest};

/// The worker function's timeout in infra/lib/stackfleet.ts (WORKER_TIMEOUT): each invocation's
/// deadline is this after it starts.
const WORKER_TIMEOUT_MS: u64 = 150_000;

const LENGTHS: [u64; 7] = [10, 40, 120, 300, 600, 1800, 3600];

async fn follow(seconds: u64) -> Value {
    let target = support::target(1);
    let (cloud, store, clock) = (FakeCloud::new(), FakeStore::new(), TokioClock::new());
    let org = FakeOrganization::new(&"123456789012".parse().expect("account"));
    org.add_account(&target.account, "member-1", "ACTIVE", ROOT);
    // The defaults: poll interval 10 s (the fixtures' stored default says 1 s); a timeout above
    // the longest operation.
    let input = json!({
        "targets": { "list": [target.to_string()] },
        "pollIntervalSeconds": 10,
        "operationTimeoutSeconds": 7200,
    });
    let settings = support::open_settings(support::fixture("default-spec.json"));
    let run = support::discover_on(
        &org,
        &FakeCloud::new(),
        &store,
        &support::templates(),
        &settings,
        "bench",
        input,
    )
    .await
    .expect("discover")
    .run;
    cloud.script(&target, [Script::succeed_after(Duration::from_secs(seconds))]);
    let worker = Worker::new(cloud, store, clock);

    let launched_ms = clock.now_ms();
    let (mut request, mut invocations, mut inside_ms) = (support::start(&run, &target), 0u64, 0u64);
    loop {
        let invoked_ms = clock.now_ms();
        let response = worker
            .handle(request, invoked_ms + WORKER_TIMEOUT_MS)
            .await
            .expect("an invocation");
        invocations += 1;
        inside_ms += clock.now_ms() - invoked_ms;
        if response.done {
            assert_eq!(response.outcome, Some(OutcomeKind::Created));
            break;
        }
        tokio::time::sleep(Duration::from_secs(response.wait_seconds)).await;
        request = WorkerRequest::Poll {
            run: response.run,
            target: response.target,
            wave: response.wave,
            new_account: response.new_account,
            state: response.state.expect("a pending response carries its state"),
            retried: 0,
        };
    }
    json!({
        "seconds": seconds,
        "invocations": invocations,
        "waits": invocations - 1,
        "insideSeconds": inside_ms as f64 / 1000.0,
        "noticedSeconds": (clock.now_ms() - launched_ms) as f64 / 1000.0,
    })
}

fn main() {
    for seconds in LENGTHS {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .expect("runtime");
        println!("{}", runtime.block_on(follow(seconds)));
    }
}
