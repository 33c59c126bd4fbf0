//! Every failure becomes a SCIM error body here, in one place (RFC 7644 §3.12).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::scim::{ERROR_URN, ScimError, ScimType};
use crate::service;
use crate::store::StoreError;

/// The media type of every response body.
pub const SCIM_CONTENT_TYPE: &str = "application/scim+json; charset=utf-8";

/// A JSON response with the SCIM media type.
pub fn scim_json(status: StatusCode, body: Value) -> Response {
    let mut res = (status, body.to_string()).into_response();
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(SCIM_CONTENT_TYPE));
    res
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
            service::Error::Internal(err) if err.is_unavailable() => {
                tracing::error!(error = %err, "database unavailable");
                (
                    503,
                    None,
                    format!("{}; retry later (see Retry-After)", err.unavailable_cause()),
                )
            }
            // A constraint the service did not expect to meet: a concurrent request changed
            // what this one was about to rely on (a member deleted between the existence
            // check and the insert, a name taken meanwhile). The database kept the data
            // consistent; the client may read again and retry.
            service::Error::Internal(StoreError::Unique(constraint)) => {
                tracing::warn!(%constraint, "unexpected unique violation");
                (
                    409,
                    Some(ScimType::Uniqueness),
                    "the request conflicts with a value another request stored at the same time; \
                     read the resource again and retry"
                        .to_string(),
                )
            }
            service::Error::Internal(StoreError::ForeignKey(constraint)) => {
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
            service::Error::Internal(err) if err.is_unavailable() => Some(StoreFault {
                connection: err.is_connection_fault(),
                disk_full: err.is_disk_full(),
                cause: err.unavailable_cause().to_string(),
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

    /// A constraint violation no service function expected (a race with another request) is a
    /// conflict to retry, not a server fault.
    #[test]
    fn unexpected_constraint_violations_are_409_not_500() {
        let (status, scim_type, detail) = ApiError(service::Error::Internal(StoreError::Unique(
            "groups_native_display_name_key".into(),
        )))
        .parts();
        assert_eq!((status, scim_type), (409, Some(ScimType::Uniqueness)));
        assert!(
            detail.contains("retry") && !detail.contains("groups_"),
            "{detail}"
        );
        let (status, _, detail) = ApiError(service::Error::Internal(StoreError::ForeignKey(
            "group_members_member_fk".into(),
        )))
        .parts();
        assert_eq!(status, 409);
        assert!(
            !detail.contains("group_members"),
            "no schema names leak: {detail}"
        );
    }
}
