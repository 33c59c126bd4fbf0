//! Accounts (tenants) and the signing secret, written once for both databases (`store/db.rs`).

use uuid::Uuid;

use super::db::{DbConn, DbRow, params};
use super::{Account, StoreResult};

fn account(row: &DbRow) -> StoreResult<Account> {
    Ok(Account {
        id: row.uuid("id")?,
        name: row.text("name")?,
        scim_enabled: row.bool("scim_enabled")?,
        created_at: row.time("created_at")?,
    })
}

pub async fn create(db: &mut DbConn<'_>, id: Uuid, name: &str) -> StoreResult<Account> {
    let row = db
        .fetch_one(
            "INSERT INTO accounts (id, name, created_at) VALUES (?1, ?2, COALESCE(?3, CURRENT_TIMESTAMP))
             RETURNING *",
            &params![id, name, db.now()],
        )
        .await?;
    account(&row)
}

pub async fn list(db: &mut DbConn<'_>) -> StoreResult<Vec<Account>> {
    let rows = db
        .fetch_all("SELECT * FROM accounts ORDER BY created_at, id", &[])
        .await?;
    rows.iter().map(account).collect()
}

pub async fn get(db: &mut DbConn<'_>, id: Uuid) -> StoreResult<Option<Account>> {
    let row = db
        .fetch_optional("SELECT * FROM accounts WHERE id = ?1", &params![id])
        .await?;
    row.as_ref().map(account).transpose()
}

/// The secret stored under `id`, storing `candidate` first if there is none (the first
/// process to start wins, and every other one reads its secret).
pub async fn signing_key(db: &mut DbConn<'_>, id: &str, candidate: &[u8]) -> StoreResult<Vec<u8>> {
    db.execute(
        "INSERT INTO signing_keys (id, secret, created_at) VALUES (?1, ?2, COALESCE(?3, CURRENT_TIMESTAMP))
         ON CONFLICT (id) DO NOTHING",
        &params![id, candidate, db.now()],
    )
    .await?;
    db.fetch_one("SELECT secret FROM signing_keys WHERE id = ?1", &params![id])
        .await?
        .bytes("secret")
}
