//! How often answers contain the expected fact: each question of `knowledge/eval.yaml`
//! carries a `fact:` (or `facts:`, any of which will do) copied verbatim from the file
//! that answers it, usually a figure ("220 hp", "7 años"). Retrieval can find the right
//! file and the answer still miss the line that matters; this measures the answer.
//!
//! A fact is found when the answer contains it after folding (case, accents) and with
//! numbers compared by value ("17.2 km/L" contains "17,2 km/l", "1984 cc" contains
//! "1.984 cc").

use std::future::Future;
use std::path::Path;

use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::knowledge::analysis::normalize;

#[cfg(test)]
use crate::engine::Language;

/// One question and the facts a correct answer contains (any one of them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FactCase {
    pub question: String,
    pub facts: Vec<String>,
}

/// The evaluation file cannot be used; says where and how to fix it.
#[derive(Debug, thiserror::Error)]
pub enum FactEvalError {
    #[error("cannot read the evaluation file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "{path}:{line}:{column}: {problem}. How to fix: the file is a YAML list of items with `question:`, `expected:` and `fact:` (a short text copied from the expected file), see the comment at its top"
    )]
    Parse {
        path: String,
        line: u64,
        column: u64,
        problem: String,
    },
    #[error(
        "{path}:{line}:{column}: the question \"{question}\" has no `fact:`. How to fix: add `fact: \"…\"` with a short text a correct answer must contain, copied from the expected file (a figure like \"220 hp\" is best), or `facts: [\"…\", \"…\"]` when any of several will do"
    )]
    MissingFact {
        path: String,
        line: u64,
        column: u64,
        question: String,
    },
    #[error(
        "{path}:{line}:{column}: an empty fact. How to fix: write the text the answer must contain between the quotes, or delete the entry"
    )]
    EmptyFact {
        path: String,
        line: u64,
        column: u64,
    },
    #[error("{path} has no questions; add items with `question:` and `fact:`")]
    Empty { path: String },
}

/// An item of the evaluation file as written; retrieval's fields are accepted and not
/// used here.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCase {
    question: String,
    #[allow(dead_code)]
    expected: Option<String>,
    #[allow(dead_code)]
    section: Option<String>,
    fact: Option<Spanned<String>>,
    #[serde(default)]
    facts: Vec<Spanned<String>>,
}

/// Reads the questions and their facts.
pub fn load_cases(path: &Path) -> Result<Vec<FactCase>, FactEvalError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| FactEvalError::Read {
        path: shown.clone(),
        source,
    })?;
    parse_cases(&text, &shown)
}

/// Parses the text of an evaluation file; `path` only names it in errors.
pub fn parse_cases(text: &str, path: &str) -> Result<Vec<FactCase>, FactEvalError> {
    let raw: Vec<Spanned<RawCase>> = serde_saphyr::from_str(text).map_err(|err| {
        let location = err.location();
        let message = err.without_snippet().to_string();
        // The parser appends "at line N, column M", which leads the message already.
        let problem = message
            .rfind(" at line ")
            .map_or(message.as_str(), |at| &message[..at])
            .trim()
            .to_owned();
        FactEvalError::Parse {
            path: path.to_owned(),
            line: location.map_or(1, |l| l.line()),
            column: location.map_or(1, |l| l.column()),
            problem,
        }
    })?;
    if raw.is_empty() {
        return Err(FactEvalError::Empty {
            path: path.to_owned(),
        });
    }
    let mut cases = Vec::with_capacity(raw.len());
    for item in raw {
        let RawCase {
            question,
            fact,
            facts,
            ..
        } = item.value;
        let all: Vec<Spanned<String>> = fact.into_iter().chain(facts).collect();
        if all.is_empty() {
            return Err(FactEvalError::MissingFact {
                path: path.to_owned(),
                line: item.referenced.line(),
                column: item.referenced.column(),
                question,
            });
        }
        if let Some(empty) = all.iter().find(|f| f.value.trim().is_empty()) {
            return Err(FactEvalError::EmptyFact {
                path: path.to_owned(),
                line: empty.referenced.line(),
                column: empty.referenced.column(),
            });
        }
        cases.push(FactCase {
            question,
            facts: all.into_iter().map(|f| f.value).collect(),
        });
    }
    Ok(cases)
}

/// A question whose answer had none of its facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FactMiss {
    pub question: String,
    pub facts: Vec<String>,
    pub answer: String,
}

/// How many answers contained their fact.
#[derive(Debug, Clone, PartialEq)]
pub struct FactReport {
    pub total: usize,
    pub with_fact: usize,
    /// `with_fact / total` (0 when there are no cases).
    pub share: f32,
    pub misses: Vec<FactMiss>,
}

/// Asks every question, one at a time, and checks each answer for its facts.
pub async fn run<F, Fut>(cases: &[FactCase], mut answer: F) -> FactReport
where
    F: FnMut(String) -> Fut,
    Fut: Future<Output = String>,
{
    let mut misses = Vec::new();
    for case in cases {
        let text = answer(case.question.clone()).await;
        if !case.facts.iter().any(|fact| contains_fact(&text, fact)) {
            misses.push(FactMiss {
                question: case.question.clone(),
                facts: case.facts.clone(),
                answer: text,
            });
        }
    }
    let total = cases.len();
    let with_fact = total - misses.len();
    FactReport {
        total,
        with_fact,
        share: if total == 0 {
            0.0
        } else {
            with_fact as f32 / total as f32
        },
        misses,
    }
}

/// Whether `answer` contains `fact`, folded and with numbers compared by value.
pub fn contains_fact(answer: &str, fact: &str) -> bool {
    let wanted = words(fact);
    if wanted.is_empty() {
        return false;
    }
    let have = words(answer);
    have.windows(wanted.len()).any(|window| window == wanted)
}

/// A text as folded words, numbers in one spelling ("1.984" and "1 984" → "1984",
/// "9,1" → "9.1"), glued units apart ("150hp" → "150", "hp"). A group of three digits
/// after a number of one to three digits is its thousands ("1 500").
fn words(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for token in normalize::tokens(text) {
        for word in token.words() {
            let is_group = word.len() == 3 && word.chars().all(|c| c.is_ascii_digit());
            let previous_is_short_number = out.last().is_some_and(|last| {
                (1..=3).contains(&last.len()) && last.chars().all(|c| c.is_ascii_digit())
            });
            if is_group && previous_is_short_number {
                if let Some(last) = out.last_mut() {
                    last.push_str(word);
                }
                continue;
            }
            out.push(word.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facts_match_folded_and_with_numbers_by_value() {
        assert!(contains_fact(
            "Consumo en carretera: 17.2 KM/L.",
            "17,2 km/l"
        ));
        assert!(contains_fact("cilindrada de 1984 cc", "1.984 cc"));
        assert!(contains_fact("un torque de 1 500 rpm", "1.500 rpm"));
        assert!(contains_fact("Garantía de 7 AÑOS", "7 años"));
        assert!(contains_fact("potencia 150hp", "150 hp"));
        assert!(contains_fact(
            "Latin NCAP: 5 estrellas",
            "latin ncap: 5 estrellas"
        ));
        assert!(!contains_fact("Consumo: 17 km/l", "17,2 km/l"));
        assert!(!contains_fact("7 años", ""));
        assert!(!contains_fact("17 años", "7 años"));
    }

    #[test]
    fn cases_read_fact_or_facts_and_ignore_retrieval_fields() {
        let text = "\
- question: \"cuantos hp tiene\"
  expected: specs/a.md
  section: Motor
  fact: \"220 hp\"
- question: \"garantia\"
  expected: faq/g.md
  facts: [\"3 años\", \"100.000 km\"]
";
        let cases = parse_cases(text, "eval.yaml").expect("valid file");
        assert_eq!(cases.len(), 2);
        assert_eq!(cases[0].facts, ["220 hp"]);
        assert_eq!(cases[1].facts, ["3 años", "100.000 km"]);
    }

    #[test]
    fn a_question_without_fact_is_named_with_its_place() {
        let text = "- question: a\n  fact: x\n- question: \"sin dato\"\n  expected: f.md\n";
        let err = parse_cases(text, "knowledge/eval.yaml").expect_err("refused");
        let shown = err.to_string();
        assert!(shown.starts_with("knowledge/eval.yaml:3:"), "{shown}");
        assert!(shown.contains("\"sin dato\" has no `fact:`"), "{shown}");
        let err = parse_cases("- question: a\n  fact: \"  \"\n", "e.yaml").expect_err("refused");
        assert!(err.to_string().starts_with("e.yaml:2:"), "{err}");
    }

    #[test]
    fn bad_yaml_names_line_and_column() {
        let err = parse_cases("- question: a\n  fact: [x\n", "e.yaml").expect_err("refused");
        assert!(matches!(err, FactEvalError::Parse { .. }), "{err}");
        assert!(err.to_string().starts_with("e.yaml:"), "{err}");
        let err = parse_cases("- question: a\n  fakt: x\n", "e.yaml").expect_err("refused");
        assert!(err.to_string().contains("fakt"), "{err}");
    }

    #[tokio::test]
    async fn run_counts_answers_with_a_fact_and_keeps_misses() {
        let cases = vec![
            FactCase {
                question: "hp".into(),
                facts: vec!["220 hp".into()],
            },
            FactCase {
                question: "garantia".into(),
                facts: vec!["3 años".into(), "100.000 km".into()],
            },
            FactCase {
                question: "baul".into(),
                facts: vec!["230 litros".into()],
            },
        ];
        let report = run(&cases, |question| async move {
            match question.as_str() {
                "hp" => "Potencia: 220 hp.".to_owned(),
                "garantia" => "Cubre 100000 km.".to_owned(),
                _ => "No tengo ese dato.".to_owned(),
            }
        })
        .await;
        assert_eq!((report.total, report.with_fact), (3, 2));
        assert!((report.share - 2.0 / 3.0).abs() < 1e-6);
        assert_eq!(report.misses.len(), 1);
        assert_eq!(report.misses[0].question, "baul");
        assert_eq!(report.misses[0].answer, "No tengo ese dato.");
    }

    #[test]
    fn the_shipped_file_has_a_fact_for_every_question() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("knowledge/eval.yaml");
        let cases = load_cases(&path).expect("knowledge/eval.yaml is valid");
        assert_eq!(cases.len(), 90);
    }

    /// Facts are copied from the expected file, so they are right by construction; and
    /// `kb eval` still reads the file with its new field.
    #[test]
    fn every_fact_is_in_its_expected_file() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("knowledge");
        let questions = crate::knowledge::eval::load_questions(&root.join("eval.yaml"))
            .expect("kb eval reads knowledge/eval.yaml");
        for question in questions {
            let text = std::fs::read_to_string(root.join(&question.expected))
                .expect("expected file exists");
            let facts: Vec<&String> = question.fact.iter().chain(&question.facts).collect();
            assert!(!facts.is_empty(), "{}", question.question);
            for fact in facts {
                assert!(
                    contains_fact(&text, fact),
                    "{:?} is not in {} (question {:?})",
                    fact,
                    question.expected,
                    question.question
                );
            }
        }
    }

    /// The extractive answerer over sparse retrieval, as the assistant runs it without
    /// an LLM: `cargo test --lib assistant::eval -- --nocapture` prints the numbers.
    #[tokio::test]
    async fn extractive_answers_carry_the_expected_fact() {
        use crate::assistant::extractive::extract;
        use crate::assistant::grounding::coverage;
        use crate::assistant::grounding::testing::{OPTIONS, shipped_knowledge};

        let shipped = shipped_knowledge().await;
        let kb = &shipped.kb;
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("knowledge/eval.yaml");
        let cases = load_cases(&path).expect("valid file");
        let min_coverage = crate::assistant::RawAssistant::default().min_coverage;
        let answered = std::cell::Cell::new(0usize);
        let covered = std::cell::Cell::new(0usize);
        let report = run(&cases, |question| {
            let (answered, covered) = (&answered, &covered);
            async move {
                let verbose = std::env::var_os("SHOWROOM_EVAL_VERBOSE").is_some();
                if verbose {
                    eprintln!("Q {question}");
                }
                let hits = kb.search(&question, OPTIONS).await.expect("search");
                let coverage = coverage(kb, &question, &hits);
                if coverage.share >= min_coverage {
                    covered.set(covered.get() + 1);
                }
                let answer = extract(kb, &question, &hits, Language::Es, 3)
                    .filter(|_| coverage.share >= min_coverage);
                if verbose {
                    eprintln!(
                        "  coverage {:.2} missing {:?}\n  A {}",
                        coverage.share,
                        coverage.missing,
                        answer.as_ref().map_or("-", |a| a.text.as_str())
                    );
                }
                match answer {
                    Some(answer) => {
                        answered.set(answered.get() + 1);
                        answer.text
                    }
                    None => "No tengo ese dato.".to_owned(),
                }
            }
        })
        .await;
        for miss in &report.misses {
            eprintln!(
                "miss: {:?} wants {:?}\n      got {:?}",
                miss.question, miss.facts, miss.answer
            );
        }
        eprintln!(
            "with fact {}/{} = {:.3}; covered {}/{}; answered {}/{}",
            report.with_fact,
            report.total,
            report.share,
            covered.get(),
            report.total,
            answered.get(),
            report.total
        );
        // Measured 72/90 with the fact and 79/90 answered (see the report of R5); the
        // margins leave room for knowledge edits, not for a broken answerer.
        assert!(report.share >= 0.75, "fact rate {:.3}", report.share);
        assert!(
            answered.get() * 10 >= report.total * 8,
            "answered {}",
            answered.get()
        );
    }
}
