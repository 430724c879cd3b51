//! SDK errors, classified into core's `PortError`. Only the cases the lifecycle handles are told
//! apart; every other refusal keeps its code and message for the report.

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use stackfleet_core::ports::PortError;

const THROTTLING_CODES: [&str; 6] = [
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "SlowDown",
];

/// Codes with which a newly created account answers before it is fully provisioned.
const NOT_READY_CODES: [&str; 2] = ["OptInRequired", "SubscriptionRequiredException"];

/// The code and message of a service error; `None` for transport failures.
pub(crate) fn service_error<E: ProvideErrorMetadata>(
    error: &SdkError<E, HttpResponse>,
) -> Option<(String, String)> {
    match error {
        SdkError::ServiceError(context) => {
            let inner = context.err();
            Some((
                inner.code().unwrap_or("Unknown").to_owned(),
                inner.message().unwrap_or("no message").to_owned(),
            ))
        }
        _ => None,
    }
}

pub(crate) fn classify<E>(error: &SdkError<E, HttpResponse>) -> PortError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let Some((code, message)) = service_error(error) else {
        return PortError::Transport(DisplayErrorContext(error).to_string());
    };
    let status = match error {
        SdkError::ServiceError(context) => context.raw().status().as_u16(),
        _ => 0,
    };
    match code.as_str() {
        c if THROTTLING_CODES.contains(&c) => PortError::Throttled(message),
        c if NOT_READY_CODES.contains(&c) => PortError::AccountNotReady(format!("{code}: {message}")),
        // STS is off, for the account, in the region stackfleet calls STS in (its own region,
        // not the target's): the deploy role cannot be assumed from here. A refusal like
        // AccessDenied, which the assumer reads as "not ready" for a new account.
        "RegionDisabledException" => PortError::AccessDenied(format!(
            "{code}: {message} (STS is turned off for this account in the region stackfleet \
             calls STS in; turn it on in the account's IAM settings, or run from another region)"
        )),
        "AccessDenied" | "AccessDeniedException" | "UnauthorizedOperation" => {
            PortError::AccessDenied(message)
        }
        "AlreadyExistsException" | "TokenAlreadyExistsException" => PortError::AlreadyExists(message),
        "InsufficientCapabilitiesException" => PortError::TemplateInvalid(message),
        "ValidationError" if is_busy_message(&message) => PortError::StackBusy(message),
        _ if status >= 500 => PortError::Transport(format!("{code}: {message}")),
        _ => PortError::Rejected { code, message },
    }
}

/// CloudFormation refuses a second operation on a stack that is running one with a
/// ValidationError whose message names the running status.
fn is_busy_message(message: &str) -> bool {
    message.contains("_IN_PROGRESS state and can not be")
        || message.contains("_IN_PROGRESS state and cannot be")
}
