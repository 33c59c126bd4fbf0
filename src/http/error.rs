//! Every failure becomes a SCIM error body here, in one place (RFC 7644 §3.12).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::scim::{ERROR_URN, ScimError, ScimType};
use crate::service;

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
    let mut body = Map::new();
    body.insert("schemas".into(), json!([ERROR_URN]));
    body.insert("status".into(), json!(status.to_string()));
    if let Some(t) = scim_type {
        body.insert("scimType".into(), json!(t.as_str()));
    }
    body.insert("detail".into(), json!(detail));
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    scim_json(status, Value::Object(body))
}

/// The error type of every handler.
#[derive(Debug)]
pub struct ApiError(pub service::Error);

impl<E: Into<service::Error>> From<E> for ApiError {
    fn from(err: E) -> Self {
        ApiError(err.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self.0 {
            service::Error::Scim(ScimError {
                status,
                scim_type,
                detail,
            }) => {
                if status >= 500 {
                    tracing::error!(%detail, "request failed");
                }
                error_response(status, scim_type, &detail)
            }
            service::Error::Unauthorized(detail) => unauthorized(&detail, true),
            service::Error::Forbidden(detail) => error_response(403, None, &detail),
            service::Error::Internal(err) if err.is_unavailable() => {
                tracing::error!(error = %err, "database unavailable");
                let mut res = error_response(
                    503,
                    None,
                    "the database is unavailable; retry later (see Retry-After)",
                );
                res.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
                res
            }
            service::Error::Internal(err) => {
                // The cause stays in the log (with the request id); the client gets no SQL.
                tracing::error!(error = %err, "internal error");
                error_response(
                    500,
                    None,
                    "internal error; quote the X-Request-Id response header when reporting it",
                )
            }
        }
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
