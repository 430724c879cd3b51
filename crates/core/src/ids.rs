//! Identifiers parsed at the edge: once a value of these types exists, it is one AWS would accept.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Why an identifier was refused. The message names the value and the rule it broke.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind} {value:?}: {rule}")]
pub struct InvalidId {
    pub kind: &'static str,
    pub value: String,
    pub rule: &'static str,
}

fn invalid(kind: &'static str, value: &str, rule: &'static str) -> InvalidId {
    InvalidId {
        kind,
        value: value.to_owned(),
        rule,
    }
}

macro_rules! string_newtype {
    ($name:ident) => {
        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl TryFrom<String> for $name {
            type Error = InvalidId;
            fn try_from(value: String) -> Result<Self, InvalidId> {
                value.parse()
            }
        }
        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }
        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

/// The JSON Schema of a type that serialises as a string of a known shape: editors and the CDK
/// app check the shape before any stackfleet code runs; the parser here stays the authority.
macro_rules! string_schema {
    ($name:ident, $pattern:expr, $description:expr) => {
        impl schemars::JsonSchema for $name {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($name).into()
            }
            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!({
                    "type": "string",
                    "pattern": $pattern,
                    "description": $description,
                })
            }
        }
    };
}
pub(crate) use string_schema;

/// An AWS account ID: exactly twelve ASCII digits.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AccountId(String);
string_newtype!(AccountId);
string_schema!(AccountId, "^[0-9]{12}$", "An AWS account ID: 12 digits.");

impl FromStr for AccountId {
    type Err = InvalidId;
    fn from_str(s: &str) -> Result<Self, InvalidId> {
        if s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(s.to_owned()))
        } else {
            Err(invalid("account ID", s, "must be exactly 12 digits"))
        }
    }
}

/// An AWS region code such as `us-east-1`, `eu-central-2` or `us-gov-west-1`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Region(String);
string_newtype!(Region);
string_schema!(
    Region,
    "^[a-z]+(-[a-z]+)+-[0-9]{1,2}$",
    "An AWS region code, such as us-east-1."
);

impl FromStr for Region {
    type Err = InvalidId;
    fn from_str(s: &str) -> Result<Self, InvalidId> {
        const RULE: &str = "must look like us-east-1: lowercase words joined by '-', ending in a number";
        let parts: Vec<&str> = s.split('-').collect();
        let Some((last, words)) = parts.split_last() else {
            return Err(invalid("region", s, RULE));
        };
        let number_ok = !last.is_empty() && last.len() <= 2 && last.bytes().all(|b| b.is_ascii_digit());
        let words_ok = words.len() >= 2
            && words
                .iter()
                .all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase()));
        if number_ok && words_ok && s.len() <= 32 {
            Ok(Self(s.to_owned()))
        } else {
            Err(invalid("region", s, RULE))
        }
    }
}

/// A stack name CloudFormation accepts: 1 to 128 characters, a letter first, then letters,
/// digits and hyphens.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct StackName(String);
string_newtype!(StackName);
string_schema!(
    StackName,
    "^[A-Za-z][A-Za-z0-9-]{0,127}$",
    "A CloudFormation stack name: a letter, then letters, digits or '-', at most 128."
);

impl FromStr for StackName {
    type Err = InvalidId;
    fn from_str(s: &str) -> Result<Self, InvalidId> {
        let first_ok = s.bytes().next().is_some_and(|b| b.is_ascii_alphabetic());
        let rest_ok = s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if first_ok && rest_ok && s.len() <= 128 {
            Ok(Self(s.to_owned()))
        } else {
            Err(invalid(
                "stack name",
                s,
                "must be 1-128 characters: a letter, then letters, digits or '-'",
            ))
        }
    }
}

/// Names one rollout. It becomes part of every ClientRequestToken and of the role session name,
/// so it holds only what both accept: 1 to 64 of letters, digits and '-'.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RunId(String);
string_newtype!(RunId);
string_schema!(
    RunId,
    "^[A-Za-z0-9][A-Za-z0-9-]{0,63}$",
    "Names one rollout: 1-64 letters, digits or '-'."
);

impl FromStr for RunId {
    type Err = InvalidId;
    fn from_str(s: &str) -> Result<Self, InvalidId> {
        let first_ok = s.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric());
        if first_ok && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            Ok(Self(s.to_owned()))
        } else {
            Err(invalid(
                "run ID",
                s,
                "must be 1-64 characters of letters, digits or '-', starting with a letter or digit",
            ))
        }
    }
}

impl RunId {
    /// Makes a run ID out of any name (a Step Functions execution name, say): characters a
    /// token cannot hold become '-', and the name is cut to 64 characters.
    pub fn from_lossy(name: &str) -> Self {
        let cleaned: String = name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        // A token must start with a letter or digit: prefix one, then cut to the limit.
        let prefixed = if cleaned.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            cleaned
        } else {
            format!("r{cleaned}")
        };
        Self(prefixed.chars().take(64).collect())
    }
}

/// One place a stack goes: an account and a region. Written `123456789012:us-east-1`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Target {
    pub account: AccountId,
    pub region: Region,
}

string_schema!(
    Target,
    "^[0-9]{12}:[a-z]+(-[a-z]+)+-[0-9]{1,2}$",
    "One place a stack goes: ACCOUNT:REGION, e.g. 123456789012:us-east-1."
);

impl Target {
    pub fn new(account: AccountId, region: Region) -> Self {
        Self { account, region }
    }

    /// The AWS partition of its region, as ARNs name it.
    pub fn partition(&self) -> &'static str {
        let region = self.region.as_str();
        if region.starts_with("cn-") {
            "aws-cn"
        } else if region.starts_with("us-gov-") {
            "aws-us-gov"
        } else {
            "aws"
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.account, self.region)
    }
}

impl FromStr for Target {
    type Err = InvalidId;
    fn from_str(s: &str) -> Result<Self, InvalidId> {
        let Some((account, region)) = s.split_once(':') else {
            return Err(invalid(
                "target",
                s,
                "must be ACCOUNT:REGION, e.g. 123456789012:us-east-1",
            ));
        };
        Ok(Self {
            account: account.parse()?,
            region: region.parse()?,
        })
    }
}

impl TryFrom<String> for Target {
    type Error = InvalidId;
    fn try_from(value: String) -> Result<Self, InvalidId> {
        value.parse()
    }
}

impl From<Target> for String {
    fn from(value: Target) -> String {
        value.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_ids_are_twelve_digits() {
        assert!("123456789012".parse::<AccountId>().is_ok());
        for bad in ["12345678901", "1234567890123", "12345678901a", "", " 23456789012"] {
            let err = bad.parse::<AccountId>().unwrap_err();
            assert!(err.to_string().contains("12 digits"), "{err}");
        }
    }

    #[test]
    fn regions_follow_the_aws_shape() {
        for good in [
            "us-east-1",
            "eu-central-2",
            "us-gov-west-1",
            "ap-southeast-5",
            "cn-north-1",
        ] {
            assert!(good.parse::<Region>().is_ok(), "{good}");
        }
        for bad in [
            "us-east",
            "US-EAST-1",
            "useast1",
            "us--east-1",
            "us-east-1a",
            "",
            "-1",
        ] {
            assert!(bad.parse::<Region>().is_err(), "{bad}");
        }
    }

    #[test]
    fn stack_names_follow_cloudformation_rules() {
        assert!("org-federation".parse::<StackName>().is_ok());
        assert!("a".repeat(128).parse::<StackName>().is_ok());
        for bad in ["1stack", "stack_name", "", "stack name", &"a".repeat(129)] {
            assert!(bad.parse::<StackName>().is_err(), "{bad}");
        }
    }

    #[test]
    fn targets_round_trip_through_their_compact_form() {
        let target: Target = "123456789012:eu-west-1".parse().unwrap();
        assert_eq!(target.to_string(), "123456789012:eu-west-1");
        let json = serde_json::to_string(&target).unwrap();
        assert_eq!(json, "\"123456789012:eu-west-1\"");
        assert_eq!(serde_json::from_str::<Target>(&json).unwrap(), target);
        assert!(serde_json::from_str::<Target>("\"12345:eu-west-1\"").is_err());
        assert!("123456789012".parse::<Target>().is_err());
    }

    #[test]
    fn run_ids_from_any_name_are_valid() {
        for name in ["exec:2026/11/21 #3", "_x", "", &"z".repeat(90)] {
            let run = RunId::from_lossy(name);
            assert!(run.as_str().parse::<RunId>().is_ok(), "{name} -> {run}");
        }
        assert_eq!(RunId::from_lossy("deploy_42").as_str(), "deploy-42");
    }
}
