//! Fake CloudWatch alarms: named alarms in a state a test sets, and throttling on demand.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use stackfleet_core::ports::{Alarms, PortError, PortResult};
use stackfleet_core::waves::AlarmState;

#[derive(Debug, Default)]
struct Board {
    alarms: BTreeMap<String, AlarmState>,
    throttles_left: u32,
    calls: usize,
}

/// Clones share the same alarms: keep one to flip a state while a rollout bakes.
#[derive(Debug, Clone, Default)]
pub struct FakeAlarms {
    board: Arc<Mutex<Board>>,
}

impl FakeAlarms {
    pub fn new() -> Self {
        Self::default()
    }

    fn board(&self) -> MutexGuard<'_, Board> {
        self.board
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Creates the alarm in `state` (PutMetricAlarm), or replaces one of that name.
    pub fn put_alarm(&self, name: &str, state: AlarmState) {
        self.board().alarms.insert(name.into(), state);
    }

    /// The alarm's state changes (SetAlarmState, or its metric crossing the threshold).
    pub fn set_state(&self, name: &str, state: AlarmState) {
        let mut board = self.board();
        let alarm = board
            .alarms
            .get_mut(name)
            .unwrap_or_else(|| panic!("set_state needs an existing alarm: {name:?}"));
        *alarm = state;
    }

    /// The alarm is deleted: later reads no longer find it.
    pub fn delete_alarm(&self, name: &str) {
        self.board().alarms.remove(name);
    }

    /// The next `count` reads are throttled (as if past the SDK's retries).
    pub fn throttle(&self, count: u32) {
        self.board().throttles_left = count;
    }

    /// How many times the alarms were read: one `states` call is one, however many names.
    pub fn calls(&self) -> usize {
        self.board().calls
    }
}

impl Alarms for FakeAlarms {
    async fn states(&self, names: &[String]) -> PortResult<BTreeMap<String, AlarmState>> {
        let mut board = self.board();
        board.calls += 1;
        if board.throttles_left > 0 {
            board.throttles_left -= 1;
            return Err(PortError::Throttled("Rate exceeded".into()));
        }
        Ok(names
            .iter()
            .filter_map(|name| board.alarms.get(name).map(|state| (name.clone(), *state)))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| (*n).to_owned()).collect()
    }

    #[tokio::test]
    async fn answers_the_named_alarms_that_exist_in_their_current_state() {
        let alarms = FakeAlarms::new();
        alarms.put_alarm("errors", AlarmState::Ok);
        alarms.put_alarm("latency", AlarmState::InsufficientData);
        alarms.put_alarm("unasked", AlarmState::Alarm);

        let asked = names(&["errors", "latency", "missing"]);
        let states = alarms.states(&asked).await.unwrap();
        assert_eq!(
            states,
            BTreeMap::from([
                ("errors".to_owned(), AlarmState::Ok),
                ("latency".to_owned(), AlarmState::InsufficientData),
            ])
        );

        alarms.clone().set_state("errors", AlarmState::Alarm);
        alarms.delete_alarm("latency");
        let states = alarms.states(&asked).await.unwrap();
        assert_eq!(states, BTreeMap::from([("errors".to_owned(), AlarmState::Alarm)]));
        assert_eq!(alarms.calls(), 2);
    }

    #[tokio::test]
    async fn throttles_on_demand_then_answers() {
        let alarms = FakeAlarms::new();
        alarms.put_alarm("errors", AlarmState::Ok);
        alarms.throttle(1);
        let asked = names(&["errors"]);
        assert!(matches!(
            alarms.states(&asked).await,
            Err(PortError::Throttled(_))
        ));
        assert_eq!(alarms.states(&asked).await.unwrap().len(), 1);
        assert_eq!(alarms.calls(), 2);
    }
}
