//! The embedded SQLite store: the zero-setup default (`sqlite://scimd.db`). It keeps the same
//! schema as Postgres (migrations/sqlite mirrors migrations/postgres). Every statement is
//! written once for both databases, beside its aggregate (`store/resources.rs`,
//! `memberships.rs`, `tokens.rs`, …, over the seam of `store/db.rs`), and the unit of work is
//! `store/tx.rs`; what is here is SQLite's own: opening the file safely, the writer's turn,
//! planner statistics, and the tests of the query plans SQLite chooses.
//!
//! Why this file is over 1,000 lines: about 850 of them are its tests (the query plans every
//! IdP lookup must use, the writer's turn under contention, file modes, migrations of old
//! files).
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
//! Writers that queue are committed together, one `COMMIT` (one WAL sync) for several, each
//! under a savepoint of its own (`store/group_commit.rs`, which owns the turn).
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
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{ConnectOptions, Connection, SqliteConnection};
use uuid::Uuid;

use super::auth_signal::AuthSignal;
use super::common::list_sql;
use super::db::{DbConn, Param, now_micros, params, time_text};
use super::filter_sql::Dialect;
use super::group_commit::Writer;
use super::health::{Health, Probe};
use super::rekey;
use super::resources;
use super::session::Session;
use super::tx::{Link, SqlTx};
use super::user_values;
use super::{
    AdminFilter, Backend, ListQuery, Lookup, ReadTx, ResourceKind, Store, StoreError, StoreOptions,
    StoreResult, Tx,
};

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
    /// Writers of this process, in arrival order, committed in groups (see the module comment).
    writer: Arc<Writer>,
    health: Arc<Health>,
    auth: Arc<AuthSignal>,
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
            // No ping before each hand-out (sqlx's default): it is one more hand-off to the
            // connection's thread on every request, and a connection to a local file does not
            // go stale while idle.
            .test_before_acquire(false)
            .connect_with(options.clone().busy_timeout(BUSY_TRY))
            .await
            .map_err(writable)?;
        let writer = Writer::new();
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
            // Weak: the health holds this probe, which must not keep the health alive.
            let (pool, writer, health) = (pool.clone(), writer.clone(), Arc::downgrade(&health));
            Arc::new(move || Box::pin(write_probe(pool.clone(), writer.clone(), health.clone())))
        };
        health.set_probes(reach, write);
        let auth = Arc::new(if in_memory {
            AuthSignal::local()
        } else {
            let mut sidecar = path.as_os_str().to_owned();
            sidecar.push(".auth");
            AuthSignal::sidecar(sidecar.into())
        });
        Ok(SqliteStore {
            pool,
            options,
            writer,
            health,
            auth,
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
                tx.db()
                    .execute(
                        "INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES (?1, ?2, ?3)",
                        &params![*table, *index, *stat],
                    )
                    .await?;
            }
        }
        tx.db().execute("ANALYZE sqlite_schema", &[]).await?;
        tx.commit().await?;
        rekey::reported(rows, &collisions);
        Ok(())
    }

    /// Re-derives every user's `user_values` rows when they were written by an older
    /// derivation (`store/user_values.rs`). The rebuild is one immediate transaction, so
    /// processes starting together rebuild once and the others find the version current.
    async fn rebuild_user_values(&self) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        let Some(rebuilt) = user_values::rebuild(&mut tx.db()).await? else {
            return Ok(());
        };
        tx.commit().await?;
        if rebuilt > 0 {
            tracing::info!(users = rebuilt, "rebuilt the filter index of existing users");
        }
        Ok(())
    }

    /// A write transaction: this process's turn first, then SQLite's write lock, in a batch
    /// that commits together with the writers queued behind it (`store/group_commit.rs`).
    async fn write_tx(&self) -> StoreResult<SqlTx> {
        let deadline = tokio::time::Instant::now() + WRITE_WAIT;
        let write = self.writer.begin(&self.pool, &self.health, deadline).await?;
        // Postgres's now() is the transaction's start; the turn is held, so times of
        // successive writes never go backwards.
        Ok(SqlTx::sqlite_writer(write, now_micros(), self.health.clone()).signalling(&self.auth))
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
        let mut binds: Vec<Param> = vec![account.into()];
        binds.extend(sql.params.iter().chain(&sql.page_params).map(Param::from));
        let mut conn = self.pool.acquire().await?;
        let rows = DbConn::sqlite(&mut conn, now_micros())
            .fetch_all(&format!("EXPLAIN QUERY PLAN {}", sql.page), &binds)
            .await?;
        let mut depth: Vec<(i64, usize)> = Vec::new();
        let mut lines = Vec::new();
        for row in &rows {
            let (id, parent, detail) = (row.i64("id")?, row.i64("parent")?, row.text("detail")?);
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

    fn auth_generation(&self) -> Option<super::auth_signal::Generation> {
        self.auth.generation()
    }

    fn pool_stats(&self) -> crate::store::PoolStats {
        crate::store::PoolStats {
            size: self.pool.size(),
            idle: u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX),
            group_commit: Some(self.writer.stats()),
        }
    }

    /// Events are numbered as they are inserted: one writer at a time commits in that order.
    async fn sequence_events(&self) -> StoreResult<u64> {
        Ok(0)
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

    #[tracing::instrument(level = "debug", skip_all, name = "store.explain_lookup")]
    async fn explain_lookup(&self, account: Uuid, lookup: Lookup<'_>) -> StoreResult<String> {
        let (sql, values) = match lookup {
            Lookup::GroupsOf(users) => (
                super::memberships::groups_of_sql(Dialect::Sqlite),
                Param::from(users),
            ),
            Lookup::UsersByNameOrEmail(keys) => (
                resources::users_by_name_or_email_sql(Dialect::Sqlite),
                Param::from(keys),
            ),
        };
        let mut conn = self.pool.acquire().await?;
        let rows = DbConn::sqlite(&mut conn, now_micros())
            .fetch_all(
                &format!("EXPLAIN QUERY PLAN {sql}"),
                &[Param::from(account), values],
            )
            .await?;
        let lines: Vec<String> = rows.iter().map(|r| r.text("detail")).collect::<Result<_, _>>()?;
        Ok(lines.join("\n"))
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.begin")]
    async fn begin(&self) -> StoreResult<Box<dyn Tx>> {
        Ok(Box::new(self.write_tx().await?))
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.reader")]
    async fn reader(&self) -> StoreResult<Box<dyn ReadTx>> {
        Ok(Box::new(SqlTx::new(Link::Sqlite(
            self.health.acquire(self.pool.acquire()).await?,
        ))))
    }

    /// A deferred transaction: in WAL mode its first read fixes the snapshot every later
    /// statement sees, and it never takes the writer lock (nor this process's writer turn).
    #[tracing::instrument(level = "debug", skip_all, name = "store.snapshot")]
    async fn snapshot(&self) -> StoreResult<Box<dyn ReadTx>> {
        let conn = self.health.acquire(self.pool.acquire()).await?;
        Ok(Box::new(SqlTx::new(Link::SqliteTx(
            Session::begin(conn, "BEGIN DEFERRED").await?,
        ))))
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
async fn write_probe(
    pool: SqlitePool,
    writer: Arc<Writer>,
    health: std::sync::Weak<Health>,
) -> StoreResult<()> {
    let health = health.upgrade().ok_or(StoreError::Down)?;
    let deadline = tokio::time::Instant::now() + WRITE_WAIT;
    let mut write = writer.begin(&pool, &health, deadline).await?;
    sqlx::query("INSERT INTO store_meta (key, value) VALUES ('write_probe', ?1) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
        .bind(time_text(now_micros()))
        .execute(write.conn())
        .await?;
    write.commit().await
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
    // One row per account (SQLite keeps one shard).
    ("resource_counts", "resource_counts", "10 1 1"),
    // A few extension schemas per account.
    ("account_schemas", "account_schemas", "20 2 1"),
    // Extension values of groups: a few per group.
    ("group_values", "group_values", "30000 3000 3 1 1"),
    ("group_values", "group_values_value_idx", "30000 3000 1000 2"),
    ("group_values", "group_values_value_ci_idx", "30000 3000 1000 2"),
    ("tokens", "tokens", "1000 100 1"),
    ("tokens", "tokens_oauth_client_idx", "100 10 5"),
    ("oauth_clients", "oauth_clients", "100 10 1"),
    // Audited changes per account, day (a year of them) and source.
    ("audit_activity", "audit_activity", "36500 3650 10 2 1"),
    // A few console sessions and setup links per account.
    ("console_sessions", "console_sessions", "1000 1"),
    ("console_sessions", "console_sessions_account_idx", "1000 100 1"),
    ("console_setup_links", "console_setup_links", "100 10 1"),
    ("console_setup_links", "console_setup_links_code_idx", "100 1"),
    ("webhook_endpoints", "webhook_endpoints", "100 10 1"),
    ("webhook_endpoints", "webhook_endpoints_due_idx", "100 10"),
    (
        "webhook_deliveries",
        "webhook_deliveries_endpoint_idx",
        "1000000 100000 10000 1",
    ),
    ("webhook_deliveries", "webhook_deliveries_at_idx", "1000000 10"),
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
    // The change feed: a million events per account, read by account and position.
    ("events", "events_feed_idx", "10000000 1000000 1"),
    ("events", "events_at_idx", "10000000 10"),
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
    (
        "resource_counts.account_id, resource_counts.shard",
        "resource_counts_pkey",
    ),
    (
        "account_schemas.account_id, account_schemas.urn_ci",
        "account_schemas_pkey",
    ),
    ("oauth_clients.account_id, oauth_clients.id", "oauth_clients_pkey"),
    ("console_sessions.id_sha256", "console_sessions_pkey"),
    (
        "audit_activity.account_id, audit_activity.day, audit_activity.source, audit_activity.shard",
        "audit_activity_pkey",
    ),
    (
        "console_setup_links.account_id, console_setup_links.id",
        "console_setup_links_pkey",
    ),
    ("console_setup_links.code_sha256", "console_setup_links_code_idx"),
    (
        "webhook_endpoints.account_id, webhook_endpoints.id",
        "webhook_endpoints_pkey",
    ),
    (
        "group_values.account_id, group_values.group_id, group_values.attr, group_values.ord",
        "group_values_pkey",
    ),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::filter::parse_filter;
    use crate::scim::path::parse_attr_path;
    use crate::store::filter_sql::SqlParam;
    use crate::store::{AuditQuery, Keyset, KeysetPage, NewResource, Origin, Sort};
    use crate::store::{common, role_bindings};
    use chrono::DateTime;
    use serde_json::{Value, json};
    use sqlx::{AssertSqlSafe, Row};

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
            resume: None,
            resource_type: None,
        }
    }

    /// SQLite plans a bound `LIMIT` by its value and marks the statement to be prepared again
    /// whenever the parameter is bound anew, that is every time it runs: every page statement
    /// writes its limit instead (`filter_sql::limit_offset_sql`), and binds only the offset.
    #[test]
    fn page_statements_write_their_limit() {
        let mut by_position = query(None, None, None);
        by_position.start_index = 41;
        let cases = [
            query(None, None, None),
            query(Some(r#"userName eq "a""#), None, None),
            query(Some(r#"displayName sw "a""#), Some("userName"), None),
            query(None, Some("name.familyName"), None),
            by_position,
            query(
                None,
                None,
                Some(Keyset {
                    key: None,
                    id: Uuid::from_u128(7),
                }),
            ),
        ];
        let mut value_rows = 0;
        for q in &cases {
            let sql = list_sql(Dialect::Sqlite, ResourceKind::User, q, &AdminFilter::default()).unwrap();
            let (limit, offset) = common::limit_offset(q);
            assert!(!sql.page.contains("LIMIT ?"), "{}", sql.page);
            assert!(
                sql.page.contains(&format!("LIMIT {limit} OFFSET ?")),
                "{}",
                sql.page
            );
            assert_eq!(sql.page_params.last(), Some(&SqlParam::Int(offset)));
            if let Some(rest) = &sql.value_row {
                value_rows += 1;
                let (without, params) = rest.without(7, 3);
                assert!(
                    without.ends_with(&format!(
                        "LIMIT 7 OFFSET ?{}",
                        sql.params.len() + params.len() + 1
                    )),
                    "{without}"
                );
                assert_eq!(params.last(), Some(&SqlParam::Int(3)));
            }
            let pg = list_sql(Dialect::Postgres, ResourceKind::User, q, &AdminFilter::default()).unwrap();
            assert!(pg.page.contains("LIMIT $"), "Postgres binds both: {}", pg.page);
            assert_eq!(pg.page_params.len(), sql.page_params.len() + 1);
        }
        assert_eq!(value_rows, 1, "a sort by a value row is among the cases");
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
            // A sort by a value row reads that index in order, then each user by key; a cursor
            // page starts its range at the cursor's key.
            (
                ResourceKind::User,
                query(None, Some("name.familyName"), None),
                &[
                    "user_values_value_ci_pattern_idx (account_id=? AND attr=?)",
                    "sqlite_autoindex_users_1 (account_id=? AND id=?)",
                ],
            ),
            (
                ResourceKind::User,
                query(
                    None,
                    Some("name.familyName"),
                    Some(Keyset {
                        key: Some("family5".to_string()),
                        id,
                    }),
                ),
                &["user_values_value_ci_pattern_idx (account_id=? AND attr=? AND value_ci>?)"],
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
            let mut binds: Vec<Param> = vec![account.into()];
            binds.extend(sql.params.iter().chain(&sql.page_params).map(Param::from));
            let rows = DbConn::sqlite(conn, now_micros())
                .fetch_all(&format!("EXPLAIN QUERY PLAN {}", sql.page), &binds)
                .await
                .unwrap();
            let plan: Vec<String> = rows.iter().map(|r| r.text("detail").unwrap()).collect();
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
                resources::identifiers_with_base_sql(Dialect::Sqlite).to_string(),
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
                resources::rename_groups_sql(Dialect::Sqlite),
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

    /// A request dropped while its `BEGIN` is on its way (the client hung up, a timeout) must
    /// not hand the pool a connection with a transaction open: the next writer's
    /// `BEGIN IMMEDIATE` failed with "cannot start a transaction within a transaction", and a
    /// reader given that connection read an old snapshot for as long as it lived. Drops
    /// `begin()` after each of its first steps, each followed by a whole write and a fresh read.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_begin_dropped_half_way_leaves_no_transaction_open() {
        let dir = tempdir::Dir::new();
        let url = format!("sqlite://{}/t.db", dir.0.display());
        let store = SqliteStore::connect(&url, &StoreOptions::with_max(4))
            .await
            .unwrap();
        store.migrate().await.unwrap();
        let mut dropped = 0;
        for step in 0..40 {
            // Polls `begin()` `step + 1` times, letting other tasks (the driver's) run in
            // between, and drops it unfinished: a request future dropped at that point. (The
            // future lives in this block: `pin!` keeps it until the end of the block, whatever
            // is done with the pinned reference.)
            let done = {
                let mut begin = std::pin::pin!(store.begin());
                let mut done = false;
                for _ in 0..=step {
                    let poll =
                        std::future::poll_fn(|cx| std::task::Poll::Ready(begin.as_mut().poll(cx))).await;
                    if let std::task::Poll::Ready(tx) = poll {
                        drop(tx.unwrap());
                        done = true;
                        break;
                    }
                    tokio::task::yield_now().await;
                }
                done
            };
            if !done {
                dropped += 1;
            }
            let started = std::time::Instant::now();
            let mut tx = store.begin().await.unwrap_or_else(|e| {
                panic!(
                    "step {step} (dropped: {}): {e}; pool size {} idle {}",
                    !done,
                    store.pool.size(),
                    store.pool.num_idle()
                )
            });
            let account = Uuid::now_v7();
            tx.create_account(account, &format!("a{step}")).await.unwrap();
            tx.commit().await.unwrap();
            assert!(
                started.elapsed() < Duration::from_secs(2),
                "step {step}: the next write waited {:?}",
                started.elapsed()
            );
            let mut reader = store.reader().await.unwrap();
            assert!(
                reader.get_account(account).await.unwrap().is_some(),
                "step {step}: a reader does not see a committed write"
            );
        }
        assert!(dropped > 0, "no begin was dropped unfinished");
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
        // 0008 counted what was there: the totals of unfiltered lists.
        let counts: Vec<(String, i64, i64)> = sqlx::query_as(
            "SELECT account_id, SUM(users), SUM(groups) FROM resource_counts GROUP BY account_id ORDER BY account_id",
        )
        .fetch_all(&store.pool)
        .await
        .unwrap();
        let mut expected = vec![(a.clone(), 3, 4), (b.clone(), 0, 1)];
        expected.sort();
        assert_eq!(counts, expected);
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
        let parse = |t: &str| DateTime::parse_from_rfc3339(t).unwrap().to_utc();
        assert_eq!(parse(&time_text(later)), later);
        let now = now_micros();
        assert_eq!(parse(&time_text(now)), now);
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
