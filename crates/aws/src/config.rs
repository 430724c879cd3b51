//! The one place that builds an `SdkConfig`: region, profile, endpoint override and retry policy
//! are decided here, and nothing else calls `aws_config::load`.

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};

/// How the SDK retries before a throttle or a 5xx reaches the lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryMode {
    Standard,
    /// Client-side rate limiting on top of retries: kinder to APIs throttled per account.
    Adaptive,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsSettings {
    /// Falls back to the default chain (`AWS_REGION`, the profile), then to `us-east-1`.
    pub region: Option<String>,
    pub profile: Option<String>,
    /// Every service at this URL: a local emulator, a VPC endpoint. `AWS_ENDPOINT_URL` also works.
    pub endpoint_url: Option<String>,
    pub retry_mode: RetryMode,
    pub max_attempts: u32,
}

impl Default for AwsSettings {
    fn default() -> Self {
        Self {
            region: None,
            profile: None,
            endpoint_url: None,
            retry_mode: RetryMode::Adaptive,
            max_attempts: 8,
        }
    }
}

impl AwsSettings {
    pub fn retry_config(&self) -> RetryConfig {
        let retry = match self.retry_mode {
            RetryMode::Standard => RetryConfig::standard(),
            RetryMode::Adaptive => RetryConfig::adaptive(),
        };
        retry.with_max_attempts(self.max_attempts)
    }

    /// Loads the configuration every client of a process shares.
    pub async fn sdk_config(&self) -> SdkConfig {
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        // The SDK's own AWS_MAX_ATTEMPTS and AWS_RETRY_MODE still win, as a user of any AWS tool
        // expects; stackfleet's default is only for when neither is set.
        let retry_from_environment = ["AWS_MAX_ATTEMPTS", "AWS_RETRY_MODE"]
            .iter()
            .any(|name| std::env::var_os(name).is_some());
        if !retry_from_environment {
            loader = loader.retry_config(self.retry_config());
        }
        if let Some(profile) = &self.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(endpoint) = &self.endpoint_url {
            loader = loader.endpoint_url(endpoint);
        }
        if let Some(region) = &self.region {
            loader = loader.region(Region::new(region.clone()));
        }
        let config = loader.load().await;
        if config.region().is_some() {
            return config;
        }
        // Organizations and STS answer from us-east-1 by default; a user with no region set
        // anywhere still gets a working run rather than an error from every call.
        config
            .into_builder()
            .region(Region::from_static("us-east-1"))
            .build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn settings_reach_the_config() {
        let settings = AwsSettings {
            region: Some("eu-west-1".into()),
            endpoint_url: Some("http://127.0.0.1:5000".into()),
            retry_mode: RetryMode::Standard,
            max_attempts: 4,
            ..AwsSettings::default()
        };
        let config = settings.sdk_config().await;
        assert_eq!(config.region().map(Region::as_ref), Some("eu-west-1"));
        assert_eq!(config.endpoint_url(), Some("http://127.0.0.1:5000"));
        assert_eq!(config.retry_config().map(RetryConfig::max_attempts), Some(4));
    }
}
