//! The error contract: stable names the worker sends as its Lambda error type and the state
//! machine matches in Retry and Catch. Renaming one is a breaking change for deployed machines.
//!
//! The names, their parsing and the list of them all are derived (strum), so the contract test
//! that holds them against statemachine.asl.json iterates exactly what the compiler sees.

use serde::{Deserialize, Serialize};
use strum::{Display, EnumIter, EnumString, IntoStaticStr};

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    Display,
    EnumString,
    EnumIter,
    IntoStaticStr,
)]
pub enum ErrorName {
    /// The deploy role is missing in the target, or does not trust the caller.
    AccessDenied,
    /// A new account cannot be reached yet; retried with backoff.
    AccountNotReady,
    /// AWS throttled us beyond the SDK's retries.
    Throttled,
    /// Somebody else's operation held the stack past the operation timeout.
    StackBusy,
    /// CloudFormation refused the template or its parameters.
    TemplateInvalid,
    /// The stack operation failed and rolled back; the outcome carries the root cause.
    StackFailed,
    /// The stack is in a state stackfleet will not touch under the chosen policy.
    NeedsAttention,
    /// Our own operation did not finish within the operation timeout.
    TimedOut,
    /// The execution input cannot be used: a malformed field, an unknown OU.
    InvalidInput,
    /// Anything else: a network failure, an answer we do not understand.
    Internal,
}

impl ErrorName {
    /// The name as the Lambda error type and the ASL's `ErrorEquals` spell it.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Worth trying the same step again later: the cause may pass by itself.
    pub fn is_transient(self) -> bool {
        matches!(self, Self::AccountNotReady | Self::Throttled | Self::Internal)
    }
}

#[cfg(test)]
mod tests {
    use strum::IntoEnumIterator;

    use super::*;

    #[test]
    fn names_round_trip_as_text_and_json() {
        assert_eq!(ErrorName::iter().count(), 10);
        for name in ErrorName::iter() {
            assert_eq!(name.as_str().parse::<ErrorName>(), Ok(name));
            assert_eq!(serde_json::to_string(&name).unwrap(), format!("\"{name}\""));
        }
        assert_eq!(ErrorName::AccountNotReady.to_string(), "AccountNotReady");
        assert!("States.ALL".parse::<ErrorName>().is_err());
        assert!(
            "throttled".parse::<ErrorName>().is_err(),
            "names are case-sensitive, as in the ASL"
        );
    }
}
