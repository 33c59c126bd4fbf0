//! The HTTP edge: routing, authentication, limits, and turning every outcome into a SCIM
//! response. No ownership rule (docs/rules.md) is decided here.

pub mod admin;
mod auth;
mod bulk;
mod discovery;
pub mod error;
mod extract;
pub mod metrics;
mod oauth;
pub mod ratelimit;
mod resources;
mod retry;
mod search;
mod slow;
mod spans;
mod ui;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::scim::discovery::Capabilities;
use crate::service::Service;
use crate::service::records::DatabaseCondition as Condition;
use error::error_response;

/// What the HTTP layer needs to know beyond the service.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// Public origin (`https://scim.example.com`) used in `Location` and `meta.location`; when
    /// unset, the request's `Host` header is used.
    pub public_url: Option<String>,
    pub max_body_bytes: usize,
    /// `/Bulk` limits (advertised as `bulk.maxOperations` / `bulk.maxPayloadSize`); the
    /// Bulk route's body limit is the payload size, whatever `max_body_bytes` says.
    pub bulk_max_operations: usize,
    pub bulk_max_payload_bytes: usize,
    /// The admin API's compare route carries whole exports: its own body limit.
    pub max_export_bytes: usize,
    /// Time a client has to send a whole request body (`slow`).
    pub request_body_timeout: std::time::Duration,
    pub capabilities: Capabilities,
}

/// What every handler and middleware reads, behind one `Arc`: axum clones the state for each
/// middleware layer and handler of every request, so a clone is one reference count instead of
/// one per part (the profile of a GET by id had the drops of a many-part state at 1.5 % of the
/// server's CPU).
#[derive(Clone)]
pub struct AppState(Arc<AppParts>);

impl AppState {
    pub fn new(parts: AppParts) -> AppState {
        AppState(Arc::new(parts))
    }
}

impl std::ops::Deref for AppState {
    type Target = AppParts;

    fn deref(&self) -> &AppParts {
        &self.0
    }
}

pub struct AppParts {
    pub service: Arc<Service>,
    pub http: Arc<HttpSettings>,
    /// Per-account request budget; `None` when limiting is off.
    pub limiter: Option<Arc<ratelimit::AccountLimiter>>,
    pub metrics: Arc<metrics::Metrics>,
}

/// The whole application.
pub fn router(state: AppState) -> Router {
    let scim = Router::new()
        .route("/.search", post(search::search_root))
        .route(
            "/Bulk",
            post(bulk::bulk).layer(DefaultBodyLimit::max(state.http.bulk_max_payload_bytes)),
        )
        .route("/Users", get(resources::list_users).post(resources::create_user))
        .route("/Users/.search", post(search::search_users))
        .route(
            "/Users/{id}",
            get(resources::get_user)
                .put(resources::replace_user)
                .patch(resources::patch_user)
                .delete(resources::delete_user),
        )
        .route(
            "/Groups",
            get(resources::list_groups).post(resources::create_group),
        )
        .route("/Groups/.search", post(search::search_groups))
        .route(
            "/Groups/{id}",
            get(resources::get_group)
                .put(resources::replace_group)
                .patch(resources::patch_group)
                .delete(resources::delete_group),
        )
        .route("/ServiceProviderConfig", get(discovery::service_provider_config))
        .route("/ResourceTypes", get(discovery::resource_types))
        .route("/ResourceTypes/{id}", get(discovery::resource_type))
        .route("/Schemas", get(discovery::schemas))
        .route("/Schemas/{id}", get(discovery::schema))
        .route("/Me", any(me_not_implemented))
        .route("/Me/{*rest}", any(me_not_implemented))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_scim_token,
        ))
        // After the token check's layer, so outside it: how an IdP gets a SCIM token.
        .route(oauth::TOKEN_PATH, post(oauth::token))
        .route("/.well-known/oauth-authorization-server", get(oauth::metadata));

    let max_body = state.http.max_body_bytes;
    Router::new()
        .nest("/scim/account/{account_id}", scim)
        .merge(admin::router(state.clone()))
        .merge(ui::router(state.clone()))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics::serve))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(max_body))
        .layer(middleware::from_fn_with_state(state.clone(), retry::replay_once))
        .layer(middleware::from_fn_with_state(state.clone(), slow::body_deadline))
        .layer(middleware::from_fn_with_state(state.clone(), metrics::track))
        .layer(middleware::from_fn(spans::annotate))
        .layer(middleware::from_fn(negotiate_and_normalise))
        .layer(
            ServiceBuilder::new()
                .layer(middleware::from_fn(drop_unusable_request_id))
                .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
                .layer(PropagateRequestIdLayer::x_request_id())
                .layer(
                    TraceLayer::new_for_http()
                        .make_span_with(|req: &Request<Body>| spans::request_span(req))
                        // One access-log line per request at `info`, carrying the span's request id;
                        // the duration is a number, its unit in the name (not tower-http's "3 ms").
                        .on_response(log_response),
                )
                .layer(CatchPanicLayer::custom(
                    |_panic: Box<dyn std::any::Any + Send>| {
                        tracing::error!("a request handler panicked");
                        error_response(
                            500,
                            None,
                            "internal error; quote the X-Request-Id response header when reporting it",
                        )
                    },
                )),
        )
        // Outside the panic catcher too, so that even its 500 is a problem on the admin API.
        .layer(middleware::from_fn(error::problem_details))
        .layer(middleware::from_fn(security_headers))
        .with_state(state)
}

/// Longest client `X-Request-Id` kept; a longer one is replaced.
const MAX_REQUEST_ID_LEN: usize = 64;

/// A client's `X-Request-Id` is echoed and logged with every line of the request, so only a
/// short one of `[A-Za-z0-9._:-]` is kept (a UUID, a trace id, `okta-1234:5`): anything else
/// (a log-forging line break, 8 KB of text, several ids) is dropped here, and
/// `SetRequestIdLayer` gives the request a fresh UUID instead.
async fn drop_unusable_request_id(mut req: Request, next: Next) -> Response {
    let ids = req.headers().get_all("x-request-id");
    let mut iter = ids.iter();
    let usable = match (iter.next(), iter.next()) {
        (Some(id), None) => {
            let id = id.as_bytes();
            !id.is_empty()
                && id.len() <= MAX_REQUEST_ID_LEN
                && id
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
        }
        (None, _) => true,
        (Some(_), Some(_)) => false,
    };
    if !usable {
        req.headers_mut().remove("x-request-id");
    }
    next.run(req).await
}

/// Outermost, so every response has them, errors included: `nosniff` on every response (no
/// browser guesses a JSON body to be HTML), and `Cache-Control: no-store` on every response but
/// the probes and metrics, since SCIM and admin responses carry personal data or tokens.
async fn security_headers(req: Request, next: Next) -> Response {
    let cacheable = matches!(req.uri().path(), "/healthz" | "/readyz" | "/metrics");
    let mut res = next.run(req).await;
    let headers = res.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if !cacheable {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    res
}

/// The access-log line of a request.
fn log_response<B>(res: &axum::http::Response<B>, latency: Duration, _span: &tracing::Span) {
    tracing::info!(
        status = res.status().as_u16(),
        latency_ms = latency.as_secs_f64() * 1000.0,
        "finished processing request"
    );
}

/// Collapses repeated slashes and drops a trailing one, before routing: an admin who pastes
/// the SCIM base URL with a trailing slash makes the IdP call `…/{accountId}//Users` or
/// `…/Users/`, which mean the same endpoint.
pub fn normalize_path(mut req: Request) -> Request {
    let path = req.uri().path();
    if !(path.contains("//") || (path.len() > 1 && path.ends_with('/'))) {
        return req;
    }
    let mut clean = String::with_capacity(path.len());
    for segment in path.split('/').filter(|s| !s.is_empty()) {
        clean.push('/');
        clean.push_str(segment);
    }
    if clean.is_empty() {
        clean.push('/');
    }
    if let Some(query) = req.uri().query() {
        clean.push('?');
        clean.push_str(query);
    }
    let mut parts = req.uri().clone().into_parts();
    if let Ok(pq) = clean.parse() {
        parts.path_and_query = Some(pq);
        if let Ok(uri) = Uri::from_parts(parts) {
            *req.uri_mut() = uri;
        }
    }
    req
}

async fn healthz() -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        r#"{"status":"ok"}"#,
    )
        .into_response()
}

/// Ready when the database answers within a second and writes are not known to fail. While
/// the store knows the database is unreachable (or its disk full) this answers at once.
async fn readyz(State(state): State<AppState>) -> Response {
    let unready = |detail: String| {
        let mut res = error_response(503, None, &detail);
        res.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        res
    };
    match state.service.database_condition() {
        Condition::Ok => {}
        Condition::Unreachable { for_ms, .. } => {
            return unready(format!(
                "the database has been unreachable for {for_ms} ms; scimd reconnects by itself when it is back"
            ));
        }
        Condition::WritesFailing { cause, for_ms } => {
            return unready(format!(
                "writes have failed for {for_ms} ms ({cause}); scimd retries by itself once the \
                 cause is gone; reads still work"
            ));
        }
    }
    match tokio::time::timeout(Duration::from_secs(1), state.service.ready()).await {
        Ok(Ok(())) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            r#"{"status":"ready"}"#,
        )
            .into_response(),
        Ok(Err(err)) => {
            tracing::warn!(error = %err, "readiness check failed");
            unready("the database is not reachable (the log says why)".to_string())
        }
        Err(_) => unready("the database did not answer within 1 second".to_string()),
    }
}

async fn not_found(method: Method, uri: Uri) -> Response {
    error_response(
        404,
        None,
        &format!(
            "no endpoint {method} {}: SCIM endpoints are under /scim/account/{{accountId}}/ (Users, Groups, \
             .search, Bulk, ServiceProviderConfig, ResourceTypes, Schemas)",
            uri.path()
        ),
    )
}

/// RFC 7644 §3.11 asks for 501 from a provider without /Me. A SCIM token stands for an IdP
/// connector, not a user, so there is no authenticated subject to serve.
async fn me_not_implemented(method: Method) -> Response {
    error_response(
        501,
        None,
        &format!(
            "{method} /Me is not implemented: a SCIM token authenticates an identity provider, \
             not a user; address users as /Users/{{id}}"
        ),
    )
}

async fn method_not_allowed(method: Method, uri: Uri) -> Response {
    error_response(
        405,
        None,
        &format!("method {method} is not allowed on {}", uri.path()),
    )
}

/// Two jobs at the outermost layer:
/// - every error response is a SCIM error body, even one produced by a layer that knows
///   nothing of SCIM;
/// - responses are `application/scim+json`, except `application/json` for a client whose
///   `Accept` names only that (one OneLogin revision demands it).
async fn negotiate_and_normalise(req: Request, next: Next) -> Response {
    // The admin API speaks plain JSON; its errors become problem details (error::problem_details).
    let admin_api = req.uri().path().starts_with("/api/");
    // OAuth's endpoints answer in OAuth's own JSON, which its clients parse (http/oauth.rs);
    // the console answers people, in HTML (http/ui).
    let path = req.uri().path();
    if (path.starts_with("/scim/") && (path.ends_with(oauth::TOKEN_PATH) || path.contains("/.well-known/")))
        || path == "/ui"
        || path.starts_with("/ui/")
    {
        return next.run(req).await;
    }
    let plain_json_only = admin_api
        || req
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .map(|accept| {
                let accept = accept.to_ascii_lowercase();
                accept.contains("application/json")
                    && !accept.contains("scim+json")
                    && !accept.contains("*/*")
            })
            .unwrap_or(false);
    let mut res = next.run(req).await;
    let is_scim = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|ct| ct.as_bytes().starts_with(b"application/scim+json"));
    if res.status().as_u16() >= 400 && !is_scim {
        let status = res.status();
        let detail = status.canonical_reason().unwrap_or("error").to_string();
        let headers = res.headers().clone();
        res = error_response(status.as_u16(), None, &detail);
        for name in [header::WWW_AUTHENTICATE, header::RETRY_AFTER, header::ALLOW] {
            if let Some(v) = headers.get(&name) {
                res.headers_mut().insert(name, v.clone());
            }
        }
    }
    if plain_json_only
        && res
            .headers()
            .get(header::CONTENT_TYPE)
            .is_some_and(|ct| ct.as_bytes().starts_with(b"application/scim+json"))
    {
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    fn normalized(uri: &str) -> String {
        let req = Request::builder().uri(uri).body(Body::empty()).unwrap();
        normalize_path(req).uri().to_string()
    }

    #[test]
    fn paths_are_normalised_before_routing() {
        assert_eq!(normalized("/scim/account/a//Users"), "/scim/account/a/Users");
        assert_eq!(
            normalized("/scim/account/a/Users/?count=1"),
            "/scim/account/a/Users?count=1"
        );
        assert_eq!(normalized("//healthz//"), "/healthz");
        assert_eq!(normalized("/"), "/");
        assert_eq!(normalized("/Users?filter=a//b"), "/Users?filter=a//b");
    }
}
