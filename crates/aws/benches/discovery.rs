//! Organizations economy: what discovering targets costs in calls to Organizations, and so in
//! time at its request rates, over a fake Organization of 5,000 accounts in 100 OUs (10 OUs
//! under the root, 9 child OUs under each; 50 accounts in each OU; a third tagged
//! `tier=critical`), answering 20 items a page as Organizations does.
//!
//! Organizations is throttled per caller account, at a few requests a second (its quotas page
//! gives ListRoots 1 a second, burst 2); the times below are the calls at 1, 5 and 10 a second,
//! one at a time, which is how a rate-limited caller spends them.

use std::collections::BTreeMap;
use std::sync::Mutex;

use stackfleet_aws::fake::{FakeOrganization, ROOT};
use stackfleet_core::ports::{OrgAccount, Organization, Page, PortResult};
use stackfleet_core::remembered::Remembered;
use stackfleet_core::targeting::{admit, resolve, wave_choices, within_scope, Scope, Selection};
use stackfleet_core::waves::WaveSpec;
use stackfleet_core::{AccountId, Region, Target};

const TOP_OUS: usize = 10;
const CHILDREN: usize = 9;
const PER_OU: usize = 50;

/// Counts each API's calls.
#[derive(Default)]
struct Metered<O> {
    org: O,
    calls: Mutex<BTreeMap<&'static str, usize>>,
}

impl<O> Metered<O> {
    fn count(&self, api: &'static str) {
        *self.calls.lock().unwrap().entry(api).or_default() += 1;
    }

    fn taken(&self) -> BTreeMap<&'static str, usize> {
        std::mem::take(&mut *self.calls.lock().unwrap())
    }
}

impl<O: Organization> Organization for Metered<O> {
    async fn management_account(&self) -> PortResult<AccountId> {
        self.count("DescribeOrganization");
        self.org.management_account().await
    }

    async fn list_accounts(&self, page: Option<&str>) -> PortResult<Page<OrgAccount>> {
        self.count("ListAccounts");
        self.org.list_accounts(page).await
    }

    async fn describe_account(&self, account: &AccountId) -> PortResult<Option<OrgAccount>> {
        self.count("DescribeAccount");
        self.org.describe_account(account).await
    }

    async fn list_accounts_for_parent(
        &self,
        parent: &str,
        page: Option<&str>,
    ) -> PortResult<Page<OrgAccount>> {
        self.count("ListAccountsForParent");
        self.org.list_accounts_for_parent(parent, page).await
    }

    async fn list_child_ous(&self, parent: &str, page: Option<&str>) -> PortResult<Page<String>> {
        self.count("ListOrganizationalUnitsForParent");
        self.org.list_child_ous(parent, page).await
    }

    async fn list_account_tags(
        &self,
        account: &AccountId,
        page: Option<&str>,
    ) -> PortResult<Page<(String, String)>> {
        self.count("ListTagsForResource");
        self.org.list_account_tags(account, page).await
    }
}

fn ou(top: usize, child: Option<usize>) -> String {
    match child {
        None => format!("ou-ab12-top{top:05}"),
        Some(child) => format!("ou-ab12-c{top:02}x{child:04}"),
    }
}

fn organization() -> FakeOrganization {
    let org = FakeOrganization::new(&"999999999999".parse().unwrap());
    org.with_page_size(20);
    let mut n = 0u64;
    for top in 0..TOP_OUS {
        org.add_ou(&ou(top, None), ROOT);
        let parents = std::iter::once(ou(top, None))
            .chain((0..CHILDREN).map(|child| {
                org.add_ou(&ou(top, Some(child)), &ou(top, None));
                ou(top, Some(child))
            }))
            .collect::<Vec<_>>();
        for parent in parents {
            for _ in 0..PER_OU {
                let id: AccountId = format!("{:012}", 100_000_000_000 + n).parse().unwrap();
                org.add_account(&id, &format!("member-{n}"), "ACTIVE", &parent);
                if n.is_multiple_of(3) {
                    org.tag(&id, "tier", "critical");
                }
                n += 1;
            }
        }
    }
    org
}

fn selection(ous: Vec<String>) -> Selection {
    Selection {
        ous,
        tag_filters: vec![("tier".into(), "critical".into())],
        regions: vec!["us-east-1".parse::<Region>().unwrap()],
        ..Selection::default()
    }
}

/// Discover of a bounded run, as the lister does it: the input's targets, the stored default's
/// scope over them, the waves' OUs.
async fn discover<O: Organization>(org: &O, input: &Selection, scope: &Scope, waves: &[WaveSpec]) -> usize {
    let found = resolve(org, input).await.unwrap();
    let (inside, _) = within_scope(org, scope, found.targets).await.unwrap();
    wave_choices(org, waves).await.unwrap();
    inside.len()
}

fn row(what: &str, targets: usize, calls: &BTreeMap<&'static str, usize>) {
    let total: usize = calls.values().sum();
    let by_api: Vec<String> = calls.iter().map(|(api, n)| format!("{api} {n}")).collect();
    let time = |rate: f64| {
        let seconds = total as f64 / rate;
        if seconds >= 60.0 {
            format!("{:.1} min", seconds / 60.0)
        } else {
            format!("{seconds:.0} s")
        }
    };
    println!(
        "| {what} | {targets} | {total} | {} | {} | {} | {} |",
        time(1.0),
        time(5.0),
        time(10.0),
        by_api.join(", ")
    );
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let org = Metered {
        org: organization(),
        calls: Mutex::default(),
    };
    let accounts = TOP_OUS * (1 + CHILDREN) * PER_OU;
    println!(
        "\nOrganizations economy: {accounts} accounts in {} OUs, tag filter tier=critical (a third carry it); 20 items a page",
        TOP_OUS * (1 + CHILDREN)
    );
    println!("| discovery | targets | calls | at 1/s | at 5/s | at 10/s | calls by API |");
    println!("|---|---|---|---|---|---|---|");

    let everything = selection(Vec::new());
    let found = resolve(&org, &everything).await.unwrap();
    row(
        "whole Organization, tag filter",
        found.targets.len(),
        &org.taken(),
    );

    let two_trees = selection(vec![ou(0, None), ou(1, None)]);
    let found = resolve(&org, &two_trees).await.unwrap();
    row(
        "2 OU trees (20 OUs, 1,000 accounts), tag filter",
        found.targets.len(),
        &org.taken(),
    );

    // A bounded Discover: the input narrows to 2 OU trees, the stored default allows the whole
    // Organization with the tag filter, the canary wave is one OU.
    let scope = Scope::Selection(everything.clone());
    let waves: Vec<WaveSpec> = serde_json::from_value(serde_json::json!([
        {"name": "canary", "ous": [ou(0, Some(0))]}, {"percent": 100}
    ]))
    .unwrap();
    let inside = discover(&org, &two_trees, &scope, &waves).await;
    row("Discover, each part asking for itself", inside, &org.taken());
    let inside = discover(&Remembered::new(&org), &two_trees, &scope, &waves).await;
    row("Discover, the run's answers remembered", inside, &org.taken());

    // A re-run or resume of failed targets: the list held to the Organization, each account
    // described when the list is short, the whole Organization listed when it is long.
    for failures in [20, 100] {
        let failed: Vec<Target> = found.targets.iter().take(failures).cloned().collect();
        let admitted = admit(&org, &everything, &failed).await.unwrap();
        let what = format!("re-run of {failures} listed targets, checked");
        row(&what, admitted.targets.len(), &org.taken());
    }
}
