//! Organizations behind core's `Organization` port.

use aws_config::SdkConfig;
use aws_sdk_organizations::types::Account;
use aws_sdk_organizations::Client;
use stackfleet_core::ids::AccountId;
use stackfleet_core::ports::{OrgAccount, Organization, Page, PortError, PortResult};

use crate::errors::classify;

#[derive(Debug, Clone)]
pub struct OrgClient {
    client: Client,
}

impl OrgClient {
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    pub fn from_config(config: &SdkConfig) -> Self {
        Self::new(Client::new(config))
    }
}

fn account_id(id: &str) -> PortResult<AccountId> {
    id.parse().map_err(|e| {
        PortError::Transport(format!(
            "Organizations listed an account ID AWS never issues: {e}"
        ))
    })
}

fn account(account: &Account) -> PortResult<OrgAccount> {
    // `State` supersedes `Status` (it also knows CLOSED); older answers carry only `Status`.
    let status = match (account.state(), account.status()) {
        (Some(state), _) => state.as_str().to_owned(),
        (None, Some(status)) => status.as_str().to_owned(),
        (None, None) => "UNKNOWN".to_owned(),
    };
    Ok(OrgAccount {
        id: account_id(account.id().unwrap_or_default())?,
        name: account.name().unwrap_or_default().to_owned(),
        status,
    })
}

fn accounts(listed: &[Account], next: Option<&str>) -> PortResult<Page<OrgAccount>> {
    Ok(Page {
        items: listed.iter().map(account).collect::<PortResult<_>>()?,
        next_page: next.map(str::to_owned),
    })
}

impl Organization for OrgClient {
    async fn management_account(&self) -> PortResult<AccountId> {
        let answer = self
            .client
            .describe_organization()
            .send()
            .await
            .map_err(|e| classify(&e))?;
        let id = answer
            .organization()
            .and_then(|o| o.master_account_id())
            .unwrap_or_default();
        account_id(id)
    }

    async fn list_accounts(&self, page: Option<&str>) -> PortResult<Page<OrgAccount>> {
        let answer = self
            .client
            .list_accounts()
            .set_next_token(page.map(str::to_owned))
            .send()
            .await
            .map_err(|e| classify(&e))?;
        accounts(answer.accounts(), answer.next_token())
    }

    async fn describe_account(&self, id: &AccountId) -> PortResult<Option<OrgAccount>> {
        match self
            .client
            .describe_account()
            .account_id(id.as_str())
            .send()
            .await
        {
            Ok(answer) => answer.account().map(account).transpose(),
            Err(error) => match classify(&error) {
                PortError::Rejected { code, .. } if code == "AccountNotFoundException" => Ok(None),
                other => Err(other),
            },
        }
    }

    async fn list_accounts_for_parent(
        &self,
        parent: &str,
        page: Option<&str>,
    ) -> PortResult<Page<OrgAccount>> {
        let answer = self
            .client
            .list_accounts_for_parent()
            .parent_id(parent)
            .set_next_token(page.map(str::to_owned))
            .send()
            .await
            .map_err(|e| classify(&e))?;
        accounts(answer.accounts(), answer.next_token())
    }

    async fn list_child_ous(&self, parent: &str, page: Option<&str>) -> PortResult<Page<String>> {
        let answer = self
            .client
            .list_organizational_units_for_parent()
            .parent_id(parent)
            .set_next_token(page.map(str::to_owned))
            .send()
            .await
            .map_err(|e| classify(&e))?;
        Ok(Page {
            items: answer
                .organizational_units()
                .iter()
                .filter_map(|ou| ou.id().map(str::to_owned))
                .collect(),
            next_page: answer.next_token().map(str::to_owned),
        })
    }

    async fn list_account_tags(
        &self,
        account: &AccountId,
        page: Option<&str>,
    ) -> PortResult<Page<(String, String)>> {
        let answer = self
            .client
            .list_tags_for_resource()
            .resource_id(account.as_str())
            .set_next_token(page.map(str::to_owned))
            .send()
            .await
            .map_err(|e| classify(&e))?;
        Ok(Page {
            items: answer
                .tags()
                .iter()
                .map(|t| (t.key().to_owned(), t.value().to_owned()))
                .collect(),
            next_page: answer.next_token().map(str::to_owned),
        })
    }
}
