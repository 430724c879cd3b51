//! What a run keeps in the store, and where: everything under `runs/<run>/`.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use stackfleet_core::ports::RunStore;
use stackfleet_core::{Outcome, OutcomeKind, RolloutSpec, RunId, StackName, Target};

use crate::error::LambdaError;
pub use stackfleet_core::run_keys::RunKeys;

/// Written by the lister, read by the reducer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunRecord {
    pub run: RunId,
    pub stack_name: StackName,
    pub started_at_ms: u64,
    pub targets: Vec<Target>,
    pub tolerated_failure_percentage: u8,
}

const JSON: &str = "application/json";

pub async fn put_json<S: RunStore, T: Serialize>(store: &S, key: &str, value: &T) -> Result<(), LambdaError> {
    let body = serde_json::to_string(value)
        .map_err(|e| LambdaError::new(stackfleet_core::ErrorName::Internal, e.to_string()))?;
    Ok(store.put(key, body, JSON).await?)
}

pub async fn get_json<S: RunStore, T: for<'de> Deserialize<'de>>(
    store: &S,
    key: &str,
) -> Result<Option<T>, LambdaError> {
    let Some(text) = store.get(key).await? else {
        return Ok(None);
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| LambdaError::new(stackfleet_core::ErrorName::Internal, format!("{key}: {e}")))
}

pub async fn required<S: RunStore, T: for<'de> Deserialize<'de>>(
    store: &S,
    key: &str,
) -> Result<T, LambdaError> {
    get_json(store, key).await?.ok_or_else(|| {
        LambdaError::new(
            stackfleet_core::ErrorName::Internal,
            format!("{key} is missing: was this run discovered by the lister?"),
        )
    })
}

/// The outcome, then (for a failure) its marker: a marker never stands for a missing outcome.
pub async fn put_outcome<S: RunStore>(store: &S, run: &RunId, outcome: &Outcome) -> Result<(), LambdaError> {
    let keys = RunKeys::new(run);
    put_json(store, &keys.outcome(&outcome.target), outcome).await?;
    if outcome.kind == OutcomeKind::Failed {
        store
            .put(&keys.failed_marker(&outcome.target), String::new(), "text/plain")
            .await?;
    }
    Ok(())
}

pub async fn spec<S: RunStore>(store: &S, run: &RunId) -> Result<RolloutSpec, LambdaError> {
    required(store, &RunKeys::new(run).spec()).await
}

pub async fn input<S: RunStore>(store: &S, run: &RunId) -> Result<Value, LambdaError> {
    required(store, &RunKeys::new(run).input()).await
}
