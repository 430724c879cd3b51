//! Discover: the execution input merged over the default spec, validated, and the targets listed
//! from the Organization. Writes the run's records; returns what the Map needs, compactly.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use stackfleet_core::ports::{Organization, RunStore, ValidateTemplate};
use stackfleet_core::preflight::{preflight, PreflightError};
use stackfleet_core::targeting::{resolve, Resolution, TargetingError};
use stackfleet_core::{ErrorName, RunId, Target};

use crate::error::LambdaError;
use crate::input;
use crate::records::{put_json, put_outcome, RunKeys, RunRecord};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListerRequest {
    /// The execution's name (`$$.Execution.Name`): the run's ID is made from it.
    pub execution: String,
    pub input: Value,
}

/// The Map's input: small at any scale (about 25 bytes a target).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Discovered {
    pub run: RunId,
    pub targets: Vec<Target>,
    pub concurrency: u32,
    pub tolerated_failure_percentage: u8,
    pub new_account: bool,
    pub skipped: usize,
}

pub async fn list<O, V, S>(
    org: &O,
    validator: &V,
    store: &S,
    default_spec: &Value,
    request: ListerRequest,
    now_ms: u64,
) -> Result<Discovered, LambdaError>
where
    O: Organization,
    V: ValidateTemplate,
    S: RunStore,
{
    let run = RunId::from_lossy(&request.execution);
    let (rollout, merged) = input::parse(default_spec, &request.input)?;
    preflight(validator, &rollout.spec).await.map_err(|e| match e {
        PreflightError::Spec(_) => LambdaError::invalid(e.to_string()),
        PreflightError::Template(_) => LambdaError::new(ErrorName::TemplateInvalid, e.to_string()),
        PreflightError::Unreachable(error) => LambdaError::from(error),
    })?;
    let resolution = if rollout.targets.list.is_empty() {
        resolve(org, &rollout.targets.selection())
            .await
            .map_err(|e| match e {
                TargetingError::Aws(error) => LambdaError::from(error),
                other => LambdaError::invalid(other.to_string()),
            })?
    } else {
        Resolution {
            targets: rollout.targets.list.clone(),
            skipped: Vec::new(),
        }
    };
    tracing::info!(run = %run, stack = %rollout.spec.stack_name, targets = resolution.targets.len(), skipped = resolution.skipped.len(), "discovered");

    let keys = RunKeys::new(&run);
    put_json(store, &keys.spec(), &rollout.spec).await?;
    put_json(store, &keys.input(), &merged).await?;
    let record = RunRecord {
        run: run.clone(),
        stack_name: rollout.spec.stack_name.clone(),
        started_at_ms: now_ms,
        targets: resolution.targets.clone(),
        tolerated_failure_percentage: rollout.tolerated_failure_percentage,
    };
    put_json(store, &keys.record(), &record).await?;
    for skipped in &resolution.skipped {
        put_outcome(store, &run, skipped).await?;
    }
    Ok(Discovered {
        run,
        targets: resolution.targets,
        concurrency: rollout.concurrency,
        tolerated_failure_percentage: rollout.tolerated_failure_percentage,
        new_account: rollout.new_account,
        skipped: resolution.skipped.len(),
    })
}
