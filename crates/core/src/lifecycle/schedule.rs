//! When to look at a running stack operation again: the one schedule both runners follow (the
//! local follow loop, and the worker, whose hand-back wait the state machine's Wait obeys).
//!
//! **At once, early, then the poll interval.** Small stacks end within seconds, and an emulator
//! (moto, LocalStack) ends them at once: a first look only after a whole poll interval cost every
//! such target nearly that interval, and a slot of the rollout with it. So the follow loop looks
//! once as soon as an operation is launched (as a boto3 or AWS CLI waiter does; on AWS that look
//! nearly always finds it running, one DescribeStacks), then at the poll interval's halves down
//! to one second, then at every multiple of it: with the default 10 s, at 0, 1.25, 2.5, 5, 10,
//! 20, 30 s ... of the operation's age. Four looks more than a fixed interval, and never later
//! than it: the fixed schedule's looks are all still there, so nothing is noticed later than it
//! was. `next_wait` is the schedule after that first look.
//!
//! **Handed back, the wait grows with the operation's age** (the worker only). A look through
//! the state machine costs three Standard transitions (Wait, Poll, Done?), $0.000075, whatever the
//! wait; a worker waiting inside its invocation costs Lambda time, whatever the looks. Those
//! three transitions buy `WAIT_INSIDE_INVOCATION` of an idle 128 MB arm64 function
//! ($0.0000133334 per GB-s): the break-even of a ski rental. So the worker waits inside its
//! invocation, on the early schedule, while the operation is younger than that, and hands every
//! later look to the state machine with a wait as long as the operation has run so far (each
//! look doubles its age), at most `MAX_HANDED_BACK_INTERVALS` poll intervals and never past the
//! operation's deadline. An operation of ten minutes then costs four hand-backs instead of seven
//! invocations and ten minutes of Lambda time; the price is that it is noticed up to its own
//! age late (a 600 s operation at 620 s, a 330 s one at 620 s). `scripts/bench cost` prints both.

use std::time::Duration;

/// The earliest of the early looks: the poll interval is halved down to this and no further.
const FIRST_LOOK_AT_LEAST: Duration = Duration::from_secs(1);

/// A look never comes sooner than this after the one before: when a look itself took long (a
/// throttled, retried call), the next is the grid point after, not one a moment away.
const MIN_GAP: Duration = Duration::from_millis(500);

/// How old an operation may be and still be waited for inside the worker's invocation: the idle
/// time of the worker (arm64, 128 MB: `WORKER_MEMORY_MB` in infra/lib/stackfleet.ts) that costs
/// what one hand-back does (see the module's note).
pub const WAIT_INSIDE_INVOCATION: Duration = Duration::from_secs(45);

/// The longest wait handed to the state machine, in poll intervals (five minutes at the default
/// 10 s): an hours-long operation is still looked at a dozen times an hour.
pub const MAX_HANDED_BACK_INTERVALS: u32 = 30;

/// The wait from `age` (the time since the operation began) to its next look.
pub fn next_wait(poll_interval: Duration, age: Duration) -> Duration {
    let earliest = age + MIN_GAP;
    let poll = poll_interval.max(Duration::from_millis(1));
    // The halves of the interval, smallest first, down to FIRST_LOOK_AT_LEAST.
    let mut halves = Vec::new();
    let mut half = poll / 2;
    while half >= FIRST_LOOK_AT_LEAST {
        halves.push(half);
        half /= 2;
    }
    let next = halves
        .into_iter()
        .rev()
        .find(|look| *look >= earliest)
        .unwrap_or_else(|| {
            let multiples = earliest.as_nanos().div_ceil(poll.as_nanos()).max(1);
            poll * u32::try_from(multiples).unwrap_or(u32::MAX)
        });
    next - age
}

/// Whether a runner that can hand the target back (the worker) should, rather than wait `wait`
/// inside its invocation: once the next look would find the operation past
/// `WAIT_INSIDE_INVOCATION`, a Wait of the state machine costs less than the idle function.
pub fn cheaper_handed_back(age: Duration, wait: Duration) -> bool {
    age + wait > WAIT_INSIDE_INVOCATION
}

/// The wait handed to the state machine at `age`, in whole seconds (a Wait state's unit), at
/// least one: the early schedule's while the operation is young, else as long as it has run so
/// far, at most `MAX_HANDED_BACK_INTERVALS` poll intervals, and not past `to_deadline` (when the
/// operation times out) unless the early schedule's wait is longer.
pub fn handed_back_wait(poll_interval: Duration, age: Duration, to_deadline: Duration) -> Duration {
    let early = next_wait(poll_interval, age);
    let wait = if cheaper_handed_back(age, early) {
        let longest = poll_interval.saturating_mul(MAX_HANDED_BACK_INTERVALS);
        early.max(age).min(longest).min(to_deadline).max(early)
    } else {
        early
    };
    Duration::from_secs(
        wait.as_millis()
            .div_ceil(1000)
            .max(1)
            .try_into()
            .unwrap_or(u64::MAX),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    /// The ages at which an operation is looked at, up to `until`, waiting here every time.
    fn looks(poll: u64, until: u64) -> Vec<f64> {
        let (poll, mut age, mut seen) = (Duration::from_secs(poll), Duration::ZERO, Vec::new());
        while age < Duration::from_secs(until) {
            age += next_wait(poll, age);
            seen.push(age.as_secs_f64());
        }
        seen
    }

    #[test]
    fn the_default_looks_early_then_every_ten_seconds() {
        assert_eq!(
            looks(10, 60),
            [1.25, 2.5, 5.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0]
        );
    }

    #[test]
    fn an_interval_of_one_second_looks_every_second() {
        assert_eq!(looks(1, 5), [1.0, 2.0, 3.0, 4.0, 5.0]);
    }

    #[test]
    fn the_first_look_comes_within_two_seconds_whatever_the_interval() {
        for poll in [1, 2, 3, 10, 15, 30, 60, 300, 3600] {
            let first = next_wait(Duration::from_secs(poll), Duration::ZERO);
            assert!(
                first >= secs(1.0) && first < secs(2.0),
                "poll {poll}: first look after {first:?}"
            );
        }
    }

    #[test]
    fn no_operation_is_noticed_later_than_with_a_fixed_interval() {
        for poll in [1, 7, 10, 60] {
            let interval = Duration::from_secs(poll);
            for tenth in 0..6000 {
                let age = Duration::from_millis(tenth * 100);
                let fixed = interval
                    * u32::try_from((age + MIN_GAP).as_nanos().div_ceil(interval.as_nanos())).unwrap();
                assert!(
                    age + next_wait(interval, age) <= fixed,
                    "poll {poll} s, age {age:?}: next look later than the fixed schedule's {fixed:?}"
                );
            }
        }
    }

    #[test]
    fn a_look_that_took_long_is_followed_by_the_next_grid_point_not_one_at_once() {
        let poll = Duration::from_secs(10);
        assert_eq!(
            next_wait(poll, secs(19.8)),
            secs(10.2),
            "20 s is too close: the one after"
        );
        assert_eq!(next_wait(poll, secs(12.0)), secs(8.0));
        assert_eq!(
            next_wait(poll, secs(3.0)),
            secs(2.0),
            "from 3 s, the early look at 5 s"
        );
    }

    #[test]
    fn the_worker_keeps_a_young_operation_and_hands_back_an_old_one() {
        let poll = Duration::from_secs(10);
        // Looks at 30 and 40 s cost less inside the invocation; the one at 50 s would not.
        assert!(!cheaper_handed_back(secs(30.0), next_wait(poll, secs(30.0))));
        assert!(!cheaper_handed_back(secs(5.0), next_wait(poll, secs(5.0))));
        assert!(cheaper_handed_back(secs(40.0), next_wait(poll, secs(40.0))));
    }

    #[test]
    fn a_handed_back_wait_doubles_the_age_up_to_thirty_intervals() {
        let (poll, far) = (Duration::from_secs(10), Duration::from_secs(3600));
        let mut age = secs(40.0);
        let mut ages = vec![40];
        while age < secs(1500.0) {
            age += handed_back_wait(poll, age, far);
            ages.push(age.as_secs());
        }
        assert_eq!(ages, [40, 80, 160, 320, 620, 920, 1220, 1520]);
    }

    #[test]
    fn a_young_operation_handed_back_near_the_deadline_gets_the_early_wait_in_whole_seconds() {
        let (poll, far) = (Duration::from_secs(10), Duration::from_secs(3600));
        assert_eq!(
            handed_back_wait(poll, secs(0.2), far),
            secs(2.0),
            "the look at 1.25 s, rounded up"
        );
        assert_eq!(handed_back_wait(poll, secs(12.0), far), secs(8.0));
    }

    #[test]
    fn a_handed_back_wait_does_not_pass_the_deadline_by_more_than_the_early_wait() {
        let poll = Duration::from_secs(10);
        assert_eq!(handed_back_wait(poll, secs(600.0), secs(45.0)), secs(45.0));
        assert_eq!(
            handed_back_wait(poll, secs(600.0), secs(2.0)),
            secs(10.0),
            "the next 10 s look"
        );
        assert_eq!(handed_back_wait(poll, secs(600.0), Duration::ZERO), secs(10.0));
    }
}
