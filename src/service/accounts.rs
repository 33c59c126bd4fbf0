//! Accounts (tenants).

use uuid::Uuid;

use super::{IssuedToken, Result, Service, TokenKind};
use crate::scim::ScimError;
use crate::store::Account;

/// What `scimd serve --bootstrap` creates on a database without accounts.
#[derive(Debug)]
pub struct Bootstrap {
    pub account: Account,
    pub scim: IssuedToken,
    pub admin: IssuedToken,
}

impl Service {
    pub async fn create_account(&self, name: &str) -> Result<Account> {
        let name = name.trim();
        if name.is_empty() {
            return Err(ScimError::invalid_value("an account needs a non-empty name").into());
        }
        let mut tx = self.store.begin().await?;
        let account = tx.create_account(Uuid::now_v7(), name).await?;
        tx.commit().await?;
        Ok(account)
    }

    pub async fn list_accounts(&self) -> Result<Vec<Account>> {
        Ok(self.store.reader().await?.list_accounts().await?)
    }

    pub async fn get_account(&self, id: Uuid) -> Result<Option<Account>> {
        Ok(self.store.reader().await?.get_account(id).await?)
    }

    /// A first account with a SCIM token (no IdP label: users it creates have source `scim`)
    /// and an admin token, in one transaction; `None` when the database has an account already.
    pub async fn bootstrap(&self, name: &str) -> Result<Option<Bootstrap>> {
        let mut tx = self.store.begin().await?;
        if !tx.list_accounts().await?.is_empty() {
            return Ok(None);
        }
        let account = tx.create_account(Uuid::now_v7(), name).await?;
        let description = Some("created by scimd serve --bootstrap".to_string());
        let scim = self.issue(account.id, TokenKind::Scim, None, None, description.clone())?;
        let admin = self.issue(account.id, TokenKind::Admin, None, None, description)?;
        tx.insert_token(&scim.record).await?;
        tx.insert_token(&admin.record).await?;
        tx.commit().await?;
        Ok(Some(Bootstrap { account, scim, admin }))
    }
}
