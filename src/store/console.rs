//! Web-console sessions and setup links (migration 0014), written once for both databases
//! (`store/db.rs`). Times come from the service's clock, never the database's, so expiry
//! follows the injected clock in tests. What a session may do is `service/console.rs`'s business.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::db::{DbConn, DbRow, params};
use super::{ConsoleSessionRecord, SetupLinkRecord, StoreResult};

fn session(row: &DbRow) -> StoreResult<ConsoleSessionRecord> {
    Ok(ConsoleSessionRecord {
        id_sha256: row.bytes("id_sha256")?,
        account_id: row.uuid("account_id")?,
        token_id: row.opt_uuid("token_id")?,
        setup_link_id: row.opt_uuid("setup_link_id")?,
        csrf: row.text("csrf")?,
        created_at: row.time("created_at")?,
        last_seen_at: row.time("last_seen_at")?,
        expires_at: row.time("expires_at")?,
    })
}

fn link(row: &DbRow) -> StoreResult<SetupLinkRecord> {
    Ok(SetupLinkRecord {
        account_id: row.uuid("account_id")?,
        id: row.uuid("id")?,
        code_sha256: row.bytes("code_sha256")?,
        created_by: row.text("created_by")?,
        created_at: row.time("created_at")?,
        expires_at: row.time("expires_at")?,
        used_at: row.opt_time("used_at")?,
    })
}

/// Stores a new session, and drops the account's sessions that have passed their absolute
/// expiry (`now`), so the table holds live sessions and the few idle ones not yet replaced.
pub async fn insert_session(
    db: &mut DbConn<'_>,
    s: &ConsoleSessionRecord,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    db.execute(
        "DELETE FROM console_sessions WHERE account_id = ?1 AND expires_at <= ?2",
        &params![s.account_id, now],
    )
    .await?;
    db.execute(
        "INSERT INTO console_sessions (id_sha256, account_id, token_id, setup_link_id, csrf,
             created_at, last_seen_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        &params![
            &s.id_sha256,
            s.account_id,
            s.token_id,
            s.setup_link_id,
            &s.csrf,
            s.created_at,
            s.last_seen_at,
            s.expires_at
        ],
    )
    .await?;
    Ok(())
}

pub async fn get_session(db: &mut DbConn<'_>, id_sha256: &[u8]) -> StoreResult<Option<ConsoleSessionRecord>> {
    let row = db
        .fetch_optional(
            "SELECT * FROM console_sessions WHERE id_sha256 = ?1",
            &params![id_sha256],
        )
        .await?;
    row.as_ref().map(session).transpose()
}

/// Moves the session's idle deadline: `at` is when it was last used.
pub async fn touch_session(db: &mut DbConn<'_>, id_sha256: &[u8], at: DateTime<Utc>) -> StoreResult<()> {
    db.execute(
        "UPDATE console_sessions SET last_seen_at = ?2 WHERE id_sha256 = ?1 AND last_seen_at < ?2",
        &params![id_sha256, at],
    )
    .await?;
    Ok(())
}

/// Ends a session; whether there was one.
pub async fn delete_session(db: &mut DbConn<'_>, id_sha256: &[u8]) -> StoreResult<bool> {
    let n = db
        .execute(
            "DELETE FROM console_sessions WHERE id_sha256 = ?1",
            &params![id_sha256],
        )
        .await?;
    Ok(n > 0)
}

pub async fn insert_setup_link(db: &mut DbConn<'_>, l: &SetupLinkRecord) -> StoreResult<()> {
    db.execute(
        "INSERT INTO console_setup_links (account_id, id, code_sha256, created_by, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        &params![
            l.account_id,
            l.id,
            &l.code_sha256,
            &l.created_by,
            l.created_at,
            l.expires_at
        ],
    )
    .await?;
    Ok(())
}

/// Marks the unused link with this code used at `now` and returns it; `None` when there is no
/// such link or it was used before. One statement, so two browsers racing with one link cannot
/// both get a session.
pub async fn use_setup_link(
    db: &mut DbConn<'_>,
    code_sha256: &[u8],
    now: DateTime<Utc>,
) -> StoreResult<Option<SetupLinkRecord>> {
    let row = db
        .fetch_optional(
            "UPDATE console_setup_links SET used_at = ?2
             WHERE code_sha256 = ?1 AND used_at IS NULL
             RETURNING *",
            &params![code_sha256, now],
        )
        .await?;
    row.as_ref().map(link).transpose()
}

/// The account's setup links, newest first.
pub async fn list_setup_links(db: &mut DbConn<'_>, account: Uuid) -> StoreResult<Vec<SetupLinkRecord>> {
    let rows = db
        .fetch_all(
            "SELECT * FROM console_setup_links WHERE account_id = ?1 ORDER BY created_at DESC, id",
            &params![account],
        )
        .await?;
    rows.iter().map(link).collect()
}

/// How many users or groups of the account came from each source (R9), in source order.
pub async fn counts_by_source(
    db: &mut DbConn<'_>,
    kind: super::ResourceKind,
    account: Uuid,
) -> StoreResult<Vec<(String, i64)>> {
    let sql = format!(
        "SELECT source, count(*) AS n FROM {} WHERE account_id = ?1 GROUP BY source ORDER BY source",
        super::common::table(kind)
    );
    let rows = db.fetch_all(&sql, &params![account]).await?;
    rows.iter()
        .map(|r| Ok((r.text("source")?, r.i64("n")?)))
        .collect()
}

/// Audited changes per UTC day (`YYYY-MM-DD`) and provisioning source from the day `since`
/// on, from the counts written with each event (`audit_activity`), not the log itself.
pub async fn activity_by_day(
    db: &mut DbConn<'_>,
    account: Uuid,
    since: chrono::NaiveDate,
) -> StoreResult<Vec<(String, String, i64)>> {
    let (day, from) = match db.dialect() {
        super::filter_sql::Dialect::Postgres => ("to_char(day, 'YYYY-MM-DD')", "CAST(?2 AS date)"),
        super::filter_sql::Dialect::Sqlite => ("day", "?2"),
    };
    let sql = format!(
        "SELECT {day} AS day, source, CAST(sum(n) AS BIGINT) AS n
         FROM audit_activity WHERE account_id = ?1 AND day >= {from}
         GROUP BY day, source ORDER BY day, source"
    );
    let since = since.format("%Y-%m-%d").to_string();
    let rows = db.fetch_all(&sql, &params![account, &since]).await?;
    rows.iter()
        .map(|r| Ok((r.text("day")?, r.text("source")?, r.i64("n")?)))
        .collect()
}
