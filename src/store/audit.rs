//! The audit log's rows, written once for both databases (`store/db.rs`). What an event holds
//! and when one is written is `service/audit.rs`'s business.

use uuid::Uuid;

use super::db::{DbConn, Param, params};
use super::filter_sql::Dialect;
use super::{AuditQuery, AuditRecord, NewEvent, StoreResult, common};

/// The audit event's insert: placeholder 1 is the account, 2 the event's id, 3 the
/// transaction's time where the store keeps it, 4–13 the rest ([`insert_params`]).
const INSERT: &str = "INSERT INTO audit_events (account_id, id, at, actor_kind, actor_token_id, actor_idp,
        actor_name, action, resource_type, resource_id, before, after, delta)
    VALUES (?1, ?2, COALESCE(?3, CURRENT_TIMESTAMP), ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)";

fn insert_params(db: &DbConn<'_>, account: Uuid, e: &AuditRecord) -> Vec<Param> {
    params![
        account,
        e.id,
        db.now(),
        &e.actor_kind,
        e.actor_token_id,
        &e.actor_idp,
        &e.actor_name,
        &e.action,
        &e.resource_type,
        &e.resource_id,
        &e.before,
        &e.after,
        &e.delta,
    ]
    .to_vec()
}

/// The source an event counts for in `audit_activity`: the IdP of a SCIM token, else `manual`.
fn source_of(kind: &str, idp: &str) -> String {
    format!("CASE WHEN {kind} = 'scim' THEN COALESCE({idp}, 'scim') ELSE 'manual' END")
}

/// One more event of the day and source in `audit_activity`: the `WITH` clauses the statement
/// that writes the event carries on Postgres (placeholders as [`INSERT`]'s). Each day and source
/// has as many rows as it ever had writers at once: the count goes to the first row no other
/// transaction holds (`SKIP LOCKED`), and to a new row keyed past the largest only when every
/// row is held, so concurrent writers do not queue for one row here (migration 0015 keeps
/// `resource_counts` the same way and says why).
fn activity_upsert_postgres() -> String {
    let this_day = "account_id = ?1 AND day = (COALESCE(?3, CURRENT_TIMESTAMP) AT TIME ZONE 'UTC')::date";
    let source = source_of("?4", "?6");
    format!(
        "free AS (SELECT shard FROM audit_activity WHERE {this_day} AND source = {source}
                  ORDER BY shard LIMIT 1 FOR UPDATE SKIP LOCKED),
         activity AS (INSERT INTO audit_activity AS a (account_id, day, source, shard, n)
                  VALUES (?1, (COALESCE(?3, CURRENT_TIMESTAMP) AT TIME ZONE 'UTC')::date, {source},
                          COALESCE((SELECT shard FROM free),
                                   ((SELECT COALESCE(max(shard), -1) + 1 + pg_backend_pid() % 16
                                     FROM audit_activity WHERE {this_day} AND source = {source})
                                    % 32767)::smallint),
                          1)
                  ON CONFLICT (account_id, day, source, shard) DO UPDATE SET n = a.n + 1)"
    )
}

/// The same on SQLite, a statement of its own: one writer, so one row per day and source.
/// Placeholders as [`INSERT`]'s.
fn activity_upsert_sqlite() -> String {
    format!(
        "INSERT INTO audit_activity AS a (account_id, day, source, shard, n)
         VALUES (?1, substr(COALESCE(?3, strftime('%Y-%m-%dT%H:%M:%f', 'now')), 1, 10), {}, 0, 1)
         ON CONFLICT (account_id, day, source, shard) DO UPDATE SET n = a.n + 1",
        source_of("?4", "?6")
    )
}

/// Writes one event, at the transaction's time, and counts it in `audit_activity`.
pub async fn insert(db: &mut DbConn<'_>, account: Uuid, e: &AuditRecord) -> StoreResult<()> {
    insert_with_events(db, account, e, &[]).await
}

/// Writes an audit event, its count in `audit_activity` and the change feed's events of the
/// same change, in one request to the database, so every audited write makes two round trips
/// fewer while it holds its locks (on SQLite, its turn as the single writer): on Postgres one
/// statement (the audit row and the count in data-modifying `WITH`s), on SQLite the three
/// statements in one string, which its driver runs in one go on its own thread (numbered
/// placeholders bind the same values in each).
pub async fn insert_with_events(
    db: &mut DbConn<'_>,
    account: Uuid,
    e: &AuditRecord,
    events: &[NewEvent],
) -> StoreResult<()> {
    let mut params = insert_params(db, account, e);
    let dialect = db.dialect();
    let events_sql = if events.is_empty() {
        None
    } else {
        params.push(Param::from(&Some(super::events::rows(events))));
        Some(super::events::insert_sql(dialect, 14, 3))
    };
    let sql = match dialect {
        Dialect::Postgres => format!(
            "WITH audit AS ({INSERT}), {} {}",
            activity_upsert_postgres(),
            events_sql.as_deref().unwrap_or("SELECT 1")
        ),
        Dialect::Sqlite => format!(
            "{INSERT}; {}{}",
            activity_upsert_sqlite(),
            events_sql.map(|sql| format!("; {sql}")).unwrap_or_default()
        ),
    };
    db.execute(&sql, &params).await?;
    Ok(())
}

/// A page of the log, newest first (`common::list_audit` builds the statement).
pub async fn list(db: &mut DbConn<'_>, account: Uuid, q: &AuditQuery) -> StoreResult<Vec<AuditRecord>> {
    let (sql, filters) = common::list_audit(q);
    let mut bound = params![account].to_vec();
    bound.extend(filters.iter().map(Param::from));
    bound.push(Param::from(q.limit));
    let rows = db.fetch_all(&sql, &bound).await?;
    rows.iter()
        .map(|r| {
            Ok(AuditRecord {
                id: r.uuid("id")?,
                at: Some(r.time("at")?),
                actor_kind: r.text("actor_kind")?,
                actor_token_id: r.opt_uuid("actor_token_id")?,
                actor_idp: r.opt_text("actor_idp")?,
                actor_name: r.opt_text("actor_name")?,
                action: r.text("action")?,
                resource_type: r.text("resource_type")?,
                resource_id: r.opt_text("resource_id")?,
                before: r.opt_json("before")?,
                after: r.opt_json("after")?,
                delta: r.opt_json("delta")?,
            })
        })
        .collect()
}
