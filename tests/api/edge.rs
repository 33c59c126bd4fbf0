//! The HTTP edge: unknown routes, methods, content negotiation, request ids, health,
//! discovery documents.

use reqwest::Method;
use serde_json::Value;

use crate::harness::TestApp;

#[tokio::test]
async fn unknown_route_and_wrong_method_are_scim_errors() {
    let app = TestApp::spawn().await;
    app.raw(Method::GET, &format!("{}/nope", app.origin), &[], None)
        .await
        .assert_error(404, None);
    app.get("/Nope").await.assert_error(404, None);
    let auth = format!("Bearer {}", app.token);
    app.raw(
        Method::DELETE,
        &app.scim("/Users"),
        &[("Authorization", &auth)],
        None,
    )
    .await
    .assert_error(405, None);
    app.raw(
        Method::POST,
        &app.scim("/ServiceProviderConfig"),
        &[("Authorization", &auth)],
        None,
    )
    .await
    .assert_error(405, None);
}

#[tokio::test]
async fn request_id_is_returned_and_kept_when_given() {
    let app = TestApp::spawn().await;
    let res = app.get("/Users").await;
    assert!(res.header("x-request-id").is_some_and(|id| !id.is_empty()));
    let res = app
        .raw(
            Method::GET,
            &format!("{}/healthz", app.origin),
            &[("X-Request-Id", "trace-me-42")],
            None,
        )
        .await;
    assert_eq!(res.header("x-request-id"), Some("trace-me-42"));
    // Errors carry it too.
    let res = app.raw(Method::GET, &app.scim("/Users"), &[], None).await;
    assert!(res.header("x-request-id").is_some());
}

#[tokio::test]
async fn health_and_readiness() {
    let app = TestApp::spawn().await;
    let res = app
        .raw(Method::GET, &format!("{}/healthz", app.origin), &[], None)
        .await;
    assert_eq!(res.status, 200);
    assert_eq!(res.body, serde_json::json!({"status": "ok"}), "{}", res.text);
    let res = app
        .raw(Method::GET, &format!("{}/readyz", app.origin), &[], None)
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body, serde_json::json!({"status": "ready"}), "{}", res.text);
}

#[tokio::test]
async fn responses_are_scim_json_unless_only_plain_json_is_accepted() {
    let app = TestApp::spawn().await;
    let auth = format!("Bearer {}", app.token);
    let res = app
        .raw(
            Method::GET,
            &app.scim("/Users"),
            &[("Authorization", &auth)],
            None,
        )
        .await;
    assert_eq!(
        res.header("content-type"),
        Some("application/scim+json; charset=utf-8")
    );
    let res = app
        .raw(
            Method::GET,
            &app.scim("/Users"),
            &[("Authorization", &auth), ("Accept", "application/scim+json")],
            None,
        )
        .await;
    assert!(
        res.header("content-type")
            .unwrap()
            .starts_with("application/scim+json")
    );
    let res = app
        .raw(
            Method::GET,
            &app.scim("/Users"),
            &[("Authorization", &auth), ("Accept", "application/json")],
            None,
        )
        .await;
    assert_eq!(
        res.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    // Entra's test-connection GETs carry no Accept and no Content-Type at all.
    let res = app
        .raw(
            Method::GET,
            &app.scim("/Users?filter=userName+eq+%22x%22"),
            &[("Authorization", &auth)],
            None,
        )
        .await;
    assert_eq!(res.status, 200);
}

#[tokio::test]
async fn discovery_describes_what_is_implemented() {
    let app = TestApp::spawn().await;
    let spc = app.get("/ServiceProviderConfig").await;
    assert_eq!(spc.status, 200, "{}", spc.text);
    assert_eq!(
        spc.body["schemas"][0],
        "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
    );
    assert_eq!(spc.body["patch"]["supported"], true);
    assert_eq!(spc.body["filter"]["supported"], true);
    assert_eq!(spc.body["bulk"]["supported"], true);
    assert_eq!(spc.body["sort"]["supported"], true);
    assert_eq!(spc.body["etag"]["supported"], true);
    assert_eq!(spc.body["changePassword"]["supported"], false);
    assert_eq!(spc.body["authenticationSchemes"][0]["type"], "oauthbearertoken");

    let rts = app.get("/ResourceTypes").await;
    assert_eq!(rts.body["totalResults"], 2);
    let names: Vec<&str> = rts.body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"User") && names.contains(&"Group"));
    assert_eq!(app.get("/ResourceTypes/User").await.body["endpoint"], "/Users");
    app.get("/ResourceTypes/Nope").await.assert_error(404, None);

    let schemas = app.get("/Schemas").await;
    let ids: Vec<&str> = schemas.body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    for urn in [
        "urn:ietf:params:scim:schemas:core:2.0:User",
        "urn:ietf:params:scim:schemas:core:2.0:Group",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
    ] {
        assert!(ids.contains(&urn), "{urn} missing from /Schemas");
    }
    assert!(
        !schemas.text.contains("null"),
        "Entra requires no nulls in /Schemas"
    );
    let user = app
        .get("/Schemas/urn:ietf:params:scim:schemas:core:2.0:User")
        .await;
    let attrs: Vec<&str> = user.body["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert!(attrs.contains(&"userName") && attrs.contains(&"emails"));
    assert!(
        !attrs.contains(&"password"),
        "scimd does not store passwords, so it does not advertise them"
    );
    // Discovery needs a token like everything else under the account.
    app.raw(Method::GET, &app.scim("/Schemas"), &[], None)
        .await
        .assert_error(401, None);
    let _: &Value = &spc.body;
}

#[tokio::test]
async fn base_url_pasted_with_a_trailing_slash_still_works() {
    let app = TestApp::spawn().await;
    for name in ["a", "b", "c"] {
        app.user(&format!("{name}@example.com")).await;
    }
    app.group("Team", &[]).await;
    let auth = format!("Bearer {}", app.token);
    let base = format!("{}/", app.scim(""));
    let res = app
        .raw(
            Method::GET,
            &format!("{base}/Users?startIndex=1&count=2"),
            &[("Authorization", &auth)],
            None,
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    // The list of users, its query honoured: not some other page that also answers 200.
    assert_eq!(res.body["totalResults"], 3, "{}", res.text);
    assert_eq!(res.body["Resources"].as_array().map(Vec::len), Some(2), "{}", res.text);
    let res = app
        .raw(
            Method::GET,
            &format!("{base}Groups/"),
            &[("Authorization", &auth)],
            None,
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["totalResults"], 1, "{}", res.text);
    assert_eq!(res.body["Resources"][0]["displayName"], "Team", "{}", res.text);
}

#[tokio::test]
async fn metrics_count_requests_by_route_template_without_tenant_ids() {
    let app = TestApp::spawn().await;
    let id = app.user("metrics@example.com").await;
    assert_eq!(app.get(&format!("/Users/{id}")).await.status, 200);
    assert_eq!(
        app.get("/Users/00000000-0000-0000-0000-000000000000")
            .await
            .status,
        404
    );
    let res = app
        .raw(Method::GET, &format!("{}/metrics", app.origin), &[], None)
        .await;
    assert_eq!(res.status, 200);
    assert!(
        res.header("content-type")
            .is_some_and(|ct| ct.starts_with("application/openmetrics-text")),
        "{:?}",
        res.header("content-type")
    );
    let line = |status: u16| {
        format!(
            "scimd_http_requests_total{{method=\"GET\",route=\"/scim/account/{{account_id}}/Users/{{id}}\",status=\"{status}\"}} 1"
        )
    };
    assert!(res.text.contains(&line(200)), "{}", res.text);
    assert!(res.text.contains(&line(404)), "{}", res.text);
    assert!(
        res.text.contains("scimd_http_request_duration_seconds_bucket"),
        "{}",
        res.text
    );
    assert!(
        !res.text.contains(&app.account.to_string()),
        "no account id in labels"
    );
    assert!(!res.text.contains(&id), "no resource id in labels");
}

/// RFC 7644 §3.11: a provider without /Me "SHALL respond with HTTP status code 501". A SCIM
/// token authenticates an IdP connector, not a user, so there is no "me" to serve.
#[tokio::test]
async fn me_endpoint_is_501_not_implemented() {
    let app = TestApp::spawn().await;
    for (method, path) in [
        (Method::GET, "/Me"),
        (Method::PUT, "/Me"),
        (Method::PATCH, "/Me"),
        (Method::DELETE, "/Me"),
        (Method::POST, "/Me"),
        (Method::GET, "/Me/"),
    ] {
        let res = app
            .send(
                method.clone(),
                &app.scim(path),
                Some(&app.token),
                Some(&serde_json::json!({})),
                &[],
            )
            .await;
        res.assert_error(501, None);
        assert!(
            res.body["detail"].as_str().unwrap().contains("/Me"),
            "{method} {path}: {}",
            res.text
        );
    }
    // Still behind the token like every SCIM endpoint.
    let res = app.raw(Method::GET, &app.scim("/Me"), &[], None).await;
    assert_eq!(res.status, 401);
}
