//! The fake's change sets: made against a stack, described, deleted, and executed as
//! CloudFormation does it: once, AVAILABLE only, starting the stack's create or update under the
//! execution's token, after which the stack's other change sets are gone.

use stackfleet_core::ids::Target;
use stackfleet_core::ports::{PortError, PortResult};
use stackfleet_core::stack::{
    ChangeSetDescription, ChangeSetRequest, ChangeSetType, ResourceChange, StackStatus,
};

use super::{Call, FakeCloud, OpKind, World};

/// What CloudFormation answers for a change set that is not there.
pub(crate) fn change_set_not_found(id: &str) -> PortError {
    PortError::Rejected {
        code: "ChangeSetNotFound".into(),
        message: format!("ChangeSet [{id}] does not exist"),
    }
}

#[derive(Debug, Clone)]
pub(crate) struct FakeChangeSet {
    pub target: Target,
    pub stack_name: String,
    pub stack_id: String,
    pub kind: ChangeSetType,
    pub changes: Vec<ResourceChange>,
    pub template: String,
    pub parameters: Vec<(String, String)>,
    pub tags: Vec<(String, String)>,
    /// AVAILABLE, UNAVAILABLE (it holds no change), EXECUTE_COMPLETE.
    pub execution_status: &'static str,
    /// The ClientRequestToken it was executed with.
    pub executed_with: Option<String>,
    /// Refused by validation: FAILED, with this reason and these events.
    pub refused: Option<super::iam::Refusal>,
}

impl FakeChangeSet {
    pub(crate) fn new(
        target: &Target,
        request: &ChangeSetRequest,
        stack_id: String,
        changes: Vec<ResourceChange>,
        template: String,
    ) -> Self {
        let execution_status = if changes.is_empty() {
            "UNAVAILABLE"
        } else {
            "AVAILABLE"
        };
        Self {
            target: target.clone(),
            stack_name: request.stack.stack_name.clone(),
            stack_id,
            kind: request.change_set_type,
            changes,
            template,
            parameters: request.stack.parameters.clone(),
            tags: request.stack.tags.clone(),
            execution_status,
            executed_with: None,
            refused: None,
        }
    }

    pub(crate) fn description(&self, id: &str) -> ChangeSetDescription {
        let (status, status_reason) = if let Some(refusal) = &self.refused {
            ("FAILED", Some(refusal.status_reason.clone()))
        } else if self.changes.is_empty() {
            (
                "FAILED",
                Some("The submitted information didn't contain changes. Submit different information to create a change set.".to_owned()),
            )
        } else {
            ("CREATE_COMPLETE", None)
        };
        ChangeSetDescription {
            change_set_id: id.to_owned(),
            stack_id: Some(self.stack_id.clone()),
            status: status.into(),
            status_reason,
            execution_status: Some(self.execution_status.into()),
            changes: self.changes.clone(),
        }
    }
}

impl World {
    /// ExecuteChangeSet in `target`.
    pub(crate) fn execute_change_set(&mut self, target: &Target, id: &str, token: &str) -> PortResult<()> {
        let change_set = self
            .change_sets
            .get(id)
            .filter(|c| &c.target == target)
            .cloned()
            .ok_or_else(|| change_set_not_found(id))?;
        // The same request again: answered as the first was.
        if change_set.executed_with.as_deref() == Some(token) {
            return Ok(());
        }
        if change_set.execution_status != "AVAILABLE" {
            return Err(PortError::Rejected {
                code: "InvalidChangeSetStatus".into(),
                message: format!(
                    "ChangeSet [{id}] cannot be executed in its current execution status of [{}]",
                    change_set.execution_status
                ),
            });
        }
        let key = (target.clone(), change_set.stack_name.clone());
        let script = self.next_script(target);
        let stamp = self.stamp();
        let stack = self
            .stacks
            .get_mut(&key)
            .filter(|s| s.stack_id == change_set.stack_id)
            .ok_or_else(|| PortError::Rejected {
                code: "ValidationError".into(),
                message: format!("Stack [{}] does not exist", change_set.stack_id),
            })?;
        stack.settle(tokio::time::Instant::now());
        if stack.running.is_some() {
            return Err(PortError::Rejected {
                code: "InvalidChangeSetStatus".into(),
                message: format!("Stack {} is busy: {}", stack.stack_id, stack.status),
            });
        }
        stack.template = change_set.template.clone();
        stack.parameters = change_set.parameters.clone();
        stack.tags = change_set.tags.clone();
        let kind = match change_set.kind {
            ChangeSetType::Create => OpKind::Create,
            ChangeSetType::Update => {
                stack.updated_ms = Some(stamp);
                OpKind::Update
            }
        };
        if kind == OpKind::Create {
            stack.creation_token = Some(token.to_owned());
        }
        stack.begin(kind, token.to_owned(), script.duration, script.end);
        debug_assert!(stack.status != StackStatus::ReviewInProgress);
        // The stack's other change sets no longer apply to it: CloudFormation deletes them.
        let stack_id = change_set.stack_id.clone();
        self.change_sets
            .retain(|other, c| other == id || c.stack_id != stack_id);
        if let Some(executed) = self.change_sets.get_mut(id) {
            executed.execution_status = "EXECUTE_COMPLETE";
            executed.executed_with = Some(token.to_owned());
        }
        self.operations.push((target.clone(), Call::ExecuteChangeSet));
        Ok(())
    }
}

impl FakeCloud {
    /// The change sets that exist in `target` (IDs), executed ones included.
    pub fn change_sets(&self, target: &Target) -> Vec<String> {
        self.world()
            .change_sets
            .iter()
            .filter(|(_, c)| &c.target == target)
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// Somebody deletes a change set (the console, another pipeline).
    pub fn delete_change_set(&self, id: &str) {
        self.world().change_sets.remove(id);
    }
}
