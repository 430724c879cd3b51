//! Making a plan: in each target, a change set of what a deploy would do, described, then
//! deleted (with the empty stack of a CREATE), or kept for review.

use std::time::Duration;

use super::{PlanVerdict, Reviewed, TargetPlan};
use crate::ids::{RunId, Target};
use crate::lifecycle::{client_request_token, decide, Decision, Job};
use crate::ports::{AssumeRole, NamedResources, PortError, StackOperations};
use crate::stack::{
    ChangeSetRequest, ChangeSetType, ResourceChange, StackDescription, StackRequest, StackStatus,
};

/// How often, and how many times, a change set is described while CloudFormation computes it.
const CHANGE_SET_POLL: Duration = Duration::from_secs(2);
const CHANGE_SET_POLLS: u32 = 150;

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
    let session = assumer.assume(job.assume_request()).await?;
    let found = session.describe_stack(job.spec.stack_name.as_str()).await?;
    Ok((session, found))
}

/// The verdict, and for a plan kept for review what it keeps: the change set of a create or an
/// update, the stack of a plan without changes.
async fn verdict<S: StackOperations + NamedResources>(
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
        import_existing_resources: spec.adopt_existing && kind == ChangeSetType::Create,
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
    // Pre-flight, while the change set is still there to be asked about.
    let blockers = match &described {
        Ok(d) if d.status == "FAILED" && !no_changes(d.status_reason.as_deref()) => {
            super::preflight::refusals(session, d, job.run).await
        }
        Ok(d) if d.status == "CREATE_COMPLETE" => {
            let stack = found
                .as_ref()
                .filter(|_| kind == ChangeSetType::Update)
                .map(|s| s.stack_id.as_str());
            super::named::name_conflicts(session, job, stack, &d.changes).await
        }
        _ => Vec::new(),
    };
    if !blockers.is_empty() {
        discard(session, job, &created, kind).await?;
        return Ok((PlanVerdict::Blocked { blockers }, as_found));
    }
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
pub(crate) fn would(kind: ChangeSetType, mut changes: Vec<ResourceChange>) -> PlanVerdict {
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

pub(crate) async fn described_when_ready<S: StackOperations>(
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
