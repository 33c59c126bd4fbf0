//! Tokens (R6): issue, list, revoke, regenerate; and the per-IdP setup guide, which issues a
//! token for that IdP and shows its first requests arriving.

use std::str::FromStr;
use std::time::Duration;

use axum::Extension;
use axum::extract::{Form, Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::Deserialize;
use uuid::Uuid;

use super::account::scim_base_url;
use super::layout::{self, copyable, csrf, when};
use super::{account_path, error_page, not_found, see_other};
use crate::http::AppState;
use crate::service::audit::AuditFilter;
use crate::service::console::ConsoleSession;
use crate::service::records::TokenRecord;
use crate::service::{Idp, IssuedToken, TokenKind};

fn state(t: &TokenRecord, now: chrono::DateTime<chrono::Utc>) -> Markup {
    if t.revoked_at.is_some() {
        html! { span.badge.revoked { "Revoked" } }
    } else if t.expires_at <= now {
        html! { span.badge.expired { "Expired" } }
    } else {
        html! { span.badge.active { "Active" } }
    }
}

fn issued_notice(issued: &IssuedToken) -> Markup {
    html! {
        div.alert.ok role="status" {
            p { strong { "Copy this token now: it is shown only once." } " scimd keeps only its hash." }
            (copyable("new-token", &issued.token, "the new token"))
            p.hint { "Expires " (when(issued.record.expires_at)) "." }
        }
    }
}

async fn tokens_page(st: &AppState, session: &ConsoleSession, issued: Option<&IssuedToken>) -> Response {
    let tokens = match st.service.list_tokens(session.caller.account_id).await {
        Ok(t) => t,
        Err(err) => return error_page(Some(session), err, &account_path(session, "/")),
    };
    let now = st.service.clock().now();
    layout::page(
        Some(session),
        "Tokens",
        "/tokens",
        html! {
            h1 { "Tokens" }
            @if let Some(issued) = issued { (issued_notice(issued)) }
            h2 { "Issue a SCIM token" }
            form.row method="post" action=(account_path(session, "/tokens")) {
                (csrf(session))
                div {
                    label for="idp" { "Identity provider" }
                    select #idp name="idp" {
                        option value="okta" { "Okta" }
                        option value="entra" { "Microsoft Entra ID" }
                        option value="onelogin" { "OneLogin" }
                        option value="scim" { "Other SCIM client" }
                    }
                }
                div {
                    label for="days" { "Lifetime (days)" }
                    input #days type="number" name="days" min="1" max="3650" placeholder="default";
                }
                div {
                    label for="description" { "Description" }
                    input #description type="text" name="description" maxlength="200";
                }
                button #issue type="submit" { "Issue token" }
            }
            h2 { "All tokens" }
            table #tokens {
                thead { tr {
                    th scope="col" { "Kind" } th scope="col" { "IdP" } th scope="col" { "Description" }
                    th scope="col" { "Created" } th scope="col" { "Last used" } th scope="col" { "Expires" }
                    th scope="col" { "State" } th scope="col" { "Actions" }
                } }
                tbody {
                    @for t in &tokens {
                        tr data-token=(t.id) {
                            td { (t.kind) }
                            td { (t.idp.as_deref().map(Idp::normalise).unwrap_or_default()) }
                            td { (t.description.as_deref().unwrap_or("")) }
                            td { (when(t.created_at)) }
                            td { @if let Some(u) = t.last_used_at { (when(u)) } @else { "never" } }
                            td { (when(t.expires_at)) }
                            td { (state(t, now)) }
                            td {
                                @if t.revoked_at.is_none() && t.kind == "scim" {
                                    form.inline method="post" action=(account_path(session, &format!("/tokens/{}/regenerate", t.id))) {
                                        (csrf(session))
                                        button.secondary type="submit" aria-label={ "Regenerate " (t.kind) " token " (t.id) } { "Regenerate" }
                                    }
                                    " "
                                    form.inline method="post" action=(account_path(session, &format!("/tokens/{}/revoke", t.id))) {
                                        (csrf(session))
                                        button.danger type="submit" aria-label={ "Revoke " (t.kind) " token " (t.id) } { "Revoke" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            p.hint { "Regenerating revokes the token and issues its replacement with the same IdP and description (R6). Admin tokens are issued and revoked by the operator who runs scimd (" code { "scimd token create --kind admin" } ", " code { "scimd token revoke" } ")." }
        },
    )
    .into_response()
}

pub(super) async fn list(
    State(st): State<AppState>,
    Extension(session): Extension<ConsoleSession>,
) -> Response {
    tokens_page(&st, &session, None).await
}

#[derive(Deserialize)]
pub(super) struct IssueForm {
    idp: Option<String>,
    #[serde(default)]
    days: String,
    #[serde(default)]
    description: String,
}

fn lifetime(days: &str) -> Result<Option<Duration>, crate::service::Error> {
    match days.trim() {
        "" => Ok(None),
        d => d
            .parse::<u64>()
            .ok()
            .filter(|d| (1..=3650).contains(d))
            .map(|d| Some(Duration::from_secs(d * 86_400)))
            .ok_or_else(|| {
                crate::scim::ScimError::invalid_value(format!("the lifetime is 1 to 3650 days, not {d:?}"))
                    .into()
            }),
    }
}

pub(super) async fn issue(
    State(st): State<AppState>,
    Extension(session): Extension<ConsoleSession>,
    Form(form): Form<IssueForm>,
) -> Response {
    let back = account_path(&session, "/tokens");
    let issued = async {
        let idp = Idp::from_str(form.idp.as_deref().unwrap_or("scim"))
            .map_err(crate::scim::ScimError::invalid_value)?;
        let description = Some(form.description.trim().to_string()).filter(|d| !d.is_empty());
        st.service
            .create_token_as(
                &session.caller,
                TokenKind::Scim,
                Some(idp),
                lifetime(&form.days)?,
                description,
            )
            .await
    };
    match issued.await {
        Ok(issued) => tokens_page(&st, &session, Some(&issued)).await,
        Err(err) => error_page(Some(&session), err, &back),
    }
}

pub(super) async fn revoke(
    State(st): State<AppState>,
    Extension(session): Extension<ConsoleSession>,
    Path((_, id)): Path<(String, String)>,
) -> Response {
    let back = account_path(&session, "/tokens");
    let Ok(id) = Uuid::parse_str(&id) else {
        return not_found(Some(&session));
    };
    match st
        .service
        .revoke_token_as(&session.caller, id, Some(TokenKind::Scim))
        .await
    {
        Ok(()) => see_other(&back),
        Err(err) => error_page(Some(&session), err, &back),
    }
}

pub(super) async fn regenerate(
    State(st): State<AppState>,
    Extension(session): Extension<ConsoleSession>,
    Path((_, id)): Path<(String, String)>,
) -> Response {
    let back = account_path(&session, "/tokens");
    let Ok(id) = Uuid::parse_str(&id) else {
        return not_found(Some(&session));
    };
    match st
        .service
        .rotate_token_as(&session.caller, id, None, Some(TokenKind::Scim))
        .await
    {
        Ok(issued) => tokens_page(&st, &session, Some(&issued)).await,
        Err(err) => error_page(Some(&session), err, &back),
    }
}

/// The guide's IdPs: (path segment, label).
const GUIDES: &[(&str, &str)] = &[
    ("okta", "Okta"),
    ("entra", "Microsoft Entra ID"),
    ("onelogin", "OneLogin"),
];

fn steps(idp: &str, base: &str) -> Markup {
    match idp {
        "okta" => html! {
            ol {
                li { "In Okta: " strong { "Applications → Create App Integration" } ", SAML 2.0 or SWA; finish the sign-on part." }
                li { strong { "General → App Settings → Edit → Provisioning: SCIM" } ", then " strong { "Save" } "." }
                li { strong { "Provisioning → Integration → Edit" } ": " em { "SCIM connector base URL" } " = " code { (base) } "; " em { "Unique identifier field for users" } " = " code { "userName" } "; actions " strong { "Push New Users, Push Profile Updates, Push Groups" } "; " em { "Authentication Mode" } " = HTTP Header with the token below. " strong { "Test Connector Configuration" } ", then Save." }
                li { strong { "Provisioning → To App → Edit" } ": enable Create Users, Update User Attributes, Deactivate Users; leave Sync Password off." }
                li { "Assign people or groups, and push groups on " strong { "Push Groups" } "." }
            }
        },
        "entra" => html! {
            ol {
                li { "In Entra: " strong { "Enterprise applications → New application → Create your own application" } " (non-gallery)." }
                li { strong { "Provisioning" } " → Automatic: " em { "Tenant URL" } " = " code { (base) } ", " em { "Secret Token" } " = the token below; " strong { "Test Connection" } ", then Save." }
                li { strong { "Mappings" } ": keep users (matching " code { "userName" } ") and enable groups." }
                li { strong { "Settings" } ": scope " em { "Sync only assigned users and groups" } ", status " strong { "On" } "; assign users and groups." }
            }
        },
        _ => html! {
            ol {
                li { "In OneLogin: " strong { "Applications → Add App" } ", " em { "SCIM Provisioner with SAML (SCIM v2 Enterprise)" } "." }
                li { strong { "Configuration" } ": " em { "SCIM Base URL" } " = " code { (base) } ", " em { "SCIM Bearer Token" } " = the token below; API Connection " strong { "Enable" } "." }
                li { strong { "Provisioning" } ": tick Enable provisioning; choose what happens when users are deleted." }
                li { strong { "Parameters → Groups" } ": tick Include in User Provisioning; give users the app." }
            }
        },
    }
}

async fn guide_page(
    st: &AppState,
    session: &ConsoleSession,
    headers: &HeaderMap,
    idp: &str,
    issued: Option<&IssuedToken>,
) -> Response {
    let Some((_, label)) = GUIDES.iter().find(|(k, _)| *k == idp) else {
        return not_found(Some(session));
    };
    let base = scim_base_url(st, headers, session);
    let arrivals = st
        .service
        .list_audit(
            &session.caller,
            AuditFilter {
                actor_kind: Some("scim".into()),
                ..Default::default()
            },
            None,
            Some(10),
        )
        .await;
    let arrivals = match arrivals {
        Ok(page) => page.events,
        Err(err) => return error_page(Some(session), err, &account_path(session, "/")),
    };
    layout::page(
        Some(session),
        "Set up your IdP",
        "/idp/okta",
        html! {
            h1 { "Set up " (label) }
            nav aria-label="Identity providers" {
                p { @for (k, l) in GUIDES {
                    @if *k == idp { strong aria-current="page" { (l) } } @else { a href=(account_path(session, &format!("/idp/{k}"))) { (l) } }
                    " "
                } }
            }
            h2 { "1. The SCIM base URL" }
            (copyable("scim-url", &base, "the SCIM base URL"))
            h2 { "2. A token for " (label) }
            @if let Some(issued) = issued {
                (issued_notice(issued))
            } @else {
                form method="post" action=(account_path(session, &format!("/idp/{idp}"))) {
                    (csrf(session))
                    button #issue-idp type="submit" { "Issue a SCIM token for " (label) }
                }
                p.hint { "Each identity provider gets its own token; what it creates is recorded with it as its source." }
            }
            h2 { "3. In " (label) }
            (steps(idp, &base))
            h2 { "Attribute mappings scimd expects" }
            table {
                thead { tr { th scope="col" { "scimd (SCIM)" } th scope="col" { "Notes" } } }
                tbody {
                    tr { td { code { "userName" } } td { "Required, unique per account ignoring case; the matching attribute." } }
                    tr { td { code { "emails[type eq \"work\"].value" } } td { "The primary email; changes are refused unless the account allows them (Settings)." } }
                    tr { td { code { "name.givenName" } ", " code { "name.familyName" } } td { "Optional." } }
                    tr { td { code { "displayName" } } td { "Optional." } }
                    tr { td { code { "active" } } td { "Deactivation keeps the user, inactive." } }
                    tr { td { code { "externalId" } } td { "The IdP's own id; optional." } }
                    tr { td { "Groups: " code { "displayName" } ", " code { "members" } } td { "Group names are unique per account ignoring case." } }
                }
            }
            h2 #test { "4. Test the connection" }
            p { "Requests from your identity provider appear here as they arrive. " a href=(account_path(session, &format!("/idp/{idp}#test"))) { "Refresh" } }
            @if arrivals.is_empty() {
                p #no-arrivals { "Nothing has arrived yet." }
            } @else {
                table #arrivals {
                    thead { tr { th scope="col" { "When" } th scope="col" { "From" } th scope="col" { "What" } } }
                    tbody {
                        @for e in &arrivals {
                            tr {
                                td { @if let Some(at) = e.at { (when(at)) } }
                                td { (layout::idp_name(e.actor_idp.as_deref().unwrap_or("scim"))) }
                                td { (e.action) " " (e.resource_type) }
                            }
                        }
                    }
                }
            }
        },
    )
    .into_response()
}

pub(super) async fn idp_guide(
    State(st): State<AppState>,
    Extension(session): Extension<ConsoleSession>,
    headers: HeaderMap,
    Path((_, idp)): Path<(String, String)>,
) -> Response {
    guide_page(&st, &session, &headers, &idp, None).await
}

pub(super) async fn idp_issue(
    State(st): State<AppState>,
    Extension(session): Extension<ConsoleSession>,
    headers: HeaderMap,
    Path((_, idp)): Path<(String, String)>,
) -> Response {
    let back = account_path(&session, &format!("/idp/{idp}"));
    let Ok(parsed) = Idp::from_str(&idp) else {
        return not_found(Some(&session));
    };
    match st
        .service
        .create_token_as(
            &session.caller,
            TokenKind::Scim,
            Some(parsed),
            None,
            Some(format!("issued by the {idp} setup guide")),
        )
        .await
    {
        Ok(issued) => guide_page(&st, &session, &headers, &idp, Some(&issued)).await,
        Err(err) => error_page(Some(&session), err, &back),
    }
}
