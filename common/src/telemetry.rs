//! Logging and tracing set-up: human-readable lines on stderr, filtered by
//! `-l` / `RUST_LOG`, and, when `aerie.telemetry.otlp-endpoint` is set, the
//! same spans exported over OTLP/gRPC. Passwords, tokens and secret values
//! are never logged.
//!
//! Traces cross processes as W3C `traceparent`: [`inject`] writes the
//! current span's context into an outgoing gRPC or HTTP request and
//! [`extract`] reads a caller's. Without an endpoint no exporter exists and
//! the OpenTelemetry layer is not installed, so tracing costs what logging
//! already costs.

use std::time::Duration;

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::{Layer as _, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;

/// Where and as whom spans are exported.
#[derive(Debug, Clone)]
pub struct TraceExport {
    /// OTLP/gRPC endpoint, e.g. `http://otel-collector:4317`.
    pub endpoint: String,
    /// `service.name` of this process, e.g. `aerie-flow`; `OTEL_SERVICE_NAME` wins.
    pub service_name: String,
}

/// Flushes exported spans when dropped (at process exit).
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take() {
            // Spans still batched are sent now; a collector that is down
            // costs at most the exporter's timeout, never a hang.
            if let Err(err) = provider.shutdown() {
                eprintln!("warning: traces not flushed: {err}");
            }
        }
    }
}

/// Installs logging only (admin commands, tests).
pub fn init(level: &str) {
    let _ = tracing_subscriber::registry()
        .with(filter(level))
        .with(log_lines())
        .try_init();
}

/// Installs logging and, with `export`, the OTLP span exporter. Call it
/// inside the Tokio runtime: the exporter's gRPC channel lives there.
pub fn init_with_traces(
    level: &str,
    export: TraceExport,
) -> Result<Telemetry, opentelemetry_otlp::ExporterBuildError> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(export.endpoint)
        .with_timeout(Duration::from_secs(5))
        .build()?;
    let service_name = std::env::var("OTEL_SERVICE_NAME")
        .ok()
        .filter(|name| !name.is_empty())
        .unwrap_or(export.service_name);
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(
            opentelemetry_sdk::Resource::builder()
                .with_service_name(service_name)
                .build(),
        )
        .build();
    let tracer = provider.tracer("aerie");
    // A second call (tests that start several servers) keeps the first subscriber.
    // The log level filters log lines only: spans are exported at INFO
    // whatever `-l` says, so that a quiet process still traces.
    let _ = tracing_subscriber::registry()
        .with(log_lines().with_filter(filter(level)))
        .with(
            tracing_opentelemetry::layer()
                .with_tracer(tracer)
                .with_filter(LevelFilter::INFO),
        )
        .try_init();
    Ok(Telemetry {
        provider: Some(provider),
    })
}

/// `level` is a level (`info`) or a full filter (`info,aerie_gateway=debug`);
/// `RUST_LOG` wins when set.
fn filter(level: &str) -> EnvFilter {
    EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(level))
        .unwrap_or_else(|_| EnvFilter::new("info"))
}

fn log_lines<S>() -> impl tracing_subscriber::Layer<S>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(true)
}

/// Makes `span` a child of the trace the caller sent in `headers`
/// (`traceparent`), if any; a request without one starts a new trace.
pub fn extract(headers: &http::HeaderMap, span: &tracing::Span) {
    let parent = TraceContextPropagator::new().extract(&HeaderExtractor(headers));
    // Only an error when no OpenTelemetry layer is installed: nothing to join.
    let _ = span.set_parent(parent);
}

/// Writes the current span's trace context (`traceparent`) into `headers`
/// of an outgoing request. Writes nothing when no trace is being recorded.
pub fn inject(headers: &mut http::HeaderMap) {
    let context = tracing::Span::current().context();
    TraceContextPropagator::new().inject_context(&context, &mut HeaderInjector(headers));
}

struct HeaderExtractor<'a>(&'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

struct HeaderInjector<'a>(&'a mut http::HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(key.as_bytes()),
            http::HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_is_injected_outside_a_recorded_trace() {
        let mut headers = http::HeaderMap::new();
        inject(&mut headers);
        assert!(headers.get("traceparent").is_none());
    }

    #[test]
    fn a_traceparent_round_trips_through_headers() {
        use opentelemetry::trace::TraceContextExt;
        let mut incoming = http::HeaderMap::new();
        incoming.insert(
            "traceparent",
            http::HeaderValue::from_static(
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            ),
        );
        let context = TraceContextPropagator::new().extract(&HeaderExtractor(&incoming));
        assert_eq!(
            context.span().span_context().trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        let mut outgoing = http::HeaderMap::new();
        TraceContextPropagator::new().inject_context(&context, &mut HeaderInjector(&mut outgoing));
        assert_eq!(
            outgoing["traceparent"],
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        );
    }
}
