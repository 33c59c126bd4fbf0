//! Webhooks (docs/events.md, "Webhooks"): the change feed POSTed to an endpoint, signed per
//! Standard Webhooks (verified here with the specification's reference library), in order, at
//! least once, retried on the server's clock with backoff, disabled after a day and a half of
//! failure (and the account told), re-enabled and redelivered; URLs into the server's own
//! networks refused; two processes sharing the work without sending an event twice.
//!
//! Deliveries run by `Service::deliver_webhooks`, one round per call (`scimd serve` runs one a
//! second), so the test decides when they happen and advances the clock for retries.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};

use crate::adminkit::Admin;
use crate::harness::TestApp;

const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

#[derive(Clone, Copy, Debug)]
enum Answer {
    Status(u16),
    /// Answers after this long (beyond the delivery timeout of these tests: a timeout).
    Late(Duration),
}

#[derive(Clone, Default)]
pub(crate) struct Inbox {
    got: Arc<Mutex<Vec<(HeaderMap, Bytes)>>>,
    script: Arc<Mutex<VecDeque<Answer>>>,
    /// When the script is empty.
    default: Arc<Mutex<u16>>,
}

impl Inbox {
    pub(crate) fn messages(&self) -> Vec<(HeaderMap, Value)> {
        self.got
            .lock()
            .unwrap()
            .iter()
            .map(|(h, b)| (h.clone(), serde_json::from_slice(b).unwrap()))
            .collect()
    }

    pub(crate) fn ids(&self) -> Vec<String> {
        self.messages()
            .iter()
            .map(|(h, _)| h["webhook-id"].to_str().unwrap().to_string())
            .collect()
    }
}

/// A receiver on loopback: records every request, answers as scripted.
pub(crate) async fn receiver() -> (String, Inbox) {
    let inbox = Inbox::default();
    *inbox.default.lock().unwrap() = 204;
    let state = inbox.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let state = state.clone();
            async move {
                state.got.lock().unwrap().push((headers, body));
                let answer = state.script.lock().unwrap().pop_front();
                let status = match answer {
                    Some(Answer::Status(s)) => s,
                    Some(Answer::Late(wait)) => {
                        tokio::time::sleep(wait).await;
                        204
                    }
                    None => *state.default.lock().unwrap(),
                };
                StatusCode::from_u16(status).unwrap()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, inbox)
}

async fn spawn() -> TestApp {
    TestApp::spawn_with(|c| {
        c.webhook_allow_private_networks = true;
        c.webhook_timeout_seconds = 1;
    })
    .await
}

pub(crate) async fn endpoint(admin: &Admin<'_>, url: &str) -> (String, String) {
    let res = admin.post("/webhooks", json!({"url": url, "description": "app"})).await;
    assert_eq!(res.status, 201, "{}", res.text);
    (
        res.body["id"].as_str().unwrap().to_string(),
        res.body["secret"].as_str().unwrap().to_string(),
    )
}

/// Rounds until one attempts nothing; the attempts made.
async fn deliver(app: &TestApp) -> usize {
    let mut total = 0;
    for _ in 0..20 {
        let n = app.app.service.deliver_webhooks().await.unwrap();
        if n == 0 {
            return total;
        }
        total += n;
    }
    panic!("deliveries never settled");
}

async fn some_changes(app: &TestApp) {
    let user = app.post("/Users", json!({"userName": "hook.user", "externalId": "x1"})).await;
    assert_eq!(user.status, 201, "{}", user.text);
    let uid = user.body["id"].as_str().unwrap().to_string();
    let off = app
        .patch(
            &format!("/Users/{uid}"),
            json!({"schemas": [PATCH], "Operations": [{"op": "replace", "path": "active", "value": false}]}),
        )
        .await;
    assert_eq!(off.status, 200, "{}", off.text);
    let group = app
        .post("/Groups", json!({"displayName": "Hooked", "members": [{"value": uid}]}))
        .await;
    assert_eq!(group.status, 201, "{}", group.text);
    assert_eq!(app.delete(&format!("/Users/{uid}")).await.status, 204);
}

/// Every event of the feed arrives once, in feed order, signed so that the Standard Webhooks
/// library verifies it, carrying exactly what the events API shows.
#[tokio::test]
async fn webhooks_carry_every_event_signed_in_order() {
    let app = spawn().await;
    let admin = Admin::new(&app).await;
    let (url, inbox) = receiver().await;
    let (id, secret) = endpoint(&admin, &url).await;
    some_changes(&app).await;
    let attempts = deliver(&app).await;

    let messages = inbox.messages();
    assert_eq!(attempts, messages.len());
    let verifier = standardwebhooks::Webhook::new(&secret).unwrap();
    for (headers, _) in &messages {
        assert!(headers.contains_key("webhook-timestamp"));
    }
    for (headers, body) in inbox.got.lock().unwrap().iter() {
        verifier.verify(body, headers).expect("the signature verifies");
        let wrong = standardwebhooks::Webhook::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert!(wrong.verify(body, headers).is_err());
    }
    // The feed since the endpoint was created, as the events API gives it.
    let feed = admin.get("/events?limit=1000").await;
    let feed: Vec<Value> = feed.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] != "token.created")
        .cloned()
        .collect();
    let delivered: Vec<Value> = messages.iter().map(|(_, b)| b["data"].clone()).collect();
    assert_eq!(delivered, feed, "the webhook carries the events API's events, in its order");
    for (headers, body) in &messages {
        assert_eq!(headers["webhook-id"].to_str().unwrap(), format!("evt_{}", body["data"]["id"].as_str().unwrap()));
        assert_eq!(body["type"], body["data"]["type"]);
        assert_eq!(headers["content-type"], "application/json");
    }
    let types: Vec<&str> = delivered.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        [
            "webhook.created",
            "user.created",
            "user.deactivated",
            "group.created",
            "group.member_added",
            "user.deleted",
            "group.member_removed"
        ]
    );

    let log = admin.get(&format!("/webhooks/{id}/deliveries")).await;
    assert_eq!(log.status, 200, "{}", log.text);
    let items = log.body["items"].as_array().unwrap();
    assert_eq!(items.len(), messages.len());
    assert!(items.iter().all(|d| d["status"] == 204 && d["attempt"] == 1), "{}", log.text);
    let state = admin.get(&format!("/webhooks/{id}")).await;
    assert_eq!(state.body["position"], delivered.last().unwrap()["id"], "{}", state.text);
    assert!(!state.text.contains(&secret), "the secret is shown once");
}

/// A failing endpoint gets the same event again, with the same `webhook-id`, when its backoff
/// (on the server's clock) has passed, and never a later event first; an answer that comes too
/// late counts as a failure; once it answers, the rest follows in order.
#[tokio::test]
async fn a_failing_endpoint_is_retried_with_backoff_and_recovers() {
    let app = spawn().await;
    let admin = Admin::new(&app).await;
    let (url, inbox) = receiver().await;
    let (id, _) = endpoint(&admin, &url).await;
    some_changes(&app).await;
    inbox.script.lock().unwrap().extend([
        Answer::Status(500),
        Answer::Status(503),
        Answer::Late(Duration::from_secs(3)),
    ]);

    assert_eq!(app.app.service.deliver_webhooks().await.unwrap(), 1);
    assert_eq!(app.app.service.deliver_webhooks().await.unwrap(), 0, "not due before its backoff");
    let state = admin.get(&format!("/webhooks/{id}")).await;
    assert_eq!(state.body["attempts"], 1, "{}", state.text);
    assert!(state.body["next_attempt_at"].is_string() && state.body["failing_since"].is_string());
    app.advance(Duration::from_secs(5));
    assert_eq!(app.app.service.deliver_webhooks().await.unwrap(), 1);
    app.advance(Duration::from_secs(30));
    assert_eq!(app.app.service.deliver_webhooks().await.unwrap(), 1);
    app.advance(Duration::from_secs(120));
    deliver(&app).await;

    let ids = inbox.ids();
    let first = ids[0].clone();
    assert_eq!(&ids[..4], &[first.clone(), first.clone(), first.clone(), first], "{ids:?}");
    let mut distinct = ids.clone();
    distinct.dedup();
    let numbers: Vec<i64> = distinct
        .iter()
        .map(|i| i.trim_start_matches("evt_").parse().unwrap())
        .collect();
    assert!(numbers.windows(2).all(|w| w[0] < w[1]), "in order: {ids:?}");
    assert_eq!(distinct.len(), 7, "nothing missing (webhook.created and the six changes): {ids:?}");
    let log = admin.get(&format!("/webhooks/{id}/deliveries?limit=1000")).await;
    let mut items: Vec<Value> = log.body["items"].as_array().unwrap().clone();
    items.reverse();
    let statuses: Vec<Value> = items.iter().take(4).map(|d| d["status"].clone()).collect();
    assert_eq!(statuses, vec![json!(500), json!(503), Value::Null, json!(204)], "{}", log.text);
    assert!(items[2]["error"].as_str().unwrap().contains("timeout"), "{}", log.text);
    assert_eq!(items[3]["attempt"], 4);
    let state = admin.get(&format!("/webhooks/{id}")).await;
    assert_eq!(state.body["attempts"], 0, "{}", state.text);
    assert!(state.body["failing_since"].is_null());
}

/// After its last retry (more than a day of failures) an endpoint is disabled, and the account
/// learns it from its feed; re-enabled, it resumes where it stopped; redelivery sends again
/// from any position.
#[tokio::test]
async fn an_endpoint_failing_for_a_day_is_disabled_and_resumes_when_re_enabled() {
    let app = spawn().await;
    let admin = Admin::new(&app).await;
    let (url, inbox) = receiver().await;
    *inbox.default.lock().unwrap() = 500;
    let (id, _) = endpoint(&admin, &url).await;
    let start = admin.get("/events?limit=0").await.body["next_cursor"].as_str().unwrap().to_string();
    some_changes(&app).await;

    let mut failed_for = Duration::ZERO;
    for delay in scimd::service::webhooks::RETRY_AFTER {
        assert_eq!(app.app.service.deliver_webhooks().await.unwrap(), 1);
        app.advance(delay);
        failed_for += delay;
    }
    assert!(failed_for > Duration::from_secs(86_400));
    assert_eq!(app.app.service.deliver_webhooks().await.unwrap(), 1, "the last attempt");
    app.advance(Duration::from_secs(86_400));
    assert_eq!(app.app.service.deliver_webhooks().await.unwrap(), 0, "disabled: no more attempts");
    let state = admin.get(&format!("/webhooks/{id}")).await;
    assert_eq!(state.body["enabled"], false, "{}", state.text);
    assert!(state.body["disabled_reason"].as_str().unwrap().contains("re-enable"), "{}", state.text);
    let told = admin.get("/events?types=webhook.disabled").await;
    assert_eq!(told.body["events"][0]["resource"]["id"], id.as_str(), "{}", told.text);
    assert_eq!(inbox.ids().len(), 12);

    *inbox.default.lock().unwrap() = 204;
    let res = admin.patch(&format!("/webhooks/{id}"), json!({"enabled": true})).await;
    assert_eq!(res.status, 200, "{}", res.text);
    deliver(&app).await;
    let ids = inbox.ids();
    assert_eq!(ids[12], ids[0], "it resumes at the event it stopped at");

    // Redelivery from the start sends every event after it again, in order.
    let before = ids.len();
    let res = admin
        .post(&format!("/webhooks/{id}/redeliver"), json!({"after": start}))
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    deliver(&app).await;
    let again = inbox.ids()[before..].to_vec();
    let feed = admin.get(&format!("/events?after={start}&limit=1000")).await;
    let expected: Vec<String> = feed.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| format!("evt_{}", e["id"].as_str().unwrap()))
        .collect();
    assert_eq!(again, expected);
}

/// A URL that reaches the server's own networks is refused (server-side request forgery),
/// as are other schemes and unknown event types.
#[tokio::test]
async fn urls_into_the_server_s_networks_are_refused() {
    let app = TestApp::spawn().await;
    let admin = Admin::new(&app).await;
    for (body, says) in [
        (json!({"url": "http://127.0.0.1:9/hook"}), "loopback"),
        (json!({"url": "http://169.254.169.254/latest/meta-data"}), "link-local"),
        (json!({"url": "http://10.0.0.7/hook"}), "private"),
        (json!({"url": "http://[::1]/hook"}), "loopback"),
        (json!({"url": "http://localhost:8080/hook"}), "loopback"),
        (json!({"url": "ftp://hooks.example.com/"}), "http or https"),
        (json!({"url": "https://hooks.example.com/", "types": ["user.exploded"]}), "unknown event type"),
        (json!({"url": "https://hooks.example.com/", "types": []}), "at least one"),
    ] {
        let res = admin.post("/webhooks", body.clone()).await;
        assert_eq!(res.status, 400, "{body}: {}", res.text);
        assert!(res.text.contains(says), "{body}: {}", res.text);
    }
    assert_eq!(admin.get("/webhooks").await.body["items"], json!([]));
}

/// Two processes on one database run rounds at the same time: each event reaches the endpoint
/// once (leases keep them off each other's endpoints), and all of them arrive.
#[tokio::test]
async fn two_processes_share_deliveries_without_sending_twice() {
    let app = spawn().await;
    let admin = Admin::new(&app).await;
    let second = scimd::server::App::open_with_clock(&app.config, app.clock.clock())
        .await
        .unwrap();
    let mut inboxes = Vec::new();
    for _ in 0..4 {
        let (url, inbox) = receiver().await;
        endpoint(&admin, &url).await;
        inboxes.push(inbox);
    }
    for i in 0..10 {
        let res = app.post("/Users", json!({"userName": format!("shared{i}")})).await;
        assert_eq!(res.status, 201, "{}", res.text);
    }
    for _ in 0..10 {
        let (a, b) = tokio::join!(app.app.service.deliver_webhooks(), second.service.deliver_webhooks());
        if a.unwrap() + b.unwrap() == 0 {
            break;
        }
    }
    for inbox in &inboxes {
        let ids = inbox.ids();
        let mut distinct = ids.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(ids.len(), distinct.len(), "sent twice: {ids:?}");
        let users = inbox
            .messages()
            .iter()
            .filter(|(_, b)| b["type"] == "user.created")
            .count();
        assert_eq!(users, 10, "{ids:?}");
    }
    second.store.close().await;
}

/// The CLI manages endpoints and OAuth clients as the admin API does: an endpoint created there
/// is delivered to by the server; a client created there gets tokens at the token endpoint.
#[tokio::test]
async fn the_cli_manages_webhooks_and_oauth_clients() {
    let app = TestApp::spawn().await;
    let account = app.account.to_string();
    let scimd = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_scimd"))
            .args(args)
            .env("DATABASE_URL", &app.config.database_url)
            .env("SCIMD_WEBHOOK_ALLOW_PRIVATE_NETWORKS", "true")
            .output()
            .expect("scimd runs");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    };
    let (ok, out) = scimd(&[
        "--json", "webhook", "create", "--account", &account, "--url", "http://127.0.0.1:9/hook", "--types",
        "user.created,user.deleted",
    ]);
    assert!(ok, "{out}");
    let created: Value = serde_json::from_str(out.trim()).unwrap();
    assert!(created["secret"].as_str().unwrap().starts_with("whsec_"), "{out}");
    assert_eq!(created["types"], json!(["user.created", "user.deleted"]));
    let id = created["id"].as_str().unwrap();
    let (ok, out) = scimd(&["webhook", "list", "--account", &account]);
    assert!(ok && out.contains(id) && out.contains("127.0.0.1:9"), "{out}");
    let (ok, out) = scimd(&["webhook", "create", "--account", &account, "--url", "http://127.0.0.1:9/", "--types", "nope"]);
    assert!(!ok && out.contains("unknown event type"), "{out}");
    let (ok, out) = scimd(&["webhook", "delete", "--account", &account, "--webhook", id]);
    assert!(ok, "{out}");

    let (ok, out) = scimd(&["--json", "oauth-client", "create", "--account", &account, "--idp", "entra"]);
    assert!(ok, "{out}");
    let client: Value = serde_json::from_str(out.trim()).unwrap();
    let (client_id, secret) = (client["client_id"].as_str().unwrap(), client["client_secret"].as_str().unwrap());
    let form = format!("grant_type=client_credentials&client_id={client_id}&client_secret={secret}");
    let res = app
        .raw(
            reqwest::Method::POST,
            &app.scim("/oauth/token"),
            &[("Content-Type", "application/x-www-form-urlencoded")],
            Some(form.into_bytes()),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    let (ok, out) = scimd(&["oauth-client", "revoke", "--account", &account, "--client", client_id]);
    assert!(ok, "{out}");
    let (ok, out) = scimd(&["oauth-client", "list", "--account", &account]);
    assert!(ok && out.contains("revoked"), "{out}");
}

/// A restarted server (a new process on the same database: new pools, a new lease owner) goes on
/// from where the last one stopped: the events delivered before are not sent again, the later
/// ones are.
#[tokio::test]
async fn deliveries_go_on_after_a_restart() {
    let app = spawn().await;
    let admin = Admin::new(&app).await;
    let (url, inbox) = receiver().await;
    endpoint(&admin, &url).await;
    app.post("/Users", json!({"userName": "before.restart"})).await;
    deliver(&app).await;
    let before = inbox.ids();
    app.post("/Users", json!({"userName": "after.restart"})).await;
    let restarted = scimd::server::App::open_with_clock(&app.config, app.clock.clock())
        .await
        .unwrap();
    while restarted.service.deliver_webhooks().await.unwrap() > 0 {}
    let ids = inbox.ids();
    assert_eq!(&ids[..before.len()], &before[..]);
    assert_eq!(ids.len(), before.len() + 1, "{ids:?}");
    let last = &inbox.messages()[ids.len() - 1].1;
    assert_eq!(last["data"]["data"]["userName"], "after.restart");
    restarted.store.close().await;
}
