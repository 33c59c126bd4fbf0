//! Token records, written once for both databases (`store/db.rs`). The token itself is never
//! stored: a row holds its SHA-256, its kind, IdP label and lifetime.

use uuid::Uuid;

use super::db::{DbConn, DbRow, params};
use super::{AuthAccount, StoreResult, TokenRecord};

fn token(row: &DbRow) -> StoreResult<TokenRecord> {
    Ok(TokenRecord {
        account_id: row.uuid("account_id")?,
        id: row.uuid("id")?,
        kind: row.text("kind")?,
        idp: row.opt_text("idp")?,
        description: row.opt_text("description")?,
        token_sha256: row.bytes("token_sha256")?,
        created_at: row.time("created_at")?,
        expires_at: row.time("expires_at")?,
        revoked_at: row.opt_time("revoked_at")?,
        last_used_at: row.opt_time("last_used_at")?,
        oauth_client_id: row.opt_uuid("oauth_client_id")?,
    })
}

pub async fn insert(db: &mut DbConn<'_>, t: &TokenRecord) -> StoreResult<()> {
    db.execute(
        "INSERT INTO tokens (account_id, id, kind, idp, description, token_sha256, created_at, expires_at,
             oauth_client_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        &params![
            t.account_id,
            t.id,
            &t.kind,
            &t.idp,
            &t.description,
            &t.token_sha256,
            t.created_at,
            t.expires_at,
            t.oauth_client_id
        ],
    )
    .await?;
    Ok(())
}

pub async fn get(db: &mut DbConn<'_>, account: Uuid, id: Uuid) -> StoreResult<Option<TokenRecord>> {
    let row = db
        .fetch_optional(
            "SELECT * FROM tokens WHERE account_id = ?1 AND id = ?2",
            &params![account, id],
        )
        .await?;
    row.as_ref().map(token).transpose()
}

/// The token and what a request needs of its account, in one round trip.
pub async fn get_for_auth(
    db: &mut DbConn<'_>,
    account: Uuid,
    id: Uuid,
) -> StoreResult<Option<(TokenRecord, AuthAccount)>> {
    let row = db
        .fetch_optional(
            "SELECT t.*, a.scim_enabled, a.schema_version FROM tokens t JOIN accounts a ON a.id = t.account_id
             WHERE t.account_id = ?1 AND t.id = ?2",
            &params![account, id],
        )
        .await?;
    row.as_ref()
        .map(|r| {
            Ok((
                token(r)?,
                AuthAccount {
                    scim_enabled: r.bool("scim_enabled")?,
                    schema_version: r.i64("schema_version")?,
                },
            ))
        })
        .transpose()
}

pub async fn list(db: &mut DbConn<'_>, account: Uuid) -> StoreResult<Vec<TokenRecord>> {
    let rows = db
        .fetch_all(
            // OAuth access tokens (an hour each, many) are listed with their client, not here.
            "SELECT * FROM tokens WHERE account_id = ?1 AND oauth_client_id IS NULL ORDER BY created_at, id",
            &params![account],
        )
        .await?;
    rows.iter().map(token).collect()
}

/// Whether the token was live (and is db.now() revoked).
pub async fn revoke(db: &mut DbConn<'_>, account: Uuid, id: Uuid) -> StoreResult<bool> {
    let changed = db
        .execute(
            "UPDATE tokens SET revoked_at = COALESCE(?3, CURRENT_TIMESTAMP)
             WHERE account_id = ?1 AND id = ?2 AND revoked_at IS NULL",
            &params![account, id, db.now()],
        )
        .await?;
    Ok(changed > 0)
}

pub async fn touch(db: &mut DbConn<'_>, account: Uuid, id: Uuid) -> StoreResult<()> {
    db.execute(
        "UPDATE tokens SET last_used_at = COALESCE(?3, CURRENT_TIMESTAMP) WHERE account_id = ?1 AND id = ?2",
        &params![account, id, db.now()],
    )
    .await?;
    Ok(())
}

/// Revokes every live token of `kind` in the account (R7 disabling SCIM); how many.
pub async fn revoke_of_kind(db: &mut DbConn<'_>, account: Uuid, kind: &str) -> StoreResult<u64> {
    db.execute(
        "UPDATE tokens SET revoked_at = COALESCE(?3, CURRENT_TIMESTAMP)
         WHERE account_id = ?1 AND kind = ?2 AND revoked_at IS NULL",
        &params![account, kind, db.now()],
    )
    .await
}
