//! Filters on attributes without a column of their own (answered from `user_values`), on a
//! user's groups, and the rebuild of that index for users written by an older derivation.

use serde_json::json;

use crate::harness::TestApp;
use crate::users::urlencode;

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

async fn hits(app: &TestApp, filter: &str) -> Vec<String> {
    let res = app.get(&format!("/Users?filter={}", urlencode(filter))).await;
    assert_eq!(res.status, 200, "{filter}: {}", res.text);
    let mut ids: Vec<String> = res.body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

async fn babs(app: &TestApp) -> String {
    let res = app
        .post(
            "/Users",
            json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
                "userName": "bjensen@example.com",
                "name": {"givenName": "Barbara", "familyName": "Jensen"},
                "title": "Tour Guide",
                "nickName": "Babs",
                "emails": [
                    {"value": "bjensen@example.com", "type": "work", "primary": true, "display": "Work Mail"},
                    {"value": "babs@jensen.org", "type": "home"}
                ],
                "addresses": [
                    {"type": "work", "locality": "Hollywood", "region": "CA", "country": "USA"},
                    {"type": "home", "locality": "Paris", "country": "FR"}
                ],
                "photos": [{"value": "https://photos.example.com/Babs.jpg", "type": "photo"}],
                ENTERPRISE: {"employeeNumber": "701984", "department": "Tour Operations", "manager": "26118915-6090-4610-87e4-49d8ca9f808d"}
            }),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    res.body["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn sub_attributes_extensions_and_complex_elements_are_filterable() {
    let app = TestApp::spawn().await;
    // The test rewrites userName or drops the primary email over SCIM, which R2 refuses
    // unless the account allows it.
    crate::adminkit::allow_identity_changes(&app).await;
    let id = babs(&app).await;
    let other = app
        .post("/Users", json!({"userName": "other@example.com"}))
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let just = vec![id.clone()];

    for (filter, expected) in [
        (r#"name.givenName eq "barbara""#, &just),
        (r#"name.familyName sw "JEN""#, &just),
        (r#"title co "guide""#, &just),
        (r#"nickName eq "babs""#, &just),
        (
            "urn:ietf:params:scim:schemas:core:2.0:User:name.familyName eq \"Jensen\"",
            &just,
        ),
        (&*format!("{ENTERPRISE}:employeeNumber eq \"701984\""), &just),
        (&*format!("{ENTERPRISE}:department ew \"operations\""), &just),
        // The bare-string manager Entra sends is stored as {value}; both spellings filter.
        (
            &*format!("{ENTERPRISE}:manager.value eq \"26118915-6090-4610-87e4-49d8ca9f808d\""),
            &just,
        ),
        (
            &*format!("{ENTERPRISE}:manager eq \"26118915-6090-4610-87e4-49d8ca9f808d\""),
            &just,
        ),
        (r#"addresses.locality eq "paris""#, &just),
        (r#"addresses[type eq "work" and locality eq "Hollywood"]"#, &just),
        (r#"emails[display eq "work mail"]"#, &just),
        (r#"emails.display pr"#, &just),
        (r#"emails[type eq "work" and primary eq true]"#, &just),
        (r#"name pr"#, &just),
        (r#"addresses pr"#, &just),
        (r#"photos.value eq "https://photos.example.com/Babs.jpg""#, &just),
    ] {
        assert_eq!(&hits(&app, filter).await, expected, "{filter}");
    }
    for filter in [
        // One element must satisfy the whole value filter: Paris is the home address.
        r#"addresses[type eq "work" and locality eq "Paris"]"#,
        r#"name.givenName eq "Barb""#,
        r#"emails[type eq "home" and display pr]"#,
    ] {
        assert!(hits(&app, filter).await.is_empty(), "{filter} matches nothing");
    }
    let mut both = vec![id.clone(), other.clone()];
    both.sort();
    assert_eq!(hits(&app, r#"title ne "Tour Guide""#).await, vec![other.clone()]);
    assert_eq!(hits(&app, r#"not (name pr)"#).await, vec![other.clone()]);
    assert_eq!(
        hits(&app, r#"title pr or userName eq "other@example.com""#).await,
        both
    );

    // The index follows every write: PATCH the title, PUT away the name.
    let res = app
        .patch(
            &format!("/Users/{id}"),
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                   "Operations": [{"op": "replace", "path": "title", "value": "Captain"}]}),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert!(hits(&app, r#"title eq "Tour Guide""#).await.is_empty());
    assert_eq!(hits(&app, r#"title eq "captain""#).await, just);
    let res = app
        .put(
            &format!("/Users/{id}"),
            json!({"userName": "bjensen@example.com"}),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert!(hits(&app, r#"name.givenName eq "Barbara""#).await.is_empty());
    assert!(hits(&app, r#"title pr"#).await.is_empty());
}

#[tokio::test]
async fn users_filter_by_their_groups() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice@example.com").await;
    let bob = app.user("bob@example.com").await;
    let group = app.group("Engineering", &[&alice]).await;
    assert_eq!(
        hits(&app, &format!("groups.value eq \"{group}\"")).await,
        vec![alice.clone()]
    );
    assert_eq!(
        hits(&app, &format!("groups[value eq \"{group}\"]")).await,
        vec![alice]
    );
    assert_eq!(hits(&app, "not (groups pr)").await, vec![bob]);
}

#[tokio::test]
async fn unfilterable_attributes_are_refused_not_ignored() {
    let app = TestApp::spawn().await;
    for filter in [
        r#"meta.version eq "W/\"1\"""#,
        r#"meta.resourceType eq "User""#,
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User eq \"x\"",
        r#"addresses eq "Paris""#,
        r#"emails[nosuch eq "x"]"#,
        r#"name.nosuch eq "x""#,
        r#"title[value eq "x"]"#,
    ] {
        let res = app.get(&format!("/Users?filter={}", urlencode(filter))).await;
        res.assert_error(400, Some("invalidFilter"));
        assert!(!res.body["detail"].as_str().unwrap_or("").is_empty(), "{filter}");
    }
}

#[tokio::test]
async fn index_of_users_written_by_an_older_derivation_is_rebuilt_at_start() {
    let app = TestApp::spawn().await;
    let id = babs(&app).await;
    {
        // What a database written before migration 0002 looks like: only the old rows.
        let mut db = app.sql().await;
        sqlx::query("DELETE FROM user_values WHERE attr NOT IN ('emails', 'photos')")
            .execute(&mut db)
            .await
            .unwrap();
        sqlx::query("UPDATE store_meta SET value = '1' WHERE key = 'user_values_version'")
            .execute(&mut db)
            .await
            .unwrap();
    }
    assert!(hits(&app, r#"title eq "Tour Guide""#).await.is_empty());
    let store = scimd::store::connect(&app.config.database_url, &scimd::store::StoreOptions::with_max(2)).await.unwrap();
    store.migrate().await.unwrap();
    store.close().await;
    assert_eq!(hits(&app, r#"title eq "Tour Guide""#).await, vec![id]);
}

/// RFC 7644 §3.4.2.2 operators through HTTP: ordering comparisons on strings (userName is
/// caseExact false), dateTimes (meta.created) and groupings with `or` and `not`.
#[tokio::test]
async fn ordering_operators_and_logical_groupings_over_http() {
    let app = TestApp::spawn().await;
    let mut ids = Vec::new();
    for name in ["alice@example.com", "bob@example.com", "Carol@example.com"] {
        ids.push(app.user(name).await);
    }
    let sorted = |v: Vec<&String>| {
        let mut v: Vec<String> = v.into_iter().cloned().collect();
        v.sort();
        v
    };
    let (a, b, c) = (&ids[0], &ids[1], &ids[2]);
    assert_eq!(
        hits(&app, r#"userName gt "bob@example.com""#).await,
        sorted(vec![c])
    );
    assert_eq!(
        hits(&app, r#"userName ge "BOB@example.com""#).await,
        sorted(vec![b, c])
    );
    assert_eq!(hits(&app, r#"userName lt "b""#).await, sorted(vec![a]));
    assert_eq!(
        hits(&app, r#"userName le "bob@example.com""#).await,
        sorted(vec![a, b])
    );
    assert_eq!(
        hits(&app, r#"meta.created gt "2000-01-01T00:00:00Z""#)
            .await
            .len(),
        3
    );
    assert!(
        hits(&app, r#"meta.created lt "2000-01-01T00:00:00Z""#)
            .await
            .is_empty()
    );
    assert_eq!(
        hits(
            &app,
            r#"(userName sw "a" or userName ew "CAROL@example.com") and not (userName co "bob")"#
        )
        .await,
        sorted(vec![a, c])
    );
    assert_eq!(
        hits(
            &app,
            r#"(userName sw "a" or userName sw "b") and not (userName co "bob")"#
        )
        .await,
        sorted(vec![a])
    );
    // A dateTime compared with something that is not one is the client's error, said clearly.
    let res = app
        .get(&format!(
            "/Users?filter={}",
            urlencode(r#"meta.created gt "yesterday""#)
        ))
        .await;
    res.assert_error(400, Some("invalidFilter"));
}
