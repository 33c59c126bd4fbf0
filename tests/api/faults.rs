//! Faults between scimd and its database: a connection cut mid-life is a SCIM 503 with
//! Retry-After (never a hang, a panic or a 500), `/readyz` says so, and scimd recovers by
//! itself when the database comes back.

use std::time::Duration;

use reqwest::Method;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::harness::{TestApp, admin_url};

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
    let mut recovered = None;
    for _ in 0..30 {
        let res = app.get(&format!("/Users/{id}")).await;
        if res.status == 200 {
            recovered = Some(res);
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let res = recovered.expect("scimd serves again once the database is back");
    assert_ne!(
        res.body["displayName"], "Lost",
        "the write refused during the outage did not happen"
    );
    let ready = app
        .raw(Method::GET, &format!("{}/readyz", app.origin), &[], None)
        .await;
    assert_eq!(ready.status, 200, "{}", ready.text);
}
