//! The one place that builds an `SdkConfig`: region, profile, endpoint override and retry policy
//! are decided here, and nothing else calls `aws_config::load`.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};

/// How the SDK retries before a throttle or a 5xx reaches the lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryMode {
    Standard,
    /// Client-side rate limiting on top of retries: kinder to APIs throttled per account.
    Adaptive,
}

/// How long one AWS call may take, so that a connection or an answer that stalls ends as an
/// error (a transport error, which every caller retries as a passing cause) instead of hanging
/// a run, or running a Lambda into its own timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// To open a TCP and TLS connection.
    pub connect: Duration,
    /// Between two reads of an answer.
    pub read: Duration,
    /// One attempt, from sending to the whole answer.
    pub attempt: Duration,
    /// The whole call, its retries included.
    pub operation: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        // Every call stackfleet makes answers in seconds (S3 objects are small: records and
        // templates up to 1 MB); an attempt past 30 s is stalled, and the retries of a
        // throttled call stay within 2 minutes before the lifecycle's own backoff takes over.
        Self {
            connect: Duration::from_millis(3100),
            read: Duration::from_secs(20),
            attempt: Duration::from_secs(30),
            operation: Duration::from_secs(120),
        }
    }
}

impl Timeouts {
    pub fn config(&self) -> TimeoutConfig {
        TimeoutConfig::builder()
            .connect_timeout(self.connect)
            .read_timeout(self.read)
            .operation_attempt_timeout(self.attempt)
            .operation_timeout(self.operation)
            .build()
    }
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
    pub timeouts: Timeouts,
}

impl Default for AwsSettings {
    fn default() -> Self {
        Self {
            region: None,
            profile: None,
            endpoint_url: None,
            retry_mode: RetryMode::Adaptive,
            max_attempts: 8,
            timeouts: Timeouts::default(),
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
        let mut loader =
            aws_config::defaults(BehaviorVersion::latest()).timeout_config(self.timeouts.config());
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
        let timeouts = config.timeout_config().unwrap();
        assert_eq!(timeouts.connect_timeout(), Some(Duration::from_millis(3100)));
        assert_eq!(
            timeouts.operation_attempt_timeout(),
            Some(Duration::from_secs(30))
        );
    }
}
