//! Throttling at a rate, for scale tests and benchmarks: a seeded coin per call (throttling
//! that does not depend on load), and a token bucket (a quota, which does). What `fail_next`
//! scripts one call at a time, these do for every call of a kind.

use std::collections::BTreeMap;

use stackfleet_core::ports::PortError;
use tokio::time::Instant;

use super::{Call, FakeCloud};

impl FakeCloud {
    /// Each of `calls`, in any target, is throttled with this probability (past the SDK's
    /// retries, as `fail_next` has it), by a coin seeded with `seed`: on a paused clock the same
    /// run throttles the same calls every time. Throttling that does not depend on load.
    pub fn throttle_at_random(&self, calls: &[Call], probability: f64, seed: u64) {
        self.world().throttles.at_random(calls, probability, seed);
    }

    /// The caller's quota on `call`, across all targets: `burst` calls at once, refilled at
    /// `per_second` (tokio's clock); a call over it is throttled. Throttling that grows with load,
    /// as AWS's per-account quotas do.
    pub fn quota(&self, call: Call, per_second: f64, burst: u32) {
        self.world().throttles.quota(call, per_second, burst);
    }

    /// No more throttling from `throttle_at_random` or `quota` (scripted faults stay).
    pub fn lift_throttles(&self) {
        self.world().throttles.lift();
    }

    /// How many calls of this kind were throttled by `throttle_at_random` or `quota`.
    pub fn throttled(&self, call: Call) -> usize {
        self.world().throttles.throttled(call)
    }

    /// How many targets have made this call (answered or not), so far.
    pub fn targets_calling(&self, call: Call) -> usize {
        let world = self.world();
        let targets: std::collections::BTreeSet<_> = world
            .calls
            .iter()
            .filter(|(_, made)| *made == call)
            .filter_map(|(target, _)| target.as_ref())
            .collect();
        targets.len()
    }

    /// How many stack operations are running now, across all targets: the targets in flight.
    pub fn operations_running(&self) -> usize {
        let now = Instant::now();
        let mut world = self.world();
        world
            .stacks
            .values_mut()
            .map(|stack| {
                stack.settle(now);
                stack.running.is_some()
            })
            .filter(|running| *running)
            .count()
    }
}

/// A caller's quota on one API, as AWS keeps it: a bucket of `burst` calls refilled at
/// `per_second`; a call that finds it empty is throttled (and takes no token).
#[derive(Debug, Clone)]
struct Quota {
    per_second: f64,
    burst: f64,
    tokens: f64,
    filled_at: Instant,
}

impl Quota {
    fn take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.filled_at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.burst);
        self.filled_at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Every throttle set on a fake cloud, and how many calls each kind lost to them.
#[derive(Debug, Default)]
pub(crate) struct Throttles {
    /// xorshift64 state; 0 until a random throttle is set (a seed of 0 is moved off 0).
    coin: u64,
    chances: BTreeMap<Call, f64>,
    quotas: BTreeMap<Call, Quota>,
    throttled: BTreeMap<Call, usize>,
}

impl Throttles {
    pub fn at_random(&mut self, calls: &[Call], probability: f64, seed: u64) {
        self.coin = seed.max(1);
        for call in calls {
            self.chances.insert(*call, probability.clamp(0.0, 1.0));
        }
    }

    pub fn quota(&mut self, call: Call, per_second: f64, burst: u32) {
        let burst = f64::from(burst.max(1));
        let quota = Quota {
            per_second,
            burst,
            tokens: burst,
            filled_at: Instant::now(),
        };
        self.quotas.insert(call, quota);
    }

    pub fn lift(&mut self) {
        self.chances.clear();
        self.quotas.clear();
    }

    /// The error for this call if a throttle takes it. The quota is asked first: a call the
    /// quota refuses uses no coin, so a run's coins do not depend on the quota's.
    pub fn check(&mut self, call: Call) -> Result<(), PortError> {
        let over_quota = self
            .quotas
            .get_mut(&call)
            .is_some_and(|quota| !quota.take(Instant::now()));
        let unlucky = !over_quota
            && self
                .chances
                .get(&call)
                .copied()
                .is_some_and(|chance| self.flip() < chance);
        if !(over_quota || unlucky) {
            return Ok(());
        }
        *self.throttled.entry(call).or_default() += 1;
        Err(PortError::Throttled(format!("{call:?}: Rate exceeded")))
    }

    pub fn throttled(&self, call: Call) -> usize {
        self.throttled.get(&call).copied().unwrap_or(0)
    }

    /// A uniform draw in [0, 1) from xorshift64*: the same seed gives the same draws everywhere.
    fn flip(&mut self) -> f64 {
        self.coin ^= self.coin >> 12;
        self.coin ^= self.coin << 25;
        self.coin ^= self.coin >> 27;
        let bits = self.coin.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11;
        bits as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_seeded_coin_throttles_about_its_share_and_the_same_calls_each_time() {
        let run = || {
            let mut throttles = Throttles::default();
            throttles.at_random(&[Call::DescribeStacks], 0.2, 7);
            (0..10_000)
                .map(|_| throttles.check(Call::DescribeStacks).is_err())
                .collect::<Vec<_>>()
        };
        let first = run();
        let share = first.iter().filter(|t| **t).count() as f64 / first.len() as f64;
        assert!((0.18..0.22).contains(&share), "about 20% throttled, got {share}");
        assert_eq!(first, run(), "the seed decides");
    }

    #[tokio::test(start_paused = true)]
    async fn a_quota_lets_its_burst_through_then_its_rate() {
        let mut throttles = Throttles::default();
        throttles.quota(Call::AssumeRole, 2.0, 5);
        let through = |throttles: &mut Throttles, calls: usize| {
            (0..calls)
                .filter(|_| throttles.check(Call::AssumeRole).is_ok())
                .count()
        };
        assert_eq!(through(&mut throttles, 10), 5, "the burst");
        tokio::time::advance(Duration::from_secs(3)).await;
        assert_eq!(
            through(&mut throttles, 10),
            5,
            "3 s at 2 a second, capped at the burst"
        );
        assert_eq!(throttles.throttled(Call::AssumeRole), 10);
        assert!(
            throttles.check(Call::DescribeStacks).is_ok(),
            "other calls are free"
        );
    }
}
