//! The embedded SQLite store: the zero-setup default (`sqlite://scimd.db`). It keeps the same
//! schema as Postgres (migrations/sqlite mirrors migrations/postgres) and answers every `Tx`
//! method with the same meaning. The statements written once for both databases live beside
//! their aggregates (`store/accounts.rs`, `tokens.rs`, `memberships.rs`, …, over the seam of
//! `store/db.rs`); what is here is SQLite's own (opening the file, the writer's turn, planner
//! statistics) and what is not written once yet — inserting, updating and listing users and
//! groups, which follow postgres.rs method by method.
//!
//! Why this file is over 1,000 lines: about 900 of them are its tests (the query plans every
//! IdP lookup must use, the writer's turn under contention, file modes, migrations of old
//! files), and it shrinks as the rest of the users and groups statements move to
//! `store/resources.rs`.
//!
//! How Postgres types are kept (see migrations/sqlite/0001_core.sql): ids as lower-case
//! hyphenated TEXT, times as fixed-width UTC TEXT with microseconds, booleans as 0/1, documents
//! as JSON TEXT. Arrays, which SQLite lacks, are bound as one JSON array and read with
//! `json_each`, so set-based statements stay one statement.
//!
//! Concurrency. SQLite has one writer at a time. The database runs in WAL mode, so readers
//! never wait for the writer nor it for them. Every write transaction starts with
//! `BEGIN IMMEDIATE`, which takes the write lock at once: a transaction never reads a row and
//! only later finds it cannot write (which would be `SQLITE_BUSY` with no way to wait). Within
//! this process writers queue on a fair mutex first, so they wait in arrival order without
//! holding pool connections that readers need; another process holding the lock is waited for
//! by retrying `BEGIN IMMEDIATE` (each try waits briefly in SQLite's busy handler). Both waits
//! share one deadline, [`WRITE_WAIT`], so no request waits longer than that in all, however
//! many writers queue; past it the request is answered 503 (`StoreError::is_unavailable`).
//!
//! Query plans. Every key leads with account_id, and without statistics SQLite's planner
//! takes an equality on the first column of any index to select about ten rows, so it cannot
//! tell "all users of the account" from "the user with this email" and may walk the account.
//! The store therefore writes fixed statistics describing a large deployment
//! ([`PLANNER_STATS`]) at every start and never runs ANALYZE, so plans are the same on a
//! fresh file and on a big one; the tests in this file check the plan of every list query.
//!
//! Why that replaces `SELECT … FOR UPDATE`: in Postgres the row lock keeps a concurrent writer
//! from changing the row between our read and our write. An immediate transaction holds the
//! database's only write lock from its first statement to its end, and in WAL mode it reads
//! the latest committed state: no other transaction can change anything, that row included,
//! until it commits. It is the row lock widened to the whole database, which is what makes
//! concurrent PATCHes of one group serialise and each bump the version once.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};
use sqlx::pool::PoolConnection;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{AssertSqlSafe, ConnectOptions, Connection, Row, Sqlite, SqliteConnection};
use tokio::sync::Mutex;
use uuid::Uuid;
use uuid::fmt::Hyphenated;

use super::common::{self, GROUP_COLUMNS, USER_COLUMNS, columns, indexed, limit_offset, list_sql, table};
use super::db::{DbConn, now_micros, time_text};
use super::derived;
use super::filter_sql::{Dialect, SqlParam};
use super::health::{Health, Probe};
use super::rekey;
use super::session::{Held, Session};
use super::{
    Account, AccountSettings, AdminFilter, AuditQuery, AuditRecord, Backend, GroupRef, Keyset, ListQuery,
    MemberRef, Membership, NewResource, NewRoleBinding, Origin, Page, ResourceKind, ResourceRow, RoleBinding,
    Store, StoreError, StoreOptions, StoreResult, TokenRecord, Tx,
};
use super::{accounts, audit, memberships, resources, role_bindings, settings, tokens};
use crate::scim::compare;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// The file a `sqlite:` URL names; `None` for an in-memory database.
pub fn database_path(url: &str) -> Option<std::path::PathBuf> {
    let options = SqliteConnectOptions::from_str(url).ok()?;
    let path = options.get_filename().to_path_buf();
    (!path.to_string_lossy().starts_with("file:") && !path.as_os_str().is_empty()).then_some(path)
}

/// The newest schema version this binary knows (its last migration).
pub fn latest_schema_version() -> i64 {
    MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0)
}

/// How long a writer waits for its turn (this process's queue, then another process's lock)
/// before the request fails.
const WRITE_WAIT: Duration = Duration::from_secs(10);

/// How long one `BEGIN IMMEDIATE` waits in SQLite's busy handler before `write_tx` tries
/// again: short, so the deadline is kept however long the turn took. Connections that only
/// set the database up (statistics, migrations) wait the whole [`WRITE_WAIT`] instead.
const BUSY_TRY: Duration = Duration::from_millis(100);

pub struct SqliteStore {
    pool: SqlitePool,
    options: SqliteConnectOptions,
    /// Writers of this process, in arrival order (see the module comment).
    writer: Arc<Mutex<()>>,
    health: Arc<Health>,
}

impl SqliteStore {
    /// Opens the database file (creating it if it does not exist yet) without migrating.
    pub async fn connect(url: &str, opts: &StoreOptions) -> StoreResult<SqliteStore> {
        let max_connections = opts.max_connections;
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // A 201 the IdP has seen must survive a power cut: sync the WAL on every commit.
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(WRITE_WAIT);
        let path = options.get_filename().to_path_buf();
        // An in-memory database (`sqlite::memory:`) is named `file:…` and has no directory.
        let in_memory = path.to_string_lossy().starts_with("file:");
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
            && !in_memory
            && !dir.is_dir()
        {
            return Err(StoreError::Unusable(format!(
                "the directory {} does not exist; create it or change database_url",
                dir.display()
            )));
        }
        if path.is_dir() {
            return Err(StoreError::Unusable(format!(
                "{} is a directory; name a file in it, e.g. sqlite://{}",
                path.display(),
                path.join("scimd.db").display()
            )));
        }
        if !in_memory {
            create_private(&path);
        }
        let writable = |e: sqlx::Error| open_error(&path, e);
        // Before the pool opens: connections load the statistics with the schema.
        let mut conn = options.connect().await.map_err(writable)?;
        refuse_foreign(&mut conn, &path).await?;
        // After the checks that say the file is no database or not scimd's, a worse problem.
        if !in_memory {
            refuse_public(&path, opts.allow_readable_by_others)?;
        }
        write_planner_stats(&mut conn).await.map_err(writable)?;
        conn.close().await?;
        let pool = SqlitePoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(WRITE_WAIT)
            .connect_with(options.clone().busy_timeout(BUSY_TRY))
            .await
            .map_err(writable)?;
        let writer = Arc::new(Mutex::new(()));
        let health = Health::new();
        let reach: Probe = {
            let options = options.clone().busy_timeout(BUSY_TRY);
            Arc::new(move || {
                let options = options.clone();
                Box::pin(async move {
                    let mut conn = options.connect().await?;
                    sqlx::query("SELECT count(*) FROM store_meta")
                        .execute(&mut conn)
                        .await?;
                    let _ = conn.close().await;
                    Ok(())
                })
            })
        };
        let write: Probe = {
            let (pool, writer) = (pool.clone(), writer.clone());
            Arc::new(move || Box::pin(write_probe(pool.clone(), writer.clone())))
        };
        health.set_probes(reach, write);
        Ok(SqliteStore {
            pool,
            options,
            writer,
            health,
        })
    }

    async fn run_migrations(&self) -> StoreResult<()> {
        // On a connection of its own: an index created on a connection gets default estimates
        // there, while every other connection reloads the schema, statistics included, when it
        // sees the change. So the pool's connections all plan with the statistics.
        let migrator = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(WRITE_WAIT)
            .connect_with(self.options.clone())
            .await?;
        let migrated = MIGRATOR.run(&migrator).await;
        migrator.close().await;
        migrated?;
        self.rebuild_user_values().await?;
        self.rekey().await
    }

    /// Rewrites comparison keys written by older versions and moves uniqueness onto them
    /// (`store/rekey.rs`), once: the version in `store_meta` is read inside the immediate
    /// transaction, so processes starting together rewrite once.
    async fn rekey(&self) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        let Some((rows, collisions)) = rekey::run(&mut tx.db()).await? else {
            return Ok(());
        };
        // DROP INDEX took the indexes' planner statistics with it: put them back, and have this
        // connection reload them (the others reload the schema when they see it changed).
        for (table, index, stat) in PLANNER_STATS {
            if rekey::CREATE_UNIQUE_KEYS
                .iter()
                .any(|sql| sql.contains(&format!(" {index} ON ")))
            {
                sqlx::query("INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES (?1, ?2, ?3)")
                    .bind(table)
                    .bind(index)
                    .bind(stat)
                    .execute(tx.c())
                    .await?;
            }
        }
        sqlx::query("ANALYZE sqlite_schema").execute(tx.c()).await?;
        Box::new(tx).commit().await?;
        rekey::reported(rows, &collisions);
        Ok(())
    }

    /// Re-derives every user's `user_values` rows when they were written by an older
    /// derivation (see migration 0002). The rebuild is one immediate transaction, so processes
    /// starting together rebuild once and the others find the version already current.
    async fn rebuild_user_values(&self) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        let stored: String =
            sqlx::query_scalar("SELECT value FROM store_meta WHERE key = 'user_values_version'")
                .fetch_one(tx.c())
                .await?;
        if stored.parse::<i32>().unwrap_or(0) >= derived::USER_VALUES_VERSION {
            return Ok(());
        }
        let mut after: Option<(Uuid, Uuid)> = None;
        let mut rebuilt = 0usize;
        loop {
            // Keyset pages of the primary key: constant cost per page however many users.
            let rows = sqlx::query(
                "SELECT account_id, id, doc FROM users
                 WHERE (?1 IS NULL OR (account_id, id) > (?1, ?2))
                 ORDER BY account_id, id LIMIT 500",
            )
            .bind(after.map(|a| a.0.hyphenated()))
            .bind(after.map(|a| a.1.hyphenated()))
            .fetch_all(tx.c())
            .await?;
            let Some(last) = rows.last() else { break };
            after = Some((get_uuid(last, "account_id")?, get_uuid(last, "id")?));
            for row in &rows {
                let doc = get_doc(row)?;
                tx.write_user_values(get_uuid(row, "account_id")?, get_uuid(row, "id")?, &doc)
                    .await?;
            }
            rebuilt += rows.len();
        }
        sqlx::query("UPDATE store_meta SET value = ?1 WHERE key = 'user_values_version'")
            .bind(derived::USER_VALUES_VERSION.to_string())
            .execute(tx.c())
            .await?;
        Box::new(tx).commit().await?;
        if rebuilt > 0 {
            tracing::info!(users = rebuilt, "rebuilt the filter index of existing users");
        }
        Ok(())
    }

    /// A write transaction: this process's turn first, then SQLite's write lock.
    async fn write_tx(&self) -> StoreResult<SqliteTx> {
        let deadline = tokio::time::Instant::now() + WRITE_WAIT;
        let turn = tokio::time::timeout_at(deadline, self.writer.clone().lock_owned())
            .await
            .map_err(|_| sqlx::Error::PoolTimedOut)?;
        // Another process's lock: SQLite waits BUSY_TRY for it (or answers BUSY at once where
        // waiting could deadlock), then this loop tries again until the deadline. BEGIN has
        // done nothing yet, so retrying it is always safe.
        let mut pause = Duration::from_millis(2);
        let mut turn: Held = Some(Box::new(turn));
        let tx = loop {
            let conn = self.health.acquire(self.pool.acquire()).await?;
            match Session::begin(conn, "BEGIN IMMEDIATE", None).await {
                Err(sqlx::Error::Database(err))
                    if is_busy(err.as_ref()) && tokio::time::Instant::now() < deadline =>
                {
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_millis(100));
                }
                Ok(mut session) => {
                    session.hold(turn.take());
                    break session;
                }
                Err(err) => return Err(err.into()),
            }
        };
        Ok(SqliteTx {
            health: Some(self.health.clone()),
            conn: Conn::Tx(tx),
            // Postgres's now() is the transaction's start; the lock is taken, so times of
            // successive writes never go backwards.
            now: Some(now_micros()),
        })
    }

    /// `EXPLAIN QUERY PLAN` of the page query a list request runs, one line per step,
    /// indented under its parent.
    async fn explain(
        &self,
        kind: ResourceKind,
        account: Uuid,
        query: &ListQuery,
        extra: &AdminFilter,
    ) -> StoreResult<String> {
        let sql = list_sql(Dialect::Sqlite, kind, query, extra)?;
        let (limit, offset) = limit_offset(query);
        let rows = bind_params(
            sqlx::query(AssertSqlSafe(format!("EXPLAIN QUERY PLAN {}", sql.page))).bind(account.hyphenated()),
            &[sql.params, sql.page_params].concat(),
        )
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
        .await?;
        let mut depth: Vec<(i64, usize)> = Vec::new();
        let mut lines = Vec::new();
        for row in &rows {
            let (id, parent, detail): (i64, i64, String) =
                (row.try_get("id")?, row.try_get("parent")?, row.try_get("detail")?);
            let level = depth.iter().find(|(i, _)| *i == parent).map_or(0, |(_, l)| l + 1);
            depth.push((id, level));
            lines.push(format!("{}{detail}", "  ".repeat(level)));
        }
        Ok(lines.join("\n"))
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    fn pool_stats(&self) -> crate::store::PoolStats {
        crate::store::PoolStats {
            size: self.pool.size(),
            idle: u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX),
        }
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.migrate")]
    async fn migrate(&self) -> StoreResult<()> {
        self.run_migrations().await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.close")]
    async fn close(&self) {
        self.pool.close().await;
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.explain_list")]
    async fn explain_list(
        &self,
        kind: ResourceKind,
        account: Uuid,
        query: &ListQuery,
    ) -> StoreResult<String> {
        self.explain(kind, account, query, &AdminFilter::default()).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.begin")]
    async fn begin(&self) -> StoreResult<Box<dyn Tx>> {
        Ok(Box::new(self.write_tx().await?))
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.reader")]
    async fn reader(&self) -> StoreResult<Box<dyn Tx>> {
        Ok(Box::new(SqliteTx {
            health: None,
            conn: Conn::Plain(self.health.acquire(self.pool.acquire()).await?),
            now: None,
        }))
    }

    /// A deferred transaction: in WAL mode its first read fixes the snapshot every later
    /// statement sees, and it never takes the writer lock (nor this process's writer turn).
    #[tracing::instrument(level = "debug", skip_all, name = "store.snapshot")]
    async fn snapshot(&self) -> StoreResult<Box<dyn Tx>> {
        let conn = self.health.acquire(self.pool.acquire()).await?;
        Ok(Box::new(SqliteTx {
            health: None,
            conn: Conn::Tx(Session::begin(conn, "BEGIN DEFERRED", None).await?),
            now: None,
        }))
    }

    fn health(&self) -> &Arc<Health> {
        &self.health
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.ping")]
    async fn ping(&self) -> StoreResult<()> {
        // Reads a table, not just `SELECT 1`: the file must still be there and readable.
        let mut conn = self.health.acquire(self.pool.acquire()).await?;
        sqlx::query("SELECT count(*) FROM store_meta")
            .execute(&mut *conn)
            .await?;
        Ok(())
    }
}

enum Conn {
    /// A transaction; a write transaction also holds this process's writer turn, released
    /// only once it has ended (committed, or rolled back after being dropped), so the next
    /// writer starts on a free database instead of racing the rollback for SQLite's lock.
    Tx(Session<Sqlite>),
    Plain(PoolConnection<Sqlite>),
}

struct SqliteTx {
    conn: Conn,
    /// The transaction's time; `None` outside a transaction (each statement's own time).
    now: Option<DateTime<Utc>>,
    /// A write transaction's view of the store's health: a commit that fails for lack of
    /// space marks writes failing, one that succeeds ends it.
    health: Option<Arc<Health>>,
}

/// Why a database file cannot be opened, with the fix, in one line.
/// The database holds every account's personal data, the token hashes and the signing
/// secret: a new file is created 0600 whatever the umask, before SQLite opens it (SQLite gives
/// the `-wal` and `-shm` files it creates the database file's mode). When it cannot be created
/// here (a directory that refuses it, a race), SQLite tries and reports why.
#[cfg(unix)]
fn create_private(path: &std::path::Path) {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};

    if std::fs::symlink_metadata(path).is_err()
        && std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .is_ok()
    {
        // The umask may have taken the owner's bits too.
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
    }
}

#[cfg(not(unix))]
fn create_private(_: &std::path::Path) {}

/// A database file that group or others may read or write is refused unless `allow_readable`
/// says the operator wants it so; leftover `-wal` / `-shm` files open to others are made 0600.
#[cfg(unix)]
fn refuse_public(path: &std::path::Path, allow_readable: bool) -> StoreResult<()> {
    use std::os::unix::fs::PermissionsExt;

    if allow_readable {
        return Ok(());
    }
    if let Ok(meta) = std::fs::metadata(path) {
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            let shown = path.display();
            return Err(StoreError::Unusable(format!(
                "the database file {shown} has mode {mode:04o}, open to group or others, and holds \
                 personal data, token hashes and the signing secret: run `chmod 600 {shown}`, or \
                 set database_allow_readable_by_others = true to start anyway"
            )));
        }
    }
    for suffix in ["-wal", "-shm"] {
        let mut side = path.as_os_str().to_owned();
        side.push(suffix);
        let side = std::path::Path::new(&side);
        if let Ok(meta) = std::fs::symlink_metadata(side)
            && meta.is_file()
            && meta.permissions().mode() & 0o077 != 0
        {
            std::fs::set_permissions(side, std::fs::Permissions::from_mode(0o600)).map_err(|e| {
                StoreError::Unusable(format!(
                    "{} is open to group or others and cannot be made private ({e}): run `chmod 600 {}`",
                    side.display(),
                    side.display()
                ))
            })?;
        }
    }
    Ok(())
}

#[cfg(not(unix))]
fn refuse_public(_: &std::path::Path, _: bool) -> StoreResult<()> {
    Ok(())
}

fn open_error(path: &std::path::Path, err: sqlx::Error) -> StoreError {
    let shown = path.display();
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .map_or_else(|| ".".to_string(), |d| d.display().to_string());
    let code = match &err {
        sqlx::Error::Database(db) => primary_code(db.as_ref()),
        _ => None,
    };
    let io_kind = match &err {
        sqlx::Error::Io(io) => Some(io.kind()),
        // SQLite's "unable to open" does not say why: ask the file system.
        _ if code == Some(14) => access_error(path),
        _ => None,
    };
    StoreError::Unusable(match (code, io_kind) {
        (Some(26), _) => format!(
            "{shown} is not a SQLite database: name scimd's database file, or a new path to create one"
        ),
        (Some(13), _) | (_, Some(std::io::ErrorKind::StorageFull)) => format!(
            "no space left on the device holding {dir} (the database's directory): free space there \
             (`df -h {dir}`) or move the database"
        ),
        (Some(8 | 23), _) | (_, Some(std::io::ErrorKind::PermissionDenied)) => format!(
            "permission denied on {shown}: run scimd as a user who may read and write it and {dir}, or \
             change their owner (chown) ({err})"
        ),
        _ => format!("{err}; {shown} and its directory must be writable by this user"),
    })
}

/// What the file system answers when this user opens the database file for writing (or
/// creates a file beside it, when there is none yet).
fn access_error(path: &std::path::Path) -> Option<std::io::ErrorKind> {
    if path.exists() {
        return std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .err()
            .map(|e| e.kind());
    }
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty())?;
    let probe = dir.join(format!(".scimd-access-{}", std::process::id()));
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
    {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            None
        }
        Err(e) => Some(e.kind()),
    }
}

/// Refuses a SQLite file that holds tables but not scimd's schema: migrating would write
/// scimd's tables into somebody else's database.
async fn refuse_foreign(conn: &mut SqliteConnection, path: &std::path::Path) -> StoreResult<()> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| open_error(path, e))?;
    if !tables.is_empty() && !tables.iter().any(|t| t == "_sqlx_migrations") {
        let shown: Vec<&str> = tables.iter().take(3).map(String::as_str).collect();
        return Err(StoreError::Unusable(format!(
            "{} is a SQLite database, but not scimd's (it has the tables {}{} and no scimd schema): name \
             scimd's database file, or a new path to create one",
            path.display(),
            shown.join(", "),
            if tables.len() > 3 { ", …" } else { "" }
        )));
    }
    Ok(())
}

/// Can this process write again? One small write in this process's writer turn, as a
/// request's would be: the probe that ends the "writes failing" condition (see `health`).
async fn write_probe(pool: SqlitePool, writer: Arc<Mutex<()>>) -> StoreResult<()> {
    let turn = writer.lock_owned().await;
    let conn = pool.acquire().await?;
    let mut tx = Session::begin(conn, "BEGIN IMMEDIATE", Some(Box::new(turn))).await?;
    sqlx::query("INSERT INTO store_meta (key, value) VALUES ('write_probe', ?1) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
        .bind(time_text(now_micros()))
        .execute(tx.conn())
        .await?;
    tx.commit().await
}

/// A SQLite error that is SQLITE_BUSY or one of its extended codes (recovery, snapshot,
/// timeout); false for any other database's error.
pub(crate) fn is_busy(err: &dyn sqlx::error::DatabaseError) -> bool {
    primary_code(err) == Some(5)
}

/// The primary result code (the low byte of the extended code) of a SQLite error; `None`
/// for another database's error.
pub(crate) fn primary_code(err: &dyn sqlx::error::DatabaseError) -> Option<i32> {
    err.try_downcast_ref::<sqlx::sqlite::SqliteError>()?;
    err.code()
        .and_then(|code| code.parse::<i32>().ok())
        .map(|code| code & 0xff)
}

impl SqliteTx {
    fn c(&mut self) -> &mut SqliteConnection {
        match &mut self.conn {
            Conn::Tx(tx) => tx.conn(),
            Conn::Plain(conn) => conn,
        }
    }

    /// `now()` as Postgres would answer it, in the stored form.
    fn now(&self) -> String {
        time_text(self.now_time())
    }

    /// `now()` as Postgres would answer it.
    fn now_time(&self) -> DateTime<Utc> {
        self.now.unwrap_or_else(now_micros)
    }

    /// This transaction's connection, for the statements written once (`store/db.rs`).
    fn db(&mut self) -> DbConn<'_> {
        let now = self.now_time();
        DbConn::sqlite(self.c(), now)
    }
}

/// `sqlite_stat1` rows (table, index, "rows, then rows per distinct prefix of the index's
/// columns") for an installation of 10 accounts of 100,000 users, 1,000 groups and ten
/// values per user; a WITHOUT ROWID table's primary key is named like the table. Only ratios
/// matter to the planner: they say that account_id alone selects a great many rows and a
/// lookup value almost none. An index added to migrations/sqlite needs its line here (the test
/// `every_index_has_planner_stats` fails until it has one).
const PLANNER_STATS: &[(&str, &str, &str)] = &[
    ("accounts", "sqlite_autoindex_accounts_1", "10 1"),
    ("signing_keys", "signing_keys", "1 1"),
    ("store_meta", "store_meta", "1 1"),
    ("tokens", "tokens", "1000 100 1"),
    ("users", "sqlite_autoindex_users_1", "1000000 100000 1"),
    ("users", "users_user_name_ci_key", "1000000 100000 1"),
    ("users", "users_external_id_idx", "1000000 100000 1 1"),
    ("users", "users_display_name_ci_idx", "1000000 100000 2 1"),
    ("users", "users_primary_email_ci_idx", "1000000 100000 1 1"),
    // A source or the IdP-managed flag is shared by half an account.
    ("users", "users_source_idx", "1000000 100000 50000 1"),
    ("users", "users_idp_managed_idx", "1000000 100000 50000 1"),
    ("user_values", "user_values", "10000000 1000000 10 2 1"),
    (
        "user_values",
        "user_values_value_idx",
        "10000000 1000000 100000 2",
    ),
    (
        "user_values",
        "user_values_value_ci_pattern_idx",
        "10000000 1000000 100000 2",
    ),
    ("groups", "sqlite_autoindex_groups_1", "10000 1000 1"),
    ("groups", "groups_display_name_ci_idx", "10000 1000 1 1"),
    ("groups", "groups_external_id_idx", "10000 1000 1 1"),
    ("groups", "groups_source_idx", "10000 1000 500 1"),
    ("groups", "groups_idp_managed_idx", "10000 1000 500 1"),
    ("groups", "groups_identifier_key", "10000 1000 1"),
    ("groups", "groups_identifier_pattern_idx", "10000 1000 1 1"),
    ("groups", "groups_idp_display_name_key", "5000 500 1"),
    ("groups", "groups_native_display_name_key", "5000 500 1"),
    ("groups", "groups_display_name_idx", "10000 1000 1 1"),
    ("group_members", "group_members", "10000000 1000000 1000 1"),
    ("group_members", "group_members_member_idx", "10000000 1000000 10"),
    ("role_bindings", "role_bindings", "100000 10000 1"),
    ("role_bindings", "role_bindings_key", "100000 10000 10 2 1"),
    // A million events per account; a resource has a handful.
    (
        "audit_events",
        "sqlite_autoindex_audit_events_1",
        "10000000 1000000 1",
    ),
    (
        "audit_events",
        "audit_events_resource_idx",
        "10000000 1000000 500000 5 1",
    ),
];

/// Replaces the statistics with [`PLANNER_STATS`]. Rows naming an index that a pending
/// migration will create are kept by SQLite and used once it exists.
async fn write_planner_stats(conn: &mut SqliteConnection) -> Result<(), sqlx::Error> {
    // Creates sqlite_stat1 when missing; analysing the schema table itself costs nothing.
    sqlx::query("ANALYZE sqlite_schema").execute(&mut *conn).await?;
    let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
    sqlx::query("DELETE FROM sqlite_stat1").execute(&mut *tx).await?;
    for (table, index, stat) in PLANNER_STATS {
        sqlx::query("INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES (?1, ?2, ?3)")
            .bind(table)
            .bind(index)
            .bind(stat)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await
}

/// SQLite names the columns of a violated unique key, not the key; these are the names the
/// Postgres schema gives them, so a `StoreError::Unique` names the same constraint on both
/// stores. A unique key added to migrations/sqlite needs its line here (the test
/// `every_unique_key_has_its_postgres_name` fails until it has one).
const UNIQUE_KEYS: &[(&str, &str)] = &[
    ("accounts.id", "accounts_pkey"),
    ("signing_keys.id", "signing_keys_pkey"),
    ("tokens.account_id, tokens.id", "tokens_pkey"),
    ("users.account_id, users.id", "users_pkey"),
    ("users.account_id, users.user_name_ci", "users_user_name_ci_key"),
    (
        "user_values.account_id, user_values.user_id, user_values.attr, user_values.ord",
        "user_values_pkey",
    ),
    ("groups.account_id, groups.id", "groups_pkey"),
    // Both displayName keys (one per side, partial indexes) have these columns;
    // `display_name_key` names the one violated.
    (
        "groups.account_id, groups.display_name_ci",
        resources::DISPLAY_NAME_KEYS,
    ),
    ("groups.account_id, groups.identifier", "groups_identifier_key"),
    ("role_bindings.account_id, role_bindings.id", "role_bindings_pkey"),
    (
        "role_bindings.account_id, role_bindings.group_id, role_bindings.role, role_bindings.resource_group",
        "role_bindings_key",
    ),
    ("audit_events.account_id, audit_events.id", "audit_events_pkey"),
    (
        "group_members.account_id, group_members.group_id, group_members.member_id",
        "group_members_pkey",
    ),
    ("store_meta.key", "store_meta_pkey"),
];

/// The constraint named by SQLite's message `UNIQUE constraint failed: t.a, t.b`.
pub(crate) fn constraint_name(message: &str) -> Option<String> {
    let columns = message.strip_prefix("UNIQUE constraint failed: ")?.trim();
    Some(
        UNIQUE_KEYS
            .iter()
            .find(|(cols, _)| *cols == columns)
            .map_or_else(|| columns.to_string(), |(_, name)| name.to_string()),
    )
}

fn decode_error(column: &str, err: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::Database(sqlx::Error::ColumnDecode {
        index: column.to_string(),
        source: Box::new(err),
    })
}

fn get_uuid(row: &SqliteRow, column: &str) -> StoreResult<Uuid> {
    Ok(row.try_get::<Hyphenated, _>(column)?.into_uuid())
}

fn get_time(row: &SqliteRow, column: &str) -> StoreResult<DateTime<Utc>> {
    let text: String = row.try_get(column)?;
    parse_time(column, &text)
}

fn parse_time(column: &str, text: &str) -> StoreResult<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| decode_error(column, e))
}

fn get_doc(row: &SqliteRow) -> StoreResult<Map<String, Value>> {
    let text: String = row.try_get("doc")?;
    match serde_json::from_str(&text).map_err(|e| decode_error("doc", e))? {
        Value::Object(map) => Ok(map),
        _ => Ok(Map::new()),
    }
}

fn resource_row(row: &SqliteRow) -> StoreResult<ResourceRow> {
    Ok(ResourceRow {
        account_id: get_uuid(row, "account_id")?,
        id: get_uuid(row, "id")?,
        doc: get_doc(row)?,
        source: row.try_get("source")?,
        idp_managed: row.try_get("idp_managed")?,
        created_at: get_time(row, "created_at")?,
        last_modified: get_time(row, "last_modified")?,
        version: row.try_get("version")?,
        identifier: row.try_get("identifier")?,
    })
}

impl SqliteTx {
    async fn write_user_values(
        &mut self,
        account: Uuid,
        id: Uuid,
        doc: &Map<String, Value>,
    ) -> StoreResult<()> {
        sqlx::query("DELETE FROM user_values WHERE account_id = ?1 AND user_id = ?2")
            .bind(account.hyphenated())
            .bind(id.hyphenated())
            .execute(self.c())
            .await?;
        let rows = derived::user_value_rows(doc);
        if rows.is_empty() {
            return Ok(());
        }
        // One statement for all rows: a JSON array of rows through json_each.
        let rows: Vec<Value> = rows
            .into_iter()
            .map(|r| {
                json!({"attr": r.attr, "ord": r.ord, "value": r.value, "value_ci": r.value_ci,
                       "type_ci": r.type_ci, "is_primary": r.is_primary})
            })
            .collect();
        sqlx::query(
            "INSERT INTO user_values (account_id, user_id, attr, ord, value, value_ci, type_ci, is_primary)
             SELECT ?1, ?2, json_extract(x.value, '$.attr'), json_extract(x.value, '$.ord'),
                    json_extract(x.value, '$.value'), json_extract(x.value, '$.value_ci'),
                    json_extract(x.value, '$.type_ci'), json_extract(x.value, '$.is_primary')
             FROM json_each(?3) AS x",
        )
        .bind(account.hyphenated())
        .bind(id.hyphenated())
        .bind(Value::Array(rows).to_string())
        .execute(self.c())
        .await?;
        Ok(())
    }
}

impl SqliteTx {
    /// A list page, with the admin API's extra conditions (none for SCIM).
    async fn list_with(
        &mut self,
        kind: ResourceKind,
        account: Uuid,
        query: &ListQuery,
        extra: &AdminFilter,
    ) -> StoreResult<Page<ResourceRow>> {
        let sql = list_sql(Dialect::Sqlite, kind, query, extra)?;
        let total: i64 = bind_params(
            sqlx::query(AssertSqlSafe(sql.count)).bind(account.hyphenated()),
            &sql.params,
        )
        .fetch_one(self.c())
        .await?
        .try_get(0)?;
        let mut items = Vec::new();
        let mut next = None;
        let wanted = query.count > 0 && (query.keyset.is_some() || total >= query.start_index);
        if wanted {
            let (limit, offset) = limit_offset(query);
            let rows = bind_params(
                sqlx::query(AssertSqlSafe(sql.page)).bind(account.hyphenated()),
                &[sql.params, sql.page_params].concat(),
            )
            .bind(limit)
            .bind(offset)
            .fetch_all(self.c())
            .await?;
            items = rows.iter().map(resource_row).collect::<StoreResult<Vec<_>>>()?;
            if query.keyset.is_some() && rows.len() as i64 > query.count {
                items.pop();
                let last = &rows[items.len() - 1];
                next = Some(Keyset {
                    key: last.try_get("sort_key")?,
                    id: get_uuid(last, "id")?,
                });
            }
        }
        Ok(Page { total, items, next })
    }
}

fn bind_params<'q>(
    mut query: sqlx::query::Query<'q, Sqlite, sqlx::sqlite::SqliteArguments>,
    params: &[SqlParam],
) -> sqlx::query::Query<'q, Sqlite, sqlx::sqlite::SqliteArguments> {
    for p in params {
        query = match p {
            SqlParam::Text(s) => query.bind(s.clone()),
            SqlParam::Bool(b) => query.bind(*b),
            SqlParam::Uuid(u) => query.bind(u.hyphenated()),
            SqlParam::Time(t) => query.bind(time_text(*t)),
        };
    }
    query
}

#[async_trait]
impl Tx for SqliteTx {
    #[tracing::instrument(level = "debug", skip_all, name = "store.commit")]
    async fn commit(self: Box<Self>) -> StoreResult<()> {
        let SqliteTx { conn, health, .. } = *self;
        if let Conn::Tx(tx) = conn {
            // The turn passes only once the transaction has ended, committed or rolled back.
            let committed = tx.commit().await;
            if let Some(health) = health {
                match &committed {
                    Ok(()) => health.wrote(),
                    Err(err) if err.is_disk_full() => health.mark_writes_failing(err.unavailable_cause()),
                    Err(_) => {}
                }
            }
            committed?;
        }
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.create_account")]
    async fn create_account(&mut self, id: Uuid, name: &str) -> StoreResult<Account> {
        accounts::create(&mut self.db(), id, name).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.list_accounts")]
    async fn list_accounts(&mut self) -> StoreResult<Vec<Account>> {
        accounts::list(&mut self.db()).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.get_account")]
    async fn get_account(&mut self, id: Uuid) -> StoreResult<Option<Account>> {
        accounts::get(&mut self.db(), id).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.signing_key")]
    async fn signing_key(&mut self, id: &str, candidate: &[u8]) -> StoreResult<Vec<u8>> {
        accounts::signing_key(&mut self.db(), id, candidate).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.insert_token")]
    async fn insert_token(&mut self, t: &TokenRecord) -> StoreResult<()> {
        tokens::insert(&mut self.db(), t).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.get_token")]
    async fn get_token(&mut self, account: Uuid, id: Uuid) -> StoreResult<Option<TokenRecord>> {
        tokens::get(&mut self.db(), account, id).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.get_token_for_auth")]
    async fn get_token_for_auth(
        &mut self,
        account: Uuid,
        id: Uuid,
    ) -> StoreResult<Option<(TokenRecord, bool)>> {
        tokens::get_for_auth(&mut self.db(), account, id).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.list_tokens")]
    async fn list_tokens(&mut self, account: Uuid) -> StoreResult<Vec<TokenRecord>> {
        tokens::list(&mut self.db(), account).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.revoke_token")]
    async fn revoke_token(&mut self, account: Uuid, id: Uuid) -> StoreResult<bool> {
        tokens::revoke(&mut self.db(), account, id).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.touch_token")]
    async fn touch_token(&mut self, account: Uuid, id: Uuid) -> StoreResult<()> {
        tokens::touch(&mut self.db(), account, id).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.insert_resource")]
    async fn insert_resource(
        &mut self,
        kind: ResourceKind,
        account: Uuid,
        new: &NewResource,
    ) -> StoreResult<ResourceRow> {
        let ix = indexed(kind, &new.doc);
        let doc = serde_json::to_string(&new.doc).map_err(|e| decode_error("doc", e))?;
        let now = self.now();
        let row = match kind {
            ResourceKind::User => {
                sqlx::query(AssertSqlSafe(format!(
                    "INSERT INTO users (account_id, id, user_name, user_name_ci, external_id, display_name,
                         display_name_ci, active, doc, source, idp_managed, created_at, last_modified,
                         primary_email_ci)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12, ?13)
                     RETURNING {USER_COLUMNS}"
                )))
                .bind(account.hyphenated())
                .bind(new.id.hyphenated())
                .bind(&ix.name)
                .bind(compare::key(&ix.name))
                .bind(&ix.external_id)
                .bind(&ix.display_name)
                .bind(ix.display_name.as_deref().map(compare::key))
                .bind(ix.active)
                .bind(doc)
                .bind(&new.source)
                .bind(new.idp_managed)
                .bind(now)
                .bind(&ix.primary_email_ci)
                .fetch_one(self.c())
                .await?
            }
            ResourceKind::Group => {
                // ON CONFLICT on the identifier only: a taken identifier returns no row and
                // leaves the transaction usable for the next candidate (R1); any other
                // violation (the displayName indexes) still fails the statement.
                let inserted = sqlx::query(AssertSqlSafe(format!(
                    "INSERT INTO groups (account_id, id, display_name, display_name_ci, external_id, doc,
                         source, idp_managed, identifier, created_at, last_modified)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)
                     ON CONFLICT (account_id, identifier) DO NOTHING
                     RETURNING {GROUP_COLUMNS}"
                )))
                .bind(account.hyphenated())
                .bind(new.id.hyphenated())
                .bind(&ix.name)
                .bind(compare::key(&ix.name))
                .bind(&ix.external_id)
                .bind(doc)
                .bind(&new.source)
                .bind(new.idp_managed)
                .bind(new.identifier.as_deref().unwrap_or(&ix.name))
                .bind(now)
                .fetch_optional(self.c())
                .await
                .map_err(|e| resources::display_name_key(e.into(), new.idp_managed))?;
                inserted.ok_or_else(|| StoreError::Unique(super::GROUP_IDENTIFIER_KEY.to_string()))?
            }
        };
        if kind == ResourceKind::User {
            self.write_user_values(account, new.id, &new.doc).await?;
        }
        resource_row(&row)
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.get_resource")]
    async fn get_resource(
        &mut self,
        kind: ResourceKind,
        account: Uuid,
        id: Uuid,
        // No row lock to take: a write transaction already holds the database's write lock
        // (see the module comment).
        _for_update: bool,
    ) -> StoreResult<Option<ResourceRow>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {} FROM {} WHERE account_id = ?1 AND id = ?2",
            columns(kind),
            table(kind)
        )))
        .bind(account.hyphenated())
        .bind(id.hyphenated())
        .fetch_optional(self.c())
        .await?;
        row.as_ref().map(resource_row).transpose()
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.update_resource")]
    async fn update_resource(
        &mut self,
        kind: ResourceKind,
        account: Uuid,
        id: Uuid,
        doc: &Map<String, Value>,
    ) -> StoreResult<ResourceRow> {
        let ix = indexed(kind, doc);
        let json = serde_json::to_string(doc).map_err(|e| decode_error("doc", e))?;
        let now = self.now();
        let row = match kind {
            ResourceKind::User => {
                sqlx::query(AssertSqlSafe(format!(
                    "UPDATE users SET user_name = ?3, user_name_ci = ?4, external_id = ?5, display_name = ?6,
                         display_name_ci = ?7, active = ?8, doc = ?9, last_modified = ?10, version = version + 1,
                         primary_email_ci = ?11
                     WHERE account_id = ?1 AND id = ?2
                     RETURNING {USER_COLUMNS}"
                )))
                .bind(account.hyphenated())
                .bind(id.hyphenated())
                .bind(&ix.name)
                .bind(compare::key(&ix.name))
                .bind(&ix.external_id)
                .bind(&ix.display_name)
                .bind(ix.display_name.as_deref().map(compare::key))
                .bind(ix.active)
                .bind(json)
                .bind(now)
                .bind(&ix.primary_email_ci)
                .fetch_one(self.c())
                .await?
            }
            ResourceKind::Group => {
                let updated = sqlx::query(AssertSqlSafe(format!(
                    "UPDATE groups SET display_name = ?3, display_name_ci = ?4, external_id = ?5, doc = ?6,
                         last_modified = ?7, version = version + 1
                     WHERE account_id = ?1 AND id = ?2
                     RETURNING {GROUP_COLUMNS}"
                )))
                .bind(account.hyphenated())
                .bind(id.hyphenated())
                .bind(&ix.name)
                .bind(compare::key(&ix.name))
                .bind(&ix.external_id)
                .bind(json)
                .bind(now)
                .fetch_one(self.c())
                .await;
                match updated {
                    Ok(row) => row,
                    Err(err) => {
                        // Which of the two displayName keys: the one of the group's side.
                        let managed: Option<bool> = sqlx::query_scalar(
                            "SELECT idp_managed FROM groups WHERE account_id = ?1 AND id = ?2",
                        )
                        .bind(account.hyphenated())
                        .bind(id.hyphenated())
                        .fetch_optional(self.c())
                        .await?;
                        return Err(resources::display_name_key(err.into(), managed.unwrap_or(false)));
                    }
                }
            }
        };
        if kind == ResourceKind::User {
            self.write_user_values(account, id, doc).await?;
        }
        resource_row(&row)
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.touch_resource")]
    async fn touch_resource(
        &mut self,
        kind: ResourceKind,
        account: Uuid,
        id: Uuid,
    ) -> StoreResult<Option<ResourceRow>> {
        let now = self.now();
        let row = sqlx::query(AssertSqlSafe(format!(
            "UPDATE {} SET last_modified = ?3, version = version + 1 WHERE account_id = ?1 AND id = ?2
             RETURNING {}",
            table(kind),
            columns(kind)
        )))
        .bind(account.hyphenated())
        .bind(id.hyphenated())
        .bind(now)
        .fetch_optional(self.c())
        .await?;
        row.as_ref().map(resource_row).transpose()
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.delete_resource")]
    async fn delete_resource(&mut self, kind: ResourceKind, account: Uuid, id: Uuid) -> StoreResult<bool> {
        // Memberships and user_values go with the row (ON DELETE CASCADE).
        let done = sqlx::query(AssertSqlSafe(format!(
            "DELETE FROM {} WHERE account_id = ?1 AND id = ?2",
            table(kind)
        )))
        .bind(account.hyphenated())
        .bind(id.hyphenated())
        .execute(self.c())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.missing_users")]
    async fn missing_users(&mut self, account: Uuid, ids: &[Uuid]) -> StoreResult<Vec<Uuid>> {
        memberships::missing_users(&mut self.db(), account, ids).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.add_members")]
    async fn add_members(
        &mut self,
        account: Uuid,
        group: Uuid,
        ids: &[Uuid],
        origin: Origin,
    ) -> StoreResult<Vec<Uuid>> {
        memberships::add(&mut self.db(), account, group, ids, origin).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.remove_members")]
    async fn remove_members(&mut self, account: Uuid, group: Uuid, ids: &[Uuid]) -> StoreResult<Vec<Uuid>> {
        memberships::remove(&mut self.db(), account, group, ids).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.retain_members")]
    async fn retain_members(&mut self, account: Uuid, group: Uuid, keep: &[Uuid]) -> StoreResult<Vec<Uuid>> {
        memberships::retain(&mut self.db(), account, group, keep).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.members_of")]
    async fn members_of(&mut self, account: Uuid, groups: &[Uuid]) -> StoreResult<Vec<MemberRef>> {
        memberships::members_of(&mut self.db(), account, groups).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.groups_of")]
    async fn groups_of(&mut self, account: Uuid, users: &[Uuid]) -> StoreResult<Vec<GroupRef>> {
        memberships::groups_of(&mut self.db(), account, users).await
    }

    // ---- Ownership rules R1–R10, admin API and audit -----------------------------------

    #[tracing::instrument(level = "debug", skip_all, name = "store.get_settings")]
    async fn get_settings(&mut self, account: Uuid) -> StoreResult<Option<AccountSettings>> {
        settings::get(&mut self.db(), account).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.update_settings")]
    async fn update_settings(&mut self, account: Uuid, st: &AccountSettings) -> StoreResult<()> {
        settings::update(&mut self.db(), account, st).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.set_scim_enabled")]
    async fn set_scim_enabled(&mut self, account: Uuid, enabled: bool) -> StoreResult<bool> {
        settings::set_scim_enabled(&mut self.db(), account, enabled).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.revoke_tokens_of_kind")]
    async fn revoke_tokens_of_kind(&mut self, account: Uuid, kind: &str) -> StoreResult<u64> {
        tokens::revoke_of_kind(&mut self.db(), account, kind).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.release_idp_managed")]
    async fn release_idp_managed(&mut self, kind: ResourceKind, account: Uuid) -> StoreResult<u64> {
        resources::release_idp_managed(&mut self.db(), kind, account).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.rename_idp_groups_named_like_native")]
    async fn rename_idp_groups_named_like_native(&mut self, account: Uuid) -> StoreResult<u64> {
        // Two statements whatever the number of groups: read the clashing ones, update them
        // all from one JSON array. The new names are made in Rust, so their lower-case column
        // is Rust's Unicode lower case like every other *_ci value.
        let clashing = sqlx::query(common::IDP_GROUPS_NAMED_LIKE_NATIVE)
            .bind(account.hyphenated())
            .fetch_all(self.c())
            .await?;
        let mut renames = common::Renames::default();
        for row in &clashing {
            renames.push(
                get_uuid(row, "id")?,
                row.try_get("display_name")?,
                row.try_get("identifier")?,
            );
        }
        if renames.ids.is_empty() {
            return Ok(0);
        }
        let rows: Vec<Value> = (0..renames.ids.len())
            .map(|i| json!({"id": renames.ids[i], "name": renames.names[i], "name_ci": renames.names_ci[i]}))
            .collect();
        let now = self.now();
        let done = sqlx::query(RENAME_GROUPS)
            .bind(account.hyphenated())
            .bind(Value::Array(rows).to_string())
            .bind(now)
            .execute(self.c())
            .await
            .map_err(|e| resources::display_name_key(e.into(), true))?;
        Ok(done.rows_affected())
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.find_users_by_name_or_email")]
    async fn find_users_by_name_or_email(
        &mut self,
        account: Uuid,
        keys: &[String],
    ) -> StoreResult<Vec<ResourceRow>> {
        resources::users_by_name_or_email(&mut self.db(), account, keys).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.find_groups_by_display_name")]
    async fn find_groups_by_display_name(
        &mut self,
        account: Uuid,
        name: &str,
    ) -> StoreResult<Vec<ResourceRow>> {
        resources::groups_by_display_name(&mut self.db(), account, name).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.claim_resource")]
    async fn claim_resource(
        &mut self,
        kind: ResourceKind,
        account: Uuid,
        id: Uuid,
        source: &str,
    ) -> StoreResult<bool> {
        resources::claim(&mut self.db(), kind, account, id, source).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.release_user")]
    async fn release_user(&mut self, account: Uuid, id: Uuid) -> StoreResult<bool> {
        resources::release_user(&mut self.db(), account, id).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.identifiers_with_base")]
    async fn identifiers_with_base(&mut self, account: Uuid, base: &str) -> StoreResult<Vec<String>> {
        // `LIKE 'base\_%'` would ignore ASCII case here and search no index: the identifiers
        // starting with `base_` are exactly the range [`base_`, `base``) (`_` + 1 is a
        // backquote), code point order being SQLite's text order.
        let low = format!("{base}_");
        let high = format!("{base}`");
        let rows = sqlx::query_scalar(IDENTIFIERS_WITH_BASE)
            .bind(account.hyphenated())
            .bind(base)
            .bind(low)
            .bind(high)
            .fetch_all(self.c())
            .await?;
        Ok(rows)
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.in_idp_managed_groups")]
    async fn in_idp_managed_groups(&mut self, account: Uuid, users: &[Uuid]) -> StoreResult<Vec<Uuid>> {
        resources::in_idp_managed_groups(&mut self.db(), account, users).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.list_resources_admin")]
    async fn list_resources_admin(
        &mut self,
        kind: ResourceKind,
        account: Uuid,
        query: &ListQuery,
        extra: &AdminFilter,
    ) -> StoreResult<Page<ResourceRow>> {
        self.list_with(kind, account, query, extra).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.insert_role_binding")]
    async fn insert_role_binding(&mut self, account: Uuid, b: &NewRoleBinding) -> StoreResult<RoleBinding> {
        role_bindings::insert(&mut self.db(), account, b).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.delete_role_binding")]
    async fn delete_role_binding(
        &mut self,
        account: Uuid,
        group: Uuid,
        id: Uuid,
    ) -> StoreResult<Option<RoleBinding>> {
        role_bindings::delete(&mut self.db(), account, group, id).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.list_role_bindings")]
    async fn list_role_bindings(
        &mut self,
        account: Uuid,
        group: Option<Uuid>,
    ) -> StoreResult<Vec<RoleBinding>> {
        role_bindings::list(&mut self.db(), account, group).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.all_resources")]
    async fn all_resources(&mut self, kind: ResourceKind, account: Uuid) -> StoreResult<Vec<ResourceRow>> {
        resources::all(&mut self.db(), kind, account).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.all_memberships")]
    async fn all_memberships(&mut self, account: Uuid) -> StoreResult<Vec<Membership>> {
        resources::all_memberships(&mut self.db(), account).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.insert_audit")]
    async fn insert_audit(&mut self, account: Uuid, e: &AuditRecord) -> StoreResult<()> {
        audit::insert(&mut self.db(), account, e).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.list_audit")]
    async fn list_audit(&mut self, account: Uuid, q: &AuditQuery) -> StoreResult<Vec<AuditRecord>> {
        audit::list(&mut self.db(), account, q).await
    }
}

// The statements of the ownership rules that SQLite spells its own way (arrays as JSON, ranges
// for LIKE), named so the plan tests below can check them. A flag is compared `= TRUE`: a bare
// `idp_managed` is a truth test to SQLite's planner, which then reads every entry of the
// account in the index instead of the range of one value.

/// `?2`: a JSON array of `{id, name, name_ci}`; `?3`: the time.
const RENAME_GROUPS: &str = "UPDATE groups
     SET display_name = x.name, display_name_ci = x.name_ci,
         doc = json_set(groups.doc, '$.displayName', x.name),
         last_modified = ?3, version = groups.version + 1
     FROM (SELECT json_extract(value, '$.id') AS id, json_extract(value, '$.name') AS name,
                  json_extract(value, '$.name_ci') AS name_ci
           FROM json_each(?2)) AS x
     WHERE groups.account_id = ?1 AND groups.id = x.id";

/// `?2` the base, `?3`/`?4` the range of identifiers starting with `base_`.
const IDENTIFIERS_WITH_BASE: &str = "SELECT identifier FROM groups
     WHERE account_id = ?1 AND (identifier = ?2 OR (identifier >= ?3 AND identifier < ?4))";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::filter::parse_filter;
    use crate::scim::path::parse_attr_path;
    use crate::store::{AuditQuery, KeysetPage, Sort};

    /// A migrated store in a directory of its own, with one account of 300 users (each with a
    /// work email and a familyName) in 3 groups, beside a second account.
    async fn seeded() -> (SqliteStore, Uuid, tempdir::Dir) {
        let dir = tempdir::Dir::new();
        let store = SqliteStore::connect(
            &format!("sqlite://{}/t.db", dir.0.display()),
            &StoreOptions::with_max(4),
        )
        .await
        .unwrap();
        store.migrate().await.unwrap();
        let mut account = Uuid::nil();
        for n in 0..2 {
            let mut tx = store.begin().await.unwrap();
            account = tx
                .create_account(Uuid::now_v7(), &format!("a{n}"))
                .await
                .unwrap()
                .id;
            let mut users = Vec::new();
            for i in 0..300 {
                let doc = json!({"userName": format!("user{i}@example.com"), "externalId": format!("x{i}"),
                                 "displayName": format!("User {i}"), "active": true,
                                 "name": {"familyName": format!("Family{i}")},
                                 "emails": [{"value": format!("user{i}@example.com"), "type": "work"}]});
                let Value::Object(doc) = doc else { unreachable!() };
                let new = NewResource {
                    id: Uuid::now_v7(),
                    doc,
                    source: "okta".into(),
                    idp_managed: true,
                    identifier: None,
                };
                users.push(
                    tx.insert_resource(ResourceKind::User, account, &new)
                        .await
                        .unwrap()
                        .id,
                );
            }
            for g in 0..3 {
                let Value::Object(doc) = json!({"displayName": format!("Group {g}")}) else {
                    unreachable!()
                };
                let new = NewResource {
                    id: Uuid::now_v7(),
                    doc,
                    source: "okta".into(),
                    idp_managed: true,
                    identifier: Some(format!("Group_{g}")),
                };
                let group = tx
                    .insert_resource(ResourceKind::Group, account, &new)
                    .await
                    .unwrap()
                    .id;
                tx.add_members(account, group, &users[g * 100..], Origin::Idp)
                    .await
                    .unwrap();
            }
            tx.commit().await.unwrap();
        }
        (store, account, dir)
    }

    fn query(filter: Option<&str>, sort: Option<&str>, after: Option<Keyset>) -> ListQuery {
        ListQuery {
            filter: filter.map(|f| parse_filter(f).unwrap()),
            sort: sort.map(|s| Sort {
                by: parse_attr_path(s).unwrap(),
                descending: false,
            }),
            start_index: 1,
            count: 10,
            keyset: after.map(|a| KeysetPage { after: Some(a) }),
        }
    }

    /// Every list query an IdP or a pager sends is an index search: no step scans a table
    /// (`SCAN t`), and nothing is sorted (`TEMP B-TREE`) except the rows a range matched
    /// (`sw`), which must then be put in id order, as on Postgres.
    #[tokio::test]
    async fn list_queries_search_indexes() {
        let (store, account, _dir) = seeded().await;
        let id = Uuid::now_v7();
        let cases: &[(ResourceKind, ListQuery, &[&str])] = &[
            (
                ResourceKind::User,
                query(None, None, None),
                &["sqlite_autoindex_users_1 (account_id=?)"],
            ),
            (
                ResourceKind::User,
                query(Some(r#"userName eq "USER7@example.com""#), None, None),
                &["users_user_name_ci_key (account_id=? AND user_name_ci=?)"],
            ),
            (
                ResourceKind::User,
                query(Some(r#"userName sw "user1""#), None, None),
                &["users_user_name_ci_key (account_id=? AND user_name_ci>? AND user_name_ci<?)"],
            ),
            (
                ResourceKind::User,
                query(Some(r#"externalId eq "x7""#), None, None),
                &["users_external_id_idx (account_id=? AND external_id=?)"],
            ),
            (
                ResourceKind::User,
                query(Some(r#"externalId sw "x7""#), None, None),
                &["users_external_id_idx (account_id=? AND external_id>? AND external_id<?)"],
            ),
            (
                ResourceKind::User,
                query(Some(r#"displayName eq "user 7""#), None, None),
                &["users_display_name_ci_idx (account_id=? AND display_name_ci=?)"],
            ),
            (
                ResourceKind::User,
                query(Some(r#"emails.value eq "user7@example.com""#), None, None),
                &[
                    "user_values_value_ci_pattern_idx (account_id=? AND attr=? AND value_ci=?)",
                    "sqlite_autoindex_users_1 (account_id=? AND id=?)",
                ],
            ),
            (
                ResourceKind::User,
                query(
                    Some(r#"emails[type eq "work"].value eq "user7@example.com""#),
                    None,
                    None,
                ),
                &["user_values_value_ci_pattern_idx (account_id=? AND attr=? AND value_ci=?)"],
            ),
            (
                ResourceKind::User,
                query(Some(r#"name.familyName sw "family1""#), None, None),
                &["user_values_value_ci_pattern_idx (account_id=? AND attr=? AND value_ci>? AND value_ci<?)"],
            ),
            (
                ResourceKind::User,
                query(Some(&format!(r#"groups.value eq "{id}""#)), None, None),
                &["PRIMARY KEY (account_id=? AND group_id=?)"],
            ),
            (
                ResourceKind::User,
                query(
                    Some(r#"userName eq "user7@example.com" and active eq true"#),
                    None,
                    None,
                ),
                &["users_user_name_ci_key (account_id=? AND user_name_ci=?)"],
            ),
            (
                ResourceKind::User,
                query(None, Some("userName"), None),
                &["users_user_name_ci_key (account_id=?)"],
            ),
            (
                ResourceKind::User,
                query(None, None, Some(Keyset { key: None, id })),
                &["sqlite_autoindex_users_1 (account_id=? AND id>?)"],
            ),
            (
                ResourceKind::Group,
                query(Some(r#"displayName eq "group 1""#), None, None),
                &["groups_display_name_ci_idx (account_id=? AND display_name_ci=?)"],
            ),
            (
                ResourceKind::Group,
                query(Some(&format!(r#"members.value eq "{id}""#)), None, None),
                &["group_members_member_idx (account_id=? AND member_id=?)"],
            ),
            (
                ResourceKind::Group,
                query(Some(r#"externalId eq "g""#), None, None),
                &["groups_external_id_idx (account_id=? AND external_id=?)"],
            ),
        ];
        for (kind, q, expected) in cases {
            let plan = store.explain_list(*kind, account, q).await.unwrap();
            let what = format!("{:?} {:?}:\n{plan}", q.filter, q.sort.as_ref().map(|s| &s.by));
            for step in *expected {
                assert!(plan.contains(step), "expected {step:?} in {what}");
            }
            assert!(!plan.contains("SCAN"), "a scan in {what}");
            let ranged = matches!(&q.filter, Some(crate::scim::filter::Filter::Compare { op, .. })
                if *op == crate::scim::filter::CompareOp::Sw);
            assert!(ranged || !plan.contains("TEMP B-TREE"), "a sort in {what}");
        }

        // Every connection of the pool plans with the statistics, including the first one,
        // opened before the migrations created the indexes.
        let q = query(
            Some(r#"emails[type eq "work"].value eq "user7@example.com""#),
            None,
            None,
        );
        let sql = list_sql(Dialect::Sqlite, ResourceKind::User, &q, &AdminFilter::default()).unwrap();
        let mut conns = Vec::new();
        for _ in 0..4 {
            conns.push(store.pool.acquire().await.unwrap());
        }
        for conn in &mut conns {
            let rows = bind_params(
                sqlx::query(AssertSqlSafe(format!("EXPLAIN QUERY PLAN {}", sql.page)))
                    .bind(account.hyphenated()),
                &sql.params,
            )
            .bind(10)
            .bind(0)
            .fetch_all(&mut **conn)
            .await
            .unwrap();
            let plan: Vec<String> = rows.iter().map(|r| r.get::<String, _>("detail")).collect();
            assert!(
                plan.iter()
                    .any(|l| l.contains("user_values_value_ci_pattern_idx")),
                "{plan:?}"
            );
        }
        drop(conns);
        store.close().await;
    }

    /// The membership statements address rows through the keys, whatever the group's size.
    #[tokio::test]
    async fn membership_statements_search_keys() {
        let (store, account, _dir) = seeded().await;
        let a = account.hyphenated();
        let ids = "'[\"01000000-0000-7000-8000-000000000000\"]'";
        let statements = [
            format!(
                "DELETE FROM group_members WHERE account_id = '{a}' AND group_id = 'g'
                 AND member_id IN (SELECT value FROM json_each({ids}))"
            ),
            format!(
                "SELECT m.group_id FROM group_members m JOIN users u ON u.account_id = m.account_id
                 AND u.id = m.member_id WHERE m.account_id = '{a}' AND m.group_id IN (SELECT value FROM json_each({ids}))"
            ),
            format!(
                "SELECT m.member_id FROM group_members m JOIN groups g ON g.account_id = m.account_id
                 AND g.id = m.group_id WHERE m.account_id = '{a}' AND m.member_id IN (SELECT value FROM json_each({ids}))"
            ),
            format!(
                "SELECT x.value FROM json_each({ids}) AS x
                 WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.account_id = '{a}' AND u.id = x.value)"
            ),
        ];
        for sql in statements {
            let rows = sqlx::query(AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}")))
                .fetch_all(&store.pool)
                .await
                .unwrap();
            let plan: Vec<String> = rows.iter().map(|r| r.get::<String, _>("detail")).collect();
            let plan = plan.join("\n");
            // json_each is a virtual table: scanning it is reading the bound list.
            let scans: Vec<&str> = plan
                .lines()
                .filter(|l| l.contains("SCAN") && !l.contains("VIRTUAL TABLE"))
                .collect();
            assert!(scans.is_empty(), "{sql}\n{plan}");
        }
        store.close().await;
    }

    /// `EXPLAIN QUERY PLAN` of `sql` with `binds` (all bound as text), one step a line.
    async fn plan_of(store: &SqliteStore, sql: &str, binds: &[&str]) -> String {
        let mut query = sqlx::query(AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}")));
        for b in binds {
            query = query.bind(b.to_string());
        }
        let rows = query.fetch_all(&store.pool).await.unwrap();
        rows.iter()
            .map(|r| r.get::<String, _>("detail"))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The lookups of the ownership rules, the admin API's lists and the audit log search
    /// indexes: no step scans a table (scanning json_each is reading the bound list), and
    /// nothing is sorted where an index gives the order.
    #[tokio::test]
    async fn ownership_statements_search_indexes() {
        let (store, account, _dir) = seeded().await;
        let a = account.hyphenated().to_string();
        let id = Uuid::now_v7().hyphenated().to_string();
        let ids = format!("[\"{id}\"]");
        let keys = "[\"user7@example.com\"]";
        let now = time_text(now_micros());
        // (statement, binds, steps expected (any one of the alternatives), may it sort?)
        type Case<'a> = (String, Vec<&'a str>, Vec<&'a [&'a str]>, bool);
        let cases: Vec<Case> = vec![
            (
                resources::users_by_name_or_email_sql(Dialect::Sqlite),
                vec![&a, keys],
                vec![
                    &["users_user_name_ci_key (account_id=? AND user_name_ci=?)"],
                    &["users_primary_email_ci_idx (account_id=? AND primary_email_ci=?)"],
                ],
                true,
            ),
            (
                common::groups_by_display_name(),
                vec![&a, "group 1"],
                vec![&["groups_display_name_ci_idx (account_id=? AND display_name_ci=?)"]],
                false,
            ),
            (
                IDENTIFIERS_WITH_BASE.to_string(),
                vec![&a, "Group_1", "Group_1_", "Group_1`"],
                vec![
                    &[
                        "groups_identifier_key (account_id=? AND identifier=?)",
                        "groups_identifier_pattern_idx (account_id=? AND identifier=?)",
                    ],
                    &[
                        "groups_identifier_key (account_id=? AND identifier>? AND identifier<?)",
                        "groups_identifier_pattern_idx (account_id=? AND identifier>? AND identifier<?)",
                    ],
                ],
                false,
            ),
            (
                resources::in_idp_managed_groups_sql(Dialect::Sqlite),
                vec![&a, &ids],
                vec![
                    &["group_members_member_idx (account_id=? AND member_id=?)"],
                    &["sqlite_autoindex_groups_1 (account_id=? AND id=?)"],
                ],
                true,
            ),
            (
                resources::release_idp_managed_sql(ResourceKind::User),
                vec![&a, &now],
                vec![&["users_idp_managed_idx (account_id=? AND idp_managed=?)"]],
                false,
            ),
            (
                resources::release_idp_managed_sql(ResourceKind::Group),
                vec![&a, &now],
                vec![&["groups_idp_managed_idx (account_id=? AND idp_managed=?)"]],
                false,
            ),
            (
                common::IDP_GROUPS_NAMED_LIKE_NATIVE.to_string(),
                vec![&a],
                vec![
                    &["groups_idp_managed_idx (account_id=? AND idp_managed=?)"],
                    &[
                        "groups_native_display_name_key (account_id=? AND display_name_ci=?)",
                        "groups_display_name_ci_idx (account_id=? AND display_name_ci=?)",
                    ],
                ],
                false,
            ),
            (
                RENAME_GROUPS.to_string(),
                vec![&a, &ids, &now],
                vec![&["sqlite_autoindex_groups_1 (account_id=? AND id=?)"]],
                false,
            ),
            (
                common::claim_resource(ResourceKind::User),
                vec![&a, &id, "okta"],
                vec![&["sqlite_autoindex_users_1 (account_id=? AND id=?)"]],
                false,
            ),
            (
                role_bindings::list_sql(true),
                vec![&a, &id],
                vec![
                    &["role_bindings_key (account_id=? AND group_id=?)"],
                    &["sqlite_autoindex_groups_1 (account_id=? AND id=?)"],
                ],
                true,
            ),
            (
                role_bindings::list_sql(false),
                vec![&a],
                // Either the account's bindings, or its groups in identifier order and the
                // bindings of each.
                vec![&[
                    "USING PRIMARY KEY (account_id=?)",
                    "role_bindings_key (account_id=?)",
                    "groups_identifier_pattern_idx (account_id=?)",
                    "groups_identifier_key (account_id=?)",
                ]],
                true,
            ),
            (
                role_bindings::delete_sql(),
                vec![&a, &id, &id],
                vec![&["USING PRIMARY KEY (account_id=? AND id=?)"]],
                false,
            ),
            (
                common::ALL_MEMBERSHIPS.to_string(),
                vec![&a],
                vec![&["USING PRIMARY KEY (account_id=?)"]],
                false,
            ),
            (
                common::all_resources(ResourceKind::User),
                vec![&a],
                vec![&["sqlite_autoindex_users_1 (account_id=?)"]],
                false,
            ),
        ];
        let audit = |q: AuditQuery| {
            let (sql, params) = common::list_audit(&q);
            let binds: Vec<String> = params
                .iter()
                .map(|p| match p {
                    SqlParam::Text(t) => t.clone(),
                    SqlParam::Uuid(u) => u.hyphenated().to_string(),
                    other => panic!("{other:?}"),
                })
                .collect();
            (sql, binds)
        };
        let audits = [
            (
                audit(AuditQuery {
                    limit: 10,
                    ..Default::default()
                }),
                "sqlite_autoindex_audit_events_1 (account_id=?)",
            ),
            (
                audit(AuditQuery {
                    before: Some(Uuid::now_v7()),
                    limit: 10,
                    ..Default::default()
                }),
                "sqlite_autoindex_audit_events_1 (account_id=? AND id<?)",
            ),
            (
                audit(AuditQuery {
                    resource_type: Some("User".into()),
                    resource_id: Some(id.clone()),
                    limit: 10,
                    ..Default::default()
                }),
                "audit_events_resource_idx (account_id=? AND resource_type=? AND resource_id=?)",
            ),
        ];
        let mut cases = cases;
        for ((sql, binds), step) in &audits {
            let mut all: Vec<&str> = vec![&a];
            all.extend(binds.iter().map(String::as_str));
            all.push("10");
            cases.push((sql.clone(), all, vec![std::slice::from_ref(step)], false));
        }
        for (sql, binds, expected, may_sort) in &cases {
            let plan = plan_of(&store, sql, binds).await;
            for alternatives in expected {
                assert!(
                    alternatives.iter().any(|step| plan.contains(step)),
                    "expected one of {alternatives:?} in\n{sql}\n{plan}"
                );
            }
            let scans: Vec<&str> = plan
                .lines()
                .filter(|l| l.contains("SCAN") && !l.contains("VIRTUAL TABLE"))
                .collect();
            assert!(scans.is_empty(), "a scan in\n{sql}\n{plan}");
            assert!(
                *may_sort || !plan.contains("TEMP B-TREE"),
                "a sort in\n{sql}\n{plan}"
            );
        }

        // The admin API's lists (R9) by source and by IdP management: index ranges in id order.
        for (kind, extra, step) in [
            (
                ResourceKind::User,
                AdminFilter {
                    source: Some("okta".into()),
                    idp_managed: None,
                    idp_groups_only: false,
                },
                "users_source_idx (account_id=? AND source=?)",
            ),
            (
                ResourceKind::User,
                AdminFilter {
                    source: None,
                    idp_managed: Some(false),
                    idp_groups_only: false,
                },
                "users_idp_managed_idx (account_id=? AND idp_managed=?)",
            ),
            (
                ResourceKind::Group,
                AdminFilter {
                    source: Some("okta".into()),
                    idp_managed: None,
                    idp_groups_only: false,
                },
                "groups_source_idx (account_id=? AND source=?)",
            ),
            (
                ResourceKind::Group,
                AdminFilter {
                    source: None,
                    idp_managed: Some(true),
                    idp_groups_only: false,
                },
                "groups_idp_managed_idx (account_id=? AND idp_managed=?)",
            ),
        ] {
            let plan = store
                .explain(kind, account, &query(None, None, None), &extra)
                .await
                .unwrap();
            assert!(plan.contains(step), "expected {step:?} in\n{plan}");
            assert!(!plan.contains("SCAN") && !plan.contains("TEMP B-TREE"), "{plan}");
        }
        // SCIM under keep_both: `groups.value` counts IdP-managed groups only, an index probe of
        // the group (by account, flag and id) beside the membership's primary key.
        let plan = store
            .explain(
                ResourceKind::User,
                account,
                &query(
                    Some(&format!(r#"groups.value eq "{}""#, Uuid::now_v7())),
                    None,
                    None,
                ),
                &AdminFilter {
                    idp_groups_only: true,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        for step in [
            "PRIMARY KEY (account_id=? AND group_id=?)",
            "SEARCH g USING COVERING INDEX groups_idp_managed_idx (account_id=? AND idp_managed=? AND id=?)",
        ] {
            assert!(plan.contains(step), "expected {step:?} in\n{plan}");
        }
        assert!(!plan.contains("SCAN") && !plan.contains("TEMP B-TREE"), "{plan}");
        store.close().await;
    }

    /// A displayName taken on the group's own side is reported under that side's key, as
    /// Postgres names it (SQLite names the columns, which both keys share).
    #[tokio::test]
    async fn display_name_violations_name_the_key_of_the_groups_side() {
        let dir = tempdir::Dir::new();
        let store = SqliteStore::connect(
            &format!("sqlite://{}/t.db", dir.0.display()),
            &StoreOptions::with_max(1),
        )
        .await
        .unwrap();
        store.migrate().await.unwrap();
        let mut tx = store.begin().await.unwrap();
        let account = tx.create_account(Uuid::now_v7(), "a").await.unwrap().id;
        let group = |name: &str, identifier: &str, idp_managed: bool| {
            let Value::Object(doc) = json!({"displayName": name}) else {
                unreachable!()
            };
            NewResource {
                id: Uuid::now_v7(),
                doc,
                source: "okta".into(),
                idp_managed,
                identifier: Some(identifier.into()),
            }
        };
        for managed in [true, false] {
            tx.insert_resource(
                ResourceKind::Group,
                account,
                &group("Sales", &format!("s{managed}"), managed),
            )
            .await
            .unwrap();
        }
        for (managed, key) in [
            (true, "groups_idp_display_name_key"),
            (false, "groups_native_display_name_key"),
        ] {
            let err = tx
                .insert_resource(ResourceKind::Group, account, &group("Sales", "other", managed))
                .await
                .unwrap_err();
            assert!(matches!(&err, StoreError::Unique(name) if name == key), "{err:?}");
        }
        // A taken identifier leaves the transaction usable for the next candidate (R1).
        let err = tx
            .insert_resource(ResourceKind::Group, account, &group("Other", "strue", true))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, StoreError::Unique(name) if name == super::super::GROUP_IDENTIFIER_KEY),
            "{err:?}"
        );
        let native = tx
            .insert_resource(ResourceKind::Group, account, &group("Other", "other", false))
            .await
            .unwrap();
        // Renaming a native group onto another native group's name: the native key.
        let mut doc = native.doc.clone();
        doc.insert("displayName".into(), json!("Sales"));
        let err = tx
            .update_resource(ResourceKind::Group, account, native.id, &doc)
            .await
            .unwrap_err();
        assert!(
            matches!(&err, StoreError::Unique(name) if name == "groups_native_display_name_key"),
            "{err:?}"
        );
        tx.commit().await.unwrap();
        store.close().await;
    }

    /// Migration 0003 on a database that already holds users and groups (an upgrade): group
    /// identifiers are made from the names with suffixes in creation order, and primary emails
    /// are read from user_values, as Postgres's 0003 does.
    #[tokio::test]
    async fn migration_0003_backfills_existing_rows() {
        let dir = tempdir::Dir::new();
        let url = format!("sqlite://{}/t.db", dir.0.display());
        let options = SqliteConnectOptions::from_str(&url)
            .unwrap()
            .create_if_missing(true)
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .unwrap();
        let before_0003: Vec<_> = MIGRATOR.iter().filter(|m| m.version < 3).cloned().collect();
        sqlx::migrate::Migrator::with_migrations(before_0003)
            .run(&pool)
            .await
            .unwrap();
        let (a, b) = (Uuid::now_v7().to_string(), Uuid::now_v7().to_string());
        // Ids in creation order, so `ORDER BY id` lists them as named here.
        let ids: Vec<String> = (0..8).map(|_| Uuid::now_v7().to_string()).collect();
        let (g, u) = (&ids[..5], &ids[5..]);
        let exec = |sql: String| {
            let pool = pool.clone();
            async move { sqlx::query(AssertSqlSafe(sql)).execute(&pool).await.unwrap() }
        };
        for account in [&a, &b] {
            exec(format!(
                "INSERT INTO accounts (id, name) VALUES ('{account}', 'x')"
            ))
            .await;
        }
        // Groups in creation order: three share the base example_group; a fourth was literally
        // named like the second's suffixed identifier; the other account has its own.
        let groups = [
            (&a, &g[0], "example-group", "2026-01-01T00:00:01.000000Z"),
            (&a, &g[1], "example group", "2026-01-01T00:00:02.000000Z"),
            (&a, &g[2], "example.group", "2026-01-01T00:00:03.000000Z"),
            (&a, &g[3], "example_group_2", "2026-01-01T00:00:00.000000Z"),
            (&b, &g[4], "example group", "2026-01-01T00:00:09.000000Z"),
        ];
        for (account, id, name, at) in groups {
            exec(format!(
                "INSERT INTO groups (account_id, id, display_name, display_name_ci, doc, source, idp_managed,
                     created_at, last_modified)
                 VALUES ('{account}', '{id}', '{name}', lower('{name}'), '{{}}', 'okta', 1, '{at}', '{at}')"
            ))
            .await;
        }
        // u[0]: the second email is primary; u[1]: none is, the first non-empty one counts;
        // u[2]: no email at all.
        let users = [
            (
                &u[0],
                "one",
                r#"{"emails":[{"value":"Home@X.org"},{"value":"ÜNÏ@X.org","primary":true}]}"#,
            ),
            (
                &u[1],
                "two",
                r#"{"emails":[{"value":""},{"value":"Second@X.org"}]}"#,
            ),
            (&u[2], "three", "{}"),
        ];
        for (id, name, doc) in users {
            exec(format!(
                "INSERT INTO users (account_id, id, user_name, user_name_ci, active, doc, source, idp_managed,
                     created_at, last_modified)
                 VALUES ('{a}', '{id}', '{name}', '{name}', 1, '{doc}', 'okta', 1, 't', 't')"
            ))
            .await;
        }
        for (user, ord, value, value_ci, primary) in [
            (&u[0], 0, "Home@X.org", "home@x.org", 0),
            (&u[0], 1, "ÜNÏ@X.org", "ünï@x.org", 1),
            (&u[1], 0, "", "", 0),
            (&u[1], 1, "Second@X.org", "second@x.org", 0),
        ] {
            exec(format!(
                "INSERT INTO user_values (account_id, user_id, attr, ord, value, value_ci, is_primary)
                 VALUES ('{a}', '{user}', 'emails', {ord}, '{value}', '{value_ci}', {primary})"
            ))
            .await;
        }
        pool.close().await;
        // As an operator upgrading does: the file an older scimd made is readable by others.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let file = dir.0.join("t.db");
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        }

        let store = SqliteStore::connect(&url, &StoreOptions::with_max(1))
            .await
            .unwrap();
        store.migrate().await.unwrap();
        let identifiers: Vec<(String, String)> =
            sqlx::query_as("SELECT id, identifier FROM groups ORDER BY id")
                .fetch_all(&store.pool)
                .await
                .unwrap();
        let named = |i: usize, identifier: &str| (g[i].clone(), identifier.to_string());
        assert_eq!(identifiers[0], named(0, "example_group"));
        // Its suffixed identifier meets g[3]'s name, created earlier: made unique with the
        // start of its id.
        let suffixed = format!("example_group_2_{}", &g[1].replace('-', "")[..8]);
        assert_eq!(identifiers[1], named(1, &suffixed));
        assert_eq!(identifiers[2], named(2, "example_group_3"));
        assert_eq!(identifiers[3], named(3, "example_group_2"));
        assert_eq!(identifiers[4], named(4, "example_group"));
        let emails: Vec<(String, Option<String>)> =
            sqlx::query_as("SELECT id, primary_email_ci FROM users ORDER BY id")
                .fetch_all(&store.pool)
                .await
                .unwrap();
        assert_eq!(
            emails,
            [
                (u[0].clone(), Some("ünï@x.org".to_string())),
                (u[1].clone(), Some("second@x.org".to_string())),
                (u[2].clone(), None)
            ]
        );
        // The identifier is required from now on, as Postgres's NOT NULL makes it.
        let err = sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO groups (account_id, id, display_name, display_name_ci, doc, source, idp_managed,
                 created_at, last_modified)
             VALUES ('{a}', '{}', 'n', 'n', '{{}}', 'okta', 1, 't', 't')",
            Uuid::now_v7()
        )))
        .execute(&store.pool)
        .await
        .unwrap_err();
        assert!(err.to_string().contains("groups.identifier"), "{err}");
        let err = sqlx::query("UPDATE groups SET identifier = NULL WHERE id = ?1")
            .bind(&g[0])
            .execute(&store.pool)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("groups.identifier"), "{err}");
        store.close().await;
    }

    #[tokio::test]
    async fn every_unique_key_has_its_postgres_name() {
        let dir = tempdir::Dir::new();
        let store = SqliteStore::connect(
            &format!("sqlite://{}/t.db", dir.0.display()),
            &StoreOptions::with_max(1),
        )
        .await
        .unwrap();
        store.migrate().await.unwrap();
        let keys = sqlx::query(
            "SELECT group_concat(t.name || '.' || c.name, ', ') AS columns
             FROM sqlite_schema t, pragma_index_list(t.name) i, pragma_index_info(i.name) c
             WHERE t.type = 'table' AND t.name NOT LIKE '\\_%' ESCAPE '\\' AND t.name NOT LIKE 'sqlite%' AND i.\"unique\"
             GROUP BY t.name, i.name",
        )
        .fetch_all(&store.pool)
        .await
        .unwrap();
        assert!(keys.len() >= UNIQUE_KEYS.len(), "{}", keys.len());
        for key in keys {
            let columns: String = key.get("columns");
            let message = format!("UNIQUE constraint failed: {columns}");
            let name = constraint_name(&message).unwrap();
            assert_ne!(name, columns, "add {columns:?} to UNIQUE_KEYS");
        }
        // And a real violation reports the name.
        let mut tx = store.begin().await.unwrap();
        let id = Uuid::now_v7();
        tx.create_account(id, "x").await.unwrap();
        let err = tx.create_account(id, "y").await.unwrap_err();
        assert!(
            matches!(&err, StoreError::Unique(name) if name == "accounts_pkey"),
            "{err:?}"
        );
        drop(tx);
        store.close().await;
    }

    #[tokio::test]
    async fn every_index_has_planner_stats() {
        let dir = tempdir::Dir::new();
        let store = SqliteStore::connect(
            &format!("sqlite://{}/t.db", dir.0.display()),
            &StoreOptions::with_max(1),
        )
        .await
        .unwrap();
        store.migrate().await.unwrap();
        // Every index of our tables, with its number of declared columns.
        let indexes = sqlx::query(
            "SELECT t.name AS tbl, i.name AS idx, (SELECT count(*) FROM pragma_index_info(i.name)) AS columns
             FROM sqlite_schema t, pragma_index_list(t.name) i
             WHERE t.type = 'table' AND t.name NOT LIKE '\\_%' ESCAPE '\\' AND t.name NOT LIKE 'sqlite%'",
        )
        .fetch_all(&store.pool)
        .await
        .unwrap();
        let mut seen = Vec::new();
        for row in &indexes {
            let (table, index, columns): (String, String, i64) =
                (row.get("tbl"), row.get("idx"), row.get("columns"));
            // A WITHOUT ROWID table's key is listed under an autoindex name, stats under the table's.
            let stats = PLANNER_STATS.iter().find(|(t, i, _)| {
                *t == table && (*i == index || (*i == table && index.starts_with("sqlite_autoindex")))
            });
            let Some((_, name, stat)) = stats else {
                panic!("add the index {index} of {table} to PLANNER_STATS");
            };
            assert_eq!(
                stat.split(' ').count() as i64,
                columns + 1,
                "{index}: one number per column, and the rows"
            );
            seen.push(*name);
        }
        for (_, index, _) in PLANNER_STATS {
            assert!(
                seen.contains(index),
                "PLANNER_STATS names {index}, which no longer exists"
            );
        }
        let loaded: i64 = sqlx::query_scalar("SELECT count(*) FROM sqlite_stat1")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        assert_eq!(loaded, PLANNER_STATS.len() as i64);
        store.close().await;
    }

    #[test]
    fn times_are_stored_fixed_width_so_text_order_is_time_order() {
        let early = DateTime::parse_from_rfc3339("2026-01-02T03:04:05Z")
            .unwrap()
            .to_utc();
        let later = DateTime::parse_from_rfc3339("2026-01-02T03:04:05.000001Z")
            .unwrap()
            .to_utc();
        assert_eq!(time_text(early), "2026-01-02T03:04:05.000000Z");
        assert_eq!(time_text(later), "2026-01-02T03:04:05.000001Z");
        assert!(time_text(early) < time_text(later));
        assert_eq!(parse_time("t", &time_text(later)).unwrap(), later);
        let now = now_micros();
        assert_eq!(parse_time("t", &time_text(now)).unwrap(), now);
    }

    /// A directory removed when dropped (no crate for it: three lines).
    mod tempdir {
        pub struct Dir(pub std::path::PathBuf);
        impl Dir {
            pub fn new() -> Dir {
                let dir = std::env::temp_dir().join(format!("scimd_unit_{}", uuid::Uuid::new_v4().simple()));
                std::fs::create_dir_all(&dir).unwrap();
                Dir(dir)
            }
        }
        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }
}
