//! What the store knows of its database's health, so that a fault is answered at once and
//! recovery needs no restart.
//!
//! Two conditions are tracked:
//! - **unreachable**: a connection could not be opened (refused, timed out). While it lasts,
//!   asking for a connection fails at once with [`StoreError::Down`] instead of waiting the
//!   acquire timeout per request, and a background probe (a fresh connection, every
//!   [`PROBE_EVERY`]) ends it as soon as the database answers again.
//! - **writes failing**: a write failed for lack of space (SQLite's `SQLITE_FULL`). Reads go
//!   on; `/readyz` says not ready; the probe tries a small write until one succeeds, and any
//!   committed write ends it too.
//!
//! It also counts the commits of the current request (a task-local set by the HTTP layer), so
//! the in-server retry can tell a request that wrote nothing from one that may have written.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{StoreError, StoreResult};

/// How often the probe retries while the database is unreachable or writes fail.
pub const PROBE_EVERY: Duration = Duration::from_millis(250);
/// How long one probe may take: a database that answers more slowly is not back.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

type ProbeFuture = Pin<Box<dyn Future<Output = StoreResult<()>> + Send>>;
/// A check that opens what it needs itself (a fresh connection, or a write), never waiting in
/// the pool's queue behind requests.
pub type Probe = Arc<dyn Fn() -> ProbeFuture + Send + Sync>;

#[derive(Default)]
struct State {
    unreachable_since: Option<Instant>,
    writes_failing_since: Option<Instant>,
    cause: Option<String>,
}

pub struct Health {
    state: Mutex<State>,
    probing: AtomicBool,
    /// A pool time-out is being checked with a fresh connection (one check at a time).
    checking: AtomicBool,
    reach: Mutex<Option<Probe>>,
    write: Mutex<Option<Probe>>,
    /// Until when pooled connections are tested before they are handed out, because one was
    /// found broken (`connection_broke`): its idle siblings may be broken too.
    suspect_until: Mutex<Option<Instant>>,
}

/// How long after a broken connection every pooled one is tested before it is handed out.
const SUSPECT_FOR: Duration = Duration::from_secs(5);

/// What `/readyz` reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    Ok,
    Unreachable { cause: String, for_ms: u128 },
    WritesFailing { cause: String, for_ms: u128 },
}

impl Health {
    pub fn new() -> Arc<Health> {
        Arc::new(Health {
            state: Mutex::new(State::default()),
            probing: AtomicBool::new(false),
            checking: AtomicBool::new(false),
            reach: Mutex::new(None),
            write: Mutex::new(None),
            suspect_until: Mutex::new(None),
        })
    }

    /// The probes the store runs while a condition lasts.
    pub fn set_probes(&self, reach: Probe, write: Probe) {
        *self.reach.lock().expect("health lock") = Some(reach);
        *self.write.lock().expect("health lock") = Some(write);
    }

    pub fn condition(&self) -> Condition {
        let state = self.state.lock().expect("health lock");
        let cause = state.cause.clone().unwrap_or_default();
        if let Some(since) = state.unreachable_since {
            Condition::Unreachable {
                cause,
                for_ms: since.elapsed().as_millis(),
            }
        } else if let Some(since) = state.writes_failing_since {
            Condition::WritesFailing {
                cause,
                for_ms: since.elapsed().as_millis(),
            }
        } else {
            Condition::Ok
        }
    }

    /// A request met a broken connection (a restarted database, a proxy's or an
    /// administrator's cut): for a while every pooled connection is tested before it is handed
    /// out, so the request's replay, and the next requests, do not meet its broken siblings.
    pub fn connection_broke(&self) {
        *self.suspect_until.lock().expect("health lock") = Some(Instant::now() + SUSPECT_FOR);
    }

    /// Whether pooled connections are to be tested before they are handed out now.
    pub fn connections_suspect(&self) -> bool {
        self.suspect_until
            .lock()
            .expect("health lock")
            .is_some_and(|until| Instant::now() < until)
    }

    pub fn unreachable(&self) -> bool {
        self.state
            .lock()
            .expect("health lock")
            .unreachable_since
            .is_some()
    }

    /// Wraps the acquisition of a connection: refused at once while the database is known to
    /// be unreachable; a failure to connect marks it so and starts the probe.
    pub async fn acquire<T>(
        self: &Arc<Self>,
        acquire: impl Future<Output = Result<T, sqlx::Error>>,
    ) -> StoreResult<T> {
        if self.unreachable() {
            return Err(StoreError::Down);
        }
        match acquire.await {
            Ok(conn) => Ok(conn),
            Err(err) => {
                let err = StoreError::from(err);
                if err.is_connect_failure() && self.confirm_unreachable(&err).await {
                    self.mark_unreachable(&err.to_string());
                }
                Err(err)
            }
        }
    }

    /// A refused connection is proof enough that the database is unreachable; a pool time-out
    /// is not: every connection may simply be busy (a burst, a slow query, a loaded machine),
    /// and calling a busy database unreachable would refuse every request until the probe's
    /// next round. So a time-out is checked with one fresh connection: if it opens, the pool
    /// was saturated, this request's 503 says so, and later requests queue as usual. One check
    /// runs at a time, so a saturated pool is not met with a connection per waiting request.
    async fn confirm_unreachable(&self, err: &StoreError) -> bool {
        if !matches!(err, StoreError::Database(sqlx::Error::PoolTimedOut)) {
            return true;
        }
        if self.checking.swap(true, Ordering::AcqRel) {
            return false;
        }
        let probe = self.reach.lock().expect("health lock").clone();
        let reachable = match probe {
            Some(probe) => matches!(tokio::time::timeout(PROBE_TIMEOUT, probe()).await, Ok(Ok(()))),
            None => false,
        };
        self.checking.store(false, Ordering::Release);
        if reachable {
            tracing::warn!(
                "no pooled database connection became free in time, but the database answers: \
                 the pool is saturated (consider database_max_connections)"
            );
        }
        !reachable
    }

    pub fn mark_unreachable(self: &Arc<Self>, cause: &str) {
        {
            let mut state = self.state.lock().expect("health lock");
            if state.unreachable_since.is_none() {
                tracing::error!(error = %cause, "database unreachable: answering 503 until it is back");
                state.unreachable_since = Some(Instant::now());
                state.cause = Some(cause.to_string());
            }
        }
        self.start_probe();
    }

    /// A write failed in a way that later writes will meet too (no space left).
    pub fn mark_writes_failing(self: &Arc<Self>, cause: &str) {
        {
            let mut state = self.state.lock().expect("health lock");
            if state.writes_failing_since.is_none() {
                tracing::error!(error = %cause, "writes fail: not ready until a write succeeds again");
                state.writes_failing_since = Some(Instant::now());
                state.cause = Some(cause.to_string());
            }
        }
        self.start_probe();
    }

    /// A write committed: whatever made writes fail has passed.
    pub fn wrote(&self) {
        let mut state = self.state.lock().expect("health lock");
        if let Some(since) = state.writes_failing_since.take() {
            tracing::info!(
                after_ms = since.elapsed().as_millis() as u64,
                "writes succeed again"
            );
            if state.unreachable_since.is_none() {
                state.cause = None;
            }
        }
    }

    fn start_probe(self: &Arc<Self>) {
        if self.probing.swap(true, Ordering::AcqRel) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            self.probing.store(false, Ordering::Release);
            return;
        };
        // The probe holds the health weakly: a store that is dropped stops its probe.
        let health = Arc::downgrade(self);
        runtime.spawn(async move {
            loop {
                tokio::time::sleep(PROBE_EVERY).await;
                let Some(health) = health.upgrade() else { return };
                if health.probe_once().await {
                    health.probing.store(false, Ordering::Release);
                    // A condition set while this probe was finishing needs a probe of its own.
                    if health.condition() != Condition::Ok {
                        health.start_probe();
                    }
                    return;
                }
            }
        });
    }

    /// One round of probes; true once every condition has ended.
    async fn probe_once(&self) -> bool {
        let (unreachable, writes_failing) = {
            let state = self.state.lock().expect("health lock");
            (
                state.unreachable_since.is_some(),
                state.writes_failing_since.is_some(),
            )
        };
        if unreachable {
            let probe = self.reach.lock().expect("health lock").clone();
            let Some(probe) = probe else { return true };
            match tokio::time::timeout(PROBE_TIMEOUT, probe()).await {
                Ok(Ok(())) => {
                    let mut state = self.state.lock().expect("health lock");
                    if let Some(since) = state.unreachable_since.take() {
                        tracing::info!(
                            after_ms = since.elapsed().as_millis() as u64,
                            "database reachable again"
                        );
                    }
                    if state.writes_failing_since.is_none() {
                        state.cause = None;
                    }
                }
                _ => return false,
            }
        }
        if writes_failing {
            let probe = self.write.lock().expect("health lock").clone();
            let Some(probe) = probe else { return true };
            match tokio::time::timeout(PROBE_TIMEOUT, probe()).await {
                Ok(Ok(())) => self.wrote(),
                _ => return false,
            }
        }
        true
    }
}

tokio::task_local! {
    /// Commits made by the current request; see [`count_commits`].
    static COMMITS: Cell<u32>;
}

/// Runs `f` counting the transactions it commits (and those whose COMMIT was sent but not
/// answered), so a caller can tell whether it may have written.
pub async fn count_commits<F: Future>(f: F) -> (F::Output, u32) {
    COMMITS
        .scope(Cell::new(0), async {
            let out = f.await;
            (out, COMMITS.with(Cell::get))
        })
        .await
}

/// Called by the stores when a COMMIT has been sent.
pub(super) fn commit_sent() {
    let _ = COMMITS.try_with(|c| c.set(c.get() + 1));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    fn probe_answering(ok: bool, calls: Arc<AtomicUsize>) -> Probe {
        Arc::new(move || {
            calls.fetch_add(1, Ordering::SeqCst);
            Box::pin(async move {
                if ok {
                    Ok(())
                } else {
                    Err(StoreError::Database(sqlx::Error::PoolTimedOut))
                }
            })
        })
    }

    async fn timed_out() -> Result<(), sqlx::Error> {
        Err(sqlx::Error::PoolTimedOut)
    }

    /// A saturated pool is not an unreachable database: the request that waited too long gets
    /// its 503, and the next one is not refused (a CI run under load met exactly this).
    #[tokio::test]
    async fn a_pool_time_out_with_the_database_answering_is_saturation_not_unreachable() {
        let health = Health::new();
        let calls = Arc::new(AtomicUsize::new(0));
        let probe = probe_answering(true, calls.clone());
        health.set_probes(probe.clone(), probe);
        let err = health.acquire(timed_out()).await.unwrap_err();
        assert!(matches!(err, StoreError::Database(sqlx::Error::PoolTimedOut)));
        assert!(!health.unreachable());
        assert_eq!(health.condition(), Condition::Ok);
        assert_eq!(calls.load(Ordering::SeqCst), 1, "one fresh connection checked it");
        assert!(health.acquire(async { Ok(()) }).await.is_ok());
    }

    #[tokio::test]
    async fn a_pool_time_out_with_the_database_silent_marks_it_unreachable() {
        let health = Health::new();
        let calls = Arc::new(AtomicUsize::new(0));
        let probe = probe_answering(false, calls);
        health.set_probes(probe.clone(), probe);
        health.acquire(timed_out()).await.unwrap_err();
        assert!(health.unreachable());
        let err = health.acquire(async { Ok(()) }).await.unwrap_err();
        assert!(matches!(err, StoreError::Down), "{err:?}");
    }

    #[tokio::test]
    async fn a_refused_connection_marks_it_unreachable_without_a_check() {
        let health = Health::new();
        let calls = Arc::new(AtomicUsize::new(0));
        let probe = probe_answering(true, calls.clone());
        health.set_probes(probe.clone(), probe);
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        health
            .acquire(async { Err::<(), _>(sqlx::Error::Io(refused)) })
            .await
            .unwrap_err();
        assert!(health.unreachable());
        assert_eq!(calls.load(Ordering::SeqCst), 0);
    }
}
