//! The `user_values` rows of a user (what `store/derived.rs` derives from its document), written
//! with the user in one statement, and rebuilt at start-up when an older version of scimd
//! derived them. Written once for both databases over `store/db.rs`.

use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::db::{DbConn, Param, params};
use super::derived;
use super::{ResourceKind, StoreResult};

/// Replaces the user's rows. `fresh`: the user was inserted by this transaction, so it has no
/// rows yet and the DELETE (a round trip on every create) is skipped.
pub async fn write(
    db: &mut DbConn<'_>,
    account: Uuid,
    id: Uuid,
    doc: &Map<String, Value>,
    fresh: bool,
) -> StoreResult<()> {
    write_rows(
        db,
        ResourceKind::User,
        account,
        id,
        derived::user_value_rows(doc),
        fresh,
    )
    .await
}

/// Replaces a group's `group_values` rows (its extension data), as [`write`] does a user's.
pub async fn write_group(
    db: &mut DbConn<'_>,
    account: Uuid,
    id: Uuid,
    doc: &Map<String, Value>,
    fresh: bool,
) -> StoreResult<()> {
    write_rows(
        db,
        ResourceKind::Group,
        account,
        id,
        derived::group_value_rows(doc),
        fresh,
    )
    .await
}

/// The table of a resource kind's filter rows and its resource id column.
pub fn values_table(kind: ResourceKind) -> (&'static str, &'static str) {
    match kind {
        ResourceKind::User => ("user_values", "user_id"),
        ResourceKind::Group => ("group_values", "group_id"),
    }
}

async fn write_rows(
    db: &mut DbConn<'_>,
    kind: ResourceKind,
    account: Uuid,
    id: Uuid,
    rows: Vec<derived::ValueRow>,
    fresh: bool,
) -> StoreResult<()> {
    let (table, id_col) = values_table(kind);
    if !fresh {
        db.execute(
            &format!("DELETE FROM {table} WHERE account_id = ?1 AND {id_col} = ?2"),
            &params![account, id],
        )
        .await?;
    }
    if rows.is_empty() {
        return Ok(());
    }
    // One statement for all rows, bound as one JSON array.
    let rows: Vec<Value> = rows
        .into_iter()
        .map(|r| {
            json!({"attr": r.attr, "ord": r.ord, "value": r.value, "value_ci": r.value_ci,
                   "type_ci": r.type_ci, "is_primary": r.is_primary})
        })
        .collect();
    let sql = format!(
        "INSERT INTO {table} (account_id, {id_col}, attr, ord, value, value_ci, type_ci, is_primary)
         SELECT ?1, ?2, x.attr, x.ord, x.value, x.value_ci, x.type_ci, x.is_primary FROM {}",
        db.dialect().json_rows(
            3,
            "x",
            &[
                ("attr", "text"),
                ("ord", "integer"),
                ("value", "text"),
                ("value_ci", "text"),
                ("type_ci", "text"),
                ("is_primary", "boolean"),
            ]
        )
    );
    db.execute(
        &sql,
        &[account.into(), id.into(), Param::Json(Some(Value::Array(rows)))],
    )
    .await?;
    Ok(())
}

/// Re-derives every user's rows when they were written by an older derivation (see migration
/// 0002), inside the caller's write transaction, which must hold SQLite's write lock or lets
/// this lock the `store_meta` row (Postgres): processes starting together rebuild once and the
/// others find the version current. How many users were rebuilt; `None`: nothing to do.
pub async fn rebuild(db: &mut DbConn<'_>) -> StoreResult<Option<usize>> {
    let sql = format!(
        "SELECT value FROM store_meta WHERE key = 'user_values_version'{}",
        db.dialect().for_update()
    );
    let stored = db.fetch_one(&sql, &[]).await?.text("value")?;
    if stored.parse::<i32>().unwrap_or(0) >= derived::USER_VALUES_VERSION {
        return Ok(None);
    }
    let mut after: Option<(Uuid, Uuid)> = None;
    let mut rebuilt = 0usize;
    loop {
        // Keyset pages of the primary key: constant cost per page however many users.
        let rows = db
            .fetch_all(
                "SELECT account_id, id, doc FROM users
                 WHERE (?1 IS NULL OR (account_id, id) > (?1, ?2))
                 ORDER BY account_id, id LIMIT 500",
                &params![after.map(|a| a.0), after.map(|a| a.1)],
            )
            .await?;
        let Some(last) = rows.last() else { break };
        after = Some((last.uuid("account_id")?, last.uuid("id")?));
        for row in &rows {
            write(
                db,
                row.uuid("account_id")?,
                row.uuid("id")?,
                &row.object("doc")?,
                false,
            )
            .await?;
        }
        rebuilt += rows.len();
    }
    db.execute(
        "UPDATE store_meta SET value = ?1 WHERE key = 'user_values_version'",
        &params![&derived::USER_VALUES_VERSION.to_string()],
    )
    .await?;
    Ok(Some(rebuilt))
}
