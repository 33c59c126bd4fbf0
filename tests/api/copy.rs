//! Moving from SQLite to Postgres with `scimd copy`, as docs/operations.md tells an operator
//! to: a SQLite deployment with users, groups, memberships and tokens is copied into a new
//! Postgres database, and the server started on Postgres answers the same SCIM reads to the
//! same IdP token.

use serde_json::{Value, json};

use crate::harness::Scratch;
use crate::ops::{Scimd, bootstrapped, database_env, post_user, scimd_cli};

async fn read_all(client: &reqwest::Client, base: &str, token: &str, origin: &str) -> Vec<Value> {
    let mut out = Vec::new();
    for path in [
        "Users?count=1000&sortBy=userName",
        "Groups?count=1000&sortBy=displayName",
        // Totals read from the kept counts (a full page; no page), which the target's own
        // triggers rebuilt as the rows were copied in.
        "Users?count=1",
        "Groups?count=0",
    ] {
        let res = client
            .get(format!("{base}/{path}"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let text = res.text().await.unwrap().replace(origin, "ORIGIN");
        out.push(serde_json::from_str(&text).unwrap());
    }
    out
}

#[tokio::test]
async fn copy_moves_a_sqlite_deployment_to_postgres_with_its_tokens() {
    let dir = std::env::temp_dir().join(format!("scimd_test_{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let sqlite_url = format!("sqlite://{}/scimd.db", dir.display());
    let (server, base, token) = bootstrapped(&sqlite_url, &dir).await;
    let client = crate::harness::http_client();
    let mut ids = Vec::new();
    for i in 0..25 {
        let res = post_user(
            &client,
            &base,
            &token,
            &json!({"userName": format!("mover{i}@example.com"), "active": i % 2 == 0,
                         "emails": [{"value": format!("mover{i}@example.com"), "primary": true}]}),
        )
        .await
        .unwrap();
        assert_eq!(res.status(), 201);
        ids.push(
            res.json::<Value>().await.unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    let res = client
        .post(format!("{base}/Groups"))
        .bearer_auth(&token)
        .header("content-type", "application/scim+json")
        .body(json!({"displayName": "Movers", "members": ids.iter().take(10).map(|id| json!({"value": id})).collect::<Vec<_>>()}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let before = read_all(&client, &base, &token, &server.origin).await;

    // Refused while the server runs: writes made during the copy would be left behind.
    let (_pg, pg_url) = Scratch::new();
    let out = scimd_cli(&sqlite_url, &["copy", "--to", &pg_url]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("stop it first"));
    let old_origin = server.origin.clone();
    assert!(server.stop().await.success());

    let out = scimd_cli(&sqlite_url, &["--json", "copy", "--to", &pg_url]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["users"], 25, "{report}");
    assert_eq!(report["group_members"], 10, "{report}");
    // Copying again into the same database is refused, not merged.
    let out = scimd_cli(&sqlite_url, &["copy", "--to", &pg_url]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("new, empty database"));

    let moved = Scimd::start(
        &["serve", "--listen", "127.0.0.1:0"],
        &database_env(&pg_url),
        false,
        &dir,
    )
    .await;
    let base = base.replace(&old_origin, &moved.origin);
    // The IdP's token works on Postgres (its row and the signing secret moved with it), and the
    // reads are the same.
    let after = read_all(&client, &base, &token, &moved.origin).await;
    assert_eq!(before, after);
    let res = post_user(&client, &base, &token, &json!({"userName": "mover0@example.com"}))
        .await
        .unwrap();
    assert_eq!(res.status(), 409, "uniqueness holds on the copied data");
    assert!(moved.stop().await.success());
    let _ = std::fs::remove_dir_all(&dir);
}
