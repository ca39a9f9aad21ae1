//! `showroom kb eval FILE`: how often the right file comes back for questions written
//! the way customers write them. Recall@k is the share of questions whose expected file
//! is among the first k results; MRR is the mean of 1/rank of the first correct result
//! (0 when it is not in the top [`DEPTH`]).

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::base::{KnowledgeBase, KnowledgeError};
use super::search::SearchOptions;

/// How deep results are read for MRR.
pub const DEPTH: usize = 10;

/// One question of the evaluation file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvalQuestion {
    pub question: String,
    /// File path relative to the knowledge folder.
    pub expected: String,
    /// Optional `##` heading the answer is under.
    #[serde(default)]
    pub section: Option<String>,
    /// Text a correct answer contains (`fact:`, or any of `facts:`); read by the answer
    /// evaluation (`assistant::eval`), not by retrieval's.
    #[serde(default)]
    pub fact: Option<String>,
    #[serde(default)]
    pub facts: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("cannot read the evaluation file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "{path}: {message}\n  hint: the file is a YAML list of items with `question:` and `expected:` (a path under knowledge/), and optionally `section:` and `fact:`/`facts:`"
    )]
    Parse { path: String, message: String },
    #[error(
        "{path}: question {number} expects {expected}, which is not in the index; check the path (relative to the knowledge folder) or run `showroom kb ingest`"
    )]
    UnknownSource {
        path: String,
        number: usize,
        expected: String,
    },
    #[error("{path} has no questions")]
    Empty { path: String },
    #[error(transparent)]
    Knowledge(#[from] KnowledgeError),
}

/// Where one question's expected file came back.
#[derive(Debug, Clone, Serialize)]
pub struct QuestionResult {
    pub question: String,
    pub expected: String,
    /// 1-based rank of the first result from the expected file, if within [`DEPTH`].
    pub rank: Option<usize>,
    /// Whether the first result from that file is in the expected section (when given).
    pub section_matched: Option<bool>,
    /// The top three sources returned, for reading misses.
    pub top: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct EvalReport {
    pub questions: usize,
    pub recall_at_1: f64,
    pub recall_at_3: f64,
    pub recall_at_5: f64,
    pub mrr: f64,
    /// Share of questions with a `section` whose first hit from the file was in it.
    pub section_accuracy: Option<f64>,
    /// `sparse` or `hybrid`.
    pub mode: &'static str,
    pub results: Vec<QuestionResult>,
}

impl EvalReport {
    pub fn misses(&self, k: usize) -> impl Iterator<Item = &QuestionResult> {
        self.results
            .iter()
            .filter(move |r| r.rank.is_none_or(|rank| rank > k))
    }
}

/// Reads an evaluation file.
pub fn load_questions(path: &Path) -> Result<Vec<EvalQuestion>, EvalError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| EvalError::Read {
        path: shown.clone(),
        source,
    })?;
    let questions: Vec<EvalQuestion> =
        serde_saphyr::from_str(&text).map_err(|err| EvalError::Parse {
            path: shown.clone(),
            message: err.to_string(),
        })?;
    if questions.is_empty() {
        return Err(EvalError::Empty { path: shown });
    }
    Ok(questions)
}

impl KnowledgeBase {
    /// Runs every question and measures where the expected file ranks.
    pub async fn evaluate(
        &self,
        file: &Path,
        questions: &[EvalQuestion],
        dense: bool,
    ) -> Result<EvalReport, EvalError> {
        let indexed = self.index.files().await.map_err(KnowledgeError::from)?;
        for (i, q) in questions.iter().enumerate() {
            if !indexed.contains_key(&q.expected) {
                return Err(EvalError::UnknownSource {
                    path: file.display().to_string(),
                    number: i + 1,
                    expected: q.expected.clone(),
                });
            }
        }
        let options = SearchOptions { k: DEPTH, dense };
        let mut results = Vec::with_capacity(questions.len());
        for q in questions {
            let hits = self.search(&q.question, options).await?;
            let first = hits.iter().find(|h| h.source == q.expected);
            results.push(QuestionResult {
                question: q.question.clone(),
                expected: q.expected.clone(),
                rank: first.map(|h| h.rank),
                section_matched: q.section.as_ref().map(|wanted| {
                    first.is_some_and(|h| {
                        h.chunk
                            .heading_path
                            .iter()
                            .any(|heading| same_heading(heading, wanted))
                    })
                }),
                top: hits.iter().take(3).map(|h| h.source.clone()).collect(),
            });
        }
        let n = results.len() as f64;
        let recall = |k: usize| {
            results
                .iter()
                .filter(|r| r.rank.is_some_and(|rank| rank <= k))
                .count() as f64
                / n
        };
        let mrr = results
            .iter()
            .map(|r| r.rank.map_or(0.0, |rank| 1.0 / rank as f64))
            .sum::<f64>()
            / n;
        let with_section: Vec<bool> = results.iter().filter_map(|r| r.section_matched).collect();
        Ok(EvalReport {
            questions: results.len(),
            recall_at_1: recall(1),
            recall_at_3: recall(3),
            recall_at_5: recall(5),
            mrr,
            section_accuracy: (!with_section.is_empty()).then(|| {
                with_section.iter().filter(|m| **m).count() as f64 / with_section.len() as f64
            }),
            mode: if dense && self.has_embeddings() {
                "hybrid"
            } else {
                "sparse"
            },
            results,
        })
    }
}

fn same_heading(heading: &str, wanted: &str) -> bool {
    super::analysis::Analyzer::fold(heading) == super::analysis::Analyzer::fold(wanted)
}
