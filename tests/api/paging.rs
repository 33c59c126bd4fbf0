//! Cursor pagination (RFC 9865) beside index pagination.

use std::collections::HashSet;

use serde_json::{Value, json};

use crate::harness::TestApp;
use crate::users::urlencode;

fn ids(body: &Value) -> Vec<String> {
    body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}

/// Follows `nextCursor` from an empty cursor to the end; returns every id in page order.
async fn walk(app: &TestApp, query: &str, count: usize) -> Vec<String> {
    let mut all = Vec::new();
    let mut cursor = String::new();
    for _ in 0..100 {
        let res = app
            .get(&format!(
                "/Users?{query}&count={count}&cursor={}",
                urlencode(&cursor)
            ))
            .await;
        assert_eq!(res.status, 200, "{}", res.text);
        assert!(res.body.get("startIndex").is_none(), "{}", res.text);
        let page = ids(&res.body);
        assert!(page.len() <= count);
        all.extend(page);
        match res.body["nextCursor"].as_str() {
            Some(next) => cursor = next.to_string(),
            None => return all,
        }
    }
    panic!("cursor paging did not end");
}

#[tokio::test]
async fn cursor_pages_cover_every_user_once_in_every_order() {
    let app = TestApp::spawn().await;
    let mut created = Vec::new();
    for i in 0..7 {
        // Two users share each displayName, so the id tie-break decides within a key.
        let res = app
            .post(
                "/Users",
                json!({"userName": format!("u{i}@example.com"), "displayName": format!("name {}", i / 2),
                       "externalId": if i == 3 { Value::Null } else { json!(format!("ext-{}", 6 - i)) }}),
            )
            .await;
        assert_eq!(res.status, 201, "{}", res.text);
        created.push(res.body["id"].as_str().unwrap().to_string());
    }
    let default_order = walk(&app, "", 3).await;
    assert_eq!(default_order, created, "default order is creation order");

    for query in [
        "sortBy=displayName",
        "sortBy=displayName&sortOrder=descending",
        "sortBy=externalId",
        "sortBy=externalId&sortOrder=descending",
        "sortBy=meta.created&sortOrder=descending",
    ] {
        let index = app.get(&format!("/Users?{query}&count=100")).await;
        let expected = ids(&index.body);
        for count in [1, 2, 3] {
            let cursor_order = walk(&app, query, count).await;
            assert_eq!(cursor_order, expected, "{query} count={count}");
        }
    }

    let filtered = walk(
        &app,
        &format!("filter={}", urlencode("displayName sw \"name 1\"")),
        1,
    )
    .await;
    assert_eq!(filtered.iter().collect::<HashSet<_>>().len(), 2);
}

#[tokio::test]
async fn a_cursor_survives_inserts_and_deletes_between_pages() {
    let app = TestApp::spawn().await;
    let mut ids_made = Vec::new();
    for i in 0..4 {
        ids_made.push(app.user(&format!("p{i}@example.com")).await);
    }
    let first = app.get("/Users?count=2&cursor=").await;
    assert_eq!(ids(&first.body), ids_made[..2]);
    assert_eq!(first.body["totalResults"], 4);
    let next = first.body["nextCursor"].as_str().unwrap().to_string();
    // Index paging would now skip p2: the first page lost a row.
    assert_eq!(app.delete(&format!("/Users/{}", ids_made[0])).await.status, 204);
    let late = app.user("p9@example.com").await;
    let second = app.get(&format!("/Users?count=2&cursor={next}")).await;
    assert_eq!(ids(&second.body), ids_made[2..4], "{}", second.text);
    let third = app
        .get(&format!(
            "/Users?count=2&cursor={}",
            second.body["nextCursor"].as_str().unwrap()
        ))
        .await;
    assert_eq!(ids(&third.body), vec![late]);
    assert!(third.body.get("nextCursor").is_none(), "{}", third.text);
}

#[tokio::test]
async fn bad_cursors_and_counts_get_precise_errors() {
    let app = TestApp::spawn().await;
    app.user("a@example.com").await;
    app.user("b@example.com").await;
    app.get("/Users?cursor=not-a-cursor")
        .await
        .assert_error(400, Some("invalidCursor"));
    let first = app.get("/Users?count=1&cursor=&sortBy=userName").await;
    let next = first.body["nextCursor"].as_str().unwrap().to_string();
    // The same cursor with another order belongs to another query.
    app.get(&format!("/Users?count=1&cursor={next}"))
        .await
        .assert_error(400, Some("invalidCursor"));
    app.get(&format!("/Groups?count=1&cursor={next}&sortBy=userName"))
        .await
        .assert_error(400, None);
    app.get("/Users?count=0&cursor=")
        .await
        .assert_error(400, Some("invalidCount"));
    app.get("/Users?startIndex=2&cursor=")
        .await
        .assert_error(400, Some("invalidValue"));
}

#[tokio::test]
async fn an_expired_cursor_is_refused() {
    let app = TestApp::spawn_with(|c| c.cursor_timeout_seconds = 1).await;
    app.user("a@example.com").await;
    app.user("b@example.com").await;
    let first = app.get("/Users?count=1&cursor=").await;
    let next = first.body["nextCursor"].as_str().unwrap().to_string();
    // Usable for its whole timeout…
    app.advance(std::time::Duration::from_secs(1));
    let page = app.get(&format!("/Users?count=1&cursor={next}")).await;
    assert_eq!(page.status, 200, "{}", page.text);
    // …and expired after it.
    app.advance(std::time::Duration::from_secs(1));
    app.get(&format!("/Users?count=1&cursor={next}"))
        .await
        .assert_error(400, Some("expiredCursor"));
}

#[tokio::test]
async fn pagination_is_advertised() {
    let app = TestApp::spawn().await;
    let spc = app.get("/ServiceProviderConfig").await.body;
    assert_eq!(spc["pagination"]["cursor"], true);
    assert_eq!(spc["pagination"]["index"], true);
    assert_eq!(spc["pagination"]["defaultPaginationMethod"], "index");
    assert_eq!(spc["pagination"]["maxPageSize"], 1000);
    assert_eq!(spc["pagination"]["cursorTimeout"], 3600);
}

/// The sort key inside a cursor is bound into SQL as the column's type; a cursor whose key a
/// client rewrote (or made up: the query fingerprint is computable) is 400, never a database
/// error.
#[tokio::test]
async fn a_tampered_cursor_is_invalid_cursor_not_a_server_error() {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let app = TestApp::spawn().await;
    app.user("a@example.com").await;
    app.user("b@example.com").await;
    for sort in ["meta.created", "id", "active", "displayName"] {
        let first = app
            .get(&format!("/Users?count=1&cursor=&sortBy={sort}"))
            .await;
        let next = first.body["nextCursor"].as_str().unwrap().to_string();
        let (payload, tag) = next.split_once('.').expect("payload.tag");
        let mut cursor: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
        for bad_key in ["x", "2026-13-45", "\u{0}"] {
            cursor["k"] = json!(bad_key);
            let forged = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&cursor).unwrap());
            for raw in [format!("{forged}.{tag}"), forged.clone()] {
                app.get(&format!(
                    "/Users?count=1&sortBy={sort}&cursor={}",
                    urlencode(&raw)
                ))
                .await
                .assert_error(400, Some("invalidCursor"));
            }
        }
        // The genuine one still works.
        let res = app
            .get(&format!("/Users?count=1&sortBy={sort}&cursor={next}"))
            .await;
        assert_eq!(res.status, 200, "{}", res.text);
    }
}

/// `totalResults` is exact whichever page is asked for: the store counts only when the page
/// cannot tell the total itself (a full page, or one past the end), and both ways must agree.
#[tokio::test]
async fn total_results_is_exact_on_every_page_whether_counted_or_inferred() {
    let app = TestApp::spawn().await;
    for i in 0..5 {
        let res = app
            .post("/Users", json!({"userName": format!("t{i}@example.com")}))
            .await;
        assert_eq!(res.status, 201, "{}", res.text);
    }
    // (query, items on the page, totalResults)
    let cases = [
        ("startIndex=1&count=10", 5, 5),  // the whole list on one short page
        ("startIndex=1&count=5", 5, 5),   // a full page: counted
        ("startIndex=1&count=2", 2, 5),   // a full first page
        ("startIndex=4&count=2", 2, 5),   // a full middle page
        ("startIndex=5&count=2", 1, 5),   // the short last page
        ("startIndex=6&count=2", 0, 5),   // just past the end: counted
        ("startIndex=50&count=2", 0, 5),  // far past the end
        ("startIndex=1&count=0", 0, 5),   // count=0 asks for the total only
        ("filter=userName%20eq%20%22t3@example.com%22", 1, 1),
        ("filter=userName%20eq%20%22nobody@example.com%22", 0, 0),
        ("filter=userName%20sw%20%22t%22&startIndex=3&count=10", 3, 5),
    ];
    for (query, items, total) in cases {
        let res = app.get(&format!("/Users?{query}")).await;
        assert_eq!(res.status, 200, "{query}: {}", res.text);
        assert_eq!(res.body["totalResults"], json!(total), "{query}: {}", res.text);
        assert_eq!(listed(&res.body), items, "{query}: {}", res.text);
    }
    // Cursor paging: the first page that is also the last, and a first page with more after.
    let res = app.get("/Users?count=10&cursor=").await;
    assert_eq!(res.body["totalResults"], json!(5), "{}", res.text);
    let res = app.get("/Users?count=2&cursor=").await;
    assert_eq!(res.body["totalResults"], json!(5), "{}", res.text);
    let next = res.body["nextCursor"].as_str().unwrap().to_string();
    let res = app
        .get(&format!("/Users?count=10&cursor={}", urlencode(&next)))
        .await;
    assert_eq!(res.body["totalResults"], json!(5), "{}", res.text);
    assert_eq!(listed(&res.body), 3, "{}", res.text);
}

fn listed(body: &Value) -> usize {
    body["Resources"].as_array().map_or(0, Vec::len)
}

/// Walking a list by `startIndex` (what Okta's import does) resumes each page right after the
/// last row of the page before, read as a range instead of an OFFSET: every user is seen exactly
/// once even when users before the position are deleted meanwhile — where an OFFSET skips the
/// rows that moved up. Another token's request for the same page is an OFFSET page as before,
/// and `totalResults` is the list's size now either way.
#[tokio::test]
async fn paging_by_start_index_resumes_after_the_page_before() {
    let app = TestApp::spawn().await;
    let mut users = Vec::new();
    for i in 0..9 {
        users.push(app.user(&format!("walk{i}@example.com")).await);
    }
    let page = |res: &crate::harness::Resp| {
        assert_eq!(res.status, 200, "{}", res.text);
        ids(&res.body)
    };
    let first = app.get("/Users?startIndex=1&count=3").await;
    assert_eq!(page(&first), users[0..3]);
    assert_eq!(app.delete(&format!("/Users/{}", users[1])).await.status, 204);

    let second = app.get("/Users?startIndex=4&count=3").await;
    assert_eq!(page(&second), users[3..6], "resumed after the first page's last row");
    assert_eq!(second.body["totalResults"], json!(8));
    assert_eq!(second.body["startIndex"], json!(4));

    // Another client asking for the same page gets it by position: users[3] moved up to 3.
    let okta = app.idp(scimd::service::Idp::Okta, Default::default()).await;
    let by_offset = okta.get("/Users?startIndex=4&count=3").await;
    assert_eq!(page(&by_offset), users[4..7]);
    assert_eq!(by_offset.body["totalResults"], json!(8));

    let third = app.get("/Users?startIndex=7&count=3").await;
    assert_eq!(page(&third), users[6..9], "resumed after the second page's last row");
    assert_eq!(third.body["totalResults"], json!(8));
    // The short last page ends the walk: nothing is remembered past it, and a page asked for
    // again is read by position.
    let again = app.get("/Users?startIndex=4&count=3").await;
    assert_eq!(page(&again), users[4..7]);

    // With a filter and an order, the same: the resumed page continues the sorted list.
    let filter = "filter=userName%20sw%20%22walk%22&sortBy=userName&sortOrder=descending";
    let first = app.get(&format!("/Users?{filter}&startIndex=1&count=4")).await;
    let expected: Vec<String> = [8, 7, 6, 5].iter().map(|&i| users[i].clone()).collect();
    assert_eq!(page(&first), expected);
    assert_eq!(app.delete(&format!("/Users/{}", users[8])).await.status, 204);
    let second = app.get(&format!("/Users?{filter}&startIndex=5&count=4")).await;
    let expected: Vec<String> = [4, 3, 2, 0].iter().map(|&i| users[i].clone()).collect();
    assert_eq!(page(&second), expected);
    assert_eq!(second.body["totalResults"], json!(7));
}

/// An unfiltered list's `totalResults` is the account's kept count of users and groups
/// (migration 0008), not a count(*): it must follow every way resources come and go — POST,
/// DELETE, /Bulk, concurrent writers — and never include another account's.
#[tokio::test]
async fn the_kept_count_follows_every_create_and_delete() {
    let app = TestApp::spawn().await;
    let (other, other_token) = app.other_account().await;
    let other_users = format!("{}/scim/account/{other}/Users", app.origin);
    let total = |path: &'static str| {
        let app = &app;
        async move {
            let res = app.get(path).await;
            assert_eq!(res.status, 200, "{}", res.text);
            res.body["totalResults"].as_i64().unwrap()
        }
    };
    // Concurrent creates, then concurrent deletes, as an IdP's parallel workers send them.
    let client = crate::harness::http_client();
    let concurrently = |requests: Vec<reqwest::RequestBuilder>| async move {
        let mut tasks = tokio::task::JoinSet::new();
        for request in requests {
            tasks.spawn(async move {
                let res = request.send().await.unwrap();
                let status = res.status().as_u16();
                (status, res.json::<Value>().await.unwrap_or(Value::Null))
            });
        }
        tasks.join_all().await
    };
    let created = concurrently(
        (0..24)
            .map(|i| {
                client
                    .post(app.scim("/Users"))
                    .bearer_auth(&app.token)
                    .json(&json!({"userName": format!("c{i}@example.com")}))
            })
            .collect(),
    )
    .await;
    let ids: Vec<String> = created
        .iter()
        .map(|(status, body)| {
            assert_eq!(*status, 201, "{body}");
            body["id"].as_str().unwrap().to_string()
        })
        .collect();
    let deleted = concurrently(
        ids[..5]
            .iter()
            .map(|id| {
                client
                    .delete(app.scim(&format!("/Users/{id}")))
                    .bearer_auth(&app.token)
            })
            .collect(),
    )
    .await;
    assert!(deleted.iter().all(|(status, _)| *status == 204), "{deleted:?}");
    let bulk = app
        .post(
            "/Bulk",
            json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
                "Operations": [
                    {"method": "POST", "path": "/Users", "bulkId": "a", "data": {"userName": "b1@example.com"}},
                    {"method": "POST", "path": "/Users", "bulkId": "b", "data": {"userName": "b2@example.com"}},
                    {"method": "DELETE", "path": format!("/Users/{}", ids[5])},
                    {"method": "POST", "path": "/Groups", "bulkId": "g", "data": {"displayName": "Bulk group"}}
                ]
            }),
        )
        .await;
    assert_eq!(bulk.status, 200, "{}", bulk.text);
    // A failed create is not counted.
    assert_eq!(
        app.post("/Users", json!({"userName": "b1@example.com"})).await.status,
        409
    );
    let group = app.group("Counted", &[&ids[6]]).await;
    app.group("Also counted", &[]).await;
    assert_eq!(app.delete(&format!("/Groups/{group}")).await.status, 204);
    let elsewhere = client
        .post(&other_users)
        .bearer_auth(&other_token)
        .json(&json!({"userName": "elsewhere@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(elsewhere.status(), 201);

    let users = 24 - 5 + 2 - 1;
    // count=0 reads the count alone; a full page carries it in the page's own statement.
    assert_eq!(total("/Users?count=0").await, users);
    assert_eq!(total("/Users?count=1").await, users);
    assert_eq!(total("/Users?startIndex=1000&count=10").await, users);
    assert_eq!(total("/Groups?count=0").await, 2);
    assert_eq!(total("/Groups?count=1&excludedAttributes=members").await, 2);
    // And it is what is there: walking the list finds exactly that many.
    let all = app.get("/Users?count=1000").await;
    assert_eq!(listed(&all.body) as i64, users);
    let res: Value = client
        .get(format!("{other_users}?count=0"))
        .bearer_auth(&other_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(res["totalResults"], json!(1), "{res}");
}
