//! A Poll whose invocation launched the next operation of a recovery or of a wait (the update
//! after ContinueUpdateRollback, our update once somebody else's ended, the create after the
//! recovery delete), followed it, and was cut off (a Lambda timeout or crash) is retried by the
//! state machine with the state it was first given and `retried` (`$$.State.RetryCount`) above
//! 0. The retry follows the operation that first try launched, found by the run's token: it does
//! not replay the old phase (a false NeedsAttention, our own update taken for somebody else's and
//! made again, a second CreateStack). On the fakes and paused time.

mod support;

use std::time::Duration;

use stackfleet_aws::fake::{Call, FakeCloud, FakeStore, Script};
use stackfleet_core::lifecycle::{Clock, TokioClock};
use stackfleet_core::stack::StackStatus;
use stackfleet_core::{ErrorName, OutcomeKind, RunId};
use stackfleet_lambda::worker::{Worker, WorkerRequest, WorkerResponse};
use support::{lone_run, lone_target as target, poll_of, stored_outcome};

const STACK: &str = "org-baseline";
/// Step Functions' Retry interval before the retried invocation.
const RETRY_INTERVAL: Duration = Duration::from_secs(60);

type TestWorker = Worker<FakeCloud, FakeStore, TokioClock>;

/// One target, polled every 10 s, with the default recovery (`recreate`); a worker over `cloud`.
async fn seeded(cloud: &FakeCloud) -> (FakeStore, TokioClock, TestWorker, RunId) {
    let (store, clock) = (FakeStore::new(), TokioClock::new());
    let run = lone_run(cloud, &store, "polls").await;
    let worker = Worker::new(cloud.clone(), store.clone(), clock);
    (store, clock, worker, run)
}

/// The Poll after a Start that took one step (its deadline already past) and a 20 s Wait.
async fn first_poll(worker: &TestWorker, run: &RunId) -> WorkerRequest {
    let started = worker.handle(support::start(run, &target()), 0).await.unwrap();
    assert!(
        !started.done,
        "the Start launched something to follow: {started:?}"
    );
    tokio::time::sleep(Duration::from_secs(20)).await;
    poll_of(started, 0)
}

/// `request`'s invocation ended by Lambda after 25 s, its answer lost; then the state machine's
/// Retry of it (`retried` 1) after its interval, on a 150 s function, then Wait and Poll to the end.
async fn cut_off_then_retried(
    worker: &TestWorker,
    request: WorkerRequest,
    clock: TokioClock,
) -> WorkerResponse {
    let invocation = worker.handle(request.clone(), clock.now_ms() + 900_000);
    let cut = tokio::time::timeout(Duration::from_secs(25), invocation).await;
    assert!(
        cut.is_err(),
        "the invocation was still following when it was cut off: {cut:?}"
    );
    tokio::time::sleep(RETRY_INTERVAL).await;
    let WorkerRequest::Poll {
        run,
        target,
        wave,
        new_account,
        state,
        ..
    } = request
    else {
        panic!("a Poll is retried here: {request:?}");
    };
    let retry = WorkerRequest::Poll {
        run,
        target,
        wave,
        new_account,
        state,
        retried: 1,
    };
    let deadline = || clock.now_ms() + 150_000;
    let mut response = worker.handle(retry, deadline()).await.unwrap();
    while !response.done {
        tokio::time::sleep(Duration::from_secs(response.wait_seconds)).await;
        response = worker.handle(poll_of(response, 0), deadline()).await.unwrap();
    }
    response
}

#[tokio::test(start_paused = true)]
async fn a_poll_cut_off_after_its_continued_rollback_led_to_the_update_reports_updated() {
    let cloud = FakeCloud::new();
    let (store, clock, worker, run) = seeded(&cloud).await;
    cloud.put_stack(&target(), STACK, StackStatus::UpdateRollbackFailed);
    // The continued rollback ends at 10 s; the update the Poll launches at 20 s ends at 80 s,
    // after the cut (45 s) and before the retry (105 s).
    cloud.script(
        &target(),
        [
            Script::succeed_after(Duration::from_secs(10)),
            Script::succeed_after(Duration::from_secs(60)),
        ],
    );
    let poll = first_poll(&worker, &run).await;

    let response = cut_off_then_retried(&worker, poll, clock).await;

    assert_eq!(response.outcome, Some(OutcomeKind::Updated), "not NeedsAttention");
    let outcome = stored_outcome(&store, &run).await.expect("the outcome is stored");
    assert_eq!(outcome.recovered_from, Some(StackStatus::UpdateRollbackFailed));
    assert_eq!(
        cloud.operations(&target()),
        vec![Call::ContinueUpdateRollback, Call::UpdateStack]
    );
}

#[tokio::test(start_paused = true)]
async fn a_poll_cut_off_after_launching_our_update_once_somebody_elses_ended_reports_its_failure() {
    let cloud = FakeCloud::new();
    let (store, clock, worker, run) = seeded(&cloud).await;
    cloud.put_stack(&target(), STACK, StackStatus::CreateComplete);
    cloud.begin_foreign_update(&target(), STACK, Duration::from_secs(15));
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
    let poll = first_poll(&worker, &run).await;

    let response = cut_off_then_retried(&worker, poll, clock).await;

    assert_eq!(response.outcome, Some(OutcomeKind::Failed), "not Unchanged");
    let outcome = stored_outcome(&store, &run).await.expect("the outcome is stored");
    assert_eq!(outcome.error(), Some(ErrorName::StackFailed));
    let cause = &outcome.failure().unwrap().root_cause;
    assert_eq!(cause.reason, conflict, "our update's own root cause");
    assert_eq!(
        cloud.count(Call::UpdateStack),
        1,
        "the failed update was not made again"
    );
}

#[tokio::test(start_paused = true)]
async fn a_poll_cut_off_after_the_recovery_delete_led_to_the_create_makes_no_second_create() {
    let cloud = FakeCloud::new();
    let (store, clock, worker, run) = seeded(&cloud).await;
    cloud.put_stack(&target(), STACK, StackStatus::RollbackComplete);
    let conflict = "Role with name FederatedAdmin already exists";
    cloud.script(
        &target(),
        [
            Script::succeed_after(Duration::from_secs(10)),
            Script::fail_after(Duration::from_secs(30), "AdminRole", "AWS::IAM::Role", conflict),
        ],
    );
    let poll = first_poll(&worker, &run).await;

    let response = cut_off_then_retried(&worker, poll, clock).await;

    assert_eq!(response.outcome, Some(OutcomeKind::Failed));
    let outcome = stored_outcome(&store, &run).await.expect("the outcome is stored");
    assert_eq!(outcome.error(), Some(ErrorName::StackFailed));
    assert_eq!(outcome.failure().unwrap().root_cause.reason, conflict);
    assert_eq!(outcome.recovered_from, Some(StackStatus::RollbackComplete));
    assert_eq!(
        cloud.operations(&target()),
        vec![Call::DeleteStack, Call::CreateStack]
    );
    assert_eq!(
        cloud.count(Call::CreateStack),
        1,
        "CreateStack was not called again"
    );
}
