//! The error contract: stable names the worker sends as its Lambda error type and the state
//! machine matches in Retry and Catch. Renaming one is a breaking change for deployed machines.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
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
    pub const ALL: [ErrorName; 10] = [
        Self::AccessDenied,
        Self::AccountNotReady,
        Self::Throttled,
        Self::StackBusy,
        Self::TemplateInvalid,
        Self::StackFailed,
        Self::NeedsAttention,
        Self::TimedOut,
        Self::InvalidInput,
        Self::Internal,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::AccessDenied => "AccessDenied",
            Self::AccountNotReady => "AccountNotReady",
            Self::Throttled => "Throttled",
            Self::StackBusy => "StackBusy",
            Self::TemplateInvalid => "TemplateInvalid",
            Self::StackFailed => "StackFailed",
            Self::NeedsAttention => "NeedsAttention",
            Self::TimedOut => "TimedOut",
            Self::InvalidInput => "InvalidInput",
            Self::Internal => "Internal",
        }
    }

    /// Worth trying the same step again later: the cause may pass by itself.
    pub fn is_transient(self) -> bool {
        matches!(self, Self::AccountNotReady | Self::Throttled | Self::Internal)
    }
}

impl fmt::Display for ErrorName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ErrorName {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|name| name.as_str() == s)
            .ok_or_else(|| format!("{s:?} is not a stackfleet error name"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_as_text_and_json() {
        for name in ErrorName::ALL {
            assert_eq!(name.as_str().parse::<ErrorName>(), Ok(name));
            assert_eq!(serde_json::to_string(&name).unwrap(), format!("\"{name}\""));
        }
        assert!("States.ALL".parse::<ErrorName>().is_err());
    }
}
