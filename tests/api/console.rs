//! The web console's sessions and security model through HTTP (docs/console.md): sign-in by
//! admin token and by setup link, cookie flags, anti-forgery tokens, idle and absolute expiry
//! on the injected clock, revocation, sign-out, and account isolation. The pages themselves are
//! driven in a real browser in `console_browser`.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::redirect::Policy;
use serde_json::json;

use crate::adminkit::Admin;
use crate::harness::{TestApp, http_client_builder};

/// A browser-like client of the console: no redirects followed, the session cookie kept by
/// hand so a test can see and tamper with it.
pub struct Console {
    pub origin: String,
    pub account: uuid::Uuid,
    client: reqwest::Client,
    pub cookie: Option<String>,
}

pub struct Page {
    pub status: StatusCode,
    pub location: Option<String>,
    pub set_cookie: Option<String>,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Console {
    pub fn new(app: &TestApp) -> Console {
        Console {
            origin: app.origin.clone(),
            account: app.account,
            client: http_client_builder().redirect(Policy::none()).build().unwrap(),
            cookie: None,
        }
    }

    async fn send(&mut self, req: reqwest::RequestBuilder) -> Page {
        let req = match &self.cookie {
            Some(c) => req.header("cookie", c),
            None => req,
        };
        let res = req.send().await.expect("the console answers");
        let header = |name: &str| res.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
        let location = header("location");
        let set_cookie = header("set-cookie");
        if let Some(sc) = &set_cookie {
            let pair = sc.split(';').next().unwrap_or_default().to_string();
            self.cookie = pair.split_once('=').filter(|(_, v)| !v.is_empty()).map(|_| pair.clone());
        }
        let status = res.status();
        let headers = res.headers().clone();
        Page {
            status,
            location,
            set_cookie,
            headers,
            body: res.text().await.unwrap_or_default(),
        }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let req = self.client.get(format!("{}{path}", self.origin));
        self.send(req).await
    }

    /// A form post as a page of the console sends it.
    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let req = self
            .client
            .post(format!("{}{path}", self.origin))
            .header("sec-fetch-site", "same-origin")
            .form(form);
        self.send(req).await
    }

    /// `/ui/a/{account}` + rest.
    pub fn at(&self, rest: &str) -> String {
        format!("/ui/a/{}{rest}", self.account)
    }

    pub async fn sign_in(&mut self, token: &str) -> Page {
        self.post("/ui/sign-in", &[("token", token)]).await
    }

    /// The session's anti-forgery token, read from a page's form.
    pub async fn csrf(&mut self) -> String {
        let page = self.get(&self.at("/tokens")).await;
        assert_eq!(page.status, 200, "{}", page.body);
        let at = page.body.find("name=\"csrf\" value=\"").expect("a form with csrf") + 19;
        page.body[at..].split('"').next().unwrap().to_string()
    }
}

/// An admin token of the test's account and its id (`adminkit::Admin`).
async fn admin_token(app: &TestApp) -> (String, uuid::Uuid) {
    let admin = Admin::new(app).await;
    (admin.token, admin.token_id)
}

async fn signed_in(app: &TestApp) -> (Console, uuid::Uuid) {
    let (token, id) = admin_token(app).await;
    let mut c = Console::new(app);
    let page = c.sign_in(&token).await;
    assert_eq!(page.status, 303, "{}", page.body);
    (c, id)
}

#[tokio::test]
async fn an_admin_token_opens_a_session_with_a_strict_http_only_cookie() {
    let app = TestApp::spawn().await;
    let (token, _) = admin_token(&app).await;
    let mut c = Console::new(&app);
    let page = c.sign_in(&token).await;
    assert_eq!(page.status, 303);
    assert_eq!(page.location.as_deref(), Some(c.at("/").as_str()));
    let cookie = page.set_cookie.expect("a session cookie");
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200"] {
        assert!(cookie.contains(flag), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain http on loopback: {cookie}");
    assert!(!cookie.contains(&token), "the token itself never goes into the cookie");
    let page = c.get(&c.at("/")).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("SCIM base URL"), "{}", page.body);
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe-inline"), "{csp}");
    assert!(csp.contains("script-src 'self'"), "{csp}");
    // `/ui` sends a signed-in browser to its account.
    assert_eq!(c.get("/ui").await.location.as_deref(), Some(c.at("/").as_str()));
}

#[tokio::test]
async fn a_secure_cookie_when_the_public_url_is_https() {
    let app = TestApp::spawn_with(|c| c.public_url = "https://scim.example.com".into()).await;
    let (token, _) = admin_token(&app).await;
    let mut c = Console::new(&app);
    let cookie = c.sign_in(&token).await.set_cookie.unwrap();
    assert!(cookie.starts_with("__Host-scimd_console="), "{cookie}");
    assert!(cookie.contains("; Secure"), "{cookie}");
}

#[tokio::test]
async fn a_scim_token_or_garbage_does_not_open_the_console() {
    let app = TestApp::spawn().await;
    let mut c = Console::new(&app);
    for token in [app.token.as_str(), "not a token", ""] {
        let page = c.sign_in(token).await;
        assert!(page.status.is_client_error(), "{token}: {}", page.status);
        assert!(page.set_cookie.is_none());
        assert!(!page.body.contains(token) || token.is_empty() || token == "not a token");
    }
    let page = c.sign_in(&app.token).await;
    assert!(page.body.contains("admin token"), "{}", page.body);
    // Without a session, every account page sends the browser to sign in.
    let page = c.get(&c.at("/users")).await;
    assert_eq!((page.status.as_u16(), page.location.as_deref()), (303, Some("/ui/sign-in")));
}

#[tokio::test]
async fn a_form_without_its_anti_forgery_token_changes_nothing() {
    let app = TestApp::spawn().await;
    let (mut c, _) = signed_in(&app).await;
    let before = app.get("/Groups").await.body["totalResults"].clone();
    for form in [vec![("name", "Forged")], vec![("name", "Forged"), ("csrf", "wrong")]] {
        let page = c.post(&c.at("/groups"), &form).await;
        assert_eq!(page.status, 403, "{}", page.body);
        assert!(page.body.contains("anti-forgery"), "{}", page.body);
    }
    // A cross-site post is refused before its body is read, even with the right token.
    let csrf = c.csrf().await;
    let res = http_client_builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
        .post(format!("{}{}", c.origin, c.at("/groups")))
        .header("cookie", c.cookie.clone().unwrap())
        .header("sec-fetch-site", "cross-site")
        .form(&[("name", "Forged"), ("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(app.get("/Groups").await.body["totalResults"], before);
    // With it, the same form works.
    let page = c.post(&c.at("/groups"), &[("name", "Real"), ("csrf", &csrf)]).await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert_eq!(app.get("/Groups?filter=displayName eq \"Real\"").await.body["totalResults"], 1);
}

#[tokio::test]
async fn sessions_end_when_idle_and_at_their_absolute_end() {
    let app = TestApp::spawn().await;
    let (mut c, _) = signed_in(&app).await;
    // Used every 20 minutes, the session outlives the 30-minute idle limit…
    for _ in 0..3 {
        app.advance(Duration::from_secs(20 * 60));
        assert_eq!(c.get(&c.at("/")).await.status, 200);
    }
    // …but not 31 minutes without a request.
    app.advance(Duration::from_secs(31 * 60));
    let page = c.get(&c.at("/")).await;
    assert_eq!(page.status, 303);
    assert_eq!(page.location.as_deref(), Some("/ui/sign-in?ended=1"));
    assert!(c.get("/ui/sign-in?ended=1").await.body.contains("session has ended"));

    // Absolute end: 12 hours after sign-in, however busy.
    let (mut c, _) = signed_in(&app).await;
    for _ in 0..((12 * 60) / 25) {
        app.advance(Duration::from_secs(25 * 60));
        assert_eq!(c.get(&c.at("/")).await.status, 200);
    }
    app.advance(Duration::from_secs(25 * 60));
    assert_eq!(c.get(&c.at("/")).await.status, 303);
}

#[tokio::test]
async fn revoking_the_admin_token_ends_its_sessions_at_once() {
    let app = TestApp::spawn().await;
    let (mut c, token_id) = signed_in(&app).await;
    let (mut other, _) = signed_in(&app).await;
    assert_eq!(c.get(&c.at("/users")).await.status, 200);
    // Admin tokens are the operator's to revoke (the admin API and the console manage SCIM
    // tokens): `scimd token revoke`.
    app.app.service.revoke_token(app.account, token_id).await.unwrap();
    let page = c.get(&c.at("/users")).await;
    assert_eq!((page.status.as_u16(), page.location.as_deref()), (303, Some("/ui/sign-in?ended=1")));
    // A session of another admin token lives on.
    assert_eq!(other.get(&other.at("/users")).await.status, 200);
}

#[tokio::test]
async fn sign_out_ends_the_session_on_the_server() {
    let app = TestApp::spawn().await;
    let (mut c, _) = signed_in(&app).await;
    let kept = c.cookie.clone();
    // Without the session's anti-forgery token, nothing happens.
    assert_eq!(c.post("/ui/sign-out", &[]).await.status, 403);
    assert_eq!(c.get(&c.at("/")).await.status, 200);
    let csrf = c.csrf().await;
    let page = c.post("/ui/sign-out", &[("csrf", &csrf)]).await;
    assert_eq!(page.location.as_deref(), Some("/ui/sign-in"));
    assert!(page.set_cookie.unwrap().contains("Max-Age=0"));
    // The old cookie, replayed, opens nothing.
    c.cookie = kept;
    assert_eq!(c.get(&c.at("/")).await.status, 303);
}

#[tokio::test]
async fn a_session_of_one_account_finds_nothing_of_another() {
    let app = TestApp::spawn().await;
    let (mut c, _) = signed_in(&app).await;
    let (other, other_token) = app.other_account().await;
    let client = http_client_builder().build().unwrap();
    let res = client
        .post(format!("{}/scim/account/{other}/Users", app.origin))
        .bearer_auth(&other_token)
        .header("content-type", "application/scim+json")
        .body(json!({"userName": "secret.person"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let user = res.json::<serde_json::Value>().await.unwrap()["id"].as_str().unwrap().to_string();
    let csrf = c.csrf().await;
    for path in ["/", "/users", &format!("/users/{user}"), "/tokens", "/audit", "/migration/export.json"] {
        let page = c.get(&format!("/ui/a/{other}{path}")).await;
        assert_eq!(page.status, 404, "{path}");
        assert!(!page.body.contains("secret.person"), "{path}");
    }
    let page = c.post(&format!("/ui/a/{other}/users/{user}/delete"), &[("csrf", &csrf)]).await;
    assert_eq!(page.status, 404);
    // Its own pages do not show the other account's user either, by id.
    assert_eq!(c.get(&c.at(&format!("/users/{user}"))).await.status, 404);
}

#[tokio::test]
async fn a_setup_link_signs_in_once_and_only_when_its_button_is_pressed() {
    let app = TestApp::spawn().await;
    let admin = Admin::new(&app).await;
    let res = admin
        .send(reqwest::Method::POST, "/console/setup-links", Some(json!({"lifetime_seconds": 3600})))
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    let url = res.body["url"].as_str().unwrap().to_string();
    let path = url.strip_prefix(&app.origin).expect("the link is on this server").to_string();
    assert!(path.starts_with("/ui/setup?code=scimd_sl_"), "{path}");
    let code = path.split("code=").nth(1).unwrap().to_string();

    // Opening the link (as a mail scanner would) uses nothing up.
    let mut c = Console::new(&app);
    for _ in 0..2 {
        let page = c.get(&path).await;
        assert_eq!(page.status, 200);
        assert!(page.set_cookie.is_none());
        assert!(page.headers["referrer-policy"] == "no-referrer");
    }
    let page = c.post("/ui/setup", &[("code", &code)]).await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert_eq!(page.location.as_deref(), Some(c.at("/").as_str()));
    assert_eq!(c.get(&c.at("/tokens")).await.status, 200);

    // Used once, never again — not by another browser either.
    let mut second = Console::new(&app);
    let page = second.post("/ui/setup", &[("code", &code)]).await;
    assert_eq!(page.status, 401);
    assert!(page.body.contains("used already"), "{}", page.body);
    assert!(second.cookie.is_none());

    // An unused link expires.
    let res = admin
        .send(reqwest::Method::POST, "/console/setup-links", Some(json!({"lifetime_seconds": 60})))
        .await;
    let code = res.body["url"].as_str().unwrap().split("code=").nth(1).unwrap().to_string();
    app.advance(Duration::from_secs(61));
    assert_eq!(Console::new(&app).post("/ui/setup", &[("code", &code)]).await.status, 401);

    // Out-of-range lifetimes are refused with what to send instead.
    let res = admin
        .send(reqwest::Method::POST, "/console/setup-links", Some(json!({"lifetime_seconds": 5})))
        .await;
    res.assert_problem(400);
}

#[tokio::test]
async fn deleting_an_idp_managed_group_shows_the_r3_message_and_deletes_nothing() {
    let app = TestApp::spawn().await;
    let (mut c, _) = signed_in(&app).await;
    let group = app.group("Engineering", &[]).await;
    let csrf = c.csrf().await;
    let page = c.post(&c.at(&format!("/groups/{group}/delete")), &[("csrf", &csrf)]).await;
    assert_eq!(page.status, 403, "{}", page.body);
    assert!(page.body.contains("Cannot delete a group imported from SCIM"), "{}", page.body);
    assert_eq!(app.get(&format!("/Groups/{group}")).await.status, 200);
    // The group's page shows it managed, with the lock's reason.
    let page = c.get(&c.at(&format!("/groups/{group}"))).await;
    assert!(page.body.contains("Managed by Okta"), "{}", page.body);
    assert!(page.body.contains("Cannot rename a group imported from SCIM"));
}

#[tokio::test]
async fn the_overview_counts_changes_per_day_and_source() {
    let app = TestApp::spawn().await;
    let (mut c, _) = signed_in(&app).await;
    let today = app.clock.now().format("%Y-%m-%d").to_string();
    let manual_before = c.get(&c.at("/")).await.body;
    assert!(!manual_before.contains("by Okta"), "{manual_before}");
    for name in ["a", "b", "c"] {
        app.user(name).await;
    }
    let csrf = c.csrf().await;
    assert_eq!(c.post(&c.at("/groups"), &[("name", "Native"), ("csrf", &csrf)]).await.status, 303);
    let page = c.get(&c.at("/")).await.body;
    assert!(page.contains(&format!("{today}: 3 by Okta")), "{page}");
    let admins = |body: &str| -> i64 {
        let at = body.find(&format!("{today}: ")).map(|_| ()).and(body.find(" by admins"));
        at.map(|end| {
            let start = body[..end].rfind(": ").unwrap() + 2;
            body[start..end].parse().unwrap()
        })
        .unwrap_or(0)
    };
    assert_eq!(admins(&page), admins(&manual_before) + 1, "the group created counts for admins");
    // 30 days on, that day has left the chart. (A change's day is the database's time, as the
    // audit log's; only the service's clock is injected, so days beyond the first are not.)
    app.advance(Duration::from_secs(30 * 86_400));
    let (token, _) = admin_token(&app).await;
    assert_eq!(c.sign_in(&token).await.status, 303);
    let page = c.get(&c.at("/")).await.body;
    assert!(!page.contains(&format!("{today}: ")), "{page}");
    assert!(page.contains(": 0 in all") || page.contains(" 0 in all"), "{page}");
}
