//! Signing in and out, and the session every account page needs (docs/console.md, "Sessions").

use axum::body::{Body, to_bytes};
use axum::extract::{Form, RawPathParams, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use maud::html;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::layout;
use super::{MAX_FORM_BYTES, error_page, not_found, same_origin, see_other};
use crate::http::AppState;
use crate::service::console::{ConsoleSession, OpenedSession};

const COOKIE: &str = "scimd_console";
/// The name on https: `__Host-` makes browsers refuse it unless it is Secure, host-only and for
/// the whole path, so a sibling subdomain cannot plant one.
const SECURE_COOKIE: &str = "__Host-scimd_console";

fn secure(st: &AppState) -> bool {
    st.http
        .public_url
        .as_deref()
        .is_some_and(|u| u.to_ascii_lowercase().starts_with("https://"))
}

fn cookie_name(st: &AppState) -> &'static str {
    if secure(st) { SECURE_COOKIE } else { COOKIE }
}

/// The session secret the browser sent, if any.
pub(super) fn session_secret(st: &AppState, headers: &HeaderMap) -> Option<String> {
    let name = cookie_name(st);
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
        .filter(|v| !v.is_empty())
}

/// `Set-Cookie` for a session: HttpOnly (no script reads it), SameSite=Strict (no other site's
/// page sends it), Secure on https, and gone when the session's absolute end comes.
fn session_cookie(st: &AppState, opened: &OpenedSession) -> HeaderValue {
    let max_age = (opened.expires_at - st.service.clock().now())
        .num_seconds()
        .max(0);
    let value = format!(
        "{}={}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{}",
        cookie_name(st),
        opened.secret,
        if secure(st) { "; Secure" } else { "" }
    );
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn cleared_cookie(st: &AppState) -> HeaderValue {
    let value = format!(
        "{}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{}",
        cookie_name(st),
        if secure(st) { "; Secure" } else { "" }
    );
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn signed_in(st: &AppState, opened: &OpenedSession) -> Response {
    let mut res = see_other(&format!("/ui/a/{}/", opened.account_id));
    res.headers_mut()
        .insert(header::SET_COOKIE, session_cookie(st, opened));
    res
}

/// Compares two anti-forgery tokens through their digests, so the time taken says nothing
/// about how much of a guess was right.
fn same_token(a: &str, b: &str) -> bool {
    Sha256::digest(a.as_bytes()) == Sha256::digest(b.as_bytes())
}

pub(super) fn forged(session: &ConsoleSession) -> Response {
    error_page(
        Some(session),
        crate::service::Error::Forbidden(
            "this form did not come from a page of your console session (its anti-forgery token is \
             missing or out of date): reload the page and try again"
                .into(),
        ),
        &super::account_path(session, "/"),
    )
}

/// Whether a form's anti-forgery field is the session's (the middleware checks url-encoded
/// forms; a multipart form's handler calls this).
pub(super) fn csrf_ok(session: &ConsoleSession, sent: Option<&str>) -> bool {
    sent.is_some_and(|t| same_token(t, &session.csrf))
}

/// Every account page: a live session of this very account (another account's pages are 404,
/// as if they did not exist), and on a form post its anti-forgery token.
pub(super) async fn require_session(
    State(st): State<AppState>,
    params: RawPathParams,
    req: Request,
    next: Next,
) -> Response {
    let Some(secret) = session_secret(&st, req.headers()) else {
        return see_other("/ui/sign-in");
    };
    let session = match st.service.console_session(&secret).await {
        Ok(s) => s,
        Err(crate::service::Error::Unauthorized(_)) => {
            let mut res = see_other("/ui/sign-in?ended=1");
            res.headers_mut().insert(header::SET_COOKIE, cleared_cookie(&st));
            return res;
        }
        Err(err) => return error_page(None, err, "/ui"),
    };
    tracing::Span::current().record("account", tracing::field::display(session.caller.account_id));
    let path_account = params
        .iter()
        .find(|(name, _)| *name == "account_id")
        .map(|(_, v)| v.to_string())
        .unwrap_or_default();
    if path_account != session.caller.account_id.to_string() {
        return not_found(Some(&session));
    }
    if !same_origin(&req) {
        return forged(&session);
    }
    let mut req = req;
    if req.method() != axum::http::Method::GET && req.method() != axum::http::Method::HEAD {
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        if content_type.starts_with("application/x-www-form-urlencoded") {
            let (parts, body) = req.into_parts();
            let Ok(bytes) = to_bytes(body, MAX_FORM_BYTES).await else {
                return error_page(
                    Some(&session),
                    crate::scim::ScimError::new(
                        413,
                        None,
                        "the form is larger than the console accepts (64 KiB)",
                    ),
                    &super::account_path(&session, "/"),
                );
            };
            let sent = form_urlencoded::parse(&bytes)
                .find(|(k, _)| k == "csrf")
                .map(|(_, v)| v.into_owned());
            if !csrf_ok(&session, sent.as_deref()) {
                return forged(&session);
            }
            req = Request::from_parts(parts, Body::from(bytes));
        } else if !content_type.starts_with("multipart/form-data") {
            return forged(&session);
        }
    }
    req.extensions_mut().insert(session);
    next.run(req).await
}

/// `/ui`: the account's overview when signed in, else the sign-in page.
pub(super) async fn entry(State(st): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(secret) = session_secret(&st, &headers)
        && let Ok(session) = st.service.console_session(&secret).await
    {
        return see_other(&super::account_path(&session, "/"));
    }
    see_other("/ui/sign-in")
}

#[derive(Deserialize)]
pub(super) struct Ended {
    ended: Option<String>,
}

fn sign_in_page(message: Option<&str>, status: StatusCode) -> Response {
    let body = layout::page(
        None,
        "Sign in",
        "",
        html! {
            h1 { "Sign in to the scimd console" }
            @if let Some(m) = message {
                div.alert.error role="alert" { p { (m) } }
            }
            form method="post" action="/ui/sign-in" {
                label for="token" { "Admin token of your account" }
                textarea #token name="token" rows="4" required autocomplete="off" spellcheck="false" {}
                p.hint { "An admin token is issued with " code { "scimd token create --kind admin" } " or by the operator who runs scimd. It is sent once; the browser then keeps only a session cookie." }
                button type="submit" { "Sign in" }
            }
            p.hint { "Got a setup link? Open it in this browser: it signs you in once, without a token." }
        },
    );
    (status, body).into_response()
}

pub(super) async fn sign_in_form(axum::extract::Query(q): axum::extract::Query<Ended>) -> Response {
    let message = q
        .ended
        .is_some()
        .then_some("Your session has ended (signed out, idle for too long, or its admin token was revoked). Sign in again.");
    sign_in_page(message, StatusCode::OK)
}

#[derive(Deserialize)]
pub(super) struct SignIn {
    token: String,
}

pub(super) async fn sign_in(State(st): State<AppState>, req: Request) -> Response {
    if !same_origin(&req) {
        return sign_in_page(
            Some("Sign in from this server's own sign-in page."),
            StatusCode::FORBIDDEN,
        );
    }
    let Ok(Form(form)) = Form::<SignIn>::from_request_limited(req, &st).await else {
        return sign_in_page(Some("Paste an admin token to sign in."), StatusCode::BAD_REQUEST);
    };
    match st.service.open_console_with_token(&form.token).await {
        Ok(opened) => signed_in(&st, &opened),
        Err(crate::service::Error::Unauthorized(detail)) => sign_in_page(
            Some(&format!(
                "That token does not open a console: {detail}. The console needs an admin token (not a SCIM token) of your account."
            )),
            StatusCode::UNAUTHORIZED,
        ),
        Err(err) => error_page(None, err, "/ui/sign-in"),
    }
}

#[derive(Deserialize)]
pub(super) struct SetupCode {
    code: Option<String>,
}

/// A setup link's page: one button that uses the link. Opening the link does not use it: mail
/// scanners and chat previews fetch links before a person does, and would burn a link that a GET
/// used up.
pub(super) async fn setup_form(axum::extract::Query(q): axum::extract::Query<SetupCode>) -> Response {
    let code = q.code.unwrap_or_default();
    let body = layout::page(
        None,
        "Set up SCIM",
        "",
        html! {
            h1 { "Welcome" }
            p { "This single-use link opens the SCIM console of one account. Continue to sign in; the link then stops working." }
            form method="post" action="/ui/setup" {
                input type="hidden" name="code" value=(code);
                button type="submit" { "Continue to the console" }
            }
        },
    );
    body.into_response()
}

pub(super) async fn setup(State(st): State<AppState>, req: Request) -> Response {
    if !same_origin(&req) {
        return sign_in_page(
            Some("Open the setup link in this browser and press Continue."),
            StatusCode::FORBIDDEN,
        );
    }
    let code = match Form::<SetupCode>::from_request_limited(req, &st).await {
        Ok(Form(f)) => f.code.unwrap_or_default(),
        Err(_) => String::new(),
    };
    match st.service.open_console_with_setup_link(&code).await {
        Ok(opened) => signed_in(&st, &opened),
        Err(crate::service::Error::Unauthorized(detail)) => {
            sign_in_page(Some(&detail), StatusCode::UNAUTHORIZED)
        }
        Err(err) => error_page(None, err, "/ui/sign-in"),
    }
}

#[derive(Deserialize)]
pub(super) struct SignOut {
    csrf: Option<String>,
}

/// Ends the session: a state-changing form like the others, so it carries the session's
/// anti-forgery token (a forged sign-out would be a nuisance, not a breach, but it is refused
/// all the same). Without a live session there is nothing to end, and the browser is sent to
/// sign in.
pub(super) async fn sign_out(State(st): State<AppState>, req: Request) -> Response {
    let secret = session_secret(&st, req.headers());
    if let Some(secret) = secret
        && let Ok(session) = st.service.console_session(&secret).await
    {
        if !same_origin(&req) {
            return forged(&session);
        }
        let sent = Form::<SignOut>::from_request_limited(req, &st)
            .await
            .ok()
            .and_then(|Form(f)| f.csrf);
        if !csrf_ok(&session, sent.as_deref()) {
            return forged(&session);
        }
        if let Err(err) = st.service.close_console_session(&secret).await {
            return error_page(None, err, "/ui");
        }
    }
    let mut res = see_other("/ui/sign-in");
    res.headers_mut().insert(header::SET_COOKIE, cleared_cookie(&st));
    res
}

/// A url-encoded form of at most `MAX_FORM_BYTES`.
trait FormLimited: Sized {
    async fn from_request_limited(req: Request, st: &AppState) -> Result<Self, Response>;
}

impl<T: serde::de::DeserializeOwned + Send> FormLimited for Form<T> {
    async fn from_request_limited(req: Request, st: &AppState) -> Result<Self, Response> {
        use axum::extract::FromRequest;
        let (parts, body) = req.into_parts();
        let bytes = to_bytes(body, MAX_FORM_BYTES)
            .await
            .map_err(|_| StatusCode::PAYLOAD_TOO_LARGE.into_response())?;
        Form::<T>::from_request(Request::from_parts(parts, Body::from(bytes)), st)
            .await
            .map_err(IntoResponse::into_response)
    }
}
