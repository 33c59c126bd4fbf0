//! `scimd copy --to postgres://…`: moves a whole SQLite deployment to Postgres — accounts,
//! tokens and the signing secret (so the IdPs' tokens keep working), users, groups,
//! memberships, role bindings, settings, the audit log, the change feed, OAuth clients and
//! webhooks — in one Postgres transaction.
//!
//! Both schemas have the same tables and columns (migrations/sqlite mirrors
//! migrations/postgres); only the types differ. Each SQLite row is read as one JSON object and
//! each batch is inserted with `jsonb_populate_recordset`, which lets Postgres convert every
//! value to its column's type: ids to uuid, times to timestamptz, JSON text to jsonb or arrays,
//! 0/1 to booleans, and hex to bytea. The tables and their order come from the Postgres schema
//! (foreign keys first), so a table added by a later migration is copied without a change here.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::str::FromStr;

use futures_util::TryStreamExt;
use sqlx::postgres::PgConnectOptions;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{AssertSqlSafe, ConnectOptions, Connection, Row};

use super::{StoreOptions, postgres, serve_lock, sqlite};

/// Tables scimd keeps for itself on each side: the migration history and derived-state
/// versions, which the target's own migrations wrote, and the resource counts, which the
/// target's triggers keep as the users and groups are copied in (copying them too would count
/// every resource twice).
const NOT_COPIED: [&str; 3] = ["_sqlx_migrations", "store_meta", "resource_counts"];
const BATCH: usize = 1000;

/// Rows copied per table, in copy order.
pub type CopyReport = Vec<(String, i64)>;

pub async fn copy_to_postgres(from: &str, to: &str) -> Result<CopyReport, String> {
    let path = sqlite::database_path(from).ok_or("an in-memory database cannot be copied")?;
    if !path.is_file() {
        return Err(format!("no database at {}: check database_url", path.display()));
    }
    if let Some(holder) = serve_lock::held_by(&path) {
        return Err(format!(
            "a scimd ({holder}) is serving {}; stop it first, so that no write made during the copy is left behind",
            path.display()
        ));
    }
    // The target: created and migrated by the same code as `scimd serve` would, then checked
    // empty, so nothing is merged into a database in use.
    let target = postgres::PgStore::connect(to, &StoreOptions::with_max(2))
        .await
        .map_err(|e| e.to_string())?;
    super::Store::migrate(&target).await.map_err(|e| e.to_string())?;
    super::Store::close(&target).await;

    let mut source = SqliteConnectOptions::from_str(from)
        .map_err(|e| e.to_string())?
        .read_only(true)
        .connect()
        .await
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let source_version: i64 =
        sqlx::query_scalar("SELECT coalesce(max(version), 0) FROM _sqlx_migrations WHERE success")
            .fetch_one(&mut source)
            .await
            .map_err(|_| format!("{} is not scimd's database", path.display()))?;
    if source_version != sqlite::latest_schema_version() {
        return Err(format!(
            "{} has schema version {source_version}, this scimd {}: start this scimd on it once (it migrates), then copy",
            path.display(),
            sqlite::latest_schema_version()
        ));
    }
    let mut pg = PgConnectOptions::from_str(to)
        .map_err(|e| e.to_string())?
        .connect()
        .await
        .map_err(|e| e.to_string())?;
    let accounts: i64 = sqlx::query_scalar("SELECT count(*) FROM accounts")
        .fetch_one(&mut pg)
        .await
        .map_err(|e| e.to_string())?;
    if accounts > 0 {
        return Err(format!(
            "the target database already has {accounts} account(s); copy into a new, empty database"
        ));
    }

    let mut tables = copy_order(&mut pg).await?;
    // One snapshot of the source, one transaction on the target: all or nothing.
    sqlx::raw_sql("BEGIN")
        .execute(&mut source)
        .await
        .map_err(|e| e.to_string())?;
    // Only what both sides hold: a table or column that only Postgres has (the change feed's
    // sequencer row, its insertion-order `id`) keeps what the target's migrations gave it.
    for (table, columns) in &mut tables {
        let present: BTreeSet<String> = sqlx::query_scalar("SELECT name FROM pragma_table_info(?1)")
            .bind(table.as_str())
            .fetch_all(&mut source)
            .await
            .map_err(|e| format!("reading {table}'s columns: {e}"))?
            .into_iter()
            .collect();
        columns.retain(|(c, _)| present.contains(c));
    }
    tables.retain(|(_, columns)| !columns.is_empty());
    let mut tx = pg.begin().await.map_err(|e| e.to_string())?;
    let mut report = CopyReport::new();
    for (table, columns) in &tables {
        let n = copy_table(&mut source, &mut tx, table, columns).await?;
        report.push((table.clone(), n));
    }
    // Verified before it commits: every table holds as many rows as the source's.
    for (table, n) in &report {
        let copied: i64 = sqlx::query_scalar(AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| e.to_string())?;
        if copied != *n {
            return Err(format!(
                "{table}: {n} rows read, {copied} in the target; nothing was committed"
            ));
        }
    }
    // Numbers the target hands out next follow the copied ones: identity columns, and the change
    // feed's sequencer (store/events.rs), which must number new events after the copied feed.
    let identities: Vec<(String, String)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text FROM information_schema.columns \
         WHERE table_schema = current_schema() AND is_identity = 'YES'",
    )
    .fetch_all(&mut *tx)
    .await
    .map_err(|e| e.to_string())?;
    for (table, column) in identities {
        sqlx::query(AssertSqlSafe(format!(
            "SELECT setval(pg_get_serial_sequence('\"{table}\"', '{column}'), \
             COALESCE((SELECT max(\"{column}\") FROM \"{table}\"), 0) + 1, false)"
        )))
        .execute(&mut *tx)
        .await
        .map_err(|e| format!("continuing {table}.{column}: {e}"))?;
    }
    sqlx::query(
        "UPDATE event_sequence SET last = GREATEST(last, (SELECT COALESCE(max(seq), 0) FROM events))",
    )
    .execute(&mut *tx)
    .await
    .map_err(|e| format!("continuing the change feed: {e}"))?;
    tx.commit()
        .await
        .map_err(|e| format!("the copy could not be committed: {e}"))?;
    let _ = sqlx::raw_sql("ROLLBACK").execute(&mut source).await;
    Ok(report)
}

/// The target's tables with their (non-generated) columns and types, parents before children.
async fn copy_order(pg: &mut sqlx::PgConnection) -> Result<Vec<(String, Vec<(String, String)>)>, String> {
    let rows = sqlx::query(
        "SELECT table_name::text, column_name::text, data_type::text FROM information_schema.columns \
         WHERE table_schema = current_schema() AND is_generated = 'NEVER' ORDER BY table_name, ordinal_position",
    )
    .fetch_all(&mut *pg)
    .await
    .map_err(|e| e.to_string())?;
    let mut columns: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for row in rows {
        let table: String = row.get(0);
        if NOT_COPIED.contains(&table.as_str()) {
            continue;
        }
        columns.entry(table).or_default().push((row.get(1), row.get(2)));
    }
    let edges: Vec<(String, String)> = sqlx::query_as(
        "SELECT conrelid::regclass::text, confrelid::regclass::text FROM pg_constraint \
         WHERE contype = 'f' AND connamespace = current_schema()::regnamespace",
    )
    .fetch_all(&mut *pg)
    .await
    .map_err(|e| e.to_string())?;
    let mut ordered = Vec::new();
    let mut done = BTreeSet::new();
    while done.len() < columns.len() {
        let before = done.len();
        for table in columns.keys() {
            let ready = edges
                .iter()
                .filter(|(child, parent)| child == table && parent != table)
                .all(|(_, parent)| done.contains(parent) || !columns.contains_key(parent));
            if !done.contains(table) && ready {
                done.insert(table.clone());
                ordered.push((table.clone(), columns[table].clone()));
            }
        }
        if done.len() == before {
            return Err("the schema's foreign keys form a cycle; cannot order the copy".into());
        }
    }
    Ok(ordered)
}

/// The SQLite expression that gives a column's value as Postgres will read it from JSON.
fn json_value(column: &str, pg_type: &str) -> String {
    match pg_type {
        "jsonb" | "json" | "ARRAY" => format!("json({column})"),
        "bytea" => format!("CASE WHEN {column} IS NULL THEN NULL ELSE '\\x' || hex({column}) END"),
        "boolean" => format!(
            "CASE WHEN {column} IS NULL THEN NULL WHEN {column} THEN json('true') ELSE json('false') END"
        ),
        _ => column.to_string(),
    }
}

async fn copy_table(
    source: &mut sqlx::SqliteConnection,
    target: &mut sqlx::PgConnection,
    table: &str,
    columns: &[(String, String)],
) -> Result<i64, String> {
    let object = columns
        .iter()
        .map(|(c, t)| format!("'{c}', {}", json_value(&format!("\"{c}\""), t)))
        .collect::<Vec<_>>()
        .join(", ");
    let list = columns
        .iter()
        .map(|(c, _)| format!("\"{c}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let read = format!("SELECT json_object({object}) FROM \"{table}\"");
    let write = format!(
        "INSERT INTO \"{table}\" ({list}) SELECT {list} FROM jsonb_populate_recordset(NULL::\"{table}\", $1::jsonb)"
    );
    let mut rows = sqlx::query_scalar::<_, String>(AssertSqlSafe(read)).fetch(&mut *source);
    let mut batch: Vec<String> = Vec::with_capacity(BATCH);
    let mut copied = 0i64;
    loop {
        let next = rows
            .try_next()
            .await
            .map_err(|e| format!("reading {table}: {e}"))?;
        if let Some(row) = &next {
            batch.push(row.clone());
        }
        if batch.len() == BATCH || (next.is_none() && !batch.is_empty()) {
            let json = format!("[{}]", batch.join(","));
            sqlx::query(AssertSqlSafe(write.clone()))
                .bind(json)
                .execute(&mut *target)
                .await
                .map_err(|e| format!("writing {table}: {e}"))?;
            copied += batch.len() as i64;
            batch.clear();
        }
        if next.is_none() {
            break;
        }
    }
    Ok(copied)
}

/// For the CLI's message: where the source lives.
pub fn describe_source(from: &str) -> String {
    sqlite::database_path(from)
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| Path::new(from).display().to_string())
}
