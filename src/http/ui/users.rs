//! Users: search, filters by source and IdP management (R9), detail with groups and audit
//! trail, and native users created, edited and deleted (what R3 locks shown read-only, with
//! its reason).

use axum::Extension;
use axum::extract::{Form, Path, Query, State};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::Value;

use super::layout::{self, csrf, lock, managed_badge, source_badge, when};
use super::{account_path, error_page, see_other, with_query};
use crate::http::AppState;
use crate::scim::list::ListRequest;
use crate::scim::search::SearchRequest;
use crate::service::Precondition;
use crate::service::admin::{NativeUser, UserChanges, user_locks};
use crate::service::audit::AuditFilter;
use crate::service::console::ConsoleSession;
use crate::service::lists::Paging;
use crate::service::records::{AdminFilter, AuditRecord};

/// Rows per page of the console's lists.
pub(super) const PAGE: i64 = 50;

#[derive(Deserialize, Default)]
pub(super) struct ListQuery {
    #[serde(default)]
    pub q: String,
    #[serde(default)]
    pub field: String,
    #[serde(default)]
    pub source: String,
    #[serde(default)]
    pub managed: String,
    pub cursor: Option<String>,
}

/// A SCIM string literal (JSON's), so any text searched for is taken as text.
pub(super) fn literal(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| "\"\"".into())
}

/// The list request of a page: a prefix search on one indexed attribute, cursor paging (each
/// page a range read, however deep).
pub(super) fn list_request(
    st: &AppState,
    filter: Option<String>,
    cursor: Option<String>,
) -> Result<ListRequest, crate::service::Error> {
    Ok(ListRequest::from_search(
        SearchRequest {
            filter,
            count: Some(PAGE),
            cursor: Some(cursor.unwrap_or_default()),
            ..SearchRequest::default()
        },
        st.service.settings().max_results,
    )?)
}

pub(super) fn admin_filter(q: &ListQuery) -> AdminFilter {
    AdminFilter {
        source: Some(q.source.clone()).filter(|s| !s.is_empty()),
        idp_managed: match q.managed.as_str() {
            "yes" => Some(true),
            "no" => Some(false),
            _ => None,
        },
        idp_groups_only: false,
    }
}

/// The URL of the same list at another cursor.
pub(super) fn page_link(base: &str, q: &ListQuery, cursor: Option<&str>) -> String {
    with_query(
        base,
        &[
            ("q", &q.q),
            ("field", &q.field),
            ("source", &q.source),
            ("managed", &q.managed),
            ("cursor", cursor.unwrap_or_default()),
        ],
    )
}

pub(super) fn source_filters(q: &ListQuery) -> Markup {
    html! {
        div {
            label for="source" { "Source" }
            select #source name="source" {
                @for (v, l) in [("", "Any"), ("manual", "Native"), ("okta", "Okta"), ("entra", "Entra ID"), ("onelogin", "OneLogin"), ("scim", "Other SCIM")] {
                    option value=(v) selected[q.source == v] { (l) }
                }
            }
        }
        div {
            label for="managed" { "Managed by an IdP" }
            select #managed name="managed" {
                @for (v, l) in [("", "Either"), ("yes", "Yes"), ("no", "No")] {
                    option value=(v) selected[q.managed == v] { (l) }
                }
            }
        }
    }
}

pub(super) fn pager(base: &str, q: &ListQuery, total: i64, shown: usize, paging: &Paging) -> Markup {
    html! {
        p.pager {
            span { (shown) " shown of " (total) }
            @if q.cursor.as_deref().is_some_and(|c| !c.is_empty()) {
                a href=(page_link(base, q, None)) { "First page" }
            }
            @if let Paging::Cursor { next: Some(next) } = paging {
                a href=(page_link(base, q, Some(next))) rel="next" { "Next page" }
            }
        }
    }
}

fn text<'a>(doc: &'a serde_json::Map<String, Value>, key: &str) -> &'a str {
    doc.get(key).and_then(Value::as_str).unwrap_or("")
}

fn name_part<'a>(doc: &'a serde_json::Map<String, Value>, key: &str) -> &'a str {
    doc.get("name")
        .and_then(|n| n.get(key))
        .and_then(Value::as_str)
        .unwrap_or("")
}

fn email(doc: &serde_json::Map<String, Value>) -> &str {
    crate::scim::resource::primary_email(doc).unwrap_or("")
}

fn active(doc: &serde_json::Map<String, Value>) -> bool {
    doc.get("active") != Some(&Value::Bool(false))
}

pub(super) async fn list(
    State(st): State<AppState>,
    Extension(session): Extension<ConsoleSession>,
    Query(q): Query<ListQuery>,
) -> Response {
    let base = account_path(&session, "/users");
    let filter = match q.q.trim() {
        "" => None,
        text => Some(match q.field.as_str() {
            "email" => format!("emails.value sw {}", literal(text)),
            "name" => format!("displayName sw {}", literal(text)),
            _ => format!("userName sw {}", literal(text)),
        }),
    };
    let page = async {
        let req = list_request(&st, filter, q.cursor.clone())?;
        st.service
            .list_users_where(&session.caller, &req, &admin_filter(&q))
            .await
    };
    let page = match page.await {
        Ok(p) => p,
        Err(err) => return error_page(Some(&session), err, &base),
    };
    layout::page(
        Some(&session),
        "Users",
        "/users",
        html! {
            h1 { "Users" }
            p { a.button href=(account_path(&session, "/users/new")) { "New native user" } }
            form.row method="get" action=(base) role="search" {
                div {
                    label for="q" { "Starts with" }
                    input #q type="search" name="q" value=(q.q);
                }
                div {
                    label for="field" { "In" }
                    select #field name="field" {
                        @for (v, l) in [("userName", "userName"), ("email", "Email"), ("name", "Display name")] {
                            option value=(v) selected[q.field == v] { (l) }
                        }
                    }
                }
                (source_filters(&q))
                button type="submit" { "Search" }
            }
            table #users {
                thead { tr { th scope="col" { "userName" } th scope="col" { "Name" } th scope="col" { "Email" } th scope="col" { "Source" } th scope="col" { "State" } } }
                tbody {
                    @for u in &page.items {
                        @let doc = &u.row.doc;
                        tr data-user=(u.row.id) {
                            td { a href=(account_path(&session, &format!("/users/{}", u.row.id))) { (text(doc, "userName")) } }
                            td { (text(doc, "displayName")) }
                            td { (email(doc)) }
                            td { (source_badge(&u.row.source)) (managed_badge(&u.row.source, u.row.idp_managed)) }
                            td { @if active(doc) { span.badge.active { "Active" } } @else { span.badge.inactive { "Inactive" } } }
                        }
                    }
                }
            }
            @if page.items.is_empty() { p { "No users match." } }
            (pager(&base, &q, page.total, page.items.len(), &page.paging))
        },
    )
    .into_response()
}

/// The audit trail of one resource, newest first.
pub(super) fn trail(events: &[AuditRecord]) -> Markup {
    html! {
        @if events.is_empty() {
            p { "No recorded changes." }
        } @else {
            table.trail {
                thead { tr { th scope="col" { "When" } th scope="col" { "Who" } th scope="col" { "What" } } }
                tbody {
                    @for e in events {
                        tr {
                            td { @if let Some(at) = e.at { (when(at)) } }
                            td { (super::audit::actor(e)) }
                            td { (e.action) }
                        }
                    }
                }
            }
        }
    }
}

/// A text field, read-only with the lock's reason when R3 locks it.
fn field(id: &str, label: &str, value: &str, locked: Option<&String>, kind: &str) -> Markup {
    html! {
        label for=(id) { (label) }
        @if let Some(reason) = locked {
            input id=(id) type=(kind) name=(id) value=(value) readonly aria-describedby={ (id) "-lock" };
            p.hint id={ (id) "-lock" } { (lock()) " " (reason) }
        } @else {
            input id=(id) type=(kind) name=(id) value=(value);
        }
    }
}

pub(super) async fn detail(
    State(st): State<AppState>,
    Extension(session): Extension<ConsoleSession>,
    Path((_, id)): Path<(String, String)>,
) -> Response {
    let back = account_path(&session, "/users");
    let loaded = async {
        let view = st.service.get_user(&session.caller, &id).await?;
        let trail = st
            .service
            .list_audit(
                &session.caller,
                AuditFilter {
                    resource_type: Some("User".into()),
                    resource_id: Some(view.row.id.to_string()),
                    ..Default::default()
                },
                None,
                Some(20),
            )
            .await?;
        Ok::<_, crate::service::Error>((view, trail.events))
    };
    let (view, events) = match loaded.await {
        Ok(v) => v,
        Err(err) => return error_page(Some(&session), err, &back),
    };
    let locks = user_locks(&view);
    let doc = &view.row.doc;
    let here = account_path(&session, &format!("/users/{}", view.row.id));
    let identity_or_details = locks.identity.as_ref().or(locks.details.as_ref());
    layout::page(
        Some(&session),
        text(doc, "userName"),
        "/users",
        html! {
            p { a href=(back) { "← Users" } }
            h1 { (text(doc, "userName")) }
            p { (source_badge(&view.row.source)) (managed_badge(&view.row.source, view.row.idp_managed))
                @if active(doc) { span.badge.active { "Active" } } @else { span.badge.inactive { "Inactive" } } }
            dl.facts {
                dt { "id" } dd { code { (view.row.id) } }
                dt { "externalId" } dd { (text(doc, "externalId")) }
                dt { "Created" } dd { (when(view.row.created_at)) }
                dt { "Last modified" } dd { (when(view.row.last_modified)) }
            }
            h2 { "Details" }
            form.stack method="post" action=(here) {
                (csrf(&session))
                input type="hidden" name="version" value=(view.row.version);
                (field("user_name", "userName", text(doc, "userName"), locks.identity.as_ref(), "text"))
                (field("email", "Email", email(doc), identity_or_details, "email"))
                (field("given_name", "Given name", name_part(doc, "givenName"), locks.details.as_ref(), "text"))
                (field("family_name", "Family name", name_part(doc, "familyName"), locks.details.as_ref(), "text"))
                (field("display_name", "Display name", text(doc, "displayName"), locks.details.as_ref(), "text"))
                div {
                    @if let Some(reason) = &locks.active {
                        input #active type="checkbox" name="active" value="true" checked[active(doc)] disabled aria-describedby="active-lock";
                        " " label for="active" { "Active" }
                        input type="hidden" name="active" value=(if active(doc) { "true" } else { "" });
                        p.hint #active-lock { (lock()) " " (reason) }
                    } @else {
                        input #active type="checkbox" name="active" value="true" checked[active(doc)];
                        " " label for="active" { "Active" }
                    }
                }
                button type="submit" { "Save" }
            }
            h2 { "Groups" }
            @if view.groups.is_empty() { p { "In no group." } } @else {
                ul { @for g in &view.groups {
                    li { a href=(account_path(&session, &format!("/groups/{}", g.group_id))) { (g.display_name) }
                         @if g.idp_managed { " " span.badge.locked { (lock()) " IdP group" } } }
                } }
            }
            h2 { "Delete" }
            @if let Some(reason) = &locks.delete {
                p.hint { (lock()) " " (reason) }
            } @else {
                details.confirm {
                    summary { "Delete this user…" }
                    form method="post" action={ (here) "/delete" } {
                        (csrf(&session))
                        p { "The user is removed from every group. This cannot be undone." }
                        button.danger type="submit" { "Delete user" }
                    }
                }
            }
            h2 { "Audit trail" }
            (trail(&events))
        },
    )
    .into_response()
}

pub(super) async fn new_form(Extension(session): Extension<ConsoleSession>) -> Response {
    layout::page(
        Some(&session),
        "New user",
        "/users",
        html! {
            p { a href=(account_path(&session, "/users")) { "← Users" } }
            h1 { "New native user" }
            form.stack method="post" action=(account_path(&session, "/users")) {
                (csrf(&session))
                label for="user_name" { "userName" }
                input #user_name type="text" name="user_name" required;
                label for="email" { "Email" }
                input #email type="email" name="email";
                label for="given_name" { "Given name" }
                input #given_name type="text" name="given_name";
                label for="family_name" { "Family name" }
                input #family_name type="text" name="family_name";
                label for="display_name" { "Display name" }
                input #display_name type="text" name="display_name";
                button type="submit" { "Create user" }
            }
        },
    )
    .into_response()
}

#[derive(Deserialize)]
pub(super) struct UserForm {
    #[serde(default)]
    user_name: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    given_name: Option<String>,
    #[serde(default)]
    family_name: Option<String>,
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default)]
    active: Option<String>,
    #[serde(default)]
    version: Option<i64>,
}

fn given(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

pub(super) async fn create(
    State(st): State<AppState>,
    Extension(session): Extension<ConsoleSession>,
    Form(form): Form<UserForm>,
) -> Response {
    let input = NativeUser {
        user_name: given(&form.user_name).unwrap_or_default(),
        email: given(&form.email),
        given_name: given(&form.given_name),
        family_name: given(&form.family_name),
        display_name: given(&form.display_name),
        active: None,
    };
    match st.service.admin_create_user(&session.caller, input).await {
        Ok(view) => see_other(&account_path(&session, &format!("/users/{}", view.row.id))),
        Err(err) => error_page(Some(&session), err, &account_path(&session, "/users/new")),
    }
}

/// Saves the fields that changed, so a field R3 locks, shown read-only, is not sent as a change.
pub(super) async fn update(
    State(st): State<AppState>,
    Extension(session): Extension<ConsoleSession>,
    Path((_, id)): Path<(String, String)>,
    Form(form): Form<UserForm>,
) -> Response {
    let here = account_path(&session, &format!("/users/{id}"));
    let result = async {
        let view = st.service.get_user(&session.caller, &id).await?;
        let doc = &view.row.doc;
        let changed = |new: &Option<String>, old: &str| {
            new.as_deref()
                .map(str::trim)
                .filter(|n| *n != old)
                .map(str::to_string)
        };
        let changes = UserChanges {
            user_name: changed(&form.user_name, text(doc, "userName")),
            email: changed(&form.email, email(doc)),
            given_name: changed(&form.given_name, name_part(doc, "givenName")),
            family_name: changed(&form.family_name, name_part(doc, "familyName")),
            display_name: changed(&form.display_name, text(doc, "displayName")),
            active: Some(form.active.as_deref() == Some("true")).filter(|a| *a != active(doc)),
        };
        let pre = Precondition {
            if_match: form.version.map(crate::scim::render::etag),
        };
        st.service
            .admin_update_user(&session.caller, &id, changes, &pre, false)
            .await
    };
    match result.await {
        Ok(_) => see_other(&here),
        Err(err) => error_page(Some(&session), err, &here),
    }
}

pub(super) async fn delete(
    State(st): State<AppState>,
    Extension(session): Extension<ConsoleSession>,
    Path((_, id)): Path<(String, String)>,
) -> Response {
    match st
        .service
        .admin_delete_user(&session.caller, &id, &Precondition::default(), false)
        .await
    {
        Ok(()) => see_other(&account_path(&session, "/users")),
        Err(err) => error_page(
            Some(&session),
            err,
            &account_path(&session, &format!("/users/{id}")),
        ),
    }
}
