//! The kept counters (`resource_counts`: the totals of unfiltered lists; `audit_activity`: the
//! console's chart) are spread over several rows per account so that concurrent writers do not
//! queue for one row lock until commit (migration 0015). A writer takes a row no other
//! transaction holds, and adds a row only when every one is held. Only Postgres has concurrent
//! writers, so this module is compiled into `api_postgres` only.

use std::time::Duration;

use serde_json::json;
use sqlx::{Connection, Row};

use crate::harness::TestApp;

/// The account's counter rows of both tables, and the events the chart counts.
async fn counter_rows(db: &mut sqlx::PgConnection, account: uuid::Uuid) -> (i64, i64, i64, i64) {
    let row = sqlx::query(
        "SELECT (SELECT count(*) FROM resource_counts WHERE account_id = $1) AS count_rows,
                (SELECT count(*) FROM audit_activity WHERE account_id = $1) AS activity_rows,
                (SELECT COALESCE(sum(n), 0)::bigint FROM audit_activity WHERE account_id = $1) AS counted,
                (SELECT count(*) FROM audit_events WHERE account_id = $1) AS events",
    )
    .bind(account)
    .fetch_one(db)
    .await
    .unwrap();
    (
        row.get("count_rows"),
        row.get("activity_rows"),
        row.get("counted"),
        row.get("events"),
    )
}

#[tokio::test]
async fn a_write_does_not_wait_for_counter_rows_another_transaction_holds() {
    let app = TestApp::spawn().await;
    let first = app.user("first@counters.example").await;
    let mut db = sqlx::PgConnection::connect(&app.config.database_url)
        .await
        .unwrap();
    // Every shard the counters used to choose by backend (pg_backend_pid() % 16) exists, for
    // the day and source of this test's writes too, and another transaction holds them all, as
    // sixteen writers in flight would.
    sqlx::query(
        "INSERT INTO resource_counts (account_id, shard, users, groups)
         SELECT $1, s, 0, 0 FROM generate_series(0, 15) AS s ON CONFLICT DO NOTHING",
    )
    .bind(app.account)
    .execute(&mut db)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO audit_activity (account_id, day, source, shard, n)
         SELECT DISTINCT account_id, day, source, s, 0 FROM audit_activity, generate_series(0, 15) AS s
         WHERE account_id = $1 ON CONFLICT DO NOTHING",
    )
    .bind(app.account)
    .execute(&mut db)
    .await
    .unwrap();
    let (rows_before, activity_before, _, _) = counter_rows(&mut db, app.account).await;
    assert!(
        rows_before >= 16 && activity_before >= 16,
        "{rows_before} {activity_before}"
    );
    let mut holder = sqlx::PgConnection::connect(&app.config.database_url)
        .await
        .unwrap();
    sqlx::query("BEGIN").execute(&mut holder).await.unwrap();
    for sql in [
        "SELECT 1 FROM resource_counts WHERE account_id = $1 FOR UPDATE",
        "SELECT 1 FROM audit_activity WHERE account_id = $1 FOR UPDATE",
    ] {
        sqlx::query(sql)
            .bind(app.account)
            .execute(&mut holder)
            .await
            .unwrap();
    }

    // A create, a group and a delete go through while every row is held: each adds a row of
    // its own instead of waiting for the holder's commit (before migration 0015 each of them
    // waited for it, here for ever).
    let writes = async {
        let second = app.user("second@counters.example").await;
        app.group("Counted", &[&second]).await;
        let res = app.delete(&format!("/Users/{first}")).await;
        assert_eq!(res.status, 204, "{}", res.text);
    };
    let done = tokio::time::timeout(Duration::from_secs(20), writes).await;
    sqlx::query("ROLLBACK").execute(&mut holder).await.unwrap();
    assert!(
        done.is_ok(),
        "a write waited for counter rows another transaction held"
    );

    let (rows_after, activity_after, counted, events) = counter_rows(&mut db, app.account).await;
    assert!(rows_after > rows_before, "no count row was added: {rows_after}");
    assert!(
        activity_after > activity_before,
        "no activity row was added: {activity_after}"
    );
    assert_eq!(
        counted, events,
        "the chart's count is not the number of audit events"
    );
    let users = app.get("/Users?count=0").await;
    assert_eq!(users.body["totalResults"], 1, "{}", users.text);
    let groups = app.get("/Groups?count=0").await;
    assert_eq!(groups.body["totalResults"], 1, "{}", groups.text);

    // With no row held, writes one after another reuse the rows there are.
    for i in 0..5 {
        app.user(&format!("again{i}@counters.example")).await;
    }
    let (rows_again, activity_again, counted, events) = counter_rows(&mut db, app.account).await;
    assert_eq!((rows_again, activity_again), (rows_after, activity_after));
    assert_eq!(counted, events);
}

#[tokio::test]
async fn concurrent_writers_keep_exact_totals() {
    let app = TestApp::spawn_with(|c| c.rate_limit_per_second = 0).await;
    let creates = (0..48).map(|i| {
        let app = &app;
        async move {
            let res = app
                .post(
                    "/Users",
                    json!({
                        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                        "userName": format!("burst{i}@counters.example"),
                        "emails": [{"value": format!("burst{i}@counters.example"), "primary": true}]
                    }),
                )
                .await;
            assert_eq!(res.status, 201, "{}", res.text);
            res.body["id"].as_str().unwrap().to_string()
        }
    });
    let ids = futures_util::future::join_all(creates).await;
    // Half of them deleted again, concurrently too.
    let deletes = ids.iter().step_by(2).map(|id| {
        let app = &app;
        async move {
            let res = app.delete(&format!("/Users/{id}")).await;
            assert_eq!(res.status, 204, "{}", res.text);
        }
    });
    futures_util::future::join_all(deletes).await;

    let mut db = sqlx::PgConnection::connect(&app.config.database_url)
        .await
        .unwrap();
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM users WHERE account_id = $1")
        .bind(app.account)
        .fetch_one(&mut db)
        .await
        .unwrap();
    assert_eq!(stored, 24);
    let users = app.get("/Users?count=0").await;
    assert_eq!(users.body["totalResults"], 24, "{}", users.text);
    let (rows, _, counted, events) = counter_rows(&mut db, app.account).await;
    assert_eq!(
        counted, events,
        "the chart's count is not the number of audit events"
    );
    // Never more rows than writers could be in flight at once (the pool's connections).
    assert!(
        rows <= i64::from(app.config.database_max_connections) + 1,
        "{rows} count rows for {} connections",
        app.config.database_max_connections
    );
}
