//! Discover: the execution input laid over the default spec, validated, the targets listed from
//! the Organization and assigned to waves (or, for a resume, the resumed run's waves less what
//! it deployed). Writes the run's records; returns counts only, whatever the fleet's size.

use serde_json::Value;
use stackfleet_core::ports::{Alarms, Organization, RunStore, ValidateTemplate};
use stackfleet_core::preflight::{preflight, PreflightError};
use stackfleet_core::report::Report;
use stackfleet_core::rollout::FailureTolerance;
use stackfleet_core::secrets::refuse_plaintext_no_echo;
use stackfleet_core::targeting::{resolve, wave_choices, Resolution, TargetingError};
use stackfleet_core::waves::{alarm_verdict, assign, remaining, Wave};
pub use stackfleet_core::wire::lister::{Discovered, ListerRequest};
use stackfleet_core::wire::lister::{RunRecord, WaveHeader};
use stackfleet_core::{ErrorName, Outcome, RunId};

use crate::error::LambdaError;
use crate::input::{self, RolloutInput};
use crate::records::{get_json, put_json, put_outcome, RunKeys};

fn targeting_error(error: TargetingError) -> LambdaError {
    match error {
        TargetingError::Aws(error) => LambdaError::from(error),
        other => LambdaError::invalid(other.to_string()),
    }
}

/// The waves of a new run, and the targets reported Skipped at once.
async fn new_waves<O: Organization>(
    org: &O,
    rollout: &RolloutInput,
) -> Result<(Vec<Wave>, Vec<Outcome>), LambdaError> {
    let resolved = &rollout.resolved;
    let resolution = if resolved.targets.list.is_empty() {
        resolve(org, &resolved.targets.selection())
            .await
            .map_err(targeting_error)?
    } else {
        Resolution {
            targets: resolved.targets.list.clone(),
            skipped: Vec::new(),
        }
    };
    let choices = wave_choices(org, &resolved.waves)
        .await
        .map_err(targeting_error)?;
    let waves = assign(&resolved.waves, &choices, resolved.tolerance, &resolution.targets);
    Ok((waves, resolution.skipped))
}

/// The waves of a resume: the resumed run's, less the targets it finished (deployed, or skipped
/// for what the account is), which are carried into this run's report.
async fn resumed_waves<S: RunStore>(
    store: &S,
    rollout: &RolloutInput,
    resumed: &RunId,
) -> Result<(Vec<Wave>, Vec<Outcome>), LambdaError> {
    let keys = RunKeys::new(resumed);
    let record: RunRecord = get_json(store, &keys.record()).await?.ok_or_else(|| {
        LambdaError::invalid(format!("resume: there is no run {resumed} in the run bucket"))
    })?;
    if record.stack_name != rollout.resolved.spec.stack_name {
        return Err(LambdaError::invalid(format!(
            "resume: run {resumed} rolled out stack {}, not {}",
            record.stack_name, rollout.resolved.spec.stack_name
        )));
    }
    let report: Report = get_json(store, &keys.report_json()).await?.ok_or_else(|| {
        LambdaError::invalid(format!(
            "resume: run {resumed} has no report yet: it is still running, or ended before its Reduce step"
        ))
    })?;
    let finished: Vec<Outcome> = report
        .outcomes
        .iter()
        .filter(|o| !o.wants_rerun())
        .cloned()
        .collect();
    // A report from before waves: one wave, with no tolerance of its own (Count(0)), as before.
    let waves = remaining(
        &report.recorded_waves(FailureTolerance::default()),
        &report.succeeded(),
    );
    Ok((waves, finished))
}

pub async fn list<O, V, A, S>(
    org: &O,
    validator: &V,
    alarms: &A,
    store: &S,
    default_spec: &Value,
    request: ListerRequest,
    now_ms: u64,
) -> Result<Discovered, LambdaError>
where
    O: Organization,
    V: ValidateTemplate,
    A: Alarms,
    S: RunStore,
{
    let run = RunId::from_lossy(&request.execution);
    let rollout = input::parse(default_spec, &request.input)?;
    let resolved = &rollout.resolved;
    let template = preflight(validator, &resolved.spec).await.map_err(|e| match e {
        PreflightError::Spec(_) => LambdaError::invalid(e.to_string()),
        PreflightError::Template(_) => LambdaError::new(ErrorName::TemplateInvalid, e.to_string()),
        PreflightError::Unreachable(error) => LambdaError::from(error),
    })?;
    // A NoEcho value in plaintext would be kept in the run's records and the execution's
    // history: refused before anything is written. References are resolved by the worker.
    refuse_plaintext_no_echo(&resolved.spec, &template.no_echo)
        .map_err(|e| LambdaError::invalid(e.to_string()))?;
    // A misspelt alarm would be a gate that never closes: refused before any target is touched.
    if !resolved.alarms.is_empty() {
        let states = alarms.states(&resolved.alarms).await?;
        if let Some(why) = alarm_verdict(&resolved.alarms, &states).filter(|why| why.contains("not found")) {
            return Err(LambdaError::invalid(why));
        }
    }
    let (waves, reported) = match &resolved.resume {
        Some(resumed) => resumed_waves(store, &rollout, resumed).await?,
        None => new_waves(org, &rollout).await?,
    };
    let total: usize = waves.iter().map(|w| w.targets.len()).sum();
    tracing::info!(run = %run, stack = %resolved.spec.stack_name, targets = total, waves = waves.len(), reported = reported.len(), resumes = ?resolved.resume, "discovered");

    let keys = RunKeys::new(&run);
    // The run's own document: what every worker deploys, and what a resume starts from.
    put_json(store, &keys.spec(), &rollout.document).await?;
    for (index, wave) in waves.iter().enumerate() {
        put_json(store, &keys.wave(index), &wave.targets).await?;
    }
    if resolved.resume.is_some() {
        put_json(store, &keys.inherited(), &reported).await?;
    } else {
        for skipped in &reported {
            put_outcome(store, &run, 0, skipped).await?;
        }
    }
    let record = RunRecord {
        run: run.clone(),
        stack_name: resolved.spec.stack_name.clone(),
        started_at_ms: now_ms,
        failure_tolerance: resolved.tolerance,
        total,
        concurrency: resolved.concurrency,
        new_account: rollout.new_account,
        waves: waves
            .iter()
            .map(|w| WaveHeader {
                name: w.name.clone(),
                bake_seconds: w.bake_seconds,
                failure_tolerance: w.failure_tolerance,
                size: w.targets.len(),
            })
            .collect(),
        alarms: resolved.alarms.clone(),
        resumes: resolved.resume.clone(),
    };
    // Last: a run record means every other record of the run is in place.
    put_json(store, &keys.record(), &record).await?;
    Ok(Discovered {
        run,
        targets: total,
        waves: waves.len(),
        skipped: if resolved.resume.is_some() {
            0
        } else {
            reported.len()
        },
        cursor: None,
        map_error: None,
    })
}
