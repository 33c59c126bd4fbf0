//! `/Users` and `/Groups`: HTTP in, service call, SCIM JSON out.

use std::borrow::Cow;

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;

use super::AppState;
use super::error::{ApiError, scim_bytes};
use super::extract::{Conditions, Ctx, Params, Projection, ScimBody};
use crate::scim::list::ListRequest;
use crate::scim::render::{self, Derived, PageAt, Reference, Representation};
use crate::scim::schema::ResourceType;
use crate::service::groups::GroupView;
use crate::service::records::ResourceRow;
use crate::service::users::UserView;
use crate::service::{ListPage, Paging};

pub(super) type Handler = Result<Response, ApiError>;

pub(super) fn render_user<'a>(base: &'a str, rt: &'a ResourceType, view: UserView) -> Representation<'a> {
    let derived = (!view.groups.is_empty()).then(|| Derived {
        name: "groups",
        endpoint: "/Groups",
        refs: view
            .groups
            .into_iter()
            .map(|g| Reference {
                id: g.group_id,
                display: Some(g.display_name),
                ty: Cow::Borrowed("direct"),
            })
            .collect(),
    });
    representation(base, rt, view.row, derived)
}

pub(super) fn render_group<'a>(base: &'a str, rt: &'a ResourceType, view: GroupView) -> Representation<'a> {
    // A group's members are users: their references point at /Users.
    let derived = view.members.map(|members| Derived {
        name: "members",
        endpoint: "/Users",
        refs: members
            .into_iter()
            .map(|m| Reference {
                id: m.member_id,
                display: m.display,
                ty: Cow::Owned(m.member_type),
            })
            .collect(),
    });
    representation(base, rt, view.row, derived)
}

fn representation<'a>(
    base: &'a str,
    rt: &'a ResourceType,
    row: ResourceRow,
    derived: Option<Derived>,
) -> Representation<'a> {
    Representation {
        rt,
        base,
        id: row.id,
        doc: row.doc,
        derived,
        created: row.created_at,
        last_modified: row.last_modified,
        version: row.version,
    }
}

/// One resource, projected, with its `ETag` (and `Location` on creation).
fn resource_response(status: StatusCode, rep: Representation<'_>, projection: &Projection) -> Response {
    let version = rep.version;
    let location = (status == StatusCode::CREATED).then(|| rep.location());
    let body = render::resource_body(rep, &projection.attributes, &projection.excluded);
    let mut res = scim_bytes(status, body);
    if let Ok(v) = HeaderValue::from_str(&render::etag(version)) {
        res.headers_mut().insert(header::ETAG, v);
    }
    if let Some(v) = location.and_then(|l| HeaderValue::from_str(&l).ok()) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    res
}

/// A ListResponse; `render` gives each item's representation (a search at the root mixes
/// users and groups), which is then projected.
pub(super) fn list_response<'a, T>(
    page: ListPage<T>,
    projection: &Projection,
    render: impl Fn(T) -> Representation<'a>,
) -> Response {
    let at = match &page.paging {
        Paging::Index => PageAt::Index(page.start_index),
        Paging::Cursor { next } => PageAt::Cursor(next.as_deref()),
    };
    let body = render::list_body(
        page.total,
        at,
        page.items.into_iter().map(render),
        &projection.attributes,
        &projection.excluded,
    );
    scim_bytes(StatusCode::OK, body)
}

async fn user_response(
    st: &AppState,
    status: StatusCode,
    ctx: &Ctx,
    view: UserView,
    projection: &Projection,
) -> Handler {
    let rt = st.service.types(&ctx.caller).await?.user;
    Ok(resource_response(
        status,
        render_user(&ctx.base_url, rt, view),
        projection,
    ))
}

async fn group_response(
    st: &AppState,
    status: StatusCode,
    ctx: &Ctx,
    view: GroupView,
    projection: &Projection,
) -> Handler {
    let rt = st.service.types(&ctx.caller).await?.group;
    Ok(resource_response(
        status,
        render_group(&ctx.base_url, rt, view),
        projection,
    ))
}

// ---- Users -------------------------------------------------------------------------------

pub async fn list_users(State(st): State<AppState>, ctx: Ctx, params: Params) -> Handler {
    let list = params.list(st.service.settings().max_results)?;
    users_page(&st, &ctx, &list).await
}

/// `GET /Users` and `POST /Users/.search`: one list path, whichever way the query came.
pub(super) async fn users_page(st: &AppState, ctx: &Ctx, list: &ListRequest) -> Handler {
    let page = st.service.list_users(&ctx.caller, list).await?;
    let rt = st.service.types(&ctx.caller).await?.user;
    Ok(list_response(page, &list.projection, |v| {
        render_user(&ctx.base_url, rt, v)
    }))
}

pub async fn create_user(
    State(st): State<AppState>,
    ctx: Ctx,
    params: Params,
    ScimBody(body): ScimBody,
) -> Handler {
    let projection = params.projection()?;
    let view = st.service.create_user(&ctx.caller, &body).await?;
    user_response(&st, StatusCode::CREATED, &ctx, view, &projection).await
}

pub async fn get_user(
    State(st): State<AppState>,
    ctx: Ctx,
    cond: Conditions,
    params: Params,
    Path((_, id)): Path<(String, String)>,
) -> Handler {
    let projection = params.projection()?;
    let view = st.service.get_user(&ctx.caller, &id).await?;
    if cond.not_modified(view.row.version) {
        return Ok(not_modified(view.row.version));
    }
    user_response(&st, StatusCode::OK, &ctx, view, &projection).await
}

pub async fn replace_user(
    State(st): State<AppState>,
    ctx: Ctx,
    cond: Conditions,
    params: Params,
    Path((_, id)): Path<(String, String)>,
    ScimBody(body): ScimBody,
) -> Handler {
    let projection = params.projection()?;
    let view = st
        .service
        .replace_user(&ctx.caller, &id, &body, &cond.precondition())
        .await?;
    user_response(&st, StatusCode::OK, &ctx, view, &projection).await
}

pub async fn patch_user(
    State(st): State<AppState>,
    ctx: Ctx,
    cond: Conditions,
    params: Params,
    Path((_, id)): Path<(String, String)>,
    ScimBody(body): ScimBody,
) -> Handler {
    let projection = params.projection()?;
    let view = st
        .service
        .patch_user(&ctx.caller, &id, &body, &cond.precondition())
        .await?;
    user_response(&st, StatusCode::OK, &ctx, view, &projection).await
}

pub async fn delete_user(
    State(st): State<AppState>,
    ctx: Ctx,
    cond: Conditions,
    Path((_, id)): Path<(String, String)>,
) -> Handler {
    st.service
        .delete_user(&ctx.caller, &id, &cond.precondition())
        .await?;
    Ok(no_content())
}

// ---- Groups ------------------------------------------------------------------------------

pub async fn list_groups(State(st): State<AppState>, ctx: Ctx, params: Params) -> Handler {
    let list = params.list(st.service.settings().max_results)?;
    groups_page(&st, &ctx, &list).await
}

/// `GET /Groups` and `POST /Groups/.search`. Members are read only when the response shows
/// them.
pub(super) async fn groups_page(st: &AppState, ctx: &Ctx, list: &ListRequest) -> Handler {
    let page = st
        .service
        .list_groups(&ctx.caller, list, list.projection.shows("members"))
        .await?;
    let rt = st.service.types(&ctx.caller).await?.group;
    Ok(list_response(page, &list.projection, |v| {
        render_group(&ctx.base_url, rt, v)
    }))
}

pub async fn create_group(
    State(st): State<AppState>,
    ctx: Ctx,
    params: Params,
    ScimBody(body): ScimBody,
) -> Handler {
    let projection = params.projection()?;
    let view = st.service.create_group(&ctx.caller, &body).await?;
    group_response(&st, StatusCode::CREATED, &ctx, view, &projection).await
}

pub async fn get_group(
    State(st): State<AppState>,
    ctx: Ctx,
    cond: Conditions,
    params: Params,
    Path((_, id)): Path<(String, String)>,
) -> Handler {
    let projection = params.projection()?;
    let view = st
        .service
        .get_group(&ctx.caller, &id, projection.shows("members"))
        .await?;
    if cond.not_modified(view.row.version) {
        return Ok(not_modified(view.row.version));
    }
    group_response(&st, StatusCode::OK, &ctx, view, &projection).await
}

pub async fn replace_group(
    State(st): State<AppState>,
    ctx: Ctx,
    cond: Conditions,
    params: Params,
    Path((_, id)): Path<(String, String)>,
    ScimBody(body): ScimBody,
) -> Handler {
    let projection = params.projection()?;
    let view = st
        .service
        .replace_group(&ctx.caller, &id, &body, &cond.precondition())
        .await?;
    group_response(&st, StatusCode::OK, &ctx, view, &projection).await
}

/// A group PATCH answers 204 (RFC 7644 §3.5.2 allows it; Entra prefers it; Okta accepts it),
/// so adding one member never reads the member list back. A client that wants the resource
/// asks for it with `attributes` or `excludedAttributes`, and gets 200 with it.
pub async fn patch_group(
    State(st): State<AppState>,
    ctx: Ctx,
    cond: Conditions,
    params: Params,
    Path((_, id)): Path<(String, String)>,
    ScimBody(body): ScimBody,
) -> Handler {
    let projection = params.projection()?;
    let wants_body = !projection.is_empty();
    let view = st
        .service
        .patch_group(
            &ctx.caller,
            &id,
            &body,
            &cond.precondition(),
            wants_body && projection.shows("members"),
        )
        .await?;
    if !wants_body {
        let mut res = no_content();
        if let Ok(v) = HeaderValue::from_str(&render::etag(view.row.version)) {
            res.headers_mut().insert(header::ETAG, v);
        }
        return Ok(res);
    }
    group_response(&st, StatusCode::OK, &ctx, view, &projection).await
}

pub async fn delete_group(
    State(st): State<AppState>,
    ctx: Ctx,
    cond: Conditions,
    Path((_, id)): Path<(String, String)>,
) -> Handler {
    st.service
        .delete_group(&ctx.caller, &id, &cond.precondition())
        .await?;
    Ok(no_content())
}

/// 304 for a GET whose `If-None-Match` names the current version.
fn not_modified(version: i64) -> Response {
    let mut res = Response::new(axum::body::Body::empty());
    *res.status_mut() = StatusCode::NOT_MODIFIED;
    if let Ok(v) = HeaderValue::from_str(&render::etag(version)) {
        res.headers_mut().insert(header::ETAG, v);
    }
    res
}

fn no_content() -> Response {
    let mut res = Response::new(axum::body::Body::empty());
    *res.status_mut() = StatusCode::NO_CONTENT;
    res
}
