//! How a process learns that what it cached of a token check may be stale.
//!
//! The service caches verified tokens (`service/auth_cache.rs`); an entry is used only while
//! the store's [`Generation`] is the one it was filled under. The generation changes whenever
//! something a token check reads may have changed — a token revoked, rotated or deleted, an
//! account's SCIM switched off or its schemas changed — and it is `None` whenever this process
//! cannot be sure to hear of such a change, which turns the cache off:
//!
//! - **this process's own writes**: a transaction that changed any of it bumps a counter when
//!   it has committed (before the request that made it answers);
//! - **Postgres, every other writer** (replicas, the CLI, an operator's SQL): triggers
//!   (migration 0013) send `NOTIFY scimd_auth` at commit, and a task of each process listens
//!   on a connection of its own. Every notification, and every (re)connection, bumps the
//!   generation. The task pings itself through the same connection every [`PING_EVERY`]; a
//!   ping unanswered by the next one, or a lost connection, means notifications may be missed,
//!   so the generation is `None` until it listens again;
//! - **SQLite, the CLI beside the one serving process**: each change appends a byte to the
//!   file `<database>.auth`; its length is part of the generation (a `stat` per check). A
//!   missing file turns the cache off. An in-memory database has one process and no file.
//!
//! What no signal can cover (an operator editing a SQLite file by hand, a notification lost
//! in a way the ping does not notice) is bounded by the cache's maximum age.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};

/// This process's changes, others' changes, and (SQLite) which sidecar file: a cache entry is
/// valid only under exactly the generation it was filled with. The file's identity counts
/// because a deleted and recreated sidecar may grow back to the length it had.
pub type Generation = (u64, u64, u64);

/// The listening connection's `application_name`.
pub const LISTENER_NAME: &str = "scimd token listener";
/// The Postgres channel the triggers of migration 0013 notify.
const CHANNEL: &str = "scimd_auth";
/// How often the listening connection checks itself (a half-open TCP connection says nothing).
const PING_EVERY: Duration = Duration::from_secs(2);
/// Between attempts to listen again.
const RECONNECT_AFTER: Duration = Duration::from_secs(1);
/// For opening the listening connection and for one ping.
const LISTEN_TIMEOUT: Duration = Duration::from_secs(5);

pub struct AuthSignal {
    /// Changes this process committed.
    local: AtomicU64,
    remote: Arc<Remote>,
    source: Source,
}

/// What the Postgres listener task shares with the signal.
#[derive(Default)]
struct Remote {
    notified: AtomicU64,
    listening: AtomicBool,
}

enum Source {
    /// One process: its own changes are all there are.
    Local,
    /// A SQLite file: the CLI's changes lengthen this file.
    Sidecar(PathBuf),
    /// Postgres: notifications, heard by a task started on the first use.
    Listen {
        options: Box<PgConnectOptions>,
        task: Mutex<Option<tokio::task::JoinHandle<()>>>,
    },
}

impl AuthSignal {
    /// A database only this process opens (SQLite in memory).
    pub fn local() -> AuthSignal {
        AuthSignal::with(Source::Local)
    }

    /// A SQLite file: `path` is the sidecar, created (owner-only) when missing. When it cannot
    /// be created, [`generation`](Self::generation) is `None` and the cache stays off.
    pub fn sidecar(path: PathBuf) -> AuthSignal {
        // Created now, so the cache works before the first change; when it cannot be, the
        // cache stays off (and says why in `/metrics`' `scimd_token_cache_active`).
        let _ = open_sidecar(&path);
        AuthSignal::with(Source::Sidecar(path))
    }

    /// Postgres: listens with a connection of its own (not the pool's), once first asked.
    pub fn postgres(options: PgConnectOptions) -> AuthSignal {
        AuthSignal::with(Source::Listen {
            options: Box::new(options),
            task: Mutex::new(None),
        })
    }

    fn with(source: Source) -> AuthSignal {
        AuthSignal {
            local: AtomicU64::new(0),
            remote: Arc::default(),
            source,
        }
    }

    /// The current generation, or `None` when a change might go unheard.
    pub fn generation(&self) -> Option<Generation> {
        let local = self.local.load(Ordering::Acquire);
        match &self.source {
            Source::Local => Some((local, 0, 0)),
            Source::Sidecar(path) => std::fs::metadata(path)
                .ok()
                .map(|m| (local, m.len(), file_id(&m))),
            Source::Listen { options, task } => {
                if let Ok(mut task) = task.lock()
                    && task.is_none()
                    && let Ok(runtime) = tokio::runtime::Handle::try_current()
                {
                    *task = Some(runtime.spawn(listen((**options).clone(), self.remote.clone())));
                }
                self.remote
                    .listening
                    .load(Ordering::Acquire)
                    .then(|| (local, self.remote.notified.load(Ordering::Acquire), 0))
            }
        }
    }

    /// A transaction that changed what token checks read has ended (committed, or its COMMIT's
    /// fate is unknown: a needless bump only costs a cache refill).
    pub fn changed(&self) {
        self.local.fetch_add(1, Ordering::AcqRel);
        if let Source::Sidecar(path) = &self.source {
            use std::io::Write;
            let appended = open_sidecar(path).and_then(|mut f| f.write_all(b"."));
            if let Err(err) = appended {
                tracing::warn!(
                    error = %err, path = %path.display(),
                    "could not signal a token change to the serving process; it sees it within the \
                     token cache's maximum age"
                );
            }
        }
    }

    /// Stops listening (the store is closing).
    pub fn stop(&self) {
        if let Source::Listen { task, .. } = &self.source
            && let Ok(mut task) = task.lock()
            && let Some(task) = task.take()
        {
            task.abort();
        }
        self.remote.listening.store(false, Ordering::Release);
    }
}

impl Drop for AuthSignal {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(unix)]
fn file_id(meta: &std::fs::Metadata) -> u64 {
    std::os::unix::fs::MetadataExt::ino(meta)
}

#[cfg(not(unix))]
fn file_id(_: &std::fs::Metadata) -> u64 {
    0
}

/// Opens the sidecar for appending, creating it owner-only: it says nothing secret, but it
/// sits beside a file that does, and need be written by its owner only.
fn open_sidecar(path: &std::path::Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.append(true).create(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

/// Listens for as long as the process runs, reconnecting after any failure.
async fn listen(options: PgConnectOptions, remote: Arc<Remote>) {
    loop {
        let err = listen_once(&options, &remote).await;
        remote.listening.store(false, Ordering::Release);
        tracing::warn!(
            error = %err,
            "not listening for token changes: token checks read the database until listening again"
        );
        tokio::time::sleep(RECONNECT_AFTER).await;
    }
}

/// One listening connection, until it fails; returns why.
async fn listen_once(options: &PgConnectOptions, remote: &Remote) -> sqlx::Error {
    // A pool of its own per attempt: a dead connection left behind (its UNLISTEN hanging on a
    // half-open socket) must not keep the next attempt waiting for the pool's one slot.
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(LISTEN_TIMEOUT)
        // Named, so an operator (and a test) can find it in `pg_stat_activity`.
        .connect_lazy_with(options.clone().application_name(LISTENER_NAME));
    let mut listener = match PgListener::connect_with(&pool).await {
        Ok(listener) => listener,
        Err(err) => return err,
    };
    // Lost connections are this function's to handle: it must stop vouching for the cache
    // before it listens again.
    listener.eager_reconnect(false);
    if let Err(err) = listener.listen(CHANNEL).await {
        return err;
    }
    // Whatever changed while nobody listened: every entry filled before now is stale.
    remote.notified.fetch_add(1, Ordering::AcqRel);
    remote.listening.store(true, Ordering::Release);
    tracing::debug!("listening for token changes");

    let ping = format!("ping:{}", uuid::Uuid::new_v4());
    let mut every = tokio::time::interval(PING_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    every.tick().await;
    let mut awaiting_ping = false;
    loop {
        // `try_recv` is cancel-safe: a tick that wins loses no notification.
        let tick = tokio::select! {
            received = listener.try_recv() => match received {
                Ok(Some(n)) if n.payload() == ping => {
                    awaiting_ping = false;
                    false
                }
                // Another process's ping.
                Ok(Some(n)) if n.payload().starts_with("ping:") => false,
                Ok(Some(_)) => {
                    remote.notified.fetch_add(1, Ordering::AcqRel);
                    false
                }
                Ok(None) => return sqlx::Error::Protocol("the listening connection was lost".into()),
                Err(err) => return err,
            },
            _ = every.tick() => true,
        };
        if !tick {
            continue;
        }
        if awaiting_ping {
            return sqlx::Error::Protocol(format!(
                "the listening connection did not hear its own ping within {PING_EVERY:?}"
            ));
        }
        let sent = sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(&ping)
            .execute(&mut listener);
        match tokio::time::timeout(LISTEN_TIMEOUT, sent).await {
            Ok(Ok(_)) => awaiting_ping = true,
            Ok(Err(err)) => return err,
            Err(_) => return sqlx::Error::Protocol("the listening connection did not answer a ping".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_changes_move_the_generation() {
        let signal = AuthSignal::local();
        let before = signal.generation().unwrap();
        signal.changed();
        assert_ne!(signal.generation().unwrap(), before);
    }

    /// Another process (the CLI) appends to the sidecar; a missing sidecar turns the cache off.
    #[test]
    fn the_sidecar_carries_other_processes_changes() {
        let path = std::env::temp_dir().join(format!("scimd-{}.db.auth", uuid::Uuid::new_v4()));
        let server = AuthSignal::sidecar(path.clone());
        let cli = AuthSignal::sidecar(path.clone());
        let before = server.generation().unwrap();
        cli.changed();
        assert_ne!(server.generation().unwrap(), before);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode & 0o077, 0, "{mode:o}");
        }
        std::fs::remove_file(&path).unwrap();
        assert_eq!(server.generation(), None);
        // The next change recreates it, and the cache may be used again.
        cli.changed();
        assert_eq!(server.generation().unwrap().1, 1);
        std::fs::remove_file(&path).unwrap();
    }
}
