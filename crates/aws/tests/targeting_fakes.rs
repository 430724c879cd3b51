//! Targeting against a fake Organization: paging through empty pages, throttling, suspended
//! accounts, OU recursion, tags and exclusions.

use stackfleet_aws::fake::{FakeOrganization, ROOT};
use stackfleet_core::ports::Organization;
use stackfleet_core::remembered::Remembered;
use stackfleet_core::targeting::{admit, resolve, within_scope, Scope, Selection, TargetingError};
use stackfleet_core::{AccountId, OutcomeKind, Region, Target};

fn id(n: u64) -> AccountId {
    format!("{n:012}").parse().unwrap()
}

fn regions(names: &[&str]) -> Vec<Region> {
    names.iter().map(|r| r.parse().unwrap()).collect()
}

/// management 1; ou-prod (2, 3 suspended, child ou-prod-eu: 4, 5 pending closure); ou-dev (6, 7).
fn organization() -> FakeOrganization {
    let org = FakeOrganization::new(&id(1));
    org.add_ou("ou-root-prod0000", ROOT);
    org.add_ou("ou-root-prodeu00", "ou-root-prod0000");
    org.add_ou("ou-root-dev00000", ROOT);
    org.add_account(&id(2), "prod-a", "ACTIVE", "ou-root-prod0000");
    org.add_account(&id(3), "prod-old", "SUSPENDED", "ou-root-prod0000");
    org.add_account(&id(4), "prod-eu", "ACTIVE", "ou-root-prodeu00");
    org.add_account(&id(5), "prod-gone", "PENDING_CLOSURE", "ou-root-prodeu00");
    org.add_account(&id(6), "dev-a", "ACTIVE", "ou-root-dev00000");
    org.add_account(&id(7), "dev-b", "ACTIVE", "ou-root-dev00000");
    org.tag(&id(2), "tier", "critical");
    org.tag(&id(6), "tier", "critical");
    org.tag(&id(6), "team", "sec");
    org
}

fn accounts(targets: &[Target]) -> Vec<u64> {
    let mut ids: Vec<u64> = targets
        .iter()
        .map(|t| t.account.as_str().parse().unwrap())
        .collect();
    ids.dedup();
    ids
}

#[tokio::test(start_paused = true)]
async fn every_active_member_through_empty_pages_and_throttling() {
    let org = organization();
    org.with_empty_pages(2);
    org.throttle(3);
    let selection = Selection {
        regions: regions(&["us-east-1", "eu-west-1"]),
        ..Selection::default()
    };

    let resolved = resolve(&org, &selection).await.unwrap();

    assert_eq!(accounts(&resolved.targets), vec![2, 4, 6, 7]);
    assert_eq!(resolved.targets.len(), 8, "four accounts in two regions");
    let skipped: Vec<(u64, String)> = resolved
        .skipped
        .iter()
        .filter(|o| o.target.region.as_str() == "us-east-1")
        .map(|o| {
            assert_eq!(o.kind(), OutcomeKind::Skipped);
            (
                o.target.account.as_str().parse().unwrap(),
                o.skipped_reason().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(skipped.len(), 3, "{skipped:?}");
    assert!(skipped.contains(&(
        1,
        "the management account (pass --include-management-account to deploy to it)".into()
    )));
    assert!(skipped.contains(&(3, "account is SUSPENDED".into())));
    assert!(skipped.contains(&(5, "account is PENDING_CLOSURE".into())));
}

#[tokio::test(start_paused = true)]
async fn an_ou_includes_its_child_ous_and_filters_narrow_it() {
    let org = organization();
    let mut selection = Selection {
        ous: vec!["ou-root-prod0000".into()],
        regions: regions(&["us-east-1"]),
        ..Selection::default()
    };
    assert_eq!(
        accounts(&resolve(&org, &selection).await.unwrap().targets),
        vec![2, 4]
    );

    selection.ous.push("ou-root-dev00000".into());
    selection.exclude = vec![id(4)];
    assert_eq!(
        accounts(&resolve(&org, &selection).await.unwrap().targets),
        vec![2, 6, 7]
    );

    selection.tag_filters = vec![("tier".into(), "critical".into())];
    assert_eq!(
        accounts(&resolve(&org, &selection).await.unwrap().targets),
        vec![2, 6]
    );

    selection.tag_filters.push(("team".into(), "sec".into()));
    assert_eq!(
        accounts(&resolve(&org, &selection).await.unwrap().targets),
        vec![6]
    );
}

#[tokio::test(start_paused = true)]
async fn named_accounts_and_the_management_account_on_request() {
    let org = organization();
    let selection = Selection {
        accounts: vec![id(1), id(7), id(3)],
        include_management_account: true,
        regions: regions(&["us-east-1"]),
        ..Selection::default()
    };
    let resolved = resolve(&org, &selection).await.unwrap();
    assert_eq!(accounts(&resolved.targets), vec![1, 7]);
    assert_eq!(
        resolved.skipped.len(),
        1,
        "the suspended one, by name or not, is not attempted"
    );
}

#[tokio::test(start_paused = true)]
async fn unknown_ous_and_accounts_are_refused() {
    let org = organization();
    let base = Selection {
        regions: regions(&["us-east-1"]),
        ..Selection::default()
    };

    let unknown_ou = Selection {
        ous: vec!["ou-root-nothere0".into()],
        ..base.clone()
    };
    assert_eq!(
        resolve(&org, &unknown_ou).await,
        Err(TargetingError::UnknownOu("ou-root-nothere0".into()))
    );

    let malformed = Selection {
        ous: vec!["Prod".into()],
        ..base.clone()
    };
    let calls_before = org.calls();
    let error = resolve(&org, &malformed).await.unwrap_err();
    assert_eq!(error, TargetingError::MalformedOu("Prod".into()));
    assert_eq!(
        org.calls(),
        calls_before,
        "a malformed OU is refused before any call"
    );

    let stranger = Selection {
        accounts: vec![id(99)],
        ..base.clone()
    };
    assert_eq!(
        resolve(&org, &stranger).await,
        Err(TargetingError::UnknownAccount(id(99)))
    );

    let nowhere = Selection {
        regions: Vec::new(),
        ..base
    };
    assert_eq!(resolve(&org, &nowhere).await, Err(TargetingError::NoRegions));
}

#[tokio::test(start_paused = true)]
async fn throttling_that_does_not_pass_is_an_error() {
    let org = organization();
    org.throttle(100);
    let selection = Selection {
        regions: regions(&["us-east-1"]),
        ..Selection::default()
    };
    let error = resolve(&org, &selection).await.unwrap_err();
    assert!(
        matches!(
            error,
            TargetingError::Aws(stackfleet_core::ports::PortError::Throttled(_))
        ),
        "{error}"
    );
}

fn listed(accounts: &[u64]) -> Vec<Target> {
    accounts
        .iter()
        .map(|n| Target::new(id(*n), "eu-west-1".parse().unwrap()))
        .collect()
}

/// A re-run's or an edited report's exact list is held to what the selection would have found:
/// every account it may not deploy to is reported Skipped with the reason, and only the rest is
/// left to deploy.
#[tokio::test(start_paused = true)]
async fn an_exact_list_is_held_to_the_organization_and_the_selection() {
    let org = organization();
    let selection = Selection {
        exclude: vec![id(7)],
        ..Selection::default()
    };
    let list = listed(&[2, 99, 3, 1, 7, 6, 2, 5]);

    let admitted = admit(&org, &selection, &list).await.unwrap();
    assert_eq!(
        org.calls(),
        7,
        "a short list: each account described once (DescribeAccount)"
    );

    assert_eq!(
        admitted.targets,
        listed(&[2, 6]),
        "in order, the duplicate dropped"
    );
    let skipped: Vec<(u64, &str)> = admitted
        .skipped
        .iter()
        .map(|o| {
            assert_eq!(o.kind(), OutcomeKind::Skipped);
            assert_eq!(o.target.region.as_str(), "eu-west-1", "the listed region");
            (
                o.target.account.as_str().parse().unwrap(),
                o.skipped_reason().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        skipped,
        vec![
            (99, "the account is not a member of this Organization"),
            (3, "account is SUSPENDED"),
            (
                1,
                "the management account (pass --include-management-account to deploy to it)"
            ),
            (7, "the account is excluded (targets.exclude)"),
            (5, "account is PENDING_CLOSURE"),
        ]
    );

    let opted_in = Selection {
        include_management_account: true,
        tag_filters: vec![("tier".into(), "critical".into())],
        ..Selection::default()
    };
    let admitted = admit(&org, &opted_in, &listed(&[1, 2, 4])).await.unwrap();
    assert_eq!(
        admitted.targets,
        listed(&[2]),
        "the management account carries no tier tag"
    );
    let reasons: Vec<&str> = admitted
        .skipped
        .iter()
        .map(|o| o.skipped_reason().unwrap())
        .collect();
    assert_eq!(
        reasons,
        vec!["the account does not carry the tags tier=critical"; 2]
    );
}

#[tokio::test(start_paused = true)]
async fn an_empty_list_asks_nothing_of_the_organization() {
    let org = organization();
    let calls = org.calls();
    let admitted = admit(&org, &Selection::default(), &[]).await.unwrap();
    assert_eq!(admitted.targets, Vec::<Target>::new());
    assert_eq!(org.calls(), calls);
}

/// One run asks each question of Organizations once: the input's targets, the default spec's
/// scope, the waves' OUs and an explicit list's check all read the same answers.
#[tokio::test(start_paused = true)]
async fn a_run_reads_the_organization_once_however_many_parts_ask() {
    let selection = Selection {
        ous: vec!["ou-root-prod0000".into(), "ou-root-dev00000".into()],
        tag_filters: vec![("tier".into(), "critical".into())],
        regions: regions(&["us-east-1"]),
        ..Selection::default()
    };
    let scope = Scope::Selection(selection.clone());
    // What Discover asks: the input's targets, then the scope, then the list's check.
    async fn every_part<O: Organization>(org: &O, selection: &Selection, scope: &Scope) -> Vec<Target> {
        let found = resolve(org, selection).await.unwrap();
        let (inside, outside) = within_scope(org, scope, found.targets.clone()).await.unwrap();
        assert_eq!((&inside, outside.len()), (&found.targets, 0));
        admit(org, selection, &found.targets).await.unwrap().targets
    }

    let alone = organization();
    let found = every_part(&alone, &selection, &scope).await;
    let org = organization();
    let remembered = Remembered::new(&org);
    assert_eq!(every_part(&remembered, &selection, &scope).await, found);
    let once = org.calls();
    assert!(
        once < alone.calls(),
        "{once} calls remembered, {} without",
        alone.calls()
    );
    assert_eq!(every_part(&remembered, &selection, &scope).await, found);
    assert_eq!(org.calls(), once, "nothing asked twice");
}
