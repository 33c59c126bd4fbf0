//! The token cache across processes on one Postgres database (docs/scaling.md, "Tokens"):
//! a revocation through one `scimd serve` stops the token on the other, measured; and a
//! process that lost its listening connection does not trust what it cached meanwhile.

use std::time::{Duration, Instant};

use sqlx::Connection;

use crate::adminkit::Admin;
use crate::harness::{TestApp, eventually};

async fn status(origin: &str, account: uuid::Uuid, token: &str) -> u16 {
    crate::harness::http_client()
        .get(format!("{origin}/scim/account/{account}/Users?count=1"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn hits(origin: &str) -> f64 {
    crate::token_cache::cache_figure(origin, "hits_total").await
}

/// Two `scimd serve` processes; the token is cached on both; revoked through the first, it
/// is refused by the second within a notification's delay (printed; bounded here at 1 s).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_through_one_process_stops_the_token_on_the_other() {
    use crate::ops::{Scimd, database_env};
    let app = TestApp::spawn().await;
    let admin = Admin::new(&app).await;
    let env = database_env(&app.config.database_url);
    let dir = std::env::temp_dir();
    let first = Scimd::start(&["serve", "--listen", "127.0.0.1:0"], &env, false, &dir).await;
    let second = Scimd::start(&["serve", "--listen", "127.0.0.1:0"], &env, false, &dir).await;
    for process in [&first, &second] {
        eventually("the token check is cached", Duration::from_secs(5), || async {
            assert_eq!(status(&process.origin, app.account, &app.token).await, 200);
            let before = hits(&process.origin).await;
            assert_eq!(status(&process.origin, app.account, &app.token).await, 200);
            let after = hits(&process.origin).await;
            if after > before {
                Ok(())
            } else {
                Err(format!("hits {before} → {after}"))
            }
        })
        .await;
    }
    let res = crate::harness::http_client()
        .delete(format!(
            "{}/api/accounts/{}/scim/tokens/{}",
            first.origin, app.account, app.token_id
        ))
        .bearer_auth(&admin.token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 204);
    let revoked = Instant::now();
    assert_eq!(
        status(&first.origin, app.account, &app.token).await,
        401,
        "at once where revoked"
    );
    let mut tries = 0;
    loop {
        tries += 1;
        match status(&second.origin, app.account, &app.token).await {
            401 => break,
            200 if revoked.elapsed() < Duration::from_secs(1) => {}
            other => panic!(
                "the other process answered {other} {:?} after the revocation",
                revoked.elapsed()
            ),
        }
    }
    eprintln!(
        "the other process refused the revoked token {:?} after the revocation's answer ({tries} requests)",
        revoked.elapsed()
    );
    drop((first, second));
}

/// While the listening connection is gone, changes go unheard: the cache is off, and what it
/// held before is not trusted once listening again. (The server's clock stands still in
/// tests, so without that the cached check would be served for ever.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_made_while_the_listener_was_down_is_not_missed() {
    let app = TestApp::spawn().await;
    eventually("the token check is cached", Duration::from_secs(5), || async {
        assert_eq!(app.get("/Users").await.status, 200);
        let before = hits(&app.origin).await;
        assert_eq!(app.get("/Users").await.status, 200);
        let after = hits(&app.origin).await;
        if after > before {
            Ok(())
        } else {
            Err(format!("hits {before} → {after}"))
        }
    })
    .await;
    let mut db = sqlx::PgConnection::connect(&app.config.database_url)
        .await
        .unwrap();
    let (pid,): (i32,) = sqlx::query_as(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1",
    )
    .bind(scimd::store::auth_signal::LISTENER_NAME)
    .fetch_one(&mut db)
    .await
    .unwrap();
    sqlx::query("SELECT pg_terminate_backend($1)")
        .bind(pid)
        .execute(&mut db)
        .await
        .unwrap();
    let url = &app.config.database_url;
    eventually(
        "the listener's backend is gone",
        Duration::from_secs(5),
        || async move {
            match backends(url, pid).await? {
                (0, _) => Ok(()),
                _ => Err("still there".into()),
            }
        },
    )
    .await;
    // Changed while nobody listens, and no request comes until the process listens again.
    sqlx::query("UPDATE accounts SET scim_enabled = false")
        .execute(&mut db)
        .await
        .unwrap();
    eventually(
        "a new listening connection",
        Duration::from_secs(10),
        || async move {
            match backends(url, pid).await? {
                (_, 1) => Ok(()),
                (_, n) => Err(format!("{n}")),
            }
        },
    )
    .await;
    eventually("listening again", Duration::from_secs(10), || async {
        if crate::token_cache::cache_figure(&app.origin, "active").await == 1.0 {
            Ok(())
        } else {
            Err("not active".into())
        }
    })
    .await;
    app.get("/Users").await.assert_error(403, None);
}

/// Of the test database's backends: how many have `pid` (0 once it is gone), and how many
/// other ones are a token listener.
async fn backends(url: &str, pid: i32) -> Result<(i64, i64), String> {
    let mut db = sqlx::PgConnection::connect(url)
        .await
        .map_err(|e| e.to_string())?;
    sqlx::query_as(
        "SELECT count(*) FILTER (WHERE pid = $1),
                count(*) FILTER (WHERE application_name = $2 AND pid <> $1)
         FROM pg_stat_activity WHERE datname = current_database()",
    )
    .bind(pid)
    .bind(scimd::store::auth_signal::LISTENER_NAME)
    .fetch_one(&mut db)
    .await
    .map_err(|e| e.to_string())
}
