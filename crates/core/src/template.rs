//! Templates as CloudFormation would take them: an inline body small enough and JSON or YAML with
//! resources, or an https URL of an object in S3. Checked before any AWS call.

use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ids::string_schema;

/// CloudFormation refuses an inline TemplateBody larger than this; bigger templates come from S3.
pub const MAX_INLINE_TEMPLATE_BYTES: usize = 51_200;

/// Why a template was refused before any AWS call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error(
        "the template body is {size} bytes; CloudFormation takes at most {MAX_INLINE_TEMPLATE_BYTES} \
         bytes inline: upload it to S3 and pass its URL instead (--template-url)"
    )]
    TooLarge { size: usize },
    #[error("the template is neither JSON nor YAML: {0}")]
    NotJsonOrYaml(String),
    #[error("the template has no Resources section: CloudFormation needs at least one resource")]
    NoResources,
    #[error("the template URL {0:?} must be an https:// URL of an S3 object")]
    BadUrl(String),
    #[error(
        "template.file {0:?} names a local file, which only the CLI can read: give template.url \
         (or template.body) to the state machine"
    )]
    FileNotRead(PathBuf),
    #[error("cannot read the template {0}")]
    Unreadable(String),
}

/// An inline template body that CloudFormation could take: small enough, and JSON or YAML with a
/// `Resources` mapping.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TemplateBody(String);

impl TemplateBody {
    pub fn parse(body: String) -> Result<Self, TemplateError> {
        if body.len() > MAX_INLINE_TEMPLATE_BYTES {
            return Err(TemplateError::TooLarge { size: body.len() });
        }
        let has_resources = match serde_json::from_str::<serde_json::Value>(&body) {
            Ok(json) => json.get("Resources").is_some_and(|r| r.is_object()),
            // CloudFormation YAML uses short-form tags (!Ref, !Sub): a YAML value keeps them.
            Err(_) => match serde_norway::from_str::<serde_norway::Value>(&body) {
                Ok(serde_norway::Value::Mapping(map)) => {
                    map.get("Resources").is_some_and(serde_norway::Value::is_mapping)
                }
                Ok(_) => return Err(TemplateError::NotJsonOrYaml("it is not a mapping".into())),
                Err(yaml) => return Err(TemplateError::NotJsonOrYaml(yaml.to_string())),
            },
        };
        if has_resources {
            Ok(Self(body))
        } else {
            Err(TemplateError::NoResources)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl JsonSchema for TemplateBody {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "TemplateBody".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_INLINE_TEMPLATE_BYTES,
            "description": "A template body, JSON or YAML with a Resources section, at most 51,200 bytes.",
        })
    }
}

impl TryFrom<String> for TemplateBody {
    type Error = TemplateError;
    fn try_from(body: String) -> Result<Self, TemplateError> {
        Self::parse(body)
    }
}

impl From<TemplateBody> for String {
    fn from(body: TemplateBody) -> String {
        body.0
    }
}

/// An https URL of a template in S3.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TemplateUrl(String);

impl TemplateUrl {
    pub fn parse(url: String) -> Result<Self, TemplateError> {
        let ok = url.len() <= 1024
            && url
                .strip_prefix("https://")
                .is_some_and(|rest| rest.contains('/') && !rest.starts_with('/'));
        if ok {
            Ok(Self(url))
        } else {
            Err(TemplateError::BadUrl(url))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

string_schema!(
    TemplateUrl,
    "^https://[^/].*/.+",
    "An https:// URL of a template object in S3."
);

impl TryFrom<String> for TemplateUrl {
    type Error = TemplateError;
    fn try_from(url: String) -> Result<Self, TemplateError> {
        Self::parse(url)
    }
}

impl From<TemplateUrl> for String {
    fn from(url: TemplateUrl) -> String {
        url.0
    }
}

/// The template as CloudFormation takes it: inline, or from S3.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum TemplateSource {
    Body(TemplateBody),
    Url(TemplateUrl),
}

/// The template as a rollout document names it: CloudFormation's two ways, or a file next to the
/// document, which the CLI reads (a path means nothing to the state machine).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub enum TemplateRef {
    /// The template itself, JSON or YAML, at most 51,200 bytes.
    Body(TemplateBody),
    /// An https:// URL of the template in S3 (required for larger templates).
    Url(TemplateUrl),
    /// A file, relative to the rollout document; read by the CLI, refused by the state machine.
    File(PathBuf),
}

impl From<TemplateSource> for TemplateRef {
    fn from(source: TemplateSource) -> Self {
        match source {
            TemplateSource::Body(body) => Self::Body(body),
            TemplateSource::Url(url) => Self::Url(url),
        }
    }
}

impl TemplateRef {
    /// The source CloudFormation takes, once any file has been read; a file is an error here.
    pub fn source(&self) -> Result<TemplateSource, TemplateError> {
        match self {
            Self::Body(body) => Ok(TemplateSource::Body(body.clone())),
            Self::Url(url) => Ok(TemplateSource::Url(url.clone())),
            Self::File(path) => Err(TemplateError::FileNotRead(path.clone())),
        }
    }

    /// Reads a `file` template (relative to `base`) into a body; the other forms stay as they are.
    pub fn read_file(self, base: &Path) -> Result<Self, TemplateError> {
        let Self::File(path) = self else {
            return Ok(self);
        };
        let full = base.join(&path);
        let body = std::fs::read_to_string(&full)
            .map_err(|e| TemplateError::Unreadable(format!("{}: {e}", full.display())))?;
        TemplateBody::parse(body).map(Self::Body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = r#"{"Resources":{"Role":{"Type":"AWS::IAM::Role"}}}"#;

    #[test]
    fn json_and_yaml_templates_with_resources_are_accepted() {
        assert!(TemplateBody::parse(TEMPLATE.into()).is_ok());
        let yaml = "Resources:\n  Role:\n    Type: AWS::IAM::Role\n    Properties:\n      RoleName: !Sub '${AWS::AccountId}-x'\n";
        assert!(TemplateBody::parse(yaml.into()).is_ok());
    }

    #[test]
    fn bad_templates_are_refused_with_the_reason() {
        let garbage = TemplateBody::parse("Resources: [unclosed\n  - {".into()).unwrap_err();
        assert!(matches!(garbage, TemplateError::NotJsonOrYaml(_)), "{garbage}");
        let scalar = TemplateBody::parse("just words".into()).unwrap_err();
        assert!(matches!(scalar, TemplateError::NotJsonOrYaml(_)), "{scalar}");
        assert_eq!(TemplateBody::parse("{}".into()), Err(TemplateError::NoResources));
        let big = format!(
            r#"{{"Description":"{}","Resources":{{}}}}"#,
            "x".repeat(MAX_INLINE_TEMPLATE_BYTES)
        );
        let err = TemplateBody::parse(big).unwrap_err();
        assert!(err.to_string().contains("upload it to S3"), "{err}");
    }
}
