//! Wiring: configuration → store → service → HTTP server, with graceful shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

use crate::clock::Clock;
use crate::config::{Config, ConfigError};
use crate::http::ratelimit::AccountLimiter;
use crate::http::{self, AppState, HttpSettings};
use crate::observed::ObservedStore;
use crate::redact::redact;
use crate::scim::discovery::Capabilities;
use crate::service::{self, Service, Settings};
use crate::store::{self, Backend, Store, StoreError};

/// Why the server could not start. Each message names the setting or resource at fault.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// `action`: "reach" a server, "open" a file.
    #[error("cannot {action} the database at {url}: {source}")]
    Database {
        action: &'static str,
        url: String,
        source: StoreError,
    },
    #[error("{}", describe_migrate(.0))]
    Migrate(StoreError),
    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: String, source: std::io::Error },
    #[error("cannot start: {0}")]
    Service(#[from] service::Error),
    /// Another server holds the SQLite file's serve lock.
    #[error("{0}")]
    Locked(String),
}

/// A failed migration, with what to do about it.
fn describe_migrate(err: &StoreError) -> String {
    match err {
        StoreError::Migrate(sqlx::migrate::MigrateError::VersionMissing(version)) => format!(
            "the database's schema (migration {version}) is newer than this scimd knows: it was upgraded \
             by a newer scimd; run that version, or restore a backup taken before the upgrade \
             (docs/operations.md, \"Upgrade and downgrade\")"
        ),
        StoreError::Migrate(sqlx::migrate::MigrateError::VersionMismatch(version)) => format!(
            "the database's migration {version} differs from this scimd's: the database was migrated by a \
             different build; run the scimd that created it"
        ),
        err if err.is_disk_full() => {
            "cannot migrate the database: no space left for it; free space where the database lives"
                .to_string()
        }
        err => format!("cannot migrate the database: {err}"),
    }
}

/// Takes the serve lock of a SQLite database (`None` for Postgres, or an in-memory database,
/// or a directory that does not exist, which opening the database then reports).
pub fn serve_lock(config: &Config) -> Result<Option<store::serve_lock::ServeLock>, StartError> {
    if Backend::from_url(&config.database_url).ok() != Some(Backend::Sqlite) {
        return Ok(None);
    }
    let Some(path) = store::sqlite::database_path(&config.database_url) else {
        return Ok(None);
    };
    let dir_exists = path
        .parent()
        .is_none_or(|d| d.as_os_str().is_empty() || d.is_dir());
    if !dir_exists || path.is_dir() {
        return Ok(None);
    }
    store::serve_lock::acquire(&path, &config.listen)
        .map(Some)
        .map_err(StartError::Locked)
}

/// A connected, migrated store and the service over it.
pub struct App {
    pub store: Arc<dyn Store>,
    pub service: Arc<Service>,
    /// The same store, as `/metrics` reports its pool.
    pub observed: Arc<ObservedStore>,
}

impl App {
    /// Opens the database named in `config` — Postgres or SQLite, by the URL's scheme —
    /// applies migrations and builds the service.
    pub async fn open(config: &Config) -> Result<App, StartError> {
        App::open_with_clock(config, Clock::system()).await
    }

    /// [`App::open`], its rules reading the time from `clock` (tests pass a manual one).
    pub async fn open_with_clock(config: &Config, clock: Clock) -> Result<App, StartError> {
        crate::install_tls_provider();
        let store = store::connect(&config.database_url, &config.store_options())
            .await
            .map_err(|source| StartError::Database {
                action: match Backend::from_url(&config.database_url) {
                    Ok(Backend::Sqlite) => "open",
                    _ => "reach",
                },
                url: redact(&config.database_url),
                source,
            })?;
        store.migrate().await.map_err(StartError::Migrate)?;
        let observed = Arc::new(ObservedStore::new(store));
        let store: Arc<dyn Store> = observed.clone();
        let settings = Settings {
            token_ttl: config.token_ttl()?,
            max_results: config.max_results,
            default_count: config.default_count,
            cursor_timeout_secs: config.cursor_timeout_seconds,
            clock,
            webhook_allow_private_networks: config.webhook_allow_private_networks,
            webhook_timeout: Duration::from_secs(config.webhook_timeout_seconds),
            token_cache: Duration::from_secs(config.token_cache_seconds),
            console_idle: Duration::from_secs(config.console_idle_minutes * 60),
            console_lifetime: Duration::from_secs(config.console_session_hours * 3600),
            console_setup_link: Duration::from_secs(config.console_setup_link_hours * 3600),
        };
        let service = Service::new(store.clone(), settings, config.signing_key()?).await?;
        Ok(App {
            store,
            service: Arc::new(service),
            observed,
        })
    }

    /// The work a serving process does beside requests: every second, a round of webhook
    /// deliveries (`Service::deliver_webhooks`: endpoints are leased, so replicas share them);
    /// every ten minutes (the first time a minute after start), the removal of change-feed events
    /// and webhook delivery-log rows older than the retention. Any number of processes may run
    /// this. Stopped by aborting the handles.
    pub fn spawn_background(&self, config: &Config) -> Vec<tokio::task::JoinHandle<()>> {
        let service = self.service.clone();
        let retention = Duration::from_secs(u64::from(config.event_retention_days) * 86_400);
        let janitor = tokio::spawn(async move {
            let mut every = tokio::time::interval_at(
                tokio::time::Instant::now() + Duration::from_secs(60),
                Duration::from_secs(600),
            );
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                match service.prune_events(retention).await {
                    Ok(0) => {}
                    Ok(removed) => tracing::info!(removed, "removed events past the retention"),
                    Err(err) => tracing::warn!(error = %err, "removing old events failed; retried later"),
                }
            }
        });
        let service = self.service.clone();
        let deliveries = tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(1));
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                if let Err(err) = service.deliver_webhooks().await {
                    tracing::warn!(error = %err, "a round of webhook deliveries failed; retried in a second");
                }
            }
        });
        vec![janitor, deliveries]
    }

    pub fn router(&self, config: &Config) -> axum::Router {
        let http = HttpSettings {
            public_url: (!config.public_url.is_empty()).then(|| config.public_url.clone()),
            max_body_bytes: config.max_body_bytes,
            bulk_max_operations: config.bulk_max_operations,
            bulk_max_payload_bytes: config.bulk_max_payload_bytes,
            max_export_bytes: config.max_export_bytes,
            request_body_timeout: Duration::from_secs(config.request_body_timeout_seconds),
            capabilities: Capabilities {
                max_results: config.max_results as usize,
                default_count: config.default_count as usize,
                cursor_timeout_secs: config.cursor_timeout_seconds as u64,
                patch: true,
                sort: true,
                etag: true,
                bulk: Some((config.bulk_max_operations, config.bulk_max_payload_bytes)),
                documentation_uri: None,
            },
        };
        http::router(AppState::new(http::AppParts {
            service: self.service.clone(),
            http: Arc::new(http),
            metrics: Arc::new(http::metrics::Metrics::new(
                self.observed.clone(),
                self.service.clone(),
            )),
            limiter: AccountLimiter::new(
                config.rate_limit_per_second,
                config.rate_limit_burst,
                self.service.clock().clone(),
            )
            .map(Arc::new),
        }))
    }
}

/// Binds the listen address.
pub async fn bind(addr: &str) -> Result<TcpListener, StartError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Listen {
            addr: addr.to_string(),
            source,
        })
}

/// What one slow or greedy client may hold (issue 16.3: 200 sockets sending headers a byte at
/// a time stayed open 28 s, none closed).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Time to receive a request's headers, from its first byte (and on an idle keep-alive
    /// connection, from the end of the previous response); past it the connection is closed.
    pub header_read_timeout: Duration,
    /// Connections served at once; further clients wait in the listen backlog.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_read_timeout: Duration::from_secs(10),
            max_connections: 4096,
        }
    }
}

impl Limits {
    pub fn from_config(config: &Config) -> Limits {
        Limits {
            header_read_timeout: Duration::from_secs(config.header_read_timeout_seconds),
            max_connections: config.max_connections,
        }
    }
}

/// Serves until `shutdown` completes, then stops accepting connections and lets in-flight
/// requests finish for up to `grace`, with the default [`Limits`].
pub async fn serve(
    listener: TcpListener,
    router: axum::Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> std::io::Result<()> {
    serve_with(listener, router, shutdown, grace, Limits::default()).await
}

/// The accept loop: hyper's HTTP/1.1 connection driver with a header read timeout, one task
/// per connection, at most `limits.max_connections` of them. (axum's own `serve` has neither
/// bound.)
pub async fn serve_with(
    listener: TcpListener,
    router: axum::Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
    limits: Limits,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use tower::ServiceExt;

    // Outside the router, so the rewritten path is what gets routed.
    let app = tower::Layer::layer(&tower::util::MapRequestLayer::new(http::normalize_path), router);
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.max_connections.max(1)));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut connections = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            _ = &mut shutdown => break,
            slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
        };
        let (stream, peer) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors and the like: pause rather than spin.
                    tracing::warn!(error = %err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let service = app
            .clone()
            .map_request(move |req: hyper::Request<hyper::body::Incoming>| {
                let mut req = req.map(axum::body::Body::new);
                req.extensions_mut()
                    .insert(axum::extract::ConnectInfo::<SocketAddr>(peer));
                req
            });
        let service = hyper_util::service::TowerToHyperService::new(service);
        let mut stop = stop_rx.clone();
        connections.spawn(async move {
            let _slot = slot;
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_read_timeout);
            let conn = builder.serve_connection(TokioIo::new(stream), service);
            tokio::pin!(conn);
            tokio::select! {
                res = conn.as_mut() => {
                    if let Err(err) = res {
                        tracing::debug!(error = %err, "connection ended with an error");
                    }
                }
                _ = stop.changed() => {
                    // Finish the request in flight, then close; idle connections close now.
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
        });
        // Reap finished connections so the set does not grow with the server's life.
        while connections.try_join_next().is_some() {}
    }
    drop(listener);
    tracing::info!(
        grace_seconds = grace.as_secs(),
        "shutting down: draining in-flight requests"
    );
    let _ = stop_tx.send(true);
    let drained =
        tokio::time::timeout(grace, async { while connections.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        tracing::warn!("grace period over: closing remaining connections");
        connections.abort_all();
    }
    Ok(())
}

/// Completes on SIGTERM or SIGINT. The handlers are installed by this call, not when the
/// future is first polled: call it before announcing the server, so that a signal sent as soon
/// as the server says it listens is a graceful stop rather than the default abrupt one.
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let term = signal(SignalKind::terminate());
        let int = signal(SignalKind::interrupt());
        async move {
            match (term, int) {
                (Ok(mut term), Ok(mut int)) => {
                    tokio::select! {
                        _ = term.recv() => {},
                        _ = int.recv() => {},
                    }
                }
                _ => std::future::pending::<()>().await,
            }
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}
