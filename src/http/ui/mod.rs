//! The web console at `/ui` (docs/console.md): server-rendered pages for an account's admins,
//! on top of the same service calls as the admin API — no rule is decided here. A browser signs
//! in once (an admin token, or a setup link) and then holds a session cookie; every form that
//! changes something carries the session's anti-forgery token.
//!
//! Everything the pages load comes from this server (`assets`): the Content-Security-Policy
//! allows nothing else, no inline script and no inline style.

mod account;
mod assets;
mod audit;
mod groups;
mod integrations;
mod layout;
mod migration;
mod session;
mod tokens;
mod users;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{any, get, post};

use super::AppState;
use super::error::ApiError;
use crate::service::console::ConsoleSession;

/// What every console response carries: scripts and styles from this origin only, no framing,
/// forms posting only here, and no Referer leaving the page (a setup link's code is in its URL).
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Largest form body the console reads (a CSV or JSON export goes through `migration`'s own
/// limit).
const MAX_FORM_BYTES: usize = 64 * 1024;

pub fn router(state: AppState) -> Router<AppState> {
    let account = Router::new()
        .route("/", get(account::overview))
        .route("/scim/enable", post(account::enable_scim))
        .route("/scim/disable", post(account::disable_scim))
        .route("/settings", get(account::settings).post(account::save_settings))
        .route("/setup-links", post(account::create_setup_link))
        .route("/tokens", get(tokens::list).post(tokens::issue))
        .route("/tokens/{id}/revoke", post(tokens::revoke))
        .route("/tokens/{id}/regenerate", post(tokens::regenerate))
        .route("/idp/{idp}", get(tokens::idp_guide).post(tokens::idp_issue))
        .route("/users", get(users::list).post(users::create))
        .route("/users/new", get(users::new_form))
        .route("/users/{id}", get(users::detail).post(users::update))
        .route("/users/{id}/delete", post(users::delete))
        .route("/groups", get(groups::list).post(groups::create))
        .route("/groups/{id}", get(groups::detail).post(groups::rename))
        .route("/groups/{id}/delete", post(groups::delete))
        .route("/groups/{id}/members", post(groups::add_member))
        .route("/groups/{id}/members/{user}/remove", post(groups::remove_member))
        .route("/groups/{id}/bindings", post(groups::add_binding))
        .route(
            "/groups/{id}/bindings/{binding}/delete",
            post(groups::delete_binding),
        )
        .route("/audit", get(audit::list))
        .route(
            "/schemas",
            get(integrations::schemas).post(integrations::declare_schema),
        )
        .route("/schemas/remove", post(integrations::remove_schema))
        .route(
            "/webhooks",
            get(integrations::webhooks).post(integrations::create_webhook),
        )
        .route("/webhooks/{id}", get(integrations::webhook))
        .route("/webhooks/{id}/delete", post(integrations::delete_webhook))
        .route("/webhooks/{id}/redeliver", post(integrations::redeliver_webhook))
        .route("/events", get(integrations::events))
        .route("/migration", get(migration::page))
        .route("/migration/export.json", get(migration::export_json))
        .route("/migration/export.csv", get(migration::export_csv))
        .route(
            "/migration/compare",
            post(migration::compare).layer(axum::extract::DefaultBodyLimit::max(
                state.http.max_export_bytes * 2 + 4096,
            )),
        )
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            session::require_session,
        ));
    Router::new()
        .route("/ui", get(session::entry))
        .route("/ui/sign-in", get(session::sign_in_form).post(session::sign_in))
        .route("/ui/setup", get(session::setup_form).post(session::setup))
        .route("/ui/sign-out", post(session::sign_out))
        .route("/ui/assets/{file}", get(assets::serve))
        .nest("/ui/a/{account_id}", account)
        .route("/ui/{*rest}", any(|| async { not_found(None) }))
        .layer(middleware::from_fn(console_headers))
}

/// Headers of every console response, errors included.
async fn console_headers(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    res
}

/// `/ui/a/{account}` + rest.
pub(super) fn account_path(session: &ConsoleSession, rest: &str) -> String {
    format!("/ui/a/{}{rest}", session.caller.account_id)
}

/// `base` with the non-empty `pairs` as its query: a list's link to another page of itself.
pub(super) fn with_query(base: &str, pairs: &[(&str, &str)]) -> String {
    let mut out = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs.iter().filter(|(_, v)| !v.is_empty()) {
        out.append_pair(k, v);
    }
    let query = out.finish();
    if query.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{query}")
    }
}

/// A redirect after a form's success (303, so reloading the next page repeats nothing).
pub(super) fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

/// A service error as a page: its status, and the detail the service wrote for people.
pub(super) fn error_page(session: Option<&ConsoleSession>, err: impl Into<ApiError>, back: &str) -> Response {
    let err = err.into();
    let locked = matches!(err.0, crate::service::Error::LockedByIdp(_));
    let (status, _, detail) = err.parts();
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let title = match status.as_u16() {
        _ if locked => "Managed by your identity provider",
        401 => "Not signed in",
        404 => "Not found",
        400 => "Check what you entered",
        409 => "Conflict",
        412 => "Changed meanwhile",
        503 => "Try again in a moment",
        _ => "Something went wrong",
    };
    let body = layout::page(
        session,
        title,
        "",
        maud::html! {
            h1 { (title) }
            div.alert.error role="alert" { p { (detail) } }
            p { a href=(back) { "Back" } }
        },
    );
    let mut res = (status, body).into_response();
    if status == StatusCode::SERVICE_UNAVAILABLE {
        // As the APIs answer a database fault: the browser (or a person) may simply retry.
        res.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    }
    res
}

/// Whether the request is a form post from this origin's pages: a browser that says where a
/// request comes from (`Sec-Fetch-Site`, every current one) must say `same-origin`. The
/// anti-forgery token is checked besides; this stops a cross-site post before its body is read.
pub(super) fn same_origin(req: &Request) -> bool {
    req.method() == Method::GET
        || req
            .headers()
            .get("sec-fetch-site")
            .and_then(|v| v.to_str().ok())
            .is_none_or(|site| site == "same-origin" || site == "none")
}

/// The 404 of the console, for another account's pages and for what does not exist.
pub(super) fn not_found(session: Option<&ConsoleSession>) -> Response {
    error_page(
        session,
        crate::service::Error::NotFound("there is no such page in this account's console".into()),
        "/ui",
    )
}
