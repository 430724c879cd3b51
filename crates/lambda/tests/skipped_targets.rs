//! Targets the serverless path reports Skipped instead of deploying to. Explicit target lists
//! (`targets.list`, a console re-run, a resume's report) are held to the Organization at
//! Discover, as a found selection is: an account that is not a member, is excluded, suspended, or
//! the management account without the opt-in is reported Skipped with the reason and never
//! deployed to, whoever wrote the list. And a region the account has not enabled is Skipped by
//! the worker at once, not retried as "not ready".

mod support;

use std::time::Duration;

use serde_json::json;
use stackfleet_aws::fake::{Call, Script, ROOT};
use stackfleet_core::lifecycle::Clock;
use stackfleet_core::ports::{PortError, RunStore};
use stackfleet_core::{AccountId, OutcomeKind, Target};
use support::{account, target, Machine, TEMPLATE_URL};

const MANAGEMENT: &str = "999999999999";
const STRANGER: &str = "555555555555";

fn stranger() -> Target {
    format!("{STRANGER}:us-east-1").parse().unwrap()
}

fn management() -> Target {
    format!("{MANAGEMENT}:us-east-1").parse().unwrap()
}

/// Accounts 0-3 active, 4 suspended; the management account is a member too.
fn machine() -> Machine {
    let machine = Machine::new(4);
    machine
        .org
        .add_account(&account(4), "member-4", "SUSPENDED", ROOT);
    let management: AccountId = MANAGEMENT.parse().unwrap();
    machine.org.add_account(&management, "management", "ACTIVE", ROOT);
    machine
}

fn listing(targets: &[Target], exclude: &[AccountId]) -> serde_json::Value {
    json!({
        "stackName": "org-baseline",
        "template": {"url": TEMPLATE_URL},
        "targets": {"list": targets, "exclude": exclude},
        "concurrency": 5,
    })
}

#[tokio::test(start_paused = true)]
async fn a_listed_account_the_organization_does_not_allow_is_skipped_with_the_reason() {
    let machine = machine();
    let list = [
        target(0),
        stranger(),
        target(4),
        management(),
        target(2),
        target(1),
    ];

    let ended = machine.execute("listed", listing(&list, &[account(2)])).await;

    let report = machine.report(&ended.reduced).await;
    let skipped: Vec<(String, &str)> = report
        .outcomes
        .iter()
        .filter(|o| o.kind() == OutcomeKind::Skipped)
        .map(|o| (o.target.to_string(), o.skipped_reason().unwrap()))
        .collect();
    assert_eq!(
        skipped.len(),
        4,
        "the stranger, the suspended, the management and the excluded account: {skipped:?}"
    );
    for (skipped, why) in [
        (stranger(), "the account is not a member of this Organization"),
        (target(4), "account is SUSPENDED"),
        (
            management(),
            "the management account (pass --include-management-account to deploy to it)",
        ),
        (target(2), "the account is excluded (targets.exclude)"),
    ] {
        assert!(skipped_with(&report, &skipped, why), "{skipped}: {why}");
        assert!(!machine.touched(&skipped), "{skipped} was deployed to");
        assert_eq!(
            machine
                .cloud
                .assume_requests()
                .iter()
                .filter(|(t, ..)| t == &skipped)
                .count(),
            0
        );
    }
    for deployed in [target(0), target(1)] {
        assert!(machine.touched(&deployed), "{deployed}");
    }
    assert_eq!((report.summary.created, report.summary.skipped), (2, 4));
}

fn skipped_with(report: &stackfleet_core::report::Report, target: &Target, why: &str) -> bool {
    report
        .outcomes
        .iter()
        .any(|o| &o.target == target && o.skipped_reason() == Some(why))
}

/// A report in the run bucket names the targets a resume deploys: one edited to name an
/// outside account sends nothing there.
#[tokio::test(start_paused = true)]
async fn a_resume_of_an_edited_report_does_not_reach_an_account_outside_the_organization() {
    let machine = machine();
    machine.cloud.script(
        &target(3),
        [Script::fail_after(
            Duration::from_secs(30),
            "Role",
            "AWS::IAM::Role",
            "exists",
        )],
    );
    let first = machine
        .execute("first", listing(&[target(0), target(3)], &[]))
        .await;
    assert_eq!(first.reduced.summary.failed, 1);

    let key = first.reduced.report_key.clone();
    let report = machine.store.get(&key).await.unwrap().unwrap();
    assert!(report.contains(account(3).as_str()));
    let edited = report.replace(account(3).as_str(), STRANGER);
    machine.store.put(&key, edited, "application/json").await.unwrap();

    let input = machine.resume_input(&first.reduced).await;
    let resumed = machine.execute("resume", input).await;

    assert!(!machine.touched(&stranger()), "the stranger was deployed to");
    let report = machine.report(&resumed.reduced).await;
    assert!(
        skipped_with(
            &report,
            &stranger(),
            "not resumed: the account is not a member of this Organization"
        ),
        "{:?}",
        report.outcomes
    );
}

#[tokio::test(start_paused = true)]
async fn a_region_the_account_has_not_enabled_is_skipped_by_the_worker_at_once() {
    let machine = machine();
    let opt_in: Target = format!("{}:eu-south-2", account(1)).parse().unwrap();
    machine.cloud.fail_next(
        &opt_in,
        Call::DescribeStacks,
        PortError::RegionNotEnabled(
            "InvalidClientTokenId: The security token included in the request is invalid.".into(),
        ),
    );
    let started_at = machine.clock.now_ms();

    let ended = machine
        .execute("regions", listing(&[target(0), opt_in.clone()], &[]))
        .await;

    let report = machine.report(&ended.reduced).await;
    let outcome = report.outcomes.iter().find(|o| o.target == opt_in).unwrap();
    assert_eq!(outcome.kind(), OutcomeKind::Skipped, "{outcome:?}");
    assert!(
        outcome
            .skipped_reason()
            .unwrap()
            .starts_with("region not enabled: the account does not accept calls in eu-south-2"),
        "{outcome:?}"
    );
    assert_eq!((report.summary.created, report.summary.failed), (1, 0));
    assert_eq!(ended.reduced.halt, None, "a skipped target is no failure");
    assert!(
        machine.clock.now_ms() - started_at < 10 * 60 * 1000,
        "no retry as not ready (that took about 50 minutes)"
    );
}
