//! Step Functions behind core's `Executions` port: SDK types in, core's types out. The decisions
//! over executions (what a re-submit or a re-run may do) are in `stackfleet_core::operator`.

use aws_config::SdkConfig;
use aws_sdk_sfn::types::{ExecutionStatus, HistoryEventType, MapRunItemCounts};
use aws_sdk_sfn::Client;
use aws_smithy_types::DateTime;
use stackfleet_core::executions::{Execution, Executions, ItemCounts, Status};
use stackfleet_core::ports::PortResult;

use crate::errors::classify;

/// History events read per page while looking for a state's output, newest first: the state
/// looked for (Reduce) is near the end, so the first page almost always has it.
const HISTORY_PAGE: i32 = 100;

fn status(status: &ExecutionStatus) -> Status {
    status
        .as_str()
        .parse()
        .unwrap_or_else(|_| Status::Other(status.as_str().to_owned()))
}

fn millis(time: &DateTime) -> u64 {
    u64::try_from(time.to_millis().unwrap_or(0)).unwrap_or(0)
}

fn count(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

fn item_counts(counts: &MapRunItemCounts) -> ItemCounts {
    ItemCounts {
        total: count(counts.total),
        pending: count(counts.pending),
        running: count(counts.running),
        succeeded: count(counts.succeeded),
        failed: count(counts.failed),
        timed_out: count(counts.timed_out),
        aborted: count(counts.aborted),
    }
}

#[derive(Debug, Clone)]
pub struct SfnExecutions {
    client: Client,
}

impl SfnExecutions {
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    pub fn from_config(config: &SdkConfig) -> Self {
        Self::new(Client::new(config))
    }
}

impl Executions for SfnExecutions {
    async fn describe(&self, arn: &str) -> PortResult<Option<Execution>> {
        let answer = match self.client.describe_execution().execution_arn(arn).send().await {
            Ok(answer) => answer,
            Err(error) => {
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_execution_does_not_exist())
                {
                    return Ok(None);
                }
                return Err(classify(&error));
            }
        };
        Ok(Some(Execution {
            status: status(&answer.status),
            arn: answer.execution_arn,
            name: answer.name.unwrap_or_default(),
            state_machine_arn: answer.state_machine_arn,
            input: answer.input,
            output: answer.output,
            error: answer.error,
            cause: answer.cause,
            started_at_ms: millis(&answer.start_date),
            stopped_at_ms: answer.stop_date.as_ref().map(millis),
        }))
    }

    async fn start_execution(
        &self,
        state_machine_arn: &str,
        name: &str,
        input: &str,
    ) -> PortResult<Option<String>> {
        let started = self
            .client
            .start_execution()
            .state_machine_arn(state_machine_arn)
            .name(name)
            .input(input)
            .send()
            .await;
        match started {
            Ok(answer) => Ok(Some(answer.execution_arn)),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_execution_already_exists()) =>
            {
                Ok(None)
            }
            Err(error) => Err(classify(&error)),
        }
    }

    async fn item_counts(&self, execution_arn: &str) -> PortResult<Option<ItemCounts>> {
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
        Ok(described.item_counts.as_ref().map(item_counts))
    }

    async fn state_output(&self, execution_arn: &str, state: &str) -> PortResult<Option<String>> {
        let mut token: Option<String> = None;
        loop {
            let page = self
                .client
                .get_execution_history()
                .execution_arn(execution_arn)
                .reverse_order(true)
                .include_execution_data(true)
                .max_results(HISTORY_PAGE)
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

    async fn tag(&self, resource_arn: &str, key: &str) -> PortResult<Option<String>> {
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
