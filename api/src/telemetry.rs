//! Logging (pretty or JSON lines, filtered by setting or `RUST_LOG`) and, when
//! `MELT_OTLP_ENDPOINT` is set, OpenTelemetry traces exported by OTLP/HTTP.
//!
//! SQL statement logging is off (see [`crate::db`]) so that bound values, which may be
//! personal data, never reach the logs; SQL spans carry the statement's kind
//! (`db.operation`) and engine, never its text nor its values.
//!
//! Incoming W3C `traceparent` headers are the parent of the request span (see
//! [`parent_from_headers`]); outgoing webhook deliveries carry the trace on.

use crate::settings::{LogFormat, Settings};
use opentelemetry::propagation::Extractor;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer as _;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

/// What [`init`] installed that must be flushed before the process exits.
#[must_use = "call `shutdown` before exiting, so the last spans are exported"]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Exports the spans still buffered and stops the exporter (a no-op without one).
    pub async fn shutdown(self) {
        let Some(provider) = self.provider else {
            return;
        };
        // The exporter's HTTP client blocks: not on the runtime's threads.
        let stopped = tokio::task::spawn_blocking(move || provider.shutdown()).await;
        if !matches!(stopped, Ok(Ok(()))) {
            eprintln!("traces: the exporter did not shut down cleanly");
        }
    }
}

/// The OTLP/HTTP traces URL of an endpoint setting: `/v1/traces` is added unless the
/// setting already ends with it.
pub fn traces_url(endpoint: &str) -> String {
    let endpoint = endpoint.trim().trim_end_matches('/');
    if endpoint.ends_with("/v1/traces") {
        endpoint.to_owned()
    } else {
        format!("{endpoint}/v1/traces")
    }
}

fn tracer_provider(settings: &Settings) -> Option<SdkTracerProvider> {
    let endpoint = settings.otlp_endpoint.as_deref()?;
    use opentelemetry_otlp::WithExportConfig as _;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
        .with_endpoint(traces_url(endpoint))
        .build();
    let exporter = match exporter {
        Ok(exporter) => exporter,
        Err(error) => {
            eprintln!("traces: cannot set up the OTLP exporter, traces are off: {error}");
            return None;
        }
    };
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(settings.otlp_service_name.clone())
        .build();
    Some(
        SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(resource)
            .build(),
    )
}

/// Installs the global subscriber (and, with an OTLP endpoint, the trace exporter and
/// the W3C trace-context propagator). Safe to call more than once: later calls install
/// nothing.
pub fn init(settings: &Settings) -> Telemetry {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(settings.log_filter.clone()));
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let fmt = match settings.log_format {
        LogFormat::Json => fmt.json().flatten_event(true).boxed(),
        LogFormat::Pretty => fmt.boxed(),
    };
    let provider = tracer_provider(settings);
    let traces = provider.as_ref().map(|provider| {
        tracing_opentelemetry::layer().with_tracer(provider.tracer(env!("CARGO_PKG_NAME")))
    });
    let installed = tracing_subscriber::registry()
        .with(filter)
        .with(fmt)
        .with(traces)
        .try_init();
    if installed.is_err() {
        tracing::debug!("a tracing subscriber was already installed");
        return Telemetry { provider: None };
    }
    if provider.is_some() {
        opentelemetry::global::set_text_map_propagator(
            opentelemetry_sdk::propagation::TraceContextPropagator::new(),
        );
        tracing::info!("traces are exported by OTLP");
    }
    Telemetry { provider }
}

/// Reads propagation headers (`traceparent`, `tracestate`) from an actix request.
struct Headers<'a>(&'a actix_web::http::header::HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

/// The trace context an incoming request's headers carry (W3C `traceparent`), as the
/// parent of its span; empty when traces are off or the header is absent or invalid.
pub fn parent_from_headers(headers: &actix_web::http::header::HeaderMap) -> opentelemetry::Context {
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.extract(&Headers(headers))
    })
}

/// The headers that carry the current span's trace to another service (W3C
/// `traceparent`); none when traces are off.
pub fn propagation_headers() -> std::collections::HashMap<String, String> {
    use tracing_opentelemetry::OpenTelemetrySpanExt as _;
    let mut headers = std::collections::HashMap::new();
    let context = tracing::Span::current().context();
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&context, &mut headers);
    });
    headers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_traces_path_is_added_once() {
        assert_eq!(
            traces_url("http://collector:4318"),
            "http://collector:4318/v1/traces"
        );
        assert_eq!(
            traces_url("http://collector:4318/"),
            "http://collector:4318/v1/traces"
        );
        assert_eq!(
            traces_url("https://c.example/otlp/v1/traces"),
            "https://c.example/otlp/v1/traces"
        );
    }
}
