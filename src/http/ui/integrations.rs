//! What the application builds on: extension schemas (docs/extensions.md), webhooks and the
//! change feed (docs/events.md) — the admin API's operations, as pages.

use axum::Extension;
use axum::extract::{Form, Path, Query, State};
use axum::response::{IntoResponse, Response};
use maud::html;
use serde::Deserialize;
use uuid::Uuid;

use super::layout::{self, copyable, csrf, when};
use super::{account_path, error_page, not_found, see_other, with_query};
use crate::http::AppState;
use crate::scim::schema::declare::Extends;
use crate::service::console::ConsoleSession;

pub(super) async fn schemas(
    State(st): State<AppState>,
    Extension(session): Extension<ConsoleSession>,
) -> Response {
    let declared = match st.service.list_schemas(&session.caller).await {
        Ok(d) => d,
        Err(err) => return error_page(Some(&session), err, &account_path(&session, "/")),
    };
    let here = account_path(&session, "/schemas");
    layout::page(
        Some(&session),
        "Extension schemas",
        "/schemas",
        html! {
            h1 { "Extension schemas" }
            p { "Attributes of your own beyond SCIM's core and enterprise schemas: declared here, identity providers can send them, and they are stored, validated, filtered and exported like core attributes." }
            @if declared.is_empty() { p { "No extension schema is declared." } } @else {
                table #schemas {
                    thead { tr { th scope="col" { "Schema" } th scope="col" { "Extends" } th scope="col" { "Required" } th scope="col" { "Attributes" } th scope="col" { "Declared" } th scope="col" { "Remove" } } }
                    tbody { @for d in &declared {
                        tr {
                            td { code { (d.schema.id) } }
                            td { (d.extends.as_str()) }
                            td { @if d.required { "yes" } @else { "no" } }
                            td { @for (i, a) in d.schema.attributes.iter().enumerate() { @if i > 0 { ", " } code { (a.name) } } }
                            td { (when(d.created_at)) }
                            td {
                                form.inline method="post" action={ (here) "/remove" } {
                                    (csrf(&session))
                                    input type="hidden" name="urn" value=(d.schema.id);
                                    label { input type="checkbox" name="force" value="true"; " also drop stored data" }
                                    " "
                                    button.danger type="submit" aria-label={ "Remove " (d.schema.id) } { "Remove" }
                                }
                            }
                        }
                    } }
                }
            }
            h2 { "Declare a schema" }
            form.stack method="post" action=(here) {
                (csrf(&session))
                label for="schema-json" { "The schema, as SCIM's Schema resource (JSON)" }
                textarea #schema-json name="schema" rows="10" required spellcheck="false" {
                    "{\"id\": \"urn:example:params:scim:schemas:extension:acme:2.0:User\",\n \"name\": \"Acme\",\n \"attributes\": [{\"name\": \"costCenter\", \"type\": \"string\"}]}"
                }
                label for="extends" { "Extends" }
                select #extends name="extends" { option value="User" { "User" } option value="Group" { "Group" } }
                div { input #required type="checkbox" name="required" value="true"; " " label for="required" { "Required on every resource of that type" } }
                button type="submit" { "Declare" }
            }
        },
    )
    .into_response()
}

#[derive(Deserialize)]
pub(super) struct DeclareForm {
    #[serde(default)]
    schema: String,
    #[serde(default)]
    extends: String,
    required: Option<String>,
}

pub(super) async fn declare_schema(
    State(st): State<AppState>,
    Extension(session): Extension<ConsoleSession>,
    Form(form): Form<DeclareForm>,
) -> Response {
    let back = account_path(&session, "/schemas");
    let declared = async {
        let doc: serde_json::Value = serde_json::from_str(&form.schema)
            .map_err(|e| crate::scim::ScimError::invalid_syntax(format!("the schema is not JSON: {e}")))?;
        let extends = Extends::parse(&form.extends)
            .ok_or_else(|| crate::scim::ScimError::invalid_value("a schema extends User or Group"))?;
        st.service
            .declare_schema(&session.caller, &doc, extends, form.required.is_some())
            .await
    };
    match declared.await {
        Ok(_) => see_other(&back),
        Err(err) => error_page(Some(&session), err, &back),
    }
}

#[derive(Deserialize)]
pub(super) struct RemoveForm {
    #[serde(default)]
    urn: String,
    force: Option<String>,
}

pub(super) async fn remove_schema(
    State(st): State<AppState>,
    Extension(session): Extension<ConsoleSession>,
    Form(form): Form<RemoveForm>,
) -> Response {
    let back = account_path(&session, "/schemas");
    match st
        .service
        .remove_schema(&session.caller, &form.urn, form.force.is_some())
        .await
    {
        Ok(_) => see_other(&back),
        Err(err) => error_page(Some(&session), err, &back),
    }
}

async fn webhooks_page(st: &AppState, session: &ConsoleSession, secret: Option<&str>) -> Response {
    let endpoints = match st.service.list_webhooks(&session.caller).await {
        Ok(e) => e,
        Err(err) => return error_page(Some(session), err, &account_path(session, "/")),
    };
    let here = account_path(session, "/webhooks");
    layout::page(
        Some(session),
        "Webhooks",
        "/webhooks",
        html! {
            h1 { "Webhooks" }
            p { "Every change (users, groups, memberships, tokens) is an event of the account's change feed. A webhook receives them as signed POSTs (Standard Webhooks), in order, at least once; your application can also read the feed itself ("
                a href=(account_path(session, "/events")) { "Events" } ")." }
            @if let Some(secret) = secret {
                div.alert.ok role="status" {
                    p { strong { "Copy the signing secret now: it is shown only once." } " Verify each delivery's signature with it." }
                    (copyable("webhook-secret", secret, "the signing secret"))
                }
            }
            @if endpoints.is_empty() { p { "No webhook yet." } } @else {
                table #webhooks {
                    thead { tr { th scope="col" { "URL" } th scope="col" { "Events" } th scope="col" { "State" } th scope="col" { "Delivered through" } th scope="col" { "Actions" } } }
                    tbody { @for e in &endpoints {
                        tr {
                            td { a href={ (here) "/" (e.id) } { (e.url) } }
                            td { @match &e.types { Some(t) => { (t.join(", ")) }, None => { "all" } } }
                            td {
                                @if !e.enabled { span.badge.inactive { "Disabled" } " " (e.disabled_reason.as_deref().unwrap_or("")) }
                                @else if let Some(since) = e.failing_since { span.badge.expired { "Failing" } " since " (when(since)) }
                                @else { span.badge.active { "Delivering" } }
                            }
                            td { "event " (e.position) }
                            td { form.inline method="post" action={ (here) "/" (e.id) "/delete" } {
                                (csrf(session))
                                button.danger type="submit" aria-label={ "Delete the webhook to " (e.url) } { "Delete" }
                            } }
                        }
                    } }
                }
            }
            h2 { "Add a webhook" }
            form.stack method="post" action=(here) {
                (csrf(session))
                label for="webhook-url" { "URL (https)" }
                input #webhook-url type="text" name="url" required placeholder="https://app.example.com/hooks/scim";
                label for="webhook-types" { "Event types, comma-separated (empty: all)" }
                input #webhook-types type="text" name="types" placeholder="user.created, group.member_added";
                label for="webhook-description" { "Description" }
                input #webhook-description type="text" name="description";
                button type="submit" { "Add webhook" }
            }
        },
    )
    .into_response()
}

pub(super) async fn webhooks(
    State(st): State<AppState>,
    Extension(session): Extension<ConsoleSession>,
) -> Response {
    webhooks_page(&st, &session, None).await
}

#[derive(Deserialize)]
pub(super) struct WebhookForm {
    #[serde(default)]
    url: String,
    #[serde(default)]
    types: String,
    #[serde(default)]
    description: String,
}

pub(super) async fn create_webhook(
    State(st): State<AppState>,
    Extension(session): Extension<ConsoleSession>,
    Form(form): Form<WebhookForm>,
) -> Response {
    let types: Vec<String> = form
        .types
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect();
    let description = Some(form.description.trim().to_string()).filter(|d| !d.is_empty());
    match st
        .service
        .create_webhook(
            &session.caller,
            form.url.trim(),
            Some(types).filter(|t| !t.is_empty()),
            description,
        )
        .await
    {
        Ok(e) => webhooks_page(&st, &session, Some(&e.secret)).await,
        Err(err) => error_page(Some(&session), err, &account_path(&session, "/webhooks")),
    }
}

pub(super) async fn webhook(
    State(st): State<AppState>,
    Extension(session): Extension<ConsoleSession>,
    Path((_, id)): Path<(String, String)>,
) -> Response {
    let back = account_path(&session, "/webhooks");
    let Ok(id) = Uuid::parse_str(&id) else {
        return not_found(Some(&session));
    };
    let loaded = async {
        Ok::<_, crate::service::Error>((
            st.service.get_webhook(&session.caller, id).await?,
            st.service.webhook_deliveries(&session.caller, id, 50).await?,
        ))
    };
    let (e, deliveries) = match loaded.await {
        Ok(v) => v,
        Err(err) => return error_page(Some(&session), err, &back),
    };
    layout::page(
        Some(&session),
        "Webhook",
        "/webhooks",
        html! {
            p { a href=(back) { "← Webhooks" } }
            h1 { "Webhook" }
            dl.facts {
                dt { "URL" } dd { (e.url) }
                dt { "Events" } dd { @match &e.types { Some(t) => { (t.join(", ")) }, None => { "all" } } }
                dt { "Delivered through" } dd { "event " (e.position) }
                dt { "Created" } dd { (when(e.created_at)) }
            }
            h2 { "Deliver again" }
            form.row method="post" action={ (back) "/" (e.id) "/redeliver" } {
                (csrf(&session))
                div { label for="after" { "From after event" } input #after type="number" min="0" name="after" value="0"; }
                button type="submit" { "Redeliver" }
            }
            h2 { "Latest attempts" }
            @if deliveries.is_empty() { p { "No delivery yet." } } @else {
                table #deliveries {
                    thead { tr { th scope="col" { "When" } th scope="col" { "Event" } th scope="col" { "Attempt" } th scope="col" { "Answer" } th scope="col" { "ms" } } }
                    tbody { @for d in &deliveries {
                        tr { td { (when(d.at)) } td { (d.event_seq) } td { (d.attempt) }
                             td { @if let Some(s) = d.status { (s) } " " (d.error.as_deref().unwrap_or("")) }
                             td { (d.latency_ms) } }
                    } }
                }
            }
        },
    )
    .into_response()
}

pub(super) async fn delete_webhook(
    State(st): State<AppState>,
    Extension(session): Extension<ConsoleSession>,
    Path((_, id)): Path<(String, String)>,
) -> Response {
    let back = account_path(&session, "/webhooks");
    let Ok(id) = Uuid::parse_str(&id) else {
        return not_found(Some(&session));
    };
    match st.service.delete_webhook(&session.caller, id).await {
        Ok(()) => see_other(&back),
        Err(err) => error_page(Some(&session), err, &back),
    }
}

#[derive(Deserialize)]
pub(super) struct RedeliverForm {
    #[serde(default)]
    after: String,
}

pub(super) async fn redeliver_webhook(
    State(st): State<AppState>,
    Extension(session): Extension<ConsoleSession>,
    Path((_, id)): Path<(String, String)>,
    Form(form): Form<RedeliverForm>,
) -> Response {
    let here = account_path(&session, "/webhooks");
    let Ok(id) = Uuid::parse_str(&id) else {
        return not_found(Some(&session));
    };
    let redelivered = async {
        let after = crate::service::events::parse_cursor(Some(form.after.trim()))?.unwrap_or(0);
        st.service.redeliver_webhook(&session.caller, id, after).await
    };
    match redelivered.await {
        Ok(_) => see_other(&format!("{here}/{id}")),
        Err(err) => error_page(Some(&session), err, &here),
    }
}

#[derive(Deserialize)]
pub(super) struct EventsQuery {
    after: Option<String>,
    #[serde(default)]
    types: String,
}

/// The change feed, oldest retained event first, 50 a page, as the application reads it.
pub(super) async fn events(
    State(st): State<AppState>,
    Extension(session): Extension<ConsoleSession>,
    Query(q): Query<EventsQuery>,
) -> Response {
    let here = account_path(&session, "/events");
    let page = async {
        let after = crate::service::events::parse_cursor(q.after.as_deref())?;
        let types: Vec<String> = q
            .types
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .collect();
        st.service
            .list_events(
                &session.caller,
                after,
                Some(types).filter(|t| !t.is_empty()),
                Some(50),
                std::time::Duration::ZERO,
            )
            .await
    };
    let page = match page.await {
        Ok(p) => p,
        Err(err) => return error_page(Some(&session), err, &here),
    };
    layout::page(
        Some(&session),
        "Events",
        "/webhooks",
        html! {
            h1 { "Change feed" }
            p { "What your application reads from " code { "GET /api/accounts/{id}/events" } " or receives by webhook, oldest first." }
            form.row method="get" action=(here) role="search" {
                div { label for="types" { "Event types (comma-separated)" } input #types type="text" name="types" value=(q.types); }
                button type="submit" { "Show" }
            }
            table #events {
                thead { tr { th scope="col" { "#" } th scope="col" { "When" } th scope="col" { "Event" } th scope="col" { "Resource" } th scope="col" { "By" } } }
                tbody { @for e in &page.events {
                    tr { td { (e.seq) } td { (when(e.at)) } td { code { (e.kind) } }
                         td { (e.resource_type) " " code { (e.resource_id.as_deref().unwrap_or("")) } }
                         td { (e.actor_kind.as_deref().unwrap_or("")) " " (e.actor_idp.as_deref().unwrap_or("")) } }
                } }
            }
            @if page.events.is_empty() { p { "No events." } }
            @if page.has_more {
                p.pager { a rel="next" href=(with_query(&here, &[("after", &page.next.to_string()), ("types", &q.types)])) { "Next events" } }
            }
        },
    )
    .into_response()
}
