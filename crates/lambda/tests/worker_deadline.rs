//! The worker's invocations end by their own deadline (`LambdaEvent.context.deadline`): it follows
//! the target while there is time, and hands it back to the state machine before Lambda would end
//! the invocation. On the fakes and paused time, so a fifty-minute operation takes milliseconds.

mod support;

use std::time::Duration;

use stackfleet_aws::fake::{Call, FakeCloud, FakeStore, Script};
use stackfleet_core::lifecycle::{Clock, TokioClock};
use stackfleet_core::OutcomeKind;
use stackfleet_lambda::worker::{Worker, WorkerRequest, WorkerResponse, HAND_BACK_MARGIN};
use support::{lone_run, lone_target as target, poll_of, stored_outcome};

/// What `cargo lambda watch` (1.9.2) sends as every invocation's deadline: 600,000 ms since the
/// epoch, long past.
const EMULATOR_DEADLINE_MS: u64 = 600_000;

/// The state machine's Wait, then Poll with the state it was handed (through JSON, as there).
async fn wait_then_poll(response: &WorkerResponse) -> WorkerRequest {
    let response: WorkerResponse = serde_json::from_value(serde_json::to_value(response).unwrap()).unwrap();
    tokio::time::sleep(Duration::from_secs(response.wait_seconds)).await;
    poll_of(response, 0)
}

fn seconds(n: u64) -> u64 {
    n * 1000
}

#[tokio::test(start_paused = true)]
async fn an_operation_that_ends_well_before_the_deadline_finishes_in_one_invocation() {
    let (cloud, store, clock) = (FakeCloud::new(), FakeStore::new(), TokioClock::new());
    let run = lone_run(&FakeCloud::new(), &store, "deadlines").await;
    cloud.script(&target(), [Script::succeed_after(Duration::from_secs(40))]);
    let worker = Worker::new(cloud.clone(), store.clone(), clock);

    let invoked_at = clock.now_ms();
    let response = worker
        .handle(support::start(&run, &target()), invoked_at + seconds(150))
        .await
        .unwrap();

    assert!(response.done, "{response:?}");
    assert_eq!(response.outcome, Some(OutcomeKind::Created));
    let outcome = stored_outcome(&store, &run).await.expect("the outcome is stored");
    assert_eq!(outcome.kind(), OutcomeKind::Created);
    // Looks at once and at 1.25, 2.5, 5, 10, 20, 30 and 40 s: the last one finds CREATE_COMPLETE
    // as it ends.
    assert_eq!(clock.now_ms() - invoked_at, seconds(40));
    assert_eq!(outcome.duration_ms, seconds(40), "noticed as it ended");
    assert_eq!(outcome.aws_calls, 3 + 8, "assume, describe, create, eight looks");
}

#[tokio::test(start_paused = true)]
async fn a_near_deadline_hands_the_target_back_with_the_margin_left() {
    let (cloud, store, clock) = (FakeCloud::new(), FakeStore::new(), TokioClock::new());
    let run = lone_run(&FakeCloud::new(), &store, "deadlines").await;
    cloud.script(&target(), [Script::succeed_after(Duration::from_secs(10 * 60))]);
    let worker = Worker::new(cloud.clone(), store.clone(), clock);

    let invoked_at = clock.now_ms();
    let deadline = invoked_at + seconds(90);
    let response = worker
        .handle(support::start(&run, &target()), deadline)
        .await
        .unwrap();

    assert!(!response.done, "{response:?}");
    assert_eq!(
        response.wait_seconds, 10,
        "to the next look of the early schedule, at 40 s"
    );
    let returned_at = clock.now_ms();
    let margin = u64::try_from(HAND_BACK_MARGIN.as_millis()).unwrap();
    assert!(
        returned_at + margin <= deadline,
        "handed back {} ms before the deadline",
        deadline - returned_at
    );
    // 90 s less the 60 s margin leaves 30 s: looks at 0, 1.25, 2.5, 5, 10, 20 and 30 s, none at 40.
    assert_eq!(returned_at - invoked_at, seconds(30), "it used the time it had");
    assert!(stored_outcome(&store, &run).await.is_none());
    assert_eq!(cloud.operations(&target()), vec![Call::CreateStack]);
}

#[tokio::test(start_paused = true)]
async fn a_deadline_already_past_still_takes_one_step_per_invocation() {
    let (cloud, store, clock) = (FakeCloud::new(), FakeStore::new(), TokioClock::new());
    let run = lone_run(&FakeCloud::new(), &store, "deadlines").await;
    cloud.script(&target(), [Script::succeed_after(Duration::from_secs(15))]);
    let worker = Worker::new(cloud.clone(), store.clone(), clock);

    let invoked_at = clock.now_ms();
    let started = worker
        .handle(support::start(&run, &target()), EMULATOR_DEADLINE_MS)
        .await
        .unwrap();
    assert!(!started.done, "the create is launched and handed back at once");
    assert_eq!(clock.now_ms(), invoked_at, "no look was waited for");
    assert_eq!(
        started.wait_seconds, 2,
        "the first early look, 1.25 s, in a Wait's whole seconds"
    );
    assert_eq!(cloud.operations(&target()), vec![Call::CreateStack]);

    let mut response = started;
    let mut polls = 0;
    while !response.done {
        let poll = wait_then_poll(&response).await;
        response = worker.handle(poll, EMULATOR_DEADLINE_MS).await.unwrap();
        polls += 1;
    }
    // The early schedule in whole seconds: looks at 2, 3, 5 and 10 s, CREATE_COMPLETE at 20 s.
    assert_eq!(polls, 5);
    assert_eq!(clock.now_ms() - invoked_at, seconds(20));
    assert_eq!(response.outcome, Some(OutcomeKind::Created));
}

#[tokio::test(start_paused = true)]
async fn a_long_operation_spans_invocations_and_every_call_is_counted() {
    let (cloud, store, clock) = (FakeCloud::new(), FakeStore::new(), TokioClock::new());
    let run = lone_run(&FakeCloud::new(), &store, "deadlines").await;
    // 50 minutes: within the spec's default one-hour operation timeout.
    cloud.script(&target(), [Script::succeed_after(Duration::from_secs(50 * 60))]);
    let worker = Worker::new(cloud.clone(), store.clone(), clock);
    // Each invocation runs on a function with a 150 s timeout.
    let deadline = || clock.now_ms() + seconds(150);

    let mut response = worker
        .handle(support::start(&run, &target()), deadline())
        .await
        .unwrap();
    let mut invocations = 1;
    while !response.done {
        let poll = wait_then_poll(&response).await;
        response = worker.handle(poll, deadline()).await.unwrap();
        invocations += 1;
    }

    let outcome = stored_outcome(&store, &run).await.expect("the outcome is stored");
    assert_eq!(outcome.kind(), OutcomeKind::Created);
    // The first invocation looks until 40 s; then each hand-back doubles the age (80, 160,
    // 320 s), at most 300 s later: 620, 920, ... 3,020 s. A fixed 10 s interval, polled for 90 s
    // per invocation, took 31 invocations and about 2,800 s of Lambda time.
    assert_eq!(outcome.duration_ms, seconds(3020));
    assert_eq!(invocations, 13);
    assert_eq!(cloud.operations(&target()), vec![Call::CreateStack]);
    assert_eq!(
        outcome.aws_calls as usize,
        cloud.total_calls(),
        "one AssumeRole per invocation and every describe are in the outcome"
    );
}

#[tokio::test(start_paused = true)]
async fn a_ten_minute_operation_waits_in_the_state_machine_once_it_is_older_than_45_seconds() {
    let (cloud, store, clock) = (FakeCloud::new(), FakeStore::new(), TokioClock::new());
    let run = lone_run(&FakeCloud::new(), &store, "deadlines").await;
    cloud.script(&target(), [Script::succeed_after(Duration::from_secs(10 * 60))]);
    let worker = Worker::new(cloud.clone(), store.clone(), clock);
    let launched_at = clock.now_ms();

    let (mut request, mut waits, mut inside_ms) = (support::start(&run, &target()), Vec::new(), 0);
    let response = loop {
        let invoked_at = clock.now_ms();
        let response = worker.handle(request, invoked_at + seconds(150)).await.unwrap();
        inside_ms += clock.now_ms() - invoked_at;
        if response.done {
            break response;
        }
        waits.push(response.wait_seconds);
        request = wait_then_poll(&response).await;
    };

    assert_eq!(response.outcome, Some(OutcomeKind::Created));
    assert_eq!(
        waits,
        [40, 80, 160, 300],
        "each Wait as long as the operation's age, at most 300 s"
    );
    assert_eq!(
        inside_ms,
        seconds(40),
        "only the early looks waited inside an invocation"
    );
    assert_eq!(clock.now_ms() - launched_at, seconds(620), "noticed at 620 s");
}
