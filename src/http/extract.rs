//! Extractors whose rejections are SCIM errors, never axum's plain-text ones.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;
use serde_json::Value;

use super::AppState;
use super::error::ApiError;
use crate::scim::ScimError;
use crate::scim::list::ListRequest;
pub use crate::scim::list::Projection;
use crate::service::{Caller, Precondition};

/// A JSON request body. `application/scim+json` and `application/json` (any parameters) are
/// accepted, and so is a body sent with no Content-Type at all; any other media type is 415.
pub struct ScimBody(pub Value);

fn is_json_media_type(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/scim+json" || essence == "application/json" || essence.ends_with("+json")
}

impl FromRequest<AppState> for ScimBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let limit = state.http.max_body_bytes;
        read_json(req, state, || {
            ScimError::new(
                413,
                None,
                format!("request body is larger than the limit of {limit} bytes"),
            )
        })
        .await
        .map(ScimBody)
    }
}

/// Reads a JSON body within the route's body limit; `too_large` is the error past it.
pub(super) async fn read_json(
    req: Request,
    state: &AppState,
    too_large: impl FnOnce() -> ScimError,
) -> Result<Value, ApiError> {
    if let Some(ct) = req.headers().get(header::CONTENT_TYPE) {
        let ct = ct.to_str().unwrap_or("");
        if !is_json_media_type(ct) {
            return Err(ScimError::new(
                415,
                None,
                format!("unsupported Content-Type {ct:?}: send application/scim+json or application/json"),
            )
            .into());
        }
    }
    let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
        if rejection.status().as_u16() == 413 {
            too_large()
        } else {
            ScimError::invalid_syntax(format!("could not read the request body: {rejection}"))
        }
    })?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ScimError::invalid_syntax("the request body is empty: expected a JSON object").into());
    }
    serde_json::from_slice(&bytes)
        .map_err(|e| ScimError::invalid_syntax(format!("the request body is not valid JSON: {e}")).into())
}

/// Query parameters, looked up case-insensitively (`startindex`, `Count` work too).
#[derive(Debug, Default, Clone)]
pub struct Params(Vec<(String, String)>);

impl Params {
    pub fn parse(query: &str) -> Params {
        Params(form_urlencoded::parse(query.as_bytes()).into_owned().collect())
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The list request of a `GET` list, parsed once (`scim::list`).
    pub fn list(&self, max_results: i64) -> Result<ListRequest, ScimError> {
        ListRequest::from_query(|name| self.get(name), max_results)
    }

    /// `attributes` and `excludedAttributes`.
    pub fn projection(&self) -> Result<Projection, ScimError> {
        Projection::parse(self.get("attributes"), self.get("excludedAttributes"))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Params::parse(parts.uri.query().unwrap_or("")))
    }
}

/// The origin (`https://scim.example.com`) links to this server are made of: `public_url`
/// when set, else the request's `Host`.
pub fn public_origin(state: &AppState, headers: &axum::http::HeaderMap) -> String {
    match &state.http.public_url {
        Some(url) => url.trim_end_matches('/').to_string(),
        None => {
            let host = headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .filter(|h| !h.is_empty())
                .unwrap_or("localhost");
            format!("http://{host}")
        }
    }
}

/// The authenticated caller, this server's public origin and the account's SCIM base URL.
pub struct Ctx {
    pub caller: Caller,
    pub origin: String,
    pub base_url: String,
}

impl FromRequestParts<AppState> for Ctx {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let caller = parts
            .extensions
            .get::<Caller>()
            .cloned()
            .ok_or_else(|| crate::service::Error::Unauthorized("authentication required".into()))?;
        let origin = public_origin(state, &parts.headers);
        let base_url = format!("{origin}/scim/account/{}", caller.account_id);
        Ok(Ctx {
            caller,
            origin,
            base_url,
        })
    }
}

/// The conditional headers of RFC 7644 §3.14.
#[derive(Debug, Default, Clone)]
pub struct Conditions {
    pub if_match: Option<String>,
    pub if_none_match: Option<String>,
}

impl Conditions {
    pub fn precondition(&self) -> Precondition {
        Precondition {
            if_match: self.if_match.clone(),
        }
    }

    /// `If-None-Match` names the current version: answer 304 instead of the resource.
    pub fn not_modified(&self, version: i64) -> bool {
        self.if_none_match
            .as_deref()
            .is_some_and(|tags| crate::scim::render::etag_matches(tags, version))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Conditions {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let get = |name| {
            parts
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        Ok(Conditions {
            if_match: get(header::IF_MATCH),
            if_none_match: get(header::IF_NONE_MATCH),
        })
    }
}
