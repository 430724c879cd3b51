//! Discover: the execution input laid over the default spec, validated, and the targets listed
//! from the Organization. Writes the run's records; returns what the Map needs, compactly.

use serde_json::Value;
use stackfleet_core::ports::{Organization, RunStore, ValidateTemplate};
use stackfleet_core::preflight::{preflight, PreflightError};
use stackfleet_core::targeting::{resolve, Resolution, TargetingError};
use stackfleet_core::wire::lister::RunRecord;
pub use stackfleet_core::wire::lister::{Discovered, ListerRequest};
use stackfleet_core::{ErrorName, RunId};

use crate::error::LambdaError;
use crate::input;
use crate::records::{put_json, put_outcome, RunKeys};

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
    let rollout = input::parse(default_spec, &request.input)?;
    let resolved = &rollout.resolved;
    preflight(validator, &resolved.spec).await.map_err(|e| match e {
        PreflightError::Spec(_) => LambdaError::invalid(e.to_string()),
        PreflightError::Template(_) => LambdaError::new(ErrorName::TemplateInvalid, e.to_string()),
        PreflightError::Unreachable(error) => LambdaError::from(error),
    })?;
    let resolution = if resolved.targets.list.is_empty() {
        resolve(org, &resolved.targets.selection())
            .await
            .map_err(|e| match e {
                TargetingError::Aws(error) => LambdaError::from(error),
                other => LambdaError::invalid(other.to_string()),
            })?
    } else {
        Resolution {
            targets: resolved.targets.list.clone(),
            skipped: Vec::new(),
        }
    };
    tracing::info!(run = %run, stack = %resolved.spec.stack_name, targets = resolution.targets.len(), skipped = resolution.skipped.len(), "discovered");

    let keys = RunKeys::new(&run);
    // The run's own document: what every worker deploys, and what a re-run narrows.
    put_json(store, &keys.spec(), &rollout.document).await?;
    let record = RunRecord {
        run: run.clone(),
        stack_name: resolved.spec.stack_name.clone(),
        started_at_ms: now_ms,
        targets: resolution.targets.clone(),
        failure_tolerance: resolved.tolerance,
    };
    put_json(store, &keys.record(), &record).await?;
    for skipped in &resolution.skipped {
        put_outcome(store, &run, skipped).await?;
    }
    Ok(Discovered {
        run,
        targets: resolution.targets,
        concurrency: resolved.concurrency,
        failure_tolerance: resolved.tolerance,
        new_account: rollout.new_account,
        skipped: resolution.skipped.len(),
    })
}
