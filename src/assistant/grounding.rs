//! Grounding: whether the retrieved passages can answer a question at all, and whether
//! an LLM's answer says only what they say.
//!
//! - [`coverage`]: the weighted share of the question's content words (see
//!   [`question`]) that the best passage contains. Below `[assistant] min_coverage` the
//!   assistant says it does not have the data and offers an advisor, instead of
//!   answering from passages about something else.
//! - [`unsupported_figures`]: every figure of an answer (number with its unit, prices
//!   included) that the context does not contain; see [`figures`] for what counts.

pub(crate) mod figures;
pub(crate) mod question;

use crate::knowledge::{Hit, KnowledgeBase};

use figures::{Quantity, all_numbers, quantities, same_value};
use question::{QuestionTerms, asked_heading, passage_terms};

/// A passage of general knowledge (a FAQ, a policy) counts this much when the question
/// names a model: it may well answer ("¿la garantía de la Tiguan cubre…?"), but a
/// general passage reached only through synonyms ("cuánto vale la Tiguan" → "el valor
/// del mantenimiento") should not.
const GENERAL_PASSAGE: f32 = 0.7;

/// A FAQ or policy answer whose heading (a question) shares no word with the customer's
/// question counts this much: it is about something else, and what it says in passing
/// ("…las motos la hacen a los 2 años") is weak evidence.
const OFF_TOPIC_ANSWER: f32 = 0.7;

/// Words' worth added to every question's total: a question of few words is little
/// evidence, so one content word of two found (a share of exactly one half) is not
/// enough, while three of four still is.
const SMOOTHING: f32 = 0.25;

/// How well the retrieved passages cover the question's content words.
#[derive(Debug, Clone, PartialEq)]
pub struct Coverage {
    /// 0–1: weighted share of the content words found in the best passage (1 when the
    /// question has none, like "tiguan").
    pub share: f32,
    /// The question words no passage has, as the customer wrote them.
    pub missing: Vec<String>,
}

/// How well `hits` cover `question`.
///
/// Content words are the question's analysed words (folded, stemmed, stopwords out)
/// without model and brand names and question filler ("cuánto", "tiene"); a word is
/// found through its stem, typo corrections and synonyms (these count less, as in
/// retrieval). The share is the best single passage's, with its title and headings:
/// words scattered over unrelated passages do not make an answer. Passages about
/// another model or brand than the one named do not count; general passages for a
/// named model, and FAQ answers to an unrelated question, count less.
pub fn coverage(kb: &KnowledgeBase, question: &str, hits: &[Hit]) -> Coverage {
    let state = kb.query_state();
    let terms = QuestionTerms::new(&state.analyzer, &state.vocabulary, &state.catalog, question);
    if !terms.has_content() {
        return Coverage {
            share: 1.0,
            missing: Vec::new(),
        };
    }
    let passages: Vec<_> = hits
        .iter()
        .map(|hit| passage_terms(&state.analyzer, hit))
        .collect();
    let mut share: f32 = 0.0;
    for (hit, terms_of_hit) in hits.iter().zip(&passages) {
        let Some(mut factor) = topic_factor(&terms, hit) else {
            continue;
        };
        if let Some(heading) = asked_heading(hit)
            && terms.heading_similarity(&state.analyzer, heading) <= 0.0
        {
            factor *= OFF_TOPIC_ANSWER;
        }
        let found = factor * terms.found_in(terms_of_hit);
        share = share.max(found / (terms.total_for(terms_of_hit) + SMOOTHING));
    }
    let missing = terms
        .content()
        .filter(|word| passages.iter().all(|p| word.strength_in(p) <= 0.0))
        .map(|word| word.written.clone())
        .collect();
    Coverage { share, missing }
}

/// How much a passage can speak for a question that names models or brands: fully when
/// it is about them, [`GENERAL_PASSAGE`] when it is about no model in particular, not at
/// all (`None`) when it is about another one.
pub(crate) fn topic_factor(terms: &QuestionTerms, hit: &Hit) -> Option<f32> {
    let meta = &hit.chunk.meta;
    if !terms.models.is_empty() {
        return match &meta.model {
            Some(model) if terms.models.contains(model) => Some(1.0),
            Some(_) => None,
            None => Some(GENERAL_PASSAGE),
        };
    }
    if !terms.brands.is_empty()
        && let Some(brand) = &meta.brand
        && !terms.brands.contains(brand)
    {
        return None;
    }
    Some(1.0)
}

/// A figure (number with its unit, if any) in an answer that the context does not contain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Figure {
    /// As written in the answer.
    pub text: String,
}

/// The figures of `answer` that `context` (the passages the answer was written from)
/// does not contain. A figure with a unit needs the same value with a unit of the same
/// kind ("17,2 km/l" = "17.2 km/L", "150 hp" = "150 cv"); a bare number needs the same
/// value anywhere in the context. See [`figures`] for what is not a figure.
pub fn unsupported_figures(answer: &str, context: &[&str]) -> Vec<Figure> {
    let known: Vec<Quantity> = context.iter().flat_map(|text| quantities(text)).collect();
    let mut numbers: Vec<f64> = context.iter().flat_map(|text| all_numbers(text)).collect();
    numbers.extend(known.iter().map(|q| q.value));
    quantities(answer)
        .into_iter()
        .filter(|figure| {
            let supported = match figure.unit {
                Some(unit) => known
                    .iter()
                    .any(|k| k.unit == Some(unit) && same_value(k.value, figure.value)),
                None => numbers.iter().any(|n| same_value(*n, figure.value)),
            };
            !supported
        })
        .map(|figure| Figure {
            text: answer[figure.span].to_owned(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHEET: &str = "\
- Consumo combinado aproximado: 11 km/l (unos 9,1 l/100 km). En ciudad baja a unos 8–9 km/l; \
en carretera 17,2 km/l.
- Tanque de combustible: 60 litros.
Potencia: 150 hp a 5.000 rpm
Torque: 250 Nm entre 1.500 y 3.500 rpm
Puestos: 7 (2 + 3 + 2)
Garantía de fábrica: 3 años o 100.000 km. Mazda CX-30 2.5.
";

    fn unsupported(answer: &str) -> Vec<String> {
        unsupported_figures(answer, &[SHEET])
            .into_iter()
            .map(|f| f.text)
            .collect()
    }

    /// Questions the shipped knowledge answers, and questions it does not, against the
    /// real `knowledge/` folder with sparse retrieval.
    #[tokio::test]
    async fn the_shipped_knowledge_covers_what_it_knows_and_only_that() {
        let shipped = testing::shipped_knowledge().await;
        let kb = &shipped.kb;
        let min_coverage = crate::assistant::RawAssistant::default().min_coverage;
        let known = [
            "¿la tiguan tiene techo panorámico?",
            "cuanto rinde la tiguan en carretera",
            "cuantos caballos tiene la duster 1.3 turbo",
            "la tracker tiene carplay?",
            "de cuantos galones es el tanque de la t cross",
            "cuanto dura la prueba de manejo",
            "a cuantos meses me financian",
            "tiguan",
            "what's the warranty of the kia sportage",
        ];
        let unknown = [
            "¿venden motos?",
            "what's the towing capacity of the sportage?",
            "¿cuánto cuesta el seguro del onix?",
            "cuanto vale la tiguan",
            "cual es la velocidad maxima de la tracker",
            "la duster tiene sunroof?",
            "el onix viene en version electrica?",
            "aceptan pagos con bitcoin?",
            "what is the top speed of the cx-30",
        ];
        let mut wrong = Vec::new();
        for (question, expect_covered) in known
            .iter()
            .map(|q| (q, true))
            .chain(unknown.iter().map(|q| (q, false)))
        {
            let hits = kb.search(question, testing::OPTIONS).await.expect("search");
            let found = coverage(kb, question, &hits);
            if std::env::var_os("SHOWROOM_EVAL_VERBOSE").is_some() {
                eprintln!("{question}: {:.2} missing {:?}", found.share, found.missing);
            }
            if (found.share >= min_coverage) != expect_covered {
                wrong.push(format!(
                    "{question}: {:.2} missing {:?}",
                    found.share, found.missing
                ));
            }
        }
        assert!(wrong.is_empty(), "{wrong:#?}");
    }

    #[tokio::test]
    async fn missing_words_are_reported_as_written() {
        let shipped = testing::shipped_knowledge().await;
        let kb = &shipped.kb;
        let question = "¿La Tiguan trae Remolque?";
        let hits = kb.search(question, testing::OPTIONS).await.expect("search");
        let found = coverage(kb, question, &hits);
        assert_eq!(found.missing, ["Remolque"]);
        assert!(found.share < 0.5);
        // A bare model name has nothing to look for: fully covered.
        let hits = kb.search("tiguan", testing::OPTIONS).await.expect("search");
        assert_eq!(coverage(kb, "tiguan", &hits).share, 1.0);
        assert_eq!(coverage(kb, "tiguan", &[]).share, 1.0);
    }

    #[test]
    fn an_invented_figure_is_caught() {
        assert_eq!(unsupported("Tiene un consumo de 25 km/l."), ["25 km/l"]);
        assert_eq!(unsupported("Rinde 17,2 km/l y tiene 180 hp."), ["180 hp"]);
        assert_eq!(unsupported("El tanque es de 65 litros"), ["65 litros"]);
        assert_eq!(unsupported("La garantía es de 5 años."), ["5 años"]);
    }

    #[test]
    fn a_correct_paraphrase_passes() {
        assert!(unsupported("En carretera rinde 17.2 km/L, con 150 caballos (150hp).").is_empty());
        assert!(unsupported("Gasta unos 9.1 l/100 km; tanque de 60 L.").is_empty());
        assert!(unsupported("Torque de 250 Nm desde 1500 rpm hasta 3 500 rpm.").is_empty());
        assert!(unsupported("Garantía: 3 years or 100,000 km.").is_empty());
        assert!(unsupported("Lleva 7 puestos.").is_empty());
        assert!(
            unsupported("En ciudad, 8 km/l.").is_empty(),
            "first end of a range"
        );
        assert!(unsupported("La CX 30 con motor 2.5 [1].").is_empty());
    }

    #[test]
    fn a_figure_needs_its_unit_kind() {
        // 150 is in the context, but as horsepower, not kilograms.
        assert_eq!(unsupported("Pesa 150 kg."), ["150 kg"]);
        // A bare number only needs the value.
        assert!(unsupported("Tiene 150 de potencia.").is_empty());
        assert_eq!(unsupported("Tiene 151 de potencia."), ["151"]);
    }

    #[test]
    fn prices_are_figures_and_never_in_spec_sheets() {
        assert_eq!(
            unsupported("Cuesta $ 120.000.000, unos 120 millones de pesos."),
            ["$ 120.000.000", "120 millones de pesos"]
        );
        assert_eq!(unsupported("Vale COP 95.900.000"), ["COP 95.900.000"]);
        let quote = "Precio de lista: $ 120.000.000 COP.";
        assert!(unsupported_figures("Su precio es de 120 millones.", &[quote]).is_empty());
    }

    #[test]
    fn markers_ordinals_and_cited_titles_are_not_checked() {
        assert!(
            unsupported("1. Potencia de 150 hp [2]\n2. Es la 2ª generación, según «Ficha 2031».")
                .is_empty()
        );
        assert!(unsupported("Trae tracción 4x4 y 4MOTION.").is_empty());
        assert!(unsupported("Tiene dos filas y tres zonas.").is_empty());
    }
}

/// The shipped `knowledge/` folder, ingested into a temporary data folder (sparse
/// retrieval only), for tests that check answers against the real spec sheets.
#[cfg(test)]
pub(crate) mod testing {
    use crate::knowledge::ingest::Quiet;
    use crate::knowledge::{KnowledgeBase, SearchOptions};

    pub(crate) struct Shipped {
        pub kb: KnowledgeBase,
        _data: tempfile::TempDir,
    }

    pub(crate) async fn shipped_knowledge() -> Shipped {
        let data = tempfile::tempdir().expect("temp data folder");
        let config =
            crate::config::Config::defaults_with_data_dir(data.path()).expect("default settings");
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("knowledge");
        let kb = KnowledgeBase::open(
            &root,
            data.path(),
            &config.knowledge,
            &config.catalog.models,
        )
        .await
        .expect("open the knowledge base");
        kb.ingest(&Quiet).await.expect("ingest knowledge/");
        Shipped { kb, _data: data }
    }

    /// What the assistant retrieves for a question.
    pub(crate) const OPTIONS: SearchOptions = SearchOptions { k: 5, dense: false };
}
