//! Groups: search, filters, detail with identifier (R1), members (add and remove on native
//! groups), role bindings (on any group), rename and delete — what R3 forbids answered with its
//! message by the service.

use axum::Extension;
use axum::extract::{Form, Path, Query, State};
use axum::response::{IntoResponse, Response};
use maud::html;
use serde::Deserialize;
use serde_json::Value;

use super::layout::{self, csrf, lock, managed_badge, source_badge};
use super::users::{ListQuery, admin_filter, list_request, literal, pager, source_filters, trail};
use super::{account_path, error_page, see_other};
use crate::http::AppState;
use crate::service::Precondition;
use crate::service::admin::group_locks;
use crate::service::audit::AuditFilter;
use crate::service::console::ConsoleSession;

/// Members shown on a group's page; the rest are counted, not listed.
const MEMBERS_SHOWN: usize = 200;

fn name(doc: &serde_json::Map<String, Value>) -> &str {
    doc.get("displayName").and_then(Value::as_str).unwrap_or("")
}

pub(super) async fn list(
    State(st): State<AppState>,
    Extension(session): Extension<ConsoleSession>,
    Query(q): Query<ListQuery>,
) -> Response {
    let base = account_path(&session, "/groups");
    let filter = Some(q.q.trim())
        .filter(|t| !t.is_empty())
        .map(|t| format!("displayName sw {}", literal(t)));
    let page = async {
        let req = list_request(&st, filter, q.cursor.clone())?;
        st.service
            .list_groups_where(&session.caller, &req, false, &admin_filter(&q))
            .await
    };
    let page = match page.await {
        Ok(p) => p,
        Err(err) => return error_page(Some(&session), err, &base),
    };
    layout::page(
        Some(&session),
        "Groups",
        "/groups",
        html! {
            h1 { "Groups" }
            form.row method="post" action=(base) {
                (csrf(&session))
                div {
                    label for="new-group" { "New native group" }
                    input #new-group type="text" name="name" required;
                }
                button type="submit" { "Create group" }
            }
            form.row method="get" action=(base) role="search" {
                div {
                    label for="q" { "Name starts with" }
                    input #q type="search" name="q" value=(q.q);
                }
                (source_filters(&q))
                button type="submit" { "Search" }
            }
            table #groups {
                thead { tr { th scope="col" { "Name" } th scope="col" { "Identifier" } th scope="col" { "Source" } } }
                tbody {
                    @for g in &page.items {
                        tr data-group=(g.row.id) {
                            td { a href=(account_path(&session, &format!("/groups/{}", g.row.id))) { (name(&g.row.doc)) } }
                            td { code { (g.row.identifier.as_deref().unwrap_or("")) } }
                            td { (source_badge(&g.row.source)) (managed_badge(&g.row.source, g.row.idp_managed)) }
                        }
                    }
                }
            }
            @if page.items.is_empty() { p { "No groups match." } }
            (pager(&base, &q, page.total, page.items.len(), &page.paging))
        },
    )
    .into_response()
}

#[derive(Deserialize)]
pub(super) struct NameForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    version: Option<i64>,
}

pub(super) async fn create(
    State(st): State<AppState>,
    Extension(session): Extension<ConsoleSession>,
    Form(form): Form<NameForm>,
) -> Response {
    match st
        .service
        .admin_create_group(&session.caller, form.name.trim())
        .await
    {
        Ok(view) => see_other(&account_path(&session, &format!("/groups/{}", view.row.id))),
        Err(err) => error_page(Some(&session), err, &account_path(&session, "/groups")),
    }
}

pub(super) async fn detail(
    State(st): State<AppState>,
    Extension(session): Extension<ConsoleSession>,
    Path((_, id)): Path<(String, String)>,
) -> Response {
    let back = account_path(&session, "/groups");
    let loaded = async {
        let view = st.service.admin_group_members(&session.caller, &id).await?;
        let bindings = st.service.list_role_bindings(&session.caller, Some(&id)).await?;
        let trail = st
            .service
            .list_audit(
                &session.caller,
                AuditFilter {
                    resource_type: Some("Group".into()),
                    resource_id: Some(view.row.id.to_string()),
                    ..Default::default()
                },
                None,
                Some(20),
            )
            .await?;
        Ok::<_, crate::service::Error>((view, bindings, trail.events))
    };
    let (view, bindings, events) = match loaded.await {
        Ok(v) => v,
        Err(err) => return error_page(Some(&session), err, &back),
    };
    let locks = group_locks(&view.row);
    let here = account_path(&session, &format!("/groups/{}", view.row.id));
    let members = view.members.as_deref().unwrap_or_default();
    layout::page(
        Some(&session),
        name(&view.row.doc),
        "/groups",
        html! {
            p { a href=(back) { "← Groups" } }
            h1 #group-name { (name(&view.row.doc)) }
            p { (source_badge(&view.row.source)) (managed_badge(&view.row.source, view.row.idp_managed)) }
            dl.facts {
                dt { "Identifier" } dd { code #group-identifier { (view.row.identifier.as_deref().unwrap_or("")) } }
                dt { "id" } dd { code { (view.row.id) } }
                dt { "Members" } dd { (members.len()) }
            }
            p.hint { "The identifier is made once from the first name and never changes (R1): role bindings and your application refer to it." }
            h2 { "Name" }
            @if let Some(reason) = &locks.rename {
                p.hint { (lock()) " " (reason) }
            } @else {
                form.row method="post" action=(here) {
                    (csrf(&session))
                    input type="hidden" name="version" value=(view.row.version);
                    div {
                        label for="rename" { "Display name" }
                        input #rename type="text" name="name" value=(name(&view.row.doc)) required;
                    }
                    button type="submit" { "Rename" }
                }
            }
            h2 { "Members" }
            @if let Some(reason) = &locks.members {
                p.hint { (lock()) " " (reason) }
            } @else {
                form.row method="post" action={ (here) "/members" } {
                    (csrf(&session))
                    div {
                        label for="member" { "Add a user by userName" }
                        input #member type="text" name="user_name" required;
                    }
                    button type="submit" { "Add member" }
                }
            }
            @if members.is_empty() { p { "No members." } } @else {
                table #members {
                    thead { tr { th scope="col" { "Member" } th scope="col" { "Type" } @if locks.members.is_none() { th scope="col" { "Actions" } } } }
                    tbody {
                        @for m in members.iter().take(MEMBERS_SHOWN) {
                            tr {
                                td { @if m.member_type == "User" {
                                    a href=(account_path(&session, &format!("/users/{}", m.member_id))) { (m.display.as_deref().unwrap_or("(unnamed)")) }
                                } @else { (m.display.as_deref().unwrap_or("(unnamed)")) } }
                                td { (m.member_type) }
                                @if locks.members.is_none() {
                                    td { form.inline method="post" action={ (here) "/members/" (m.member_id) "/remove" } {
                                        (csrf(&session))
                                        button.secondary type="submit" aria-label={ "Remove " (m.display.as_deref().unwrap_or("member")) } { "Remove" }
                                    } }
                                }
                            }
                        }
                    }
                }
                @if members.len() > MEMBERS_SHOWN { p.hint { "The first " (MEMBERS_SHOWN) " of " (members.len()) " members are shown." } }
            }
            h2 { "Role bindings" }
            @if bindings.is_empty() { p { "No role bindings." } } @else {
                table #bindings {
                    thead { tr { th scope="col" { "Role" } th scope="col" { "Resource group" } th scope="col" { "Actions" } } }
                    tbody { @for b in &bindings {
                        tr { td { (b.role) } td { (b.resource_group) }
                             td { form.inline method="post" action={ (here) "/bindings/" (b.id) "/delete" } {
                                 (csrf(&session))
                                 button.secondary type="submit" aria-label={ "Delete binding " (b.role) " on " (b.resource_group) } { "Delete" }
                             } } }
                    } }
                }
            }
            form.row method="post" action={ (here) "/bindings" } {
                (csrf(&session))
                div { label for="role" { "Role" } input #role type="text" name="role" required; }
                div { label for="resource_group" { "Resource group" } input #resource_group type="text" name="resource_group" required; }
                button type="submit" { "Add role binding" }
            }
            h2 { "Delete" }
            details.confirm {
                summary { "Delete this group…" }
                form method="post" action={ (here) "/delete" } {
                    (csrf(&session))
                    @if let Some(reason) = &locks.delete { p.hint { (lock()) " " (reason) } }
                    p { "Its memberships and role bindings go with it." }
                    button.danger #delete-group type="submit" { "Delete group" }
                }
            }
            h2 { "Audit trail" }
            (trail(&events))
        },
    )
    .into_response()
}

pub(super) async fn rename(
    State(st): State<AppState>,
    Extension(session): Extension<ConsoleSession>,
    Path((_, id)): Path<(String, String)>,
    Form(form): Form<NameForm>,
) -> Response {
    let here = account_path(&session, &format!("/groups/{id}"));
    let pre = Precondition {
        if_match: form.version.map(crate::scim::render::etag),
    };
    match st
        .service
        .admin_rename_group(&session.caller, &id, form.name.trim(), &pre, false)
        .await
    {
        Ok(_) => see_other(&here),
        Err(err) => error_page(Some(&session), err, &here),
    }
}

/// Deleting is offered on every group: an IdP-managed one is refused by the service with R3's
/// message ("Cannot delete a group imported from SCIM"), shown as the answer.
pub(super) async fn delete(
    State(st): State<AppState>,
    Extension(session): Extension<ConsoleSession>,
    Path((_, id)): Path<(String, String)>,
) -> Response {
    match st
        .service
        .admin_delete_group(&session.caller, &id, &Precondition::default(), false)
        .await
    {
        Ok(()) => see_other(&account_path(&session, "/groups")),
        Err(err) => error_page(
            Some(&session),
            err,
            &account_path(&session, &format!("/groups/{id}")),
        ),
    }
}

#[derive(Deserialize)]
pub(super) struct MemberForm {
    #[serde(default)]
    user_name: String,
}

pub(super) async fn add_member(
    State(st): State<AppState>,
    Extension(session): Extension<ConsoleSession>,
    Path((_, id)): Path<(String, String)>,
    Form(form): Form<MemberForm>,
) -> Response {
    let here = account_path(&session, &format!("/groups/{id}"));
    let added = async {
        let req = list_request(
            &st,
            Some(format!("userName eq {}", literal(form.user_name.trim()))),
            None,
        )?;
        let found = st
            .service
            .list_users_where(&session.caller, &req, &Default::default())
            .await?;
        let user = found.items.first().ok_or_else(|| {
            crate::service::Error::NotFound(format!("no user has the userName {:?}", form.user_name.trim()))
        })?;
        st.service
            .admin_add_members(&session.caller, &id, &[user.row.id.to_string()], false)
            .await
    };
    match added.await {
        Ok(_) => see_other(&here),
        Err(err) => error_page(Some(&session), err, &here),
    }
}

pub(super) async fn remove_member(
    State(st): State<AppState>,
    Extension(session): Extension<ConsoleSession>,
    Path((_, id, user)): Path<(String, String, String)>,
) -> Response {
    let here = account_path(&session, &format!("/groups/{id}"));
    match st.service.admin_remove_member(&session.caller, &id, &user).await {
        Ok(()) => see_other(&here),
        Err(err) => error_page(Some(&session), err, &here),
    }
}

#[derive(Deserialize)]
pub(super) struct BindingForm {
    #[serde(default)]
    role: String,
    #[serde(default)]
    resource_group: String,
}

pub(super) async fn add_binding(
    State(st): State<AppState>,
    Extension(session): Extension<ConsoleSession>,
    Path((_, id)): Path<(String, String)>,
    Form(form): Form<BindingForm>,
) -> Response {
    let here = account_path(&session, &format!("/groups/{id}"));
    match st
        .service
        .add_role_binding(&session.caller, &id, form.role.trim(), form.resource_group.trim())
        .await
    {
        Ok(_) => see_other(&here),
        Err(err) => error_page(Some(&session), err, &here),
    }
}

pub(super) async fn delete_binding(
    State(st): State<AppState>,
    Extension(session): Extension<ConsoleSession>,
    Path((_, id, binding)): Path<(String, String, String)>,
) -> Response {
    let here = account_path(&session, &format!("/groups/{id}"));
    match st
        .service
        .delete_role_binding(&session.caller, &id, &binding)
        .await
    {
        Ok(()) => see_other(&here),
        Err(err) => error_page(Some(&session), err, &here),
    }
}
