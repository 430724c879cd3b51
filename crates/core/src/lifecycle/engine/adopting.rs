//! A create that adopts what its template names and the account already has (`adoptExisting`):
//! instead of CreateStack, a CREATE change set with CloudFormation's ImportExistingResources,
//! executed under the create's token (so that following it, finding it again after a lost
//! answer and reading its root cause work as for any create). The change set's Import changes
//! are what the outcome says was adopted. A change set CloudFormation refuses (a conflicting
//! resource without `DeletionPolicy: Retain`, or one it cannot import) fails the target with its
//! reason, and its empty stack is removed.

use super::{Engine, Launch};
use crate::errors::ErrorName;
use crate::lifecycle::Phase;
use crate::outcome::RootCause;
use crate::plan::{described_when_ready, remove_review_stack};
use crate::ports::{PortError, StackOperations};
use crate::stack::{ChangeSetRequest, ChangeSetType};

impl<S: StackOperations> Engine<'_, S> {
    pub(super) async fn create_adopting(&mut self) -> Launch {
        let request = ChangeSetRequest {
            stack: self.request(&Phase::Creating),
            change_set_name: format!("stackfleet-adopt-{}", self.job.run),
            change_set_type: ChangeSetType::Create,
            import_existing_resources: true,
        };
        let created = match self.stacks.create_change_set(&request).await {
            Ok(created) => created,
            Err(error @ (PortError::AlreadyExists(_) | PortError::StackBusy(_))) => {
                return Launch::Collided {
                    error,
                    stack_id: None,
                }
            }
            Err(error) => return Launch::Step(self.settle(&error, None)),
        };
        let described = match described_when_ready(&self.stacks, &created.id).await {
            Ok(described) => described,
            Err(error) => return Launch::Step(self.settle(&error, Some(&created.stack_id))),
        };
        if described.status != "CREATE_COMPLETE" {
            let reason = described.status_reason.as_deref().unwrap_or("no reason given");
            // Deleting the empty stack the change set made deletes the change set with it.
            if let Err(error) = remove_review_stack(&self.stacks, self.job, &created.stack_id).await {
                tracing::warn!(target = %self.job.target, %error, "the refused change set's empty stack was not removed");
            }
            let cause = format!(
                "the change set that adopts existing resources was refused: {reason} (only resources \
                 the template keeps with DeletionPolicy: Retain, under a fixed name, can be adopted)"
            );
            return Launch::Step(Ok(self.failed(
                None,
                ErrorName::StackFailed,
                RootCause::message(cause),
            )));
        }
        self.adopted = described
            .changes
            .iter()
            .filter(|change| change.action == "Import")
            .map(|change| format!("{} {}", change.resource_type, change.logical_id))
            .collect();
        let token = self.token(&Phase::Creating);
        match self.stacks.execute_change_set(&created.id, &token).await {
            Ok(()) => Launch::Step(Ok(self.pending(&created.stack_id, Phase::Creating))),
            Err(error) => Launch::Step(self.settle(&error, Some(&created.stack_id))),
        }
    }
}
