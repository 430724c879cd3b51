//! The state machine's window. Its Deploy Map runs a wave one part at a time, each part at one
//! MaxConcurrency for the whole Map run: the number of targets in flight can change only
//! between parts. So the Gate sets each part's limit from what the previous part's workers heard
//! from the caller's APIs (their AssumeRole calls and the run bucket's), by the local window's
//! rules (`super::lowering`, one target per call that got through, `RECOVERY_SECONDS`), and cuts
//! the part to a few rounds of a lowered limit, so that the next decision comes soon.
//!
//! Within a part, a worker whose call is throttled past the SDK's retries throws `Throttled`,
//! which the state machine's Retry backs off with jitter: that target alone waits, out of the
//! caller's quota, as a parked target does in a local run.
//!
//! The first part runs at the ceiling, not at the local window's `INITIAL`: a Map run cannot
//! climb within itself, and a first part of thousands of targets held at 50 in flight would
//! cost more than one throttled part's retries.

use super::{lowering, RECOVERY_SECONDS};

/// A lowered part holds this many rounds of its limit: small enough that the Gate looks again
/// after a few minutes of operations, large enough that the Map's wait for its last target is
/// paid once per few rounds. At the ceiling a part is as large as the payload allows: nothing
/// to decide, and every part boundary waits for the part's slowest target.
pub const ROUNDS_PER_PART: usize = 4;

/// Calls to one of the caller's APIs, and how many were throttled.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub calls: u64,
    pub throttled: u64,
}

impl Tally {
    pub fn add(&mut self, other: Tally) {
        self.calls += other.calls;
        self.throttled += other.throttled;
    }
}

/// What workers heard from the caller's APIs, each API apart: each has its own quota, and the
/// run bucket's many calls per invocation must not hide a throttled AssumeRole.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Heard {
    /// AssumeRole: one call per invocation, the local window's only signal too.
    pub sts: Tally,
    pub bucket: Tally,
}

impl Heard {
    pub fn throttled(&self) -> bool {
        self.sts.throttled + self.bucket.throttled > 0
    }

    pub fn add(&mut self, other: Heard) {
        self.sts.add(other.sts);
        self.bucket.add(other.bucket);
    }
}

/// The limit of the part after one that ran at `limit` for `elapsed_ms` and heard `heard`:
/// lowered as the local window lowers for the same share of one API's calls (the API that
/// lowers it most), else raised by one per AssumeRole that got through and by time; between 1
/// and `ceiling`.
pub fn next_limit(limit: usize, ceiling: usize, heard: Heard, elapsed_ms: u64) -> usize {
    let ceiling = ceiling.max(1);
    let limit = limit.clamp(1, ceiling) as f64;
    let factor = [heard.sts, heard.bucket]
        .iter()
        .filter_map(|api| lowering(api.calls, api.throttled))
        .reduce(f64::min);
    let next = match factor {
        Some(factor) => limit * factor,
        None => {
            let through = heard.sts.calls.saturating_sub(heard.sts.throttled) as f64;
            let by_time = ceiling as f64 * (elapsed_ms as f64 / 1000.0) / RECOVERY_SECONDS;
            limit + through + by_time
        }
    };
    (next as usize).clamp(1, ceiling)
}

/// How many targets the part at `limit` holds, at most `largest` (what one state payload holds).
pub fn part_size(limit: usize, ceiling: usize, largest: usize) -> usize {
    if limit >= ceiling {
        largest
    } else {
        limit.max(1).saturating_mul(ROUNDS_PER_PART).min(largest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::window::{Window, MIN_CALLS};

    /// AssumeRole calls, each with one call to the run bucket that got through.
    fn heard(calls: u64, throttled: u64) -> Heard {
        Heard {
            sts: Tally { calls, throttled },
            bucket: Tally { calls, throttled: 0 },
        }
    }

    #[test]
    fn a_part_lowers_the_next_as_the_local_window_lowers_for_the_same_calls() {
        let mut window = Window {
            base: 1000.0,
            ..Window::new(1000, 0)
        };
        let lowered = (0..MIN_CALLS).find_map(|_| window.throttled(0)).expect("lowered");
        assert_eq!(
            lowered.limit,
            next_limit(1000, 1000, heard(MIN_CALLS, MIN_CALLS), 0)
        );
        assert_eq!(
            next_limit(1000, 1000, heard(100, 100), 0),
            500,
            "all throttled: halved"
        );
        assert_eq!(
            next_limit(1000, 1000, heard(100, 60), 0),
            766,
            "60%: by the share past 25%"
        );
    }

    #[test]
    fn the_api_throttled_most_decides_however_many_calls_the_others_made() {
        let heard = Heard {
            sts: Tally {
                calls: 20,
                throttled: 20,
            },
            bucket: Tally {
                calls: 200,
                throttled: 0,
            },
        };
        assert_eq!(
            next_limit(1000, 1000, heard, 0),
            500,
            "every AssumeRole throttled"
        );
        let heard = Heard {
            sts: Tally {
                calls: 20,
                throttled: 0,
            },
            bucket: Tally {
                calls: 200,
                throttled: 200,
            },
        };
        assert_eq!(
            next_limit(1000, 1000, heard, 0),
            500,
            "the bucket throttling everything"
        );
    }

    #[test]
    fn a_share_retries_absorb_or_too_few_calls_lower_nothing() {
        assert_eq!(
            next_limit(400, 1000, heard(100, 25), 0),
            475,
            "25% throttled: +75 through"
        );
        assert_eq!(next_limit(400, 1000, heard(MIN_CALLS - 1, MIN_CALLS - 1), 0), 400);
    }

    #[test]
    fn a_clean_part_raises_the_limit_by_its_calls_and_by_time_up_to_the_ceiling() {
        assert_eq!(next_limit(100, 1000, heard(400, 0), 0), 500);
        assert_eq!(
            next_limit(100, 1000, heard(0, 0), 12_000),
            200,
            "a tenth of RECOVERY_SECONDS"
        );
        assert_eq!(next_limit(900, 1000, heard(4000, 0), 60_000), 1000);
    }

    #[test]
    fn the_limit_stays_between_one_and_the_ceiling() {
        assert_eq!(next_limit(1, 1000, heard(1000, 1000), 0), 1);
        assert_eq!(
            next_limit(5000, 1000, heard(0, 0), 0),
            1000,
            "a limit past a lowered ceiling"
        );
        assert_eq!(next_limit(0, 0, heard(0, 0), 0), 1);
    }

    #[test]
    fn a_part_at_the_ceiling_is_as_large_as_allowed_and_a_lowered_one_a_few_rounds() {
        assert_eq!(part_size(1000, 1000, 4000), 4000);
        assert_eq!(part_size(500, 1000, 4000), 2000);
        assert_eq!(part_size(2000, 5000, 4000), 4000);
        assert_eq!(part_size(0, 1000, 4000), ROUNDS_PER_PART);
    }
}
