//! OneLogin, as it really talks to a SCIM server (docs/idp-notes.md §3): the calls its guide
//! lists (userName lookup, create, get, PUT update, groups, group PATCH, delete), bodies rendered
//! from admins' SCIM JSON templates — legacy and customised — and the `application/json` it may
//! send and demand.

use std::collections::HashSet;

use serde_json::{Value, json};

use crate::harness::{IdpClient, Resp, TestApp, Wire};
use scimd::service::Idp;

const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

/// OneLogin out of the box: plain JSON, no User-Agent of its own.
fn onelogin_wire() -> Wire {
    Wire {
        headers: vec![("Accept", "application/json")],
        body_type: Some("application/json"),
        bodiless_type: None,
    }
}

/// With the "Custom Headers" vendors tell admins to add.
fn onelogin_custom_headers_wire() -> Wire {
    Wire {
        headers: vec![("User-Agent", "OneLogin SCIM")],
        body_type: Some("application/scim+json"),
        bodiless_type: None,
    }
}

fn id_of(res: &Resp) -> String {
    res.body["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {}", res.text))
        .to_string()
}

/// The common template (§3 "Create"), rendered.
fn template_user(user_name: &str, first: &str, last: &str) -> Value {
    json!({"schemas":[USER],"userName":user_name,
        "name":{"givenName":first,"familyName":last},
        "emails":[{"value":user_name,"type":"work","primary":true}]})
}

/// A SCIM error, served as `application/json` because that is all OneLogin accepts.
#[track_caller]
fn assert_json_error(res: &Resp, status: u16, scim_type: Option<&str>) {
    assert_eq!(res.status, status, "{}", res.text);
    assert_eq!(
        res.body["schemas"],
        json!(["urn:ietf:params:scim:api:messages:2.0:Error"]),
        "{}",
        res.text
    );
    assert_eq!(res.body["status"], status.to_string(), "{}", res.text);
    assert!(res.body["detail"].as_str().is_some_and(|d| !d.is_empty()));
    if let Some(t) = scim_type {
        assert_eq!(res.body["scimType"], t, "{}", res.text);
    }
    assert!(
        res.header("content-type")
            .is_some_and(|ct| ct.starts_with("application/json")),
        "{:?}",
        res.header("content-type")
    );
}

async fn ids(client: &IdpClient<'_>, path: &str) -> HashSet<String> {
    let res = client.get(path).await;
    assert_eq!(res.status, 200, "{}", res.text);
    res.body["members"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|m| m["value"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn test_connection_and_plain_json_when_only_that_is_accepted() {
    let app = TestApp::spawn().await;
    let ol = app.idp(Idp::OneLogin, onelogin_wire()).await;
    // "A Get User by userName request using a userName filter value that it knows is
    // non-existent": 200 with an empty list is the answer every revision accepts.
    let res = ol
        .get("/Users?filter=userName%20eq%20%22onelogin-nonexistent-2c7f%40example.com%22")
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["totalResults"], 0);
    assert_eq!(res.body["Resources"], json!([]));
    // One revision demands application/json responses; it gets them when that is all it
    // accepts.
    assert!(
        res.header("content-type")
            .is_some_and(|ct| ct.starts_with("application/json")),
        "{:?}",
        res.header("content-type")
    );
    // Errors too.
    let res = ol.get("/Users/0193a5c4-0000-7000-8000-000000000000").await;
    assert_eq!(res.status, 404);
    assert!(
        res.header("content-type")
            .is_some_and(|ct| ct.starts_with("application/json")),
        "{:?}",
        res.header("content-type")
    );
    assert_eq!(res.body["status"], "404");

    // With the vendors' custom headers, SCIM JSON as usual.
    let ol = app.idp(Idp::OneLogin, onelogin_custom_headers_wire()).await;
    let res = ol
        .get("/Users?filter=userName%20eq%20%22onelogin-nonexistent-2c7f%40example.com%22")
        .await;
    assert_eq!(res.status, 200);
    assert!(
        res.header("content-type")
            .is_some_and(|ct| ct.starts_with("application/scim+json")),
        "{:?}",
        res.header("content-type")
    );
}

#[tokio::test]
async fn create_from_the_common_template_returns_name_and_id() {
    let app = TestApp::spawn().await;
    let ol = app.idp(Idp::OneLogin, onelogin_wire()).await;
    let res = ol
        .get("/Users?filter=userName%20eq%20%22jane%40example.com%22")
        .await;
    assert_eq!(res.body["totalResults"], 0);
    let res = ol
        .post("/Users", &template_user("jane@example.com", "Jane", "Doe"))
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    let id = id_of(&res);
    // OneLogin needs name.givenName and name.familyName in the answer.
    assert_eq!(res.body["name"]["givenName"], "Jane");
    assert_eq!(res.body["name"]["familyName"], "Doe");
    assert_eq!(res.body["userName"], "jane@example.com");
    assert_eq!(
        res.body["active"], true,
        "a user created without `active` is active"
    );
    // Get User by ID.
    let res = ol.get(&format!("/Users/{id}")).await;
    assert_eq!(res.status, 200);
    assert_eq!(res.body["name"]["familyName"], "Doe");
    // Get Users.
    let res = ol.get("/Users").await;
    assert_eq!(res.body["totalResults"], 1);

    // Whether OneLogin sends a Content-Type without the custom header is unknown: a body
    // without one is read as JSON all the same.
    let bare = app
        .idp(
            Idp::OneLogin,
            Wire {
                headers: vec![],
                body_type: None,
                bodiless_type: None,
            },
        )
        .await;
    let res = bare
        .post("/Users", &template_user("no.type@example.com", "No", "Type"))
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    assert_eq!(res.body["name"]["familyName"], "Type");
}

#[tokio::test]
async fn legacy_template_single_object_emails_v1_schemas_and_manager_id() {
    let app = TestApp::spawn().await;
    let ol = app.idp(Idp::OneLogin, onelogin_wire()).await;
    let res = ol
        .post(
            "/Users",
            &json!({"schemas":["urn:scim:schemas:core:1.0","urn:scim:schemas:extension:enterprise:1.0"],
                "userName":"legacy@example.com",
                "name":{"givenName":"Leg","familyName":"Acy"},
                "emails":{"value":"legacy@example.com","type":"work","primary":true},
                "manager":{"managerId":"12345","displayName":"The Boss"}}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    let id = id_of(&res);
    // The single object is read as a one-element list.
    assert_eq!(
        res.body["emails"],
        json!([{"value":"legacy@example.com","type":"work","primary":true}])
    );
    assert_eq!(res.body["schemas"][0], USER);
    // And the user is found by its email like any other.
    let res = ol
        .get("/Users?filter=emails.value%20eq%20%22legacy%40example.com%22")
        .await;
    assert_eq!(res.body["totalResults"], 1, "{}", res.text);
    assert_eq!(res.body["Resources"][0]["id"], id.as_str());
}

#[tokio::test]
async fn customised_template_with_null_id_meta_string_active_and_custom_keys() {
    let app = TestApp::spawn().await;
    let ol = app.idp(Idp::OneLogin, onelogin_wire()).await;
    for (n, active, expected) in [
        (1, json!("true"), true),
        (2, json!("false"), false),
        (3, json!(true), true),
    ] {
        let user_name = format!("custom{n}@example.com");
        let res = ol
            .post(
                "/Users",
                &json!({"schemas":[USER,ENTERPRISE,"urn:example:params:scim:schemas:extension:acme:2.0:User"],
                    "id":null,
                    "meta":{"resourceType":"User"},
                    "userName":user_name,
                    "user_name":user_name,
                    "name":{"givenName":"Cus","familyName":"Tom"},
                    "emails":[{"value":user_name,"type":"work","primary":true}],
                    "active":active,
                    "title":null,
                    ENTERPRISE:{"department":"Ops","employeeNumber":null},
                    "urn:example:params:scim:schemas:extension:acme:2.0:User":{"costCode":"42"},
                    // A role list rendered as a `;`-separated string or as an array: `groups` is
                    // read-only on a user, so neither changes membership.
                    "groups": if n == 1 { json!("Admins;Sales") } else { json!(["Admins","Sales"]) }}),
            )
            .await;
        assert_eq!(res.status, 201, "{n}: {}", res.text);
        let id = id_of(&res);
        assert_eq!(res.body["active"], expected, "{}", res.text);
        assert_eq!(res.body[ENTERPRISE]["department"], "Ops");
        assert!(res.body.get("user_name").is_none(), "{}", res.text);
        assert!(res.body.get("title").is_none(), "{}", res.text);
        assert!(
            res.body["groups"].as_array().is_none_or(Vec::is_empty),
            "{}",
            res.text
        );
        let fetched = ol.get(&format!("/Users/{id}")).await;
        assert_eq!(fetched.body["active"], expected);
    }
    // Nothing created groups named after the role list.
    assert_eq!(ol.get("/Groups").await.body["totalResults"], 0);
}

#[tokio::test]
async fn put_update_suspend_and_delete() {
    let app = TestApp::spawn().await;
    let ol = app.idp(Idp::OneLogin, onelogin_wire()).await;
    let id = id_of(
        &ol.post("/Users", &template_user("sam@example.com", "Sam", "Smith"))
            .await,
    );
    let path = format!("/Users/{id}");

    // Update User: the template rendered again, PUT in full.
    let mut body = template_user("sam@example.com", "Samuel", "Smith");
    body["id"] = json!(null);
    body["meta"] = json!({"resourceType":"User"});
    let res = ol.put(&path, &body).await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["name"]["givenName"], "Samuel");
    assert_eq!(res.body["id"], id.as_str());
    assert_eq!(res.body["active"], true);

    // Suspend: a PUT with active false (rendered as a string by some templates).
    body["active"] = json!("false");
    let res = ol.put(&path, &body).await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["active"], false);
    assert_eq!(ol.get(&path).await.body["active"], false);
    body["active"] = json!(true);
    assert_eq!(ol.put(&path, &body).await.body["active"], true);

    // Delete User: 204 (OneLogin accepts 200 or 204), then 404.
    let res = ol.delete(&path).await;
    assert_eq!(res.status, 204, "{}", res.text);
    assert_json_error(&ol.get(&path).await, 404, None);
    let res = ol.delete(&path).await;
    assert_eq!(res.status, 404);
}

#[tokio::test]
async fn groups_refresh_create_and_every_patch_shape() {
    let app = TestApp::spawn().await;
    let ol = app.idp(Idp::OneLogin, onelogin_wire()).await;
    let mut users = Vec::new();
    for n in 0..4 {
        users.push(id_of(
            &ol.post(
                "/Users",
                &template_user(&format!("m{n}@example.com"), "M", &format!("{n}")),
            )
            .await,
        ));
    }

    // "Refresh" under Entitlements: GET /Groups, with or without paging parameters.
    let res = ol.get("/Groups").await;
    assert_eq!(res.status, 200);
    assert_eq!(res.body["totalResults"], 0);

    let res = ol
        .post(
            "/Groups",
            &json!({"schemas":[GROUP],"displayName":"OneLogin Sales"}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    let gid = id_of(&res);
    let gpath = format!("/Groups/{gid}");
    // A duplicate displayName is refused (409 uniqueness; OneLogin's sample used 400).
    let res = ol
        .post(
            "/Groups",
            &json!({"schemas":[GROUP],"displayName":"OneLogin Sales"}),
        )
        .await;
    assert_json_error(&res, 409, Some("uniqueness"));
    let res = ol.get("/Groups?startIndex=1&count=100").await;
    assert_eq!(res.body["totalResults"], 1);
    assert_eq!(res.body["Resources"][0]["displayName"], "OneLogin Sales");

    // The PATCH body OneLogin sends is undocumented: every RFC shape works.
    let patch = |ops: Value| {
        let ol = &ol;
        let gpath = gpath.clone();
        async move {
            let res = ol
                .patch(&gpath, &json!({"schemas":[PATCH],"Operations":ops}))
                .await;
            assert_eq!(res.status, 204, "{}", res.text);
        }
    };
    patch(json!([{"op":"add","path":"members","value":[{"value":users[0]},{"value":users[1]}]}])).await;
    assert_eq!(
        ids(&ol, &gpath).await,
        HashSet::from([users[0].clone(), users[1].clone()])
    );
    // No path, members in the value object (adds).
    patch(json!([{"op":"add","value":{"members":[{"value":users[2]}]}}])).await;
    assert_eq!(ids(&ol, &gpath).await.len(), 3);
    // Filtered remove.
    patch(json!([{"op":"remove","path":format!("members[value eq \"{}\"]", users[0])}])).await;
    // Value-list remove.
    patch(json!([{"op":"remove","path":"members","value":[{"value":users[1]}]}])).await;
    assert_eq!(ids(&ol, &gpath).await, HashSet::from([users[2].clone()]));
    // Replace the whole list, with capitalised op as Entra would.
    patch(json!([{"op":"Replace","path":"members","value":[{"value":users[3]},{"value":users[0]}]}])).await;
    assert_eq!(
        ids(&ol, &gpath).await,
        HashSet::from([users[3].clone(), users[0].clone()])
    );
    // Remove all.
    patch(json!([{"op":"remove","path":"members"}])).await;
    assert!(ids(&ol, &gpath).await.is_empty());
    // A PUT with displayName and members (the AIW-like full push) works as well.
    let res = ol
        .put(
            &gpath,
            &json!({"schemas":[GROUP],"displayName":"OneLogin Sales EU","members":[{"value":users[1]}]}),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["displayName"], "OneLogin Sales EU");
    assert_eq!(ids(&ol, &gpath).await, HashSet::from([users[1].clone()]));
}
