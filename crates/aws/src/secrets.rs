//! SSM Parameter Store and Secrets Manager behind core's `Secrets` port: one read per reference,
//! in the caller's account. The values stay in memory: the SDK's own `Debug` of both answers
//! redacts them, and nothing here logs.

use aws_config::SdkConfig;
use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError;
use aws_sdk_ssm::operation::get_parameter::GetParameterError;
use stackfleet_core::ports::{PortError, PortResult, Secrets};
use stackfleet_core::secrets::{SecretRef, SecretSource, SecretValue};

use crate::errors::classify;

#[derive(Debug, Clone)]
pub struct AwsSecrets {
    ssm: aws_sdk_ssm::Client,
    secrets_manager: aws_sdk_secretsmanager::Client,
}

impl AwsSecrets {
    pub fn new(ssm: aws_sdk_ssm::Client, secrets_manager: aws_sdk_secretsmanager::Client) -> Self {
        Self { ssm, secrets_manager }
    }

    /// In the caller's own account and region.
    pub fn from_config(config: &SdkConfig) -> Self {
        Self::new(
            aws_sdk_ssm::Client::new(config),
            aws_sdk_secretsmanager::Client::new(config),
        )
    }

    async fn parameter(&self, name: &str, version: Option<u64>) -> PortResult<Option<SecretValue>> {
        // GetParameter takes a version as a selector after the name.
        let selector = match version {
            Some(version) => format!("{name}:{version}"),
            None => name.to_owned(),
        };
        let answer = self
            .ssm
            .get_parameter()
            .name(selector)
            .with_decryption(true)
            .send()
            .await;
        match answer {
            Ok(answer) => Ok(answer
                .parameter()
                .and_then(|p| p.value())
                .map(|value| SecretValue::new(value.to_owned()))),
            Err(error) => match error.as_service_error() {
                Some(
                    GetParameterError::ParameterNotFound(_) | GetParameterError::ParameterVersionNotFound(_),
                ) => Ok(None),
                _ => Err(classify(&error)),
            },
        }
    }

    async fn secret(
        &self,
        secret_id: &str,
        version_stage: Option<&str>,
        version_id: Option<&str>,
    ) -> PortResult<Option<SecretValue>> {
        let answer = self
            .secrets_manager
            .get_secret_value()
            .secret_id(secret_id)
            .set_version_stage(version_stage.map(str::to_owned))
            .set_version_id(version_id.map(str::to_owned))
            .send()
            .await;
        match answer {
            Ok(answer) => match answer.secret_string() {
                Some(text) => Ok(Some(SecretValue::new(text.to_owned()))),
                None => Err(PortError::Rejected {
                    code: "SecretBinary".into(),
                    message: format!(
                        "secret {secret_id} holds a SecretBinary; a parameter takes a SecretString"
                    ),
                }),
            },
            Err(error) => match error.as_service_error() {
                Some(GetSecretValueError::ResourceNotFoundException(_)) => Ok(None),
                _ => Err(classify(&error)),
            },
        }
    }
}

impl Secrets for AwsSecrets {
    async fn read(&self, reference: &SecretRef) -> PortResult<Option<SecretValue>> {
        match &reference.source {
            SecretSource::SsmSecure { name, version } => self.parameter(name, *version).await,
            SecretSource::SecretsManager {
                secret_id,
                version_stage,
                version_id,
                ..
            } => {
                self.secret(secret_id, version_stage.as_deref(), version_id.as_deref())
                    .await
            }
        }
    }
}
