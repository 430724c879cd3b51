//! A plan-first execution (`mode: plan`) seen from outside: its plan's digest, whether it still
//! waits for approval, and `stackfleet approve`, which writes the approval once.

use crate::executions::{Execution, Executions, Status};
use crate::operator::{described, OperatorError};
use crate::plan::PlanFile;
use crate::ports::RunStore;
use crate::run_keys::RunKeys;
use crate::wire::review::{Approval, ApprovalAction, ApprovalResponse, PlanDigest};

/// The states whose outputs say where a plan-first execution is (statemachine.asl.json).
pub const PLAN_STATE: &str = "Plan";
pub const APPROVAL_STATE: &str = "Approval";

/// Where a plan-first execution's plan stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanStatus {
    pub digest: PlanDigest,
    /// The Approval step found the approval (or the expiry): the waves apply.
    pub decided: bool,
}

/// The plan of `execution`, once its Plan step has run; `None` for an execution that is not
/// plan-first, or still planning.
pub async fn plan_status<E: Executions>(
    executions: &E,
    execution: &Execution,
) -> Result<Option<PlanStatus>, OperatorError> {
    let Some(text) = executions.state_output(&execution.arn, PLAN_STATE).await? else {
        return Ok(None);
    };
    let digest: PlanDigest = serde_json::from_str(&text).map_err(|e| {
        OperatorError::Refused(format!(
            "the Plan step of {} returned what this stackfleet cannot read ({e}): is this CLI older \
             than the deployed functions?",
            execution.name
        ))
    })?;
    let decided = match executions.state_output(&execution.arn, APPROVAL_STATE).await? {
        Some(text) => serde_json::from_str::<ApprovalResponse>(&text)
            .map(|answer| answer.action == ApprovalAction::Apply)
            .unwrap_or(false),
        None => false,
    };
    Ok(Some(PlanStatus { digest, decided }))
}

/// Approves `groups` of the plan of `arn` (every group when empty), as `approver`, at `now_ms`:
/// each group checked against the plan, and the approval written once (a second approval, or
/// one after the expiry, is refused: the execution already acts on the first).
pub async fn approve<E: Executions, S: RunStore>(
    executions: &E,
    store: &S,
    arn: &str,
    groups: &[String],
    approver: &str,
    now_ms: u64,
) -> Result<Approval, OperatorError> {
    let execution = described(executions, arn).await?;
    let name = &execution.name;
    if execution.status != Status::Running {
        return Err(OperatorError::Refused(format!(
            "{name} is {}: only a running execution's plan can be approved",
            execution.status
        )));
    }
    let Some(status) = plan_status(executions, &execution).await? else {
        return Err(OperatorError::Refused(format!(
            "{name} has no plan to approve: it is still planning, or it is not a plan-first run \
             (mode: plan). stackfleet status {arn} says which"
        )));
    };
    if now_ms >= status.digest.expires_at_ms {
        return Err(OperatorError::Refused(format!(
            "the plan of {name} expired unapproved: plan again (start the rollout again)"
        )));
    }
    let key = &status.digest.plan_key;
    let text = store
        .get(key)
        .await?
        .ok_or_else(|| OperatorError::Refused(format!("{key} is gone from the run bucket: plan again")))?;
    let plan = PlanFile::parse(&text)
        .map_err(|e| OperatorError::Refused(format!("{key} is not a stackfleet plan: {e}")))?;
    let selected = plan
        .select(groups)
        .map_err(|e| OperatorError::Refused(e.to_string()))?;
    let approval = Approval {
        groups: selected.into_iter().collect(),
        approved_by: approver.to_owned(),
        approved_at_ms: now_ms,
        expired: false,
    };
    let body = serde_json::to_string(&approval).map_err(|e| OperatorError::Refused(e.to_string()))?;
    let written = store
        .put_new(
            &RunKeys::new(&status.digest.run).approval(),
            body,
            "application/json",
        )
        .await?;
    if !written {
        return Err(OperatorError::Refused(format!(
            "the plan of {name} was approved already (or expired): the execution applies what was \
             decided first; start a new plan-first run to decide again"
        )));
    }
    Ok(approval)
}
