//! The audit log: filtered by actor kind, resource and time range, paged newest first; each
//! event links to its resource.

use axum::Extension;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use chrono::{NaiveDate, TimeZone, Utc};
use maud::{Markup, html};
use serde::Deserialize;

use super::layout::{self, when};
use super::{account_path, error_page, with_query};
use crate::http::AppState;
use crate::service::audit::AuditFilter;
use crate::service::console::ConsoleSession;
use crate::service::records::AuditRecord;

/// Who made a change, as people say it.
pub(super) fn actor(e: &AuditRecord) -> Markup {
    html! {
        @match e.actor_kind.as_str() {
            "scim" => { "SCIM · " (layout::idp_name(e.actor_idp.as_deref().unwrap_or("scim"))) }
            "operator" => { "CLI · " (e.actor_name.as_deref().unwrap_or("operator")) }
            _ => { "Admin" }
        }
    }
}

#[derive(Deserialize, Default)]
pub(super) struct AuditQuery {
    #[serde(default)]
    actor: String,
    #[serde(default)]
    resource_type: String,
    #[serde(default)]
    resource_id: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    until: String,
    before: Option<String>,
}

fn day(raw: &str, what: &str) -> Result<Option<chrono::DateTime<Utc>>, crate::service::Error> {
    match raw.trim() {
        "" => Ok(None),
        d => NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|t| Some(Utc.from_utc_datetime(&t)))
            .ok_or_else(|| {
                crate::scim::ScimError::invalid_value(format!("{what} is a date like 2026-12-31, not {d:?}"))
                    .into()
            }),
    }
}

fn link(base: &str, q: &AuditQuery, before: &str) -> String {
    with_query(
        base,
        &[
            ("actor", &q.actor),
            ("resource_type", &q.resource_type),
            ("resource_id", &q.resource_id),
            ("from", &q.from),
            ("until", &q.until),
            ("before", before),
        ],
    )
}

fn resource_link(session: &ConsoleSession, e: &AuditRecord) -> Markup {
    let path = match (e.resource_type.as_str(), &e.resource_id) {
        ("User", Some(id)) => Some(format!("/users/{id}")),
        ("Group", Some(id)) => Some(format!("/groups/{id}")),
        ("Token", _) => Some("/tokens".to_string()),
        ("Account", _) => Some("/settings".to_string()),
        _ => None,
    };
    html! {
        @if let Some(p) = path {
            a href=(account_path(session, &p)) { (e.resource_type) @if let Some(id) = &e.resource_id { " " code { (id) } } }
        } @else {
            (e.resource_type) @if let Some(id) = &e.resource_id { " " code { (id) } }
        }
    }
}

pub(super) async fn list(
    State(st): State<AppState>,
    Extension(session): Extension<ConsoleSession>,
    Query(q): Query<AuditQuery>,
) -> Response {
    let base = account_path(&session, "/audit");
    let page = async {
        let until = day(&q.until, "until")?.map(|t| t + chrono::Days::new(1));
        let filter = AuditFilter {
            resource_type: Some(q.resource_type.trim().to_string()).filter(|s| !s.is_empty()),
            resource_id: Some(q.resource_id.trim().to_string()).filter(|s| !s.is_empty()),
            actor_kind: Some(q.actor.clone()).filter(|s| !s.is_empty()),
            from: day(&q.from, "from")?,
            until,
        };
        st.service
            .list_audit(&session.caller, filter, q.before.as_deref(), Some(50))
            .await
    };
    let page = match page.await {
        Ok(p) => p,
        Err(err) => return error_page(Some(&session), err, &base),
    };
    layout::page(
        Some(&session),
        "Audit log",
        "/audit",
        html! {
            h1 { "Audit log" }
            form.row method="get" action=(base) role="search" {
                div {
                    label for="actor" { "Actor" }
                    select #actor name="actor" {
                        @for (v, l) in [("", "Anyone"), ("scim", "SCIM (identity providers)"), ("admin", "Admins (console, admin API)"), ("operator", "CLI (operators)")] {
                            option value=(v) selected[q.actor == v] { (l) }
                        }
                    }
                }
                div {
                    label for="resource_type" { "Resource" }
                    select #resource_type name="resource_type" {
                        @for v in ["", "User", "Group", "Token", "Account", "RoleBinding", "OAuthClient", "Webhook", "Schema", "SetupLink"] {
                            option value=(v) selected[q.resource_type == v] { @if v.is_empty() { "Any" } @else { (v) } }
                        }
                    }
                }
                div {
                    label for="resource_id" { "Resource id" }
                    input #resource_id type="text" name="resource_id" value=(q.resource_id);
                }
                div { label for="from" { "From" } input #from type="date" name="from" value=(q.from); }
                div { label for="until" { "Until" } input #until type="date" name="until" value=(q.until); }
                button type="submit" { "Filter" }
            }
            table #audit {
                thead { tr { th scope="col" { "When" } th scope="col" { "Who" } th scope="col" { "Action" } th scope="col" { "Resource" } } }
                tbody {
                    @for e in &page.events {
                        tr {
                            td { @if let Some(at) = e.at { (when(at)) } }
                            td { (actor(e)) }
                            td { (e.action) }
                            td { (resource_link(&session, e)) }
                        }
                    }
                }
            }
            @if page.events.is_empty() { p { "No events match." } }
            p.pager {
                @if q.before.is_some() { a href=(link(&base, &q, "")) { "Newest" } }
                @if let Some(next) = page.next { a href=(link(&base, &q, &next.to_string())) rel="next" { "Older events" } }
            }
        },
    )
    .into_response()
}
