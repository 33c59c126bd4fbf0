//! The Postgres store.

use async_trait::async_trait;
use serde_json::{Map, Value};
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::{AssertSqlSafe, PgConnection, Postgres, Row};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

use super::common::{self, GROUP_COLUMNS, USER_COLUMNS, columns, indexed, limit_offset, list_sql, table};
use super::db::DbConn;
use super::derived;
use super::filter_sql::{Dialect, SqlParam};
use super::health::{Health, Probe};
use super::rekey;
use super::session::Session;
use super::{
    Account, AccountSettings, AdminFilter, AuditQuery, AuditRecord, Backend, GroupRef, Keyset, ListQuery,
    MemberRef, Membership, NewResource, NewRoleBinding, Origin, Page, ResourceKind, ResourceRow, RoleBinding,
    Store, StoreError, StoreOptions, StoreResult, TokenRecord, Tx,
};
use super::{accounts, audit, memberships, resources, role_bindings, settings, tokens};
use crate::scim::compare;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

pub struct PgStore {
    pool: PgPool,
    health: Arc<Health>,
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
        let pool = PgPoolOptions::new()
            .max_connections(opts.max_connections)
            // Bounded well under the IdPs' request time-outs: past it the request is a 503
            // that the IdP retries, not a hang.
            .acquire_timeout(opts.acquire_timeout)
            .connect_with(options.clone())
            .await?;
        let health = Health::new();
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
        Ok(PgStore { pool, health })
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
        let session = Session::begin(conn, "BEGIN", None).await?;
        let mut tx = PgTx {
            conn: Conn::Tx(session),
        };
        let Some((rows, collisions)) = rekey::run(&mut tx.db()).await? else {
            return Ok(());
        };
        Box::new(tx).commit().await?;
        rekey::reported(rows, &collisions);
        Ok(())
    }

    /// Re-derives every user's `user_values` rows when they were written by an older
    /// derivation (see migration 0002). The `store_meta` row is locked for the whole rebuild,
    /// so replicas starting together rebuild once and wait for it instead of racing.
    async fn rebuild_user_values(&self) -> StoreResult<()> {
        let conn = self.pool.acquire().await?;
        let mut tx = Session::begin(conn, "BEGIN", None).await?;
        let stored: String =
            sqlx::query_scalar("SELECT value FROM store_meta WHERE key = 'user_values_version' FOR UPDATE")
                .fetch_one(tx.conn())
                .await?;
        if stored.parse::<i32>().unwrap_or(0) >= derived::USER_VALUES_VERSION {
            return Ok(());
        }
        let mut pg = PgTx { conn: Conn::Tx(tx) };
        let mut after: Option<(Uuid, Uuid)> = None;
        let mut rebuilt = 0usize;
        loop {
            // Keyset pages of the primary key: constant cost per page however many users.
            let rows = sqlx::query(
                "SELECT account_id, id, doc FROM users
                 WHERE ($1::uuid IS NULL OR (account_id, id) > ($1, $2))
                 ORDER BY account_id, id LIMIT 500",
            )
            .bind(after.map(|a| a.0))
            .bind(after.map(|a| a.1))
            .fetch_all(pg.c())
            .await?;
            let Some(last) = rows.last() else { break };
            after = Some((last.try_get("account_id")?, last.try_get("id")?));
            for row in &rows {
                let sqlx::types::Json(doc): sqlx::types::Json<Map<String, Value>> = row.try_get("doc")?;
                pg.write_user_values(row.try_get("account_id")?, row.try_get("id")?, &doc)
                    .await?;
            }
            rebuilt += rows.len();
        }
        sqlx::query("UPDATE store_meta SET value = $1 WHERE key = 'user_values_version'")
            .bind(derived::USER_VALUES_VERSION.to_string())
            .execute(pg.c())
            .await?;
        Box::new(pg).commit().await?;
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
        self.explain(kind, account, query).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.begin")]
    async fn begin(&self) -> StoreResult<Box<dyn Tx>> {
        let conn = self.health.acquire(self.pool.acquire()).await?;
        Ok(Box::new(PgTx {
            conn: Conn::Tx(Session::begin(conn, "BEGIN", None).await?),
        }))
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.reader")]
    async fn reader(&self) -> StoreResult<Box<dyn Tx>> {
        Ok(Box::new(PgTx {
            conn: Conn::Plain(self.health.acquire(self.pool.acquire()).await?),
        }))
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.snapshot")]
    async fn snapshot(&self) -> StoreResult<Box<dyn Tx>> {
        let conn = self.health.acquire(self.pool.acquire()).await?;
        Ok(Box::new(PgTx {
            conn: Conn::Tx(
                Session::begin(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", None).await?,
            ),
        }))
    }

    fn health(&self) -> &Arc<Health> {
        &self.health
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.ping")]
    async fn ping(&self) -> StoreResult<()> {
        let mut conn = self.health.acquire(self.pool.acquire()).await?;
        sqlx::query("SELECT 1").execute(&mut *conn).await?;
        Ok(())
    }
}

enum Conn {
    Tx(Session<Postgres>),
    Plain(PoolConnection<Postgres>),
}

struct PgTx {
    conn: Conn,
}

impl PgTx {
    fn c(&mut self) -> &mut PgConnection {
        match &mut self.conn {
            Conn::Tx(tx) => tx.conn(),
            Conn::Plain(conn) => conn,
        }
    }

    /// This transaction's connection, for the statements written once (`store/db.rs`).
    fn db(&mut self) -> DbConn<'_> {
        DbConn::postgres(self.c())
    }
}

fn resource_row(row: &PgRow) -> StoreResult<ResourceRow> {
    let doc: Value = row.try_get("doc")?;
    Ok(ResourceRow {
        account_id: row.try_get("account_id")?,
        id: row.try_get("id")?,
        doc: match doc {
            Value::Object(map) => map,
            _ => Map::new(),
        },
        source: row.try_get("source")?,
        idp_managed: row.try_get("idp_managed")?,
        created_at: row.try_get("created_at")?,
        last_modified: row.try_get("last_modified")?,
        version: row.try_get("version")?,
        identifier: row.try_get("identifier")?,
    })
}

/// `user_values` rows as parallel arrays for `UNNEST`.
#[derive(Default)]
struct UserValueArrays {
    attr: Vec<String>,
    ord: Vec<i32>,
    value: Vec<String>,
    value_ci: Vec<String>,
    type_ci: Vec<Option<String>>,
    primary: Vec<bool>,
}

impl PgTx {
    async fn write_user_values(
        &mut self,
        account: Uuid,
        id: Uuid,
        doc: &Map<String, Value>,
    ) -> StoreResult<()> {
        sqlx::query("DELETE FROM user_values WHERE account_id = $1 AND user_id = $2")
            .bind(account)
            .bind(id)
            .execute(self.c())
            .await?;
        let rows = derived::user_value_rows(doc);
        if rows.is_empty() {
            return Ok(());
        }
        // One statement for all rows: parallel arrays through UNNEST.
        let mut v = UserValueArrays::default();
        for row in rows {
            v.attr.push(row.attr);
            v.ord.push(row.ord);
            v.value.push(row.value);
            v.value_ci.push(row.value_ci);
            v.type_ci.push(row.type_ci);
            v.primary.push(row.is_primary);
        }
        sqlx::query(
            "INSERT INTO user_values (account_id, user_id, attr, ord, value, value_ci, type_ci, is_primary)
             SELECT $1, $2, * FROM UNNEST($3::text[], $4::int[], $5::text[], $6::text[], $7::text[], $8::bool[])",
        )
        .bind(account)
        .bind(id)
        .bind(&v.attr)
        .bind(&v.ord)
        .bind(&v.value)
        .bind(&v.value_ci)
        .bind(&v.type_ci)
        .bind(&v.primary)
        .execute(self.c())
        .await?;
        Ok(())
    }
}

impl PgStore {
    /// `EXPLAIN ANALYZE` of the page query a list request runs.
    async fn explain(&self, kind: ResourceKind, account: Uuid, query: &ListQuery) -> StoreResult<String> {
        let sql = list_sql(Dialect::Postgres, kind, query, &AdminFilter::default())?;
        let rows = bind_params(
            sqlx::query(AssertSqlSafe(format!(
                "EXPLAIN (ANALYZE, COSTS OFF) {}",
                sql.page
            )))
            .bind(account),
            &[sql.params, sql.page_params].concat(),
        )
        .bind(limit_offset(query).0)
        .bind(limit_offset(query).1)
        .fetch_all(&self.pool)
        .await?;
        let lines: Vec<String> = rows
            .iter()
            .map(|r| r.try_get::<String, _>(0))
            .collect::<Result<_, _>>()?;
        Ok(lines.join("\n"))
    }
}

fn bind_params<'q>(
    mut query: sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments>,
    params: &[SqlParam],
) -> sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments> {
    for p in params {
        query = match p {
            SqlParam::Text(s) => query.bind(s.clone()),
            SqlParam::Bool(b) => query.bind(*b),
            SqlParam::Uuid(u) => query.bind(*u),
            SqlParam::Time(t) => query.bind(*t),
        };
    }
    query
}

impl PgTx {
    async fn list_with(
        &mut self,
        kind: ResourceKind,
        account: Uuid,
        query: &ListQuery,
        extra: &AdminFilter,
    ) -> StoreResult<Page<ResourceRow>> {
        let sql = list_sql(Dialect::Postgres, kind, query, extra)?;
        let total: i64 = bind_params(sqlx::query(AssertSqlSafe(sql.count)).bind(account), &sql.params)
            .fetch_one(self.c())
            .await?
            .try_get(0)?;
        let mut items = Vec::new();
        let mut next = None;
        let wanted = query.count > 0 && (query.keyset.is_some() || total >= query.start_index);
        if wanted {
            let (limit, offset) = limit_offset(query);
            let rows = bind_params(
                sqlx::query(AssertSqlSafe(sql.page)).bind(account),
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
                    id: last.try_get("id")?,
                });
            }
        }
        Ok(Page { total, items, next })
    }
}

#[async_trait]
impl Tx for PgTx {
    #[tracing::instrument(level = "debug", skip_all, name = "store.commit")]
    async fn commit(self: Box<Self>) -> StoreResult<()> {
        if let Conn::Tx(tx) = self.conn {
            tx.commit().await?;
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
        let doc = Value::Object(new.doc.clone());
        let row = match kind {
            ResourceKind::User => {
                sqlx::query(AssertSqlSafe(format!(
                    "INSERT INTO users (account_id, id, user_name, user_name_ci, external_id, display_name,
                         display_name_ci, active, doc, source, idp_managed, primary_email_ci, created_at,
                         last_modified)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, now(), now())
                     RETURNING {USER_COLUMNS}"
                )))
                .bind(account)
                .bind(new.id)
                .bind(&ix.name)
                .bind(compare::key(&ix.name))
                .bind(&ix.external_id)
                .bind(&ix.display_name)
                .bind(ix.display_name.as_deref().map(compare::key))
                .bind(ix.active)
                .bind(&doc)
                .bind(&new.source)
                .bind(new.idp_managed)
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
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, now(), now())
                     ON CONFLICT (account_id, identifier) DO NOTHING
                     RETURNING {GROUP_COLUMNS}"
                )))
                .bind(account)
                .bind(new.id)
                .bind(&ix.name)
                .bind(compare::key(&ix.name))
                .bind(&ix.external_id)
                .bind(&doc)
                .bind(&new.source)
                .bind(new.idp_managed)
                .bind(new.identifier.as_deref().unwrap_or(&ix.name))
                .fetch_optional(self.c())
                .await?;
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
        for_update: bool,
    ) -> StoreResult<Option<ResourceRow>> {
        let lock = if for_update { " FOR UPDATE" } else { "" };
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {} FROM {} WHERE account_id = $1 AND id = $2{lock}",
            columns(kind),
            table(kind)
        )))
        .bind(account)
        .bind(id)
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
        let json = Value::Object(doc.clone());
        let row = match kind {
            ResourceKind::User => {
                sqlx::query(AssertSqlSafe(format!(
                    "UPDATE users SET user_name = $3, user_name_ci = $4, external_id = $5, display_name = $6,
                         display_name_ci = $7, active = $8, doc = $9, primary_email_ci = $10,
                         last_modified = now(), version = version + 1
                     WHERE account_id = $1 AND id = $2
                     RETURNING {USER_COLUMNS}"
                )))
                .bind(account)
                .bind(id)
                .bind(&ix.name)
                .bind(compare::key(&ix.name))
                .bind(&ix.external_id)
                .bind(&ix.display_name)
                .bind(ix.display_name.as_deref().map(compare::key))
                .bind(ix.active)
                .bind(&json)
                .bind(&ix.primary_email_ci)
                .fetch_one(self.c())
                .await?
            }
            ResourceKind::Group => {
                sqlx::query(AssertSqlSafe(format!(
                    "UPDATE groups SET display_name = $3, display_name_ci = $4, external_id = $5, doc = $6,
                         last_modified = now(), version = version + 1
                     WHERE account_id = $1 AND id = $2
                     RETURNING {GROUP_COLUMNS}"
                )))
                .bind(account)
                .bind(id)
                .bind(&ix.name)
                .bind(compare::key(&ix.name))
                .bind(&ix.external_id)
                .bind(&json)
                .fetch_one(self.c())
                .await?
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
        let row = sqlx::query(AssertSqlSafe(format!(
            "UPDATE {} SET last_modified = now(), version = version + 1 WHERE account_id = $1 AND id = $2
             RETURNING {}",
            table(kind),
            columns(kind)
        )))
        .bind(account)
        .bind(id)
        .fetch_optional(self.c())
        .await?;
        row.as_ref().map(resource_row).transpose()
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.delete_resource")]
    async fn delete_resource(&mut self, kind: ResourceKind, account: Uuid, id: Uuid) -> StoreResult<bool> {
        // Memberships and user_values go with the row (ON DELETE CASCADE).
        let done = sqlx::query(AssertSqlSafe(format!(
            "DELETE FROM {} WHERE account_id = $1 AND id = $2",
            table(kind)
        )))
        .bind(account)
        .bind(id)
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

    // ---- Ownership rules R1–R10, admin API and audit ------------------------------------

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
        // The new names are made in Rust, so their lower-case column is Rust's Unicode lower
        // case like every other *_ci value (the database's lower() depends on its locale).
        let clashing = sqlx::query(AssertSqlSafe(pg(&format!(
            "{} FOR UPDATE",
            common::IDP_GROUPS_NAMED_LIKE_NATIVE
        ))))
        .bind(account)
        .fetch_all(self.c())
        .await?;
        let mut renames = common::Renames::default();
        for row in &clashing {
            renames.push(
                row.try_get("id")?,
                row.try_get("display_name")?,
                row.try_get("identifier")?,
            );
        }
        if renames.ids.is_empty() {
            return Ok(0);
        }
        let done = sqlx::query(
            "UPDATE groups g
             SET display_name = x.name, display_name_ci = x.name_ci,
                 doc = jsonb_set(g.doc, '{displayName}', to_jsonb(x.name)),
                 last_modified = now(), version = g.version + 1
             FROM UNNEST($2::uuid[], $3::text[], $4::text[]) AS x(id, name, name_ci)
             WHERE g.account_id = $1 AND g.id = x.id",
        )
        .bind(account)
        .bind(&renames.ids)
        .bind(&renames.names)
        .bind(&renames.names_ci)
        .execute(self.c())
        .await?;
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
        let pattern = format!(
            "{}\\_%",
            base.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
        );
        let rows = sqlx::query_scalar(
            "SELECT identifier FROM groups
             WHERE account_id = $1 AND (identifier = $2 OR identifier LIKE $3)",
        )
        .bind(account)
        .bind(base)
        .bind(pattern)
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

/// A statement of `common`, with Postgres's placeholders.
fn pg(sql: &str) -> String {
    common::in_dialect(Dialect::Postgres, sql)
}
