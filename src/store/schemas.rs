//! The extension schemas an account declares (migration 0009), and the version that tells
//! every process when its copy of them is stale. Written once for both databases
//! (`store/db.rs`).

use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use super::common::table;
use super::db::{DbConn, DbRow, params};
use super::filter_sql::Dialect;
use super::{ResourceKind, StoreResult};

/// One declared schema as stored.
#[derive(Debug, Clone)]
pub struct SchemaRecord {
    pub urn: String,
    /// `User` or `Group`.
    pub resource_type: String,
    pub required: bool,
    /// The schema document as scimd normalised it (`scim::schema::declare::schema_json`).
    pub doc: Value,
    pub created_at: DateTime<Utc>,
}

/// An account's schemas with what decides how they are used.
#[derive(Debug, Clone)]
pub struct AccountSchemas {
    pub schemas: Vec<SchemaRecord>,
    /// `keep` or `refuse`.
    pub undeclared: String,
    pub version: i64,
}

fn record(row: &DbRow) -> StoreResult<SchemaRecord> {
    Ok(SchemaRecord {
        urn: row.text("urn")?,
        resource_type: row.text("resource_type")?,
        required: row.bool("required")?,
        doc: row.opt_json("doc")?.unwrap_or(Value::Null),
        created_at: row.time("created_at")?,
    })
}

/// The account's schemas in declaration order; `None` when there is no such account.
pub async fn get(db: &mut DbConn<'_>, account: Uuid) -> StoreResult<Option<AccountSchemas>> {
    let Some(head) = db
        .fetch_optional(
            "SELECT undeclared_extensions, schema_version FROM accounts WHERE id = ?1",
            &params![account],
        )
        .await?
    else {
        return Ok(None);
    };
    let rows = db
        .fetch_all(
            "SELECT urn, resource_type, required, doc, created_at FROM account_schemas
             WHERE account_id = ?1 ORDER BY created_at, urn_ci",
            &params![account],
        )
        .await?;
    Ok(Some(AccountSchemas {
        schemas: rows.iter().map(record).collect::<StoreResult<_>>()?,
        undeclared: head.text("undeclared_extensions")?,
        version: head.i64("schema_version")?,
    }))
}

/// Declares a schema. A URN the account already declared (ignoring case) fails with
/// `StoreError::Unique("account_schemas_pkey")`.
pub async fn insert(db: &mut DbConn<'_>, account: Uuid, s: &SchemaRecord) -> StoreResult<()> {
    db.execute(
        "INSERT INTO account_schemas (account_id, urn_ci, urn, resource_type, required, doc, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        &params![
            account,
            &s.urn.to_lowercase(),
            &s.urn,
            &s.resource_type,
            s.required,
            super::db::Param::Json(Some(s.doc.clone())),
            s.created_at,
        ],
    )
    .await?;
    bump(db, account).await
}

/// Removes the declaration of `urn` (ignoring case); whether there was one.
pub async fn delete(db: &mut DbConn<'_>, account: Uuid, urn: &str) -> StoreResult<bool> {
    let n = db
        .execute(
            "DELETE FROM account_schemas WHERE account_id = ?1 AND urn_ci = ?2",
            &params![account, &urn.to_lowercase()],
        )
        .await?;
    if n > 0 {
        bump(db, account).await?;
    }
    Ok(n > 0)
}

/// The users (or groups) of the account other than `except` whose extension attribute `attr`
/// (its filter-row key) has `value` (a comparison key when `case_exact` is false), at most two.
/// On Postgres the transaction first takes a lock on that (account, attribute, value), so two
/// concurrent writers of one value see each other: the second waits for the first to commit
/// and then finds its row. SQLite's single writer serialises them anyway.
pub async fn value_owners(
    db: &mut DbConn<'_>,
    kind: ResourceKind,
    account: Uuid,
    attr: &str,
    value: &str,
    case_exact: bool,
    except: Option<Uuid>,
) -> StoreResult<Vec<Uuid>> {
    if db.dialect() == Dialect::Postgres {
        let key = format!("scimd-unique|{account}|{}|{attr}|{value}", kind.resource_type());
        db.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(?1, 0))",
            &params![&key],
        )
        .await?;
    }
    let col = if case_exact { "value" } else { "value_ci" };
    let (table, id_col) = super::user_values::values_table(kind);
    let sql = format!(
        "SELECT {id_col} AS owner FROM {table}
         WHERE account_id = ?1 AND attr = ?2 AND {col} = ?3 AND (?4 IS NULL OR {id_col} <> ?4)
         LIMIT 2"
    );
    let rows = db.fetch_all(&sql, &params![account, attr, value, except]).await?;
    rows.iter().map(|r| r.uuid("owner")).collect()
}

/// Every process rebuilds its copy of the account's schemas on the next request.
pub async fn bump(db: &mut DbConn<'_>, account: Uuid) -> StoreResult<()> {
    db.execute(
        "UPDATE accounts SET schema_version = schema_version + 1 WHERE id = ?1",
        &params![account],
    )
    .await?;
    Ok(())
}

/// A document key in each dialect: the condition "`doc` holds the key bound at `?2`", the
/// expression of `doc` without it, and the value to bind (Postgres takes the key itself,
/// SQLite a JSON path to it).
fn doc_key(dialect: Dialect, urn: &str) -> (&'static str, &'static str, String) {
    match dialect {
        Dialect::Postgres => ("jsonb_exists(doc, ?2)", "doc - ?2::text", urn.to_string()),
        Dialect::Sqlite => (
            "json_type(doc, ?2) IS NOT NULL",
            "json_remove(doc, ?2)",
            format!("$.\"{}\"", urn.replace('"', "\\\"")),
        ),
    }
}

/// How many users or groups hold data under the key `urn` of their document.
pub async fn usage(db: &mut DbConn<'_>, kind: ResourceKind, account: Uuid, urn: &str) -> StoreResult<i64> {
    let (holds, _, key) = doc_key(db.dialect(), urn);
    let sql = format!(
        "SELECT COUNT(*) AS n FROM {} WHERE account_id = ?1 AND {holds}",
        table(kind)
    );
    db.fetch_one(&sql, &params![account, &key]).await?.i64("n")
}

/// Removes the key `urn` from every document of the account that has it, in one statement,
/// with a new version and lastModified (the representation changed), and the filter rows
/// derived from it. How many resources changed.
pub async fn strip(db: &mut DbConn<'_>, kind: ResourceKind, account: Uuid, urn: &str) -> StoreResult<u64> {
    let (holds, without, key) = doc_key(db.dialect(), urn);
    let now = db.now();
    let sql = format!(
        "UPDATE {} SET doc = {without}, version = version + 1,
             last_modified = COALESCE(?3, CURRENT_TIMESTAMP)
         WHERE account_id = ?1 AND {holds}",
        table(kind)
    );
    let n = db.execute(&sql, &params![account, &key, now]).await?;
    // The filter rows' attr of an extension attribute is `{urn}.{attribute}[.{sub}]` in lower
    // case (`derived::value_key`); '/' sorts right after '.', so this is a range of the
    // (account_id, attr, …) index.
    let (values, _) = super::user_values::values_table(kind);
    db.execute(
        &format!("DELETE FROM {values} WHERE account_id = ?1 AND attr >= ?2 AND attr < ?3"),
        &params![
            account,
            &format!("{}.", urn.to_lowercase()),
            &format!("{}/", urn.to_lowercase())
        ],
    )
    .await?;
    Ok(n)
}
