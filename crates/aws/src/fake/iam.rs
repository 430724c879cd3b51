//! The fake's pre-flight side: IAM names in each account (made by hand, or by a stack's
//! template), looked up read-only; a stack's resources with their physical IDs; and change sets
//! that CloudFormation's early validation refuses, with the failed events DescribeEvents gives.

use std::collections::BTreeMap;

use stackfleet_core::ids::{AccountId, Target};
use stackfleet_core::plan::{named_resources, template_json};
use stackfleet_core::ports::{NamedResources, Page, PortResult};
use stackfleet_core::stack::{ChangeSetEvent, NamedKind, StackResource, StackStatus};

use super::stacks::FakeSession;
use super::{Call, FakeCloud, FakeStack, World};

/// A change set refused by validation: its status reason, and its failed events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status_reason: String,
    pub events: Vec<ChangeSetEvent>,
}

impl Refusal {
    /// As CloudFormation's early validation refuses a name that is taken.
    pub fn name_taken(resource_type: &str, logical_id: &str, name: &str) -> Self {
        Self {
            status_reason: "The following hook(s)/validation failed: [AWS::EarlyValidation::ResourceExistenceCheck]. \
                            To troubleshoot Early Validation errors, use the DescribeEvents API for detailed failure information."
                .into(),
            events: vec![ChangeSetEvent {
                logical_id: Some(logical_id.into()),
                resource_type: Some(resource_type.into()),
                event_type: Some("VALIDATION_ERROR".into()),
                reason: Some(format!(
                    "Resource of type '{resource_type}' with identifier '{name}' already exists."
                )),
            }],
        }
    }
}

/// The resources of a stack as its template and parameters make them: a named IAM resource's
/// physical ID is its name (a managed policy's, its ARN), any other's made up.
pub(crate) fn resources_of(stack: &FakeStack, target: &Target) -> Vec<StackResource> {
    let Some(template) = template_json(&stack.template) else {
        return Vec::new();
    };
    let parameters: BTreeMap<String, String> = stack.parameters.iter().cloned().collect();
    let named = named_resources(&template, &parameters);
    let Some(resources) = template.get("Resources").and_then(|r| r.as_object()) else {
        return Vec::new();
    };
    resources
        .iter()
        .map(|(logical_id, body)| StackResource {
            logical_id: logical_id.clone(),
            resource_type: body
                .get("Type")
                .and_then(|t| t.as_str())
                .unwrap_or("Unknown")
                .to_owned(),
            physical_id: Some(named.iter().find(|n| &n.logical_id == logical_id).map_or_else(
                || format!("{}-{logical_id}-fake", stack.name),
                |n| n.lookup(target),
            )),
        })
        .collect()
}

/// A stack whose resources exist in the account.
fn holds_resources(stack: &FakeStack) -> bool {
    !matches!(
        stack.status,
        StackStatus::ReviewInProgress | StackStatus::DeleteComplete | StackStatus::RollbackComplete
    )
}

impl World {
    fn name_taken(&self, target: &Target, kind: NamedKind, name: &str) -> bool {
        if self
            .iam_names
            .contains(&(target.account.clone(), kind, name.to_owned()))
        {
            return true;
        }
        // IAM is global: a stack in any region of the account holds its names.
        self.stacks
            .iter()
            .filter(|((t, _), stack)| t.account == target.account && holds_resources(stack))
            .flat_map(|((t, _), stack)| resources_of(stack, t))
            .any(|r| {
                NamedKind::of_type(&r.resource_type).is_some_and(|(k, _)| k == kind)
                    && r.physical_id.as_deref() == Some(name)
            })
    }
}

impl FakeCloud {
    /// Somebody made an IAM resource by hand in the account (a role of the name a template
    /// fixes, say). For a managed policy, `name` is its ARN.
    pub fn put_iam_resource(&self, account: &AccountId, kind: NamedKind, name: &str) {
        self.world()
            .iam_names
            .insert((account.clone(), kind, name.to_owned()));
    }

    /// Change sets list every resource of the template as Add, an update's too, as some
    /// emulators (moto) do.
    pub fn list_every_resource_as_added(&self) {
        self.world().every_resource_added = true;
    }

    /// CloudFormation's early validation refuses the next change set made in `target`, as real
    /// CloudFormation does (the fake otherwise behaves as an emulator that validates nothing).
    pub fn refuse_next_change_set(&self, target: &Target, refusal: Refusal) {
        self.world()
            .refusals
            .entry(target.clone())
            .or_default()
            .push_back(refusal);
    }
}

impl FakeSession {
    pub(crate) async fn failures_of(
        &self,
        change_set_id: &str,
        page: Option<&str>,
    ) -> PortResult<Page<ChangeSetEvent>> {
        let _ = page;
        self.with(Call::DescribeEvents, |world, target| {
            let events = world
                .change_sets
                .get(change_set_id)
                .filter(|c| &c.target == target)
                .and_then(|c| c.refused.as_ref())
                .map(|r| r.events.clone())
                .unwrap_or_default();
            Ok(Page {
                items: events,
                next_page: None,
            })
        })
        .await
    }

    pub(crate) async fn resources_of_stack(&self, stack: &str) -> PortResult<Vec<StackResource>> {
        self.with(Call::DescribeStackResources, |world, target| {
            let found = world
                .stacks
                .iter()
                .find(|((t, name), s)| t == target && (name == stack || s.stack_id == stack))
                .map(|(_, s)| s)
                .ok_or_else(|| super::stacks::not_found(stack))?;
            Ok(if holds_resources(found) {
                resources_of(found, target)
            } else {
                Vec::new()
            })
        })
        .await
    }
}

impl NamedResources for FakeSession {
    async fn named_resource_exists(&self, kind: NamedKind, name: &str) -> PortResult<bool> {
        self.with(Call::GetIamResource, |world, target| {
            Ok(world.name_taken(target, kind, name))
        })
        .await
    }
}

/// A CREATE change set made with ImportExistingResources: each named IAM resource of the
/// template that exists already in the account is imported (its change becomes Import) when the
/// template keeps it with `DeletionPolicy: Retain`; one that lacks it refuses the change set, as
/// CloudFormation does.
pub(crate) fn import_existing(
    world: &World,
    target: &Target,
    template: &str,
    parameters: &[(String, String)],
    changes: &mut [stackfleet_core::stack::ResourceChange],
) -> Result<(), Refusal> {
    let Some(body) = template_json(template) else {
        return Ok(());
    };
    let parameters: BTreeMap<String, String> = parameters.iter().cloned().collect();
    for named in named_resources(&body, &parameters) {
        let exists = world
            .iam_names
            .contains(&(target.account.clone(), named.kind, named.name.clone()));
        if !exists {
            continue;
        }
        let retained = body
            .pointer(&format!("/Resources/{}/DeletionPolicy", named.logical_id))
            .and_then(|policy| policy.as_str())
            == Some("Retain");
        if !retained {
            return Err(Refusal {
                status_reason: format!(
                    "Resource {} of type {} with identifier {} already exists and cannot be imported: \
                     resources to import must have a DeletionPolicy of Retain",
                    named.logical_id, named.resource_type, named.name
                ),
                events: Vec::new(),
            });
        }
        for change in changes.iter_mut().filter(|c| c.logical_id == named.logical_id) {
            change.action = "Import".into();
        }
    }
    Ok(())
}
