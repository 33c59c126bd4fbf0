//! Where the two stores need different SQL for one meaning (src/store/filter_sql.rs), the
//! answers must still be the same: case rules of the substring operators, wildcard
//! characters taken literally, Unicode prefixes, code point order, times.

use serde_json::json;

use crate::harness::TestApp;
use crate::users::urlencode;

/// externalId (caseExact) of each user created by `population`, by userName.
const POPULATION: &[(&str, &str)] = &[
    ("a@example.com", "Abc%_def"),
    ("b@example.com", "abc%_DEF"),
    ("c@example.com", "ab*c?[x]\\y"),
    ("d@example.com", "ÄÖü-ümlaut"),
    ("e@example.com", "abcxdef"),
    ("f@example.com", "z\u{10FFFF}\u{10FFFF}"),
];

async fn population(app: &TestApp) {
    for (user_name, external_id) in POPULATION {
        let res = app
            .post(
                "/Users",
                json!({"userName": user_name, "externalId": external_id}),
            )
            .await;
        assert_eq!(res.status, 201, "{}", res.text);
    }
}

/// The userNames matching `filter`, sorted.
async fn matching(app: &TestApp, filter: &str) -> Vec<String> {
    let res = app.get(&format!("/Users?filter={}", urlencode(filter))).await;
    assert_eq!(res.status, 200, "{filter}: {}", res.text);
    let mut names: Vec<String> = res.body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["userName"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    names
}

fn names(letters: &str) -> Vec<String> {
    letters.chars().map(|c| format!("{c}@example.com")).collect()
}

#[tokio::test]
async fn substring_operators_keep_case_rules_and_take_wildcards_literally() {
    let app = TestApp::spawn().await;
    population(&app).await;
    for (filter, expected) in [
        // externalId is caseExact: no case folding, whatever the database's LIKE does.
        (r#"externalId sw "Abc""#, "a"),
        (r#"externalId sw "abc""#, "be"),
        (r#"externalId ew "DEF""#, "b"),
        (r#"externalId ew "def""#, "ae"),
        (r#"externalId co "C%_D""#, ""),
        (r#"externalId co "c%_D""#, "b"),
        // SQL and GLOB wildcards are ordinary characters in a SCIM filter.
        (r#"externalId sw "abc%""#, "b"),
        (r#"externalId co "%""#, "ab"),
        (r#"externalId co "_""#, "ab"),
        (r#"externalId co "*""#, "c"),
        (r#"externalId co "?[x]""#, "c"),
        (r#"externalId ew "\\y""#, "c"),
        (r#"externalId sw "ab*""#, "c"),
        // Unicode: a prefix of non-ASCII characters, case-exact and case-insensitive.
        (r#"externalId sw "ÄÖ""#, "d"),
        (r#"externalId sw "äö""#, ""),
        (r#"externalId sw "z""#, "f"),
        (r#"externalId sw "z\u{10FFFF}""#, "f"),
        // userName is not caseExact.
        (r#"userName sw "A@""#, "a"),
        (r#"userName co "@EXAMPLE.""#, "abcdef"),
        (r#"userName ew ".COM""#, "abcdef"),
        (r#"userName sw "A" and externalId ew "F""#, ""),
        (r#"not (externalId sw "a")"#, "adf"),
    ] {
        let filter = filter.replace("\\u{10FFFF}", "\u{10FFFF}");
        assert_eq!(matching(&app, &filter).await, names(expected), "{filter}");
    }
    // The empty string starts, ends and is contained in every value.
    for op in ["sw", "ew", "co"] {
        let filter = format!(r#"externalId {op} """#);
        assert_eq!(matching(&app, &filter).await, names("abcdef"), "{filter}");
    }
}

#[tokio::test]
async fn text_compares_and_sorts_by_code_point() {
    let app = TestApp::spawn().await;
    population(&app).await;
    // Code point order: "A" < "a" < "z" < "Ä"; "*" < "c".
    assert_eq!(matching(&app, r#"externalId gt "abc""#).await, names("bdef"));
    assert_eq!(matching(&app, r#"externalId lt "abc""#).await, names("ac"));
    assert_eq!(matching(&app, r#"externalId ge "abc%_DEF""#).await, names("bdef"));
    assert_eq!(matching(&app, r#"externalId le "Abc%_def""#).await, names("a"));

    let res = app.get("/Users?sortBy=externalId&sortOrder=descending").await;
    assert_eq!(res.status, 200, "{}", res.text);
    let order: Vec<&str> = res.body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["externalId"].as_str().unwrap())
        .collect();
    assert_eq!(
        order,
        [
            "ÄÖü-ümlaut",
            "z\u{10FFFF}\u{10FFFF}",
            "abcxdef",
            "abc%_DEF",
            "ab*c?[x]\\y",
            "Abc%_def"
        ]
    );
}

#[tokio::test]
async fn times_compare_as_times_at_the_precision_shown() {
    let app = TestApp::spawn().await;
    let first = app.post("/Users", json!({"userName": "first@example.com"})).await;
    let created = first.body["meta"]["created"].as_str().unwrap().to_string();
    // No wait between the two: the second's time is at or after the first's either way,
    // which is all the filters below rely on.
    let second = app.post("/Users", json!({"userName": "second@example.com"})).await;
    assert_eq!(second.status, 201, "{}", second.text);
    // meta.created is shown to the millisecond; stored times may be finer, but never earlier.
    assert_eq!(
        matching(&app, &format!(r#"meta.created ge "{created}""#)).await,
        ["first@example.com", "second@example.com"]
    );
    assert_eq!(
        matching(&app, &format!(r#"meta.created lt "{created}""#)).await,
        Vec::<String>::new()
    );
    // An offset other than Z names the same instant.
    let instant = chrono::DateTime::parse_from_rfc3339(&created).unwrap();
    let shifted = instant
        .with_timezone(&chrono::FixedOffset::east_opt(2 * 3600).unwrap())
        .to_rfc3339();
    assert_eq!(
        matching(&app, &format!(r#"meta.lastModified ge "{shifted}""#)).await,
        ["first@example.com", "second@example.com"]
    );
    let later = (instant + chrono::TimeDelta::days(1)).to_rfc3339();
    assert!(
        matching(&app, &format!(r#"meta.created gt "{later}""#))
            .await
            .is_empty()
    );
}

/// The keys of a JSON object, in order, with those of nested objects as `parent.key`.
fn key_order(value: &serde_json::Value, prefix: &str, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                let path = format!("{prefix}{k}");
                out.push(path.clone());
                key_order(v, &format!("{path}."), out);
            }
        }
        serde_json::Value::Array(items) => {
            for item in items {
                key_order(item, prefix, out);
            }
        }
        _ => {}
    }
}

#[tokio::test]
async fn responses_list_attributes_in_schema_order_whatever_the_input_order() {
    let app = TestApp::spawn().await;
    // Written back to front, as no schema lists them.
    let body = r#"{
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"manager": {"value": "m"}, "department": "Ops"},
        "emails": [{"primary": true, "type": "work", "value": "z@example.com"}],
        "active": true,
        "name": {"givenName": "Zed", "familyName": "Zulu", "formatted": "Zed Zulu"},
        "userName": "z@example.com",
        "externalId": "ext-z",
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"]
    }"#;
    let res = app
        .raw(
            reqwest::Method::POST,
            &app.scim("/Users"),
            &[
                ("Authorization", &format!("Bearer {}", app.token)),
                ("Content-Type", "application/scim+json"),
            ],
            Some(body.as_bytes().to_vec()),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    let id = res.body["id"].as_str().unwrap().to_string();
    let expected: Vec<&str> = vec![
        "schemas",
        "id",
        "externalId",
        "userName",
        "name",
        "name.formatted",
        "name.familyName",
        "name.givenName",
        "active",
        "emails",
        "emails.value",
        "emails.type",
        "emails.primary",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User.department",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User.manager",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User.manager.value",
    ];
    // The answer to the POST, and what the store gives back on a read.
    for res in [res, app.get(&format!("/Users/{id}")).await] {
        let mut keys = Vec::new();
        key_order(&res.body, "", &mut keys);
        let keys: Vec<&str> = keys
            .iter()
            .map(String::as_str)
            .filter(|k| !k.starts_with("meta") && !k.starts_with("groups"))
            .collect();
        assert_eq!(keys, expected, "{}", res.text);
    }
}

#[tokio::test]
async fn nul_characters_are_refused_not_a_database_error() {
    // Postgres text cannot hold U+0000 (it was a 500 there, a 201 on SQLite).
    let app = TestApp::spawn().await;
    let res = app
        .post(
            "/Users",
            json!({"userName": "nul@example.com", "displayName": "a\u{0}b"}),
        )
        .await;
    res.assert_error(400, Some("invalidValue"));
    assert!(
        res.body["detail"].as_str().unwrap().contains("displayName"),
        "{}",
        res.text
    );
    let id = app.user("nul@example.com").await;
    let res = app
        .patch(
            &format!("/Users/{id}"),
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                   "Operations": [{"op": "replace", "path": "title", "value": "x\u{0}"}]}),
        )
        .await;
    res.assert_error(400, Some("invalidValue"));
    let res = app.post("/Groups", json!({"displayName": "\u{0}"})).await;
    res.assert_error(400, Some("invalidValue"));
    for filter in [
        "userName eq \"a\u{0}b\"",
        "title co \"\u{0}\"",
        "externalId sw \"\u{0}\"",
    ] {
        let res = app.get(&format!("/Users?filter={}", urlencode(filter))).await;
        res.assert_error(400, Some("invalidFilter"));
    }
}

/// Two scimd processes on one database (replicas on Postgres; a server and, say, a second
/// instance on one SQLite file): concurrent PATCHes of one group through both serialise in
/// the database, not in either process's memory.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_servers_on_one_database_lose_no_member() {
    let app = std::sync::Arc::new(TestApp::spawn().await);
    let second = scimd::server::App::open(&app.config).await.unwrap();
    let listener = scimd::server::bind("127.0.0.1:0").await.unwrap();
    let second_origin = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(scimd::server::serve(
        listener,
        second.router(&app.config),
        async {
            let _ = stopped.await;
        },
        std::time::Duration::from_secs(1),
    ));
    let gid = app.group("Shared", &[]).await;
    let mut users = Vec::new();
    for i in 0..30 {
        users.push(app.user(&format!("shared{i}@example.com")).await);
    }
    let mut tasks = Vec::new();
    for (i, uid) in users.iter().enumerate() {
        let app = app.clone();
        let url = match i % 2 {
            0 => app.scim(&format!("/Groups/{gid}")),
            _ => format!("{second_origin}/scim/account/{}/Groups/{gid}", app.account),
        };
        let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                          "Operations": [{"op": "add", "path": "members", "value": [{"value": uid}]}]});
        tasks.push(tokio::spawn(async move {
            let res = app
                .send(reqwest::Method::PATCH, &url, Some(&app.token), Some(&body), &[])
                .await;
            (res.status, res.text)
        }));
    }
    for t in tasks {
        let (status, text) = t.await.unwrap();
        assert_eq!(status, 204, "{text}");
    }
    let got = app.get(&format!("/Groups/{gid}")).await;
    let mut members: Vec<String> = got.body["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].as_str().unwrap().to_string())
        .collect();
    members.sort();
    users.sort();
    assert_eq!(members, users);
    assert_eq!(got.body["meta"]["version"], "W/\"31\"");
    let _ = stop.send(());
    second.store.close().await;
}

/// Many clients creating the same userName at once: one wins, every other gets 409, nobody a
/// 500 — and the refused transactions do not disturb the writes that follow them.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_creates_give_one_201_and_409s_and_later_writes_succeed() {
    let app = std::sync::Arc::new(TestApp::spawn().await);
    let mut tasks = Vec::new();
    for i in 0..24 {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            let name = if i % 2 == 0 {
                "race@example.com"
            } else {
                "RACE@example.com"
            };
            let created = app.post("/Users", json!({"userName": name})).await;
            // A write right after, whatever the create's outcome.
            let other = app
                .post("/Users", json!({"userName": format!("after{i}@example.com")}))
                .await;
            (created.status, created.text, other.status, other.text)
        }));
    }
    let mut created = 0;
    for t in tasks {
        let (status, text, after, after_text) = t.await.unwrap();
        assert!(status == 201 || status == 409, "{status}: {text}");
        created += usize::from(status == 201);
        assert_eq!(after, 201, "{after_text}");
    }
    assert_eq!(created, 1);
    assert_eq!(matching(&app, r#"userName sw "after""#).await.len(), 24);
}

#[tokio::test]
async fn values_too_long_to_index_are_refused_not_a_database_error() {
    // Random text, so Postgres cannot compress it under its index entry limit (it was a 500
    // there, a 201 on SQLite).
    let random = |bytes: usize| -> String {
        (0..bytes / 32 + 1)
            .map(|_| uuid::Uuid::new_v4().simple().to_string())
            .collect::<String>()[..bytes]
            .to_string()
    };
    let app = TestApp::spawn().await;
    let longest = random(2048);
    let res = app
        .post(
            "/Users",
            json!({"userName": "long@example.com", "title": longest}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    for body in [
        json!({"userName": "t@example.com", "title": random(2049)}),
        json!({"userName": format!("{}@example.com", random(3000))}),
        json!({"userName": "t@example.com", "emails": [{"value": random(9000)}]}),
    ] {
        let res = app.post("/Users", body).await;
        res.assert_error(400, Some("invalidValue"));
        assert!(
            res.body["detail"]
                .as_str()
                .unwrap()
                .contains("at most 2048 bytes"),
            "{}",
            res.text
        );
    }
    let res = app.post("/Groups", json!({"displayName": random(5000)})).await;
    res.assert_error(400, Some("invalidValue"));
    assert_eq!(
        matching(&app, &format!(r#"title eq "{longest}""#)).await,
        ["long@example.com"]
    );
}

/// R1's suffix search (`identifier = base OR identifier starts with base_`) is a `LIKE` on
/// Postgres and a range on SQLite: neither may fold case or read `%` and `_` as wildcards.
#[tokio::test]
async fn group_identifier_suffixes_are_case_exact_and_literal() {
    let app = TestApp::spawn().await;
    let admin = crate::adminkit::Admin::new(&app).await;
    let mut identifiers = Vec::new();
    for name in [
        // Taken first, each would push the next `x_y` or `a%b_c` to a higher suffix if the
        // search folded case or read wildcards.
        "X y 2", "a%bXc 2", "x y", "x-y", "a%b c", "a%b-c", "x.y",
    ] {
        let id = app.group(name, &[]).await;
        let res = admin.get(&format!("/groups/{id}")).await;
        assert_eq!(res.status, 200, "{}", res.text);
        identifiers.push(res.body["identifier"].as_str().unwrap().to_string());
    }
    assert_eq!(
        identifiers,
        ["X_y_2", "a%bXc_2", "x_y", "x_y_2", "a%b_c", "a%b_c_2", "x_y_3"]
    );
}

/// The audit log reads the same on both stores: Postgres's jsonb keeps object keys ordered by
/// length, SQLite as written, and the stores return changed memberships in the order they
/// found them.
#[tokio::test]
async fn audit_events_read_the_same_whatever_the_store_kept() {
    let app = TestApp::spawn().await;
    let admin = crate::adminkit::Admin::new(&app).await;
    let res = app
        .post(
            "/Users",
            json!({
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"manager": {"value": "m"}, "department": "R&D"},
                "emails": [{"type": "work", "value": "order@example.com", "primary": true}],
                "active": true,
                "name": {"givenName": "Or", "familyName": "Der"},
                "userName": "order@example.com",
                "externalId": "ext-1",
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"]
            }),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    let user = res.body["id"].as_str().unwrap().to_string();
    let res = admin
        .get(&format!("/audit?resource_type=User&resource_id={user}"))
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    let after = &res.body["items"][0]["after"];
    let keys: Vec<&str> = after.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "externalId",
            "userName",
            "name",
            "active",
            "emails",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
            "idp_managed",
            "source"
        ],
        "{after}"
    );
    let sub = |v: &serde_json::Value| -> Vec<String> { v.as_object().unwrap().keys().cloned().collect() };
    assert_eq!(sub(&after["name"]), ["familyName", "givenName"]);
    assert_eq!(sub(&after["emails"][0]), ["value", "type", "primary"]);
    assert_eq!(
        sub(&after["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]),
        ["department", "manager"]
    );

    let mut users = Vec::new();
    for n in 0..5 {
        users.push(app.user(&format!("m{n}@example.com")).await);
    }
    let group = app.group("Ordered", &[]).await;
    let reversed: Vec<serde_json::Value> = users.iter().rev().map(|u| json!({"value": u})).collect();
    for op in ["add", "remove"] {
        let res = app
            .patch(
                &format!("/Groups/{group}"),
                json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                       "Operations": [{"op": op, "path": "members", "value": reversed}]}),
            )
            .await;
        assert_eq!(res.status, 204, "{}", res.text);
    }
    let res = admin
        .get(&format!("/audit?resource_type=Group&resource_id={group}"))
        .await;
    let mut sorted = users.clone();
    sorted.sort();
    let items = res.body["items"].as_array().unwrap();
    assert_eq!(items[0]["delta"]["members_removed"], json!(sorted), "{}", res.text);
    assert_eq!(items[1]["delta"]["members_added"], json!(sorted), "{}", res.text);
}

/// R7 renames an IdP group that shares its name with a native one; the lower-case column
/// that `displayName` filters read is Rust's Unicode lower case, as on every other write,
/// not the database's `lower()` (ASCII only on SQLite and under collation C).
#[tokio::test]
async fn groups_renamed_on_disable_are_found_by_a_case_insensitive_filter() {
    use scimd::service::settings::{GroupNameConflict, ProfileUpdate};
    let app = TestApp::spawn().await;
    let admin = crate::adminkit::Admin::new(&app).await;
    crate::adminkit::set_profile(
        &app,
        ProfileUpdate {
            group_name_conflict: Some(GroupNameConflict::KeepBoth),
            ..Default::default()
        },
    )
    .await;
    admin.group("ÉQUIPE").await;
    let twin = app.group("ÉQUIPE", &[]).await;
    let res = admin
        .post("/scim/disable", json!({"confirmation": "DISABLE"}))
        .await;
    assert_eq!(res.body["groups_renamed"], 1, "{}", res.text);
    let res = admin
        .get(&format!(
            "/groups?filter={}",
            urlencode(r#"displayName eq "équipe (équipe_2)""#)
        ))
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    let found: Vec<&str> = res.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["id"].as_str().unwrap())
        .collect();
    assert_eq!(found, [twin.as_str()], "{}", res.text);
    let res = admin.get(&format!("/groups/{twin}")).await;
    assert_eq!(res.body["display_name"], "ÉQUIPE (ÉQUIPE_2)");
}

/// Postgres's migration 0003 lower-cased existing primary emails with the database's lower(),
/// ASCII only under collation C, where SQLite's took the Rust lower case. 0004 repairs such
/// rows on both stores, so an upgraded database adopts those users by their email (R4).
#[tokio::test]
async fn primary_emails_lower_cased_by_the_database_are_repaired_on_upgrade() {
    let app = TestApp::spawn().await;
    let admin = crate::adminkit::Admin::new(&app).await;
    let native = admin.user("unu", "ÜNÏ@X.org").await;
    {
        // What 0003 left on Postgres, before 0004.
        let mut db = app.sql().await;
        sqlx::query("UPDATE users SET primary_email_ci = 'ÜnÏ@x.org'")
            .execute(&mut db)
            .await
            .unwrap();
        sqlx::query("DELETE FROM _sqlx_migrations WHERE version = 4")
            .execute(&mut db)
            .await
            .unwrap();
    }
    let store = scimd::store::connect(&app.config.database_url, &scimd::store::StoreOptions::with_max(2)).await.unwrap();
    store.migrate().await.unwrap();
    store.close().await;
    let res = app
        .post(
            "/Users",
            json!({"userName": "unu.idp@x.org", "emails": [{"value": "ünï@x.org", "primary": true}]}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    assert_eq!(res.body["id"], native.as_str(), "adopted, not duplicated");
}

/// An export reads users, groups, memberships and bindings in one snapshot: a write that
/// commits between its statements is not half in it.
#[tokio::test]
async fn a_snapshot_does_not_see_writes_committed_after_its_first_read() {
    use scimd::store::ResourceKind;
    let app = TestApp::spawn().await;
    app.user("before@example.com").await;
    let mut snapshot = app.app.store.snapshot().await.unwrap();
    let first = snapshot
        .all_resources(ResourceKind::User, app.account)
        .await
        .unwrap();
    assert_eq!(first.len(), 1);
    // Committed through HTTP while the snapshot is open (it takes no write lock).
    app.user("after@example.com").await;
    let again = snapshot
        .all_resources(ResourceKind::User, app.account)
        .await
        .unwrap();
    assert_eq!(again.len(), 1, "the snapshot keeps its view");
    drop(snapshot);
    let mut fresh = app.app.store.reader().await.unwrap();
    let now = fresh
        .all_resources(ResourceKind::User, app.account)
        .await
        .unwrap();
    assert_eq!(now.len(), 2);
}
