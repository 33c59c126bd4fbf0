//! Persistence: one trait, one implementation per database. Every SQL string of scimd lives
//! under this module; no rule of SPEC.md is decided here (that is `service`'s job), but
//! uniqueness and membership integrity are the database's (constraints, `ON CONFLICT`).

pub mod derived;
mod filter_sql;
pub mod postgres;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::scim::filter::Filter;
use crate::scim::path::AttrPath;

pub use filter_sql::FilterError;

/// What can go wrong in the store. Constraint violations are named so the service can turn
/// them into precise protocol errors.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("unique constraint {0} violated")]
    Unique(String),
    #[error("foreign key {0} violated")]
    ForeignKey(String),
    #[error(transparent)]
    Filter(#[from] FilterError),
    /// A `sortBy` attribute without an index.
    #[error("{0}")]
    Unsortable(String),
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &err {
            let constraint = db.constraint().unwrap_or_default().to_string();
            match db.kind() {
                sqlx::error::ErrorKind::UniqueViolation => return StoreError::Unique(constraint),
                sqlx::error::ErrorKind::ForeignKeyViolation => {
                    return StoreError::ForeignKey(constraint);
                }
                _ => {}
            }
        }
        StoreError::Database(err)
    }
}

impl StoreError {
    /// The database could not be reached or had no connection to spare: a condition that
    /// passes, which clients should retry (503), unlike a fault in a query (500).
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            StoreError::Database(
                sqlx::Error::PoolTimedOut
                    | sqlx::Error::PoolClosed
                    | sqlx::Error::Io(_)
                    | sqlx::Error::Tls(_)
            )
        )
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: Uuid,
    pub name: String,
    pub scim_enabled: bool,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct TokenRecord {
    pub account_id: Uuid,
    pub id: Uuid,
    pub kind: String,
    pub idp: Option<String>,
    pub description: Option<String>,
    pub token_sha256: Vec<u8>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// A stored user or group: the canonical SCIM document and what the server keeps beside it.
#[derive(Debug, Clone)]
pub struct ResourceRow {
    pub account_id: Uuid,
    pub id: Uuid,
    pub doc: Map<String, Value>,
    pub source: String,
    pub idp_managed: bool,
    pub created_at: DateTime<Utc>,
    pub last_modified: DateTime<Utc>,
    pub version: i64,
}

/// A new user or group. The store derives its indexed columns from `doc`.
#[derive(Debug, Clone)]
pub struct NewResource {
    pub id: Uuid,
    pub doc: Map<String, Value>,
    pub source: String,
    pub idp_managed: bool,
}

/// One member of a group as the SCIM `members` attribute shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberRef {
    pub group_id: Uuid,
    pub member_id: Uuid,
    pub member_type: String,
    /// The member's displayName, else its userName.
    pub display: Option<String>,
}

/// One group a user belongs to, for the derived `groups` attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRef {
    pub user_id: Uuid,
    pub group_id: Uuid,
    pub display_name: String,
}

/// A page request: `filter`, 1-based `start_index`, `count` already clamped by the caller.
/// With `keyset`, the page is cursor-paged (RFC 9865) and `start_index` is ignored.
#[derive(Debug, Clone)]
pub struct ListQuery {
    pub filter: Option<Filter>,
    pub sort: Option<Sort>,
    pub start_index: i64,
    pub count: i64,
    pub keyset: Option<KeysetPage>,
}

/// Cursor paging: the page starts after `after`, or at the beginning when it is `None`.
#[derive(Debug, Clone, Default)]
pub struct KeysetPage {
    pub after: Option<Keyset>,
}

/// A position in a sorted list: the sort key (in the store's text form; `None` in the default
/// id order or when the key is null) and id of a resource. Pages continue after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keyset {
    pub key: Option<String>,
    pub id: Uuid,
}

/// `sortBy` / `sortOrder` (RFC 7644 §3.4.2.3).
#[derive(Debug, Clone)]
pub struct Sort {
    pub by: AttrPath,
    pub descending: bool,
}

#[derive(Debug, Clone)]
pub struct Page<T> {
    pub total: i64,
    pub items: Vec<T>,
    /// Cursor paging only: where the next page starts, `None` on the last page.
    pub next: Option<Keyset>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceKind {
    User,
    Group,
}

impl ResourceKind {
    /// The SCIM resource type name.
    pub fn resource_type(self) -> &'static str {
        match self {
            ResourceKind::User => "User",
            ResourceKind::Group => "Group",
        }
    }
}

/// Who made a membership (SPEC §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Idp,
    Native,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Idp => "idp",
            Origin::Native => "native",
        }
    }
}

/// A database: hands out units of work.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// A transaction: nothing it wrote is visible until `commit`; dropping it rolls back.
    async fn begin(&self) -> StoreResult<Box<dyn Tx>>;
    /// A pooled connection in autocommit mode, for reads that need no transaction.
    async fn reader(&self) -> StoreResult<Box<dyn Tx>>;
    /// Is the database reachable?
    async fn ping(&self) -> StoreResult<()>;
}

/// The operations of one unit of work. Every method is scoped by account: there is no way to
/// reach another account's rows through it.
#[async_trait]
pub trait Tx: Send {
    async fn commit(self: Box<Self>) -> StoreResult<()>;

    // Accounts and keys.
    async fn create_account(&mut self, id: Uuid, name: &str) -> StoreResult<Account>;
    async fn list_accounts(&mut self) -> StoreResult<Vec<Account>>;
    async fn get_account(&mut self, id: Uuid) -> StoreResult<Option<Account>>;
    /// The signing secret named `id`, created from `candidate` if there is none yet; every
    /// caller gets the same secret however many race.
    async fn signing_key(&mut self, id: &str, candidate: &[u8]) -> StoreResult<Vec<u8>>;

    // Tokens.
    async fn insert_token(&mut self, token: &TokenRecord) -> StoreResult<()>;
    async fn get_token(&mut self, account: Uuid, id: Uuid) -> StoreResult<Option<TokenRecord>>;
    /// A token with its account's `scim_enabled`, in one round trip: what every request's
    /// authentication needs.
    async fn get_token_for_auth(
        &mut self,
        account: Uuid,
        id: Uuid,
    ) -> StoreResult<Option<(TokenRecord, bool)>>;
    async fn list_tokens(&mut self, account: Uuid) -> StoreResult<Vec<TokenRecord>>;
    /// Marks the token revoked; false when there is no such unrevoked token.
    async fn revoke_token(&mut self, account: Uuid, id: Uuid) -> StoreResult<bool>;
    async fn touch_token(&mut self, account: Uuid, id: Uuid) -> StoreResult<()>;

    // Users and groups.
    async fn insert_resource(
        &mut self,
        kind: ResourceKind,
        account: Uuid,
        new: &NewResource,
    ) -> StoreResult<ResourceRow>;
    /// `for_update` locks the row until the transaction ends (read-modify-write).
    async fn get_resource(
        &mut self,
        kind: ResourceKind,
        account: Uuid,
        id: Uuid,
        for_update: bool,
    ) -> StoreResult<Option<ResourceRow>>;
    /// Replaces the document, bumps `version` and `last_modified`.
    async fn update_resource(
        &mut self,
        kind: ResourceKind,
        account: Uuid,
        id: Uuid,
        doc: &Map<String, Value>,
    ) -> StoreResult<ResourceRow>;
    /// Bumps `version` and `last_modified` only (a membership change).
    async fn touch_resource(
        &mut self,
        kind: ResourceKind,
        account: Uuid,
        id: Uuid,
    ) -> StoreResult<Option<ResourceRow>>;
    /// Deletes the resource and its memberships; false when it did not exist.
    async fn delete_resource(&mut self, kind: ResourceKind, account: Uuid, id: Uuid) -> StoreResult<bool>;
    async fn list_resources(
        &mut self,
        kind: ResourceKind,
        account: Uuid,
        query: &ListQuery,
    ) -> StoreResult<Page<ResourceRow>>;

    // Membership, set-based.
    /// Of `ids`, those that are not users of the account.
    async fn missing_users(&mut self, account: Uuid, ids: &[Uuid]) -> StoreResult<Vec<Uuid>>;
    /// Adds the users to the group; returns how many memberships were new.
    async fn add_members(
        &mut self,
        account: Uuid,
        group: Uuid,
        ids: &[Uuid],
        origin: Origin,
    ) -> StoreResult<u64>;
    /// Removes the listed members; returns how many were removed.
    async fn remove_members(&mut self, account: Uuid, group: Uuid, ids: &[Uuid]) -> StoreResult<u64>;
    /// Removes every member not in `keep`; returns how many were removed.
    async fn retain_members(&mut self, account: Uuid, group: Uuid, keep: &[Uuid]) -> StoreResult<u64>;
    /// Members of the given groups.
    async fn members_of(&mut self, account: Uuid, groups: &[Uuid]) -> StoreResult<Vec<MemberRef>>;
    /// Groups of the given users.
    async fn groups_of(&mut self, account: Uuid, users: &[Uuid]) -> StoreResult<Vec<GroupRef>>;
}
