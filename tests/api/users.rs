//! /Users: create, read, list and filter, replace, patch, delete.

use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::TestApp;

fn okta_user(user_name: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name,
        "name": {"givenName": "Test", "familyName": "User"},
        "emails": [{"primary": true, "value": user_name, "type": "work"}],
        "displayName": "Test User",
        "locale": "en-US",
        "externalId": "00ujl29u0le5T6Aj10h7",
        "groups": [],
        "password": "1mz050nq",
        "active": true
    })
}

#[tokio::test]
async fn create_returns_201_with_location_etag_and_meta() {
    let app = TestApp::spawn().await;
    let res = app.post("/Users", okta_user("test.user@okta.local")).await;
    assert_eq!(res.status, 201, "{}", res.text);
    let id = res.body["id"].as_str().unwrap();
    let location = res.header("location").unwrap();
    assert_eq!(location, app.scim(&format!("/Users/{id}")));
    assert_eq!(res.body["meta"]["location"], location);
    assert_eq!(res.body["meta"]["resourceType"], "User");
    assert!(res.body["meta"]["created"].as_str().unwrap().ends_with('Z'));
    assert_eq!(res.body["meta"]["version"], res.header("etag").unwrap());
    assert_eq!(res.body["userName"], "test.user@okta.local");
    assert_eq!(res.body["name"]["familyName"], "User");
    assert_eq!(res.body["emails"][0]["value"], "test.user@okta.local");
    assert_eq!(res.body["active"], true);
    assert_eq!(res.body["externalId"], "00ujl29u0le5T6Aj10h7");
    assert!(
        res.body.get("password").is_none(),
        "password must never be returned"
    );
    assert!(
        res.header("content-type")
            .unwrap()
            .starts_with("application/scim+json")
    );
    assert_eq!(
        res.body["schemas"][0],
        "urn:ietf:params:scim:schemas:core:2.0:User"
    );
}

#[tokio::test]
async fn duplicate_user_name_is_409_uniqueness_ignoring_case() {
    let app = TestApp::spawn().await;
    app.user("Jane.Doe@example.com").await;
    let res = app.post("/Users", okta_user("jane.doe@EXAMPLE.com")).await;
    res.assert_error(409, Some("uniqueness"));
    assert!(res.body["detail"].as_str().unwrap().contains("userName"));
}

#[tokio::test]
async fn get_unknown_or_malformed_id_is_404() {
    let app = TestApp::spawn().await;
    app.get(&format!("/Users/{}", uuid::Uuid::new_v4()))
        .await
        .assert_error(404, None);
    app.get("/Users/00919288221112222").await.assert_error(404, None);
}

#[tokio::test]
async fn list_pages_with_integer_counters_in_a_stable_order() {
    let app = TestApp::spawn().await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(app.user(&format!("user{i}@example.com")).await);
    }
    let mut seen = Vec::new();
    for start in [1, 3, 5] {
        let res = app.get(&format!("/Users?startIndex={start}&count=2")).await;
        assert_eq!(res.status, 200);
        assert_eq!(
            res.body["schemas"][0],
            "urn:ietf:params:scim:api:messages:2.0:ListResponse"
        );
        assert_eq!(res.body["totalResults"], json!(5));
        assert_eq!(res.body["startIndex"], json!(start));
        assert!(res.body["itemsPerPage"].is_u64());
        for r in res.body["Resources"].as_array().unwrap() {
            seen.push(r["id"].as_str().unwrap().to_string());
        }
    }
    assert_eq!(seen, ids, "pages cover every user once, in creation order");

    let zero = app.get("/Users?count=0").await;
    assert_eq!(zero.body["totalResults"], 5);
    assert_eq!(zero.body["Resources"], json!([]));
    let past = app.get("/Users?startIndex=50").await;
    assert_eq!(past.body["totalResults"], 5);
    assert_eq!(past.body["Resources"], json!([]));
    let negative = app.get("/Users?startIndex=-3&count=-1").await;
    assert_eq!(negative.body["startIndex"], 1);
    assert_eq!(negative.body["itemsPerPage"], 0);
    app.get("/Users?count=abc")
        .await
        .assert_error(400, Some("invalidValue"));
}

#[tokio::test]
async fn count_is_clamped_to_max_results() {
    let app = TestApp::spawn_with(|c| {
        c.max_results = 2;
        c.default_count = 2;
    })
    .await;
    for i in 0..3 {
        app.user(&format!("u{i}@example.com")).await;
    }
    let res = app.get("/Users?count=100").await;
    assert_eq!(res.body["totalResults"], 3);
    assert_eq!(res.body["itemsPerPage"], 2);
    let spc = app.get("/ServiceProviderConfig").await;
    assert_eq!(spc.body["filter"]["maxResults"], 2);
}

#[tokio::test]
async fn eq_filters_on_every_lookup_an_idp_makes() {
    let app = TestApp::spawn().await;
    let res = app
        .post(
            "/Users",
            json!({
                "userName": "Bjensen@Example.com",
                "externalId": "Ext-42",
                "displayName": "Babs Jensen",
                "emails": [{"value": "babs@work.example", "type": "work"}, {"value": "babs@home.example", "type": "home"}]
            }),
        )
        .await;
    let id = res.body["id"].as_str().unwrap().to_string();
    app.user("other@example.com").await;

    let just = vec![id.clone()];
    assert_eq!(
        hits(&app, r#"userName eq "bjensen@example.com""#).await,
        just,
        "userName is case-insensitive"
    );
    assert_eq!(hits(&app, r#"USERNAME EQ "BJENSEN@EXAMPLE.COM""#).await, just);
    assert_eq!(hits(&app, r#"externalId eq "Ext-42""#).await, just);
    assert!(
        hits(&app, r#"externalId eq "ext-42""#).await.is_empty(),
        "externalId is case-exact"
    );
    assert_eq!(hits(&app, &format!(r#"id eq "{id}""#)).await, just);
    assert_eq!(hits(&app, r#"displayName eq "babs jensen""#).await, just);
    assert_eq!(hits(&app, r#"emails.value eq "BABS@home.example""#).await, just);
    assert_eq!(
        hits(&app, r#"emails[type eq "work"].value eq "babs@work.example""#).await,
        just
    );
    assert!(
        hits(&app, r#"emails[type eq "work"].value eq "babs@home.example""#)
            .await
            .is_empty()
    );
    assert_eq!(
        hits(
            &app,
            r#"userName eq "bjensen@example.com" and externalId eq "Ext-42""#
        )
        .await,
        just
    );
    // No match is 200 with an empty list, never 404.
    let res = app
        .get("/Users?filter=userName%20eq%20%223e59e27b-68ad-41f5-bb0e-dadf130e2ac8%22")
        .await;
    assert_eq!(res.status, 200);
    assert_eq!(res.body["totalResults"], 0);
    assert_eq!(res.body["Resources"], json!([]));
    // Okta encodes spaces as '+'.
    let res = app
        .get("/Users?filter=userName+eq+%22bjensen%40example.com%22&startIndex=1&count=100")
        .await;
    assert_eq!(res.body["totalResults"], 1);
}

#[tokio::test]
async fn bad_or_unsupported_filters_are_400_invalid_filter() {
    let app = TestApp::spawn().await;
    for filter in [
        r#"userName eq"#,
        r#"userName xx "a""#,
        r#"(userName eq "a""#,
        r#"nosuchattr eq "a""#,
    ] {
        let res = app.get(&format!("/Users?filter={}", urlencode(filter))).await;
        res.assert_error(400, Some("invalidFilter"));
    }
}

#[tokio::test]
async fn put_replaces_ignoring_read_only_and_keeps_active_when_omitted() {
    let app = TestApp::spawn().await;
    // The test rewrites userName or drops the primary email over SCIM, which R2 refuses
    // unless the account allows it.
    crate::adminkit::allow_identity_changes(&app).await;
    let created = app.post("/Users", okta_user("put.user@example.com")).await;
    let id = created.body["id"].as_str().unwrap().to_string();
    let version = created.body["meta"]["version"].clone();
    // Okta: GET, then PUT the whole object with id/meta/groups, and a non-ISO meta.created.
    let mut body = app.get(&format!("/Users/{id}")).await.body;
    body["name"]["givenName"] = json!("Changed");
    body["meta"]["created"] = json!("04-12-2018 00:00:00");
    body["id"] = json!("not-the-id");
    body["groups"] = json!([]);
    body.as_object_mut().unwrap().remove("active");
    body.as_object_mut().unwrap().remove("displayName");
    let res = app.put(&format!("/Users/{id}"), body).await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["id"], id.as_str());
    assert_eq!(res.body["name"]["givenName"], "Changed");
    assert_eq!(res.body["active"], true, "omitted active keeps its value");
    assert!(
        res.body.get("displayName").is_none(),
        "omitted attributes are cleared by PUT"
    );
    assert_ne!(res.body["meta"]["version"], version);

    app.user("taken@example.com").await;
    let mut clash = okta_user("TAKEN@example.com");
    clash["active"] = json!(false);
    app.put(&format!("/Users/{id}"), clash)
        .await
        .assert_error(409, Some("uniqueness"));
    app.put(
        &format!("/Users/{}", uuid::Uuid::new_v4()),
        okta_user("x@example.com"),
    )
    .await
    .assert_error(404, None);
}

#[tokio::test]
async fn patch_simple_paths_and_no_path_values() {
    let app = TestApp::spawn().await;
    let id = app.user("patch.me@example.com").await;
    let url = format!("/Users/{id}");
    let before = app.get(&url).await.body["meta"]["version"].clone();

    // Okta deactivation: no path, object value.
    let res = app
        .patch(&url, json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "replace", "value": {"active": false}}]}))
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["active"], false);
    assert_ne!(res.body["meta"]["version"], before);
    // A deactivated user is still there.
    assert_eq!(app.get(&url).await.body["active"], false);

    let res = app
        .patch(
            &url,
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
                {"op": "add", "path": "nickName", "value": "Babs"},
                {"op": "replace", "path": "name.givenName", "value": "Barbara"},
                {"op": "add", "path": "title", "value": "Engineer"},
                {"op": "remove", "path": "title"},
                {"op": "replace", "value": {"active": true, "displayName": "Barbara J"}}
            ]}),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["nickName"], "Babs");
    assert_eq!(res.body["name"]["givenName"], "Barbara");
    assert_eq!(res.body["name"]["familyName"], "Family");
    assert!(res.body.get("title").is_none());
    assert_eq!(res.body["active"], true);
    assert_eq!(res.body["displayName"], "Barbara J");
}

#[tokio::test]
async fn failed_patch_changes_nothing() {
    let app = TestApp::spawn().await;
    let id = app.user("atomic@example.com").await;
    let url = format!("/Users/{id}");
    let before = app.get(&url).await.body;
    let res = app
        .patch(
            &url,
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
                {"op": "replace", "path": "displayName", "value": "Should Not Stick"},
                {"op": "explode", "path": "title", "value": "x"}
            ]}),
        )
        .await;
    res.assert_error(400, None);
    let res = app
        .patch(
            &url,
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
                {"op": "replace", "path": "displayName", "value": "Should Not Stick"},
                {"op": "remove"}
            ]}),
        )
        .await;
    res.assert_error(400, Some("noTarget"));
    assert_eq!(app.get(&url).await.body, before);
}

#[tokio::test]
async fn delete_is_204_then_404() {
    let app = TestApp::spawn().await;
    let id = app.user("gone@example.com").await;
    let res = app.delete(&format!("/Users/{id}")).await;
    assert_eq!(res.status, 204);
    assert!(res.text.is_empty());
    app.get(&format!("/Users/{id}")).await.assert_error(404, None);
    app.delete(&format!("/Users/{id}")).await.assert_error(404, None);
}

#[tokio::test]
async fn user_groups_are_derived_from_memberships() {
    let app = TestApp::spawn().await;
    let id = app.user("member@example.com").await;
    let gid = app.group("Admins", &[&id]).await;
    let res = app.get(&format!("/Users/{id}")).await;
    assert_eq!(res.body["groups"][0]["value"], gid.as_str());
    assert_eq!(res.body["groups"][0]["display"], "Admins");
    let list = app.get("/Users").await;
    assert_eq!(list.body["Resources"][0]["groups"][0]["value"], gid.as_str());
    // groups is read-only: a client's value is ignored.
    let mut body = okta_user("member@example.com");
    body["groups"] = json!([{"value": uuid::Uuid::new_v4().to_string()}]);
    let res = app.put(&format!("/Users/{id}"), body).await;
    assert_eq!(res.body["groups"].as_array().unwrap().len(), 1);
    assert_eq!(res.body["groups"][0]["value"], gid.as_str());
}

#[tokio::test]
async fn bad_bodies_get_precise_errors() {
    let app = TestApp::spawn().await;
    let url = app.scim("/Users");
    let auth = format!("Bearer {}", app.token);
    let h = |ct: &'static str| vec![("Authorization", auth.clone()), ("Content-Type", ct.to_string())];
    let send = |headers: Vec<(&'static str, String)>, body: Vec<u8>| {
        let url = url.clone();
        let app = &app;
        async move {
            let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            app.raw(Method::POST, &url, &headers, Some(body)).await
        }
    };
    send(h("application/scim+json"), b"{\"userName\": ".to_vec())
        .await
        .assert_error(400, Some("invalidSyntax"));
    send(h("application/scim+json"), b"".to_vec())
        .await
        .assert_error(400, Some("invalidSyntax"));
    send(h("application/scim+json"), b"[1,2]".to_vec())
        .await
        .assert_error(400, Some("invalidSyntax"));
    send(h("text/plain"), b"{\"userName\":\"a\"}".to_vec())
        .await
        .assert_error(415, None);
    let huge = format!(
        "{{\"userName\":\"a\",\"nickName\":\"{}\"}}",
        "x".repeat(2 * 1024 * 1024)
    );
    send(h("application/scim+json"), huge.into_bytes())
        .await
        .assert_error(413, None);
    send(
        h("application/scim+json"),
        b"{\"name\":{\"givenName\":\"x\"}}".to_vec(),
    )
    .await
    .assert_error(400, Some("invalidValue"));
    send(
        h("application/scim+json"),
        b"{\"userName\":\"a@b\",\"active\":\"maybe\"}".to_vec(),
    )
    .await
    .assert_error(400, Some("invalidValue"));
    // application/json and a missing Content-Type are accepted.
    assert_eq!(
        send(
            h("application/json"),
            b"{\"userName\":\"json@example.com\"}".to_vec()
        )
        .await
        .status,
        201
    );
    let res = send(
        vec![("Authorization", auth.clone())],
        b"{\"userName\":\"noct@example.com\"}".to_vec(),
    )
    .await;
    assert_eq!(res.status, 201, "{}", res.text);
    // Nothing was half-written by the failures.
    assert_eq!(app.get("/Users").await.body["totalResults"], 2);
}

pub fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

async fn hits(app: &TestApp, filter: &str) -> Vec<String> {
    let res = app.get(&format!("/Users?filter={}", urlencode(filter))).await;
    assert_eq!(res.status, 200, "{filter}: {}", res.text);
    res.body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn ne_and_not_include_users_without_the_attribute() {
    let app = TestApp::spawn().await;
    let with = app
        .post(
            "/Users",
            json!({"userName": "with@example.com", "externalId": "E1"}),
        )
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let without = app.user("without@example.com").await;
    let mut got = hits(&app, r#"externalId ne "E1""#).await;
    got.sort();
    assert_eq!(got, vec![without.clone()]);
    assert_eq!(
        hits(&app, r#"not (externalId eq "E1")"#).await,
        vec![without.clone()]
    );
    assert_eq!(hits(&app, r#"externalId pr"#).await, vec![with.clone()]);
    let mut all = hits(&app, r#"externalId pr or not (externalId pr)"#).await;
    all.sort();
    let mut expected = vec![with, without];
    expected.sort();
    assert_eq!(all, expected);
}

#[tokio::test]
async fn sort_by_indexed_attributes_in_either_order() {
    let app = TestApp::spawn().await;
    for name in ["carol@example.com", "Alice@example.com", "bob@example.com"] {
        app.user(name).await;
    }
    let names = |res: &crate::harness::Resp| -> Vec<String> {
        res.body["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["userName"].as_str().unwrap().to_string())
            .collect()
    };
    let asc = app.get("/Users?sortBy=userName").await;
    assert_eq!(
        names(&asc),
        ["Alice@example.com", "bob@example.com", "carol@example.com"],
        "case-insensitive order"
    );
    let desc = app
        .get("/Users?sortBy=userName&sortOrder=DESCENDING&count=2")
        .await;
    assert_eq!(names(&desc), ["carol@example.com", "bob@example.com"]);
    let created = app.get("/Users?sortBy=meta.created&sortOrder=descending").await;
    assert_eq!(names(&created)[0], "bob@example.com");
    // An attribute without a column sorts by its value rows; a complex one without `value`
    // names no one key to sort by.
    assert_eq!(app.get("/Users?sortBy=nickName").await.status, 200);
    app.get("/Users?sortBy=name")
        .await
        .assert_error(400, Some("invalidValue"));
    app.get("/Users?sortBy=userName&sortOrder=sideways")
        .await
        .assert_error(400, Some("invalidValue"));
    let groups = app.get("/Groups?sortBy=displayName&sortOrder=descending").await;
    assert_eq!(groups.status, 200, "{}", groups.text);
}
