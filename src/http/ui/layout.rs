//! The page shell every console page shares: header, the account's navigation, sign-out.

use maud::{DOCTYPE, Markup, html};

use crate::service::console::ConsoleSession;

/// The navigation: (path under the account, label).
const NAV: &[(&str, &str)] = &[
    ("/", "Overview"),
    ("/users", "Users"),
    ("/groups", "Groups"),
    ("/tokens", "Tokens"),
    ("/idp/okta", "Set up your IdP"),
    ("/audit", "Audit log"),
    ("/migration", "Migration"),
    ("/schemas", "Schemas"),
    ("/webhooks", "Webhooks"),
    ("/settings", "Settings"),
];

/// A whole page. `active` is the navigation entry this page belongs to (its path).
pub fn page(session: Option<&ConsoleSession>, title: &str, active: &str, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · scimd" }
                link rel="stylesheet" href="/ui/assets/console.css";
                script src="/ui/assets/console.js" defer {}
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    span.brand { "scimd" }
                    @if let Some(s) = session {
                        nav aria-label="Console" {
                            ul {
                                @for (path, label) in NAV {
                                    li {
                                        @let href = format!("/ui/a/{}{}", s.caller.account_id, path);
                                        @if *path == active {
                                            a href=(href) aria-current="page" { (label) }
                                        } @else {
                                            a href=(href) { (label) }
                                        }
                                    }
                                }
                            }
                        }
                        form.signout method="post" action="/ui/sign-out" {
                            (csrf(s))
                            button.link type="submit" { "Sign out" }
                        }
                    }
                }
                main #main tabindex="-1" { (content) }
                div #live.visually-hidden aria-live="polite" {}
            }
        }
    }
}

/// The anti-forgery field every state-changing form carries.
pub fn csrf(session: &ConsoleSession) -> Markup {
    html! { input type="hidden" name="csrf" value=(session.csrf); }
}

/// A provisioning source as a badge (R9): `manual`, `okta`, `entra`, `onelogin`, `scim`.
pub fn source_badge(source: &str) -> Markup {
    let label = match source {
        "manual" => "Native",
        "okta" => "Okta",
        "entra" => "Entra ID",
        "onelogin" => "OneLogin",
        "scim" => "SCIM",
        other => other,
    };
    html! { span class={ "badge src-" (source) } { (label) } }
}

/// "Managed by Okta" (or the IdP the source names) for what R3 locks.
pub fn managed_badge(source: &str, managed: bool) -> Markup {
    html! {
        @if managed {
            span.badge.locked title="Changes come from the identity provider; the console cannot change what it manages" {
                (lock()) " Managed by " (idp_name(source))
            }
        }
    }
}

pub fn idp_name(source: &str) -> &str {
    match source {
        "okta" => "Okta",
        "entra" => "Entra ID",
        "onelogin" => "OneLogin",
        "manual" => "no IdP",
        _ => "the identity provider",
    }
}

/// A padlock beside what the identity provider manages (R3): drawn here, since no emoji font
/// can be counted on.
pub fn lock() -> Markup {
    html! {
        svg.lock aria-hidden="true" focusable="false" viewBox="0 0 16 16" width="12" height="12" {
            path fill="currentColor" d="M4 7V5a4 4 0 0 1 8 0v2h1v8H3V7h1zm2 0h4V5a2 2 0 0 0-4 0v2z" {}
        }
    }
}

/// A time as people read it, in UTC.
pub fn when(t: chrono::DateTime<chrono::Utc>) -> Markup {
    html! { time datetime=(t.to_rfc3339()) { (t.format("%Y-%m-%d %H:%M UTC")) } }
}

/// A secret or URL with a copy button (console.js); without script, the text is selectable.
pub fn copyable(id: &str, text: &str, label: &str) -> Markup {
    html! {
        div.copyable {
            code #(id) { (text) }
            button type="button" data-copy=(id) { span.state { "Copy" } span.visually-hidden { " " (label) } }
        }
    }
}
