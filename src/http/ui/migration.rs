//! Migration (R10): download the export; upload two exports (or one, to compare with the
//! account as it is now) and read the comparison as tables.

use axum::Extension;
use axum::extract::{Multipart, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};

use super::layout::{self, csrf};
use super::session::{csrf_ok, forged};
use super::{account_path, error_page};
use crate::http::AppState;
use crate::service::console::ConsoleSession;
use crate::service::export::{Comparison, Export};

fn form(session: &ConsoleSession) -> Markup {
    html! {
        form.stack method="post" action=(account_path(session, "/migration/compare")) enctype="multipart/form-data" {
            (csrf(session))
            label for="before" { "Export taken before (JSON or CSV)" }
            input #before type="file" name="before" accept=".json,.csv,application/json,text/csv" required;
            label for="after" { "Export taken after (leave empty to compare with the account as it is now)" }
            input #after type="file" name="after" accept=".json,.csv,application/json,text/csv";
            button #compare type="submit" { "Compare" }
        }
    }
}

pub(super) async fn page(Extension(session): Extension<ConsoleSession>) -> Response {
    layout::page(
        Some(&session),
        "Migration",
        "/migration",
        html! {
            h1 { "Migration check" }
            p { "Before you move this account to an identity provider (or between them), download an export. Afterwards, compare it with a second export — or with the account as it is — to see who went missing, who was duplicated, and which memberships and role bindings were lost." }
            h2 { "1. Download an export" }
            p {
                a.button href=(account_path(&session, "/migration/export.json")) download="scimd-export.json" { "Export as JSON" }
                " "
                a.button href=(account_path(&session, "/migration/export.csv")) download="scimd-export.csv" { "Export as CSV" }
            }
            h2 { "2. Compare" }
            (form(&session))
        },
    )
    .into_response()
}

async fn exported(st: &AppState, session: &ConsoleSession) -> Result<Export, Response> {
    st.service
        .export(&session.caller)
        .await
        .map_err(|err| error_page(Some(session), err, &account_path(session, "/migration")))
}

fn attachment(kind: &'static str, name: &'static str, body: String) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, kind), (header::CONTENT_DISPOSITION, name)],
        body,
    )
        .into_response()
}

pub(super) async fn export_json(
    State(st): State<AppState>,
    Extension(session): Extension<ConsoleSession>,
) -> Response {
    match exported(&st, &session).await {
        Ok(e) => attachment(
            "application/json",
            "attachment; filename=\"scimd-export.json\"",
            serde_json::to_string_pretty(&e).unwrap_or_default(),
        ),
        Err(res) => res,
    }
}

pub(super) async fn export_csv(
    State(st): State<AppState>,
    Extension(session): Extension<ConsoleSession>,
) -> Response {
    match exported(&st, &session).await {
        Ok(e) => attachment(
            "text/csv; charset=utf-8",
            "attachment; filename=\"scimd-export.csv\"",
            e.to_csv(),
        ),
        Err(res) => res,
    }
}

fn report(c: &Comparison) -> Markup {
    html! {
        @if c.clean {
            div.alert.ok role="status" #compare-clean { p { "Nothing was lost: no user missing or duplicated, no membership or role binding lost." } }
        } @else {
            div.alert.warn role="status" #compare-problems { p { "The comparison found what is listed below." } }
        }
        p { (c.users_added) " users and " (c.groups_added) " groups were added; " (c.users_now_idp_managed) " users are now managed by an identity provider." }
        h2 { "Missing users (" (c.users_missing.len()) ")" }
        @if !c.users_missing.is_empty() {
            table #missing-users { thead { tr { th scope="col" { "userName" } th scope="col" { "Email" } th scope="col" { "id" } } }
                tbody { @for u in &c.users_missing { tr { td { (u.user_name) } td { (u.email.as_deref().unwrap_or("")) } td { code { (u.id) } } } } } }
        }
        h2 { "Missing groups (" (c.groups_missing.len()) ")" }
        @if !c.groups_missing.is_empty() {
            table { thead { tr { th scope="col" { "Name" } th scope="col" { "Identifier" } } }
                tbody { @for g in &c.groups_missing { tr { td { (g.display_name) } td { code { (g.identifier) } } } } } }
        }
        h2 { "Duplicate users (" (c.duplicate_users.len()) ")" }
        @if !c.duplicate_users.is_empty() {
            table { thead { tr { th scope="col" { "Why" } th scope="col" { "Users" } } }
                tbody { @for d in &c.duplicate_users { tr { td { (d.reason) } td { @for u in &d.users { (u.user_name) " " } } } } } }
        }
        h2 { "Duplicate groups (" (c.duplicate_groups.len()) ")" }
        @if !c.duplicate_groups.is_empty() {
            ul { @for set in &c.duplicate_groups { li { @for g in set { (g.display_name) " (" code { (g.identifier) } ") " } } } }
        }
        h2 { "Lost memberships (" (c.memberships_lost.len()) ")" }
        @if !c.memberships_lost.is_empty() {
            table #lost-memberships { thead { tr { th scope="col" { "Group" } th scope="col" { "User" } } }
                tbody { @for m in &c.memberships_lost { tr { td { code { (m.group_identifier) } } td { (m.user_name) } } } } }
        }
        h2 { "Lost role bindings (" (c.role_bindings_lost.len()) ")" }
        @if !c.role_bindings_lost.is_empty() {
            table { thead { tr { th scope="col" { "Group" } th scope="col" { "Role" } th scope="col" { "Resource group" } } }
                tbody { @for b in &c.role_bindings_lost { tr { td { code { (b.group_identifier) } } td { (b.role) } td { (b.resource_group) } } } } }
        }
        @if !c.extension_data_lost.is_empty() {
            h2 { "Lost extension data (" (c.extension_data_lost.len()) ")" }
            table { thead { tr { th scope="col" { "Resource" } th scope="col" { "Name" } th scope="col" { "Schema" } th scope="col" { "Attribute" } } }
                tbody { @for x in &c.extension_data_lost { tr { td { (x.resource_type) } td { (x.name) } td { code { (x.schema) } } td { (x.attribute) } } } } }
        }
    }
}

/// The upload: `csrf`, `before` and optionally `after`, as multipart (files). The session
/// middleware reads only url-encoded forms, so the anti-forgery field is checked here, before
/// anything else of the body is used.
pub(super) async fn compare(
    State(st): State<AppState>,
    Extension(session): Extension<ConsoleSession>,
    mut multipart: Multipart,
) -> Response {
    let back = account_path(&session, "/migration");
    let bad = |detail: String| {
        error_page(
            Some(&session),
            crate::scim::ScimError::invalid_value(detail),
            &back,
        )
    };
    let (mut token, mut before, mut after) = (None, None, None);
    loop {
        match multipart.next_field().await {
            Ok(Some(field)) => {
                let name = field.name().unwrap_or_default().to_string();
                let text = match field.text().await {
                    Ok(t) => t,
                    Err(e) => return bad(format!("could not read the upload: {e}")),
                };
                match name.as_str() {
                    "csrf" => token = Some(text),
                    "before" => before = Some(text),
                    "after" => after = Some(text).filter(|t| !t.trim().is_empty()),
                    _ => {}
                }
            }
            Ok(None) => break,
            Err(e) => return bad(format!("could not read the upload: {e}")),
        }
    }
    if !csrf_ok(&session, token.as_deref()) {
        return forged(&session);
    }
    let Some(before) = before.filter(|t| !t.trim().is_empty()) else {
        return bad("choose the export taken before".into());
    };
    let before = match Export::parse(&before) {
        Ok(e) => e,
        Err(e) => return bad(format!("the first file: {e}")),
    };
    let after = match after.as_deref().map(Export::parse).transpose() {
        Ok(a) => a,
        Err(e) => return bad(format!("the second file: {e}")),
    };
    match st
        .service
        .compare_exports(&session.caller, &before, after.as_ref())
        .await
    {
        Ok(c) => layout::page(
            Some(&session),
            "Comparison",
            "/migration",
            html! {
                p { a href=(back) { "← Migration" } }
                h1 { "Comparison" }
                (report(&c))
                h2 { "Compare again" }
                (form(&session))
            },
        )
        .into_response(),
        Err(err) => error_page(Some(&session), err, &back),
    }
}
