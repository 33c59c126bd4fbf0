//! The outbox gap, forced: a write whose event row was inserted first commits after a write
//! whose event row was inserted later. A feed ordered by insertion would hand the reader the
//! later one and never the earlier; scimd's feed (numbered after commit, `store/events.rs`)
//! hands both, each once. And two serving processes on one database share webhook deliveries.

use std::time::Duration;

use serde_json::{Value, json};
use sqlx::Connection;

use crate::adminkit::Admin;
use crate::harness::{TestApp, eventually};

#[tokio::test]
async fn an_event_committed_late_is_not_skipped() {
    let app = TestApp::spawn().await;
    let admin = Admin::new(&app).await;
    let mut db = sqlx::PgConnection::connect(&app.config.database_url)
        .await
        .unwrap();
    // Test-only: the transaction writing the event of the user with externalId "slow" stalls
    // for 3 s after inserting it, before it commits.
    for sql in [
        "CREATE FUNCTION stall() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN IF NEW.external_id = 'slow' THEN PERFORM pg_sleep(3); END IF; RETURN NEW; END $$",
        "CREATE TRIGGER stall AFTER INSERT ON events FOR EACH ROW EXECUTE FUNCTION stall()",
    ] {
        sqlx::query(sql).execute(&mut db).await.unwrap();
    }
    let start = admin.get("/events?limit=0").await.body["next_cursor"]
        .as_str()
        .unwrap()
        .to_string();
    let slow = {
        let (url, token) = (app.scim("/Users"), app.token.clone());
        tokio::spawn(async move {
            let res = crate::harness::http_client()
                .post(url)
                .bearer_auth(token)
                .header("content-type", "application/scim+json")
                .body(json!({"userName": "slow", "externalId": "slow"}).to_string())
                .send()
                .await
                .unwrap();
            assert_eq!(res.status().as_u16(), 201);
        })
    };
    // Once the slow write's event row is in (it is sleeping in the trigger)…
    eventually("the slow write stalls after inserting its event", Duration::from_secs(10), || {
        let url = app.config.database_url.clone();
        async move {
            let mut db = sqlx::PgConnection::connect(&url).await.map_err(|e| e.to_string())?;
            let (n,): (i64,) = sqlx::query_as(
                // This test's database is its own, so the one sleeping statement in it is the
                // slow write (its text is longer than pg_stat_activity keeps: no match on it).
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep' AND datname = current_database()",
            )
            .fetch_one(&mut db)
            .await
            .map_err(|e| e.to_string())?;
            if n == 1 { Ok(()) } else { Err(format!("{n} stalled")) }
        }
    })
    .await;
    // …a fast write inserts its own (a higher id) and commits first; the reader sees it.
    let res = app
        .post("/Users", json!({"userName": "fast", "externalId": "fast"}))
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    let page = admin.get(&format!("/events?after={start}")).await;
    assert_eq!(page.status, 200, "{}", page.text);
    let external = |page: &Value| -> Vec<String> {
        page["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["resource"]["external_id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(external(&page.body), ["fast"], "{}", page.text);
    let cursor = page.body["next_cursor"].as_str().unwrap().to_string();
    // The slow write commits; the reader, going on from its cursor, gets it.
    tokio::time::timeout(Duration::from_secs(20), slow)
        .await
        .unwrap()
        .unwrap();
    let page = admin.get(&format!("/events?after={cursor}&wait=5")).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert_eq!(external(&page.body), ["slow"], "{}", page.text);
}

/// Two `scimd serve` processes on one Postgres database, each running its own delivery rounds
/// every second: every event reaches the endpoint, and none twice (the endpoint's lease keeps
/// one process at a time on it).
#[tokio::test]
async fn two_serving_processes_deliver_every_event_once() {
    use crate::ops::{Scimd, database_env};
    let app = TestApp::spawn().await;
    let admin = Admin::new(&app).await;
    let (url, inbox) = crate::webhooks::receiver().await;
    // Both processes may deliver to the receiver on loopback.
    let mut env = database_env(&app.config.database_url);
    env.push(("SCIMD_WEBHOOK_ALLOW_PRIVATE_NETWORKS".into(), "true".into()));
    let dir = std::env::temp_dir();
    let first = Scimd::start(&["serve", "--listen", "127.0.0.1:0"], &env, false, &dir).await;
    let second = Scimd::start(&["serve", "--listen", "127.0.0.1:0"], &env, false, &dir).await;
    let res = crate::harness::http_client()
        .post(format!("{}/api/accounts/{}/webhooks", first.origin, app.account))
        .bearer_auth(&admin.token)
        .json(&json!({"url": url, "types": ["user.created"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 201);
    for i in 0..30 {
        let origin = if i % 2 == 0 { &first.origin } else { &second.origin };
        let res = crate::harness::http_client()
            .post(format!("{origin}/scim/account/{}/Users", app.account))
            .bearer_auth(&app.token)
            .header("content-type", "application/scim+json")
            .body(json!({"userName": format!("replica{i}")}).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 201);
    }
    eventually(
        "every event is delivered by the two processes",
        Duration::from_secs(60),
        || {
            let n = inbox.ids().len();
            async move {
                if n >= 30 {
                    Ok(())
                } else {
                    Err(format!("{n} delivered"))
                }
            }
        },
    )
    .await;
    let ids = inbox.ids();
    let mut distinct = ids.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(ids.len(), distinct.len(), "an event sent twice: {ids:?}");
    assert_eq!(ids.len(), 30);
    drop((first, second));
}
