//! The account profile (docs/rules.md, R7 and R8), written once for both databases
//! (`store/db.rs`).

use uuid::Uuid;

use super::db::{DbConn, params};
use super::{AccountSettings, StoreResult};

pub async fn get(db: &mut DbConn<'_>, account: Uuid) -> StoreResult<Option<AccountSettings>> {
    let row = db
        .fetch_optional(
            "SELECT scim_enabled, update_emails_via_scim, group_name_conflict,
                    reserved_group_names, max_group_name_length, token_ttl_seconds,
                    undeclared_extensions
             FROM accounts WHERE id = ?1",
            &params![account],
        )
        .await?;
    row.map(|r| {
        Ok(AccountSettings {
            scim_enabled: r.bool("scim_enabled")?,
            update_emails_via_scim: r.bool("update_emails_via_scim")?,
            group_name_conflict: r.text("group_name_conflict")?,
            reserved_group_names: r.text_list("reserved_group_names")?,
            max_group_name_length: r.opt_i32("max_group_name_length")?,
            token_ttl_seconds: r.opt_i64("token_ttl_seconds")?,
            undeclared_extensions: r.text("undeclared_extensions")?,
        })
    })
    .transpose()
}

/// Every profile field but `scim_enabled`, which [`set_scim_enabled`] changes (R7 has more to
/// do when it does). A change of `undeclared_extensions` bumps the schema version: it changes
/// how the account's resources are read.
pub async fn update(db: &mut DbConn<'_>, account: Uuid, st: &AccountSettings) -> StoreResult<()> {
    db.execute(
        "UPDATE accounts SET update_emails_via_scim = ?2, group_name_conflict = ?3,
             reserved_group_names = ?4, max_group_name_length = ?5, token_ttl_seconds = ?6,
             schema_version = schema_version
                 + CASE WHEN undeclared_extensions = ?7 THEN 0 ELSE 1 END,
             undeclared_extensions = ?7
         WHERE id = ?1",
        &params![
            account,
            st.update_emails_via_scim,
            &st.group_name_conflict,
            &st.reserved_group_names,
            st.max_group_name_length,
            st.token_ttl_seconds,
            &st.undeclared_extensions,
        ],
    )
    .await?;
    Ok(())
}

/// Whether the account exists.
pub async fn set_scim_enabled(db: &mut DbConn<'_>, account: Uuid, enabled: bool) -> StoreResult<bool> {
    let changed = db
        .execute(
            "UPDATE accounts SET scim_enabled = ?2 WHERE id = ?1",
            &params![account, enabled],
        )
        .await?;
    Ok(changed > 0)
}
