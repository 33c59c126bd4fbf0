//! /Groups: CRUD and membership, set-based and concurrent.

use std::sync::Arc;

use serde_json::{Value, json};

use crate::harness::TestApp;

const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

fn member_ids(group: &Value) -> Vec<String> {
    let mut ids: Vec<String> = group["members"]
        .as_array()
        .map(|m| {
            m.iter()
                .map(|m| m["value"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids
}

fn sorted(ids: &[&String]) -> Vec<String> {
    let mut v: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

#[tokio::test]
async fn create_get_list_filter_and_duplicate() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice@example.com").await;
    let res = app
        .post(
            "/Groups",
            json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group", "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
                "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
                "displayName": "Test SCIMv2",
                "meta": {"resourceType": "Group"},
                "members": [{"value": alice, "display": "alice@example.com"}]
            }),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    let id = res.body["id"].as_str().unwrap().to_string();
    assert_eq!(
        res.header("location").unwrap(),
        app.scim(&format!("/Groups/{id}"))
    );
    assert_eq!(res.body["members"][0]["value"], alice.as_str());
    assert_eq!(res.body["members"][0]["type"], "User");
    assert_eq!(
        res.body["members"][0]["$ref"],
        app.scim(&format!("/Users/{alice}"))
    );
    assert_eq!(res.body["meta"]["resourceType"], "Group");

    let empty = app.post("/Groups", json!({"displayName": "Empty"})).await;
    assert_eq!(empty.status, 201);
    assert_eq!(empty.body["members"], json!([]));

    let got = app.get(&format!("/Groups/{id}")).await;
    assert_eq!(got.body["displayName"], "Test SCIMv2");
    assert_eq!(member_ids(&got.body), vec![alice.clone()]);

    let found = app
        .get("/Groups?filter=displayName%20eq%20%22Test%20SCIMv2%22")
        .await;
    assert_eq!(found.body["totalResults"], 1);
    assert_eq!(found.body["Resources"][0]["id"], id.as_str());
    let none = app.get("/Groups?filter=displayName%20eq%20%22Nope%22").await;
    assert_eq!(none.status, 200);
    assert_eq!(none.body["totalResults"], 0);

    // Entra's match query: no members in the answer.
    let light = app
        .get("/Groups?excludedAttributes=members&filter=displayName%20eq%20%22Test%20SCIMv2%22")
        .await;
    assert!(
        light.body["Resources"][0].get("members").is_none(),
        "{}",
        light.text
    );
    let light = app.get(&format!("/Groups/{id}?excludedAttributes=members")).await;
    assert!(light.body.get("members").is_none());

    app.post("/Groups", json!({"displayName": "Test SCIMv2"}))
        .await
        .assert_error(409, Some("uniqueness"));
    app.post(
        "/Groups",
        json!({"displayName": "Bad", "members": [{"value": uuid::Uuid::new_v4().to_string()}]}),
    )
    .await
    .assert_error(400, Some("invalidValue"));
    assert_eq!(
        app.get("/Groups?filter=displayName%20eq%20%22Bad%22").await.body["totalResults"],
        0,
        "no half-created group"
    );
    app.get(&format!("/Groups/{}", uuid::Uuid::new_v4()))
        .await
        .assert_error(404, None);
}

#[tokio::test]
async fn patch_members_in_every_dialect() {
    let app = TestApp::spawn().await;
    let a = app.user("a@example.com").await;
    let b = app.user("b@example.com").await;
    let c = app.user("c@example.com").await;
    let gid = app.group("Team", &[]).await;
    let url = format!("/Groups/{gid}");

    // Okta: add a list, answered 204 (or 200 with the group when attributes are asked for).
    let res = app
        .patch(&url, json!({"schemas": [PATCH], "Operations": [{"op": "add", "path": "members", "value": [{"value": a, "display": "a@example.com"}, {"value": b}]}]}))
        .await;
    assert_eq!(res.status, 204, "{}", res.text);
    assert_eq!(member_ids(&app.get(&url).await.body), sorted(&[&a, &b]));

    // Okta: remove by filter path, several in one request, plus an add.
    let res = app
        .patch(
            &url,
            json!({"schemas": [PATCH], "Operations": [
                {"op": "remove", "path": format!("members[value eq \"{a}\"]")},
                {"op": "add", "path": "members", "value": [{"value": c}]}
            ]}),
        )
        .await;
    assert_eq!(res.status, 204, "{}", res.text);
    assert_eq!(member_ids(&app.get(&url).await.body), sorted(&[&b, &c]));

    // Entra default dialect: capitalised ops, $ref null, removal by value list removes only those.
    let res = app
        .patch(&url, json!({"schemas": [PATCH], "Operations": [{"op": "Add", "path": "members", "value": [{"$ref": null, "value": a}]}]}))
        .await;
    assert_eq!(res.status, 204, "{}", res.text);
    let res = app
        .patch(&url, json!({"schemas": [PATCH], "Operations": [{"op": "Remove", "path": "members", "value": [{"$ref": null, "value": b}]}]}))
        .await;
    assert_eq!(res.status, 204, "{}", res.text);
    assert_eq!(member_ids(&app.get(&url).await.body), sorted(&[&a, &c]));

    // Full push: replace the member list.
    let res = app
        .patch(&url, json!({"schemas": [PATCH], "Operations": [{"op": "replace", "path": "members", "value": [{"value": b}, {"value": c}]}]}))
        .await;
    assert_eq!(res.status, 204, "{}", res.text);
    assert_eq!(member_ids(&app.get(&url).await.body), sorted(&[&b, &c]));

    // Rename with Okta's id in the body; asking for attributes gets 200 with the group.
    let res = app
        .send(
            reqwest::Method::PATCH,
            &app.scim(&format!("{url}?attributes=displayName")),
            Some(&app.token),
            Some(&json!({"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"id": gid, "displayName": "Team Renamed"}}]})),
            &[],
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["displayName"], "Team Renamed");
    assert_eq!(res.body["id"], gid.as_str());

    // Remove all members.
    let res = app
        .patch(
            &url,
            json!({"schemas": [PATCH], "Operations": [{"op": "remove", "path": "members"}]}),
        )
        .await;
    assert_eq!(res.status, 204, "{}", res.text);
    assert!(member_ids(&app.get(&url).await.body).is_empty());
}

#[tokio::test]
async fn membership_change_bumps_version_and_failed_patch_changes_nothing() {
    let app = TestApp::spawn().await;
    let a = app.user("a@example.com").await;
    let gid = app.group("Team", &[]).await;
    let url = format!("/Groups/{gid}");
    let v1 = app.get(&url).await.body["meta"]["version"].clone();
    let res = app.patch(&url, json!({"schemas": [PATCH], "Operations": [{"op": "add", "path": "members", "value": [{"value": a}]}]})).await;
    assert_eq!(res.status, 204);
    let after = app.get(&url).await.body;
    assert_ne!(after["meta"]["version"], v1);
    assert_eq!(
        res.header("etag").unwrap(),
        after["meta"]["version"].as_str().unwrap()
    );

    // A rename plus an unknown member: 400, and neither applies.
    let res = app
        .patch(
            &url,
            json!({"schemas": [PATCH], "Operations": [
                {"op": "replace", "path": "displayName", "value": "Renamed"},
                {"op": "add", "path": "members", "value": [{"value": uuid::Uuid::new_v4().to_string()}]}
            ]}),
        )
        .await;
    res.assert_error(400, Some("invalidValue"));
    assert_eq!(app.get(&url).await.body, after);
}

#[tokio::test]
async fn deleting_a_group_keeps_users_and_deleting_a_user_drops_membership() {
    let app = TestApp::spawn().await;
    let a = app.user("a@example.com").await;
    let b = app.user("b@example.com").await;
    let g1 = app.group("One", &[&a, &b]).await;
    let g2 = app.group("Two", &[&a]).await;
    assert_eq!(app.delete(&format!("/Groups/{g1}")).await.status, 204);
    app.get(&format!("/Groups/{g1}")).await.assert_error(404, None);
    assert_eq!(app.get(&format!("/Users/{a}")).await.status, 200);
    assert_eq!(app.get(&format!("/Users/{b}")).await.status, 200);
    assert_eq!(app.delete(&format!("/Users/{a}")).await.status, 204);
    assert!(member_ids(&app.get(&format!("/Groups/{g2}")).await.body).is_empty());
}

#[tokio::test]
async fn put_group_replaces_name_and_members() {
    let app = TestApp::spawn().await;
    let a = app.user("a@example.com").await;
    let b = app.user("b@example.com").await;
    let gid = app.group("Before", &[&a]).await;
    let res = app
        .put(
            &format!("/Groups/{gid}"),
            json!({"displayName": "After", "members": [{"value": b}]}),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["displayName"], "After");
    assert_eq!(member_ids(&res.body), vec![b.clone()]);
    // Without `members`, membership is left alone.
    let res = app
        .put(&format!("/Groups/{gid}"), json!({"displayName": "After Again"}))
        .await;
    assert_eq!(member_ids(&res.body), vec![b]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_member_adds_lose_no_member() {
    let app = Arc::new(TestApp::spawn().await);
    let gid = app.group("Crowd", &[]).await;
    let mut users = Vec::new();
    for i in 0..50 {
        users.push(app.user(&format!("crowd{i}@example.com")).await);
    }
    let mut tasks = Vec::new();
    for uid in users.clone() {
        let app = app.clone();
        let gid = gid.clone();
        tasks.push(tokio::spawn(async move {
            app.patch(&format!("/Groups/{gid}"), json!({"schemas": [PATCH], "Operations": [{"op": "add", "path": "members", "value": [{"value": uid}]}]}))
                .await
                .status
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 204);
    }
    let mut expected = users;
    expected.sort();
    let got = app.get(&format!("/Groups/{gid}")).await;
    assert_eq!(member_ids(&got.body), expected);
    // Every add bumped the version exactly once: no update was lost.
    assert_eq!(got.body["meta"]["version"], "W/\"51\"");
}

/// 64 member pushes to one group in flight together, each adding or removing three of twelve
/// users, the sets overlapping in every order: the IdP's pushes to its own group overlap
/// (meeting only at the group's version, `patch_members_alongside` in `service/groups.rs`).
/// Every push is answered (no deadlock, no lost update); the version rose once per push that
/// changed something; and the members are what the feed says: for each user, the adds its
/// events record minus the removes is whether it is a member.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn overlapping_member_pushes_agree_with_the_feed() {
    let app = Arc::new(TestApp::spawn_with(|c| c.rate_limit_per_second = 0).await);
    let mut users = Vec::new();
    for i in 0..12 {
        users.push(app.user(&format!("overlap{i}@example.com")).await);
    }
    // Created empty and given its first six members by a push, so that every membership it
    // ever had is one of the pushes' events.
    let gid = app.group("Overlap", &[]).await;
    let first: Vec<Value> = users[..6].iter().map(|u| json!({"value": u})).collect();
    let res = app
        .patch(
            &format!("/Groups/{gid}"),
            json!({"schemas": [PATCH], "Operations": [{"op": "add", "path": "members", "value": first}]}),
        )
        .await;
    assert_eq!(res.status, 204, "{}", res.text);
    let tasks: Vec<_> = (0..64)
        .map(|i: usize| {
            let (app, gid) = (app.clone(), gid.clone());
            // Offsets 0, 7 and 2 from a start that moves by 5: three distinct users, in an order
            // that differs from push to push.
            let value: Vec<Value> = [0, 7, 2]
                .iter()
                .map(|k| json!({"value": users[(i * 5 + k) % 12]}))
                .collect();
            let op = if i.is_multiple_of(2) { "add" } else { "remove" };
            tokio::spawn(async move {
                let res = app
                    .patch(
                        &format!("/Groups/{gid}"),
                        json!({"schemas": [PATCH], "Operations": [{"op": op, "path": "members", "value": value}]}),
                    )
                    .await;
                (res.status, res.text)
            })
        })
        .collect();
    for t in tasks {
        let (status, text) = t.await.unwrap();
        assert_eq!(status, 204, "{text}");
    }

    let got = app.get(&format!("/Groups/{gid}")).await;
    let members = member_ids(&got.body);
    let (changes, events) = {
        use sqlx::Row;
        let mut db = app.sql().await;
        let changes: i64 = sqlx::query(
            "SELECT count(*) AS n FROM audit_events WHERE resource_id = $1 AND action = 'group.members'",
        )
        .bind(&gid)
        .fetch_one(&mut db)
        .await
        .unwrap()
        .get("n");
        let events: Vec<(String, String)> = sqlx::query(
            "SELECT CAST(e.member_id AS TEXT) AS member, e.type FROM events e
             JOIN audit_events a ON a.account_id = e.account_id AND a.id = e.audit_id
             WHERE a.resource_id = $1 AND a.action = 'group.members'",
        )
        .bind(&gid)
        .fetch_all(&mut db)
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get("member"), r.get("type")))
        .collect();
        (changes, events)
    };
    assert!(changes > 0, "no push changed the group");
    assert_eq!(
        got.body["meta"]["version"],
        format!("W/\"{}\"", 1 + changes),
        "one version per push that changed the members"
    );
    for (i, user) in users.iter().enumerate() {
        let count = |kind: &str| {
            events
                .iter()
                .filter(|(m, t)| m.eq_ignore_ascii_case(user) && t == kind)
                .count() as i64
        };
        let net = count("group.member_added") - count("group.member_removed");
        let member = i64::from(members.contains(user));
        assert_eq!(net, member, "user {i}: the feed says {net:+}, the members say {member}");
    }
}

/// A rename of a group waits for the member pushes in flight, not for every push that comes
/// after it: eight connections push members to one group without a pause while a PATCH renames
/// it. (Row locks do not queue on Postgres: behind pushes holding the group's row
/// `FOR KEY SHARE`, the rename waited until the pushes stopped — here, their 20 s cap.)
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rename_is_not_starved_by_a_stream_of_member_pushes() {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::time::{Duration, Instant};

    let app = Arc::new(TestApp::spawn_with(|c| c.rate_limit_per_second = 0).await);
    let gid = app.group("Stream", &[]).await;
    let stop = Arc::new(AtomicBool::new(false));
    let pushed = Arc::new(AtomicUsize::new(0));
    let mut pushers = Vec::new();
    for i in 0..8 {
        let user = app.user(&format!("stream{i}@example.com")).await;
        let (app, gid, stop, pushed) = (app.clone(), gid.clone(), stop.clone(), pushed.clone());
        pushers.push(tokio::spawn(async move {
            let cap = Instant::now() + Duration::from_secs(20);
            while !stop.load(Ordering::Relaxed) && Instant::now() < cap {
                for op in ["add", "remove"] {
                    let res = app
                        .patch(
                            &format!("/Groups/{gid}"),
                            json!({"schemas": [PATCH], "Operations": [{"op": op, "path": "members", "value": [{"value": user}]}]}),
                        )
                        .await;
                    assert_eq!(res.status, 204, "{}", res.text);
                    pushed.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    crate::harness::eventually("the pushes under way", Duration::from_secs(20), || {
        let pushed = pushed.clone();
        async move {
            let n = pushed.load(Ordering::Relaxed);
            if n >= 40 { Ok(()) } else { Err(format!("{n} pushes")) }
        }
    })
    .await;

    let started = Instant::now();
    let res = app
        .patch(
            &format!("/Groups/{gid}"),
            json!({"schemas": [PATCH], "Operations": [{"op": "replace", "path": "displayName", "value": "Renamed"}]}),
        )
        .await;
    let took = started.elapsed();
    let still_pushing = !pushers.iter().all(|p| p.is_finished());
    stop.store(true, Ordering::Relaxed);
    for p in pushers {
        p.await.unwrap();
    }
    assert!(res.status == 200 || res.status == 204, "{}", res.text);
    assert!(
        still_pushing && took < Duration::from_secs(10),
        "the rename took {took:?}; the pushes were {}still running",
        if still_pushing { "" } else { "not " }
    );
    assert_eq!(app.get(&format!("/Groups/{gid}")).await.body["displayName"], "Renamed");
}
