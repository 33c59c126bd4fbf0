//! Slow clients cannot hold the server: headers and bodies must arrive within their bounds,
//! the number of connections is bounded, and a slowloris does not delay an IdP's requests.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::harness::TestApp;

fn authority(app: &TestApp) -> String {
    app.origin.trim_start_matches("http://").to_string()
}

/// Reads until the server closes the connection (or `limit` passes); what it sent.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> Option<String> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let until = Instant::now() + limit;
    loop {
        let left = until.checked_duration_since(Instant::now())?;
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return Some(String::from_utf8_lossy(&got).to_string()),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => return None,
        }
    }
}

#[tokio::test]
async fn headers_sent_a_byte_at_a_time_are_cut_off() {
    let app = TestApp::spawn_with(|c| c.header_read_timeout_seconds = 1).await;
    let mut stream = TcpStream::connect(authority(&app)).await.unwrap();
    let started = Instant::now();
    let request = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let mut closed_at = None;
    for byte in request.iter() {
        if stream.write_all(&[*byte]).await.is_err() {
            closed_at = Some(started.elapsed());
            break;
        }
        // The slow client itself, against hyper's header timer: wall time is inherent.
        tokio::time::sleep(Duration::from_millis(100)).await;
        if started.elapsed() > Duration::from_secs(4) {
            break;
        }
    }
    if closed_at.is_none() {
        assert!(
            read_until_closed(&mut stream, Duration::from_secs(3)).await.is_some(),
            "the connection was still open after {:?}",
            started.elapsed()
        );
        closed_at = Some(started.elapsed());
    }
    let closed_at = closed_at.unwrap();
    assert!(closed_at < Duration::from_secs(5), "closed after {closed_at:?}");
}

#[tokio::test]
async fn a_body_sent_too_slowly_is_408_and_the_connection_closes() {
    let app = TestApp::spawn_with(|c| c.request_body_timeout_seconds = 1).await;
    let mut stream = TcpStream::connect(authority(&app)).await.unwrap();
    let head = format!(
        "POST /scim/account/{}/Users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/scim+json\r\nContent-Length: 200\r\n\r\n{{\"userName\": ",
        app.account, app.token
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();
    // A byte now and then, never the whole body.
    let reader = async {
        let mut stream = stream;
        let mut trickle = tokio::time::interval(Duration::from_millis(300));
        let mut answer = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            tokio::select! {
                _ = trickle.tick() => { let _ = stream.write_all(b" ").await; }
                read = stream.read(&mut buf) => match read {
                    Ok(0) | Err(_) => break,
                    Ok(n) => answer.extend_from_slice(&buf[..n]),
                },
            }
            if started.elapsed() > Duration::from_secs(6) {
                break;
            }
        }
        String::from_utf8_lossy(&answer).to_string()
    };
    let answer = reader.await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.to_ascii_lowercase().contains("connection: close"), "{answer}");
    assert!(answer.contains("request_body_timeout_seconds"), "{answer}");
    assert!(started.elapsed() < Duration::from_secs(4), "{:?}", started.elapsed());
    // Nothing was created.
    let listed = app.get("/Users").await;
    assert_eq!(listed.body["totalResults"], 0, "{}", listed.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slowloris_of_1000_sockets_does_not_delay_an_idp() {
    let app = TestApp::spawn().await;
    let id = app.user("steady@example.com").await;
    let addr = authority(&app);
    let mut sockets = Vec::new();
    for _ in 0..1000 {
        let mut s = TcpStream::connect(&addr).await.expect("a slow socket");
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: a").await.unwrap();
        sockets.push(s);
    }
    // Keep them trickling while the IdP works.
    let trickle = async {
        for _ in 0..3 {
            for s in sockets.iter_mut() {
                let _ = s.write_all(b"a").await;
            }
            // The slowloris's own pace against a real server: wall time is inherent.
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    };
    let idp = async {
        let mut slowest = Duration::ZERO;
        for _ in 0..20 {
            let started = Instant::now();
            let res = app.get(&format!("/Users/{id}")).await;
            assert_eq!(res.status, 200, "{}", res.text);
            slowest = slowest.max(started.elapsed());
        }
        slowest
    };
    let ((), slowest) = tokio::join!(trickle, idp);
    assert!(slowest < Duration::from_secs(1), "an IdP request took {slowest:?}");
}

#[tokio::test]
async fn connections_beyond_the_limit_wait_for_a_free_one() {
    let app = TestApp::spawn_with(|c| {
        c.max_connections = 4;
        c.header_read_timeout_seconds = 1;
    })
    .await;
    let addr = authority(&app);
    let mut idle = Vec::new();
    for _ in 0..4 {
        let mut s = TcpStream::connect(&addr).await.unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\n").await.unwrap();
        idle.push(s);
    }
    // No wait for the server to take them: each connect has completed, and the listen backlog
    // is first in, first out, so the server accepts these four before the fifth.
    // A fifth is served only once the header timeout has freed a slot.
    let started = Instant::now();
    let res = app.get("/Users").await;
    assert_eq!(res.status, 200);
    let waited = started.elapsed();
    assert!(
        waited > Duration::from_millis(700) && waited < Duration::from_secs(5),
        "served after {waited:?}"
    );
}
