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
    res.assert_problem(401);
    // A SCIM token of the same account does not open it…
    let res = app.send(Method::GET, &url, Some(&app.token), None, &[]).await;
    res.assert_problem(401);
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
        .assert_problem(401);
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
    admin.get("/users?idp_managed=maybe").await.assert_problem(400);

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
        .assert_problem(400);
    admin
        .post("/users", json!({"user_name": "NATIVE@example.com"}))
        .await
        .assert_problem(409);

    assert_eq!(admin.delete(&format!("/users/{native}")).await.status, 204);
    admin
        .get(&format!("/users/{native}"))
        .await
        .assert_problem(404);
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
        .assert_problem(409);

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
        .assert_problem(400);
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
        .assert_problem(409);
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
               "reserved_group_names": [], "max_group_name_length": null, "token_lifetime_days": null,
               "undeclared_extensions": "keep"})
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
        .assert_problem(400);

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
        .assert_problem(404);
}

#[tokio::test]
async fn disabling_scim_converts_idp_resources_and_revokes_tokens() {
    let app = TestApp::spawn().await;
    let admin = Admin::new(&app).await;
    let user = app.user("idp@example.com").await;
    let group = app.group("Idp group", &[&user]).await;

    let res = admin.post("/scim/disable", json!({"confirmation": "yes"})).await;
    res.assert_problem(400);
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
    // docs/rules.md, R7: while disabled the SCIM API answers 403 — to the IdP's own (now revoked)
    // token too, which must learn that provisioning is off, not look for a replacement.
    let res = app.get("/Users").await;
    res.assert_error(403, None);
    assert!(res.body["detail"].as_str().unwrap().contains("disabled"), "{}", res.text);
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
    // The token revoked by disabling stays revoked.
    app.get("/Users").await.assert_error(401, None);
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
    admin.get("/audit?limit=0").await.assert_problem(400);
    admin.get("/audit?before=nope").await.assert_problem(400);
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
        ("GET", "/schemas"),
        ("POST", "/schemas"),
        ("DELETE", "/schemas/{urn}"),
        ("GET", "/audit"),
        ("GET", "/events"),
        ("GET", "/oauth/clients"),
        ("POST", "/oauth/clients"),
        ("DELETE", "/oauth/clients/{client_id}"),
        ("GET", "/webhooks"),
        ("POST", "/webhooks"),
        ("GET", "/webhooks/{webhook_id}"),
        ("PATCH", "/webhooks/{webhook_id}"),
        ("DELETE", "/webhooks/{webhook_id}"),
        ("GET", "/webhooks/{webhook_id}/deliveries"),
        ("POST", "/webhooks/{webhook_id}/redeliver"),
        ("GET", "/export"),
        ("POST", "/compare"),
        ("POST", "/console/setup-links"),
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

/// What the OpenAPI document promises for every operation, checked on the served document:
/// the common error answers with the error body (401, 429, 503; 400 with input; 404 with an
/// id; 413 and 415 with a body), If-Match and 412 on conditional writes, and a pattern on
/// every free-text request string (no U+0000; not blank where `minLength` is 1).
#[tokio::test]
async fn the_openapi_document_declares_every_answer_and_constraint() {
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
    let doc = &res.body;
    let resolve = |v: &Value| -> Value {
        match v["$ref"].as_str() {
            Some(r) => doc
                .pointer(r.trim_start_matches('#'))
                .cloned()
                .unwrap_or_else(|| panic!("dangling {r}")),
            None => v.clone(),
        }
    };
    let error_schema = json!({"$ref": "#/components/schemas/Problem"});
    assert_eq!(
        doc.pointer("/components/schemas/Problem/required"),
        Some(&json!(["type", "title", "status", "detail"]))
    );
    let mut operations = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            operations += 1;
            let what = format!("{} {path}", method.to_uppercase());
            let params = op["parameters"].as_array().cloned().unwrap_or_default();
            let reads_query = params.iter().any(|p| p["in"] == "query");
            let names_resource = params
                .iter()
                .any(|p| p["in"] == "path" && p["name"] != "account_id");
            let reads_body = op.get("requestBody").is_some();
            let responses = op["responses"].as_object().unwrap();
            let mut expected = vec!["401", "429", "503"];
            if reads_query || reads_body {
                expected.push("400");
            }
            if names_resource {
                expected.push("404");
            }
            if reads_body {
                expected.extend(["413", "415"]);
            }
            for status in expected {
                assert!(responses.contains_key(status), "{what} does not declare {status}");
            }
            if !reads_query && !reads_body {
                assert!(
                    !responses.contains_key("400"),
                    "{what} reads no input but declares 400"
                );
            }
            for (status, res) in responses {
                let res = resolve(res);
                assert!(
                    res["description"].is_string(),
                    "{what} {status} has no description"
                );
                if status.starts_with(['4', '5']) {
                    assert_eq!(
                        res["content"]["application/problem+json"]["schema"], error_schema,
                        "{what} {status} does not carry the error body"
                    );
                }
            }
            let conditional = ["update_user", "delete_user", "update_group", "delete_group"];
            if conditional.contains(&op["operationId"].as_str().unwrap()) {
                assert!(responses.contains_key("412"), "{what} does not declare 412");
                assert!(
                    params
                        .iter()
                        .any(|p| p["name"] == "If-Match" && p["in"] == "header")
                );
            }
            for p in params.iter().filter(|p| p["in"] != "path") {
                let schema = resolve(&p["schema"]);
                if schema["type"] == "string"
                    && schema.get("enum").is_none()
                    && schema.get("format").is_none()
                {
                    assert!(
                        schema["pattern"].is_string(),
                        "{what} {} has no pattern",
                        p["name"]
                    );
                }
            }
        }
    }
    assert_eq!(operations, 43);
    // Request bodies: every free-text string has its pattern, ids are UUIDs, bounds are there.
    let schema = |name: &str| doc["components"]["schemas"][name].clone();
    let user = schema("UserCreate");
    assert_eq!(user["additionalProperties"], false);
    assert_eq!(user["properties"]["user_name"]["minLength"], 1);
    assert_eq!(user["properties"]["user_name"]["maxLength"], 256);
    let not_blank = user["properties"]["user_name"]["pattern"].as_str().unwrap();
    assert!(not_blank.contains("\\u3000"), "{not_blank}");
    // Identifiers also refuse control and invisible characters, as the server does.
    let email = user["properties"]["email"]["pattern"].as_str().unwrap();
    assert!(email.starts_with("^[^\\u0000-\\u001f") && email.contains("\\u200b-\\u200f"), "{email}");
    assert!(not_blank.contains("\\u202a-\\u202e"), "{not_blank}");
    assert_eq!(
        schema("MembersAdd")["properties"]["user_ids"]["items"]["format"],
        "uuid"
    );
    assert_eq!(
        schema("TokenCreate")["properties"]["lifetime_days"]["maximum"],
        3650
    );
    assert_eq!(
        schema("ScimDisable")["properties"]["confirmation"]["enum"],
        json!(["DISABLE"])
    );
    assert_eq!(
        schema("Export")["properties"]["format"]["enum"],
        json!(["scimd-export/1"])
    );
    let regenerate = &doc["paths"]["/api/accounts/{account_id}/scim/tokens/{token_id}/regenerate"]["post"];
    assert!(regenerate["requestBody"].get("required").is_none());
    assert_eq!(
        regenerate["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/TokenRegenerate",
        "no body is optional, a null one is not"
    );
}

/// Input the document refuses is refused by the server, with 400 naming the field or
/// parameter and what it takes; none of it is a 500 (U+0000 and names longer than an index
/// row were) or is quietly read another way (trimmed, case-folded, empty as absent).
#[tokio::test]
async fn input_outside_the_document_is_400_naming_what_to_fix() {
    let app = TestApp::spawn().await;
    let admin = Admin::new(&app).await;
    let group = admin.group("Readers").await;
    let user = admin.user("reader@example.com", "reader@example.com").await;
    let long = "x".repeat(257);
    let bodies = [
        (
            "/users",
            json!({"user_name": "a\u{0}b"}),
            "user_name contains the NUL character",
        ),
        (
            "/users",
            json!({"user_name": "ok", "email": "a\u{0}"}),
            "email contains the NUL",
        ),
        (
            "/users",
            json!({"user_name": long}),
            "user_name is 257 characters long; at most 256",
        ),
        (
            "/users",
            json!({"user_name": " \u{3000} "}),
            "user_name must not be empty",
        ),
        (
            "/users",
            json!({"user_name": 7}),
            "user_name: invalid type: integer",
        ),
        ("/users", json!(null), "must be a JSON object, not null"),
        (
            "/groups",
            json!({"display_name": "é".repeat(257)}),
            "display_name is 257 characters",
        ),
        (
            "/groups",
            json!({"display_name": "g\u{0}"}),
            "display_name contains the NUL",
        ),
        (
            &format!("/groups/{group}/role-bindings"),
            json!({"role": long, "resource_group": "all"}),
            "role is 257 characters",
        ),
        (
            &format!("/groups/{group}/members"),
            json!({"user_ids": [user, "nope"]}),
            "not UUIDs: [\"nope\"]",
        ),
        (
            &format!("/groups/{group}/members"),
            json!({"user_ids": [user, 1]}),
            "user_ids[1]: invalid type",
        ),
        (
            "/scim/tokens",
            json!({"idp": "OKTA"}),
            "idp: unknown variant `OKTA`",
        ),
        (
            "/scim/tokens",
            json!({"idp": "okta", "lifetime_days": 0}),
            "lifetime_days must be from 1 to 3650",
        ),
        (
            "/scim/tokens",
            json!({"idp": "okta", "lifetime_days": 30.5}),
            "lifetime_days: expected a whole number",
        ),
        (
            "/scim/tokens",
            json!({"idp": "okta", "description": "d".repeat(1025)}),
            "description is 1025",
        ),
        (
            "/compare",
            json!({"before": {"format": "scimd-export/1"}}),
            "before: missing field `account_id`",
        ),
        ("/compare", json!({"extra": 1}), "extra: unknown field `extra`"),
    ];
    for (path, body, detail) in bodies {
        let res = admin.post(path, body.clone()).await;
        res.assert_problem(400);
        let got = res.body["detail"].as_str().unwrap();
        assert!(
            got.contains(detail),
            "{path} {body}: {got:?} does not say {detail:?}"
        );
    }
    let res = admin
        .patch("/settings", json!({"group_name_conflict": "LINK"}))
        .await;
    res.assert_problem(400);
    assert!(
        res.body["detail"]
            .as_str()
            .unwrap()
            .starts_with("group_name_conflict: unknown variant")
    );

    let queries = [
        (
            "/users?filter=userName%20eq%20%22a%00%22",
            "filter contains the NUL character",
        ),
        (
            &format!("/users?filter={}", "a".repeat(1025)),
            "filter is 1025 characters long",
        ),
        (
            "/users?sort_order=Descending",
            "sort_order \"Descending\" is not accepted",
        ),
        ("/users?sort_by=username", "sort_by \"username\" is not accepted"),
        ("/groups?sort_by=userName", "sort_by \"userName\" is not accepted"),
        (
            "/users?start_index=0",
            "start_index must be an integer of at least 1",
        ),
        (
            "/users?start_index=",
            "start_index must be an integer of at least 1, not \"\"",
        ),
        (
            "/users?count=%205",
            "count must be an integer of at least 0, not \" 5\"",
        ),
        ("/users?count=-1", "count must be an integer of at least 0"),
        ("/users?source=OKTA", "source \"OKTA\" is not accepted"),
        ("/groups?idp_managed=TRUE", "idp_managed must be true or false"),
        ("/export?format=CSV", "format \"CSV\" is not accepted"),
        (
            "/audit?resource_type=user",
            "resource_type \"user\" is not accepted",
        ),
        ("/audit?resource_id=nope", "resource_id must be a UUID"),
        ("/audit?limit=501", "limit must be an integer from 1 to 500"),
        ("/audit?before=", "before must be a UUID"),
    ];
    for (path, detail) in queries {
        let res = admin.get(path).await;
        res.assert_problem(400);
        let got = res.body["detail"].as_str().unwrap();
        assert!(got.contains(detail), "{path}: {got:?} does not say {detail:?}");
    }
    // What the document allows is accepted, whole numbers included.
    assert_eq!(admin.get("/users?start_index=1&count=0&sort_by=meta.created&sort_order=descending&source=manual&idp_managed=false").await.status, 200);
    assert_eq!(admin.get("/export?format=csv").await.status, 200);
    let res = admin
        .post("/scim/tokens", json!({"idp": "okta", "lifetime_days": 30.0}))
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    assert_eq!(
        admin
            .get(&format!("/audit?resource_type=User&resource_id={user}&limit=500"))
            .await
            .status,
        200
    );
}

/// Ids in paths are hyphenated UUIDs (another spelling names nothing: 404), and removing a
/// user who is not a member is 404, not a 204 that reads as a removal.
#[tokio::test]
async fn path_ids_and_member_removal_answer_404_for_what_is_not_there() {
    let app = TestApp::spawn().await;
    let admin = Admin::new(&app).await;
    let group = admin.group("Members").await;
    let user = admin.user("member@example.com", "member@example.com").await;
    let simple = user.replace('-', "");
    for path in [
        format!("/users/{simple}"),
        format!("/users/{{{user}}}"),
        format!("/groups/{}/members", group.to_uppercase().replace('-', "")),
    ] {
        admin.get(&path).await.assert_problem(404);
    }
    assert_eq!(
        admin.get(&format!("/users/{}", user.to_uppercase())).await.status,
        200
    );

    let member = |id: &str| format!("/groups/{group}/members/{id}");
    admin.delete(&member("nope")).await.assert_problem(404);
    let res = admin.delete(&member(&user)).await;
    res.assert_problem(404);
    assert!(
        res.body["detail"].as_str().unwrap().contains("is not a member"),
        "{}",
        res.text
    );
    let res = admin
        .post(&format!("/groups/{group}/members"), json!({"user_ids": [user]}))
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(admin.delete(&member(&user)).await.status, 204);
    admin.delete(&member(&user)).await.assert_problem(404);
    let res = admin.get(&format!("/groups/{group}/members")).await;
    assert_eq!(res.body["items"], json!([]), "{}", res.text);
}

/// Regenerate takes no body or an object: a `null` body is 400, and a body over the limit is
/// 413 (it was reported as a 400 "could not read the request body").
#[tokio::test]
async fn regenerate_takes_no_body_or_an_object_within_the_limit() {
    let app = TestApp::spawn_with(|c| c.max_body_bytes = 1024).await;
    let admin = Admin::new(&app).await;
    let res = admin.post("/scim/tokens", json!({"idp": "entra"})).await;
    assert_eq!(res.status, 201, "{}", res.text);
    let token = res.body["id"].as_str().unwrap().to_string();
    let url = admin.url(&format!("/scim/tokens/{token}/regenerate"));
    let auth = format!("Bearer {}", admin.token);
    let headers = [
        ("Authorization", auth.as_str()),
        ("Content-Type", "application/json"),
    ];
    let send = |body: Vec<u8>| app.raw(Method::POST, &url, &headers, Some(body));
    send(b"null".to_vec()).await.assert_problem(400);
    let mut big = b"{\"lifetime_days\": 30".to_vec();
    big.extend(std::iter::repeat_n(b' ', 2048));
    big.push(b'}');
    send(big).await.assert_problem(413);
    let res = send(Vec::new()).await;
    assert_eq!(res.status, 201, "{}", res.text);
    assert_eq!(res.body["idp"], "entra");
}

/// compare reads both exports strictly: an `after` of another format, or a field this version
/// does not know, is 400 (`after` was not checked, and unknown fields were dropped).
#[tokio::test]
async fn compare_refuses_an_after_of_another_format_and_unknown_fields() {
    let app = TestApp::spawn().await;
    let admin = Admin::new(&app).await;
    admin.user("kept@example.com", "kept@example.com").await;
    let export = admin.get("/export").await.body;
    let res = admin
        .post("/compare", json!({"before": export, "after": export}))
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["clean"], true);

    let mut other = export.clone();
    other["format"] = json!("someone-else/2");
    let res = admin
        .post("/compare", json!({"before": export, "after": other}))
        .await;
    res.assert_problem(400);
    assert!(
        res.body["detail"]
            .as_str()
            .unwrap()
            .starts_with("after is not a scimd-export/1 export")
    );

    let mut extra = export.clone();
    extra["users"][0]["nickname"] = json!("kept");
    let res = admin.post("/compare", json!({"before": extra})).await;
    res.assert_problem(400);
    let detail = res.body["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("before.users[0].nickname: unknown field `nickname`"),
        "{detail}"
    );
}

/// Two admins (or a retried request) regenerating one token at once: one wins, the other is
/// told the token is gone; never two live replacements.
#[tokio::test]
async fn concurrent_regenerations_of_one_token_leave_one_replacement() {
    let app = std::sync::Arc::new(TestApp::spawn().await);
    let admin_token = Admin::new(&app).await.token.clone();
    let url = format!(
        "{}/api/accounts/{}/scim/tokens/{}/regenerate",
        app.origin, app.account, app.token_id
    );
    let tasks: Vec<_> = (0..6)
        .map(|_| {
            let (app, url, token) = (app.clone(), url.clone(), admin_token.clone());
            tokio::spawn(async move { app.send(Method::POST, &url, Some(&token), None, &[]).await })
        })
        .collect();
    let mut attempts = Vec::new();
    for t in tasks {
        attempts.push(t.await.unwrap());
    }
    let won: Vec<_> = attempts.iter().filter(|r| r.status == 201).collect();
    assert_eq!(
        won.len(),
        1,
        "{:?}",
        attempts.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    for lost in attempts.iter().filter(|r| r.status != 201) {
        lost.assert_problem(404);
    }
    let admin = Admin::new(&app).await;
    let live: Vec<_> = admin.get("/scim/tokens").await.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["revoked_at"].is_null())
        .cloned()
        .collect();
    assert_eq!(live.len(), 1, "{live:?}");
    assert_eq!(live[0]["id"], won[0].body["id"]);
}

/// compare carries whole exports: an account of ~10,000 users (a few MB) is within its own
/// limit (`max_export_bytes`), not refused by the 1 MiB `max_body_bytes` of other routes.
#[tokio::test]
async fn compare_accepts_exports_larger_than_the_ordinary_body_limit() {
    let app = TestApp::spawn_with(|c| c.max_export_bytes = 8 * 1024 * 1024).await;
    let admin = Admin::new(&app).await;
    let mut export = admin.get("/export").await.body;
    let users: Vec<Value> = (0..10_000)
        .map(|i| {
            json!({"id": uuid::Uuid::now_v7(), "user_name": format!("user{i}@example.com"),
                   "email": format!("user{i}@example.com"), "display_name": format!("User {i}"),
                   "given_name": "Given", "family_name": "Family", "active": true,
                   "source": "okta", "idp_managed": true, "external_id": null})
        })
        .collect();
    export["users"] = json!(users);
    let body = json!({"before": export, "after": export});
    assert!(body.to_string().len() > 2 * app.config.max_body_bytes);
    let res = admin.post("/compare", body).await;
    assert_eq!(res.status, 200, "{}", &res.text[..res.text.len().min(300)]);
    assert_eq!(res.body["clean"], true);

    // Past its own limit: 413 naming the setting, and the CLI that has none.
    let too_big = json!({"before": {"users": "x".repeat(8 * 1024 * 1024)}});
    let res = admin.post("/compare", too_big).await;
    res.assert_problem(413);
    assert!(res.body["detail"].as_str().unwrap().contains("max_export_bytes"), "{}", res.text);
    // Other routes keep the ordinary limit.
    let res = admin
        .post("/users", json!({"user_name": "x".repeat(2 * 1024 * 1024)}))
        .await;
    res.assert_problem(413);
}

/// The admin API is not a SCIM API: its errors are RFC 9457 problem details, wherever they
/// come from (a handler, the token check, the router); the SCIM API keeps SCIM errors.
#[tokio::test]
async fn admin_api_errors_are_problem_details_and_scim_errors_stay_scim() {
    let app = TestApp::spawn().await;
    let admin = Admin::new(&app).await;
    let missing = uuid::Uuid::new_v4();

    let res = admin.get(&format!("/users/{missing}")).await;
    res.assert_problem(404);
    assert!(res.body.get("code").is_none(), "{}", res.text);
    admin.post("/users", json!({"user_name": "dup@example.com"})).await;
    let res = admin
        .post("/users", json!({"user_name": "DUP@example.com"}))
        .await;
    res.assert_problem(409);
    assert_eq!(res.body["code"], "uniqueness", "{}", res.text);
    let res = admin.post("/users", json!({"user_name": "x", "shoe_size": 9})).await;
    res.assert_problem(400);
    assert_eq!(res.body["code"], "invalidValue", "{}", res.text);
    assert!(res.body["detail"].as_str().unwrap().contains("shoe_size"), "{}", res.text);

    // The token check: the challenge header stays.
    let res = app
        .send(Method::GET, &admin.url("/users"), None, None, &[])
        .await;
    res.assert_problem(401);
    assert!(res.header("www-authenticate").is_some_and(|h| h.starts_with("Bearer")));
    // The router: a method the route does not have, and a path under /api/ that is none.
    let res = admin.send(Method::PUT, "/users", None).await;
    res.assert_problem(405);
    let res = app
        .send(
            Method::GET,
            &format!("{}/api/nothing-here", app.origin),
            Some(&admin.token),
            None,
            &[],
        )
        .await;
    res.assert_problem(404);

    // SCIM keeps its error format.
    app.get(&format!("/Users/{missing}"))
        .await
        .assert_error(404, None);
}

/// The OpenAPI schemas of the export format are mirrors of the service's types
/// (`http/admin/export_schema.rs`): each must name exactly the fields a real export has.
#[tokio::test]
async fn the_openapi_export_schemas_name_every_field_an_export_has() {
    let app = TestApp::spawn().await;
    let admin = Admin::new(&app).await;
    let user = admin.user("ann@example.com", "ann@example.com").await;
    let group = admin.group("Ops").await;
    let res = admin
        .post(&format!("/groups/{group}/members"), json!({"user_ids": [user]}))
        .await;
    assert!(res.status < 300, "{}", res.text);
    let res = admin
        .post(
            &format!("/groups/{group}/role-bindings"),
            json!({"role": "admin", "resource_group": "all"}),
        )
        .await;
    assert!(res.status < 300, "{}", res.text);
    let export = admin.get("/export").await.body;
    let doc = app
        .send(Method::GET, &format!("{}/api/openapi.json", app.origin), None, None, &[])
        .await
        .body;
    let keys = |v: &Value| -> std::collections::BTreeSet<String> {
        v.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default()
    };
    for (schema, value) in [
        ("Export", &export),
        ("ExportUser", &export["users"][0]),
        ("ExportGroup", &export["groups"][0]),
        ("ExportMembership", &export["memberships"][0]),
        ("ExportBinding", &export["role_bindings"][0]),
    ] {
        assert!(value.is_object(), "the export has no {schema}: {export}");
        let documented = keys(&doc["components"]["schemas"][schema]["properties"]);
        assert_eq!(documented, keys(value), "{schema}: the OpenAPI schema and a real export differ");
    }
}
