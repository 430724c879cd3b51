//! Secrets in stack parameters. A parameter value may be a reference to an SSM SecureString or a
//! Secrets Manager secret (`reference`): stackfleet resolves it in the caller's account right
//! before it calls CloudFormation, and the plaintext lives in memory only. A parameter the
//! template declares `NoEcho` is never written out in plaintext: the state machine refuses one
//! given as plaintext (it would store it), and a local run masks it wherever it shows parameters.

mod reference;

use std::collections::{BTreeMap, BTreeSet};

pub use reference::{SecretRef, SecretSource, SecretValue};

use crate::errors::ErrorName;
use crate::ports::{PortError, Secrets};
use crate::spec::RolloutSpec;

/// What stands for a NoEcho value wherever parameters are shown, as CloudFormation shows it.
pub const MASK: &str = "****";

/// Why the secrets of a rollout could not be resolved, or a NoEcho value was refused. Never
/// carries a secret's value: only parameter names and references.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretsError {
    #[error("{field}: {reason}")]
    Malformed { field: String, reason: String },
    #[error(
        "{field}: {reference} names no {what} in the caller's account and region: \
         create it, or correct the reference"
    )]
    NotFound {
        field: String,
        reference: String,
        what: &'static str,
    },
    #[error(
        "{field}: {reference} asks for the JSON key {key:?}, which the secret's \
         value {why}"
    )]
    NoSuchKey {
        field: String,
        reference: String,
        key: String,
        why: &'static str,
    },
    #[error("{field}: {reference} could not be read: {error}{hint}")]
    Unreadable {
        field: String,
        reference: String,
        error: PortError,
        hint: &'static str,
    },
    #[error(
        "parameter {parameter} is NoEcho in the template and given in plaintext ({field}): the \
         state machine would keep it in its input, history and run records. Store it as an SSM \
         SecureString or in Secrets Manager, and give its reference instead, e.g. \
         {{{{resolve:ssm-secure:/stackfleet/NAME}}}} or {{{{resolve:secretsmanager:stackfleet/NAME}}}}"
    )]
    PlaintextNoEcho { parameter: String, field: String },
}

impl SecretsError {
    /// The contract name: the rollout's input is wrong, unless AWS could not be asked.
    pub fn name(&self) -> ErrorName {
        match self {
            Self::Unreadable { error, .. } => error.name(),
            _ => ErrorName::InvalidInput,
        }
    }
}

type Parameters = BTreeMap<String, String>;

/// Every parameter value, with where it is written: `parameters.NAME` or
/// `parameterOverrides.KEY.NAME`.
fn written_values<'a>(
    parameters: &'a Parameters,
    overrides: &'a BTreeMap<String, Parameters>,
) -> impl Iterator<Item = (String, &'a str, &'a str)> {
    let plain = parameters
        .iter()
        .map(|(name, value)| (format!("parameters.{name}"), name.as_str(), value.as_str()));
    let overridden = overrides.iter().flat_map(|(key, values)| {
        values.iter().map(move |(name, value)| {
            (
                format!("parameterOverrides.{key}.{name}"),
                name.as_str(),
                value.as_str(),
            )
        })
    });
    plain.chain(overridden)
}

/// Checks that every value that looks like a reference is one stackfleet resolves.
pub fn check_references(spec: &RolloutSpec) -> Result<(), SecretsError> {
    for (field, _, value) in written_values(&spec.parameters, &spec.parameter_overrides) {
        SecretRef::parse(value).map_err(|reason| SecretsError::Malformed { field, reason })?;
    }
    Ok(())
}

/// True when some parameter value is a reference.
pub fn has_references(spec: &RolloutSpec) -> bool {
    written_values(&spec.parameters, &spec.parameter_overrides)
        .any(|(_, _, value)| matches!(SecretRef::parse(value), Ok(Some(_))))
}

/// The spec with every reference replaced by the value it names, each distinct reference read
/// once. A spec without references comes back as it is, without a call. The result holds
/// plaintext: keep it in memory, and hand it only to what calls CloudFormation.
pub async fn resolve<S: Secrets>(secrets: &S, spec: &RolloutSpec) -> Result<RolloutSpec, SecretsError> {
    let mut read: BTreeMap<String, SecretValue> = BTreeMap::new();
    for (field, _, value) in written_values(&spec.parameters, &spec.parameter_overrides) {
        let reference = match SecretRef::parse(value) {
            Ok(Some(reference)) => reference,
            Ok(None) => continue,
            Err(reason) => return Err(SecretsError::Malformed { field, reason }),
        };
        if read.contains_key(value) {
            continue;
        }
        let resolved = resolve_one(secrets, &field, reference).await?;
        read.insert(value.to_owned(), resolved);
    }
    let mut resolved = spec.clone();
    let replace = |values: &mut BTreeMap<String, String>| {
        for value in values.values_mut() {
            if let Some(secret) = read.get(value.as_str()) {
                *value = secret.expose().to_owned();
            }
        }
    };
    replace(&mut resolved.parameters);
    resolved.parameter_overrides.values_mut().for_each(replace);
    Ok(resolved)
}

async fn resolve_one<S: Secrets>(
    secrets: &S,
    field: &str,
    reference: SecretRef,
) -> Result<SecretValue, SecretsError> {
    let read = match secrets.read(&reference).await {
        Ok(read) => read,
        Err(error) => {
            let hint = match error {
                PortError::AccessDenied(_) => {
                    " (the caller needs ssm:GetParameter and kms:Decrypt, or \
                     secretsmanager:GetSecretValue, on it; the state machine's worker may read \
                     only what its role grants: /stackfleet/* and stackfleet/* by default)"
                }
                _ => "",
            };
            return Err(SecretsError::Unreadable {
                field: field.to_owned(),
                reference: reference.to_string(),
                error,
                hint,
            });
        }
    };
    let what = match reference.source {
        SecretSource::SsmSecure { .. } => "SSM parameter",
        SecretSource::SecretsManager { .. } => "Secrets Manager secret (or version)",
    };
    let Some(value) = read else {
        return Err(SecretsError::NotFound {
            field: field.to_owned(),
            reference: reference.to_string(),
            what,
        });
    };
    let key = match &reference.source {
        SecretSource::SecretsManager {
            json_key: Some(key), ..
        } => key.clone(),
        _ => return Ok(value),
    };
    let no_such_key = |why| SecretsError::NoSuchKey {
        field: field.to_owned(),
        reference: reference.to_string(),
        key: key.clone(),
        why,
    };
    let object: serde_json::Map<String, serde_json::Value> = serde_json::from_str(value.expose())
        .map_err(|_| no_such_key("is not a JSON object, so it has no keys"))?;
    match object.get(&key) {
        Some(serde_json::Value::String(text)) => Ok(SecretValue::new(text.clone())),
        Some(serde_json::Value::Null) | None => Err(no_such_key("does not have")),
        Some(other) => Ok(SecretValue::new(other.to_string())),
    }
}

/// The parameters a template body declares `NoEcho` (true, or "true" in any case). A body that
/// does not parse declares none: CloudFormation's own validation reports it.
pub fn no_echo_declared(body: &str) -> BTreeSet<String> {
    let template: serde_json::Value = match serde_json::from_str(body) {
        Ok(json) => json,
        // YAML's short-form tags (!Ref) do not matter here: only the Parameters section is read.
        Err(_) => match serde_norway::from_str::<serde_norway::Value>(body) {
            Ok(yaml) => {
                let parameters = yaml.get("Parameters").cloned().unwrap_or_default();
                serde_json::json!({ "Parameters": yaml_to_json(parameters) })
            }
            Err(_) => return BTreeSet::new(),
        },
    };
    let Some(parameters) = template.get("Parameters").and_then(|p| p.as_object()) else {
        return BTreeSet::new();
    };
    parameters
        .iter()
        .filter(|(_, declared)| match declared.get("NoEcho") {
            Some(serde_json::Value::Bool(on)) => *on,
            Some(serde_json::Value::String(on)) => on.eq_ignore_ascii_case("true"),
            _ => false,
        })
        .map(|(name, _)| name.clone())
        .collect()
}

/// The declarations of a YAML Parameters section, as far as NoEcho goes: tagged values become null.
fn yaml_to_json(value: serde_norway::Value) -> serde_json::Value {
    use serde_norway::Value as Y;
    match value {
        Y::Bool(b) => serde_json::Value::Bool(b),
        Y::String(s) => serde_json::Value::String(s),
        Y::Mapping(map) => serde_json::Value::Object(
            map.into_iter()
                .filter_map(|(key, value)| match key {
                    Y::String(key) => Some((key, yaml_to_json(value))),
                    _ => None,
                })
                .collect(),
        ),
        _ => serde_json::Value::Null,
    }
}

/// Refuses a NoEcho parameter given in plaintext (not a reference, not empty) anywhere in the
/// spec: what the state machine would store. The error names the parameter, never its value.
pub fn refuse_plaintext_no_echo(spec: &RolloutSpec, no_echo: &BTreeSet<String>) -> Result<(), SecretsError> {
    refuse_plaintext_no_echo_in(&spec.parameters, &spec.parameter_overrides, no_echo)
}

/// The same check over a document's parameters, before it is resolved (`stackfleet start`).
pub fn refuse_plaintext_no_echo_in(
    parameters: &Parameters,
    overrides: &BTreeMap<String, Parameters>,
    no_echo: &BTreeSet<String>,
) -> Result<(), SecretsError> {
    for (field, name, value) in written_values(parameters, overrides) {
        let plaintext = !value.is_empty() && !matches!(SecretRef::parse(value), Ok(Some(_)));
        if plaintext && no_echo.contains(name) {
            return Err(SecretsError::PlaintextNoEcho {
                parameter: name.to_owned(),
                field,
            });
        }
    }
    Ok(())
}

/// A parameter's value as it may be shown: NoEcho ones masked, as CloudFormation shows them.
pub fn shown<'a>(name: &str, value: &'a str, no_echo: &BTreeSet<String>) -> &'a str {
    if no_echo.contains(name) && !value.is_empty() {
        MASK
    } else {
        value
    }
}

#[cfg(test)]
mod tests;
