//! Logs and metrics. Logs go to stderr as human-readable lines or JSON, every line passes
//! through `redact` so personal data never reaches a log file, and spans carry the
//! request and conversation ids. Metrics are a process-wide Prometheus recorder.

mod redact;

use std::io::{self, IsTerminal, Write};
use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

pub use redact::redact;

use crate::config::{LogConfig, LogFormat};

/// Installs the global log subscriber. `RUST_LOG`, when set, overrides the configured level.
pub fn init_logging(config: &LogConfig) {
    let mut filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&config.level));
    // Qdrant Edge warns about process-wide switches only its own server sets (mmap
    // probing, feature flags); they mean nothing to an operator. Its errors still show.
    let asked_for = |text: &str| text.contains("qdrant_edge");
    if !asked_for(&config.level)
        && !asked_for(&std::env::var("RUST_LOG").unwrap_or_default())
        && let Ok(quiet) = "qdrant_edge=error".parse()
    {
        filter = filter.add_directive(quiet);
    }
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(RedactingWriter)
        // Colours only for a person at a terminal, never into files or collectors.
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(true);
    // A second call (tests start several servers in one process) keeps the first subscriber.
    let _ = match config.format {
        LogFormat::Human => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(true)
            .try_init(),
    };
}

/// Writes log lines to stderr after masking personal data.
#[derive(Clone, Copy)]
struct RedactingWriter;

impl<'a> MakeWriter<'a> for RedactingWriter {
    type Writer = RedactingLine;

    fn make_writer(&'a self) -> Self::Writer {
        RedactingLine
    }
}

/// The formatter writes one whole event per `write` call, so each call is a full line.
struct RedactingLine;

impl Write for RedactingLine {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        io::stderr().write_all(redact(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        io::stderr().flush()
    }
}

static METRICS: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process-wide Prometheus recorder, installed on first use.
pub fn metrics() -> &'static PrometheusHandle {
    METRICS.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Suffix("_seconds".into()),
                &[
                    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                    0.5, 1.0, 2.5,
                ],
            )
            .expect("bucket list is not empty")
            .build_recorder();
        let handle = recorder.handle();
        // Fails only if another recorder is installed; then ours just stays unused.
        let _ = metrics::set_global_recorder(recorder);
        describe_metrics();
        handle
    })
}

fn describe_metrics() {
    metrics::describe_counter!(
        "showroom_messages_total",
        "Messages by channel and direction (in, out)."
    );
    metrics::describe_histogram!(
        "showroom_message_processing_seconds",
        metrics::Unit::Seconds,
        "Time to process one inbound message, from lock to committed replies."
    );
    metrics::describe_gauge!("showroom_open_sessions", "Open web chat connections.");
    metrics::describe_counter!(
        "showroom_rejected_messages_total",
        "Inbound messages refused before processing, by reason."
    );
    metrics::describe_gauge!(
        "showroom_flows_loaded",
        "Flows in the live (last good) set."
    );
    metrics::describe_gauge!(
        "showroom_flow_problems",
        "Problems in the flow files on disk; above 0 means the last edit was rejected."
    );
    metrics::describe_counter!(
        "showroom_flow_reloads_total",
        "Flow reloads by result (ok, invalid)."
    );
    metrics::describe_counter!(
        "showroom_crm_deliveries_total",
        "CRM handoff attempts by outcome (delivered, retry, dead, disabled)."
    );
    metrics::describe_histogram!(
        "showroom_crm_delivery_seconds",
        metrics::Unit::Seconds,
        "Time of one CRM delivery attempt."
    );
    metrics::describe_counter!(
        "showroom_leads_events_total",
        "CRM events written to the outbox, by event (lead.created, lead.updated)."
    );
    metrics::describe_counter!(
        "showroom_leads_changes_total",
        "Stored lead changes, by the lead's band after the change."
    );
    metrics::describe_counter!(
        "showroom_leads_llm_reads_total",
        "Messages the LLM read for leads, by outcome (read, failed)."
    );
}
