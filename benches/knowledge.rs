//! Knowledge base: ingest speed, and query latency percentiles on the embedded index at
//! 10,000 and 100,000 chunks (sparse retrieval, the default without an embeddings
//! server). Criterion reports means; the target is a p99, so this harness times every
//! query itself and prints percentiles.
//!
//! The corpus is the shipped spec sheets copied under 50 invented model ids (each copy
//! with its own part numbers, so the vocabulary grows like a real catalogue's), cut by
//! the real chunker and indexed by the real ingest. Queries are `knowledge/eval.yaml`.
//!
//! Run: `cargo bench --bench knowledge` (KB_BENCH_SIZES=10000 to skip the large one).
//! Results go in docs/BENCHMARKS.md.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use showroom::config::{Config, RawSettings, Secrets};
use showroom::knowledge::eval::load_questions;
use showroom::knowledge::ingest::Quiet;
use showroom::knowledge::{KnowledgeBase, SearchOptions};

const QUERY_ROUNDS: usize = 20;
/// Distinct model ids in the synthetic corpus.
const MODELS: usize = 50;

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

fn config(data: &Path, knowledge: &Path) -> Config {
    let raw = RawSettings {
        data_dir: data.to_owned(),
        knowledge_dir: knowledge.to_owned(),
        ..RawSettings::default()
    };
    Config::validate(raw, None, Secrets::default()).expect("settings")
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

async fn run(size: usize, questions: &[String]) {
    let dir = tempfile::tempdir().expect("tempdir");
    let knowledge = dir.path().join("knowledge");
    // Measure one copy's chunk count first so the corpus lands near `size`.
    let probe_dir = dir.path().join("probe");
    synthetic_knowledge(&probe_dir, 1, 1);
    let probe = KnowledgeBase::from_config(&config(&dir.path().join("probe-data"), &probe_dir))
        .await
        .expect("open");
    let per_copy = probe.ingest(&Quiet).await.expect("ingest").chunks.max(1);
    drop(probe);

    let files = synthetic_knowledge(&knowledge, size, per_copy);
    let base = KnowledgeBase::from_config(&config(&dir.path().join("data"), &knowledge))
        .await
        .expect("open");
    let started = Instant::now();
    let report = base.ingest(&Quiet).await.expect("ingest");
    let ingest = started.elapsed();
    println!(
        "corpus {size}: {files} files, {} chunks ingested in {:.1} s — {:.0} chunks/s, {:.1} files/s",
        report.chunks,
        ingest.as_secs_f64(),
        report.chunks as f64 / ingest.as_secs_f64(),
        files as f64 / ingest.as_secs_f64()
    );
    let started = Instant::now();
    let again = base.ingest(&Quiet).await.expect("ingest");
    println!(
        "corpus {size}: re-ingest with nothing changed: {:.2} s ({} files checked)",
        started.elapsed().as_secs_f64(),
        again.files.len()
    );

    let options = SearchOptions { k: 5, dense: false };
    // Warm up caches (page cache, vocabulary) before timing.
    for q in questions {
        base.search(q, options).await.expect("search");
    }
    let mut times = Vec::with_capacity(questions.len() * QUERY_ROUNDS);
    for _ in 0..QUERY_ROUNDS {
        for q in questions {
            let started = Instant::now();
            let hits = base.search(q, options).await.expect("search");
            times.push(started.elapsed());
            std::hint::black_box(hits);
        }
    }
    times.sort();
    println!(
        "corpus {size}: {} chunks, {} queries — p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        report.chunks,
        times.len(),
        percentile(&times, 0.50).as_secs_f64() * 1e3,
        percentile(&times, 0.95).as_secs_f64() * 1e3,
        percentile(&times, 0.99).as_secs_f64() * 1e3,
        times.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
    );
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing: skip then.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let sizes: Vec<usize> = std::env::var("KB_BENCH_SIZES")
        .unwrap_or_else(|_| "10000,100000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let questions: Vec<String> = load_questions(&repo().join("knowledge/eval.yaml"))
        .expect("eval questions")
        .into_iter()
        .map(|q| q.question)
        .collect();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    for size in sizes {
        runtime.block_on(run(size, &questions));
    }
}
