//! SDK adapters for the ports of `stackfleet-core`, and the one place that builds `SdkConfig`.
//! With the `test-util` feature: in-memory fakes of the same ports; with `operator`, the Step
//! Functions side of the operator commands.

pub mod cloudformation;
pub mod cloudwatch;
pub mod config;
mod errors;
pub mod iam;
pub mod logs;
pub mod organizations;
pub mod s3;
pub mod secrets;
#[cfg(feature = "operator")]
pub mod sfn;
pub mod sts;

#[cfg(feature = "test-util")]
pub mod fake;

pub use cloudformation::CfnStacks;
pub use cloudwatch::CloudWatchAlarms;
pub use config::{AwsSettings, RetryMode, Timeouts};
pub use iam::IamNames;
pub use organizations::OrgClient;
pub use s3::{S3Store, S3Templates};
pub use secrets::AwsSecrets;
#[cfg(feature = "operator")]
pub use sfn::SfnExecutions;
pub use sts::StsAssumer;
