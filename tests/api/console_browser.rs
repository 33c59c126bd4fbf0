//! The web console in a real browser (Debian's chromium over WebDriver, `browser.rs`), on each
//! store: the journey an account admin takes (docs/console.md), every page checked by axe-core
//! for serious and critical accessibility violations, the main flow by keyboard alone, and the
//! screenshots in docs/screenshots (written with `TEST_UPDATE_SCREENSHOTS=1`).

use std::time::Duration;

use fantoccini::Locator;
use fantoccini::key::Key;
use serde_json::{Value, json};

use crate::browser::Browser;
use crate::harness::{TestApp, http_client};
use scimd::service::settings::DISABLE_CONFIRMATION;
use scimd::service::Caller;

async fn admin_token(app: &TestApp) -> String {
    crate::adminkit::Admin::new(app).await.token
}

/// Marks the current document, so `new_page` can tell when the browser has replaced it.
async fn mark_page(b: &Browser) {
    b.client()
        .execute("window.__scimdOldPage = true;", vec![])
        .await
        .unwrap();
}

/// Waits (bounded) until the marked document is gone and its successor has loaded.
async fn new_page(b: &Browser) {
    for _ in 0..400 {
        let loaded = b
            .client()
            .execute(
                "return !window.__scimdOldPage && document.readyState === 'complete';",
                vec![],
            )
            .await;
        if matches!(loaded, Ok(Value::Bool(true))) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the browser did not load a new page within 10 s");
}

/// Clicks what submits a form or follows a link, and waits for the next page.
async fn submit(b: &Browser, css: &str) {
    mark_page(b).await;
    b.click(css).await;
    new_page(b).await;
}

/// Asserts the current page has no serious or critical accessibility violation.
async fn accessible(b: &Browser, page: &str) {
    let found = b.axe_serious().await;
    assert!(found.is_empty(), "{page}: axe-core found\n{}", found.join("\n"));
}

/// Loads `path` of the console and checks it (axe), optionally saving a screenshot.
async fn visit(b: &Browser, app: &TestApp, path: &str, shot: Option<&str>) {
    b.goto(&format!("{}{path}", app.origin)).await;
    accessible(b, path).await;
    if let Some(name) = shot {
        b.screenshot(name).await;
    }
}

fn at(app: &TestApp, rest: &str) -> String {
    format!("/ui/a/{}{rest}", app.account)
}

async fn scim(app: &TestApp, token: &str, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut req = http_client()
        .request(method, app.scim(path))
        .bearer_auth(token)
        .header("content-type", "application/scim+json");
    if let Some(b) = body {
        req = req.body(b.to_string());
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn sign_in(b: &Browser, app: &TestApp, token: &str) {
    visit(b, app, "/ui", None).await;
    assert_eq!(b.current_path().await, "/ui/sign-in");
    b.fill("#token", token).await;
    submit(b, "form[action='/ui/sign-in'] button").await;
    assert_eq!(b.current_path().await, at(app, "/"));
}

/// The export of the account as the console serves it, fetched with the browser's session.
async fn export_with_session(b: &Browser, app: &TestApp) -> String {
    let cookie = b
        .client()
        .get_named_cookie("scimd_console")
        .await
        .expect("the session cookie");
    http_client()
        .get(format!("{}{}", app.origin, at(app, "/migration/export.json")))
        .header("cookie", format!("scimd_console={}", cookie.value()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test]
async fn an_admins_journey_through_the_console() {
    let Some(b) = Browser::start().await else { return };
    let app = TestApp::spawn_with(|c| {
        c.rate_limit_per_second = 0;
        c.webhook_allow_private_networks = true;
    })
    .await;
    // Start with SCIM off, as a new account of an application that has not set it up.
    app.app
        .service
        .disable_scim(&Caller::operator(app.account, "test"), DISABLE_CONFIRMATION)
        .await
        .unwrap();
    let admin = admin_token(&app).await;

    b.goto(&format!("{}/ui", app.origin)).await;
    accessible(&b, "/ui/sign-in").await;
    b.screenshot("sign-in").await;
    sign_in(&b, &app, &admin).await;

    // Turn SCIM on.
    assert_eq!(b.text("#scim-state").await, "Off");
    submit(&b, "#scim-enable").await;
    assert_eq!(b.text("#scim-state").await, "On");
    accessible(&b, "overview").await;

    // Issue an Okta token and copy it.
    visit(&b, &app, &at(&app, "/tokens"), None).await;
    b.client()
        .find(Locator::Css("#idp option[value='okta']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.fill("#description", "Okta production").await;
    submit(&b, "#issue").await;
    let okta_token = b.text("#new-token").await;
    assert!(okta_token.starts_with("eyJ"), "{okta_token}");
    b.click("button[data-copy='new-token']").await;
    // The copy finishes when the clipboard's promise settles, after the click has returned:
    // wait (10 s at most) for the button to say what happened instead of reading it at once.
    let copied = b
        .client()
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::XPath(
            "//button[@data-copy='new-token']/span[contains(@class, 'state') and normalize-space() != 'Copy']",
        ))
        .await
        .expect("the copy button did not change from \"Copy\" within 10 s")
        .text()
        .await
        .unwrap();
    assert!(copied == "Copied" || copied.starts_with("Selected"), "{copied}");
    accessible(&b, "tokens with a new secret").await;
    b.screenshot("tokens").await;

    // With that token, through SCIM: a user, and a group pushed with the user as member.
    let (status, user) = scim(
        &app,
        &okta_token,
        reqwest::Method::POST,
        "/Users",
        Some(json!({"userName": "ada@example.com", "name": {"givenName": "Ada", "familyName": "Lovelace"},
                    "displayName": "Ada Lovelace", "emails": [{"value": "ada@example.com", "primary": true}]})),
    )
    .await;
    assert_eq!(status, 201, "{user}");
    let user_id = user["id"].as_str().unwrap().to_string();
    let (status, group) = scim(
        &app,
        &okta_token,
        reqwest::Method::POST,
        "/Groups",
        Some(json!({"displayName": "Engineering", "members": [{"value": user_id}]})),
    )
    .await;
    assert_eq!(status, 201, "{group}");
    let group_id = group["id"].as_str().unwrap().to_string();

    // Both appear with source Okta and a lock.
    visit(&b, &app, &at(&app, "/users"), Some("users")).await;
    let row = b.text(&format!("tr[data-user='{user_id}']")).await;
    assert!(row.contains("Okta") && row.contains("Managed by Okta"), "{row}");
    visit(&b, &app, &at(&app, &format!("/users/{user_id}")), Some("user")).await;
    assert!(b.page_source().await.contains("Cannot change the userName or email of a user provisioned through SCIM"));
    visit(&b, &app, &at(&app, "/groups"), None).await;
    let row = b.text(&format!("tr[data-group='{group_id}']")).await;
    assert!(row.contains("Okta") && row.contains("Managed by Okta"), "{row}");

    visit(&b, &app, &at(&app, "/"), Some("overview")).await;

    // Deleting the managed group: R3's message, nothing deleted.
    visit(&b, &app, &at(&app, &format!("/groups/{group_id}")), Some("group")).await;
    b.click("details.confirm summary").await;
    submit(&b, "#delete-group").await;
    assert!(b.text("[role=alert]").await.contains("Cannot delete a group imported from SCIM"));
    accessible(&b, "the R3 message").await;
    assert_eq!(scim(&app, &okta_token, reqwest::Method::GET, &format!("/Groups/{group_id}"), None).await.0, 200);

    // A native group renamed keeps its identifier (R1).
    visit(&b, &app, &at(&app, "/groups"), Some("groups")).await;
    b.fill("#new-group", "Design Team").await;
    submit(&b, "main form.row[method=post] button").await;
    let identifier = b.text("#group-identifier").await;
    assert_eq!(identifier, "Design_Team");
    b.fill("#rename", "Product Design").await;
    submit(&b, "main form.row button").await;
    assert_eq!(b.text("#group-name").await, "Product Design");
    assert_eq!(b.text("#group-identifier").await, identifier);

    // The export before revoking, for the comparison at the end.
    let before = export_with_session(&b, &app).await;

    // Revoke the Okta token: the SCIM API answers 401.
    visit(&b, &app, &at(&app, "/tokens"), None).await;
    let revoke = b
        .client()
        .find_all(Locator::Css("tr[data-token] button.danger"))
        .await
        .unwrap();
    let okta_row = b
        .client()
        .find(Locator::XPath("//tr[td[contains(., 'Okta production')]]//button[contains(@class,'danger')]"))
        .await
        .unwrap();
    assert!(!revoke.is_empty());
    mark_page(&b).await;
    okta_row.click().await.unwrap();
    new_page(&b).await;
    assert_eq!(scim(&app, &okta_token, reqwest::Method::GET, "/Users", None).await.0, 401);
    assert!(b.page_source().await.contains("Revoked"));

    // The audit page shows each step.
    visit(&b, &app, &at(&app, "/audit"), Some("audit")).await;
    let log = b.text("#audit").await;
    for action in ["scim.enable", "token.create", "user.create", "group.create", "group.rename", "token.revoke"] {
        assert!(log.contains(action), "no {action} in the audit page:\n{log}");
    }
    assert!(log.contains("SCIM · Okta") && log.contains("Admin"), "{log}");

    // Compare two exports: the one before, and one after a native user left.
    visit(&b, &app, &at(&app, "/users/new"), None).await;
    b.fill("#user_name", "grace").await;
    submit(&b, "form.stack button").await;
    let after_adding = export_with_session(&b, &app).await;
    let dir = std::env::temp_dir().join(format!("{}_exports", app.db_name));
    std::fs::create_dir_all(&dir).unwrap();
    let (first, second) = (dir.join("before.json"), dir.join("after.json"));
    std::fs::write(&first, &after_adding).unwrap();
    std::fs::write(&second, &before).unwrap();
    visit(&b, &app, &at(&app, "/migration"), Some("migration")).await;
    b.client().find(Locator::Css("#before")).await.unwrap().send_keys(first.to_str().unwrap()).await.unwrap();
    b.client().find(Locator::Css("#after")).await.unwrap().send_keys(second.to_str().unwrap()).await.unwrap();
    submit(&b, "#compare").await;
    assert!(b.exists("#compare-problems").await, "{}", b.page_source().await);
    assert!(b.text("#missing-users").await.contains("grace"));
    accessible(&b, "comparison").await;
    b.screenshot("comparison").await;
    let _ = std::fs::remove_dir_all(&dir);

    // What the application builds on: an extension schema, a webhook, the change feed.
    visit(&b, &app, &at(&app, "/schemas"), None).await;
    submit(&b, "main form.stack button").await;
    assert!(b.text("#schemas").await.contains("costCenter"));
    accessible(&b, "schemas").await;
    b.screenshot("schemas").await;
    visit(&b, &app, &at(&app, "/webhooks"), None).await;
    b.fill("#webhook-url", "http://127.0.0.1:9/hooks").await;
    submit(&b, "main form.stack button").await;
    assert!(b.text("#webhook-secret").await.starts_with("whsec_"));
    accessible(&b, "webhooks with a new secret").await;
    b.screenshot("webhooks").await;
    submit(&b, "#webhooks a").await;
    accessible(&b, "a webhook").await;
    visit(&b, &app, &at(&app, "/events"), None).await;
    assert!(b.text("#events").await.contains("user.created"));

    // The remaining pages, checked and pictured.
    visit(&b, &app, &at(&app, "/idp/okta"), Some("idp-setup")).await;
    visit(&b, &app, &at(&app, "/idp/entra"), None).await;
    visit(&b, &app, &at(&app, "/idp/onelogin"), None).await;
    visit(&b, &app, &at(&app, "/settings"), Some("settings")).await;

    // A form whose anti-forgery token was removed is refused.
    visit(&b, &app, &at(&app, "/groups"), None).await;
    b.client()
        .execute("document.querySelectorAll('input[name=csrf]').forEach((e) => e.remove());", vec![])
        .await
        .unwrap();
    b.fill("#new-group", "Forged").await;
    submit(&b, "main form.row[method=post] button").await;
    assert!(b.text("[role=alert]").await.contains("anti-forgery"));

    // Another account's pages are 404.
    let (other, _) = app.other_account().await;
    b.goto(&format!("{}/ui/a/{other}/users", app.origin)).await;
    assert_eq!(b.text("h1").await, "Not found");

    // Sign out, then an expired session: back to sign-in.
    visit(&b, &app, &at(&app, "/"), None).await;
    submit(&b, "form.signout button").await;
    assert_eq!(b.current_path().await, "/ui/sign-in");
    b.goto(&format!("{}{}", app.origin, at(&app, "/users"))).await;
    assert_eq!(b.current_path().await, "/ui/sign-in");
    sign_in(&b, &app, &admin).await;
    app.advance(Duration::from_secs(31 * 60));
    b.goto(&format!("{}{}", app.origin, at(&app, "/users"))).await;
    assert_eq!(b.current_path().await, "/ui/sign-in?ended=1");
    assert!(b.text("[role=alert]").await.contains("session has ended"));
    b.close().await;
}

/// Presses `key` on whatever has the focus.
/// Presses Enter on the focused element and waits for the page it leads to.
async fn enter(b: &Browser) {
    mark_page(b).await;
    press(b, Key::Enter).await;
    new_page(b).await;
}

async fn press(b: &Browser, key: Key) {
    let focused = b.client().active_element().await.unwrap();
    focused.send_keys(&key.to_string()).await.unwrap();
}

/// Tabs forward until the focused element matches `css`; at most 40 presses.
async fn tab_to(b: &Browser, css: &str) {
    for _ in 0..40 {
        let matched = b
            .client()
            .execute(&format!("return document.activeElement.matches({css:?});"), vec![])
            .await
            .unwrap();
        if matched == Value::Bool(true) {
            return;
        }
        press(b, Key::Tab).await;
    }
    panic!("{css} is not reachable with Tab");
}

async fn type_text(b: &Browser, text: &str) {
    b.client().active_element().await.unwrap().send_keys(text).await.unwrap();
}

#[tokio::test]
async fn the_main_flow_works_by_keyboard_alone() {
    let Some(b) = Browser::start().await else { return };
    let app = TestApp::spawn().await;
    let admin = admin_token(&app).await;
    b.goto(&format!("{}/ui", app.origin)).await;
    // Sign in: Tab to the token field, type, Tab to the button, Enter.
    tab_to(&b, "#token").await;
    type_text(&b, &admin).await;
    tab_to(&b, "form[action='/ui/sign-in'] button").await;
    enter(&b).await;
    assert_eq!(b.current_path().await, at(&app, "/"));
    // The skip link comes first and moves to the content.
    press(&b, Key::Tab).await;
    assert_eq!(b.client().active_element().await.unwrap().text().await.unwrap(), "Skip to content");
    // To Groups through the navigation, create a group, open it, rename it.
    tab_to(&b, &format!("nav a[href='{}']", at(&app, "/groups"))).await;
    enter(&b).await;
    assert_eq!(b.current_path().await, at(&app, "/groups"));
    tab_to(&b, "#new-group").await;
    type_text(&b, "Keyboard Team").await;
    enter(&b).await;
    assert_eq!(b.text("#group-name").await, "Keyboard Team");
    tab_to(&b, "#rename").await;
    press(&b, Key::End).await;
    type_text(&b, " Renamed").await;
    enter(&b).await;
    assert_eq!(b.text("#group-name").await, "Keyboard Team Renamed");
    // Users: search from the keyboard.
    tab_to(&b, &format!("nav a[href='{}']", at(&app, "/users"))).await;
    enter(&b).await;
    tab_to(&b, "#q").await;
    type_text(&b, "nobody").await;
    enter(&b).await;
    assert!(b.current_path().await.contains("q=nobody"));
    assert!(b.page_source().await.contains("No users match."));
    b.close().await;
}
