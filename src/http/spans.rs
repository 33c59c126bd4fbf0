//! The request span (one per request, made in `router`): its parent from the W3C
//! `traceparent` header, and what routing learns — the resource type and the operation, the
//! span's name from the route template — recorded on it. With an OTLP endpoint configured the
//! span and its store children are exported as a trace (`telemetry`); without, they only
//! give log lines their fields.

use axum::body::Body;
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderMap, Method};
use axum::middleware::Next;
use axum::response::Response;
use opentelemetry::propagation::Extractor;
use opentelemetry::trace::TraceContextExt;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use super::metrics::{UNMATCHED, method_label};

/// The span every request runs in. Its fields: the request id, method and path now; the
/// account once authenticated; the resource type and operation once routed; the status.
pub fn request_span(req: &Request<Body>) -> tracing::Span {
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    let span = tracing::info_span!(
        "request",
        otel.kind = "server",
        request_id = %request_id,
        method = %req.method(),
        path = %req.uri().path(),
        account = tracing::field::Empty,
        resource_type = tracing::field::Empty,
        operation = tracing::field::Empty,
        http.response.status_code = tracing::field::Empty,
    );
    // The caller's trace, when it sent one: the global propagator is W3C Trace Context once
    // tracing is on (`telemetry::init`), and a no-op that finds nothing otherwise.
    let parent = opentelemetry::global::get_text_map_propagator(|p| p.extract(&Headers(req.headers())));
    if parent.span().span_context().is_valid() {
        let _ = span.set_parent(parent);
    }
    span
}

struct Headers<'a>(&'a HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

/// Middleware (after routing): names the request span after its route and records what the
/// request does, then its status.
pub async fn annotate(req: Request, next: Next) -> Response {
    let span = tracing::Span::current();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string());
    let method = method_label(req.method());
    // The trace's name for the span (the log's stays `request`); the span has started by now,
    // so it is renamed through its OpenTelemetry context.
    span.context()
        .span()
        .update_name(format!("{method} {}", route.as_deref().unwrap_or(UNMATCHED)));
    if let Some((resource_type, operation)) = route.as_deref().and_then(|r| classify(r, req.method())) {
        span.record("resource_type", resource_type);
        span.record("operation", operation);
    }
    let res = next.run(req).await;
    span.record("http.response.status_code", i64::from(res.status().as_u16()));
    res
}

/// The resource type and operation of a route template and method; `None` outside the SCIM
/// and admin APIs (health, metrics).
pub fn classify(route: &str, method: &Method) -> Option<(&'static str, &'static str)> {
    if let Some(rest) = route.strip_prefix("/scim/account/{account_id}") {
        let (resource_type, rest) = match rest {
            "/.search" => return Some(("User,Group", "search")),
            "/Bulk" => return Some(("Bulk", "bulk")),
            "/ServiceProviderConfig" => return Some(("ServiceProviderConfig", "discovery")),
            r if r.starts_with("/ResourceTypes") => return Some(("ResourceType", "discovery")),
            r if r.starts_with("/Schemas") => return Some(("Schema", "discovery")),
            r if r.starts_with("/Me") => return Some(("Me", "unsupported")),
            r if r.starts_with("/Users") => ("User", &r["/Users".len()..]),
            r if r.starts_with("/Groups") => ("Group", &r["/Groups".len()..]),
            _ => return None,
        };
        let operation = match (rest, method.as_str()) {
            ("", "GET") => "list",
            ("", "POST") => "create",
            ("/.search", "POST") => "search",
            ("/{id}", "GET") => "get",
            ("/{id}", "PUT") => "replace",
            ("/{id}", "PATCH") => "patch",
            ("/{id}", "DELETE") => "delete",
            _ => "unsupported",
        };
        return Some((resource_type, operation));
    }
    let rest = route.strip_prefix("/api/accounts/{account_id}")?;
    let resource_type = match rest.trim_start_matches('/').split('/').next() {
        Some("users") => "admin:users",
        Some("groups") => "admin:groups",
        Some("bindings") => "admin:bindings",
        Some("settings") => "admin:settings",
        Some("scim") => "admin:scim",
        Some("audit") => "admin:audit",
        Some("export") => "admin:export",
        Some("compare") => "admin:compare",
        _ => "admin",
    };
    let operation = match *method {
        Method::GET => "read",
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE => "write",
        _ => "unsupported",
    };
    Some((resource_type, operation))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_name_their_resource_type_and_operation() {
        let c = |route: &str, method: Method| classify(route, &method);
        assert_eq!(
            c("/scim/account/{account_id}/Users", Method::POST),
            Some(("User", "create"))
        );
        assert_eq!(
            c("/scim/account/{account_id}/Users", Method::GET),
            Some(("User", "list"))
        );
        assert_eq!(
            c("/scim/account/{account_id}/Groups/{id}", Method::PATCH),
            Some(("Group", "patch"))
        );
        assert_eq!(
            c("/scim/account/{account_id}/Users/.search", Method::POST),
            Some(("User", "search"))
        );
        assert_eq!(
            c("/scim/account/{account_id}/Bulk", Method::POST),
            Some(("Bulk", "bulk"))
        );
        assert_eq!(
            c(
                "/scim/account/{account_id}/Users/{id}",
                Method::from_bytes(b"BREW").unwrap()
            ),
            Some(("User", "unsupported"))
        );
        assert_eq!(
            c("/api/accounts/{account_id}/users/{user_id}", Method::GET),
            Some(("admin:users", "read"))
        );
        assert_eq!(c("/healthz", Method::GET), None);
    }
}
