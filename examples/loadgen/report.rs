//! The run's summary, for people (aligned text) or machines (`--json`).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use crate::server::{MemoryReport, ProcessingReport};
use crate::stats::{Latency, Recorder, Tally, Window, timeline};

/// What was run against what.
#[derive(Debug, Serialize)]
pub struct Context {
    pub url: String,
    pub transport: String,
    pub customers: usize,
    /// Soft open-files limits: each WebSocket needs one on each side.
    pub server_open_files: Option<u64>,
    pub loadgen_open_files: Option<u64>,
}

/// A closed-loop booking run.
#[derive(Debug, Serialize)]
pub struct Load {
    pub seconds: f64,
    pub conversations_completed: u64,
    pub conversations_per_s: f64,
    pub conversations_abandoned_at_end: u64,
    /// Customer messages answered (the opening greeting excluded).
    pub messages: usize,
    pub messages_per_s: f64,
    pub latency: Latency,
    /// Opening a conversation: connection (WebSocket) and greeting.
    pub openings: usize,
    pub opening_latency: Latency,
    /// Customer messages and openings together: every request the server answered.
    pub requests_per_s: f64,
    /// The chosen time was taken meanwhile; the customer picked another (not an error).
    pub slot_retries: u64,
    pub errors_total: u64,
    pub errors: BTreeMap<String, Tally>,
    pub server_memory: Option<MemoryReport>,
    /// The engine's own time per message, from the server's histogram.
    pub server_processing: Option<ProcessingReport>,
    /// Both processes share the machine's cores: what each used.
    pub cpu: Cpu,
    pub timeline: Vec<Window>,
}

/// CPU time used during the run, in seconds and in cores kept busy on average.
#[derive(Debug, Default, Serialize)]
pub struct Cpu {
    pub server_seconds: Option<f64>,
    pub server_cores: Option<f64>,
    /// Server CPU per answered message (openings included), in ms.
    pub server_ms_per_request: Option<f64>,
    pub loadgen_seconds: Option<f64>,
    pub loadgen_cores: Option<f64>,
}

impl Cpu {
    pub fn new(server: Option<f64>, loadgen: Option<f64>, seconds: f64, requests: usize) -> Self {
        Self {
            server_seconds: server,
            server_cores: server.map(|s| s / seconds),
            server_ms_per_request: server
                .filter(|_| requests > 0)
                .map(|s| s * 1000.0 / requests as f64),
            loadgen_seconds: loadgen,
            loadgen_cores: loadgen.map(|s| s / seconds),
        }
    }
}

impl Load {
    pub fn new(
        recorder: &Recorder,
        elapsed: Duration,
        window: Duration,
        server_memory: Option<MemoryReport>,
        server_processing: Option<ProcessingReport>,
        cpu_used: (Option<f64>, Option<f64>),
    ) -> Self {
        let seconds = elapsed.as_secs_f64().max(f64::EPSILON);
        let messages = recorder.messages.len();
        let openings = recorder.openings.len();
        Self {
            seconds,
            conversations_completed: recorder.conversations,
            conversations_per_s: recorder.conversations as f64 / seconds,
            conversations_abandoned_at_end: recorder.abandoned,
            messages,
            messages_per_s: messages as f64 / seconds,
            latency: Latency::of(&recorder.messages),
            openings,
            opening_latency: Latency::of(&recorder.openings),
            requests_per_s: (messages + openings) as f64 / seconds,
            slot_retries: recorder.slot_retries,
            errors_total: recorder.errors.values().map(|t| t.count).sum(),
            errors: recorder.errors.clone(),
            server_memory,
            server_processing,
            cpu: Cpu::new(cpu_used.0, cpu_used.1, seconds, messages + openings),
            timeline: timeline(&recorder.messages, elapsed, window),
        }
    }
}

/// An open-sessions run.
#[derive(Debug, Serialize)]
pub struct Sessions {
    pub requested: u64,
    pub opened: u64,
    pub open_seconds: f64,
    pub opening_latency: Latency,
    pub failures: BTreeMap<String, Tally>,
    /// `showroom_open_sessions` (open WebSockets) after the hold.
    pub server_open_sessions_gauge: Option<f64>,
    pub rss_after_open_mib: Option<f64>,
    pub rss_after_hold_mib: Option<f64>,
    pub server_memory: Option<MemoryReport>,
    /// Sessions whose connection the server had not closed by the end.
    pub still_open_at_end: u64,
}

fn latency_line(latency: &Latency) -> String {
    format!(
        "p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms, max {:.2} ms (mean {:.2} ms, {} samples)",
        latency.p50_ms,
        latency.p95_ms,
        latency.p99_ms,
        latency.max_ms,
        latency.mean_ms,
        latency.count
    )
}

fn print_context(context: &Context) {
    println!("server            {}", context.url);
    println!("transport         {}", context.transport);
    println!("customers         {} at once", context.customers);
    let limit = |l: Option<u64>| l.map_or_else(|| "unknown".to_owned(), |l| l.to_string());
    println!(
        "open-files limit  server {}, loadgen {}",
        limit(context.server_open_files),
        limit(context.loadgen_open_files)
    );
}

fn print_memory(memory: Option<&MemoryReport>) {
    match memory {
        Some(m) => println!(
            "server memory     RSS start {:.1} MiB, peak {:.1} MiB, end {:.1} MiB (VmHWM {:.1} MiB; {} samples of pid {})",
            m.start_rss_mib, m.peak_rss_mib, m.end_rss_mib, m.hwm_mib, m.samples, m.pid
        ),
        None => println!("server memory     not read (give --server-pid)"),
    }
}

fn print_failures(title: &str, failures: &BTreeMap<String, Tally>) {
    let total: u64 = failures.values().map(|t| t.count).sum();
    println!("{title:<18}{total}");
    for (kind, tally) in failures {
        println!("  {:>8}  {kind}: {}", tally.count, tally.example);
    }
}

pub fn print_load(context: &Context, load: &Load, json: bool) -> anyhow::Result<()> {
    if json {
        let all = serde_json::json!({ "context": context, "load": load });
        println!("{}", serde_json::to_string_pretty(&all)?);
        return Ok(());
    }
    print_context(context);
    println!("duration          {:.1} s", load.seconds);
    println!(
        "bookings          {} completed ({:.1}/s), {} cut short by the end of the run",
        load.conversations_completed, load.conversations_per_s, load.conversations_abandoned_at_end
    );
    println!(
        "messages          {} answered, {:.0} messages/s ({:.0} requests/s with the {} openings)",
        load.messages, load.messages_per_s, load.requests_per_s, load.openings
    );
    println!("latency           {}", latency_line(&load.latency));
    println!("opening latency   {}", latency_line(&load.opening_latency));
    println!(
        "slot retries      {} (time taken meanwhile; not errors)",
        load.slot_retries
    );
    print_failures("errors", &load.errors);
    print_memory(load.server_memory.as_ref());
    match &load.server_processing {
        Some(p) => {
            let bound = |v: Option<f64>| v.map_or_else(|| "?".to_owned(), |v| format!("{v}"));
            println!(
                "engine time       {} messages, mean {:.2} ms, p50 ≤ {} ms, p99 ≤ {} ms (showroom_message_processing_seconds)",
                p.messages,
                p.mean_ms,
                bound(p.p50_at_most_ms),
                bound(p.p99_at_most_ms)
            );
        }
        None => println!("engine time       not read (/metrics unavailable)"),
    }
    let cpu = &load.cpu;
    let number = |v: Option<f64>, digits: usize| {
        v.map_or_else(|| "?".to_owned(), |v| format!("{v:.digits$}"))
    };
    println!(
        "cpu               server {} s ({} cores, {} ms per request), loadgen {} s ({} cores)",
        number(cpu.server_seconds, 1),
        number(cpu.server_cores, 2),
        number(cpu.server_ms_per_request, 3),
        number(cpu.loadgen_seconds, 1),
        number(cpu.loadgen_cores, 2)
    );
    println!("timeline          window      messages/s    p50 ms    p99 ms");
    for w in &load.timeline {
        println!(
            "                  {:>4}-{:<4} s {:>12.0} {:>9.2} {:>9.2}",
            w.from_s, w.to_s, w.messages_per_s, w.p50_ms, w.p99_ms
        );
    }
    Ok(())
}

pub fn print_sessions(context: &Context, sessions: &Sessions, json: bool) -> anyhow::Result<()> {
    if json {
        let all = serde_json::json!({ "context": context, "sessions": sessions });
        println!("{}", serde_json::to_string_pretty(&all)?);
        return Ok(());
    }
    print_context(context);
    println!(
        "sessions          {} of {} opened mid-flow in {:.1} s; {} still open at the end",
        sessions.opened, sessions.requested, sessions.open_seconds, sessions.still_open_at_end
    );
    println!(
        "opening latency   {}",
        latency_line(&sessions.opening_latency)
    );
    print_failures("failures", &sessions.failures);
    if let Some(gauge) = sessions.server_open_sessions_gauge {
        println!("server gauge      showroom_open_sessions {gauge}");
    }
    let mib = |v: Option<f64>| v.map_or_else(|| "?".to_owned(), |v| format!("{v:.1} MiB"));
    println!(
        "server RSS        after opening {}, after holding {}",
        mib(sessions.rss_after_open_mib),
        mib(sessions.rss_after_hold_mib)
    );
    print_memory(sessions.server_memory.as_ref());
    if let (Some(memory), Some(held)) = (&sessions.server_memory, sessions.rss_after_hold_mib)
        && sessions.opened > 0
    {
        let per = (held - memory.start_rss_mib) * 1024.0 / sessions.opened as f64;
        println!("per session       {per:.1} KiB of server RSS (after holding, minus the start)");
    }
    Ok(())
}
