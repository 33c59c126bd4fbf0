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

/// Writes one event, at the transaction's time.
pub async fn insert(db: &mut DbConn<'_>, account: Uuid, e: &AuditRecord) -> StoreResult<()> {
    let params = insert_params(db, account, e);
    db.execute(INSERT, &params).await?;
    Ok(())
}

/// Writes an audit event and the change feed's events of the same change. On Postgres that is
/// one statement (the audit row in a data-modifying `WITH`), so every audited write makes one
/// round trip fewer while it holds its locks. SQLite runs statements in its own process, so
/// it keeps the two.
pub async fn insert_with_events(
    db: &mut DbConn<'_>,
    account: Uuid,
    e: &AuditRecord,
    events: &[NewEvent],
) -> StoreResult<()> {
    if events.is_empty() || db.dialect() == Dialect::Sqlite {
        insert(db, account, e).await?;
        return super::events::insert(db, account, e.id, events).await;
    }
    let sql = format!(
        "WITH audit AS ({INSERT}) {}",
        super::events::insert_sql(Dialect::Postgres, 14, 3)
    );
    let mut params = insert_params(db, account, e);
    params.push(Param::from(&Some(super::events::rows(events))));
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
