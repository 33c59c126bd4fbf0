//! The admin (native) API at `/api/accounts/{account_id}/…`: plain JSON for the account's
//! admins, opened only by that account's admin tokens. Every route is registered through
//! `utoipa_axum::routes!`, which builds the router and the OpenAPI document from the same
//! handler annotations, so `/api/openapi.json` cannot drift from what is served.
//!
//! Handlers only translate: JSON in, a service call, JSON out. Every rule (R1–R10) is decided
//! in `service`.

mod account;
mod dto;
mod groups;
mod users;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Router, middleware};
use serde::Serialize;
use serde::de::DeserializeOwned;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::error::ApiError;
use super::extract::{Params, ScimBody};
use crate::scim::ScimError;
use crate::service::ListParams;

/// Where the admin API lives; `{account_id}` is the account (tenant).
pub const PREFIX: &str = "/api/accounts/{account_id}";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "scimd admin API",
        description = "Native user and group management of one account, with the ownership rules \
                       R1–R10 of SPEC.md. Authenticate with an admin token of the account \
                       (`scimd token create --kind admin`): `Authorization: Bearer <token>`. Errors \
                       use the SCIM error body: `status`, `scimType`, `detail`."
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

fn api() -> OpenApiRouter<AppState> {
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
        .routes(routes!(account::list_audit))
        .routes(routes!(account::export))
        .routes(routes!(account::compare))
}

/// The OpenAPI document of the admin API.
pub fn openapi() -> utoipa::openapi::OpenApi {
    api().into_openapi()
}

/// The admin API's routes (behind the admin-token middleware) and `/api/openapi.json`.
pub fn router(state: AppState) -> Router<AppState> {
    let (routes, doc) = api()
        .route_layer(middleware::from_fn_with_state(
            state,
            super::auth::require_admin_token,
        ))
        .split_for_parts();
    let doc = doc.to_json().unwrap_or_else(|_| "{}".to_string());
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

/// A typed JSON body; a body that does not fit is 400 naming what is wrong.
pub(super) struct AdminJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for AdminJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let ScimBody(value) = ScimBody::from_request(req, state).await?;
        serde_json::from_value(value)
            .map(AdminJson)
            .map_err(|e| ScimError::invalid_value(format!("the request body does not fit: {e}")).into())
    }
}

/// An optional typed JSON body: no body at all is `T::default()`.
pub(super) struct OptionalJson<T>(pub T);

impl<T: DeserializeOwned + Default> FromRequest<AppState> for OptionalJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (parts, body) = req.into_parts();
        let bytes = Bytes::from_request(Request::from_parts(parts.clone(), body), state)
            .await
            .map_err(|e| ScimError::invalid_syntax(format!("could not read the request body: {e}")))?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalJson(T::default()));
        }
        let AdminJson(v) =
            AdminJson::<T>::from_request(Request::from_parts(parts, bytes.into()), state).await?;
        Ok(OptionalJson(v))
    }
}

/// `filter`, `start_index`, `count` of an admin list (the filter is SCIM filter syntax).
pub(super) fn list_params(params: &Params) -> Result<ListParams, ApiError> {
    let int = |name: &str| -> Result<Option<i64>, ApiError> {
        match params.get(name).map(str::trim).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(raw) => raw.parse().map(Some).map_err(|_| {
                ScimError::invalid_value(format!("{name} must be an integer, not {raw:?}")).into()
            }),
        }
    };
    Ok(ListParams {
        filter: params.get("filter").map(str::to_string),
        sort_by: params.get("sort_by").map(str::to_string),
        sort_order: params.get("sort_order").map(str::to_string),
        start_index: int("start_index")?,
        count: int("count")?,
        cursor: None,
    })
}

/// `source` and `idp_managed` (R9).
pub(super) fn admin_filter(params: &Params) -> Result<crate::store::AdminFilter, ApiError> {
    let idp_managed = match params.get("idp_managed").map(str::trim) {
        None | Some("") => None,
        Some(v) if v.eq_ignore_ascii_case("true") => Some(true),
        Some(v) if v.eq_ignore_ascii_case("false") => Some(false),
        Some(v) => {
            return Err(
                ScimError::invalid_value(format!("idp_managed must be true or false, not {v:?}")).into(),
            );
        }
    };
    Ok(crate::store::AdminFilter {
        source: params
            .get("source")
            .map(|s| s.trim().to_lowercase())
            .filter(|s| !s.is_empty()),
        idp_managed,
    })
}
