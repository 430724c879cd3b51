//! Which run an execution's records belong to: the one mapping from a Step Functions execution
//! to its run ID (and so to its `runs/<run>/` prefix), used by the lister that writes the
//! records and by the operator's `status`, which finds them by execution (`report` and `rerun`
//! follow the keys the Reduce step returned).
//!
//! Step Functions lets a name be used again 90 days after its execution closed, and run records
//! are kept longer: a run ID made of the name alone would put a new execution's outcomes next
//! to an old one's. A name is never taken twice at once, so the name and the second the
//! execution started name one execution for good: `<name>-<YYYYMMDDTHHMMSSZ>`, in UTC, as the
//! execution's `$$.Execution.StartTime` and `DescribeExecution`'s `startDate` both give it.

use chrono::{DateTime, SecondsFormat, Utc};
use sha2::{Digest, Sha256};

use crate::executions::Execution;
use crate::ids::RunId;

/// The start time in a run ID: ISO 8601's basic format, UTC, to the second.
const STAMP: &str = "%Y%m%dT%H%M%SZ";
const STAMP_CHARS: usize = 16;
const RUN_ID_CHARS: usize = 64;
/// The longest execution name a run ID holds whole: a run ID is at most 64 characters, and the
/// start time and its hyphen take 17.
pub const NAME_ROOM: usize = RUN_ID_CHARS - STAMP_CHARS - 1;
/// Hex digits of the name's SHA-256 that stand for the part of a name that does not fit.
const HASH_CHARS: usize = 8;

/// Whether a run ID holds `name` as it is: 1 to 47 letters, digits and '-', starting with a
/// letter or digit. Names a user chooses are held to this, so that their run is
/// `<name>-<start time>`.
pub fn name_fits(name: &str) -> bool {
    name.len() <= NAME_ROOM && !name.is_empty() && RunId::from_lossy(name).as_str() == name
}

/// The run of the execution named `name` that started at `started_at_ms`.
///
/// A name that fits (`name_fits`) is kept as it is. Any other (longer, or with characters a
/// token cannot hold) is cleaned, cut, and ends in a hash of the whole name, so that two names
/// that differ only where they were cut or cleaned stay two runs.
pub fn of_execution(name: &str, started_at_ms: u64) -> RunId {
    let kept = if name_fits(name) {
        name.to_owned()
    } else {
        let digest = Sha256::digest(name.as_bytes());
        let hash: String = digest
            .iter()
            .take(HASH_CHARS / 2)
            .map(|byte| format!("{byte:02x}"))
            .collect();
        let cleaned: String = RunId::from_lossy(name)
            .as_str()
            .chars()
            .take(NAME_ROOM - HASH_CHARS - 1)
            .collect();
        format!("{cleaned}-{hash}")
    };
    let started = i64::try_from(started_at_ms)
        .ok()
        .and_then(DateTime::<Utc>::from_timestamp_millis)
        .unwrap_or_default();
    // Letters, digits and '-' only, at most 64: `from_lossy` keeps it as it is.
    RunId::from_lossy(&format!("{kept}-{}", started.format(STAMP)))
}

/// The run an execution's records were kept under before run IDs carried the start time: its
/// name, cleaned and cut to 64 characters. Only a state machine definition from then, which
/// passes no start time, still gets it. The operator commands do not look for such runs: only
/// `status`'s live failure count maps an execution to its run (`report`, `rerun` and a resume
/// follow the keys and run IDs the run itself recorded), so an execution in flight across the
/// upgrade counts 0 failures so far until its Reduce step; finding its records would cost a
/// read of run.json that the operator role is not granted.
pub fn legacy_of_execution(name: &str) -> RunId {
    RunId::from_lossy(name)
}

/// `$$.Execution.StartTime` (RFC 3339, e.g. `2026-11-21T10:14:13.192Z`) in milliseconds since
/// the epoch; `None` when it is not such a time, or before 1970.
pub fn start_time_ms(text: &str) -> Option<u64> {
    let time = DateTime::parse_from_rfc3339(text).ok()?;
    u64::try_from(time.timestamp_millis()).ok()
}

/// Milliseconds since the epoch as Step Functions writes `$$.Execution.StartTime`.
pub fn start_time_text(ms: u64) -> String {
    i64::try_from(ms)
        .ok()
        .and_then(DateTime::<Utc>::from_timestamp_millis)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl Execution {
    /// The run this execution's records are kept under, as the lister named it.
    pub fn run(&self) -> RunId {
        of_execution(&self.name, self.started_at_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-11-21T10:14:13.192Z.
    const START_MS: u64 = 1_795_256_053_192;

    #[test]
    fn a_run_is_the_name_and_the_second_it_started() {
        assert_eq!(start_time_text(START_MS), "2026-11-21T10:14:13.192Z");
        assert_eq!(start_time_ms("2026-11-21T10:14:13.192Z"), Some(START_MS));
        assert_eq!(
            of_execution("org-baseline-1a2b3c4d5e6f7a8b", START_MS).as_str(),
            "org-baseline-1a2b3c4d5e6f7a8b-20261121T101413Z"
        );
    }

    #[test]
    fn the_same_name_started_again_is_another_run() {
        let ninety_days_ms = 90 * 24 * 3600 * 1000;
        let first = of_execution("nightly", START_MS);
        let again = of_execution("nightly", START_MS + ninety_days_ms);
        assert_ne!(first, again);
        assert_eq!(again.as_str(), "nightly-20270219T101413Z");
        // Milliseconds apart in one second are the same execution (two clocks' precision).
        assert_eq!(first, of_execution("nightly", START_MS - 192));
    }

    #[test]
    fn names_that_do_not_fit_stay_apart_and_make_valid_run_ids() {
        let long_a = format!("{}a", "x".repeat(60));
        let long_b = format!("{}b", "x".repeat(60));
        let names = [
            "deploy_42",
            "deploy-42",
            "_x",
            "déploiement",
            long_a.as_str(),
            long_b.as_str(),
        ];
        let runs: Vec<RunId> = names.iter().map(|n| of_execution(n, START_MS)).collect();
        for (name, run) in names.iter().zip(&runs) {
            assert!(run.as_str().parse::<RunId>().is_ok(), "{name} -> {run}");
            assert!(run.as_str().len() <= 64, "{name} -> {run}");
            assert!(run.as_str().ends_with("-20261121T101413Z"), "{name} -> {run}");
        }
        let distinct: std::collections::BTreeSet<&RunId> = runs.iter().collect();
        assert_eq!(distinct.len(), names.len(), "{runs:?}");
        assert_eq!(
            runs[1].as_str(),
            "deploy-42-20261121T101413Z",
            "a name that fits is kept"
        );
        assert!(runs[0].as_str().starts_with("deploy-42-"), "{}", runs[0]);
    }

    #[test]
    fn chosen_names_fit_up_to_47_characters_of_a_run_id_charset() {
        assert!(name_fits(&"a".repeat(NAME_ROOM)));
        assert_eq!(of_execution(&"a".repeat(NAME_ROOM), START_MS).as_str().len(), 64);
        for bad in ["", "-x", "a_b", "a b", &"a".repeat(NAME_ROOM + 1)] {
            assert!(!name_fits(bad), "{bad:?}");
        }
    }

    #[test]
    fn start_times_that_are_not_rfc_3339_are_refused() {
        for bad in ["", "2026-11-21", "yesterday", "1969-12-31T23:59:59Z"] {
            assert_eq!(start_time_ms(bad), None, "{bad:?}");
        }
        assert_eq!(start_time_ms("2026-11-21T11:14:13.192+01:00"), Some(START_MS));
    }
}
