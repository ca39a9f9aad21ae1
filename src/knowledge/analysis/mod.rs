//! Text analysis for sparse (BM25) retrieval: how passages become index terms and how a
//! customer's question, typos and regional words included, finds them.
//!
//! # Layout
//! - [`normalize`]: folding (case, accents) and tokenizing, numbers and model names.
//! - `stem`: Spanish and English stemming, stopwords.
//! - `terms`: tokens to index terms (shared by documents, questions and synonyms).
//! - [`synonyms`]: regional vocabulary groups from `knowledge/synonyms.yaml`.
//! - [`vocabulary`]: the knowledge's words, typo correction towards them (`typo`).
//! - [`bm25`]: the document side of BM25; IDF is applied by the index.
//! - `query`: a question as a weighted vector (corrections and synonyms weigh less).
//! - [`term_id()`]: the stable id of an index term in the sparse vector.
//!
//! Documents are indexed as written (folded and stemmed); all expansion happens on the
//! question, so changing `synonyms.yaml` needs no re-indexing.

pub mod bm25;
pub mod normalize;
mod query;
mod stem;
pub mod synonyms;
mod term_id;
mod terms;
mod typo;
pub mod vocabulary;

use std::sync::Arc;

use crate::knowledge::SparseVector;

pub use synonyms::{Synonyms, SynonymsError};
pub use term_id::term_id;
pub use vocabulary::{ANALYSIS_VERSION, Vocabulary};

/// Turns passages and questions into sparse vectors. Cheap to clone (the synonyms are
/// shared); the default has no synonyms.
#[derive(Debug, Clone, Default)]
pub struct Analyzer {
    synonyms: Arc<Synonyms>,
}

impl Analyzer {
    pub fn new(synonyms: Synonyms) -> Self {
        Self {
            synonyms: Arc::new(synonyms),
        }
    }

    pub fn synonyms(&self) -> &Synonyms {
        &self.synonyms
    }

    /// Lowercase, accents removed, whitespace collapsed; punctuation kept. For comparing
    /// names ("Tigüán" → "tiguan") rather than for indexing.
    pub fn fold(text: &str) -> String {
        normalize::fold(text)
    }

    /// The index terms of a text, in order with repeats: folded, stopwords removed,
    /// stemmed (Spanish stem, plus the English one when it differs); a hyphenated or
    /// glued name gives its joined form and its parts.
    pub fn document_terms(&self, text: &str) -> Vec<String> {
        terms::TextTerms::of_tokens(&normalize::tokens(text))
            .terms
            .into_iter()
            .map(|term| term.text)
            .collect()
    }

    /// A passage's sparse vector: BM25 term-frequency weights (see [`bm25`]), without
    /// IDF, which the index applies.
    pub fn encode_document(&self, text: &str) -> SparseVector {
        bm25::encode(&terms::TextTerms::of_tokens(&normalize::tokens(text)))
    }

    /// A question's sparse vector: its own terms weigh 1; typo corrections towards
    /// `vocabulary`, glued name forms and synonyms are added with lower weights.
    /// An empty vocabulary turns typo correction off.
    pub fn encode_query(&self, query: &str, vocabulary: &Vocabulary) -> SparseVector {
        query::encode(&self.synonyms, query, vocabulary)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SYNONYMS: &str = "\
- [baúl, cajuela, maletero, portaequipaje]
- [caballos, hp, potencia, caballos de fuerza, horsepower]
- [aire acondicionado, a/c, clima]
";

    fn analyzer() -> Analyzer {
        Analyzer::new(Synonyms::parse(SYNONYMS, "synonyms.yaml").unwrap())
    }

    fn weight(vector: &SparseVector, term: &str) -> f32 {
        let id = term_id(term);
        vector
            .indices
            .iter()
            .position(|&i| i == id)
            .map_or(0.0, |at| vector.values[at])
    }

    #[test]
    fn fold_is_lowercase_accentless_and_single_spaced() {
        assert_eq!(
            Analyzer::fold("  La TIGÜÁN   Allspace "),
            "la tiguan allspace"
        );
        assert_eq!(Analyzer::fold("AÑO Ñandú"), "ano nandu");
    }

    #[test]
    fn document_terms_drop_stopwords_and_stem_both_languages() {
        let terms = Analyzer::default().document_terms("Los caballos de la Tiguan y the seats");
        assert_eq!(
            terms,
            ["caball", "caballo", "tigu", "tiguan", "seats", "seat"]
        );
    }

    #[test]
    fn repeated_terms_weigh_more_with_saturation() {
        let analyzer = Analyzer::default();
        let filler = "motor turbo gasolina inyección directa cilindros válvulas";
        let once = analyzer.encode_document(&format!("baúl {filler}"));
        let twice = analyzer.encode_document(&format!("baúl baúl {filler}"));
        let thrice = analyzer.encode_document(&format!("baúl baúl baúl {filler}"));
        let (w1, w2, w3) = (
            weight(&once, "baul"),
            weight(&twice, "baul"),
            weight(&thrice, "baul"),
        );
        assert!(w1 > 0.0 && w2 > w1 && w3 > w2, "{w1} {w2} {w3}");
        assert!(w3 - w2 < w2 - w1, "each repeat adds less");
        assert!(w3 < bm25::K1 + 1.0);
    }

    #[test]
    fn query_words_weigh_one_and_secondary_stems_less() {
        let vector = Analyzer::default().encode_query("caballos", &Vocabulary::default());
        assert_eq!(weight(&vector, "caball"), 1.0);
        assert_eq!(weight(&vector, "caballo"), 0.5);
    }

    #[test]
    fn synonyms_expand_words_and_phrases_with_lower_weight() {
        let analyzer = analyzer();
        let vector = analyzer.encode_query("cuanto baúl tiene", &Vocabulary::default());
        assert_eq!(weight(&vector, "baul"), 1.0);
        assert!((weight(&vector, "maleter") - 0.7).abs() < 1e-6);
        assert!(weight(&vector, "cajuel") > 0.0);
        // A phrase member shares the weight among its words.
        let vector = analyzer.encode_query("cuantos hp", &Vocabulary::default());
        assert!((weight(&vector, "fuerz") - 0.35).abs() < 1e-6);
        assert!((weight(&vector, "potenci") - 0.7).abs() < 1e-6);
        // And a phrase in the question triggers its group.
        let vector = analyzer.encode_query("tiene aire acondicionado?", &Vocabulary::default());
        assert!(weight(&vector, "clim") > 0.0);
    }

    #[test]
    fn typos_are_corrected_towards_the_vocabulary() {
        let analyzer = analyzer();
        let vocabulary = Vocabulary::build(
            &analyzer,
            [
                "La Tiguan 2025 tiene 220 caballos",
                "La Tracker tiene potencia",
            ],
        );
        let vector = analyzer.encode_query("cuantos cavallos tiene la tigan", &vocabulary);
        assert!((weight(&vector, "caball") - 0.8).abs() < 1e-6);
        assert!((weight(&vector, "tigu") - 0.8).abs() < 1e-6);
        // The correction also triggers the synonyms of the corrected word.
        assert!(weight(&vector, "potenci") > 0.0);
        // A known word is not "corrected" into a neighbour: same vector as without
        // a vocabulary.
        assert_eq!(
            analyzer.encode_query("la tracker", &vocabulary),
            analyzer.encode_query("la tracker", &Vocabulary::default())
        );
        // Nor is a figure, even one edit from a known one.
        assert_eq!(
            analyzer.encode_query("modelo 2026", &vocabulary),
            analyzer.encode_query("modelo 2026", &Vocabulary::default())
        );
    }

    #[test]
    fn hyphenated_names_match_glued_split_and_hyphenated() {
        let analyzer = Analyzer::default();
        let vocabulary = Vocabulary::build(&analyzer, ["Volkswagen T-Cross y Mazda CX-30"]);
        let doc = analyzer.encode_document("Volkswagen T-Cross y Mazda CX-30");
        for question in [
            "la tcross",
            "la t-cross",
            "la t cross",
            "la cx30",
            "la cx 30",
        ] {
            let vector = analyzer.encode_query(question, &vocabulary);
            let joined = if question.contains('x') && question.contains('3') {
                "cx30"
            } else {
                "tcross"
            };
            assert!(weight(&vector, joined) >= 0.9, "{question}: {vector:?}");
            assert!(weight(&doc, joined) > 0.0);
        }
    }

    #[test]
    fn empty_or_punctuation_queries_give_empty_vectors() {
        let analyzer = analyzer();
        let vocabulary = Vocabulary::build(&analyzer, ["la tiguan"]);
        assert!(analyzer.encode_query("", &vocabulary).is_empty());
        assert!(analyzer.encode_query("¿? ... !!", &vocabulary).is_empty());
        assert!(analyzer.encode_query("de la que", &vocabulary).is_empty());
        assert!(analyzer.encode_document("").is_empty());
    }
}
