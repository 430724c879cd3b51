//! The lifecycle over real HTTP against moto: an Organization, AssumeRole into member accounts,
//! and stacks that land in the account whose role was assumed, and nowhere else.

mod support;

use aws_sdk_organizations::types::OrganizationFeatureSet;
use stackfleet_aws::{CfnStacks, StsAssumer};
use stackfleet_core::lifecycle::{run_target, DriveOptions, Job, TokioClock};
use stackfleet_core::ports::{AssumeRequest, AssumeRole, StackOperations};
use stackfleet_core::preflight::preflight;
use stackfleet_core::spec::{TemplateBody, TemplateSource};
use stackfleet_core::stack::StackStatus;
use stackfleet_core::{AccountId, OutcomeKind, RolloutSpec, RunId, Target};
use support::{Moto, MANAGEMENT_ACCOUNT, MARKER_TEMPLATE};

fn spec(env: &str) -> RolloutSpec {
    let body = TemplateBody::parse(MARKER_TEMPLATE.into()).unwrap();
    let mut spec = RolloutSpec::new("stackfleet-moto".parse().unwrap(), TemplateSource::Body(body));
    spec.parameters.insert("Env".into(), env.into());
    spec.poll_interval_seconds = 1;
    spec
}

async fn member_accounts(config: &aws_config::SdkConfig, count: usize) -> Vec<AccountId> {
    let organizations = aws_sdk_organizations::Client::new(config);
    organizations
        .create_organization()
        .feature_set(OrganizationFeatureSet::All)
        .send()
        .await
        .expect("create the organization");
    let mut accounts = Vec::new();
    for n in 0..count {
        let created = organizations
            .create_account()
            .account_name(format!("member-{n}"))
            .email(format!("member-{n}@example.com"))
            .send()
            .await
            .expect("create an account");
        let id = created
            .create_account_status()
            .and_then(|s| s.account_id())
            .expect("an account ID");
        accounts.push(id.parse().expect("moto gives 12-digit account IDs"));
    }
    accounts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stacks_are_created_updated_and_left_alone_in_their_own_accounts() {
    let moto = Moto::start();
    let config = moto.sdk_config().await;
    let accounts = member_accounts(&config, 3).await;
    let (deployed, untouched) = (&accounts[..2], &accounts[2]);
    let assumer = StsAssumer::new(&config);
    let clock = TokioClock::new();
    let run: RunId = "moto-1".parse().unwrap();

    preflight(&CfnStacks::from_config(&config), &spec("dev"))
        .await
        .expect("moto validates the template");

    for account in deployed {
        let target = Target::new(account.clone(), "us-east-1".parse().unwrap());
        let mut kinds = Vec::new();
        for env in ["dev", "prod", "prod"] {
            let spec = spec(env);
            let job = Job {
                target: &target,
                spec: &spec,
                run: &run,
                new_account: false,
            };
            let outcome = run_target(&assumer, &job, &clock, DriveOptions::default()).await;
            assert!(outcome.failure().is_none(), "{outcome:?}");
            kinds.push(outcome.kind());
        }
        // moto 5.2.1 refuses the no-op update as CloudFormation does ("No updates are to be
        // performed"), whatever ARCHITECTURE.md recorded of earlier moto 5 releases.
        assert_eq!(
            kinds,
            [OutcomeKind::Created, OutcomeKind::Updated, OutcomeKind::Unchanged],
            "{account}"
        );
    }

    let run = "read-back".parse().unwrap();
    let spec = spec("prod");
    for account in &accounts {
        let target = Target::new(account.clone(), "us-east-1".parse().unwrap());
        let request = AssumeRequest {
            target: &target,
            role: &spec.deploy_role,
            run: &run,
            session_duration_seconds: None,
            new_account: false,
        };
        let session = assumer
            .assume(request)
            .await
            .expect("assume into the member account");
        let found = session.describe_stack("stackfleet-moto").await.expect("describe");
        if account == untouched {
            assert_eq!(found, None, "nothing was deployed to {account}");
        } else {
            let stack = found.unwrap_or_else(|| panic!("the stack exists in {account}"));
            assert_eq!(stack.status, StackStatus::UpdateComplete);
            assert!(
                stack.stack_id.contains(account.as_str()),
                "{} is in {account}",
                stack.stack_id
            );
        }
    }
    let management = CfnStacks::from_config(&config)
        .describe_stack("stackfleet-moto")
        .await
        .expect("describe");
    assert_eq!(
        management, None,
        "the management account {MANAGEMENT_ACCOUNT} has no stack"
    );
}
