//! The change feed, `GET /api/accounts/{id}/events` (docs/events.md): every change from SCIM,
//! the admin API and the CLI as a typed event, in order, resumable by cursor, long-polled,
//! pruned by retention (410 past it), and never skipping an event while writers commit out of
//! order.

use std::collections::HashSet;
use std::time::Duration;

use serde_json::{Value, json};

use crate::adminkit::Admin;
use crate::harness::TestApp;

const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const BULK: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";

fn ops(ops: Value) -> Value {
    json!({"schemas": [PATCH], "Operations": ops})
}

/// Reads the feed from `after` to its end, page by page; the events and the last cursor.
async fn read_all(admin: &Admin<'_>, query: &str, mut after: Option<String>) -> (Vec<Value>, String) {
    let mut events = Vec::new();
    loop {
        let cursor = after.as_deref().map(|a| format!("&after={a}")).unwrap_or_default();
        let res = admin.get(&format!("/events?limit=1000{query}{cursor}")).await;
        assert_eq!(res.status, 200, "{}", res.text);
        events.extend(res.body["events"].as_array().unwrap().iter().cloned());
        after = Some(res.body["next_cursor"].as_str().unwrap().to_string());
        if res.body["has_more"] != true {
            return (events, after.unwrap());
        }
    }
}

fn types(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["type"].as_str().unwrap()).collect()
}

/// An IdP's provisioning of a user and a group, then an admin's changes: each change is one
/// typed event carrying the actor, the resource (with its externalId) and its state after, in
/// the order the changes were made.
#[tokio::test]
async fn every_change_is_a_typed_event_in_order() {
    let app = TestApp::spawn().await;
    let admin = Admin::new(&app).await;
    let (_, start) = read_all(&admin, "", None).await;

    let user = app
        .post("/Users", json!({"userName": "alice@example.com", "externalId": "okta-1", "active": true}))
        .await;
    assert_eq!(user.status, 201, "{}", user.text);
    let uid = user.body["id"].as_str().unwrap().to_string();
    let off = app
        .patch(&format!("/Users/{uid}"), ops(json!([{"op": "replace", "path": "active", "value": false}])))
        .await;
    assert_eq!(off.status, 200, "{}", off.text);
    let on = app
        .patch(
            &format!("/Users/{uid}"),
            ops(json!([{"op": "replace", "value": {"active": true, "title": "Engineer"}}])),
        )
        .await;
    assert_eq!(on.status, 200, "{}", on.text);
    // The same PATCH again changes nothing: no event.
    let again = app
        .patch(&format!("/Users/{uid}"), ops(json!([{"op": "replace", "path": "title", "value": "Engineer"}])))
        .await;
    assert_eq!(again.status, 200, "{}", again.text);
    let title = app
        .patch(&format!("/Users/{uid}"), ops(json!([{"op": "replace", "path": "title", "value": "Lead"}])))
        .await;
    assert_eq!(title.status, 200, "{}", title.text);
    let group = app
        .post("/Groups", json!({"displayName": "Eng", "externalId": "okta-g"}))
        .await;
    assert_eq!(group.status, 201, "{}", group.text);
    let gid = group.body["id"].as_str().unwrap().to_string();
    let add = app
        .patch(&format!("/Groups/{gid}"), ops(json!([{"op": "add", "path": "members", "value": [{"value": uid}]}])))
        .await;
    assert_eq!(add.status, 204, "{}", add.text);
    let rename = app
        .patch(&format!("/Groups/{gid}"), ops(json!([{"op": "replace", "path": "displayName", "value": "Engineering"}])))
        .await;
    assert!(rename.status == 200 || rename.status == 204, "{}", rename.text);
    let native = admin.user("bob", "bob@example.com").await;
    assert_eq!(app.delete(&format!("/Users/{uid}")).await.status, 204);

    let (events, _) = read_all(&admin, "", Some(start.clone())).await;
    assert_eq!(
        types(&events),
        vec![
            "user.created",
            "user.deactivated",
            "user.reactivated",
            "user.updated",
            "group.created",
            "group.member_added",
            "group.renamed",
            "user.created",
            "user.deleted",
            "group.member_removed",
        ],
        "{events:#?}"
    );
    let ids: Vec<i64> = events.iter().map(|e| e["id"].as_str().unwrap().parse().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    let created = &events[0];
    assert_eq!(created["actor"]["kind"], "scim");
    assert_eq!(created["actor"]["idp"], "okta");
    assert_eq!(created["resource"], json!({"type": "User", "id": uid, "external_id": "okta-1"}));
    assert_eq!(created["data"]["userName"], "alice@example.com");
    assert_eq!(created["data"]["source"], "okta");
    assert_eq!(events[1]["changed"], json!(["active"]));
    assert_eq!(events[1]["data"]["active"], false);
    assert_eq!(events[2]["changed"], json!(["active", "title"]));
    assert_eq!(events[3]["changed"], json!(["title"]));
    assert_eq!(events[3]["data"]["title"], "Lead");
    assert_eq!(events[5]["resource"]["id"], gid.as_str());
    assert_eq!(events[5]["member"], json!({"type": "User", "id": uid}));
    assert!(events[5].get("data").is_none(), "{}", events[5]);
    assert_eq!(events[6]["data"]["displayName"], "Engineering");
    assert_eq!(events[7]["actor"]["kind"], "admin");
    assert_eq!(events[7]["resource"]["id"], native.as_str());
    assert_eq!(events[7]["data"]["source"], "manual");
    // A deletion carries the state before it; the groups it left each get their event.
    assert_eq!(events[8]["data"]["userName"], "alice@example.com");
    assert_eq!(events[9]["resource"]["id"], gid.as_str());
    assert_eq!(events[9]["member"]["id"], uid.as_str());

    // Account changes too: a token revoked, SCIM turned off.
    let (_, before_tokens) = read_all(&admin, "", None).await;
    let res = admin.delete(&format!("/scim/tokens/{}", app.token_id)).await;
    assert_eq!(res.status, 204, "{}", res.text);
    let (events, _) = read_all(&admin, "&types=token.revoked,scim.disabled", Some(before_tokens)).await;
    assert_eq!(types(&events), vec!["token.revoked"]);
    assert_eq!(events[0]["resource"]["id"], app.token_id.to_string());
}

/// Pages and cursors: `limit` pages with `has_more`, a cursor resumes exactly after its event,
/// `types` filters while the cursor still moves past what it left out, `limit=0` gives the
/// end of the feed; bad parameters are 400 saying which; another account cannot read it.
#[tokio::test]
async fn the_feed_pages_by_cursor_and_filters_by_type() {
    let app = TestApp::spawn().await;
    let admin = Admin::new(&app).await;
    let end = admin.get("/events?limit=0").await;
    assert_eq!(end.status, 200, "{}", end.text);
    assert_eq!(end.body["events"], json!([]));
    let start = end.body["next_cursor"].as_str().unwrap().to_string();
    for i in 0..5 {
        let res = app.post("/Users", json!({"userName": format!("u{i}")})).await;
        assert_eq!(res.status, 201, "{}", res.text);
    }
    let res = app.post("/Groups", json!({"displayName": "g"})).await;
    assert_eq!(res.status, 201, "{}", res.text);

    let page = admin.get(&format!("/events?after={start}&limit=2")).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert_eq!(page.body["events"].as_array().unwrap().len(), 2);
    assert_eq!(page.body["has_more"], true);
    let next = page.body["next_cursor"].as_str().unwrap();
    assert_eq!(next, page.body["events"][1]["id"].as_str().unwrap());
    let rest = admin.get(&format!("/events?after={next}")).await;
    assert_eq!(types(rest.body["events"].as_array().unwrap()), ["user.created", "user.created", "user.created", "group.created"]);
    assert_eq!(rest.body["has_more"], false);

    // Only groups: one event; its cursor is past the users after it too.
    let groups = admin.get(&format!("/events?after={start}&types=group.created")).await;
    assert_eq!(types(groups.body["events"].as_array().unwrap()), ["group.created"]);
    let end = groups.body["next_cursor"].as_str().unwrap();
    let users = admin.get(&format!("/events?after={start}&types=user.created&limit=10")).await;
    assert_eq!(users.body["events"].as_array().unwrap().len(), 5);
    let nothing = admin.get(&format!("/events?after={end}")).await;
    assert_eq!(nothing.body["events"], json!([]), "{}", nothing.text);
    assert_eq!(nothing.body["next_cursor"], end);

    for (query, names) in [
        ("after=abc", "after"),
        ("after=-3", "after"),
        ("limit=1001", "limit"),
        ("types=user.exploded", "user.exploded"),
        ("wait=61", "wait"),
        ("wait=soon", "wait"),
    ] {
        let res = admin.get(&format!("/events?{query}")).await;
        assert_eq!(res.status, 400, "{query}: {}", res.text);
        assert!(res.text.contains(names), "{query}: {}", res.text);
    }

    // Another account's admin token reads its own feed, never this one's.
    let (other, _) = app.other_account().await;
    let other_admin = app
        .app
        .service
        .create_token(other, scimd::service::TokenKind::Admin, None, None, None)
        .await
        .unwrap();
    let url = format!("{}/api/accounts/{}/events", app.origin, app.account);
    let res = app
        .send(reqwest::Method::GET, &url, Some(&other_admin.token), None, &[])
        .await;
    assert_eq!(res.status, 401, "{}", res.text);
    let own = format!("{}/api/accounts/{other}/events?types=user.created", app.origin);
    let res = app
        .send(reqwest::Method::GET, &own, Some(&other_admin.token), None, &[])
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["events"], json!([]));
}

/// `wait` holds a request until an event arrives: a write made while it waits is returned by
/// it. Without a write, it answers an empty page when the wait is over.
#[tokio::test]
async fn a_long_poll_returns_the_change_it_waited_for() {
    let app = TestApp::spawn().await;
    let admin = Admin::new(&app).await;
    let end = admin.get("/events?limit=0").await;
    let start = end.body["next_cursor"].as_str().unwrap().to_string();
    let waiting = {
        let url = admin.url(&format!("/events?after={start}&wait=30"));
        let token = admin.token.clone();
        tokio::spawn(async move {
            let res = crate::harness::http_client()
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            (res.status().as_u16(), res.json::<Value>().await.unwrap())
        })
    };
    let res = app.post("/Users", json!({"userName": "late"})).await;
    assert_eq!(res.status, 201, "{}", res.text);
    let (status, body) = tokio::time::timeout(Duration::from_secs(20), waiting)
        .await
        .expect("the long poll answers once the write is there")
        .unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["events"][0]["type"], "user.created", "{body}");
    assert_eq!(body["events"][0]["data"]["userName"], "late");

    let next = body["next_cursor"].as_str().unwrap();
    let started = std::time::Instant::now();
    let res = admin.get(&format!("/events?after={next}&wait=1s")).await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["events"], json!([]));
    assert!(started.elapsed() >= Duration::from_secs(1), "{:?}", started.elapsed());
}

/// Retention removes old events; a cursor from before them is 410 saying to resynchronise,
/// while reading from the start (no cursor) and from a later cursor still works.
#[tokio::test]
async fn a_cursor_older_than_the_retention_is_gone() {
    let app = TestApp::spawn().await;
    let admin = Admin::new(&app).await;
    let res = app.post("/Users", json!({"userName": "old"})).await;
    assert_eq!(res.status, 201, "{}", res.text);
    let (old, _) = read_all(&admin, "", None).await;
    let first = old[0]["id"].as_str().unwrap().to_string();
    assert!(old.len() >= 2, "{old:?}");

    app.advance(Duration::from_secs(31 * 86_400));
    let removed = app
        .app
        .service
        .prune_events(Duration::from_secs(30 * 86_400))
        .await
        .unwrap();
    assert_eq!(removed as usize, old.len());
    let res = app.post("/Users", json!({"userName": "new"})).await;
    assert_eq!(res.status, 201, "{}", res.text);

    let gone = admin.get(&format!("/events?after={first}")).await;
    assert_eq!(gone.status, 410, "{}", gone.text);
    assert_eq!(gone.body["status"], 410, "{}", gone.text);
    assert!(gone.body["detail"].as_str().unwrap().contains("resynchronise"), "{}", gone.text);
    let (kept, _) = read_all(&admin, "", None).await;
    assert_eq!(types(&kept), ["user.created"]);
    assert_eq!(kept[0]["data"]["userName"], "new");
    let last_old = old.last().unwrap()["id"].as_str().unwrap().to_string();
    let (kept, _) = read_all(&admin, "", Some(last_old)).await;
    assert_eq!(kept.len(), 1);
}

/// Writers committing concurrently (and so, on Postgres, out of the order their events were
/// numbered in by insertion) while a reader follows the feed: the reader gets every event
/// exactly once, in increasing order.
#[tokio::test]
async fn a_reader_following_concurrent_writers_misses_nothing() {
    let app = TestApp::spawn_with(|c| c.rate_limit_per_second = 0).await;
    let admin = Admin::new(&app).await;
    let (_, start) = read_all(&admin, "", None).await;
    const WRITERS: usize = 8;
    const EACH: usize = 30;
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let (url, token) = (app.scim("/Users"), app.token.clone());
        writers.push(tokio::spawn(async move {
            let client = crate::harness::http_client();
            let mut ids = Vec::new();
            for i in 0..EACH {
                let res = client
                    .post(&url)
                    .bearer_auth(&token)
                    .header("content-type", "application/scim+json")
                    .body(json!({"userName": format!("w{w}-{i}")}).to_string())
                    .send()
                    .await
                    .unwrap();
                assert_eq!(res.status().as_u16(), 201);
                let body: Value = res.json().await.unwrap();
                ids.push(body["id"].as_str().unwrap().to_string());
            }
            ids
        }));
    }
    let mut seen: Vec<Value> = Vec::new();
    let mut cursor = start;
    let until = tokio::time::Instant::now() + Duration::from_secs(120);
    while seen.len() < WRITERS * EACH && tokio::time::Instant::now() < until {
        let res = admin
            .get(&format!("/events?after={cursor}&types=user.created&limit=7&wait=1"))
            .await;
        assert_eq!(res.status, 200, "{}", res.text);
        seen.extend(res.body["events"].as_array().unwrap().iter().cloned());
        cursor = res.body["next_cursor"].as_str().unwrap().to_string();
    }
    let mut created = HashSet::new();
    for writer in writers {
        created.extend(writer.await.unwrap());
    }
    let ids: Vec<i64> = seen.iter().map(|e| e["id"].as_str().unwrap().parse().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "not in order: {ids:?}");
    let resources: HashSet<String> = seen
        .iter()
        .map(|e| e["resource"]["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(seen.len(), WRITERS * EACH, "duplicates or missing");
    assert_eq!(resources, created);
}

/// A PATCH adding 2,500 members writes one event per member, in one statement, and the
/// application reads them in three pages, not 2,500 requests.
#[tokio::test]
async fn a_large_membership_change_is_read_in_pages() {
    let app = TestApp::spawn_with(|c| c.rate_limit_per_second = 0).await;
    let admin = Admin::new(&app).await;
    let mut members = Vec::new();
    for chunk in 0..3 {
        let operations: Vec<Value> = (0..1000)
            .filter(|i| chunk * 1000 + i < 2500)
            .map(|i| {
                json!({"method": "POST", "path": "/Users", "bulkId": format!("b{i}"),
                       "data": {"userName": format!("m{chunk}-{i}")}})
            })
            .collect();
        let res = app
            .post("/Bulk", json!({"schemas": [BULK], "Operations": operations}))
            .await;
        assert_eq!(res.status, 200, "{}", res.text);
        for op in res.body["Operations"].as_array().unwrap() {
            let location = op["location"].as_str().unwrap();
            members.push(json!({"value": location.rsplit('/').next().unwrap()}));
        }
    }
    assert_eq!(members.len(), 2500);
    let group = app.post("/Groups", json!({"displayName": "all"})).await;
    let gid = group.body["id"].as_str().unwrap().to_string();
    let (_, start) = read_all(&admin, "", None).await;
    let res = app
        .patch(&format!("/Groups/{gid}"), ops(json!([{"op": "add", "path": "members", "value": members}])))
        .await;
    assert_eq!(res.status, 204, "{}", res.text);
    let mut pages = 0;
    let mut after = start;
    let mut added = HashSet::new();
    loop {
        let res = admin.get(&format!("/events?after={after}&limit=1000")).await;
        assert_eq!(res.status, 200, "{}", res.text);
        pages += 1;
        for e in res.body["events"].as_array().unwrap() {
            assert_eq!(e["type"], "group.member_added");
            assert_eq!(e["resource"]["id"], gid.as_str());
            added.insert(e["member"]["id"].as_str().unwrap().to_string());
        }
        after = res.body["next_cursor"].as_str().unwrap().to_string();
        if res.body["has_more"] != true {
            break;
        }
    }
    assert_eq!(added.len(), 2500);
    assert_eq!(pages, 3);
}

/// An application follows the feed (long-polling) while an Okta-like and an Entra-like client
/// provision at the same time; applying the events it read, it ends with exactly the users
/// (name, active) and group memberships the full lists show.
#[tokio::test]
async fn an_application_following_the_feed_ends_equal_to_the_full_lists() {
    use std::collections::HashMap;
    let app = TestApp::spawn_with(|c| c.rate_limit_per_second = 0).await;
    let admin = Admin::new(&app).await;
    let entra = crate::adminkit::scim_token(&app, scimd::service::Idp::Entra).await;
    let (_, start) = read_all(&admin, "", None).await;
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));

    // The application: applies every event to its own copy.
    let consumer = {
        let (url, token, done) = (admin.url("/events"), admin.token.clone(), done.clone());
        tokio::spawn(async move {
            let client = crate::harness::http_client();
            let mut users: HashMap<String, Value> = HashMap::new();
            let mut groups: HashMap<String, HashSet<String>> = HashMap::new();
            let mut cursor = start;
            loop {
                let finishing = done.load(std::sync::atomic::Ordering::SeqCst);
                let page: Value = client
                    .get(format!("{url}?after={cursor}&limit=50&wait=1"))
                    .bearer_auth(&token)
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                let events = page["events"].as_array().unwrap();
                for e in events {
                    let id = e["resource"]["id"].as_str().unwrap_or_default().to_string();
                    match e["type"].as_str().unwrap() {
                        "user.created" | "user.updated" | "user.deactivated" | "user.reactivated" => {
                            users.insert(id, e["data"].clone());
                        }
                        "user.deleted" => {
                            users.remove(&id);
                        }
                        "group.created" => {
                            groups.entry(id).or_default();
                        }
                        "group.deleted" => {
                            groups.remove(&id);
                        }
                        "group.member_added" => {
                            groups.entry(id).or_default().insert(e["member"]["id"].as_str().unwrap().into());
                        }
                        "group.member_removed" => {
                            groups.entry(id).or_default().remove(e["member"]["id"].as_str().unwrap());
                        }
                        _ => {}
                    }
                }
                cursor = page["next_cursor"].as_str().unwrap().to_string();
                if finishing && events.is_empty() {
                    return (users, groups);
                }
            }
        })
    };

    let ops = |ops: Value| json!({"schemas": [PATCH], "Operations": ops});
    let send = |token: String, method: reqwest::Method, path: String, body: Option<Value>| {
        let app = &app;
        async move {
            let res = app.send(method, &app.scim(&path), Some(&token), body.as_ref(), &[]).await;
            assert!(res.status < 300, "{path}: {}", res.text);
            res
        }
    };
    let okta = async {
        let mut ids = Vec::new();
        for i in 0..20 {
            let res = send(app.token.clone(), reqwest::Method::POST, "/Users".into(),
                Some(json!({"userName": format!("okta{i}@example.com"), "externalId": format!("00u{i}")}))).await;
            ids.push(res.body["id"].as_str().unwrap().to_string());
        }
        for id in &ids[..5] {
            send(app.token.clone(), reqwest::Method::PATCH, format!("/Users/{id}"),
                Some(ops(json!([{"op": "replace", "value": {"active": false}}])))).await;
        }
        let members: Vec<Value> = ids[..10].iter().map(|id| json!({"value": id})).collect();
        let group = send(app.token.clone(), reqwest::Method::POST, "/Groups".into(),
            Some(json!({"displayName": "Engineering", "members": members}))).await;
        let gid = group.body["id"].as_str().unwrap().to_string();
        send(app.token.clone(), reqwest::Method::PATCH, format!("/Groups/{gid}"), Some(ops(json!([
            {"op": "remove", "path": format!("members[value eq \"{}\"]", ids[0])},
            {"op": "add", "path": "members", "value": [{"value": ids[15]}, {"value": ids[16]}]},
            {"op": "replace", "path": "displayName", "value": "Eng"}
        ])))).await;
    };
    let entra_writes = async {
        let mut ids = Vec::new();
        for i in 0..15 {
            let res = send(entra.clone(), reqwest::Method::POST, "/Users".into(),
                Some(json!({"userName": format!("entra{i}@example.com"), "externalId": format!("e{i}")}))).await;
            ids.push(res.body["id"].as_str().unwrap().to_string());
        }
        let members: Vec<Value> = ids[..6].iter().map(|id| json!({"value": id})).collect();
        send(entra.clone(), reqwest::Method::POST, "/Groups".into(),
            Some(json!({"displayName": "Sales", "members": members}))).await;
        for id in &ids[..4] {
            send(entra.clone(), reqwest::Method::PATCH, format!("/Users/{id}"), Some(ops(json!([
                {"op": "Replace", "path": "displayName", "value": "Renamed"},
                {"op": "Replace", "path": "active", "value": "False"}
            ])))).await;
        }
        for id in &ids[10..] {
            send(entra.clone(), reqwest::Method::DELETE, format!("/Users/{id}"), None).await;
        }
        for id in &ids[..2] {
            send(entra.clone(), reqwest::Method::DELETE, format!("/Users/{id}"), None).await;
        }
    };
    tokio::join!(okta, entra_writes);
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let (users, groups) = tokio::time::timeout(Duration::from_secs(60), consumer)
        .await
        .expect("the application catches up")
        .unwrap();

    // The full lists.
    let list = admin.get("/users?count=500").await;
    assert_eq!(list.status, 200, "{}", list.text);
    let listed: HashMap<String, (String, bool)> = list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| (u["id"].as_str().unwrap().to_string(), (u["user_name"].as_str().unwrap().to_string(), u["active"].as_bool().unwrap())))
        .collect();
    let followed: HashMap<String, (String, bool)> = users
        .iter()
        .map(|(id, d)| (id.clone(), (d["userName"].as_str().unwrap().to_string(), d["active"].as_bool().unwrap_or(true))))
        .collect();
    assert_eq!(followed, listed);
    assert_eq!(listed.len(), 20 + 15 - 7);
    let glist = admin.get("/groups?count=500").await;
    let listed_groups: Vec<String> = glist.body["items"].as_array().unwrap().iter().map(|g| g["id"].as_str().unwrap().to_string()).collect();
    assert_eq!(listed_groups.len(), groups.len());
    for gid in listed_groups {
        let members = admin.get(&format!("/groups/{gid}/members")).await;
        let members: HashSet<String> = members.body["items"].as_array().unwrap().iter().map(|m| m["user_id"].as_str().unwrap().to_string()).collect();
        assert_eq!(groups[&gid], members, "group {gid}");
    }
}
