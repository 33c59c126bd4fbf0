//! Faults between scimd and its database: a connection cut mid-life is a SCIM 503 with
//! Retry-After (never a hang, a panic or a 500), `/readyz` says so, and scimd recovers by
//! itself when the database comes back.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use reqwest::Method;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::harness::{TestApp, admin_url, eventually};

/// A TCP proxy in front of Postgres that the test can take down (its port then refuses
/// connections, as a stopped server's does, and open ones are cut) and bring back.
struct Proxy {
    addr: String,
    upstream: String,
    accept: Option<tokio::task::JoinHandle<()>>,
    cut: watch::Sender<u64>,
}

impl Proxy {
    async fn start(upstream: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let (cut, _) = watch::channel(0u64);
        let mut proxy = Proxy {
            addr,
            upstream,
            accept: None,
            cut,
        };
        proxy.accept = Some(proxy.serve(listener));
        proxy
    }

    fn serve(&self, listener: TcpListener) -> tokio::task::JoinHandle<()> {
        let upstream = self.upstream.clone();
        let cuts = self.cut.clone();
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let upstream = upstream.clone();
                let mut cut = cuts.subscribe();
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(&upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        })
    }

    /// Closes the port and cuts every open connection.
    async fn down(&mut self) {
        if let Some(accept) = self.accept.take() {
            accept.abort();
            let _ = accept.await;
        }
        self.cut.send_modify(|n| *n += 1);
    }

    /// Cuts every open connection; new ones are accepted (a proxy or pgbouncer restarting).
    /// Returns how many were open: each holds a receiver of the cut signal.
    fn cut(&self) -> usize {
        let open = self.cut.receiver_count();
        self.cut.send_modify(|n| *n += 1);
        open
    }

    async fn restore(&mut self) {
        let listener = TcpListener::bind(&self.addr)
            .await
            .expect("the proxy's port again");
        self.accept = Some(self.serve(listener));
    }
}

/// host:port of the test Postgres server.
fn postgres_authority() -> String {
    let url = admin_url();
    let after_scheme = url.split_once("://").map(|(_, rest)| rest).unwrap_or(&url);
    let host_part = after_scheme.split('/').next().unwrap_or(after_scheme);
    host_part.rsplit('@').next().unwrap_or(host_part).to_string()
}

#[tokio::test]
async fn a_lost_database_is_503_with_retry_after_and_scimd_recovers() {
    let upstream = postgres_authority();
    let mut proxy = Proxy::start(upstream.clone()).await;
    let proxy_addr = proxy.addr.clone();
    let app = TestApp::spawn_with(move |c| {
        c.database_url = c.database_url.replace(&upstream, &proxy_addr);
    })
    .await;
    let id = app.user("fault@example.com").await;
    assert_eq!(app.get(&format!("/Users/{id}")).await.status, 200);

    proxy.down().await;
    let started = std::time::Instant::now();
    let res = app.get(&format!("/Users/{id}")).await;
    res.assert_error(503, None);
    assert_eq!(res.header("retry-after"), Some("5"), "{:?}", res.headers);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "answered within the pool's acquire timeout, not hung: {:?}",
        started.elapsed()
    );
    let write = app
        .patch(
            &format!("/Users/{id}"),
            serde_json::json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                               "Operations": [{"op": "replace", "path": "displayName", "value": "Lost"}]}),
        )
        .await;
    write.assert_error(503, None);
    let ready = app
        .raw(Method::GET, &format!("{}/readyz", app.origin), &[], None)
        .await;
    ready.assert_error(503, None);
    let alive = app
        .raw(Method::GET, &format!("{}/healthz", app.origin), &[], None)
        .await;
    assert_eq!(
        alive.status, 200,
        "the process is alive even without its database"
    );

    proxy.restore().await;
    // The pool reconnects through the proxy on wall time: polled.
    let res = eventually(
        "scimd serves again once the database is back",
        Duration::from_secs(15),
        || async {
            let res = app.get(&format!("/Users/{id}")).await;
            if res.status == 200 { Ok(res) } else { Err(res.text) }
        },
    )
    .await;
    assert_ne!(
        res.body["displayName"], "Lost",
        "the write refused during the outage did not happen"
    );
    let ready = app
        .raw(Method::GET, &format!("{}/readyz", app.origin), &[], None)
        .await;
    assert_eq!(ready.status, 200, "{}", ready.text);
}

/// What a write load saw: each status's count, and the userNames whose creation was
/// acknowledged (201).
#[derive(Default)]
struct LoadReport {
    statuses: BTreeMap<u16, usize>,
    acknowledged: Vec<String>,
    bodies_500: Vec<String>,
}

/// Creates users and reads them from `writers` concurrent clients while `fault` runs, then
/// stops.
async fn load_during(
    app: &Arc<TestApp>,
    label: &str,
    fault: impl std::future::Future<Output = ()>,
) -> LoadReport {
    let reader_id = app.user(&format!("{label}-reader@example.com")).await;
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..6 {
        let (app, stop, reader_id, label) = (app.clone(), stop.clone(), reader_id.clone(), label.to_string());
        tasks.spawn(async move {
            let mut report = LoadReport::default();
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let user_name = format!("{label}-{w}-{n}@example.com");
                let res = if n % 3 == 0 {
                    app.get(&format!("/Users/{reader_id}")).await
                } else {
                    app.post("/Users", serde_json::json!({"userName": user_name}))
                        .await
                };
                *report.statuses.entry(res.status).or_default() += 1;
                if res.status == 201 {
                    report.acknowledged.push(user_name);
                } else if res.status >= 500 && res.status != 503 {
                    report.bodies_500.push(res.text.clone());
                } else if res.status == 503 {
                    assert_eq!(res.header("retry-after"), Some("5"), "{:?}", res.headers);
                    res.assert_error(503, None);
                }
            }
            report
        });
    }
    fault.await;
    stop.store(true, Ordering::Relaxed);
    let mut all = LoadReport::default();
    while let Some(report) = tasks.join_next().await {
        let report = report.expect("a load task");
        for (status, n) in report.statuses {
            *all.statuses.entry(status).or_default() += n;
        }
        all.acknowledged.extend(report.acknowledged);
        all.bodies_500.extend(report.bodies_500);
    }
    all
}

/// Every acknowledged userName is stored, once.
async fn assert_all_acknowledged_present(app: &TestApp, report: &LoadReport) {
    let mut conn = app.sql().await;
    let stored: Vec<String> = sqlx::query_scalar("SELECT user_name FROM users")
        .fetch_all(&mut conn)
        .await
        .expect("reads the users");
    let stored: std::collections::HashSet<String> = stored.into_iter().map(|u| u.to_lowercase()).collect();
    let lost: Vec<&String> = report
        .acknowledged
        .iter()
        .filter(|u| !stored.contains(&u.to_lowercase()))
        .collect();
    assert!(lost.is_empty(), "acknowledged writes lost: {lost:?}");
}

fn assert_no_500(report: &LoadReport) {
    let bad: Vec<_> = report
        .statuses
        .iter()
        .filter(|(s, _)| !matches!(s, 200 | 201 | 409 | 503))
        .collect();
    assert!(
        bad.is_empty(),
        "statuses other than 200/201/409/503: {bad:?}; bodies: {:?}",
        report.bodies_500.iter().take(3).collect::<Vec<_>>()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_cut_under_load_are_never_500_and_lose_no_acknowledged_write() {
    let upstream = postgres_authority();
    let proxy = Proxy::start(upstream.clone()).await;
    let proxy_addr = proxy.addr.clone();
    let app = Arc::new(
        TestApp::spawn_with(move |c| {
            c.database_url = c.database_url.replace(&upstream, &proxy_addr);
            // As many requests as 4 s allow, on a test clock that stands still: the rate
            // limiter would never refill and answer 429, which is not what this tests.
            c.rate_limit_per_second = 0;
        })
        .await,
    );
    let report = load_during(&app, "cut", async {
        // A proxy restarting every 300 ms for 4 s, cutting whatever is open.
        let until = Instant::now() + Duration::from_secs(4);
        let mut cut = 0;
        while Instant::now() < until {
            // The fault's own rhythm against a real load: wall time is inherent.
            tokio::time::sleep(Duration::from_millis(300)).await;
            cut += proxy.cut();
        }
        assert!(cut > 0, "the test cut some connections");
    })
    .await;
    eprintln!("statuses under connection cuts: {:?}", report.statuses);
    assert_no_500(&report);
    assert!(
        report.acknowledged.len() > 5,
        "the load made progress: {:?}",
        report.statuses
    );
    assert_all_acknowledged_present(&app, &report).await;
    // And it recovers by itself: the next requests succeed.
    let res = app
        .post(
            "/Users",
            serde_json::json!({"userName": "after-cuts@example.com"}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
}

/// Terminates every backend of database `db` but the caller's own, as an administrator (or a
/// failover) would; how many.
async fn terminate_backends(admin: &mut sqlx::PgConnection, db: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = $1 AND pid <> pg_backend_pid()) t",
    )
    .bind(db)
    .fetch_one(admin)
    .await
    .unwrap()
}

/// Every idle connection of the pool killed at once (a restarted database, an administrator's
/// `pg_terminate_backend`) while they were idle for less than the second after which the pool
/// tests them anyway: the next request meets a dead one and is replayed, and the pool then
/// tests each connection before handing it out, so the replay and the requests after it do not
/// meet the other dead ones. (Without that, the replay took the next dead connection: 503.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_killed_together_cost_no_request() {
    let app = TestApp::spawn().await;
    let id = app.user("idle-kill@example.com").await;
    // Several connections open and idle in the pool.
    let path = format!("/Users/{id}");
    let reads = (0..6).map(|_| app.get(&path));
    for res in futures_util::future::join_all(reads).await {
        assert_eq!(res.status, 200, "{}", res.text);
    }
    let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(&admin_url())
        .await
        .unwrap();
    let killed = terminate_backends(&mut admin, &app.db_name).await;
    assert!(killed >= 2, "only {killed} backends to kill");
    for round in 0..6 {
        let res = app.get(&format!("/Users/{id}")).await;
        assert_eq!(res.status, 200, "request {round} after the kill: {}", res.text);
    }
    let res = app
        .post(
            "/Users",
            serde_json::json!({"userName": "after-idle-kill@example.com"}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backends_terminated_under_load_are_never_500_and_lose_no_acknowledged_write() {
    // Rate limiting off: see connections_cut_under_load_are_never_500_and_lose_no_acknowledged_write.
    let app = Arc::new(TestApp::spawn_with(|c| c.rate_limit_per_second = 0).await);
    let db = app.db_name.clone();
    let report = load_during(&app, "terminate", async {
        // An administrator (or a failover) terminating scimd's backends mid-query.
        let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(&admin_url())
            .await
            .unwrap();
        let until = Instant::now() + Duration::from_secs(4);
        let mut terminated = 0i64;
        while Instant::now() < until {
            // The fault's own rhythm against a real load: wall time is inherent.
            tokio::time::sleep(Duration::from_millis(200)).await;
            terminated += terminate_backends(&mut admin, &db).await;
        }
        assert!(terminated > 0, "the test terminated some backends");
    })
    .await;
    eprintln!("statuses under backend termination: {:?}", report.statuses);
    assert_no_500(&report);
    assert!(
        report.acknowledged.len() > 20,
        "the load made progress: {:?}",
        report.statuses
    );
    assert_all_acknowledged_present(&app, &report).await;
    let res = app
        .post(
            "/Users",
            serde_json::json!({"userName": "after-terminate@example.com"}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
}

#[tokio::test]
async fn refused_connections_fail_fast_and_readyz_says_so_within_a_second() {
    let upstream = postgres_authority();
    let mut proxy = Proxy::start(upstream.clone()).await;
    let proxy_addr = proxy.addr.clone();
    let app = TestApp::spawn_with(move |c| {
        c.database_url = c.database_url.replace(&upstream, &proxy_addr);
        c.database_acquire_timeout_ms = 1500;
    })
    .await;
    let id = app.user("fast@example.com").await;
    proxy.down().await;
    // The first request finds out, within the acquire timeout.
    let started = Instant::now();
    app.get(&format!("/Users/{id}")).await.assert_error(503, None);
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "first: {:?}",
        started.elapsed()
    );
    // Then the database is known to be down: answered at once, reads and writes alike.
    for _ in 0..5 {
        let started = Instant::now();
        let res = app
            .post("/Users", serde_json::json!({"userName": "refused@example.com"}))
            .await;
        res.assert_error(503, None);
        assert!(
            res.body["detail"].as_str().unwrap().contains("unreachable"),
            "{}",
            res.text
        );
        assert!(
            started.elapsed() < Duration::from_millis(300),
            "at once: {:?}",
            started.elapsed()
        );
    }
    let started = Instant::now();
    let ready = app
        .raw(Method::GET, &format!("{}/readyz", app.origin), &[], None)
        .await;
    ready.assert_error(503, None);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "readyz: {:?}",
        started.elapsed()
    );
    proxy.restore().await;
    // The pool reconnects through the proxy on wall time: polled.
    eventually("recovered by itself", Duration::from_secs(5), || async {
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
    assert_eq!(app.get(&format!("/Users/{id}")).await.status, 200);
}

/// `scimd migrate` against `url`: exit status 1, one line on stderr, returned.
fn one_line_failure(url: &str) -> String {
    let out = crate::ops::scimd_cli(url, &["migrate"]);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    stderr
}

#[tokio::test]
async fn postgres_start_up_errors_name_server_port_database_and_fix_never_the_password() {
    // Nothing listens there.
    let refused = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        port
    };
    let started = Instant::now();
    let stderr = one_line_failure(&format!("postgres://scimd:hunter2@127.0.0.1:{refused}/scimd_x"));
    assert!(
        stderr.contains(&format!("127.0.0.1:{refused}"))
            && stderr.contains("connection refused")
            && stderr.contains("scimd_x")
            && stderr.contains("start Postgres"),
        "{stderr}"
    );
    assert!(!stderr.contains("hunter2"), "{stderr}");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );

    // A login the server refuses.
    let authority = postgres_authority();
    let stderr = one_line_failure(&format!("postgres://no_such_role_x:hunter2@{authority}/scimd_x"));
    assert!(
        stderr.contains("no_such_role_x")
            && stderr.contains("user and password")
            && !stderr.contains("hunter2"),
        "{stderr}"
    );

    // Backups on Postgres are Postgres's own tools.
    let out = crate::ops::scimd_cli(&admin_url(), &["backup", "--to", "/tmp/scimd-never-written.db"]);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("pg_dump"), "{stderr}");
    assert!(!std::path::Path::new("/tmp/scimd-never-written.db").exists());
}

/// `pg_dump` / `pg_restore` as docs/operations.md gives them: a dump taken while scimd runs,
/// restored into a new database, serves the same SCIM reads to the same IdP token.
#[tokio::test]
async fn the_documented_pg_dump_and_pg_restore_commands_round_trip() {
    let app = TestApp::spawn().await;
    for i in 0..5 {
        app.user(&format!("dumped{i}@example.com")).await;
    }
    app.group("Dumped", &[]).await;
    let list = |origin: &str| format!("{origin}/scim/account/{}/Users?sortBy=userName", app.account);
    let auth = format!("Bearer {}", app.token);
    let before = app
        .raw(Method::GET, &list(&app.origin), &[("authorization", &auth)], None)
        .await;
    assert_eq!(before.status, 200);

    let dir = std::env::temp_dir().join(format!("scimd_test_{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let dump = dir.join("scimd.dump");
    let out = std::process::Command::new("pg_dump")
        .args(["--format=custom", "--file"])
        .arg(&dump)
        .arg(&app.config.database_url)
        .output()
        .expect("pg_dump runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    // A new, empty database, as after losing the old one.
    let (_target, target_url) = crate::harness::Scratch::new();
    let name = target_url.rsplit('/').next().unwrap().to_string();
    let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(&admin_url())
        .await
        .unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
        .execute(&mut admin)
        .await
        .unwrap();
    let out = std::process::Command::new("pg_restore")
        .args(["--clean", "--if-exists", "--no-owner", "--dbname", &target_url])
        .arg(&dump)
        .output()
        .expect("pg_restore runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let restored = TestApp::spawn_with(move |c| c.database_url = target_url).await;
    let after = restored
        .raw(
            Method::GET,
            &list(&restored.origin),
            &[("authorization", &auth)],
            None,
        )
        .await;
    assert_eq!(
        after.status, 200,
        "the IdP's token works on the restored database: {}",
        after.text
    );
    assert_eq!(
        before.text.replace(&app.origin, "ORIGIN"),
        after.text.replace(&restored.origin, "ORIGIN")
    );
    let _ = std::fs::remove_dir_all(&dir);
}
