//! ETags (RFC 7644 §3.14): If-None-Match on reads, If-Match on writes.

use reqwest::Method;
use serde_json::json;

use crate::harness::TestApp;

const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

#[tokio::test]
async fn if_none_match_with_the_current_version_is_304() {
    let app = TestApp::spawn().await;
    let id = app.user("etag@example.com").await;
    let url = app.scim(&format!("/Users/{id}"));
    let first = app.get(&format!("/Users/{id}")).await;
    let etag = first.header("etag").unwrap().to_string();
    let res = app
        .send(
            Method::GET,
            &url,
            Some(&app.token),
            None,
            &[("If-None-Match", &etag)],
        )
        .await;
    assert_eq!(res.status, 304);
    assert!(res.text.is_empty());
    assert_eq!(res.header("etag"), Some(etag.as_str()));
    let res = app
        .send(
            Method::GET,
            &url,
            Some(&app.token),
            None,
            &[("If-None-Match", "W/\"999\"")],
        )
        .await;
    assert_eq!(res.status, 200);

    let gid = app.group("Tagged", &[]).await;
    let g = app.get(&format!("/Groups/{gid}")).await;
    let res = app
        .send(
            Method::GET,
            &app.scim(&format!("/Groups/{gid}")),
            Some(&app.token),
            None,
            &[("If-None-Match", g.header("etag").unwrap())],
        )
        .await;
    assert_eq!(res.status, 304);
}

#[tokio::test]
async fn if_match_guards_every_write() {
    let app = TestApp::spawn().await;
    // The test rewrites userName or drops the primary email over SCIM, which R2 refuses
    // unless the account allows it.
    crate::adminkit::allow_identity_changes(&app).await;
    let id = app.user("guarded@example.com").await;
    let url = app.scim(&format!("/Users/{id}"));
    let etag = app
        .get(&format!("/Users/{id}"))
        .await
        .header("etag")
        .unwrap()
        .to_string();
    let rename =
        json!({"schemas": [PATCH], "Operations": [{"op": "replace", "path": "displayName", "value": "New"}]});

    let stale = [("If-Match", "W/\"99\"")];
    app.send(Method::PATCH, &url, Some(&app.token), Some(&rename), &stale)
        .await
        .assert_error(412, None);
    app.send(
        Method::PUT,
        &url,
        Some(&app.token),
        Some(&json!({"userName": "guarded@example.com"})),
        &stale,
    )
    .await
    .assert_error(412, None);
    app.send(Method::DELETE, &url, Some(&app.token), None, &stale)
        .await
        .assert_error(412, None);
    assert_eq!(
        app.get(&format!("/Users/{id}")).await.header("etag"),
        Some(etag.as_str()),
        "nothing changed"
    );

    let res = app
        .send(
            Method::PATCH,
            &url,
            Some(&app.token),
            Some(&rename),
            &[("If-Match", &etag)],
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    let newer = res.header("etag").unwrap().to_string();
    assert_ne!(newer, etag);
    // The old tag is stale now; `*` matches any version.
    app.send(
        Method::PATCH,
        &url,
        Some(&app.token),
        Some(&rename),
        &[("If-Match", &etag)],
    )
    .await
    .assert_error(412, None);
    let res = app
        .send(
            Method::PUT,
            &url,
            Some(&app.token),
            Some(&json!({"userName": "guarded@example.com"})),
            &[("If-Match", "*")],
        )
        .await;
    assert_eq!(res.status, 200);
    let current = res.header("etag").unwrap().to_string();
    assert_eq!(
        app.send(
            Method::DELETE,
            &url,
            Some(&app.token),
            None,
            &[("If-Match", &current)]
        )
        .await
        .status,
        204
    );

    let gid = app.group("Guarded", &[]).await;
    let gurl = app.scim(&format!("/Groups/{gid}"));
    let add =
        json!({"schemas": [PATCH], "Operations": [{"op": "replace", "path": "displayName", "value": "X"}]});
    app.send(Method::PATCH, &gurl, Some(&app.token), Some(&add), &stale)
        .await
        .assert_error(412, None);
    app.send(Method::DELETE, &gurl, Some(&app.token), None, &stale)
        .await
        .assert_error(412, None);
    let getag = app
        .get(&format!("/Groups/{gid}"))
        .await
        .header("etag")
        .unwrap()
        .to_string();
    assert_eq!(
        app.send(
            Method::PATCH,
            &gurl,
            Some(&app.token),
            Some(&add),
            &[("If-Match", &getag)]
        )
        .await
        .status,
        204
    );
}
