//! Structured logs, and OpenTelemetry traces when a collector is configured.
//!
//! Every line written while a request is handled carries its request id (the `request` span
//! made in `http::spans`). With an OTLP endpoint, the same span becomes the request's span in
//! a trace — its parent taken from the caller's `traceparent` — with a child for each store
//! call (`store.*`, debug-level spans, so they stay out of the logs at `info`).

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Level;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::prelude::*;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::LogFormat;

/// Installs the global subscriber once, logs only; later calls are no-ops (tests start many
/// servers).
pub fn init(format: LogFormat, level: &str) {
    let _ = install(format, level, None);
}

/// Keeps the trace pipeline of [`init_with_traces`]; dropping it sends the spans still
/// buffered (up to the exporter's time-out) and stops exporting.
pub struct Traces(Option<SdkTracerProvider>);

impl Traces {
    pub fn enabled(&self) -> bool {
        self.0.is_some()
    }
}

impl Drop for Traces {
    fn drop(&mut self) {
        if let Some(provider) = self.0.take()
            && let Err(err) = provider.shutdown()
        {
            tracing::warn!(error = %err, "could not send the last traces");
        }
    }
}

/// The OTLP/HTTP URL traces go to: `otlp_endpoint` (a base URL, as the standard variable
/// takes) plus `/v1/traces`; `None` when the setting is empty.
pub fn traces_url(otlp_endpoint: &str) -> Option<String> {
    let base = otlp_endpoint.trim().trim_end_matches('/');
    if base.is_empty() {
        return None;
    }
    Some(match base.ends_with("/v1/traces") {
        true => base.to_string(),
        false => format!("{base}/v1/traces"),
    })
}

/// Is tracing asked for by the standard environment variables alone?
fn standard_endpoint_set() -> bool {
    [
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
    ]
    .iter()
    .any(|var| std::env::var(var).is_ok_and(|v| !v.trim().is_empty()))
}

/// Logs as [`init`], plus traces sent to `otlp_endpoint` — or, when it is empty, to the
/// collector the standard `OTEL_EXPORTER_OTLP_*ENDPOINT` variables name; with neither,
/// logs only. Fails only on an endpoint that cannot be used.
pub fn init_with_traces(format: LogFormat, level: &str, otlp_endpoint: &str) -> Result<Traces, String> {
    let url = traces_url(otlp_endpoint);
    if url.is_none() && !standard_endpoint_set() {
        init(format, level);
        return Ok(Traces(None));
    }
    let mut exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary);
    if let Some(url) = &url {
        exporter = exporter.with_endpoint(url.clone());
    }
    let exporter = exporter
        .build()
        .map_err(|e| format!("cannot send traces to the OTLP endpoint: {e}"))?;
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name("scimd")
        .with_attribute(opentelemetry::KeyValue::new(
            "service.version",
            env!("CARGO_PKG_VERSION"),
        ))
        .build();
    // Batches are sent from the processor's own thread: a slow collector never holds up a
    // request, and a full queue drops spans rather than growing.
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build();
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    if install(format, level, Some(provider.tracer("scimd"))) {
        tracing::info!(
            endpoint = url.as_deref().unwrap_or("from OTEL_EXPORTER_OTLP_*ENDPOINT"),
            "sending traces"
        );
    }
    Ok(Traces(Some(provider)))
}

/// True when this call installed the subscriber.
fn install(format: LogFormat, level: &str, tracer: Option<opentelemetry_sdk::trace::SdkTracer>) -> bool {
    let filter = EnvFilter::try_from_env("RUST_LOG").unwrap_or_else(|_| EnvFilter::new(level));
    let logs = match format {
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .with_writer(std::io::stderr)
            .boxed(),
        LogFormat::Pretty => tracing_subscriber::fmt::layer()
            .compact()
            .with_writer(std::io::stderr)
            .boxed(),
    };
    // The trace gets scimd's spans (requests and store calls) and its warnings and errors as
    // span events; not every library's debug chatter.
    let traces = tracer.map(|tracer| {
        tracing_opentelemetry::layer()
            .with_tracer(tracer)
            .with_filter(filter_fn(|meta| {
                meta.target().starts_with("scimd")
                    && match meta.is_span() {
                        true => *meta.level() <= Level::DEBUG,
                        false => *meta.level() <= Level::WARN,
                    }
            }))
    });
    tracing_subscriber::registry()
        .with(traces)
        .with(logs.with_filter(filter))
        .try_init()
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_endpoint_is_a_base_url_as_the_standard_variable_is() {
        assert_eq!(traces_url(""), None);
        assert_eq!(traces_url("  "), None);
        assert_eq!(
            traces_url("http://collector:4318").as_deref(),
            Some("http://collector:4318/v1/traces")
        );
        assert_eq!(
            traces_url("http://collector:4318/").as_deref(),
            Some("http://collector:4318/v1/traces")
        );
        assert_eq!(
            traces_url("https://c.example/otlp/v1/traces").as_deref(),
            Some("https://c.example/otlp/v1/traces")
        );
    }
}
