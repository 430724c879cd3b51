//! `stackfleet plan`: what a rollout would do in each target, from a change set made and then
//! deleted, never touching the stack. Targets with the same changes are grouped. A plan for
//! review (`plan --out`) keeps its change sets instead, and records what `apply` needs to
//! execute exactly those (`file`), and only while the stacks have not moved (`apply`).

mod apply;
mod approval;
mod check;
mod cleanup;
mod file;
mod make;
mod markdown;
mod named;
mod preflight;
mod recover;

pub use apply::{apply_target, begin_apply, begin_apply_again, Applied, Applying, Began};
pub use approval::{approval, Approval};
pub use cleanup::{discard_target, discard_unapplied, Discarded};
pub use file::{
    change_digest, json_schema, recorded_document, PlanError, PlanFile, PlanGroup, PlannedTarget,
    SkippedTarget, PLAN_VERSION,
};
pub use make::{change_set_name, plan_all, plan_target, plan_target_for_review};
pub(crate) use make::{described_when_ready, remove_review_stack, would};
pub use named::{named_resources, template_json, NamedResource};
pub use preflight::{
    group_blockers, preflight_all, preflight_target, Blocker, BlockerGroup, FoundBy, Preflight,
};

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ids::Target;
use crate::stack::{ResourceChange, StackDescription, StackStatus, MANAGED_BY_TAG};

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
    /// CloudFormation would refuse the deploy here (pre-flight): nothing is kept for review.
    Blocked {
        blockers: Vec<preflight::Blocker>,
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
            Self::Blocked { blockers } => format!(
                "blocked: the deploy would be refused here ({})",
                blockers
                    .iter()
                    .map(preflight::Blocker::headline)
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
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
