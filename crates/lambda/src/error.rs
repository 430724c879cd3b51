//! The Lambdas' errors, sent with the error contract's names as the Lambda error type so that the
//! state machine's Retry and Catch can match them.

use lambda_runtime::Diagnostic;
use stackfleet_core::lifecycle::EngineError;
use stackfleet_core::ports::PortError;
use stackfleet_core::ErrorName;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name}: {message}")]
pub struct LambdaError {
    pub name: ErrorName,
    pub message: String,
}

impl LambdaError {
    pub fn new(name: ErrorName, message: impl Into<String>) -> Self {
        Self {
            name,
            message: message.into(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorName::InvalidInput, message)
    }
}

impl From<PortError> for LambdaError {
    fn from(error: PortError) -> Self {
        Self::new(error.name(), error.to_string())
    }
}

impl From<EngineError> for LambdaError {
    fn from(error: EngineError) -> Self {
        Self::new(error.name, error.message)
    }
}

impl From<LambdaError> for Diagnostic {
    fn from(error: LambdaError) -> Self {
        Diagnostic {
            error_type: error.name.as_str().to_owned(),
            error_message: error.message,
        }
    }
}
