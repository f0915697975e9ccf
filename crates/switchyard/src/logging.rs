//! Logs on stderr: human-readable, or one JSON object a line; `RUST_LOG` filters (default info).
//! With the `otel` feature and `OTEL_EXPORTER_OTLP_ENDPOINT` set, the request and attempt spans
//! are also exported over OTLP/HTTP; off by default.

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::LogFormat;

/// Keeps the exporter alive; dropping it flushes the spans still buffered.
pub struct Telemetry {
    #[cfg(feature = "otel")]
    provider: Option<opentelemetry_sdk::trace::SdkTracerProvider>,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        #[cfg(feature = "otel")]
        if let Some(p) = self.provider.take() {
            let _ = p.shutdown();
        }
    }
}

pub fn init(format: LogFormat) -> Telemetry {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // aws-sigv4 traces its inputs, the AWS access key id among them: credentials never reach a
    // log at any RUST_LOG level (SPEC §5), so its target is off whatever RUST_LOG says
    let filter = match "aws_sigv4=off".parse() {
        Ok(d) => filter.add_directive(d),
        Err(_) => filter,
    };
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_target(false);
    let fmt = match format {
        LogFormat::Text => fmt.boxed(),
        LogFormat::Json => fmt.json().flatten_event(true).boxed(),
    };
    let registry = tracing_subscriber::registry().with(filter).with(fmt);
    #[cfg(feature = "otel")]
    {
        let (layer, provider) = otel::layer();
        let _ = registry.with(layer).try_init();
        Telemetry { provider }
    }
    #[cfg(not(feature = "otel"))]
    {
        let _ = registry.try_init();
        Telemetry {}
    }
}

#[cfg(feature = "otel")]
mod otel {
    //! The OTLP/HTTP exporter, installed only when `OTEL_EXPORTER_OTLP_ENDPOINT` is set.

    use opentelemetry::trace::TracerProvider as _;
    use opentelemetry_sdk::trace::SdkTracerProvider;
    use opentelemetry_sdk::Resource;
    use tracing_subscriber::Layer;

    pub fn layer<S>() -> (
        Option<Box<dyn Layer<S> + Send + Sync>>,
        Option<SdkTracerProvider>,
    )
    where
        S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a> + Send + Sync,
    {
        if std::env::var_os("OTEL_EXPORTER_OTLP_ENDPOINT").is_none() {
            return (None, None);
        }
        let exporter = match opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .build()
        {
            Ok(e) => e,
            Err(e) => {
                eprintln!("OpenTelemetry export not started: {e}");
                return (None, None);
            }
        };
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(Resource::builder().with_service_name("switchyard").build())
            .build();
        let tracer = provider.tracer("switchyard");
        (
            Some(tracing_opentelemetry::layer().with_tracer(tracer).boxed()),
            Some(provider),
        )
    }
}
