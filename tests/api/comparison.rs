//! One comparison key for userName, emails and group names (issue 16.7): width mapping, full
//! case folding and NFC, computed in Rust and stored (docs/rules.md, "Comparing names"). It
//! decides uniqueness, `eq` filters, PATCH value filters and adoption by email alike; rows of
//! an older version are re-keyed on upgrade, and collisions are reported, not fatal.

use std::process::Command;

use scimd::store::Backend;
use serde_json::{Value, json};

use crate::adminkit::Admin;
use crate::harness::{TestApp, backend};

const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

fn user(user_name: &str, email: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name,
        "emails": [{"primary": true, "value": email, "type": "work"}],
        "active": true
    })
}

fn filter(expr: &str) -> String {
    let mut out = String::new();
    for b in expr.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Pairs of spellings that are one name: full case folding (ß, final sigma), NFC against
/// NFD, fullwidth against ASCII.
const SAME: &[(&str, &str)] = &[
    ("straße@example.de", "STRASSE@example.de"),
    ("σας@example.gr", "ΣΑΣ@EXAMPLE.GR"),
    ("caf\u{e9}@example.fr", "CAFE\u{301}@example.fr"),
    ("ｊｏｈｎ@example.com", "John@Example.com"),
];

#[tokio::test]
async fn user_names_that_are_one_name_are_one_user() {
    let app = TestApp::spawn().await;
    // R2 would refuse the renames below before uniqueness is even asked.
    let admin = Admin::new(&app).await;
    let res = admin.patch("/settings", json!({"update_emails_via_scim": true})).await;
    assert_eq!(res.status, 200, "{}", res.text);
    for (i, (first, second)) in SAME.iter().enumerate() {
        let res = app.post("/Users", user(first, &format!("u{i}@example.org"))).await;
        assert_eq!(res.status, 201, "{first}: {}", res.text);
        let id = res.body["id"].as_str().unwrap().to_string();
        app.post("/Users", user(second, &format!("v{i}@example.org")))
            .await
            .assert_error(409, Some("uniqueness"));
        // The filter an IdP sends before it creates finds the user whatever the spelling.
        for spelling in [first, second] {
            let res = app
                .get(&format!("/Users?filter={}", filter(&format!("userName eq \"{spelling}\""))))
                .await;
            assert_eq!(res.body["totalResults"], 1, "{spelling}: {}", res.text);
            assert_eq!(res.body["Resources"][0]["id"], id.as_str());
        }
        // Renaming another user onto it is refused too.
        let other = app.user(&format!("other{i}@example.org")).await;
        let res = app
            .patch(
                &format!("/Users/{other}"),
                json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                       "Operations": [{"op": "replace", "path": "userName", "value": second}]}),
            )
            .await;
        res.assert_error(409, Some("uniqueness"));
    }
    // Different names stay different.
    for name in ["strase@example.de", "resume@example.fr", "cafe@example.fr"] {
        assert_eq!(app.post("/Users", user(name, name)).await.status, 201, "{name}");
    }
}

#[tokio::test]
async fn emails_compare_by_the_key_in_filters_and_patch_paths() {
    let app = TestApp::spawn().await;
    let res = app.post("/Users", user("jorg", "Jörg.Straße@Example.de")).await;
    assert_eq!(res.status, 201, "{}", res.text);
    let id = res.body["id"].as_str().unwrap().to_string();
    for expr in [
        "emails.value eq \"JÖRG.STRASSE@EXAMPLE.DE\"",
        "emails[value eq \"jo\u{308}rg.strasse@example.de\"]",
        "emails sw \"JÖRG.STRASSE\"",
    ] {
        let res = app.get(&format!("/Users?filter={}", filter(expr))).await;
        assert_eq!(res.body["totalResults"], 1, "{expr}: {}", res.text);
        assert_eq!(res.body["Resources"][0]["id"], id.as_str());
    }
    // A PATCH value filter in another spelling reaches the same element.
    let res = app
        .patch(
            &format!("/Users/{id}"),
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                   "Operations": [{"op": "replace",
                                   "path": "emails[value eq \"JÖRG.STRASSE@EXAMPLE.DE\"].type",
                                   "value": "home"}]}),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["emails"][0]["type"], "home", "{}", res.text);
}

#[tokio::test]
async fn adoption_by_email_uses_the_key() {
    let app = TestApp::spawn().await;
    let admin = Admin::new(&app).await;
    let native = admin.user("joerg", "jörg.straße@example.de").await;
    // The IdP spells the address in capitals, where ß has no capital but SS.
    let res = app
        .post("/Users", user("JÖRG.STRASSE@EXAMPLE.DE", "JÖRG.STRASSE@EXAMPLE.DE"))
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    assert_eq!(res.body["id"], native.as_str(), "adopted, not duplicated");
    assert_eq!(admin.get("/users").await.body["total"], 1);
}

#[tokio::test]
async fn group_names_are_unique_by_the_key() {
    let app = TestApp::spawn().await;
    let res = app.post("/Groups", json!({"schemas": [GROUP], "displayName": "Straße-Team"})).await;
    assert_eq!(res.status, 201, "{}", res.text);
    let id = res.body["id"].as_str().unwrap().to_string();
    for other in ["STRASSE-TEAM", "straße-team", "Ｓｔｒａｓｓｅ-Team"] {
        app.post("/Groups", json!({"schemas": [GROUP], "displayName": other}))
            .await
            .assert_error(409, Some("uniqueness"));
        let res = app
            .get(&format!("/Groups?filter={}", filter(&format!("displayName eq \"{other}\""))))
            .await;
        assert_eq!(res.body["totalResults"], 1, "{other}: {}", res.text);
        assert_eq!(res.body["Resources"][0]["id"], id.as_str());
    }
    // An application's own group of the same name is linked (R4), found by the key as well.
    let admin = Admin::new(&app).await;
    let native = admin.group("Platform Ops").await;
    let res = app.post("/Groups", json!({"schemas": [GROUP], "displayName": "PLATFORM OPS"})).await;
    assert_eq!(res.status, 201, "{}", res.text);
    assert_eq!(res.body["id"], native.as_str(), "linked, not duplicated");
}

/// Runs `scimd migrate` on the test database.
fn migrate(app: &TestApp) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_scimd"))
        .arg("migrate")
        .env("DATABASE_URL", &app.config.database_url)
        .output()
        .expect("scimd runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "scimd migrate failed: {text}");
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upgrade_rekeys_old_rows_and_reports_collisions_instead_of_failing() {
    let app = TestApp::spawn().await;
    let admin = Admin::new(&app).await;
    let older = app.user("straße@example.de").await;
    let newer = app.user("placeholder@example.de").await;
    let eng = app.group("Eng", &[]).await;
    let eng2 = app.group("placeholder-group", &[]).await;
    let accent = app.user("josé@example.es").await;

    // What an older version left: lower-case keys, `STRASSE` beside `straße` (lower case
    // kept them apart), `eng` beside `Eng` (group names were unique as written), and the
    // old unique indexes.
    let mut sql = app.sql().await;
    let set_doc = |column: &str, field: &str, value: &str| match backend() {
        Backend::Postgres => format!("{column} = jsonb_set({column}, '{{{field}}}', to_jsonb('{value}'::text))"),
        Backend::Sqlite => format!("{column} = json_set({column}, '$.{field}', '{value}')"),
    };
    for stmt in [
        "DROP INDEX users_user_name_ci_key".to_string(),
        "DROP INDEX groups_idp_display_name_key".to_string(),
        "DROP INDEX groups_native_display_name_key".to_string(),
        "CREATE UNIQUE INDEX users_user_name_ci_key ON users (account_id, user_name_ci)".to_string(),
        "CREATE UNIQUE INDEX groups_idp_display_name_key ON groups (account_id, display_name) WHERE idp_managed".to_string(),
        "CREATE UNIQUE INDEX groups_native_display_name_key ON groups (account_id, display_name) WHERE NOT idp_managed".to_string(),
        format!("UPDATE users SET user_name_ci = 'straße@example.de' WHERE CAST(id AS TEXT) = '{older}'"),
        format!(
            "UPDATE users SET user_name = 'STRASSE@example.de', user_name_ci = 'strasse@example.de', {} \
             WHERE CAST(id AS TEXT) = '{newer}'",
            set_doc("doc", "userName", "STRASSE@example.de")
        ),
        format!("UPDATE users SET user_name_ci = 'jose\u{301}@example.es', user_name = 'jose\u{301}@example.es' WHERE CAST(id AS TEXT) = '{accent}'"),
        format!(
            "UPDATE groups SET display_name = 'eng', display_name_ci = 'eng', {} WHERE CAST(id AS TEXT) = '{eng2}'",
            set_doc("doc", "displayName", "eng")
        ),
        "UPDATE store_meta SET value = '0' WHERE key = 'comparison_key_version'".to_string(),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(stmt.clone()))
            .execute(&mut sql)
            .await
            .unwrap_or_else(|e| panic!("{stmt}: {e}"));
    }
    drop(sql);

    let log = migrate(&app);
    assert!(log.contains("compare equal"), "the collision is reported: {log}");
    // A second run finds nothing to do.
    let again = migrate(&app);
    assert!(!again.contains("compare equal"), "{again}");

    // The older user keeps the name: every spelling finds it, and only it.
    for spelling in ["STRASSE@example.de", "straße@example.de", "Strasse@Example.DE"] {
        let res = app
            .get(&format!("/Users?filter={}", filter(&format!("userName eq \"{spelling}\""))))
            .await;
        assert_eq!(res.body["totalResults"], 1, "{spelling}: {}", res.text);
        assert_eq!(res.body["Resources"][0]["id"], older.as_str());
    }
    // The newer one is intact and told about in the account's audit log.
    let res = app.get(&format!("/Users/{newer}")).await;
    assert_eq!(res.body["userName"], "STRASSE@example.de", "{}", res.text);
    let res = admin.get(&format!("/audit?resource_type=User&resource_id={newer}")).await;
    let event = &res.body["items"][0];
    assert_eq!(event["action"], "user.key_collision", "{}", res.text);
    assert_eq!(event["delta"]["same_key_as"]["id"], older.as_str(), "{}", res.text);
    // The name is taken once more, by the key, and renaming the newer one frees it (R2
    // allowing renames).
    let res = admin.patch("/settings", json!({"update_emails_via_scim": true})).await;
    assert_eq!(res.status, 200, "{}", res.text);
    app.post("/Users", user("strasse@EXAMPLE.de", "x@example.org"))
        .await
        .assert_error(409, Some("uniqueness"));
    let res = app
        .patch(
            &format!("/Users/{newer}"),
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                   "Operations": [{"op": "replace", "path": "userName", "value": "strasse2@example.de"}]}),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    let res = app
        .get(&format!("/Users?filter={}", filter("userName eq \"STRASSE2@example.de\"")))
        .await;
    assert_eq!(res.body["totalResults"], 1, "{}", res.text);

    // An NFD name written under the old key is found by its NFC spelling.
    let res = app
        .get(&format!("/Users?filter={}", filter("userName eq \"JOSÉ@example.es\"")))
        .await;
    assert_eq!(res.body["Resources"][0]["id"], accent.as_str(), "{}", res.text);

    // Groups: `Eng` (older) keeps the name; `eng` is reported; a third spelling is refused.
    let res = app.get(&format!("/Groups?filter={}", filter("displayName eq \"ENG\""))).await;
    assert_eq!(res.body["totalResults"], 1, "{}", res.text);
    assert_eq!(res.body["Resources"][0]["id"], eng.as_str());
    let res = admin.get(&format!("/audit?resource_type=Group&resource_id={eng2}")).await;
    assert_eq!(res.body["items"][0]["action"], "group.key_collision", "{}", res.text);
    app.post("/Groups", json!({"schemas": [GROUP], "displayName": "ENG"}))
        .await
        .assert_error(409, Some("uniqueness"));
}
