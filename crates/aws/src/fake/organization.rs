//! A fake Organization: accounts in a tree of OUs, with tags, listed in small pages that can
//! include empty ones, and throttling on demand.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use stackfleet_core::ids::AccountId;
use stackfleet_core::ports::{OrgAccount, Organization, Page, PortError, PortResult};

#[derive(Debug, Default)]
struct Tree {
    management: Option<AccountId>,
    accounts: Vec<(OrgAccount, String)>,
    /// OU -> parent.
    ous: BTreeMap<String, String>,
    tags: BTreeMap<AccountId, Vec<(String, String)>>,
    page_size: usize,
    /// Every listing answers this many empty pages (with a next token) before the real ones.
    empty_pages: usize,
    throttles_left: u32,
    calls: usize,
}

/// Build one with `FakeOrganization::new(management)`, then add OUs and accounts.
#[derive(Debug, Clone, Default)]
pub struct FakeOrganization {
    tree: Arc<Mutex<Tree>>,
}

pub const ROOT: &str = "r-ab12";

impl FakeOrganization {
    pub fn new(management: &AccountId) -> Self {
        let org = Self::default();
        {
            let mut tree = org.tree();
            tree.management = Some(management.clone());
            tree.page_size = 3;
        }
        org.add_account(management, "management", "ACTIVE", ROOT);
        org
    }

    fn tree(&self) -> MutexGuard<'_, Tree> {
        self.tree
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn add_ou(&self, ou: &str, parent: &str) {
        self.tree().ous.insert(ou.into(), parent.into());
    }

    pub fn add_account(&self, id: &AccountId, name: &str, status: &str, parent: &str) {
        let account = OrgAccount {
            id: id.clone(),
            name: name.into(),
            status: status.into(),
        };
        self.tree().accounts.push((account, parent.into()));
    }

    pub fn tag(&self, id: &AccountId, key: &str, value: &str) {
        self.tree()
            .tags
            .entry(id.clone())
            .or_default()
            .push((key.into(), value.into()));
    }

    /// Listings answer `size` items a page (3 unless told; Organizations answers up to 20).
    pub fn with_page_size(&self, size: usize) {
        self.tree().page_size = size.max(1);
    }

    /// Every listing starts with `count` empty pages that still carry a next token.
    pub fn with_empty_pages(&self, count: usize) {
        self.tree().empty_pages = count;
    }

    /// The next `count` calls are throttled (as if past the SDK's retries).
    pub fn throttle(&self, count: u32) {
        self.tree().throttles_left = count;
    }

    pub fn calls(&self) -> usize {
        self.tree().calls
    }

    /// Records a call, throttled if asked to be; the tree to answer it from.
    fn called(&self) -> PortResult<MutexGuard<'_, Tree>> {
        let mut tree = self.tree();
        tree.calls += 1;
        if tree.throttles_left > 0 {
            tree.throttles_left -= 1;
            return Err(PortError::Throttled("Rate exceeded".into()));
        }
        Ok(tree)
    }

    /// Records a call, throttled if asked to be, then pages `items`.
    fn page<T: Clone>(&self, items: &[T], page: Option<&str>) -> PortResult<Page<T>> {
        let tree = self.called()?;
        // Pages are numbered: the first `empty_pages` are empty, then `page_size` items each.
        let index: usize = page.and_then(|p| p.parse().ok()).unwrap_or(0);
        let next = |has_more: bool| has_more.then(|| (index + 1).to_string());
        if index < tree.empty_pages {
            return Ok(Page {
                items: Vec::new(),
                next_page: next(true),
            });
        }
        let start = (index - tree.empty_pages) * tree.page_size;
        let end = (start + tree.page_size).min(items.len());
        Ok(Page {
            items: items.get(start..end).unwrap_or_default().to_vec(),
            next_page: next(end < items.len()),
        })
    }

    fn parent_exists(&self, parent: &str) -> PortResult<()> {
        if parent == ROOT || self.tree().ous.contains_key(parent) {
            Ok(())
        } else {
            Err(PortError::Rejected {
                code: "ParentNotFoundException".into(),
                message: format!("parent {parent} not found"),
            })
        }
    }
}

impl Organization for FakeOrganization {
    async fn management_account(&self) -> PortResult<AccountId> {
        let management = self.tree().management.clone();
        management.ok_or_else(|| PortError::Rejected {
            code: "AWSOrganizationsNotInUseException".into(),
            message: "no organization".into(),
        })
    }

    async fn list_accounts(&self, page: Option<&str>) -> PortResult<Page<OrgAccount>> {
        let all: Vec<OrgAccount> = self.tree().accounts.iter().map(|(a, _)| a.clone()).collect();
        self.page(&all, page)
    }

    async fn describe_account(&self, id: &AccountId) -> PortResult<Option<OrgAccount>> {
        let tree = self.called()?;
        Ok(tree
            .accounts
            .iter()
            .find(|(a, _)| &a.id == id)
            .map(|(a, _)| a.clone()))
    }

    async fn list_accounts_for_parent(
        &self,
        parent: &str,
        page: Option<&str>,
    ) -> PortResult<Page<OrgAccount>> {
        self.parent_exists(parent)?;
        let direct: Vec<OrgAccount> = self
            .tree()
            .accounts
            .iter()
            .filter(|(_, p)| p == parent)
            .map(|(a, _)| a.clone())
            .collect();
        self.page(&direct, page)
    }

    async fn list_child_ous(&self, parent: &str, page: Option<&str>) -> PortResult<Page<String>> {
        self.parent_exists(parent)?;
        let children: Vec<String> = self
            .tree()
            .ous
            .iter()
            .filter(|(_, p)| *p == parent)
            .map(|(ou, _)| ou.clone())
            .collect();
        self.page(&children, page)
    }

    async fn list_account_tags(
        &self,
        account: &AccountId,
        page: Option<&str>,
    ) -> PortResult<Page<(String, String)>> {
        let tags = self.tree().tags.get(account).cloned().unwrap_or_default();
        self.page(&tags, page)
    }
}
