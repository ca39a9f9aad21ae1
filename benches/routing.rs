//! Free text typed by a customer — not a button, not a match for an offered button: the
//! runtime decides whether it is a question for the assistant, a request that starts a
//! flow (with what the message already says filled in), or an answer to nothing. Measured
//! three ways, on 20 messages written the way customers write (questions, requests,
//! slang, typos):
//!
//! - the intent rules alone (`IntentRules::detect`), the classifier behind the decision;
//! - the decision as `FlowRouter::free_text` takes it: a flow's trigger phrase, whether
//!   the message is a question, the intent rules, and the values for the flow;
//! - the whole flow-router turn without a store: the decision plus what follows it (the
//!   flow's first question, or retrieval over the shipped knowledge and an extractive
//!   answer — no LLM);
//! - and one message through the whole engine on SQLite, like `benches/engine.rs` does
//!   for buttons: a question answered from the knowledge base, and a request that starts
//!   the test-drive flow.
//!
//! Run: `cargo bench --bench routing`. Results go in docs/BENCHMARKS.md.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use jiff::Zoned;
use serde_json::Value;
use showroom::assistant::intent::IntentRules;
use showroom::config::{Config, RawSettings, Secrets};
use showroom::engine::{
    ChannelIdentity, ChannelKind, InboundContent, Input, Language, MenuRouter, Router, Turn, fold,
};
use showroom::flows::actions::{ActionCall, ActionError, ActionOutcome, Actions};
use showroom::flows::{FlowRegistry, FlowRouter, FlowSet};
use showroom::knowledge::KnowledgeBase;
use showroom::knowledge::ingest::Quiet;

/// What customers type, by kind. The kind is for the reader; the benchmark prints what the
/// rules decided for each message before timing, so the set can be checked.
const MESSAGES: &[(&str, &str)] = &[
    ("question", "¿cuánto consume el tiguan?"),
    ("question", "q garantia tiene la duster"),
    (
        "question",
        "cuanto cuesta el mantenimiento de los 10 mil km",
    ),
    ("question", "el cx30 trae camara de reversa?"),
    ("question", "¿qué necesito para la prueba de manejo?"),
    ("question", "tienen financiacion sin cuota inicial"),
    ("question", "a que hora abren la sede norte el domingo"),
    ("question", "which warranty does the sportage have?"),
    (
        "request",
        "quiero agendar una prueba de manejo del tiguan el sábado",
    ),
    (
        "request",
        "quiero probar el Tiguan el sábado en la sede norte",
    ),
    (
        "request",
        "necesito llevar mi carro a mantenimiento el lunes",
    ),
    ("request", "mi Duster 2021 placa ABC 123 necesita revisión"),
    ("request", "quiero una cotizacion del corolla cross"),
    ("request", "quiero hablar con un asesor"),
    ("slang", "kiero probar la t cross mañana"),
    ("slang", "parce q tal la onix pa ciudad"),
    (
        "slang",
        "me pueden agendar un test drive de la sportage pa el viernes",
    ),
    ("typo", "kuanto bale la tigan"),
    ("typo", "nesesito cita de taller urjente"),
    ("typo", "cuanto gasta la trakcer en carretera"),
];

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The shipped flows, knowledge and prompts, with everything written under `data`.
fn config(data: &Path) -> Config {
    let raw = RawSettings {
        data_dir: data.to_owned(),
        flows_dir: repo().join("flows"),
        knowledge_dir: repo().join("knowledge"),
        prompts_dir: repo().join("prompts"),
        ..RawSettings::default()
    };
    Config::validate(raw, None, Secrets::default()).expect("settings")
}

/// Monday 23 November 2026, 10:00 in Bogotá: a fixed day, so "el sábado" always means
/// the same date.
fn now() -> Zoned {
    jiff::civil::date(2026, 11, 23)
        .at(10, 0, 0, 0)
        .in_tz("America/Bogota")
        .expect("Bogotá is in the tz database")
}

/// Actions that do nothing: a flow's first question runs none, and the store's cost is
/// measured by the SQLite benchmarks.
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

/// What the runtime does with a typed message outside a flow.
#[derive(Debug)]
enum Decision {
    /// A trigger phrase (or the intent rules) start this flow with these values.
    Start(String, serde_json::Map<String, Value>),
    /// Anything else goes to the assistant (which may still start a flow itself).
    Assistant,
}

/// The order of `FlowRouter::free_text` (src/flows/assistant.rs), minus its greeting
/// check (a private list of phrases): a trigger phrase starts its flow unless the message
/// is a question the intent rules see no request in; everything else goes to the
/// assistant, whose first step is the same intent rules.
fn decide(set: &FlowSet, rules: &IntentRules, text: &str, now: &Zoned) -> Decision {
    let trigger = set.flow_for_text(&fold(text));
    if let Some(flow) = trigger
        && !(showroom::assistant::is_question(text) && rules.detect(text, now).is_none())
    {
        return Decision::Start(flow.id.clone(), rules.values_for(&flow.params, text, now));
    }
    match rules.detect(text, now) {
        Some(intent) => Decision::Start(intent.flow, intent.values),
        None => Decision::Assistant,
    }
}

fn flow_set(config: &Config) -> Arc<FlowSet> {
    let (_, vocabulary) =
        showroom::server::flow_vocabulary(config, Arc::new(showroom::booking::sources::NoBookings));
    FlowRegistry::load(&config.flows_dir, vocabulary)
        .expect("the shipped flows are valid")
        .current()
}

fn pure_decision(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = config(dir.path());
    let rules = IntentRules::from_config(&config);
    let set = flow_set(&config);
    let now = now();

    println!("What the rules decide for each message (checked before timing):");
    for (kind, text) in MESSAGES {
        let decision = match decide(&set, &rules, text, &now) {
            Decision::Start(flow, values) => {
                let keys: Vec<&str> = values.keys().map(String::as_str).collect();
                format!("start {flow} with {keys:?}")
            }
            Decision::Assistant => "assistant".to_owned(),
        };
        println!("  {kind:8} {text:62} → {decision}");
    }

    let mut group = c.benchmark_group("free text");
    group.throughput(Throughput::Elements(MESSAGES.len() as u64));
    group.bench_function("intent rules, 20 messages", |b| {
        b.iter(|| {
            for (_, text) in MESSAGES {
                black_box(rules.detect(black_box(text), &now));
            }
        })
    });
    group.bench_function("routing decision, 20 messages", |b| {
        b.iter(|| {
            for (_, text) in MESSAGES {
                black_box(decide(&set, &rules, black_box(text), &now));
            }
        })
    });
    group.finish();

    let request = "quiero agendar una prueba de manejo del tiguan el sábado";
    c.bench_function(
        "free text/intent rules, one request with model and day",
        |b| b.iter(|| black_box(rules.detect(black_box(request), &now))),
    );
}

/// The shipped knowledge ingested into an embedded index under `data` (sparse retrieval:
/// no embeddings server).
async fn knowledge(config: &Config) -> Arc<KnowledgeBase> {
    let base = KnowledgeBase::from_config(config)
        .await
        .expect("open the knowledge index");
    base.ingest(&Quiet)
        .await
        .expect("ingest the shipped knowledge");
    Arc::new(base)
}

fn router_turn(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let config = config(dir.path());
    let knowledge = runtime.block_on(knowledge(&config));
    let (assistant, _) = showroom::server::assistant(&config, knowledge).expect("assistant");
    let (sources, vocabulary) = showroom::server::flow_vocabulary(
        &config,
        Arc::new(showroom::booking::sources::NoBookings),
    );
    let registry = FlowRegistry::load(&config.flows_dir, vocabulary).expect("flows");
    let router = FlowRouter::new(
        Arc::new(registry),
        MenuRouter::new(&config.bot, config.menu.clone()),
        Arc::new(NoActions),
        sources,
        showroom::server::runner_settings(&config),
    )
    .with_assistant(assistant);

    let mut group = c.benchmark_group("free text");
    group.throughput(Throughput::Elements(MESSAGES.len() as u64));
    // About 90 ms per iteration: 100 samples need more than the default 5 s.
    group.measurement_time(Duration::from_secs(12));
    group.bench_function(
        "flow router turn, 20 messages (no store; sparse knowledge, extractive answers)",
        |b| {
            b.to_async(&runtime).iter(|| async {
                let mut replies = 0;
                for (_, text) in MESSAGES {
                    // Each message opens a conversation at the main menu.
                    let mut state = Value::Null;
                    let mut turn = Turn {
                        input: Input::Text((*text).to_owned()),
                        channel: ChannelKind::Web,
                        customer_id: "bench-customer",
                        conversation_id: "bench-conversation",
                        language: Language::Es,
                        state: &mut state,
                        replies: Vec::new(),
                        stream: None,
                        notes: Default::default(),
                    };
                    router.route(&mut turn).await.expect("routed");
                    replies += turn.replies.len();
                }
                black_box(replies)
            })
        },
    );
    group.finish();
}

/// Numbers the conversations the request benchmark opens: criterion calls the timed
/// closure many times, and each request needs a conversation of its own.
static CONVERSATIONS: AtomicU64 = AtomicU64::new(0);

fn engine_turn(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let config = config(dir.path());
    let engine = runtime.block_on(async {
        let knowledge = knowledge(&config).await;
        let (assistant, _) = showroom::server::assistant(&config, knowledge).expect("assistant");
        showroom::server::open_with(&config, Some(assistant))
            .await
            .expect("open")
            .engine
    });
    let question = runtime
        .block_on(engine.open(&ChannelIdentity::new(ChannelKind::Web, "bench-question")))
        .expect("conversation");

    let mut group = c.benchmark_group("engine");
    group.bench_function(
        "free-text question answered from the knowledge base on SQLite",
        |b| {
            b.to_async(&runtime).iter(|| async {
                let replies = engine
                    .handle(
                        &question,
                        InboundContent::Text {
                            text: "¿cuánto consume el tiguan?".into(),
                        },
                        None,
                    )
                    .await
                    .expect("handled");
                black_box(replies)
            })
        },
    );
    // A request starts a flow once per conversation: each timed message goes to a new
    // conversation, opened before the clock starts.
    let engine = &engine;
    group.bench_function(
        "free-text request that starts the test drive on SQLite",
        |b| {
            b.to_async(&runtime).iter_custom(|iterations| async move {
                let mut total = Duration::ZERO;
                for _ in 0..iterations {
                    let id = CONVERSATIONS.fetch_add(1, Ordering::Relaxed);
                    let identity =
                        ChannelIdentity::new(ChannelKind::Web, format!("bench-request-{id}"));
                    let conversation = engine.open(&identity).await.expect("conversation");
                    let started = Instant::now();
                    let replies = engine
                        .handle(
                            &conversation,
                            InboundContent::Text {
                                text: "quiero agendar una prueba de manejo del tiguan el sábado"
                                    .into(),
                            },
                            None,
                        )
                        .await
                        .expect("handled");
                    total += started.elapsed();
                    black_box(replies);
                }
                total
            })
        },
    );
    group.finish();
}

criterion_group!(benches, pure_decision, router_turn, engine_turn);
criterion_main!(benches);
