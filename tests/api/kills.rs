//! kill -9 under a write load: every write the server acknowledged (201) is there after a
//! restart, on either store — an acknowledgement is sent only after its COMMIT succeeded.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use crate::harness::Scratch;
use crate::ops::{Scimd, bootstrapped, database_env, post_user, until_acknowledged};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_writes_loses_no_acknowledged_write() {
    let (_scratch, url) = Scratch::new();
    let dir = std::env::temp_dir();
    let (mut server, base, token) = bootstrapped(&url, &dir).await;
    let client = crate::harness::http_client();

    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..4 {
        let (client, base, token) = (client.clone(), base.clone(), token.clone());
        let (acknowledged, stop) = (acknowledged.clone(), stop.clone());
        writers.push(tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let name = format!("kill-{w}-{n}@example.com");
                let sent = post_user(&client, &base, &token, &json!({"userName": name})).await;
                // A request cut by the kill has no answer: it was not acknowledged.
                if let Ok(res) = sent
                    && res.status() == 201
                {
                    acknowledged.lock().unwrap().push(name);
                }
            }
        }));
    }
    until_acknowledged(&acknowledged, 10).await;
    std::process::Command::new("kill")
        .args(["-KILL", &server.pid().to_string()])
        .status()
        .unwrap();
    let _ = server.wait().await;
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.await.unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(acknowledged.len() > 10, "the load made progress before the kill");

    // The same database, a new server: every acknowledged write is there.
    let restarted = Scimd::start(
        &["serve", "--listen", "127.0.0.1:0"],
        &database_env(&url),
        false,
        &dir,
    )
    .await;
    let base = base.replace(&server.origin, &restarted.origin);
    let mut missing = Vec::new();
    for name in &acknowledged {
        let res = client
            .get(format!(
                "{base}/Users?filter=userName%20eq%20%22{}%22",
                name.replace('@', "%40")
            ))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        let body: Value = res.json().await.unwrap();
        if body["totalResults"] != 1 {
            missing.push(name.clone());
        }
    }
    assert!(missing.is_empty(), "acknowledged but lost after kill -9: {missing:?}");
    assert!(restarted.stop().await.success());
}
