//! The overview, the SCIM switch (R7), the account's settings (R8) and setup links.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::Extension;
use axum::extract::{Form, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::Deserialize;

use super::layout::{self, copyable, csrf, source_badge, when};
use super::{account_path, error_page, see_other};
use crate::http::AppState;
use crate::http::extract::public_origin;
use crate::service::console::{ACTIVITY_DAYS, ConsoleSession, Overview};
use crate::service::settings::{DISABLE_CONFIRMATION, GroupNameConflict, ProfileUpdate};

/// The account's SCIM base URL, as an IdP is to be given it.
pub(super) fn scim_base_url(st: &AppState, headers: &HeaderMap, session: &ConsoleSession) -> String {
    format!(
        "{}/scim/account/{}",
        public_origin(st, headers),
        session.caller.account_id
    )
}

const SOURCES: &[&str] = &["okta", "entra", "onelogin", "scim", "manual"];

/// Who a chart's source stands for.
fn source_label(source: &str) -> &str {
    match source {
        "manual" => "admins (console, admin API, CLI)",
        "scim" => "other SCIM clients",
        other => layout::idp_name(other),
    }
}

/// Changes per day for the last 30 days, stacked by source, as inline SVG drawn here (no
/// script, no image request): one bar per day, its height the day's changes.
fn activity_chart(o: &Overview) -> Markup {
    let mut days: BTreeMap<String, BTreeMap<String, i64>> = BTreeMap::new();
    for i in 0..ACTIVITY_DAYS {
        let day = (o.since + chrono::Days::new(i as u64))
            .format("%Y-%m-%d")
            .to_string();
        days.insert(day, BTreeMap::new());
    }
    for (day, source, n) in &o.activity {
        if let Some(d) = days.get_mut(day) {
            *d.entry(source.clone()).or_default() += n;
        }
    }
    let max = days
        .values()
        .map(|d| d.values().sum::<i64>())
        .max()
        .unwrap_or(0)
        .max(1);
    let total: i64 = days.values().flat_map(|d| d.values()).sum();
    let (w, h, bar) = (600.0_f64, 160.0_f64, 600.0 / ACTIVITY_DAYS as f64);
    // Each day's bar: its sources stacked bottom up, in `SOURCES` order.
    let mut bars = Vec::new();
    for (i, (day, by)) in days.iter().enumerate() {
        let mut y = h;
        for source in SOURCES {
            if let Some(n) = by.get(*source) {
                let bh = (*n as f64 / max as f64) * h;
                y -= bh;
                bars.push((i as f64 * bar + 1.0, y, bh, *source, day.clone(), *n));
            }
        }
    }
    html! {
        div.chart {
            svg viewBox={ "0 0 " (w) " " (h + 20.0) } role="img" aria-labelledby="chart-title" {
                title #chart-title { "Provisioning changes per day, last " (ACTIVITY_DAYS) " days: " (total) " in all, at most " (max) " in one day" }
                @for (x, y, bh, source, day, n) in &bars {
                    rect class={ "bar " (source) } x=(format!("{x:.1}")) y=(format!("{y:.1}"))
                        width=(format!("{:.1}", bar - 2.0)) height=(format!("{bh:.1}")) {
                        title { (day) ": " (n) " by " (source_label(source)) }
                    }
                }
                line x1="0" y1=(h) x2=(w) y2=(h) stroke="#8d96a6" {}
                text x="0" y=(h + 16.0) font-size="11" fill="#505a6b" { (days.keys().next().cloned().unwrap_or_default()) }
                text x=(w) y=(h + 16.0) font-size="11" fill="#505a6b" text-anchor="end" { (days.keys().last().cloned().unwrap_or_default()) }
            }
            p.legend {
                @for source in SOURCES {
                    span { span class={ "sw " (source) } {} (source_label(source)) }
                }
            }
        }
    }
}

fn counts_table(users: &[(String, i64)], groups: &[(String, i64)]) -> Markup {
    let get = |v: &[(String, i64)], s: &str| v.iter().find(|(k, _)| k == s).map_or(0, |(_, n)| *n);
    html! {
        table {
            caption.visually-hidden { "Users and groups by source" }
            thead { tr { th scope="col" { "Source" } th scope="col" { "Users" } th scope="col" { "Groups" } } }
            tbody {
                @for s in SOURCES {
                    @let (u, g) = (get(users, s), get(groups, s));
                    @if u > 0 || g > 0 || *s == "manual" {
                        tr { th scope="row" { (source_badge(s)) } td { (u) } td { (g) } }
                    }
                }
            }
        }
    }
}

pub(super) async fn overview(
    State(st): State<AppState>,
    Extension(session): Extension<ConsoleSession>,
    headers: HeaderMap,
) -> Response {
    let caller = &session.caller;
    let loaded = async {
        let profile = st.service.get_profile(caller).await?;
        let tokens = st.service.list_tokens(caller.account_id).await?;
        let overview = st.service.console_overview(caller).await?;
        Ok::<_, crate::service::Error>((profile, tokens, overview))
    };
    let (profile, tokens, overview) = match loaded.await {
        Ok(v) => v,
        Err(err) => return error_page(Some(&session), err, "/ui"),
    };
    let now = st.service.clock().now();
    let live: Vec<_> = tokens
        .iter()
        .filter(|t| t.revoked_at.is_none() && t.expires_at > now)
        .collect();
    let idps: std::collections::BTreeSet<String> = live
        .iter()
        .filter(|t| t.kind == "scim")
        .filter_map(|t| t.idp.as_deref())
        .map(crate::service::Idp::normalise)
        .collect();
    let expiring: Vec<_> = live
        .iter()
        .filter(|t| t.expires_at - now <= chrono::TimeDelta::days(30))
        .collect();
    let base = scim_base_url(&st, &headers, &session);
    let body = layout::page(
        Some(&session),
        "Overview",
        "/",
        html! {
            h1 { "Overview" }
            div.cards {
                div.card {
                    h2 { "SCIM provisioning" }
                    @if profile.scim_enabled {
                        p { span.badge.active #scim-state { "On" } " Identity providers can provision this account." }
                    } @else {
                        p { span.badge.inactive #scim-state { "Off" } " Identity providers cannot reach this account." }
                        form method="post" action=(account_path(&session, "/scim/enable")) {
                            (csrf(&session))
                            button #scim-enable type="submit" { "Turn SCIM on" }
                        }
                    }
                }
                div.card {
                    h2 { "Identity provider" }
                    @if idps.is_empty() {
                        p { "No live SCIM token yet. " a href=(account_path(&session, "/idp/okta")) { "Set up your IdP" } }
                    } @else {
                        p { @for idp in &idps { (source_badge(idp)) } }
                    }
                }
            }
            h2 { "SCIM base URL" }
            (copyable("scim-url", &base, "the SCIM base URL"))
            p.hint { "Give your identity provider this URL and a SCIM token (" a href=(account_path(&session, "/tokens")) { "Tokens" } ")." }
            @if !expiring.is_empty() {
                div.alert.warn role="status" {
                    p { strong { (expiring.len()) " token(s) expire within 30 days:" } }
                    ul {
                        @for t in &expiring {
                            li { (t.kind) " token " (t.description.as_deref().unwrap_or("")) " for " (t.idp.as_deref().unwrap_or("admin")) " — expires " (when(t.expires_at)) }
                        }
                    }
                    p { a href=(account_path(&session, "/tokens")) { "Regenerate them on the Tokens page" } }
                }
            }
            h2 { "Users and groups by source" }
            (counts_table(&overview.users_by_source, &overview.groups_by_source))
            h2 { "Provisioning activity" }
            (activity_chart(&overview))
            @if profile.scim_enabled {
                h2 { "Turn SCIM off" }
                details.confirm {
                    summary { "Turn SCIM provisioning off…" }
                    p { "Turning SCIM off:" }
                    ul {
                        li { "revokes every SCIM token and OAuth client of this account: your identity provider's requests get 403 from then on;" }
                        li { "converts every user and group your identity provider manages into a native one, which admins can then edit and delete;" }
                        li { "renames an IdP group whose name a native group also has, so no two native groups share a name." }
                    }
                    p { "Nothing is deleted. Turning SCIM on again needs a new token in your identity provider." }
                    form method="post" action=(account_path(&session, "/scim/disable")) {
                        (csrf(&session))
                        label for="confirmation" { "Type " code { (DISABLE_CONFIRMATION) } " to confirm" }
                        input #confirmation type="text" name="confirmation" autocomplete="off" required;
                        button.danger type="submit" { "Turn SCIM off" }
                    }
                }
            }
        },
    );
    body.into_response()
}

pub(super) async fn enable_scim(
    State(st): State<AppState>,
    Extension(session): Extension<ConsoleSession>,
) -> Response {
    match st.service.enable_scim(&session.caller).await {
        Ok(_) => see_other(&account_path(&session, "/")),
        Err(err) => error_page(Some(&session), err, &account_path(&session, "/")),
    }
}

#[derive(Deserialize)]
pub(super) struct Disable {
    #[serde(default)]
    confirmation: String,
}

pub(super) async fn disable_scim(
    State(st): State<AppState>,
    Extension(session): Extension<ConsoleSession>,
    Form(form): Form<Disable>,
) -> Response {
    match st
        .service
        .disable_scim(&session.caller, form.confirmation.trim())
        .await
    {
        Ok(_) => see_other(&account_path(&session, "/")),
        Err(err) => error_page(Some(&session), err, &account_path(&session, "/")),
    }
}

pub(super) async fn settings(
    State(st): State<AppState>,
    Extension(session): Extension<ConsoleSession>,
) -> Response {
    let (profile, links) = match async {
        Ok::<_, crate::service::Error>((
            st.service.get_profile(&session.caller).await?,
            st.service.list_setup_links(&session.caller).await?,
        ))
    }
    .await
    {
        Ok(v) => v,
        Err(err) => return error_page(Some(&session), err, &account_path(&session, "/")),
    };
    let ttl_days = profile
        .token_ttl
        .map(|d| (d.as_secs() / 86_400).to_string())
        .unwrap_or_default();
    let body = layout::page(
        Some(&session),
        "Settings",
        "/settings",
        html! {
            h1 { "Settings" }
            form.stack method="post" action=(account_path(&session, "/settings")) {
                (csrf(&session))
                div {
                    input #update_emails type="checkbox" name="update_emails_via_scim" value="true" checked[profile.update_emails_via_scim];
                    " " label for="update_emails" { "Let the identity provider change users' emails (R8)" }
                }
                label for="conflict" { "When the identity provider pushes a group with a native group's name" }
                select #conflict name="group_name_conflict" {
                    option value="link" selected[profile.group_name_conflict == GroupNameConflict::Link] { "Link: the IdP takes over the native group" }
                    option value="keep_both" selected[profile.group_name_conflict == GroupNameConflict::KeepBoth] { "Keep both: create a second, IdP-managed group" }
                }
                label for="reserved" { "Reserved group names (one per line)" }
                textarea #reserved name="reserved_group_names" rows="3" { (profile.reserved_group_names.join("\n")) }
                label for="maxlen" { "Longest group name (empty: no limit)" }
                input #maxlen type="number" min="1" name="max_group_name_length" value=(profile.max_group_name_length.map(|n| n.to_string()).unwrap_or_default());
                label for="ttl" { "Lifetime of new tokens, in days (empty: the server's default)" }
                input #ttl type="number" min="1" name="token_ttl_days" value=(ttl_days);
                label for="undeclared" { "Data under extension schemas that were not declared" }
                select #undeclared name="undeclared_extensions" {
                    option value="keep" selected[profile.undeclared_extensions == crate::scim::schema::Undeclared::Keep] { "Keep it as sent" }
                    option value="refuse" selected[profile.undeclared_extensions == crate::scim::schema::Undeclared::Refuse] { "Refuse it (400)" }
                }
                button type="submit" { "Save settings" }
            }
            h2 { "Setup links" }
            p { "A setup link signs someone into this account's console once, without an admin token — for example your customer's IT admin who connects the identity provider." }
            form.row method="post" action=(account_path(&session, "/setup-links")) {
                (csrf(&session))
                div {
                    label for="link-hours" { "Valid for (hours)" }
                    input #link-hours type="number" min="1" max="720" name="hours" value="72";
                }
                button type="submit" { "Create a setup link" }
            }
            @if !links.is_empty() {
                table {
                    thead { tr { th scope="col" { "Created" } th scope="col" { "By" } th scope="col" { "Expires" } th scope="col" { "Used" } } }
                    tbody {
                        @for l in &links {
                            tr { td { (when(l.created_at)) } td { (l.created_by) } td { (when(l.expires_at)) }
                                 td { @if let Some(u) = l.used_at { (when(u)) } @else { "not yet" } } }
                        }
                    }
                }
            }
        },
    );
    body.into_response()
}

#[derive(Deserialize)]
pub(super) struct SettingsForm {
    update_emails_via_scim: Option<String>,
    group_name_conflict: String,
    #[serde(default)]
    reserved_group_names: String,
    #[serde(default)]
    max_group_name_length: String,
    #[serde(default)]
    token_ttl_days: String,
    undeclared_extensions: String,
}

pub(super) async fn save_settings(
    State(st): State<AppState>,
    Extension(session): Extension<ConsoleSession>,
    Form(form): Form<SettingsForm>,
) -> Response {
    let back = account_path(&session, "/settings");
    let update = (|| {
        let number = |name: &str, raw: &str| -> Result<Option<u32>, crate::service::Error> {
            match raw.trim() {
                "" => Ok(None),
                n => n.parse::<u32>().ok().filter(|n| *n > 0).map(Some).ok_or_else(|| {
                    crate::scim::ScimError::invalid_value(format!(
                        "{name} must be a whole number above 0, not {n:?}"
                    ))
                    .into()
                }),
            }
        };
        Ok::<_, crate::service::Error>(ProfileUpdate {
            update_emails_via_scim: Some(form.update_emails_via_scim.is_some()),
            group_name_conflict: Some(GroupNameConflict::parse(&form.group_name_conflict)?),
            reserved_group_names: Some(
                form.reserved_group_names
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(str::to_string)
                    .collect(),
            ),
            max_group_name_length: Some(number("the longest group name", &form.max_group_name_length)?),
            token_ttl: Some(
                number("the token lifetime", &form.token_ttl_days)?
                    .map(|d| Duration::from_secs(u64::from(d) * 86_400)),
            ),
            undeclared_extensions: Some(match form.undeclared_extensions.as_str() {
                "refuse" => crate::scim::schema::Undeclared::Refuse,
                _ => crate::scim::schema::Undeclared::Keep,
            }),
        })
    })();
    let result = match update {
        Ok(update) => st
            .service
            .update_profile(&session.caller, update)
            .await
            .map(|_| ()),
        Err(err) => Err(err),
    };
    match result {
        Ok(()) => see_other(&back),
        Err(err) => error_page(Some(&session), err, &back),
    }
}

#[derive(Deserialize)]
pub(super) struct LinkForm {
    hours: Option<String>,
}

pub(super) async fn create_setup_link(
    State(st): State<AppState>,
    Extension(session): Extension<ConsoleSession>,
    headers: HeaderMap,
    Form(form): Form<LinkForm>,
) -> Response {
    let back = account_path(&session, "/settings");
    let hours = form.hours.as_deref().map(str::trim).filter(|h| !h.is_empty());
    let lifetime = match hours.map(str::parse::<u64>) {
        None => None,
        Some(Ok(h)) => Some(Duration::from_secs(h.saturating_mul(3600))),
        Some(Err(_)) => {
            return error_page(
                Some(&session),
                crate::scim::ScimError::invalid_value("the lifetime is a whole number of hours"),
                &back,
            );
        }
    };
    match st.service.create_setup_link(&session.caller, lifetime).await {
        Ok(issued) => {
            let url = format!("{}/ui/setup?code={}", public_origin(&st, &headers), issued.code);
            layout::page(
                Some(&session),
                "Setup link",
                "/settings",
                html! {
                    h1 { "Setup link created" }
                    div.alert.ok role="status" { p { "Send this link to the person who sets up SCIM. It works once, until " (when(issued.record.expires_at)) ". It is shown only now." } }
                    (copyable("setup-link", &url, "the setup link"))
                    p { a href=(back) { "Back to settings" } }
                },
            )
            .into_response()
        }
        Err(err) => error_page(Some(&session), err, &back),
    }
}
