//! Answers without an LLM: the spec lines and sentences of the retrieved passages that
//! answer the question, quoted with their source ("Según la ficha técnica del Volkswagen
//! Tiguan 2025 (Consumo y tanque): …"). Nothing is written that the knowledge does not
//! say, so these answers need no grounding check; figures are quoted verbatim.
//!
//! First the passage: the one whose text and headings, and whose best single unit,
//! hold most of the question's content words (the same words and weights as the
//! coverage check in [`super::grounding`]), with a bonus when its heading is a question
//! that reads like the customer's (FAQ and policy answers) and for a better retrieval
//! rank. A second passage joins only when it holds content words the first lacks and
//! scores nearly as well.
//!
//! Then its units ([`units`]: spec lines, table rows, sentences): those with the most
//! content words, plus a bonus for naming the model asked about and, when the question
//! asks "cuánto", for a figure. Under a heading that reads like the question the first
//! units are the answer, whatever their words. Units are quoted in document order.

mod units;

use std::collections::HashSet;

use super::grounding::figures::quantities;
use super::grounding::question::{
    QuestionTerms, asked_heading, is_table_header, passage_terms, text_terms,
};
use super::grounding::topic_factor;
use crate::engine::Language;
use crate::knowledge::analysis::Analyzer;
use crate::knowledge::{Hit, KnowledgeBase};

/// How much a question heading that reads like the customer's question adds to its
/// passage's score.
const HEADING_WEIGHT: f32 = 1.5;
/// Score lost per rank below the first passage: retrieval knows things word matching
/// does not, like which model the question names.
const RANK_PENALTY: f32 = 0.05;
/// Share of the best passage's score a second passage needs.
const SECOND_PASSAGE: f32 = 0.85;
/// Heading similarity from which a section's first units answer by position.
const HEADING_ANSWERS: f32 = 0.3;
/// Units of a section's opening quoted when its question heading reads like the
/// customer's.
const OPENING: usize = 2;
/// Share of the best unit's score another unit of the passage needs to join.
const KEEP_RELATIVE: f32 = 0.75;
/// The same under a heading that reads like the question, where the answer is the
/// section's opening and the sentences after the first belong to it.
const KEEP_BY_POSITION: f32 = 0.6;
/// The same for a unit with content words the units already chosen lack.
const KEEP_IF_NEW: f32 = 0.4;
/// Bonus for a unit with a figure when the question asks for an amount.
const FIGURE_BONUS: f32 = 0.15;
/// Bonus for a unit that names the model or brand asked about.
const NAME_BONUS: f32 = 0.2;
/// Credit for content words a list item's lead line has ("Independientes:").
const LEAD_CREDIT: f32 = 0.5;

/// An extractive answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extract {
    pub text: String,
    /// Indexes into the hits the answer quotes, best first, one per (source, section).
    pub cited: Vec<usize>,
}

/// The answer to `question` from `hits`, or `None` when no passage has a content word
/// of the question (then the assistant says it does not have the data). A question
/// that only names a model ("¿y la Tiguan?") gets the start of the best passage about
/// it. `max_sentences` caps the units quoted (at least one).
pub fn extract(
    kb: &KnowledgeBase,
    question: &str,
    hits: &[Hit],
    language: Language,
    max_sentences: usize,
) -> Option<Extract> {
    let state = kb.query_state();
    let terms = QuestionTerms::new(&state.analyzer, &state.vocabulary, &state.catalog, question);
    if !terms.has_content() && terms.names.is_empty() {
        // "hola", "gracias": nothing to look up.
        return None;
    }
    let passages = score_passages(&state.analyzer, &terms, hits);
    let chosen = choose_passages(&terms, passages);
    let max_sentences = max_sentences.max(1);
    let mut quoted: Vec<(usize, Vec<units::Unit>)> = Vec::new();
    let mut left = max_sentences;
    for passage in &chosen {
        if left == 0 {
            break;
        }
        // The first passage may use every sentence; a second one adds one or two.
        let room = if quoted.is_empty() { left } else { left.min(2) };
        let picked = choose_units(&terms, passage, room);
        if !picked.is_empty() {
            left = left.saturating_sub(picked.len());
            quoted.push((passage.hit, picked));
        }
    }
    if quoted.is_empty() {
        return None;
    }
    Some(compose(hits, quoted, language))
}

/// A retrieved passage, scored as a whole.
struct Passage<'a> {
    hit: usize,
    source: &'a Hit,
    /// Its units and their index terms.
    units: Vec<(units::Unit, HashSet<u32>)>,
    /// Index terms of its text, title and headings.
    terms: HashSet<u32>,
    /// How much its section heading, when it is a question, reads like the customer's
    /// (0–1).
    heading: f32,
    score: f32,
}

fn score_passages<'a>(
    analyzer: &Analyzer,
    terms: &QuestionTerms,
    hits: &'a [Hit],
) -> Vec<Passage<'a>> {
    let mut passages = Vec::new();
    for (index, hit) in hits.iter().enumerate() {
        let Some(topic) = topic_factor(terms, hit) else {
            continue;
        };
        let all = passage_terms(analyzer, hit);
        if terms.has_content() && terms.found_in(&all) <= 0.0 {
            continue;
        }
        let units: Vec<(units::Unit, HashSet<u32>)> = units::units(&hit.text, is_table(hit))
            .into_iter()
            .filter(|unit| !is_table_header(&unit.text))
            .map(|unit| {
                let unit_terms = text_terms(analyzer, &unit.text);
                (unit, unit_terms)
            })
            .collect();
        let share = terms.share_in(&all);
        let best_unit = units
            .iter()
            .map(|(unit, t)| {
                let own = terms.share_in(t);
                let figure = own > 0.0 && terms.asks_quantity && !quantities(&unit.text).is_empty();
                own + if figure { FIGURE_BONUS } else { 0.0 }
            })
            .fold(0.0, f32::max);
        let heading = asked_heading(hit).map_or(0.0, |h| terms.heading_similarity(analyzer, h));
        let rank = 1.0 - RANK_PENALTY * index.min(4) as f32;
        let score = (0.5 * share + 0.5 * best_unit + HEADING_WEIGHT * heading) * topic * rank;
        passages.push(Passage {
            hit: index,
            source: hit,
            units,
            terms: all,
            heading,
            score,
        });
    }
    passages
}

/// CSV rows read "columna: valor. columna: valor.": each field is a unit.
fn is_table(hit: &Hit) -> bool {
    hit.source.to_ascii_lowercase().ends_with(".csv")
}

/// The best passage, and a second one when it holds content words the first lacks and
/// scores nearly as well. Passages of one (source, section) count once.
fn choose_passages<'a>(terms: &QuestionTerms, mut passages: Vec<Passage<'a>>) -> Vec<Passage<'a>> {
    passages.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.hit.cmp(&b.hit)));
    let mut passages = passages.into_iter();
    let Some(best) = passages.next() else {
        return Vec::new();
    };
    let found = terms.found_in(&best.terms);
    let second = passages.find(|p| {
        let same = p.source.source == best.source.source && p.source.section == best.source.section;
        let union: HashSet<u32> = best.terms.union(&p.terms).copied().collect();
        !same && p.score >= SECOND_PASSAGE * best.score && terms.found_in(&union) > found
    });
    std::iter::once(best).chain(second).collect()
}

/// The units of a passage that answer, in document order, at most `room`: the best
/// one, those nearly as good, and those that add content words the ones already
/// chosen lack; under a question heading like the customer's, the section's opening
/// first. A chosen lead line brings its list.
fn choose_units(terms: &QuestionTerms, passage: &Passage<'_>, room: usize) -> Vec<units::Unit> {
    let by_position = !terms.has_content() || passage.heading >= HEADING_ANSWERS;
    // (score with bonuses, score from content words alone, unit, its terms)
    let mut scored: Vec<(f32, f32, &units::Unit, &HashSet<u32>)> = Vec::new();
    for (unit, unit_terms) in &passage.units {
        let own = terms.share_in(unit_terms);
        let mut base = if terms.has_content() { own } else { 0.0 };
        let lead = unit
            .under
            .and_then(|at| passage.units.iter().find(|(u, _)| u.order == at));
        if let Some(lead) = lead {
            let with_lead: HashSet<u32> = unit_terms.union(&lead.1).copied().collect();
            base += LEAD_CREDIT * (terms.share_in(&with_lead) - own);
        }
        if base <= 0.0 && !by_position {
            continue;
        }
        let mut score = base;
        if terms.asks_quantity && !quantities(&unit.text).is_empty() {
            score += FIGURE_BONUS;
        }
        if terms.names_in(unit_terms) {
            score += NAME_BONUS;
        }
        scored.push((score, base, unit, unit_terms));
    }
    let mut picked: Vec<&units::Unit> = Vec::new();
    let mut covered: HashSet<u32> = HashSet::new();
    if by_position {
        // The opening of an answer to the customer's question answers it.
        for &(_, _, unit, unit_terms) in scored.iter().take(room.min(OPENING)) {
            picked.push(unit);
            covered.extend(unit_terms.iter().copied());
        }
    }
    // Best first by score; bonuses order units but do not lower the bar for others.
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.2.order.cmp(&b.2.order)));
    let best = scored.iter().map(|s| s.1).fold(0.0, f32::max);
    let keep = if by_position {
        KEEP_BY_POSITION
    } else {
        KEEP_RELATIVE
    };
    for &(score, base, unit, unit_terms) in &scored {
        if picked.len() >= room || score <= 0.0 {
            break;
        }
        if picked.iter().any(|u| u.order == unit.order) {
            continue;
        }
        let with_unit: HashSet<u32> = covered.union(unit_terms).copied().collect();
        // A unit that answers a part of the question the chosen ones do not is worth
        // quoting even when it scores lower.
        let adds = terms.found_in(&with_unit) > terms.found_in(&covered);
        if picked.is_empty() || base >= keep * best || (adds && base >= KEEP_IF_NEW * best) {
            picked.push(unit);
            covered = with_unit;
        }
    }
    let mut picked: Vec<units::Unit> = picked.into_iter().cloned().collect();
    // A lead line alone ("Independientes:") says nothing: bring its list.
    let leads: Vec<usize> = picked.iter().filter(|u| u.lead).map(|u| u.order).collect();
    for lead in leads {
        for (item, _) in passage.units.iter().filter(|(u, _)| u.under == Some(lead)) {
            if picked.len() >= room.max(2) {
                break;
            }
            if !picked.iter().any(|u| u.order == item.order) {
                picked.push(item.clone());
            }
        }
    }
    picked.sort_by_key(|u| u.order);
    picked
}

/// Frames each passage's units with its source, best passage first.
fn compose(hits: &[Hit], quoted: Vec<(usize, Vec<units::Unit>)>, language: Language) -> Extract {
    let mut parts = Vec::with_capacity(quoted.len());
    let mut cited = Vec::with_capacity(quoted.len());
    let mut previous_source: Option<&str> = None;
    for (hit_index, units) in quoted {
        let hit = &hits[hit_index];
        let body: Vec<String> = units.iter().map(|u| sentence(&u.text)).collect();
        let same_source = previous_source == Some(hit.source.as_str());
        parts.push(format!(
            "{}: {}",
            framing(hit, language, same_source),
            body.join(" ")
        ));
        cited.push(hit_index);
        previous_source = Some(hit.source.as_str());
    }
    Extract {
        text: parts.join("\n"),
        cited,
    }
}

/// "Según la ficha técnica del Volkswagen Tiguan 2025 (Consumo y tanque)".
fn framing(hit: &Hit, language: Language, same_source: bool) -> String {
    let spec_name = spec_sheet_name(&hit.title);
    let document = match (language, &spec_name, same_source) {
        (Language::Es, Some(_), true) => "la misma ficha".to_owned(),
        (Language::Es, None, true) => "el mismo documento".to_owned(),
        (Language::Es, Some(name), false) => format!("la ficha técnica del {name}"),
        (Language::Es, None, false) => format!("«{}»", hit.title),
        (Language::En, Some(_), true) => "the same spec sheet".to_owned(),
        (Language::En, None, true) => "the same document".to_owned(),
        (Language::En, Some(name), false) => format!("the {name} spec sheet"),
        (Language::En, None, false) => format!("\u{201c}{}\u{201d}", hit.title),
    };
    let lead = match language {
        Language::Es => "Según",
        Language::En => "According to",
    };
    match hit
        .section
        .as_deref()
        .filter(|s| Analyzer::fold(s) != Analyzer::fold(&hit.title))
    {
        Some(section) => format!("{lead} {document} ({section})"),
        None => format!("{lead} {document}"),
    }
}

/// "Volkswagen Tiguan 2025 — ficha técnica" → "Volkswagen Tiguan 2025"; `None` for a
/// title that does not call itself a spec sheet.
fn spec_sheet_name(title: &str) -> Option<String> {
    let parts: Vec<&str> = title
        .split([':', '—', '–', '|'])
        .flat_map(|p| p.split(" - "))
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    let is_label = |p: &str| {
        let folded = Analyzer::fold(p);
        folded == "ficha tecnica" || folded == "ficha" || folded == "spec sheet"
    };
    if !parts.iter().any(|p| is_label(p)) {
        return None;
    }
    let name: Vec<&str> = parts.into_iter().filter(|p| !is_label(p)).collect();
    (!name.is_empty()).then(|| name.join(" "))
}

/// A unit as a sentence: ends with a mark.
fn sentence(text: &str) -> String {
    let text = text.trim();
    if text.ends_with(['.', '?', '!', '…', ':']) {
        text.to_owned()
    } else {
        format!("{text}.")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assistant::grounding::testing::{OPTIONS, shipped_knowledge};
    use crate::assistant::grounding::unsupported_figures;

    async fn answer(kb: &KnowledgeBase, question: &str, language: Language) -> Option<Extract> {
        let hits = kb.search(question, OPTIONS).await.expect("search");
        extract(kb, question, &hits, language, 3)
    }

    #[test]
    fn spec_sheet_titles_become_names() {
        assert_eq!(
            spec_sheet_name("Volkswagen Tiguan 2025 — ficha técnica").as_deref(),
            Some("Volkswagen Tiguan 2025")
        );
        assert_eq!(
            spec_sheet_name("Financiación y crédito para comprar carro"),
            None
        );
        assert_eq!(spec_sheet_name("Renault Duster 2025 — versiones"), None);
    }

    #[test]
    fn units_end_as_sentences() {
        assert_eq!(sentence("Potencia: 220 hp"), "Potencia: 220 hp.");
        assert_eq!(sentence("¿Dudas?"), "¿Dudas?");
        assert_eq!(sentence("Rines de 18\""), "Rines de 18\".");
    }

    #[tokio::test]
    async fn a_spec_question_gets_the_line_that_answers_it_with_its_source() {
        let shipped = shipped_knowledge().await;
        let kb = &shipped.kb;
        let question = "cuanto rinde la tiguan en carretera";
        let hits = kb.search(question, OPTIONS).await.expect("search");
        let found = extract(kb, question, &hits, Language::Es, 3).expect("an answer");
        assert!(
            found.text.starts_with(
                "Según la ficha técnica del Volkswagen Tiguan 2025 (Consumo y tanque): "
            ),
            "{}",
            found.text
        );
        assert!(
            found
                .text
                .contains("en carretera a velocidad constante puede pasar de 13 km/l.")
        );
        assert!(
            !found.text.contains("- "),
            "no Markdown bullets: {}",
            found.text
        );
        assert_eq!(found.cited.len(), 1);
        assert_eq!(
            hits[found.cited[0]].section.as_deref(),
            Some("Consumo y tanque")
        );
    }

    #[tokio::test]
    async fn english_questions_get_english_framing_and_the_sheet_verbatim() {
        let shipped = shipped_knowledge().await;
        let found = answer(
            &shipped.kb,
            "how many airbags does the tracker have",
            Language::En,
        )
        .await
        .expect("an answer");
        assert!(
            found.text.starts_with(
                "According to the Chevrolet Tracker 2025 spec sheet (Seguridad): 6 airbags: frontales"
            ),
            "{}",
            found.text
        );
    }

    #[tokio::test]
    async fn faq_answers_quote_the_section_that_answers_and_its_lists() {
        let shipped = shipped_knowledge().await;
        let kb = &shipped.kb;
        let found = answer(
            kb,
            "q necesito pa hacer el test drive, llevo el pase?",
            Language::Es,
        )
        .await
        .expect("an answer");
        assert!(
            found.text.starts_with("Según «Prueba de manejo» (¿Qué documentos necesito?): Licencia de conducción vigente"),
            "{}",
            found.text
        );
        assert!(!found.text.contains("**"), "{}", found.text);
        // A lead line ("Independientes:") comes with the list under it.
        let found = answer(
            kb,
            "q papeles piden pa el credito si soy independiente",
            Language::Es,
        )
        .await
        .expect("an answer");
        assert!(
            found
                .text
                .contains("Independientes: Cédula. Declaración de renta"),
            "{}",
            found.text
        );
    }

    #[tokio::test]
    async fn a_second_passage_joins_only_with_what_the_first_lacks() {
        let shipped = shipped_knowledge().await;
        let kb = &shipped.kb;
        let question = "onix cuantos airbags trae la version lt";
        let hits = kb.search(question, OPTIONS).await.expect("search");
        let found = extract(kb, question, &hits, Language::Es, 3).expect("an answer");
        let sections: Vec<_> = found
            .cited
            .iter()
            .map(|&i| hits[i].section.clone())
            .collect();
        assert_eq!(
            sections,
            [Some("Seguridad".to_owned()), Some("Versiones".to_owned())]
        );
        assert!(
            found
                .text
                .contains("\nSegún la misma ficha (Versiones): LT — "),
            "{}",
            found.text
        );
    }

    #[tokio::test]
    async fn nothing_to_quote_gives_none() {
        let shipped = shipped_knowledge().await;
        let kb = &shipped.kb;
        assert_eq!(answer(kb, "hola, buenas tardes", Language::Es).await, None);
        let hits = kb.search("tiguan", OPTIONS).await.expect("search");
        assert_eq!(
            extract(kb, "xyzzy frobnicate", &hits, Language::Es, 3),
            None
        );
        assert_eq!(
            extract(kb, "cuanto gasta la tiguan", &[], Language::Es, 3),
            None
        );
    }

    /// Extractive answers quote the sheets, so the grounding check an LLM answer goes
    /// through finds every one of their figures in the passages (titles included).
    #[tokio::test]
    async fn extractive_answers_pass_the_grounding_check() {
        let shipped = shipped_knowledge().await;
        let kb = &shipped.kb;
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("knowledge/eval.yaml");
        let cases = crate::assistant::eval::load_cases(&path).expect("eval file");
        for case in &cases {
            let hits = kb.search(&case.question, OPTIONS).await.expect("search");
            let Some(found) = extract(kb, &case.question, &hits, Language::Es, 3) else {
                continue;
            };
            let context: Vec<String> = hits
                .iter()
                .map(|h| {
                    format!(
                        "{}\n{}\n{}",
                        h.title,
                        h.section.as_deref().unwrap_or(""),
                        h.text
                    )
                })
                .collect();
            let context: Vec<&str> = context.iter().map(String::as_str).collect();
            let unsupported = unsupported_figures(&found.text, &context);
            assert!(
                unsupported.is_empty(),
                "{}: {unsupported:?} in {}",
                case.question,
                found.text
            );
        }
    }
}
