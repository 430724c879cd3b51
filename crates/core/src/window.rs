//! How many targets a local run keeps in flight while the caller's own APIs throttle: an
//! additive-increase, multiplicative-decrease window under the configured concurrency.
//!
//! Pure: time comes in as milliseconds, so every rule is tested without a clock.
//!
//! - **Increase**: one target per call of the caller's that got through, and a share of the
//!   ceiling per second (`RECOVERY_SECONDS` from nothing to the ceiling). The caller's APIs are
//!   called when a target starts (AssumeRole), once per operation of minutes: the 1/window per
//!   success of TCP would add one target per whole operation, and take hours to climb back at
//!   concurrency 1,000. A whole target per success is TCP's slow start: the window follows the
//!   rate at which the caller's calls get through. Time lets it climb while nothing calls (the
//!   window below the targets in flight, after a decrease).
//! - **Decrease**: at a throttle, by the share of the caller's recent calls that were throttled
//!   beyond the quarter that retries absorb (`TOLERATED_SHARE`), halving when all were (as DCTCP
//!   cuts by the share of marked packets); then no further
//!   decrease for `COOLDOWN_MS`, so that one burst decreases once. Measured on the fakes
//!   (`benches/adaptive_concurrency.rs`): halving at every burst whatever the share drives the
//!   window to a few targets when a fixed fifth of the calls is throttled whatever the load,
//!   and makes the run three times longer; in proportion, it stays near the ceiling there, and
//!   still halves when a quota throttles most calls.

/// The window opens with this many targets; each call that gets through adds one, so it doubles
/// with each round of starts. Against AWS that is about five round trips of AssumeRole (half a
/// second) to reach 1,000, instead of 1,000 calls at once that a quota would throttle together,
/// and whose retries would come back together. Measured on the fakes: from 8, the climb took
/// ten seconds of a run where a fifth of the calls were throttled, 0.5% of its makespan.
pub const INITIAL: usize = 50;
/// The factor a throttle applies when every recent call of the caller's was throttled; a share
/// `s` of them applies `1 - s * (1 - DECREASE)`.
pub const DECREASE: f64 = 0.5;
/// After a decrease, further throttles are taken as the same burst for this long; it is also
/// the span over which the share of throttled calls is counted (two of them).
pub const COOLDOWN_MS: u64 = 20_000;
/// The share of the caller's calls throttled that is taken as noise, not as a quota reached: a
/// call then needs 1.33 tries on average, each retry one backoff of a target that keeps its slot.
/// Only the share beyond it lowers the window. Measured on the fakes: lowering at every throttle
/// in proportion, a fifth of the calls throttled whatever the load cut the window 80 times for
/// nothing and cost 2.6% of the makespan (1.065 against the fixed window's 1.039).
pub const TOLERATED_SHARE: f64 = 0.25;
/// A share of fewer calls than this says nothing yet: the first call of a run, throttled, is
/// not a quota reached.
pub const MIN_CALLS: u64 = 10;
/// From nothing to the ceiling in this long by time alone.
pub const RECOVERY_SECONDS: f64 = 120.0;

pub mod parts;

/// The factor by which `throttled` of `calls` to the caller's APIs lower the window: by the share
/// throttled beyond `TOLERATED_SHARE`, halving when all were. `None` when they say nothing: too
/// few calls, or a share retries absorb. One rule for both runners (`parts` is the state
/// machine's).
pub fn lowering(calls: u64, throttled: u64) -> Option<f64> {
    if calls < MIN_CALLS {
        return None;
    }
    let share = throttled as f64 / calls as f64;
    let excess = (share - TOLERATED_SHARE) / (1.0 - TOLERATED_SHARE);
    (excess > 0.0).then_some(1.0 - excess * (1.0 - DECREASE))
}

/// The window was lowered: `limit` targets in flight from now, `was` before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lowered {
    pub limit: usize,
    pub was: usize,
}

/// Calls of the caller's, and how many were throttled, in one span of `COOLDOWN_MS`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Tally {
    calls: u64,
    throttled: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    ceiling: f64,
    /// The limit at `since_ms`, from which time raises it.
    base: f64,
    since_ms: u64,
    /// Every limit change is off until then: a throttle's cooldown, or forever (`fixed`).
    quiet_until_ms: u64,
    fixed: bool,
    /// The span before the current one, and the current one, which began at `tally_from_ms`.
    tallies: [Tally; 2],
    tally_from_ms: u64,
}

impl Window {
    /// A window under `ceiling` (at least 1), opening at `now_ms`.
    pub fn new(ceiling: usize, now_ms: u64) -> Self {
        let ceiling = ceiling.max(1) as f64;
        Self {
            ceiling,
            base: ceiling.min(INITIAL as f64),
            since_ms: now_ms,
            quiet_until_ms: 0,
            fixed: false,
            tallies: [Tally::default(); 2],
            tally_from_ms: now_ms,
        }
    }

    /// A window that stays at `ceiling`: the fixed concurrency, for comparison.
    pub fn fixed(ceiling: usize) -> Self {
        let mut window = Self::new(ceiling, 0);
        window.base = window.ceiling;
        window.fixed = true;
        window
    }

    pub fn ceiling(&self) -> usize {
        self.ceiling as usize
    }

    fn exact(&self, now_ms: u64) -> f64 {
        let seconds = now_ms.saturating_sub(self.since_ms) as f64 / 1000.0;
        (self.base + self.ceiling * seconds / RECOVERY_SECONDS).min(self.ceiling)
    }

    /// Targets that may be in flight at `now_ms`: at least 1.
    pub fn limit(&self, now_ms: u64) -> usize {
        (self.exact(now_ms) as usize).max(1)
    }

    /// A call to the caller's APIs got through.
    pub fn succeeded(&mut self, now_ms: u64) {
        if self.fixed {
            return;
        }
        self.count(now_ms, false);
        // Rebased to now, so that time's share already given is not given twice.
        self.base = (self.exact(now_ms) + 1.0).min(self.ceiling);
        self.since_ms = now_ms;
    }

    /// A call to the caller's APIs was throttled: the window decreases by the share throttled
    /// beyond `TOLERATED_SHARE`, once per burst.
    pub fn throttled(&mut self, now_ms: u64) -> Option<Lowered> {
        if self.fixed {
            return None;
        }
        self.count(now_ms, true);
        if now_ms < self.quiet_until_ms {
            return None;
        }
        let [before, now] = self.tallies;
        let factor = lowering(before.calls + now.calls, before.throttled + now.throttled)?;
        let was = self.exact(now_ms);
        self.base = (was * factor).max(1.0);
        self.since_ms = now_ms;
        self.quiet_until_ms = now_ms.saturating_add(COOLDOWN_MS);
        let lowered = Lowered {
            limit: self.limit(now_ms),
            was: (was as usize).max(1),
        };
        (lowered.limit < lowered.was).then_some(lowered)
    }

    fn count(&mut self, now_ms: u64, throttled: bool) {
        let spans = now_ms.saturating_sub(self.tally_from_ms) / COOLDOWN_MS;
        if spans > 0 {
            self.tallies = match spans {
                1 => [self.tallies[1], Tally::default()],
                _ => [Tally::default(); 2],
            };
            self.tally_from_ms += spans * COOLDOWN_MS;
        }
        let current = &mut self.tallies[1];
        current.calls += 1;
        current.throttled += u64::from(throttled);
    }

    /// When time alone will have raised the limit past `in_flight`; `None` if it never will
    /// (at the ceiling already, or fixed).
    pub fn opens_at(&self, in_flight: usize, now_ms: u64) -> Option<u64> {
        let wanted = in_flight as f64 + 1.0;
        if self.fixed || wanted > self.ceiling {
            return None;
        }
        if self.exact(now_ms) >= wanted {
            return Some(now_ms);
        }
        let seconds = (wanted - self.base) * RECOVERY_SECONDS / self.ceiling;
        let mut at = self.since_ms + (seconds * 1000.0).ceil() as u64;
        // The division may round a millisecond short.
        while self.exact(at) < wanted {
            at += 1;
        }
        Some(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A window at its ceiling, having seen only successes.
    fn opened(ceiling: usize) -> Window {
        let mut window = Window::new(ceiling, 0);
        for _ in 0..ceiling {
            window.succeeded(0);
        }
        window
    }

    /// `MIN_CALLS` calls at `now_ms`, all throttled: what the window said of them, if anything.
    fn burst(window: &mut Window, now_ms: u64) -> Option<Lowered> {
        let said: Vec<Lowered> = (0..MIN_CALLS).filter_map(|_| window.throttled(now_ms)).collect();
        assert!(said.len() <= 1, "one burst, one decrease: {said:?}");
        said.first().copied()
    }

    #[test]
    fn successes_open_it_up_to_the_ceiling() {
        let mut window = Window::new(1000, 0);
        assert_eq!(window.limit(0), INITIAL);
        for _ in 0..INITIAL {
            window.succeeded(0);
        }
        assert_eq!(window.limit(0), 2 * INITIAL, "a round of starts doubles it");
        for _ in 0..2000 {
            window.succeeded(0);
        }
        assert_eq!(window.limit(0), 1000, "never past the configured concurrency");
        assert_eq!(Window::new(3, 0).limit(0), 3, "a small ceiling starts there");
    }

    #[test]
    fn a_few_throttled_calls_say_nothing_yet() {
        let mut window = Window::new(800, 0);
        for _ in 1..MIN_CALLS {
            assert_eq!(window.throttled(0), None);
        }
        assert_eq!(window.limit(0), INITIAL);
    }

    #[test]
    fn a_burst_of_throttles_halves_it_once() {
        let mut window = Window::new(800, 0);
        assert_eq!(
            burst(&mut window, 0),
            Some(Lowered { limit: 25, was: 50 }),
            "all throttled: half"
        );
        for _ in 0..100 {
            assert_eq!(window.throttled(1000), None);
        }
        // 25, and a second's share of the ceiling (800 / 120 s).
        assert_eq!(window.limit(1000), 31, "the same burst");
        let again = window.throttled(COOLDOWN_MS).expect("a burst after the cooldown");
        assert_eq!(
            again,
            Lowered { limit: 79, was: 158 },
            "time had raised it; halved again"
        );
    }

    /// A window of `ceiling` that has seen `calls` calls at `now_ms`, every `every`-th throttled.
    fn throttled_one_in(ceiling: usize, every: usize, calls: usize, now_ms: u64) -> Window {
        let mut window = opened(ceiling);
        for call in 1..=calls {
            if call % every == 0 {
                window.throttled(now_ms);
            } else {
                window.succeeded(now_ms);
            }
        }
        window
    }

    #[test]
    fn it_decreases_by_the_share_throttled_beyond_what_retries_absorb() {
        // Fed in the span after the one `opened` called in, looked at in the next.
        let (fed, after) = (COOLDOWN_MS + 1, 2 * COOLDOWN_MS + 1);
        let mut window = throttled_one_in(1000, 5, 1000, fed);
        assert_eq!(
            window.throttled(after),
            None,
            "a fifth throttled: retries absorb it, the window stays"
        );
        assert_eq!(window.limit(after), 1000);

        let mut window = throttled_one_in(1000, 2, 1000, fed);
        let lowered = window.throttled(after).expect("half throttled");
        let kept = lowered.limit as f64 / lowered.was as f64;
        // Half throttled is a third of the way from the tolerated quarter to all: a sixth off.
        assert!((0.82..0.85).contains(&kept), "a sixth off: {lowered:?}");
    }

    #[test]
    fn the_floor_is_one_target() {
        let mut window = Window::new(10, 0);
        let mut now = 0;
        for _ in 0..20 {
            now += COOLDOWN_MS;
            burst(&mut window, now);
        }
        assert_eq!(window.limit(now), 1);
        assert_eq!(
            burst(&mut Window::new(1, 0), 0),
            None,
            "one target is not lowered"
        );
    }

    #[test]
    fn time_raises_it_back_to_the_ceiling() {
        let mut window = Window::new(1000, 0);
        burst(&mut window, 0);
        assert_eq!(window.limit(0), 25);
        let seconds = |s: f64| (s * 1000.0) as u64;
        assert_eq!(window.limit(seconds(RECOVERY_SECONDS / 2.0)), 525, "linearly");
        assert_eq!(window.limit(seconds(RECOVERY_SECONDS)), 1000);
        assert_eq!(
            window.limit(seconds(10.0 * RECOVERY_SECONDS)),
            1000,
            "and no further"
        );
    }

    #[test]
    fn it_says_when_time_will_open_the_next_slot() {
        assert_eq!(opened(100).opens_at(100, 0), None, "at the ceiling");
        let mut window = Window::new(100, 0);
        burst(&mut window, 0);
        assert_eq!(window.opens_at(3, 0), Some(0), "room already");
        let at = window.opens_at(30, 0).expect("it climbs");
        assert_eq!(window.limit(at), 31);
        assert_eq!(window.limit(at - 1), 30);
    }

    #[test]
    fn a_fixed_window_never_moves() {
        let mut window = Window::fixed(50);
        assert_eq!(window.limit(0), 50);
        assert_eq!(window.throttled(0), None);
        window.succeeded(0);
        assert_eq!(window.opens_at(10, 0), None);
        assert_eq!(window.limit(1_000_000), 50);
    }
}
