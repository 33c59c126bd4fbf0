//! Persistence: one trait, one implementation per database. Every SQL string of scimd lives
//! under this module; no ownership rule (docs/rules.md) is decided here (that is `service`'s job), but
//! uniqueness and membership integrity are the database's (constraints, `ON CONFLICT`).

mod accounts;
mod audit;
pub mod auth_signal;
pub mod backup;
mod common;
mod console;
pub mod copy;
mod db;
pub mod derived;
mod events;
mod filter_sql;
mod group_commit;
pub mod health;
mod memberships;
mod oauth;
pub mod postgres;
mod rekey;
mod resources;
mod role_bindings;
mod schemas;
pub mod serve_lock;
mod session;
mod settings;
pub mod sqlite;
mod tokens;
mod tx;
mod user_values;
mod webhooks;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::scim::filter::Filter;

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
    /// The database cannot be used as configured (a path that cannot hold it, …).
    #[error("{0}")]
    Unusable(String),
    /// The database is known to be unreachable (see `health`): refused without trying.
    #[error("the database is unreachable")]
    Down,
    /// COMMIT was sent and its answer never came: the transaction may or may not have
    /// committed, so the request must not be replayed as if it had not.
    #[error("the connection failed while committing: {0}")]
    CommitUnknown(#[source] sqlx::Error),
    /// The error of a `COMMIT` that carried several writes (SQLite's group commit,
    /// `store/group_commit.rs`), told to each of them: every predicate below answers as for
    /// the error itself.
    #[error("{0}")]
    Shared(#[source] Arc<StoreError>),
    /// A write in a SQLite batch was rolled back with the batch: another write's failure ended
    /// the transaction they shared (SQLite rolls a whole transaction back after some errors,
    /// such as a full disk). Nothing of it was applied, so it may be sent again.
    #[error("the write was rolled back with the writes committed with it: {0}")]
    BatchLost(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &err {
            // SQLite names the columns of a unique key rather than the key.
            let constraint = db
                .constraint()
                .map(str::to_string)
                .or_else(|| sqlite::constraint_name(db.message()))
                .unwrap_or_default();
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
    /// A condition that passes, which clients should retry (503 with Retry-After), unlike a
    /// fault in a query (500): the database unreachable or restarting, a connection cut
    /// (closed by a proxy, terminated by an administrator, a protocol or I/O error), no
    /// connection to spare, a serialization failure or deadlock, no space left, and on SQLite
    /// another process holding the write lock for the whole busy timeout.
    pub fn is_unavailable(&self) -> bool {
        if let StoreError::Shared(err) = self {
            return err.is_unavailable();
        }
        match self {
            StoreError::Down | StoreError::CommitUnknown(_) | StoreError::BatchLost(_) => true,
            StoreError::Database(err) => unavailable_sqlx(err),
            _ => false,
        }
    }

    /// A fault of one connection that a new connection may not meet: the request that met it
    /// may be replayed once (if it committed nothing). Not the conditions that already took
    /// their time (busy, pool time-out) or that the next try would meet again (no space).
    pub fn is_connection_fault(&self) -> bool {
        if let StoreError::Shared(err) = self {
            return err.is_connection_fault();
        }
        match self {
            StoreError::Database(
                sqlx::Error::Io(_)
                | sqlx::Error::Tls(_)
                | sqlx::Error::Protocol(_)
                | sqlx::Error::WorkerCrashed,
            ) => true,
            StoreError::Database(sqlx::Error::Database(db)) => {
                matches!(
                    postgres_code(db.as_ref()).as_deref(),
                    Some(code) if code.starts_with("08") || code.starts_with("57P") || code == "40001" || code == "40P01"
                )
            }
            _ => false,
        }
    }

    /// No connection could be opened: refused until the acquire timeout, or refused by the
    /// server itself (starting up, shutting down, too many connections). A connection cut
    /// while it was being opened is a connection fault instead (a proxy restarting), which
    /// the next try may not meet.
    pub fn is_connect_failure(&self) -> bool {
        if let StoreError::Shared(err) = self {
            return err.is_connect_failure();
        }
        match self {
            StoreError::Database(sqlx::Error::PoolTimedOut) => true,
            StoreError::Database(sqlx::Error::Io(io)) => io.kind() == std::io::ErrorKind::ConnectionRefused,
            StoreError::Database(sqlx::Error::Database(db)) => {
                postgres_code(db.as_ref()).is_some_and(|c| c == "57P03" || c == "53300")
            }
            _ => false,
        }
    }

    /// No space left for the database (SQLite `SQLITE_FULL`, Postgres `53100 disk_full`).
    pub fn is_disk_full(&self) -> bool {
        if let StoreError::Shared(err) = self {
            return err.is_disk_full();
        }
        match self {
            StoreError::Database(sqlx::Error::Database(db)) => {
                sqlite::primary_code(db.as_ref()) == Some(13)
                    || postgres_code(db.as_ref()).as_deref() == Some("53100")
            }
            _ => false,
        }
    }

    /// For an unavailable store, what a client (and the operator reading its report) is told.
    pub fn unavailable_cause(&self) -> &'static str {
        if let StoreError::Shared(err) = self {
            return err.unavailable_cause();
        }
        if self.is_disk_full() {
            return "the database's disk is full, so writes fail until an operator frees space; \
                    reads still work";
        }
        match self {
            StoreError::Down => "the database is unreachable",
            StoreError::BatchLost(_) => {
                "another write committed together with this one failed and took it back with it \
                 (a full disk, most often); nothing of this request was applied: retry it"
            }
            StoreError::CommitUnknown(_) => {
                "the connection to the database failed while committing; the write may or may not \
                 have been applied: read the resource before retrying"
            }
            StoreError::Database(sqlx::Error::PoolTimedOut) => {
                "no database connection became free in time (the database is overloaded or unreachable)"
            }
            StoreError::Database(sqlx::Error::Database(db)) if sqlite::is_busy(db.as_ref()) => {
                "another process holds the database's write lock"
            }
            err if err.is_connection_fault() => "the connection to the database was lost",
            _ => "the database is unavailable",
        }
    }
}

fn unavailable_sqlx(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => {
            if let Some(code) = postgres_code(db.as_ref()) {
                // 08: connection exception; 57P01-03: admin shutdown, crash shutdown, cannot
                // connect now; 53: insufficient resources (disk full, out of memory, too many
                // connections); 40001/40P01: serialization failure, deadlock.
                code.starts_with("08")
                    || code.starts_with("57P")
                    || code.starts_with("53")
                    || code == "40001"
                    || code == "40P01"
            } else {
                // SQLite: busy (5), locked (6), I/O error (10), full (13).
                matches!(sqlite::primary_code(db.as_ref()), Some(5 | 6 | 10 | 13))
            }
        }
        _ => false,
    }
}

/// The SQLSTATE of a Postgres error; `None` for another database's.
fn postgres_code(err: &dyn sqlx::error::DatabaseError) -> Option<String> {
    err.try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
        .map(|e| e.code().to_string())
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
    /// An OAuth access token's client (`oauth_clients`), revoked with it.
    pub oauth_client_id: Option<Uuid>,
}

/// A web-console session (docs/console.md): the browser holds a secret, the row its SHA-256.
#[derive(Debug, Clone)]
pub struct ConsoleSessionRecord {
    pub id_sha256: Vec<u8>,
    pub account_id: Uuid,
    /// The admin token the session was opened with; checked on every request.
    pub token_id: Option<Uuid>,
    /// Or the setup link it was opened with.
    pub setup_link_id: Option<Uuid>,
    /// The session's anti-forgery token, sent back with every form.
    pub csrf: String,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    /// The absolute end, whatever the use.
    pub expires_at: DateTime<Utc>,
}

/// A single-use link into one account's console (docs/console.md).
#[derive(Debug, Clone)]
pub struct SetupLinkRecord {
    pub account_id: Uuid,
    pub id: Uuid,
    pub code_sha256: Vec<u8>,
    /// Who made it (an operator's name, or `admin-token:<id>`).
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
}

/// An OAuth 2.0 client of an account (client-credentials grant, docs/idp-setup.md).
#[derive(Debug, Clone)]
pub struct OAuthClientRecord {
    pub account_id: Uuid,
    /// The `client_id`.
    pub id: Uuid,
    /// The IdP label its access tokens carry (as stored: `okta`, `entra`, `onelogin`, `other`).
    pub idp: String,
    pub description: Option<String>,
    pub secret_sha256: Vec<u8>,
    pub access_token_seconds: i64,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
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
    /// A group's identifier (docs/rules.md, R1); `None` for users.
    pub identifier: Option<String>,
}

/// A new user or group. The store derives its indexed columns from `doc`.
#[derive(Debug, Clone)]
pub struct NewResource {
    pub id: Uuid,
    pub doc: Map<String, Value>,
    pub source: String,
    pub idp_managed: bool,
    /// A group's identifier (docs/rules.md, R1), required for groups. When another group of the account
    /// has it, the insert fails with `StoreError::Unique(GROUP_IDENTIFIER_KEY)` and leaves the
    /// transaction usable, so the caller can try the next candidate.
    pub identifier: Option<String>,
}

/// The unique index on group identifiers, as `StoreError::Unique` names it.
pub const GROUP_IDENTIFIER_KEY: &str = "groups_identifier_key";

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
    /// Whether the group is IdP-managed (a native group is hidden from SCIM under `keep_both`).
    pub idp_managed: bool,
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
    /// Index paging only: the row just before `start_index`, when the caller knows it (the
    /// last row of the page it served before, see `service::lists`). The page is then read as
    /// a range after that row, not by skipping `start_index - 1` rows, so a pager walking the
    /// list page by page pays for each page, not for everything before it.
    pub resume: Option<Keyset>,
    /// The account's resource type (with its declared extensions), which filters are resolved
    /// against; `None`: the built-in one.
    pub resource_type: Option<&'static crate::scim::schema::ResourceType>,
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

/// `sortBy` / `sortOrder`: the list request's own type (`scim::list`), shared with the store.
pub use crate::scim::list::Sort;
pub use schemas::{AccountSchemas, SchemaRecord};

#[derive(Debug, Clone)]
pub struct Page<T> {
    pub total: i64,
    pub items: Vec<T>,
    /// Cursor paging only: where the next page starts, `None` on the last page.
    pub next: Option<Keyset>,
    /// Index paging only: the page's last row, when the page is full (a next page may follow).
    pub last: Option<Keyset>,
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

/// Who made a membership (docs/rules.md).
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

/// Which database a `database_url` names, by its scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

impl Backend {
    /// `postgres://` / `postgresql://` or `sqlite:`; anything else is refused with a message
    /// that names the accepted forms.
    pub fn from_url(url: &str) -> Result<Backend, String> {
        let scheme = url.split_once(':').map(|(s, _)| s.to_ascii_lowercase());
        match scheme.as_deref() {
            Some("postgres" | "postgresql") => Ok(Backend::Postgres),
            Some("sqlite") => Ok(Backend::Sqlite),
            _ => Err(format!(
                "database_url must be sqlite://PATH (embedded, e.g. sqlite://scimd.db) or \
                 postgres://USER@HOST:PORT/DATABASE, not {:?}",
                crate::redact::redact(url)
            )),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Backend::Postgres => "postgres",
            Backend::Sqlite => "sqlite",
        }
    }
}

/// Opens the store `url` names (creating the database when it does not exist yet), without
/// migrating it.
pub async fn connect(url: &str, options: &StoreOptions) -> StoreResult<Arc<dyn Store>> {
    Ok(match Backend::from_url(url).map_err(StoreError::Unusable)? {
        Backend::Postgres => Arc::new(postgres::PgStore::connect(url, options).await?),
        Backend::Sqlite => Arc::new(sqlite::SqliteStore::connect(url, options).await?),
    })
}

/// How the store uses its database.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    pub max_connections: u32,
    /// How long a request waits for a Postgres connection before it is answered 503.
    /// (SQLite's writers wait for their turn instead; see `sqlite`.)
    pub acquire_timeout: std::time::Duration,
    /// SQLite: open a database file that group or others may read or write (refused otherwise).
    pub allow_readable_by_others: bool,
}

impl StoreOptions {
    /// `max_connections` connections, the default acquire timeout.
    pub fn with_max(max_connections: u32) -> StoreOptions {
        StoreOptions {
            max_connections,
            acquire_timeout: std::time::Duration::from_secs(2),
            allow_readable_by_others: false,
        }
    }
}

/// A point lookup whose plan must be index probes whatever the statistics say (tests and
/// benchmarks read it through [`Store::explain_lookup`]).
#[derive(Debug, Clone, Copy)]
pub enum Lookup<'a> {
    /// The groups of these users: every user a SCIM GET or list returns.
    GroupsOf(&'a [Uuid]),
    /// R4's adoption lookup before a create: users by these userName or primary-email keys.
    UsersByNameOrEmail(&'a [String]),
}

/// A database: hands out units of work.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    fn backend(&self) -> Backend;
    /// Applies pending migrations and rebuilds derived rows written by older code.
    async fn migrate(&self) -> StoreResult<()>;
    /// What an operator should change in the database's own settings, one sentence each, said
    /// when `scimd serve` and `scimd migrate` start (none by default).
    async fn advice(&self) -> StoreResult<Vec<String>> {
        Ok(Vec::new())
    }
    /// Closes every connection (waits for those in use to be returned).
    async fn close(&self);
    /// The plan of the page query a list request runs, for benchmarks, tests and operators
    /// asking why a filter is slow.
    async fn explain_list(&self, kind: ResourceKind, account: Uuid, query: &ListQuery)
    -> StoreResult<String>;
    /// The plan of one of the point lookups every SCIM request makes (`lookup`): on Postgres
    /// the generic plan a prepared statement settles on, run; on SQLite its query plan.
    async fn explain_lookup(&self, account: Uuid, lookup: Lookup<'_>) -> StoreResult<String>;
    /// A transaction: nothing it wrote is visible until `commit`; dropping it rolls back.
    /// Never begin a second one while holding one: SQLite has one writer, so the second would
    /// wait for the first (and fail after 10 s).
    async fn begin(&self) -> StoreResult<Box<dyn Tx>>;
    /// A pooled connection in autocommit mode, for reads that need no transaction.
    async fn reader(&self) -> StoreResult<Box<dyn ReadTx>>;
    /// A read-only transaction whose statements all see one snapshot of the database, for
    /// reads that must agree with each other (an export's users, groups and memberships).
    /// It takes no write lock; dropping it ends it.
    async fn snapshot(&self) -> StoreResult<Box<dyn ReadTx>>;
    /// Is the database reachable?
    async fn ping(&self) -> StoreResult<()>;
    /// What the store knows of the database's health (see `health`).
    fn health(&self) -> &Arc<health::Health>;
    /// The generation a cached token check must have been filled under to be used, `None`
    /// while a change could go unheard (see `auth_signal`).
    fn auth_generation(&self) -> Option<auth_signal::Generation>;
    /// The connection pool now, for `/metrics`.
    fn pool_stats(&self) -> PoolStats;
    /// Gives the committed events their feed positions where the store does not at insertion
    /// (Postgres, `store/events.rs`); how many it numbered. A no-op on SQLite. (No default:
    /// a wrapping store that forgot to forward it would leave Postgres's feed empty.)
    async fn sequence_events(&self) -> StoreResult<u64>;
}

/// Connections a store's pool holds open, and how many of them are idle (the rest are in use).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStats {
    pub size: u32,
    pub idle: u32,
    /// SQLite's group commit (`store/group_commit.rs`): the `COMMIT`s of write transactions
    /// sent so far, and the write transactions they carried; `None` on Postgres.
    pub group_commit: Option<(u64, u64)>,
}

/// What a unit of work may read. Every method is scoped by account: there is no way to reach
/// another account's rows through it. [`Store::reader`] and [`Store::snapshot`] hand out only
/// this, so a read path cannot write: the types say so, not a convention.
#[async_trait]
pub trait ReadTx: Send {
    // Accounts.
    async fn list_accounts(&mut self) -> StoreResult<Vec<Account>>;
    async fn get_account(&mut self, id: Uuid) -> StoreResult<Option<Account>>;

    // Tokens.
    async fn get_token(&mut self, account: Uuid, id: Uuid) -> StoreResult<Option<TokenRecord>>;
    /// A token with what every request needs of its account (`scim_enabled`, the version of its
    /// schemas), in one round trip: what every request's authentication reads.
    async fn get_token_for_auth(
        &mut self,
        account: Uuid,
        id: Uuid,
    ) -> StoreResult<Option<(TokenRecord, AuthAccount)>>;
    async fn list_tokens(&mut self, account: Uuid) -> StoreResult<Vec<TokenRecord>>;

    // Users and groups.
    async fn get_resource(
        &mut self,
        kind: ResourceKind,
        account: Uuid,
        id: Uuid,
    ) -> StoreResult<Option<ResourceRow>>;
    /// A user and the groups it is a member of, in one round trip.
    async fn get_user_with_groups(
        &mut self,
        account: Uuid,
        id: Uuid,
    ) -> StoreResult<Option<(ResourceRow, Vec<GroupRef>)>>;
    /// A page of a list, SCIM's or the admin API's with its extra conditions (R9).
    async fn list_resources(
        &mut self,
        kind: ResourceKind,
        account: Uuid,
        query: &ListQuery,
        extra: &AdminFilter,
    ) -> StoreResult<Page<ResourceRow>>;

    // Membership, set-based.
    /// Of `ids`, those that are not users of the account.
    async fn missing_users(&mut self, account: Uuid, ids: &[Uuid]) -> StoreResult<Vec<Uuid>>;
    /// Members of the given groups.
    async fn members_of(&mut self, account: Uuid, groups: &[Uuid]) -> StoreResult<Vec<MemberRef>>;
    /// Groups of the given users.
    async fn groups_of(&mut self, account: Uuid, users: &[Uuid]) -> StoreResult<Vec<GroupRef>>;

    // ---- Ownership rules R1–R10, admin API and audit ------------------------------------

    // Account profile (R6, R7, R8).
    async fn get_settings(&mut self, account: Uuid) -> StoreResult<Option<AccountSettings>>;

    // Adoption (R4) and the IdP-managed flag.
    /// Users whose `user_name_ci` or `primary_email_ci` is one of `keys` (comparison keys,
    /// `scim::compare::key`).
    async fn find_users_by_name_or_email(
        &mut self,
        account: Uuid,
        keys: &[String],
    ) -> StoreResult<Vec<ResourceRow>>;
    /// Groups whose displayName compares equal to `name` (`scim::compare`; at most one
    /// native and one IdP-managed).
    async fn find_groups_by_display_name(
        &mut self,
        account: Uuid,
        name: &str,
    ) -> StoreResult<Vec<ResourceRow>>;
    /// Group identifiers of the account equal to `base` or starting with `base_` (R1 suffixes).
    async fn identifiers_with_base(&mut self, account: Uuid, base: &str) -> StoreResult<Vec<String>>;
    /// Of `users`, those that are members of at least one IdP-managed group (R3).
    async fn in_idp_managed_groups(&mut self, account: Uuid, users: &[Uuid]) -> StoreResult<Vec<Uuid>>;

    // Role bindings.
    /// Bindings of one group, or of the whole account when `group` is `None`.
    async fn list_role_bindings(
        &mut self,
        account: Uuid,
        group: Option<Uuid>,
    ) -> StoreResult<Vec<RoleBinding>>;

    // Extension schemas (migration 0009).
    /// The account's declared schemas, its choice for undeclared data and their version;
    /// `None` when there is no such account.
    async fn account_schemas(&mut self, account: Uuid) -> StoreResult<Option<AccountSchemas>>;
    /// How many users or groups hold data under the document key `urn`.
    async fn extension_usage(&mut self, kind: ResourceKind, account: Uuid, urn: &str) -> StoreResult<i64>;

    // Export (R10).
    /// Every user or group of the account, in id order.
    async fn all_resources(&mut self, kind: ResourceKind, account: Uuid) -> StoreResult<Vec<ResourceRow>>;
    /// Every membership of the account.
    async fn all_memberships(&mut self, account: Uuid) -> StoreResult<Vec<Membership>>;

    // Audit log.
    /// Newest first.
    async fn list_audit(&mut self, account: Uuid, query: &AuditQuery) -> StoreResult<Vec<AuditRecord>>;

    // Web-console sessions and setup links, and what its overview counts.
    /// Users or groups of the account per provisioning source (R9).
    async fn counts_by_source(
        &mut self,
        kind: ResourceKind,
        account: Uuid,
    ) -> StoreResult<Vec<(String, i64)>>;
    /// Audited changes per UTC day (`YYYY-MM-DD`) and source from the day `since` on.
    async fn activity_by_day(
        &mut self,
        account: Uuid,
        since: chrono::NaiveDate,
    ) -> StoreResult<Vec<(String, String, i64)>>;
    async fn get_console_session(&mut self, id_sha256: &[u8]) -> StoreResult<Option<ConsoleSessionRecord>>;
    /// Newest first.
    async fn list_setup_links(&mut self, account: Uuid) -> StoreResult<Vec<SetupLinkRecord>>;

    // OAuth clients.
    async fn list_oauth_clients(&mut self, account: Uuid) -> StoreResult<Vec<OAuthClientRecord>>;
    async fn get_oauth_client(&mut self, account: Uuid, id: Uuid) -> StoreResult<Option<OAuthClientRecord>>;

    // Webhooks.
    async fn list_webhooks(&mut self, account: Uuid) -> StoreResult<Vec<WebhookEndpoint>>;
    async fn get_webhook(&mut self, account: Uuid, id: Uuid) -> StoreResult<Option<WebhookEndpoint>>;
    /// Newest first.
    async fn list_webhook_deliveries(
        &mut self,
        account: Uuid,
        endpoint: Uuid,
        limit: i64,
    ) -> StoreResult<Vec<WebhookDelivery>>;

    // Change feed.
    /// The account's events after `query.after` in feed order (up to `limit + 1`), with the
    /// account's last position and the position retention removed events through, all read at
    /// one snapshot.
    async fn list_events(&mut self, account: Uuid, query: &EventQuery) -> StoreResult<EventPage>;
}

/// A write transaction ([`Store::begin`]): everything a [`ReadTx`] reads, and the writes.
/// Nothing it wrote is visible to others until `commit`; dropping it rolls back.
#[async_trait]
pub trait Tx: ReadTx {
    async fn commit(self: Box<Self>) -> StoreResult<()>;

    // Accounts and keys.
    async fn create_account(&mut self, id: Uuid, name: &str) -> StoreResult<Account>;
    /// The signing secret named `id`, created from `candidate` if there is none yet; every
    /// caller gets the same secret however many race.
    async fn signing_key(&mut self, id: &str, candidate: &[u8]) -> StoreResult<Vec<u8>>;

    // Tokens.
    async fn insert_token(&mut self, token: &TokenRecord) -> StoreResult<()>;
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
    /// The resource, its row locked until the transaction ends (read-modify-write).
    async fn lock_resource(
        &mut self,
        kind: ResourceKind,
        account: Uuid,
        id: Uuid,
    ) -> StoreResult<Option<ResourceRow>>;
    /// The group, held until the transaction ends against
    /// [`lock_resource`](Tx::lock_resource) (which then waits, and is waited for, in turn), but
    /// not against other holders of this lock nor against [`touch_resource`](Tx::touch_resource):
    /// for changes to its memberships that may run side by side and meet only at their last
    /// statement (`resources::RowLock::Share` says how).
    async fn share_group(&mut self, account: Uuid, id: Uuid) -> StoreResult<Option<ResourceRow>>;
    /// Replaces the document, bumps `version` and `last_modified`.
    async fn update_resource(
        &mut self,
        kind: ResourceKind,
        account: Uuid,
        id: Uuid,
        doc: &Map<String, Value>,
    ) -> StoreResult<ResourceRow>;
    /// Bumps `version` and `last_modified` only (a membership change). With `owner`, only while
    /// the resource is still managed by that provisioning source; `None` when it is not (or
    /// does not exist).
    async fn touch_resource(
        &mut self,
        kind: ResourceKind,
        account: Uuid,
        id: Uuid,
        owner: Option<&str>,
    ) -> StoreResult<Option<ResourceRow>>;
    /// Deletes the resource and its memberships; false when it did not exist.
    async fn delete_resource(&mut self, kind: ResourceKind, account: Uuid, id: Uuid) -> StoreResult<bool>;

    // Membership, set-based.
    /// Adds the users to the group; returns the ids whose membership is new (what the audit
    /// log records: the delta, never the member list).
    async fn add_members(
        &mut self,
        account: Uuid,
        group: Uuid,
        ids: &[Uuid],
        origin: Origin,
    ) -> StoreResult<Vec<Uuid>>;
    /// Removes the listed members; returns the ids that were members.
    async fn remove_members(&mut self, account: Uuid, group: Uuid, ids: &[Uuid]) -> StoreResult<Vec<Uuid>>;
    /// Removes every member not in `keep`; returns the ids removed.
    async fn retain_members(&mut self, account: Uuid, group: Uuid, keep: &[Uuid]) -> StoreResult<Vec<Uuid>>;

    // ---- Ownership rules R1–R10, admin API and audit ------------------------------------

    /// Writes every profile field of `settings` (not `scim_enabled`).
    async fn update_settings(&mut self, account: Uuid, settings: &AccountSettings) -> StoreResult<()>;
    /// Declares a schema; a URN declared before fails with `StoreError::Unique`. Bumps the
    /// account's schema version.
    async fn insert_schema(&mut self, account: Uuid, schema: &SchemaRecord) -> StoreResult<()>;
    /// Removes a declaration (URN compared ignoring case); whether there was one. Bumps the
    /// account's schema version.
    async fn delete_schema(&mut self, account: Uuid, urn: &str) -> StoreResult<bool>;
    /// Removes the document key `urn` from every user or group of the account that has it
    /// (new version, lastModified, filter rows); how many changed.
    async fn strip_extension(&mut self, kind: ResourceKind, account: Uuid, urn: &str) -> StoreResult<u64>;
    /// Other users of the account whose extension attribute (its `user_values` key) holds
    /// `value`, after taking a lock on that value (see `store::schemas::value_owners`).
    async fn extension_value_owners(
        &mut self,
        kind: ResourceKind,
        account: Uuid,
        attr: &str,
        value: &str,
        case_exact: bool,
        except: Option<Uuid>,
    ) -> StoreResult<Vec<Uuid>>;
    /// Sets `scim_enabled`; false when there is no such account.
    async fn set_scim_enabled(&mut self, account: Uuid, enabled: bool) -> StoreResult<bool>;
    /// Revokes every unrevoked token of `kind`; returns how many.
    async fn revoke_tokens_of_kind(&mut self, account: Uuid, kind: &str) -> StoreResult<u64>;
    /// Makes every IdP-managed user or group of the account native, in one statement; returns
    /// how many changed. `source` is kept: it says where the resource came from.
    async fn release_idp_managed(&mut self, kind: ResourceKind, account: Uuid) -> StoreResult<u64>;
    /// The IdP-managed groups whose displayName a native group also has (by comparison key),
    /// locked until the transaction ends: `(id, displayName, identifier)`.
    async fn idp_groups_named_like_native(
        &mut self,
        account: Uuid,
    ) -> StoreResult<Vec<(Uuid, String, String)>>;
    /// Gives each group `(id, new displayName)` its new name; returns how many changed.
    async fn rename_groups(&mut self, account: Uuid, renames: &[(Uuid, String)]) -> StoreResult<u64>;
    /// Marks a native resource IdP-managed with `source`, locking its row; false when it is
    /// already IdP-managed (someone else adopted it first) or does not exist.
    async fn claim_resource(
        &mut self,
        kind: ResourceKind,
        account: Uuid,
        id: Uuid,
        source: &str,
    ) -> StoreResult<bool>;
    /// Makes the IdP-managed user `id` native (its source stays); false when it was not
    /// IdP-managed.
    async fn release_user(&mut self, account: Uuid, id: Uuid) -> StoreResult<bool>;

    // Role bindings.
    /// Inserts a binding; `StoreError::Unique` when the group already has it.
    async fn insert_role_binding(
        &mut self,
        account: Uuid,
        binding: &NewRoleBinding,
    ) -> StoreResult<RoleBinding>;
    /// Deletes a binding of the group; the deleted binding, `None` when there was none.
    async fn delete_role_binding(
        &mut self,
        account: Uuid,
        group: Uuid,
        id: Uuid,
    ) -> StoreResult<Option<RoleBinding>>;

    // Audit log.
    /// An audit event and the change feed's typed events of the same change.
    async fn insert_audit(
        &mut self,
        account: Uuid,
        event: &AuditRecord,
        events: &[NewEvent],
    ) -> StoreResult<()>;

    // Web-console sessions and setup links.
    /// Stores a session and drops the account's sessions past their absolute end at `now`.
    async fn insert_console_session(
        &mut self,
        session: &ConsoleSessionRecord,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Records a use of the session at `at`.
    async fn touch_console_session(&mut self, id_sha256: &[u8], at: DateTime<Utc>) -> StoreResult<()>;
    /// Whether there was such a session.
    async fn delete_console_session(&mut self, id_sha256: &[u8]) -> StoreResult<bool>;
    async fn insert_setup_link(&mut self, link: &SetupLinkRecord) -> StoreResult<()>;
    /// Marks the unused link with this code used at `now`, in one statement; `None` when there
    /// is none or it was used.
    async fn use_setup_link(
        &mut self,
        code_sha256: &[u8],
        now: DateTime<Utc>,
    ) -> StoreResult<Option<SetupLinkRecord>>;

    // OAuth clients.
    async fn insert_oauth_client(&mut self, client: &OAuthClientRecord) -> StoreResult<()>;
    /// Revokes a live client and every live access token issued to it; whether it was live.
    async fn revoke_oauth_client(&mut self, account: Uuid, id: Uuid) -> StoreResult<bool>;
    /// Revokes every live client of the account (R7, disabling SCIM); how many.
    async fn revoke_oauth_clients(&mut self, account: Uuid) -> StoreResult<u64>;

    // Webhooks (see `store/webhooks.rs`).
    async fn insert_webhook(&mut self, endpoint: &WebhookEndpoint) -> StoreResult<WebhookEndpoint>;
    async fn save_webhook(&mut self, endpoint: &WebhookEndpoint) -> StoreResult<bool>;
    async fn delete_webhook(&mut self, account: Uuid, id: Uuid) -> StoreResult<bool>;
    async fn claim_webhooks(
        &mut self,
        owner: Uuid,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<Vec<WebhookEndpoint>>;
    async fn advance_webhook(
        &mut self,
        endpoint: &WebhookEndpoint,
        owner: Uuid,
        seq: i64,
    ) -> StoreResult<bool>;
    async fn fail_webhook(&mut self, endpoint: &WebhookEndpoint, owner: Uuid) -> StoreResult<bool>;
    async fn release_webhook(&mut self, endpoint: &WebhookEndpoint, owner: Uuid) -> StoreResult<()>;
    async fn log_webhook_delivery(&mut self, delivery: &WebhookDelivery) -> StoreResult<()>;
    async fn prune_webhook_deliveries(&mut self, before: DateTime<Utc>) -> StoreResult<u64>;

    // Change feed.
    /// Removes every account's events written before `before` (see `store/events.rs`).
    async fn prune_events(&mut self, before: DateTime<Utc>) -> StoreResult<u64>;
}

/// What authenticating a request reads of the token's account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthAccount {
    pub scim_enabled: bool,
    /// Grows with every change of the account's extension schemas (migration 0009).
    pub schema_version: i64,
}

/// The account profile (docs/rules.md, R6, R7, R8) as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountSettings {
    pub scim_enabled: bool,
    pub update_emails_via_scim: bool,
    /// `link` or `keep_both`.
    pub group_name_conflict: String,
    pub reserved_group_names: Vec<String>,
    pub max_group_name_length: Option<i32>,
    /// `None`: the server's `token_ttl`.
    pub token_ttl_seconds: Option<i64>,
    /// `keep` or `refuse`: data under extension URNs the account has not declared.
    pub undeclared_extensions: String,
}

/// Extra conditions of an admin-API list (R9).
#[derive(Debug, Clone, Default)]
pub struct AdminFilter {
    pub source: Option<String>,
    pub idp_managed: Option<bool>,
    /// A filter on a user's `groups` sees only IdP-managed groups (SCIM under `keep_both`).
    pub idp_groups_only: bool,
}

#[derive(Debug, Clone)]
pub struct NewRoleBinding {
    pub id: Uuid,
    pub group_id: Uuid,
    pub role: String,
    pub resource_group: String,
}

/// A role binding with its group's identifier (docs/rules.md, R1: group identifier, role, resource group).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleBinding {
    pub id: Uuid,
    pub group_id: Uuid,
    pub group_identifier: String,
    pub role: String,
    pub resource_group: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub group_id: Uuid,
    pub user_id: Uuid,
    /// `idp` or `native`.
    pub origin: String,
}

/// A webhook endpoint of an account and where its delivery stands.
#[derive(Debug, Clone)]
pub struct WebhookEndpoint {
    pub account_id: Uuid,
    pub id: Uuid,
    pub url: String,
    /// Only these event types; `None`: every type.
    pub types: Option<Vec<String>>,
    /// `whsec_…` (Standard Webhooks), what deliveries are signed with.
    pub secret: String,
    pub description: Option<String>,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    /// The feed position delivered through.
    pub position: i64,
    /// Failed attempts at the next event.
    pub attempts: i64,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub failing_since: Option<DateTime<Utc>>,
}

/// One delivery attempt, for the endpoint's log.
#[derive(Debug, Clone)]
pub struct WebhookDelivery {
    pub account_id: Uuid,
    pub endpoint_id: Uuid,
    pub event_seq: i64,
    pub attempt: i64,
    /// The HTTP status answered; `None` without an answer (`error` says why).
    pub status: Option<i64>,
    pub error: Option<String>,
    pub latency_ms: i64,
    pub at: DateTime<Utc>,
}

/// A typed event of the change feed, as written (`service/events.rs` derives them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    /// `user.created`, `group.member_added`, …
    pub kind: &'static str,
    pub resource_type: &'static str,
    pub resource_id: Option<String>,
    pub external_id: Option<String>,
    /// The user a membership event is about.
    pub member_id: Option<Uuid>,
    /// The top-level attributes an update changed.
    pub changed: Option<Vec<String>>,
}

/// A page request of the change feed.
#[derive(Debug, Clone)]
pub struct EventQuery {
    /// Events after this position (0: from the oldest kept).
    pub after: i64,
    pub limit: i64,
    /// Only events of these types.
    pub types: Option<Vec<String>>,
}

/// An event as read back, with its change's actor and state (from the audit event).
#[derive(Debug, Clone)]
pub struct EventRecord {
    pub seq: i64,
    pub kind: String,
    pub resource_type: String,
    pub resource_id: Option<String>,
    pub external_id: Option<String>,
    pub member_id: Option<Uuid>,
    pub changed: Option<Vec<String>>,
    pub at: DateTime<Utc>,
    pub actor_kind: Option<String>,
    pub actor_token_id: Option<Uuid>,
    pub actor_idp: Option<String>,
    pub actor_name: Option<String>,
    /// The state after the change (before it, for a deletion); none for a membership event.
    pub data: Option<Value>,
}

/// A page of the feed: its events, the account's last position, and the position retention
/// removed events through (all at one snapshot).
#[derive(Debug, Clone)]
pub struct EventPage {
    pub events: Vec<EventRecord>,
    pub head: i64,
    pub pruned_through: i64,
}

/// One audit event. `at` is set by the database on insert.
#[derive(Debug, Clone)]
pub struct AuditRecord {
    pub id: Uuid,
    pub at: Option<DateTime<Utc>>,
    /// `scim`, `admin` or `operator`.
    pub actor_kind: String,
    pub actor_token_id: Option<Uuid>,
    pub actor_idp: Option<String>,
    pub actor_name: Option<String>,
    pub action: String,
    pub resource_type: String,
    pub resource_id: Option<String>,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub delta: Option<Value>,
}

/// A page of the audit log, newest first: events older than `before` (an event id).
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    /// `scim`, `admin` or `operator`.
    pub actor_kind: Option<String>,
    pub before: Option<Uuid>,
    /// Only events from this id on (a UUIDv7 made from a time is a time bound).
    pub from: Option<Uuid>,
    pub limit: i64,
}
