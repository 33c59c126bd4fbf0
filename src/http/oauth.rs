//! The OAuth 2.0 token endpoint of an account (RFC 6749 §4.4, client credentials) and its
//! metadata (RFC 8414), outside the SCIM token check: they are how an IdP gets a SCIM token.
//! Answers are OAuth's own JSON (`{"error": …, "error_description": …}`, RFC 6749 §5.2), never
//! SCIM errors, since OAuth clients parse those.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::json;

use super::AppState;
use super::ratelimit::retry_after_secs;
use crate::service::oauth::OAuthError;

/// The path of the token endpoint under an account's SCIM base URL.
pub const TOKEN_PATH: &str = "/oauth/token";
/// What a failed client authentication costs the account's rate budget, in requests: guessing
/// runs out of budget ten times sooner than provisioning would.
const FAILURE_COST: u32 = 10;

fn oauth_json(status: u16, body: serde_json::Value) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    let mut res = (status, axum::Json(body)).into_response();
    // RFC 6749 §5.1: token responses are never cached.
    let headers = res.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    res
}

fn error(e: &OAuthError) -> Response {
    let mut res = oauth_json(
        e.status,
        json!({"error": e.error, "error_description": e.description}),
    );
    if e.status == 401 {
        res.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"scimd\", charset=\"UTF-8\""),
        );
    }
    res
}

fn invalid_request(description: impl Into<String>) -> Response {
    error(&OAuthError::new(400, "invalid_request", description))
}

/// The client's credentials from `Authorization: Basic` (each part form-urlencoded first, RFC
/// 6749 §2.3.1); `Ok(None)` without that header.
fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, OAuthError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let bad = || {
        OAuthError::new(
            401,
            "invalid_client",
            "the Authorization header must be `Basic base64(client_id:client_secret)`",
        )
    };
    let value = value.to_str().map_err(|_| bad())?;
    let (scheme, encoded) = value.trim().split_once(' ').ok_or_else(bad)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(bad());
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| bad())?;
    let decoded = String::from_utf8(decoded).map_err(|_| bad())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(bad)?;
    let unescape = |s: &str| -> String {
        form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Ok(Some((unescape(id), unescape(secret))))
}

/// `POST /scim/account/{account_id}/oauth/token`, form-encoded: `grant_type=client_credentials`,
/// the client authenticated by HTTP Basic or by `client_id` and `client_secret` in the form.
pub async fn token(
    State(st): State<AppState>,
    Path(account): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form_encoded = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.split(';')
                .next()
                .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"))
        });
    if !form_encoded {
        return invalid_request("the request must be application/x-www-form-urlencoded (RFC 6749 §4.4.2)");
    }
    let mut form = std::collections::BTreeMap::new();
    for (name, value) in form_urlencoded::parse(&body) {
        if form
            .insert(name.clone().into_owned(), value.into_owned())
            .is_some()
        {
            return invalid_request(format!("the parameter {name} is given more than once"));
        }
    }
    match form.get("grant_type").map(String::as_str) {
        None => return invalid_request("grant_type is missing: send grant_type=client_credentials"),
        Some("client_credentials") => {}
        Some(other) => {
            return error(&OAuthError::new(
                400,
                "unsupported_grant_type",
                format!("grant_type {other:?} is not supported: this endpoint serves client_credentials"),
            ));
        }
    }
    let basic = match basic_credentials(&headers) {
        Ok(basic) => basic,
        Err(e) => return error(&e),
    };
    let (client_id, secret) = match (basic, form.get("client_id"), form.get("client_secret")) {
        (Some(_), _, Some(_)) => {
            return invalid_request(
                "authenticate the client one way: HTTP Basic or client_secret in the form, not both",
            );
        }
        (Some((id, _)), Some(form_id), None) if *form_id != id => {
            return invalid_request("client_id in the form is not the client of the Authorization header");
        }
        (Some(credentials), _, None) => credentials,
        (None, Some(id), Some(secret)) => (id.clone(), secret.clone()),
        (None, _, _) => {
            return error(&OAuthError::new(
                401,
                "invalid_client",
                "no client authentication: send HTTP Basic with the client id and secret, or client_id and \
                 client_secret in the form",
            ));
        }
    };
    // The account's rate budget, shared with its SCIM and admin requests.
    let account_id = uuid::Uuid::parse_str(&account).ok();
    if let (Some(limiter), Some(account_id)) = (&st.limiter, account_id)
        && let Err(wait) = limiter.check(account_id)
    {
        return too_many(wait);
    }
    match st
        .service
        .exchange_client_credentials(&account, &client_id, &secret)
        .await
    {
        Ok((issued, seconds)) => oauth_json(
            200,
            json!({"access_token": issued.token, "token_type": "Bearer", "expires_in": seconds}),
        ),
        Err(e) => {
            if e.error == "invalid_client"
                && let (Some(limiter), Some(account_id)) = (&st.limiter, account_id)
            {
                // What is left of the cost, one by one: near the end of the budget a failure
                // still spends what remains (an all-or-nothing charge would spend nothing).
                for _ in 1..FAILURE_COST {
                    if limiter.check(account_id).is_err() {
                        break;
                    }
                }
            }
            error(&e)
        }
    }
}

fn too_many(wait: std::time::Duration) -> Response {
    let mut res = oauth_json(
        429,
        json!({"error": "temporarily_unavailable",
               "error_description": "too many requests for this account; retry after the time in Retry-After"}),
    );
    if let Ok(v) = HeaderValue::from_str(&retry_after_secs(wait).to_string()) {
        res.headers_mut().insert(header::RETRY_AFTER, v);
    }
    res
}

/// `GET /scim/account/{account_id}/.well-known/oauth-authorization-server` (RFC 8414): where the
/// token endpoint is and what it accepts, for connectors that discover it.
pub async fn metadata(
    State(st): State<AppState>,
    Path(account): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Ok(account) = uuid::Uuid::parse_str(&account) else {
        return invalid_request("the account id in the path is not a UUID");
    };
    let origin = match &st.http.public_url {
        Some(url) => url.trim_end_matches('/').to_string(),
        None => format!(
            "http://{}",
            headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .filter(|h| !h.is_empty())
                .unwrap_or("localhost")
        ),
    };
    let issuer = format!("{origin}/scim/account/{account}");
    oauth_json(
        200,
        json!({
            "issuer": issuer,
            "token_endpoint": format!("{issuer}{TOKEN_PATH}"),
            "grant_types_supported": ["client_credentials"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "response_types_supported": [],
        }),
    )
}
