//! CloudFormation behind core's `StackOperations` and `ValidateTemplate`: one SDK call per
//! method, SDK types in, core's values out.

use aws_config::SdkConfig;
use aws_sdk_cloudformation::types::{self as cfn, Capability, ChangeSetType, Parameter, Tag};
use aws_sdk_cloudformation::Client;
use stackfleet_core::ports::{
    NamedResources, Page, PortError, PortResult, StackOperations, ValidateTemplate, ValidatedTemplate,
};
use stackfleet_core::spec::TemplateSource;
use stackfleet_core::stack::{
    carries_managed_by, ChangeSetCreated, ChangeSetDescription, ChangeSetEvent, ChangeSetRequest, EventPage,
    NamedKind, ResourceChange, StackDescription, StackEvent, StackRequest, StackResource, UpdateStarted,
};

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::errors::{classify, service_error};

/// The stacks of one account and region (the client's credentials and region say which), and
/// in a target the account's IAM names, read-only, for the pre-flight.
#[derive(Debug, Clone)]
pub struct CfnStacks {
    client: Client,
    /// Reached through a deploy role's session: credentials STS has just issued, so a refusal of
    /// them says the region is not enabled in the account, not that they are bad.
    in_target: bool,
    /// The same session's IAM; without one (a session made for tests) no name is looked up.
    iam: Option<crate::iam::IamNames>,
}

/// The codes with which a service refuses credentials in a region the account has not enabled
/// (an opt-in region): the account's session is valid everywhere else.
const REGION_REFUSALS: [&str; 2] = ["InvalidClientTokenId", "UnrecognizedClientException"];

impl CfnStacks {
    pub fn new(client: Client) -> Self {
        Self {
            client,
            in_target: false,
            iam: None,
        }
    }

    /// In a target, through the session its deploy role gave.
    pub fn in_target(client: Client) -> Self {
        Self {
            client,
            in_target: true,
            iam: None,
        }
    }

    /// Looks names up through this IAM client (the same session's credentials).
    pub fn with_iam(self, iam: crate::iam::IamNames) -> Self {
        Self {
            iam: Some(iam),
            ..self
        }
    }

    /// In the caller's own account: for validating templates.
    pub fn from_config(config: &SdkConfig) -> Self {
        Self::new(Client::new(config))
    }

    fn refused<E>(&self, error: &SdkError<E, HttpResponse>) -> PortError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        match classify(error) {
            PortError::Rejected { code, message }
                if self.in_target && REGION_REFUSALS.contains(&code.as_str()) =>
            {
                PortError::RegionNotEnabled(format!("{code}: {message}"))
            }
            other => other,
        }
    }
}

/// A ValidationError from a call that carries a template is about the template or its
/// parameters; from any other call it is just a refusal.
fn template_error(error: PortError) -> PortError {
    match error {
        PortError::Rejected { code, message } if code == "ValidationError" => {
            PortError::TemplateInvalid(message)
        }
        other => other,
    }
}

fn parameters(request: &StackRequest) -> Vec<Parameter> {
    request
        .parameters
        .iter()
        .map(|(key, value)| {
            Parameter::builder()
                .parameter_key(key)
                .parameter_value(value)
                .build()
        })
        .collect()
}

fn tags(request: &StackRequest) -> Vec<Tag> {
    request
        .tags
        .iter()
        .map(|(key, value)| Tag::builder().key(key).value(value).build())
        .collect()
}

fn capabilities(request: &StackRequest) -> Vec<Capability> {
    request
        .capabilities
        .iter()
        .map(|c| Capability::from(c.as_str()))
        .collect()
}

fn template_fields(template: &TemplateSource) -> (Option<String>, Option<String>) {
    match template {
        TemplateSource::Body(body) => (Some(body.as_str().to_owned()), None),
        TemplateSource::Url(url) => (None, Some(url.as_str().to_owned())),
    }
}

fn event(event: &cfn::StackEvent) -> StackEvent {
    StackEvent {
        logical_id: event.logical_resource_id().unwrap_or_default().to_owned(),
        resource_type: event.resource_type().unwrap_or_default().to_owned(),
        status: event
            .resource_status()
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default(),
        reason: event.resource_status_reason().map(str::to_owned),
        token: event.client_request_token().map(str::to_owned),
        timestamp_ms: event
            .timestamp()
            .and_then(|t| t.to_millis().ok())
            .unwrap_or_default(),
    }
}

impl StackOperations for CfnStacks {
    async fn describe_stack(&self, stack: &str) -> PortResult<Option<StackDescription>> {
        let answer = match self.client.describe_stacks().stack_name(stack).send().await {
            Ok(answer) => answer,
            Err(error) => {
                if let Some((code, message)) = service_error(&error) {
                    if code == "ValidationError" && message.contains("does not exist") {
                        return Ok(None);
                    }
                }
                return Err(self.refused(&error));
            }
        };
        Ok(answer.stacks().first().map(|found| StackDescription {
            stack_id: found.stack_id().unwrap_or(stack).to_owned(),
            status: found
                .stack_status()
                .map(|s| s.as_str().to_owned())
                .unwrap_or_default()
                .into(),
            status_reason: found.stack_status_reason().map(str::to_owned),
            managed: carries_managed_by(
                found
                    .tags()
                    .iter()
                    .map(|tag| (tag.key().unwrap_or_default(), tag.value().unwrap_or_default())),
            ),
            last_updated_ms: found
                .last_updated_time()
                .or(found.creation_time())
                .and_then(|t| t.to_millis().ok()),
            outputs: found
                .outputs()
                .iter()
                .filter_map(|output| {
                    Some((output.output_key()?.to_owned(), output.output_value()?.to_owned()))
                })
                .collect(),
        }))
    }

    async fn create_stack(&self, request: &StackRequest) -> PortResult<String> {
        let (body, url) = template_fields(&request.template);
        let answer = self
            .client
            .create_stack()
            .stack_name(&request.stack_name)
            .set_template_body(body)
            .set_template_url(url)
            .set_parameters(Some(parameters(request)))
            .set_capabilities(Some(capabilities(request)))
            .set_tags(Some(tags(request)))
            .enable_termination_protection(request.termination_protection)
            .client_request_token(&request.token)
            .send()
            .await
            .map_err(|e| template_error(self.refused(&e)))?;
        Ok(answer.stack_id().unwrap_or(&request.stack_name).to_owned())
    }

    async fn update_stack(&self, request: &StackRequest) -> PortResult<UpdateStarted> {
        let (body, url) = template_fields(&request.template);
        let sent = self
            .client
            .update_stack()
            .stack_name(&request.stack_name)
            .set_template_body(body)
            .set_template_url(url)
            .set_parameters(Some(parameters(request)))
            .set_capabilities(Some(capabilities(request)))
            .set_tags(Some(tags(request)))
            .client_request_token(&request.token)
            .send()
            .await;
        match sent {
            Ok(answer) => Ok(UpdateStarted::Started {
                stack_id: answer.stack_id().unwrap_or(&request.stack_name).to_owned(),
            }),
            Err(error) => {
                if let Some((code, message)) = service_error(&error) {
                    if code == "ValidationError" && message.contains("No updates are to be performed") {
                        return Ok(UpdateStarted::NoChanges);
                    }
                }
                Err(template_error(self.refused(&error)))
            }
        }
    }

    async fn continue_update_rollback(
        &self,
        stack: &str,
        skip_resources: &[String],
        token: &str,
    ) -> PortResult<()> {
        self.client
            .continue_update_rollback()
            .stack_name(stack)
            .set_resources_to_skip((!skip_resources.is_empty()).then(|| skip_resources.to_vec()))
            .client_request_token(token)
            .send()
            .await
            .map_err(|e| self.refused(&e))?;
        Ok(())
    }

    async fn delete_stack(&self, stack: &str, token: &str) -> PortResult<()> {
        self.client
            .delete_stack()
            .stack_name(stack)
            .client_request_token(token)
            .send()
            .await
            .map_err(|e| self.refused(&e))?;
        Ok(())
    }

    async fn stack_events(&self, stack: &str, page: Option<&str>) -> PortResult<EventPage> {
        let answer = self
            .client
            .describe_stack_events()
            .stack_name(stack)
            .set_next_token(page.map(str::to_owned))
            .send()
            .await
            .map_err(|e| self.refused(&e))?;
        Ok(EventPage {
            events: answer.stack_events().iter().map(event).collect(),
            next_page: answer.next_token().map(str::to_owned),
        })
    }

    async fn create_change_set(&self, request: &ChangeSetRequest) -> PortResult<ChangeSetCreated> {
        let stack = &request.stack;
        let (body, url) = template_fields(&stack.template);
        let kind = match request.change_set_type {
            stackfleet_core::stack::ChangeSetType::Create => ChangeSetType::Create,
            stackfleet_core::stack::ChangeSetType::Update => ChangeSetType::Update,
        };
        let answer = self
            .client
            .create_change_set()
            .stack_name(&stack.stack_name)
            .change_set_name(&request.change_set_name)
            .change_set_type(kind)
            .set_template_body(body)
            .set_template_url(url)
            .set_parameters(Some(parameters(stack)))
            .set_capabilities(Some(capabilities(stack)))
            .set_tags(Some(tags(stack)))
            .set_import_existing_resources(request.import_existing_resources.then_some(true))
            .client_token(&stack.token)
            .send()
            .await
            .map_err(|e| template_error(self.refused(&e)))?;
        // Never a name for the stack: its ID is what a cleanup may delete safely.
        let (Some(id), Some(stack_id)) = (answer.id(), answer.stack_id()) else {
            return Err(PortError::Transport(format!(
                "CreateChangeSet answered without the change set's or the stack's ID: {answer:?}"
            )));
        };
        Ok(ChangeSetCreated {
            id: id.to_owned(),
            stack_id: stack_id.to_owned(),
        })
    }

    async fn describe_change_set(&self, change_set_id: &str) -> PortResult<Option<ChangeSetDescription>> {
        let sent = self
            .client
            .describe_change_set()
            .change_set_name(change_set_id)
            .send()
            .await;
        let answer = match sent {
            Ok(answer) => answer,
            Err(error) => {
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_change_set_not_found_exception())
                {
                    return Ok(None);
                }
                // Some endpoints (moto) answer a missing change set as a stack that does not exist.
                if let Some((code, message)) = service_error(&error) {
                    if code == "ValidationError" && message.contains("does not exist") {
                        return Ok(None);
                    }
                }
                return Err(self.refused(&error));
            }
        };
        let changes = answer
            .changes()
            .iter()
            .filter_map(cfn::Change::resource_change)
            .map(|change| ResourceChange {
                action: change.action().map(|a| a.as_str().to_owned()).unwrap_or_default(),
                logical_id: change.logical_resource_id().unwrap_or_default().to_owned(),
                resource_type: change.resource_type().unwrap_or_default().to_owned(),
                replacement: change.replacement().map(|r| r.as_str().to_owned()),
            })
            .collect();
        Ok(Some(ChangeSetDescription {
            change_set_id: answer.change_set_id().unwrap_or(change_set_id).to_owned(),
            stack_id: answer.stack_id().map(str::to_owned),
            status: answer.status().map(|s| s.as_str().to_owned()).unwrap_or_default(),
            status_reason: answer.status_reason().map(str::to_owned),
            execution_status: answer.execution_status().map(|s| s.as_str().to_owned()),
            changes,
        }))
    }

    async fn execute_change_set(&self, change_set_id: &str, token: &str) -> PortResult<()> {
        let sent = self
            .client
            .execute_change_set()
            .change_set_name(change_set_id)
            .client_request_token(token)
            .send()
            .await;
        let Err(error) = sent else {
            return Ok(());
        };
        // The change set is gone or cannot run: named as the lifecycle knows them, whatever
        // code the endpoint sent along.
        use aws_sdk_cloudformation::operation::execute_change_set::ExecuteChangeSetError as E;
        let unavailable = match error.as_service_error() {
            Some(E::InvalidChangeSetStatusException(e)) => Some(("InvalidChangeSetStatus", e.message())),
            Some(E::ChangeSetNotFoundException(e)) => Some(("ChangeSetNotFound", e.message())),
            _ => None,
        };
        Err(match unavailable {
            Some((code, message)) => PortError::Rejected {
                code: code.into(),
                message: message.unwrap_or("no message").to_owned(),
            },
            None => self.refused(&error),
        })
    }

    async fn delete_change_set(&self, change_set_id: &str) -> PortResult<()> {
        self.client
            .delete_change_set()
            .change_set_name(change_set_id)
            .send()
            .await
            .map_err(|e| self.refused(&e))?;
        Ok(())
    }

    async fn change_set_failures(
        &self,
        change_set_id: &str,
        page: Option<&str>,
    ) -> PortResult<Page<ChangeSetEvent>> {
        let answer = self
            .client
            .describe_events()
            .change_set_name(change_set_id)
            .filters(cfn::EventFilter::builder().failed_events(true).build())
            .set_next_token(page.map(str::to_owned))
            .send()
            .await
            .map_err(|e| self.refused(&e))?;
        let items = answer
            .operation_events()
            .iter()
            .map(|event| ChangeSetEvent {
                logical_id: event.logical_resource_id().map(str::to_owned),
                resource_type: event.resource_type().map(str::to_owned),
                event_type: event.event_type().map(|t| t.as_str().to_owned()),
                reason: event
                    .validation_status_reason()
                    .or(event.hook_status_reason())
                    .or(event.resource_status_reason())
                    .map(str::to_owned),
            })
            .collect();
        Ok(Page {
            items,
            next_page: answer.next_token().map(str::to_owned),
        })
    }

    async fn stack_resources(&self, stack: &str) -> PortResult<Vec<StackResource>> {
        let answer = self
            .client
            .describe_stack_resources()
            .stack_name(stack)
            .send()
            .await
            .map_err(|e| self.refused(&e))?;
        Ok(answer
            .stack_resources()
            .iter()
            .map(|resource| StackResource {
                logical_id: resource.logical_resource_id().unwrap_or_default().to_owned(),
                resource_type: resource.resource_type().unwrap_or_default().to_owned(),
                physical_id: resource.physical_resource_id().map(str::to_owned),
            })
            .collect())
    }
}

impl NamedResources for CfnStacks {
    async fn named_resource_exists(&self, kind: NamedKind, name: &str) -> PortResult<bool> {
        match &self.iam {
            Some(iam) => iam.named_resource_exists(kind, name).await,
            None => Err(PortError::Transport(
                "this session has no IAM client: names are not looked up".into(),
            )),
        }
    }
}

impl ValidateTemplate for CfnStacks {
    async fn validate_template(&self, template: &TemplateSource) -> PortResult<ValidatedTemplate> {
        let (body, url) = template_fields(template);
        let answer = self
            .client
            .validate_template()
            .set_template_body(body)
            .set_template_url(url)
            .send()
            .await
            .map_err(|e| template_error(self.refused(&e)))?;
        Ok(ValidatedTemplate {
            no_echo: answer
                .parameters()
                .iter()
                .filter(|p| p.no_echo() == Some(true))
                .filter_map(|p| p.parameter_key().map(str::to_owned))
                .collect(),
        })
    }
}
