//! Reading a stack's events: the root cause of a failed operation, and the resources whose
//! rollback failed.

use crate::outcome::RootCause;
use crate::ports::StackOperations;
use crate::stack::StackEvent;

/// Event pages read at most when looking for a root cause: an operation on a stack of a few
/// hundred resources fits; beyond that the stack's status reason has to do.
const MAX_EVENT_PAGES: usize = 5;

/// Reasons CloudFormation gives to resources it stopped because another one failed: noise that
/// hides the real cause when it comes first in a listing.
fn is_cancellation_noise(event: &StackEvent) -> bool {
    event
        .reason
        .as_deref()
        .is_some_and(|reason| reason.contains("cancelled") || reason.contains("canceled"))
}

/// The events of one operation, oldest first. An event belongs to it when it carries the
/// operation's token; events without any token (some emulators) are taken until the stack-level
/// event that opened the operation (`opening_status`).
pub(crate) async fn operation_events<S: StackOperations>(
    stacks: &S,
    stack_id: &str,
    token: &str,
    opening_status: &str,
) -> Result<Vec<StackEvent>, crate::ports::PortError> {
    let mut ours = Vec::new();
    let mut page = None;
    'pages: for _ in 0..MAX_EVENT_PAGES {
        let listing = stacks.stack_events(stack_id, page.as_deref()).await?;
        for event in listing.events {
            match event.token.as_deref() {
                Some(other) if other != token => {
                    if ours.is_empty() {
                        continue; // a newer operation of somebody else's; ours is further back
                    }
                    break 'pages;
                }
                _ => {}
            }
            let opened = event.is_stack_level() && event.status == opening_status;
            ours.push(event);
            if opened {
                break 'pages;
            }
        }
        match listing.next_page {
            Some(next) => page = Some(next),
            None => break,
        }
    }
    ours.reverse();
    Ok(ours)
}

/// The first failure of the operation: the first resource that failed for a reason of its own,
/// else the stack's own failure event.
pub(crate) fn root_cause(events: &[StackEvent]) -> Option<RootCause> {
    let failed = |e: &&StackEvent| e.status.ends_with("_FAILED") && !is_cancellation_noise(e);
    events
        .iter()
        .filter(failed)
        .find(|e| !e.is_stack_level())
        .or_else(|| events.iter().find(failed))
        .map(|event| RootCause {
            logical_id: Some(event.logical_id.clone()),
            resource_type: Some(event.resource_type.clone()),
            status: Some(event.status.clone()),
            reason: event.reason.clone().unwrap_or_else(|| "no reason given".into()),
        })
}

/// Resources whose last rollback failed: those ContinueUpdateRollback may be told to skip.
/// `events` is the newest page, newest first.
pub(crate) fn rollback_failed_resources(events: &[StackEvent]) -> Vec<String> {
    let mut failed = Vec::new();
    for event in events {
        if event.is_stack_level() && event.status == "UPDATE_ROLLBACK_IN_PROGRESS" {
            break;
        }
        if !event.is_stack_level() && event.status.ends_with("_FAILED") && !failed.contains(&event.logical_id)
        {
            failed.push(event.logical_id.clone());
        }
    }
    failed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(logical_id: &str, kind: &str, status: &str, reason: Option<&str>) -> StackEvent {
        StackEvent {
            logical_id: logical_id.into(),
            resource_type: kind.into(),
            status: status.into(),
            reason: reason.map(Into::into),
            token: None,
            timestamp_ms: 0,
        }
    }

    #[test]
    fn the_first_real_failure_wins_over_cancellation_noise() {
        let stack = "AWS::CloudFormation::Stack";
        let events = [
            event("s", stack, "CREATE_IN_PROGRESS", Some("User Initiated")),
            event("Role", "AWS::IAM::Role", "CREATE_IN_PROGRESS", None),
            event(
                "Provider",
                "AWS::IAM::SAMLProvider",
                "CREATE_FAILED",
                Some("Resource creation cancelled"),
            ),
            event(
                "Role",
                "AWS::IAM::Role",
                "CREATE_FAILED",
                Some("Role ReadOnly already exists"),
            ),
            event(
                "s",
                stack,
                "ROLLBACK_IN_PROGRESS",
                Some("The following resource(s) failed to create: [Role]"),
            ),
        ];
        let cause = root_cause(&events).unwrap();
        assert_eq!(cause.logical_id.as_deref(), Some("Role"));
        assert_eq!(cause.reason, "Role ReadOnly already exists");

        let only_stack = [event("s", stack, "UPDATE_FAILED", Some("Parameter X missing"))];
        assert_eq!(root_cause(&only_stack).unwrap().reason, "Parameter X missing");
        assert!(root_cause(&events[..2]).is_none());
    }

    #[test]
    fn rollback_failures_since_the_last_rollback_started() {
        let stack = "AWS::CloudFormation::Stack";
        let newest_first = [
            event("s", stack, "UPDATE_ROLLBACK_FAILED", None),
            event(
                "Bucket",
                "AWS::S3::Bucket",
                "UPDATE_FAILED",
                Some("bucket not empty"),
            ),
            event("s", stack, "UPDATE_ROLLBACK_IN_PROGRESS", None),
            event("Old", "AWS::SNS::Topic", "UPDATE_FAILED", Some("older")),
        ];
        assert_eq!(
            rollback_failed_resources(&newest_first),
            vec!["Bucket".to_string()]
        );
    }
}
