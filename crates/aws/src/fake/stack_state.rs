//! A fake stack over (virtual) time: an operation begins, and settles once tokio's clock has
//! passed its scripted end, leaving the events CloudFormation would have written.

use std::time::Duration;

use stackfleet_core::ids::Target;
use stackfleet_core::stack::{carries_managed_by, StackDescription, StackEvent, StackStatus};
use tokio::time::Instant;

use super::{FakeStack, OpKind, Running, ScriptEnd};

const STACK_TYPE: &str = "AWS::CloudFormation::Stack";

impl FakeStack {
    pub(crate) fn new(
        target: &Target,
        name: &str,
        id: u64,
        status: StackStatus,
        template: String,
        parameters: Vec<(String, String)>,
    ) -> Self {
        let stack_id = format!(
            "arn:aws:cloudformation:{}:{}:stack/{name}/fake-{id:08}",
            target.region, target.account
        );
        Self {
            stack_id,
            name: name.to_owned(),
            status,
            reason: None,
            template,
            parameters,
            events: Vec::new(),
            running: None,
            creation_token: None,
            tags: Vec::new(),
            created_ms: super::stamp_of(id),
            updated_ms: None,
        }
    }

    pub(crate) fn push_event(
        &mut self,
        logical_id: &str,
        kind: &str,
        status: &str,
        reason: Option<&str>,
        token: Option<&str>,
    ) {
        let sequence = i64::try_from(self.events.len()).unwrap_or(i64::MAX);
        self.events.push(StackEvent {
            logical_id: logical_id.to_owned(),
            resource_type: kind.to_owned(),
            status: status.to_owned(),
            reason: reason.map(str::to_owned),
            token: token.map(str::to_owned),
            timestamp_ms: sequence,
        });
    }

    pub(crate) fn begin(&mut self, kind: OpKind, token: String, duration: Duration, end: ScriptEnd) {
        self.status = kind.running();
        self.reason = Some("User Initiated".into());
        let name = self.name.clone();
        self.push_event(
            &name,
            STACK_TYPE,
            kind.running().as_str(),
            Some("User Initiated"),
            Some(&token),
        );
        self.running = Some(Running {
            kind,
            token,
            finish_at: Instant::now() + duration,
            end,
        });
    }

    /// Ends the running operation if its time has come, writing the events CloudFormation would.
    pub(crate) fn settle(&mut self, now: Instant) {
        let Some(running) = self.running.take_if(|r| r.finish_at <= now) else {
            return;
        };
        let name = self.name.clone();
        let token = Some(running.token.as_str());
        let (status, reason) = match &running.end {
            ScriptEnd::Succeed => (running.kind.succeeded(), None),
            ScriptEnd::Fail {
                logical_id,
                resource_type,
                reason,
            } => {
                let failed = running.kind.resource_failed();
                self.push_event(logical_id, resource_type, failed, Some(reason), token);
                // What CloudFormation writes for the resources it stops because of the first:
                // noise that must not be taken for the cause.
                self.push_event(
                    "Sibling",
                    "AWS::IAM::Role",
                    failed,
                    Some("Resource creation cancelled"),
                    token,
                );
                let summary = format!("The following resource(s) failed: [{logical_id}]");
                if matches!(running.kind, OpKind::Create | OpKind::Update) {
                    let rolling_back = match running.kind {
                        OpKind::Create => "ROLLBACK_IN_PROGRESS",
                        _ => "UPDATE_ROLLBACK_IN_PROGRESS",
                    };
                    self.push_event(&name, STACK_TYPE, rolling_back, Some(&summary), token);
                }
                (running.kind.failed(), Some(summary))
            }
        };
        self.push_event(&name, STACK_TYPE, status.as_str(), reason.as_deref(), token);
        self.status = status;
        self.reason = reason;
    }

    pub(crate) fn description(&self) -> StackDescription {
        StackDescription {
            stack_id: self.stack_id.clone(),
            status: self.status.clone(),
            status_reason: self.reason.clone(),
            managed: carries_managed_by(self.tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
            last_updated_ms: Some(self.updated_ms.unwrap_or(self.created_ms)),
            outputs: Default::default(),
        }
    }
}
