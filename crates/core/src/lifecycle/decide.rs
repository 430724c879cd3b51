//! The lifecycle table of ARCHITECTURE.md as one pure function: given what DescribeStacks found,
//! what to do next.

use crate::spec::RecoveryPolicy;
use crate::stack::StackStatus;

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
}

pub fn decide(status: Option<&StackStatus>, recovery: RecoveryPolicy) -> Decision {
    use StackStatus as S;
    let Some(status) = status else {
        return Decision::Create;
    };
    match status {
        S::DeleteComplete => Decision::Create,
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
        running if running.is_in_progress() => Decision::InspectRunningOperation,
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
        let cases = [
            (None, recreate, D::Create),
            (Some(S::DeleteComplete), stop, D::Create),
            (Some(S::CreateComplete), stop, D::Update),
            (Some(S::UpdateComplete), stop, D::Update),
            (Some(S::UpdateRollbackComplete), stop, D::Update),
            (Some(S::ImportComplete), stop, D::Update),
            (Some(S::ImportRollbackComplete), stop, D::Update),
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
            assert_eq!(
                decide(status.as_ref(), policy),
                expected,
                "{status:?} under {policy:?}"
            );
        }
    }
}
