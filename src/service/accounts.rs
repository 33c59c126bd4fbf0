//! Accounts (tenants).

use uuid::Uuid;

use super::{Result, Service};
use crate::scim::ScimError;
use crate::store::Account;

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
}
