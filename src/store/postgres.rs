//! The Postgres store: connecting (creating the database when it is missing), migrating, and
//! handing out units of work. Every statement is written once for both databases beside its
//! aggregate (`store/resources.rs`, `memberships.rs`, …, over `store/db.rs`), and the unit of
//! work itself is `store/tx.rs`.

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{AssertSqlSafe, Connection};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

use super::auth_signal::AuthSignal;
use super::common::{in_dialect, list_sql};
use super::db::{DbConn, Param};
use super::filter_sql::Dialect;
use super::health::{Health, Probe};
use super::rekey;
use super::session::Session;
use super::tx::{Link, SqlTx};
use super::user_values;
use super::{
    AdminFilter, Backend, ListQuery, Lookup, ReadTx, ResourceKind, Store, StoreError, StoreOptions,
    StoreResult, Tx,
};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// A pooled connection idle for this long is pinged before it is handed out (see `connect`).
const PING_IDLE: Duration = Duration::from_secs(1);

pub struct PgStore {
    pool: PgPool,
    health: Arc<Health>,
    auth: Arc<AuthSignal>,
}

impl PgStore {
    /// Connects (creating the database if it does not exist yet) without migrating.
    pub async fn connect(url: &str, opts: &StoreOptions) -> StoreResult<PgStore> {
        let options = PgConnectOptions::from_str(url)?;
        ensure_database(&options).await?;
        // One connection first, to say precisely what is wrong (the pool would only time out).
        match tokio::time::timeout(
            opts.acquire_timeout.max(Duration::from_secs(5)),
            sqlx::ConnectOptions::connect(&options),
        )
        .await
        {
            Ok(Ok(conn)) => {
                let _ = sqlx::Connection::close(conn).await;
            }
            Ok(Err(err)) => return Err(connect_error(&options, Some(err))),
            Err(_) => return Err(connect_error(&options, None)),
        }
        let health = Health::new();
        let suspect = health.clone();
        let pool = PgPoolOptions::new()
            .max_connections(opts.max_connections)
            // Bounded well under the IdPs' request time-outs: past it the request is a 503
            // that the IdP retries, not a hang.
            .acquire_timeout(opts.acquire_timeout)
            // No ping before each hand-out (sqlx's default): it was a round trip on every
            // request. Under load a connection is handed out again within moments of its
            // return, where sqlx tests it anyway; one idle for longer (Postgres may have
            // restarted meanwhile) is pinged, so a broken one is dropped before any request
            // meets it. A connection that breaks in between fails its first statement, a
            // connection fault the request is replayed after (`http/retry.rs`), and for a few
            // seconds after one every connection is pinged again (`Health::connection_broke`).
            .test_before_acquire(false)
            .before_acquire(move |conn, meta| {
                let test = meta.idle_for >= PING_IDLE || suspect.connections_suspect();
                Box::pin(async move {
                    if test {
                        conn.ping().await?;
                    }
                    Ok(true)
                })
            })
            .connect_with(options.clone())
            .await?;
        let auth = Arc::new(AuthSignal::postgres(options.clone()));
        // Both probes open a connection of their own: the pool's queue may be full of
        // requests waiting for the same database.
        let probe: Probe = Arc::new(move || {
            let options = options.clone();
            Box::pin(async move {
                let mut conn = sqlx::ConnectOptions::connect(&options).await?;
                sqlx::query("SELECT 1").execute(&mut conn).await?;
                let _ = sqlx::Connection::close(conn).await;
                Ok(())
            })
        });
        health.set_probes(probe.clone(), probe);
        Ok(PgStore { pool, health, auth })
    }

    async fn run_migrations(&self) -> StoreResult<()> {
        MIGRATOR.run(&self.pool).await?;
        self.rebuild_user_values().await?;
        self.rekey().await
    }

    /// Rewrites comparison keys written by older versions and moves uniqueness onto them
    /// (`store/rekey.rs`), once: the `store_meta` row is locked for the whole rewrite, so
    /// replicas starting together wait for it instead of racing. Postgres's DDL is
    /// transactional: other writers never see the tables without their unique indexes.
    async fn rekey(&self) -> StoreResult<()> {
        let conn = self.pool.acquire().await?;
        let session = Session::begin(conn, "BEGIN").await?;
        let mut tx = SqlTx::new(Link::PostgresTx(session));
        let Some((rows, collisions)) = rekey::run(&mut tx.db()).await? else {
            return Ok(());
        };
        tx.commit().await?;
        rekey::reported(rows, &collisions);
        Ok(())
    }

    /// Re-derives every user's `user_values` rows when they were written by an older
    /// derivation (`store/user_values.rs`). The `store_meta` row is locked for the whole
    /// rebuild, so replicas starting together rebuild once and wait for it instead of racing.
    async fn rebuild_user_values(&self) -> StoreResult<()> {
        let conn = self.pool.acquire().await?;
        let mut tx = SqlTx::new(Link::PostgresTx(Session::begin(conn, "BEGIN").await?));
        let Some(rebuilt) = user_values::rebuild(&mut tx.db()).await? else {
            return Ok(());
        };
        tx.commit().await?;
        if rebuilt > 0 {
            tracing::info!(users = rebuilt, "rebuilt the filter index of existing users");
        }
        Ok(())
    }
}

/// Why Postgres cannot be reached, naming the server, port, database and user (never the
/// password), with the fix, in one line. `None`: no answer in time.
fn connect_error(options: &PgConnectOptions, err: Option<sqlx::Error>) -> StoreError {
    let at = format!("{}:{}", options.get_host(), options.get_port());
    let database = options.get_database().unwrap_or("(the user's)");
    let user = options.get_username();
    let code = match &err {
        Some(sqlx::Error::Database(db)) => db.code().map(|c| c.to_string()),
        _ => None,
    };
    StoreError::Unusable(match (&err, code.as_deref()) {
        (None, _) => format!(
            "Postgres at {at} (database {database}) did not answer in time: check the host and port in \
             database_url and that the network lets scimd reach it"
        ),
        (Some(sqlx::Error::Io(io)), _) if io.kind() == std::io::ErrorKind::ConnectionRefused => format!(
            "nothing accepts connections at {at} (connection refused), where database_url puts Postgres \
             (database {database}): start Postgres there, or fix the host and port in database_url"
        ),
        (Some(_), Some("28P01" | "28000")) => format!(
            "Postgres at {at} refused the login of user {user} to database {database}: check the user and \
             password in database_url, and pg_hba.conf"
        ),
        (Some(_), Some("3D000")) => format!(
            "database {database} does not exist on Postgres at {at}, and user {user} may not create it: \
             create it (createdb {database}) or name another in database_url"
        ),
        (Some(_), Some("53300")) => format!(
            "Postgres at {at} has no connection to spare (too many connections): lower \
             database_max_connections or raise the server's max_connections"
        ),
        (Some(sqlx::Error::Tls(e)), _) => format!("TLS with Postgres at {at} failed: {e}"),
        (Some(e), _) => format!("cannot reach Postgres at {at} (database {database}): {e}"),
    })
}

/// Creates the database named in the URL when the server has no such database, so that a
/// first `scimd migrate` or `scimd serve` needs no manual step.
async fn ensure_database(options: &PgConnectOptions) -> StoreResult<()> {
    let Some(name) = options.get_database().map(str::to_string) else {
        return Ok(());
    };
    let admin = options.clone().database("postgres");
    let mut conn = match sqlx::ConnectOptions::connect(&admin).await {
        Ok(conn) => conn,
        // No maintenance database or no right to it: let the real connection report the problem.
        Err(_) => return Ok(()),
    };
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
        .bind(&name)
        .fetch_one(&mut conn)
        .await?;
    if !exists {
        let quoted = format!("\"{}\"", name.replace('"', "\"\""));
        // Collation "C": text compares by code point, as SCIM's lexicographic `gt`/`lt` and
        // sortBy mean and as SQLite does, whatever the server's default locale (case folding
        // is done in Rust, so the C ctype loses nothing).
        let create = format!(
            "CREATE DATABASE {quoted} TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'"
        );
        if let Err(err) = sqlx::query(AssertSqlSafe(create)).execute(&mut conn).await {
            // Another process may have created it meanwhile.
            let created_meanwhile =
                matches!(&err, sqlx::Error::Database(db) if db.code().as_deref() == Some("42P04"));
            if !created_meanwhile {
                return Err(err.into());
            }
        }
    }
    Ok(())
}

#[async_trait]
impl Store for PgStore {
    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    fn auth_generation(&self) -> Option<super::auth_signal::Generation> {
        self.auth.generation()
    }

    fn pool_stats(&self) -> crate::store::PoolStats {
        crate::store::PoolStats {
            size: self.pool.size(),
            idle: u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX),
            group_commit: None,
        }
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.migrate")]
    async fn migrate(&self) -> StoreResult<()> {
        self.run_migrations().await
    }

    /// Autovacuum off: then no table is analysed unless an operator runs `ANALYZE`, and list
    /// pages planned without statistics read and sort a whole account (5.9 ms instead of
    /// 0.22 ms for a page of 100 users at 5,100; docs/operations.md, "Postgres statistics").
    async fn advice(&self) -> StoreResult<Vec<String>> {
        let on: bool = sqlx::query_scalar("SELECT current_setting('autovacuum')::boolean")
            .fetch_one(&self.pool)
            .await?;
        Ok(match on {
            true => Vec::new(),
            false => vec![
                "Postgres runs with autovacuum off: tables are analysed only when you run ANALYZE, \
                 and list pages planned without statistics read whole accounts; turn autovacuum on, \
                 or run ANALYZE after large imports (docs/operations.md, \"Postgres statistics\")"
                    .to_string(),
            ],
        })
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.close")]
    async fn close(&self) {
        self.auth.stop();
        self.pool.close().await;
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.explain_list")]
    async fn explain_list(
        &self,
        kind: ResourceKind,
        account: Uuid,
        query: &ListQuery,
    ) -> StoreResult<String> {
        self.explain(kind, account, query).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.explain_lookup")]
    async fn explain_lookup(&self, account: Uuid, lookup: Lookup<'_>) -> StoreResult<String> {
        // A connection of its own, closed after: the plan mode and the prepared statement
        // must not outlive the question. The values are written as literals (UUIDs, and texts
        // with their quotes doubled).
        let mut conn = self.pool.acquire().await?.detach();
        let literal = |text: &str| format!("'{}'", text.replace('\'', "''"));
        let (sql, values, element) = match lookup {
            Lookup::GroupsOf(users) => (
                super::memberships::groups_of_sql(Dialect::Postgres),
                users.iter().map(|u| literal(&u.to_string())).collect::<Vec<_>>(),
                "uuid",
            ),
            Lookup::UsersByNameOrEmail(keys) => (
                super::resources::users_by_name_or_email_sql(Dialect::Postgres),
                keys.iter().map(|k| literal(k)).collect(),
                "text",
            ),
        };
        let sql = in_dialect(Dialect::Postgres, &sql);
        sqlx::raw_sql(AssertSqlSafe(format!(
            "SET plan_cache_mode = force_generic_plan; PREPARE scimd_explain AS {sql}"
        )))
        .execute(&mut conn)
        .await?;
        let plan: Vec<(String,)> = sqlx::query_as(AssertSqlSafe(format!(
            "EXPLAIN (ANALYZE, COSTS OFF) EXECUTE scimd_explain('{account}', CAST(ARRAY[{}] AS {element}[]))",
            values.join(", ")
        )))
        .fetch_all(&mut conn)
        .await?;
        let _ = sqlx::Connection::close(conn).await;
        Ok(plan
            .into_iter()
            .map(|(line,)| line)
            .collect::<Vec<_>>()
            .join("\n"))
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.begin")]
    async fn begin(&self) -> StoreResult<Box<dyn Tx>> {
        let conn = self.health.acquire(self.pool.acquire()).await?;
        Ok(Box::new(
            SqlTx::new(Link::PostgresTx(Session::begin(conn, "BEGIN").await?)).signalling(&self.auth),
        ))
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.reader")]
    async fn reader(&self) -> StoreResult<Box<dyn ReadTx>> {
        Ok(Box::new(SqlTx::new(Link::Postgres(
            self.health.acquire(self.pool.acquire()).await?,
        ))))
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.snapshot")]
    async fn snapshot(&self) -> StoreResult<Box<dyn ReadTx>> {
        let conn = self.health.acquire(self.pool.acquire()).await?;
        Ok(Box::new(SqlTx::new(Link::PostgresTx(
            Session::begin(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY").await?,
        ))))
    }

    fn health(&self) -> &Arc<Health> {
        &self.health
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.sequence_events")]
    async fn sequence_events(&self) -> StoreResult<u64> {
        let mut conn = self.health.acquire(self.pool.acquire()).await?;
        if !super::events::pending(&mut DbConn::postgres(&mut conn)).await? {
            return Ok(0);
        }
        let mut session = Session::begin(conn, "BEGIN").await?;
        let numbered = super::events::sequence(&mut DbConn::postgres(session.conn())).await?;
        session.commit().await?;
        Ok(numbered)
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.ping")]
    async fn ping(&self) -> StoreResult<()> {
        let mut conn = self.health.acquire(self.pool.acquire()).await?;
        sqlx::query("SELECT 1").execute(&mut *conn).await?;
        Ok(())
    }
}

impl PgStore {
    /// `EXPLAIN ANALYZE` of the page query a list request runs.
    async fn explain(&self, kind: ResourceKind, account: Uuid, query: &ListQuery) -> StoreResult<String> {
        let sql = list_sql(Dialect::Postgres, kind, query, &AdminFilter::default())?;
        let mut binds: Vec<Param> = vec![account.into()];
        binds.extend(sql.params.iter().chain(&sql.page_params).map(Param::from));
        let mut conn = self.pool.acquire().await?;
        let rows = DbConn::postgres(&mut conn)
            .fetch_all(&format!("EXPLAIN (ANALYZE, COSTS OFF) {}", sql.page), &binds)
            .await?;
        let lines: Vec<String> = rows
            .iter()
            .map(|r| r.text("QUERY PLAN"))
            .collect::<Result<_, _>>()?;
        Ok(lines.join("\n"))
    }
}
