//! The Executions port: Step Functions as the operator commands see it. An execution's start
//! (refused when its name is taken), how it stands, its Distributed Map run's item counts, what one of its
//! states returned, and its state machine's tags. `stackfleet-aws` implements it with the SDK
//! and in memory; the decisions over it are in `operator`.

use std::future::Future;

use crate::ports::PortResult;

/// How an execution stands, as `DescribeExecution` spells it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, strum::Display, strum::EnumString)]
#[strum(serialize_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    Running,
    Succeeded,
    Failed,
    TimedOut,
    Aborted,
    /// A status this build does not know, kept as spelled (Step Functions added
    /// `PENDING_REDRIVE` in 2023): shown to the user as is, and treated as not yet finished.
    #[strum(default)]
    Other(String),
}

impl Status {
    /// Whether the execution has ended for good: only then are its report and failures final.
    pub fn is_finished(&self) -> bool {
        !matches!(self, Self::Running | Self::Other(_))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Execution {
    pub arn: String,
    pub name: String,
    pub state_machine_arn: String,
    pub status: Status,
    /// The input as JSON text; Step Functions omits it when the caller may not see it.
    pub input: Option<String>,
    /// The output as JSON text, once the execution succeeded.
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

/// The deployed state machine's executions: one AWS call per method, no decisions (those are
/// `operator`'s).
pub trait Executions: Send + Sync {
    /// `Ok(None)` when no execution has this ARN.
    fn describe(&self, arn: &str) -> impl Future<Output = PortResult<Option<Execution>>> + Send;

    /// StartExecution of `name` with `input` (JSON text): `Some(arn)` when it began one, `None`
    /// when the name is taken (ExecutionAlreadyExists). Names are unique per state machine until
    /// 90 days after an execution ends.
    fn start_execution(
        &self,
        state_machine_arn: &str,
        name: &str,
        input: &str,
    ) -> impl Future<Output = PortResult<Option<String>>> + Send;

    /// The item counts of the execution's (one) Distributed Map run; `None` before it starts.
    fn item_counts(&self, execution_arn: &str)
        -> impl Future<Output = PortResult<Option<ItemCounts>>> + Send;

    /// The output of the last time the execution left `state`; `None` if it never did.
    fn state_output(
        &self,
        execution_arn: &str,
        state: &str,
    ) -> impl Future<Output = PortResult<Option<String>>> + Send;

    /// The value of one tag of a state machine.
    fn tag(&self, resource_arn: &str, key: &str) -> impl Future<Output = PortResult<Option<String>>> + Send;
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

    #[test]
    fn statuses_read_and_print_as_step_functions_spells_them() {
        for (text, status) in [
            ("RUNNING", Status::Running),
            ("SUCCEEDED", Status::Succeeded),
            ("FAILED", Status::Failed),
            ("TIMED_OUT", Status::TimedOut),
            ("ABORTED", Status::Aborted),
        ] {
            assert_eq!(text.parse::<Status>(), Ok(status.clone()));
            assert_eq!(status.to_string(), text);
            assert!(status.is_finished() != (status == Status::Running), "{text}");
        }
    }

    #[test]
    fn an_unknown_status_keeps_its_name_and_is_not_finished() {
        let status: Status = "PENDING_REDRIVE".parse().unwrap();
        assert_eq!(status, Status::Other("PENDING_REDRIVE".into()));
        assert_eq!(status.to_string(), "PENDING_REDRIVE");
        assert!(!status.is_finished());
    }
}
