//! The IdP sequences the README walks through with curl, as each IdP sends them
//! (docs/idp-notes.md §1 Okta, §2 Entra ID).

use reqwest::Method;
use serde_json::json;

use crate::harness::TestApp;

const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// Okta's headers on every request (§1.1), DELETE included.
fn okta_headers() -> Vec<(&'static str, &'static str)> {
    vec![
        ("Accept", "application/scim+json"),
        ("Accept-Charset", "utf-8"),
        ("User-Agent", "Okta SCIM Client 1.0.0"),
        ("Accept-Encoding", "gzip,deflate"),
    ]
}

#[tokio::test]
async fn okta_sequence() {
    let app = TestApp::spawn().await;
    let h = okta_headers();
    let get = |path: String| {
        let app = &app;
        let h = h.clone();
        async move {
            app.send(Method::GET, &app.scim(&path), Some(&app.token), None, &h)
                .await
        }
    };

    // Test connection: always these two calls.
    let res = get("/Users?startIndex=1&count=2".into()).await;
    assert_eq!(res.status, 200);
    assert_eq!(res.body["totalResults"], 0);
    let res = get("/Groups?startIndex=1&count=100".into()).await;
    assert_eq!(res.status, 200);

    // Pre-check: no match is 200 with an empty list.
    let res =
        get("/Users?filter=userName%20eq%20%22test.user%40okta.local%22&startIndex=1&count=100".into()).await;
    assert_eq!(res.status, 200);
    assert_eq!(
        res.body,
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"], "totalResults": 0, "startIndex": 1, "itemsPerPage": 0, "Resources": []})
    );

    // Create.
    let user = json!({"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"test.user@okta.local",
        "name":{"givenName":"Test","familyName":"User"},
        "emails":[{"primary":true,"value":"test.user@okta.local","type":"work"}],
        "displayName":"Test User","locale":"en-US","externalId":"00ujl29u0le5T6Aj10h7",
        "groups":[],"password":"1mz050nq","active":true});
    let res = app
        .send(
            Method::POST,
            &app.scim("/Users"),
            Some(&app.token),
            Some(&user),
            &h,
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    let uid = res.body["id"].as_str().unwrap().to_string();
    // Pre-check again now matches; a second POST is 409.
    let res =
        get("/Users?filter=userName+eq+%22TEST.USER%40okta.local%22&startIndex=1&count=100".into()).await;
    assert_eq!(res.body["totalResults"], 1);
    let res = app
        .send(
            Method::POST,
            &app.scim("/Users"),
            Some(&app.token),
            Some(&user),
            &h,
        )
        .await;
    res.assert_error(409, Some("uniqueness"));

    // Update: GET, then PUT of the whole object.
    let mut body = get(format!("/Users/{uid}")).await.body;
    body["name"]["familyName"] = json!("Renamed");
    body["password"] = json!("placeholder");
    let res = app
        .send(
            Method::PUT,
            &app.scim(&format!("/Users/{uid}")),
            Some(&app.token),
            Some(&body),
            &h,
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["name"]["familyName"], "Renamed");

    // Deactivate (no path), still readable, then reactivate.
    let deactivate = json!({"schemas":[PATCH],"Operations":[{"op":"replace","value":{"active":false}}]});
    let res = app
        .send(
            Method::PATCH,
            &app.scim(&format!("/Users/{uid}")),
            Some(&app.token),
            Some(&deactivate),
            &h,
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(get(format!("/Users/{uid}")).await.body["active"], false);
    let activate = json!({"schemas":[PATCH],"Operations":[{"op":"replace","value":{"active":true}}]});
    let res = app
        .send(
            Method::PATCH,
            &app.scim(&format!("/Users/{uid}")),
            Some(&app.token),
            Some(&activate),
            &h,
        )
        .await;
    assert_eq!(res.body["active"], true);

    // Group push: link lookup, create, add and remove members, rename, delete.
    let res = get("/Groups?filter=displayName%20eq%20%22Test%20SCIMv2%22".into()).await;
    assert_eq!(res.body["totalResults"], 0);
    let group = json!({"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Test SCIMv2","members":[]});
    let res = app
        .send(
            Method::POST,
            &app.scim("/Groups"),
            Some(&app.token),
            Some(&group),
            &h,
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    let gid = res.body["id"].as_str().unwrap().to_string();
    let add = json!({"schemas":[PATCH],"Operations":[{"op":"add","path":"members","value":[{"value":uid,"display":"test.user@okta.local"}]}]});
    let res = app
        .send(
            Method::PATCH,
            &app.scim(&format!("/Groups/{gid}")),
            Some(&app.token),
            Some(&add),
            &h,
        )
        .await;
    assert_eq!(res.status, 204, "{}", res.text);
    assert_eq!(
        get(format!("/Groups/{gid}")).await.body["members"][0]["value"],
        uid.as_str()
    );
    assert_eq!(
        get(format!("/Users/{uid}")).await.body["groups"][0]["value"],
        gid.as_str()
    );
    let rename = json!({"schemas":[PATCH],"Operations":[{"op":"replace","value":{"id":gid,"displayName":"Test SCIMv2 Renamed"}}]});
    let res = app
        .send(
            Method::PATCH,
            &app.scim(&format!("/Groups/{gid}")),
            Some(&app.token),
            Some(&rename),
            &h,
        )
        .await;
    assert_eq!(res.status, 204, "{}", res.text);
    let remove = json!({"schemas":[PATCH],"Operations":[{"op":"remove","path":format!("members[value eq \"{uid}\"]")}]});
    let res = app
        .send(
            Method::PATCH,
            &app.scim(&format!("/Groups/{gid}")),
            Some(&app.token),
            Some(&remove),
            &h,
        )
        .await;
    assert_eq!(res.status, 204, "{}", res.text);
    let g = get(format!("/Groups/{gid}")).await.body;
    assert_eq!(g["displayName"], "Test SCIMv2 Renamed");
    assert_eq!(g["members"], json!([]));
    let mut del_headers = h.clone();
    del_headers.push(("Content-Type", "application/scim+json; charset=utf-8"));
    let res = app
        .send(
            Method::DELETE,
            &app.scim(&format!("/Groups/{gid}")),
            Some(&app.token),
            None,
            &del_headers,
        )
        .await;
    assert_eq!(res.status, 204);

    // SPEC test steps 4, 11, 12.
    get("/Users/00919288221112222".into())
        .await
        .assert_error(404, None);
    let res = app
        .raw(
            Method::GET,
            &app.scim("/Users"),
            &[("Authorization", "non-token")],
            None,
        )
        .await;
    assert_eq!(res.status, 401);
}

#[tokio::test]
async fn entra_sequence() {
    let app = TestApp::spawn().await;
    let get = |path: String| {
        let app = &app;
        async move {
            app.raw(
                Method::GET,
                &app.scim(&path),
                &[("Authorization", &format!("Bearer {}", app.token))],
                None,
            )
            .await
        }
    };

    // Test connection: a random GUID as userName, no Accept header.
    let res = get("/Users?filter=userName+eq+%223e59e27b-68ad-41f5-bb0e-dadf130e2ac8%22".into()).await;
    assert_eq!(res.status, 200);
    assert_eq!(res.body["totalResults"], 0);

    // Match on externalId, then create with the enterprise extension.
    let res = get("/Users?filter=externalId+eq+%220a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef%22".into()).await;
    assert_eq!(res.body["totalResults"], 0);
    let user = json!({"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "externalId":"0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef","userName":"Test_User_00aa00aa@contoso.com","active":true,
        "emails":[{"primary":true,"type":"work","value":"Test_User_11bb@testuser.com"}],
        "meta":{"resourceType":"User"},
        "name":{"formatted":"givenName familyName","familyName":"familyName","givenName":"givenName"},
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Sales"},
        "roles":[]});
    let res = app.post("/Users", user).await;
    assert_eq!(res.status, 201, "{}", res.text);
    let uid = res.body["id"].as_str().unwrap().to_string();
    assert_eq!(
        res.body["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["department"],
        "Sales"
    );
    assert!(
        res.body["schemas"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s == "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User")
    );
    let res = get("/Users?filter=externalId+eq+%220a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef%22".into()).await;
    assert_eq!(res.body["Resources"][0]["id"], uid.as_str());
    let res = get(
        "/Users?filter=emails%5Btype+eq+%22work%22%5D.value+eq+%22test_user_11bb%40testuser.com%22".into(),
    )
    .await;
    assert_eq!(res.body["totalResults"], 1);

    // Update: capitalised ops, string booleans.
    let res = app
        .patch(
            &format!("/Users/{uid}"),
            json!({"schemas":[PATCH],"Operations":[
                {"op":"Replace","path":"displayName","value":"Pvlo"},
                {"op":"Replace","path":"name.givenName","value":"Gtfd"},
                {"op":"Add","path":"nickName","value":"Babs"}
            ]}),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["displayName"], "Pvlo");
    assert_eq!(res.body["name"]["givenName"], "Gtfd");

    // Disable with the string "False", re-enable with "True"; the user stays readable.
    for (value, expected) in [("False", false), ("True", true), ("false", false)] {
        let res = app
            .patch(
                &format!("/Users/{uid}"),
                json!({"schemas":[PATCH],"Operations":[{"op":"Replace","path":"active","value":value}]}),
            )
            .await;
        assert_eq!(res.status, 200, "{}", res.text);
        assert_eq!(res.body["active"], expected);
        assert_eq!(get(format!("/Users/{uid}")).await.body["active"], expected);
    }

    // Groups: match without members, create with no members, add, remove by value list, rename.
    let res = get("/Groups?excludedAttributes=members&filter=displayName+eq+%22Sales%22".into()).await;
    assert_eq!(res.body["totalResults"], 0);
    let res = app
        .post(
            "/Groups",
            json!({"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group","http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
                "externalId":"8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159","displayName":"Sales","meta":{"resourceType":"Group"}}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    assert_eq!(res.body["members"], json!([]));
    let gid = res.body["id"].as_str().unwrap().to_string();
    let res = app
        .patch(&format!("/Groups/{gid}"), json!({"schemas":[PATCH],"Operations":[{"op":"Add","path":"members","value":[{"$ref":null,"value":uid}]}]}))
        .await;
    assert_eq!(res.status, 204, "{}", res.text);
    let res = app
        .patch(&format!("/Groups/{gid}"), json!({"schemas":[PATCH],"Operations":[{"op":"Replace","path":"displayName","value":"Sales Team"}]}))
        .await;
    assert_eq!(res.status, 204, "{}", res.text);
    let res = app
        .patch(&format!("/Groups/{gid}"), json!({"schemas":[PATCH],"Operations":[{"op":"Remove","path":"members","value":[{"$ref":null,"value":uid}]}]}))
        .await;
    assert_eq!(res.status, 204, "{}", res.text);
    let g = get(format!("/Groups/{gid}")).await.body;
    assert_eq!(g["displayName"], "Sales Team");
    assert_eq!(g["members"], json!([]));

    // Hard delete after the soft-delete period.
    assert_eq!(app.delete(&format!("/Users/{uid}")).await.status, 204);
    assert_eq!(app.delete(&format!("/Groups/{gid}")).await.status, 204);
}
