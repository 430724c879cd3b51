//! Sessions into many targets at once each keep the credentials of their one AssumeRole. The SDK
//! clients of one `SdkConfig` share its identity cache, which holds 64 credential providers and
//! evicts one at random beyond that: a session whose credentials were evicted assumed its role
//! again on its next call, so at concurrency above 64 most calls were preceded by an AssumeRole
//! (seen on moto: 386 AssumeRoles for 200 targets).

mod sts_answers;

use aws_sdk_cloudformation::config::IdentityCache;
use aws_sdk_cloudformation::operation::describe_stacks::DescribeStacksOutput;
use aws_sdk_cloudformation::Client as Cfn;
use aws_sdk_sts::Client as Sts;
use aws_smithy_mocks::{mock, mock_client, RuleMode};
use stackfleet_aws::StsAssumer;
use stackfleet_core::ports::{AssumeRequest, AssumeRole, StackOperations};
use stackfleet_core::spec::DeployRole;
use stackfleet_core::{RunId, Target};

#[tokio::test]
async fn a_hundred_sessions_in_flight_assume_their_roles_once_each() {
    let assume = mock!(Sts::assume_role).then_output(sts_answers::assumed);
    let describe = mock!(Cfn::describe_stacks).then_output(|| DescribeStacksOutput::builder().build());
    let sts = mock_client!(aws_sdk_sts, RuleMode::MatchAny, [&assume]);
    let cfn = mock_client!(aws_sdk_cloudformation, RuleMode::MatchAny, [&describe]);
    // As `aws_config::load` makes it: one lazy identity cache for every client of the config.
    let shared = cfn
        .config()
        .to_builder()
        .identity_cache(IdentityCache::lazy().build())
        .build();
    let assumer = StsAssumer::from_clients(sts, shared);
    let (run, role): (RunId, DeployRole) = ("run-1".parse().unwrap(), DeployRole::default());
    let targets: Vec<Target> = (1..=100)
        .map(|n| {
            format!("{:012}:eu-west-1", 100_000_000_000_u64 + n)
                .parse()
                .unwrap()
        })
        .collect();

    let mut sessions = Vec::new();
    for target in &targets {
        let request = AssumeRequest {
            target,
            role: &role,
            run: &run,
            session_duration_seconds: None,
            new_account: false,
        };
        sessions.push(assumer.assume(request).await.unwrap());
    }
    // Three looks each, taking turns, as a hundred targets in flight do.
    for _ in 0..3 {
        for session in &sessions {
            session.describe_stack("org-baseline").await.unwrap();
        }
    }

    assert_eq!(describe.num_calls(), 300);
    assert_eq!(assume.num_calls(), 100, "one AssumeRole per session");
}
