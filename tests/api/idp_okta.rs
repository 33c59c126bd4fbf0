//! Okta, as it really talks to a SCIM server (docs/idp-notes.md §1): its headers on every
//! request, test connection, create with pre-check, PUT updates, PATCH (de)activation, group
//! push, import paging, and the two Runscope suites (SPEC test, CRUD test) Okta requires for OIN.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::{IdpClient, Resp, TestApp, Wire};
use scimd::service::Idp;

const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const LIST: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

/// Okta's provisioning connector (§1.1): Content-Type on every request, DELETE included.
fn okta_wire() -> Wire {
    Wire {
        headers: vec![
            ("Accept", "application/scim+json"),
            ("Accept-Charset", "utf-8"),
            ("User-Agent", "Okta SCIM Client 1.0.0"),
            ("Connection", "Keep-Alive"),
            ("Accept-Encoding", "gzip,deflate"),
        ],
        body_type: Some("application/scim+json; charset=utf-8"),
        bodiless_type: Some("application/scim+json; charset=utf-8"),
    }
}

/// The Runscope SPEC test (§1.9): its own User-Agent; POSTs as plain `application/json`.
fn spec_test_wire() -> Wire {
    Wire {
        headers: vec![
            ("Accept", "application/scim+json"),
            ("User-Agent", "OKTA SCIM Integration"),
        ],
        body_type: Some("application/json"),
        bodiless_type: Some("application/scim+json; charset=utf-8"),
    }
}

/// What Okta checks of every ListResponse: integer counters (a string `"startIndex":"1"` broke
/// provisioning, §1.8) and `Resources` spelled as the RFC spells it.
#[track_caller]
fn assert_list(res: &Resp, total: u64, start: u64, items: u64) {
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["schemas"], json!([LIST]), "{}", res.text);
    assert_eq!(res.body["totalResults"].as_u64(), Some(total), "{}", res.text);
    assert_eq!(res.body["startIndex"].as_u64(), Some(start), "{}", res.text);
    assert_eq!(res.body["itemsPerPage"].as_u64(), Some(items), "{}", res.text);
    assert_eq!(
        res.body["Resources"].as_array().map(Vec::len),
        Some(items as usize),
        "{}",
        res.text
    );
    assert!(
        res.header("content-type")
            .is_some_and(|ct| ct.starts_with("application/scim+json")),
        "{:?}",
        res.header("content-type")
    );
}

fn okta_user(user_name: &str, given: &str, family: &str, external_id: &str) -> Value {
    json!({"schemas":[USER],"userName":user_name,
        "name":{"givenName":given,"familyName":family},
        "emails":[{"primary":true,"value":user_name,"type":"work"}],
        "displayName":format!("{given} {family}"),"locale":"en-US","externalId":external_id,
        "groups":[],"password":"1mz050nq","active":true})
}

fn id_of(res: &Resp) -> String {
    res.body["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {}", res.text))
        .to_string()
}

#[tokio::test]
async fn test_connection_answers_both_constant_calls() {
    let app = TestApp::spawn().await;
    let okta = app.idp(Idp::Okta, okta_wire()).await;
    // Okta refuses a base URL with an underscore.
    assert!(!app.scim("").contains('_'), "{}", app.scim(""));
    let res = okta.get("/Users?startIndex=1&count=2").await;
    assert_list(&res, 0, 1, 0);
    let res = okta.get("/Groups?startIndex=1&count=100").await;
    assert_list(&res, 0, 1, 0);

    // With data, count=2 is honoured and totalResults counts everything.
    for n in 0..3 {
        app.user(&format!("u{n}@okta.local")).await;
    }
    let res = okta.get("/Users?startIndex=1&count=2").await;
    assert_list(&res, 3, 1, 2);
}

#[tokio::test]
async fn create_with_precheck_in_both_encodings_then_duplicate_is_409() {
    let app = TestApp::spawn().await;
    let okta = app.idp(Idp::Okta, okta_wire()).await;

    // Pre-check: no match is 200 with exactly this empty ListResponse (the SPEC test needs
    // 200, not 404).
    for query in [
        "/Users?filter=userName%20eq%20%22test.user%40okta.local%22&startIndex=1&count=100",
        "/Users?filter=userName+eq+%22test.user%40okta.local%22&startIndex=1&count=100",
    ] {
        let res = okta.get(query).await;
        assert_eq!(res.status, 200, "{}", res.text);
        assert_eq!(
            res.body,
            json!({"schemas":[LIST],"totalResults":0,"startIndex":1,"itemsPerPage":0,"Resources":[]})
        );
    }

    let body = okta_user("test.user@okta.local", "Test", "User", "00ujl29u0le5T6Aj10h7");
    let res = okta.post("/Users", &body).await;
    assert_eq!(res.status, 201, "{}", res.text);
    // Okta fails with "Create new user returned empty user" without the full resource.
    let id = id_of(&res);
    let user = &res.body;
    assert_eq!(user["schemas"][0], USER);
    assert_eq!(user["userName"], "test.user@okta.local");
    assert_eq!(user["name"]["givenName"], "Test");
    assert_eq!(user["name"]["familyName"], "User");
    assert_eq!(user["emails"][0]["value"], "test.user@okta.local");
    assert_eq!(user["emails"][0]["primary"], true);
    assert_eq!(user["emails"][0]["type"], "work");
    assert_eq!(user["displayName"], "Test User");
    assert_eq!(user["locale"], "en-US");
    assert_eq!(user["externalId"], "00ujl29u0le5T6Aj10h7");
    assert_eq!(user["active"], true);
    assert_eq!(user["meta"]["resourceType"], "User");
    // The password is accepted and never echoed or stored.
    assert!(user.get("password").is_none(), "{}", res.text);
    assert!(!res.text.contains("1mz050nq"));
    let location = res.header("location").expect("Location header").to_string();
    assert!(location.ends_with(&format!("/Users/{id}")), "{location}");
    assert_eq!(user["meta"]["location"], location.as_str());

    // The next pre-check, in either encoding and any case, finds it: Okta links, no POST.
    for query in [
        "/Users?filter=userName%20eq%20%22test.user%40okta.local%22&startIndex=1&count=100",
        "/Users?filter=userName+eq+%22TEST.User%40OKTA.local%22&startIndex=1&count=100",
    ] {
        let res = okta.get(query).await;
        assert_list(&res, 1, 1, 1);
        assert_eq!(res.body["Resources"][0]["id"], id.as_str());
    }

    // A duplicate stops Okta's job with the error it shows to the admin.
    let res = okta.post("/Users", &body).await;
    res.assert_error(409, Some("uniqueness"));
    assert!(
        res.body["detail"].as_str().unwrap().contains("userName"),
        "{}",
        res.text
    );
    // Differing only in case is the same userName.
    let res = okta
        .post("/Users", &okta_user("Test.User@Okta.Local", "T", "U", "00uother"))
        .await;
    res.assert_error(409, Some("uniqueness"));

    // Older captures send locale as en_US: stored verbatim.
    let res = okta
        .post(
            "/Users",
            &json!({"schemas":[USER],"userName":"old.capture@okta.local",
                "name":{"givenName":"Old","familyName":"Capture"},
                "emails":[{"primary":true,"value":"old.capture@okta.local","type":"work"}],
                "locale":"en_US","groups":[],"password":"x","active":true}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    assert_eq!(res.body["locale"], "en_US");
}

#[tokio::test]
async fn put_update_ignores_read_only_and_meta_with_non_iso_dates() {
    let app = TestApp::spawn().await;
    let okta = app.idp(Idp::Okta, okta_wire()).await;
    let res = okta
        .post(
            "/Users",
            &okta_user("jane.doe@example.com", "Jane", "Doe", "00u1"),
        )
        .await;
    let id = id_of(&res);
    let created = res.body["meta"]["created"].clone();

    // Okta GETs the user, merges its change into what it read, and PUTs the whole object.
    let mut body = okta.get(&format!("/Users/{id}")).await.body;
    body["name"]["givenName"] = json!("Janet");
    body["displayName"] = json!("Janet Doe");
    body["groups"] = json!([]);
    body["password"] = json!("placeholder");
    // Older captures: a non-ISO-8601 date and a made-up version in meta.
    body["meta"] = json!({"resourceType":"User","created":"04-12-2018 00:00:00",
        "lastModified":"04-12-2018 00:00:00","version":"v1.0"});
    let res = okta.put(&format!("/Users/{id}"), &body).await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["id"], id.as_str());
    assert_eq!(res.body["name"]["givenName"], "Janet");
    assert_eq!(res.body["displayName"], "Janet Doe");
    assert_eq!(
        res.body["meta"]["created"], created,
        "meta.created is the server's"
    );
    assert_ne!(res.body["meta"]["version"], "v1.0");
    assert_eq!(res.body["active"], true);
    assert!(res.body.get("password").is_none());
    let fetched = okta.get(&format!("/Users/{id}")).await;
    assert_eq!(fetched.body["name"]["givenName"], "Janet");

    // A PUT whose body carries another id still updates the resource of the path.
    body["id"] = json!("abf4dd94-a4c0-4f67-89c9-76b03340cb9b");
    body["name"]["familyName"] = json!("Doe-Smith");
    let res = okta.put(&format!("/Users/{id}"), &body).await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["id"], id.as_str());
    assert_eq!(res.body["name"]["familyName"], "Doe-Smith");

    // A PUT that forgets `active` does not suspend the user (the vendor warning in §1.4).
    let mut no_active = res.body.clone();
    no_active.as_object_mut().unwrap().remove("active");
    let res = okta.put(&format!("/Users/{id}"), &no_active).await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["active"], true);

    // AIW apps deactivate with a full PUT carrying active:false, and reactivate the same way.
    let mut off = res.body.clone();
    off["active"] = json!(false);
    let res = okta.put(&format!("/Users/{id}"), &off).await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["active"], false);
    assert_eq!(okta.get(&format!("/Users/{id}")).await.body["active"], false);
    off["active"] = json!(true);
    let res = okta.put(&format!("/Users/{id}"), &off).await;
    assert_eq!(res.body["active"], true);

    // PUT of an id that does not exist is 404, not a create.
    let res = okta
        .put("/Users/0193a5c4-0000-7000-8000-000000000000", &off)
        .await;
    res.assert_error(404, None);
}

#[tokio::test]
async fn patch_deactivate_and_reactivate_with_no_path() {
    let app = TestApp::spawn().await;
    let okta = app.idp(Idp::Okta, okta_wire()).await;
    let id = id_of(
        &okta
            .post("/Users", &okta_user("d@okta.local", "D", "Eactivate", "00ud"))
            .await,
    );
    let path = format!("/Users/{id}");

    let res = okta
        .patch(
            &path,
            &json!({"schemas":[PATCH],"Operations":[{"op":"replace","value":{"active":false}}]}),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["active"], false);
    assert_eq!(res.body["id"], id.as_str());
    // Deactivated users stay readable, by id and by filter (the CRUD test reads them).
    let res = okta.get(&path).await;
    assert_eq!(res.status, 200);
    assert_eq!(res.body["active"], false);
    assert_eq!(res.body["userName"], "d@okta.local");
    let res = okta
        .get("/Users?filter=userName%20eq%20%22d%40okta.local%22&startIndex=1&count=100")
        .await;
    assert_list(&res, 1, 1, 1);
    assert_eq!(res.body["Resources"][0]["active"], false);

    let res = okta
        .patch(
            &path,
            &json!({"schemas":[PATCH],"Operations":[{"op":"replace","value":{"active":true}}]}),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(okta.get(&path).await.body["active"], true);

    // Password sync: accepted (Okta fails the task otherwise), never stored or echoed.
    let res = okta
        .patch(
            &path,
            &json!({"schemas":[PATCH],"Operations":[{"op":"replace","value":{"password":"n3wP@ss"}}]}),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    let res = okta.get(&path).await;
    assert!(!res.text.contains("n3wP@ss"), "{}", res.text);
    assert_eq!(res.body["active"], true);
}

#[tokio::test]
async fn group_push_link_create_rename_and_membership() {
    let app = TestApp::spawn().await;
    let okta = app.idp(Idp::Okta, okta_wire()).await;
    let mut users = Vec::new();
    for n in 0..4 {
        let res = okta
            .post(
                "/Users",
                &okta_user(&format!("member{n}@okta.local"), "M", &format!("{n}"), "00um"),
            )
            .await;
        users.push(id_of(&res));
    }

    // Link: an exact displayName match is found and linked; no POST follows.
    let existing = app.group("Engineering", &[]).await;
    let res = okta
        .get("/Groups?filter=displayName%20eq%20%22Engineering%22")
        .await;
    assert_list(&res, 1, 1, 1);
    assert_eq!(res.body["Resources"][0]["id"], existing.as_str());
    assert_eq!(res.body["Resources"][0]["displayName"], "Engineering");
    let res = okta.get("/Groups?filter=displayName+eq+%22Test+SCIMv2%22").await;
    assert_list(&res, 0, 1, 0);

    // Create: 201 with the group as GET returns it.
    let res = okta
        .post(
            "/Groups",
            &json!({"schemas":[GROUP],"displayName":"Test SCIMv2","members":[]}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    let gid = id_of(&res);
    assert_eq!(res.body["schemas"], json!([GROUP]));
    assert_eq!(res.body["displayName"], "Test SCIMv2");
    assert_eq!(res.body["meta"]["resourceType"], "Group");
    let fetched = okta.get(&format!("/Groups/{gid}")).await;
    assert_eq!(fetched.status, 200);
    assert_eq!(fetched.body["displayName"], res.body["displayName"]);
    assert_eq!(fetched.body["id"], res.body["id"]);
    let gpath = format!("/Groups/{gid}");

    // Older captures create with members already populated as {value, display}.
    let res = okta
        .post(
            "/Groups",
            &json!({"schemas":[GROUP],"displayName":"Prepopulated","members":[
                {"value":users[0],"display":"member0@okta.local"},
                {"value":users[1],"display":"member1@okta.local"}]}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    let members: HashSet<&str> = res.body["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].as_str().unwrap())
        .collect();
    assert_eq!(members, HashSet::from([users[0].as_str(), users[1].as_str()]));

    // Membership push: add two.
    let res = okta
        .patch(
            &gpath,
            &json!({"schemas":[PATCH],"Operations":[{"op":"add","path":"members","value":[
                {"value":users[0],"display":"member0@okta.local"},
                {"value":users[1],"display":"member1@okta.local"}]}]}),
        )
        .await;
    assert_eq!(res.status, 204, "{}", res.text);

    // Rename: the op has no path and the body carries the id; Okta sends it with every
    // membership update.
    let res = okta
        .patch(
            &gpath,
            &json!({"schemas":[PATCH],"Operations":[{"op":"replace","value":{"id":gid,"displayName":"Test SCIMv2 Renamed"}}]}),
        )
        .await;
    assert_eq!(res.status, 204, "{}", res.text);
    // An id in the body that is not this group's does not move anything either: the path
    // names the group.
    let res = okta
        .patch(
            &gpath,
            &json!({"schemas":[PATCH],"Operations":[{"op":"replace","value":{"id":"abf4dd94-0000-4000-8000-000000000000","displayName":"Test SCIMv2 Renamed"}}]}),
        )
        .await;
    assert_eq!(res.status, 204, "{}", res.text);

    // Several removes and an add in one request.
    let res = okta
        .patch(
            &gpath,
            &json!({"schemas":[PATCH],"Operations":[
                {"op":"remove","path":format!("members[value eq \"{}\"]", users[0])},
                {"op":"remove","path":format!("members[value eq \"{}\"]", users[1])},
                {"op":"add","path":"members","value":[{"value":users[2],"display":"member2@okta.local"}]}]}),
        )
        .await;
    assert_eq!(res.status, 204, "{}", res.text);
    let g = okta.get(&gpath).await.body;
    assert_eq!(g["id"], gid.as_str());
    assert_eq!(g["displayName"], "Test SCIMv2 Renamed");
    assert_eq!(g["members"].as_array().unwrap().len(), 1, "{g}");
    assert_eq!(g["members"][0]["value"], users[2].as_str());
    assert_eq!(
        okta.get(&format!("/Users/{}", users[2])).await.body["groups"][0]["value"],
        gid.as_str()
    );
    let groups_of_0 = okta.get(&format!("/Users/{}", users[0])).await.body["groups"].clone();
    assert!(
        !groups_of_0
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["value"] == gid.as_str()),
        "{groups_of_0}"
    );

    // A full push replaces the member list.
    let res = okta
        .patch(
            &gpath,
            &json!({"schemas":[PATCH],"Operations":[{"op":"replace","path":"members","value":[
                {"value":users[1],"display":"member1@okta.local"},
                {"value":users[3],"display":"member3@okta.local"}]}]}),
        )
        .await;
    assert_eq!(res.status, 204, "{}", res.text);
    let g = okta.get(&gpath).await.body;
    let members: HashSet<&str> = g["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].as_str().unwrap())
        .collect();
    assert_eq!(members, HashSet::from([users[1].as_str(), users[3].as_str()]));

    // Unlink with "delete the group": DELETE with a Content-Type and no body. The users stay.
    let res = okta.delete(&gpath).await;
    assert_eq!(res.status, 204, "{}", res.text);
    assert!(res.text.is_empty());
    okta.get(&gpath).await.assert_error(404, None);
    let res = okta.get(&format!("/Users/{}", users[3])).await;
    assert_eq!(res.status, 200);
    assert!(
        res.body["groups"].as_array().is_none_or(Vec::is_empty),
        "{}",
        res.text
    );
}

#[tokio::test]
async fn import_pages_by_100_with_integer_counters_and_stable_order() {
    let app = TestApp::spawn().await;
    let okta = app.idp(Idp::Okta, okta_wire()).await;
    let mut created = Vec::new();
    for n in 0..130 {
        created.push(app.user(&format!("import{n:03}@okta.local")).await);
    }
    for (n, member) in created.iter().take(3).enumerate() {
        app.group(&format!("Import group {n}"), &[member]).await;
    }

    let first = okta.get("/Users?startIndex=1&count=100").await;
    assert_list(&first, 130, 1, 100);
    // A user created while Okta pages does not shift the page it reads next.
    let late = app.user("late.arrival@okta.local").await;
    let second = okta.get("/Users?startIndex=101&count=100").await;
    assert_list(&second, 131, 101, 31);

    let mut seen = Vec::new();
    for page in [&first, &second] {
        for user in page.body["Resources"].as_array().unwrap() {
            seen.push(user["id"].as_str().unwrap().to_string());
        }
    }
    let mut expected = created.clone();
    expected.push(late);
    assert_eq!(seen, expected, "every user once, in a stable order");

    // The same pages again read the same users in the same order.
    let again = okta.get("/Users?startIndex=1&count=100").await;
    assert_eq!(again.body["Resources"], first.body["Resources"]);

    let res = okta.get("/Groups?startIndex=1&count=100").await;
    assert_list(&res, 3, 1, 3);
    assert_eq!(res.body["Resources"][0]["displayName"], "Import group 0");
}

/// Okta's Runscope SPEC test (Okta-SCIM-20-SPEC-Test.json), its twelve steps in order, with
/// the assertions the suite makes.
#[tokio::test]
async fn okta_spec_test_twelve_steps() {
    let app = TestApp::spawn().await;
    let spec = app.idp(Idp::Okta, spec_test_wire()).await;
    // The suite needs one user to exist already; the first listed must have every field it
    // reads.
    let res = spec
        .post(
            "/Users",
            &okta_user("existing.user@example.com", "Existing", "User", "00uexist"),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);

    // 1. The first user of the list has id, name, userName, active and an email.
    let res = spec.get("/Users?count=1&startIndex=1").await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert!(res.body["totalResults"].as_u64().unwrap() >= 1);
    assert_eq!(res.body["itemsPerPage"], 1);
    assert_eq!(res.body["startIndex"], 1);
    let first = &res.body["Resources"][0];
    for field in [
        &first["id"],
        &first["name"]["familyName"],
        &first["name"]["givenName"],
        &first["userName"],
        &first["emails"][0]["value"],
    ] {
        assert!(field.as_str().is_some_and(|s| !s.is_empty()), "{first}");
    }
    assert!(first["active"].is_boolean(), "{first}");
    let first_id = first["id"].as_str().unwrap().to_string();

    // 2. That user by id.
    let res = spec.get(&format!("/Users/{first_id}")).await;
    assert_eq!(res.status, 200);
    assert_eq!(res.body["id"], first_id.as_str());
    assert_eq!(res.body["userName"], first["userName"]);
    assert_eq!(res.body["emails"][0]["value"], first["emails"][0]["value"]);

    // 3. A userName that cannot exist: totalResults 0.
    let res = spec
        .get("/Users?filter=userName%20eq%20%22invalid-8e1f6a2c%40example.com%22")
        .await;
    assert_eq!(res.status, 200);
    assert_eq!(res.body["totalResults"], 0);

    // 4. An invalid id: 404 with the error schema.
    let res = spec.get("/Users/010101010101010101").await;
    res.assert_error(404, None);

    // 5. A random userName: totalResults 0.
    let res = spec
        .get("/Users?filter=userName%20eq%20%22Runscope3d9a1b8f%40atko.com%22")
        .await;
    assert_eq!(res.status, 200);
    assert_eq!(res.body["totalResults"], 0);

    // 6. Create (Content-Type application/json): 201 with what was sent.
    let new_user = json!({"schemas":[USER],"userName":"Runscope3d9a1b8f@atko.com",
        "name":{"givenName":"Runscope3d9a1b8f","familyName":"Username"},
        "emails":[{"primary":true,"value":"Runscope3d9a1b8f@atko.com","type":"work"}],
        "active":true,"password":"ZsaSjawO43"});
    let res = spec.post("/Users", &new_user).await;
    assert_eq!(res.status, 201, "{}", res.text);
    assert_eq!(res.body["active"], true);
    assert_eq!(res.body["userName"], "Runscope3d9a1b8f@atko.com");
    assert_eq!(res.body["name"]["familyName"], "Username");
    assert_eq!(res.body["name"]["givenName"], "Runscope3d9a1b8f");
    let new_id = id_of(&res);

    // 7. Read it back.
    let res = spec.get(&format!("/Users/{new_id}")).await;
    assert_eq!(res.status, 200);
    assert_eq!(res.body["id"], new_id.as_str());
    assert_eq!(res.body["userName"], "Runscope3d9a1b8f@atko.com");
    assert_eq!(res.body["name"]["familyName"], "Username");
    assert_eq!(res.body["active"], true);

    // 8. The same user again: 409.
    let res = spec.post("/Users", &new_user).await;
    assert_eq!(res.status, 409, "{}", res.text);
    assert_eq!(res.body["status"], "409");

    // 9. Filter on the upper-cased userName: 200 (and, userName being caseExact false, a hit).
    let res = spec
        .get("/Users?filter=userName%20eq%20%22RUNSCOPE3D9A1B8F%40ATKO.COM%22")
        .await;
    assert_eq!(res.status, 200);
    assert_eq!(res.body["totalResults"], 1);

    // 10. GET /Groups within 600 ms.
    let started = Instant::now();
    let res = spec.get("/Groups").await;
    assert_eq!(res.status, 200);
    assert!(
        started.elapsed() < Duration::from_millis(600),
        "{:?}",
        started.elapsed()
    );

    // 11. A header that is no token: 401.
    let res = app
        .raw(
            Method::GET,
            &app.scim("/Users"),
            &[
                ("Authorization", "non-token"),
                ("Accept", "application/scim+json"),
                ("User-Agent", "OKTA SCIM Integration"),
            ],
            None,
        )
        .await;
    res.assert_error(401, None);

    // 12. An id that is not one of ours: 404.
    let res = spec.get("/Users/00919288221112222").await;
    res.assert_error(404, None);
}

/// Okta's Runscope CRUD test (Okta-SCIM-20-CRUD-Test.json) seen from the server: assign,
/// update firstName, deactivate, reactivate and reassign, unassign — each verified by GET.
#[tokio::test]
async fn okta_crud_test() {
    let app = TestApp::spawn().await;
    let okta = app.idp(Idp::Okta, okta_wire()).await;
    let verify = |id: String| {
        let okta: &IdpClient<'_> = &okta;
        async move {
            let res = okta.get(&format!("/Users/{id}")).await;
            assert_eq!(res.status, 200, "{}", res.text);
            res.body
        }
    };

    // Assign: pre-check, then create.
    let res = okta
        .get("/Users?filter=userName%20eq%20%22crud.3f9a%40example.com%22&startIndex=1&count=100")
        .await;
    assert_list(&res, 0, 1, 0);
    let res = okta
        .post(
            "/Users",
            &okta_user("crud.3f9a@example.com", "Crud", "Test", "00ucrud"),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    let id = id_of(&res);
    let user = verify(id.clone()).await;
    assert_eq!(user["name"]["givenName"], "Crud");
    assert_eq!(user["active"], true);

    // Update firstName: GET then PUT.
    let mut body = user.clone();
    body["name"]["givenName"] = json!("CrudUpdated");
    body["password"] = json!("1mz050nq");
    let res = okta.put(&format!("/Users/{id}"), &body).await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(verify(id.clone()).await["name"]["givenName"], "CrudUpdated");

    let set_active = |active: bool| {
        let okta: &IdpClient<'_> = &okta;
        let id = id.clone();
        async move {
            let res = okta
                .patch(
                    &format!("/Users/{id}"),
                    &json!({"schemas":[PATCH],"Operations":[{"op":"replace","value":{"active":active}}]}),
                )
                .await;
            assert_eq!(res.status, 200, "{}", res.text);
        }
    };
    // Deactivate in Okta.
    set_active(false).await;
    assert_eq!(verify(id.clone()).await["active"], false);
    // Reactivate and reassign.
    set_active(true).await;
    let user = verify(id.clone()).await;
    assert_eq!(user["active"], true);
    assert_eq!(user["name"]["givenName"], "CrudUpdated");
    // Unassign: deactivated, still readable.
    set_active(false).await;
    let user = verify(id.clone()).await;
    assert_eq!(user["active"], false);
    assert_eq!(user["userName"], "crud.3f9a@example.com");
}
