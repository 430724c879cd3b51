//! `stackfleet plan`: what a rollout would do in each target, from a change set made and then
//! deleted, never touching the stack. Targets with the same changes are grouped. A plan for
//! review (`plan --out`) keeps its change sets instead, and records what `apply` needs to
//! execute exactly those (`file`), and only while the stacks have not moved (`apply`).

mod apply;
mod check;
mod cleanup;
mod file;
mod markdown;
mod recover;

pub use apply::{apply_target, Applied, Applying};
pub use cleanup::{discard_unapplied, Discarded};
pub use file::{
    change_digest, json_schema, recorded_document, PlanError, PlanFile, PlanGroup, PlannedTarget,
    SkippedTarget, PLAN_VERSION,
};

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::ids::{RunId, Target};
use crate::lifecycle::{client_request_token, decide, Decision, Job};
use crate::ports::{AssumeRequest, AssumeRole, PortError, StackOperations};
use crate::stack::{
    ChangeSetRequest, ChangeSetType, ResourceChange, StackDescription, StackRequest, StackStatus,
    MANAGED_BY_TAG,
};

/// How often, and how many times, a change set is described while CloudFormation computes it.
const CHANGE_SET_POLL: Duration = Duration::from_secs(2);
const CHANGE_SET_POLLS: u32 = 150;

/// What a deploy would do in one target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", tag = "verdict")]
pub enum PlanVerdict {
    /// The stack would be created with these resources.
    WouldCreate {
        changes: Vec<ResourceChange>,
    },
    WouldUpdate {
        changes: Vec<ResourceChange>,
    },
    NoChanges,
    /// The stack is in a state the deploy would first recover from (or leave, under `stop`).
    WouldRecover {
        status: StackStatus,
        action: String,
    },
    /// An operation is running; the deploy would wait for it.
    Busy {
        status: StackStatus,
    },
    /// The stack exists without the `stackfleet:managed-by` tag: the deploy would refuse it
    /// (NeedsAttention) unless the rollout adopts it.
    NotManaged {
        status: StackStatus,
    },
    /// The plan itself could not be made here.
    CannotPlan {
        reason: String,
    },
}

impl PlanVerdict {
    /// The line that names a group of targets.
    pub fn headline(&self) -> String {
        match self {
            Self::WouldCreate { changes } => {
                let mut resources: Vec<String> = changes
                    .iter()
                    .map(|c| format!("{} {}", c.resource_type, c.logical_id))
                    .collect();
                resources.sort();
                format!("stack does not exist yet: would create {}", resources.join(", "))
            }
            Self::WouldUpdate { changes } if changes.is_empty() => {
                "an update that lists no resource change (parameters, outputs or tags only)".into()
            }
            Self::WouldUpdate { changes } => {
                changes.iter().map(describe_change).collect::<Vec<_>>().join("; ")
            }
            Self::NoChanges => "no changes".into(),
            Self::WouldRecover { status, action } => format!("stack is {status}: {action}"),
            Self::Busy { status } => {
                format!("an operation is running ({status}): the deploy would wait for it")
            }
            Self::NotManaged { status } => format!(
                "stack exists ({status}) but is not managed by stackfleet (no {MANAGED_BY_TAG} \
                 tag): the deploy would refuse it without --adopt"
            ),
            Self::CannotPlan { reason } => format!("cannot plan: {reason}"),
        }
    }
}

fn describe_change(change: &ResourceChange) -> String {
    let replacement = match (change.action.as_str(), change.replacement.as_deref()) {
        ("Modify", Some("True")) => " (replacement)",
        ("Modify", Some("Conditional")) => " (may be replaced)",
        ("Modify", _) => " (no replacement)",
        _ => "",
    };
    format!(
        "{} {} {}{replacement}",
        change.action, change.resource_type, change.logical_id
    )
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetPlan {
    pub target: Target,
    #[serde(flatten)]
    pub verdict: PlanVerdict,
    /// The stack exists without the `stackfleet:managed-by` tag and the rollout adopts it: the
    /// deploy takes it over, its update adding the tag.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub adopts: bool,
    /// A plan for review only: the change set kept for `apply`, and the stack it was made
    /// against, as it was then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reviewed: Option<Reviewed>,
}

/// What a plan for review keeps of one target: what `apply` executes, and what it checks first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Reviewed {
    /// The change set (its ARN): only for a plan that would create or update.
    pub change_set_id: Option<String>,
    pub stack_id: String,
    pub stack_status: StackStatus,
    /// `StackDescription::last_updated_ms` when the plan was made.
    pub stack_last_updated_ms: Option<i64>,
}

impl Reviewed {
    fn of(stack: &StackDescription, change_set_id: Option<String>) -> Self {
        Self {
            change_set_id,
            stack_id: stack.stack_id.clone(),
            stack_status: stack.status.clone(),
            stack_last_updated_ms: stack.last_updated_ms,
        }
    }
}

impl TargetPlan {
    /// The line that names a group of targets.
    pub fn headline(&self) -> String {
        if self.adopts {
            format!(
                "stack exists but is not managed by stackfleet: the deploy would adopt it \
                 (--adopt) and tag it {MANAGED_BY_TAG}; {}",
                self.verdict.headline()
            )
        } else {
            self.verdict.headline()
        }
    }
}

/// Targets grouped by identical plans, largest group first.
pub fn group_plans(plans: &[TargetPlan]) -> Vec<(String, Vec<Target>)> {
    let mut groups: BTreeMap<String, Vec<Target>> = BTreeMap::new();
    for plan in plans {
        groups
            .entry(plan.headline())
            .or_default()
            .push(plan.target.clone());
    }
    let mut groups: Vec<_> = groups.into_iter().collect();
    groups.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then_with(|| a.0.cmp(&b.0)));
    groups
}

/// The change sets of a plan are named after it: its run ID is the plan's ID.
pub fn change_set_name(run: &RunId) -> String {
    format!("stackfleet-plan-{run}")
}

/// Plans one target, leaving nothing behind. Never fails: what goes wrong is the verdict.
pub async fn plan_target<A: AssumeRole>(assumer: &A, job: &Job<'_>) -> TargetPlan {
    plan_one(assumer, job, false).await
}

/// Plans one target for review: a change set that would create or update is kept, and the
/// target's plan says which, with the stack as it was (`TargetPlan::reviewed`).
pub async fn plan_target_for_review<A: AssumeRole>(assumer: &A, job: &Job<'_>) -> TargetPlan {
    plan_one(assumer, job, true).await
}

async fn plan_one<A: AssumeRole>(assumer: &A, job: &Job<'_>, keep: bool) -> TargetPlan {
    let cannot_plan = |error: PortError| PlanVerdict::CannotPlan {
        reason: format!("{}: {error}", error.name()),
    };
    let (verdict, adopts, reviewed) = match look(assumer, job).await {
        Ok((session, found)) => {
            let adopts = job.spec.adopt
                && found
                    .as_ref()
                    .is_some_and(|s| !s.managed && s.status != StackStatus::DeleteComplete);
            match verdict(&session, job, found, keep).await {
                Ok((verdict, reviewed)) => (verdict, adopts, reviewed),
                Err(error) => (cannot_plan(error), adopts, None),
            }
        }
        Err(error) => (cannot_plan(error), false, None),
    };
    TargetPlan {
        target: job.target.clone(),
        verdict,
        adopts,
        reviewed: reviewed.filter(|_| keep),
    }
}

/// A session in the target, and the stack found there.
async fn look<A: AssumeRole>(
    assumer: &A,
    job: &Job<'_>,
) -> Result<(A::Session, Option<StackDescription>), PortError> {
    let spec = job.spec;
    let session = assumer
        .assume(AssumeRequest {
            target: job.target,
            role: &spec.deploy_role,
            run: job.run,
            session_duration_seconds: spec.session_duration_seconds,
            new_account: job.new_account,
        })
        .await?;
    let found = session.describe_stack(spec.stack_name.as_str()).await?;
    Ok((session, found))
}

/// The verdict, and for a plan kept for review what it keeps: the change set of a create or an
/// update, the stack of a plan without changes.
async fn verdict<S: StackOperations>(
    session: &S,
    job: &Job<'_>,
    found: Option<StackDescription>,
    keep: bool,
) -> Result<(PlanVerdict, Option<Reviewed>), PortError> {
    let spec = job.spec;
    let as_found = found.as_ref().map(|stack| Reviewed::of(stack, None));
    let status = found.as_ref().map(|s| s.status.clone());
    let kind = match decide(found.as_ref().map(Into::into), spec.recovery, spec.adopt) {
        Decision::Create => ChangeSetType::Create,
        Decision::Update => ChangeSetType::Update,
        Decision::InspectRunningOperation => {
            let status = status.unwrap_or(StackStatus::Other("UNKNOWN".into()));
            return Ok((PlanVerdict::Busy { status }, as_found));
        }
        Decision::NotManaged => {
            let status = status.unwrap_or(StackStatus::Other("UNKNOWN".into()));
            return Ok((PlanVerdict::NotManaged { status }, as_found));
        }
        decision => {
            let action = match decision {
                Decision::DeleteThenCreate => "would be deleted and created again (recovery: recreate)",
                Decision::ContinueRollbackThenUpdate => "would continue the rollback, then update",
                _ => "needs attention: the deploy would not touch it",
            };
            let verdict = PlanVerdict::WouldRecover {
                status: status.unwrap_or(StackStatus::Other("UNKNOWN".into())),
                action: action.into(),
            };
            return Ok((verdict, as_found));
        }
    };
    let request = ChangeSetRequest {
        stack: StackRequest {
            stack_name: spec.stack_name.to_string(),
            template: spec.template.clone(),
            parameters: spec.parameters_for(job.target),
            capabilities: spec.capabilities.clone(),
            tags: spec.stack_tags(),
            token: client_request_token(job.run, "plan"),
            termination_protection: false,
        },
        change_set_name: change_set_name(job.run),
        change_set_type: kind,
    };
    let created = match session.create_change_set(&request).await {
        Ok(created) => created,
        // Some endpoints refuse an unchanged template outright instead of failing the change set.
        Err(PortError::TemplateInvalid(message)) if no_changes(Some(&message)) => {
            return Ok((PlanVerdict::NoChanges, as_found))
        }
        Err(error) => return Err(error),
    };
    let described = described_when_ready(session, &created.id).await;
    if keep {
        if let Some(ready) = described.as_ref().ok().filter(|d| d.status == "CREATE_COMPLETE") {
            // The stack as the change set found it: for a CREATE, the empty stack it made.
            match session.describe_stack(&created.stack_id).await {
                Ok(Some(stack)) => {
                    let reviewed = Reviewed::of(&stack, Some(created.id.clone()));
                    return Ok((would(kind, ready.changes.clone()), Some(reviewed)));
                }
                Ok(None) => {}
                Err(error) => {
                    discard(session, job, &created, kind).await?;
                    return Err(error);
                }
            }
        }
    }
    // Clean up whatever the description said: the plan leaves nothing behind.
    discard(session, job, &created, kind).await?;
    let described = described?;
    let verdict = match described.status.as_str() {
        "FAILED" if no_changes(described.status_reason.as_deref()) => PlanVerdict::NoChanges,
        "FAILED" => PlanVerdict::CannotPlan {
            reason: format!(
                "the change set failed: {}",
                described
                    .status_reason
                    .unwrap_or_else(|| "no reason given".into())
            ),
        },
        // Kept, had the stack not gone meanwhile: nothing for a review to execute any more.
        _ if keep => PlanVerdict::CannotPlan {
            reason: format!("stack {} went away while it was planned", created.stack_id),
        },
        _ => would(kind, described.changes),
    };
    Ok((verdict, as_found))
}

/// A create or an update with these changes, in a stable order: identical change lists group
/// together whatever order CloudFormation lists them in.
fn would(kind: ChangeSetType, mut changes: Vec<ResourceChange>) -> PlanVerdict {
    changes.sort();
    match kind {
        ChangeSetType::Create => PlanVerdict::WouldCreate { changes },
        ChangeSetType::Update => PlanVerdict::WouldUpdate { changes },
    }
}

/// Deletes a change set the plan made, and a CREATE change set's empty stack.
async fn discard<S: StackOperations>(
    session: &S,
    job: &Job<'_>,
    created: &crate::stack::ChangeSetCreated,
    kind: ChangeSetType,
) -> Result<(), PortError> {
    let deleted = session.delete_change_set(&created.id).await;
    if kind == ChangeSetType::Create {
        remove_review_stack(session, job, &created.stack_id).await?;
    }
    deleted
}

/// A CREATE change set made an empty stack in REVIEW_IN_PROGRESS: it is removed again, by its
/// stack ID and only while it is still that empty stack. By name, a plan racing a deploy would
/// delete the stack the deploy has just made in its place.
pub(crate) async fn remove_review_stack<S: StackOperations>(
    session: &S,
    job: &Job<'_>,
    stack_id: &str,
) -> Result<(), PortError> {
    let still_empty = session
        .describe_stack(stack_id)
        .await?
        .is_some_and(|stack| stack.status == StackStatus::ReviewInProgress);
    if still_empty {
        let token = client_request_token(job.run, "plan-cleanup");
        session.delete_stack(stack_id, &token).await?;
    }
    Ok(())
}

fn no_changes(reason: Option<&str>) -> bool {
    reason
        .is_some_and(|r| r.contains("didn't contain changes") || r.contains("No updates are to be performed"))
}

async fn described_when_ready<S: StackOperations>(
    session: &S,
    change_set: &str,
) -> Result<crate::stack::ChangeSetDescription, PortError> {
    for _ in 0..CHANGE_SET_POLLS {
        let described =
            session
                .describe_change_set(change_set)
                .await?
                .ok_or_else(|| PortError::Rejected {
                    code: "ChangeSetNotFound".into(),
                    message: format!("change set {change_set} went away while it was computed"),
                })?;
        if !matches!(described.status.as_str(), "CREATE_PENDING" | "CREATE_IN_PROGRESS") {
            return Ok(described);
        }
        tokio::time::sleep(CHANGE_SET_POLL).await;
    }
    Err(PortError::Transport(format!(
        "change set {change_set} was not ready after {} s",
        CHANGE_SET_POLL.as_secs() * u64::from(CHANGE_SET_POLLS)
    )))
}

/// Plans every target, `concurrency` at a time; `on_plan` sees each as it lands. `keep`: for
/// review (`plan_target_for_review`).
pub async fn plan_all<A: AssumeRole>(
    assumer: &A,
    spec: &crate::spec::RolloutSpec,
    run: &RunId,
    targets: &[Target],
    concurrency: usize,
    keep: bool,
    mut on_plan: impl FnMut(&TargetPlan),
) -> Vec<TargetPlan> {
    use futures::stream::{self, StreamExt};
    let mut plans: Vec<TargetPlan> = stream::iter(targets)
        .map(|target| async move {
            let job = Job {
                target,
                spec,
                run,
                new_account: false,
            };
            plan_one(assumer, &job, keep).await
        })
        .buffer_unordered(concurrency.max(1))
        .inspect(|plan| on_plan(plan))
        .collect()
        .await;
    plans.sort_by(|a, b| a.target.cmp(&b.target));
    plans
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(action: &str, id: &str, replacement: Option<&str>) -> ResourceChange {
        ResourceChange {
            action: action.into(),
            logical_id: id.into(),
            resource_type: "AWS::IAM::Role".into(),
            replacement: replacement.map(Into::into),
        }
    }

    #[test]
    fn identical_plans_group_under_one_headline() {
        let modify = PlanVerdict::WouldUpdate {
            changes: vec![change("Modify", "FederatedReadOnly", Some("False"))],
        };
        let plans = vec![
            plan("111111111111", modify.clone(), false),
            plan("222222222222", modify.clone(), false),
            plan("333333333333", PlanVerdict::NoChanges, false),
            // The same changes in a stack the rollout adopts are a plan of their own.
            plan("444444444444", modify, true),
        ];
        let groups = group_plans(&plans);
        assert_eq!(
            groups[0].0,
            "Modify AWS::IAM::Role FederatedReadOnly (no replacement)"
        );
        assert_eq!(groups[0].1.len(), 2);
        assert_eq!(groups[1].0, "no changes");
        assert_eq!(
            groups[2].0,
            "stack exists but is not managed by stackfleet: the deploy would adopt it (--adopt) \
             and tag it stackfleet:managed-by; Modify AWS::IAM::Role FederatedReadOnly (no replacement)"
        );
    }

    fn plan(account: &str, verdict: PlanVerdict, adopts: bool) -> TargetPlan {
        TargetPlan {
            target: format!("{account}:us-east-1").parse().unwrap(),
            verdict,
            adopts,
            reviewed: None,
        }
    }

    #[test]
    fn a_stack_stackfleet_does_not_manage_is_said_so_and_adoption_shows_in_the_json() {
        let refused = plan(
            "111111111111",
            PlanVerdict::NotManaged {
                status: StackStatus::UpdateComplete,
            },
            false,
        );
        assert_eq!(
            refused.headline(),
            "stack exists (UPDATE_COMPLETE) but is not managed by stackfleet (no \
             stackfleet:managed-by tag): the deploy would refuse it without --adopt"
        );
        let json = serde_json::to_value(&refused).unwrap();
        assert_eq!(json["verdict"], "notManaged");
        assert!(json.get("adopts").is_none(), "{json}");
        let adopted = plan("111111111111", PlanVerdict::NoChanges, true);
        assert_eq!(serde_json::to_value(&adopted).unwrap()["adopts"], true);
    }
}
