//! SQLite's group commit through HTTP: concurrent writes queue for the single writer and are
//! committed several to a `COMMIT` (`store/group_commit.rs`), and still every answered write is
//! there, every refused one is not, and one group's concurrent PATCHes each change it once.
//! Only SQLite groups its commits, so this module is compiled into `api_sqlite` only.

use serde_json::json;

use crate::harness::TestApp;
use crate::observability::{sample, scrape};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writes_share_commits_and_each_answer_holds() {
    let app = TestApp::spawn_with(|c| c.rate_limit_per_second = 0).await;
    let taken = app.user("taken@group-commit.example").await;
    let group = app.group("grouped", &[]).await;
    let before = scrape(&crate::harness::http_client(), &app.origin).await;
    let (commits0, writes0) = (
        sample(&before, "scimd_db_commits_total"),
        sample(&before, "scimd_db_committed_writes_total"),
    );

    // 48 creates, every fourth of which asks for the taken userName (refused, 409), and 32
    // PATCHes adding one member each to the same group, all in flight together.
    let creates = (0..48).map(|i| {
        let app = &app;
        async move {
            let name = if i % 4 == 0 {
                "taken@group-commit.example".to_string()
            } else {
                format!("u{i}@group-commit.example")
            };
            let res = app.post("/Users", json!({"userName": name})).await;
            (i, res.status, res.body["id"].as_str().map(str::to_string))
        }
    });
    let created = futures_util::future::join_all(creates).await;
    let mut ids = Vec::new();
    for (i, status, id) in created {
        if i % 4 == 0 {
            assert_eq!(status, 409, "create {i}");
        } else {
            assert_eq!(status, 201, "create {i}");
            ids.push(id.unwrap());
        }
    }
    let patches = ids.iter().take(32).map(|id| {
        let (app, group) = (&app, &group);
        async move {
            let res = app
                .patch(
                    &format!("/Groups/{group}"),
                    json!({
                        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                        "Operations": [{"op": "add", "path": "members", "value": [{"value": id}]}]
                    }),
                )
                .await;
            assert!(res.status == 200 || res.status == 204, "{}", res.text);
        }
    });
    futures_util::future::join_all(patches).await;

    // Every answered create is there, and only those: the taken name stays one user.
    let users = app.get("/Users?count=100").await;
    assert_eq!(users.body["totalResults"], 37, "{}", users.text);
    let listed: Vec<&str> = users.body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap())
        .collect();
    assert!(listed.contains(&taken.as_str()));
    for id in &ids {
        assert!(listed.contains(&id.as_str()), "created user {id} is missing");
    }
    // Each PATCH added its member once, and bumped the group's version once.
    let got = app.get(&format!("/Groups/{group}")).await;
    assert_eq!(got.body["members"].as_array().unwrap().len(), 32, "{}", got.text);
    let (version, audited): (i64, i64) = {
        use sqlx::Row;
        let mut db = app.sql().await;
        let row = sqlx::query(
            "SELECT version,
                    (SELECT count(*) FROM audit_events WHERE resource_id = $1) AS audited
             FROM groups WHERE CAST(id AS TEXT) = $1",
        )
        .bind(&group)
        .fetch_one(&mut db)
        .await
        .unwrap();
        (row.get("version"), row.get("audited"))
    };
    // Created, then 32 changes: each PATCH its own version and its own audit event.
    assert_eq!(audited, 33, "audit events of the group");
    assert_eq!(version, 33, "the group's version after 32 PATCHes");

    // The writes were committed together: fewer COMMITs than writes.
    let after = scrape(&crate::harness::http_client(), &app.origin).await;
    let commits = sample(&after, "scimd_db_commits_total") - commits0;
    let writes = sample(&after, "scimd_db_committed_writes_total") - writes0;
    assert!(writes >= 36.0 + 32.0, "{writes} writes counted");
    assert!(
        commits < writes,
        "{commits} COMMITs for {writes} writes: none were grouped"
    );
}
