//! A plan-first run (`mode: plan`): the Plan step, once the waves have planned every target,
//! writes the plan for review (plan.json, plan.md: core's `PlanFile`, as `stackfleet plan --out`
//! writes it locally); the Approval step looks for the approval `stackfleet approve` writes,
//! until the plan expires. Both are safe to repeat: a plan once written is answered again, and
//! an approval once written is never written over.

use futures::stream::{self, StreamExt, TryStreamExt};
use stackfleet_core::plan::{recorded_document, PlanFile, SkippedTarget, TargetPlan};
use stackfleet_core::ports::{all_pages, RunStore};
use stackfleet_core::run_keys::RunKeys;
use stackfleet_core::waves::Halt;
use stackfleet_core::wire::lister::RunRecord;
use stackfleet_core::wire::review::{
    Approval, ApprovalAction, ApprovalRequest, ApprovalResponse, GroupDigest, PlanDigest, PlanRequest,
    APPROVAL_LOOK_SECONDS, DIGEST_GROUPS,
};
use stackfleet_core::{ErrorName, Outcome, OutcomeKind};

use crate::error::LambdaError;
use crate::records::{self, get_json, put_json};

/// Objects read at once.
const READS_IN_FLIGHT: usize = 32;

/// The Plan step.
pub async fn plan<S: RunStore>(
    store: &S,
    request: PlanRequest,
    now_ms: u64,
) -> Result<PlanDigest, LambdaError> {
    let run = &request.run;
    let keys = RunKeys::new(run);
    let record = records::record(store, run).await?;
    let Some(timeout_seconds) = record.approval_timeout_seconds else {
        return Err(LambdaError::new(
            ErrorName::Internal,
            format!("{run} is not a plan-first run (mode: plan): it has no plan to write"),
        ));
    };
    let plan = match get_json::<S, PlanFile>(store, &keys.plan_json()).await? {
        Some(written) => written,
        None => {
            let plan = make(store, &record, now_ms).await?;
            put_json(store, &keys.plan_json(), &plan).await?;
            let markdown = plan.to_markdown_applied_by("stackfleet approve EXECUTION_ARN");
            store.put(&keys.plan_md(), markdown, "text/markdown").await?;
            plan
        }
    };
    tracing::info!(run = %run, targets = plan.targets.len(), groups = plan.groups.len(), "planned: waiting for approval");
    Ok(PlanDigest {
        run: run.clone(),
        plan_key: keys.plan_json(),
        plan_md_key: keys.plan_md(),
        expires_at_ms: plan
            .created_at_ms
            .saturating_add(timeout_seconds.saturating_mul(1000)),
        targets: plan.targets.len(),
        groups: plan
            .groups
            .iter()
            .take(DIGEST_GROUPS)
            .map(|group| GroupDigest {
                id: group.id.clone(),
                headline: group.headline.clone(),
                targets: group.targets.len(),
                changes: group.has_change_sets(),
            })
            .collect(),
        group_count: plan.groups.len(),
    })
}

/// The plan of every target the workers planned, in the run's waves; Discover's skipped targets
/// (suspended, the management account...) listed as skipped.
async fn make<S: RunStore>(store: &S, record: &RunRecord, now_ms: u64) -> Result<PlanFile, LambdaError> {
    let keys = RunKeys::new(&record.run);
    let waves = records::named_waves(record, records::waves(store, record).await?);
    let plans: Vec<TargetPlan> = read_all(store, &keys.planned(), |key| async move {
        get_json::<S, TargetPlan>(store, &key).await
    })
    .await?;
    // Every target of the waves has a plan: the Gate records one for a target its child lost.
    let planned: std::collections::BTreeSet<_> = plans.iter().map(|p| &p.target).collect();
    let mut plans_in_order = plans.clone();
    for target in waves
        .iter()
        .flat_map(|w| &w.targets)
        .filter(|t| !planned.contains(t))
    {
        plans_in_order.push(records::unplannable(
            target,
            "no plan was recorded for this target".into(),
        ));
    }
    let keys_ref = &keys;
    let skipped: Vec<SkippedTarget> = read_all(store, &keys.outcomes(), |key| async move {
        records::stored_outcome(store, keys_ref, &key).await
    })
    .await?
    .into_iter()
    .filter(|outcome: &Outcome| outcome.kind() == OutcomeKind::Skipped)
    .map(|outcome| SkippedTarget {
        reason: outcome.skipped_reason().unwrap_or_default().to_owned(),
        target: outcome.target,
    })
    .collect();
    let document = recorded_document(records::document(store, &record.run).await?, &Default::default());
    Ok(PlanFile::new(
        record.run.clone(),
        now_ms,
        document,
        waves,
        &plans_in_order,
        skipped,
    ))
}

/// Every object under `prefix`, read with `read` (a missing one left out).
async fn read_all<S, T, F, Fut>(store: &S, prefix: &str, read: F) -> Result<Vec<T>, LambdaError>
where
    S: RunStore,
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = Result<Option<T>, LambdaError>>,
{
    let listed = all_pages(|page| async move { store.list(prefix, page.as_deref()).await }).await?;
    stream::iter(listed)
        .map(read)
        .buffer_unordered(READS_IN_FLIGHT)
        .try_filter_map(|found| async move { Ok(found) })
        .try_collect()
        .await
}

/// The Approval step: apply once approved; past the expiry, approve nothing (the waves then
/// delete every change set) and apply; else wait and look again.
pub async fn approval<S: RunStore>(
    store: &S,
    request: ApprovalRequest,
    now_ms: u64,
) -> Result<ApprovalResponse, LambdaError> {
    let respond = |action, wait_seconds| ApprovalResponse {
        run: request.run.clone(),
        action,
        wait_seconds,
        expires_at_ms: request.expires_at_ms,
        cursor: None,
        map_error: None,
    };
    if let Some(approval) = records::approval(store, &request.run).await? {
        tracing::info!(run = %request.run, groups = ?approval.groups, by = %approval.approved_by, expired = approval.expired, "approval found: applying");
        return Ok(respond(ApprovalAction::Apply, 0));
    }
    if now_ms >= request.expires_at_ms {
        let expired = Approval {
            groups: Vec::new(),
            approved_by: "stackfleet".into(),
            approved_at_ms: now_ms,
            expired: true,
        };
        // Written only if no approval came in the meantime: an approval and an expiry racing,
        // the first written stands, and the waves apply what it says.
        let body = serde_json::to_string(&expired)
            .map_err(|e| LambdaError::new(ErrorName::Internal, e.to_string()))?;
        let key = RunKeys::new(&request.run).approval();
        if store.put_new(&key, body, "application/json").await? {
            tracing::warn!(run = %request.run, "the plan expired unapproved: its change sets are deleted");
        }
        return Ok(respond(ApprovalAction::Apply, 0));
    }
    let left = (request.expires_at_ms - now_ms).div_ceil(1000);
    Ok(respond(
        ApprovalAction::Wait,
        left.clamp(1, APPROVAL_LOOK_SECONDS),
    ))
}

/// Why a plan-first run ends halted when its plan expired unapproved; `None` otherwise.
pub async fn expired_halt<S: RunStore>(store: &S, record: &RunRecord) -> Result<Option<Halt>, LambdaError> {
    if record.approval_timeout_seconds.is_none() {
        return Ok(None);
    }
    let expired = records::approval(store, &record.run)
        .await?
        .filter(|approval| approval.expired);
    Ok(expired.map(|approval| Halt {
        wave: "approval".into(),
        wave_index: 0,
        reason: format!(
            "the plan expired unapproved at {} ms since the epoch: nothing was applied, and its change \
             sets were deleted (plan again)",
            approval.approved_at_ms
        ),
    }))
}
