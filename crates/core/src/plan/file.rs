//! The plan for review (`plan --out plan.json`): the rollout document it was made from, the
//! targets in their waves, and per target the change set kept for it, the stack as it was, and
//! a digest of what would change. Targets with the same digest form a group, which a reviewer
//! approves by its ID (`apply --group ID`). `apply` reads nothing else: no `--spec`.
//!
//! A plan file is checked whole before anything runs: each group's digest must be that of its
//! own verdict and changes, and each target's that of its group, so that a file edited after
//! `plan` wrote it (to show a reviewer other changes than the change sets hold) is refused.
//! The change sets themselves are checked against CloudFormation at apply (`apply`).

use std::collections::{BTreeMap, BTreeSet};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{PlanVerdict, TargetPlan};
use crate::document::Rollout;
use crate::ids::{RunId, Target};
use crate::outcome::Outcome;
use crate::stack::StackStatus;
use crate::waves::Wave;

/// The plan file's format. `apply` refuses any other.
pub const PLAN_VERSION: u32 = 1;
/// Hex digits of a change digest that make a group's ID.
const GROUP_ID_LENGTH: usize = 12;

/// A reviewed rollout, as `stackfleet plan --out` writes it and `stackfleet apply` reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(
    title = "stackfleet plan",
    description = "What a rollout would change in each target, from change sets kept for review: \
                   `stackfleet plan --out FILE` writes it, `stackfleet apply FILE --group ID` \
                   executes exactly those change sets."
)]
pub struct PlanFile {
    /// The JSON Schema this file follows (for editors); ignored otherwise.
    #[serde(rename = "$schema", default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// The format of this file; `apply` refuses one it does not know.
    pub version: u32,
    /// The run the plan was made under: its change sets are named `stackfleet-plan-<planId>`.
    pub plan_id: RunId,
    /// When the plan was made, in milliseconds since the Unix epoch.
    pub created_at_ms: u64,
    /// The rollout document the plan was made from (flags laid over `--spec`, a template file
    /// read in). Secrets stay references; a plaintext NoEcho value is masked (`****`).
    pub document: Rollout,
    /// The planned targets, in the order `apply` runs them.
    pub waves: Vec<Wave>,
    pub targets: Vec<PlannedTarget>,
    /// Targets with identical plans, largest group first.
    pub groups: Vec<PlanGroup>,
    /// Targets not planned for what their account is (suspended, the management account).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<SkippedTarget>,
    /// What the pre-flight found would refuse a deploy, each with the targets it blocks
    /// (the groups of `blocked` verdict list the same targets, by identical sets of blockers).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blocked: Vec<super::BlockerGroup>,
}

/// One target's plan, as `apply` checks and executes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlannedTarget {
    pub target: Target,
    /// The ID of its group.
    pub group: String,
    /// SHA-256 of its verdict and change list, canonical (changes sorted): its group's.
    pub change_digest: String,
    /// The change set kept for it (an ARN): for a plan that would create or update.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_set_id: Option<String>,
    /// The stack it was planned against (for a create, the empty stack the change set made).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack_status: Option<StackStatus>,
    /// The stack's LastUpdatedTime (or CreationTime) when planned, in milliseconds since the
    /// Unix epoch: a stack that moved since is not the stack that was reviewed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack_last_updated_ms: Option<i64>,
}

/// Targets whose plans are identical: one decision for a reviewer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlanGroup {
    /// The first hex digits of `changeDigest`: what `apply --group` takes.
    pub id: String,
    pub headline: String,
    pub change_digest: String,
    #[serde(flatten)]
    pub verdict: PlanVerdict,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub adopts: bool,
    pub targets: Vec<Target>,
}

impl PlanGroup {
    /// Whether its targets have a change set for `apply` to execute.
    pub fn has_change_sets(&self) -> bool {
        matches!(
            self.verdict,
            PlanVerdict::WouldCreate { .. } | PlanVerdict::WouldUpdate { .. }
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SkippedTarget {
    pub target: Target,
    pub reason: String,
}

/// Why a plan file cannot be applied. Exit code 2: the file, or the flags, must change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("not a stackfleet plan (plan --out): {0}")]
    Unreadable(String),
    #[error("plan version {found}: this stackfleet reads version {PLAN_VERSION}; plan again with it")]
    Version { found: u32 },
    /// The file does not hold together: edited, or cut short, after `plan` wrote it.
    #[error("{0}: the file was altered after `stackfleet plan` wrote it; plan again")]
    Altered(String),
    #[error("no group {given} in this plan; its groups are {known}")]
    UnknownGroup { given: String, known: String },
}

/// SHA-256 (hex) of a verdict and whether it adopts, canonical: changes sorted, fields in
/// their declared order. Two targets have the same digest exactly when a reviewer would read
/// the same plan for both.
pub fn change_digest(verdict: &PlanVerdict, adopts: bool) -> String {
    #[derive(Serialize)]
    struct Canonical<'a> {
        #[serde(flatten)]
        verdict: &'a PlanVerdict,
        adopts: bool,
    }
    let mut verdict = verdict.clone();
    if let PlanVerdict::WouldCreate { changes } | PlanVerdict::WouldUpdate { changes } = &mut verdict {
        changes.sort();
    }
    let text = serde_json::to_string(&Canonical {
        verdict: &verdict,
        adopts,
    })
    .unwrap_or_default();
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

fn group_id(digest: &str) -> String {
    digest.chars().take(GROUP_ID_LENGTH).collect()
}

impl PlanFile {
    /// The plan of `plans` (each from `plan_target_for_review`), grouped.
    pub fn new(
        plan_id: RunId,
        created_at_ms: u64,
        document: Rollout,
        waves: Vec<Wave>,
        plans: &[TargetPlan],
        skipped: Vec<SkippedTarget>,
    ) -> Self {
        let mut groups: BTreeMap<String, PlanGroup> = BTreeMap::new();
        let mut targets = Vec::with_capacity(plans.len());
        for plan in plans {
            let digest = change_digest(&plan.verdict, plan.adopts);
            let group = groups.entry(digest.clone()).or_insert_with(|| PlanGroup {
                id: group_id(&digest),
                headline: plan.headline(),
                change_digest: digest.clone(),
                verdict: plan.verdict.clone(),
                adopts: plan.adopts,
                targets: Vec::new(),
            });
            group.targets.push(plan.target.clone());
            let reviewed = plan.reviewed.as_ref();
            targets.push(PlannedTarget {
                target: plan.target.clone(),
                group: group.id.clone(),
                change_digest: digest,
                change_set_id: reviewed.and_then(|r| r.change_set_id.clone()),
                stack_id: reviewed.map(|r| r.stack_id.clone()),
                stack_status: reviewed.map(|r| r.stack_status.clone()),
                stack_last_updated_ms: reviewed.and_then(|r| r.stack_last_updated_ms),
            });
        }
        let mut groups: Vec<PlanGroup> = groups.into_values().collect();
        groups.sort_by(|a, b| {
            b.targets
                .len()
                .cmp(&a.targets.len())
                .then_with(|| a.headline.cmp(&b.headline))
        });
        Self {
            schema: None,
            version: PLAN_VERSION,
            plan_id,
            created_at_ms,
            document,
            waves,
            targets,
            groups,
            skipped,
            blocked: super::group_blockers(plans.iter().map(|p| (&p.target, p.blockers()))),
        }
    }

    /// Reads a plan file and checks it whole (`check`).
    pub fn parse(text: &str) -> Result<Self, PlanError> {
        #[derive(Deserialize)]
        struct Versioned {
            version: Option<u32>,
        }
        // The version first: a later format may not read as this one.
        let versioned: Versioned =
            serde_json::from_str(text).map_err(|e| PlanError::Unreadable(e.to_string()))?;
        match versioned.version {
            Some(PLAN_VERSION) => {}
            Some(found) => return Err(PlanError::Version { found }),
            None => return Err(PlanError::Unreadable("it has no `version`".into())),
        }
        let plan: Self = serde_json::from_str(text).map_err(|e| PlanError::Unreadable(e.to_string()))?;
        plan.check()?;
        Ok(plan)
    }

    /// The plan holds together: every group's digest is that of its own verdict, every target's
    /// that of its group, which lists it; a change set exactly where the group would create or
    /// update; every target in exactly one wave.
    pub fn check(&self) -> Result<(), PlanError> {
        let altered = |text: String| Err(PlanError::Altered(text));
        let mut by_id: BTreeMap<&str, &PlanGroup> = BTreeMap::new();
        for group in &self.groups {
            let digest = change_digest(&group.verdict, group.adopts);
            if digest != group.change_digest || group.id != group_id(&digest) {
                return altered(format!(
                    "group {}: its changeDigest and id are not those of its verdict and changes",
                    group.id
                ));
            }
            if by_id.insert(group.id.as_str(), group).is_some() {
                return altered(format!("group {} is listed twice", group.id));
            }
        }
        let mut planned: BTreeSet<&Target> = BTreeSet::new();
        for target in &self.targets {
            let name = &target.target;
            let Some(group) = by_id.get(target.group.as_str()) else {
                return altered(format!(
                    "target {name}: its group {} is not in groups",
                    target.group
                ));
            };
            if target.change_digest != group.change_digest || !group.targets.contains(name) {
                return altered(format!(
                    "target {name}: its changeDigest is not its group's, or the group does not list it"
                ));
            }
            let with_stack = target.stack_id.is_some() && target.stack_status.is_some();
            let fits = match target.change_set_id {
                Some(_) => group.has_change_sets() && with_stack,
                None => !group.has_change_sets(),
            };
            if !fits {
                return altered(format!(
                    "target {name}: a change set (with its stack) belongs exactly to a plan that \
                     would create or update"
                ));
            }
            if !planned.insert(name) {
                return altered(format!("target {name} is listed twice"));
            }
        }
        let grouped: BTreeSet<&Target> = self.groups.iter().flat_map(|g| &g.targets).collect();
        let in_waves: Vec<&Target> = self.waves.iter().flat_map(|w| &w.targets).collect();
        let waved: BTreeSet<&Target> = in_waves.iter().copied().collect();
        if grouped != planned || waved != planned || in_waves.len() != planned.len() {
            return altered("targets, groups and waves do not list the same targets, each once".to_owned());
        }
        Ok(())
    }

    /// The group IDs `given` (`--group`), or every group (`--all`, `given` empty): an unknown
    /// ID is refused, naming those there are.
    pub fn select(&self, given: &[String]) -> Result<BTreeSet<String>, PlanError> {
        let known: BTreeSet<String> = self.groups.iter().map(|g| g.id.clone()).collect();
        if given.is_empty() {
            return Ok(known);
        }
        for id in given {
            if !known.contains(id) {
                return Err(PlanError::UnknownGroup {
                    given: id.clone(),
                    known: known.iter().cloned().collect::<Vec<_>>().join(", "),
                });
            }
        }
        Ok(given.iter().cloned().collect())
    }

    /// What an apply of the groups `selected` runs: the plan's waves narrowed to their
    /// targets; and what it reports of the others without running them: Skipped, for their
    /// group was not selected or the plan skipped them.
    pub fn selection(&self, selected: &BTreeSet<String>) -> (Vec<Wave>, Vec<Outcome>) {
        let chosen: BTreeSet<&Target> = self
            .groups
            .iter()
            .filter(|g| selected.contains(&g.id))
            .flat_map(|g| &g.targets)
            .collect();
        let waves = self
            .waves
            .iter()
            .map(|wave| Wave {
                targets: wave
                    .targets
                    .iter()
                    .filter(|t| chosen.contains(t))
                    .cloned()
                    .collect(),
                ..wave.clone()
            })
            .collect();
        let mut others: Vec<Outcome> = self
            .targets
            .iter()
            .filter(|t| !chosen.contains(&t.target))
            .map(|t| {
                Outcome::skipped(
                    t.target.clone(),
                    format!(
                        "not applied: its group {} was not selected (apply --group)",
                        t.group
                    ),
                )
            })
            .collect();
        others.extend(
            self.skipped
                .iter()
                .map(|s| Outcome::skipped(s.target.clone(), s.reason.clone())),
        );
        (waves, others)
    }

    /// Each planned target with its group.
    pub fn planned(&self) -> BTreeMap<&Target, (&PlannedTarget, &PlanGroup)> {
        let groups: BTreeMap<&str, &PlanGroup> = self.groups.iter().map(|g| (g.id.as_str(), g)).collect();
        self.targets
            .iter()
            .filter_map(|t| groups.get(t.group.as_str()).map(|g| (&t.target, (t, *g))))
            .collect()
    }
}

/// The rollout document as a plan file records it: a secret's reference stays (it is no
/// secret), a plaintext value of a NoEcho parameter is masked, here and in every override.
/// `resume` is a state machine's, and goes.
pub fn recorded_document(mut document: Rollout, no_echo: &BTreeSet<String>) -> Rollout {
    let mask = |parameters: &mut BTreeMap<String, String>| {
        for (name, value) in parameters.iter_mut() {
            let reference = matches!(crate::secrets::SecretRef::parse(value), Ok(Some(_)));
            if !reference {
                *value = crate::secrets::shown(name, value, no_echo).to_owned();
            }
        }
    };
    mask(&mut document.parameters);
    document.parameter_overrides.values_mut().for_each(mask);
    document.resume = None;
    document.schema = None;
    document
}

/// The plan file's JSON Schema, as `schema/plan.schema.json` keeps it.
pub fn json_schema() -> String {
    let schema = schemars::schema_for!(PlanFile);
    crate::wire::pretty(schema.as_value())
}

#[cfg(test)]
#[path = "file_tests.rs"]
mod tests;
