//! SDK adapters for the ports of `stackfleet-core`, and the one place that builds `SdkConfig`.
//! With the `test-util` feature: in-memory fakes of the same ports.

pub mod cloudformation;
pub mod config;
mod errors;
pub mod operator;
pub mod organizations;
pub mod s3;
pub mod sfn;
pub mod sts;

#[cfg(feature = "test-util")]
pub mod fake;

pub use cloudformation::CfnStacks;
pub use config::{AwsSettings, RetryMode};
pub use organizations::OrgClient;
pub use s3::S3Store;
pub use sfn::Executions;
pub use sts::StsAssumer;
