//! `POST /.search`, `POST /Users/.search`, `POST /Groups/.search` (RFC 7644 §3.4.3): a query
//! in a SearchRequest body instead of the query string, answered by the same list path as
//! `GET`. Query-string parameters on these requests are ignored: the body is the query.

use axum::extract::State;

use super::AppState;
use super::extract::{Ctx, Projection, ScimBody};
use super::resources::{Handler, groups_page, list_response, render_group, render_user, users_page};
use crate::scim::schema;
use crate::scim::search::{SearchRequest, parse_search_request};
use crate::service::ListParams;
use crate::service::search::Found;

fn split(req: SearchRequest) -> (ListParams, Projection) {
    (
        ListParams {
            filter: req.filter,
            sort_by: req.sort_by,
            sort_order: req.sort_order,
            start_index: req.start_index,
            count: req.count,
            cursor: req.cursor,
        },
        Projection {
            attributes: req.attributes,
            excluded: req.excluded_attributes,
        },
    )
}

pub async fn search_users(State(st): State<AppState>, ctx: Ctx, ScimBody(body): ScimBody) -> Handler {
    let (list, projection) = split(parse_search_request(&body)?);
    users_page(&st, &ctx, &list, &projection).await
}

pub async fn search_groups(State(st): State<AppState>, ctx: Ctx, ScimBody(body): ScimBody) -> Handler {
    let (list, projection) = split(parse_search_request(&body)?);
    groups_page(&st, &ctx, &list, &projection).await
}

/// Users and Groups in one ListResponse (see `service::search` for how it pages).
pub async fn search_root(State(st): State<AppState>, ctx: Ctx, ScimBody(body): ScimBody) -> Handler {
    let (list, projection) = split(parse_search_request(&body)?);
    let page = st
        .service
        .search_root(&ctx.caller, &list, projection.shows("members"))
        .await?;
    Ok(list_response(page, &projection, |found| match found {
        Found::User(v) => (&schema::USER, render_user(&ctx.base_url, v)),
        Found::Group(v) => (&schema::GROUP, render_group(&ctx.base_url, v)),
    }))
}
