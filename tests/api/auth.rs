//! Bearer tokens: missing, malformed, expired, revoked, rotated, foreign, wrong kind.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use crate::harness::TestApp;
use scimd::service::{Idp, TokenKind};

#[tokio::test]
async fn missing_token_is_401_with_challenge_and_no_data() {
    let app = TestApp::spawn().await;
    app.user("alice@example.com").await;
    let res = app.send(Method::GET, &app.scim("/Users"), None, None, &[]).await;
    res.assert_error(401, None);
    assert!(res.header("www-authenticate").unwrap().starts_with("Bearer"));
    assert!(!res.text.contains("alice"));
}

#[tokio::test]
async fn malformed_and_non_bearer_tokens_are_401() {
    let app = TestApp::spawn().await;
    for auth in [
        "non-token",
        "Bearer",
        "Bearer abc.def.ghi",
        "Basic dXNlcjpwYXNz",
        "Bearer  ",
    ] {
        let res = app
            .raw(Method::GET, &app.scim("/Users"), &[("Authorization", auth)], None)
            .await;
        res.assert_error(401, None);
        assert!(res.header("www-authenticate").is_some(), "{auth}");
    }
}

#[tokio::test]
async fn token_signed_with_another_key_is_401() {
    let app = TestApp::spawn().await;
    let claims = json!({
        "iss": "scimd", "sub": app.account.to_string(), "jti": app.token_id.to_string(),
        "kind": "scim", "idp": "okta", "iat": 1, "exp": 4_000_000_000i64
    });
    let forged = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(b"not the server's key, at least 32 bytes long"),
    )
    .unwrap();
    let res = app
        .send(Method::GET, &app.scim("/Users"), Some(&forged), None, &[])
        .await;
    res.assert_error(401, None);
    assert!(res.body["detail"].as_str().unwrap().contains("signature"));
}

#[tokio::test]
async fn expired_token_is_401_saying_it_expired() {
    let app = TestApp::spawn().await;
    let issued = app
        .app
        .service
        .create_token(
            app.account,
            TokenKind::Scim,
            Some(Idp::Okta),
            Some(Duration::from_secs(1)),
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        app.send(Method::GET, &app.scim("/Users"), Some(&issued.token), None, &[])
            .await
            .status,
        200
    );
    // Valid for the whole of its lifetime, to the last instant…
    app.advance(Duration::from_millis(999));
    assert_eq!(
        app.send(Method::GET, &app.scim("/Users"), Some(&issued.token), None, &[])
            .await
            .status,
        200
    );
    // …and not after it.
    app.advance(Duration::from_millis(1));
    let res = app
        .send(Method::GET, &app.scim("/Users"), Some(&issued.token), None, &[])
        .await;
    res.assert_error(401, None);
    assert!(
        res.body["detail"].as_str().unwrap().contains("expired"),
        "{}",
        res.text
    );
}

#[tokio::test]
async fn revoked_token_stops_at_once_and_rotation_replaces_it() {
    let app = TestApp::spawn().await;
    assert_eq!(app.get("/Users").await.status, 200);
    let rotated = app
        .app
        .service
        .rotate_token(app.account, app.token_id, None)
        .await
        .unwrap();
    let res = app.get("/Users").await;
    res.assert_error(401, None);
    assert!(res.body["detail"].as_str().unwrap().contains("revoked"));
    let ok = app
        .send(Method::GET, &app.scim("/Users"), Some(&rotated.token), None, &[])
        .await;
    assert_eq!(ok.status, 200);
    // The replacement keeps the IdP label.
    assert_eq!(rotated.record.idp.as_deref(), Some("okta"));
    app.app
        .service
        .revoke_token(app.account, rotated.record.id)
        .await
        .unwrap();
    let res = app
        .send(Method::GET, &app.scim("/Users"), Some(&rotated.token), None, &[])
        .await;
    res.assert_error(401, None);
}

#[tokio::test]
async fn foreign_token_sees_and_changes_nothing_of_another_account() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice@example.com").await;
    let group = app.group("Engineering", &[&alice]).await;
    let (other, other_token) = app.other_account().await;

    // The other account's token on this account's URLs: 401 for every method, no data.
    for (method, path) in [
        (Method::GET, "/Users".to_string()),
        (Method::GET, format!("/Users/{alice}")),
        (Method::GET, format!("/Groups/{group}")),
        (
            Method::GET,
            "/Users?filter=userName%20eq%20%22alice@example.com%22".to_string(),
        ),
        (Method::DELETE, format!("/Users/{alice}")),
        (Method::PUT, format!("/Users/{alice}")),
        (Method::PATCH, format!("/Groups/{group}")),
        (Method::GET, "/ServiceProviderConfig".to_string()),
    ] {
        let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "remove", "path": "members"}]});
        let res = app
            .send(
                method.clone(),
                &app.scim(&path),
                Some(&other_token),
                Some(&body),
                &[],
            )
            .await;
        res.assert_error(401, None);
        assert!(!res.text.contains("alice"), "{method} {path}: {}", res.text);
    }

    // On its own URLs the other token cannot reach this account's resources by id or filter.
    let own = |p: &str| format!("{}/scim/account/{other}{p}", app.origin);
    let res = app
        .send(
            Method::GET,
            &own(&format!("/Users/{alice}")),
            Some(&other_token),
            None,
            &[],
        )
        .await;
    res.assert_error(404, None);
    let res = app
        .send(
            Method::GET,
            &own("/Users?filter=userName%20eq%20%22alice@example.com%22"),
            Some(&other_token),
            None,
            &[],
        )
        .await;
    assert_eq!(res.body["totalResults"], 0);
    let res = app
        .send(
            Method::DELETE,
            &own(&format!("/Groups/{group}")),
            Some(&other_token),
            None,
            &[],
        )
        .await;
    res.assert_error(404, None);

    // This account's token on the other account's URLs, and on an account that does not exist.
    let res = app
        .send(Method::GET, &own("/Users"), Some(&app.token), None, &[])
        .await;
    res.assert_error(401, None);
    let nowhere = format!("{}/scim/account/{}/Users", app.origin, uuid::Uuid::new_v4());
    let res = app.send(Method::GET, &nowhere, Some(&app.token), None, &[]).await;
    res.assert_error(401, None);
    let res = app
        .send(
            Method::GET,
            &format!("{}/scim/account/not-a-uuid/Users", app.origin),
            Some(&app.token),
            None,
            &[],
        )
        .await;
    res.assert_error(401, None);

    // Everything of this account is intact.
    assert_eq!(app.get(&format!("/Users/{alice}")).await.status, 200);
    let g = app.get(&format!("/Groups/{group}")).await;
    assert_eq!(g.body["members"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn admin_token_does_not_open_the_scim_api() {
    let app = TestApp::spawn().await;
    let admin = app
        .app
        .service
        .create_token(app.account, TokenKind::Admin, None, None, None)
        .await
        .unwrap();
    let res = app
        .send(Method::GET, &app.scim("/Users"), Some(&admin.token), None, &[])
        .await;
    res.assert_error(401, None);
    assert!(res.body["detail"].as_str().unwrap().contains("admin token"));
}

#[tokio::test]
async fn token_secret_is_never_stored_in_clear() {
    let app = TestApp::spawn().await;
    let rows = app.table_text("tokens").await;
    assert!(!rows.is_empty());
    let signature = app.token.rsplit('.').next().unwrap();
    for text in rows {
        assert!(
            !text.contains(&app.token) && !text.contains(signature),
            "token stored in clear: {text}"
        );
    }
}

#[tokio::test]
async fn signing_key_survives_restart_so_tokens_stay_valid() {
    let app = TestApp::spawn().await;
    // A second process on the same database (a restart, or a replica) accepts the token.
    let second = scimd::server::App::open(&app.config).await.unwrap();
    let caller = second
        .service
        .authenticate(&app.token, TokenKind::Scim, &app.account.to_string())
        .await
        .unwrap();
    assert_eq!(caller.account_id, app.account);
    second.store.close().await;
}

#[tokio::test]
async fn disabled_scim_answers_403() {
    let app = TestApp::spawn().await;
    assert_eq!(app.get("/Users").await.status, 200, "the token works before");
    let mut conn = app.sql().await;
    sqlx::query("UPDATE accounts SET scim_enabled = false")
        .execute(&mut conn)
        .await
        .unwrap();
    // Raw SQL on SQLite tells no process: the cached check lasts its age (token_cache.rs).
    app.advance(Duration::from_secs(app.config.token_cache_seconds));
    let res = app.get("/Users").await;
    res.assert_error(403, None);
    assert!(
        res.body["detail"].as_str().unwrap().contains("disabled"),
        "{}",
        res.text
    );
}

/// A token's `last_used_at` is refreshed at most once a minute (off the request path, so the
/// test polls for the write), by the server's clock.
#[tokio::test]
async fn last_use_is_recorded_again_once_the_minute_has_passed() {
    let app = TestApp::spawn().await;
    let last_used = || async {
        app.app
            .service
            .list_tokens(app.account)
            .await
            .unwrap()
            .into_iter()
            .find(|t| t.id == app.token_id)
            .unwrap()
            .last_used_at
    };
    // The write of the last use runs in the background, after the response: polled.
    let changed_from = |before: Option<chrono::DateTime<chrono::Utc>>| async move {
        crate::harness::eventually("last_used_at changes", Duration::from_secs(10), || async {
            match last_used().await {
                Some(now) if Some(now) != before => Ok(now),
                other => Err(format!("{other:?}")),
            }
        })
        .await
    };
    assert_eq!(last_used().await, None, "a fresh token was never used");
    assert_eq!(app.get("/Users").await.status, 200);
    let first = changed_from(None).await;
    // Stored times are the database's; the server's clock stands at or before them. Two
    // minutes on, the refresh is due whatever the gap.
    app.advance(Duration::from_secs(120));
    assert_eq!(app.get("/Users").await.status, 200);
    let second = changed_from(Some(first)).await;
    assert!(second > first, "{second} after {first}");
}
