//! What a run keeps in the store, and where: everything under `runs/<run>/`.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use stackfleet_core::ports::RunStore;
use stackfleet_core::{Outcome, RolloutSpec, RunId, StackName, Target};

use crate::error::LambdaError;

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

#[derive(Debug, Clone)]
pub struct RunKeys {
    prefix: String,
}

impl RunKeys {
    pub fn new(run: &RunId) -> Self {
        Self {
            prefix: format!("runs/{run}/"),
        }
    }

    pub fn record(&self) -> String {
        format!("{}run.json", self.prefix)
    }

    pub fn spec(&self) -> String {
        format!("{}spec.json", self.prefix)
    }

    /// The merged execution input, which a re-run narrows.
    pub fn input(&self) -> String {
        format!("{}input.json", self.prefix)
    }

    pub fn outcomes(&self) -> String {
        format!("{}outcomes/", self.prefix)
    }

    pub fn outcome(&self, target: &Target) -> String {
        format!("{}{}-{}.json", self.outcomes(), target.account, target.region)
    }

    pub fn report_json(&self) -> String {
        format!("{}report.json", self.prefix)
    }

    pub fn report_md(&self) -> String {
        format!("{}report.md", self.prefix)
    }
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

pub async fn put_outcome<S: RunStore>(store: &S, run: &RunId, outcome: &Outcome) -> Result<(), LambdaError> {
    put_json(store, &RunKeys::new(run).outcome(&outcome.target), outcome).await
}

pub async fn spec<S: RunStore>(store: &S, run: &RunId) -> Result<RolloutSpec, LambdaError> {
    required(store, &RunKeys::new(run).spec()).await
}

pub async fn input<S: RunStore>(store: &S, run: &RunId) -> Result<Value, LambdaError> {
    required(store, &RunKeys::new(run).input()).await
}
