//! SQLite's fault: another process holds the database file's write lock (a backup tool, an
//! operator's `sqlite3` shell left in a transaction, a second scimd). Writes then wait for the
//! busy timeout and get a SCIM 503 with Retry-After — never a hang, a 500 or a partial write —
//! reads go on (WAL: readers never wait for a writer), and writes work again as soon as the
//! lock is released.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;

use crate::harness::{TestApp, eventually};

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
            // first gives up (10 s), 3 s into its own wait. SQLite's busy timeout runs on wall
            // time, so this offset is wall time too.
            tokio::time::sleep(Duration::from_secs(3)).await;
            let sent = Instant::now();
            timed(
                app.post("/Users", json!({"userName": "queued@example.com"}))
                    .await,
                sent,
            )
        },
        async {
            // While a writer waits, a read is answered at once, and the database is ready
            // (it answers; a load balancer has nothing to drain). The writer is waiting once
            // the server counts it in flight, besides the scrape that asks.
            eventually("the first write is in flight", Duration::from_secs(5), || async {
                let metrics = app
                    .raw(Method::GET, &format!("{}/metrics", app.origin), &[], None)
                    .await
                    .text;
                match crate::observability::sample(&metrics, "scimd_http_requests_in_flight") {
                    n if n >= 2.0 => Ok(()),
                    n => Err(format!("{n} requests in flight")),
                }
            })
            .await;
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

/// A small tmpfs of its own, so the test can fill the disk under the database for real.
/// Mounting needs root, as CI has; elsewhere set SCIMD_TEST_SKIP_ROOT=1 to skip it (it then
/// says so).
pub struct Tmpfs(pub std::path::PathBuf);

impl Tmpfs {
    pub fn mount(size: &str) -> Option<Tmpfs> {
        if std::env::var_os("SCIMD_TEST_SKIP_ROOT").is_some() {
            eprintln!("SKIPPED: SCIMD_TEST_SKIP_ROOT is set, so the disk-full test does not mount a tmpfs");
            return None;
        }
        let dir = std::env::temp_dir().join(format!("scimd_test_full_{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size},mode=0700"), "tmpfs"])
            .arg(&dir)
            .status()
            .expect("runs mount");
        assert!(
            status.success(),
            "mounting a tmpfs needs root (CI runs as root); set SCIMD_TEST_SKIP_ROOT=1 to skip this test"
        );
        Some(Tmpfs(dir))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
        let _ = std::fs::remove_dir(&self.0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_is_503_not_ready_and_writes_resume_once_space_is_freed() {
    let Some(disk) = Tmpfs::mount("6m") else { return };
    let url = format!("sqlite://{}/scimd.db", disk.0.display());
    // Up to 2,000 writes on a test clock that stands still: rate limiting off, or the limiter
    // (which never refills) would answer 429 before the disk does.
    let app = TestApp::spawn_with(move |c| {
        c.database_url = url;
        c.rate_limit_per_second = 0;
    })
    .await;
    let first = app.user("before-full@example.com").await;
    let mut acknowledged = vec!["before-full@example.com".to_string()];

    // Fill the disk.
    let filler = disk.0.join("filler");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&filler).unwrap();
        let chunk = vec![0u8; 16 * 1024];
        while f.write_all(&chunk).is_ok() {}
        let _ = f.sync_all();
    }

    let mut refused = None;
    for i in 0..2000 {
        let name = format!("full-{i}@example.com");
        let res = app
            .post(
                "/Users",
                json!({"userName": name, "displayName": "x".repeat(1500)}),
            )
            .await;
        match res.status {
            201 => acknowledged.push(name),
            503 => {
                refused = Some(res);
                break;
            }
            other => panic!("a write on a full disk answered {other}: {}", res.text),
        }
    }
    let refused = refused.expect("a write was refused once the disk was full");
    assert_eq!(refused.header("retry-after"), Some("5"), "{:?}", refused.headers);
    let detail = refused.body["detail"].as_str().unwrap_or_default().to_string();
    assert!(
        detail.contains("disk is full"),
        "the detail names the cause: {detail}"
    );

    // Later writes are refused the same way (no poisoned connection, no 500) …
    for i in 0..5 {
        let res = app
            .post(
                "/Users",
                json!({"userName": format!("still-full-{i}@example.com"), "displayName": "x".repeat(1500)}),
            )
            .await;
        assert!(matches!(res.status, 201 | 503), "{}: {}", res.status, res.text);
        if res.status == 201 {
            acknowledged.push(format!("still-full-{i}@example.com"));
        }
    }
    // … the server says it is not ready, and why …
    let ready = app
        .raw(Method::GET, &format!("{}/readyz", app.origin), &[], None)
        .await;
    ready.assert_error(503, None);
    assert!(ready.text.contains("disk is full"), "{}", ready.text);
    // … and reads go on.
    assert_eq!(app.get(&format!("/Users/{first}")).await.status, 200);

    // Space is freed: writes succeed again and the server is ready, with no restart.
    std::fs::remove_file(&filler).unwrap();
    // The health check retries on wall time of its own: polled.
    eventually("ready again by itself", Duration::from_secs(5), || async {
        let ready = app
            .raw(Method::GET, &format!("{}/readyz", app.origin), &[], None)
            .await;
        if ready.status == 200 {
            Ok(())
        } else {
            Err(ready.text)
        }
    })
    .await;
    let res = app
        .post("/Users", json!({"userName": "after-full@example.com"}))
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    acknowledged.push("after-full@example.com".into());

    // Nothing acknowledged was lost.
    let mut conn = app.sql().await;
    let stored: Vec<String> = sqlx::query_scalar("SELECT user_name FROM users")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    for name in &acknowledged {
        assert!(stored.contains(name), "acknowledged {name} is stored");
    }
}

/// The console answers a database that cannot write as the APIs do: 503 with `Retry-After`, a
/// page that says to try again, nothing half-written; and it works again once the lock is gone.
#[tokio::test]
async fn a_console_form_during_a_write_lock_is_503_with_retry_after() {
    let app = TestApp::spawn().await;
    let token = crate::adminkit::Admin::new(&app).await.token;
    let mut console = crate::console::Console::new(&app);
    assert_eq!(console.sign_in(&token).await.status, 303);
    let csrf = console.csrf().await;
    let mut other = app.sql().await;
    sqlx::query("BEGIN IMMEDIATE").execute(&mut other).await.unwrap();
    let page = console
        .post(&console.at("/groups"), &[("name", "Blocked"), ("csrf", &csrf)])
        .await;
    assert_eq!(page.status, 503, "{}", page.body);
    assert_eq!(page.headers["retry-after"], "5");
    assert!(page.body.contains("Try again in a moment"), "{}", page.body);
    sqlx::query("ROLLBACK").execute(&mut other).await.unwrap();
    assert_eq!(
        app.get("/Groups?filter=displayName eq \"Blocked\"").await.body["totalResults"],
        0
    );
    let page = console
        .post(&console.at("/groups"), &[("name", "Blocked"), ("csrf", &csrf)])
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
}
