//! Users and groups: the statements on whole resources that are written once for both
//! databases (`store/db.rs`) so far — the export's reads and the lookups of R4. Inserting,
//! updating and listing still have one implementation per store (`sqlite.rs`, `postgres.rs`).

use uuid::Uuid;

use super::common::{self, USER_COLUMNS};
use super::db::{DbConn, DbRow, params};
use super::{Membership, ResourceKind, ResourceRow, StoreError, StoreResult};
use crate::scim::compare;

/// A row of `common::columns(kind)`.
pub fn resource(row: &DbRow) -> StoreResult<ResourceRow> {
    Ok(ResourceRow {
        account_id: row.uuid("account_id")?,
        id: row.uuid("id")?,
        doc: row.object("doc")?,
        source: row.text("source")?,
        idp_managed: row.bool("idp_managed")?,
        created_at: row.time("created_at")?,
        last_modified: row.time("last_modified")?,
        version: row.i64("version")?,
        identifier: row.opt_text("identifier")?,
    })
}

/// Every user or group of the account, in id order (the export, R10).
pub async fn all(db: &mut DbConn<'_>, kind: ResourceKind, account: Uuid) -> StoreResult<Vec<ResourceRow>> {
    let rows = db
        .fetch_all(&common::all_resources(kind), &params![account])
        .await?;
    rows.iter().map(resource).collect()
}

/// Every membership of the account (the export, R10).
pub async fn all_memberships(db: &mut DbConn<'_>, account: Uuid) -> StoreResult<Vec<Membership>> {
    let rows = db.fetch_all(common::ALL_MEMBERSHIPS, &params![account]).await?;
    rows.iter()
        .map(|r| {
            Ok(Membership {
                group_id: r.uuid("group_id")?,
                user_id: r.uuid("member_id")?,
                origin: r.text("origin")?,
            })
        })
        .collect()
}

/// Groups whose displayName compares equal to `name` (at most one native and one IdP-managed).
pub async fn groups_by_display_name(
    db: &mut DbConn<'_>,
    account: Uuid,
    name: &str,
) -> StoreResult<Vec<ResourceRow>> {
    let rows = db
        .fetch_all(
            &common::groups_by_display_name(),
            &params![account, &compare::key(name)],
        )
        .await?;
    rows.iter().map(resource).collect()
}

/// Makes the IdP-managed user native again (its source stays); false when it was not.
pub async fn release_user(db: &mut DbConn<'_>, account: Uuid, id: Uuid) -> StoreResult<bool> {
    Ok(db.execute(common::RELEASE_USER, &params![account, id]).await? > 0)
}

/// `?2`: comparison keys (`scim::compare`) of userNames and emails.
pub fn users_by_name_or_email_sql(dialect: super::filter_sql::Dialect) -> String {
    format!(
        "SELECT {USER_COLUMNS} FROM users
         WHERE account_id = ?1 AND ({} OR {})
         ORDER BY id",
        dialect.in_set("user_name_ci", 2),
        dialect.in_set("primary_email_ci", 2)
    )
}

/// Users whose userName or primary email has one of `keys` (R4's adoption lookup).
pub async fn users_by_name_or_email(
    db: &mut DbConn<'_>,
    account: Uuid,
    keys: &[String],
) -> StoreResult<Vec<ResourceRow>> {
    let sql = users_by_name_or_email_sql(db.dialect());
    let rows = db.fetch_all(&sql, &params![account, keys]).await?;
    rows.iter().map(resource).collect()
}

/// `?2`: user ids.
pub fn in_idp_managed_groups_sql(dialect: super::filter_sql::Dialect) -> String {
    format!(
        "SELECT DISTINCT m.member_id FROM group_members m
         JOIN groups g ON g.account_id = m.account_id AND g.id = m.group_id
         WHERE m.account_id = ?1 AND {} AND g.idp_managed",
        dialect.in_set("m.member_id", 2)
    )
}

/// Of `users`, those that are members of an IdP-managed group.
pub async fn in_idp_managed_groups(
    db: &mut DbConn<'_>,
    account: Uuid,
    users: &[Uuid],
) -> StoreResult<Vec<Uuid>> {
    let sql = in_idp_managed_groups_sql(db.dialect());
    let rows = db.fetch_all(&sql, &params![account, users]).await?;
    rows.iter().map(|r| r.uuid("member_id")).collect()
}

/// What SQLite names a violated displayName key of groups: both keys (one per side, partial
/// indexes) have the same columns, so its message cannot tell them apart
/// (`sqlite::constraint_name`).
pub const DISPLAY_NAME_KEYS: &str = "groups_idp_display_name_key|groups_native_display_name_key";

/// Names the displayName key a statement violated by the side (`idp_managed`) it wrote the
/// group on. Postgres names the key itself: there this changes nothing.
pub fn display_name_key(err: StoreError, idp_managed: bool) -> StoreError {
    match err {
        StoreError::Unique(name) if name == DISPLAY_NAME_KEYS => StoreError::Unique(
            if idp_managed {
                "groups_idp_display_name_key"
            } else {
                "groups_native_display_name_key"
            }
            .to_string(),
        ),
        other => other,
    }
}

/// `?1` the account, `?2` the time: makes every IdP-managed user or group native (R7).
pub fn release_idp_managed_sql(kind: ResourceKind) -> String {
    format!(
        "UPDATE {} SET idp_managed = FALSE, last_modified = COALESCE(?2, CURRENT_TIMESTAMP), version = version + 1
         WHERE account_id = ?1 AND idp_managed = TRUE",
        common::table(kind)
    )
}

/// R7: the account's IdP-managed users or groups become native; how many.
pub async fn release_idp_managed(db: &mut DbConn<'_>, kind: ResourceKind, account: Uuid) -> StoreResult<u64> {
    let now = db.now();
    db.execute(&release_idp_managed_sql(kind), &params![account, now])
        .await
        .map_err(|e| display_name_key(e, false))
}

/// Marks the native resource IdP-managed with `source` (R4's adoption); false when it was not
/// native.
pub async fn claim(
    db: &mut DbConn<'_>,
    kind: ResourceKind,
    account: Uuid,
    id: Uuid,
    source: &str,
) -> StoreResult<bool> {
    let changed = db
        .execute(&common::claim_resource(kind), &params![account, id, source])
        .await
        .map_err(|e| display_name_key(e, true))?;
    Ok(changed > 0)
}
