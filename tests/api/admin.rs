//! The admin API: who may open it, its resources, settings, tokens, SCIM on/off, the audit log
//! and the OpenAPI document that describes it.

use reqwest::Method;
use serde_json::{Value, json};

use scimd::service::{Idp, TokenKind};

use crate::adminkit::{Admin, scim_token};
use crate::harness::TestApp;

fn okta_user(user_name: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name,
        "name": {"givenName": "Idp", "familyName": "User"},
        "emails": [{"primary": true, "value": user_name, "type": "work"}],
        "active": true
    })
}

#[tokio::test]
async fn only_the_accounts_admin_tokens_open_the_admin_api() {
    let app = TestApp::spawn().await;
    let admin = Admin::new(&app).await;
    let url = admin.url("/users");

    let res = app.send(Method::GET, &url, None, None, &[]).await;
    res.assert_error_json(401);
    // A SCIM token of the same account does not open it…
    let res = app.send(Method::GET, &url, Some(&app.token), None, &[]).await;
    res.assert_error_json(401);
    assert!(
        res.body["detail"].as_str().unwrap().contains("admin"),
        "{}",
        res.text
    );
    // …nor another account's admin token…
    let (other, _) = app.other_account().await;
    let foreign = app
        .app
        .service
        .create_token(other, TokenKind::Admin, None, None, None)
        .await
        .unwrap();
    app.send(Method::GET, &url, Some(&foreign.token), None, &[])
        .await
        .assert_error_json(401);
    // …and an admin token does not open the SCIM API.
    app.send(Method::GET, &app.scim("/Users"), Some(&admin.token), None, &[])
        .await
        .assert_error(401, None);

    let res = admin.get("/users").await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.header("content-type"), Some("application/json"));
    assert_eq!(res.body["total"], 0);
    // The other account's admin token opens the other account only.
    let res = app
        .send(
            Method::GET,
            &format!("{}/api/accounts/{other}/users", app.origin),
            Some(&foreign.token),
            None,
            &[],
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
}

#[tokio::test]
async fn users_are_created_changed_listed_by_source_and_deleted() {
    let app = TestApp::spawn().await;
    let admin = Admin::new(&app).await;
    let res = admin
        .post(
            "/users",
            json!({"user_name": "native@example.com", "email": "Native@Example.com",
                   "given_name": "Nat", "family_name": "Ive"}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    let native = res.body["id"].as_str().unwrap().to_string();
    assert_eq!(res.body["source"], "manual");
    assert_eq!(res.body["idp_managed"], false);
    assert_eq!(res.body["email"], "Native@Example.com");
    assert_eq!(res.body["active"], true);
    assert!(res.header("etag").is_some());

    app.user("okta.user@example.com").await;
    let entra = scim_token(&app, Idp::Entra).await;
    let res = app
        .send(
            Method::POST,
            &app.scim("/Users"),
            Some(&entra),
            Some(&okta_user("entra.user@example.com")),
            &[],
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);

    let names = |res: &crate::harness::Resp| -> Vec<String> {
        res.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["user_name"].as_str().unwrap().to_string())
            .collect()
    };
    let res = admin.get("/users?source=okta").await;
    assert_eq!(names(&res), ["okta.user@example.com"]);
    assert_eq!(res.body["items"][0]["source"], "okta");
    assert_eq!(res.body["items"][0]["idp_managed"], true);
    assert_eq!(
        names(&admin.get("/users?source=entra").await),
        ["entra.user@example.com"]
    );
    assert_eq!(
        names(&admin.get("/users?idp_managed=false").await),
        ["native@example.com"]
    );
    assert_eq!(admin.get("/users?idp_managed=true").await.body["total"], 2);
    assert_eq!(
        names(&admin.get("/users?filter=userName%20sw%20%22native%22").await),
        ["native@example.com"]
    );
    admin.get("/users?idp_managed=maybe").await.assert_error_json(400);

    let res = admin
        .patch(
            &format!("/users/{native}"),
            json!({"display_name": "Nat Ive", "active": false}),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["display_name"], "Nat Ive");
    assert_eq!(res.body["active"], false);
    admin
        .patch(&format!("/users/{native}"), json!({"nickname": "x"}))
        .await
        .assert_error_json(400);
    admin
        .post("/users", json!({"user_name": "NATIVE@example.com"}))
        .await
        .assert_error_json(409);

    assert_eq!(admin.delete(&format!("/users/{native}")).await.status, 204);
    admin
        .get(&format!("/users/{native}"))
        .await
        .assert_error_json(404);
}

#[tokio::test]
async fn groups_members_and_role_bindings() {
    let app = TestApp::spawn().await;
    let admin = Admin::new(&app).await;
    let res = admin
        .post("/groups", json!({"display_name": "example-group"}))
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    assert_eq!(res.body["identifier"], "example_group");
    let group = res.body["id"].as_str().unwrap().to_string();
    let res = admin
        .post("/groups", json!({"display_name": "example.group"}))
        .await;
    assert_eq!(res.body["identifier"], "example_group_2", "{}", res.text);
    admin
        .post("/groups", json!({"display_name": "example-group"}))
        .await
        .assert_error_json(409);

    let a = admin.user("a@example.com", "a@example.com").await;
    let b = admin.user("b@example.com", "b@example.com").await;
    let res = admin
        .post(&format!("/groups/{group}/members"), json!({"user_ids": [a, b]}))
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    let res = admin.get(&format!("/groups/{group}/members")).await;
    assert_eq!(res.body["items"].as_array().unwrap().len(), 2, "{}", res.text);
    admin
        .post(
            &format!("/groups/{group}/members"),
            json!({"user_ids": ["8f1c2f8e-0000-4000-8000-000000000000"]}),
        )
        .await
        .assert_error_json(400);
    assert_eq!(
        admin.delete(&format!("/groups/{group}/members/{b}")).await.status,
        204
    );
    let res = admin.get(&format!("/users/{a}")).await;
    assert_eq!(res.body["groups"][0]["id"], group.as_str());

    let res = admin
        .post(
            &format!("/groups/{group}/role-bindings"),
            json!({"role": "project_viewer", "resource_group": "all_projects"}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    assert_eq!(res.body["group_identifier"], "example_group");
    let binding = res.body["id"].as_str().unwrap().to_string();
    admin
        .post(
            &format!("/groups/{group}/role-bindings"),
            json!({"role": "project_viewer", "resource_group": "all_projects"}),
        )
        .await
        .assert_error_json(409);
    assert_eq!(
        admin.get("/role-bindings").await.body["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // A rename keeps the identifier (R1) and the bindings.
    let res = admin
        .patch(
            &format!("/groups/{group}"),
            json!({"display_name": "Renamed group"}),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["identifier"], "example_group");
    let res = admin.get(&format!("/groups/{group}/role-bindings")).await;
    assert_eq!(res.body["items"][0]["role"], "project_viewer");

    assert_eq!(
        admin
            .delete(&format!("/groups/{group}/role-bindings/{binding}"))
            .await
            .status,
        204
    );
    assert_eq!(admin.delete(&format!("/groups/{group}")).await.status, 204);
    // The members stay.
    assert_eq!(admin.get(&format!("/users/{a}")).await.status, 200);
}

#[tokio::test]
async fn settings_and_scim_tokens() {
    let app = TestApp::spawn().await;
    let admin = Admin::new(&app).await;
    let res = admin.get("/settings").await;
    assert_eq!(
        res.body,
        json!({"scim_enabled": true, "update_emails_via_scim": false, "group_name_conflict": "link",
               "reserved_group_names": [], "max_group_name_length": null, "token_lifetime_days": null})
    );
    let res = admin
        .patch(
            "/settings",
            json!({"group_name_conflict": "keep_both", "reserved_group_names": ["Administrators"],
                   "max_group_name_length": 24, "token_lifetime_days": 30}),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["group_name_conflict"], "keep_both");
    assert_eq!(res.body["max_group_name_length"], 24);
    let res = admin
        .patch("/settings", json!({"max_group_name_length": null}))
        .await;
    assert_eq!(res.body["max_group_name_length"], Value::Null);
    assert_eq!(res.body["reserved_group_names"], json!(["Administrators"]));
    admin
        .patch("/settings", json!({"group_name_conflict": "merge"}))
        .await
        .assert_error_json(400);

    // A SCIM token issued here works on the SCIM API and labels what it creates (R9).
    let res = admin
        .post(
            "/scim/tokens",
            json!({"idp": "onelogin", "description": "OneLogin app"}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    let token = res.body["token"].as_str().unwrap().to_string();
    let token_id = res.body["id"].as_str().unwrap().to_string();
    assert_eq!(res.body["idp"], "onelogin");
    assert_eq!(
        res.body["scim_base_url"],
        format!("{}/scim/account/{}", app.origin, app.account)
    );
    // The account's lifetime (30 days) applies.
    let expires: chrono::DateTime<chrono::Utc> = res.body["expires_at"].as_str().unwrap().parse().unwrap();
    let days = (expires - chrono::Utc::now()).num_hours() as f64 / 24.0;
    assert!((29.9..=30.1).contains(&days), "{days}");
    let res = app
        .send(
            Method::POST,
            &app.scim("/Users"),
            Some(&token),
            Some(&okta_user("ol@example.com")),
            &[],
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    assert_eq!(admin.get("/users?source=onelogin").await.body["total"], 1);

    let list = admin.get("/scim/tokens").await;
    assert!(
        list.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["kind"] == "scim")
    );
    assert!(
        list.text.find(&token).is_none(),
        "a listed token never shows its secret"
    );

    // Regenerate: the old secret stops at once, the new one works.
    let res = admin
        .send(Method::POST, &format!("/scim/tokens/{token_id}/regenerate"), None)
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    let fresh = res.body["token"].as_str().unwrap().to_string();
    let fresh_id = res.body["id"].as_str().unwrap().to_string();
    app.send(Method::GET, &app.scim("/Users"), Some(&token), None, &[])
        .await
        .assert_error(401, None);
    assert_eq!(
        app.send(Method::GET, &app.scim("/Users"), Some(&fresh), None, &[])
            .await
            .status,
        200
    );
    assert_eq!(
        admin.delete(&format!("/scim/tokens/{fresh_id}")).await.status,
        204
    );
    app.send(Method::GET, &app.scim("/Users"), Some(&fresh), None, &[])
        .await
        .assert_error(401, None);
    // The admin API manages SCIM tokens only: its own token is not one of them.
    admin
        .delete(&format!("/scim/tokens/{}", admin.token_id))
        .await
        .assert_error_json(404);
}

#[tokio::test]
async fn disabling_scim_converts_idp_resources_and_revokes_tokens() {
    let app = TestApp::spawn().await;
    let admin = Admin::new(&app).await;
    let user = app.user("idp@example.com").await;
    let group = app.group("Idp group", &[&user]).await;

    let res = admin.post("/scim/disable", json!({"confirmation": "yes"})).await;
    res.assert_error_json(400);
    assert!(res.body["detail"].as_str().unwrap().contains("DISABLE"));
    assert_eq!(app.get("/Users").await.status, 200, "nothing changed");

    let res = admin
        .post("/scim/disable", json!({"confirmation": "DISABLE"}))
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(
        res.body,
        json!({"scim_enabled": false, "users_converted": 1, "groups_converted": 1,
               "groups_renamed": 0, "tokens_revoked": 1})
    );
    app.get("/Users").await.assert_error(401, None);
    // While disabled, even a fresh SCIM token gets 403.
    let fresh = scim_token(&app, Idp::Okta).await;
    app.send(Method::GET, &app.scim("/Users"), Some(&fresh), None, &[])
        .await
        .assert_error(403, None);
    // Converted: native now, so the admin API may change them; the source is kept.
    let res = admin.get(&format!("/users/{user}")).await;
    assert_eq!(res.body["idp_managed"], false);
    assert_eq!(res.body["source"], "okta");
    assert_eq!(
        admin
            .patch(&format!("/groups/{group}"), json!({"display_name": "Now native"}))
            .await
            .status,
        200
    );

    let res = admin.send(Method::POST, "/scim/enable", None).await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["scim_enabled"], true);
    assert_eq!(
        app.send(Method::GET, &app.scim("/Users"), Some(&fresh), None, &[])
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn the_audit_log_records_every_surface_and_pages() {
    let app = TestApp::spawn().await;
    let admin = Admin::new(&app).await;
    let user = app.user("audited@example.com").await;
    let group = admin.group("Audited").await;
    // A member added over SCIM to an (adopted) group is recorded as a delta.
    let res = app
        .patch(
            &format!("/Groups/{group}"),
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                   "Operations": [{"op": "add", "path": "members", "value": [{"value": user}]}]}),
        )
        .await;
    assert_eq!(res.status, 204, "{}", res.text);
    app.app
        .service
        .create_token(app.account, TokenKind::Scim, Some(Idp::Entra), None, None)
        .await
        .unwrap();

    let res = admin.get("/audit").await;
    assert_eq!(res.status, 200, "{}", res.text);
    let items = res.body["items"].as_array().unwrap();
    let actions: Vec<&str> = items.iter().map(|e| e["action"].as_str().unwrap()).collect();
    // Newest first: operator token, SCIM member add, SCIM link of the native group, admin
    // group creation, SCIM user creation, then the tokens issued by the harness.
    assert_eq!(
        &actions[..5],
        [
            "token.create",
            "group.members",
            "group.link",
            "group.create",
            "user.create"
        ],
        "{}",
        res.text
    );
    assert_eq!(items[0]["actor"]["kind"], "operator");
    assert_eq!(items[1]["actor"]["kind"], "scim");
    assert_eq!(items[1]["actor"]["idp"], "okta");
    assert_eq!(items[1]["actor"]["token_id"], app.token_id.to_string());
    assert_eq!(items[1]["delta"], json!({"members_added": [user]}));
    assert_eq!(
        items[1]["before"],
        Value::Null,
        "a member add does not copy the group"
    );
    assert_eq!(items[2]["before"]["idp_managed"], false);
    assert_eq!(items[2]["after"]["idp_managed"], true);
    assert_eq!(items[3]["actor"]["kind"], "admin");
    assert_eq!(items[3]["actor"]["token_id"], admin.token_id.to_string());
    assert_eq!(items[4]["after"]["userName"], "audited@example.com");
    assert!(items[4]["at"].is_string());

    // Paging: newest first, `next` continues with older events.
    let first = admin.get("/audit?limit=2").await;
    assert_eq!(first.body["items"].as_array().unwrap().len(), 2);
    let next = first.body["next"].as_str().unwrap();
    let second = admin.get(&format!("/audit?limit=2&before={next}")).await;
    assert_eq!(second.body["items"][0]["action"], "group.link");
    // By resource.
    let res = admin
        .get(&format!("/audit?resource_type=Group&resource_id={group}"))
        .await;
    let actions: Vec<&str> = res.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["group.members", "group.link", "group.create"]);
    admin.get("/audit?limit=0").await.assert_error_json(400);
    admin.get("/audit?before=nope").await.assert_error_json(400);
}

/// Every route in the OpenAPI document is served (an unauthenticated request gets 401, not
/// 404 or 405), and every route the tests use is in the document.
#[tokio::test]
async fn the_openapi_document_matches_the_routes() {
    let app = TestApp::spawn().await;
    let res = app
        .send(
            Method::GET,
            &format!("{}/api/openapi.json", app.origin),
            None,
            None,
            &[],
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert!(res.body["openapi"].as_str().unwrap().starts_with("3."));
    let paths = res.body["paths"].as_object().unwrap();
    let mut documented = Vec::new();
    for (path, item) in paths {
        for method in item.as_object().unwrap().keys() {
            documented.push((method.to_uppercase(), path.clone()));
        }
    }
    let expected = [
        ("GET", "/users"),
        ("POST", "/users"),
        ("GET", "/users/{user_id}"),
        ("PATCH", "/users/{user_id}"),
        ("DELETE", "/users/{user_id}"),
        ("GET", "/groups"),
        ("POST", "/groups"),
        ("GET", "/groups/{group_id}"),
        ("PATCH", "/groups/{group_id}"),
        ("DELETE", "/groups/{group_id}"),
        ("GET", "/groups/{group_id}/members"),
        ("POST", "/groups/{group_id}/members"),
        ("DELETE", "/groups/{group_id}/members/{user_id}"),
        ("GET", "/groups/{group_id}/role-bindings"),
        ("POST", "/groups/{group_id}/role-bindings"),
        ("DELETE", "/groups/{group_id}/role-bindings/{binding_id}"),
        ("GET", "/role-bindings"),
        ("GET", "/settings"),
        ("PATCH", "/settings"),
        ("POST", "/scim/enable"),
        ("POST", "/scim/disable"),
        ("GET", "/scim/tokens"),
        ("POST", "/scim/tokens"),
        ("DELETE", "/scim/tokens/{token_id}"),
        ("POST", "/scim/tokens/{token_id}/regenerate"),
        ("GET", "/audit"),
        ("GET", "/export"),
        ("POST", "/compare"),
    ];
    for (method, path) in expected {
        let full = format!("/api/accounts/{{account_id}}{path}");
        assert!(
            documented.contains(&(method.to_string(), full.clone())),
            "{method} {full} is not documented"
        );
    }
    assert_eq!(documented.len(), expected.len(), "{documented:?}");
    let id = uuid::Uuid::new_v4().to_string();
    for (method, path) in &documented {
        let concrete = path
            .replace("{account_id}", &app.account.to_string())
            .replace("{user_id}", &id)
            .replace("{group_id}", &id)
            .replace("{binding_id}", &id)
            .replace("{token_id}", &id);
        let res = app
            .send(
                Method::from_bytes(method.as_bytes()).unwrap(),
                &format!("{}{concrete}", app.origin),
                None,
                None,
                &[],
            )
            .await;
        assert_eq!(
            res.status, 401,
            "{method} {path} is documented but not served: {}",
            res.text
        );
    }
}
