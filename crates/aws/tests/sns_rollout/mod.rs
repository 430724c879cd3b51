//! The rollout the runner's fakes tests share: one SNS topic, `org-baseline`, in numbered
//! accounts of eu-west-1.

use stackfleet_core::spec::{TemplateBody, TemplateSource};
use stackfleet_core::{RolloutSpec, Target};

pub fn spec() -> RolloutSpec {
    let body = TemplateBody::parse(r#"{"Resources":{"Topic":{"Type":"AWS::SNS::Topic"}}}"#.into()).unwrap();
    RolloutSpec::new("org-baseline".parse().unwrap(), TemplateSource::Body(body))
}

/// Accounts 000000000001 to `count`, in eu-west-1.
pub fn targets(count: u64) -> Vec<Target> {
    (1..=count)
        .map(|n| format!("{n:012}:eu-west-1").parse().unwrap())
        .collect()
}
