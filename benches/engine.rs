//! The runtime's own work per message, measured in-process on a real SQLite file:
//! one customer message through the whole engine (commit inbound, lock, route, commit
//! the turn, return the replies), plus the hot pure functions around it.
//!
//! Run: `cargo bench --bench engine`. Results go in docs/BENCHMARKS.md.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use showroom::config::Config;
use showroom::engine::{Button, ChannelIdentity, ChannelKind, InboundContent, Session};

fn engine_round_trip(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = Config::defaults_with_data_dir(dir.path()).expect("defaults");
    // The settings menu: this measures the engine, not a flow.
    config.flows_dir = dir.path().join("no-flows");
    let engine = runtime
        .block_on(showroom::server::open(&config))
        .expect("open")
        .engine;
    let conversation = runtime
        .block_on(engine.open(&ChannelIdentity::new(ChannelKind::Web, "bench")))
        .expect("conversation");
    let engine = Arc::clone(&engine);

    let mut group = c.benchmark_group("engine");
    group.bench_function("button press on SQLite (store, process, commit)", |b| {
        b.to_async(&runtime).iter(|| async {
            let replies = engine
                .handle(
                    &conversation,
                    InboundContent::Button {
                        payload: "menu:service".into(),
                    },
                    None,
                )
                .await
                .expect("handled");
            black_box(replies)
        })
    });
    group.bench_function("typed text matched to a button on SQLite", |b| {
        b.to_async(&runtime).iter(|| async {
            let replies = engine
                .handle(
                    &conversation,
                    InboundContent::Text {
                        text: "Volver al menú".into(),
                    },
                    None,
                )
                .await
                .expect("handled");
            black_box(replies)
        })
    });
    group.finish();
}

fn pure_functions(c: &mut Criterion) {
    let session = Session {
        offered: vec![
            Button::new("Prueba de manejo", "menu:test_drive"),
            Button::new("Cita de taller", "menu:service"),
            Button::new("Hablar con un asesor", "menu:advisor"),
        ],
        ..Session::default()
    };
    c.bench_function("match typed text to offered buttons", |b| {
        b.iter(|| black_box(session.offered_button_for(black_box("  hablar con un ASESOR "))))
    });
    let line = "2026-11-23T08:35:12.123456Z  INFO showroom::engine: conversation=01934567-7c3e-7abc-9def-001122334455 text=\"mi cel es +57 300 123 4567, correo ana@example.com\"";
    c.bench_function("mask personal data in one log line", |b| {
        b.iter(|| black_box(showroom::telemetry::redact(black_box(line)).len()))
    });
}

criterion_group!(benches, engine_round_trip, pure_functions);
criterion_main!(benches);
