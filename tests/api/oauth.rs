//! OAuth 2.0 client credentials (RFC 6749 §4.4; docs/idp-setup.md): an admin registers a client
//! for an IdP, the IdP exchanges its id and secret at the account's token endpoint for a
//! short-lived SCIM token, which provisions exactly like a static one; revoking the client stops
//! its tokens at once; every refusal is RFC 6749 §5.2 JSON.

use std::time::Duration;

use base64::Engine;
use reqwest::Method;
use serde_json::json;

use crate::adminkit::Admin;
use crate::harness::{Resp, TestApp};

const FORM: (&str, &str) = ("Content-Type", "application/x-www-form-urlencoded");

fn basic(id: &str, secret: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
    )
}

/// Registers a client for `idp`: (client_id, client_secret, token_endpoint).
async fn client(admin: &Admin<'_>, idp: &str) -> (String, String, String) {
    let res = admin
        .post("/oauth/clients", json!({"idp": idp, "description": "provisioning"}))
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    (
        res.body["client_id"].as_str().unwrap().to_string(),
        res.body["client_secret"].as_str().unwrap().to_string(),
        res.body["token_endpoint"].as_str().unwrap().to_string(),
    )
}

async fn token_request(app: &TestApp, endpoint: &str, headers: &[(&str, &str)], body: &str) -> Resp {
    app.raw(Method::POST, endpoint, headers, Some(body.as_bytes().to_vec()))
        .await
}

async fn exchange(app: &TestApp, endpoint: &str, id: &str, secret: &str) -> Resp {
    let auth = basic(id, secret);
    token_request(
        app,
        endpoint,
        &[FORM, ("Authorization", &auth)],
        "grant_type=client_credentials",
    )
    .await
}

#[track_caller]
fn assert_oauth_error(res: &Resp, status: u16, error: &str) {
    assert_eq!(res.status, status, "{}", res.text);
    assert_eq!(res.body["error"], error, "{}", res.text);
    assert!(res.body["error_description"].as_str().is_some_and(|d| !d.is_empty()), "{}", res.text);
    assert_eq!(res.header("cache-control"), Some("no-store"));
}

/// The flow Entra's client-credentials mode runs: discovery, a token by HTTP Basic (and by form
/// fields), then SCIM with it, provisioning as the client's IdP.
#[tokio::test]
async fn a_client_s_access_token_provisions_as_its_idp() {
    let app = TestApp::spawn().await;
    let admin = Admin::new(&app).await;
    let (id, secret, endpoint) = client(&admin, "entra").await;
    assert_eq!(endpoint, app.scim("/oauth/token"));
    assert!(secret.starts_with("scimd_cs_"), "{secret}");

    let meta = app
        .raw(Method::GET, &app.scim("/.well-known/oauth-authorization-server"), &[], None)
        .await;
    assert_eq!(meta.status, 200, "{}", meta.text);
    assert_eq!(meta.body["token_endpoint"], endpoint.as_str());
    assert_eq!(meta.body["grant_types_supported"], json!(["client_credentials"]));

    let res = exchange(&app, &endpoint, &id, &secret).await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["token_type"], "Bearer");
    assert_eq!(res.body["expires_in"], 3600);
    assert_eq!(res.header("cache-control"), Some("no-store"));
    let access = res.body["access_token"].as_str().unwrap().to_string();

    let created = app
        .send(
            Method::POST,
            &app.scim("/Users"),
            Some(&access),
            Some(&json!({"userName": "entra.user@example.com"})),
            &[],
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let uid = created.body["id"].as_str().unwrap();
    let user = admin.get(&format!("/users/{uid}")).await;
    assert_eq!(user.body["source"], "entra", "{}", user.text);

    // Client id and secret as form fields work too (client_secret_post).
    let form = format!("grant_type=client_credentials&client_id={id}&client_secret={secret}&scope=scim");
    let res = token_request(&app, &endpoint, &[FORM], &form).await;
    assert_eq!(res.status, 200, "{}", res.text);

    // Listed without its secret; static tokens keep working beside it.
    let list = admin.get("/oauth/clients").await;
    assert_eq!(list.body["items"][0]["client_id"], id.as_str());
    assert!(!list.text.contains(&secret));
    assert_eq!(app.get("/Users").await.status, 200);
    // The access tokens are not listed among the account's tokens (they are the client's).
    let tokens = admin.get("/scim/tokens").await;
    assert!(!tokens.text.contains("OAuth access token"), "{}", tokens.text);
}

/// Every refusal is RFC 6749 §5.2 JSON that says what to fix, and a failed client
/// authentication says no more than that it failed.
#[tokio::test]
async fn bad_token_requests_get_oauth_errors() {
    let app = TestApp::spawn().await;
    let admin = Admin::new(&app).await;
    let (id, secret, endpoint) = client(&admin, "entra").await;

    let wrong = exchange(&app, &endpoint, &id, "scimd_cs_wrong").await;
    assert_oauth_error(&wrong, 401, "invalid_client");
    assert!(wrong.header("www-authenticate").is_some_and(|h| h.starts_with("Basic")));
    let unknown = exchange(&app, &endpoint, &uuid::Uuid::new_v4().to_string(), &secret).await;
    assert_oauth_error(&unknown, 401, "invalid_client");
    assert_eq!(unknown.body["error_description"], wrong.body["error_description"]);
    // Another account's endpoint does not know this client.
    let (other, _) = app.other_account().await;
    let elsewhere = format!("{}/scim/account/{other}/oauth/token", app.origin);
    assert_oauth_error(&exchange(&app, &elsewhere, &id, &secret).await, 401, "invalid_client");

    let auth = basic(&id, &secret);
    for (headers, body, status, error) in [
        (vec![FORM, ("Authorization", auth.as_str())], "", 400, "invalid_request"),
        (vec![FORM, ("Authorization", auth.as_str())], "grant_type=password", 400, "unsupported_grant_type"),
        (
            vec![("Content-Type", "application/json"), ("Authorization", auth.as_str())],
            r#"{"grant_type":"client_credentials"}"#,
            400,
            "invalid_request",
        ),
        (
            vec![FORM, ("Authorization", auth.as_str())],
            "grant_type=client_credentials&grant_type=client_credentials",
            400,
            "invalid_request",
        ),
        (
            vec![FORM, ("Authorization", auth.as_str())],
            &*format!("grant_type=client_credentials&client_secret={secret}"),
            400,
            "invalid_request",
        ),
        (vec![FORM], "grant_type=client_credentials", 401, "invalid_client"),
        (vec![FORM, ("Authorization", "Basic !!!")], "grant_type=client_credentials", 401, "invalid_client"),
    ] {
        let res = token_request(&app, &endpoint, &headers, body).await;
        assert_oauth_error(&res, status, error);
    }
    // A client id that is no UUID names no client, as for every other id of the admin API.
    let res = admin.delete("/oauth/clients/not-a-uuid").await;
    assert_eq!(res.status, 404, "{}", res.text);
    let res = admin
        .post("/oauth/clients", json!({"idp": "entra", "access_token_seconds": 5}))
        .await;
    assert_eq!(res.status, 400, "{}", res.text);
}

/// An access token lives its hour and no longer (by the server's clock); revoking its client
/// stops it at once and refuses the client new ones; disabling SCIM revokes the clients (R7).
#[tokio::test]
async fn access_tokens_expire_and_die_with_their_client() {
    let app = TestApp::spawn().await;
    let admin = Admin::new(&app).await;
    let (id, secret, endpoint) = client(&admin, "okta").await;
    let users = |token: String| {
        let app = &app;
        async move {
            app.send(Method::GET, &app.scim("/Users"), Some(&token), None, &[])
                .await
        }
    };
    let first = exchange(&app, &endpoint, &id, &secret).await.body["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(users(first.clone()).await.status, 200);
    app.advance(Duration::from_secs(3601));
    let expired = users(first).await;
    assert_eq!(expired.status, 401, "{}", expired.text);
    assert!(expired.text.contains("expired"), "{}", expired.text);

    let second = exchange(&app, &endpoint, &id, &secret).await.body["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(users(second.clone()).await.status, 200);
    let res = admin.delete(&format!("/oauth/clients/{id}")).await;
    assert_eq!(res.status, 204, "{}", res.text);
    let revoked = users(second).await;
    assert_eq!(revoked.status, 401, "{}", revoked.text);
    assert_oauth_error(&exchange(&app, &endpoint, &id, &secret).await, 401, "invalid_client");
    let list = admin.get("/oauth/clients").await;
    assert!(list.body["items"][0]["revoked_at"].is_string(), "{}", list.text);
    assert_eq!(admin.delete(&format!("/oauth/clients/{id}")).await.status, 404);

    // R7: turning SCIM off revokes the account's clients with its SCIM tokens.
    let (id, secret, endpoint) = client(&admin, "okta").await;
    let res = admin.post("/scim/disable", json!({"confirmation": "DISABLE"})).await;
    assert!(res.status == 200 || res.status == 204, "{}", res.text);
    assert_oauth_error(&exchange(&app, &endpoint, &id, &secret).await, 401, "invalid_client");

    // Each exchange is in the audit log as the client's act.
    let audit = admin.get("/audit?limit=500").await;
    let exchanges = audit.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "oauth.token")
        .count();
    assert_eq!(exchanges, 2, "{}", audit.text);
}

/// Failed client authentications spend the account's rate budget ten times faster than
/// requests do, so guessing secrets runs into 429 with Retry-After.
#[tokio::test]
async fn guessing_secrets_is_rate_limited() {
    let app = TestApp::spawn_with(|c| {
        c.rate_limit_per_second = 1;
        c.rate_limit_burst = 25;
    })
    .await;
    let admin = Admin::new(&app).await;
    let (id, _, endpoint) = client(&admin, "entra").await;
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(exchange(&app, &endpoint, &id, "scimd_cs_guess").await);
    }
    let codes: Vec<u16> = statuses.iter().map(|r| r.status).collect();
    assert_eq!(&codes[..2], &[401, 401], "{codes:?}");
    let limited = statuses.iter().find(|r| r.status == 429).expect("a guess is refused 429");
    assert_eq!(limited.body["error"], "temporarily_unavailable", "{}", limited.text);
    assert!(limited.header("retry-after").is_some());
}
