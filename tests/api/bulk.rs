//! `/Bulk` (RFC 7644 §3.7): bulkId references in any order, per-operation errors, failOnErrors,
//! limits, and the same rules as the single-resource endpoints.

use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::{Resp, TestApp};

const BULK: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
const BULK_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";
const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

async fn bulk(app: &TestApp, ops: Value) -> Resp {
    bulk_body(app, json!({"schemas": [BULK], "Operations": ops})).await
}

async fn bulk_body(app: &TestApp, body: Value) -> Resp {
    let res = app.post("/Bulk", body).await;
    if res.status == 200 {
        assert_eq!(res.body["schemas"], json!([BULK_RESPONSE]), "{}", res.text);
    }
    res
}

fn statuses(res: &Resp) -> Vec<String> {
    res.body["Operations"]
        .as_array()
        .unwrap_or_else(|| panic!("no Operations in {}", res.text))
        .iter()
        .map(|o| o["status"].as_str().unwrap().to_string())
        .collect()
}

fn id_from_location(op: &Value) -> String {
    op["location"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string()
}

/// The error of a single-resource request and of the same operation in a bulk request.
fn same_error(single: &Resp, op: &Value) {
    let response = &op["response"];
    assert_eq!(op["status"], single.status.to_string(), "{op}");
    assert_eq!(response["status"], single.body["status"], "{op}");
    assert_eq!(response["scimType"], single.body["scimType"], "{op}");
    let detail = response["detail"].as_str().unwrap();
    let (prefix, rest) = detail.split_once(": ").unwrap();
    assert!(prefix.starts_with("operation "), "{detail}");
    assert_eq!(rest, single.body["detail"].as_str().unwrap(), "{op}");
}

#[tokio::test]
async fn references_resolve_in_whatever_order_operations_arrive() {
    let app = TestApp::spawn().await;
    // The group and the PATCH come before the POST of the user they reference.
    let res = bulk(
        &app,
        json!([
            {"method": "POST", "path": "/Groups", "bulkId": "g1",
             "data": {"displayName": "Tour Guides", "members": [{"type": "User", "value": "bulkId:u1"}]}},
            {"method": "PATCH", "path": "/Users/bulkId:u1", "data": {"schemas": [PATCH],
             "Operations": [{"op": "replace", "path": "displayName", "value": "Alice Smith"}]}},
            {"method": "PATCH", "path": "/Groups/bulkId:g1", "data": {"schemas": [PATCH],
             "Operations": [{"op": "add", "path": "members", "value": [{"value": "bulkId:u2"}]}]}},
            {"method": "POST", "path": "/Users", "bulkId": "u1",
             "data": {"schemas": [USER], "userName": "alice@example.com"}},
            {"method": "POST", "path": "/Users", "bulkId": "u2",
             "data": {"schemas": [USER], "userName": "bob@example.com",
                      "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"manager": {"value": "bulkId:u1"}}}}
        ]),
    )
    .await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(statuses(&res), ["201", "200", "204", "201", "201"]);
    let ops = res.body["Operations"].as_array().unwrap();
    // Results are in request order and echo method and bulkId.
    let echoed: Vec<(&str, Option<&str>)> = ops
        .iter()
        .map(|o| (o["method"].as_str().unwrap(), o["bulkId"].as_str()))
        .collect();
    assert_eq!(
        echoed,
        [
            ("POST", Some("g1")),
            ("PATCH", None),
            ("PATCH", None),
            ("POST", Some("u1")),
            ("POST", Some("u2"))
        ]
    );
    let group = id_from_location(&ops[0]);
    let alice = id_from_location(&ops[3]);
    let bob = id_from_location(&ops[4]);
    assert_eq!(ops[3]["location"], app.scim(&format!("/Users/{alice}")).as_str());
    assert_eq!(id_from_location(&ops[1]), alice);

    let g = app.get(&format!("/Groups/{group}")).await;
    let mut members: Vec<&str> = g.body["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].as_str().unwrap())
        .collect();
    members.sort_unstable();
    let mut want = vec![alice.as_str(), bob.as_str()];
    want.sort_unstable();
    assert_eq!(members, want);
    // The version in the bulk response is the resource's ETag after the operation.
    assert_eq!(ops[2]["version"], g.body["meta"]["version"]);
    let a = app.get(&format!("/Users/{alice}")).await;
    assert_eq!(a.body["displayName"], "Alice Smith");
    assert_eq!(ops[1]["version"], a.body["meta"]["version"]);
    let b = app.get(&format!("/Users/{bob}")).await;
    assert_eq!(
        b.body["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["manager"]["value"],
        alice.as_str()
    );

    // PUT and DELETE, with versions (If-Match), through bulkId-free paths.
    let res = bulk(
        &app,
        json!([
            {"method": "PUT", "path": format!("/Users/{bob}"), "version": b.body["meta"]["version"],
             "data": {"schemas": [USER], "userName": "bob@example.com", "displayName": "Bob"}},
            {"method": "DELETE", "path": format!("/Users/{alice}"), "version": "W/\"999\""},
            {"method": "DELETE", "path": format!("/Groups/{group}")}
        ]),
    )
    .await;
    assert_eq!(statuses(&res), ["200", "412", "204"]);
    assert_eq!(app.get(&format!("/Users/{bob}")).await.body["displayName"], "Bob");
    assert_eq!(app.get(&format!("/Users/{alice}")).await.status, 200);
    assert_eq!(app.get(&format!("/Groups/{group}")).await.status, 404);
}

#[tokio::test]
async fn failures_are_per_operation_and_nothing_is_rolled_back() {
    let app = TestApp::spawn().await;
    app.user("taken@example.com").await;
    let res = bulk(
        &app,
        json!([
            {"method": "POST", "path": "/Users", "bulkId": "ok", "data": {"userName": "fresh@example.com"}},
            {"method": "POST", "path": "/Users", "bulkId": "dup", "data": {"userName": "TAKEN@example.com"}},
            {"method": "POST", "path": "/Groups", "bulkId": "g", "data": {"displayName": "G", "members": [{"value": "bulkId:dup"}]}},
            {"method": "PATCH", "path": "/Users/bulkId:nosuch", "data": {"schemas": [PATCH], "Operations": [{"op": "remove", "path": "title"}]}},
            {"method": "POST", "path": "/Users", "bulkId": "a", "data": {"userName": "a@example.com", "title": "bulkId:b"}},
            {"method": "POST", "path": "/Users", "bulkId": "b", "data": {"userName": "b@example.com", "title": "bulkId:a"}},
            {"method": "PATCH", "path": "/Groups/bulkId:ok", "data": {"schemas": [PATCH], "Operations": [{"op": "remove", "path": "members"}]}},
            {"method": "GET", "path": "/Users", "bulkId": "get"},
            {"method": "POST", "path": "/Users", "bulkId": "last", "data": {"userName": "last@example.com"}}
        ]),
    )
    .await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(
        statuses(&res),
        ["201", "409", "409", "400", "409", "409", "400", "400", "201"]
    );
    let ops = res.body["Operations"].as_array().unwrap();
    let detail = |i: usize| ops[i]["response"]["detail"].as_str().unwrap().to_string();
    assert_eq!(ops[1]["response"]["scimType"], "uniqueness");
    assert!(ops[1].get("location").is_none(), "a failed POST has no location");
    assert!(
        detail(2).contains("bulkId \"dup\" was not created: operation 2 failed"),
        "{}",
        detail(2)
    );
    assert_eq!(ops[3]["response"]["scimType"], "invalidValue");
    assert!(
        detail(3).contains("\"nosuch\" is not the bulkId of any POST"),
        "{}",
        detail(3)
    );
    for i in [4, 5] {
        assert!(detail(i).contains("cycle of bulkId references"), "{}", detail(i));
        assert!(detail(i).contains("\"a\", \"b\""), "{}", detail(i));
    }
    assert!(
        detail(6).contains("bulkId \"ok\" names a User, but the path is /Groups"),
        "{}",
        detail(6)
    );
    assert!(detail(7).contains("method \"GET\""), "{}", detail(7));
    for (i, op) in ops.iter().enumerate() {
        if op["status"].as_str().unwrap().starts_with('2') {
            assert!(op.get("response").is_none());
        } else {
            assert_eq!(
                op["response"]["schemas"][0],
                "urn:ietf:params:scim:api:messages:2.0:Error"
            );
            assert!(
                detail(i).starts_with(&format!("operation {}: ", i + 1)),
                "{}",
                detail(i)
            );
        }
    }
    // Not atomic: what succeeded stays, what failed left nothing behind.
    let users = app.get("/Users?count=100").await;
    let mut names: Vec<&str> = users.body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["userName"].as_str().unwrap())
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        ["fresh@example.com", "last@example.com", "taken@example.com"]
    );
    assert_eq!(app.get("/Groups").await.body["totalResults"], 0);
}

#[tokio::test]
async fn fail_on_errors_stops_after_that_many_failures() {
    let app = TestApp::spawn().await;
    let body = |fail_on_errors: Value| {
        json!({"schemas": [BULK], "failOnErrors": fail_on_errors, "Operations": [
            {"method": "POST", "path": "/Users", "bulkId": "1", "data": {"userName": "one@example.com"}},
            {"method": "DELETE", "path": "/Users/00000000-0000-0000-0000-000000000000"},
            {"method": "POST", "path": "/Users", "bulkId": "2", "data": {"userName": "two@example.com"}},
            {"method": "POST", "path": "/Users", "data": {}},
            {"method": "POST", "path": "/Users", "bulkId": "3", "data": {"userName": "three@example.com"}}
        ]})
    };
    let res = bulk_body(&app, body(json!(1))).await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(statuses(&res), ["201", "404"]);
    assert_eq!(app.get("/Users").await.body["totalResults"], 1);

    let res = bulk_body(&app, body(json!(2))).await;
    // one@ is taken now: two failures, then stop.
    assert_eq!(statuses(&res), ["409", "404"]);
    assert_eq!(app.get("/Users").await.body["totalResults"], 1);

    let res = bulk_body(&app, body(json!(3))).await;
    assert_eq!(statuses(&res), ["409", "404", "201", "400"]);
    let res = bulk_body(&app, body(Value::Null)).await;
    assert_eq!(statuses(&res), ["409", "404", "409", "400", "201"]);
    assert_eq!(app.get("/Users").await.body["totalResults"], 3);

    bulk_body(&app, body(json!(0)))
        .await
        .assert_error(400, Some("invalidValue"));
}

#[tokio::test]
async fn every_rule_of_the_single_endpoints_applies_in_bulk() {
    let app = TestApp::spawn().await;
    let user = app.user("rules@example.com").await;
    let group = app.group("Rules", &[]).await;
    let bad_user = json!({"schemas": [USER], "name": {"givenName": "No userName"}});
    let read_only = json!({"schemas": [PATCH], "Operations": [{"op": "replace", "path": "meta.created", "value": "2020-01-01T00:00:00Z"}]});
    let unknown_member = json!({"schemas": [PATCH], "Operations": [
        {"op": "add", "path": "members", "value": [{"value": uuid::Uuid::new_v4().to_string()}]}]});
    let bad_patch = json!({"schemas": [PATCH], "Operations": [{"op": "explode"}]});
    let duplicate = json!({"displayName": "Rules"});
    let cases = [
        ("POST", "/Users".to_string(), bad_user),
        ("PATCH", format!("/Users/{user}"), read_only),
        ("PATCH", format!("/Groups/{group}"), unknown_member),
        ("PATCH", format!("/Users/{user}"), bad_patch),
        ("POST", "/Groups".to_string(), duplicate),
        ("PUT", "/Users/not-a-uuid".to_string(), json!({"userName": "x"})),
    ];
    for (method, path, data) in cases {
        let single = app
            .send(
                Method::from_bytes(method.as_bytes()).unwrap(),
                &app.scim(&path),
                Some(&app.token),
                Some(&data),
                &[],
            )
            .await;
        assert!(single.status >= 400, "{method} {path}: {}", single.text);
        let res = bulk(&app, json!([{"method": method, "path": path, "data": data}])).await;
        assert_eq!(res.status, 200, "{}", res.text);
        same_error(&single, &res.body["Operations"][0]);
    }
    // Read-only attributes in a POST body are ignored in bulk as they are on POST /Users.
    let res = bulk(
        &app,
        json!([{"method": "POST", "path": "/Users", "bulkId": "ro", "data": {
            "schemas": [USER], "userName": "okta@example.com", "id": "client-id",
            "meta": {"created": "04-12-2018 00:00:00"}, "groups": [], "password": "x"}}]),
    )
    .await;
    assert_eq!(statuses(&res), ["201"]);
    let id = id_from_location(&res.body["Operations"][0]);
    assert_ne!(id, "client-id");
    let created = app.get(&format!("/Users/{id}")).await;
    assert_eq!(created.body["userName"], "okta@example.com");
    assert!(created.body.get("password").is_none());
}

#[tokio::test]
async fn paths_never_reach_another_account() {
    let app = TestApp::spawn().await;
    let (other, other_token) = app.other_account().await;
    // A user of the other account.
    let url = format!("{}/scim/account/{other}/Users", app.origin);
    let theirs = app
        .send(
            Method::POST,
            &url,
            Some(&other_token),
            Some(&json!({"userName": "theirs@example.com"})),
            &[],
        )
        .await;
    assert_eq!(theirs.status, 201, "{}", theirs.text);
    let their_id = theirs.body["id"].as_str().unwrap().to_string();

    let res = bulk(
        &app,
        json!([
            {"method": "DELETE", "path": format!("/scim/account/{other}/Users/{their_id}")},
            {"method": "DELETE", "path": format!("{}/scim/account/{other}/Users/{their_id}", app.origin)},
            {"method": "DELETE", "path": format!("/Users/{their_id}")},
            {"method": "PUT", "path": format!("/Users/{their_id}"), "data": {"userName": "stolen@example.com"}},
            {"method": "PATCH", "path": format!("/Users/{their_id}"), "data": {"schemas": [PATCH], "Operations": [{"op": "replace", "path": "active", "value": false}]}},
            {"method": "POST", "path": format!("/../{other}/Users"), "data": {"userName": "planted@example.com"}},
            {"method": "POST", "path": "/Groups", "data": {"displayName": "Theirs", "members": [{"value": their_id}]}},
        ]),
    )
    .await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(statuses(&res), ["400", "400", "404", "404", "404", "400", "400"]);
    let after = app
        .send(
            Method::GET,
            &format!("{url}/{their_id}"),
            Some(&other_token),
            None,
            &[],
        )
        .await;
    assert_eq!(after.status, 200);
    assert_eq!(after.body["userName"], "theirs@example.com");
    assert_eq!(after.body["active"], true);
    let listed = app.send(Method::GET, &url, Some(&other_token), None, &[]).await;
    assert_eq!(listed.body["totalResults"], 1);
    // And the other account's token cannot run a bulk request on this account.
    let res = app
        .send(
            Method::POST,
            &app.scim("/Bulk"),
            Some(&other_token),
            Some(&json!({"Operations": []})),
            &[],
        )
        .await;
    res.assert_error(401, None);
}

#[tokio::test]
async fn limits_are_enforced_advertised_and_configurable() {
    let app = TestApp::spawn_with(|c| {
        c.max_body_bytes = 2048;
        c.bulk_max_operations = 3;
        c.bulk_max_payload_bytes = 16 * 1024;
    })
    .await;
    let spc = app.get("/ServiceProviderConfig").await;
    assert_eq!(
        spc.body["bulk"],
        json!({"supported": true, "maxOperations": 3, "maxPayloadSize": 16384})
    );

    let post = |i: usize| json!({"method": "POST", "path": "/Users", "bulkId": format!("u{i}"), "data": {"userName": format!("u{i}@example.com")}});
    let res = bulk(&app, json!([post(1), post(2), post(3), post(4)])).await;
    res.assert_error(413, None);
    let detail = res.body["detail"].as_str().unwrap();
    assert!(detail.contains("4 operations; maxOperations is 3"), "{detail}");
    assert_eq!(app.get("/Users").await.body["totalResults"], 0);

    // Larger than max_body_bytes but within maxPayloadSize: the Bulk route allows it. (Two
    // attributes: one value may not exceed 2048 bytes, see docs/decisions.md.)
    let padding = "x".repeat(1500);
    let big = json!([{"method": "POST", "path": "/Users", "bulkId": "big",
                      "data": {"userName": "big@example.com", "title": padding, "nickName": padding}}]);
    assert!(big.to_string().len() > 2048);
    let res = bulk(&app, big.clone()).await;
    assert_eq!(statuses(&res), ["201"], "{}", res.text);
    // Other routes keep max_body_bytes.
    app.post(
        "/Users",
        json!({"userName": "big2@example.com", "title": padding, "nickName": padding}),
    )
    .await
    .assert_error(413, None);

    let huge = json!([{"method": "POST", "path": "/Users", "data": {"userName": "huge@example.com", "title": "x".repeat(20_000)}}]);
    let res = bulk(&app, huge).await;
    res.assert_error(413, None);
    let detail = res.body["detail"].as_str().unwrap();
    assert!(detail.contains("maxPayloadSize (16384 bytes"), "{detail}");
    assert_eq!(app.get("/Users").await.body["totalResults"], 1);
}

#[tokio::test]
async fn defaults_are_advertised_and_bad_requests_are_400() {
    let app = TestApp::spawn().await;
    let spc = app.get("/ServiceProviderConfig").await;
    assert_eq!(
        spc.body["bulk"],
        json!({"supported": true, "maxOperations": 1000, "maxPayloadSize": 1048576})
    );
    let res = bulk_body(&app, json!({"schemas": [PATCH], "Operations": []})).await;
    res.assert_error(400, Some("invalidSyntax"));
    assert!(res.body["detail"].as_str().unwrap().contains(BULK));
    bulk_body(&app, json!({"schemas": [BULK]}))
        .await
        .assert_error(400, Some("invalidSyntax"));
    bulk_body(&app, json!([]))
        .await
        .assert_error(400, Some("invalidSyntax"));
    let dup = bulk(
        &app,
        json!([
            {"method": "POST", "path": "/Users", "bulkId": "x", "data": {"userName": "x1@example.com"}},
            {"method": "POST", "path": "/Users", "bulkId": "x", "data": {"userName": "x2@example.com"}}
        ]),
    )
    .await;
    dup.assert_error(400, Some("invalidValue"));
    assert_eq!(app.get("/Users").await.body["totalResults"], 0);
    let auth = format!("Bearer {}", app.token);
    app.raw(
        Method::POST,
        &app.scim("/Bulk"),
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/scim+json"),
        ],
        Some(b"{\"Operations\": [".to_vec()),
    )
    .await
    .assert_error(400, Some("invalidSyntax"));
    app.raw(
        Method::POST,
        &app.scim("/Bulk"),
        &[("Authorization", &auth), ("Content-Type", "text/plain")],
        Some(b"{}".to_vec()),
    )
    .await
    .assert_error(415, None);
    app.raw(Method::GET, &app.scim("/Bulk"), &[("Authorization", &auth)], None)
        .await
        .assert_error(405, None);
    // An empty request is a valid, empty bulk job.
    let res = bulk(&app, json!([])).await;
    assert_eq!(res.status, 200);
    assert_eq!(res.body["Operations"], json!([]));
}

#[tokio::test]
async fn a_bulk_request_pays_the_rate_limit_for_each_operation() {
    let app = TestApp::spawn_with(|c| {
        c.rate_limit_per_second = 1;
        c.rate_limit_burst = 5;
    })
    .await;
    let post = |i: usize| json!({"method": "POST", "path": "/Users", "bulkId": format!("u{i}"), "data": {"userName": format!("u{i}@example.com")}});
    // Three operations: three of the five.
    let res = bulk(&app, json!([post(1), post(2), post(3)])).await;
    assert_eq!(statuses(&res), ["201", "201", "201"]);
    // Four more: the request itself passes authentication (four of five), its operations do
    // not fit, and nothing runs.
    let res = bulk(&app, json!([post(4), post(5), post(6), post(7)])).await;
    res.assert_error(429, None);
    assert!(res.header("retry-after").is_some());
    // What the refused operations did not take is still there for a plain request (the
    // server's clock stands still: nothing refilled meanwhile)…
    let res = app.get("/Users").await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["totalResults"], 3);
    // …and that was the fifth of five.
    app.get("/Users").await.assert_error(429, None);
    // Four seconds refill four requests: the refused bulk request now fits.
    app.advance(std::time::Duration::from_secs(4));
    let res = bulk(&app, json!([post(4), post(5), post(6), post(7)])).await;
    assert_eq!(statuses(&res), ["201", "201", "201", "201"]);
}
