//! The ownership rules (docs/rules.md) over the store. Every rule lives here once and serves every surface
//! (SCIM API, admin API, CLI); handlers never decide a rule and the store never does either.

pub mod accounts;
pub mod admin;
pub mod audit;
pub mod bulk;
pub mod export;
pub mod groups;
pub mod identifier;
pub mod lists;
pub mod ownership;
pub mod search;
pub mod settings;
pub mod tokens;
pub mod users;

use std::sync::Arc;
use std::time::Duration;

use uuid::Uuid;

use crate::scim::ScimError;
use crate::store::{Store, StoreError};

pub use accounts::Bootstrap;
pub use lists::{ListPage, Paging};
pub use tokens::{Caller, Idp, IssuedToken, TokenKind};

/// Everything a request can fail with, in the service's terms. The service picks no HTTP
/// status: `http/error.rs` maps each variant to a status, a scimType and (on the admin API) an
/// RFC 9457 problem, in one place (docs/decisions.md).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A protocol error with its status and scimType (bad input, not found, conflict, …).
    #[error(transparent)]
    Scim(#[from] ScimError),
    /// 401: the caller is not who it must be. The detail is safe to show.
    #[error("{0}")]
    Unauthorized(String),
    /// 403: authenticated, but this is not allowed.
    #[error("{0}")]
    Forbidden(String),
    /// No such resource in the caller's account (or none the caller may see).
    #[error("{0}")]
    NotFound(String),
    /// The write's `If-Match` names a version the resource no longer has.
    #[error("{0}")]
    PreconditionFailed(String),
    /// R3: the identity provider manages what the request would change; the detail names it
    /// and the way out.
    #[error("{0}")]
    LockedByIdp(String),
    /// The request conflicts with the state of other work (a bulk operation depending on one
    /// that failed, or on a cycle of bulkIds); no attribute's uniqueness is at stake.
    #[error("{0}")]
    Conflict(String),
    /// Not possible now, possibly later: the client may retry.
    #[error("{0}")]
    Unavailable(String),
    /// A fault of ours outside the database; the detail is safe to show, the cause is logged
    /// where it happened.
    #[error("{0}")]
    Failed(String),
    /// A fault of ours or of the database: logged, never shown in detail.
    #[error(transparent)]
    Internal(#[from] StoreError),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Settings the rules need.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Lifetime of a new token when none is asked for (docs/rules.md, R6: 365 days).
    pub token_ttl: Duration,
    /// Most resources one list page returns.
    pub max_results: i64,
    /// Page size when the client asks for none.
    pub default_count: i64,
    /// How long a cursor stays usable (RFC 9865 `cursorTimeout`), in seconds.
    pub cursor_timeout_secs: i64,
    /// What the rules read the time from (docs/decisions.md, "Time is injected").
    pub clock: crate::clock::Clock,
}

/// The service layer: rules over a store.
pub struct Service {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) settings: Settings,
    pub(crate) signing_key: tokens::SigningKey,
    /// Tokens whose `last_used_at` this process is refreshing or refreshed lately, so a burst
    /// of requests writes it once, not once per request until the first write lands.
    pub(crate) touched: tokens::RecentlyTouched,
    /// Tokens found revoked, refused again without a database read.
    pub(crate) revoked: tokens::RevokedTokens,
}

impl Service {
    /// Builds the service, taking the JWT signing secret from configuration or, when none is
    /// configured, from the database (generated there once, so replicas agree).
    pub async fn new(
        store: Arc<dyn Store>,
        settings: Settings,
        configured_key: Option<Vec<u8>>,
    ) -> Result<Service> {
        let signing_key = tokens::SigningKey::load(store.as_ref(), configured_key).await?;
        Ok(Service {
            touched: Default::default(),
            revoked: Default::default(),
            store,
            settings,
            signing_key,
        })
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The clock the rules read.
    pub fn clock(&self) -> &crate::clock::Clock {
        &self.settings.clock
    }

    /// The database's health as `/readyz` reports it.
    pub fn database_condition(&self) -> records::DatabaseCondition {
        self.store.health().condition()
    }

    /// Whether the database is known to be unreachable now.
    pub fn database_unreachable(&self) -> bool {
        self.store.health().unreachable()
    }

    /// Records that a write failed for `cause`, so `/readyz` reports it.
    pub fn mark_writes_failing(&self, cause: &str) {
        self.store.health().mark_writes_failing(cause)
    }

    pub async fn ready(&self) -> Result<()> {
        Ok(self.store.ping().await?)
    }
}

/// Parses an id taken from a URL or body. Anything that is not a UUID names no resource.
pub(crate) fn parse_id(raw: &str) -> Option<Uuid> {
    Uuid::parse_str(raw.trim()).ok()
}

/// The `If-Match` condition of a write (RFC 7644 §3.14): checked against the stored version
/// after the row is locked, so a lost update cannot slip in between check and write.
#[derive(Debug, Clone, Default)]
pub struct Precondition {
    pub if_match: Option<String>,
}

impl Precondition {
    pub(crate) fn check(&self, version: i64) -> Result<()> {
        match &self.if_match {
            Some(tags) if !crate::scim::render::etag_matches(tags, version) => {
                Err(Error::PreconditionFailed(format!(
                    "the resource has changed: its version is {}, not {tags}; read it again and retry",
                    crate::scim::render::etag(version)
                )))
            }
            _ => Ok(()),
        }
    }
}

/// No resource of type `kind` (`User`, `Group`) named by `id`.
pub(crate) fn not_found(kind: &str, id: &str) -> Error {
    Error::NotFound(format!("{kind} {id:?} not found"))
}

/// The records the service hands out and takes in, as the HTTP layer sees them. They are the
/// store's rows, re-exported so `http/` depends on `service/` only and never on `store/`
/// (docs/decisions.md, "dependencies point one way").
pub mod records {
    pub use crate::store::health::Condition as DatabaseCondition;
    pub use crate::store::health::count_commits;
    pub use crate::store::{
        AdminFilter, AuditRecord, MemberRef, PoolStats, ResourceRow, RoleBinding, StoreError, TokenRecord,
    };

    /// The connection pool of `store` now, for `/metrics`.
    pub fn pool_stats(store: &dyn crate::store::Store) -> PoolStats {
        store.pool_stats()
    }
}
