//! Rewrites the stored comparison keys (the `*_ci` columns) of rows written before keys were
//! the PRECIS-like key of `scim::compare` (they were the Unicode lower case), and moves the
//! displayName uniqueness of groups onto that key. Runs once per database at start-up, after
//! the SQL migrations (migration 0005 records that it is due), in one write transaction that
//! also drops and re-creates the unique indexes on the keys, so no write ever sees a table
//! without them.
//!
//! Rows that the new key makes equal (`straße` and `STRASSE`, `Eng` and `eng` groups on one
//! side) are not a reason to fail an upgrade: the oldest keeps the key, each other one gets a
//! key of its own (the key, U+0001 and its id, which no comparison matches), and the collision
//! is reported — a warning in the log and an audit event on the account (`user.key_collision`,
//! `group.key_collision`), so
//! an administrator can rename one of them. docs/operations.md ("Upgrading") says so.
//!
//! Only rows whose text is not ASCII can change key (on ASCII the new key is the old ASCII
//! lower case), so the rewrite reads those rows only; the duplicate search is one grouped
//! query per table.

use serde_json::json;
use uuid::Uuid;

use super::db::{DbConn, params};
use super::filter_sql::Dialect;
use super::{AuditRecord, StoreResult, audit};
use crate::scim::compare;

/// The key version the rows follow once this has run; `store_meta.comparison_key_version`.
pub const COMPARISON_KEY_VERSION: i32 = 1;

const READ_VERSION: &str = "SELECT value FROM store_meta WHERE key = 'comparison_key_version'";
const WRITE_VERSION: &str = "UPDATE store_meta SET value = ?1 WHERE key = 'comparison_key_version'";

/// The unique indexes on keys, dropped before the rewrite and created after it.
const DROP_UNIQUE_KEYS: &[&str] = &[
    "DROP INDEX IF EXISTS users_user_name_ci_key",
    "DROP INDEX IF EXISTS groups_idp_display_name_key",
    "DROP INDEX IF EXISTS groups_native_display_name_key",
];
/// Two IdP-managed groups may not share a name, nor two native ones (docs/rules.md, R4
/// keep_both); names compare by key, as an IdP's `displayName eq` filter does.
pub const CREATE_UNIQUE_KEYS: &[&str] = &[
    "CREATE UNIQUE INDEX users_user_name_ci_key ON users (account_id, user_name_ci)",
    "CREATE UNIQUE INDEX groups_idp_display_name_key ON groups (account_id, display_name_ci) WHERE idp_managed",
    "CREATE UNIQUE INDEX groups_native_display_name_key ON groups (account_id, display_name_ci) WHERE NOT idp_managed",
];

/// Whether `column` holds a character outside ASCII (NULL: no).
fn non_ascii(dialect: Dialect, column: &str) -> String {
    match dialect {
        Dialect::Sqlite => format!("length(CAST({column} AS BLOB)) <> length({column})"),
        Dialect::Postgres => format!("octet_length({column}) <> length({column})"),
    }
}

/// Users whose keys may change: `account_id, id, user_name, display_name, primary_email_ci`.
/// The primary email's new key is the key of its old one (lower case, then keyed, is the key).
fn users_to_rekey(dialect: Dialect) -> String {
    format!(
        "SELECT account_id, id, user_name, display_name, primary_email_ci FROM users WHERE {} OR {} OR {}",
        non_ascii(dialect, "user_name"),
        non_ascii(dialect, "display_name"),
        non_ascii(dialect, "primary_email_ci")
    )
}

const UPDATE_USER_KEYS: &str =
    "UPDATE users SET user_name_ci = ?3, display_name_ci = ?4, primary_email_ci = ?5
     WHERE account_id = ?1 AND id = ?2";

/// Groups whose key may change: `account_id, id, display_name`.
fn groups_to_rekey(dialect: Dialect) -> String {
    format!(
        "SELECT account_id, id, display_name FROM groups WHERE {}",
        non_ascii(dialect, "display_name")
    )
}

const UPDATE_GROUP_KEY: &str = "UPDATE groups SET display_name_ci = ?3 WHERE account_id = ?1 AND id = ?2";
const UPDATE_USER_NAME_KEY: &str = "UPDATE users SET user_name_ci = ?3 WHERE account_id = ?1 AND id = ?2";

/// Users that share a key, each key's rows oldest first: `account_id, id, name, key`.
const USER_DUPLICATES: &str = "SELECT account_id, id, user_name AS name, user_name_ci AS key FROM users
     WHERE (account_id, user_name_ci) IN (
         SELECT account_id, user_name_ci FROM users GROUP BY account_id, user_name_ci HAVING count(*) > 1)
     ORDER BY account_id, user_name_ci, created_at, id";

/// Groups on one side (IdP-managed or native) that share a key, oldest first.
const GROUP_DUPLICATES: &str =
    "SELECT account_id, id, display_name AS name, display_name_ci AS key, idp_managed FROM groups
     WHERE (account_id, idp_managed, display_name_ci) IN (
         SELECT account_id, idp_managed, display_name_ci FROM groups
         GROUP BY account_id, idp_managed, display_name_ci HAVING count(*) > 1)
     ORDER BY account_id, idp_managed, display_name_ci, created_at, id";

/// One row of a duplicate search, as read.
#[derive(Debug, Clone)]
pub struct Duplicate {
    pub account: Uuid,
    pub id: Uuid,
    pub name: String,
    pub key: String,
    /// Groups: the side (IdP-managed or not); users: always false.
    pub side: bool,
}

/// A row that lost its key to an older one with the same key.
#[derive(Debug, Clone)]
pub struct Collision {
    pub account: Uuid,
    pub resource_type: &'static str,
    pub key: String,
    pub kept_id: Uuid,
    pub kept_name: String,
    pub id: Uuid,
    pub name: String,
}

impl Collision {
    /// The key the row keeps until it is renamed: unique (it holds the id) and matched by no
    /// comparison (no key holds U+0001: it is refused in identifiers and folds to itself).
    pub fn parked_key(&self) -> String {
        format!("{}\u{1}{}", self.key, self.id)
    }

    /// The audit event that tells the account about it.
    pub fn audit_event(&self) -> AuditRecord {
        AuditRecord {
            id: Uuid::now_v7(),
            at: None,
            actor_kind: "operator".into(),
            actor_token_id: None,
            actor_idp: None,
            actor_name: Some("scimd migrate".into()),
            action: format!("{}.key_collision", self.resource_type.to_lowercase()),
            resource_type: self.resource_type.into(),
            resource_id: Some(self.id.to_string()),
            before: None,
            after: None,
            delta: Some(json!({
                "comparison_key": self.key,
                "name": self.name,
                "same_key_as": {"id": self.kept_id.to_string(), "name": self.kept_name},
                "fix": "rename one of the two; until then this one is not found by an eq filter \
                        on its name and does not block the name",
            })),
        }
    }

    /// A warning in the log.
    pub fn report(&self) {
        tracing::warn!(
            account = %self.account,
            resource_type = self.resource_type,
            id = %self.id,
            name = %self.name,
            same_key_as = %self.kept_id,
            same_key_as_name = %self.kept_name,
            comparison_key = %self.key,
            "two {}s now compare equal; the older keeps the name's key, rename one of them",
            self.resource_type.to_lowercase()
        );
    }
}

/// Rewrites the keys if the database's are older than [`COMPARISON_KEY_VERSION`], inside the
/// caller's write transaction, which must hold the database's write lock (SQLite's `BEGIN
/// IMMEDIATE`) or lock the `store_meta` row (Postgres, `FOR UPDATE` here): processes starting
/// together then rewrite once. Returns `None` when there was nothing to do, else how many rows
/// it read and the collisions, for [`reported`] once the transaction has committed.
pub async fn run(db: &mut DbConn<'_>) -> StoreResult<Option<(usize, Vec<Collision>)>> {
    let lock = match db.dialect() {
        Dialect::Postgres => " FOR UPDATE",
        Dialect::Sqlite => "",
    };
    let stored = db
        .fetch_one(&format!("{READ_VERSION}{lock}"), &[])
        .await?
        .text("value")?;
    if stored.parse::<i32>().unwrap_or(0) >= COMPARISON_KEY_VERSION {
        return Ok(None);
    }
    for sql in DROP_UNIQUE_KEYS {
        db.execute(sql, &[]).await?;
    }
    let users = db.fetch_all(&users_to_rekey(db.dialect()), &[]).await?;
    for row in &users {
        let display = row.opt_text("display_name")?;
        let email = row.opt_text("primary_email_ci")?;
        db.execute(
            UPDATE_USER_KEYS,
            &params![
                row.uuid("account_id")?,
                row.uuid("id")?,
                &compare::key(&row.text("user_name")?),
                &display.as_deref().map(compare::key),
                &email.as_deref().map(compare::key),
            ],
        )
        .await?;
    }
    let groups = db.fetch_all(&groups_to_rekey(db.dialect()), &[]).await?;
    for row in &groups {
        db.execute(
            UPDATE_GROUP_KEY,
            &params![
                row.uuid("account_id")?,
                row.uuid("id")?,
                &compare::key(&row.text("display_name")?)
            ],
        )
        .await?;
    }
    let mut found = Vec::new();
    for (resource_type, sql, update) in [
        ("User", USER_DUPLICATES, UPDATE_USER_NAME_KEY),
        ("Group", GROUP_DUPLICATES, UPDATE_GROUP_KEY),
    ] {
        let rows = db.fetch_all(sql, &[]).await?;
        let rows = rows
            .iter()
            .map(|row| {
                Ok(Duplicate {
                    account: row.uuid("account_id")?,
                    id: row.uuid("id")?,
                    name: row.text("name")?,
                    key: row.text("key")?,
                    side: resource_type == "Group" && row.bool("idp_managed")?,
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        for collision in collisions(resource_type, &rows) {
            db.execute(
                update,
                &params![collision.account, collision.id, &collision.parked_key()],
            )
            .await?;
            audit::insert(db, collision.account, &collision.audit_event()).await?;
            found.push(collision);
        }
    }
    for sql in CREATE_UNIQUE_KEYS {
        db.execute(sql, &[]).await?;
    }
    db.execute(WRITE_VERSION, &params![&COMPARISON_KEY_VERSION.to_string()])
        .await?;
    Ok(Some((users.len() + groups.len(), found)))
}

/// Logs what a committed rewrite did: how many rows it read, and each collision.
pub fn reported(rewritten: usize, collisions: &[Collision]) {
    for c in collisions {
        c.report();
    }
    if rewritten > 0 || !collisions.is_empty() {
        tracing::info!(
            rows = rewritten,
            collisions = collisions.len(),
            "rewrote the comparison keys of names and emails outside ASCII"
        );
    }
}

/// The collisions among duplicate rows ordered by (account, side, key, age): in each run of
/// one (account, side, key), every row after the first.
pub fn collisions(resource_type: &'static str, rows: &[Duplicate]) -> Vec<Collision> {
    let mut out = Vec::new();
    let mut first: Option<&Duplicate> = None;
    for row in rows {
        match first {
            Some(f) if f.account == row.account && f.side == row.side && f.key == row.key => {
                out.push(Collision {
                    account: row.account,
                    resource_type,
                    key: row.key.clone(),
                    kept_id: f.id,
                    kept_name: f.name.clone(),
                    id: row.id,
                    name: row.name.clone(),
                });
            }
            _ => first = Some(row),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dup(account: u128, id: u128, key: &str, side: bool) -> Duplicate {
        Duplicate {
            account: Uuid::from_u128(account),
            id: Uuid::from_u128(id),
            name: format!("name{id}"),
            key: key.into(),
            side,
        }
    }

    #[test]
    fn the_first_of_each_run_keeps_the_key() {
        let rows = [
            dup(1, 10, "strasse", false),
            dup(1, 11, "strasse", false),
            dup(1, 12, "strasse", false),
            dup(1, 20, "eng", false),
            dup(1, 21, "eng", true),
            dup(2, 30, "eng", true),
            dup(2, 31, "eng", true),
        ];
        let found = collisions("Group", &rows);
        let pairs: Vec<(u128, u128)> = found
            .iter()
            .map(|c| (c.kept_id.as_u128(), c.id.as_u128()))
            .collect();
        assert_eq!(pairs, [(10, 11), (10, 12), (30, 31)]);
        assert!(found[0].parked_key().starts_with("strasse\u{1}"));
        assert_ne!(found[0].parked_key(), found[1].parked_key());
        assert_eq!(
            crate::scim::compare::key(&found[0].parked_key()),
            found[0].parked_key()
        );
    }
}
