//! Load generator for `showroom serve`: simulated customers book whole test drives in
//! the shipped flows over the widget's WebSocket or the plain HTTP chat endpoint, and
//! the run reports throughput, latency percentiles, errors by kind and the server's
//! memory. `--open-sessions N` instead opens N conversations mid-flow and keeps them,
//! to measure what open sessions cost in memory.
//!
//! `scripts/load` starts a server with the right settings and runs this; see its header.
//!
//! ```text
//! cargo run --release --example loadgen -- --url http://127.0.0.1:8080 \
//!     --transport ws --customers 1000 --duration 60s --server-pid PID
//! ```

mod http;
mod load;
mod report;
mod script;
mod server;
mod sessions;
mod stats;
mod transport;
mod ws;

use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs as _};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::{Parser, ValueEnum};

use crate::http::HttpConnector;
use crate::load::Plan;
use crate::server::{MemorySampler, Processing};
use crate::stats::Live;
use crate::ws::WsConnector;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Transport {
    /// `GET /api/v1/chat/ws`, one WebSocket per conversation (what the widget does).
    Ws,
    /// `POST /api/v1/chat/messages`, one request per message.
    Http,
}

/// Simulated customers booking test drives on a running `showroom serve`.
#[derive(Debug, Parser)]
#[command(name = "loadgen")]
struct Args {
    /// The server's base address.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    #[arg(long, value_enum, default_value_t = Transport::Ws)]
    transport: Transport,
    /// Customers at once; each books a test drive, then starts a new conversation.
    /// With --open-sessions: how many sessions are being opened at once.
    #[arg(long, default_value_t = 100)]
    customers: usize,
    /// How long to run: 60, 60s, 2m, 500ms. Conversations under way at the end are
    /// left unfinished (counted as abandoned, not errors). With --open-sessions: no
    /// session is started after this long.
    #[arg(long, value_parser = parse_duration)]
    duration: Option<Duration>,
    /// Stop after this many conversations have begun (and finish them).
    #[arg(long)]
    conversations: Option<u64>,
    /// Customers start spread over this long, so connections don't all open at once.
    #[arg(long, value_parser = parse_duration, default_value = "1s")]
    ramp_up: Duration,
    /// How long a customer takes to answer each question, on average (each pause is
    /// drawn between half and one and a half times this). 0: answer at once, which
    /// saturates the server; a few seconds is a steady load at a known pace.
    #[arg(long, value_parser = parse_duration, default_value = "0s")]
    think: Duration,
    /// Longest wait for one turn's reply (or to connect) before it counts as a timeout.
    #[arg(long, value_parser = parse_duration, default_value = "10s")]
    timeout: Duration,
    /// The server's process id: its VmRSS/VmHWM are read from /proc while the load runs.
    #[arg(long)]
    server_pid: Option<u32>,
    /// How often the server's memory is sampled.
    #[arg(long, value_parser = parse_duration, default_value = "1s")]
    sample_every: Duration,
    /// Width of the throughput/latency timeline's windows.
    #[arg(long, value_parser = parse_duration, default_value = "10s")]
    window: Duration,
    /// Open this many sessions mid-flow and keep them open, instead of booking.
    #[arg(long)]
    open_sessions: Option<u64>,
    /// With --open-sessions: how long to keep them open before the last memory reading.
    #[arg(long, value_parser = parse_duration, default_value = "10s")]
    hold: Duration,
    /// Connect WebSockets from this many loopback source addresses (127.0.0.2, …), each
    /// with its own ~28,000 ephemeral ports; 0 lets the kernel choose (127.0.0.1).
    #[arg(long, default_value_t = 0)]
    source_ips: u8,
    /// Print the summary as JSON on stdout (progress still goes to stderr).
    #[arg(long)]
    json: bool,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .map_or((text, "s"), |at| text.split_at(at));
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration; write 60, 60s, 2m or 500ms"))?;
    let seconds = match unit {
        "ms" => value / 1000.0,
        "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        _ => return Err(format!("unknown unit in `{text}`; use ms, s, m or h")),
    };
    Duration::try_from_secs_f64(seconds).map_err(|err| format!("`{text}`: {err}"))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.duration.is_none() && args.conversations.is_none() && args.open_sessions.is_none() {
        bail!("say how long to run: --duration 60s, --conversations N, or --open-sessions N");
    }
    let base = args.url.trim_end_matches('/').to_owned();
    let server = server_address(&base)?;
    let sources: Vec<IpAddr> = (0..args.source_ips)
        .map(|i| IpAddr::V4(Ipv4Addr::new(127, 0, 0, i.saturating_add(2))))
        .collect();
    warn_about_open_files(&args);
    let http = reqwest::Client::new();
    let metrics_before = server::scrape(&http, &base).await;
    let sampler = args
        .server_pid
        .map(|pid| MemorySampler::start(pid, args.sample_every));
    let context = report::Context {
        url: base.clone(),
        transport: format!("{:?}", args.transport).to_lowercase(),
        customers: args.customers,
        server_open_files: args
            .server_pid
            .and_then(|pid| server::open_files_limit(&pid.to_string())),
        loadgen_open_files: server::open_files_limit("self"),
    };

    if let Some(count) = args.open_sessions {
        let deadline = args.duration.map(|d| Instant::now() + d);
        let opened = match args.transport {
            Transport::Ws => {
                let ws_url = base.replacen("http", "ws", 1) + "/api/v1/chat/ws";
                let connector = WsConnector::new(ws_url, server, sources, args.timeout);
                sessions::open(connector, count, args.customers, deadline).await
            }
            Transport::Http => {
                let connector = HttpConnector::new(&base, args.customers, args.timeout)?;
                sessions::open(connector, count, args.customers, deadline).await
            }
        };
        eprintln!(
            "  {} of {count} sessions open after {:.1} s; holding them {:.0} s",
            opened.opened,
            opened.took.as_secs_f64(),
            args.hold.as_secs_f64()
        );
        let after_open = args.server_pid.and_then(server::read_memory);
        tokio::time::sleep(args.hold).await;
        let held = args.server_pid.and_then(server::read_memory);
        let metrics = server::scrape(&http, &base).await;
        let open_gauge = metrics
            .as_deref()
            .and_then(|m| server::plain_metric(m, "showroom_open_sessions"));
        let memory = match sampler {
            Some(sampler) => sampler.finish().await,
            None => None,
        };
        let result = report::Sessions {
            requested: opened.requested,
            opened: opened.opened,
            open_seconds: opened.took.as_secs_f64(),
            opening_latency: opened.latency.clone(),
            failures: opened.failures.clone(),
            server_open_sessions_gauge: open_gauge,
            rss_after_open_mib: after_open.map(|m| m.rss_kib as f64 / 1024.0),
            rss_after_hold_mib: held.map(|m| m.rss_kib as f64 / 1024.0),
            server_memory: memory,
            still_open_at_end: 0,
        };
        let still_open = opened.close().await;
        let result = report::Sessions {
            still_open_at_end: still_open,
            ..result
        };
        report::print_sessions(&context, &result, args.json)?;
        return Ok(());
    }

    let pid = args.server_pid.map(|pid| pid.to_string());
    let cpu_before = (
        pid.as_deref().and_then(server::cpu_seconds),
        server::cpu_seconds("self"),
    );
    let start = Instant::now();
    let plan = Plan {
        customers: args.customers,
        deadline: args.duration.map(|d| start + d),
        conversations: args.conversations,
        ramp_up: args.ramp_up,
        think: args.think,
    };
    let live = Arc::new(Live::default());
    let progress = tokio::spawn(progress(live.clone(), args.server_pid, start));
    let recorder = match args.transport {
        Transport::Ws => {
            let ws_url = base.replacen("http", "ws", 1) + "/api/v1/chat/ws";
            let connector = WsConnector::new(ws_url, server, sources, args.timeout);
            load::run(connector, plan, start, live).await
        }
        Transport::Http => {
            let connector = HttpConnector::new(&base, args.customers, args.timeout)?;
            load::run(connector, plan, start, live).await
        }
    };
    let elapsed = start.elapsed();
    let cpu_used = (
        pid.as_deref()
            .and_then(server::cpu_seconds)
            .zip(cpu_before.0)
            .map(|(after, before)| after - before),
        server::cpu_seconds("self")
            .zip(cpu_before.1)
            .map(|(after, before)| after - before),
    );
    progress.abort();
    let memory = match sampler {
        Some(sampler) => sampler.finish().await,
        None => None,
    };
    let processing = match (metrics_before, server::scrape(&http, &base).await) {
        (Some(before), Some(after)) => Processing::parse(&after)
            .since(&Processing::parse(&before))
            .report(),
        _ => None,
    };
    let result = report::Load::new(
        &recorder,
        elapsed,
        args.window,
        memory,
        processing,
        cpu_used,
    );
    report::print_load(&context, &result, args.json)?;
    Ok(())
}

/// A progress line every 5 s on stderr.
async fn progress(live: Arc<Live>, pid: Option<u32>, start: Instant) {
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    tick.tick().await;
    let mut last = 0;
    loop {
        tick.tick().await;
        let messages = live.messages.load(Ordering::Relaxed);
        let memory = pid
            .and_then(server::read_memory)
            .map_or_else(String::new, |m| {
                format!(", server RSS {} MiB", m.rss_kib / 1024)
            });
        eprintln!(
            "  {:>4.0} s: {messages} messages ({}/s), {} bookings, {} errors{memory}",
            start.elapsed().as_secs_f64(),
            (messages - last) / 5,
            live.conversations.load(Ordering::Relaxed),
            live.errors.load(Ordering::Relaxed),
        );
        last = messages;
    }
}

/// The server's socket address, from `http://host:port`.
fn server_address(base: &str) -> anyhow::Result<SocketAddr> {
    let authority = base
        .strip_prefix("http://")
        .with_context(|| format!("--url must start with http:// (got {base})"))?;
    let host_port = authority.split('/').next().unwrap_or(authority);
    let with_port = if host_port.contains(':') {
        host_port.to_owned()
    } else {
        format!("{host_port}:80")
    };
    with_port
        .to_socket_addrs()
        .with_context(|| format!("resolving {with_port}"))?
        .next()
        .with_context(|| format!("{with_port} has no address"))
}

/// Each WebSocket takes a file descriptor here and one in the server: say so before a
/// run that cannot fit.
fn warn_about_open_files(args: &Args) {
    let wanted = match (args.open_sessions, args.transport) {
        (Some(n), Transport::Ws) => n,
        _ => args.customers as u64,
    };
    let own = server::open_files_limit("self");
    if let Some(limit) = own
        && wanted + 100 > limit
    {
        eprintln!(
            "warning: {wanted} connections need more open files than this process may have ({limit}); raise `ulimit -n` (hard limit: `ulimit -Hn`)"
        );
    }
    if let Some(pid) = args.server_pid
        && let Some(limit) = server::open_files_limit(&pid.to_string())
        && wanted + 100 > limit
    {
        eprintln!(
            "warning: the server may open at most {limit} files; {wanted} connections will not fit"
        );
    }
}
