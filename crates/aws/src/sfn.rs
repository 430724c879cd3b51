//! Step Functions as the operator commands see it: an execution started at most once per name,
//! its state, its Distributed Map run's item counts, and what one of its states returned.

use aws_config::SdkConfig;
use aws_sdk_sfn::types::{ExecutionStatus, HistoryEventType};
use aws_sdk_sfn::Client;
use aws_smithy_types::DateTime;
use stackfleet_core::ports::{PortError, PortResult};

use crate::errors::{classify, service_error};

/// How an execution stands, as `DescribeExecution` tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Running,
    Succeeded,
    Failed,
    TimedOut,
    Aborted,
    /// A status this build does not know (Step Functions added `PENDING_REDRIVE` in 2023).
    Other,
}

impl Status {
    fn of(status: &ExecutionStatus) -> Self {
        match status {
            ExecutionStatus::Running => Self::Running,
            ExecutionStatus::Succeeded => Self::Succeeded,
            ExecutionStatus::Failed => Self::Failed,
            ExecutionStatus::TimedOut => Self::TimedOut,
            ExecutionStatus::Aborted => Self::Aborted,
            _ => Self::Other,
        }
    }

    pub fn is_finished(self) -> bool {
        !matches!(self, Self::Running | Self::Other)
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Running => "RUNNING",
            Self::Succeeded => "SUCCEEDED",
            Self::Failed => "FAILED",
            Self::TimedOut => "TIMED_OUT",
            Self::Aborted => "ABORTED",
            Self::Other => "OTHER",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Execution {
    pub arn: String,
    pub name: String,
    pub state_machine_arn: String,
    pub status: Status,
    pub input: Option<String>,
    pub output: Option<String>,
    pub error: Option<String>,
    pub cause: Option<String>,
    pub started_at_ms: u64,
    pub stopped_at_ms: Option<u64>,
}

/// A Distributed Map run's items: one per target.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ItemCounts {
    pub total: u64,
    pub pending: u64,
    pub running: u64,
    pub succeeded: u64,
    pub failed: u64,
    pub timed_out: u64,
    pub aborted: u64,
}

impl ItemCounts {
    /// Items whose child execution has ended, however it ended.
    pub fn finished(&self) -> u64 {
        self.succeeded + self.failed + self.timed_out + self.aborted
    }
}

/// What a start came to: a new execution, or the one that already had this name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Started {
    New { arn: String },
    Existing(Execution),
}

/// The execution ARN a state machine gives an execution of this name.
pub fn execution_arn(state_machine_arn: &str, name: &str) -> Option<String> {
    let (head, machine) = state_machine_arn.split_once(":stateMachine:")?;
    (!machine.is_empty() && !machine.contains(':')).then(|| format!("{head}:execution:{machine}:{name}"))
}

/// The state machine an execution ARN belongs to.
pub fn state_machine_arn(execution_arn: &str) -> Option<String> {
    let (head, rest) = execution_arn.split_once(":execution:")?;
    let (machine, name) = rest.split_once(':')?;
    (!machine.is_empty() && !name.is_empty() && !name.contains(':'))
        .then(|| format!("{head}:stateMachine:{machine}"))
}

fn millis(time: &DateTime) -> u64 {
    u64::try_from(time.to_millis().unwrap_or(0)).unwrap_or(0)
}

fn count(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

#[derive(Debug, Clone)]
pub struct Executions {
    client: Client,
}

impl Executions {
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    pub fn from_config(config: &SdkConfig) -> Self {
        Self::new(Client::new(config))
    }

    /// `None` when no execution has this ARN.
    pub async fn describe(&self, arn: &str) -> PortResult<Option<Execution>> {
        let answer = match self.client.describe_execution().execution_arn(arn).send().await {
            Ok(answer) => answer,
            Err(error) => {
                if service_error(&error).is_some_and(|(code, _)| code == "ExecutionDoesNotExist") {
                    return Ok(None);
                }
                return Err(classify(&error));
            }
        };
        Ok(Some(Execution {
            arn: answer.execution_arn,
            name: answer.name.unwrap_or_default(),
            state_machine_arn: answer.state_machine_arn,
            status: Status::of(&answer.status),
            input: answer.input,
            output: answer.output,
            error: answer.error,
            cause: answer.cause,
            started_at_ms: millis(&answer.start_date),
            stopped_at_ms: answer.stop_date.as_ref().map(millis),
        }))
    }

    /// Starts `name` unless an execution of that name exists: names are unique per state
    /// machine for 90 days after an execution ends, so a retried submit finds the first one.
    pub async fn start(&self, state_machine_arn: &str, name: &str, input: &str) -> PortResult<Started> {
        let arn = execution_arn(state_machine_arn, name).ok_or_else(|| PortError::Rejected {
            code: "InvalidArn".into(),
            message: format!("{state_machine_arn} is not a state machine ARN"),
        })?;
        if let Some(existing) = self.describe(&arn).await? {
            return Ok(Started::Existing(existing));
        }
        let started = self
            .client
            .start_execution()
            .state_machine_arn(state_machine_arn)
            .name(name)
            .input(input)
            .send()
            .await;
        match started {
            Ok(answer) => Ok(Started::New {
                arn: answer.execution_arn,
            }),
            // Another submit of the same name won the race between our look and our start.
            Err(error) if service_error(&error).is_some_and(|(code, _)| code == "ExecutionAlreadyExists") => {
                match self.describe(&arn).await? {
                    Some(existing) => Ok(Started::Existing(existing)),
                    None => Err(classify(&error)),
                }
            }
            Err(error) => Err(classify(&error)),
        }
    }

    /// The item counts of the execution's (one) Distributed Map run; `None` before it starts.
    pub async fn item_counts(&self, execution_arn: &str) -> PortResult<Option<ItemCounts>> {
        let runs = self
            .client
            .list_map_runs()
            .execution_arn(execution_arn)
            .send()
            .await
            .map_err(|e| classify(&e))?;
        let Some(run) = runs.map_runs.first() else {
            return Ok(None);
        };
        let described = self
            .client
            .describe_map_run()
            .map_run_arn(&run.map_run_arn)
            .send()
            .await
            .map_err(|e| classify(&e))?;
        Ok(described.item_counts.map(|c| ItemCounts {
            total: count(c.total),
            pending: count(c.pending),
            running: count(c.running),
            succeeded: count(c.succeeded),
            failed: count(c.failed),
            timed_out: count(c.timed_out),
            aborted: count(c.aborted),
        }))
    }

    /// The output of the last time the execution left `state`, newest events first; `None` if
    /// it never did.
    pub async fn state_output(&self, execution_arn: &str, state: &str) -> PortResult<Option<String>> {
        let mut token: Option<String> = None;
        loop {
            let page = self
                .client
                .get_execution_history()
                .execution_arn(execution_arn)
                .reverse_order(true)
                .include_execution_data(true)
                .max_results(100)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| classify(&e))?;
            let exited = page.events.iter().find_map(|event| {
                let details = event.state_exited_event_details.as_ref()?;
                (event.r#type != HistoryEventType::MapStateExited && details.name == state)
                    .then(|| details.output.clone())
            });
            if let Some(output) = exited {
                return Ok(output);
            }
            match page.next_token {
                Some(next) if !next.is_empty() => token = Some(next),
                _ => return Ok(None),
            }
        }
    }

    /// The value of one tag of a state machine.
    pub async fn tag(&self, resource_arn: &str, key: &str) -> PortResult<Option<String>> {
        let answer = self
            .client
            .list_tags_for_resource()
            .resource_arn(resource_arn)
            .send()
            .await
            .map_err(|e| classify(&e))?;
        Ok(answer
            .tags
            .unwrap_or_default()
            .into_iter()
            .find(|tag| tag.key.as_deref() == Some(key))
            .and_then(|tag| tag.value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MACHINE: &str = "arn:aws:states:us-east-1:111111111111:stateMachine:stackfleet";

    #[test]
    fn arns_go_both_ways() {
        let execution = execution_arn(MACHINE, "org-baseline-1a2b").unwrap();
        assert_eq!(
            execution,
            "arn:aws:states:us-east-1:111111111111:execution:stackfleet:org-baseline-1a2b"
        );
        assert_eq!(state_machine_arn(&execution).as_deref(), Some(MACHINE));
    }

    #[test]
    fn malformed_arns_are_refused() {
        assert_eq!(execution_arn("arn:aws:states:us-east-1:1:activity:x", "n"), None);
        assert_eq!(state_machine_arn(MACHINE), None);
        assert_eq!(state_machine_arn("arn:aws:states:us-east-1:1:execution:m"), None);
    }
}
