//! OAuth clients (migration 0011), written once for both databases (`store/db.rs`). What a
//! client may do is `service/oauth.rs`'s business.

use uuid::Uuid;

use super::db::{DbConn, DbRow, params};
use super::{OAuthClientRecord, StoreResult};

fn client(row: &DbRow) -> StoreResult<OAuthClientRecord> {
    Ok(OAuthClientRecord {
        account_id: row.uuid("account_id")?,
        id: row.uuid("id")?,
        idp: row.text("idp")?,
        description: row.opt_text("description")?,
        secret_sha256: row.bytes("secret_sha256")?,
        access_token_seconds: row.i64("access_token_seconds")?,
        created_at: row.time("created_at")?,
        revoked_at: row.opt_time("revoked_at")?,
    })
}

pub async fn insert(db: &mut DbConn<'_>, c: &OAuthClientRecord) -> StoreResult<()> {
    db.execute(
        "INSERT INTO oauth_clients (account_id, id, idp, description, secret_sha256, access_token_seconds,
             created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        &params![
            c.account_id,
            c.id,
            &c.idp,
            &c.description,
            &c.secret_sha256,
            c.access_token_seconds,
            c.created_at
        ],
    )
    .await?;
    Ok(())
}

pub async fn get(db: &mut DbConn<'_>, account: Uuid, id: Uuid) -> StoreResult<Option<OAuthClientRecord>> {
    let row = db
        .fetch_optional(
            "SELECT * FROM oauth_clients WHERE account_id = ?1 AND id = ?2",
            &params![account, id],
        )
        .await?;
    row.as_ref().map(client).transpose()
}

pub async fn list(db: &mut DbConn<'_>, account: Uuid) -> StoreResult<Vec<OAuthClientRecord>> {
    let rows = db
        .fetch_all(
            "SELECT * FROM oauth_clients WHERE account_id = ?1 ORDER BY created_at, id",
            &params![account],
        )
        .await?;
    rows.iter().map(client).collect()
}

/// Revokes the client and its live access tokens; whether the client was live.
pub async fn revoke(db: &mut DbConn<'_>, account: Uuid, id: Uuid) -> StoreResult<bool> {
    let now = db.now();
    let changed = db
        .execute(
            "UPDATE oauth_clients SET revoked_at = COALESCE(?3, CURRENT_TIMESTAMP)
             WHERE account_id = ?1 AND id = ?2 AND revoked_at IS NULL",
            &params![account, id, now],
        )
        .await?;
    db.execute(
        "UPDATE tokens SET revoked_at = COALESCE(?3, CURRENT_TIMESTAMP)
         WHERE account_id = ?1 AND oauth_client_id = ?2 AND revoked_at IS NULL",
        &params![account, id, now],
    )
    .await?;
    Ok(changed > 0)
}

/// Revokes every live client of the account (their access tokens are SCIM tokens, which
/// disabling SCIM revokes on its own); how many.
pub async fn revoke_all(db: &mut DbConn<'_>, account: Uuid) -> StoreResult<u64> {
    db.execute(
        "UPDATE oauth_clients SET revoked_at = COALESCE(?2, CURRENT_TIMESTAMP)
         WHERE account_id = ?1 AND revoked_at IS NULL",
        &params![account, db.now()],
    )
    .await
}
