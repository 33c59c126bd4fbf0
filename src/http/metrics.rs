//! `/metrics`: Prometheus (OpenMetrics text) counters and latencies per route, the build, the
//! process and the database pool, for operators.
//!
//! Every label comes from a closed set, so the number of series stays bounded whatever
//! clients send, authenticated or not: the route template (`/scim/account/{account_id}/Users/{id}`,
//! or `unmatched` for a path no route knows), the method (the standard ones, else `other`: a
//! client may invent any token as a method) and the status (the handful this server answers)
//! — never an account id, a resource id or anything else a request spells freely. The registry
//! belongs to the application instance (no process-global state), so several instances in one
//! process (tests) do not mix; the process metrics are of course the whole process's.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

use super::AppState;
use crate::observed::ObservedStore;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: &'static str,
    route: String,
}

/// The route label of a request whose path no route matched: one value for all of them.
pub const UNMATCHED: &str = "unmatched";

/// The method label: one of the methods of RFC 9110 and RFC 5789 (PATCH), else `other`.
pub fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "other",
    }
}

/// The version this binary was built from, and its git commit when the build knew it.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: &'static str,
    commit: &'static str,
}

fn latency_histogram() -> Histogram {
    // 1 ms … ~16 s: a filter lookup is a few ms; Okta gives up after 60 s without bytes.
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    duration: Family<RouteLabels, Histogram, fn() -> Histogram>,
    in_flight: Gauge,
}

impl Metrics {
    pub fn new(store: Arc<ObservedStore>, service: Arc<crate::service::Service>) -> Self {
        let mut root = Registry::default();
        // The usual unprefixed `process_*` names, which dashboards and alerts expect.
        root.register_collector(Box::new(ProcessCollector));
        let registry = root.sub_registry_with_prefix("scimd");
        registry.register(
            "build",
            "The version of scimd running, and the git commit it was built from",
            Info::new(BuildLabels {
                version: env!("CARGO_PKG_VERSION"),
                commit: option_env!("SCIMD_GIT_COMMIT").unwrap_or("unknown"),
            }),
        );
        registry.register_collector(Box::new(PoolCollector(store)));
        registry.register_collector(Box::new(TokenCacheCollector(service)));
        let requests = Family::<RequestLabels, Counter>::default();
        let duration =
            Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(latency_histogram);
        let in_flight = Gauge::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by route template, method and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Time to answer an HTTP request, by route template and method",
            duration.clone(),
        );
        registry.register(
            "http_requests_in_flight",
            "HTTP requests being answered now",
            in_flight.clone(),
        );
        Metrics {
            registry: root,
            requests,
            duration,
            in_flight,
        }
    }
}

impl Metrics {
    fn render(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

/// Middleware: counts and times every request under its route template.
pub async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    // Route templates are the router's own strings; the method and status are from closed sets.
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| UNMATCHED.to_string());
    let method = method_label(req.method());
    let metrics = state.metrics.clone();
    // A guard, so a request whose connection drops (its future cancelled) still leaves.
    let in_flight = InFlight::enter(&metrics.in_flight);
    let started = Instant::now();
    let res = next.run(req).await;
    drop(in_flight);
    metrics
        .duration
        .get_or_create(&RouteLabels {
            method,
            route: route.clone(),
        })
        .observe(started.elapsed().as_secs_f64());
    metrics
        .requests
        .get_or_create(&RequestLabels {
            method,
            route,
            status: res.status().as_u16(),
        })
        .inc();
    res
}

/// `GET /metrics`.
pub async fn serve(State(state): State<AppState>) -> Response {
    match state.metrics.render() {
        Ok(body) => {
            let mut res = (StatusCode::OK, body).into_response();
            res.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
            );
            res
        }
        Err(_) => super::error::error_response(500, None, "could not encode the metrics"),
    }
}

/// One request counted in `http_requests_in_flight` for as long as it lives.
struct InFlight(Gauge);

impl InFlight {
    fn enter(gauge: &Gauge) -> InFlight {
        gauge.inc();
        InFlight(gauge.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// `process_*`: read from `/proc/self` at each scrape (Linux; elsewhere they are left out).
#[derive(Debug)]
struct ProcessCollector;

/// The unit of the times in `/proc/self/stat` (`USER_HZ`): 100 on every Linux architecture
/// Rust builds for, whatever the kernel's own tick rate.
const USER_HZ: f64 = 100.0;

/// Resident set size in bytes, from `/proc/self/status`.
pub fn resident_memory_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// User and system CPU time in seconds, from `/proc/self/stat`.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) may hold spaces and parentheses: count after its last `)`.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Fields 14 and 15 of proc(5), utime and stime; `rest` starts at field 3.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) as f64 / USER_HZ)
}

fn open_fds() -> Option<i64> {
    Some(std::fs::read_dir("/proc/self/fd").ok()?.count() as i64)
}

/// The soft limit on open files, from `/proc/self/limits`.
fn max_fds() -> Option<i64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn gauge(encoder: &mut DescriptorEncoder, name: &str, help: &str, value: i64) -> Result<(), std::fmt::Error> {
    let gauge = ConstGauge::new(value);
    gauge.encode(encoder.encode_descriptor(name, help, None, gauge.metric_type())?)
}

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        if let Some(bytes) = resident_memory_bytes() {
            let bytes = i64::try_from(bytes).unwrap_or(i64::MAX);
            gauge(
                &mut encoder,
                "process_resident_memory_bytes",
                "Resident memory size in bytes",
                bytes,
            )?;
        }
        if let Some(seconds) = cpu_seconds() {
            let counter = ConstCounter::new(seconds);
            counter.encode(encoder.encode_descriptor(
                "process_cpu_seconds",
                "Total user and system CPU time spent in seconds",
                None,
                counter.metric_type(),
            )?)?;
        }
        if let Some(fds) = open_fds() {
            // The directory listing itself holds one descriptor while it is read.
            gauge(
                &mut encoder,
                "process_open_fds",
                "Number of open file descriptors",
                fds - 1,
            )?;
        }
        if let Some(max) = max_fds() {
            gauge(
                &mut encoder,
                "process_max_fds",
                "Maximum number of open file descriptors",
                max,
            )?;
        }
        Ok(())
    }
}

/// `scimd_db_pool_*`: the store's connections at each scrape.
struct PoolCollector(Arc<ObservedStore>);

impl std::fmt::Debug for PoolCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PoolCollector")
    }
}

impl Collector for PoolCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let stats = crate::service::records::pool_stats(self.0.as_ref());
        let idle = stats.idle.min(stats.size);
        gauge(
            &mut encoder,
            "db_pool_connections_in_use",
            "Database connections of the pool in use now",
            i64::from(stats.size - idle),
        )?;
        gauge(
            &mut encoder,
            "db_pool_connections_idle",
            "Database connections of the pool open and idle now",
            i64::from(idle),
        )?;
        gauge(
            &mut encoder,
            "db_pool_waiting",
            "Callers waiting now to start a unit of work (a connection, or on SQLite the writer's turn)",
            i64::from(self.0.waiting()),
        )?;
        // SQLite only: writes per COMMIT is these two's ratio (docs/operations.md).
        if let Some((commits, writes)) = stats.group_commit {
            for (name, help, value) in [
                (
                    "db_commits",
                    "COMMITs of write transactions sent to SQLite (one WAL sync each)",
                    commits,
                ),
                (
                    "db_committed_writes",
                    "Write transactions those COMMITs carried (group commit: several per COMMIT)",
                    writes,
                ),
            ] {
                let counter = ConstCounter::new(value);
                counter.encode(encoder.encode_descriptor(name, help, None, counter.metric_type())?)?;
            }
        }
        Ok(())
    }
}

/// `scimd_token_cache_*`: how often a request's token check read no database, and whether the
/// cache may be used now (docs/scaling.md, "Tokens").
struct TokenCacheCollector(Arc<crate::service::Service>);

impl std::fmt::Debug for TokenCacheCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenCacheCollector")
    }
}

impl Collector for TokenCacheCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let stats = self.0.token_cache_stats();
        for (name, help, value) in [
            (
                "token_cache_hits",
                "Token checks answered from this process's cache",
                stats.hits,
            ),
            (
                "token_cache_misses",
                "Token checks that read the database",
                stats.misses,
            ),
        ] {
            let counter = ConstCounter::new(value);
            counter.encode(encoder.encode_descriptor(name, help, None, counter.metric_type())?)?;
        }
        gauge(
            &mut encoder,
            "token_cache_active",
            "1 while this process hears every token change (the cache may be used), else 0",
            i64::from(stats.active),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invented_methods_share_one_label() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::PATCH), "PATCH");
        for raw in ["R000001ZZZ", "get", "PROPFIND", "X".repeat(300).as_str()] {
            let method = Method::from_bytes(raw.as_bytes()).unwrap();
            assert_eq!(method_label(&method), "other", "{raw}");
        }
    }

    #[test]
    fn process_figures_are_read_from_proc() {
        if !std::path::Path::new("/proc/self/stat").exists() {
            return;
        }
        assert!(resident_memory_bytes().unwrap() > 1024 * 1024);
        assert!(cpu_seconds().unwrap() >= 0.0);
        assert!(open_fds().unwrap() >= 3);
        assert!(max_fds().unwrap() >= open_fds().unwrap());
    }
}
