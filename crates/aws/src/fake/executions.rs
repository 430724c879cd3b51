//! An in-memory `Executions`: a state machine's executions by name, which tests start, finish and
//! inspect. It keeps Step Functions' one rule the operator decisions rest on (a name is taken
//! once), records every StartExecution, and lets two starts of one name race as they can in AWS.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use stackfleet_core::executions::{execution_arn, Execution, Executions, ItemCounts, Status};
use stackfleet_core::ports::{PortError, PortResult};

/// When the fake's first execution starts (2023-11-14), in milliseconds; each start is a second later.
const EPOCH_MS: u64 = 1_700_000_000_000;

/// A StartExecution call as Step Functions received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartCall {
    pub state_machine_arn: String,
    pub name: String,
    /// JSON text, as sent.
    pub input: String,
    /// Whether it began an execution; `false` when the name was taken (ExecutionAlreadyExists).
    pub began: bool,
}

#[derive(Debug, Clone)]
struct Recorded {
    execution: Execution,
    /// The output of each state the execution left, by state name (the newest exit).
    state_outputs: BTreeMap<String, String>,
    items: Option<ItemCounts>,
}

#[derive(Debug, Default)]
struct State {
    /// By execution ARN.
    executions: BTreeMap<String, Recorded>,
    starts: Vec<StartCall>,
    /// (resource ARN, key) -> value.
    tags: BTreeMap<(String, String), String>,
    clock_ms: u64,
}

impl State {
    fn begin(&mut self, state_machine_arn: &str, name: &str, input: &str) -> PortResult<String> {
        let arn = execution_arn(state_machine_arn, name).ok_or_else(|| PortError::Rejected {
            code: "InvalidArn".into(),
            message: format!("{state_machine_arn} is not a state machine ARN"),
        })?;
        self.clock_ms += 1000;
        let execution = Execution {
            arn: arn.clone(),
            name: name.to_owned(),
            state_machine_arn: state_machine_arn.to_owned(),
            status: Status::Running,
            input: Some(input.to_owned()),
            output: None,
            error: None,
            cause: None,
            started_at_ms: EPOCH_MS + self.clock_ms,
            stopped_at_ms: None,
        };
        self.executions.insert(
            arn.clone(),
            Recorded {
                execution,
                state_outputs: BTreeMap::new(),
                items: None,
            },
        );
        Ok(arn)
    }

    fn recorded(&mut self, arn: &str) -> &mut Recorded {
        self.executions
            .get_mut(arn)
            .unwrap_or_else(|| panic!("the fake has no execution {arn}"))
    }
}

/// One Step Functions region's executions and state machine tags. Clones share them.
#[derive(Debug, Clone, Default)]
pub struct FakeExecutions {
    state: Arc<Mutex<State>>,
}

impl FakeExecutions {
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// An execution some earlier client started (so not among `starts()`): RUNNING with `input`.
    /// Returns its ARN.
    pub fn add(&self, state_machine_arn: &str, name: &str, input: &str) -> String {
        self.state()
            .begin(state_machine_arn, name, input)
            .unwrap_or_else(|e| panic!("FakeExecutions::add: {e}"))
    }

    /// The execution ends in `status`, with `output` (JSON text) if it succeeded.
    pub fn finish(&self, arn: &str, status: Status, output: Option<&str>) {
        let mut state = self.state();
        state.clock_ms += 1000;
        let stopped = EPOCH_MS + state.clock_ms;
        let execution = &mut state.recorded(arn).execution;
        execution.status = status;
        execution.output = output.map(str::to_owned);
        execution.stopped_at_ms = Some(stopped);
    }

    /// The execution ends FAILED with this error and cause, as a Fail state or an uncaught
    /// error leaves it.
    pub fn fail(&self, arn: &str, error: &str, cause: Option<&str>) {
        self.finish(arn, Status::Failed, None);
        let mut state = self.state();
        let execution = &mut state.recorded(arn).execution;
        execution.error = Some(error.to_owned());
        execution.cause = cause.map(str::to_owned);
    }

    /// The execution left `state` with `output` (JSON text), as its history would show.
    pub fn exit_state(&self, arn: &str, state: &str, output: &str) {
        self.state()
            .recorded(arn)
            .state_outputs
            .insert(state.to_owned(), output.to_owned());
    }

    /// The execution's Distributed Map run now counts these items.
    pub fn set_item_counts(&self, arn: &str, items: ItemCounts) {
        self.state().recorded(arn).items = Some(items);
    }

    pub fn set_tag(&self, resource_arn: &str, key: &str, value: &str) {
        self.state()
            .tags
            .insert((resource_arn.to_owned(), key.to_owned()), value.to_owned());
    }

    /// Every StartExecution call made through the port, in order.
    pub fn starts(&self) -> Vec<StartCall> {
        self.state().starts.clone()
    }

    /// Every execution there is, started by the port or added.
    pub fn executions(&self) -> Vec<Execution> {
        self.state()
            .executions
            .values()
            .map(|recorded| recorded.execution.clone())
            .collect()
    }
}

impl Executions for FakeExecutions {
    async fn describe(&self, arn: &str) -> PortResult<Option<Execution>> {
        Ok(self
            .state()
            .executions
            .get(arn)
            .map(|recorded| recorded.execution.clone()))
    }

    /// StartExecution. It yields first, as a network round trip would, so that two submits of
    /// one name run together (`tokio::join!`) race as in AWS: both look, one begins, the other
    /// finds the name taken.
    async fn start_execution(
        &self,
        state_machine_arn: &str,
        name: &str,
        input: &str,
    ) -> PortResult<Option<String>> {
        tokio::task::yield_now().await;
        let mut state = self.state();
        let taken =
            execution_arn(state_machine_arn, name).is_some_and(|arn| state.executions.contains_key(&arn));
        state.starts.push(StartCall {
            state_machine_arn: state_machine_arn.to_owned(),
            name: name.to_owned(),
            input: input.to_owned(),
            began: !taken,
        });
        if taken {
            return Ok(None);
        }
        state.begin(state_machine_arn, name, input).map(Some)
    }

    async fn item_counts(&self, execution_arn: &str) -> PortResult<Option<ItemCounts>> {
        Ok(self
            .state()
            .executions
            .get(execution_arn)
            .and_then(|recorded| recorded.items))
    }

    async fn state_output(&self, execution_arn: &str, state: &str) -> PortResult<Option<String>> {
        Ok(self
            .state()
            .executions
            .get(execution_arn)
            .and_then(|recorded| recorded.state_outputs.get(state).cloned()))
    }

    async fn tag(&self, resource_arn: &str, key: &str) -> PortResult<Option<String>> {
        Ok(self
            .state()
            .tags
            .get(&(resource_arn.to_owned(), key.to_owned()))
            .cloned())
    }
}
