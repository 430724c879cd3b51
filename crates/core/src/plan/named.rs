//! The pre-flight's own check, for endpoints whose change sets carry no validation (emulators):
//! the IAM resources a template names (RoleName, ManagedPolicyName, UserName, GroupName,
//! InstanceProfileName) that the change set would add are looked up in the target, read-only. A
//! name taken by anything but this stack is a resource CloudFormation could not create.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::preflight::{Blocker, FoundBy};
use crate::ids::Target;
use crate::lifecycle::Job;
use crate::ports::{NamedResources, StackOperations};
use crate::spec::TemplateSource;
use crate::stack::{NamedKind, ResourceChange, StackResource};

/// A resource of the template whose name is fixed: a literal, or a parameter's value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct NamedResource {
    pub logical_id: String,
    pub resource_type: String,
    pub kind: NamedKind,
    /// The property that names it (RoleName, ...).
    pub property: &'static str,
    pub name: String,
    /// A managed policy's Path (`/` unless the template gives a literal one).
    pub path: String,
}

impl NamedResource {
    /// What IAM is asked about: the name, or for a managed policy its ARN in the target.
    pub fn lookup(&self, target: &Target) -> String {
        match self.kind {
            NamedKind::ManagedPolicy => format!(
                "arn:{}:iam::{}:policy{}{}",
                target.partition(),
                target.account,
                self.path,
                self.name
            ),
            _ => self.name.clone(),
        }
    }

    /// Whether the stack's resource is this one, already made: the same logical ID, and a
    /// physical ID (a name, or a managed policy's ARN) of this name. The same name under another
    /// logical ID is a conflict still: CloudFormation creates the new resource before it deletes
    /// the old one.
    fn is(&self, resource: &StackResource) -> bool {
        resource.logical_id == self.logical_id
            && resource
                .physical_id
                .as_deref()
                .is_some_and(|id| id == self.name || id.ends_with(&format!("/{}", self.name)))
    }
}

/// The template as JSON: a YAML body's short-form tags (`!Ref X`) become their long form
/// (`{"Ref": "X"}`, `{"Fn::Sub": ...}`). `None` for a body that is neither.
pub fn template_json(body: &str) -> Option<Value> {
    if let Ok(json) = serde_json::from_str::<Value>(body) {
        return Some(json);
    }
    serde_norway::from_str::<serde_norway::Value>(body)
        .ok()
        .map(yaml_to_json)
}

fn yaml_to_json(value: serde_norway::Value) -> Value {
    use serde_norway::Value as Y;
    match value {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => serde_json::from_str(&n.to_string()).unwrap_or(Value::String(n.to_string())),
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => Value::Array(items.into_iter().map(yaml_to_json).collect()),
        Y::Mapping(map) => Value::Object(
            map.into_iter()
                .filter_map(|(key, value)| match key {
                    Y::String(key) => Some((key, yaml_to_json(value))),
                    _ => None,
                })
                .collect(),
        ),
        Y::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let name = tag.trim_start_matches('!');
            let key = if name == "Ref" {
                "Ref".to_owned()
            } else {
                format!("Fn::{name}")
            };
            serde_json::json!({ key: yaml_to_json(tagged.value) })
        }
    }
}

/// The template's IAM resources with a name that can be known before CloudFormation resolves
/// anything: a literal string, or a `Ref` to a parameter that has a value here (`parameters`,
/// else its Default). Names built with Fn::Sub, Fn::Join and the like are not checked.
pub fn named_resources(template: &Value, parameters: &BTreeMap<String, String>) -> Vec<NamedResource> {
    let defaults: BTreeMap<&str, &str> = template
        .get("Parameters")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(name, declared)| Some((name.as_str(), declared.get("Default")?.as_str()?)))
        .collect();
    let resolve = |value: &Value| -> Option<String> {
        let name = match value {
            Value::String(literal) => literal.clone(),
            Value::Object(map) if map.len() == 1 => {
                let parameter = map.get("Ref")?.as_str()?;
                match parameters.get(parameter) {
                    Some(given) => given.clone(),
                    None => (*defaults.get(parameter)?).to_owned(),
                }
            }
            _ => return None,
        };
        // A secret reference is not a name anybody could look up.
        let plain = matches!(crate::secrets::SecretRef::parse(&name), Ok(None));
        (plain && !name.is_empty()).then_some(name)
    };
    let Some(resources) = template.get("Resources").and_then(Value::as_object) else {
        return Vec::new();
    };
    let mut named: Vec<NamedResource> = resources
        .iter()
        .filter_map(|(logical_id, resource)| {
            let resource_type = resource.get("Type")?.as_str()?;
            let (kind, property) = NamedKind::of_type(resource_type)?;
            let properties = resource.get("Properties")?;
            let name = resolve(properties.get(property)?)?;
            let path = properties
                .get("Path")
                .and_then(Value::as_str)
                .unwrap_or("/")
                .to_owned();
            Some(NamedResource {
                logical_id: logical_id.clone(),
                resource_type: resource_type.to_owned(),
                kind,
                property,
                name,
                path,
            })
        })
        .collect();
    named.sort();
    named
}

/// The named IAM resources the change set would add that already exist in the target, and not
/// as this stack's own (`stack`: the stack an update changes). A lookup that fails (no IAM
/// permission, say) checks nothing: the pre-flight never blocks on what it could not see.
pub(crate) async fn name_conflicts<S: StackOperations + NamedResources>(
    session: &S,
    job: &Job<'_>,
    stack: Option<&str>,
    changes: &[ResourceChange],
) -> Vec<Blocker> {
    let TemplateSource::Body(body) = &job.spec.template else {
        return Vec::new();
    };
    let Some(template) = template_json(body.as_str()) else {
        return Vec::new();
    };
    let parameters: BTreeMap<String, String> = job.spec.parameters_for(job.target).into_iter().collect();
    let added: BTreeSet<&str> = changes
        .iter()
        .filter(|c| c.action == "Add")
        .map(|c| c.logical_id.as_str())
        .collect();
    let candidates: Vec<NamedResource> = named_resources(&template, &parameters)
        .into_iter()
        .filter(|r| added.contains(r.logical_id.as_str()))
        .collect();
    if candidates.is_empty() {
        return Vec::new();
    }
    // Some endpoints (moto) list every resource of an update as Add: what the stack holds
    // already is not a conflict.
    let owned: Vec<StackResource> = match stack {
        Some(stack) => match session.stack_resources(stack).await {
            Ok(resources) => resources,
            Err(error) => {
                tracing::warn!(target = %job.target, %error, "pre-flight: cannot list the stack's resources; names not checked");
                return Vec::new();
            }
        },
        None => Vec::new(),
    };
    let mut blockers = Vec::new();
    for resource in candidates {
        if owned.iter().any(|held| resource.is(held)) {
            continue;
        }
        match session
            .named_resource_exists(resource.kind, &resource.lookup(job.target))
            .await
        {
            Ok(true) => blockers.push(Blocker {
                resource_type: Some(resource.resource_type.clone()),
                logical_id: Some(resource.logical_id.clone()),
                reason: format!(
                    "already exists in the account, outside this stack ({} {})",
                    resource.property, resource.name
                ),
                found_by: FoundBy::NameLookup,
            }),
            Ok(false) => {}
            Err(error) => {
                tracing::warn!(target = %job.target, %error, name = %resource.name, "pre-flight: cannot look the name up; not checked");
            }
        }
    }
    blockers
}

#[cfg(test)]
mod tests {
    use super::*;

    const YAML: &str = r#"
Parameters:
  ReadOnlyName:
    Type: String
    Default: FederatedReadOnly
  Unset:
    Type: String
Resources:
  ReadOnly:
    Type: AWS::IAM::Role
    Properties:
      RoleName: !Ref ReadOnlyName
  Admin:
    Type: AWS::IAM::Role
    Properties:
      RoleName: FederatedAdmin
  Computed:
    Type: AWS::IAM::Role
    Properties:
      RoleName: !Sub "${AWS::StackName}-role"
  NoValue:
    Type: AWS::IAM::User
    Properties:
      UserName: !Ref Unset
  Boundary:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      ManagedPolicyName: stackfleet-boundary
      Path: /guardrails/
  Unnamed:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument: {}
  Bucket:
    Type: AWS::S3::Bucket
    Properties:
      BucketName: not-iam
"#;

    #[test]
    fn literal_names_and_simple_refs_are_found_and_computed_names_are_not() {
        let template = template_json(YAML).unwrap();
        let given = BTreeMap::from([("ReadOnlyName".to_owned(), "PeopleReadOnly".to_owned())]);
        let named = named_resources(&template, &given);
        let found: Vec<(&str, &str)> = named
            .iter()
            .map(|r| (r.logical_id.as_str(), r.name.as_str()))
            .collect();
        assert_eq!(
            found,
            [
                ("Admin", "FederatedAdmin"),
                ("Boundary", "stackfleet-boundary"),
                ("ReadOnly", "PeopleReadOnly"),
            ]
        );
        // Without a value given, the parameter's Default names it.
        let by_default = named_resources(&template, &BTreeMap::new());
        assert!(by_default
            .iter()
            .any(|r| r.logical_id == "ReadOnly" && r.name == "FederatedReadOnly"));
    }

    #[test]
    fn a_managed_policy_is_looked_up_by_its_arn_in_the_targets_partition() {
        let template = template_json(YAML).unwrap();
        let policy = named_resources(&template, &BTreeMap::new())
            .into_iter()
            .find(|r| r.kind == NamedKind::ManagedPolicy)
            .unwrap();
        let target: Target = "111111111111:cn-north-1".parse().unwrap();
        assert_eq!(
            policy.lookup(&target),
            "arn:aws-cn:iam::111111111111:policy/guardrails/stackfleet-boundary"
        );
        let held = |logical_id: &str, physical_id: &str| StackResource {
            logical_id: logical_id.into(),
            resource_type: "AWS::IAM::ManagedPolicy".into(),
            physical_id: Some(physical_id.into()),
        };
        let arn = "arn:aws-cn:iam::111111111111:policy/guardrails/stackfleet-boundary";
        assert!(policy.is(&held("Boundary", arn)));
        assert!(!policy.is(&held("Boundary", "stackfleet-boundary-2")));
        // Renamed in the template: the old resource holds the name until the new one is made.
        assert!(!policy.is(&held("OldBoundary", arn)));
    }

    #[test]
    fn a_json_template_reads_the_same() {
        let json = r#"{"Resources":{"R":{"Type":"AWS::IAM::InstanceProfile",
            "Properties":{"InstanceProfileName":"ops","Roles":[]}}}}"#;
        let named = named_resources(&template_json(json).unwrap(), &BTreeMap::new());
        assert_eq!(named.len(), 1);
        assert_eq!(named[0].kind, NamedKind::InstanceProfile);
        assert_eq!(named[0].property, "InstanceProfileName");
    }
}
