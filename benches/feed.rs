//! Change-feed benchmark: do the events API and webhooks keep up with the rate at which SCIM
//! writes happen? Runs a real scimd (in-process, on 127.0.0.1:0) on a fresh database, writes
//! `BENCH_WRITES` users through `/Bulk` (the fastest way an IdP writes), then measures, in the
//! same run: the write rate, the rate at which the events API hands those events to a reader
//! (pages of 1,000), and the rate at which webhooks deliver them to a receiver on loopback
//! (the real signed HTTP path). `cargo bench --bench feed` (env: BENCH_STORE=postgres (default)
//! or sqlite, TEST_DATABASE_URL as for the tests). See docs/benchmarks.md.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use uuid::Uuid;

use scimd::config::Config;
use scimd::server::{self, App};
use scimd::service::{Idp, TokenKind};

#[tokio::main]
async fn main() {
    let writes: usize = std::env::var("BENCH_WRITES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5000);
    let store = std::env::var("BENCH_STORE").unwrap_or_else(|_| "postgres".into());
    let admin = std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let db = format!("scimd_bench_{}", Uuid::new_v4().simple());
    let dir = std::env::temp_dir().join(&db);
    let mut config = Config::load(None).expect("configuration");
    config.database_url = match store.as_str() {
        "postgres" => format!("{}/{db}", admin.rsplit_once('/').unwrap().0),
        _ => {
            std::fs::create_dir_all(&dir).unwrap();
            format!("sqlite://{}/scimd.db", dir.display())
        }
    };
    config.listen = "127.0.0.1:0".into();
    config.rate_limit_per_second = 0;
    config.webhook_allow_private_networks = true;
    let app = App::open(&config).await.expect("database");
    let listener = server::bind(&config.listen).await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(server::serve(
        listener,
        app.router(&config),
        std::future::pending(),
        Duration::from_secs(1),
    ));
    let account = app.service.create_account("bench").await.unwrap().id;
    let scim = app
        .service
        .create_token(account, TokenKind::Scim, Some(Idp::Okta), None, None)
        .await
        .unwrap()
        .token;
    let admin_token = app
        .service
        .create_token(account, TokenKind::Admin, None, None, None)
        .await
        .unwrap()
        .token;
    let client = reqwest::Client::new();
    let api = format!("{origin}/api/accounts/{account}");

    // A receiver that answers 204 and counts.
    let received = Arc::new(AtomicUsize::new(0));
    let counter = received.clone();
    let hook = axum::Router::new().route(
        "/hook",
        axum::routing::post(move || {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::Relaxed);
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    let hook_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook_url = format!("http://{}/hook", hook_listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(hook_listener, hook).await });
    let res = client
        .post(format!("{api}/webhooks"))
        .bearer_auth(&admin_token)
        .json(&json!({"url": hook_url, "types": ["user.created"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let start: Value = client
        .get(format!("{api}/events?limit=0"))
        .bearer_auth(&admin_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let start = start["next_cursor"].as_str().unwrap().to_string();

    // Writes: /Bulk of 500 users each, one after another.
    let t = Instant::now();
    for chunk in 0..writes.div_ceil(500) {
        let ops: Vec<Value> = (0..500)
            .filter(|i| chunk * 500 + i < writes)
            .map(|i| {
                json!({"method": "POST", "path": "/Users", "bulkId": format!("b{i}"),
                            "data": {"userName": format!("feed{chunk}-{i}@bench.example")}})
            })
            .collect();
        let res = client
            .post(format!("{origin}/scim/account/{account}/Bulk"))
            .bearer_auth(&scim)
            .header("content-type", "application/scim+json")
            .body(
                json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": ops})
                    .to_string(),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }
    let write_secs = t.elapsed().as_secs_f64();

    // The events API, from before the writes to the end.
    let t = Instant::now();
    let mut after = start;
    let mut read = 0;
    loop {
        let page: Value = client
            .get(format!(
                "{api}/events?after={after}&limit=1000&types=user.created"
            ))
            .bearer_auth(&admin_token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        read += page["events"].as_array().unwrap().len();
        after = page["next_cursor"].as_str().unwrap().to_string();
        if page["has_more"] != true {
            break;
        }
    }
    let read_secs = t.elapsed().as_secs_f64();
    assert_eq!(read, writes, "the feed holds every write");

    // Webhooks: rounds until every event is delivered.
    let t = Instant::now();
    while received.load(Ordering::Relaxed) < writes {
        app.service.deliver_webhooks().await.unwrap();
    }
    let hook_secs = t.elapsed().as_secs_f64();

    let rate = |n: usize, s: f64| n as f64 / s;
    println!("store: {store}, {writes} users");
    println!(
        "writes (/Bulk of 500)      {:>9.0} users/s",
        rate(writes, write_secs)
    );
    println!(
        "events API (pages of 1000) {:>9.0} events/s  ({:.1}x the write rate)",
        rate(read, read_secs),
        write_secs / read_secs
    );
    println!(
        "webhooks (one POST each)   {:>9.0} events/s  ({:.1}x the write rate)",
        rate(writes, hook_secs),
        write_secs / hook_secs
    );
    app.store.close().await;
    let _ = std::fs::remove_dir_all(&dir);
}
