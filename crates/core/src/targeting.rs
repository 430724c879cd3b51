//! Which targets a rollout touches: accounts from the Organization, narrowed by OU, tag and
//! exclusion, times regions. Accounts that cannot be deployed to are reported, never attempted.

use std::collections::{BTreeMap, BTreeSet};

use futures::stream::{self, StreamExt, TryStreamExt};

use crate::ids::{AccountId, Region, Target};
use crate::outcome::Outcome;
use crate::ports::{all_pages, patiently, OrgAccount, Organization, PortError, PortResult};

/// What the user asked for. Empty `accounts` and `ous` mean the whole Organization.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    pub accounts: Vec<AccountId>,
    /// Root (`r-...`) or OU (`ou-...`) IDs; their child OUs are included.
    pub ous: Vec<String>,
    /// Every filter must match an account's tags.
    pub tag_filters: Vec<(String, String)>,
    pub exclude: Vec<AccountId>,
    pub include_management_account: bool,
    pub regions: Vec<Region>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetingError {
    #[error("no region to deploy to: pass --regions (or --region)")]
    NoRegions,
    #[error("{0:?} is not an OU or root ID (ou-xxxx-xxxxxxxx or r-xxxx)")]
    MalformedOu(String),
    #[error("OU {0} does not exist in this Organization")]
    UnknownOu(String),
    #[error("account {0} is not a member of this Organization")]
    UnknownAccount(AccountId),
    #[error("could not read the Organization: {0}")]
    Aws(#[from] PortError),
}

/// The targets to deploy to, and the ones reported as Skipped with their reason.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resolution {
    pub targets: Vec<Target>,
    pub skipped: Vec<Outcome>,
}

/// ListTagsForResource calls in flight at once when filtering by tag.
const TAG_LOOKUPS_IN_FLIGHT: usize = 4;

fn is_ou_id(id: &str) -> bool {
    let ok = |part: &str, range: std::ops::RangeInclusive<usize>| {
        range.contains(&part.len()) && part.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    };
    match id.split('-').collect::<Vec<_>>().as_slice() {
        ["r", root] => ok(root, 4..=32),
        ["ou", root, ou] => ok(root, 4..=32) && ok(ou, 8..=32),
        _ => false,
    }
}

async fn accounts_under<O: Organization>(org: &O, ou: &str) -> Result<Vec<OrgAccount>, TargetingError> {
    let unknown = |error: PortError| match &error {
        PortError::Rejected { code, .. } if code == "ParentNotFoundException" => {
            TargetingError::UnknownOu(ou.into())
        }
        _ => TargetingError::Aws(error),
    };
    let mut accounts = Vec::new();
    let mut parents = vec![ou.to_owned()];
    while let Some(parent) = parents.pop() {
        let direct = all_pages(|page| {
            let parent = parent.clone();
            async move { org.list_accounts_for_parent(&parent, page.as_deref()).await }
        })
        .await
        .map_err(unknown)?;
        accounts.extend(direct);
        let children = all_pages(|page| {
            let parent = parent.clone();
            async move { org.list_child_ous(&parent, page.as_deref()).await }
        })
        .await
        .map_err(unknown)?;
        parents.extend(children);
    }
    Ok(accounts)
}

async fn matches_tags<O: Organization>(
    org: &O,
    account: &AccountId,
    filters: &[(String, String)],
) -> PortResult<bool> {
    let tags: BTreeMap<String, String> =
        all_pages(|page| async move { org.list_account_tags(account, page.as_deref()).await })
            .await?
            .into_iter()
            .collect();
    Ok(filters.iter().all(|(key, value)| tags.get(key) == Some(value)))
}

/// The accounts each written wave chooses (its `accounts`, and every account under its `ous`);
/// an empty set for sized waves. What `waves::assign` takes.
pub async fn wave_choices<O: Organization>(
    org: &O,
    waves: &[crate::waves::WaveSpec],
) -> Result<Vec<BTreeSet<AccountId>>, TargetingError> {
    let mut choices = Vec::with_capacity(waves.len());
    for wave in waves {
        let mut chosen: BTreeSet<AccountId> = wave.accounts.iter().cloned().collect();
        for ou in &wave.ous {
            if !is_ou_id(ou) {
                return Err(TargetingError::MalformedOu(ou.clone()));
            }
            chosen.extend(accounts_under(org, ou).await?.into_iter().map(|a| a.id));
        }
        choices.push(chosen);
    }
    Ok(choices)
}

/// Resolves a selection against the Organization.
pub async fn resolve<O: Organization>(org: &O, selection: &Selection) -> Result<Resolution, TargetingError> {
    if selection.regions.is_empty() {
        return Err(TargetingError::NoRegions);
    }
    if let Some(bad) = selection.ous.iter().find(|ou| !is_ou_id(ou)) {
        return Err(TargetingError::MalformedOu(bad.clone()));
    }
    let management = patiently(|| org.management_account()).await?;
    // Every account's status, as listed. The whole Organization's listing (ListAccounts: 20 a
    // page, 250 calls at 5,000 accounts) only when the whole Organization is chosen or accounts
    // are named; OUs alone are read from their own listings, which give the status too.
    let whole = selection.accounts.is_empty() && selection.ous.is_empty();
    let mut by_id: BTreeMap<AccountId, OrgAccount> = BTreeMap::new();
    if whole || !selection.accounts.is_empty() {
        let everyone = all_pages(|page| async move { org.list_accounts(page.as_deref()).await }).await?;
        by_id.extend(everyone.into_iter().map(|a| (a.id.clone(), a)));
        if let Some(stranger) = selection.accounts.iter().find(|a| !by_id.contains_key(a)) {
            return Err(TargetingError::UnknownAccount(stranger.clone()));
        }
    }

    let mut chosen: BTreeSet<AccountId> = BTreeSet::new();
    if whole {
        chosen.extend(by_id.keys().cloned());
    }
    chosen.extend(selection.accounts.iter().cloned());
    for ou in &selection.ous {
        for account in accounts_under(org, ou).await? {
            chosen.insert(account.id.clone());
            by_id.entry(account.id.clone()).or_insert(account);
        }
    }
    chosen.retain(|id| !selection.exclude.contains(id));

    let Screened {
        active,
        skipped: skipped_accounts,
        untagged: _,
    } = screened(org, selection, &management, &by_id, chosen).await?;
    let regions = &selection.regions;
    let targets_of = |id: &AccountId| -> Vec<Target> {
        regions
            .iter()
            .map(|r| Target::new(id.clone(), r.clone()))
            .collect()
    };
    Ok(Resolution {
        targets: active.iter().flat_map(targets_of).collect(),
        skipped: skipped_accounts
            .iter()
            .flat_map(|(id, reason)| {
                targets_of(id)
                    .into_iter()
                    .map(|t| Outcome::skipped(t, reason.clone()))
            })
            .collect(),
    })
}

/// What becomes of the accounts of `chosen`.
struct Screened {
    active: Vec<AccountId>,
    /// The management account (unless the selection opts in) and inactive accounts, with why.
    skipped: Vec<(AccountId, String)>,
    /// Accounts without the selection's tags: not chosen after all (a tag filter narrows what is
    /// looked at; the accounts it leaves out are not reported).
    untagged: Vec<AccountId>,
}

/// Sorts the accounts of `chosen` by whether they may be deployed to. Tags are read only for the
/// accounts still in.
async fn screened<O: Organization>(
    org: &O,
    selection: &Selection,
    management: &AccountId,
    by_id: &BTreeMap<AccountId, OrgAccount>,
    chosen: BTreeSet<AccountId>,
) -> Result<Screened, TargetingError> {
    let mut skipped: Vec<(AccountId, String)> = Vec::new();
    let mut active = Vec::new();
    for id in chosen {
        if &id == management && !selection.include_management_account {
            skipped.push((
                id,
                "the management account (pass --include-management-account to deploy to it)".into(),
            ));
            continue;
        }
        match by_id.get(&id) {
            Some(account) if !account.is_active() => {
                skipped.push((id, format!("account is {}", account.status)));
            }
            _ => active.push(id),
        }
    }
    if selection.tag_filters.is_empty() {
        return Ok(Screened {
            active,
            skipped,
            untagged: Vec::new(),
        });
    }
    let filters = &selection.tag_filters;
    let verdicts: Vec<(AccountId, bool)> = stream::iter(active)
        .map(|id| async move { matches_tags(org, &id, filters).await.map(|ok| (id, ok)) })
        .buffered(TAG_LOOKUPS_IN_FLIGHT)
        .try_collect()
        .await?;
    let (tagged, untagged): (Vec<_>, Vec<_>) = verdicts.into_iter().partition(|(_, ok)| *ok);
    Ok(Screened {
        active: tagged.into_iter().map(|(id, _)| id).collect(),
        skipped,
        untagged: untagged.into_iter().map(|(id, _)| id).collect(),
    })
}

fn tag_list(filters: &[(String, String)]) -> String {
    let pairs: Vec<String> = filters.iter().map(|(k, v)| format!("{k}={v}")).collect();
    pairs.join(", ")
}

/// Lists this long or shorter have each account described (DescribeAccount, one call each);
/// longer ones list the whole Organization (ListAccounts, one call per 20 accounts: 250 at 5,000).
const DESCRIBED_AT_MOST: usize = 50;

/// The members among `accounts`, with their status.
async fn members<O: Organization>(
    org: &O,
    accounts: BTreeSet<&AccountId>,
) -> Result<BTreeMap<AccountId, OrgAccount>, TargetingError> {
    if accounts.len() > DESCRIBED_AT_MOST {
        let everyone = all_pages(|page| async move { org.list_accounts(page.as_deref()).await }).await?;
        return Ok(everyone.into_iter().map(|a| (a.id.clone(), a)).collect());
    }
    let mut found = BTreeMap::new();
    for id in accounts {
        if let Some(account) = patiently(|| org.describe_account(id)).await? {
            found.insert(account.id.clone(), account);
        }
    }
    Ok(found)
}

/// An exact list of targets (a re-run's, a resume's, `targets.list`) held to the same rules as
/// what `resolve` finds: a target is reported Skipped, with the reason, when its account is not
/// a member of the Organization, is excluded, inactive, the management account (unless the
/// selection opts in) or without the selection's tags. So a list, edited or not, never reaches an
/// account the selection would not. `selection`'s accounts, OUs and regions are not used: the
/// list says where. Duplicates are dropped, order kept.
pub async fn admit<O: Organization>(
    org: &O,
    selection: &Selection,
    list: &[Target],
) -> Result<Resolution, TargetingError> {
    let mut seen = BTreeSet::new();
    let list: Vec<&Target> = list.iter().filter(|t| seen.insert(*t)).collect();
    if list.is_empty() {
        return Ok(Resolution::default());
    }
    let management = patiently(|| org.management_account()).await?;
    let by_id = members(org, list.iter().map(|t| &t.account).collect()).await?;
    let mut refused: BTreeMap<AccountId, String> = BTreeMap::new();
    let mut chosen = BTreeSet::new();
    for target in &list {
        let id = &target.account;
        if !by_id.contains_key(id) {
            refused.insert(
                id.clone(),
                "the account is not a member of this Organization".into(),
            );
        } else if selection.exclude.contains(id) {
            refused.insert(id.clone(), "the account is excluded (targets.exclude)".into());
        } else {
            chosen.insert(id.clone());
        }
    }
    let screened = screened(org, selection, &management, &by_id, chosen).await?;
    refused.extend(screened.skipped);
    let without_tags = format!(
        "the account does not carry the tags {}",
        tag_list(&selection.tag_filters)
    );
    refused.extend(screened.untagged.into_iter().map(|id| (id, without_tags.clone())));
    // Every listed account is now refused or among `screened.active`.
    let (mut targets, mut outcomes) = (Vec::new(), Vec::new());
    for target in list {
        match refused.get(&target.account) {
            Some(reason) => outcomes.push(Outcome::skipped(target.clone(), reason.clone())),
            None => targets.push(target.clone()),
        }
    }
    Ok(Resolution {
        targets,
        skipped: outcomes,
    })
}

/// The targets a scope allows (the stored default spec's, for the state machine): its own
/// resolution, so the same accounts, OUs, exclusions, tags, regions and management-account rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Exactly these targets (a default spec with `targets.list`).
    List(BTreeSet<Target>),
    Selection(Selection),
}

/// Splits `candidates` into those within `scope` and those outside it, each of the latter with
/// the reason. Tags are read only for candidate accounts the rest of the scope admits.
pub async fn within_scope<O: Organization>(
    org: &O,
    scope: &Scope,
    candidates: Vec<Target>,
) -> Result<(Vec<Target>, Vec<(Target, String)>), TargetingError> {
    within_scope_of(org, scope, candidates, "the stored default spec's").await
}

/// `within_scope`, the reasons naming whose scope it is (`"the document's"`).
pub async fn within_scope_of<O: Organization>(
    org: &O,
    scope: &Scope,
    candidates: Vec<Target>,
    whose: &str,
) -> Result<(Vec<Target>, Vec<(Target, String)>), TargetingError> {
    let selection = match scope {
        Scope::List(allowed) => {
            let (inside, outside): (Vec<Target>, Vec<Target>) =
                candidates.into_iter().partition(|t| allowed.contains(t));
            let why = format!("not in {whose} targets.list");
            return Ok((inside, outside.into_iter().map(|t| (t, why.clone())).collect()));
        }
        Scope::Selection(selection) => selection,
    };
    // A scope that names no region bounds accounts only.
    let regions: Vec<Region> = if selection.regions.is_empty() {
        candidates
            .iter()
            .map(|t| t.region.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect()
    } else {
        selection.regions.clone()
    };
    if candidates.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    let untagged = Selection {
        tag_filters: Vec::new(),
        regions: regions.clone(),
        ..selection.clone()
    };
    let admitted: BTreeSet<Target> = resolve(org, &untagged).await?.targets.into_iter().collect();
    let mut tagged: BTreeMap<AccountId, bool> = BTreeMap::new();
    let (mut inside, mut outside) = (Vec::new(), Vec::new());
    for target in candidates {
        if !regions.contains(&target.region) {
            outside.push((target, format!("its region is not among {whose} regions")));
            continue;
        }
        if !admitted.contains(&target) {
            outside.push((
                target,
                format!(
                    "the account is outside {whose} targets (its accounts and OUs, \
                 less its exclusions, the management account and inactive accounts)"
                ),
            ));
            continue;
        }
        if !selection.tag_filters.is_empty() {
            let account = target.account.clone();
            let ok = match tagged.get(&account) {
                Some(ok) => *ok,
                None => {
                    let ok = matches_tags(org, &account, &selection.tag_filters).await?;
                    tagged.insert(account, ok);
                    ok
                }
            };
            if !ok {
                outside.push((target, format!("the account does not carry {whose} tag filter")));
                continue;
            }
        }
        inside.push(target);
    }
    Ok((inside, outside))
}

#[cfg(test)]
mod tests {
    use super::is_ou_id;

    #[test]
    fn ou_ids_are_recognised() {
        assert!(is_ou_id("r-ab12"));
        assert!(is_ou_id("ou-ab12-cdef5678"));
        for bad in [
            "ou-ab12",
            "OU-ab12-cdef5678",
            "r-",
            "ou-ab12-cd",
            "123456789012",
            "",
        ] {
            assert!(!is_ou_id(bad), "{bad}");
        }
    }
}
