//! scimd: a multi-tenant SCIM 2.0 service provider.
//!
//! One request walks one way: `http` (auth, limits, errors) → `scim` (the protocol, pure) →
//! `service` (the ownership rules, docs/rules.md) → `store` (Postgres or SQLite); the picture
//! and a paragraph per module: docs/architecture.md. Why it is
//! shaped so: docs/decisions.md.

pub mod cli;
pub mod clock;
pub mod config;
pub mod http;
pub mod observed;
pub mod redact;
pub mod scim;
pub mod server;
pub mod service;
pub mod store;
pub mod telemetry;

/// Makes ring rustls's crypto provider for the whole process (idempotent). scimd's HTTP clients
/// (webhook deliveries; the OTLP exporter) use rustls without a provider of their own, so one is
/// installed before any is built: by `scimd`'s entry point and `server::App::open`, and by
/// anything else that builds a client in the same process (the tests do).
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
