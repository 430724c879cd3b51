//! The lifecycle table of ARCHITECTURE.md as one pure function: given what DescribeStacks found,
//! what to do next.

use crate::spec::RecoveryPolicy;
use crate::stack::{StackDescription, StackStatus};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Create,
    Update,
    /// An operation is running: ours to adopt, or somebody else's to wait for.
    InspectRunningOperation,
    /// Only a delete gets the stack out of this state; the policy allows it.
    DeleteThenCreate,
    ContinueRollbackThenUpdate,
    /// Left alone by policy, or a state nothing automatic should touch.
    NeedsAttention,
    /// The stack lacks the `stackfleet:managed-by` tag and the rollout does not adopt it:
    /// somebody else's stack, left alone.
    NotManaged,
}

/// What DescribeStacks found, as far as deciding goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Found<'a> {
    pub status: &'a StackStatus,
    /// It carries the `stackfleet:managed-by` tag.
    pub managed: bool,
}

impl<'a> From<&'a StackDescription> for Found<'a> {
    fn from(stack: &'a StackDescription) -> Self {
        Self {
            status: &stack.status,
            managed: stack.managed,
        }
    }
}

/// What to do with the stack `found` (None: there is none). `adopt` lets a stack without the
/// managed-by tag be treated as stackfleet's; without it such a stack is never updated, deleted
/// or continued. A running operation is looked at whoever owns the stack: ours (this run's
/// token) is followed, somebody else's waited for, and ownership decides once it has ended.
pub fn decide(found: Option<Found<'_>>, recovery: RecoveryPolicy, adopt: bool) -> Decision {
    use StackStatus as S;
    let Some(Found { status, managed }) = found else {
        return Decision::Create;
    };
    match status {
        S::DeleteComplete => Decision::Create,
        running if running.is_in_progress() => Decision::InspectRunningOperation,
        _ if !managed && !adopt => Decision::NotManaged,
        S::CreateComplete
        | S::UpdateComplete
        | S::UpdateRollbackComplete
        | S::ImportComplete
        | S::ImportRollbackComplete
        // A stack deployed with rollback disabled can take an update from UPDATE_FAILED.
        | S::UpdateFailed => Decision::Update,
        S::RollbackComplete | S::RollbackFailed | S::DeleteFailed | S::ReviewInProgress | S::CreateFailed => {
            match recovery {
                RecoveryPolicy::Recreate => Decision::DeleteThenCreate,
                RecoveryPolicy::Stop => Decision::NeedsAttention,
            }
        }
        S::UpdateRollbackFailed => Decision::ContinueRollbackThenUpdate,
        // IMPORT_ROLLBACK_FAILED and statuses newer than this build.
        _ => Decision::NeedsAttention,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table() {
        use Decision as D;
        use StackStatus as S;
        let recreate = RecoveryPolicy::Recreate;
        let stop = RecoveryPolicy::Stop;
        // Every row for a stack stackfleet manages, without adopt: the table of ARCHITECTURE.md.
        let cases = [
            (None, recreate, D::Create),
            (Some(S::DeleteComplete), stop, D::Create),
            (Some(S::CreateComplete), stop, D::Update),
            (Some(S::UpdateComplete), stop, D::Update),
            (Some(S::UpdateRollbackComplete), stop, D::Update),
            (Some(S::ImportComplete), stop, D::Update),
            (Some(S::ImportRollbackComplete), stop, D::Update),
            (Some(S::UpdateFailed), stop, D::Update),
            (Some(S::CreateInProgress), stop, D::InspectRunningOperation),
            (
                Some(S::UpdateRollbackCompleteCleanupInProgress),
                stop,
                D::InspectRunningOperation,
            ),
            (Some(S::DeleteInProgress), stop, D::InspectRunningOperation),
            (Some(S::RollbackComplete), recreate, D::DeleteThenCreate),
            (Some(S::RollbackComplete), stop, D::NeedsAttention),
            (Some(S::RollbackFailed), recreate, D::DeleteThenCreate),
            (Some(S::DeleteFailed), recreate, D::DeleteThenCreate),
            (Some(S::DeleteFailed), stop, D::NeedsAttention),
            (Some(S::ReviewInProgress), recreate, D::DeleteThenCreate),
            (Some(S::ReviewInProgress), stop, D::NeedsAttention),
            (Some(S::UpdateRollbackFailed), stop, D::ContinueRollbackThenUpdate),
            (Some(S::ImportRollbackFailed), recreate, D::NeedsAttention),
            (
                Some(S::Other("UPDATE_PAUSED".into())),
                recreate,
                D::NeedsAttention,
            ),
        ];
        for (status, policy, expected) in cases {
            let found = status.as_ref().map(|status| Found {
                status,
                managed: true,
            });
            assert_eq!(
                decide(found, policy, false),
                expected,
                "{status:?} under {policy:?}"
            );
            assert_eq!(
                decide(found, policy, true),
                expected,
                "adopt changes nothing for a managed stack: {status:?} under {policy:?}"
            );
        }
    }

    #[test]
    fn a_stack_without_the_managed_by_tag_is_touched_only_when_adopted() {
        use Decision as D;
        use StackStatus as S;
        let recreate = RecoveryPolicy::Recreate;
        let stop = RecoveryPolicy::Stop;
        // (status, recovery, without adopt, with adopt)
        let cases = [
            (S::CreateComplete, recreate, D::NotManaged, D::Update),
            (S::UpdateComplete, stop, D::NotManaged, D::Update),
            (S::UpdateRollbackComplete, recreate, D::NotManaged, D::Update),
            (S::ImportComplete, recreate, D::NotManaged, D::Update),
            (S::UpdateFailed, recreate, D::NotManaged, D::Update),
            (S::RollbackComplete, recreate, D::NotManaged, D::DeleteThenCreate),
            (S::RollbackComplete, stop, D::NotManaged, D::NeedsAttention),
            (S::RollbackFailed, recreate, D::NotManaged, D::DeleteThenCreate),
            (S::DeleteFailed, recreate, D::NotManaged, D::DeleteThenCreate),
            (S::ReviewInProgress, recreate, D::NotManaged, D::DeleteThenCreate),
            (
                S::UpdateRollbackFailed,
                recreate,
                D::NotManaged,
                D::ContinueRollbackThenUpdate,
            ),
            (
                S::ImportRollbackFailed,
                recreate,
                D::NotManaged,
                D::NeedsAttention,
            ),
            // A deleted stack is gone, whoever made it; a running operation is looked at first
            // (ours is followed; somebody else's is waited for, then this table applies).
            (S::DeleteComplete, recreate, D::Create, D::Create),
            (
                S::UpdateInProgress,
                recreate,
                D::InspectRunningOperation,
                D::InspectRunningOperation,
            ),
            (
                S::DeleteInProgress,
                stop,
                D::InspectRunningOperation,
                D::InspectRunningOperation,
            ),
        ];
        for (status, policy, refused, adopted) in cases {
            let found = Some(Found {
                status: &status,
                managed: false,
            });
            assert_eq!(decide(found, policy, false), refused, "{status} under {policy:?}");
            assert_eq!(
                decide(found, policy, true),
                adopted,
                "{status} under {policy:?}, adopted"
            );
        }
    }
}
