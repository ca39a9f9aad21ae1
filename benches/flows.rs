//! Flow steps per second, in-process: the flow runner alone (no store, no channel), so
//! the figure is the cost of the flow language itself — templates, conditions, input
//! parsing, button matching, state (de)serialisation.
//!
//! Run: `cargo bench --bench flows`. Results go in docs/BENCHMARKS.md.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::Value;
use showroom::config::Config;
use showroom::engine::{ChannelKind, Input, Language, MenuRouter, Router, Turn};
use showroom::flows::actions::{ActionCall, ActionError, ActionOutcome, Actions};
use showroom::flows::{FlowRegistry, FlowRouter};

/// Steps in the synthetic flow: one `set`, then pairs of a conditional `say` and a `set`.
const SYNTHETIC_STEPS: u64 = 101;

/// Actions that do nothing: the store's cost is measured by the engine benchmark.
struct NoActions;

#[async_trait]
impl Actions for NoActions {
    fn vocabulary(&self) -> BTreeMap<String, Vec<String>> {
        showroom::flows::actions::builtin_vocabulary()
    }

    async fn run(&self, _call: ActionCall<'_>) -> Result<ActionOutcome, ActionError> {
        Ok(ActionOutcome::default())
    }
}

fn synthetic_flow() -> String {
    let mut yaml = String::from(
        "id: bench\ntitle: { es: Banco, en: Bench }\ntriggers: { menu: 9 }\nsteps:\n  - set: { count: 0, model: Tiguan }\n",
    );
    for i in 0..50 {
        yaml.push_str(&format!(
            "  - if: count >= 0 and model == \"Tiguan\"\n    say: {{ es: \"Paso {i}: {{{{ model }}}} ({{{{ count }}}})\", en: \"Step {i}: {{{{ model }}}}\" }}\n  - set: {{ count: {i} }}\n"
        ));
    }
    yaml
}

fn router(flows_dir: &Path) -> FlowRouter {
    let config = Config::defaults_with_data_dir(flows_dir).expect("defaults");
    let (sources, vocabulary) = showroom::server::flow_vocabulary(
        &config,
        Arc::new(showroom::booking::sources::NoBookings),
    );
    let registry = FlowRegistry::load(flows_dir, vocabulary).expect("flows are valid");
    FlowRouter::new(
        Arc::new(registry),
        MenuRouter::new(&config.bot, config.menu.clone()),
        Arc::new(NoActions),
        sources,
        showroom::server::runner_settings(&config),
    )
}

/// Sends one input and returns how many replies came back.
async fn send(router: &FlowRouter, state: &mut Value, input: Input) -> usize {
    let mut turn = Turn {
        input,
        channel: ChannelKind::Web,
        customer_id: "bench-customer",
        conversation_id: "bench-conversation",
        language: Language::Es,
        state,
        replies: Vec::new(),
        stream: None,
        notes: Default::default(),
    };
    router.route(&mut turn).await.expect("routed");
    turn.replies.len()
}

const QUOTE: [&str; 9] = [
    "quiero cotizar",
    "tiguna",
    "no sé",
    "claro",
    "1",
    "abc 123",
    "45 mil",
    "Carlos Pérez",
    "315 987 6543",
];

fn text(t: &str) -> Input {
    Input::Text(t.into())
}

fn flows(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");

    let synthetic = tempfile::tempdir().expect("temp dir");
    std::fs::write(synthetic.path().join("bench.yaml"), synthetic_flow()).expect("write");
    let synthetic_router = router(synthetic.path());
    let shipped_router = router(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/flows")));

    let mut group = c.benchmark_group("flows");
    group.throughput(Throughput::Elements(SYNTHETIC_STEPS));
    group.bench_function(
        "101 steps in one turn (say with condition + template, set)",
        |b| {
            b.to_async(&runtime).iter(|| async {
                let mut state = Value::Null;
                let input = Input::Button {
                    payload: "flow:bench".into(),
                };
                black_box(send(&synthetic_router, &mut state, input).await)
            })
        },
    );

    // The shipped quote flow end to end, typed the way customers type: 9 customer turns,
    // with a typo'd model, yes/no words, a plate, "45 mil", a name and a phone.
    group.throughput(Throughput::Elements(1));
    // Make sure the script really completes the quote (and so measures what it says).
    runtime.block_on(async {
        let mut state = Value::Null;
        for input in QUOTE {
            send(&shipped_router, &mut state, text(input)).await;
        }
        assert!(
            state.get("stack").is_none(),
            "the quote script did not finish the flow: {state}"
        );
    });
    group.bench_function("quote conversation, 9 typed turns (shipped flows)", |b| {
        b.to_async(&runtime).iter(|| async {
            let mut state = Value::Null;
            let mut replies = 0;
            for input in QUOTE {
                replies += send(&shipped_router, &mut state, text(input)).await;
            }
            black_box(replies)
        })
    });
    group.finish();
}

criterion_group!(benches, flows);
criterion_main!(benches);
