//! Discover: the execution input laid over the default spec, validated, the targets listed from
//! the Organization and assigned to waves (or, for a resume, the resumed run's waves less what
//! it deployed). Writes the run's records; returns counts only, whatever the fleet's size.

use std::collections::BTreeSet;

use serde_json::Value;
use stackfleet_core::pinned::{s3_location, PinnedTemplate};
use stackfleet_core::ports::{Alarms, Organization, PortError, RunStore, TemplateObjects, ValidateTemplate};
use stackfleet_core::preflight::{preflight, PreflightError};
use stackfleet_core::remembered::Remembered;
use stackfleet_core::report::Report;
use stackfleet_core::rollout::FailureTolerance;
use stackfleet_core::run_ids;
use stackfleet_core::secrets::{no_echo_declared, refuse_plaintext_no_echo};
use stackfleet_core::targeting::{admit, resolve, wave_choices, within_scope, TargetingError};
use stackfleet_core::template::TemplateRef;
use stackfleet_core::waves::{alarm_verdict, assign, remaining, Wave};
pub use stackfleet_core::wire::lister::{Discovered, ListerRequest};
use stackfleet_core::wire::lister::{RunRecord, WaveHeader};
use stackfleet_core::{ErrorName, Outcome, RunId, Target, TemplateSource};

use crate::error::LambdaError;
use crate::input::{self, Acceptance, RolloutInput};
use crate::records::{get_json, put_json, put_outcome, RunKeys};

/// What Discover reads and writes through.
#[derive(Debug)]
pub struct ListerPorts<'a, O, V, A, T, S> {
    pub org: &'a O,
    pub validator: &'a V,
    pub alarms: &'a A,
    pub templates: &'a T,
    pub store: &'a S,
}

// Shared references only: copied whatever the ports are (a derive would ask them to be Copy).
impl<O, V, A, T, S> Clone for ListerPorts<'_, O, V, A, T, S> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<O, V, A, T, S> Copy for ListerPorts<'_, O, V, A, T, S> {}

/// The lister's settings, from its environment.
#[derive(Debug, Clone, Default)]
pub struct ListerSettings {
    /// The stored default spec (`STACKFLEET_DEFAULT_SPEC`): the policy every input is held to.
    pub default_spec: Value,
    pub acceptance: Acceptance,
    /// The worker function's reserved concurrency (`STACKFLEET_WORKER_CONCURRENCY`): the most
    /// worker invocations that run at once. `None`: not reserved, nothing to hold a run to.
    pub worker_concurrency: Option<u32>,
}

/// Each Deploy Map child runs one worker invocation at a time, and the Map runs up to the run's
/// concurrency children (its MaxConcurrencyPath is the run record's `concurrency`): above the
/// worker's reserved concurrency the rest would be throttled, and a child throttled past its
/// retries ends Failed. Refused at Discover, before anything is written.
fn within_worker_concurrency(concurrency: u32, worker: Option<u32>) -> Result<(), LambdaError> {
    match worker {
        Some(reserved) if concurrency > reserved => Err(LambdaError::invalid(format!(
            "concurrency: {concurrency} is above the worker function's reserved concurrency of \
             {reserved} (STACKFLEET_WORKER_CONCURRENCY), the most targets this state machine \
             deploys at once; give a concurrency of at most {reserved}, or redeploy the CDK app \
             with -c workerConcurrency={concurrency} (the account's Lambda concurrency quota \
             must leave 100 unreserved beside it)"
        ))),
        _ => Ok(()),
    }
}

fn targeting_error(error: TargetingError) -> LambdaError {
    match error {
        TargetingError::Aws(error) => LambdaError::from(error),
        other => LambdaError::invalid(other.to_string()),
    }
}

/// `candidates` within the stored default spec's targeting, and those outside it with why.
async fn by_default_scope<O: Organization>(
    org: &O,
    rollout: &RolloutInput,
    candidates: Vec<Target>,
) -> Result<(Vec<Target>, Vec<(Target, String)>), LambdaError> {
    within_scope(org, &rollout.default.targets.scope(), candidates)
        .await
        .map_err(targeting_error)
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
        admit(org, &resolved.targets.selection(), &resolved.targets.list)
            .await
            .map_err(targeting_error)?
    };
    // The default spec bounds where an input may deploy: a target outside it is refused,
    // before any target is touched.
    if rollout.bounded && rollout.document.targets != rollout.default.targets {
        let (_, outside) = by_default_scope(org, rollout, resolution.targets.clone()).await?;
        if let Some((first, why)) = outside.first() {
            let named: Vec<String> = outside.iter().take(5).map(|(t, _)| t.to_string()).collect();
            return Err(LambdaError::invalid(format!(
                "targets: {} of the input's targets are outside what this state machine may deploy \
                 to ({}{}); {first}: {why}. An input may narrow the stored default spec's targets, \
                 never widen them",
                outside.len(),
                named.join(", "),
                if outside.len() > named.len() { ", ..." } else { "" },
            )));
        }
    }
    let choices = wave_choices(org, &resolved.waves)
        .await
        .map_err(targeting_error)?;
    let waves = assign(&resolved.waves, &choices, resolved.tolerance, &resolution.targets);
    Ok((waves, resolution.skipped))
}

/// The waves of a new account's run: the default spec exactly, for that account's targets if
/// the default's targeting admits them; else those targets are reported Skipped, with why.
async fn new_account_waves<O: Organization>(
    org: &O,
    rollout: &RolloutInput,
    account: &stackfleet_core::AccountId,
) -> Result<(Vec<Wave>, Vec<Outcome>), LambdaError> {
    let resolved = &rollout.resolved;
    let candidates: Vec<Target> = resolved
        .targets
        .regions
        .iter()
        .map(|region| Target::new(account.clone(), region.clone()))
        .collect();
    let (inside, outside) = by_default_scope(org, rollout, candidates).await?;
    let choices = wave_choices(org, &resolved.waves)
        .await
        .map_err(targeting_error)?;
    let waves = assign(&resolved.waves, &choices, resolved.tolerance, &inside);
    let skipped = outside
        .into_iter()
        .map(|(target, why)| Outcome::skipped(target, format!("a new account not deployed to: {why}")))
        .collect();
    Ok((waves, skipped))
}

/// The waves of a resume: the resumed run's, less the targets it finished (deployed, or skipped
/// for what the account is), which are carried into this run's report.
async fn resumed_waves<O: Organization, S: RunStore>(
    store: &S,
    org: &O,
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
    let mut finished: Vec<Outcome> = report
        .outcomes
        .iter()
        .filter(|o| !o.wants_rerun())
        .cloned()
        .collect();
    // A report from before waves: one wave, with no tolerance of its own (Count(0)), as before.
    let mut waves = remaining(
        &report.recorded_waves(FailureTolerance::default()),
        &report.succeeded(),
    );
    // The default spec may have narrowed since that run (or the report was edited): what it
    // no longer admits is reported Skipped, never deployed to.
    // So may the Organization: an account that left it, was suspended or excluded since is
    // reported Skipped too.
    let candidates: Vec<Target> = waves.iter().flat_map(|w| w.targets.iter().cloned()).collect();
    let admitted = admit(org, &rollout.resolved.targets.selection(), &candidates)
        .await
        .map_err(targeting_error)?;
    let (_, mut outside) = if rollout.bounded {
        by_default_scope(org, rollout, admitted.targets).await?
    } else {
        (admitted.targets, Vec::new())
    };
    outside.extend(admitted.skipped.into_iter().map(|skipped| {
        let why = skipped.skipped_reason().unwrap_or_default().to_owned();
        (skipped.target, why)
    }));
    let excluded: BTreeSet<&Target> = outside.iter().map(|(target, _)| target).collect();
    for wave in &mut waves {
        wave.targets.retain(|t| !excluded.contains(t));
    }
    finished.extend(
        outside
            .into_iter()
            .map(|(target, why)| Outcome::skipped(target, format!("not resumed: {why}"))),
    );
    Ok((waves, finished))
}

/// Pins the template to the S3 object version read now: the run's document and spec name that
/// version, so every worker deploys it, whatever is written to the key later. Returns the pin
/// and the parameters that version declares NoEcho.
async fn pin_template<T: TemplateObjects>(
    templates: &T,
    rollout: &mut RolloutInput,
) -> Result<(PinnedTemplate, BTreeSet<String>), LambdaError> {
    let url = match &rollout.resolved.spec.template {
        TemplateSource::Url(url) => url.clone(),
        TemplateSource::Body(_) => {
            return Err(LambdaError::invalid(
                "template.body: the state machine deploys templates from S3 only (template.url), \
                 each run pinned to the object version it reads first; upload the template to the \
                 template bucket (versioning on) and give its URL",
            ))
        }
    };
    let location = s3_location(&url).map_err(|e| LambdaError::invalid(format!("template.url: {e}")))?;
    let object = templates.read(&location).await.map_err(|error| match error {
        PortError::Rejected { code, message } => {
            LambdaError::invalid(format!("template.url: {code}: {message}"))
        }
        other => LambdaError::from(other),
    })?;
    let pinned =
        PinnedTemplate::of(&url, &object).map_err(|e| LambdaError::invalid(format!("template.url: {e}")))?;
    let deployed = pinned
        .deployed_url()
        .map_err(|e| LambdaError::invalid(format!("template.url with its version: {e}")))?;
    rollout.document.template = Some(TemplateRef::Url(deployed.clone()));
    rollout.resolved.spec.template = TemplateSource::Url(deployed);
    let no_echo = no_echo_declared(&String::from_utf8_lossy(&object.body));
    Ok((pinned, no_echo))
}

/// The run of the execution that asks (`run_ids::of_execution`, one mapping for the lister and
/// the operator commands).
fn run_of(request: &ListerRequest) -> Result<RunId, LambdaError> {
    let Some(start_time) = &request.start_time else {
        tracing::warn!(execution = %request.execution, "no startTime: the state machine's definition is older than the lister; the run is named after the execution alone");
        return Ok(run_ids::legacy_of_execution(&request.execution));
    };
    let started_at_ms = run_ids::start_time_ms(start_time).ok_or_else(|| {
        LambdaError::invalid(format!(
            "startTime: {start_time:?} is not an RFC 3339 time; the state machine passes $$.Execution.StartTime"
        ))
    })?;
    Ok(run_ids::of_execution(&request.execution, started_at_ms))
}

/// Discover. The state machine retries it (throttled, timed out, crashed) with the same request,
/// so it is safe to repeat: the run and its start come from the execution, every record is
/// written whole under the run's keys, the run record last, and nothing reads them before
/// Discover answers. A repeat that sees another Organization or template version than a try that
/// died mid-write writes its own view over that one; a target the dead try reported Skipped and
/// the repeat deploys keeps that outcome until its worker writes one (the store has no delete).
pub async fn list<O, V, A, T, S>(
    ports: ListerPorts<'_, O, V, A, T, S>,
    settings: &ListerSettings,
    request: ListerRequest,
    now_ms: u64,
) -> Result<Discovered, LambdaError>
where
    O: Organization,
    V: ValidateTemplate,
    A: Alarms,
    T: TemplateObjects,
    S: RunStore,
{
    let ListerPorts {
        org,
        validator,
        alarms,
        templates,
        store,
    } = ports;
    // Every part of Discover asks the Organization through this one: each question once.
    let org = &Remembered::new(org);
    let run = run_of(&request)?;
    // The execution's start, not this invocation's clock: a retried Discover writes the same record.
    let started_at_ms = request
        .start_time
        .as_deref()
        .and_then(run_ids::start_time_ms)
        .unwrap_or(now_ms);
    let mut rollout = input::parse(&settings.default_spec, &request.input, &settings.acceptance)?;
    within_worker_concurrency(rollout.resolved.concurrency, settings.worker_concurrency)?;
    let (pinned, declared_no_echo) = pin_template(templates, &mut rollout).await?;
    let resolved = &rollout.resolved;
    let mut template = preflight(validator, &resolved.spec).await.map_err(|e| match e {
        PreflightError::Spec(_) => LambdaError::invalid(e.to_string()),
        PreflightError::Template(_) => LambdaError::new(ErrorName::TemplateInvalid, e.to_string()),
        PreflightError::Unreachable(error) => LambdaError::from(error),
    })?;
    // A NoEcho value in plaintext would be kept in the run's records and the execution's
    // history: refused before anything is written. References are resolved by the worker.
    // The NoEcho parameters are CloudFormation's answer and what the pinned version declares.
    template.no_echo.extend(declared_no_echo);
    refuse_plaintext_no_echo(&resolved.spec, &template.no_echo)
        .map_err(|e| LambdaError::invalid(e.to_string()))?;
    // A misspelt alarm would be a gate that never closes: refused before any target is touched.
    if !resolved.alarms.is_empty() {
        let states = alarms.states(&resolved.alarms).await?;
        if let Some(why) = alarm_verdict(&resolved.alarms, &states).filter(|why| why.contains("not found")) {
            return Err(LambdaError::invalid(why));
        }
    }
    let (waves, reported) = match (&resolved.resume, &rollout.new_account) {
        (Some(resumed), _) => resumed_waves(store, org, &rollout, resumed).await?,
        (None, Some(account)) => new_account_waves(org, &rollout, account).await?,
        (None, None) => new_waves(org, &rollout).await?,
    };
    let total: usize = waves.iter().map(|w| w.targets.len()).sum();
    tracing::info!(run = %run, stack = %resolved.spec.stack_name, targets = total, waves = waves.len(), reported = reported.len(), resumes = ?resolved.resume, template_version = %pinned.version_id, template_sha256 = %pinned.sha256, "discovered");

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
        started_at_ms,
        failure_tolerance: resolved.tolerance,
        total,
        concurrency: resolved.concurrency,
        new_account: rollout.new_account.is_some(),
        template: Some(pinned.clone()),
        input: rollout.given.clone(),
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
        approval_timeout_seconds: resolved.approval_timeout_seconds,
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
