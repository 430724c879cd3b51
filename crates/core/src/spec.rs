//! The rollout spec: what to deploy, and how. Parsed and checked at the edge (CLI flags, execution
//! input), so that everything behind it can trust it.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ids::{InvalidId, StackName, Target};
use crate::stack::{MANAGED_BY_TAG, MANAGED_BY_VALUE};
pub use crate::template::{
    TemplateBody, TemplateError, TemplateSource, TemplateUrl, MAX_INLINE_TEMPLATE_BYTES,
};

/// A capability CloudFormation must be told the template needs.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    JsonSchema,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::VariantNames,
)]
pub enum Capability {
    #[serde(rename = "CAPABILITY_IAM")]
    #[strum(serialize = "CAPABILITY_IAM")]
    Iam,
    #[serde(rename = "CAPABILITY_NAMED_IAM")]
    #[strum(serialize = "CAPABILITY_NAMED_IAM")]
    NamedIam,
    #[serde(rename = "CAPABILITY_AUTO_EXPAND")]
    #[strum(serialize = "CAPABILITY_AUTO_EXPAND")]
    AutoExpand,
}

impl Capability {
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Parses a capability, naming the ones there are when it is none of them.
    pub fn parse(text: &str) -> Result<Self, SpecError> {
        text.parse().map_err(|_| {
            SpecError::Invalid(format!(
                "unknown capability {text:?}: use {}",
                <Self as strum::VariantNames>::VARIANTS.join(", ")
            ))
        })
    }
}

/// What to do with a stack that a failed operation left where only a delete gets it out
/// (ROLLBACK_COMPLETE, ROLLBACK_FAILED, DELETE_FAILED, REVIEW_IN_PROGRESS).
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    JsonSchema,
    strum::EnumString,
    strum::Display,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum RecoveryPolicy {
    /// Delete the stack, wait, create it again.
    #[default]
    Recreate,
    /// Touch nothing; report the target as needing attention.
    Stop,
}

/// An IAM role name (without path): 1 to 64 of letters, digits and `+=,.@_-`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RoleName(String);

impl FromStr for RoleName {
    type Err = InvalidId;
    fn from_str(s: &str) -> Result<Self, InvalidId> {
        let ok = !s.is_empty()
            && s.len() <= 64
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b));
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(InvalidId {
                kind: "role name",
                value: s.to_owned(),
                rule: "must be 1-64 characters of letters, digits or +=,.@_-",
            })
        }
    }
}

impl RoleName {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

crate::ids::string_schema!(
    RoleName,
    "^[A-Za-z0-9+=,.@_-]{1,64}$",
    "An IAM role name, without path: 1-64 letters, digits or +=,.@_-."
);

impl TryFrom<String> for RoleName {
    type Error = InvalidId;
    fn try_from(value: String) -> Result<Self, InvalidId> {
        value.parse()
    }
}

impl From<RoleName> for String {
    fn from(value: RoleName) -> String {
        value.0
    }
}

impl fmt::Display for RoleName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The role stackfleet assumes in every target account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeployRole {
    /// The role's name in every target account.
    pub name: RoleName,
    /// Passed to AssumeRole as sts:ExternalId.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[A-Za-z0-9+=,.@:/_-]{2,1224}$"))]
    pub external_id: Option<String>,
}

impl Default for DeployRole {
    fn default() -> Self {
        Self {
            name: RoleName("OrganizationAccountAccessRole".into()),
            external_id: None,
        }
    }
}

impl DeployRole {
    /// The role's ARN in the target's partition.
    pub fn arn(&self, target: &Target) -> String {
        format!(
            "arn:{}:iam::{}:role/{}",
            target.partition(),
            target.account,
            self.name
        )
    }
}

/// Tags a document may give: CloudFormation's 50, less stackfleet's own.
pub const MAX_DOCUMENT_TAGS: usize = 49;

/// A spec that does not hold together.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    #[error(transparent)]
    Id(#[from] InvalidId),
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error("{0}")]
    Invalid(String),
}

/// Everything one rollout applies to each target: the rollout document (`crate::document`)
/// resolved, its defaults filled in and its rules checked. Never on the wire: the document is.
/// Once its secrets are resolved (`crate::secrets::resolve`) its parameters hold plaintext, so
/// its `Debug` shows parameter names only.
#[derive(Clone, PartialEq, Eq)]
pub struct RolloutSpec {
    pub stack_name: StackName,
    pub template: TemplateSource,
    pub parameters: BTreeMap<String, String>,
    /// Keyed by an account ID (`123456789012`) or a target (`123456789012:eu-west-1`); a
    /// target's own entry wins over its account's, which wins over `parameters`.
    pub parameter_overrides: BTreeMap<String, BTreeMap<String, String>>,
    pub capabilities: Vec<Capability>,
    pub tags: BTreeMap<String, String>,
    pub deploy_role: DeployRole,
    /// DurationSeconds of the assumed session; role chaining caps it at one hour.
    pub session_duration_seconds: Option<u32>,
    pub termination_protection: bool,
    pub recovery: RecoveryPolicy,
    /// When continuing an update rollback, skip the resources whose rollback failed.
    pub skip_failed_rollback_resources: bool,
    /// Take over a stack of the stack name that stackfleet did not create (no
    /// `stackfleet:managed-by` tag) instead of leaving it alone.
    pub adopt: bool,
    /// Create a stack whose template names resources that already exist in the account (kept
    /// with `DeletionPolicy: Retain`) by importing them (a CREATE change set with
    /// ImportExistingResources) instead of failing on them.
    pub adopt_existing: bool,
    /// How long one stack operation (or a wait for somebody else's) may take.
    pub operation_timeout_seconds: u64,
    pub poll_interval_seconds: u64,
}

/// Parameter names, their values masked: what `Debug` may show of parameters.
pub(crate) struct Masked<I>(pub I);

impl<'a, I: Iterator<Item = &'a String> + Clone> fmt::Debug for Masked<I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.clone().map(|name| (name, crate::secrets::MASK)))
            .finish()
    }
}

impl fmt::Debug for RolloutSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let overrides: BTreeMap<&String, Masked<_>> = self
            .parameter_overrides
            .iter()
            .map(|(key, values)| (key, Masked(values.keys())))
            .collect();
        f.debug_struct("RolloutSpec")
            .field("stack_name", &self.stack_name)
            .field("template", &self.template)
            .field("parameters", &Masked(self.parameters.keys()))
            .field("parameter_overrides", &overrides)
            .field("capabilities", &self.capabilities)
            .field("tags", &self.tags)
            .field("deploy_role", &self.deploy_role)
            .field("session_duration_seconds", &self.session_duration_seconds)
            .field("termination_protection", &self.termination_protection)
            .field("recovery", &self.recovery)
            .field(
                "skip_failed_rollback_resources",
                &self.skip_failed_rollback_resources,
            )
            .field("operation_timeout_seconds", &self.operation_timeout_seconds)
            .field("poll_interval_seconds", &self.poll_interval_seconds)
            .finish_non_exhaustive()
    }
}

pub(crate) mod defaults {
    pub fn operation_timeout_seconds() -> u64 {
        3600
    }
    pub fn poll_interval_seconds() -> u64 {
        10
    }
}

impl RolloutSpec {
    /// A spec with the defaults a user gets when they say nothing else.
    pub fn new(stack_name: StackName, template: TemplateSource) -> Self {
        Self {
            stack_name,
            template,
            parameters: BTreeMap::new(),
            parameter_overrides: BTreeMap::new(),
            capabilities: Vec::new(),
            tags: BTreeMap::new(),
            deploy_role: DeployRole::default(),
            session_duration_seconds: None,
            termination_protection: false,
            recovery: RecoveryPolicy::default(),
            skip_failed_rollback_resources: false,
            adopt: false,
            adopt_existing: false,
            operation_timeout_seconds: defaults::operation_timeout_seconds(),
            poll_interval_seconds: defaults::poll_interval_seconds(),
        }
    }

    /// Checks the rules that span fields. Types already hold the per-field ones.
    pub fn validate(&self) -> Result<(), SpecError> {
        for key in self.parameter_overrides.keys() {
            if key.parse::<crate::AccountId>().is_err() && key.parse::<Target>().is_err() {
                return Err(SpecError::Invalid(format!(
                    "parameter override key {key:?} is neither an account ID nor ACCOUNT:REGION"
                )));
            }
        }
        if self.tags.contains_key(MANAGED_BY_TAG) {
            return Err(SpecError::Invalid(format!(
                "tag {MANAGED_BY_TAG:?} is stackfleet's own: it marks the stacks stackfleet manages \
                 and is put on every stack it deploys; remove it from tags (to take over a stack \
                 that lacks it, use adopt: true or --adopt)"
            )));
        }
        if self.tags.len() > MAX_DOCUMENT_TAGS {
            return Err(SpecError::Invalid(format!(
                "{} tags given; CloudFormation takes at most 50, and stackfleet adds its own \
                 {MANAGED_BY_TAG}: give at most {MAX_DOCUMENT_TAGS}",
                self.tags.len()
            )));
        }
        if let Some((key, _)) = self
            .tags
            .iter()
            .find(|(k, v)| k.is_empty() || k.len() > 128 || v.len() > 256)
        {
            return Err(SpecError::Invalid(format!(
                "tag {key:?}: keys are 1-128 characters and values at most 256"
            )));
        }
        if let Some(seconds) = self.session_duration_seconds {
            if !(900..=43_200).contains(&seconds) {
                return Err(SpecError::Invalid(format!(
                    "session duration {seconds}s: AWS takes 900 to 43200 seconds"
                )));
            }
        }
        if let Some(external_id) = &self.deploy_role.external_id {
            let ok = (2..=1224).contains(&external_id.len())
                && external_id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"+=,.@:/_-".contains(&b));
            if !ok {
                return Err(SpecError::Invalid(
                    "external ID must be 2-1224 characters of letters, digits or +=,.@:/_-".into(),
                ));
            }
        }
        crate::secrets::check_references(self).map_err(|e| SpecError::Invalid(e.to_string()))?;
        if self.poll_interval_seconds == 0 || self.operation_timeout_seconds == 0 {
            return Err(SpecError::Invalid(
                "poll interval and operation timeout must be at least one second".into(),
            ));
        }
        Ok(())
    }

    pub fn poll_interval(&self) -> Duration {
        Duration::from_secs(self.poll_interval_seconds)
    }

    pub fn operation_timeout(&self) -> Duration {
        Duration::from_secs(self.operation_timeout_seconds)
    }

    /// The tags every stack request carries: the document's, and stackfleet's own
    /// `stackfleet:managed-by` (which `validate` keeps the document from setting).
    pub fn stack_tags(&self) -> Vec<(String, String)> {
        let mut tags: Vec<(String, String)> = self.tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        tags.push((MANAGED_BY_TAG.to_owned(), MANAGED_BY_VALUE.to_owned()));
        tags
    }

    /// The parameters this target gets: the spec's, then its account's overrides, then its own.
    pub fn parameters_for(&self, target: &Target) -> Vec<(String, String)> {
        let mut merged = self.parameters.clone();
        for key in [target.account.to_string(), target.to_string()] {
            if let Some(overrides) = self.parameter_overrides.get(&key) {
                merged.extend(overrides.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
        }
        merged.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = r#"{"Resources":{"Role":{"Type":"AWS::IAM::Role"}}}"#;

    #[test]
    fn overrides_apply_account_then_target() {
        let mut spec = RolloutSpec::new(
            "s".parse().unwrap(),
            TemplateSource::Body(TemplateBody::parse(TEMPLATE.into()).unwrap()),
        );
        spec.parameters.insert("Env".into(), "prod".into());
        spec.parameters.insert("Size".into(), "s".into());
        spec.parameter_overrides.insert(
            "111111111111".into(),
            [("Size".to_string(), "m".to_string())].into(),
        );
        spec.parameter_overrides.insert(
            "111111111111:eu-west-1".into(),
            [("Size".to_string(), "l".to_string())].into(),
        );
        spec.validate().unwrap();
        let eu: Target = "111111111111:eu-west-1".parse().unwrap();
        let us: Target = "111111111111:us-east-1".parse().unwrap();
        let other: Target = "222222222222:us-east-1".parse().unwrap();
        let size = |t: &Target| {
            spec.parameters_for(t)
                .into_iter()
                .find(|(k, _)| k == "Size")
                .unwrap()
                .1
        };
        assert_eq!(
            (size(&eu), size(&us), size(&other)),
            ("l".into(), "m".into(), "s".into())
        );

        spec.parameter_overrides.insert("acct".into(), BTreeMap::new());
        assert!(spec.validate().is_err());
    }

    #[test]
    fn every_request_carries_the_managed_by_tag_which_a_document_may_not_set() {
        let mut spec = RolloutSpec::new(
            "s".parse().unwrap(),
            TemplateSource::Body(TemplateBody::parse(TEMPLATE.into()).unwrap()),
        );
        spec.tags.insert("team".into(), "platform".into());
        assert_eq!(
            spec.stack_tags(),
            vec![
                ("team".to_string(), "platform".to_string()),
                ("stackfleet:managed-by".to_string(), "stackfleet".to_string()),
            ]
        );
        spec.validate().unwrap();

        spec.tags.insert(MANAGED_BY_TAG.into(), "me".into());
        let error = spec.validate().unwrap_err().to_string();
        assert!(
            error.contains("\"stackfleet:managed-by\" is stackfleet's own"),
            "{error}"
        );
        assert!(error.contains("--adopt"), "{error}");

        spec.tags.remove(MANAGED_BY_TAG);
        spec.tags
            .extend((0..MAX_DOCUMENT_TAGS).map(|n| (format!("k{n}"), String::new())));
        let error = spec.validate().unwrap_err().to_string();
        assert!(error.contains("at most 49"), "{error}");
    }

    #[test]
    fn role_arns_follow_the_partition() {
        let role = DeployRole::default();
        let china: Target = "111111111111:cn-north-1".parse().unwrap();
        assert_eq!(
            role.arn(&china),
            "arn:aws-cn:iam::111111111111:role/OrganizationAccountAccessRole"
        );
        assert!("bad role".parse::<RoleName>().is_err());
    }
}
