//! The end of an apply: the change sets of the plan that it did not execute (groups not
//! selected, stale targets, targets a halt or an interrupt left unstarted) are deleted, and with
//! a CREATE change set the empty stack it made, by its ID and only while it is still that empty
//! stack. A plan is applied once: what was not applied is planned again.

use std::collections::BTreeSet;

use futures::stream::{self, StreamExt};

use super::{remove_review_stack, PlanFile, PlanVerdict};
use crate::ids::{RunId, Target};
use crate::lifecycle::Job;
use crate::ports::{AssumeRequest, AssumeRole, PortError, StackOperations};
use crate::spec::RolloutSpec;

/// What the clean-up did: change sets deleted, and those it could not delete (left to
/// CloudFormation, or a person), with why.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Discarded {
    pub deleted: usize,
    pub left: Vec<(Target, String)>,
}

/// Deletes every change set of `plan` whose target is not in `executed`, `concurrency` targets
/// at a time. Never fails: what could not be deleted is listed.
pub async fn discard_unapplied<A: AssumeRole>(
    assumer: &A,
    plan: &PlanFile,
    spec: &RolloutSpec,
    run: &RunId,
    executed: &BTreeSet<Target>,
    concurrency: usize,
) -> Discarded {
    let planned = plan.planned();
    let unapplied = planned.into_iter().filter_map(|(target, (planned, group))| {
        let change_set = planned.change_set_id.as_deref()?;
        let stack = planned.stack_id.as_deref()?;
        let created = matches!(group.verdict, PlanVerdict::WouldCreate { .. });
        (!executed.contains(target)).then_some((target, change_set, stack, created))
    });
    let answers: Vec<(Target, Result<(), PortError>)> = stream::iter(unapplied)
        .map(|(target, change_set, stack, created)| async move {
            let job = Job {
                target,
                spec,
                run,
                new_account: false,
            };
            let done = discard_one(assumer, &job, change_set, stack, created).await;
            (target.clone(), done)
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    let mut discarded = Discarded::default();
    for (target, answer) in answers {
        match answer {
            Ok(()) => discarded.deleted += 1,
            Err(error) => discarded.left.push((target, error.to_string())),
        }
    }
    discarded.left.sort();
    discarded
}

/// Deletes one target's change set of the plan (with a CREATE's empty stack), if it has one: a
/// target whose group was not approved. Gone already is done.
pub async fn discard_target<A: AssumeRole>(
    assumer: &A,
    job: &Job<'_>,
    planned: &super::file::PlannedTarget,
    group: &super::file::PlanGroup,
) -> Result<(), PortError> {
    let (Some(change_set), Some(stack)) = (planned.change_set_id.as_deref(), planned.stack_id.as_deref())
    else {
        return Ok(());
    };
    let created = matches!(group.verdict, PlanVerdict::WouldCreate { .. });
    discard_one(assumer, job, change_set, stack, created).await
}

async fn discard_one<A: AssumeRole>(
    assumer: &A,
    job: &Job<'_>,
    change_set: &str,
    stack: &str,
    created: bool,
) -> Result<(), PortError> {
    let session = assumer
        .assume(AssumeRequest {
            new_account: false,
            ..job.assume_request()
        })
        .await?;
    match session.delete_change_set(change_set).await {
        Ok(()) => {}
        // Gone already: with its stack, or by somebody else's hand.
        Err(PortError::Rejected { code, .. }) if code == "ChangeSetNotFound" => {}
        Err(error) => return Err(error),
    }
    if created {
        remove_review_stack(&session, job, stack).await?;
    }
    Ok(())
}
