//! A transaction on a pooled connection, begun and ended by scimd's own `BEGIN`/`COMMIT`/
//! `ROLLBACK` rather than sqlx's `Transaction`, for one reason: what happens when COMMIT
//! fails. sqlx counts transaction depth on the connection and assumes a failed COMMIT left
//! no transaction open; on SQLite a COMMIT that fails for lack of space leaves it open, the
//! connection went back to the pool with its depth still 1, and every later write failed
//! (`begin_with at non-zero transaction depth`) until a restart. Here a failed COMMIT is
//! followed by a ROLLBACK, and a connection whose ROLLBACK fails too is closed, never reused.
//!
//! The same holds for a transaction dropped without COMMIT (an error, a refused request, a
//! cancelled request): it is rolled back on a spawned task before the connection returns to
//! the pool. (SQLite's write transactions have their own, `store/group_commit.rs`, which ends
//! them the same way.)

use sqlx::pool::PoolConnection;
use sqlx::{Database, Executor};

use super::health::commit_sent;
use super::{StoreError, StoreResult};

pub(super) struct Session<DB: Database>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    conn: Option<PoolConnection<DB>>,
}

impl<DB: Database> Session<DB>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    /// Runs `begin` (`BEGIN`, `BEGIN IMMEDIATE`, …) on `conn`. A BEGIN that fails leaves no
    /// transaction open, so the connection goes back to the pool (or is closed by the pool's
    /// own check if it is broken).
    ///
    /// The session owns the connection before `BEGIN` is sent: a caller dropped while it waits
    /// (a client that hung up, a timeout) drops the session, which rolls back whatever the
    /// `BEGIN` opened before the connection goes back to the pool. Owning it only afterwards
    /// handed the pool a connection whose transaction the database had opened meanwhile, and
    /// the next `BEGIN` on it failed ("cannot start a transaction within a transaction").
    pub async fn begin(conn: PoolConnection<DB>, begin: &'static str) -> Result<Self, sqlx::Error> {
        let mut session = Session { conn: Some(conn) };
        match sqlx::raw_sql(begin).execute(session.conn()).await {
            Ok(_) => Ok(session),
            Err(err) => {
                // The database refused BEGIN, so no transaction is open: the connection goes
                // back to the pool as it is.
                drop(session.conn.take());
                Err(err)
            }
        }
    }

    pub fn conn(&mut self) -> &mut DB::Connection {
        self.conn
            .as_deref_mut()
            .expect("a transaction is used only before it ends")
    }

    /// Commits. An error the database answered to COMMIT means it did not commit (it rolled
    /// back or refused); an error of the connection itself (the answer never came) leaves it
    /// unknown, which is [`StoreError::CommitUnknown`] so nobody retries it blindly.
    pub async fn commit(mut self) -> StoreResult<()> {
        let Some(mut conn) = self.conn.take() else {
            return Ok(());
        };
        commit_sent();
        let result = sqlx::raw_sql("COMMIT").execute(&mut *conn).await;
        let out = match result {
            Ok(_) => Ok(()),
            Err(err) => {
                // Whatever is left of the transaction goes; a connection that cannot even
                // roll back is not handed to anyone else.
                if sqlx::raw_sql("ROLLBACK").execute(&mut *conn).await.is_err() {
                    conn.close_on_drop();
                }
                Err(match err {
                    sqlx::Error::Database(_) => StoreError::from(err),
                    other => StoreError::CommitUnknown(other),
                })
            }
        };
        drop(conn);
        out
    }
}

impl<DB: Database> Drop for Session<DB>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    fn drop(&mut self) {
        let Some(mut conn) = self.conn.take() else {
            return;
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    if let Err(err) = rollback::<DB>(&mut conn).await {
                        tracing::warn!(error = %err, "rollback of an abandoned transaction failed; closing its connection");
                        conn.close_on_drop();
                    }
                    drop(conn);
                });
            }
            // No runtime (shutting down): closing the connection ends the transaction.
            Err(_) => {
                conn.close_on_drop();
                drop(conn);
            }
        }
    }
}

async fn rollback<DB: Database>(conn: &mut PoolConnection<DB>) -> Result<(), sqlx::Error>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    sqlx::raw_sql("ROLLBACK").execute(&mut **conn).await.map(|_| ())
}
