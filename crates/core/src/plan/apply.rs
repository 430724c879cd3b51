//! `apply`: one target of a reviewed plan. Its kept change set is executed only if it is still
//! the one reviewed (AVAILABLE, of the planned stack, with the planned changes) and the stack
//! has not moved since the plan (same status, same last-updated time); otherwise the target is
//! Stale and nothing is changed. An executed change set is followed like a deploy's operation
//! (the same lifecycle, its token, its root cause on failure).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use super::check::{check, Check};
use super::file::{PlanGroup, PlannedTarget};
use super::recover::Recovered;
use super::{PlanFile, PlanVerdict};
use crate::errors::ErrorName;
use crate::ids::Target;
use crate::lifecycle::{
    assume_failure, client_request_token, follow_from, Clock, Counted, DriveOptions, FollowFrom, Followed,
    InFlight, Job, PassingErrors, Phase, Progress,
};
use crate::outcome::{Outcome, RootCause, Verdict};
use crate::ports::{AssumeRole, PortError, StackOperations};
use crate::rollout::TargetDriver;
use crate::stack::ChangeSetType;

/// How one target of a plan went, and whether its change set was executed (a change set
/// that was not is deleted at the end of the apply).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub outcome: Outcome,
    pub executed: bool,
}

/// What `apply` does with each target of the waves: the target's reviewed plan, executed.
/// Remembers which change sets it executed.
#[derive(Debug)]
pub struct Applying<'a> {
    planned: BTreeMap<&'a Target, (&'a PlannedTarget, &'a PlanGroup)>,
    executed: Mutex<BTreeSet<Target>>,
}

impl<'a> Applying<'a> {
    pub fn new(plan: &'a PlanFile) -> Self {
        Self {
            planned: plan.planned(),
            executed: Mutex::new(BTreeSet::new()),
        }
    }

    /// The targets whose change set this apply executed (or may have: a call whose answer was
    /// lost counts).
    pub fn executed(&self) -> BTreeSet<Target> {
        self.executed
            .lock()
            .map(|executed| executed.clone())
            .unwrap_or_default()
    }
}

impl TargetDriver for Applying<'_> {
    async fn drive<A: AssumeRole>(
        &self,
        assumer: &A,
        job: &Job<'_>,
        clock: &dyn Clock,
        options: DriveOptions,
    ) -> Outcome {
        let Some((planned, group)) = self.planned.get(job.target) else {
            return Outcome::failed(
                job.target.clone(),
                ErrorName::Internal,
                RootCause::message("the target is in the plan's waves but has no plan"),
                0,
                0,
            );
        };
        let applied = apply_target(assumer, job, planned, group, clock, options).await;
        if applied.executed {
            if let Ok(mut executed) = self.executed.lock() {
                executed.insert(job.target.clone());
            }
        }
        applied.outcome
    }
}

/// Applies one target's reviewed plan. Never fails: whatever goes wrong is the outcome.
pub async fn apply_target<A: AssumeRole>(
    assumer: &A,
    job: &Job<'_>,
    planned: &PlannedTarget,
    group: &PlanGroup,
    clock: &dyn Clock,
    options: DriveOptions,
) -> Applied {
    match begin_apply(assumer, job, planned, group, clock, options).await {
        Began::Done(applied) => applied,
        Began::Executing(state) => Applied {
            outcome: follow(assumer, job, state, clock, options).await,
            executed: true,
        },
    }
}

/// How an apply's first step ended: with the target's outcome, or with its change set executed
/// and the operation to follow (the state machine's worker hands it back, as a deploy's).
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // One per target, moved once.
pub enum Began {
    Done(Applied),
    Executing(InFlight),
}

/// `begin_apply` for a step tried again, whose first try's answer was lost: the operation of this
/// run found on the planned stack (by its token, newest event first) is followed, never
/// executed twice; none found, the apply begins.
pub async fn begin_apply_again<A: AssumeRole>(
    assumer: &A,
    job: &Job<'_>,
    planned: &PlannedTarget,
    group: &PlanGroup,
    clock: &dyn Clock,
    options: DriveOptions,
) -> Began {
    if let Some(stack_id) = planned.stack_id.as_deref() {
        let assumer = Counted::new(assumer);
        let ours = async {
            let session = assume(&assumer, job, options).await?;
            let page = retried(options, || session.stack_events(stack_id, None)).await?;
            let prefix = client_request_token(job.run, "");
            Ok::<_, PortError>(
                page.events
                    .first()
                    .and_then(|newest| newest.token.as_deref()?.strip_prefix(&prefix))
                    .and_then(Phase::from_operation),
            )
        };
        let found = ours.await;
        if let Ok(Some(phase)) = found {
            return Began::Executing(InFlight {
                target: job.target.clone(),
                run: job.run.clone(),
                stack_id: stack_id.to_owned(),
                phase,
                deadline_ms: clock.now_ms() + job.spec.operation_timeout_seconds * 1000,
                progress: Progress {
                    started_at_ms: clock.now_ms(),
                    // AssumeRole and DescribeStackEvents; the session's call is not counted by
                    // the assumer's counter.
                    aws_calls: assumer.calls() + 1,
                },
                recovered_from: None,
                adopted: imported(group),
            });
        }
    }
    begin_apply(assumer, job, planned, group, clock, options).await
}

/// Checks the target's reviewed plan and executes its change set, or says why not.
pub async fn begin_apply<A: AssumeRole>(
    assumer: &A,
    job: &Job<'_>,
    planned: &PlannedTarget,
    group: &PlanGroup,
    clock: &dyn Clock,
    options: DriveOptions,
) -> Began {
    let started_at_ms = clock.now_ms();
    let target = job.target.clone();
    let nothing_reviewed = |why: String| {
        Began::Done(Applied {
            outcome: Outcome::stale(target.clone(), why, 0, 0),
            executed: false,
        })
    };
    let attention = |why: String| {
        Began::Done(Applied {
            outcome: Outcome::failed(
                target.clone(),
                ErrorName::NeedsAttention,
                RootCause::message(why),
                0,
                0,
            ),
            executed: false,
        })
    };
    match &group.verdict {
        PlanVerdict::NoChanges | PlanVerdict::WouldCreate { .. } | PlanVerdict::WouldUpdate { .. } => {}
        PlanVerdict::NotManaged { .. } => return attention(crate::lifecycle::not_managed(job.spec)),
        PlanVerdict::CannotPlan { reason } => {
            return attention(format!(
                "the plan could not be made here ({reason}): fix that, then plan again"
            ))
        }
        PlanVerdict::Blocked { .. } => {
            return attention(format!("{}: fix that, then plan again", group.verdict.headline()))
        }
        PlanVerdict::Busy { status } => {
            return nothing_reviewed(format!(
                "an operation was running ({status}) when the plan was made: nothing was reviewed here"
            ))
        }
        // The recovery the plan showed is made below, in the target.
        PlanVerdict::WouldRecover { .. } => {}
    }

    let assumer = Counted::new(assumer);
    let session = match assume(&assumer, job, options).await {
        Ok(session) => session,
        Err(error) => {
            let outcome = assume_failure(job, &error, started_at_ms, clock.now_ms(), assumer.calls());
            return Began::Done(Applied {
                outcome,
                executed: false,
            });
        }
    };
    let stacks = Counted::new(&session);
    let calls = || assumer.calls() + stacks.calls();
    let failed = |error: &PortError| Applied {
        outcome: Outcome {
            stack_id: planned.stack_id.clone(),
            ..Outcome::failed(
                target.clone(),
                error.name(),
                RootCause::message(error.to_string()),
                clock.now_ms().saturating_sub(started_at_ms),
                calls(),
            )
        },
        executed: false,
    };
    if let PlanVerdict::WouldRecover { status, .. } = &group.verdict {
        let recovered = super::recover::recover(&stacks, job, planned, clock, options).await;
        let duration = clock.now_ms().saturating_sub(started_at_ms);
        let outcome = match recovered {
            Ok(Recovered::Stale(why)) => Outcome {
                recovered_from: Some(status.clone()),
                ..Outcome::stale(target.clone(), why, duration, calls())
            },
            Ok(Recovered::NotStarted(why)) => Outcome::stale(target.clone(), why, duration, calls()),
            Ok(Recovered::Attention(why)) => Outcome {
                stack_id: planned.stack_id.clone(),
                ..Outcome::failed(
                    target.clone(),
                    ErrorName::NeedsAttention,
                    RootCause::message(why),
                    duration,
                    calls(),
                )
            },
            Err(error) => return Began::Done(failed(&error)),
        };
        return Began::Done(Applied {
            outcome,
            executed: false,
        });
    }
    let checked = retried(options, || check(&stacks, planned, group)).await;
    let kind = match checked {
        Ok(Check::Go(kind)) => kind,
        Ok(Check::Unchanged(stack)) => {
            let outcome = Outcome {
                target: target.clone(),
                verdict: Verdict::Unchanged,
                stack_id: Some(stack.stack_id),
                final_status: Some(stack.status),
                duration_ms: clock.now_ms().saturating_sub(started_at_ms),
                aws_calls: calls(),
                recovered_from: None,
                outputs: stack.outputs,
                adopted: Vec::new(),
            };
            return Began::Done(Applied {
                outcome,
                executed: false,
            });
        }
        Ok(Check::Stale(why)) => {
            let duration = clock.now_ms().saturating_sub(started_at_ms);
            return Began::Done(Applied {
                outcome: Outcome::stale(target.clone(), why, duration, calls()),
                executed: false,
            });
        }
        Err(error) => return Began::Done(failed(&error)),
    };

    // Our token, as the lifecycle names a create or an update of this run: the operation's
    // events carry it, so following it and finding its root cause work as for a deploy's.
    let phase = match kind {
        ChangeSetType::Create => Phase::Creating,
        ChangeSetType::Update => Phase::Updating,
    };
    let token = client_request_token(job.run, phase.operation().unwrap_or("execute"));
    let change_set = planned.change_set_id.as_deref().unwrap_or_default();
    let mut attempt = 0;
    loop {
        match stacks.execute_change_set(change_set, &token).await {
            Ok(()) => break,
            Err(error) if is_unavailable(&error) && attempt == 0 => {
                let why = format!("the change set was no longer available when executed ({error})");
                let duration = clock.now_ms().saturating_sub(started_at_ms);
                return Began::Done(Applied {
                    outcome: Outcome::stale(target.clone(), why, duration, calls()),
                    executed: false,
                });
            }
            // A call made again, same token, whose first answer was lost: it finds the change
            // set executed by that first call (or its token taken by it).
            Err(error)
                if attempt > 0
                    && (is_unavailable(&error) || matches!(error, PortError::AlreadyExists(_))) =>
            {
                break
            }
            Err(error) => match retry_wait(options, &error, attempt) {
                Some(wait) => {
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                None => {
                    let mut applied = failed(&error);
                    // An earlier try went unanswered and may have started the execution: its
                    // change set is then not the clean-up's to delete.
                    applied.executed = attempt > 0;
                    return Began::Done(applied);
                }
            },
        }
    }
    let state = InFlight {
        target: target.clone(),
        run: job.run.clone(),
        stack_id: planned.stack_id.clone().unwrap_or_default(),
        phase,
        deadline_ms: clock.now_ms() + job.spec.operation_timeout_seconds * 1000,
        progress: Progress {
            started_at_ms,
            aws_calls: calls(),
        },
        recovered_from: None,
        adopted: imported(group),
    };
    Began::Executing(state)
}

/// What a reviewed create imports (a plan made with `adoptExisting`): "TYPE LOGICAL_ID" each.
fn imported(group: &PlanGroup) -> Vec<String> {
    match &group.verdict {
        PlanVerdict::WouldCreate { changes } => changes
            .iter()
            .filter(|change| change.action == "Import")
            .map(|change| format!("{} {}", change.resource_type, change.logical_id))
            .collect(),
        _ => Vec::new(),
    }
}

/// The executed change set's operation, followed to its end as a deploy follows its own.
async fn follow<A: AssumeRole>(
    assumer: &A,
    job: &Job<'_>,
    state: InFlight,
    clock: &dyn Clock,
    options: DriveOptions,
) -> Outcome {
    let mut from = FollowFrom::InFlight(state);
    loop {
        match follow_from(assumer, job, from, clock, None, PassingErrors::RetryHere(options)).await {
            Ok(Followed::Done(outcome)) => return outcome,
            Ok(Followed::HandBack { state, .. }) => from = FollowFrom::InFlight(state),
            Err(error) => return error.into_outcome(job.target, clock.now_ms()),
        }
    }
}

/// ExecuteChangeSet refused because the change set is not there or not executable.
fn is_unavailable(error: &PortError) -> bool {
    matches!(error, PortError::Rejected { code, .. }
        if code == "InvalidChangeSetStatus" || code == "ChangeSetNotFound")
}

/// The wait before trying again after `error`, or `None` when it is not tried again.
pub(super) fn retry_wait(
    options: DriveOptions,
    error: &PortError,
    attempt: u32,
) -> Option<std::time::Duration> {
    (error.name().is_transient() && attempt < options.transient_retries)
        .then(|| options.retry_backoff.saturating_mul(2u32.saturating_pow(attempt)))
}

pub(super) async fn retried<T, F, Fut>(options: DriveOptions, mut call: F) -> Result<T, PortError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, PortError>>,
{
    let mut attempt = 0;
    loop {
        match call().await {
            Err(error) => match retry_wait(options, &error, attempt) {
                Some(wait) => {
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                None => return Err(error),
            },
            done => return done,
        }
    }
}

async fn assume<A: AssumeRole>(
    assumer: &A,
    job: &Job<'_>,
    options: DriveOptions,
) -> Result<A::Session, PortError> {
    let request = job.assume_request();
    retried(options, || assumer.assume(request)).await
}
