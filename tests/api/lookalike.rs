//! Look-alike and invisible names (issue 16.6): a reserved group name cannot be reached by a
//! spelling that looks the same, and identifiers refuse invisible and control characters.

use serde_json::json;

use crate::adminkit::Admin;
use crate::harness::TestApp;

#[tokio::test]
async fn reserved_names_are_compared_on_what_they_look_like() {
    let app = TestApp::spawn().await;
    let admin = Admin::new(&app).await;
    let res = admin
        .patch("/settings", json!({"reserved_group_names": ["Administrators"]}))
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    for name in [
        "Adminıstrators",
        "Ａdministrators",
        "Administrators\u{200b}",
        "Admin\u{ad}istrators",
        "Adminiѕtrators",
        "ADMINISTRATORS",
    ] {
        let res = app
            .post("/Groups", json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": name}))
            .await;
        res.assert_error(400, Some("invalidValue"));
    }
    // A name that merely shares letters is fine.
    let res = app
        .post("/Groups", json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Administrators of Finance"}))
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    let listed = app.get("/Groups").await;
    assert_eq!(listed.body["totalResults"], 1, "{}", listed.text);
}

#[tokio::test]
async fn identifiers_refuse_invisible_and_bidirectional_characters() {
    let app = TestApp::spawn().await;
    for user_name in ["ann\u{200b}@example.com", "\u{202e}moc.elpmaxe@nna", "ann\u{ad}@example.com", "ann\u{2066}@example.com"] {
        let res = app.post("/Users", json!({"userName": user_name})).await;
        res.assert_error(400, Some("invalidValue"));
        assert!(res.body["detail"].as_str().unwrap().contains("U+"), "{}", res.text);
    }
    let res = app
        .post("/Users", json!({"userName": "bob@example.com", "emails": [{"value": "bob\u{200d}@example.com"}]}))
        .await;
    res.assert_error(400, Some("invalidValue"));
    let res = app
        .post("/Groups", json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Sales\u{200b}"}))
        .await;
    res.assert_error(400, Some("invalidValue"));
    // Through PATCH too.
    let id = app.user("carol@example.com").await;
    let res = app
        .patch(
            &format!("/Users/{id}"),
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                   "Operations": [{"op": "replace", "path": "userName", "value": "carol\u{feff}@example.com"}]}),
        )
        .await;
    res.assert_error(400, Some("invalidValue"));
    // Names in any script, with accents, are identifiers like any other.
    for user_name in ["josé.müller@example.com", "名前@example.jp", "σας@example.gr"] {
        assert_eq!(app.post("/Users", json!({"userName": user_name})).await.status, 201, "{user_name}");
    }
    // A user's displayName is not an identifier: free text.
    let res = app
        .post("/Users", json!({"userName": "dan@example.com", "displayName": "Dan \u{200d} D."}))
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
}
