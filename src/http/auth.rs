//! Bearer-token middleware: a token opens only its own account's API of its own kind.

use axum::extract::{RawPathParams, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::error::{ApiError, error_response, unauthorized};
use super::ratelimit::retry_after_secs;
use crate::service::TokenKind;

pub async fn require_scim_token(
    State(state): State<AppState>,
    params: RawPathParams,
    req: Request,
    next: Next,
) -> Response {
    require_token(state, TokenKind::Scim, params, req, next).await
}

/// The admin API: only an admin token of the account in the path opens it; a SCIM token or
/// another account's admin token gets 401.
pub async fn require_admin_token(
    State(state): State<AppState>,
    params: RawPathParams,
    req: Request,
    next: Next,
) -> Response {
    require_token(state, TokenKind::Admin, params, req, next).await
}

async fn require_token(
    state: AppState,
    kind: TokenKind,
    params: RawPathParams,
    mut req: Request,
    next: Next,
) -> Response {
    let account = params
        .iter()
        .find(|(name, _)| *name == "account_id")
        .map(|(_, value)| value.to_string())
        .unwrap_or_default();
    let Some(header) = req.headers().get(header::AUTHORIZATION) else {
        return unauthorized(
            "missing bearer token: send the header Authorization: Bearer <token>",
            false,
        );
    };
    let header = header.to_str().unwrap_or("").trim();
    let token = match header.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() => {
            token.trim()
        }
        _ => {
            return unauthorized(
                "the Authorization header must be \"Bearer <token>\" with a token issued by scimd",
                true,
            );
        }
    };
    match state.service.authenticate(token, kind, &account).await {
        Ok(caller) => {
            tracing::Span::current().record("account", tracing::field::display(caller.account_id));
            if let Some(limiter) = &state.limiter
                && let Err(wait) = limiter.check(caller.account_id)
            {
                return too_many_requests(wait);
            }
            req.extensions_mut().insert(caller);
            next.run(req).await
        }
        Err(err) => ApiError(err).into_response(),
    }
}

/// 429 with `Retry-After` in whole seconds (RFC 6585 §4, RFC 9110 §10.2.3).
pub(super) fn too_many_requests(wait: std::time::Duration) -> Response {
    let secs = retry_after_secs(wait);
    let mut res = error_response(
        429,
        None,
        &format!("too many requests for this account: retry after {secs} s"),
    );
    res.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    res
}
