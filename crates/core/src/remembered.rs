//! The Organization as one run reads it: every question asked of Organizations once, however
//! many parts of the run ask it (targets, the default spec's scope, waves, an explicit list's
//! check). Organizations is throttled hard, a few calls a second; a run over 5,000 accounts
//! that walked the tree once per question would wait minutes on it.
//!
//! Answers are kept for the life of the value: make one per run, never one per process (a warm
//! Lambda serves many runs, and accounts move between them). Errors are not kept.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::ids::AccountId;
use crate::ports::{OrgAccount, Organization, Page, PortResult};

type Paged<K, T> = BTreeMap<(K, Option<String>), Page<T>>;

#[derive(Debug, Default)]
struct Answers {
    management: Option<AccountId>,
    accounts: Paged<(), OrgAccount>,
    described: BTreeMap<AccountId, Option<OrgAccount>>,
    accounts_for_parent: Paged<String, OrgAccount>,
    child_ous: Paged<String, String>,
    tags: Paged<AccountId, (String, String)>,
}

/// `org`, each of whose answers is asked for once.
#[derive(Debug)]
pub struct Remembered<'a, O> {
    org: &'a O,
    answers: Mutex<Answers>,
}

impl<'a, O: Organization> Remembered<'a, O> {
    pub fn new(org: &'a O) -> Self {
        Self {
            org,
            answers: Mutex::new(Answers::default()),
        }
    }

    fn answers(&self) -> MutexGuard<'_, Answers> {
        self.answers.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The page kept under `key`, or the one `ask` fetches, kept. The lock is never held across the
/// call, so two parts asking at once may both ask; the later answer is kept, an equal one.
/// (`ask` is a future not yet polled: nothing is asked when the page is kept.)
async fn kept<T: Clone>(
    remembered: impl FnOnce() -> Option<Page<T>>,
    keep: impl FnOnce(Page<T>),
    ask: impl std::future::Future<Output = PortResult<Page<T>>>,
) -> PortResult<Page<T>> {
    if let Some(page) = remembered() {
        return Ok(page);
    }
    let page = ask.await?;
    keep(page.clone());
    Ok(page)
}

impl<O: Organization> Organization for Remembered<'_, O> {
    async fn management_account(&self) -> PortResult<AccountId> {
        if let Some(known) = self.answers().management.clone() {
            return Ok(known);
        }
        let management = self.org.management_account().await?;
        self.answers().management = Some(management.clone());
        Ok(management)
    }

    async fn list_accounts(&self, page: Option<&str>) -> PortResult<Page<OrgAccount>> {
        let key = ((), page.map(str::to_owned));
        kept(
            || self.answers().accounts.get(&key).cloned(),
            |answer| {
                self.answers().accounts.insert(key.clone(), answer);
            },
            self.org.list_accounts(page),
        )
        .await
    }

    async fn describe_account(&self, account: &AccountId) -> PortResult<Option<OrgAccount>> {
        if let Some(known) = self.answers().described.get(account).cloned() {
            return Ok(known);
        }
        let described = self.org.describe_account(account).await?;
        self.answers()
            .described
            .insert(account.clone(), described.clone());
        Ok(described)
    }

    async fn list_accounts_for_parent(
        &self,
        parent: &str,
        page: Option<&str>,
    ) -> PortResult<Page<OrgAccount>> {
        let key = (parent.to_owned(), page.map(str::to_owned));
        kept(
            || self.answers().accounts_for_parent.get(&key).cloned(),
            |answer| {
                self.answers().accounts_for_parent.insert(key.clone(), answer);
            },
            self.org.list_accounts_for_parent(parent, page),
        )
        .await
    }

    async fn list_child_ous(&self, parent: &str, page: Option<&str>) -> PortResult<Page<String>> {
        let key = (parent.to_owned(), page.map(str::to_owned));
        kept(
            || self.answers().child_ous.get(&key).cloned(),
            |answer| {
                self.answers().child_ous.insert(key.clone(), answer);
            },
            self.org.list_child_ous(parent, page),
        )
        .await
    }

    async fn list_account_tags(
        &self,
        account: &AccountId,
        page: Option<&str>,
    ) -> PortResult<Page<(String, String)>> {
        let key = (account.clone(), page.map(str::to_owned));
        kept(
            || self.answers().tags.get(&key).cloned(),
            |answer| {
                self.answers().tags.insert(key.clone(), answer);
            },
            self.org.list_account_tags(account, page),
        )
        .await
    }
}
