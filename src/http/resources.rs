//! `/Users` and `/Groups`: HTTP in, service call, SCIM JSON out.

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::AppState;
use super::error::{ApiError, scim_json};
use super::extract::{Conditions, Ctx, Params, Projection, ScimBody};
use crate::scim::list::ListRequest;
use crate::scim::render::{self, Meta};
use crate::scim::schema::ResourceType;
use crate::scim::{LIST_RESPONSE_URN, resource};
use crate::service::groups::GroupView;
use crate::service::records::ResourceRow;
use crate::service::users::UserView;
use crate::service::{ListPage, Paging};

pub(super) type Handler = Result<Response, ApiError>;

fn meta(row: &ResourceRow, location: String) -> Meta {
    Meta {
        created: row.created_at,
        last_modified: row.last_modified,
        version: row.version,
        location,
    }
}

pub(super) fn render_user(base: &str, rt: &ResourceType, view: UserView) -> Map<String, Value> {
    let id = view.row.id.to_string();
    let mut derived = Vec::new();
    if !view.groups.is_empty() {
        let groups = view
            .groups
            .iter()
            .map(|g| {
                let gid = g.group_id.to_string();
                render::reference(
                    &gid,
                    &format!("{base}/Groups/{gid}"),
                    Some(&g.display_name),
                    "direct",
                )
            })
            .collect();
        derived.push(("groups", Value::Array(groups)));
    }
    let meta = meta(&view.row, format!("{base}/Users/{id}"));
    render::render(rt, &id, view.row.doc, derived, &meta)
}

pub(super) fn render_group(base: &str, rt: &ResourceType, view: GroupView) -> Map<String, Value> {
    let id = view.row.id.to_string();
    let mut derived = Vec::new();
    if let Some(members) = &view.members {
        let members = members
            .iter()
            .map(|m| {
                let mid = m.member_id.to_string();
                render::reference(
                    &mid,
                    &format!("{base}/Users/{mid}"),
                    m.display.as_deref(),
                    &m.member_type,
                )
            })
            .collect();
        derived.push(("members", Value::Array(members)));
    }
    let meta = meta(&view.row, format!("{base}/Groups/{id}"));
    render::render(rt, &id, view.row.doc, derived, &meta)
}

/// One resource, projected, with its `ETag` (and `Location` on creation).
fn resource_response(
    status: StatusCode,
    rt: &ResourceType,
    mut body: Map<String, Value>,
    version: i64,
    projection: &Projection,
) -> Response {
    let location = body
        .get("meta")
        .and_then(|m| m.get("location"))
        .and_then(Value::as_str)
        .map(str::to_string);
    if !projection.is_empty() || resource::hides_attributes(rt) {
        resource::project(rt, &mut body, &projection.attributes, &projection.excluded);
    }
    let mut res = scim_json(status, Value::Object(body));
    if let Ok(v) = HeaderValue::from_str(&render::etag(version)) {
        res.headers_mut().insert(header::ETAG, v);
    }
    if status == StatusCode::CREATED
        && let Some(v) = location.and_then(|l| HeaderValue::from_str(&l).ok())
    {
        res.headers_mut().insert(header::LOCATION, v);
    }
    res
}

/// A ListResponse; `render` gives each item's resource type (a search at the root mixes
/// them) and representation, which is then projected.
pub(super) fn list_response<T>(
    page: ListPage<T>,
    projection: &Projection,
    render: impl Fn(T) -> (&'static ResourceType, Map<String, Value>),
) -> Response {
    let resources: Vec<Value> = page
        .items
        .into_iter()
        .map(|item| {
            let (rt, mut body) = render(item);
            if !projection.is_empty() || resource::hides_attributes(rt) {
                resource::project(rt, &mut body, &projection.attributes, &projection.excluded);
            }
            Value::Object(body)
        })
        .collect();
    let mut body = Map::new();
    body.insert("schemas".into(), json!([LIST_RESPONSE_URN]));
    body.insert("totalResults".into(), json!(page.total));
    body.insert("itemsPerPage".into(), json!(resources.len()));
    match page.paging {
        Paging::Index => {
            body.insert("startIndex".into(), json!(page.start_index));
        }
        // RFC 9865 §3: `nextCursor` while more remain; `startIndex` means nothing here.
        Paging::Cursor { next } => {
            if let Some(next) = next {
                body.insert("nextCursor".into(), json!(next));
            }
        }
    }
    body.insert("Resources".into(), Value::Array(resources));
    scim_json(StatusCode::OK, Value::Object(body))
}

async fn user_response(
    st: &AppState,
    status: StatusCode,
    ctx: &Ctx,
    view: UserView,
    projection: &Projection,
) -> Handler {
    let rt = st.service.types(&ctx.caller).await?.user;
    let version = view.row.version;
    Ok(resource_response(
        status,
        rt,
        render_user(&ctx.base_url, rt, view),
        version,
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
    let version = view.row.version;
    Ok(resource_response(
        status,
        rt,
        render_group(&ctx.base_url, rt, view),
        version,
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
        (rt, render_user(&ctx.base_url, rt, v))
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
        (rt, render_group(&ctx.base_url, rt, v))
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
