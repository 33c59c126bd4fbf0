//! Mutability through HTTP (RFC 7643 §2.2, RFC 7644 §3.5.2): a PATCH path naming a readOnly
//! or immutable attribute is 400 `mutability` and changes nothing; readOnly values inside a
//! no-path value or a POST/PUT body are ignored (what Okta and OneLogin send); and a PATCH whose
//! later operation fails leaves nothing of its earlier ones behind.

use serde_json::{Value, json};

use crate::harness::TestApp;

const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

fn ops(ops: Value) -> Value {
    json!({"schemas": [PATCH], "Operations": ops})
}

#[tokio::test]
async fn read_only_user_attributes_in_a_patch_path_are_mutability_errors() {
    let app = TestApp::spawn().await;
    let id = app.user("ro@example.com").await;
    let url = format!("/Users/{id}");
    app.group("Derived", &[&id]).await;
    let before = app.get(&url).await.body;
    for path in [
        "id",
        "meta",
        "meta.lastModified",
        "meta.version",
        "groups",
        "groups.value",
        "groups[value eq \"x\"]",
        "schemas",
        "urn:ietf:params:scim:schemas:core:2.0:User:id",
        &format!("{ENTERPRISE}:manager.displayName"),
    ] {
        for op in ["add", "replace", "remove"] {
            let res = app
                .patch(&url, ops(json!([{"op": op, "path": path, "value": "x"}])))
                .await;
            res.assert_error(400, Some("mutability"));
            let detail = res.body["detail"].as_str().unwrap();
            assert!(detail.contains("readOnly"), "{op} {path}: {detail}");
        }
    }
    assert_eq!(
        app.get(&url).await.body,
        before,
        "nothing changed, not even the version"
    );
}

#[tokio::test]
async fn read_only_and_immutable_group_attributes_in_a_patch_path_are_mutability_errors() {
    let app = TestApp::spawn().await;
    let member = app.user("member@example.com").await;
    let gid = app.group("Frozen", &[&member]).await;
    let url = format!("/Groups/{gid}");
    let before = app.get(&url).await.body;
    let member_value = format!("members[value eq \"{member}\"].value");
    let member_display = format!("members[value eq \"{member}\"].display");
    for (op, path, needle) in [
        ("replace", "id", "readOnly"),
        ("remove", "meta", "readOnly"),
        ("add", "meta.created", "readOnly"),
        ("replace", "members.value", "immutable"),
        ("remove", "members.display", "display is readOnly"),
        ("replace", member_value.as_str(), "immutable"),
        ("replace", member_display.as_str(), "immutable"),
        (
            "add",
            "urn:ietf:params:scim:schemas:core:2.0:Group:members.type",
            "immutable",
        ),
    ] {
        let res = app
            .patch(&url, ops(json!([{"op": op, "path": path, "value": "x"}])))
            .await;
        res.assert_error(400, Some("mutability"));
        let detail = res.body["detail"].as_str().unwrap();
        assert!(detail.contains(needle), "{op} {path}: {detail}");
    }
    assert_eq!(app.get(&url).await.body, before);
}

#[tokio::test]
async fn idp_dialects_that_carry_read_only_values_are_accepted() {
    let app = TestApp::spawn().await;
    let member = app.user("kept@example.com").await;
    let gid = app.group("Before", &[&member]).await;
    let url = format!("/Groups/{gid}");

    // Okta's group rename: a no-path replace whose value carries the group's id (any id).
    for (name, id) in [
        ("Renamed", gid.clone()),
        ("Renamed again", uuid::Uuid::new_v4().to_string()),
    ] {
        let res = app
            .patch(
                &url,
                ops(json!([{"op": "replace", "value": {"id": id, "displayName": name}}])),
            )
            .await;
        assert_eq!(res.status, 204, "{}", res.text);
        let g = app.get(&url).await.body;
        assert_eq!(g["id"], gid.as_str());
        assert_eq!(g["displayName"], name);
        assert_eq!(g["members"][0]["value"], member.as_str());
    }

    // Okta's PUT: the fetched user back, with id, meta (non-ISO dates), groups: [] and a
    // password. None of it is written, and the user keeps its group.
    let uurl = format!("/Users/{member}");
    let user = app.get(&uurl).await.body;
    let mut put = user.clone();
    put["id"] = json!("00000000-0000-0000-0000-000000000000");
    put["meta"] = json!({"resourceType": "User", "created": "04-12-2018 00:00:00", "version": "v1.0"});
    put["groups"] = json!([]);
    put["password"] = json!("1mz050nq");
    put["displayName"] = json!("Kept Person");
    let res = app.put(&uurl, put).await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["id"], member.as_str());
    assert_eq!(res.body["meta"]["created"], user["meta"]["created"]);
    assert_eq!(res.body["groups"][0]["value"], gid.as_str());
    assert_eq!(res.body["displayName"], "Kept Person");
    assert!(res.body.get("password").is_none());

    // Okta deactivation with readOnly keys beside it: they are ignored, active is applied.
    let res = app
        .patch(
            &uurl,
            ops(json!([{"op": "replace", "value": {"active": false, "id": "x", "meta": {}, "groups": []}}])),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["active"], false);
    assert_eq!(res.body["groups"][0]["value"], gid.as_str());
}

#[tokio::test]
async fn a_failing_operation_leaves_the_earlier_ones_unapplied() {
    let app = TestApp::spawn().await;
    let id = app.user("multi@example.com").await;
    app.user("other@example.com").await;
    let url = format!("/Users/{id}");
    let before = app.get(&url).await.body;
    let cases = [
        // Refused while applying: a readOnly target after two good operations.
        (
            json!([
                {"op": "replace", "path": "displayName", "value": "Changed"},
                {"op": "add", "path": "emails", "value": [{"value": "second@example.com", "type": "home"}]},
                {"op": "replace", "path": "id", "value": "x"}
            ]),
            400,
            "mutability",
        ),
        // Refused by a rule (docs/rules.md, R2): the userName of a provisioned user.
        (
            json!([
                {"op": "replace", "path": "displayName", "value": "Changed"},
                {"op": "replace", "path": "userName", "value": "OTHER@example.com"}
            ]),
            400,
            "mutability",
        ),
        // A value of the wrong type.
        (
            json!([
                {"op": "replace", "path": "title", "value": "Changed"},
                {"op": "replace", "path": "active", "value": "maybe"}
            ]),
            400,
            "invalidValue",
        ),
    ];
    for (body, status, scim_type) in cases {
        let res = app.patch(&url, ops(body.clone())).await;
        res.assert_error(status, Some(scim_type));
        assert_eq!(app.get(&url).await.body, before, "{body}");
    }

    // A group: members added by an earlier operation are rolled back when a later one fails,
    // although the earlier one had already reached the database.
    let a = app.user("a@example.com").await;
    let b = app.user("b@example.com").await;
    let gid = app.group("Atomic", &[&a]).await;
    app.group("Taken", &[]).await;
    let gurl = format!("/Groups/{gid}");
    let before = app.get(&gurl).await.body;
    for (status, body) in [
        (
            400,
            json!([
                {"op": "replace", "path": "displayName", "value": "Changed"},
                {"op": "add", "path": "members", "value": [{"value": b}]},
                {"op": "remove", "path": format!("members[value eq \"{a}\"]")},
                {"op": "add", "path": "members", "value": [{"value": uuid::Uuid::new_v4().to_string()}]}
            ]),
        ),
        (
            400,
            json!([
                {"op": "add", "path": "members", "value": [{"value": b}]},
                {"op": "replace", "path": "members.display", "value": "x"}
            ]),
        ),
        (
            400,
            json!([
                {"op": "add", "path": "members", "value": [{"value": b}]},
                {"op": "replace", "path": "meta.version", "value": "W/\"1\""}
            ]),
        ),
        // Refused by the database after the member rows were written: a name another group has.
        (
            409,
            json!([
                {"op": "add", "path": "members", "value": [{"value": b}]},
                {"op": "remove", "path": "members"},
                {"op": "replace", "path": "displayName", "value": "Taken"}
            ]),
        ),
    ] {
        let res = app.patch(&gurl, ops(body.clone())).await;
        assert_eq!(res.status, status, "{body}: {}", res.text);
        assert_eq!(app.get(&gurl).await.body, before, "{body}");
    }
}
