//! AssumeRole into a target, and a CloudFormation session that renews its own credentials for
//! operations that outlast them.

use std::sync::Mutex;
use std::time::SystemTime;

use aws_config::{Region, SdkConfig};
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{future, ProvideCredentials, SharedCredentialsProvider};
use aws_credential_types::Credentials;
use aws_sdk_cloudformation::config::IdentityCache;
use stackfleet_core::ids::RunId;
use stackfleet_core::ports::{AssumeRequest, AssumeRole, PortError, PortResult};

use crate::cloudformation::CfnStacks;
use crate::errors::classify;
use crate::iam::IamNames;

/// RoleSessionName for a run: `stackfleet-<run>`, in the characters and length STS accepts, so
/// that CloudTrail in every target says which rollout acted.
pub fn role_session_name(run: &RunId) -> String {
    let name: String = format!("stackfleet-{run}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "+=,.@_-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .take(64)
        .collect();
    name
}

/// What AssumeRole is called with, kept to call it again when credentials near expiry.
#[derive(Debug, Clone)]
struct AssumeParams {
    role_arn: String,
    session_name: String,
    external_id: Option<String>,
    duration_seconds: Option<i32>,
}

impl AssumeParams {
    async fn call(&self, sts: &aws_sdk_sts::Client) -> PortResult<Credentials> {
        let answer = sts
            .assume_role()
            .role_arn(&self.role_arn)
            .role_session_name(&self.session_name)
            .set_external_id(self.external_id.clone())
            .set_duration_seconds(self.duration_seconds)
            .send()
            .await
            .map_err(|e| classify(&e))?;
        let Some(issued) = answer.credentials() else {
            return Err(PortError::Transport(
                "AssumeRole answered without credentials".into(),
            ));
        };
        let expiry = SystemTime::try_from(*issued.expiration()).ok();
        Ok(Credentials::new(
            issued.access_key_id(),
            issued.secret_access_key(),
            Some(issued.session_token().to_owned()),
            expiry,
            "stackfleet-assume-role",
        ))
    }
}

/// Hands out the credentials of the first AssumeRole, then assumes again each time the SDK's
/// identity cache finds them near expiry. A role-chained session lasts an hour at most, and a
/// stack operation can take longer.
#[derive(Debug)]
struct RenewingCredentials {
    sts: aws_sdk_sts::Client,
    params: AssumeParams,
    first: Mutex<Option<Credentials>>,
}

impl ProvideCredentials for RenewingCredentials {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(async move {
            let first = self
                .first
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .take();
            if let Some(credentials) = first {
                return Ok(credentials);
            }
            self.params
                .call(&self.sts)
                .await
                .map_err(|e| CredentialsError::provider_error(Box::new(e)))
        })
    }
}

/// Opens CloudFormation sessions in targets through STS AssumeRole, with IAM's read-only
/// lookups on the same credentials.
#[derive(Debug, Clone)]
pub struct StsAssumer {
    sts: aws_sdk_sts::Client,
    /// Every session's client starts from this: endpoint, retry policy, HTTP client.
    cloudformation: aws_sdk_cloudformation::Config,
    /// Likewise for IAM (the pre-flight's name lookups); none: names are not looked up.
    iam: Option<aws_sdk_iam::Config>,
}

impl StsAssumer {
    pub fn new(config: &SdkConfig) -> Self {
        Self::from_clients(
            aws_sdk_sts::Client::new(config),
            aws_sdk_cloudformation::Config::from(config),
        )
        .with_iam(aws_sdk_iam::Config::from(config))
    }

    /// For tests: any STS client, and the CloudFormation configuration sessions derive from.
    pub fn from_clients(sts: aws_sdk_sts::Client, cloudformation: aws_sdk_cloudformation::Config) -> Self {
        Self {
            sts,
            cloudformation,
            iam: None,
        }
    }

    /// Sessions look names up in IAM through clients derived from this configuration.
    pub fn with_iam(self, iam: aws_sdk_iam::Config) -> Self {
        Self {
            iam: Some(iam),
            ..self
        }
    }
}

impl AssumeRole for StsAssumer {
    type Session = CfnStacks;

    async fn assume(&self, request: AssumeRequest<'_>) -> PortResult<CfnStacks> {
        let params = AssumeParams {
            role_arn: request.role.arn(request.target),
            session_name: role_session_name(request.run),
            external_id: request.role.external_id.clone(),
            duration_seconds: request
                .session_duration_seconds
                .map(|s| i32::try_from(s).unwrap_or(i32::MAX)),
        };
        let credentials = match params.call(&self.sts).await {
            Ok(credentials) => credentials,
            // A new account's role appears minutes after the account: until then STS denies.
            Err(PortError::AccessDenied(message)) if request.new_account => {
                return Err(PortError::AccountNotReady(format!(
                    "{message} (the account is new: its deploy role may not exist yet)"
                )))
            }
            Err(error) => return Err(error),
        };
        let provider = RenewingCredentials {
            sts: self.sts.clone(),
            params,
            first: Mutex::new(Some(credentials)),
        };
        // The session's own identity cache: the config's is shared by every client made from it
        // and keeps 64 providers, evicting one at random beyond that; an evicted session would
        // assume its role again on its next call (every call, at concurrency well above 64).
        let provider = SharedCredentialsProvider::new(provider);
        let cache = IdentityCache::lazy().build();
        let config = self
            .cloudformation
            .to_builder()
            .region(Region::new(request.target.region.to_string()))
            .identity_cache(cache.clone())
            .credentials_provider(provider.clone())
            .build();
        let stacks = CfnStacks::in_target(aws_sdk_cloudformation::Client::from_conf(config));
        // IAM shares the session's credentials and their cache: one AssumeRole serves both.
        Ok(match &self.iam {
            Some(iam) => {
                let config = iam
                    .to_builder()
                    .region(Region::new(request.target.region.to_string()))
                    .identity_cache(cache)
                    .credentials_provider(provider)
                    .build();
                stacks.with_iam(IamNames::new(aws_sdk_iam::Client::from_conf(config)))
            }
            None => stacks,
        })
    }
}

/// Who the caller is (GetCallerIdentity: no permission needed), as an approval records it.
pub async fn caller_arn(config: &SdkConfig) -> PortResult<String> {
    let answer = aws_sdk_sts::Client::new(config)
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| classify(&e))?;
    Ok(answer.arn().unwrap_or("unknown").to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_names_are_legal_and_name_the_run() {
        let run: RunId = "nightly-42".parse().unwrap();
        assert_eq!(role_session_name(&run), "stackfleet-nightly-42");
        let long = RunId::from_lossy(&"x".repeat(64));
        let name = role_session_name(&long);
        assert_eq!(name.len(), 64);
        assert!(name.starts_with("stackfleet-xxx"));
    }
}
