//! `POST /.search`, `POST /Users/.search`, `POST /Groups/.search` (RFC 7644 §3.4.3): a query
//! in a SearchRequest body instead of the query string, answered by the same list path as
//! `GET`. Query-string parameters on these requests are ignored: the body is the query.

use axum::extract::State;

use super::AppState;
use super::extract::{Ctx, ScimBody};
use super::resources::{Handler, groups_page, list_response, render_group, render_user, users_page};
use crate::scim::list::ListRequest;
use crate::service::search::Found;

fn parse(st: &AppState, body: &serde_json::Value) -> Result<ListRequest, crate::scim::ScimError> {
    ListRequest::from_search_body(body, st.service.settings().max_results)
}

pub async fn search_users(State(st): State<AppState>, ctx: Ctx, ScimBody(body): ScimBody) -> Handler {
    let list = parse(&st, &body)?;
    users_page(&st, &ctx, &list).await
}

pub async fn search_groups(State(st): State<AppState>, ctx: Ctx, ScimBody(body): ScimBody) -> Handler {
    let list = parse(&st, &body)?;
    groups_page(&st, &ctx, &list).await
}

/// Users and Groups in one ListResponse (see `service::search` for how it pages).
pub async fn search_root(State(st): State<AppState>, ctx: Ctx, ScimBody(body): ScimBody) -> Handler {
    let list = parse(&st, &body)?;
    let page = st
        .service
        .search_root(&ctx.caller, &list, list.projection.shows("members"))
        .await?;
    let types = st.service.types(&ctx.caller).await?;
    Ok(list_response(page, &list.projection, |found| match found {
        Found::User(v) => render_user(&ctx.base_url, types.user, v),
        Found::Group(v) => render_group(&ctx.base_url, types.group, v),
    }))
}
