//! What the simulated benchmarks measure against: seeded operation lengths, and the makespan of
//! greedy list scheduling. Included by each bench that needs it (`#[path]`).

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// `count` operation lengths of 30 to 300 s, from xorshift64*: a fixed seed gives the same
/// durations on every machine; no crate needed for it.
pub fn durations(seed: u64, count: usize) -> Vec<u64> {
    let mut state = seed;
    (0..count)
        .map(|_| {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            30 + state.wrapping_mul(0x2545_f491_4f6c_dd1d) % 271
        })
        .collect()
}

/// Greedy list scheduling in the given order on `machines`: each job to the earliest-free one.
pub fn list_schedule(jobs: &[u64], machines: usize) -> u64 {
    let mut free_at: BinaryHeap<Reverse<u64>> = (0..machines).map(|_| Reverse(0)).collect();
    let mut makespan = 0;
    for job in jobs {
        let Reverse(start) = free_at.pop().unwrap_or(Reverse(0));
        makespan = makespan.max(start + job);
        free_at.push(Reverse(start + job));
    }
    makespan
}
