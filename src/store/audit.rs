//! The audit log's rows, written once for both databases (`store/db.rs`). What an event holds
//! and when one is written is `service/audit.rs`'s business.

use uuid::Uuid;

use super::db::{DbConn, Param, params};
use super::{AuditQuery, AuditRecord, StoreResult, common};

/// Writes one event, at the transaction's time.
pub async fn insert(db: &mut DbConn<'_>, account: Uuid, e: &AuditRecord) -> StoreResult<()> {
    db.execute(
        "INSERT INTO audit_events (account_id, id, at, actor_kind, actor_token_id, actor_idp, actor_name,
             action, resource_type, resource_id, before, after, delta)
         VALUES (?1, ?2, COALESCE(?3, CURRENT_TIMESTAMP), ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
        &params![
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
        ],
    )
    .await?;
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
