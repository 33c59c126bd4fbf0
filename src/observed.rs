//! The store as `/metrics` sees it: the pool's open and idle connections, and how many
//! callers are waiting for a unit of work now. sqlx does not count the tasks waiting on a
//! pool, so this wrapper counts them where every unit of work starts (`begin`, `reader`,
//! `snapshot`); on SQLite a writer waiting for its turn counts too, which is the wait an
//! operator wants to see.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use async_trait::async_trait;
use uuid::Uuid;

use crate::store::{Backend, ListQuery, Lookup, PoolStats, ReadTx, ResourceKind, Store, StoreResult, Tx};

pub struct ObservedStore {
    inner: Arc<dyn Store>,
    waiting: AtomicU32,
}

impl ObservedStore {
    pub fn new(inner: Arc<dyn Store>) -> ObservedStore {
        ObservedStore {
            inner,
            waiting: AtomicU32::new(0),
        }
    }

    /// Callers waiting for a connection (or, on SQLite, for the writer's turn) now.
    pub fn waiting(&self) -> u32 {
        self.waiting.load(Ordering::Relaxed)
    }

    async fn wait_for<T>(&self, unit: impl Future<Output = T>) -> T {
        // A guard, so a caller whose future is dropped while waiting stops counting.
        let _waiting = Waiting::enter(&self.waiting);
        unit.await
    }
}

struct Waiting<'a>(&'a AtomicU32);

impl<'a> Waiting<'a> {
    fn enter(count: &'a AtomicU32) -> Waiting<'a> {
        count.fetch_add(1, Ordering::Relaxed);
        Waiting(count)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

#[async_trait]
impl Store for ObservedStore {
    fn backend(&self) -> Backend {
        self.inner.backend()
    }

    async fn migrate(&self) -> StoreResult<()> {
        self.inner.migrate().await
    }

    async fn advice(&self) -> StoreResult<Vec<String>> {
        self.inner.advice().await
    }

    async fn close(&self) {
        self.inner.close().await
    }

    async fn explain_list(
        &self,
        kind: ResourceKind,
        account: Uuid,
        query: &ListQuery,
    ) -> StoreResult<String> {
        self.inner.explain_list(kind, account, query).await
    }

    async fn explain_lookup(&self, account: Uuid, lookup: Lookup<'_>) -> StoreResult<String> {
        self.inner.explain_lookup(account, lookup).await
    }

    async fn begin(&self) -> StoreResult<Box<dyn Tx>> {
        self.wait_for(self.inner.begin()).await
    }

    async fn reader(&self) -> StoreResult<Box<dyn ReadTx>> {
        self.wait_for(self.inner.reader()).await
    }

    async fn snapshot(&self) -> StoreResult<Box<dyn ReadTx>> {
        self.wait_for(self.inner.snapshot()).await
    }

    async fn ping(&self) -> StoreResult<()> {
        self.inner.ping().await
    }

    fn health(&self) -> &Arc<crate::store::health::Health> {
        self.inner.health()
    }

    fn pool_stats(&self) -> PoolStats {
        self.inner.pool_stats()
    }

    fn auth_generation(&self) -> Option<crate::store::auth_signal::Generation> {
        self.inner.auth_generation()
    }

    async fn sequence_events(&self) -> StoreResult<u64> {
        self.wait_for(self.inner.sequence_events()).await
    }
}
