//! Seed 002 end to end: an account managed by hand moves to SCIM without losing anything.
//! Native users and groups with role bindings exist → an export is taken → a SCIM token is
//! issued → the IdP (Okta's requests) finds, creates and links them → nothing is duplicated,
//! bindings are intact, and `scimd compare` reports nothing lost.

use std::process::Command;

use reqwest::Method;
use serde_json::{Value, json};

use crate::adminkit::Admin;
use crate::harness::TestApp;

fn scimd(app: &TestApp, args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_scimd"))
        .args(args)
        .env("DATABASE_URL", &app.config.database_url)
        .output()
        .expect("scimd runs");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn okta_user(user_name: &str, given: &str, family: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name,
        "name": {"givenName": given, "familyName": family},
        "emails": [{"primary": true, "value": user_name, "type": "work"}],
        "displayName": format!("{given} {family}"),
        "locale": "en-US",
        "externalId": format!("00u{}", user_name.len()),
        "groups": [],
        "password": "1mz050nq",
        "active": true
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_002_migration_from_manual_management_to_okta_loses_nothing() {
    let app = TestApp::spawn().await;
    let admin = Admin::new(&app).await;
    let account = app.account.to_string();
    let dir = std::env::temp_dir().join(format!("scimd-migration-{}", app.db_name));
    std::fs::create_dir_all(&dir).unwrap();
    let path = |name: &str| dir.join(name).to_string_lossy().to_string();

    // 1. The account as managed by hand: users, groups, memberships, role bindings.
    let alice = admin.user("alice@corp.example", "alice@corp.example").await;
    let bob = admin.user("bob", "Bob@Corp.example").await;
    let carol = admin.user("Carol@corp.example", "carol@corp.example").await;
    let platform = admin.group("Platform-Team").await;
    let viewers = admin.group("Viewers").await;
    for (group, users) in [(&platform, vec![&alice, &bob]), (&viewers, vec![&bob, &carol])] {
        let res = admin
            .post(&format!("/groups/{group}/members"), json!({"user_ids": users}))
            .await;
        assert_eq!(res.status, 200, "{}", res.text);
    }
    for (group, role) in [(&platform, "pipeline_admin"), (&viewers, "project_viewer")] {
        let res = admin
            .post(
                &format!("/groups/{group}/role-bindings"),
                json!({"role": role, "resource_group": "all_projects"}),
            )
            .await;
        assert_eq!(res.status, 201, "{}", res.text);
    }

    // 2. "Back up your current user and group assignments before starting."
    let (ok, out) = scimd(
        &app,
        &[
            "export",
            "--account",
            &account,
            "--format",
            "json",
            "--output",
            &path("before.json"),
        ],
    );
    assert!(ok, "{out}");
    let (ok, out) = scimd(
        &app,
        &[
            "export",
            "--account",
            &account,
            "--format",
            "csv",
            "--output",
            &path("before.csv"),
        ],
    );
    assert!(ok, "{out}");

    // 3. A SCIM token for Okta, from the admin API.
    let res = admin.post("/scim/tokens", json!({"idp": "okta"})).await;
    assert_eq!(res.status, 201, "{}", res.text);
    let token = res.body["token"].as_str().unwrap().to_string();
    let base = res.body["scim_base_url"].as_str().unwrap().to_string();
    let okta = |method: Method, path: &str, body: Option<Value>| {
        let url = format!("{base}{path}");
        let token = token.clone();
        let app = &app;
        async move {
            app.send(
                method,
                &url,
                Some(&token),
                body.as_ref(),
                &[("User-Agent", "Okta SCIM Client 1.0.0")],
            )
            .await
        }
    };

    // 4. Okta assigns the existing people. Alice: the pre-check finds her, Okta links and
    // pushes her profile with PUT.
    let res = okta(
        Method::GET,
        "/Users?filter=userName%20eq%20%22alice%40corp.example%22&startIndex=1&count=100",
        None,
    )
    .await;
    assert_eq!(res.body["totalResults"], 1);
    let found = res.body["Resources"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(found, alice);
    let res = okta(
        Method::PUT,
        &format!("/Users/{alice}"),
        Some(okta_user("alice@corp.example", "Alice", "Liddell")),
    )
    .await;
    assert_eq!(res.status, 200, "{}", res.text);
    // Bob: Okta's userName is his email, which the pre-check does not find (his userName is
    // "bob"); the POST matches his primary email, ignoring case, and adopts him.
    let res = okta(
        Method::GET,
        "/Users?filter=userName%20eq%20%22bob%40corp.example%22&startIndex=1&count=100",
        None,
    )
    .await;
    assert_eq!(res.body["totalResults"], 0);
    let res = okta(
        Method::POST,
        "/Users",
        Some(okta_user("bob@corp.example", "Bob", "Builder")),
    )
    .await;
    assert_eq!(res.status, 201, "{}", res.text);
    assert_eq!(res.body["id"], bob.as_str(), "adopted, not duplicated");
    // Carol: her userName differs only in case.
    let res = okta(
        Method::POST,
        "/Users",
        Some(okta_user("carol@corp.example", "Carol", "Danvers")),
    )
    .await;
    assert_eq!(res.status, 201, "{}", res.text);
    assert_eq!(res.body["id"], carol.as_str());
    // Dave is new.
    let res = okta(
        Method::POST,
        "/Users",
        Some(okta_user("dave@corp.example", "Dave", "Grohl")),
    )
    .await;
    assert_eq!(res.status, 201, "{}", res.text);

    // 5. Group push. Platform-Team: Okta finds it by name and links it, then pushes the
    // name and the members it knows.
    let res = okta(
        Method::GET,
        "/Groups?filter=displayName%20eq%20%22Platform-Team%22",
        None,
    )
    .await;
    assert_eq!(res.body["Resources"][0]["id"], platform.as_str());
    let res = okta(
        Method::PATCH,
        &format!("/Groups/{platform}"),
        Some(
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
                {"op": "replace", "value": {"id": platform, "displayName": "Platform-Team"}},
                {"op": "add", "path": "members", "value": [{"value": alice, "display": "alice@corp.example"},
                                                            {"value": bob, "display": "bob@corp.example"}]}
            ]}),
        ),
    )
    .await;
    assert_eq!(res.status, 204, "{}", res.text);
    // Viewers: "Create a new group" of an existing name links it (group_name_conflict=link).
    let res = okta(
        Method::POST,
        "/Groups",
        Some(
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Viewers",
                    "members": [{"value": bob}, {"value": carol}]}),
        ),
    )
    .await;
    assert_eq!(res.status, 201, "{}", res.text);
    assert_eq!(res.body["id"], viewers.as_str());

    // 6. Verify: no duplicates, SCIM provisioning source shown, bindings intact.
    let res = admin.get("/users").await;
    assert_eq!(res.body["total"], 4, "{}", res.text);
    assert_eq!(
        admin.get("/users?source=okta&idp_managed=true").await.body["total"],
        4
    );
    assert_eq!(admin.get("/groups?source=okta").await.body["total"], 2);
    let res = admin.get("/role-bindings").await;
    let bindings: Vec<(String, String)> = res.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["group_identifier"].as_str().unwrap().to_string(),
                b["role"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        bindings,
        [
            ("Platform_Team".to_string(), "pipeline_admin".to_string()),
            ("Viewers".to_string(), "project_viewer".to_string())
        ]
    );

    let (ok, out) = scimd(
        &app,
        &["export", "--account", &account, "--output", &path("after.json")],
    );
    assert!(ok, "{out}");
    let (ok, out) = scimd(&app, &["compare", &path("before.json"), &path("after.json")]);
    assert!(ok, "compare reports a loss: {out}");
    assert!(out.contains("Nothing was lost."), "{out}");
    assert!(out.contains("Users added: 1"), "{out}");
    // The CSV export reads back the same.
    let (ok, out) = scimd(
        &app,
        &["--json", "compare", &path("before.csv"), &path("after.json")],
    );
    assert!(ok, "{out}");
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["clean"], true);
    assert_eq!(report["users_now_idp_managed"], 4);

    // The admin API compares an export with the account as it is now.
    let before: Value = serde_json::from_str(&std::fs::read_to_string(path("before.json")).unwrap()).unwrap();
    let res = admin.post("/compare", json!({"before": before})).await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["clean"], true, "{}", res.text);

    // 7. A loss is reported: Okta drops Carol from Viewers.
    let res = okta(
        Method::PATCH,
        &format!("/Groups/{viewers}"),
        Some(
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
                {"op": "remove", "path": format!("members[value eq \"{carol}\"]")}
            ]}),
        ),
    )
    .await;
    assert_eq!(res.status, 204, "{}", res.text);
    let res = admin.post("/compare", json!({"before": before})).await;
    assert_eq!(res.body["clean"], false);
    assert_eq!(
        res.body["memberships_lost"],
        json!([{"group_identifier": "Viewers", "user_name": "Carol@corp.example"}])
    );
    let (ok, out) = scimd(
        &app,
        &["export", "--account", &account, "--output", &path("later.json")],
    );
    assert!(ok, "{out}");
    let (ok, out) = scimd(&app, &["compare", &path("before.json"), &path("later.json")]);
    assert!(!ok, "a loss exits non-zero: {out}");
    assert!(out.contains("Carol@corp.example in Viewers"), "{out}");

    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_in_json_and_csv_from_the_admin_api() {
    let app = TestApp::spawn().await;
    let admin = Admin::new(&app).await;
    let user = admin.user("x@example.com", "x@example.com").await;
    let group = admin.group("Team, \"quoted\"").await;
    admin
        .post(&format!("/groups/{group}/members"), json!({"user_ids": [user]}))
        .await;
    let res = admin.get("/export").await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["format"], "scimd-export/1");
    assert_eq!(res.body["users"][0]["user_name"], "x@example.com");
    assert_eq!(res.body["groups"][0]["identifier"], "Team,_\"quoted\"");
    assert_eq!(res.body["memberships"][0]["user_id"], user.as_str());

    let res = admin.get("/export?format=csv").await;
    assert_eq!(res.status, 200);
    assert!(res.header("content-type").unwrap().starts_with("text/csv"));
    let mut lines = res.text.lines();
    assert!(lines.next().unwrap().starts_with("record,id,user_name,email"));
    assert!(res.text.contains("\"Team, \"\"quoted\"\"\""), "{}", res.text);
    assert_eq!(
        res.text.lines().filter(|l| l.starts_with("membership,")).count(),
        1
    );
    admin.get("/export?format=xml").await.assert_problem(400);
    admin
        .post("/compare", json!({"before": {"format": "other"}}))
        .await
        .assert_problem(400);
}
