//! The change feed's rows (migrations 0010; what an event means is `service/events.rs`'s
//! business). An event row names its change's audit event, whose documents are the state it
//! carries, so writing one costs a small row, never a second copy of a document.
//!
//! The feed's order is `seq`. On SQLite it is taken at insertion (one writer at a time, so
//! insertion order is commit order). On Postgres it is assigned after commit by
//! [`sequence`], because numbers taken at insertion commit out of order: a reader that had read
//! past a higher number would never see a lower one committed later.

use serde_json::{Value, json};
use uuid::Uuid;

use super::db::{DbConn, Param, params};
use super::filter_sql::{Dialect, limit_sql};
use super::{EventQuery, EventRecord, NewEvent, StoreResult};

/// The events as the JSON rows [`insert_sql`] reads.
pub(super) fn rows(events: &[NewEvent]) -> Value {
    Value::Array(
        events
            .iter()
            .map(|e| {
                json!({
                    "type": e.kind,
                    "resource_type": e.resource_type,
                    "resource_id": e.resource_id,
                    "external_id": e.external_id,
                    "member_id": e.member_id,
                    "changed": e.changed.as_ref().map(|c| json!(c).to_string()),
                })
            })
            .collect(),
    )
}

/// The insert of [`rows`] bound at `?rows`: placeholder 1 is the account, 2 the audit event,
/// `?at` the transaction's time where the store keeps it.
pub(super) fn insert_sql(dialect: Dialect, rows: usize, at: usize) -> String {
    format!(
        "INSERT INTO events (account_id, audit_id, type, resource_type, resource_id, external_id, member_id,
             changed, at)
         SELECT ?1, ?2, x.type, x.resource_type, x.resource_id, x.external_id, x.member_id, x.changed,
             COALESCE(?{at}, CURRENT_TIMESTAMP)
         FROM {}",
        dialect.json_rows(
            rows,
            "x",
            &[
                ("type", "text"),
                ("resource_type", "text"),
                ("resource_id", "text"),
                ("external_id", "text"),
                ("member_id", "uuid"),
                ("changed", "text"),
            ],
        )
    )
}

/// Most events one round of the sequencer numbers; the next round takes the rest.
const SEQUENCE_BATCH: i64 = 10_000;

/// Postgres: numbers the committed events that have no `seq` yet, in insertion order, after
/// every number already given; how many it numbered. Run inside a transaction of its own: the
/// first statement locks the sequence's row, so one sequencer runs at a time, and the second
/// then reads (a new snapshot under READ COMMITTED) every event committed before the lock was
/// taken, so no number handed out is ever followed by a lower one.
pub async fn sequence(db: &mut DbConn<'_>) -> StoreResult<u64> {
    debug_assert_eq!(db.dialect(), Dialect::Postgres);
    let last = db
        .fetch_one("SELECT last FROM event_sequence WHERE one FOR UPDATE", &[])
        .await?
        .i64("last")?;
    let rows = db
        .fetch_all(
            "WITH pending AS (
                 SELECT id, row_number() OVER (ORDER BY id) AS n
                 FROM (SELECT id FROM events WHERE seq IS NULL ORDER BY id LIMIT ?2) p
             ), numbered AS (
                 UPDATE events e SET seq = ?1 + pending.n FROM pending WHERE e.id = pending.id
                 RETURNING e.seq
             )
             UPDATE event_sequence SET last = (SELECT max(seq) FROM numbered)
             WHERE one AND EXISTS (SELECT 1 FROM numbered)
             RETURNING last",
            &params![last, SEQUENCE_BATCH],
        )
        .await?;
    Ok(rows
        .first()
        .map(|r| r.i64("last"))
        .transpose()?
        .map_or(0, |new| (new - last) as u64))
}

/// Postgres: are there committed events the sequencer has not numbered? (The partial index
/// holds only those rows: a read of a few index entries.)
pub async fn pending(db: &mut DbConn<'_>) -> StoreResult<bool> {
    let row = db
        .fetch_one(
            "SELECT EXISTS (SELECT 1 FROM events WHERE seq IS NULL) AS pending",
            &[],
        )
        .await?;
    row.bool("pending")
}

/// A page of the account's feed after `q.after`, in feed order, up to `q.limit + 1` events (the
/// extra one says another page follows), with the account's last position at the same
/// snapshot and the position retention has removed events through.
pub async fn list(
    db: &mut DbConn<'_>,
    account: Uuid,
    q: &EventQuery,
) -> StoreResult<(Vec<EventRecord>, i64, i64)> {
    let mut binds = params![account, q.after].to_vec();
    let (limit, bound) = limit_sql(db.dialect(), q.limit + 1, binds.len() + 1);
    binds.extend(bound.as_ref().map(Param::from));
    let types = match &q.types {
        Some(_) => format!(" AND {}", db.dialect().in_set("e.type", binds.len() + 1)),
        None => String::new(),
    };
    // The head and the pruned position are read by the page's own statement, so they agree with
    // it: a later statement could see events numbered meanwhile, which a cursor moved to that
    // head would then skip.
    let sql = format!(
        "SELECT p.*, h.head, h.pruned
         FROM (SELECT (SELECT max(seq) FROM events WHERE account_id = ?1) AS head,
                      (SELECT events_pruned_through FROM accounts WHERE id = ?1) AS pruned) h
         LEFT JOIN (
             SELECT e.seq, e.type, e.resource_type, e.resource_id, e.external_id, e.member_id, e.changed,
                 e.at, a.actor_kind, a.actor_token_id, a.actor_idp, a.actor_name,
                 CASE WHEN e.member_id IS NULL THEN COALESCE(a.after, a.before) END AS data
             FROM events e
             LEFT JOIN audit_events a ON a.account_id = e.account_id AND a.id = e.audit_id
             WHERE e.account_id = ?1 AND e.seq > ?2{types}
             ORDER BY e.seq
             {limit}
         ) p ON TRUE
         ORDER BY p.seq"
    );
    if let Some(types) = &q.types {
        binds.push(Param::from(types.as_slice()));
    }
    let rows = db.fetch_all(&sql, &binds).await?;
    let head = rows
        .first()
        .map(|r| r.opt_i64("head"))
        .transpose()?
        .flatten()
        .unwrap_or(0);
    let pruned = rows
        .first()
        .map(|r| r.opt_i64("pruned"))
        .transpose()?
        .flatten()
        .unwrap_or(0);
    let mut events = Vec::new();
    for r in &rows {
        let Some(seq) = r.opt_i64("seq")? else {
            continue;
        };
        events.push(EventRecord {
            seq,
            kind: r.text("type")?,
            resource_type: r.text("resource_type")?,
            resource_id: r.opt_text("resource_id")?,
            external_id: r.opt_text("external_id")?,
            member_id: r.opt_uuid("member_id")?,
            changed: r.opt_text("changed")?.and_then(|c| serde_json::from_str(&c).ok()),
            at: r.time("at")?,
            actor_kind: r.opt_text("actor_kind")?,
            actor_token_id: r.opt_uuid("actor_token_id")?,
            actor_idp: r.opt_text("actor_idp")?,
            actor_name: r.opt_text("actor_name")?,
            data: r.opt_json("data")?,
        });
    }
    Ok((events, head, pruned))
}

/// Removes the events written before `before`, account by account, up to the highest position
/// among them (so the feed that remains is always a suffix of what was written), recording that
/// position as the account's pruned one; how many events went.
pub async fn prune(db: &mut DbConn<'_>, before: chrono::DateTime<chrono::Utc>) -> StoreResult<u64> {
    let cuts = db
        .fetch_all(
            "SELECT account_id, max(seq) AS through FROM events WHERE at < ?1 AND seq IS NOT NULL
             GROUP BY account_id",
            &params![before],
        )
        .await?;
    let mut removed = 0;
    for cut in cuts {
        let (account, through) = (cut.uuid("account_id")?, cut.i64("through")?);
        db.execute(
            "UPDATE accounts SET events_pruned_through = ?2 WHERE id = ?1 AND events_pruned_through < ?2",
            &params![account, through],
        )
        .await?;
        removed += db
            .execute(
                "DELETE FROM events WHERE account_id = ?1 AND seq <= ?2",
                &params![account, through],
            )
            .await?;
    }
    Ok(removed)
}
