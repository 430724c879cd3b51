//! What a run keeps in the store, and where: everything under `runs/<run>/`.

use serde::{Deserialize, Serialize};
use stackfleet_core::ports::{PortError, RunStore};
use stackfleet_core::{ErrorName, Outcome, OutcomeKind, Rollout, RolloutSpec, RunId, Target};

use crate::error::LambdaError;
pub use stackfleet_core::run_keys::RunKeys;
pub use stackfleet_core::wire::lister::RunRecord;

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

/// The outcome at `key`, one of the run's outcome keys; `None` if it is gone, or if the key
/// names no target (a stray object under outcomes/, left out of the report). An object that
/// cannot be read, or is not that target's outcome, is the target's Failed outcome with the error
/// and the key: one bad object is its target's problem, not the report's. Throttling and
/// transport errors fail the step instead, which the state machine retries: a passing fault must
/// not read as a failed target.
pub async fn stored_outcome<S: RunStore>(
    store: &S,
    keys: &RunKeys,
    key: &str,
) -> Result<Option<Outcome>, LambdaError> {
    let read = match store.get(key).await {
        Err(error @ (PortError::Throttled(_) | PortError::Transport(_))) => return Err(error.into()),
        Ok(None) => return Ok(None),
        Ok(Some(text)) => Ok(text),
        Err(error) => Err(error),
    };
    let Some(target) = keys.outcome_target(key) else {
        tracing::warn!(
            key,
            "an object under outcomes/ that is no target's outcome: left out of the report"
        );
        return Ok(None);
    };
    let outcome = match read {
        Ok(text) => Outcome::stored(target, key, &text),
        Err(error) => Outcome::unreadable(target, key, error),
    };
    Ok(Some(outcome))
}

/// The outcome, then (for a failure) its marker under its wave: a marker never stands for a
/// missing outcome.
pub async fn put_outcome<S: RunStore>(
    store: &S,
    run: &RunId,
    wave: usize,
    outcome: &Outcome,
) -> Result<(), LambdaError> {
    let keys = RunKeys::new(run);
    put_json(store, &keys.outcome(&outcome.target), outcome).await?;
    if outcome.kind() == OutcomeKind::Failed {
        store
            .put(
                &keys.failed_marker(wave, &outcome.target),
                String::new(),
                "text/plain",
            )
            .await?;
    }
    Ok(())
}

/// How many keys there are under `prefix` (one LIST call per thousand).
pub async fn count<S: RunStore>(store: &S, prefix: &str) -> Result<usize, LambdaError> {
    let keys =
        stackfleet_core::ports::all_pages(|page| async move { store.list(prefix, page.as_deref()).await })
            .await?;
    Ok(keys.len())
}

/// The targets of wave `index`, as the lister wrote them.
pub async fn wave<S: RunStore>(store: &S, run: &RunId, index: usize) -> Result<Vec<Target>, LambdaError> {
    required(store, &RunKeys::new(run).wave(index)).await
}

/// The targets of every wave of the run, in order.
pub async fn waves<S: RunStore>(store: &S, record: &RunRecord) -> Result<Vec<Vec<Target>>, LambdaError> {
    let mut all = Vec::with_capacity(record.waves.len());
    for index in 0..record.waves.len() {
        all.push(wave(store, &record.run, index).await?);
    }
    Ok(all)
}

/// The run's waves with their targets (`waves`' answer), as reports and plans list them.
pub fn named_waves(record: &RunRecord, by_wave: Vec<Vec<Target>>) -> Vec<stackfleet_core::waves::Wave> {
    record
        .waves
        .iter()
        .zip(by_wave)
        .map(|(header, targets)| stackfleet_core::waves::Wave {
            name: header.name.clone(),
            bake_seconds: header.bake_seconds,
            failure_tolerance: header.failure_tolerance,
            targets,
        })
        .collect()
}

/// Why no new target of the run may start, once wave `wave`'s failures or the rollout's pass
/// their tolerance (the failed markers counted); `None` within both, or for a budget that no
/// count can pass (nothing is listed then).
pub async fn budget_passed<S: RunStore>(
    store: &S,
    record: &RunRecord,
    wave: usize,
) -> Result<Option<String>, LambdaError> {
    let Some(budget) = record.budget(wave).filter(|b| !b.is_unlimited()) else {
        return Ok(None);
    };
    let keys = RunKeys::new(&record.run);
    let wave_failed = count(store, &keys.failed_in_wave(wave)).await?;
    let overall_failed = count(store, &keys.failed()).await?;
    Ok(budget.exceeded(wave_failed, overall_failed))
}

/// The run's record, as the lister wrote it.
pub async fn record<S: RunStore>(store: &S, run: &RunId) -> Result<RunRecord, LambdaError> {
    required(store, &RunKeys::new(run).record()).await
}

/// The run's rollout document, as the lister recorded it.
pub async fn document<S: RunStore>(store: &S, run: &RunId) -> Result<Rollout, LambdaError> {
    required(store, &RunKeys::new(run).spec()).await
}

/// What every target of the run applies: the run's document, resolved.
pub async fn spec<S: RunStore>(store: &S, run: &RunId) -> Result<RolloutSpec, LambdaError> {
    let document = document(store, run).await?;
    document.resolve().map(|resolved| resolved.spec).map_err(|e| {
        LambdaError::new(
            ErrorName::Internal,
            format!("the run's recorded document no longer resolves: {e}"),
        )
    })
}

/// A target's plan that says it could not be planned, and why.
pub fn unplannable(target: &Target, reason: String) -> stackfleet_core::plan::TargetPlan {
    stackfleet_core::plan::TargetPlan {
        target: target.clone(),
        verdict: stackfleet_core::plan::PlanVerdict::CannotPlan { reason },
        adopts: false,
        reviewed: None,
    }
}

/// Whether a plan-first run's plan is written (one LIST, not a read of the plan): before it,
/// the run is planning; after it, applying what its approval says.
pub async fn plan_written<S: RunStore>(store: &S, run: &RunId) -> Result<bool, LambdaError> {
    let key = RunKeys::new(run).plan_json();
    let page = store.list(&key, None).await?;
    Ok(page.items.iter().any(|listed| listed == &key))
}

/// The approval of a plan-first run's plan, once written.
pub async fn approval<S: RunStore>(
    store: &S,
    run: &RunId,
) -> Result<Option<stackfleet_core::wire::review::Approval>, LambdaError> {
    get_json(store, &RunKeys::new(run).approval()).await
}
