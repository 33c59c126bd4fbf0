//! Webhook endpoints and their delivery log (migration 0012), written once for both databases
//! (`store/db.rs`). When and what to deliver is `service/webhooks.rs`'s business; the store
//! keeps each endpoint's position in the feed and the claim (lease) of the process delivering
//! to it, so several processes share the work without sending an event twice in the normal case.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::db::{DbConn, DbRow, params};
use super::{StoreResult, WebhookDelivery, WebhookEndpoint};

fn endpoint(row: &DbRow) -> StoreResult<WebhookEndpoint> {
    Ok(WebhookEndpoint {
        account_id: row.uuid("account_id")?,
        id: row.uuid("id")?,
        url: row.text("url")?,
        types: row.opt_text("types")?.and_then(|t| serde_json::from_str(&t).ok()),
        secret: row.text("secret")?,
        description: row.opt_text("description")?,
        enabled: row.bool("enabled")?,
        disabled_reason: row.opt_text("disabled_reason")?,
        created_at: row.time("created_at")?,
        position: row.i64("position")?,
        attempts: row.i64("attempts")?,
        next_attempt_at: row.opt_time("next_attempt_at")?,
        failing_since: row.opt_time("failing_since")?,
    })
}

fn types_text(e: &WebhookEndpoint) -> Option<String> {
    e.types.as_ref().map(|t| serde_json::json!(t).to_string())
}

/// Inserts `e`, starting at the account's current end of the feed (what follows is delivered).
pub async fn insert(db: &mut DbConn<'_>, e: &WebhookEndpoint) -> StoreResult<WebhookEndpoint> {
    let row = db
        .fetch_one(
            "INSERT INTO webhook_endpoints (account_id, id, url, types, secret, description, enabled, created_at,
                 position)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8,
                 (SELECT COALESCE(max(seq), 0) FROM events WHERE account_id = ?1))
             RETURNING *",
            &params![
                e.account_id,
                e.id,
                &e.url,
                &types_text(e),
                &e.secret,
                &e.description,
                e.enabled,
                e.created_at
            ],
        )
        .await?;
    endpoint(&row)
}

pub async fn get(db: &mut DbConn<'_>, account: Uuid, id: Uuid) -> StoreResult<Option<WebhookEndpoint>> {
    let row = db
        .fetch_optional(
            "SELECT * FROM webhook_endpoints WHERE account_id = ?1 AND id = ?2",
            &params![account, id],
        )
        .await?;
    row.as_ref().map(endpoint).transpose()
}

pub async fn list(db: &mut DbConn<'_>, account: Uuid) -> StoreResult<Vec<WebhookEndpoint>> {
    let rows = db
        .fetch_all(
            "SELECT * FROM webhook_endpoints WHERE account_id = ?1 ORDER BY created_at, id",
            &params![account],
        )
        .await?;
    rows.iter().map(endpoint).collect()
}

/// Writes what an admin may change of `e` and its delivery state (re-enabling resets it).
pub async fn save(db: &mut DbConn<'_>, e: &WebhookEndpoint) -> StoreResult<bool> {
    let changed = db
        .execute(
            "UPDATE webhook_endpoints SET url = ?3, types = ?4, description = ?5, enabled = ?6,
                 disabled_reason = ?7, position = ?8, attempts = ?9, next_attempt_at = ?10, failing_since = ?11
             WHERE account_id = ?1 AND id = ?2",
            &params![
                e.account_id,
                e.id,
                &e.url,
                &types_text(e),
                &e.description,
                e.enabled,
                &e.disabled_reason,
                e.position,
                e.attempts,
                e.next_attempt_at,
                e.failing_since
            ],
        )
        .await?;
    Ok(changed > 0)
}

pub async fn delete(db: &mut DbConn<'_>, account: Uuid, id: Uuid) -> StoreResult<bool> {
    let changed = db
        .execute(
            "DELETE FROM webhook_endpoints WHERE account_id = ?1 AND id = ?2",
            &params![account, id],
        )
        .await?;
    Ok(changed > 0)
}

/// Claims up to `limit` enabled endpoints, of any account, that are due at `now` (no retry
/// pending, or its time has come), have events past their position, and are claimed by no
/// live lease: each is leased to `owner` until `until`. On Postgres a concurrent claimer waits
/// for the rows this one locks and then finds them leased, so no endpoint has two deliverers.
pub async fn claim_due(
    db: &mut DbConn<'_>,
    owner: Uuid,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
    limit: i64,
) -> StoreResult<Vec<WebhookEndpoint>> {
    let rows = db
        .fetch_all(
            "UPDATE webhook_endpoints SET lease_owner = ?1, lease_until = ?3
             WHERE (account_id, id) IN (
                 SELECT w.account_id, w.id FROM webhook_endpoints w
                 WHERE w.enabled
                   AND (w.next_attempt_at IS NULL OR w.next_attempt_at <= ?2)
                   AND (w.lease_until IS NULL OR w.lease_until < ?2)
                   AND EXISTS (SELECT 1 FROM events e WHERE e.account_id = w.account_id AND e.seq > w.position)
                 ORDER BY w.next_attempt_at, w.id
                 LIMIT ?4)
               AND (lease_until IS NULL OR lease_until < ?2)
             RETURNING *",
            &params![owner, now, until, limit],
        )
        .await?;
    rows.iter().map(endpoint).collect()
}

/// The endpoint's event `seq` was answered 2xx (or passed over): its position moves there and
/// its failure state clears. Only while `owner` holds the lease.
pub async fn advance(db: &mut DbConn<'_>, e: &WebhookEndpoint, owner: Uuid, seq: i64) -> StoreResult<bool> {
    let changed = db
        .execute(
            "UPDATE webhook_endpoints SET position = ?4, attempts = 0, next_attempt_at = NULL, failing_since = NULL
             WHERE account_id = ?1 AND id = ?2 AND lease_owner = ?3 AND position < ?4",
            &params![e.account_id, e.id, owner, seq],
        )
        .await?;
    Ok(changed > 0)
}

/// An attempt failed: the retry state `e` now has (attempts, next attempt, failing since, and
/// whether it was disabled for good). Only while `owner` holds the lease.
pub async fn failed(db: &mut DbConn<'_>, e: &WebhookEndpoint, owner: Uuid) -> StoreResult<bool> {
    let changed = db
        .execute(
            "UPDATE webhook_endpoints SET attempts = ?4, next_attempt_at = ?5, failing_since = ?6, enabled = ?7,
                 disabled_reason = ?8
             WHERE account_id = ?1 AND id = ?2 AND lease_owner = ?3",
            &params![
                e.account_id,
                e.id,
                owner,
                e.attempts,
                e.next_attempt_at,
                e.failing_since,
                e.enabled,
                &e.disabled_reason
            ],
        )
        .await?;
    Ok(changed > 0)
}

pub async fn release(db: &mut DbConn<'_>, e: &WebhookEndpoint, owner: Uuid) -> StoreResult<()> {
    db.execute(
        "UPDATE webhook_endpoints SET lease_owner = NULL, lease_until = NULL
         WHERE account_id = ?1 AND id = ?2 AND lease_owner = ?3",
        &params![e.account_id, e.id, owner],
    )
    .await?;
    Ok(())
}

pub async fn log(db: &mut DbConn<'_>, d: &WebhookDelivery) -> StoreResult<()> {
    db.execute(
        "INSERT INTO webhook_deliveries (account_id, endpoint_id, event_seq, attempt, status, error, latency_ms, at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        &params![
            d.account_id,
            d.endpoint_id,
            d.event_seq,
            d.attempt,
            d.status,
            &d.error,
            d.latency_ms,
            d.at
        ],
    )
    .await?;
    Ok(())
}

/// The endpoint's delivery attempts, newest first.
pub async fn deliveries(
    db: &mut DbConn<'_>,
    account: Uuid,
    endpoint: Uuid,
    limit: i64,
) -> StoreResult<Vec<WebhookDelivery>> {
    let rows = db
        .fetch_all(
            "SELECT * FROM webhook_deliveries WHERE account_id = ?1 AND endpoint_id = ?2 ORDER BY id DESC LIMIT ?3",
            &params![account, endpoint, limit],
        )
        .await?;
    rows.iter()
        .map(|r| {
            Ok(WebhookDelivery {
                account_id: r.uuid("account_id")?,
                endpoint_id: r.uuid("endpoint_id")?,
                event_seq: r.i64("event_seq")?,
                attempt: r.i64("attempt")?,
                status: r.opt_i64("status")?,
                error: r.opt_text("error")?,
                latency_ms: r.i64("latency_ms")?,
                at: r.time("at")?,
            })
        })
        .collect()
}

/// Removes delivery log rows written before `before`; how many.
pub async fn prune_deliveries(db: &mut DbConn<'_>, before: DateTime<Utc>) -> StoreResult<u64> {
    db.execute("DELETE FROM webhook_deliveries WHERE at < ?1", &params![before])
        .await
}
