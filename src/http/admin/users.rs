//! `/api/accounts/{account_id}/users`.

use axum::extract::{Path, State};
use axum::http::StatusCode;

use super::dto::{SortOrder, Source, UserCreate, UserList, UserOut, UserSortBy, UserUpdate};
use super::query::path_id;
use super::{AdminJson, admin_filter, json, list_params, no_content};
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::extract::{Conditions, Ctx, Params};
use crate::service::admin::{NativeUser, UserChanges};

type Handler = Result<axum::response::Response, ApiError>;

/// List users, filtered by provisioning source and IdP management (R9).
#[utoipa::path(
    get,
    path = "/api/accounts/{account_id}/users",
    tag = "users",
    params(
        ("account_id" = Uuid, Path),
        ("source" = inline(Option<Source>), Query, description = "Only users from this source (R9)."),
        ("idp_managed" = Option<bool>, Query, description = "Only IdP-managed (true) or native (false) users."),
        ("filter" = Option<String>, Query, max_length = 1024, format = "scim-user-filter",
         description = "A SCIM filter (RFC 7644 §3.4.2.2) on User attributes, e.g. `userName sw \"a\"`; \
                        400 `invalidFilter` when it does not parse or names an attribute that is not filterable."),
        ("sort_by" = inline(Option<UserSortBy>), Query, description = "Default: creation order."),
        ("sort_order" = inline(Option<SortOrder>), Query, description = "Default: ascending."),
        ("start_index" = Option<i64>, Query, minimum = 1, description = "1-based index of the first item; default 1."),
        ("count" = Option<i64>, Query, minimum = 0,
         description = "Items per page; default `default_count` (100), at most `max_results` (1000) are returned."),
    ),
    responses((status = 200, body = UserList))
)]
pub async fn list_users(State(st): State<AppState>, ctx: Ctx, params: Params) -> Handler {
    let page = st
        .service
        .list_users_where(
            &ctx.caller,
            &list_params::<UserSortBy>(&st, &params)?,
            &admin_filter(&params)?,
        )
        .await?;
    let body = UserList {
        total: page.total,
        start_index: page.start_index,
        items: page.items.iter().map(UserOut::from).collect(),
    };
    Ok(json(StatusCode::OK, &body, None))
}

/// Create a native user (source `manual`).
#[utoipa::path(
    post,
    path = "/api/accounts/{account_id}/users",
    tag = "users",
    params(("account_id" = Uuid, Path)),
    request_body = UserCreate,
    responses(
        (status = 201, body = UserOut),
        (status = 409, description = "Another user has this user_name (ignoring case).")
    )
)]
pub async fn create_user(
    State(st): State<AppState>,
    ctx: Ctx,
    AdminJson(body): AdminJson<UserCreate>,
) -> Handler {
    let view = st
        .service
        .admin_create_user(
            &ctx.caller,
            NativeUser {
                user_name: body.user_name,
                email: body.email,
                given_name: body.given_name,
                family_name: body.family_name,
                display_name: body.display_name,
                active: body.active,
            },
        )
        .await?;
    Ok(json(
        StatusCode::CREATED,
        &UserOut::from(&view),
        Some(view.row.version),
    ))
}

#[utoipa::path(
    get,
    path = "/api/accounts/{account_id}/users/{user_id}",
    tag = "users",
    params(("account_id" = Uuid, Path), ("user_id" = Uuid, Path)),
    responses((status = 200, body = UserOut))
)]
pub async fn get_user(
    State(st): State<AppState>,
    ctx: Ctx,
    Path((_, id)): Path<(String, String)>,
) -> Handler {
    path_id("User", &id)?;
    let view = st.service.get_user(&ctx.caller, &id).await?;
    Ok(json(
        StatusCode::OK,
        &UserOut::from(&view),
        Some(view.row.version),
    ))
}

/// Change a user. R3: the userName and email of an IdP-managed user, the name of a user in an
/// IdP-managed group, and the `active` state of an IdP-managed user, are the IdP's (403).
#[utoipa::path(
    patch,
    path = "/api/accounts/{account_id}/users/{user_id}",
    tag = "users",
    params(
        ("account_id" = Uuid, Path),
        ("user_id" = Uuid, Path),
        ("If-Match" = Option<String>, Header, description = "The user's ETag (`W/\"<version>\"`): refuse the change if it changed since."),
    ),
    request_body = UserUpdate,
    responses(
        (status = 200, body = UserOut),
        (status = 403, description = "Locked by the IdP (R3): the userName or email of an IdP-managed user, the name of a member of an IdP-managed group, or the active state of an IdP-managed user."),
        (status = 409, description = "Another user has this user_name (ignoring case)."),
        (status = 412, description = "If-Match names another version."),
    )
)]
pub async fn update_user(
    State(st): State<AppState>,
    ctx: Ctx,
    cond: Conditions,
    Path((_, id)): Path<(String, String)>,
    AdminJson(body): AdminJson<UserUpdate>,
) -> Handler {
    path_id("User", &id)?;
    let view = st
        .service
        .admin_update_user(
            &ctx.caller,
            &id,
            UserChanges {
                user_name: body.user_name,
                email: body.email,
                given_name: body.given_name,
                family_name: body.family_name,
                display_name: body.display_name,
                active: body.active,
            },
            &cond.precondition(),
            false,
        )
        .await?;
    Ok(json(
        StatusCode::OK,
        &UserOut::from(&view),
        Some(view.row.version),
    ))
}

/// Delete a native user and its memberships. R3: an IdP-managed user is deleted by its IdP.
#[utoipa::path(
    delete,
    path = "/api/accounts/{account_id}/users/{user_id}",
    tag = "users",
    params(
        ("account_id" = Uuid, Path),
        ("user_id" = Uuid, Path),
        ("If-Match" = Option<String>, Header, description = "The user's ETag: refuse the deletion if it changed since."),
    ),
    responses(
        (status = 204),
        (status = 403, description = "Locked by the IdP (R3): an IdP-managed user is deleted by its IdP."),
        (status = 412, description = "If-Match names another version."),
    )
)]
pub async fn delete_user(
    State(st): State<AppState>,
    ctx: Ctx,
    cond: Conditions,
    Path((_, id)): Path<(String, String)>,
) -> Handler {
    path_id("User", &id)?;
    st.service
        .admin_delete_user(&ctx.caller, &id, &cond.precondition(), false)
        .await?;
    Ok(no_content())
}
