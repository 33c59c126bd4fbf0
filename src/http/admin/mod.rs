//! The admin (native) API at `/api/accounts/{account_id}/…`: plain JSON for the account's
//! admins, opened only by that account's admin tokens. Every route is registered through
//! `utoipa_axum::routes!`, which builds the router and the OpenAPI document from the same
//! handler annotations, so `/api/openapi.json` cannot drift from what is served.
//!
//! Handlers only translate: JSON in, a service call, JSON out. Every rule (R1–R10) is decided
//! in `service`.

mod account;
mod console;
mod dto;
mod events;
mod export_schema;
mod groups;
mod oauth;
mod openapi;
mod query;
mod schemas;
mod users;
mod webhooks;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Router, middleware};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use utoipa::OpenApi;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use super::AppState;
use super::error::ApiError;
use super::extract::{Params, ScimBody, read_json};
use crate::scim::ScimError;
use crate::scim::list::ListRequest;
use crate::scim::search::SearchRequest;
use dto::Validate;
use query::Query;

/// Where the admin API lives; `{account_id}` is the account (tenant).
pub const PREFIX: &str = "/api/accounts/{account_id}";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "scimd admin API",
        description = "Native user and group management of one account, with the ownership rules \
                       R1–R10 (docs/rules.md). Authenticate with an admin token of the account \
                       (`scimd token create --kind admin`): `Authorization: Bearer <token>`. Errors \
                       are RFC 9457 problem details (`Problem`, application/problem+json): \
                       `type`, `title`, `status`, `detail`, and `code` where there is a finer kind. \
                       Requests are read exactly as this document declares them: unknown body \
                       fields, values out of bounds, blank names and U+0000 in any string are \
                       refused with 400 naming the field."
    ),
    modifiers(&BearerAuth),
    security(("bearer" = []))
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("bearer", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
    }
}

/// The routes and their document. `max_export_bytes` is the compare route's body limit (it
/// carries whole exports); every other route keeps `max_body_bytes`.
fn api(max_export_bytes: usize) -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(users::list_users, users::create_user))
        .routes(routes!(users::get_user, users::update_user, users::delete_user))
        .routes(routes!(groups::list_groups, groups::create_group))
        .routes(routes!(
            groups::get_group,
            groups::update_group,
            groups::delete_group
        ))
        .routes(routes!(groups::list_members, groups::add_members))
        .routes(routes!(groups::remove_member))
        .routes(routes!(groups::list_group_bindings, groups::add_binding))
        .routes(routes!(groups::delete_binding))
        .routes(routes!(groups::list_bindings))
        .routes(routes!(account::get_settings, account::update_settings))
        .routes(routes!(account::enable_scim))
        .routes(routes!(account::disable_scim))
        .routes(routes!(account::list_tokens, account::create_token))
        .routes(routes!(account::revoke_token))
        .routes(routes!(account::regenerate_token))
        .routes(routes!(schemas::list_schemas, schemas::declare_schema))
        .routes(routes!(schemas::remove_schema))
        .routes(routes!(account::list_audit))
        .routes(routes!(console::create_setup_link))
        .routes(routes!(events::list_events))
        .routes(routes!(oauth::list_oauth_clients, oauth::create_oauth_client))
        .routes(routes!(oauth::revoke_oauth_client))
        .routes(routes!(webhooks::list_webhooks, webhooks::create_webhook))
        .routes(routes!(
            webhooks::get_webhook,
            webhooks::update_webhook,
            webhooks::delete_webhook
        ))
        .routes(routes!(webhooks::list_deliveries))
        .routes(routes!(webhooks::redeliver_webhook))
        .routes(routes!(account::export))
        .routes(routes!(account::compare).layer(DefaultBodyLimit::max(max_export_bytes)))
}

/// The served document: what the handlers declare, finished by `openapi::finish`.
fn document(doc: utoipa::openapi::OpenApi) -> Value {
    let mut doc = serde_json::to_value(doc).unwrap_or_else(|_| Value::Object(Default::default()));
    openapi::finish(&mut doc);
    doc
}

/// The OpenAPI document of the admin API, as served at `/api/openapi.json`.
pub fn openapi() -> Value {
    document(api(usize::MAX).into_openapi())
}

/// The admin API's routes (behind the admin-token middleware) and `/api/openapi.json`.
pub fn router(state: AppState) -> Router<AppState> {
    let (routes, doc) = api(state.http.max_export_bytes)
        .route_layer(middleware::from_fn_with_state(
            state,
            super::auth::require_admin_token,
        ))
        .split_for_parts();
    let doc = document(doc).to_string();
    routes.route(
        "/api/openapi.json",
        axum::routing::get(move || async move {
            ([(header::CONTENT_TYPE, "application/json")], doc.clone()).into_response()
        }),
    )
}

/// A JSON response (`application/json`), with the ETag of `version` when given.
pub(super) fn json<T: Serialize>(status: StatusCode, body: &T, version: Option<i64>) -> Response {
    let text = serde_json::to_string(body).unwrap_or_else(|_| "{}".into());
    let mut res = (status, [(header::CONTENT_TYPE, "application/json")], text).into_response();
    if let Some(v) = version.and_then(|v| HeaderValue::from_str(&crate::scim::render::etag(v)).ok()) {
        res.headers_mut().insert(header::ETAG, v);
    }
    res
}

pub(super) fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// Where in a JSON value the first U+0000 is (in a key or a string), as a path.
fn find_nul(value: &Value, path: &mut String) -> bool {
    match value {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().enumerate().any(|(i, v)| {
            let len = path.len();
            path.push_str(&format!("[{i}]"));
            let found = find_nul(v, path);
            if !found {
                path.truncate(len);
            }
            found
        }),
        Value::Object(map) => map.iter().any(|(k, v)| {
            let len = path.len();
            if !path.is_empty() {
                path.push('.');
            }
            path.push_str(&k.replace('\0', "\\u0000"));
            let found = k.contains('\0') || find_nul(v, path);
            if !found {
                path.truncate(len);
            }
            found
        }),
        _ => false,
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A JSON object body read as `T` and checked by its `Validate`: 400 naming the field that
/// does not fit (`user_ids[2]: …`) and what it takes.
pub(super) struct AdminJson<T>(pub T);

fn read_body<T: DeserializeOwned + Validate>(value: Value) -> Result<T, ApiError> {
    if !value.is_object() {
        return Err(ScimError::invalid_syntax(format!(
            "the request body must be a JSON object, not {}",
            json_kind(&value)
        ))
        .into());
    }
    let mut at = String::new();
    if find_nul(&value, &mut at) {
        return Err(ScimError::invalid_value(format!(
            "{at} contains the NUL character (U+0000), which is not accepted"
        ))
        .into());
    }
    let body: T = serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let detail = if path == "." || path.is_empty() {
            format!("the request body does not fit: {inner}")
        } else {
            format!("{path}: {inner}")
        };
        ScimError::invalid_value(detail)
    })?;
    body.validate()?;
    Ok(body)
}

impl<T: DeserializeOwned + Validate> FromRequest<AppState> for AdminJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let ScimBody(value) = ScimBody::from_request(req, state).await?;
        read_body(value).map(AdminJson)
    }
}

/// A typed JSON body that carries whole exports (compare): read within `max_export_bytes`.
pub(super) struct ExportJson<T>(pub T);

impl<T: DeserializeOwned + Validate> FromRequest<AppState> for ExportJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let limit = state.http.max_export_bytes;
        let value = read_json(req, state, || {
            ScimError::new(
                413,
                None,
                format!(
                    "request body is larger than the limit of {limit} bytes for exports \
                     (max_export_bytes); compare larger exports with `scimd compare`"
                ),
            )
        })
        .await?;
        read_body(value).map(ExportJson)
    }
}

/// An optional typed JSON body: no body at all is `T::default()`.
pub(super) struct OptionalJson<T>(pub T);

impl<T: DeserializeOwned + Validate + Default> FromRequest<AppState> for OptionalJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (parts, body) = req.into_parts();
        let limit = state.http.max_body_bytes;
        let bytes = Bytes::from_request(Request::from_parts(parts.clone(), body), state)
            .await
            .map_err(|e| {
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ScimError::new(
                        413,
                        None,
                        format!("request body is larger than the limit of {limit} bytes"),
                    )
                } else {
                    ScimError::invalid_syntax(format!("could not read the request body: {e}"))
                }
            })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalJson(T::default()));
        }
        let AdminJson(v) =
            AdminJson::<T>::from_request(Request::from_parts(parts, bytes.into()), state).await?;
        Ok(OptionalJson(v))
    }
}

/// `filter`, `sort_by`, `sort_order`, `start_index`, `count` of an admin list, parsed into the
/// same `ListRequest` as a SCIM list (index paging only). The filter is SCIM filter syntax;
/// `S` is the resource's sortable attributes.
pub(super) fn list_params<S: DeserializeOwned + Serialize>(
    st: &AppState,
    params: &Params,
) -> Result<ListRequest, ApiError> {
    let q = Query(params);
    let raw = SearchRequest {
        filter: q.text("filter", query::MAX_FILTER_CHARS)?.map(str::to_string),
        sort_by: q.one_of::<S>("sort_by")?.map(|s| wire(&s)),
        sort_order: q.one_of::<dto::SortOrder>("sort_order")?.map(|s| wire(&s)),
        start_index: q.int("start_index", 1, i64::MAX)?,
        count: q.int("count", 0, i64::MAX)?,
        ..SearchRequest::default()
    };
    Ok(ListRequest::from_search(raw, st.service.settings().max_results)?)
}

/// The wire spelling of a unit variant.
fn wire<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(Value::String(s)) => s,
        _ => String::new(),
    }
}

/// `source` and `idp_managed` (R9).
pub(super) fn admin_filter(params: &Params) -> Result<crate::service::records::AdminFilter, ApiError> {
    let q = Query(params);
    Ok(crate::service::records::AdminFilter {
        source: q.one_of::<dto::Source>("source")?.map(|s| wire(&s)),
        idp_managed: q.bool("idp_managed")?,
        idp_groups_only: false,
    })
}
