//! The worker in a plan-first run (`mode: plan`). Before the approval, a Start plans its target:
//! a change set made and kept for review (core's `plan_target_for_review`, as `stackfleet plan
//! --out` makes it), its plan written under `planned/`. After it, a Start applies its target's
//! reviewed change set if its group was approved (core's `begin_apply`: only while the change
//! set and the stack are as planned, else Stale), the operation then followed and handed back as
//! a deploy's; a target of a group not approved has its change set deleted and is Skipped.

use std::collections::HashMap;
use std::sync::Arc;

use stackfleet_core::lifecycle::{Clock, DriveOptions, FollowFrom, Followed, Job};
use stackfleet_core::plan::{
    begin_apply, begin_apply_again, discard_target, plan_target_for_review, Began, PlanFile, PlanGroup,
    PlanVerdict, PlannedTarget,
};
use stackfleet_core::ports::{AssumeRole, RunStore, Secrets};
use stackfleet_core::run_keys::RunKeys;
use stackfleet_core::wire::review::Approval;
use stackfleet_core::{ErrorName, Outcome, RunId, Target};

use super::Worker;
use crate::error::LambdaError;
use crate::records::{self, get_json, put_json};

/// Where a run stands, for its workers.
pub(super) enum Stage {
    /// Not plan-first: deploy.
    Deploy,
    Planning,
    Applying(Arc<Reviewing>),
}

/// A plan-first run's plan and its approval: read once per process, as both never change once
/// written.
#[derive(Debug)]
pub(super) struct Reviewing {
    targets: HashMap<Target, (PlannedTarget, PlanGroup)>,
    approval: Approval,
}

/// Lambda's time is short: an apply's passing errors are retried twice here, then thrown for
/// the state machine to retry.
const APPLY_RETRIES: DriveOptions = DriveOptions {
    transient_retries: 2,
    retry_backoff: std::time::Duration::from_secs(2),
    resumed: false,
};

impl<A: AssumeRole, S: RunStore, C: Clock, K: Secrets> Worker<A, S, C, K> {
    pub(super) async fn stage(&self, run: &RunId) -> Result<Stage, LambdaError> {
        if let Some(reviewing) = self.cached(&self.reviews, run) {
            return Ok(Stage::Applying(reviewing));
        }
        let record = match self.cached(&self.records, run) {
            Some(record) => record,
            None => {
                let record = Arc::new(records::record(&self.store, run).await?);
                self.remember(&self.records, run, Arc::clone(&record));
                record
            }
        };
        if record.approval_timeout_seconds.is_none() {
            return Ok(Stage::Deploy);
        }
        if !records::plan_written(&self.store, run).await? {
            return Ok(Stage::Planning);
        }
        // The waves run again only once the Approval step found one (or wrote the expiry's).
        let Some(approval) = records::approval(&self.store, run).await? else {
            return Err(LambdaError::new(
                ErrorName::Internal,
                format!("the plan of {run} has no approval yet: no target of it is applied before one"),
            ));
        };
        let plan: PlanFile = records::required(&self.store, &RunKeys::new(run).plan_json()).await?;
        let groups: HashMap<&str, &PlanGroup> = plan.groups.iter().map(|g| (g.id.as_str(), g)).collect();
        let targets = plan
            .targets
            .iter()
            .filter_map(|t| {
                Some((
                    t.target.clone(),
                    (t.clone(), (*groups.get(t.group.as_str())?).clone()),
                ))
            })
            .collect();
        let reviewing = Arc::new(Reviewing { targets, approval });
        self.remember(&self.reviews, run, Arc::clone(&reviewing));
        Ok(Stage::Applying(reviewing))
    }

    /// Plans the target, once: a repeated Start finds its plan written. A passing error that
    /// kept it from being planned (throttled, the network) is thrown, for the state machine to
    /// retry, instead of being the plan.
    pub(super) async fn plan(
        &self,
        run: &RunId,
        target: &Target,
        new_account: bool,
    ) -> Result<(), LambdaError> {
        let key = RunKeys::new(run).planned_target(target);
        if self.store.get(&key).await?.is_some() {
            return Ok(());
        }
        let spec = self.spec(run).await?;
        let job = Job {
            target,
            spec: &spec,
            run,
            new_account,
        };
        let plan = plan_target_for_review(&self.assumer, &job).await;
        if let PlanVerdict::CannotPlan { reason } = &plan.verdict {
            // `plan_target` writes "<ErrorName>: <error>".
            let name = reason.split(':').next().and_then(|n| n.parse::<ErrorName>().ok());
            if let Some(name) = name.filter(|n| n.is_transient()) {
                return Err(LambdaError::new(name, reason.clone()));
            }
        }
        tracing::info!(verdict = %plan.headline(), "planned");
        put_json(&self.store, &key, &plan).await
    }

    /// RecordFailure while planning: the target's plan says why it could not be made, unless
    /// it was written already.
    pub(super) async fn unplanned(
        &self,
        run: &RunId,
        target: &Target,
        why: String,
    ) -> Result<(), LambdaError> {
        let key = RunKeys::new(run).planned_target(target);
        let written: Option<serde_json::Value> = get_json(&self.store, &key).await?;
        if written.is_none() {
            put_json(&self.store, &key, &records::unplannable(target, why)).await?;
        }
        Ok(())
    }

    /// A Start after the approval: the target's reviewed change set applied, or deleted.
    /// `again`: a Start tried again, whose first try may have executed it.
    pub(super) async fn apply(
        &self,
        run: &RunId,
        target: &Target,
        new_account: bool,
        reviewing: &Reviewing,
        again: bool,
        hand_back_at_ms: u64,
    ) -> Result<Followed, LambdaError> {
        let Some((planned, group)) = reviewing.targets.get(target) else {
            let why = "not applied: the plan has no plan for this target (plan again)";
            return Ok(Followed::Done(Outcome::skipped(target.clone(), why)));
        };
        let spec = self.spec(run).await?;
        let job = Job {
            target,
            spec: &spec,
            run,
            new_account,
        };
        if !reviewing.approval.groups.contains(&group.id) {
            let reason = if reviewing.approval.expired {
                "not applied: the plan expired unapproved".to_owned()
            } else {
                format!("not applied: its group {} was not approved", group.id)
            };
            let reason = match discard_target(&self.assumer, &job, planned, group).await {
                Ok(()) => reason,
                Err(error) if error.name().is_transient() => {
                    return Err(LambdaError::new(error.name(), error.to_string()))
                }
                Err(error) => format!("{reason}; its change set could not be deleted: {error}"),
            };
            return Ok(Followed::Done(Outcome::skipped(target.clone(), reason)));
        }
        let began = if again {
            begin_apply_again(&self.assumer, &job, planned, group, &self.clock, APPLY_RETRIES).await
        } else {
            begin_apply(&self.assumer, &job, planned, group, &self.clock, APPLY_RETRIES).await
        };
        match began {
            Began::Done(applied) => Ok(Followed::Done(applied.outcome)),
            Began::Executing(state) => {
                self.follow(
                    run,
                    target,
                    new_account,
                    FollowFrom::InFlight(state),
                    hand_back_at_ms,
                )
                .await
            }
        }
    }
}
