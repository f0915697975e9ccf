//! Prometheus metrics (`GET /metrics`): counters and histograms recorded on the request path
//! through the `metrics` facade, plus gauges read off the health store and the writer at scrape
//! time. Label values are bounded: model ids and provider slugs from the config, outcome classes
//! from a fixed set — never a key, a prompt or an upstream message.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::state::AppState;

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

const LATENCY_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
];
const THROUGHPUT_BUCKETS: &[f64] = &[5.0, 10.0, 20.0, 40.0, 80.0, 160.0, 320.0, 640.0, 1280.0];

/// How often recorded histogram samples are folded into their buckets. The recorder keeps every
/// sample until then (or until a scrape): without upkeep, a gateway nobody scrapes grows by every
/// request's samples (the soak's unexplained growth).
const UPKEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// Installs the process-wide recorder (once; later calls are no-ops), with a thread that runs
/// its upkeep. Without it the metric calls cost nothing and `/metrics` shows only the
/// scrape-time gauges.
pub fn install() {
    if HANDLE.get().is_some() {
        return;
    }
    let builder = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), LATENCY_BUCKETS)
        .and_then(|b| {
            b.set_buckets_for_metric(
                Matcher::Full("switchyard_throughput_tokens_per_second".to_owned()),
                THROUGHPUT_BUCKETS,
            )
        });
    match builder.and_then(PrometheusBuilder::install_recorder) {
        Ok(handle) => {
            let upkeep = handle.clone();
            let _ = HANDLE.set(handle);
            describe();
            let spawned = std::thread::Builder::new()
                .name("metrics-upkeep".to_owned())
                .spawn(move || loop {
                    std::thread::sleep(UPKEEP_EVERY);
                    upkeep.run_upkeep();
                });
            if let Err(e) = spawned {
                tracing::warn!(error = %e, "metrics upkeep thread not started: histograms drain only when scraped");
            }
        }
        Err(e) => tracing::warn!(error = %e, "metrics recorder not installed"),
    }
}

fn describe() {
    metrics::describe_counter!(
        "switchyard_requests_total",
        "Finished chat requests, by model, outcome and whether streamed."
    );
    metrics::describe_counter!(
        "switchyard_attempts_total",
        "Upstream attempts, by model, provider and outcome class."
    );
    metrics::describe_histogram!(
        "switchyard_request_duration_seconds",
        "Whole-request duration, all attempts."
    );
    metrics::describe_histogram!(
        "switchyard_ttft_seconds",
        "Time to the first content of a successful attempt."
    );
    metrics::describe_histogram!(
        "switchyard_throughput_tokens_per_second",
        "Generation speed of a successful attempt."
    );
    metrics::describe_gauge!(
        "switchyard_spend_usd",
        "USD spent, by model and provider (monotonic)."
    );
}

/// A finished request.
pub fn request(model: &str, outcome: &'static str, streamed: bool, seconds: f64) {
    let streamed = if streamed { "true" } else { "false" };
    metrics::counter!("switchyard_requests_total", "model" => model.to_owned(), "outcome" => outcome, "streamed" => streamed).increment(1);
    metrics::histogram!("switchyard_request_duration_seconds", "model" => model.to_owned())
        .record(seconds);
}

/// One upstream attempt; `outcome` is `ok` or a failure label.
pub fn attempt(model: &str, provider: &str, outcome: &'static str) {
    metrics::counter!("switchyard_attempts_total", "model" => model.to_owned(), "provider" => provider.to_owned(), "outcome" => outcome)
        .increment(1);
}

/// Figures of a successful attempt.
pub fn success(provider: &str, ttft_s: Option<f64>, throughput: Option<f64>) {
    if let Some(t) = ttft_s {
        metrics::histogram!("switchyard_ttft_seconds", "provider" => provider.to_owned()).record(t);
    }
    if let Some(t) = throughput {
        metrics::histogram!("switchyard_throughput_tokens_per_second", "provider" => provider.to_owned()).record(t);
    }
}

/// Money spent on an attempt.
pub fn spend(model: &str, provider: &str, usd: f64) {
    if usd > 0.0 && usd.is_finite() {
        metrics::gauge!("switchyard_spend_usd", "model" => model.to_owned(), "provider" => provider.to_owned()).increment(usd);
    }
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The text of `/metrics`: the recorder's metrics, then the live gauges.
pub fn render(state: &AppState) -> String {
    use std::fmt::Write as _;
    let mut out = HANDLE
        .get()
        .map(PrometheusHandle::render)
        .unwrap_or_default();
    let snap = state.snapshot.load();
    let now = state.now();
    let mut circuit = String::from("# HELP switchyard_endpoint_circuit_open 1 when the endpoint's circuit is open or half-open.\n# TYPE switchyard_endpoint_circuit_open gauge\n");
    let mut cooldown = String::from("# HELP switchyard_endpoint_cooldown_seconds Seconds left of the endpoint's cooldown.\n# TYPE switchyard_endpoint_cooldown_seconds gauge\n");
    let mut uptime = String::from("# HELP switchyard_endpoint_uptime_ratio Successful attempts over the last 30 minutes (absent without attempts).\n# TYPE switchyard_endpoint_uptime_ratio gauge\n");
    for m in &snap.config.models {
        for e in &m.endpoints {
            let s = state.health.summary(&m.id, &e.provider, now);
            let labels = format!(
                "model=\"{}\",provider=\"{}\"",
                escape(&m.id),
                escape(&e.provider)
            );
            let _ = writeln!(
                circuit,
                "switchyard_endpoint_circuit_open{{{labels}}} {}",
                u8::from(s.circuit != "closed")
            );
            let _ = writeln!(
                cooldown,
                "switchyard_endpoint_cooldown_seconds{{{labels}}} {}",
                s.cooldown_s
            );
            if let Some(u) = s.uptime_pct {
                let _ = writeln!(
                    uptime,
                    "switchyard_endpoint_uptime_ratio{{{labels}}} {}",
                    u / 100.0
                );
            }
        }
    }
    out.push_str(&circuit);
    out.push_str(&cooldown);
    out.push_str(&uptime);
    out.push_str("# HELP switchyard_panics_total Panics caught in request handlers (answered 500).\n# TYPE switchyard_panics_total counter\n");
    let _ = writeln!(
        out,
        "switchyard_panics_total {}",
        crate::limits::panics_caught()
    );
    out.push_str("# HELP switchyard_config_models Models in the loaded config.\n# TYPE switchyard_config_models gauge\n");
    let _ = writeln!(out, "switchyard_config_models {}", snap.config.models.len());
    if let Some(c) = &state.cluster {
        out.push_str("# HELP switchyard_cluster_redis_up 1 when the last Redis command of [cluster] succeeded.\n# TYPE switchyard_cluster_redis_up gauge\n");
        let _ = writeln!(out, "switchyard_cluster_redis_up {}", u8::from(c.up()));
        out.push_str("# HELP switchyard_cluster_redis_errors_total Failed Redis commands.\n# TYPE switchyard_cluster_redis_errors_total counter\n");
        let _ = writeln!(out, "switchyard_cluster_redis_errors_total {}", c.errors());
        out.push_str("# HELP switchyard_cluster_health_events_dropped_total Health events not shared (queue full or Redis away).\n# TYPE switchyard_cluster_health_events_dropped_total counter\n");
        let _ = writeln!(
            out,
            "switchyard_cluster_health_events_dropped_total {}",
            c.dropped()
        );
    }
    if let Some(st) = &state.storage {
        records(&mut out, &st.writer.status());
    }
    out
}

/// The store writer's figures: where finished requests are, and how many went where.
fn records(out: &mut String, w: &sy_store::WriterStatus) {
    use std::fmt::Write as _;
    let gauges: [(&str, &str, u64); 6] = [
        (
            "switchyard_store_healthy",
            "1 when the store's last write succeeded.",
            u64::from(w.healthy),
        ),
        (
            "switchyard_store_backlog",
            "Finished requests not yet in the store (in memory or in the local journal).",
            (w.in_memory + w.journal_only) as u64,
        ),
        (
            "switchyard_records_in_memory",
            "Finished requests not yet in the store, held in memory.",
            w.in_memory as u64,
        ),
        (
            "switchyard_journal_records",
            "Finished requests in the local journal and not yet in the store.",
            w.journaled as u64,
        ),
        (
            "switchyard_journal_bytes",
            "Size of the local journal on disk.",
            w.journal_bytes,
        ),
        (
            "switchyard_accepting",
            "0 while new requests are refused because finished ones cannot be kept on local disk.",
            u64::from(w.accepting),
        ),
    ];
    for (name, help, value) in gauges {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
        );
    }
    let counters: [(&str, &str, u64); 5] = [
        (
            "switchyard_records_queued_total",
            "Finished requests handed to the store writer.",
            w.queued_total,
        ),
        (
            "switchyard_records_journaled_total",
            "Finished requests written to the local journal (the store was slow, away or behind).",
            w.journaled_total,
        ),
        (
            "switchyard_records_written_total",
            "Finished requests written to the store.",
            w.written_total,
        ),
        (
            "switchyard_records_replayed_total",
            "Finished requests found in the journal of a previous run at start-up.",
            w.replayed_total,
        ),
        (
            "switchyard_records_dropped_total",
            "Finished requests lost (invalid, or neither written nor journaled at shutdown). Should stay 0.",
            w.dropped_total,
        ),
    ];
    for (name, help, value) in counters {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
        );
    }
}
