//! A plan for review as Markdown, for a pull-request comment: each group with its ID, what it
//! changes and where, and how to apply it.

use std::fmt::Write as _;

use super::{Approval, PlanFile, PlanGroup, PlanVerdict};
use crate::escape::markdown_inline;
use crate::report::{targets_count, waves_table};

/// Targets listed per group in the comment before "and N more" (the plan file has them all).
const LISTED: usize = 50;

/// A group that replaces or removes resources: said in bold above its changes.
fn destructive(group: &PlanGroup) -> bool {
    match &group.verdict {
        PlanVerdict::WouldUpdate { changes } | PlanVerdict::WouldCreate { changes } => {
            changes.iter().any(|c| {
                c.action == "Remove" || (c.action == "Modify" && c.replacement.as_deref() != Some("False"))
            })
        }
        _ => false,
    }
}

fn changes_table(md: &mut String, group: &PlanGroup) {
    let (PlanVerdict::WouldUpdate { changes } | PlanVerdict::WouldCreate { changes }) = &group.verdict else {
        return;
    };
    if changes.is_empty() {
        return;
    }
    md.push_str("| action | resource type | logical ID | replacement |\n|---|---|---|---|\n");
    for change in changes {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} |",
            markdown_inline(&change.action),
            markdown_inline(&change.resource_type),
            markdown_inline(&change.logical_id),
            markdown_inline(change.replacement.as_deref().unwrap_or("-"))
        );
    }
    md.push('\n');
}

impl PlanFile {
    /// The plan as Markdown; `path` is the plan file as the apply command should name it.
    pub fn to_markdown(&self, path: &str) -> String {
        self.to_markdown_applied_by(&format!("stackfleet apply {path}"))
    }

    /// The plan as Markdown, a group applied by `command --group ID` (`apply PLAN`, or a
    /// plan-first execution's `approve EXECUTION`).
    pub fn to_markdown_applied_by(&self, command: &str) -> String {
        let stack = self
            .document
            .stack_name
            .as_ref()
            .map_or_else(String::new, |s| format!(" of stack `{s}`"));
        let mut md = format!("# stackfleet plan `{}`{stack}\n\n", self.plan_id);
        let _ = writeln!(
            md,
            "{} in {} group{}{}. Apply a group once reviewed: `{command} --group ID` \
             (repeatable), or every group: `--all`. Only the change sets listed here are executed, \
             each only while its stack is as planned; the apply deletes the change sets it does not \
             execute.\n",
            targets_count(self.targets.len()),
            self.groups.len(),
            if self.groups.len() == 1 { "" } else { "s" },
            if self.skipped.is_empty() {
                String::new()
            } else {
                format!(", {} skipped", self.skipped.len())
            },
        );
        waves_table(&mut md, &self.waves);
        if !self.blocked.is_empty() {
            md.push_str(
                "## Blocked before any change\n\nThe deploy would be refused in these targets \
                 (pre-flight); their groups keep no change set.\n\n",
            );
            for group in &self.blocked {
                let _ = writeln!(md, "- {}", markdown_inline(&group.headline()));
            }
            md.push('\n');
        }
        md.push_str("## Groups\n\n");
        let approvals = self.approvals();
        let rules = self.document.auto_approve.is_some();
        for group in &self.groups {
            let _ = writeln!(
                md,
                "### `{}`: {}\n\n{}\n",
                group.id,
                targets_count(group.targets.len()),
                markdown_inline(&group.headline)
            );
            if destructive(group) {
                md.push_str("**This group replaces or removes resources.**\n\n");
            }
            match approvals.get(group.id.as_str()) {
                Some(Approval::Approved) if rules => {
                    md.push_str(
                        "Approved by the document's autoApprove rules: `apply --auto` applies it.\n\n",
                    );
                }
                Some(Approval::ForAPerson(why)) if rules => {
                    let _ = writeln!(md, "For a person: {}.\n", markdown_inline(why));
                }
                _ => {}
            }
            changes_table(&mut md, group);
            let mut listed: Vec<String> = group
                .targets
                .iter()
                .take(LISTED)
                .map(|t| format!("`{t}`"))
                .collect();
            if group.targets.len() > LISTED {
                listed.push(format!("and {} more", group.targets.len() - LISTED));
            }
            let _ = writeln!(
                md,
                "<details><summary>{}</summary>\n\n{}\n\n</details>\n",
                targets_count(group.targets.len()),
                listed.join(", ")
            );
        }
        if !self.skipped.is_empty() {
            md.push_str("## Skipped\n\n");
            for skipped in &self.skipped {
                let _ = writeln!(md, "- `{}`: {}", skipped.target, markdown_inline(&skipped.reason));
            }
        }
        md
    }
}

#[cfg(test)]
mod tests {
    use crate::plan::{PlanFile, PlanVerdict, TargetPlan};
    use crate::stack::ResourceChange;

    #[test]
    fn each_group_shows_its_id_its_changes_and_how_to_apply_it() {
        let plans: Vec<TargetPlan> = (1..=3)
            .map(|n| TargetPlan {
                target: format!("{n:012}:us-east-1").parse().unwrap(),
                verdict: if n == 3 {
                    PlanVerdict::NoChanges
                } else {
                    PlanVerdict::WouldUpdate {
                        changes: vec![ResourceChange {
                            action: "Modify".into(),
                            logical_id: "Read|Only".into(),
                            resource_type: "AWS::IAM::Role".into(),
                            replacement: Some("True".into()),
                        }],
                    }
                },
                adopts: false,
                reviewed: None,
            })
            .collect();
        let plan = PlanFile::new(
            "p1".parse().unwrap(),
            0,
            crate::Rollout::parse("stackName: org-federation\n").unwrap(),
            Vec::new(),
            &plans,
            Vec::new(),
        );
        let md = plan.to_markdown("plan.json");
        let id = &plan.groups[0].id;
        assert!(
            md.starts_with("# stackfleet plan `p1` of stack `org-federation`\n"),
            "{md}"
        );
        assert!(md.contains("`stackfleet apply plan.json --group ID`"), "{md}");
        assert!(md.contains(&format!("### `{id}`: 2 targets")), "{md}");
        assert!(
            md.contains("**This group replaces or removes resources.**"),
            "{md}"
        );
        assert!(
            md.contains("| Modify | AWS::IAM::Role | Read\\|Only | True |"),
            "{md}"
        );
        assert!(
            md.contains("`000000000001:us-east-1`, `000000000002:us-east-1`"),
            "{md}"
        );
        assert!(md.contains(": 1 target\n\nno changes\n"), "{md}");
    }
}
