//! What every function's `main` shares: JSON logs, and its settings from the environment.

use lambda_runtime::Error;
use serde_json::Value;

/// Structured logs, as CloudWatch reads them; `RUST_LOG` narrows them. The SDK's TRACE events
/// (whole request bodies, parameter values among them) never reach them.
pub fn init_tracing() {
    use tracing_subscriber::filter::{filter_fn, FilterExt};
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::Layer;
    let asked = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let logs = tracing_subscriber::fmt::layer()
        .json()
        .with_current_span(true)
        .with_target(false)
        .without_time()
        .with_filter(asked.and(filter_fn(stackfleet_aws::logs::loggable)));
    tracing_subscriber::registry().with(logs).init();
}

/// The functions' settings, from the environment the CDK app gives them.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where runs keep their records.
    pub bucket: String,
    /// The stored default rollout spec: what a new-account event deploys.
    pub default_spec: Value,
}

impl Settings {
    pub fn from_env() -> Result<Self, Error> {
        let bucket = std::env::var("STACKFLEET_BUCKET").map_err(|_| "STACKFLEET_BUCKET is not set")?;
        let default_spec = match std::env::var("STACKFLEET_DEFAULT_SPEC") {
            Ok(json) => serde_json::from_str(&json)
                .map_err(|e| format!("STACKFLEET_DEFAULT_SPEC is not JSON: {e}"))?,
            Err(_) => Value::Object(serde_json::Map::new()),
        };
        Ok(Self { bucket, default_spec })
    }
}

/// What the lister lets an execution input do, from `STACKFLEET_INPUT_FIELDS` (the fields an
/// input may change, separated by spaces or commas; unset: `policy::DEFAULT_INPUT_FIELDS`) and
/// `STACKFLEET_ACCEPT` (`any`, the default, or `new-account`). A malformed value stops the
/// function at init, before any input is taken.
pub fn acceptance_from_env() -> Result<crate::input::Acceptance, Error> {
    let policy = match std::env::var("STACKFLEET_INPUT_FIELDS") {
        Ok(fields) => stackfleet_core::policy::InputPolicy::parse(&fields)
            .map_err(|e| format!("STACKFLEET_INPUT_FIELDS: {e}"))?,
        Err(_) => stackfleet_core::policy::InputPolicy::default(),
    };
    let new_accounts_only = match std::env::var("STACKFLEET_ACCEPT").as_deref() {
        Err(_) | Ok("any" | "") => false,
        Ok("new-account") => true,
        Ok(other) => return Err(format!("STACKFLEET_ACCEPT is {other:?}: give any or new-account").into()),
    };
    Ok(crate::input::Acceptance {
        policy,
        new_accounts_only,
    })
}

/// The worker function's reserved concurrency, from `STACKFLEET_WORKER_CONCURRENCY` (unset: none
/// reserved). A malformed value stops the function at init, before any input is taken.
pub fn worker_concurrency_from_env() -> Result<Option<u32>, Error> {
    match std::env::var("STACKFLEET_WORKER_CONCURRENCY") {
        Err(_) => Ok(None),
        Ok(text) => parse_worker_concurrency(&text).map(Some).map_err(Into::into),
    }
}

fn parse_worker_concurrency(text: &str) -> Result<u32, String> {
    match text.trim().parse::<u32>() {
        Ok(reserved) if reserved >= 1 => Ok(reserved),
        _ => Err(format!(
            "STACKFLEET_WORKER_CONCURRENCY is {text:?}: give the worker function's reserved \
             concurrency, a whole number from 1 (the CDK app sets it)"
        )),
    }
}

/// Wall-clock milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    stackfleet_core::lifecycle::Clock::now_ms(&stackfleet_core::lifecycle::SystemClock)
}

#[cfg(test)]
mod tests {
    use super::parse_worker_concurrency;

    #[test]
    fn the_worker_concurrency_is_a_whole_number_from_one() {
        assert_eq!(parse_worker_concurrency("100"), Ok(100));
        for bad in ["0", "-5", "ten", "", "1.5"] {
            let error = parse_worker_concurrency(bad).unwrap_err();
            assert!(error.starts_with("STACKFLEET_WORKER_CONCURRENCY is"), "{error}");
        }
    }
}
