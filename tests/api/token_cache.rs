//! Verified tokens are cached per process (docs/scaling.md, "Tokens"), and whatever a cached
//! check relied on stops it at once when it changes: through this server, through another
//! process on the same database (the CLI, a replica), and — on Postgres — through an
//! operator's own SQL. The `/metrics` counters show the cache at work.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;

use crate::adminkit::Admin;
use crate::harness::{TestApp, backend, eventually};
use crate::observability::{sample, scrape};
use scimd::store::Backend;

/// The `scimd_token_cache_*` figure `name` from `/metrics`.
pub(crate) async fn cache_figure(origin: &str, name: &str) -> f64 {
    let text = scrape(&crate::harness::http_client(), origin).await;
    sample(&text, &format!("scimd_token_cache_{name}"))
}

/// Uses the app's token until its check is answered from the cache (on Postgres the cache
/// turns on once the process listens for changes, a moment after the first request).
async fn warm(app: &TestApp) {
    eventually("the token check is cached", Duration::from_secs(5), || async {
        assert_eq!(app.get("/Users").await.status, 200);
        let before = cache_figure(&app.origin, "hits_total").await;
        assert_eq!(app.get("/Users").await.status, 200);
        let after = cache_figure(&app.origin, "hits_total").await;
        if after > before { Ok(()) } else { Err(format!("hits {before} → {after}")) }
    })
    .await;
    assert_eq!(cache_figure(&app.origin, "active").await, 1.0);
}

#[tokio::test]
async fn a_cached_token_revoked_through_the_server_is_refused_at_once() {
    let app = TestApp::spawn().await;
    let admin = Admin::new(&app).await;
    warm(&app).await;
    assert_eq!(
        admin.delete(&format!("/scim/tokens/{}", app.token_id)).await.status,
        204
    );
    let res = app.get("/Users").await;
    res.assert_error(401, None);
    assert!(res.text.contains("revoked"), "{}", res.text);
}

#[tokio::test]
async fn a_cached_token_regenerated_is_refused_at_once_and_its_successor_works() {
    let app = TestApp::spawn().await;
    let admin = Admin::new(&app).await;
    warm(&app).await;
    let res = admin
        .send(
            Method::POST,
            &format!("/scim/tokens/{}/regenerate", app.token_id),
            None,
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    app.get("/Users").await.assert_error(401, None);
    let fresh = res.body["token"].as_str().unwrap();
    let res = app
        .send(Method::GET, &app.scim("/Users"), Some(fresh), None, &[])
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
}

#[tokio::test]
async fn disabling_scim_stops_a_cached_token_at_once() {
    let app = TestApp::spawn().await;
    let admin = Admin::new(&app).await;
    warm(&app).await;
    let res = admin
        .post("/scim/disable", json!({"confirmation": "DISABLE"}))
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    app.get("/Users").await.assert_error(403, None);
}

/// The cached check carries the account's schema version: a schema declared after the token
/// was cached is served on the very next request.
#[tokio::test]
async fn a_schema_declared_after_the_check_was_cached_is_used_at_once() {
    let app = TestApp::spawn().await;
    let admin = Admin::new(&app).await;
    warm(&app).await;
    let urn = "urn:ietf:params:scim:schemas:extension:cachetest:2.0:User";
    let res = admin
        .post(
            "/schemas",
            json!({"resource_type": "User", "schema": {
                "id": urn, "name": "Cache", "attributes": [
                    {"name": "costCenter", "type": "string", "multiValued": false, "required": false}
                ]}}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    let res = app.get("/ResourceTypes/User").await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert!(res.text.contains(urn), "{}", res.text);
}

/// Another process on the same database — the CLI, or a second server — revokes the token:
/// on SQLite the next request is refused (the `.auth` file beside the database has grown); on
/// Postgres as soon as the notification arrives, measured here.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_revoked_by_another_process_is_refused() {
    let app = TestApp::spawn().await;
    warm(&app).await;
    let other = scimd::server::App::open(&app.config).await.unwrap();
    other
        .service
        .revoke_token(app.account, app.token_id)
        .await
        .unwrap();
    let revoked_at = Instant::now();
    match backend() {
        Backend::Sqlite => app.get("/Users").await.assert_error(401, None),
        Backend::Postgres => {
            eventually("the revocation reaches the server", Duration::from_secs(2), || async {
                let status = app.get("/Users").await.status;
                if status == 401 { Ok(()) } else { Err(format!("{status}")) }
            })
            .await;
            eprintln!("revocation by another process refused after {:?}", revoked_at.elapsed());
        }
    }
    other.store.close().await;
}

/// What no signal covers is bounded by `token_cache_seconds`. On SQLite an operator's own SQL
/// is such a change: the cached check goes on until its age runs out (by the server's clock).
/// On Postgres the triggers notify every process of it at commit.
#[tokio::test]
async fn an_operators_own_sql_is_seen_by_the_triggers_or_within_the_cache_age() {
    let app = TestApp::spawn().await;
    warm(&app).await;
    let mut conn = app.sql().await;
    sqlx::query("UPDATE accounts SET scim_enabled = false")
        .execute(&mut conn)
        .await
        .unwrap();
    match backend() {
        Backend::Sqlite => {
            assert_eq!(app.get("/Users").await.status, 200, "served from the cache");
            app.advance(Duration::from_secs(app.config.token_cache_seconds));
            app.get("/Users").await.assert_error(403, None);
        }
        Backend::Postgres => {
            eventually("the trigger's notification arrives", Duration::from_secs(2), || async {
                let status = app.get("/Users").await.status;
                if status == 403 { Ok(()) } else { Err(format!("{status}")) }
            })
            .await;
        }
    }
}

/// `token_cache_seconds = 0`: every check reads the database; nothing is counted as a hit.
#[tokio::test]
async fn a_zero_cache_age_turns_the_cache_off() {
    let app = TestApp::spawn_with(|c| c.token_cache_seconds = 0).await;
    for _ in 0..3 {
        assert_eq!(app.get("/Users").await.status, 200);
    }
    assert_eq!(cache_figure(&app.origin, "hits_total").await, 0.0);
    assert_eq!(cache_figure(&app.origin, "active").await, 0.0);
}
