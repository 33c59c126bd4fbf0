//! `/api/accounts/{account_id}/groups`, their members and role bindings.

use axum::extract::{Path, State};
use axum::http::StatusCode;

use super::dto::{
    GroupCreate, GroupList, GroupOut, GroupSortBy, GroupUpdate, MemberList, MemberOut, MembersAdd,
    RoleBindingCreate, RoleBindingList, RoleBindingOut, SortOrder, Source,
};
use super::query::path_id;
use super::{AdminJson, admin_filter, json, list_params, no_content};
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::extract::{Conditions, Ctx, Params};

type Handler = Result<axum::response::Response, ApiError>;

/// List groups, filtered by provisioning source and IdP management (R9).
#[utoipa::path(
    get,
    path = "/api/accounts/{account_id}/groups",
    tag = "groups",
    params(
        ("account_id" = Uuid, Path),
        ("source" = inline(Option<Source>), Query, description = "Only groups from this source (R9)."),
        ("idp_managed" = Option<bool>, Query, description = "Only IdP-managed (true) or native (false) groups."),
        ("filter" = Option<String>, Query, max_length = 1024, format = "scim-group-filter",
         description = "A SCIM filter (RFC 7644 §3.4.2.2) on Group attributes, e.g. `displayName eq \"Sales\"`; \
                        400 `invalidFilter` when it does not parse or names an attribute that is not filterable."),
        ("sort_by" = inline(Option<GroupSortBy>), Query, description = "Default: creation order."),
        ("sort_order" = inline(Option<SortOrder>), Query, description = "Default: ascending."),
        ("start_index" = Option<i64>, Query, minimum = 1, description = "1-based index of the first item; default 1."),
        ("count" = Option<i64>, Query, minimum = 0,
         description = "Items per page; default `default_count` (100), at most `max_results` (1000) are returned."),
    ),
    responses((status = 200, body = GroupList))
)]
pub async fn list_groups(State(st): State<AppState>, ctx: Ctx, params: Params) -> Handler {
    let page = st
        .service
        .list_groups_where(
            &ctx.caller,
            &list_params::<GroupSortBy>(&st, &params)?,
            false,
            &admin_filter(&params)?,
        )
        .await?;
    let body = GroupList {
        total: page.total,
        start_index: page.start_index,
        items: page.items.iter().map(GroupOut::from).collect(),
    };
    Ok(json(StatusCode::OK, &body, None))
}

/// Create a native group; its identifier is made from the name (R1).
#[utoipa::path(
    post,
    path = "/api/accounts/{account_id}/groups",
    tag = "groups",
    params(("account_id" = Uuid, Path)),
    request_body = GroupCreate,
    responses(
        (status = 201, body = GroupOut),
        (status = 400, description = "Besides the common reasons: the name is longer than the account's `max_group_name_length`."),
        (status = 409, description = "A native group has this display_name."),
    )
)]
pub async fn create_group(
    State(st): State<AppState>,
    ctx: Ctx,
    AdminJson(body): AdminJson<GroupCreate>,
) -> Handler {
    let view = st
        .service
        .admin_create_group(&ctx.caller, &body.display_name)
        .await?;
    Ok(json(
        StatusCode::CREATED,
        &GroupOut::from(&view),
        Some(view.row.version),
    ))
}

#[utoipa::path(
    get,
    path = "/api/accounts/{account_id}/groups/{group_id}",
    tag = "groups",
    params(("account_id" = Uuid, Path), ("group_id" = Uuid, Path)),
    responses((status = 200, body = GroupOut))
)]
pub async fn get_group(
    State(st): State<AppState>,
    ctx: Ctx,
    Path((_, id)): Path<(String, String)>,
) -> Handler {
    path_id("Group", &id)?;
    let view = st.service.get_group(&ctx.caller, &id, false).await?;
    Ok(json(
        StatusCode::OK,
        &GroupOut::from(&view),
        Some(view.row.version),
    ))
}

/// Rename a native group; the identifier stays (R1). R3: an IdP-managed group is renamed by
/// its IdP (403).
#[utoipa::path(
    patch,
    path = "/api/accounts/{account_id}/groups/{group_id}",
    tag = "groups",
    params(
        ("account_id" = Uuid, Path),
        ("group_id" = Uuid, Path),
        ("If-Match" = Option<String>, Header, description = "The group's ETag (`W/\"<version>\"`): refuse the change if it changed since."),
    ),
    request_body = GroupUpdate,
    responses(
        (status = 200, body = GroupOut),
        (status = 400, description = "Besides the common reasons: the name is longer than the account's `max_group_name_length`."),
        (status = 403, description = "Locked by the IdP (R3): an IdP-managed group is renamed by its IdP."),
        (status = 409, description = "A native group has this display_name."),
        (status = 412, description = "If-Match names another version."),
    )
)]
pub async fn update_group(
    State(st): State<AppState>,
    ctx: Ctx,
    cond: Conditions,
    Path((_, id)): Path<(String, String)>,
    AdminJson(body): AdminJson<GroupUpdate>,
) -> Handler {
    path_id("Group", &id)?;
    let view = st
        .service
        .admin_rename_group(&ctx.caller, &id, &body.display_name, &cond.precondition(), false)
        .await?;
    Ok(json(
        StatusCode::OK,
        &GroupOut::from(&view),
        Some(view.row.version),
    ))
}

/// Delete a native group and its memberships (never the users). R3: `Cannot delete a group
/// imported from SCIM`.
#[utoipa::path(
    delete,
    path = "/api/accounts/{account_id}/groups/{group_id}",
    tag = "groups",
    params(
        ("account_id" = Uuid, Path),
        ("group_id" = Uuid, Path),
        ("If-Match" = Option<String>, Header, description = "The group's ETag: refuse the deletion if it changed since."),
    ),
    responses(
        (status = 204),
        (status = 403, description = "Locked by the IdP (R3): `Cannot delete a group imported from SCIM`."),
        (status = 412, description = "If-Match names another version."),
    )
)]
pub async fn delete_group(
    State(st): State<AppState>,
    ctx: Ctx,
    cond: Conditions,
    Path((_, id)): Path<(String, String)>,
) -> Handler {
    path_id("Group", &id)?;
    st.service
        .admin_delete_group(&ctx.caller, &id, &cond.precondition(), false)
        .await?;
    Ok(no_content())
}

#[utoipa::path(
    get,
    path = "/api/accounts/{account_id}/groups/{group_id}/members",
    tag = "groups",
    params(("account_id" = Uuid, Path), ("group_id" = Uuid, Path)),
    responses((status = 200, body = MemberList))
)]
pub async fn list_members(
    State(st): State<AppState>,
    ctx: Ctx,
    Path((_, id)): Path<(String, String)>,
) -> Handler {
    path_id("Group", &id)?;
    let view = st.service.admin_group_members(&ctx.caller, &id).await?;
    let body = MemberList {
        group_id: view.row.id,
        items: view
            .members
            .unwrap_or_default()
            .iter()
            .map(MemberOut::from)
            .collect(),
    };
    Ok(json(StatusCode::OK, &body, Some(view.row.version)))
}

/// Add users to a native group. R3: not to an IdP-managed group, and not users who belong to
/// an IdP-managed group; R4/R8: not an IdP-managed user to a reserved group (403).
#[utoipa::path(
    post,
    path = "/api/accounts/{account_id}/groups/{group_id}/members",
    tag = "groups",
    params(("account_id" = Uuid, Path), ("group_id" = Uuid, Path)),
    request_body = MembersAdd,
    responses(
        (status = 200, body = GroupOut),
        (status = 400, description = "Besides the common reasons: an id names no user of the account (nothing is added)."),
        (status = 403, description = "Locked by the IdP (R3): the group is IdP-managed, or a user belongs to an IdP-managed group; or an IdP-managed user would join a reserved group (members of reserved groups stay native)."),
    )
)]
pub async fn add_members(
    State(st): State<AppState>,
    ctx: Ctx,
    Path((_, id)): Path<(String, String)>,
    AdminJson(body): AdminJson<MembersAdd>,
) -> Handler {
    path_id("Group", &id)?;
    let view = st
        .service
        .admin_add_members(&ctx.caller, &id, &body.user_ids, false)
        .await?;
    Ok(json(
        StatusCode::OK,
        &GroupOut::from(&view),
        Some(view.row.version),
    ))
}

/// Remove a user from a native group (R3 as for adding). 404 when the user is not a member.
#[utoipa::path(
    delete,
    path = "/api/accounts/{account_id}/groups/{group_id}/members/{user_id}",
    tag = "groups",
    params(("account_id" = Uuid, Path), ("group_id" = Uuid, Path), ("user_id" = Uuid, Path)),
    responses(
        (status = 204),
        (status = 403, description = "Locked by the IdP (R3): the group is IdP-managed, or the user belongs to an IdP-managed group."),
    )
)]
pub async fn remove_member(
    State(st): State<AppState>,
    ctx: Ctx,
    Path((_, id, user)): Path<(String, String, String)>,
) -> Handler {
    path_id("Group", &id)?;
    path_id("User", &user)?;
    st.service.admin_remove_member(&ctx.caller, &id, &user).await?;
    Ok(no_content())
}

#[utoipa::path(
    get,
    path = "/api/accounts/{account_id}/groups/{group_id}/role-bindings",
    tag = "role bindings",
    params(("account_id" = Uuid, Path), ("group_id" = Uuid, Path)),
    responses((status = 200, body = RoleBindingList))
)]
pub async fn list_group_bindings(
    State(st): State<AppState>,
    ctx: Ctx,
    Path((_, id)): Path<(String, String)>,
) -> Handler {
    path_id("Group", &id)?;
    let items = st.service.list_role_bindings(&ctx.caller, Some(&id)).await?;
    let body = RoleBindingList {
        items: items.iter().map(RoleBindingOut::from).collect(),
    };
    Ok(json(StatusCode::OK, &body, None))
}

/// Bind a role on a resource group to a group (IdP-managed groups too: bindings belong to the
/// application, and SCIM never changes them).
#[utoipa::path(
    post,
    path = "/api/accounts/{account_id}/groups/{group_id}/role-bindings",
    tag = "role bindings",
    params(("account_id" = Uuid, Path), ("group_id" = Uuid, Path)),
    request_body = RoleBindingCreate,
    responses(
        (status = 201, body = RoleBindingOut),
        (status = 409, description = "The group already has this role on this resource group."),
    )
)]
pub async fn add_binding(
    State(st): State<AppState>,
    ctx: Ctx,
    Path((_, id)): Path<(String, String)>,
    AdminJson(body): AdminJson<RoleBindingCreate>,
) -> Handler {
    path_id("Group", &id)?;
    let binding = st
        .service
        .add_role_binding(&ctx.caller, &id, &body.role, &body.resource_group)
        .await?;
    Ok(json(StatusCode::CREATED, &RoleBindingOut::from(&binding), None))
}

#[utoipa::path(
    delete,
    path = "/api/accounts/{account_id}/groups/{group_id}/role-bindings/{binding_id}",
    tag = "role bindings",
    params(("account_id" = Uuid, Path), ("group_id" = Uuid, Path), ("binding_id" = Uuid, Path)),
    responses((status = 204))
)]
pub async fn delete_binding(
    State(st): State<AppState>,
    ctx: Ctx,
    Path((_, id, binding)): Path<(String, String, String)>,
) -> Handler {
    path_id("Group", &id)?;
    path_id("RoleBinding", &binding)?;
    st.service.delete_role_binding(&ctx.caller, &id, &binding).await?;
    Ok(no_content())
}

/// Every role binding of the account.
#[utoipa::path(
    get,
    path = "/api/accounts/{account_id}/role-bindings",
    tag = "role bindings",
    params(("account_id" = Uuid, Path)),
    responses((status = 200, body = RoleBindingList))
)]
pub async fn list_bindings(State(st): State<AppState>, ctx: Ctx) -> Handler {
    let items = st.service.list_role_bindings(&ctx.caller, None).await?;
    let body = RoleBindingList {
        items: items.iter().map(RoleBindingOut::from).collect(),
    };
    Ok(json(StatusCode::OK, &body, None))
}
