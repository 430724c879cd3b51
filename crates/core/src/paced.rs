//! A local run's targets under one in-flight window (`window::Window`): the caller's own calls
//! report to it through a decorator on their port, and the runner starts a target only while
//! the window has room.
//!
//! Where a throttle came from is told by the port that returned it, never by parsing AWS text:
//! AssumeRole is called with the caller's credentials against the caller's STS quota, so its
//! throttles lower the window for every target. A session's calls (`StackOperations`) are made
//! inside one target's account, against that account's CloudFormation quota: they are not
//! wrapped, and their throttles back off only that target (the lifecycle's own retries).
//! Organizations and the run bucket are the caller's too, but a local run calls Organizations
//! only before its first target starts, and has no run bucket.

use std::collections::{BTreeMap, VecDeque};
use std::future::{poll_fn, Future};
use std::sync::{Mutex, MutexGuard};
use std::task::Poll;
use std::time::Duration;

use futures::stream::{FuturesUnordered, StreamExt};
use tokio::sync::oneshot;

use crate::ids::Target;
use crate::lifecycle::Clock;
use crate::ports::{AssumeRequest, AssumeRole, PortError, PortResult};
use crate::window::{Lowered, Window};

/// How a rollout sets how many targets are in flight.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Pacing {
    /// The configured concurrency is a ceiling: throttling of the caller's APIs lowers the
    /// number of targets in flight, and it climbs back when the throttling stops.
    #[default]
    Adaptive,
    /// Always the configured concurrency, throttled or not.
    Fixed,
}

/// A change of the window that a user is told about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pace {
    /// Throttled by the caller's `api`: `limit` targets in flight from now, `was` before.
    Lowered {
        api: &'static str,
        limit: usize,
        was: usize,
    },
    /// Back at the configured concurrency.
    Restored { limit: usize },
}

/// As progress shows it.
impl std::fmt::Display for Pace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Lowered { api, limit, was } => {
                write!(f, "throttled by {api}: {limit} targets in flight, was {was}")
            }
            Self::Restored { limit } => {
                write!(f, "no longer throttled: {limit} targets in flight again")
            }
        }
    }
}

#[derive(Debug)]
struct Shared {
    window: Window,
    /// Targets throttled by the caller's API, in the order they were, each waiting for room to
    /// call again: they are not in flight meanwhile.
    parked: VecDeque<(Target, oneshot::Sender<()>)>,
    /// What each parked (or released, not yet called again) target waits on.
    tickets: BTreeMap<Target, oneshot::Receiver<()>>,
    /// Told to the runner at its next turn: a target's call cannot reach the user itself.
    untold: Vec<Pace>,
    lowered: bool,
}

/// The window of one rollout, shared by its targets and kept across its waves: a quota does not
/// forget a burst because a wave ended.
pub struct Limiter<'c> {
    pacing: Pacing,
    shared: Mutex<Shared>,
    clock: &'c dyn Clock,
}

impl std::fmt::Debug for Limiter<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiter")
            .field("shared", &self.shared)
            .finish_non_exhaustive()
    }
}

impl<'c> Limiter<'c> {
    pub fn new(pacing: Pacing, concurrency: usize, clock: &'c dyn Clock) -> Self {
        let window = match pacing {
            Pacing::Adaptive => Window::new(concurrency, clock.now_ms()),
            Pacing::Fixed => Window::fixed(concurrency),
        };
        let shared = Shared {
            window,
            parked: VecDeque::new(),
            tickets: BTreeMap::new(),
            untold: Vec::new(),
            lowered: false,
        };
        Self {
            pacing,
            shared: Mutex::new(shared),
            clock,
        }
    }

    fn shared(&self) -> MutexGuard<'_, Shared> {
        self.shared
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Targets that may be in flight now.
    pub fn limit(&self) -> usize {
        self.shared().window.limit(self.clock.now_ms())
    }

    fn heard(&self, api: &'static str, target: &Target, error: Option<&PortError>) {
        let now = self.clock.now_ms();
        let mut shared = self.shared();
        match error {
            None => shared.window.succeeded(now),
            Some(PortError::Throttled(_)) => {
                if let Some(Lowered { limit, was }) = shared.window.throttled(now) {
                    tracing::warn!(
                        api,
                        limit,
                        was,
                        "throttled by the caller's API: fewer targets in flight"
                    );
                    shared.untold.push(Pace::Lowered { api, limit, was });
                    shared.lowered = true;
                }
                if self.pacing == Pacing::Adaptive {
                    let (release, ticket) = oneshot::channel();
                    shared.parked.push_back((target.clone(), release));
                    shared.tickets.insert(target.clone(), ticket);
                }
            }
            // Refused or unreachable: says nothing of the caller's quota.
            Some(_) => {}
        }
    }

    /// What a target throttled before waits on before it calls the caller's API again.
    fn ticket(&self, target: &Target) -> Option<oneshot::Receiver<()>> {
        self.shared().tickets.remove(target)
    }

    fn parked(&self) -> usize {
        self.shared().parked.len()
    }

    /// Lets up to `room` parked targets call again, the longest parked first; how many it let.
    fn release(&self, room: usize) -> usize {
        let mut shared = self.shared();
        let count = room.min(shared.parked.len());
        for (_, release) in shared.parked.drain(..count) {
            let _ = release.send(());
        }
        count
    }

    /// A target ended (its retries spent while parked, perhaps): it waits for nothing any more.
    pub(crate) fn landed(&self, target: &Target) {
        let mut shared = self.shared();
        shared.parked.retain(|(parked, _)| parked != target);
        shared.tickets.remove(target);
    }

    /// What changed since the last look: lowerings, and a return to the ceiling.
    fn news(&self) -> Vec<Pace> {
        let now = self.clock.now_ms();
        let mut shared = self.shared();
        let ceiling = shared.window.ceiling();
        if shared.lowered && shared.window.limit(now) >= ceiling {
            shared.lowered = false;
            shared.untold.push(Pace::Restored { limit: ceiling });
        }
        std::mem::take(&mut shared.untold)
    }

    /// How long until time alone opens a slot over `in_flight`.
    fn time_to_open(&self, in_flight: usize) -> Option<Duration> {
        let now = self.clock.now_ms();
        let at = self.shared().window.opens_at(in_flight, now)?;
        Some(Duration::from_millis(at.saturating_sub(now)))
    }
}

/// AssumeRole, its answers heard by the limiter: the caller's STS. A target it throttled is
/// parked: out of flight until the window has room for it again, ahead of targets not started.
/// Its call waits for that room, so retries come no faster than the window lets them.
#[derive(Debug)]
pub struct Paced<'a, A> {
    inner: &'a A,
    limiter: &'a Limiter<'a>,
}

impl<'a, A> Paced<'a, A> {
    pub fn new(inner: &'a A, limiter: &'a Limiter<'a>) -> Self {
        Self { inner, limiter }
    }
}

impl<A: AssumeRole> AssumeRole for Paced<'_, A> {
    type Session = A::Session;

    async fn assume(&self, request: AssumeRequest<'_>) -> PortResult<A::Session> {
        if let Some(ticket) = self.limiter.ticket(request.target) {
            let _ = ticket.await;
        }
        let answer = self.inner.assume(request).await;
        self.limiter.heard("STS", request.target, answer.as_ref().err());
        answer
    }

    fn waits_out_throttles(&self) -> bool {
        self.limiter.pacing == Pacing::Adaptive
    }
}

/// What `admit` reports as it goes.
#[derive(Debug)]
pub(crate) enum Admitted<T> {
    Landed(T),
    Paced(Pace),
}

/// Starts each of `items` with `start` while fewer than the limiter's limit are in flight, and
/// reports each result as it lands, with the window's changes in between. Parked targets are in
/// the set but not in flight, and go again before any new item starts.
pub(crate) async fn admit<I, F, Fut>(
    limiter: &Limiter<'_>,
    items: I,
    mut start: F,
    mut report: impl FnMut(Admitted<Fut::Output>),
) where
    I: IntoIterator,
    F: FnMut(I::Item) -> Fut,
    Fut: Future,
{
    let mut waiting = items.into_iter().peekable();
    let mut running = FuturesUnordered::new();
    loop {
        let in_flight = running.len().saturating_sub(limiter.parked());
        let mut room = limiter.limit().saturating_sub(in_flight);
        room -= limiter.release(room);
        while room > 0 {
            let Some(item) = waiting.next() else { break };
            running.push(start(item));
            room -= 1;
        }
        for pace in limiter.news() {
            report(Admitted::Paced(pace));
        }
        let more = waiting.peek().is_some();
        let in_flight = running.len().saturating_sub(limiter.parked());
        let timer = (more || limiter.parked() > 0)
            .then(|| limiter.time_to_open(in_flight))
            .flatten();
        // A call during the poll may open the window (slow start) or park a target; time opens
        // the window too.
        let opened = poll_fn(|cx| match running.poll_next_unpin(cx) {
            Poll::Pending => {
                let parked = limiter.parked();
                let in_flight = running.len().saturating_sub(parked);
                if (more || parked > 0) && in_flight < limiter.limit() {
                    Poll::Ready(None)
                } else {
                    Poll::Pending
                }
            }
            Poll::Ready(landed) => Poll::Ready(Some(landed)),
        });
        let landed = match timer {
            Some(wait) => tokio::select! {
                biased;
                landed = opened => landed,
                () = tokio::time::sleep(wait) => None,
            },
            None => opened.await,
        };
        match landed {
            Some(Some(output)) => report(Admitted::Landed(output)),
            Some(None) => break,
            None => {}
        }
    }
    for pace in limiter.news() {
        report(Admitted::Paced(pace));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_says_who_throttled_and_how_many_are_in_flight() {
        let lowered = Pace::Lowered {
            api: "STS",
            limit: 40,
            was: 80,
        };
        assert_eq!(
            lowered.to_string(),
            "throttled by STS: 40 targets in flight, was 80"
        );
        let restored = Pace::Restored { limit: 80 };
        assert_eq!(
            restored.to_string(),
            "no longer throttled: 80 targets in flight again"
        );
    }
}
