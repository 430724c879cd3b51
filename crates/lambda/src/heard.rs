//! What one worker invocation heard from the caller's own APIs: its AssumeRole calls (the
//! caller's STS quota) and its calls to the run bucket. An invocation that was throttled there
//! leaves a marker with its tally (`RunKeys::throttled_marker`), from which the Gate sets the
//! next part's concurrency (`window::parts`). The calls it makes inside the target's account
//! (CloudFormation) are not counted: they throttle that target alone, which backs off by itself.
//!
//! The tally is the invocation's task-local, so the decorators need no handle threaded through
//! every call: a Lambda process serves one invocation at a time, but tests and benchmarks drive
//! many at once through one `Worker`.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};

use stackfleet_core::ports::{AssumeRequest, AssumeRole, Page, PortError, PortResult, RunStore};
use stackfleet_core::window::parts::{Heard, Tally};

tokio::task_local! {
    static TALLY: Invocation;
}

#[derive(Debug, Default)]
struct Counts {
    calls: AtomicU64,
    throttled: AtomicU64,
}

impl Counts {
    fn hear<T>(&self, answer: &PortResult<T>) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        if let Err(PortError::Throttled(_)) = answer {
            self.throttled.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn tally(&self) -> Tally {
        Tally {
            calls: self.calls.load(Ordering::Relaxed),
            throttled: self.throttled.load(Ordering::Relaxed),
        }
    }
}

#[derive(Debug, Default)]
struct Invocation {
    sts: Counts,
    bucket: Counts,
}

/// Outside an invocation's scope (nothing in a Lambda; a test's direct call): not counted.
fn hear<T>(api: fn(&Invocation) -> &Counts, answer: &PortResult<T>) {
    let _ = TALLY.try_with(|invocation| api(invocation).hear(answer));
}

/// Runs `invocation`, counting what the `Heard` ports answered inside it.
pub async fn tallied<T>(invocation: impl Future<Output = T>) -> (T, Heard) {
    TALLY
        .scope(Invocation::default(), async {
            let answer = invocation.await;
            let heard = TALLY.with(|invocation| Heard {
                sts: invocation.sts.tally(),
                bucket: invocation.bucket.tally(),
            });
            (answer, heard)
        })
        .await
}

/// A port of the caller's whose answers the invocation's tally hears.
#[derive(Debug, Clone)]
pub struct Caller<P>(pub P);

impl<A: AssumeRole> AssumeRole for Caller<A> {
    type Session = A::Session;

    async fn assume(&self, request: AssumeRequest<'_>) -> PortResult<A::Session> {
        let answer = self.0.assume(request).await;
        hear(|invocation| &invocation.sts, &answer);
        answer
    }

    fn waits_out_throttles(&self) -> bool {
        self.0.waits_out_throttles()
    }
}

impl<S: RunStore> RunStore for Caller<S> {
    async fn put(&self, key: &str, body: String, content_type: &str) -> PortResult<()> {
        let answer = self.0.put(key, body, content_type).await;
        hear(|invocation| &invocation.bucket, &answer);
        answer
    }

    async fn put_new(&self, key: &str, body: String, content_type: &str) -> PortResult<bool> {
        let answer = self.0.put_new(key, body, content_type).await;
        hear(|invocation| &invocation.bucket, &answer);
        answer
    }

    async fn get(&self, key: &str) -> PortResult<Option<String>> {
        let answer = self.0.get(key).await;
        hear(|invocation| &invocation.bucket, &answer);
        answer
    }

    async fn list(&self, prefix: &str, page: Option<&str>) -> PortResult<Page<String>> {
        let answer = self.0.list(prefix, page).await;
        hear(|invocation| &invocation.bucket, &answer);
        answer
    }
}
