//! The stored default spec is the policy. An execution input of the state machine is laid over
//! the default (`Rollout::over`), and may change only the fields the machine's allow-list names
//! (`inputFields` in the CDK app; by default where to deploy within the default's scope, how
//! fast, how much failure to tolerate, in which waves). Any other field that the input would
//! change is refused with its name, so that `states:StartExecution` on the machine is not a way
//! to deploy another template, other parameters or another role to every account.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use crate::document::Rollout;
use crate::spec::SpecError;

/// What an execution input may change when the deployment does not say otherwise.
pub const DEFAULT_INPUT_FIELDS: [&str; 4] = ["targets", "concurrency", "failureTolerance", "waves"];

/// Fields any input may carry. `resume` names the run to resume, whose targets are checked
/// against the default's scope again; `alarms` only adds gates (`Rollout::over` never drops
/// one); `mode: plan` adds a person's approval before anything changes, and
/// `approvalTimeoutSeconds` says how long it waits; `$schema` is ignored.
pub const ALWAYS_ACCEPTED: [&str; 5] = ["$schema", "resume", "alarms", "mode", "approvalTimeoutSeconds"];

/// Map fields whose entries may be allowed one by one: `parameters.NAME`.
const PER_KEY_FIELDS: [&str; 1] = ["parameters"];
/// Map fields whose changed entries a refusal names one by one (`tags.team`).
const MAP_FIELDS: [&str; 3] = ["parameters", "parameterOverrides", "tags"];

/// The fields an execution input may change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputPolicy {
    fields: BTreeSet<String>,
    /// `*`: every field, the targets unbounded. StartExecution on such a machine is as
    /// powerful as its deploy role in every account.
    everything: bool,
}

impl Default for InputPolicy {
    fn default() -> Self {
        Self {
            fields: DEFAULT_INPUT_FIELDS.iter().map(|f| (*f).to_owned()).collect(),
            everything: false,
        }
    }
}

/// The rollout document's top-level fields, as its JSON Schema names them.
fn document_fields() -> BTreeSet<String> {
    let schema = schemars::schema_for!(Rollout);
    schema
        .as_value()
        .get("properties")
        .and_then(Value::as_object)
        .map(|properties| properties.keys().cloned().collect())
        .unwrap_or_default()
}

impl InputPolicy {
    /// A policy from a list of fields, separated by spaces or commas (the Lambda's
    /// `STACKFLEET_INPUT_FIELDS`). An empty list accepts no change at all. Each entry is a
    /// top-level field of the document or `parameters.NAME`; `*` alone accepts every change.
    pub fn parse(text: &str) -> Result<Self, SpecError> {
        if text.trim() == "*" {
            return Ok(Self::everything());
        }
        let known = document_fields();
        let mut fields = BTreeSet::new();
        for entry in text.split([' ', ',', '\n', '\t']).filter(|e| !e.is_empty()) {
            let ok = match entry.split_once('.') {
                Some((map, key)) => PER_KEY_FIELDS.contains(&map) && !key.is_empty(),
                None => known.contains(entry),
            };
            if !ok {
                return Err(SpecError::Invalid(format!(
                    "input field {entry:?} is not a field of the rollout document: name top-level \
                     fields ({}) or parameters.NAME",
                    known.into_iter().collect::<Vec<_>>().join(", ")
                )));
            }
            fields.insert(entry.to_owned());
        }
        Ok(Self {
            fields,
            everything: false,
        })
    }

    /// Every field may change, and the targets are not bounded by the default's.
    pub fn everything() -> Self {
        Self {
            fields: document_fields(),
            everything: true,
        }
    }

    /// Whether an input's targets must stay within the default spec's.
    pub fn bounds_targets(&self) -> bool {
        !self.everything
    }

    /// Whether an input may change `path` (`field` or `map.key`).
    pub fn accepts(&self, path: &str) -> bool {
        let field = path.split_once('.').map_or(path, |(field, _)| field);
        self.everything
            || ALWAYS_ACCEPTED.contains(&field)
            || self.fields.contains(field)
            || self.fields.contains(path)
    }

    /// The accepted fields, for messages: `targets, concurrency, ...`.
    pub fn describe(&self) -> String {
        if self.everything {
            "every field (*)".to_owned()
        } else if self.fields.is_empty() {
            "none".to_owned()
        } else {
            self.fields.iter().cloned().collect::<Vec<_>>().join(", ")
        }
    }

    /// The paths (`field`, or `map.key` for a map field) where `merged`, an input laid over
    /// `default`, differs from the default and this policy does not accept the change.
    pub fn refused(&self, default: &Rollout, merged: &Rollout) -> Vec<String> {
        // The default over nothing: the same normal form as `merged` (no `$schema`, merged maps).
        let baseline = as_object(&Rollout::default().over(default.clone()));
        let merged = as_object(merged);
        let keys: BTreeSet<&String> = baseline.keys().chain(merged.keys()).collect();
        let mut refused = Vec::new();
        for key in keys {
            let (before, after) = (baseline.get(key), merged.get(key));
            if before == after || self.accepts(key) {
                continue;
            }
            match (
                before.and_then(Value::as_object),
                after.and_then(Value::as_object),
            ) {
                // A map: name the entries that changed, so that one may be allowed alone.
                (before_map, after_map) if MAP_FIELDS.contains(&key.as_str()) => {
                    let empty = Map::new();
                    let (before_map, after_map) = (before_map.unwrap_or(&empty), after_map.unwrap_or(&empty));
                    let entries: BTreeSet<&String> = before_map.keys().chain(after_map.keys()).collect();
                    for entry in entries {
                        let path = format!("{key}.{entry}");
                        if before_map.get(entry) != after_map.get(entry) && !self.accepts(&path) {
                            refused.push(path);
                        }
                    }
                }
                _ => refused.push(key.clone()),
            }
        }
        // A secret reference names what the worker's role reads: an input that may change a
        // parameter still may not point it at another secret (whose value would then reach
        // the stacks). Only the stored default spec names references.
        if !self.everything {
            let reference = |value: &Value| value.as_str().is_some_and(|v| v.contains("{{resolve:"));
            for field in ["parameters", "parameterOverrides"] {
                let before: Map<String, Value> = leaves(field, baseline.get(field))
                    .into_iter()
                    .map(|(path, value)| (path, value.clone()))
                    .collect();
                for (path, value) in leaves(field, merged.get(field)) {
                    if reference(value) && before.get(&path) != Some(value) && !refused.contains(&path) {
                        refused.push(path);
                    }
                }
            }
        }
        refused
    }

    /// `refused`, as the error an execution input gets.
    pub fn check(&self, default: &Rollout, merged: &Rollout) -> Result<(), SpecError> {
        let refused = self.refused(default, merged);
        if refused.is_empty() {
            return Ok(());
        }
        Err(SpecError::Invalid(format!(
            "the execution input may not change {}: this state machine takes it from its stored \
             default spec. It accepts changes to: {} (its inputFields), and resume, alarms, mode and approvalTimeoutSeconds. \
             Remove the field from the input, or change the default spec (a cdk deploy)",
            refused.join(", "),
            self.describe()
        )))
    }
}

/// The string leaves under a map field, by path (`parameters.K`, `parameterOverrides.ACCOUNT.K`).
fn leaves<'a>(field: &str, value: Option<&'a Value>) -> Vec<(String, &'a Value)> {
    let mut found = Vec::new();
    let mut stack: Vec<(String, &Value)> = value.map(|v| (field.to_owned(), v)).into_iter().collect();
    while let Some((path, value)) = stack.pop() {
        match value.as_object() {
            Some(map) => stack.extend(map.iter().map(|(k, v)| (format!("{path}.{k}"), v))),
            None => found.push((path, value)),
        }
    }
    found
}

fn as_object(document: &Rollout) -> Map<String, Value> {
    match serde_json::to_value(document) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEFAULT: &str = r#"{
        "stackName": "org-federation",
        "template": {"url": "https://templates.s3.us-east-1.amazonaws.com/federation.yaml"},
        "parameters": {"IdentityProviderName": "corporate-idp", "SamlMetadataDocument": "<xml/>"},
        "capabilities": ["CAPABILITY_NAMED_IAM"],
        "deployRole": {"name": "stackfleet-deploy", "externalId": "x-1"},
        "targets": {"ous": ["ou-ab12-prod0001"], "regions": ["us-east-1"]},
        "failureTolerance": 0
    }"#;

    fn laid_over(input: &str) -> (Rollout, Rollout) {
        let default = Rollout::parse(DEFAULT).unwrap();
        (default.clone(), Rollout::parse(input).unwrap().over(default))
    }

    #[test]
    fn the_default_fields_are_accepted() {
        let (default, merged) = laid_over(
            r#"{"targets": {"accounts": ["111111111111"]}, "concurrency": 5,
                "failureTolerance": "5%", "waves": [{"count": 1}], "alarms": ["a"], "resume": "run-1"}"#,
        );
        assert_eq!(
            InputPolicy::default().refused(&default, &merged),
            Vec::<String>::new()
        );
    }

    #[test]
    fn any_other_change_is_refused_by_name() {
        let (default, merged) = laid_over(
            r#"{"template": {"body": "Resources: {}"}, "parameters": {"SamlMetadataDocument": "<evil/>"},
                "deployRole": {"name": "OrganizationAccountAccessRole"}, "tags": {"team": "x"}}"#,
        );
        let policy = InputPolicy::default();
        assert_eq!(
            policy.refused(&default, &merged),
            [
                "deployRole",
                "parameters.SamlMetadataDocument",
                "tags.team",
                "template"
            ]
        );
        let message = policy.check(&default, &merged).unwrap_err().to_string();
        assert!(
            message.contains("may not change deployRole, parameters.SamlMetadataDocument"),
            "{message}"
        );
        assert!(
            message.contains("accepts changes to: concurrency, failureTolerance, targets, waves"),
            "{message}"
        );
    }

    #[test]
    fn a_field_equal_to_the_default_is_no_change() {
        // A resume input is the run's whole document: what it repeats of the default passes.
        let (default, merged) = laid_over(DEFAULT);
        assert!(InputPolicy::default().check(&default, &merged).is_ok());
        let (default, merged) = laid_over(
            r#"{"$schema": "x", "parameters": {"IdentityProviderName": "corporate-idp"},
                "deployRole": {"name": "stackfleet-deploy"}}"#,
        );
        assert!(
            InputPolicy::default().check(&default, &merged).is_ok(),
            "the same role named again keeps its external ID: no change"
        );
    }

    #[test]
    fn one_parameter_may_be_allowed_alone() {
        let policy = InputPolicy::parse("targets parameters.IdentityProviderName").unwrap();
        let (default, merged) = laid_over(r#"{"parameters": {"IdentityProviderName": "other"}}"#);
        assert!(policy.check(&default, &merged).is_ok());
        let (default, merged) = laid_over(r#"{"parameters": {"SamlMetadataDocument": "<evil/>"}}"#);
        assert_eq!(
            policy.refused(&default, &merged),
            ["parameters.SamlMetadataDocument"]
        );
        let (default, merged) = laid_over(r#"{"concurrency": 3}"#);
        assert_eq!(
            policy.refused(&default, &merged),
            ["concurrency"],
            "not in this list"
        );
    }

    #[test]
    fn an_allowed_parameter_may_not_be_pointed_at_another_secret() {
        let policy = InputPolicy::parse("parameters.IdentityProviderName parameterOverrides").unwrap();
        let (default, merged) = laid_over(
            r#"{"parameters": {"IdentityProviderName": "{{resolve:secretsmanager:stackfleet/other-team}}"},
                "parameterOverrides": {"111111111111": {"IdentityProviderName": "{{resolve:ssm-secure:/stackfleet/x}}"}}}"#,
        );
        assert_eq!(
            policy.refused(&default, &merged),
            [
                "parameters.IdentityProviderName",
                "parameterOverrides.111111111111.IdentityProviderName"
            ]
        );
        let (default, merged) = laid_over(r#"{"parameters": {"IdentityProviderName": "plain-idp"}}"#);
        assert!(
            policy.check(&default, &merged).is_ok(),
            "a plain value, as allowed"
        );
    }

    #[test]
    fn an_empty_list_accepts_no_change_and_unknown_entries_are_refused() {
        let locked = InputPolicy::parse("").unwrap();
        let (default, merged) = laid_over(r#"{"concurrency": 3}"#);
        assert_eq!(locked.refused(&default, &merged), ["concurrency"]);
        assert_eq!(locked.describe(), "none");
        for bad in ["targts", "parameters.", "tags.team", "targets.accounts"] {
            let error = InputPolicy::parse(bad).unwrap_err().to_string();
            assert!(
                error.contains(bad) && error.contains("stackName"),
                "{bad}: {error}"
            );
        }
        assert_eq!(
            InputPolicy::parse("targets, concurrency,failureTolerance waves").unwrap(),
            InputPolicy::default()
        );
        let open = InputPolicy::parse("*").unwrap();
        let (default, merged) = laid_over(
            r#"{"template": {"url": "https://x.s3.amazonaws.com/t"}, "deployRole": {"name": "r"}}"#,
        );
        assert!(open.check(&default, &merged).is_ok());
        assert!(!open.bounds_targets() && InputPolicy::default().bounds_targets());
    }
}
