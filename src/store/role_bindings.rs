//! Role bindings: owned by the application, never touched by SCIM; they follow the group row,
//! whose identifier never changes (docs/rules.md, R1). Written once for both databases
//! (`store/db.rs`).

use uuid::Uuid;

use super::db::{DbConn, DbRow, params};
use super::{NewRoleBinding, RoleBinding, StoreResult};

/// What a statement on `role_bindings` returns: the binding and its group's identifier.
const RETURNING: &str = "RETURNING id, group_id, role, resource_group, created_at,
     (SELECT g.identifier FROM groups g
      WHERE g.account_id = role_bindings.account_id AND g.id = role_bindings.group_id) AS identifier";

fn binding(row: &DbRow) -> StoreResult<RoleBinding> {
    Ok(RoleBinding {
        id: row.uuid("id")?,
        group_id: row.uuid("group_id")?,
        group_identifier: row.text("identifier")?,
        role: row.text("role")?,
        resource_group: row.text("resource_group")?,
        created_at: row.time("created_at")?,
    })
}

pub async fn insert(db: &mut DbConn<'_>, account: Uuid, b: &NewRoleBinding) -> StoreResult<RoleBinding> {
    let sql = format!(
        "INSERT INTO role_bindings (account_id, id, group_id, role, resource_group, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, COALESCE(?6, CURRENT_TIMESTAMP)) {RETURNING}"
    );
    let now = db.now();
    let row = db
        .fetch_one(
            &sql,
            &params![account, b.id, b.group_id, &b.role, &b.resource_group, now],
        )
        .await?;
    binding(&row)
}

/// Deletes the binding `?3` of the group `?2`.
pub fn delete_sql() -> String {
    format!("DELETE FROM role_bindings WHERE account_id = ?1 AND group_id = ?2 AND id = ?3 {RETURNING}")
}

/// Deletes the binding `id` of `group`; the binding, if there was one.
pub async fn delete(
    db: &mut DbConn<'_>,
    account: Uuid,
    group: Uuid,
    id: Uuid,
) -> StoreResult<Option<RoleBinding>> {
    let row = db
        .fetch_optional(&delete_sql(), &params![account, group, id])
        .await?;
    row.as_ref().map(binding).transpose()
}

/// Bindings of the account `?1`, or of the group `?2` with `of_group`.
pub fn list_sql(of_group: bool) -> String {
    format!(
        "SELECT b.id, b.group_id, b.role, b.resource_group, b.created_at, g.identifier
         FROM role_bindings b JOIN groups g ON g.account_id = b.account_id AND g.id = b.group_id
         WHERE b.account_id = ?1{}
         ORDER BY g.identifier, b.role, b.resource_group",
        if of_group { " AND b.group_id = ?2" } else { "" }
    )
}

/// Bindings of the account, or of one group.
pub async fn list(db: &mut DbConn<'_>, account: Uuid, group: Option<Uuid>) -> StoreResult<Vec<RoleBinding>> {
    let mut bound = params![account].to_vec();
    bound.extend(group.map(super::db::Param::from));
    let rows = db.fetch_all(&list_sql(group.is_some()), &bound).await?;
    rows.iter().map(binding).collect()
}
