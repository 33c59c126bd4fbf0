//! The ownership rules (docs/rules.md) over the store. Every rule lives here once and serves every surface
//! (SCIM API, admin API, CLI); handlers never decide a rule and the store never does either.

pub mod accounts;
pub mod admin;
pub mod audit;
pub mod auth_cache;
pub mod bulk;
mod change;
pub mod console;
pub mod events;
pub mod export;
pub mod groups;
pub mod identifier;
pub mod lists;
pub mod oauth;
pub mod ownership;
pub mod schemas;
pub mod search;
pub mod settings;
pub mod tokens;
pub mod users;
pub mod webhook_send;
pub mod webhooks;

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
    /// The database cannot serve now, a condition that passes (unreachable, a connection cut,
    /// no connection to spare, busy, no space left): the client may retry. `cause` is what the
    /// client and the operator are told; `error` (the database's own words) is only logged.
    #[error("{error}")]
    DatabaseUnavailable {
        cause: String,
        /// A fault of one connection, which a new connection may not meet: a request that
        /// committed nothing may be replayed once.
        connection_fault: bool,
        /// No space left: later writes fail too until an operator frees space.
        disk_full: bool,
        error: BoxError,
    },
    /// A constraint the rules did not expect to meet: a concurrent request changed what this
    /// one relied on (a name taken, a member deleted meanwhile). The database kept the data
    /// consistent; the client may read again and retry. `constraint` is for the log only.
    #[error("{kind} {constraint} violated")]
    ConcurrentChange {
        kind: ConcurrentChange,
        constraint: String,
    },
    /// A fault of ours or of the database: logged, never shown in detail.
    #[error(transparent)]
    Internal(BoxError),
}

/// The cause of an internal error, kept for the log.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What a concurrent request took away from [`Error::ConcurrentChange`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConcurrentChange {
    /// A value that had to be unique was stored by another request meanwhile.
    Unique,
    /// A resource this request refers to was deleted by another request meanwhile.
    Deleted,
}

impl std::fmt::Display for ConcurrentChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ConcurrentChange::Unique => "unique constraint",
            ConcurrentChange::Deleted => "foreign key",
        })
    }
}

/// The store's error in the service's terms: the one place that reads a `StoreError`'s kind
/// for the edge, so `http/` never names a store type.
impl From<StoreError> for Error {
    fn from(err: StoreError) -> Self {
        if err.is_unavailable() {
            return Error::DatabaseUnavailable {
                cause: err.unavailable_cause().to_string(),
                connection_fault: err.is_connection_fault(),
                disk_full: err.is_disk_full(),
                error: Box::new(err),
            };
        }
        match err {
            StoreError::Unique(constraint) => Error::ConcurrentChange {
                kind: ConcurrentChange::Unique,
                constraint,
            },
            StoreError::ForeignKey(constraint) => Error::ConcurrentChange {
                kind: ConcurrentChange::Deleted,
                constraint,
            },
            other => Error::Internal(Box::new(other)),
        }
    }
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
    /// Webhook deliveries may reach loopback and private networks (tests, private setups).
    pub webhook_allow_private_networks: bool,
    /// How long one webhook delivery may take.
    pub webhook_timeout: Duration,
    /// Longest a verified token is trusted from the cache (`auth_cache`); zero: never.
    pub token_cache: Duration,
    /// A console session ends after this long without a request…
    pub console_idle: Duration,
    /// …and this long after sign-in, whatever the use.
    pub console_lifetime: Duration,
    /// A setup link's lifetime when none is asked for.
    pub console_setup_link: Duration,
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
    /// Verified tokens, used while nothing they relied on has changed.
    pub(crate) auth_cache: auth_cache::AuthCache,
    /// Where callers' index-paged lists left off, so the next page is a range read.
    pub(crate) resumes: lists::Resumes,
    /// Accounts' resource types with their extension schemas, by schema version.
    pub(crate) types: schemas::TypesCache,
    /// The HTTP client webhook deliveries go through.
    pub(crate) webhook_sender: webhook_send::Sender,
    /// This process's name in webhook leases (`store/webhooks.rs`).
    pub(crate) webhook_owner: Uuid,
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
        let webhook_sender =
            webhook_send::Sender::new(settings.webhook_allow_private_networks, settings.webhook_timeout)
                .map_err(Error::Failed)?;
        Ok(Service {
            webhook_sender,
            webhook_owner: Uuid::new_v4(),
            touched: Default::default(),
            revoked: Default::default(),
            auth_cache: auth_cache::AuthCache::new(settings.token_cache),
            resumes: Default::default(),
            types: Default::default(),
            store,
            settings,
            signing_key,
        })
    }

    /// The token cache's counts, and whether it may be used now (`/metrics`).
    pub fn token_cache_stats(&self) -> auth_cache::TokenCacheStats {
        self.auth_cache.stats(self.store.auth_generation().is_some())
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

    /// Records that a request met a broken database connection (see `Health::connection_broke`).
    pub fn connection_broke(&self) {
        self.store.health().connection_broke()
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
        AdminFilter, AuditRecord, EventRecord, MemberRef, OAuthClientRecord, PoolStats, ResourceRow,
        RoleBinding, SetupLinkRecord, TokenRecord, WebhookDelivery, WebhookEndpoint,
    };

    /// The connection pool of `store` now, for `/metrics`.
    pub fn pool_stats(store: &dyn crate::store::Store) -> PoolStats {
        store.pool_stats()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The store's errors become domain errors here; `http/error.rs` maps those to statuses.
    #[test]
    fn store_errors_become_domain_errors() {
        match Error::from(StoreError::Unique("groups_native_display_name_key".into())) {
            Error::ConcurrentChange {
                kind: ConcurrentChange::Unique,
                constraint,
            } => assert_eq!(constraint, "groups_native_display_name_key"),
            other => panic!("{other:?}"),
        }
        let err = Error::from(StoreError::ForeignKey("group_members_member_fk".into()));
        assert_eq!(err.to_string(), "foreign key group_members_member_fk violated");
        assert!(matches!(
            err,
            Error::ConcurrentChange {
                kind: ConcurrentChange::Deleted,
                ..
            }
        ));

        let err = Error::from(StoreError::Down);
        assert_eq!(err.to_string(), "the database is unreachable");
        match err {
            Error::DatabaseUnavailable {
                cause,
                connection_fault,
                disk_full,
                ..
            } => {
                assert_eq!(cause, "the database is unreachable");
                assert!(!connection_fault && !disk_full);
            }
            other => panic!("{other:?}"),
        }
        let cut = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset by peer");
        match Error::from(StoreError::Database(sqlx::Error::Io(cut))) {
            Error::DatabaseUnavailable {
                cause,
                connection_fault,
                ..
            } => {
                assert_eq!(cause, "the connection to the database was lost");
                assert!(connection_fault);
            }
            other => panic!("{other:?}"),
        }
        match Error::from(StoreError::Database(sqlx::Error::PoolTimedOut)) {
            Error::DatabaseUnavailable { connection_fault, .. } => assert!(!connection_fault),
            other => panic!("{other:?}"),
        }

        let err = Error::from(StoreError::Unusable("no such directory".into()));
        assert_eq!(err.to_string(), "no such directory");
        assert!(matches!(err, Error::Internal(_)));
    }
}
