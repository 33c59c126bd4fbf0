//! SQLite's group commit: the write transactions of this process that queue for SQLite's single
//! writer are committed together, one `COMMIT` — one sync of the WAL — for several of them.
//!
//! Why. A write's turn on SQLite ends with a `COMMIT` that waits for `fsync`
//! (`synchronous=FULL`: a 201 the IdP has seen survives a power cut). While it waits, every
//! other writer waits too. Measured on this project's machine, the same harness with the
//! database on a RAM disk (no sync) served 35–45 % more creates and membership PATCHes a second
//! (docs/benchmarks.md, "Group commit on SQLite"); sharing the sync between the writers that
//! queue wins most of that back without giving up the durability.
//!
//! How. Writers still take turns in arrival order (a fair mutex). The first writer of a batch
//! sends `BEGIN IMMEDIATE`; when it is done and another writer is waiting for the turn, it does
//! not commit: it leaves the transaction open, hands the turn on and waits. The next writer
//! runs inside the same transaction under a `SAVEPOINT` of its own, so a write that fails or is
//! abandoned is undone alone (`ROLLBACK TO`) and the others keep theirs. The writer that finds
//! nobody waiting — or a batch already [`MAX_WRITES`] writes or [`MAX_OPEN`] old — sends the one
//! `COMMIT` and tells every write in the batch its outcome. No write is answered before the
//! `COMMIT` that holds it has succeeded, so what a client was told stays true: if that `COMMIT`
//! fails (a full disk), every write in the batch fails with its error and none is applied.
//! A lone writer commits at once, exactly as before.
//!
//! A write waiting for its batch's `COMMIT` also queues for the turn again, on a task of its
//! own: if the writer it handed the turn to never comes (its request was cancelled while it
//! queued), the batch is committed when the turn reaches that task. The end of every write —
//! its `RELEASE` or `ROLLBACK TO`, the decision to wait or commit, the `COMMIT` — runs on a
//! spawned task, so a request cancelled half-way cannot leave a batch neither committed nor
//! rolled back.
//!
//! What writes in one batch see of each other: a later write reads what an earlier one wrote
//! before either is committed. That is safe because they commit or fail together: no outcome
//! depends on a write that could be undone while the later one stands, except a write undone
//! by its own `ROLLBACK TO`, which nobody after it saw (they run after it ends).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use sqlx::pool::PoolConnection;
use sqlx::{Sqlite, SqliteConnection, SqlitePool};
use tokio::sync::{Mutex, OwnedMutexGuard, oneshot};
use tokio::time::Instant;

use super::health::{Health, commit_sent};
use super::{StoreError, StoreResult};

/// Most writes one `COMMIT` carries: bounds how long the first of them waits for its answer.
const MAX_WRITES: usize = 32;

/// Longest a batch stays open for more writes, from its `BEGIN`: the added latency of the
/// earliest write in it is at most this and one more write's turn.
const MAX_OPEN: Duration = Duration::from_millis(10);

/// Longest pause between two tries of `BEGIN IMMEDIATE` while another process holds SQLite's
/// lock (each try first waits the connection's busy timeout; the pause doubles up to this).
const MAX_PAUSE: Duration = Duration::from_millis(100);

/// What a batch's `COMMIT` answered, told to every write in it.
type Outcome = Result<(), Arc<StoreError>>;

/// What is kept under the turn: the batch left open by the last writer, if any.
#[derive(Default)]
pub(super) struct Open {
    batch: Option<Batch>,
    next_id: u64,
}

/// One open transaction and the writes in it that have finished.
struct Batch {
    id: u64,
    /// `None` once the transaction has ended.
    conn: Option<PoolConnection<Sqlite>>,
    done: Vec<oneshot::Sender<Outcome>>,
    opened: Instant,
}

impl Batch {
    fn conn(&mut self) -> &mut SqliteConnection {
        self.conn.as_deref_mut().expect("a batch is used only while open")
    }

    /// Ends the transaction with `sql` (`COMMIT` or `ROLLBACK`); a failed `COMMIT` is followed
    /// by a `ROLLBACK`, and a connection that cannot roll back is closed, never reused. Every
    /// finished write is told the outcome.
    async fn end(mut self, sql: &'static str) -> Outcome {
        let mut conn = self.conn.take().expect("a batch ends once");
        let outcome = match sqlx::raw_sql(sql).execute(&mut *conn).await {
            Ok(_) => Ok(()),
            Err(err) => {
                if sqlx::raw_sql("ROLLBACK").execute(&mut *conn).await.is_err() {
                    conn.close_on_drop();
                }
                Err(Arc::new(match err {
                    // The database answered: it did not commit.
                    sqlx::Error::Database(_) => StoreError::from(err),
                    // The answer never came: it may have.
                    other if sql == "COMMIT" => StoreError::CommitUnknown(other),
                    other => StoreError::from(other),
                }))
            }
        };
        drop(conn);
        for write in self.done.drain(..) {
            let _ = write.send(outcome.clone());
        }
        outcome
    }

    /// Rolls the whole batch back because of `err`: every finished write in it fails with it.
    async fn fail(mut self, err: StoreError) {
        let err = Arc::new(err);
        let done = std::mem::take(&mut self.done);
        let _ = self.end("ROLLBACK").await;
        for write in done {
            let _ = write.send(Err(err.clone()));
        }
    }
}

impl Drop for Batch {
    /// A batch dropped open (a task cancelled at shutdown) is closed, which ends its
    /// transaction; its writes learn that their outcome is unknown.
    fn drop(&mut self) {
        if let Some(conn) = self.conn.as_mut() {
            conn.close_on_drop();
        }
    }
}

/// The writer's turn of one process, and the batch it keeps open between turns.
pub(super) struct Writer {
    turn: Arc<Mutex<Open>>,
    /// Writers waiting for the turn in [`Writer::begin`] (not the tasks waiting to commit a
    /// batch): while there are any, a finished write leaves its batch open for them.
    queued: AtomicUsize,
    commits: AtomicU64,
    writes: AtomicU64,
    /// [`MAX_OPEN`]; the tests make it long so batches do not depend on their speed.
    max_open: Duration,
}

/// Counts a writer in [`Writer::queued`] while it waits, cancelled or not.
struct Queued<'a>(&'a AtomicUsize);

impl<'a> Queued<'a> {
    fn new(n: &'a AtomicUsize) -> Self {
        n.fetch_add(1, Ordering::SeqCst);
        Queued(n)
    }
}

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Writer {
    pub fn new() -> Arc<Writer> {
        Arc::new(Writer {
            turn: Arc::new(Mutex::new(Open::default())),
            queued: AtomicUsize::new(0),
            commits: AtomicU64::new(0),
            writes: AtomicU64::new(0),
            max_open: MAX_OPEN,
        })
    }

    /// Ends `batch`: one `COMMIT` for the writes in it, or a `ROLLBACK` when all were undone.
    async fn commit(&self, batch: Batch) {
        if batch.done.is_empty() {
            // Every write in it was undone.
            let _ = batch.end("ROLLBACK").await;
            return;
        }
        self.commits.fetch_add(1, Ordering::Relaxed);
        let _ = batch.end("COMMIT").await;
    }

    /// How many `COMMIT`s this process has sent and how many writes they carried.
    pub fn stats(&self) -> (u64, u64) {
        (
            self.commits.load(Ordering::Relaxed),
            self.writes.load(Ordering::Relaxed),
        )
    }

    /// A write transaction: this process's turn (waited for until `deadline`), then either a
    /// savepoint in the batch the last writer left open or a new batch (`BEGIN IMMEDIATE`,
    /// retried until `deadline` while another process holds SQLite's lock).
    pub async fn begin(
        self: &Arc<Self>,
        pool: &SqlitePool,
        health: &Arc<Health>,
        deadline: Instant,
    ) -> StoreResult<Write> {
        let turn = {
            let _queued = Queued::new(&self.queued);
            tokio::time::timeout_at(deadline, self.turn.clone().lock_owned())
                .await
                .map_err(|_| sqlx::Error::PoolTimedOut)?
        };
        let mut write = Write {
            writer: self.clone(),
            turn: Some(turn),
            batch: None,
            nested: false,
        };
        if let Some(batch) = write.open().batch.take() {
            // Owned by the write before SAVEPOINT is sent: a request dropped while it is on its
            // way ends the write (`Drop`), which undoes it or, if the savepoint never came to
            // be, rolls back the batch, whose writes are then told so.
            write.batch = Some(batch);
            write.nested = true;
            match sqlx::raw_sql("SAVEPOINT scimd_write").execute(write.conn()).await {
                Ok(_) => return Ok(write),
                Err(err) => {
                    write.nested = false;
                    if let Some(batch) = write.batch.take() {
                        batch.fail(StoreError::BatchLost(err.to_string())).await;
                    }
                }
            }
        }
        let mut pause = Duration::from_millis(2);
        loop {
            let conn = health.acquire(pool.acquire()).await?;
            let id = {
                let open = write.open();
                open.next_id += 1;
                open.next_id
            };
            write.batch = Some(Batch {
                id,
                conn: Some(conn),
                done: Vec::new(),
                opened: Instant::now(),
            });
            match sqlx::raw_sql("BEGIN IMMEDIATE").execute(write.conn()).await {
                Ok(_) => return Ok(write),
                Err(err) => {
                    // The database refused BEGIN, so no transaction is open: the connection
                    // goes back to the pool as it is.
                    if let Some(mut batch) = write.batch.take() {
                        drop(batch.conn.take());
                    }
                    match err {
                        // Another process's lock: SQLite waited the busy timeout for it (or
                        // answered BUSY at once where waiting could deadlock); try again until
                        // the deadline. BEGIN has done nothing yet, so retrying it is safe.
                        sqlx::Error::Database(db)
                            if super::sqlite::is_busy(db.as_ref()) && Instant::now() < deadline =>
                        {
                            tokio::time::sleep(pause).await;
                            pause = (pause * 2).min(MAX_PAUSE);
                        }
                        err => return Err(err.into()),
                    }
                }
            }
        }
    }
}

/// One write transaction in a batch. Ended by [`Write::commit`]; dropped, it is undone.
pub(super) struct Write {
    writer: Arc<Writer>,
    /// This process's writer turn, held from `begin` until the write has ended.
    turn: Option<OwnedMutexGuard<Open>>,
    batch: Option<Batch>,
    /// Runs under a savepoint in a batch an earlier write opened.
    nested: bool,
}

impl Write {
    fn open(&mut self) -> &mut Open {
        self.turn
            .as_deref_mut()
            .expect("a write holds the turn until it ends")
    }

    pub fn conn(&mut self) -> &mut SqliteConnection {
        self.batch
            .as_mut()
            .expect("a write is used only before it ends")
            .conn()
    }

    /// Commits: answers once the `COMMIT` that carries this write has, with its outcome.
    pub async fn commit(mut self) -> StoreResult<()> {
        let Some(ending) = self.ending() else {
            return Ok(());
        };
        // For the request's own count (`health::count_commits`): from here on it may have
        // written, whichever task sends the COMMIT.
        commit_sent();
        let (told, outcome) = oneshot::channel();
        tokio::spawn(ending.run(Some(told)));
        match outcome.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(err)) => Err(StoreError::Shared(err)),
            // The task that held the batch was stopped (the runtime is shutting down).
            Err(_) => Err(StoreError::CommitUnknown(sqlx::Error::WorkerCrashed)),
        }
    }

    fn ending(&mut self) -> Option<Ending> {
        Some(Ending {
            writer: self.writer.clone(),
            batch: self.batch.take()?,
            turn: self.turn.take().expect("a write holds the turn until it ends"),
            nested: self.nested,
        })
    }
}

impl Drop for Write {
    fn drop(&mut self) {
        let Some(ending) = self.ending() else {
            return;
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(ending.run(None));
            }
            // No runtime (shutting down): the batch closes its connection, which ends the
            // transaction.
            Err(_) => drop(ending),
        }
    }
}

/// What ends a write, on a task of its own.
struct Ending {
    writer: Arc<Writer>,
    turn: OwnedMutexGuard<Open>,
    batch: Batch,
    nested: bool,
}

impl Ending {
    /// `told`: commit this write and tell it the outcome; `None`: undo it.
    async fn run(self, told: Option<oneshot::Sender<Outcome>>) {
        let Ending {
            writer,
            mut turn,
            mut batch,
            nested,
        } = self;
        if !nested {
            if told.is_none() {
                // The first write of its batch: nothing else is in it.
                let _ = batch.end("ROLLBACK").await;
                return;
            }
        } else {
            let ended = if told.is_some() {
                sqlx::raw_sql("RELEASE scimd_write").execute(batch.conn()).await
            } else {
                match sqlx::raw_sql("ROLLBACK TO scimd_write")
                    .execute(batch.conn())
                    .await
                {
                    Ok(_) => sqlx::raw_sql("RELEASE scimd_write").execute(batch.conn()).await,
                    Err(err) => Err(err),
                }
            };
            if let Err(err) = ended {
                // The savepoint is gone (SQLite rolled the whole transaction back after an
                // error such as a full disk, or it never came to be): so is the batch.
                if let Some(told) = told {
                    batch.done.push(told);
                }
                batch.fail(StoreError::BatchLost(err.to_string())).await;
                return;
            }
        }
        if let Some(told) = told {
            batch.done.push(told);
            writer.writes.fetch_add(1, Ordering::Relaxed);
        }
        let waiting = writer.queued.load(Ordering::SeqCst) > 0;
        if waiting && batch.done.len() < MAX_WRITES && batch.opened.elapsed() < writer.max_open {
            // Leave the batch open for the next writer, and commit it when the turn comes
            // back here if nobody has by then.
            let id = batch.id;
            turn.batch = Some(batch);
            drop(turn);
            let mut turn = writer.turn.clone().lock_owned().await;
            if turn.batch.as_ref().is_some_and(|b| b.id == id)
                && let Some(batch) = turn.batch.take()
            {
                writer.commit(batch).await;
            }
            return;
        }
        writer.commit(batch).await;
        drop(turn);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
    use std::str::FromStr;

    /// A WAL database in a directory of its own with one table, and a writer whose batches
    /// stay open as long as writers queue (however slow the machine).
    #[derive(Clone)]
    struct Db {
        pool: SqlitePool,
        writer: Arc<Writer>,
        health: Arc<Health>,
        dir: std::path::PathBuf,
    }

    impl Db {
        async fn new() -> Db {
            let dir = std::env::temp_dir().join(format!("scimd-group-commit-{}", uuid::Uuid::now_v7()));
            std::fs::create_dir_all(&dir).unwrap();
            let options = SqliteConnectOptions::from_str(&format!("sqlite://{}/t.db", dir.display()))
                .unwrap()
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .foreign_keys(true);
            let pool = SqlitePoolOptions::new()
                .max_connections(4)
                .connect_with(options)
                .await
                .unwrap();
            sqlx::raw_sql(
                "CREATE TABLE parent (id INTEGER PRIMARY KEY);
                 CREATE TABLE t (n INTEGER PRIMARY KEY,
                     parent INTEGER REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED)",
            )
            .execute(&pool)
            .await
            .unwrap();
            let mut writer = Writer::new();
            Arc::get_mut(&mut writer).unwrap().max_open = Duration::from_secs(60);
            Db {
                pool,
                writer,
                health: Health::new(),
                dir,
            }
        }

        async fn begin(&self) -> Write {
            let deadline = Instant::now() + Duration::from_secs(10);
            self.writer
                .begin(&self.pool, &self.health, deadline)
                .await
                .unwrap()
        }

        /// A write on a task of its own, as a concurrent request's: begun, then `body`.
        fn spawn<F, Fut>(&self, body: F) -> tokio::task::JoinHandle<Fut::Output>
        where
            F: FnOnce(Write) -> Fut + Send + 'static,
            Fut: std::future::Future + Send + 'static,
            Fut::Output: Send + 'static,
        {
            let db = self.clone();
            tokio::spawn(async move { body(db.begin().await).await })
        }

        /// Until `n` writers wait for the turn.
        async fn queued(&self, n: usize) {
            while self.writer.queued.load(Ordering::SeqCst) < n {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }

        async fn rows(&self) -> Vec<i64> {
            sqlx::query_scalar("SELECT n FROM t ORDER BY n")
                .fetch_all(&self.pool)
                .await
                .unwrap()
        }

        async fn close(self) {
            self.pool.close().await;
            let _ = std::fs::remove_dir_all(self.dir);
        }
    }

    async fn insert(write: &mut Write, n: i64, parent: Option<i64>) {
        sqlx::query("INSERT INTO t (n, parent) VALUES (?1, ?2)")
            .bind(n)
            .bind(parent)
            .execute(write.conn())
            .await
            .unwrap();
    }

    /// A write of row `n` (referencing `parent`) that commits.
    async fn insert_and_commit(mut write: Write, n: i64, parent: Option<i64>) -> StoreResult<()> {
        insert(&mut write, n, parent).await;
        write.commit().await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writers_that_queue_share_one_commit() {
        let db = Db::new().await;
        let mut first = db.begin().await;
        let others: Vec<_> = (1..16)
            .map(|n| db.spawn(move |w| insert_and_commit(w, n, None)))
            .collect();
        db.queued(15).await;
        insert(&mut first, 0, None).await;
        first.commit().await.unwrap();
        for other in others {
            other.await.unwrap().unwrap();
        }
        assert_eq!(db.rows().await, (0..16).collect::<Vec<_>>());
        // The first write found 15 queued behind it, each of them one more: one COMMIT.
        assert_eq!(db.writer.stats(), (1, 16));
        // A lone writer commits at once, in a batch of its own.
        insert_and_commit(db.begin().await, 16, None).await.unwrap();
        assert_eq!(db.writer.stats(), (2, 17));
        db.close().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_write_undone_in_a_batch_leaves_the_others_theirs() {
        let db = Db::new().await;
        let mut first = db.begin().await;
        let undone = db.spawn(|mut write| async move {
            insert(&mut write, 1, None).await;
            // Dropped without COMMIT, as a request that fails half-way.
        });
        db.queued(1).await;
        let last = db.spawn(|mut write| async move {
            // It runs after the undone write ended, and does not see it.
            let seen: i64 = sqlx::query_scalar("SELECT count(*) FROM t WHERE n = 1")
                .fetch_one(write.conn())
                .await
                .unwrap();
            assert_eq!(seen, 0);
            insert_and_commit(write, 2, None).await
        });
        db.queued(2).await;
        insert(&mut first, 0, None).await;
        first.commit().await.unwrap();
        undone.await.unwrap();
        last.await.unwrap().unwrap();
        assert_eq!(db.rows().await, vec![0, 2]);
        assert_eq!(db.writer.stats(), (1, 2));
        db.close().await;
    }

    /// A COMMIT that fails (here a deferred foreign key, checked only at COMMIT) fails every
    /// write in its batch with that error, and none of them is applied.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_commit_fails_every_write_it_carried() {
        let db = Db::new().await;
        let mut first = db.begin().await;
        let mut others = Vec::new();
        for n in 1..3 {
            // The second references a parent that does not exist.
            others.push(db.spawn(move |w| insert_and_commit(w, n, (n == 2).then_some(99))));
            db.queued(usize::try_from(n).unwrap()).await;
        }
        insert(&mut first, 0, None).await;
        let err = first.commit().await.unwrap_err();
        assert!(
            matches!(&err, StoreError::Shared(e) if matches!(**e, StoreError::ForeignKey(_))),
            "{err:?}"
        );
        for other in others {
            let err = other.await.unwrap().unwrap_err();
            assert!(matches!(&err, StoreError::Shared(_)), "{err:?}");
        }
        assert!(db.rows().await.is_empty());
        // The writer goes on: the next write is a batch of its own.
        insert_and_commit(db.begin().await, 3, None).await.unwrap();
        assert_eq!(db.rows().await, vec![3]);
        db.close().await;
    }

    /// A write that left its batch open for a writer that then never took the turn (its
    /// request cancelled while it queued) is committed all the same, by its own task, when the
    /// turn comes back to it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_batch_left_for_a_writer_that_never_comes_is_committed() {
        let db = Db::new().await;
        let mut write = db.begin().await;
        insert(&mut write, 0, None).await;
        // Counted as queued, as a writer is between its count and its cancellation.
        db.writer.queued.fetch_add(1, Ordering::SeqCst);
        let committed = tokio::time::timeout(Duration::from_secs(10), write.commit()).await;
        db.writer.queued.fetch_sub(1, Ordering::SeqCst);
        committed.expect("the batch was never committed").unwrap();
        assert_eq!(db.rows().await, vec![0]);
        assert_eq!(db.writer.stats(), (1, 1));
        db.close().await;
    }

    /// A request dropped while it waits for its batch's COMMIT (a client that hung up) does
    /// not take its write out: the batch commits it with the others.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_request_dropped_while_waiting_for_its_commit_is_still_committed() {
        let db = Db::new().await;
        let mut first = db.begin().await;
        let (go, wait) = oneshot::channel::<()>();
        let next = db.spawn(|write| async move {
            wait.await.unwrap();
            insert_and_commit(write, 1, None).await
        });
        db.queued(1).await;
        insert(&mut first, 0, None).await;
        // The next writer holds the turn in the batch, so this waits, and is dropped.
        let gone = tokio::time::timeout(Duration::from_millis(100), first.commit()).await;
        assert!(
            gone.is_err(),
            "the batch committed while a writer in it was still working"
        );
        go.send(()).unwrap();
        next.await.unwrap().unwrap();
        assert_eq!(db.rows().await, vec![0, 1]);
        assert_eq!(db.writer.stats(), (1, 2));
        db.close().await;
    }

    /// SQLite rolls a whole transaction back after some errors (a full disk): a later write's
    /// failure then takes the earlier writes of its batch with it. Each learns it with an error
    /// that says to retry (503), none is applied, and the writer goes on.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_batch_rolled_back_under_a_write_fails_each_write_retryably() {
        let db = Db::new().await;
        let mut first = db.begin().await;
        let next = db.spawn(|mut write| async move {
            insert(&mut write, 1, None).await;
            // What SQLite does by itself after SQLITE_FULL.
            sqlx::raw_sql("ROLLBACK").execute(write.conn()).await.unwrap();
            write.commit().await
        });
        db.queued(1).await;
        insert(&mut first, 0, None).await;
        let err = first.commit().await.unwrap_err();
        assert!(err.is_unavailable(), "{err:?}");
        assert!(
            matches!(&err, StoreError::Shared(e) if matches!(**e, StoreError::BatchLost(_))),
            "{err:?}"
        );
        let err = next.await.unwrap().unwrap_err();
        assert!(err.is_unavailable(), "{err:?}");
        assert!(db.rows().await.is_empty());
        insert_and_commit(db.begin().await, 2, None).await.unwrap();
        assert_eq!(db.rows().await, vec![2]);
        db.close().await;
    }
}
