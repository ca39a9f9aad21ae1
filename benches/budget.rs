//! Token budgeting: fitting the system prompt, retrieved passages, earlier exchanges and
//! the question into an LLM's context window, counted with the cl100k tokenizer
//! (tiktoken), as the assistant does before every LLM request (`assistant::budget`).
//!
//! Real inputs: the shipped system prompt rendered with the default settings, passages cut
//! by the real chunker (320 tokens) from the shipped knowledge — the largest ones, so
//! these are the slow end — and earlier exchanges made of the eval questions with answers
//! at the 1,200 characters the conversation keeps of each.
//!
//! Run: `cargo bench --bench budget`. Results go in docs/BENCHMARKS.md.

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{Criterion, criterion_group, criterion_main};
use showroom::assistant::budget::{Budget, Exchange, count_tokens};
use showroom::assistant::injection::{new_canary, passage_text};
use showroom::assistant::prompts::{Prompts, SystemVars};
use showroom::config::Config;
use showroom::engine::Language;
use showroom::knowledge::chunk::Chunker;
use showroom::knowledge::eval::load_questions;
use showroom::knowledge::load::{knowledge_files, load_file};

/// What the conversation keeps of each answer (`HISTORY_ANSWER_CHARS` in
/// src/flows/assistant.rs).
const ANSWER_CHARS: usize = 1_200;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The shipped system prompt, rendered as for a Spanish-speaking customer.
fn system_prompt(config: &Config) -> String {
    let prompts = Prompts::load(&repo().join("prompts")).expect("the shipped prompts are valid");
    prompts
        .system(&SystemVars {
            bot_name: config.bot.name.clone(),
            dealer_name: config.bot.name.clone(),
            language: Language::Es,
            today: "lunes 23 de noviembre de 2026".into(),
            branches: config
                .catalog
                .branches
                .iter()
                .map(|b| format!("{} ({}, {})", b.name, b.address, b.city))
                .collect(),
            canary: new_canary(),
        })
        .expect("the system prompt renders")
}

/// Every chunk of the shipped knowledge as the context block gets it, largest first.
fn passages(config: &Config) -> Vec<String> {
    let root = repo().join("knowledge");
    let chunker = Chunker::new(
        config.knowledge.chunk_tokens,
        config.knowledge.chunk_overlap,
    )
    .expect("tokenizer");
    let mut passages: Vec<String> = knowledge_files(&root)
        .iter()
        .filter_map(|path| load_file(&root, path).ok())
        .flat_map(|document| chunker.chunk(&document))
        .map(|chunk| passage_text(&chunk.text))
        .collect();
    passages.sort_by_key(|text| std::cmp::Reverse(count_tokens(text)));
    passages
}

/// `count` earlier exchanges, oldest first.
fn history(questions: &[String], passages: &[String], count: usize) -> Vec<Exchange> {
    (0..count)
        .map(|i| Exchange {
            question: questions[i % questions.len()].clone(),
            answer: passages[(i + 7) % passages.len()]
                .chars()
                .take(ANSWER_CHARS)
                .collect(),
        })
        .collect()
}

fn fitting(c: &mut Criterion) {
    let config = Config::defaults_with_data_dir(std::env::temp_dir()).expect("defaults");
    let system = system_prompt(&config);
    let passages = passages(&config);
    let questions: Vec<String> = load_questions(&repo().join("knowledge/eval.yaml"))
        .expect("eval questions")
        .into_iter()
        .map(|q| q.question)
        .collect();
    let question = "¿cuánto consume el tiguan en carretera y cuánto le cabe al tanque?";
    println!(
        "system prompt {} tokens; {} passages of {}..{} tokens; question {} tokens",
        count_tokens(&system),
        passages.len(),
        passages.last().map_or(0, |p| count_tokens(p)),
        passages.first().map_or(0, |p| count_tokens(p)),
        count_tokens(question),
    );

    let five = &passages[..5];
    let twenty = &passages[..20];
    let history_20 = history(&questions, &passages, 20);
    let history_100 = history(&questions, &passages, 100);
    // One passage far over a small window: the best passage must be cut between words.
    let long_passage = vec![passages[..8].join("\n\n")];
    println!(
        "8 passages joined as one: {} tokens",
        count_tokens(&long_passage[0])
    );
    let cases: [(&str, Budget, &[String], &[Exchange]); 4] = [
        (
            "5 passages + 20 exchanges, 16k window (all fits)",
            Budget {
                context_window: 16_000,
                answer_tokens: 700,
            },
            five,
            &history_20,
        ),
        (
            "5 passages + 20 exchanges, 4k window (drops)",
            Budget {
                context_window: 4_096,
                answer_tokens: 700,
            },
            five,
            &history_20,
        ),
        (
            "20 passages + 100 exchanges, 8k window (drops)",
            Budget {
                context_window: 8_192,
                answer_tokens: 700,
            },
            twenty,
            &history_100,
        ),
        (
            "8 passages joined as one, cut to a 2k window",
            Budget {
                context_window: 2_048,
                answer_tokens: 300,
            },
            &long_passage,
            &history_20,
        ),
    ];

    let mut group = c.benchmark_group("budget");
    for (name, budget, passages, history) in cases {
        let fitted = budget
            .fit(&system, passages, history, question)
            .expect("fits");
        println!(
            "{name}: {} tokens in, kept {} of {} passages (best cut: {}), {} of {} exchanges → {} prompt tokens",
            count_tokens(&system)
                + passages.iter().map(|p| count_tokens(p)).sum::<usize>()
                + history
                    .iter()
                    .map(|e| count_tokens(&e.question) + count_tokens(&e.answer))
                    .sum::<usize>(),
            fitted.passages.len(),
            passages.len(),
            fitted.passage_cut,
            fitted.history.len(),
            history.len(),
            fitted.prompt_tokens,
        );
        group.bench_function(name, |b| {
            b.iter(|| {
                black_box(
                    budget
                        .fit(black_box(&system), passages, history, black_box(question))
                        .expect("fits"),
                )
            })
        });
    }
    let passage = &passages[0];
    group.bench_function("count the tokens of one 320-token passage", |b| {
        b.iter(|| black_box(count_tokens(black_box(passage))))
    });
    group.finish();
}

criterion_group!(benches, fitting);
criterion_main!(benches);
