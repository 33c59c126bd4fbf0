//! Every failure becomes a SCIM error body here, in one place (RFC 7644 §3.12). The admin API
//! is not a SCIM API: `problem_details` turns its errors into RFC 9457 problem details.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::scim::{ERROR_URN, ScimError, ScimType};
use crate::service;
use crate::service::ConcurrentChange;

/// The media type of every response body.
pub const SCIM_CONTENT_TYPE: &str = "application/scim+json; charset=utf-8";

/// A JSON response with the SCIM media type.
pub fn scim_json(status: StatusCode, body: Value) -> Response {
    // Written straight into bytes: `Value`'s `Display` goes through `fmt::Formatter`, a call per
    // piece, which cost a page of 100 resources measurably more. Writing a `Value` cannot fail
    // (its keys are strings); were it ever to, the `Display` form is the same JSON.
    let bytes = serde_json::to_vec(&body).unwrap_or_else(|_| body.to_string().into_bytes());
    scim_bytes(status, bytes)
}

/// A SCIM response of JSON already written.
pub fn scim_bytes(status: StatusCode, bytes: Vec<u8>) -> Response {
    let mut res = (status, bytes).into_response();
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(SCIM_CONTENT_TYPE));
    res
}

/// The media type of the admin API's errors (RFC 9457).
pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";

/// The values of a problem's `code` member: the finer kind of a problem, as SCIM names it.
pub const PROBLEM_CODES: [&str; 13] = [
    "invalidFilter",
    "tooMany",
    "uniqueness",
    "mutability",
    "invalidSyntax",
    "invalidPath",
    "noTarget",
    "invalidValue",
    "invalidVers",
    "sensitive",
    "invalidCursor",
    "expiredCursor",
    "invalidCount",
];

/// The RFC 9457 problem of a SCIM error body: `type` (about:blank: the status says what kind of
/// problem it is), `title` (the status's reason phrase), `status` (a number), `detail`, and
/// `code`, the SCIM `scimType`, where there is one.
pub fn problem_body(scim_error: &Value) -> Option<Value> {
    let schemas = scim_error.get("schemas")?.as_array()?;
    if !schemas.iter().any(|s| s == ERROR_URN) {
        return None;
    }
    let status: u16 = scim_error.get("status")?.as_str()?.parse().ok()?;
    let title = StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Error");
    let mut body = Map::new();
    body.insert("type".into(), json!("about:blank"));
    body.insert("title".into(), json!(title));
    body.insert("status".into(), json!(status));
    body.insert(
        "detail".into(),
        scim_error.get("detail").cloned().unwrap_or_else(|| json!(title)),
    );
    if let Some(code) = scim_error.get("scimType") {
        body.insert("code".into(), code.clone());
    }
    Some(Value::Object(body))
}

/// Middleware: under `/api/` (the admin API and its document), an error answered with a SCIM
/// error body — by a handler, the token check, the rate limiter, a body limit or the fallback —
/// is sent as problem details instead, with the same status and headers.
pub async fn problem_details(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let admin = req.uri().path().starts_with("/api/");
    let res = next.run(req).await;
    let is_scim_error = res.status().as_u16() >= 400
        && res
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            // `negotiate_and_normalise` has made it application/json on the admin API.
            .is_some_and(|v| v.starts_with("application/scim+json") || v.starts_with("application/json"));
    if !admin || !is_scim_error {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 1 << 20).await else {
        return error_response(500, None, "internal error").into_response();
    };
    let problem = serde_json::from_slice::<Value>(&bytes)
        .ok()
        .and_then(|v| problem_body(&v));
    let Some(problem) = problem else {
        return Response::from_parts(parts, bytes.into());
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(PROBLEM_CONTENT_TYPE),
    );
    Response::from_parts(parts, problem.to_string().into())
}

/// A SCIM error response. `status` is a JSON string, as RFC 7644 §3.12 writes it.
pub fn error_response(status: u16, scim_type: Option<ScimType>, detail: &str) -> Response {
    let body = error_body(status, scim_type, detail);
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    scim_json(status, body)
}

/// The SCIM Error message (RFC 7644 §3.12), also used inside a BulkResponse.
pub fn error_body(status: u16, scim_type: Option<ScimType>, detail: &str) -> Value {
    let mut body = Map::new();
    body.insert("schemas".into(), json!([ERROR_URN]));
    body.insert("status".into(), json!(status.to_string()));
    if let Some(t) = scim_type {
        body.insert("scimType".into(), json!(t.as_str()));
    }
    body.insert("detail".into(), json!(detail));
    Value::Object(body)
}

/// The error type of every handler.
#[derive(Debug)]
pub struct ApiError(pub service::Error);

impl<E: Into<service::Error>> From<E> for ApiError {
    fn from(err: E) -> Self {
        ApiError(err.into())
    }
}

const INTERNAL_DETAIL: &str = "internal error; quote the X-Request-Id response header when reporting it";

impl ApiError {
    /// Status, scimType and a detail that is safe to show. Internal causes are logged here,
    /// with the request id of the current span, and never shown.
    pub fn parts(self) -> (u16, Option<ScimType>, String) {
        match self.0 {
            service::Error::Scim(ScimError {
                status,
                scim_type,
                detail,
            }) => {
                if status >= 500 {
                    tracing::error!(%detail, "request failed");
                }
                (status, scim_type, detail)
            }
            service::Error::Unauthorized(detail) => (401, None, detail),
            service::Error::Forbidden(detail) => (403, None, detail),
            service::Error::NotFound(detail) => (404, None, detail),
            service::Error::PreconditionFailed(detail) => (412, None, detail),
            service::Error::LockedByIdp(detail) => (403, Some(ScimType::Mutability), detail),
            service::Error::Conflict(detail) => (409, None, detail),
            service::Error::Unavailable(detail) => {
                tracing::error!(%detail, "request failed");
                (503, None, detail)
            }
            service::Error::Failed(detail) => {
                tracing::error!(%detail, "request failed");
                (500, None, detail)
            }
            service::Error::DatabaseUnavailable { cause, error, .. } => {
                tracing::error!(error = %error, "database unavailable");
                (503, None, format!("{cause}; retry later (see Retry-After)"))
            }
            service::Error::ConcurrentChange {
                kind: ConcurrentChange::Unique,
                constraint,
            } => {
                tracing::warn!(%constraint, "unexpected unique violation");
                (
                    409,
                    Some(ScimType::Uniqueness),
                    "the request conflicts with a value another request stored at the same time; \
                     read the resource again and retry"
                        .to_string(),
                )
            }
            service::Error::ConcurrentChange {
                kind: ConcurrentChange::Deleted,
                constraint,
            } => {
                tracing::warn!(%constraint, "unexpected foreign key violation");
                (
                    409,
                    None,
                    "a resource this request refers to was deleted by another request meanwhile; \
                     read it again and retry"
                        .to_string(),
                )
            }
            service::Error::Internal(err) => {
                // The cause stays in the log (with the request id); the client gets no SQL.
                tracing::error!(error = %err, "internal error");
                (500, None, INTERNAL_DETAIL.to_string())
            }
        }
    }
}

/// Marks a response that answered a database fault, for the layer that may replay the
/// request (`retry`) and tells the store's health what it met.
#[derive(Debug, Clone)]
pub struct StoreFault {
    /// A fault of one connection, which a new connection may not meet.
    pub connection: bool,
    /// No space left: later writes will fail too until an operator frees space.
    pub disk_full: bool,
    pub cause: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let fault = match &self.0 {
            service::Error::DatabaseUnavailable {
                cause,
                connection_fault,
                disk_full,
                ..
            } => Some(StoreFault {
                connection: *connection_fault,
                disk_full: *disk_full,
                cause: cause.clone(),
            }),
            _ => None,
        };
        let mut res = match self.parts() {
            (401, _, detail) => unauthorized(&detail, true),
            (503, scim_type, detail) => {
                let mut res = error_response(503, scim_type, &detail);
                res.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
                res
            }
            (status, scim_type, detail) => error_response(status, scim_type, &detail),
        };
        if let Some(fault) = fault {
            res.extensions_mut().insert(fault);
        }
        res
    }
}

/// 401 with the `WWW-Authenticate` challenge of RFC 6750 §3.
pub fn unauthorized(detail: &str, token_was_sent: bool) -> Response {
    let mut res = error_response(401, None, detail);
    let challenge = if token_was_sent {
        let safe: String = detail
            .chars()
            .filter(|c| *c != '"' && *c != '\\' && !c.is_control())
            .collect();
        format!("Bearer realm=\"scimd\", error=\"invalid_token\", error_description=\"{safe}\"")
    } else {
        "Bearer realm=\"scimd\"".to_string()
    };
    if let Ok(value) = HeaderValue::from_str(&challenge) {
        res.headers_mut().insert(header::WWW_AUTHENTICATE, value);
    }
    res
}

#[cfg(test)]
mod constraint_tests {
    use super::*;

    #[test]
    fn a_scim_error_becomes_a_problem() {
        let problem = problem_body(&error_body(409, Some(ScimType::Uniqueness), "taken")).unwrap();
        assert_eq!(
            problem,
            json!({"type": "about:blank", "title": "Conflict", "status": 409, "detail": "taken",
                   "code": "uniqueness"})
        );
        let problem = problem_body(&error_body(404, None, "no such user")).unwrap();
        assert_eq!(problem["title"], "Not Found");
        assert!(problem.get("code").is_none());
        for t in PROBLEM_CODES {
            assert!(
                [
                    ScimType::InvalidFilter,
                    ScimType::TooMany,
                    ScimType::Uniqueness,
                    ScimType::Mutability,
                    ScimType::InvalidSyntax,
                    ScimType::InvalidPath,
                    ScimType::NoTarget,
                    ScimType::InvalidValue,
                    ScimType::InvalidVers,
                    ScimType::Sensitive,
                    ScimType::InvalidCursor,
                    ScimType::ExpiredCursor,
                    ScimType::InvalidCount,
                ]
                .iter()
                .any(|s| s.as_str() == t)
            );
        }
    }

    /// A constraint violation no service function expected (a race with another request) is a
    /// conflict to retry, not a server fault.
    #[test]
    fn concurrent_changes_are_409_not_500() {
        let (status, scim_type, detail) = ApiError(service::Error::ConcurrentChange {
            kind: ConcurrentChange::Unique,
            constraint: "groups_native_display_name_key".into(),
        })
        .parts();
        assert_eq!((status, scim_type), (409, Some(ScimType::Uniqueness)));
        assert!(
            detail.contains("retry") && !detail.contains("groups_"),
            "{detail}"
        );
        let (status, scim_type, detail) = ApiError(service::Error::ConcurrentChange {
            kind: ConcurrentChange::Deleted,
            constraint: "group_members_member_fk".into(),
        })
        .parts();
        assert_eq!((status, scim_type), (409, None));
        assert!(
            !detail.contains("group_members"),
            "no schema names leak: {detail}"
        );
    }

    /// An unavailable database is a 503 with Retry-After whose detail is the cause, never the
    /// database's own words, and the response carries the fault for the retry layer.
    #[test]
    fn an_unavailable_database_is_503_with_its_fault() {
        let res = ApiError(service::Error::DatabaseUnavailable {
            cause: "the connection to the database was lost".into(),
            connection_fault: true,
            disk_full: false,
            error: "database error: error communicating with database: broken pipe".into(),
        })
        .into_response();
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(res.headers()[header::RETRY_AFTER], "5");
        let fault = res.extensions().get::<StoreFault>().expect("the fault is marked");
        assert!(fault.connection && !fault.disk_full);
        assert_eq!(fault.cause, "the connection to the database was lost");
        let (_, _, detail) = ApiError(service::Error::DatabaseUnavailable {
            cause: "the database is unreachable".into(),
            connection_fault: false,
            disk_full: false,
            error: "the database is unreachable".into(),
        })
        .parts();
        assert_eq!(
            detail,
            "the database is unreachable; retry later (see Retry-After)"
        );
    }

    /// An internal error is logged; the client sees a fixed detail and no fault extension.
    #[test]
    fn an_internal_error_shows_nothing_of_its_cause() {
        let res = ApiError(service::Error::Internal(
            "database error: syntax error at or near \"SELEC\"".into(),
        ))
        .into_response();
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(res.extensions().get::<StoreFault>().is_none());
        let (_, _, detail) = ApiError(service::Error::Internal("SELEC".into())).parts();
        assert_eq!(detail, INTERNAL_DETAIL);
    }
}
