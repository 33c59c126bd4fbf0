//! `POST /.search` at the root and per resource type (RFC 7644 §3.4.3).

use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::{Resp, TestApp};
use crate::users::urlencode;

const SEARCH: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";

fn ids(body: &Value) -> Vec<String> {
    body["Resources"]
        .as_array()
        .unwrap_or_else(|| panic!("no Resources in {body}"))
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}

fn types(body: &Value) -> Vec<String> {
    body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["meta"]["resourceType"].as_str().unwrap().to_string())
        .collect()
}

async fn search(app: &TestApp, at: &str, body: Value) -> Resp {
    app.post(&format!("{at}/.search"), body).await
}

/// Three users (displayName "Person i") and two groups ("Team i"), in creation order.
async fn fixture(app: &TestApp) -> (Vec<String>, Vec<String>) {
    let mut users = Vec::new();
    for i in 0..3 {
        let res = app
            .post(
                "/Users",
                json!({"userName": format!("u{i}@example.com"), "displayName": format!("Person {i}")}),
            )
            .await;
        assert_eq!(res.status, 201, "{}", res.text);
        users.push(res.body["id"].as_str().unwrap().to_string());
    }
    let groups = vec![
        app.group("Team 0", &[&users[0], &users[1]]).await,
        app.group("Team 1", &[]).await,
    ];
    (users, groups)
}

#[tokio::test]
async fn typed_search_answers_exactly_what_get_answers() {
    let app = TestApp::spawn().await;
    let (users, _) = fixture(&app).await;
    let filter = "userName sw \"u\" and not (displayName eq \"Person 1\")";
    let get = app
        .get(&format!(
            "/Users?filter={}&sortBy=displayName&sortOrder=descending&startIndex=1&count=5&attributes=userName,displayName",
            urlencode(filter)
        ))
        .await;
    assert_eq!(get.status, 200, "{}", get.text);
    let post = search(
        &app,
        "/Users",
        json!({"schemas": [SEARCH], "filter": filter, "sortBy": "displayName", "sortOrder": "descending",
               "startIndex": 1, "count": 5, "attributes": ["userName", "displayName"]}),
    )
    .await;
    assert_eq!(post.status, 200, "{}", post.text);
    assert_eq!(post.body, get.body);
    assert_eq!(ids(&post.body), vec![users[2].clone(), users[0].clone()]);
    assert!(post.body["Resources"][0].get("emails").is_none());
    assert_eq!(
        post.header("content-type"),
        Some("application/scim+json; charset=utf-8")
    );

    let get = app.get("/Groups?excludedAttributes=members").await;
    let post = search(
        &app,
        "/Groups",
        json!({"schemas": [SEARCH], "excludedAttributes": "members"}),
    )
    .await;
    assert_eq!(post.status, 200, "{}", post.text);
    assert_eq!(post.body, get.body);
    assert_eq!(post.body["totalResults"], 2);
}

#[tokio::test]
async fn root_search_lists_users_then_groups_and_pages_across_them() {
    let app = TestApp::spawn().await;
    let (users, groups) = fixture(&app).await;
    let everything: Vec<String> = users.iter().chain(&groups).cloned().collect();

    let res = search(&app, "", json!({"schemas": [SEARCH]})).await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["totalResults"], 5);
    assert_eq!(res.body["startIndex"], 1);
    assert_eq!(ids(&res.body), everything);
    assert_eq!(types(&res.body), ["User", "User", "User", "Group", "Group"]);
    // Each resource is rendered as its own type: groups carry members, users their groups.
    assert_eq!(res.body["Resources"][3]["members"].as_array().unwrap().len(), 2);
    assert_eq!(res.body["Resources"][0]["groups"][0]["value"], groups[0].as_str());

    // Index paging counts through Users, then Groups.
    for (start, count, want) in [
        (1, 2, &everything[0..2]),
        (3, 2, &everything[2..4]),
        (4, 10, &everything[3..5]),
        (5, 1, &everything[4..5]),
        (6, 3, &everything[5..5]),
    ] {
        let res = search(&app, "", json!({"startIndex": start, "count": count})).await;
        assert_eq!(res.status, 200, "{}", res.text);
        assert_eq!(ids(&res.body), want, "startIndex {start} count {count}");
        assert_eq!(res.body["totalResults"], 5);
        assert_eq!(res.body["itemsPerPage"], want.len());
        assert_eq!(res.body["startIndex"], start);
    }
    let res = search(&app, "", json!({"count": 0})).await;
    assert_eq!(res.body["totalResults"], 5);
    assert!(ids(&res.body).is_empty());
}

#[tokio::test]
async fn root_filters_name_attributes_of_one_type_or_both() {
    let app = TestApp::spawn().await;
    let (users, groups) = fixture(&app).await;
    let by_member = format!("members eq \"{}\"", users[0]);
    let cases: Vec<(&str, Vec<&String>)> = vec![
        // Only users have userName; only groups have members.
        ("userName sw \"u\"", users.iter().collect()),
        (&by_member, vec![&groups[0]]),
        // displayName is in both.
        (
            "displayName eq \"Person 1\" or displayName eq \"Team 1\"",
            vec![&users[1], &groups[1]],
        ),
        // An attribute a type lacks is unassigned there: `ne` holds for every group.
        (
            "userName ne \"u0@example.com\"",
            vec![&users[1], &users[2], &groups[0], &groups[1]],
        ),
        ("meta.resourceType eq \"Group\"", groups.iter().collect()),
        (
            "meta.resourceType eq \"User\" and displayName ew \"2\"",
            vec![&users[2]],
        ),
        ("userName sw \"nobody\"", vec![]),
    ];
    for (filter, want) in cases {
        let res = search(&app, "", json!({"schemas": [SEARCH], "filter": filter})).await;
        assert_eq!(res.status, 200, "{filter}: {}", res.text);
        let want: Vec<String> = want.into_iter().cloned().collect();
        assert_eq!(ids(&res.body), want, "{filter}");
        assert_eq!(res.body["totalResults"], want.len(), "{filter}");
    }

    // sortBy orders each type's part; groups have no userName and keep their order.
    let res = search(&app, "", json!({"sortBy": "userName", "sortOrder": "descending"})).await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(
        ids(&res.body),
        vec![
            users[2].clone(),
            users[1].clone(),
            users[0].clone(),
            groups[0].clone(),
            groups[1].clone()
        ]
    );

    let res = search(&app, "", json!({"filter": "nosuch eq \"x\""})).await;
    res.assert_error(400, Some("invalidFilter"));
    assert!(
        res.body["detail"].as_str().unwrap().contains("\"nosuch\""),
        "{}",
        res.text
    );
    search(&app, "", json!({"filter": "userName eq"}))
        .await
        .assert_error(400, Some("invalidFilter"));
    // An attribute the store cannot filter is refused as on the typed endpoint.
    search(&app, "", json!({"filter": "meta.location pr"}))
        .await
        .assert_error(400, Some("invalidFilter"));
    let res = search(&app, "", json!({"sortBy": "nosuch"})).await;
    res.assert_error(400, Some("invalidValue"));
}

#[tokio::test]
async fn root_cursor_pages_walk_users_then_groups_once() {
    let app = TestApp::spawn().await;
    let (users, groups) = fixture(&app).await;
    let everything: Vec<String> = users.iter().chain(&groups).cloned().collect();
    for count in [1, 2, 3, 5, 7] {
        let mut seen = Vec::new();
        let mut cursor = String::new();
        for _ in 0..20 {
            let res = search(&app, "", json!({"cursor": cursor, "count": count})).await;
            assert_eq!(res.status, 200, "{}", res.text);
            assert_eq!(res.body["totalResults"], 5);
            assert!(res.body.get("startIndex").is_none());
            let page = ids(&res.body);
            assert!(page.len() <= count);
            seen.extend(page);
            match res.body["nextCursor"].as_str() {
                Some(next) => cursor = next.to_string(),
                None => break,
            }
        }
        assert_eq!(seen, everything, "count {count}");
    }
    // Groups only: the walk never visits users.
    let res = search(
        &app,
        "",
        json!({"filter": "meta.resourceType eq \"Group\"", "cursor": "", "count": 1}),
    )
    .await;
    assert_eq!(ids(&res.body), vec![groups[0].clone()]);
    let next = res.body["nextCursor"].as_str().unwrap().to_string();
    let res = search(
        &app,
        "",
        json!({"filter": "meta.resourceType eq \"Group\"", "cursor": next, "count": 1}),
    )
    .await;
    assert_eq!(ids(&res.body), vec![groups[1].clone()]);
    assert!(res.body.get("nextCursor").is_none(), "{}", res.text);

    // A cursor of another query, a forged one, count 0 and startIndex beside a cursor.
    let first = search(&app, "", json!({"cursor": "", "count": 1})).await;
    let next = first.body["nextCursor"].as_str().unwrap().to_string();
    search(
        &app,
        "",
        json!({"cursor": next, "count": 1, "filter": "displayName pr"}),
    )
    .await
    .assert_error(400, Some("invalidCursor"));
    search(&app, "", json!({"cursor": "garbage", "count": 1}))
        .await
        .assert_error(400, Some("invalidCursor"));
    search(&app, "", json!({"cursor": "", "count": 0}))
        .await
        .assert_error(400, Some("invalidCount"));
    search(&app, "", json!({"cursor": "", "startIndex": 1}))
        .await
        .assert_error(400, Some("invalidValue"));
    // Typed search pages by cursor like GET.
    let res = search(&app, "/Users", json!({"cursor": "", "count": 2})).await;
    assert_eq!(ids(&res.body), users[..2]);
    assert!(res.body["nextCursor"].is_string());
}

#[tokio::test]
async fn bad_search_bodies_get_precise_400s() {
    let app = TestApp::spawn().await;
    for at in ["", "/Users", "/Groups"] {
        let res = search(
            &app,
            at,
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"]}),
        )
        .await;
        res.assert_error(400, Some("invalidSyntax"));
        assert!(
            res.body["detail"].as_str().unwrap().contains(SEARCH),
            "{}",
            res.text
        );
        search(&app, at, json!(["filter"]))
            .await
            .assert_error(400, Some("invalidSyntax"));
        search(&app, at, json!({"fliter": "userName eq \"a\""}))
            .await
            .assert_error(400, Some("invalidSyntax"));
        search(&app, at, json!({"count": "many"}))
            .await
            .assert_error(400, Some("invalidValue"));
        search(&app, at, json!({"attributes": [true]}))
            .await
            .assert_error(400, Some("invalidValue"));
        search(&app, at, json!({"sortOrder": "sideways"}))
            .await
            .assert_error(400, Some("invalidValue"));
        let auth = format!("Bearer {}", app.token);
        let url = app.scim(&format!("{at}/.search"));
        app.raw(
            Method::POST,
            &url,
            &[
                ("Authorization", &auth),
                ("Content-Type", "application/scim+json"),
            ],
            Some(b"{\"filter\": ".to_vec()),
        )
        .await
        .assert_error(400, Some("invalidSyntax"));
        app.raw(Method::GET, &url, &[("Authorization", &auth)], None)
            .await
            .assert_error(405, None);
        app.raw(Method::POST, &url, &[], Some(b"{}".to_vec()))
            .await
            .assert_error(401, None);
    }
}

/// A search at the root whose filter no type can match queried neither type, and so never
/// looked at `sortOrder`: it answered 200 where `GET /Users` and `/Users/.search` answer 400.
/// The request is now checked whole before anything runs.
#[tokio::test]
async fn a_root_search_that_matches_no_type_still_checks_its_parameters() {
    let app = TestApp::spawn().await;
    let nothing = "meta.resourceType eq \"Nothing\"";
    let res = search(&app, "", json!({"filter": nothing})).await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["totalResults"], 0);
    for at in ["", "/Users"] {
        search(&app, at, json!({"filter": nothing, "sortOrder": "sideways"}))
            .await
            .assert_error(400, Some("invalidValue"));
    }
    app.get(&format!(
        "/Users?filter={}&sortOrder=sideways",
        urlencode(nothing)
    ))
    .await
    .assert_error(400, Some("invalidValue"));
}

#[tokio::test]
async fn search_sees_only_the_callers_account() {
    let app = TestApp::spawn().await;
    fixture(&app).await;
    let (other, token) = app.other_account().await;
    for at in ["", "/Users", "/Groups"] {
        let url = format!("{}/scim/account/{other}{at}/.search", app.origin);
        let res = app
            .send(Method::POST, &url, Some(&token), Some(&json!({})), &[])
            .await;
        assert_eq!(res.status, 200, "{}", res.text);
        assert_eq!(res.body["totalResults"], 0, "{at}: {}", res.text);
        // This account's token on the other account's URL: 401, never its data.
        let res = app
            .send(Method::POST, &url, Some(&app.token), Some(&json!({})), &[])
            .await;
        res.assert_error(401, None);
    }
}

/// Excluding `members` must skip reading them, not just hide them: with the membership table
/// gone, a search that reads members fails, one that excludes them answers. (Dropping the
/// table works on both stores: SQLite has no table locks to make a reader wait, and any
/// statement naming a dropped table fails on either.)
#[tokio::test]
async fn excluding_members_never_reads_the_membership_table() {
    let app = TestApp::spawn().await;
    fixture(&app).await;
    let mut conn = app.sql().await;
    sqlx::query("DROP TABLE group_members")
        .execute(&mut conn)
        .await
        .unwrap();
    let cases = [
        (
            "",
            json!({"excludedAttributes": ["members"], "filter": "meta.resourceType eq \"Group\""}),
        ),
        (
            "",
            json!({"attributes": ["displayName"], "filter": "displayName sw \"Team\""}),
        ),
        ("/Groups", json!({"excludedAttributes": "members", "cursor": ""})),
        ("/Groups", json!({"attributes": ["displayName", "externalId"]})),
    ];
    for (at, body) in cases {
        let res = search(&app, at, body.clone()).await;
        assert_eq!(
            res.status, 200,
            "{at}/.search {body} read the membership table: {}",
            res.text
        );
        let resources = res.body["Resources"].as_array().unwrap();
        assert!(!resources.is_empty(), "{}", res.text);
        assert!(resources.iter().all(|r| r.get("members").is_none()));
    }
    // The control: a search that shows members does read the table, and fails without it.
    let res = search(&app, "/Groups", json!({"attributes": ["members"]})).await;
    res.assert_error(500, None);
}
