//! `/ServiceProviderConfig`, `/ResourceTypes`, `/Schemas` (RFC 7644 §4).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::AppState;
use super::error::{ApiError, scim_json};
use super::extract::Ctx;
use crate::scim::{LIST_RESPONSE_URN, ScimError, discovery};

fn list_response(items: Vec<Value>) -> Response {
    scim_json(
        StatusCode::OK,
        json!({
            "schemas": [LIST_RESPONSE_URN],
            "totalResults": items.len(),
            "startIndex": 1,
            "itemsPerPage": items.len(),
            "Resources": items,
        }),
    )
}

pub async fn service_provider_config(State(state): State<AppState>, ctx: Ctx) -> Response {
    scim_json(
        StatusCode::OK,
        discovery::service_provider_config(&ctx.base_url, &state.http.capabilities),
    )
}

/// The account's resource types and schemas: the built-in ones with the extensions it declared.
pub async fn resource_types(State(st): State<AppState>, ctx: Ctx) -> Result<Response, ApiError> {
    let types = st.service.types(&ctx.caller).await?;
    Ok(list_response(discovery::resource_types(
        &ctx.base_url,
        &types.resource_types(),
    )))
}

pub async fn resource_type(
    State(st): State<AppState>,
    ctx: Ctx,
    Path((_, name)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let types = st.service.types(&ctx.caller).await?;
    discovery::resource_types(&ctx.base_url, &types.resource_types())
        .into_iter()
        .find(|rt| {
            rt.get("id")
                .and_then(Value::as_str)
                .is_some_and(|id| id.eq_ignore_ascii_case(&name))
        })
        .map(|rt| scim_json(StatusCode::OK, rt))
        .ok_or_else(|| ScimError::not_found(format!("no resource type {name:?}")).into())
}

pub async fn schemas(State(st): State<AppState>, ctx: Ctx) -> Result<Response, ApiError> {
    let types = st.service.types(&ctx.caller).await?;
    Ok(list_response(discovery::schemas(&ctx.base_url, &types.schemas())))
}

pub async fn schema(
    State(st): State<AppState>,
    ctx: Ctx,
    Path((_, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let types = st.service.types(&ctx.caller).await?;
    discovery::schemas(&ctx.base_url, &types.schemas())
        .into_iter()
        .find(|s| {
            s.get("id")
                .and_then(Value::as_str)
                .is_some_and(|sid| sid.eq_ignore_ascii_case(&id))
        })
        .map(|s| scim_json(StatusCode::OK, s))
        .ok_or_else(|| ScimError::not_found(format!("no schema {id:?}")).into())
}
