//! References to secrets, written as a whole parameter value in CloudFormation's dynamic
//! reference syntax, and the values they resolve to.

use std::fmt;

/// What starts a dynamic reference.
const OPENING: &str = "{{resolve:";
const CLOSING: &str = "}}";
/// The parts of an ARN up to a Secrets Manager secret's name: `arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME`.
const SECRET_ARN_PARTS: usize = 7;
/// ... and up to an SSM parameter's name: `arn:aws:ssm:REGION:ACCOUNT:parameter/NAME`.
const PARAMETER_ARN_PARTS: usize = 6;

/// A reference to a secret in the caller's account: `{{resolve:ssm-secure:NAME[:VERSION]}}`, or
/// `{{resolve:secretsmanager:SECRET_ID[:SecretString[:JSON_KEY[:VERSION_STAGE[:VERSION_ID]]]]}}`.
/// Not secret itself: it may be stored and shown.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SecretRef {
    written: String,
    pub source: SecretSource,
}

/// Where a reference points.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum SecretSource {
    /// An SSM parameter, read decrypted (a SecureString).
    SsmSecure { name: String, version: Option<u64> },
    /// A Secrets Manager secret's SecretString, or one key of it when it is a JSON object.
    SecretsManager {
        /// A name or an ARN.
        secret_id: String,
        json_key: Option<String>,
        version_stage: Option<String>,
        version_id: Option<String>,
    },
}

impl SecretRef {
    /// `Ok(None)` for a plain value. A value that holds `{{resolve:` but is not a reference
    /// stackfleet resolves is an error, which says why: passed on as it is, it would reach the
    /// stack as text.
    pub fn parse(value: &str) -> Result<Option<Self>, String> {
        let Some(at) = value.find(OPENING) else {
            return Ok(None);
        };
        let inner = (at == 0)
            .then(|| value[OPENING.len()..].strip_suffix(CLOSING))
            .flatten()
            .filter(|inner| !inner.contains(CLOSING))
            .ok_or_else(|| {
                "a reference must be the whole value, {{resolve:...}} and nothing around it".to_owned()
            })?;
        let (service, rest) = inner.split_once(':').unwrap_or((inner, ""));
        let source = match service {
            "ssm-secure" => ssm_secure(rest)?,
            "secretsmanager" => secrets_manager(rest)?,
            "ssm" => {
                return Err(
                    "{{resolve:ssm:...}} names a plain String parameter, which is no secret: write \
                     its value, or declare the template parameter as AWS::SSM::Parameter::Value<String>; \
                     stackfleet resolves ssm-secure and secretsmanager references"
                        .to_owned(),
                )
            }
            other => {
                return Err(format!(
                    "{other:?} references are not resolved by stackfleet: use ssm-secure or secretsmanager"
                ))
            }
        };
        Ok(Some(Self {
            written: value.to_owned(),
            source,
        }))
    }

    /// The reference as written.
    pub fn as_str(&self) -> &str {
        &self.written
    }
}

impl fmt::Display for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.written)
    }
}

/// `NAME` or an ARN, then `:VERSION` if any.
fn split_arn(rest: &str, arn_parts: usize) -> (String, Vec<&str>) {
    let parts: Vec<&str> = rest.split(':').collect();
    let taken = if parts[0] == "arn" {
        arn_parts.min(parts.len())
    } else {
        1
    };
    (parts[..taken].join(":"), parts[taken..].to_vec())
}

fn ssm_secure(rest: &str) -> Result<SecretSource, String> {
    let (name, after) = split_arn(rest, PARAMETER_ARN_PARTS);
    let plain_name = name.rsplit_once(":parameter").map_or(name.as_str(), |(_, n)| n);
    let ok = !plain_name.is_empty()
        && name.len() <= 2048
        && plain_name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-/".contains(&b));
    if !ok {
        return Err(format!(
            "ssm-secure: {name:?} is not an SSM parameter name (letters, digits and _.-/)"
        ));
    }
    let version = match after.as_slice() {
        [] => None,
        [version] => Some(
            version
                .parse::<u64>()
                .map_err(|_| format!("ssm-secure: the version {version:?} of {name} is not a number"))?,
        ),
        _ => return Err(format!("ssm-secure: {rest:?} has parts after NAME:VERSION")),
    };
    Ok(SecretSource::SsmSecure { name, version })
}

fn secrets_manager(rest: &str) -> Result<SecretSource, String> {
    let (secret_id, after) = split_arn(rest, SECRET_ARN_PARTS);
    let ok = !secret_id.is_empty()
        && secret_id.len() <= 2048
        && secret_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/_+=.@-:".contains(&b));
    if !ok {
        return Err(format!(
            "secretsmanager: {secret_id:?} is not a secret name or ARN"
        ));
    }
    if after.len() > 4 {
        return Err(format!(
            "secretsmanager: {rest:?} has parts after SECRET_ID:SecretString:JSON_KEY:VERSION_STAGE:VERSION_ID"
        ));
    }
    let part = |index: usize| {
        after
            .get(index)
            .filter(|part| !part.is_empty())
            .map(|part| (*part).to_owned())
    };
    if let Some(other) = part(0).filter(|p| p != "SecretString") {
        return Err(format!(
            "secretsmanager: the part after the secret is {other:?}; only SecretString can be read"
        ));
    }
    let (version_stage, version_id) = (part(2), part(3));
    if version_stage.is_some() && version_id.is_some() {
        return Err("secretsmanager: give a version stage or a version ID, not both".to_owned());
    }
    Ok(SecretSource::SecretsManager {
        secret_id,
        json_key: part(1),
        version_stage,
        version_id,
    })
}

/// A secret's value: in memory only. It has no `Serialize` and no `Display`, and its `Debug` is
/// a mask, so that neither a log line nor a record can carry it by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(String);

impl SecretValue {
    pub fn new(value: String) -> Self {
        Self(value)
    }

    /// The plaintext, for the one place that needs it: the parameter value CloudFormation gets.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretValue(****)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(value: &str) -> SecretSource {
        SecretRef::parse(value).unwrap().unwrap().source
    }

    fn refused(value: &str) -> String {
        SecretRef::parse(value).unwrap_err()
    }

    #[test]
    fn plain_values_are_not_references() {
        assert_eq!(SecretRef::parse("prod"), Ok(None));
        assert_eq!(SecretRef::parse("{{not a reference}}"), Ok(None));
        assert_eq!(SecretRef::parse(""), Ok(None));
    }

    #[test]
    fn ssm_secure_references_by_name_arn_and_version() {
        assert_eq!(
            parsed("{{resolve:ssm-secure:/stackfleet/db-password}}"),
            SecretSource::SsmSecure {
                name: "/stackfleet/db-password".into(),
                version: None
            }
        );
        assert_eq!(
            parsed("{{resolve:ssm-secure:/stackfleet/db-password:3}}"),
            SecretSource::SsmSecure {
                name: "/stackfleet/db-password".into(),
                version: Some(3)
            }
        );
        assert_eq!(
            parsed("{{resolve:ssm-secure:arn:aws:ssm:eu-west-1:111111111111:parameter/stackfleet/x:2}}"),
            SecretSource::SsmSecure {
                name: "arn:aws:ssm:eu-west-1:111111111111:parameter/stackfleet/x".into(),
                version: Some(2)
            }
        );
        assert!(refused("{{resolve:ssm-secure:/x:latest}}").contains("not a number"));
        assert!(refused("{{resolve:ssm-secure:}}").contains("not an SSM parameter name"));
        assert!(refused("{{resolve:ssm-secure:/x:1:2}}").contains("parts after"));
    }

    #[test]
    fn secrets_manager_references_with_every_optional_part() {
        let arn = "arn:aws:secretsmanager:us-east-1:111111111111:secret:stackfleet/db-AbCdEf";
        assert_eq!(
            parsed(&format!("{{{{resolve:secretsmanager:{arn}}}}}")),
            SecretSource::SecretsManager {
                secret_id: arn.into(),
                json_key: None,
                version_stage: None,
                version_id: None
            }
        );
        assert_eq!(
            parsed("{{resolve:secretsmanager:stackfleet/db:SecretString:password:AWSPREVIOUS}}"),
            SecretSource::SecretsManager {
                secret_id: "stackfleet/db".into(),
                json_key: Some("password".into()),
                version_stage: Some("AWSPREVIOUS".into()),
                version_id: None
            }
        );
        assert_eq!(
            parsed(&format!("{{{{resolve:secretsmanager:{arn}::password::v-1}}}}")),
            SecretSource::SecretsManager {
                secret_id: arn.into(),
                json_key: Some("password".into()),
                version_stage: None,
                version_id: Some("v-1".into())
            }
        );
        assert!(refused("{{resolve:secretsmanager:db:SecretBinary}}").contains("only SecretString"));
        assert!(refused("{{resolve:secretsmanager:db:SecretString:k:AWSCURRENT:v-1}}").contains("not both"));
        assert!(refused("{{resolve:secretsmanager:db:SecretString:k:s:v:extra}}").contains("parts after"));
    }

    #[test]
    fn anything_else_that_looks_like_a_reference_is_refused_with_the_reason() {
        assert!(refused("{{resolve:ssm:/stackfleet/name}}").contains("plain String parameter"));
        assert!(refused("{{resolve:vault:x}}").contains("\"vault\" references"));
        assert!(refused("pre-{{resolve:ssm-secure:/x}}").contains("whole value"));
        assert!(refused("{{resolve:ssm-secure:/x}}-post").contains("whole value"));
        assert!(refused("{{resolve:ssm-secure:/x}}{{resolve:ssm-secure:/y}}").contains("whole value"));
    }

    #[test]
    fn a_secret_value_never_shows_in_debug() {
        let value = SecretValue::new("hunter2".into());
        assert_eq!(format!("{value:?}"), "SecretValue(****)");
        assert_eq!(value.expose(), "hunter2");
    }
}
