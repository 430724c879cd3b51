//! `apply --auto`: which groups of a reviewed plan the rollout document's rules approve
//! without a person (`document::AutoApprove`), and why not the others. The rules read are the
//! plan's recorded document: what was reviewed, never a newer file.

use std::collections::BTreeMap;

use super::{PlanFile, PlanGroup, PlanVerdict};
use crate::document::AutoApprove;

/// What the rules say of one group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Approval {
    Approved,
    /// Left for a person, and the first reason why.
    ForAPerson(String),
}

/// Whether `pattern` (a type, or a prefix ending in `*`) names `resource_type`.
fn names(pattern: &str, resource_type: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => resource_type.starts_with(prefix),
        None => pattern == resource_type,
    }
}

/// The rules applied to one group; without rules, nothing is approved.
pub fn approval(rules: Option<&AutoApprove>, group: &PlanGroup) -> Approval {
    let Some(rules) = rules else {
        return Approval::ForAPerson("the plan's document has no autoApprove rules".into());
    };
    if group.adopts {
        return Approval::ForAPerson("it adopts a stack stackfleet did not make".into());
    }
    let changes = match &group.verdict {
        PlanVerdict::NoChanges => return Approval::Approved,
        PlanVerdict::WouldCreate { changes } | PlanVerdict::WouldUpdate { changes } => changes,
        other => return Approval::ForAPerson(format!("not a change to apply: {}", other.headline())),
    };
    for change in changes {
        let what = format!("{} {}", change.resource_type, change.logical_id);
        if change.action == "Remove" {
            return Approval::ForAPerson(format!("it removes {what}"));
        }
        if matches!(change.replacement.as_deref(), Some("True" | "Conditional")) {
            return Approval::ForAPerson(format!("it may replace {what}"));
        }
        if let Some(pattern) = rules
            .deny_resource_types
            .iter()
            .find(|p| names(p, &change.resource_type))
        {
            return Approval::ForAPerson(format!(
                "it touches {what}, and autoApprove.denyResourceTypes lists {pattern}"
            ));
        }
    }
    Approval::Approved
}

impl PlanFile {
    /// Every group's approval under the plan's recorded rules, by group ID.
    pub fn approvals(&self) -> BTreeMap<&str, Approval> {
        let rules = self.document.auto_approve.as_ref();
        self.groups
            .iter()
            .map(|group| (group.id.as_str(), approval(rules, group)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::ResourceChange;

    fn change(action: &str, resource_type: &str, replacement: Option<&str>) -> ResourceChange {
        ResourceChange {
            action: action.into(),
            logical_id: "Thing".into(),
            resource_type: resource_type.into(),
            replacement: replacement.map(Into::into),
        }
    }

    fn group(verdict: PlanVerdict) -> PlanGroup {
        PlanGroup {
            id: "abc".into(),
            headline: verdict.headline(),
            change_digest: "abc".into(),
            verdict,
            adopts: false,
            targets: Vec::new(),
        }
    }

    fn update(changes: Vec<ResourceChange>) -> PlanGroup {
        group(PlanVerdict::WouldUpdate { changes })
    }

    fn rules(deny: &[&str]) -> AutoApprove {
        AutoApprove {
            deny_resource_types: deny.iter().map(|d| (*d).to_owned()).collect(),
        }
    }

    #[test]
    fn an_in_place_change_of_a_type_not_denied_is_approved() {
        let modify = update(vec![change("Modify", "AWS::S3::Bucket", Some("False"))]);
        assert_eq!(
            approval(Some(&rules(&["AWS::IAM::*"])), &modify),
            Approval::Approved
        );
        let create = group(PlanVerdict::WouldCreate {
            changes: vec![change("Add", "AWS::SNS::Topic", None)],
        });
        assert_eq!(approval(Some(&rules(&[])), &create), Approval::Approved);
        assert_eq!(
            approval(Some(&rules(&[])), &group(PlanVerdict::NoChanges)),
            Approval::Approved
        );
    }

    #[test]
    fn a_replacement_a_removal_or_a_denied_type_is_left_for_a_person_saying_why() {
        let reason = |group: &PlanGroup, deny: &[&str]| match approval(Some(&rules(deny)), group) {
            Approval::ForAPerson(why) => why,
            Approval::Approved => panic!("approved: {group:?}"),
        };
        let replaces = update(vec![change("Modify", "AWS::S3::Bucket", Some("True"))]);
        assert_eq!(reason(&replaces, &[]), "it may replace AWS::S3::Bucket Thing");
        let conditional = update(vec![change("Modify", "AWS::S3::Bucket", Some("Conditional"))]);
        assert_eq!(reason(&conditional, &[]), "it may replace AWS::S3::Bucket Thing");
        let removes = update(vec![change("Remove", "AWS::SNS::Topic", None)]);
        assert_eq!(reason(&removes, &[]), "it removes AWS::SNS::Topic Thing");
        let role = update(vec![change("Modify", "AWS::IAM::Role", Some("False"))]);
        assert_eq!(
            reason(&role, &["AWS::KMS::Key", "AWS::IAM::*"]),
            "it touches AWS::IAM::Role Thing, and autoApprove.denyResourceTypes lists AWS::IAM::*"
        );
        assert_eq!(
            approval(Some(&rules(&["AWS::IAM::Rol"])), &role),
            Approval::Approved,
            "a pattern without * is a whole type"
        );
    }

    #[test]
    fn without_rules_or_with_nothing_to_apply_nothing_is_approved() {
        let modify = update(vec![change("Modify", "AWS::S3::Bucket", Some("False"))]);
        assert!(matches!(approval(None, &modify), Approval::ForAPerson(_)));
        let busy = group(PlanVerdict::CannotPlan {
            reason: "denied".into(),
        });
        assert!(matches!(
            approval(Some(&rules(&[])), &busy),
            Approval::ForAPerson(why) if why.starts_with("not a change to apply")
        ));
        let mut adopting = modify;
        adopting.adopts = true;
        assert!(matches!(
            approval(Some(&rules(&[])), &adopting),
            Approval::ForAPerson(_)
        ));
    }
}
