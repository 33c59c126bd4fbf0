//! Issue 16 (outside security review): list cursors bound to their account and resource type,
//! security headers, client request ids, cached refusal of revoked tokens, CSV export formula
//! injection. The SQLite file modes are in `hardening_sqlite`.

use std::process::Command;

use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use scimd::service::export::Export;

use crate::adminkit::Admin;
use crate::harness::TestApp;

/// A cursor names a position in one account's list of one resource type: another account,
/// even with its own valid token, or the other resource type, gets `invalidCursor`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cursor_is_refused_on_another_account_and_on_another_resource_type() {
    let app = TestApp::spawn().await;
    for name in ["a@example.com", "b@example.com", "c@example.com"] {
        app.user(name).await;
    }
    let first = app.get("/Users?count=1&cursor=").await;
    assert_eq!(first.status, 200, "{}", first.text);
    let next = first.body["nextCursor"].as_str().unwrap().to_string();

    let (other, other_token) = app.other_account().await;
    let other_url = |path: &str| format!("{}/scim/account/{other}{path}", app.origin);
    for name in ["x@example.com", "y@example.com"] {
        let res = app
            .send(
                Method::POST,
                &other_url("/Users"),
                Some(&other_token),
                Some(&json!({
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                    "userName": name
                })),
                &[],
            )
            .await;
        assert_eq!(res.status, 201, "{}", res.text);
    }
    // The other account's own first page works; the first account's cursor does not.
    let res = app
        .send(
            Method::GET,
            &other_url("/Users?count=1&cursor="),
            Some(&other_token),
            None,
            &[],
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    let res = app
        .send(
            Method::GET,
            &other_url(&format!("/Users?count=1&cursor={next}")),
            Some(&other_token),
            None,
            &[],
        )
        .await;
    res.assert_error(400, Some("invalidCursor"));
    assert!(
        res.body["detail"].as_str().unwrap().contains("another account"),
        "{}",
        res.text
    );
    // Same account, Groups: refused too.
    app.get(&format!("/Groups?count=1&cursor={next}"))
        .await
        .assert_error(400, Some("invalidCursor"));
    // And where it belongs it still works.
    let second = app.get(&format!("/Users?count=1&cursor={next}")).await;
    assert_eq!(second.status, 200, "{}", second.text);
    assert_ne!(second.body["Resources"][0]["id"], first.body["Resources"][0]["id"]);
}

#[track_caller]
fn assert_private(res: &crate::harness::Resp, what: &str) {
    assert_eq!(res.header("x-content-type-options"), Some("nosniff"), "{what}");
    assert_eq!(res.header("cache-control"), Some("no-store"), "{what}");
}

/// `nosniff` on every response; `no-store` on every SCIM and admin response (they carry
/// personal data, and token creation the token), errors included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn responses_are_nosniff_and_scim_and_admin_responses_are_not_stored() {
    let app = TestApp::spawn().await;
    let admin = Admin::new(&app).await;
    let user = app.user("jane@example.com").await;
    assert_private(&app.get("/Users").await, "SCIM list");
    assert_private(&app.get(&format!("/Users/{user}")).await, "SCIM get");
    assert_private(
        &app.get(&format!("/Users/{}", Uuid::new_v4())).await,
        "SCIM 404",
    );
    let unauthenticated = app.send(Method::GET, &app.scim("/Users"), None, None, &[]).await;
    assert_eq!(unauthenticated.status, 401);
    assert_private(&unauthenticated, "SCIM 401");
    assert_private(&admin.get("/users").await, "admin list");
    let created = admin.post("/scim/tokens", json!({"idp": "okta"})).await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert!(created.text.contains("token"), "{}", created.text);
    assert_private(&created, "admin token creation");
    assert_private(&admin.get("/export?format=csv").await, "CSV export");
    assert_private(
        &app.raw(Method::GET, &format!("{}/nowhere", app.origin), &[], None).await,
        "unknown path",
    );
    for path in ["/healthz", "/metrics"] {
        let res = app.raw(Method::GET, &format!("{}{path}", app.origin), &[], None).await;
        assert_eq!(res.status, 200, "{path}");
        assert_eq!(res.header("x-content-type-options"), Some("nosniff"), "{path}");
    }
}

/// A client's `X-Request-Id` is echoed (and logged) only when it is at most 64 characters of
/// `[A-Za-z0-9._:-]`; otherwise the request gets a fresh UUID.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_request_id_is_kept_only_when_short_and_printable() {
    let app = TestApp::spawn().await;
    let path = format!("/scim/account/{}/Users", app.account);
    let auth = format!("Bearer {}", app.token);
    let longest = "a".repeat(64);
    for kept in ["okta-1234:abc.DEF_9", longest.as_str()] {
        let res = app
            .exact("GET", &path, &[("Authorization", &auth), ("X-Request-Id", kept)], None)
            .await;
        assert_eq!(res.status, 200, "{}", res.text);
        assert_eq!(res.header("x-request-id"), Some(kept));
    }
    let too_long = "a".repeat(65);
    for replaced in [
        too_long.as_str(),
        "two words",
        "<script>alert(1)</script>",
        "a\"b",
        "caf\u{e9}",
        "%0d%0aforged",
    ] {
        let res = app
            .exact("GET", &path, &[("Authorization", &auth), ("X-Request-Id", replaced)], None)
            .await;
        assert_eq!(res.status, 200, "{replaced:?}: {}", res.text);
        let got = res.header("x-request-id").unwrap_or_default();
        assert!(
            Uuid::parse_str(got).is_ok(),
            "{replaced:?} was answered with request id {got:?}, not a fresh UUID"
        );
    }
    // Two ids: neither is trusted.
    let res = app
        .exact(
            "GET",
            &path,
            &[
                ("Authorization", &auth),
                ("X-Request-Id", "first"),
                ("X-Request-Id", "second"),
            ],
            None,
        )
        .await;
    let got = res.header("x-request-id").unwrap_or_default();
    assert!(Uuid::parse_str(got).is_ok(), "{got:?}");
}

/// After the first refusal of a revoked token, the server answers from memory: with the token
/// row gone from the database, the answer is still "revoked" (a read would find no token and
/// say "not known"). A token never refused before still costs its read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_token_is_refused_again_without_reading_the_database() {
    let app = TestApp::spawn().await;
    let spare = app
        .app
        .service
        .create_token(app.account, scimd::service::TokenKind::Scim, None, None, None)
        .await
        .unwrap();
    assert_eq!(app.get("/Users").await.status, 200);
    let admin = Admin::new(&app).await;
    for id in [app.token_id, spare.record.id] {
        assert_eq!(admin.delete(&format!("/scim/tokens/{id}")).await.status, 204);
    }
    let first = app.get("/Users").await;
    first.assert_error(401, None);
    let detail = first.body["detail"].as_str().unwrap().to_string();
    assert!(detail.contains("revoked"), "{detail}");

    let mut conn = app.sql().await;
    for id in [app.token_id, spare.record.id] {
        let deleted = sqlx::query("DELETE FROM tokens WHERE CAST(id AS TEXT) = $1")
            .bind(id.to_string())
            .execute(&mut conn)
            .await
            .unwrap();
        assert_eq!(deleted.rows_affected(), 1);
    }
    for _ in 0..3 {
        let again = app.get("/Users").await;
        again.assert_error(401, None);
        assert_eq!(again.body["detail"], detail.as_str(), "answered from the refusal cache");
    }
    // The spare token was never refused: its request reads the database and finds no row.
    let spare_res = app
        .send(Method::GET, &app.scim("/Users"), Some(&spare.token), None, &[])
        .await;
    spare_res.assert_error(401, None);
    assert!(
        spare_res.body["detail"].as_str().unwrap().contains("not known"),
        "{}",
        spare_res.text
    );
}

/// Values a spreadsheet would run as formulas.
const FORMULAS: [&str; 6] = [
    "=HYPERLINK(\"http://evil.example\",\"x\")",
    "+SUM(1,2)",
    "-2+3",
    "@SUM(A1:A2)",
    "\tTabbed",
    "\rReturned",
];

fn cells(csv_text: &str) -> Vec<String> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(csv_text.as_bytes());
    reader
        .records()
        .flat_map(|r| r.unwrap().iter().map(str::to_string).collect::<Vec<_>>())
        .collect()
}

/// OWASP: no cell of a CSV export (admin API or `scimd export`) starts with `=`, `+`, `-`, `@`,
/// tab or CR; each such value has a leading `'`, and compare reads it back: a JSON export and a
/// CSV export of the same data compare clean.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_exports_neutralise_formulas_and_compare_reads_them_back() {
    let app = TestApp::spawn().await;
    let admin = Admin::new(&app).await;
    let mut ids = Vec::new();
    for (i, formula) in FORMULAS.iter().enumerate() {
        let res = app
            .post(
                "/Users",
                json!({
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                    "userName": format!("user{i}@example.com"),
                    "displayName": formula,
                    "name": {"givenName": formula, "familyName": format!("{formula} {i}")},
                    "externalId": format!("{formula}-{i}")
                }),
            )
            .await;
        assert_eq!(res.status, 201, "{formula:?}: {}", res.text);
        ids.push(res.body["id"].as_str().unwrap().to_string());
    }
    let res = app
        .post(
            "/Groups",
            json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "displayName": "=cmd|' /C calc'!A0",
                "members": [{"value": ids[0]}]
            }),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);

    let api_csv = admin.get("/export?format=csv").await;
    assert_eq!(api_csv.status, 200, "{}", api_csv.text);
    let json_export: Value = admin.get("/export").await.body;
    let dir = std::env::temp_dir().join(format!("{}_export", app.db_name));
    std::fs::create_dir_all(&dir).unwrap();
    let cli_csv = dir.join("export.csv");
    let out = Command::new(env!("CARGO_BIN_EXE_scimd"))
        .args(["export", "--account", &app.account.to_string(), "--format", "csv", "--output"])
        .arg(&cli_csv)
        .env("DATABASE_URL", &app.config.database_url)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let cli_text = std::fs::read_to_string(&cli_csv).unwrap();

    for (source, text) in [("admin API", api_csv.text.as_str()), ("scimd export", cli_text.as_str())] {
        let cells = cells(text);
        for cell in &cells {
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "{source}: cell {cell:?} would run as a formula"
            );
        }
        for formula in FORMULAS {
            let neutralised = format!("'{formula}");
            assert!(cells.contains(&neutralised), "{source}: no cell {neutralised:?}");
        }
        assert!(cells.iter().any(|c| c == "'=cmd|' /C calc'!A0"), "{source}");
    }

    // compare: the JSON export against each CSV one, through the CLI and the admin API.
    let json_file = dir.join("export.json");
    std::fs::write(&json_file, json_export.to_string()).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_scimd"))
        .args(["--json", "compare"])
        .arg(&json_file)
        .arg(&cli_csv)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    let comparison: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(comparison["clean"], true, "{comparison}");
    assert_eq!(comparison["users_added"], 0, "{comparison}");
    assert_eq!(comparison["groups_added"], 0, "{comparison}");

    // Read back, each CSV export holds the values exactly as the JSON export does (compare
    // matches by id first, so it alone would not see a value that kept its `'`).
    let json_export: Export = serde_json::from_value(json_export).unwrap();
    for text in [&api_csv.text, &cli_text] {
        let back = Export::parse(text).unwrap();
        assert_eq!(back.users, json_export.users);
        assert_eq!(back.groups, json_export.groups);
        assert_eq!(back.memberships, json_export.memberships);
    }
    let _ = std::fs::remove_dir_all(&dir);
}
