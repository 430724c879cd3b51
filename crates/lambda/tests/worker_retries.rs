//! A worker invocation that timed out or crashed (`Lambda.Unknown`, `Sandbox.Timedout`,
//! `States.Timeout`) is invoked again by the state machine with the same request. Start and Poll
//! are idempotent: a retried Start follows what the first one launched (found by the run's
//! ClientRequestTokens, after the `started/` marker told it that it is a retry) and never
//! launches it twice, and a retried Poll looks at the same operation again. So the target ends
//! with what its operation came to, not Failed because a Lambda timed out. On the fakes and
//! paused time; the invocation is cut off mid-follow, as Lambda ends a timed-out one.

mod support;

use std::time::Duration;

use stackfleet_aws::fake::{Call, FakeCloud, FakeStore, Script};
use stackfleet_core::lifecycle::{Clock, TokioClock};
use stackfleet_core::ports::{PortError, RunStore};
use stackfleet_core::stack::StackStatus;
use stackfleet_core::{ErrorName, OutcomeKind, RunId};
use stackfleet_lambda::worker::{Worker, WorkerRequest, WorkerResponse};
use support::{lone_run, lone_target as target, poll_of, stored_outcome};

/// Step Functions' Retry interval before the retried invocation.
const RETRY_INTERVAL: Duration = Duration::from_secs(60);

type TestWorker = Worker<FakeCloud, FakeStore, TokioClock>;

/// A Start whose invocation Lambda ends after `runs_for` (its timeout), its answer lost.
async fn start_cut_off(worker: &TestWorker, run: &RunId, clock: TokioClock, runs_for: Duration) {
    let far = clock.now_ms() + 900_000;
    let invocation = worker.handle(support::start(run, &target()), far);
    let cut = tokio::time::timeout(runs_for, invocation).await;
    assert!(
        cut.is_err(),
        "the invocation was still following when it was cut off: {cut:?}"
    );
}

/// The state machine's Retry: the same request, after its interval, on a 150 s function; then
/// Wait and Poll until done.
async fn retried_to_the_end(
    worker: &TestWorker,
    request: WorkerRequest,
    clock: TokioClock,
) -> WorkerResponse {
    tokio::time::sleep(RETRY_INTERVAL).await;
    let deadline = || clock.now_ms() + 150_000;
    let mut response = worker.handle(request, deadline()).await.unwrap();
    while !response.done {
        tokio::time::sleep(Duration::from_secs(response.wait_seconds)).await;
        response = worker.handle(poll_of(response, 0), deadline()).await.unwrap();
    }
    response
}

#[tokio::test(start_paused = true)]
async fn a_start_cut_off_while_its_create_runs_adopts_it_when_retried() {
    let (cloud, store, clock) = (FakeCloud::new(), FakeStore::new(), TokioClock::new());
    let run = lone_run(&FakeCloud::new(), &store, "retries").await;
    cloud.script(&target(), [Script::succeed_after(Duration::from_secs(600))]);
    let worker = Worker::new(cloud.clone(), store.clone(), clock);

    start_cut_off(&worker, &run, clock, Duration::from_secs(25)).await;
    let response = retried_to_the_end(&worker, support::start(&run, &target()), clock).await;

    assert_eq!(response.outcome, Some(OutcomeKind::Created));
    assert_eq!(
        cloud.operations(&target()),
        vec![Call::CreateStack],
        "one create, adopted"
    );
}

#[tokio::test(start_paused = true)]
async fn a_start_cut_off_whose_create_then_ended_reports_created_not_a_second_operation() {
    let (cloud, store, clock) = (FakeCloud::new(), FakeStore::new(), TokioClock::new());
    let run = lone_run(&FakeCloud::new(), &store, "retries").await;
    cloud.script(&target(), [Script::succeed_after(Duration::from_secs(30))]);
    let worker = Worker::new(cloud.clone(), store.clone(), clock);

    // Cut at 25 s; the create ends at 30 s; the retry comes at 85 s.
    start_cut_off(&worker, &run, clock, Duration::from_secs(25)).await;
    let response = retried_to_the_end(&worker, support::start(&run, &target()), clock).await;

    assert_eq!(response.outcome, Some(OutcomeKind::Created), "not Unchanged");
    assert_eq!(
        stored_outcome(&store, &run)
            .await
            .expect("the outcome is stored")
            .kind(),
        OutcomeKind::Created
    );
    assert_eq!(
        cloud.operations(&target()),
        vec![Call::CreateStack],
        "no UpdateStack of the stack the first start created"
    );
}

#[tokio::test(start_paused = true)]
async fn a_start_cut_off_whose_create_then_failed_reports_that_failure_and_recreates_nothing() {
    let (cloud, store, clock) = (FakeCloud::new(), FakeStore::new(), TokioClock::new());
    let run = lone_run(&FakeCloud::new(), &store, "retries").await;
    let conflict = "Role with name FederatedAdmin already exists";
    cloud.script(
        &target(),
        [Script::fail_after(
            Duration::from_secs(30),
            "AdminRole",
            "AWS::IAM::Role",
            conflict,
        )],
    );
    let worker = Worker::new(cloud.clone(), store.clone(), clock);

    start_cut_off(&worker, &run, clock, Duration::from_secs(25)).await;
    let response = retried_to_the_end(&worker, support::start(&run, &target()), clock).await;

    assert_eq!(response.outcome, Some(OutcomeKind::Failed));
    let outcome = stored_outcome(&store, &run).await.expect("the outcome is stored");
    assert_eq!(outcome.error(), Some(ErrorName::StackFailed));
    let cause = serde_json::to_string(&outcome).unwrap();
    assert!(cause.contains(conflict), "the create's own root cause: {cause}");
    assert_eq!(
        cloud.operations(&target()),
        vec![Call::CreateStack],
        "the recreate policy did not delete the failed create and try again"
    );
}

#[tokio::test(start_paused = true)]
async fn a_start_cut_off_whose_update_then_ended_reports_updated() {
    let (cloud, store, clock) = (FakeCloud::new(), FakeStore::new(), TokioClock::new());
    let run = lone_run(&FakeCloud::new(), &store, "retries").await;
    cloud.put_stack(&target(), "org-baseline", StackStatus::CreateComplete);
    cloud.script(&target(), [Script::succeed_after(Duration::from_secs(30))]);
    let worker = Worker::new(cloud.clone(), store.clone(), clock);

    start_cut_off(&worker, &run, clock, Duration::from_secs(25)).await;
    let response = retried_to_the_end(&worker, support::start(&run, &target()), clock).await;

    assert_eq!(response.outcome, Some(OutcomeKind::Updated), "not Unchanged");
    assert_eq!(cloud.operations(&target()), vec![Call::UpdateStack]);
}

#[tokio::test(start_paused = true)]
async fn a_poll_whose_answer_was_lost_is_asked_again_and_reports_the_same_outcome_once() {
    let (cloud, store, clock) = (FakeCloud::new(), FakeStore::new(), TokioClock::new());
    let run = lone_run(&FakeCloud::new(), &store, "retries").await;
    cloud.script(&target(), [Script::succeed_after(Duration::from_secs(15))]);
    let worker = Worker::new(cloud.clone(), store.clone(), clock);
    // A deadline already past: each invocation takes one step.
    let started = worker.handle(support::start(&run, &target()), 0).await.unwrap();
    tokio::time::sleep(Duration::from_secs(20)).await;
    let state = started.state.unwrap();
    // The state machine's Retry sends the same input, `retried` ($$.State.RetryCount) counted up.
    let poll = |retried| WorkerRequest::Poll {
        run: run.clone(),
        target: target(),
        wave: 0,
        new_account: false,
        state: state.clone(),
        retried,
    };

    let lost = worker.handle(poll(0), 0).await.unwrap();
    let retried = retried_to_the_end(&worker, poll(1), clock).await;

    assert_eq!(lost.outcome, Some(OutcomeKind::Created));
    assert_eq!(retried.outcome, Some(OutcomeKind::Created));
    assert_eq!(
        stored_outcome(&store, &run)
            .await
            .expect("the outcome is stored")
            .kind(),
        OutcomeKind::Created
    );
    let outcomes = store.list(&format!("runs/{run}/outcomes/"), None).await.unwrap();
    assert_eq!(outcomes.items.len(), 1, "one outcome object: {outcomes:?}");
    assert_eq!(cloud.operations(&target()), vec![Call::CreateStack]);
}

#[tokio::test(start_paused = true)]
async fn a_start_retried_after_failing_before_any_launch_deploys_as_a_first_start_would() {
    let (cloud, store, clock) = (FakeCloud::new(), FakeStore::new(), TokioClock::new());
    let run = lone_run(&FakeCloud::new(), &store, "retries").await;
    // A stack of an earlier run: its events carry no token of this run.
    cloud.put_stack(&target(), "org-baseline", StackStatus::UpdateComplete);
    cloud.fail_next(
        &target(),
        Call::DescribeStacks,
        PortError::Throttled("Rate exceeded".into()),
    );
    let worker = Worker::new(cloud.clone(), store.clone(), clock);

    let thrown = worker
        .handle(support::start(&run, &target()), clock.now_ms() + 150_000)
        .await
        .unwrap_err();
    assert_eq!(
        thrown.name,
        ErrorName::Throttled,
        "thrown for the state machine to retry"
    );
    let response = retried_to_the_end(&worker, support::start(&run, &target()), clock).await;

    assert_eq!(response.outcome, Some(OutcomeKind::Updated));
    assert_eq!(cloud.operations(&target()), vec![Call::UpdateStack]);
}
