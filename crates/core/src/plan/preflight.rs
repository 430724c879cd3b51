//! Pre-flight: what would refuse a target's deploy, found before anything changes. A plan's
//! change set that CloudFormation FAILED says why (its status reason, and the validation events
//! DescribeEvents gives); where it gives none, the template's named IAM resources are looked up
//! (`named`). A blocked target's plan is `PlanVerdict::Blocked`; `deploy --preflight` reads the
//! same per-target check (`preflight_target`), which the worker Lambda can call as well.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{plan_all, plan_target, PlanVerdict, TargetPlan};
use crate::errors::ErrorName;
use crate::ids::{RunId, Target};
use crate::lifecycle::Job;
use crate::outcome::{Outcome, RootCause};
use crate::ports::{AssumeRole, StackOperations};
use crate::report::{normalised, targets_count};
use crate::stack::ChangeSetDescription;

/// Pages of a change set's failed events read at most: validation reports a handful.
const EVENT_PAGES: usize = 5;

/// Where a blocker was seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum FoundBy {
    /// The change set FAILED, and CloudFormation said only its status reason.
    ChangeSet,
    /// A failed event of the change set (DescribeEvents): CloudFormation's early validation.
    ValidationEvent,
    /// stackfleet's own lookup of a named IAM resource (GetRole, ...).
    NameLookup,
}

/// One thing that would make a target's deploy fail, found before anything changed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Blocker {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logical_id: Option<String>,
    /// Why, with account IDs, request IDs and the run blanked: one cause in many targets reads
    /// the same, and groups.
    pub reason: String,
    pub found_by: FoundBy,
}

impl Blocker {
    /// "AWS::IAM::Role FederatedReadOnly: already exists ...".
    pub fn headline(&self) -> String {
        match (&self.resource_type, &self.logical_id) {
            (Some(kind), Some(id)) => format!("{kind} {id}: {}", self.reason),
            (None, Some(id)) => format!("{id}: {}", self.reason),
            (Some(kind), None) => format!("{kind}: {}", self.reason),
            (None, None) => self.reason.clone(),
        }
    }
}

/// One blocker and every target it blocks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BlockerGroup {
    #[serde(flatten)]
    pub blocker: Blocker,
    pub targets: Vec<Target>,
}

impl BlockerGroup {
    /// "AWS::IAM::Role FederatedReadOnly: already exists ...: 3 targets".
    pub fn headline(&self) -> String {
        format!(
            "{}: {}",
            self.blocker.headline(),
            targets_count(self.targets.len())
        )
    }
}

/// Every blocker across the targets (each with its own), with the targets it blocks, largest
/// group first: a target with two blockers counts in both.
pub fn group_blockers<'a>(
    blocked: impl IntoIterator<Item = (&'a Target, &'a [Blocker])>,
) -> Vec<BlockerGroup> {
    let mut groups: BTreeMap<&Blocker, Vec<Target>> = BTreeMap::new();
    for (target, blockers) in blocked {
        for blocker in blockers {
            groups.entry(blocker).or_default().push(target.clone());
        }
    }
    let mut groups: Vec<BlockerGroup> = groups
        .into_iter()
        .map(|(blocker, targets)| BlockerGroup {
            blocker: blocker.clone(),
            targets,
        })
        .collect();
    groups.sort_by(|a, b| {
        b.targets
            .len()
            .cmp(&a.targets.len())
            .then_with(|| a.blocker.cmp(&b.blocker))
    });
    groups
}

impl TargetPlan {
    /// What blocks a deploy here: empty unless the plan is `Blocked`.
    pub fn blockers(&self) -> &[Blocker] {
        match &self.verdict {
            PlanVerdict::Blocked { blockers } => blockers,
            _ => &[],
        }
    }
}

/// What CloudFormation said of a change set it FAILED: each failed event (DescribeEvents), or,
/// where it gives none (or no such API), the change set's status reason. Read before the change
/// set is deleted.
pub(crate) async fn refusals<S: StackOperations>(
    session: &S,
    described: &ChangeSetDescription,
    run: &RunId,
) -> Vec<Blocker> {
    let mut blockers = Vec::new();
    let mut page: Option<String> = None;
    for _ in 0..EVENT_PAGES {
        let answer = match session
            .change_set_failures(&described.change_set_id, page.as_deref())
            .await
        {
            Ok(answer) => answer,
            Err(error) => {
                tracing::debug!(%error, "no change set events here: the status reason speaks for it");
                break;
            }
        };
        blockers.extend(answer.items.into_iter().map(|event| {
            Blocker {
                resource_type: event.resource_type,
                logical_id: event.logical_id,
                reason: normalised(
                    event
                        .reason
                        .or(event.event_type)
                        .as_deref()
                        .unwrap_or("refused, without a reason"),
                    run,
                ),
                found_by: FoundBy::ValidationEvent,
            }
        }));
        match answer.next_page {
            Some(next) => page = Some(next),
            None => break,
        }
    }
    if blockers.is_empty() {
        blockers.push(Blocker {
            resource_type: None,
            logical_id: None,
            reason: normalised(
                &format!(
                    "the change set failed: {}",
                    described.status_reason.as_deref().unwrap_or("no reason given")
                ),
                run,
            ),
            found_by: FoundBy::ChangeSet,
        });
    }
    blockers.sort();
    blockers.dedup();
    blockers
}

/// One target's pre-flight: blocked, or free to deploy as far as could be seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preflight {
    pub target: Target,
    /// Empty: nothing found that would refuse the deploy. A target that could not be checked
    /// at all (its role refused, say) is not blocked: its deploy meets and reports the same.
    pub blockers: Vec<Blocker>,
}

impl Preflight {
    fn of(plan: &TargetPlan) -> Self {
        Self {
            target: plan.target.clone(),
            blockers: plan.blockers().to_vec(),
        }
    }

    pub fn is_blocked(&self) -> bool {
        !self.blockers.is_empty()
    }

    /// A blocked target's outcome: Failed, NeedsAttention, nothing started; its root cause the
    /// first blocker, its reason every one. Failed rather than Skipped: a person must act, and
    /// a re-run (--rerun-failed) deploys it once they have.
    pub fn outcome(&self) -> Option<Outcome> {
        let first = self.blockers.first()?;
        let reasons: Vec<String> = self.blockers.iter().map(Blocker::headline).collect();
        let root_cause = RootCause {
            logical_id: first.logical_id.clone(),
            resource_type: first.resource_type.clone(),
            status: None,
            reason: format!("blocked by pre-flight, nothing started: {}", reasons.join("; ")),
        };
        Some(Outcome::failed(
            self.target.clone(),
            ErrorName::NeedsAttention,
            root_cause,
            0,
            0,
        ))
    }
}

/// Pre-flight of one target: a change set made, read and deleted (the plan's own), and the
/// named IAM resources looked up. Nothing is left behind and nothing is changed.
pub async fn preflight_target<A: AssumeRole>(assumer: &A, job: &Job<'_>) -> Preflight {
    Preflight::of(&plan_target(assumer, job).await)
}

/// Pre-flight of every target, `concurrency` at a time; `on_each` sees each as it lands.
pub async fn preflight_all<A: AssumeRole>(
    assumer: &A,
    spec: &crate::spec::RolloutSpec,
    run: &RunId,
    targets: &[Target],
    concurrency: usize,
    mut on_each: impl FnMut(&Preflight),
) -> Vec<Preflight> {
    plan_all(assumer, spec, run, targets, concurrency, false, |plan| {
        on_each(&Preflight::of(plan));
    })
    .await
    .iter()
    .map(Preflight::of)
    .collect()
}
