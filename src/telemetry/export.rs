//! Trace export over OTLP/HTTP with protobuf bodies: the OpenTelemetry SDK behind `tracing-opentelemetry`, fed
//! only the spans made for traces (`trace_context::SPAN_TARGET`), never log events. Finished spans wait in a
//! bounded queue and a background thread sends them in batches: a request never waits for the collector, and
//! while the collector is down or slow the queue fills and further spans are dropped.

use std::time::Duration;

use opentelemetry::{KeyValue, trace::TracerProvider as _};
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::{
    Resource,
    trace::{Sampler as SdkSampler, SdkTracerProvider},
};
use reqwest::Url;
use tracing::Level;
use tracing_subscriber::{Layer, Registry, filter::Targets};

use crate::{
    config::{Sampler, TraceExport},
    trace_context::SPAN_TARGET,
};

/// The longest the exit waits for the last spans to be sent.
const FLUSH_LIMIT: Duration = Duration::from_secs(2);

/// The SDK's tracer provider with its OTLP exporter.
pub struct Exporter {
    provider: SdkTracerProvider,
}

impl Exporter {
    pub fn start(settings: &TraceExport) -> anyhow::Result<Self> {
        let headers = settings
            .headers
            .iter()
            .map(|(name, value)| (name.clone(), value.expose().to_string()))
            .collect();
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(settings.endpoint.as_str())
            .with_timeout(settings.timeout)
            .with_headers(headers)
            .build()?;
        let resource = Resource::builder_empty()
            .with_service_name(settings.service_name.clone())
            .with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")))
            .with_attributes(
                settings
                    .resource_attributes
                    .iter()
                    .map(|(key, value)| KeyValue::new(key.clone(), value.clone())),
            )
            .build();
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_sampler(sdk_sampler(settings.sampler))
            .with_resource(resource)
            .build();
        Ok(Exporter { provider })
    }

    /// The layer that turns the spans made for traces into OpenTelemetry spans; no source locations, thread names,
    /// log targets or busy/idle times (cost, and nothing an operator needs).
    pub fn layer(&self) -> Box<dyn Layer<Registry> + Send + Sync> {
        tracing_opentelemetry::layer()
            .with_tracer(self.provider.tracer("user-profile-service"))
            .with_location(false)
            .with_threads(false)
            .with_target(false)
            .with_tracked_inactivity(false)
            .with_filter(Targets::new().with_target(SPAN_TARGET, Level::TRACE))
            .boxed()
    }

    /// Sends what is queued and stops the background thread, waiting at most [`FLUSH_LIMIT`]: a collector that
    /// does not answer never holds the exit up.
    pub async fn shutdown(self) {
        let (done, finished) = tokio::sync::oneshot::channel();
        let provider = self.provider;
        // The SDK blocks while it flushes; on a thread of its own, abandoned at the limit.
        std::thread::spawn(move || {
            let _ = provider.shutdown();
            let _ = done.send(());
        });
        let _ = tokio::time::timeout(FLUSH_LIMIT, finished).await;
    }
}

fn sdk_sampler(sampler: Sampler) -> SdkSampler {
    let parent_based = |root: SdkSampler| SdkSampler::ParentBased(Box::new(root));
    match sampler {
        Sampler::AlwaysOn => SdkSampler::AlwaysOn,
        Sampler::AlwaysOff => SdkSampler::AlwaysOff,
        Sampler::TraceIdRatio(ratio) => SdkSampler::TraceIdRatioBased(ratio),
        Sampler::ParentBasedAlwaysOn => parent_based(SdkSampler::AlwaysOn),
        Sampler::ParentBasedAlwaysOff => parent_based(SdkSampler::AlwaysOff),
        Sampler::ParentBasedTraceIdRatio(ratio) => {
            parent_based(SdkSampler::TraceIdRatioBased(ratio))
        }
    }
}

/// The endpoint as logged: scheme, host, port and path, never user info or a query (they may hold a key).
pub fn safe_endpoint(url: &Url) -> String {
    format!("{}{}", url.origin().ascii_serialization(), url.path())
}
