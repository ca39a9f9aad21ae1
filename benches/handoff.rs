//! Time from the qualifying message to the CRM's 200: a customer finishes the advisor
//! flow over the HTTP chat API (consent, name, phone, reason) and the bench measures
//! from sending the last message until the local CRM receiver gets the signed
//! `lead.created`. The whole server runs in-process on a real SQLite file, with the
//! outbox worker delivering over real HTTP.
//!
//! Run: `cargo bench --bench handoff` (`HANDOFF_LEADS=200 HANDOFF_CONCURRENCY=1`).
//! Results go in docs/BENCHMARKS.md.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::routing::post;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::Notify;

/// When each lead (by phone) reached the CRM.
#[derive(Default)]
struct Arrivals {
    at: Mutex<HashMap<String, Instant>>,
    notify: Notify,
}

async fn crm(arrivals: Arc<Arrivals>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind crm");
    let address = listener.local_addr().expect("crm address");
    let app = axum::Router::new().route(
        "/hooks",
        post(move |body: axum::body::Bytes| {
            let arrivals = arrivals.clone();
            async move {
                let now = Instant::now();
                if let Ok(body) = serde_json::from_slice::<Value>(&body)
                    && body["type"] == "lead.created"
                    && let Some(phone) = body["data"]["customer"]["phone"].as_str()
                    && let Ok(mut at) = arrivals.at.lock()
                {
                    at.insert(phone.to_owned(), now);
                    arrivals.notify.notify_waiters();
                }
                "{}"
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{address}/hooks")
}

async fn say(client: &reqwest::Client, base: &str, session: &mut Option<String>, text: &str) {
    let mut body = json!({ "text": text });
    if let Some(session) = session.as_ref() {
        body["session"] = json!(session);
    }
    let reply: Value = client
        .post(format!("{base}/api/v1/chat/messages"))
        .json(&body)
        .send()
        .await
        .expect("chat request")
        .json()
        .await
        .expect("chat reply");
    *session = reply["session"].as_str().map(str::to_owned);
}

/// One customer through the advisor flow; returns the handoff latency.
async fn customer(
    client: reqwest::Client,
    base: String,
    arrivals: Arc<Arrivals>,
    n: usize,
) -> Duration {
    let phone = format!("+57310{n:07}");
    let mut session = None;
    for text in [
        "quiero hablar con un asesor",
        "sí, autorizo",
        "Carlos Pérez",
    ] {
        say(&client, &base, &mut session, text).await;
    }
    say(&client, &base, &mut session, &phone[3..]).await;
    let sent = Instant::now();
    say(&client, &base, &mut session, "Comprar un carro").await;
    loop {
        let notified = arrivals.notify.notified();
        if let Some(at) = arrivals.at.lock().ok().and_then(|m| m.get(&phone).copied()) {
            return at.saturating_duration_since(sent);
        }
        if tokio::time::timeout(Duration::from_secs(30), notified)
            .await
            .is_err()
        {
            panic!("lead {phone} never reached the CRM");
        }
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn main() {
    let leads: usize = std::env::var("HANDOFF_LEADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let concurrency: usize = std::env::var("HANDOFF_CONCURRENCY")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
        .max(1);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async move {
        let dir = tempfile::tempdir().expect("temp dir");
        let arrivals = Arc::new(Arrivals::default());
        let url = crm(arrivals.clone()).await;
        let mut config =
            showroom::config::Config::defaults_with_data_dir(dir.path()).expect("defaults");
        config.knowledge_dir = dir.path().join("no-knowledge");
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        config.crm.endpoint = showroom::crm::settings::CrmEnv::from_values(Some(&url), Some(secret))
            .expect("crm settings")
            .endpoint;
        // Bench traffic comes from one address.
        config.web.messages_per_minute_per_ip = std::num::NonZeroU32::MAX;
        config.web.messages_per_minute_per_session = std::num::NonZeroU32::MAX;
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let stop = Arc::new(Notify::new());
        let stopped = stop.clone();
        let server = tokio::spawn(showroom::server::run(config, listener, async move {
            stopped.notified().await
        }));
        let client = reqwest::Client::new();
        // Warm up: first connections, first SQLite pages.
        customer(client.clone(), base.clone(), arrivals.clone(), 9_999_999).await;

        let started = Instant::now();
        let mut latencies = Vec::with_capacity(leads);
        let mut next = 0;
        while next < leads {
            let batch: Vec<_> = (next..(next + concurrency).min(leads))
                .map(|n| tokio::spawn(customer(client.clone(), base.clone(), arrivals.clone(), n)))
                .collect();
            next += batch.len();
            for task in batch {
                latencies.push(task.await.expect("customer task"));
            }
        }
        let elapsed = started.elapsed();
        latencies.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        println!(
            "handoff latency, qualifying message → CRM 200 ({leads} leads, {concurrency} at a time, SQLite, {:.1} s): p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            elapsed.as_secs_f64(),
            ms(percentile(&latencies, 0.50)),
            ms(percentile(&latencies, 0.95)),
            ms(percentile(&latencies, 0.99)),
            ms(latencies[latencies.len() - 1]),
        );
        stop.notify_waiters();
        let _ = tokio::time::timeout(Duration::from_secs(10), server).await;
    });
}
