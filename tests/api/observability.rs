//! What operators watch: `/metrics` stays bounded whatever unauthenticated clients send
//! (issue 16.1), reports the build, the process and the database pool, and a request's trace
//! reaches an OpenTelemetry collector (a real OTLP/HTTP receiver started by the test).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use prost::Message;
use reqwest::Method;
use serde_json::{Value, json};

use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use opentelemetry_proto::tonic::common::v1::any_value;
use opentelemetry_proto::tonic::trace::v1::Span;

use crate::harness::{Scratch, TestApp, eventually};
use crate::ops::Scimd;

/// Resident memory of process `pid` in KiB, from `/proc/PID/status`.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("reads /proc/PID/status");
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kib| kib.parse().ok())
        .expect("a VmRSS line")
}

/// The samples of an OpenMetrics text: every line that is not a comment.
fn samples(text: &str) -> Vec<&str> {
    text.lines().filter(|l| !l.is_empty() && !l.starts_with('#')).collect()
}

/// The value of the sample named exactly `name` (no labels).
pub(crate) fn sample(text: &str, name: &str) -> f64 {
    samples(text)
        .into_iter()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no sample {name}:\n{text}"))
}

/// The text `/metrics` serves at `origin` now.
pub(crate) async fn scrape(client: &reqwest::Client, origin: &str) -> String {
    let res = client.get(format!("{origin}/metrics")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    res.text().await.unwrap()
}

/// A method nobody standardised, unique to `i`, about 1 KB long (the review used 200 KB).
fn invented(i: usize) -> String {
    format!("R{i:07}{}", "Z".repeat(1016))
}

/// Sends requests `from..to` with invented methods, eight at a time, half to a real route
/// (405) and half to paths no route knows (404).
async fn send_invented(client: &reqwest::Client, origin: &str, from: usize, to: usize) {
    let mut tasks = tokio::task::JoinSet::new();
    for lane in 0..8 {
        let client = client.clone();
        let origin = origin.to_string();
        tasks.spawn(async move {
            for i in (from + lane..to).step_by(8) {
                let method = Method::from_bytes(invented(i).as_bytes()).unwrap();
                let url = match i % 2 {
                    0 => format!("{origin}/healthz"),
                    _ => format!("{origin}/nowhere/{i}"),
                };
                let res = client.request(method, url).send().await.unwrap();
                assert!([404, 405].contains(&res.status().as_u16()), "{}", res.status());
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
}

#[tokio::test]
async fn invented_methods_do_not_grow_the_metrics_or_the_memory() {
    // A server process of its own, so that its resident memory is its alone.
    let (_scratch, url) = Scratch::new();
    let server = Scimd::start(
        &["serve", "--listen", "127.0.0.1:0"],
        &[("DATABASE_URL".to_string(), url)],
        false,
        &std::env::temp_dir(),
    )
    .await;
    let client = crate::harness::http_client();
    // Warm up: connections, buffers and the series every later request lands in.
    send_invented(&client, &server.origin, 0, 1_000).await;
    scrape(&client, &server.origin).await;
    let before = scrape(&client, &server.origin).await;
    let rss_before = rss_kib(server.pid());

    send_invented(&client, &server.origin, 1_000, 11_000).await;
    let after = scrape(&client, &server.origin).await;
    let rss_after = rss_kib(server.pid());

    let series_before = samples(&before).len();
    let series_after = samples(&after).len();
    eprintln!(
        "series {series_before} -> {series_after}; resident memory {rss_before} KiB -> {rss_after} KiB"
    );
    assert_eq!(series_after, series_before, "new series:\n{after}");
    assert!(
        !after.contains("R00") && after.contains(r#"method="other""#),
        "invented methods are counted as `other`:\n{after}"
    );
    assert!(after.contains(r#"route="unmatched""#), "{after}");
    // Labelled by what the clients sent, 10,000 methods of 1 KB would keep well over 20 MB
    // (each in two families, with a histogram each); allow allocator noise, not that.
    let grown_kib = rss_after.saturating_sub(rss_before);
    assert!(
        grown_kib < 8 * 1024,
        "resident memory grew by {grown_kib} KiB ({rss_before} -> {rss_after})"
    );
    assert!(
        sample(&after, "process_resident_memory_bytes") > 0.0,
        "the server reports its own memory"
    );
    server.stop().await;
}

#[tokio::test]
async fn metrics_report_the_build_the_process_and_the_database_pool() {
    let app = TestApp::spawn().await;
    // A request that used the database, so the pool has opened a connection.
    assert_eq!(app.get("/Users").await.status, 200);
    let res = app
        .raw(Method::GET, &format!("{}/metrics", app.origin), &[], None)
        .await;
    assert_eq!(res.status, 200);
    let text = &res.text;
    let build = format!(
        r#"scimd_build_info{{version="{}",commit=""#,
        env!("CARGO_PKG_VERSION")
    );
    assert!(text.contains(&build), "{text}");
    // The server runs in this process: its figures are this process's.
    let rss = sample(text, "process_resident_memory_bytes");
    let own = (std::fs::read_to_string("/proc/self/status").unwrap())
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        .unwrap()
        * 1024.0;
    assert!(rss > own / 4.0 && rss < own * 4.0, "{rss} vs {own}");
    assert!(sample(text, "process_cpu_seconds_total") > 0.0, "{text}");
    assert!(sample(text, "process_open_fds") >= 3.0, "{text}");
    assert!(sample(text, "process_max_fds") >= sample(text, "process_open_fds"));
    let open = sample(text, "scimd_db_pool_connections_in_use") + sample(text, "scimd_db_pool_connections_idle");
    assert!((1.0..=8.0).contains(&open), "the test pool holds 1 to 8 connections: {text}");
    // Nothing waits for the database once the requests are answered (the bookkeeping write of
    // the token's first use runs in the background and may still be starting: polled).
    if sample(text, "scimd_db_pool_waiting") != 0.0 {
        eventually("nobody waits for the database", Duration::from_secs(5), || async {
            let text = app
                .raw(Method::GET, &format!("{}/metrics", app.origin), &[], None)
                .await
                .text;
            if sample(&text, "scimd_db_pool_waiting") == 0.0 { Ok(()) } else { Err(text) }
        })
        .await;
    }
}

/// A collector stand-in: an OTLP/HTTP receiver on loopback keeping every span it is sent.
async fn collector() -> (String, Arc<Mutex<Vec<Span>>>) {
    use axum::body::Bytes;
    use axum::extract::State;
    use axum::http::header;
    use axum::response::IntoResponse;

    let spans = Arc::new(Mutex::new(Vec::new()));
    let receive = |State(spans): State<Arc<Mutex<Vec<Span>>>>, body: Bytes| async move {
        let request = ExportTraceServiceRequest::decode(body).expect("an OTLP protobuf trace export");
        let mut kept = spans.lock().unwrap();
        for resource in request.resource_spans {
            for scope in resource.scope_spans {
                kept.extend(scope.spans);
            }
        }
        (
            [(header::CONTENT_TYPE, "application/x-protobuf")],
            ExportTraceServiceResponse::default().encode_to_vec(),
        )
            .into_response()
    };
    let app = axum::Router::new()
        .route("/v1/traces", axum::routing::post(receive))
        .with_state(spans.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (origin, spans)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A span attribute as text, whatever its OTLP type.
fn attribute(span: &Span, key: &str) -> Option<String> {
    let value = span.attributes.iter().find(|kv| kv.key == key)?.value.as_ref()?.value.as_ref()?;
    Some(match value {
        any_value::Value::StringValue(s) => s.clone(),
        any_value::Value::IntValue(i) => i.to_string(),
        any_value::Value::BoolValue(b) => b.to_string(),
        any_value::Value::DoubleValue(d) => d.to_string(),
        other => format!("{other:?}"),
    })
}

#[tokio::test]
async fn a_scim_request_is_traced_to_the_collector_under_the_callers_trace() {
    let (collector, spans) = collector().await;
    let (_scratch, url) = Scratch::new();
    let mut server = Scimd::start(
        &["--json", "serve", "--bootstrap", "--listen", "127.0.0.1:0"],
        &[
            ("DATABASE_URL".to_string(), url),
            ("SCIMD_OTLP_ENDPOINT".to_string(), collector.clone()),
            // Batches every 50 ms instead of 5 s.
            ("OTEL_BSP_SCHEDULE_DELAY".to_string(), "50".to_string()),
        ],
        false,
        &std::env::temp_dir(),
    )
    .await;
    let first: Value = serde_json::from_str(&server.stdout_line().await).unwrap();
    let base = first["scim_base_url"].as_str().unwrap().to_string();
    let account = first["account_id"].as_str().unwrap().to_string();
    let token = first["scim_token"].as_str().unwrap().to_string();

    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let caller_span = "00f067aa0ba902b7";
    let client = crate::harness::http_client();
    let res = client
        .post(format!("{base}/Users"))
        .bearer_auth(&token)
        .header("Content-Type", "application/scim+json")
        .header("traceparent", format!("00-{trace_id}-{caller_span}-01"))
        .header("X-Request-Id", "otel-test-request")
        .body(
            json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": "traced@example.com"
            })
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    // And one without a caller's trace: a trace of its own.
    let res = client.get(format!("{base}/Users")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(res.status(), 200);

    let name = |method: &str| format!("{method} /scim/account/{{account_id}}/Users");
    let find = |name: &str| spans.lock().unwrap().iter().find(|s| s.name == name).cloned();
    // The exporter sends its batch when it does: wall time is inherent.
    let (create, list) = eventually("request spans at the collector", Duration::from_secs(30), || async {
        match (find(&name("POST")), find(&name("GET"))) {
            (Some(create), Some(list)) => Ok((create, list)),
            _ => Err(format!("{:?}", spans.lock().unwrap())),
        }
    })
    .await;

    assert_eq!(hex(&create.trace_id), trace_id, "the caller's trace is kept");
    assert_eq!(hex(&create.parent_span_id), caller_span, "under the caller's span");
    assert_eq!(create.kind, 2, "a server span");
    assert_eq!(attribute(&create, "account").as_deref(), Some(account.as_str()));
    assert_eq!(attribute(&create, "resource_type").as_deref(), Some("User"));
    assert_eq!(attribute(&create, "operation").as_deref(), Some("create"));
    assert_eq!(attribute(&create, "request_id").as_deref(), Some("otel-test-request"));
    assert_eq!(attribute(&create, "http.response.status_code").as_deref(), Some("201"));

    let children = |parent: &Span| -> Vec<String> {
        spans
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.trace_id == parent.trace_id && s.parent_span_id == parent.span_id)
            .map(|s| s.name.clone())
            .collect()
    };
    let stored = children(&create);
    assert!(
        stored.iter().any(|n| n == "store.insert_resource") && stored.iter().all(|n| n.starts_with("store.")),
        "store calls are the request span's children: {stored:?}"
    );

    assert_ne!(hex(&list.trace_id), trace_id);
    assert!(list.parent_span_id.is_empty(), "a root span without a traceparent");
    assert_eq!(attribute(&list, "operation").as_deref(), Some("list"));
    let listed = children(&list);
    assert!(listed.iter().any(|n| n.starts_with("store.list_resources")), "{listed:?}");
    server.stop().await;
}

#[tokio::test]
async fn pool_metrics_show_a_request_waiting_for_the_only_connection() {
    let app = TestApp::spawn_with(|c| c.database_max_connections = 1).await;
    let metrics = || async {
        app.raw(Method::GET, &format!("{}/metrics", app.origin), &[], None)
            .await
            .text
    };
    // Hold the pool's one connection, then send a request that needs it.
    let held = app.app.store.begin().await.unwrap();
    let text = metrics().await;
    assert_eq!(sample(&text, "scimd_db_pool_connections_in_use"), 1.0, "{text}");
    assert_eq!(sample(&text, "scimd_db_pool_connections_idle"), 0.0, "{text}");
    let request = tokio::spawn({
        let url = app.scim("/Users");
        let token = app.token.clone();
        async move {
            crate::harness::http_client()
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
        }
    });
    // The request reaches the pool when its task runs: polled.
    eventually("the request waits for the connection", Duration::from_secs(5), || async {
        let text = metrics().await;
        if sample(&text, "scimd_db_pool_waiting") == 1.0 { Ok(()) } else { Err(text) }
    })
    .await;
    drop(held);
    assert_eq!(request.await.unwrap(), 200);
    // Then the connection goes back to the pool (after the token-use write the request may
    // have started in the background) and nobody waits.
    let text = eventually("the connection is back in the pool", Duration::from_secs(5), || async {
        let text = metrics().await;
        if sample(&text, "scimd_db_pool_waiting") == 0.0
            && sample(&text, "scimd_db_pool_connections_idle") == 1.0
        {
            Ok(text)
        } else {
            Err(text)
        }
    })
    .await;
    assert_eq!(sample(&text, "scimd_db_pool_waiting"), 0.0, "{text}");
    assert_eq!(sample(&text, "scimd_db_pool_connections_idle"), 1.0, "{text}");
    assert_eq!(sample(&text, "scimd_db_pool_connections_in_use"), 0.0, "{text}");
}
