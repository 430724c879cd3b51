//! The fake's CloudFormation: stacks whose operations run on tokio's clock.

use serde_json::Value;
use stackfleet_core::ids::Target;
use stackfleet_core::ports::{PortError, PortResult, StackOperations};
use stackfleet_core::spec::TemplateSource;
use stackfleet_core::stack::{
    ChangeSetCreated, ChangeSetDescription, ChangeSetRequest, ChangeSetType, EventPage, ResourceChange,
    StackDescription, StackEvent, StackRequest, StackStatus, UpdateStarted,
};
use tokio::time::Instant;

use super::change_sets::{change_set_not_found, FakeChangeSet};
use super::{outputs, Call, FakeCloud, FakeStack, OpKind, World};

/// Events per DescribeStackEvents page, small so that paging is exercised.
const EVENTS_PER_PAGE: usize = 8;

fn template_text(template: &TemplateSource) -> String {
    match template {
        TemplateSource::Body(body) => body.as_str().to_owned(),
        TemplateSource::Url(url) => url.as_str().to_owned(),
    }
}

/// A session in one target, as `FakeCloud::assume` hands out.
#[derive(Debug, Clone)]
pub struct FakeSession {
    cloud: FakeCloud,
    target: Target,
}

impl FakeSession {
    pub(crate) fn new(cloud: FakeCloud, target: Target) -> Self {
        Self { cloud, target }
    }

    /// Runs `f` on the world after recording `call` and raising any fault injected for it.
    /// Yields first, as a network call would, so that concurrent callers interleave.
    pub(crate) async fn with<T>(
        &self,
        call: Call,
        f: impl FnOnce(&mut World, &Target) -> PortResult<T>,
    ) -> PortResult<T> {
        tokio::task::yield_now().await;
        let answer = {
            let mut world = self.cloud.world();
            world.call(Some(&self.target), call)?;
            let answer = f(&mut world, &self.target);
            match world.lost_answer(&self.target, call) {
                Some(lost) if answer.is_ok() => Err(lost),
                _ => answer,
            }
        };
        self.cloud.run_hook(&self.target, call);
        answer
    }
}

/// Finds a stack by name or stack ID, settled to the present.
fn find<'w>(world: &'w mut World, target: &Target, stack: &str) -> Option<&'w mut FakeStack> {
    // Only this target's stacks are looked through: a fleet of thousands stays cheap to fake.
    let live = world
        .stacks
        .range_mut((target.clone(), String::new())..)
        .take_while(|((t, _), _)| t == target)
        .find(|((_, name), found)| name == stack || found.stack_id == stack);
    match live {
        Some((_, found)) => {
            found.settle(Instant::now());
            Some(found)
        }
        None => world.deleted.get_mut(stack),
    }
}

/// Moves a stack whose delete finished out of the live set, readable by ID only.
fn retire_if_deleted(world: &mut World, target: &Target, name: &str) {
    let key = (target.clone(), name.to_owned());
    if world
        .stacks
        .get(&key)
        .is_some_and(|s| s.status == StackStatus::DeleteComplete)
    {
        let stack = world.stacks.remove(&key).expect("checked above");
        world.deleted.insert(stack.stack_id.clone(), stack);
    }
}

pub(crate) fn not_found(stack: &str) -> PortError {
    PortError::Rejected {
        code: "ValidationError".into(),
        message: format!("Stack with id {stack} does not exist"),
    }
}

fn busy(stack: &FakeStack) -> PortError {
    PortError::StackBusy(format!(
        "Stack:{} is in {} state and can not be updated.",
        stack.stack_id, stack.status
    ))
}

/// Resource changes between two JSON templates, by logical ID; templates the fake cannot read
/// count as one changed resource.
fn diff_templates(old: &str, new: &str) -> Vec<ResourceChange> {
    let resources = |text: &str| -> Option<serde_json::Map<String, Value>> {
        serde_json::from_str::<Value>(text)
            .ok()?
            .get("Resources")?
            .as_object()
            .cloned()
    };
    let change = |action: &str, id: &str, body: Option<&Value>, replacement: Option<&str>| ResourceChange {
        action: action.into(),
        logical_id: id.into(),
        resource_type: body
            .and_then(|b| b.get("Type"))
            .and_then(Value::as_str)
            .unwrap_or("Unknown")
            .into(),
        replacement: replacement.map(Into::into),
    };
    let (Some(old), Some(new)) = (resources(old), resources(new)) else {
        return vec![change("Modify", "Template", None, Some("False"))];
    };
    let mut changes = Vec::new();
    for (id, body) in &new {
        match old.get(id) {
            None => changes.push(change("Add", id, Some(body), None)),
            Some(before) if before != body => changes.push(change("Modify", id, Some(body), Some("False"))),
            Some(_) => {}
        }
    }
    for (id, body) in &old {
        if !new.contains_key(id) {
            changes.push(change("Remove", id, Some(body), None));
        }
    }
    changes
}

impl StackOperations for FakeSession {
    async fn describe_stack(&self, stack: &str) -> PortResult<Option<StackDescription>> {
        self.with(Call::DescribeStacks, |world, target| {
            let found = find(world, target, stack).map(|s| (s.description(), s.name.clone()));
            let found = found.map(|(mut description, name)| {
                description.outputs = outputs::of(&world.outputs, target, &name, &description.status);
                description
            });
            if let Some(description) = &found {
                if description.status == StackStatus::DeleteComplete {
                    let name = world
                        .stacks
                        .iter()
                        .find(|(_, s)| s.stack_id == description.stack_id)
                        .map(|((_, name), _)| name.clone());
                    if let Some(name) = name {
                        retire_if_deleted(world, target, &name);
                    }
                    // By name a deleted stack does not exist; by ID it reads DELETE_COMPLETE.
                    if !stack.starts_with("arn:") {
                        return Ok(None);
                    }
                }
            }
            Ok(found)
        })
        .await
    }

    async fn create_stack(&self, request: &StackRequest) -> PortResult<String> {
        self.with(Call::CreateStack, |world, target| {
            let name = request.stack_name.clone();
            if let Some(existing) = find(world, target, &name) {
                if existing.status != StackStatus::DeleteComplete {
                    // CloudFormation's idempotency: the same token is the same request.
                    if existing.creation_token.as_deref() == Some(request.token.as_str()) {
                        return Ok(existing.stack_id.clone());
                    }
                    return Err(PortError::AlreadyExists(format!("Stack [{name}] already exists")));
                }
                retire_if_deleted(world, target, &name);
            }
            let script = world.next_script(target);
            let id = world.fresh_id();
            let mut stack = FakeStack::new(
                target,
                &name,
                id,
                StackStatus::CreateInProgress,
                template_text(&request.template),
                request.parameters.clone(),
            );
            stack.creation_token = Some(request.token.clone());
            stack.tags = request.tags.clone();
            stack.begin(OpKind::Create, request.token.clone(), script.duration, script.end);
            world.operations.push((target.clone(), Call::CreateStack));
            let stack_id = stack.stack_id.clone();
            world.stacks.insert((target.clone(), name), stack);
            Ok(stack_id)
        })
        .await
    }

    async fn update_stack(&self, request: &StackRequest) -> PortResult<UpdateStarted> {
        self.with(Call::UpdateStack, |world, target| {
            let Some(stack) = find(world, target, &request.stack_name) else {
                return Err(not_found(&request.stack_name));
            };
            if let Some(running) = &stack.running {
                if running.token == request.token {
                    return Ok(UpdateStarted::Started {
                        stack_id: stack.stack_id.clone(),
                    });
                }
                return Err(busy(stack));
            }
            let template = template_text(&request.template);
            // New tags alone are an update, as in CloudFormation: they reach every resource.
            if stack.template == template
                && stack.parameters == request.parameters
                && stack.tags == request.tags
            {
                return Ok(UpdateStarted::NoChanges);
            }
            stack.template = template;
            stack.parameters = request.parameters.clone();
            stack.tags = request.tags.clone();
            let stack_id = stack.stack_id.clone();
            let script = world.next_script(target);
            let stamp = world.stamp();
            let stack = find(world, target, &request.stack_name).expect("found above");
            stack.updated_ms = Some(stamp);
            stack.begin(OpKind::Update, request.token.clone(), script.duration, script.end);
            world.operations.push((target.clone(), Call::UpdateStack));
            Ok(UpdateStarted::Started { stack_id })
        })
        .await
    }

    async fn continue_update_rollback(&self, stack: &str, _skip: &[String], token: &str) -> PortResult<()> {
        self.begin_operation(
            Call::ContinueUpdateRollback,
            OpKind::ContinueRollback,
            stack,
            token,
        )
        .await
    }

    async fn delete_stack(&self, stack: &str, token: &str) -> PortResult<()> {
        self.begin_operation(Call::DeleteStack, OpKind::Delete, stack, token)
            .await
    }

    async fn stack_events(&self, stack: &str, page: Option<&str>) -> PortResult<EventPage> {
        self.with(Call::DescribeStackEvents, |world, target| {
            let found = find(world, target, stack).ok_or_else(|| not_found(stack))?;
            let skip: usize = page.and_then(|p| p.parse().ok()).unwrap_or(0);
            let newest_first: Vec<StackEvent> = found.events.iter().rev().skip(skip).cloned().collect();
            let more = newest_first.len() > EVENTS_PER_PAGE;
            Ok(EventPage {
                events: newest_first.into_iter().take(EVENTS_PER_PAGE).collect(),
                next_page: more.then(|| (skip + EVENTS_PER_PAGE).to_string()),
            })
        })
        .await
    }

    async fn create_change_set(&self, request: &ChangeSetRequest) -> PortResult<ChangeSetCreated> {
        self.with(Call::CreateChangeSet, |world, target| {
            let name = &request.stack.stack_name;
            let existing = find(world, target, name)
                .filter(|s| s.status != StackStatus::DeleteComplete)
                .map(|s| (s.stack_id.clone(), s.status.clone(), s.template.clone()));
            let (stack_id, old) = match (request.change_set_type, existing) {
                (ChangeSetType::Update, None) => return Err(not_found(name)),
                (ChangeSetType::Update, Some((id, _, template))) => (id, template),
                // As CloudFormation: a CREATE change set may be made again for the empty stack
                // an earlier one made.
                (ChangeSetType::Create, Some((id, StackStatus::ReviewInProgress, template))) => {
                    (id, template)
                }
                (ChangeSetType::Create, Some(_)) => {
                    return Err(PortError::AlreadyExists(format!("Stack [{name}] already exists")))
                }
                // A CREATE change set makes the stack, empty, in REVIEW_IN_PROGRESS.
                (ChangeSetType::Create, None) => {
                    retire_if_deleted(world, target, name);
                    let id = world.fresh_id();
                    let empty = r#"{"Resources":{}}"#.to_owned();
                    let mut stack = FakeStack::new(
                        target,
                        name,
                        id,
                        StackStatus::ReviewInProgress,
                        empty.clone(),
                        Vec::new(),
                    );
                    stack.tags = request.stack.tags.clone();
                    stack.push_event(
                        name,
                        "AWS::CloudFormation::Stack",
                        "REVIEW_IN_PROGRESS",
                        Some("User Initiated"),
                        None,
                    );
                    let stack_id = stack.stack_id.clone();
                    world.stacks.insert((target.clone(), name.clone()), stack);
                    (stack_id, empty)
                }
            };
            let template = template_text(&request.stack.template);
            // As some emulators do (moto, some versions): an update lists every resource as Add.
            let old = if world.every_resource_added {
                r#"{"Resources":{}}"#.to_owned()
            } else {
                old
            };
            let mut changes = diff_templates(&old, &template);
            let import = if request.import_existing_resources
                && request.change_set_type == ChangeSetType::Create
            {
                super::iam::import_existing(world, target, &template, &request.stack.parameters, &mut changes)
            } else {
                Ok(())
            };
            let id = format!(
                "arn:aws:cloudformation:{}:{}:changeSet/{}/fake-{}",
                target.region,
                target.account,
                request.change_set_name,
                world.fresh_id()
            );
            let mut change_set = FakeChangeSet::new(target, request, stack_id.clone(), changes, template);
            let refusal = match import {
                Err(refusal) => Some(refusal),
                Ok(()) => world.refusals.get_mut(target).and_then(|r| r.pop_front()),
            };
            if let Some(refusal) = refusal {
                change_set.execution_status = "UNAVAILABLE";
                change_set.refused = Some(refusal);
            }
            world.change_sets.insert(id.clone(), change_set);
            Ok(ChangeSetCreated { id, stack_id })
        })
        .await
    }

    async fn describe_change_set(&self, change_set_id: &str) -> PortResult<Option<ChangeSetDescription>> {
        self.with(Call::DescribeChangeSet, |world, target| {
            Ok(world
                .change_sets
                .get(change_set_id)
                .filter(|c| &c.target == target)
                .map(|c| c.description(change_set_id)))
        })
        .await
    }

    async fn delete_change_set(&self, change_set_id: &str) -> PortResult<()> {
        self.with(Call::DeleteChangeSet, |world, _| {
            world
                .change_sets
                .remove(change_set_id)
                .map(|_| ())
                .ok_or_else(|| change_set_not_found(change_set_id))
        })
        .await
    }

    async fn execute_change_set(&self, change_set_id: &str, token: &str) -> PortResult<()> {
        self.with(Call::ExecuteChangeSet, |world, target| {
            world.execute_change_set(target, change_set_id, token)
        })
        .await
    }

    async fn change_set_failures(
        &self,
        change_set_id: &str,
        page: Option<&str>,
    ) -> PortResult<stackfleet_core::ports::Page<stackfleet_core::stack::ChangeSetEvent>> {
        self.failures_of(change_set_id, page).await
    }

    async fn stack_resources(&self, stack: &str) -> PortResult<Vec<stackfleet_core::stack::StackResource>> {
        self.resources_of_stack(stack).await
    }
}

impl FakeSession {
    async fn begin_operation(&self, call: Call, kind: OpKind, stack: &str, token: &str) -> PortResult<()> {
        self.with(call, |world, target| {
            let found = find(world, target, stack).ok_or_else(|| not_found(stack))?;
            if let Some(running) = &found.running {
                return if running.token == token {
                    Ok(())
                } else {
                    Err(busy(found))
                };
            }
            // An empty stack (a CREATE change set's) goes at once, as in CloudFormation, and
            // takes no scripted operation.
            if kind == OpKind::Delete && found.status == StackStatus::ReviewInProgress {
                let name = found.name.clone();
                found.push_event(
                    &name,
                    "AWS::CloudFormation::Stack",
                    "DELETE_COMPLETE",
                    None,
                    Some(token),
                );
                found.status = StackStatus::DeleteComplete;
                world.operations.push((target.clone(), call));
                return Ok(());
            }
            let script = world.next_script(target);
            let stamp = world.stamp();
            let found = find(world, target, stack).expect("found above");
            if kind == OpKind::ContinueRollback {
                found.updated_ms = Some(stamp);
            }
            found.begin(kind, token.to_owned(), script.duration, script.end);
            world.operations.push((target.clone(), call));
            Ok(())
        })
        .await
    }
}
