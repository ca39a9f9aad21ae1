//! Sparse-only retrieval quality on the shipped knowledge and `knowledge/eval.yaml`,
//! with a simple in-memory BM25 (the same IDF formula as Qdrant's IDF modifier) over
//! passages cut at `##` headings. It guards the analysis against regressions without the
//! real chunker or index; `showroom kb eval` measures the whole pipeline.
//!
//! `cargo test --lib knowledge::analysis::recall -- --nocapture` prints the misses.

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;

use super::{Analyzer, Synonyms, Vocabulary};
use crate::knowledge::SparseVector;

#[derive(Deserialize)]
struct Question {
    question: String,
    expected: String,
}

struct Passage {
    source: String,
    text: String,
}

/// Markdown files cut at `##` headings, each passage prefixed with the file's title and
/// its heading (as `Chunk::indexed_text` does); CSV files one passage per row.
fn passages(root: &Path) -> Vec<Passage> {
    let mut passages = Vec::new();
    for dir in ["specs", "faq", "policies"] {
        let mut files: Vec<_> = std::fs::read_dir(root.join(dir))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for path in files {
            let source = format!("{dir}/{}", path.file_name().unwrap().to_string_lossy());
            let text = std::fs::read_to_string(&path).unwrap();
            if source.ends_with(".csv") {
                passages.extend(csv_rows(&source, &text));
            } else {
                passages.extend(markdown_sections(&source, &text));
            }
        }
    }
    passages
}

fn markdown_sections(source: &str, text: &str) -> Vec<Passage> {
    let mut title = String::new();
    let mut body = text;
    if let Some(rest) = text.strip_prefix("---\n") {
        let (front, after) = rest.split_once("\n---\n").unwrap();
        for line in front.lines() {
            if let Some(t) = line.strip_prefix("title:") {
                title = t.trim().to_owned();
            }
        }
        body = after;
    }
    let mut passages = Vec::new();
    let mut heading = String::new();
    let mut current = String::new();
    let mut flush = |heading: &str, current: &mut String| {
        if !current.trim().is_empty() {
            passages.push(Passage {
                source: source.to_owned(),
                text: format!("{title} — {heading}\n{current}"),
            });
        }
        current.clear();
    };
    for line in body.lines() {
        if let Some(h) = line.strip_prefix("## ") {
            flush(&heading, &mut current);
            heading = h.to_owned();
        } else if !line.starts_with("# ") {
            current.push_str(line);
            current.push('\n');
        }
    }
    flush(&heading, &mut current);
    passages
}

fn csv_rows(source: &str, text: &str) -> Vec<Passage> {
    let mut lines = text.lines();
    let header: Vec<String> = lines
        .next()
        .unwrap()
        .split(',')
        .map(|h| h.replace('_', " "))
        .collect();
    lines
        .map(|row| {
            let cells = row.split(',');
            let text = header
                .iter()
                .zip(cells)
                .map(|(h, c)| format!("{h}: {c}"))
                .collect::<Vec<_>>()
                .join("\n");
            Passage {
                source: source.to_owned(),
                text: format!("Versiones de la Renault Duster\n{text}"),
            }
        })
        .collect()
}

/// Dot product with IDF = ln(1 + (N − n + 0.5) / (n + 0.5)), as Qdrant computes it.
fn score(query: &SparseVector, document: &SparseVector, idf: &HashMap<u32, f32>) -> f32 {
    let weights: HashMap<u32, f32> = document
        .indices
        .iter()
        .copied()
        .zip(document.values.iter().copied())
        .collect();
    query
        .indices
        .iter()
        .zip(&query.values)
        .filter_map(|(id, q)| weights.get(id).map(|d| q * d * idf[id]))
        .sum()
}

#[test]
fn sparse_recall_at_5_on_the_shipped_questions() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("knowledge");
    let analyzer = Analyzer::new(Synonyms::load(&root.join("synonyms.yaml")).unwrap());
    let passages = passages(&root);
    let vocabulary = Vocabulary::build(&analyzer, passages.iter().map(|p| p.text.as_str()));
    let vectors: Vec<SparseVector> = passages
        .iter()
        .map(|p| analyzer.encode_document(&p.text))
        .collect();
    let mut frequency: HashMap<u32, f32> = HashMap::new();
    for vector in &vectors {
        for id in &vector.indices {
            *frequency.entry(*id).or_default() += 1.0;
        }
    }
    let n = vectors.len() as f32;
    let idf: HashMap<u32, f32> = frequency
        .into_iter()
        .map(|(id, df)| (id, (1.0 + (n - df + 0.5) / (df + 0.5)).ln()))
        .collect();

    let questions: Vec<Question> =
        serde_saphyr::from_str(&std::fs::read_to_string(root.join("eval.yaml")).unwrap()).unwrap();
    let (mut hits, mut reciprocal_ranks) = (0usize, 0f32);
    for q in &questions {
        let query = analyzer.encode_query(&q.question, &vocabulary);
        let mut ranked: Vec<(f32, &str)> = vectors
            .iter()
            .zip(&passages)
            .map(|(v, p)| (score(&query, v, &idf), p.source.as_str()))
            .filter(|(s, _)| *s > 0.0)
            .collect();
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
        let rank = ranked.iter().position(|(_, s)| *s == q.expected);
        if let Some(rank) = rank {
            reciprocal_ranks += 1.0 / (rank as f32 + 1.0);
        }
        if rank.is_some_and(|r| r < 5) {
            hits += 1;
            if rank != Some(0) {
                println!("rank {rank:?}: {:?} ← {}", q.question, ranked[0].1);
            }
        } else {
            let top: Vec<&str> = ranked.iter().take(5).map(|(_, s)| *s).collect();
            println!(
                "MISS {:?} (rank {rank:?}): {} ← {top:?}",
                q.question, q.expected
            );
        }
    }
    let recall = hits as f32 / questions.len() as f32;
    let mrr = reciprocal_ranks / questions.len() as f32;
    let lengths: usize = passages
        .iter()
        .map(|p| super::terms::TextTerms::of_tokens(&super::normalize::tokens(&p.text)).length)
        .sum();
    println!(
        "{} passages (mean length {} words), {} questions: recall@5 {recall:.3}, MRR {mrr:.3}",
        passages.len(),
        lengths / passages.len(),
        questions.len()
    );
    assert!(questions.len() >= 60);
    assert!(recall >= 0.95, "recall@5 {recall:.3} < 0.95");
}
