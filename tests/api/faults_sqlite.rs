//! SQLite's fault: another process holds the database file's write lock (a backup tool, an
//! operator's `sqlite3` shell left in a transaction, a second scimd). Writes then wait for the
//! busy timeout and get a SCIM 503 with Retry-After — never a hang, a 500 or a partial write —
//! reads go on (WAL: readers never wait for a writer), and writes work again as soon as the
//! lock is released.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;

use crate::harness::TestApp;

#[tokio::test]
async fn a_write_lock_held_elsewhere_is_503_with_retry_after_and_scimd_recovers() {
    let app = TestApp::spawn().await;
    let id = app.user("locked@example.com").await;
    let rename = |name: &str| {
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
               "Operations": [{"op": "replace", "path": "displayName", "value": name}]})
    };

    // A connection of its own, as another process has: it locks the file itself, past
    // scimd's in-process queue of writers.
    let mut other = app.sql().await;
    sqlx::query("BEGIN IMMEDIATE").execute(&mut other).await.unwrap();

    let started = Instant::now();
    let path = format!("/Users/{id}");
    let (first, second, read) = tokio::join!(
        app.patch(&path, rename("Locked out")),
        app.post("/Users", json!({"userName": "queued@example.com"})),
        async {
            // While both writers wait, a read is answered at once, and the database is ready
            // (it answers; a load balancer has nothing to drain).
            tokio::time::sleep(Duration::from_millis(500)).await;
            let res = app.get(&path).await;
            let at = started.elapsed();
            let ready = app
                .raw(Method::GET, &format!("{}/readyz", app.origin), &[], None)
                .await;
            assert_eq!(ready.status, 200, "{}", ready.text);
            (res, at)
        }
    );
    for res in [&first, &second] {
        res.assert_error(503, None);
        assert_eq!(res.header("retry-after"), Some("5"), "{:?}", res.headers);
    }
    let waited = started.elapsed();
    assert!(
        waited < Duration::from_secs(20),
        "answered after the busy timeout, not hung: {waited:?}"
    );
    let (read, read_at) = read;
    assert_eq!(read.status, 200, "{}", read.text);
    assert!(
        read_at < Duration::from_secs(5),
        "the read did not wait for the lock: {read_at:?}"
    );

    sqlx::query("ROLLBACK").execute(&mut other).await.unwrap();
    drop(other);

    let res = app.get(&path).await;
    assert_ne!(
        res.body["displayName"], "Locked out",
        "the write refused during the lock did not happen"
    );
    let listed = app
        .get("/Users?filter=userName%20eq%20%22queued%40example.com%22")
        .await;
    assert_eq!(listed.body["totalResults"], 0, "{}", listed.text);

    let res = app.patch(&path, rename("Back")).await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["displayName"], "Back");
}
