//! The ownership rules R1–R10 (docs/rules.md), each through the HTTP surfaces it concerns (SCIM and admin API).

use reqwest::Method;
use serde_json::{Value, json};

use scimd::service::settings::{GroupNameConflict, ProfileUpdate};
use scimd::service::{Idp, TokenKind};

use crate::adminkit::{Admin, scim_token, set_profile};
use crate::harness::TestApp;
use crate::users::urlencode;

const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

fn okta_user(user_name: &str, email: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name,
        "name": {"givenName": "Jane", "familyName": "Doe"},
        "emails": [{"primary": true, "value": email, "type": "work"}],
        "displayName": "Jane Doe",
        "externalId": "00ujl29u0le5T6Aj10h7",
        "groups": [],
        "password": "1mz050nq",
        "active": true
    })
}

fn group_body(name: &str) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": name, "members": []})
}

fn patch(ops: Value) -> Value {
    json!({"schemas": [PATCH_OP], "Operations": ops})
}

// ---- R1 -----------------------------------------------------------------------------------

#[tokio::test]
async fn r1_identifier_from_display_name_unique_and_kept_across_renames() {
    let app = TestApp::spawn().await;
    let admin = Admin::new(&app).await;
    let first = app.group("example-group", &[]).await;
    let second = app.group("example group", &[]).await;
    let third = app.group("example.group", &[]).await;
    let ident = |res: &crate::harness::Resp| res.body["identifier"].as_str().unwrap().to_string();
    assert_eq!(
        ident(&admin.get(&format!("/groups/{first}")).await),
        "example_group"
    );
    assert_eq!(
        ident(&admin.get(&format!("/groups/{second}")).await),
        "example_group_2"
    );
    assert_eq!(
        ident(&admin.get(&format!("/groups/{third}")).await),
        "example_group_3"
    );

    // A role binding survives the IdP renaming the group; the identifier does not change.
    let res = admin
        .post(
            &format!("/groups/{first}/role-bindings"),
            json!({"role": "pipeline_executor", "resource_group": "prod"}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    let res = app
        .patch(
            &format!("/Groups/{first}"),
            patch(json!([{"op": "replace", "value": {"id": first, "displayName": "Renamed-In-Okta"}}])),
        )
        .await;
    assert_eq!(res.status, 204, "{}", res.text);
    let res = admin.get(&format!("/groups/{first}")).await;
    assert_eq!(res.body["display_name"], "Renamed-In-Okta");
    assert_eq!(res.body["identifier"], "example_group");
    let res = admin.get(&format!("/groups/{first}/role-bindings")).await;
    assert_eq!(res.body["items"][0]["group_identifier"], "example_group");
    // The freed-looking base is not reused while the group lives.
    let fourth = admin.group("example_group").await;
    assert_eq!(
        ident(&admin.get(&format!("/groups/{fourth}")).await),
        "example_group_4"
    );
}

#[tokio::test]
async fn r1_concurrent_creations_get_distinct_identifiers() {
    let app = TestApp::spawn().await;
    let admin = Admin::new(&app).await;
    // Six names that all sanitise to `team_a`, created at once: the unique index, not a
    // check-then-write, keeps their identifiers apart.
    let results = tokio::join!(
        app.post("/Groups", group_body("team-a")),
        app.post("/Groups", group_body("team a")),
        app.post("/Groups", group_body("team.a")),
        app.post("/Groups", group_body("team_a")),
        admin.post("/groups", json!({"display_name": "team-a."})),
        admin.post("/groups", json!({"display_name": "team a "})),
    );
    for r in [
        &results.0, &results.1, &results.2, &results.3, &results.4, &results.5,
    ] {
        assert_eq!(r.status, 201, "{}", r.text);
    }
    let res = admin.get("/groups?count=50").await;
    let mut idents: Vec<String> = res.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["identifier"].as_str().unwrap().to_string())
        .collect();
    idents.sort();
    assert_eq!(
        idents,
        [
            "team_a",
            "team_a_",
            "team_a_2",
            "team_a_3",
            "team_a_4",
            "team_a__2"
        ],
        "identifiers are unique"
    );
}

// ---- R2 -----------------------------------------------------------------------------------

#[tokio::test]
async fn r2_user_name_and_primary_email_do_not_change_over_scim_unless_allowed() {
    let app = TestApp::spawn().await;
    let res = app
        .post("/Users", okta_user("jane@example.com", "jane@example.com"))
        .await;
    let id = res.body["id"].as_str().unwrap().to_string();

    let res = app
        .put(
            &format!("/Users/{id}"),
            okta_user("jane.doe@example.com", "jane@example.com"),
        )
        .await;
    res.assert_error(400, Some("mutability"));
    let detail = res.body["detail"].as_str().unwrap();
    assert!(
        detail.contains("userName") && detail.contains("update_emails_via_scim"),
        "{detail}"
    );

    let res = app
        .patch(
            &format!("/Users/{id}"),
            patch(json!([{"op": "replace", "path": "emails[type eq \"work\"].value", "value": "new@example.com"}])),
        )
        .await;
    res.assert_error(400, Some("mutability"));
    assert!(res.body["detail"].as_str().unwrap().contains("primary email"));
    // Nothing was written.
    let res = app.get(&format!("/Users/{id}")).await;
    assert_eq!(res.body["emails"][0]["value"], "jane@example.com");

    // A change of case only is no change; other attributes change freely.
    let mut same = okta_user("JANE@example.com", "Jane@Example.com");
    same["name"]["familyName"] = json!("Smith");
    let res = app.put(&format!("/Users/{id}"), same).await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["name"]["familyName"], "Smith");

    // With the setting on, the change is applied…
    set_profile(
        &app,
        ProfileUpdate {
            update_emails_via_scim: Some(true),
            ..Default::default()
        },
    )
    .await;
    let res = app
        .put(
            &format!("/Users/{id}"),
            okta_user("jane.doe@example.com", "jane.doe@example.com"),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["userName"], "jane.doe@example.com");
    // …and removal never depends on the email: the user is addressed by id.
    assert_eq!(app.delete(&format!("/Users/{id}")).await.status, 204);
}

// ---- R3 -----------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r3_idp_managed_groups_and_users_are_locked_in_the_admin_api() {
    let app = TestApp::spawn().await;
    let admin = Admin::new(&app).await;
    let member = app.user("member@example.com").await;
    let direct = app.user("direct@example.com").await;
    let group = app.group("Okta Group", &[&member]).await;
    let native_group = admin.group("Native Group").await;

    let res = admin.delete(&format!("/groups/{group}")).await;
    res.assert_problem(403);
    assert!(
        res.body["detail"]
            .as_str()
            .unwrap()
            .starts_with("Cannot delete a group imported from SCIM"),
        "{}",
        res.text
    );
    let res = admin
        .patch(&format!("/groups/{group}"), json!({"display_name": "Renamed"}))
        .await;
    res.assert_problem(403);
    assert!(
        res.body["detail"]
            .as_str()
            .unwrap()
            .starts_with("Cannot rename a group imported from SCIM")
    );
    admin
        .post(&format!("/groups/{group}/members"), json!({"user_ids": [direct]}))
        .await
        .assert_problem(403);
    admin
        .delete(&format!("/groups/{group}/members/{member}"))
        .await
        .assert_problem(403);

    // A member of an IdP-managed group: email, name and group assignments are the IdP's.
    let res = admin
        .patch(&format!("/users/{member}"), json!({"email": "other@example.com"}))
        .await;
    res.assert_problem(403);
    assert!(res.body["detail"].as_str().unwrap().contains("email or name"));
    admin
        .post(
            &format!("/groups/{native_group}/members"),
            json!({"user_ids": [member]}),
        )
        .await
        .assert_problem(403);
    // Any IdP-managed user: not deactivated, not deleted.
    let res = admin
        .patch(&format!("/users/{direct}"), json!({"active": false}))
        .await;
    res.assert_problem(403);
    assert!(
        res.body["detail"]
            .as_str()
            .unwrap()
            .starts_with("Cannot deactivate a user provisioned through SCIM")
    );
    admin
        .delete(&format!("/users/{direct}"))
        .await
        .assert_problem(403);
    // A directly provisioned user starts with no groups and may be given native ones.
    let res = admin
        .post(
            &format!("/groups/{native_group}/members"),
            json!({"user_ids": [direct]}),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    // The lock is the admin API's: SCIM still manages the group.
    let res = app
        .patch(
            &format!("/Groups/{group}"),
            patch(json!([{"op": "remove", "path": format!("members[value eq \"{member}\"]")}])),
        )
        .await;
    assert_eq!(res.status, 204, "{}", res.text);

    // The operator's way out (seed 001: an IdP that never deletes its groups): the CLI with
    // --force, audited as the operator.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_scimd"))
        .args([
            "group",
            "delete",
            "--account",
            &app.account.to_string(),
            "--group",
            &group,
        ])
        .env("DATABASE_URL", &app.config.database_url)
        .output()
        .unwrap();
    assert!(!out.status.success(), "without --force the lock holds");
    assert!(String::from_utf8_lossy(&out.stderr).contains("Cannot delete a group imported from SCIM"));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_scimd"))
        .args([
            "group",
            "delete",
            "--account",
            &app.account.to_string(),
            "--group",
            &group,
            "--force",
            "--operator",
            "support-jane",
        ])
        .env("DATABASE_URL", &app.config.database_url)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    app.get(&format!("/Groups/{group}")).await.assert_error(404, None);
    let res = admin
        .get(&format!("/audit?resource_type=Group&resource_id={group}"))
        .await;
    let first = &res.body["items"][0];
    assert_eq!(first["action"], "lock.override", "{}", res.text);
    assert_eq!(first["actor"]["kind"], "operator");
    assert_eq!(first["actor"]["name"], "support-jane");
    assert_eq!(res.body["items"][1]["action"], "group.delete");
}

// ---- R4 -----------------------------------------------------------------------------------

#[tokio::test]
async fn r4_post_users_adopts_a_native_user_instead_of_duplicating() {
    let app = TestApp::spawn().await;
    let admin = Admin::new(&app).await;
    let native = admin.user("jane", "Jane.Doe@Example.com").await;
    let group = admin.group("Developers").await;
    admin
        .post(&format!("/groups/{group}/members"), json!({"user_ids": [native]}))
        .await;

    // Matched on the primary email, ignoring case: same id, 201, now IdP-managed from okta.
    let res = app
        .post(
            "/Users",
            okta_user("jane.doe@example.com", "jane.doe@example.com"),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    assert_eq!(res.body["id"], native.as_str());
    assert_eq!(res.body["userName"], "jane.doe@example.com");
    assert_eq!(
        res.body["groups"][0]["value"],
        group.as_str(),
        "memberships are kept"
    );
    let res = admin.get(&format!("/users/{native}")).await;
    assert_eq!(res.body["idp_managed"], true);
    assert_eq!(res.body["source"], "okta");
    assert_eq!(admin.get("/users").await.body["total"], 1, "no duplicate");

    // The same user again: it is IdP-managed now, so 409.
    app.post("/Users", okta_user("JANE.DOE@example.com", "x@example.com"))
        .await
        .assert_error(409, Some("uniqueness"));
    // Another IdP never takes it over.
    let entra = scim_token(&app, Idp::Entra).await;
    let res = app
        .send(
            Method::POST,
            &app.scim("/Users"),
            Some(&entra),
            Some(&okta_user("someone@example.com", "jane.doe@example.com")),
            &[],
        )
        .await;
    res.assert_error(409, Some("uniqueness"));
    assert!(
        res.body["detail"].as_str().unwrap().contains("okta"),
        "{}",
        res.text
    );
    let res = app
        .send(
            Method::PUT,
            &app.scim(&format!("/Users/{native}")),
            Some(&entra),
            Some(&okta_user("jane.doe@example.com", "jane.doe@example.com")),
            &[],
        )
        .await;
    res.assert_error(409, Some("uniqueness"));

    // Matched on the userName.
    let bob = admin.user("Bob@Example.com", "bob.private@example.org").await;
    let res = app
        .post("/Users", okta_user("bob@example.com", "bob@example.com"))
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    assert_eq!(res.body["id"], bob.as_str());
}

#[tokio::test]
async fn r4_okta_link_by_filter_then_put_adopts_too() {
    let app = TestApp::spawn().await;
    let admin = Admin::new(&app).await;
    let native = admin.user("sam@example.com", "sam@example.com").await;
    // Okta's pre-check finds the user, links it and pushes the profile with PUT: no POST.
    let res = app
        .get("/Users?filter=userName%20eq%20%22sam%40example.com%22&startIndex=1&count=100")
        .await;
    assert_eq!(res.body["Resources"][0]["id"], native.as_str());
    let res = app
        .put(
            &format!("/Users/{native}"),
            okta_user("sam@example.com", "sam@example.com"),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    let res = admin.get(&format!("/users/{native}")).await;
    assert_eq!(res.body["idp_managed"], true);
    assert_eq!(res.body["source"], "okta");
    let res = admin
        .get(&format!("/audit?resource_type=User&resource_id={native}"))
        .await;
    assert_eq!(res.body["items"][0]["action"], "user.adopt");
}

#[tokio::test]
async fn r4_groups_link_by_default_and_keep_both_when_configured() {
    let app = TestApp::spawn().await;
    let admin = Admin::new(&app).await;
    let member = admin.user("m@example.com", "m@example.com").await;
    let eng = admin.group("Engineering").await;
    admin
        .post(&format!("/groups/{eng}/members"), json!({"user_ids": [member]}))
        .await;
    admin
        .post(
            &format!("/groups/{eng}/role-bindings"),
            json!({"role": "admin", "resource_group": "all"}),
        )
        .await;

    // Names compare by key (docs/rules.md, "Comparing names"): another name is another group.
    let other = app.post("/Groups", group_body("Engineering Ops")).await;
    assert_eq!(other.status, 201, "{}", other.text);
    assert_ne!(other.body["id"], eng.as_str());

    let res = app.post("/Groups", group_body("Engineering")).await;
    assert_eq!(res.status, 201, "{}", res.text);
    assert_eq!(res.body["id"], eng.as_str(), "linked, not duplicated");
    assert_eq!(res.body["members"][0]["value"], member.as_str());
    let res = admin.get(&format!("/groups/{eng}")).await;
    assert_eq!(res.body["identifier"], "Engineering");
    assert_eq!(res.body["idp_managed"], true);
    assert_eq!(res.body["source"], "okta");
    let res = admin.get(&format!("/groups/{eng}/role-bindings")).await;
    assert_eq!(res.body["items"][0]["role"], "admin", "bindings are kept");
    app.post("/Groups", group_body("Engineering"))
        .await
        .assert_error(409, Some("uniqueness"));

    // keep_both: a second, IdP-managed group beside the native one.
    set_profile(
        &app,
        ProfileUpdate {
            group_name_conflict: Some(GroupNameConflict::KeepBoth),
            ..Default::default()
        },
    )
    .await;
    let sales = admin.group("Sales").await;
    // The IdP does not see the native group: Okta's and Entra's name lookups find nothing, so
    // they create their own instead of linking, and no SCIM write can take the native one over.
    let res = app.get("/Groups?filter=displayName%20eq%20%22Sales%22").await;
    assert_eq!(res.body["totalResults"], 0, "{}", res.text);
    let listed = app.get("/Groups?count=1000").await;
    assert!(
        !listed.text.contains(&sales),
        "native groups are not listed to SCIM under keep_both: {}",
        listed.text
    );
    app.get(&format!("/Groups/{sales}")).await.assert_error(404, None);
    app.patch(
        &format!("/Groups/{sales}"),
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
               "Operations": [{"op": "add", "path": "members", "value": [{"value": member}]}]}),
    )
    .await
    .assert_error(404, None);
    app.put(&format!("/Groups/{sales}"), group_body("Sales"))
        .await
        .assert_error(404, None);
    app.delete(&format!("/Groups/{sales}")).await.assert_error(404, None);
    // Nothing else about the request is checked first: a stale If-Match or an operation on a
    // missing attribute would otherwise reveal that the id exists.
    app.send(
        reqwest::Method::DELETE,
        &app.scim(&format!("/Groups/{sales}")),
        Some(&app.token),
        None,
        &[("If-Match", "W/\"999\"")],
    )
    .await
    .assert_error(404, None);
    app.patch(
        &format!("/Groups/{sales}"),
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
               "Operations": [{"op": "remove", "path": "externalId"}, {"op": "replace", "path": "nope", "value": 1}]}),
    )
    .await
    .assert_error(404, None);
    assert_eq!(
        admin.get(&format!("/groups/{sales}")).await.body["idp_managed"],
        false,
        "still native after every SCIM attempt"
    );
    let res = app.post("/Groups", group_body("Sales")).await;
    assert_eq!(res.status, 201, "{}", res.text);
    let twin = res.body["id"].as_str().unwrap().to_string();
    assert_ne!(twin, sales);
    let res = admin.get(&format!("/groups/{twin}")).await;
    assert_eq!(res.body["identifier"], "Sales_2");
    assert_eq!(res.body["idp_managed"], true);
    assert_eq!(
        admin.get(&format!("/groups/{sales}")).await.body["idp_managed"],
        false
    );
    let res = app.get("/Groups?filter=displayName%20eq%20%22Sales%22").await;
    assert_eq!(res.body["totalResults"], 1, "only the IdP's own: {}", res.text);
    assert_eq!(res.body["Resources"][0]["id"], twin.as_str());
    // The native twin may be renamed to end the confusion (seed 000).
    let res = admin
        .patch(
            &format!("/groups/{sales}"),
            json!({"display_name": "Sales (old)"}),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    // A second IdP group of the same name is still refused.
    app.post("/Groups", group_body("Sales"))
        .await
        .assert_error(409, Some("uniqueness"));

    // Disabling SCIM makes the twin native; it is renamed so two native groups do not share
    // a name when both still exist.
    let solo = admin.group("Ops").await;
    let ops_twin = app.post("/Groups", group_body("Ops")).await.body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let res = admin
        .post("/scim/disable", json!({"confirmation": "DISABLE"}))
        .await;
    assert_eq!(res.body["groups_renamed"], 1, "{}", res.text);
    assert_eq!(
        admin.get(&format!("/groups/{solo}")).await.body["display_name"],
        "Ops"
    );
    assert_eq!(
        admin.get(&format!("/groups/{ops_twin}")).await.body["display_name"],
        "Ops (Ops_2)"
    );
}

// ---- R5 -----------------------------------------------------------------------------------

#[tokio::test]
async fn r5_deactivation_keeps_the_user_and_delete_removes_memberships_but_not_the_record() {
    let app = TestApp::spawn().await;
    let admin = Admin::new(&app).await;
    let user = app.user("life@example.com").await;
    let group = app.group("Lifecycle", &[&user]).await;
    // Entra's dialect: "Replace" with the string "False".
    let res = app
        .patch(
            &format!("/Users/{user}"),
            patch(json!([{"op": "Replace", "path": "active", "value": "False"}])),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["active"], false);
    assert_eq!(admin.get(&format!("/users/{user}")).await.body["active"], false);
    let res = app
        .patch(
            &format!("/Users/{user}"),
            patch(json!([{"op": "replace", "value": {"active": true}}])),
        )
        .await;
    assert_eq!(res.body["active"], true);

    assert_eq!(app.delete(&format!("/Users/{user}")).await.status, 204);
    let res = admin.get(&format!("/groups/{group}/members")).await;
    assert_eq!(res.body["items"], json!([]));
    assert_eq!(
        admin.get(&format!("/groups/{group}")).await.status,
        200,
        "the group stays"
    );
    let res = admin
        .get(&format!("/audit?resource_type=User&resource_id={user}"))
        .await;
    let deleted = &res.body["items"][0];
    assert_eq!(deleted["action"], "user.delete");
    assert_eq!(deleted["before"]["userName"], "life@example.com");
    assert_eq!(deleted["delta"]["removed_from_groups"], json!([group]));

    // A group's DELETE removes it and its memberships, never the member users.
    let other = app.user("stays@example.com").await;
    let doomed = app.group("Doomed", &[&other]).await;
    assert_eq!(app.delete(&format!("/Groups/{doomed}")).await.status, 204);
    assert_eq!(app.get(&format!("/Users/{other}")).await.status, 200);
}

// ---- R6 -----------------------------------------------------------------------------------

#[tokio::test]
async fn r6_an_expired_token_gets_401_saying_so_and_the_default_lifetime_is_365_days() {
    let app = TestApp::spawn().await;
    let short = app
        .app
        .service
        .create_token(
            app.account,
            TokenKind::Scim,
            Some(Idp::Okta),
            Some(std::time::Duration::from_secs(1)),
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        app.send(Method::GET, &app.scim("/Users"), Some(&short.token), None, &[])
            .await
            .status,
        200
    );
    app.advance(std::time::Duration::from_secs(1));
    let res = app
        .send(Method::GET, &app.scim("/Users"), Some(&short.token), None, &[])
        .await;
    res.assert_error(401, None);
    assert!(
        res.body["detail"].as_str().unwrap().contains("expired"),
        "{}",
        res.text
    );

    let admin = Admin::new(&app).await;
    let res = admin.get("/scim/tokens").await;
    let harness_token = res.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == app.token_id.to_string())
        .unwrap()
        .clone();
    let created: chrono::DateTime<chrono::Utc> =
        harness_token["created_at"].as_str().unwrap().parse().unwrap();
    let expires: chrono::DateTime<chrono::Utc> =
        harness_token["expires_at"].as_str().unwrap().parse().unwrap();
    assert_eq!((expires - created).num_days(), 365);
}

// ---- R8 -----------------------------------------------------------------------------------

#[tokio::test]
async fn r8_reserved_names_and_the_length_limit() {
    let app = TestApp::spawn().await;
    let admin = Admin::new(&app).await;
    let res = admin
        .patch(
            "/settings",
            json!({"reserved_group_names": ["Administrators"], "max_group_name_length": 24}),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);

    let res = app.post("/Groups", group_body("administrators")).await;
    res.assert_error(400, Some("invalidValue"));
    assert!(res.body["detail"].as_str().unwrap().contains("reserved"));
    // The native Administrators group cannot be taken over by linking nor by a write.
    let native = admin.group("Administrators").await;
    app.post("/Groups", group_body("Administrators"))
        .await
        .assert_error(400, Some("invalidValue"));
    app.patch(
        &format!("/Groups/{native}"),
        patch(json!([{"op": "add", "path": "members", "value": []}])),
    )
    .await
    .assert_error(400, Some("invalidValue"));
    app.delete(&format!("/Groups/{native}"))
        .await
        .assert_error(400, Some("invalidValue"));
    assert_eq!(
        admin.get(&format!("/groups/{native}")).await.body["idp_managed"],
        false
    );
    // Nor renamed into over SCIM.
    let g = app.group("Plain", &[]).await;
    app.patch(
        &format!("/Groups/{g}"),
        patch(json!([{"op": "replace", "path": "displayName", "value": "Administrators"}])),
    )
    .await
    .assert_error(400, Some("invalidValue"));

    // 24 characters at most, on both surfaces.
    let long = "A group name of 25 chars";
    assert_eq!(long.chars().count(), 24);
    assert_eq!(app.post("/Groups", group_body(long)).await.status, 201);
    let res = app.post("/Groups", group_body("A group name of 25 chars!")).await;
    res.assert_error(400, Some("invalidValue"));
    assert!(res.body["detail"].as_str().unwrap().contains("24"));
    admin
        .post("/groups", json!({"display_name": "Twenty-five characters!!!"}))
        .await
        .assert_problem(400);
}

// ---- Issue 16: lock gaps ------------------------------------------------------------------

/// R3 for every IdP-managed user: its userName and email are the IdP's whatever its groups,
/// since the IdP matches the user by them and R2 keeps it from changing them back.
#[tokio::test]
async fn r3_identity_of_any_idp_managed_user_is_locked_in_the_admin_api() {
    let app = TestApp::spawn().await;
    let admin = Admin::new(&app).await;
    // Provisioned directly: in no group at all.
    let direct = app.user("direct@example.com").await;
    assert!(
        admin.get(&format!("/users/{direct}")).await.body["groups"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    for change in [
        json!({"user_name": "renamed@example.com"}),
        json!({"email": "renamed@example.com"}),
        json!({"user_name": "DIRECT@example.com"}),
    ] {
        let res = admin.patch(&format!("/users/{direct}"), change.clone()).await;
        res.assert_problem(403);
        assert_eq!(res.body["code"], "mutability", "{}", res.text);
        let detail = res.body["detail"].as_str().unwrap();
        assert!(
            detail.starts_with("Cannot change the userName or email of a user provisioned through SCIM")
                && detail.contains("\"okta\"")
                && detail.contains("make the change there"),
            "{change}: {detail}"
        );
    }
    let res = admin.get(&format!("/users/{direct}")).await;
    assert_eq!(res.body["user_name"], "direct@example.com");
    assert_eq!(res.body["email"], "direct@example.com");
    // So the IdP keeps managing it: its next PUT is not a 400 mutability.
    let res = app
        .put(
            &format!("/Users/{direct}"),
            okta_user("direct@example.com", "direct@example.com"),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    // The name of a user in no IdP group stays the application's to edit (R3 as before).
    let res = admin
        .patch(&format!("/users/{direct}"), json!({"given_name": "Janet"}))
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    // A native user's identity is the admin API's.
    let native = admin.user("native", "native@example.com").await;
    let res = admin
        .patch(
            &format!("/users/{native}"),
            json!({"user_name": "native2", "email": "native2@example.com"}),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["email"], "native2@example.com");
}

/// R4's exception: a native member of a reserved group (the account's administrators) is never
/// taken over by SCIM, and an IdP-managed user is never made one, so a provisioning token
/// (e.g. a leaked connector secret) cannot rename, deactivate or delete an administrator.
#[tokio::test]
async fn r4_native_members_of_reserved_groups_are_never_adopted() {
    let app = TestApp::spawn().await;
    let admin = Admin::new(&app).await;
    set_profile(
        &app,
        ProfileUpdate {
            reserved_group_names: Some(vec!["Administrators".into()]),
            ..Default::default()
        },
    )
    .await;
    let admins = admin.group("Administrators").await;
    let boss = admin.user("boss", "Boss@Example.com").await;
    let res = admin
        .post(&format!("/groups/{admins}/members"), json!({"user_ids": [boss]}))
        .await;
    assert_eq!(res.status, 200, "{}", res.text);

    // POST by email, by userName: 409 uniqueness saying what the account's admin can do.
    for body in [
        okta_user("attacker@example.com", "boss@example.com"),
        okta_user("BOSS", "someone@example.com"),
    ] {
        let res = app.post("/Users", body).await;
        res.assert_error(409, Some("uniqueness"));
        let detail = res.body["detail"].as_str().unwrap();
        assert!(
            detail.contains("reserved group \"Administrators\"") && detail.contains("release"),
            "{detail}"
        );
    }
    // Okta's other way in (pre-check, then PUT or PATCH the found user) and DELETE: refused too.
    let found = app.get("/Users?filter=userName%20eq%20%22boss%22").await;
    assert_eq!(found.body["Resources"][0]["id"], boss.as_str(), "{}", found.text);
    app.put(
        &format!("/Users/{boss}"),
        okta_user("boss", "boss@example.com"),
    )
    .await
    .assert_error(409, Some("uniqueness"));
    app.patch(
        &format!("/Users/{boss}"),
        patch(json!([{"op": "replace", "path": "active", "value": false}])),
    )
    .await
    .assert_error(409, Some("uniqueness"));
    app.delete(&format!("/Users/{boss}"))
        .await
        .assert_error(409, Some("uniqueness"));
    let res = admin.get(&format!("/users/{boss}")).await;
    assert_eq!(res.body["idp_managed"], false, "{}", res.text);
    assert_eq!(res.body["active"], true);
    assert_eq!(res.body["user_name"], "boss");
    // The account keeps every way back: the admin API still manages its administrator.
    let res = admin
        .patch(&format!("/users/{boss}"), json!({"active": false}))
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    let res = admin
        .patch(&format!("/users/{boss}"), json!({"active": true}))
        .await;
    assert_eq!(res.status, 200, "{}", res.text);

    // An IdP-managed user is not made an administrator through the admin API.
    let idp_user = app.user("idp@example.com").await;
    let res = admin
        .post(
            &format!("/groups/{admins}/members"),
            json!({"user_ids": [idp_user]}),
        )
        .await;
    res.assert_problem(403);
    assert!(
        res.body["detail"].as_str().unwrap().contains("reserved group"),
        "{}",
        res.text
    );
    // Other native groups are unaffected: their native members are adopted (R4).
    let devs = admin.group("Developers").await;
    let dev = admin.user("dev", "dev@example.com").await;
    admin
        .post(&format!("/groups/{devs}/members"), json!({"user_ids": [dev]}))
        .await;
    let res = app.post("/Users", okta_user("dev@example.com", "dev@example.com")).await;
    assert_eq!(res.status, 201, "{}", res.text);
    assert_eq!(res.body["id"], dev.as_str());

    // Released by the account's admin (removed from Administrators), the IdP adopts it.
    let res = admin.delete(&format!("/groups/{admins}/members/{boss}")).await;
    assert!(res.status < 300, "{}", res.text);
    let res = app.post("/Users", okta_user("boss", "boss@example.com")).await;
    assert_eq!(res.status, 201, "{}", res.text);
    assert_eq!(res.body["id"], boss.as_str());
}

/// The way back without disabling SCIM: an IdP-managed administrator (made one before the
/// group's name was reserved) that a SCIM token deactivated is reactivated by the admin API,
/// which releases it; SCIM never takes it over again.
#[tokio::test]
async fn r4_an_idp_managed_administrator_is_released_by_the_admin_api() {
    let app = TestApp::spawn().await;
    let admin = Admin::new(&app).await;
    let admins = admin.group("Administrators").await;
    let boss = app.user("boss@example.com").await;
    let res = admin
        .post(&format!("/groups/{admins}/members"), json!({"user_ids": [boss]}))
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    // Deactivated over SCIM while its group is not reserved: the lock holds (R3).
    let res = app
        .patch(
            &format!("/Users/{boss}"),
            patch(json!([{"op": "replace", "path": "active", "value": false}])),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    admin
        .patch(&format!("/users/{boss}"), json!({"active": true}))
        .await
        .assert_problem(403);

    set_profile(
        &app,
        ProfileUpdate {
            reserved_group_names: Some(vec!["Administrators".into()]),
            ..Default::default()
        },
    )
    .await;
    let res = admin
        .patch(&format!("/users/{boss}"), json!({"active": true}))
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["active"], true);
    assert_eq!(res.body["idp_managed"], false, "released: {}", res.text);
    assert_eq!(res.body["source"], "okta", "the source stays");
    let res = admin
        .get(&format!("/audit?resource_type=User&resource_id={boss}"))
        .await;
    let actions: Vec<&str> = res.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(actions.contains(&"user.release"), "{}", res.text);
    // SCIM cannot take it back.
    app.patch(
        &format!("/Users/{boss}"),
        patch(json!([{"op": "replace", "path": "active", "value": false}])),
    )
    .await
    .assert_error(409, Some("uniqueness"));
    app.delete(&format!("/Users/{boss}"))
        .await
        .assert_error(409, Some("uniqueness"));
    assert_eq!(
        admin.get(&format!("/users/{boss}")).await.body["active"],
        true
    );
    // An IdP-managed user outside reserved groups stays locked.
    let other = app.user("other@example.com").await;
    admin
        .patch(&format!("/users/{other}"), json!({"active": false}))
        .await
        .assert_problem(403);
}

/// R4 with `keep_both`: SCIM sees no native group, in `User.groups` nor in filters on it.
#[tokio::test]
async fn r4_keep_both_hides_native_groups_from_user_groups_and_filters() {
    let app = TestApp::spawn().await;
    let admin = Admin::new(&app).await;
    let user = app.user("kb@example.com").await;
    // Given a native group first: R3 freezes the assignments of a member of an IdP group.
    let native = admin.group("Secret Native").await;
    let res = admin
        .post(&format!("/groups/{native}/members"), json!({"user_ids": [user]}))
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    let idp_group = app.group("Okta Sales", &[&user]).await;
    let filter = |f: &str| format!("/Users?filter={}", urlencode(f));
    let by_native = filter(&format!("groups.value eq \"{native}\""));
    let in_native = filter(&format!("groups[value eq \"{native}\"]"));

    // With `link` (the default) native groups are visible to SCIM, in both places.
    let res = app.get(&format!("/Users/{user}")).await;
    assert!(res.text.contains(&native), "{}", res.text);
    assert_eq!(app.get(&by_native).await.body["totalResults"], 1);

    set_profile(
        &app,
        ProfileUpdate {
            group_name_conflict: Some(GroupNameConflict::KeepBoth),
            ..Default::default()
        },
    )
    .await;
    let groups_of = |user: &Value| -> Vec<String> {
        user["groups"]
            .as_array()
            .map(|g| {
                g.iter()
                    .map(|g| g["value"].as_str().unwrap().to_string())
                    .collect()
            })
            .unwrap_or_default()
    };
    let res = app.get(&format!("/Users/{user}")).await;
    assert_eq!(groups_of(&res.body), [idp_group.as_str()], "{}", res.text);
    assert!(!res.text.contains(&native) && !res.text.contains("Secret Native"));
    let listed = app.get(&filter("userName eq \"kb@example.com\"")).await;
    assert_eq!(groups_of(&listed.body["Resources"][0]), [idp_group.as_str()], "{}", listed.text);
    let searched = app
        .post(
            "/Users/.search",
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                   "filter": "userName eq \"kb@example.com\""}),
        )
        .await;
    assert_eq!(searched.status, 200, "{}", searched.text);
    assert_eq!(groups_of(&searched.body["Resources"][0]), [idp_group.as_str()], "{}", searched.text);
    // Writes answer with the same view.
    let res = app
        .patch(
            &format!("/Users/{user}"),
            patch(json!([{"op": "replace", "path": "displayName", "value": "KB"}])),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(groups_of(&res.body), [idp_group.as_str()], "{}", res.text);

    // Filters agree with the attribute.
    assert_eq!(app.get(&by_native).await.body["totalResults"], 0);
    assert_eq!(app.get(&in_native).await.body["totalResults"], 0);
    let res = app
        .get(&filter(&format!("groups.value eq \"{idp_group}\"")))
        .await;
    assert_eq!(res.body["totalResults"], 1, "{}", res.text);
    // A user whose only group is native has no groups to SCIM.
    let lone = app.user("lone@example.com").await;
    admin
        .post(&format!("/groups/{native}/members"), json!({"user_ids": [lone]}))
        .await;
    let res = app.get(&format!("/Users/{lone}")).await;
    assert!(groups_of(&res.body).is_empty(), "{}", res.text);
    let res = app
        .get(&filter("groups pr and userName eq \"lone@example.com\""))
        .await;
    assert_eq!(res.body["totalResults"], 0, "{}", res.text);
    let res = app
        .get(&filter(&format!(
            "userName eq \"lone@example.com\" and not (groups.value eq \"{native}\")"
        )))
        .await;
    assert_eq!(res.body["totalResults"], 1, "{}", res.text);

    // The admin API, the native side, still sees every group.
    let res = admin.get(&format!("/users/{user}")).await;
    assert!(res.text.contains(&native), "{}", res.text);
}
