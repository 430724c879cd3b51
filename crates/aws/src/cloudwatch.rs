//! CloudWatch behind core's `Alarms` port: the gates between waves.

use std::collections::BTreeMap;

use aws_config::SdkConfig;
use aws_sdk_cloudwatch::types::{AlarmType, StateValue};
use aws_sdk_cloudwatch::Client;
use stackfleet_core::ports::{Alarms, PortError, PortResult};
use stackfleet_core::waves::AlarmState;

use crate::errors::classify;

/// DescribeAlarms takes at most 100 names a call, and answers at most 100 alarms a page.
pub const NAMES_PER_CALL: usize = 100;

#[derive(Debug, Clone)]
pub struct CloudWatchAlarms {
    client: Client,
}

impl CloudWatchAlarms {
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    pub fn from_config(config: &SdkConfig) -> Self {
        Self::new(Client::new(config))
    }
}

/// A state stackfleet does not know (or none) is an error, not a guess: a gate that cannot be
/// read does not let a rollout through.
fn state(name: &str, value: Option<&StateValue>) -> PortResult<AlarmState> {
    match value {
        Some(StateValue::Ok) => Ok(AlarmState::Ok),
        Some(StateValue::Alarm) => Ok(AlarmState::Alarm),
        Some(StateValue::InsufficientData) => Ok(AlarmState::InsufficientData),
        Some(other) => Err(PortError::Transport(format!(
            "CloudWatch answered alarm {name:?} in a state stackfleet does not know: {}",
            other.as_str()
        ))),
        None => Err(PortError::Transport(format!(
            "CloudWatch answered alarm {name:?} without a state"
        ))),
    }
}

impl Alarms for CloudWatchAlarms {
    async fn states(&self, names: &[String]) -> PortResult<BTreeMap<String, AlarmState>> {
        let mut states = BTreeMap::new();
        for chunk in names.chunks(NAMES_PER_CALL) {
            let mut page: Option<String> = None;
            loop {
                // Without AlarmTypes, DescribeAlarms answers metric alarms only.
                let answer = self
                    .client
                    .describe_alarms()
                    .set_alarm_names(Some(chunk.to_vec()))
                    .alarm_types(AlarmType::MetricAlarm)
                    .alarm_types(AlarmType::CompositeAlarm)
                    .max_records(NAMES_PER_CALL as i32)
                    .set_next_token(page.take())
                    .send()
                    .await
                    .map_err(|e| classify(&e))?;
                let metric = answer
                    .metric_alarms()
                    .iter()
                    .map(|a| (a.alarm_name(), a.state_value()));
                let composite = answer
                    .composite_alarms()
                    .iter()
                    .map(|a| (a.alarm_name(), a.state_value()));
                for (name, value) in metric.chain(composite) {
                    let Some(name) = name else { continue };
                    states.insert(name.to_owned(), state(name, value)?);
                }
                match answer.next_token() {
                    Some(token) if !token.is_empty() => page = Some(token.to_owned()),
                    _ => break,
                }
            }
        }
        Ok(states)
    }
}
