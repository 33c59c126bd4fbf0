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
    // Each write's own wait, from when it was sent.
    let timed = |res: crate::harness::Resp, sent: Instant| (res, sent.elapsed());
    let (first, second, read) = tokio::join!(
        async {
            let sent = Instant::now();
            timed(app.patch(&path, rename("Locked out")).await, sent)
        },
        async {
            // Queued behind the first for this process's turn, which it gets only when the
            // first gives up (10 s), 3 s into its own wait.
            tokio::time::sleep(Duration::from_secs(3)).await;
            let sent = Instant::now();
            timed(
                app.post("/Users", json!({"userName": "queued@example.com"}))
                    .await,
                sent,
            )
        },
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
    for (res, waited) in [&first, &second] {
        res.assert_error(503, None);
        assert_eq!(res.header("retry-after"), Some("5"), "{:?}", res.headers);
        // One write deadline (10 s) each, the queued one included: its wait for this
        // process's turn and for the other process's lock share the deadline (it would
        // otherwise wait 7 s for the turn, then 10 s more for the lock).
        assert!(
            *waited > Duration::from_secs(9) && *waited < Duration::from_secs(12),
            "answered at the write deadline, not before and not hung: {waited:?}"
        );
    }
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
