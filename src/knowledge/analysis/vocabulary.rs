//! The words and terms of the indexed knowledge: what typo correction corrects towards.
//!
//! A question word the knowledge never uses ("cavallos") is replaced by the nearest
//! words it does use ("caballos"); a word it uses is never touched. Building needs every
//! chunk's text, so a large index saves its vocabulary next to it (`save` / `load`) and
//! rebuilds it only when the index changes (the caller's fingerprint) or the analysis
//! does ([`ANALYSIS_VERSION`]).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::Analyzer;
use super::normalize::tokens;
use super::stem::{Stems, stems};
use super::typo::{TypoIndex, is_correction_target};

/// Changes whenever folding, tokenizing or stemming changes: terms saved by an older
/// version would no longer match what questions produce. Indexes built with another
/// version should be re-ingested too.
pub const ANALYSIS_VERSION: u32 = 1;

/// Most corrections kept for one misspelt word (the most frequent among the nearest).
pub(crate) const MAX_CORRECTIONS: usize = 2;

/// Index terms and surface words seen in the knowledge, with document frequencies.
#[derive(Clone, Default)]
pub struct Vocabulary {
    documents: u32,
    /// Index term → number of texts containing it.
    terms: HashMap<String, u32>,
    /// Folded word as written (letters only, no stopwords) → number of texts.
    words: HashMap<String, u32>,
    /// Deletion indexes for typo lookup; rebuilt from the maps, never saved.
    word_index: TypoIndex,
    stem_index: TypoIndex,
}

/// A correction for a word the vocabulary does not know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Correction {
    /// The corrected word as written, when the match was on the whole word.
    pub word: Option<String>,
    /// Terms to search for instead.
    pub stems: Stems,
    pub distance: usize,
}

/// The file format of [`Vocabulary::save`].
#[derive(Serialize, Deserialize)]
struct Stored {
    analysis_version: u32,
    fingerprint: String,
    documents: u32,
    terms: BTreeMap<String, u32>,
    words: BTreeMap<String, u32>,
}

impl Vocabulary {
    /// The vocabulary of these texts (normally every chunk's indexed text).
    pub fn build<'a>(analyzer: &Analyzer, texts: impl IntoIterator<Item = &'a str>) -> Self {
        let mut documents = 0u32;
        let mut terms: HashMap<String, u32> = HashMap::new();
        let mut words: HashMap<String, u32> = HashMap::new();
        let mut seen_terms = HashSet::new();
        let mut seen_words = HashSet::new();
        for text in texts {
            documents = documents.saturating_add(1);
            seen_terms.clear();
            seen_words.clear();
            seen_terms.extend(analyzer.document_terms(text));
            for token in tokens(text) {
                // A compound's joined form too: "tcros" should find "tcross".
                seen_words.extend(token.parts);
                seen_words.insert(token.text);
            }
            for term in seen_terms.drain() {
                *terms.entry(term).or_default() += 1;
            }
            for word in seen_words.drain().filter(|w| is_correction_target(w)) {
                *words.entry(word).or_default() += 1;
            }
        }
        Self::from_counts(documents, terms, words)
    }

    fn from_counts(
        documents: u32,
        terms: HashMap<String, u32>,
        words: HashMap<String, u32>,
    ) -> Self {
        let word_index = TypoIndex::build(words.keys().map(String::as_str));
        let stem_index = TypoIndex::build(
            terms
                .keys()
                .map(String::as_str)
                .filter(|t| t.chars().all(char::is_alphabetic)),
        );
        Self {
            documents,
            terms,
            words,
            word_index,
            stem_index,
        }
    }

    /// Number of distinct index terms.
    pub fn len(&self) -> usize {
        self.terms.len()
    }

    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// Number of texts the vocabulary was built from.
    pub fn documents(&self) -> usize {
        self.documents as usize
    }

    /// Number of texts containing an index term.
    pub fn document_frequency(&self, term: &str) -> u32 {
        self.terms.get(term).copied().unwrap_or(0)
    }

    /// Writes the vocabulary as JSON, tagged with `fingerprint` (anything that changes
    /// when the indexed content does, e.g. a hash of every indexed file). The error is
    /// only worth a warning: without the file the vocabulary is rebuilt at the next start.
    pub fn save(&self, path: &Path, fingerprint: &str) -> std::io::Result<()> {
        let stored = Stored {
            analysis_version: ANALYSIS_VERSION,
            fingerprint: fingerprint.to_owned(),
            documents: self.documents,
            terms: self.terms.iter().map(|(k, v)| (k.clone(), *v)).collect(),
            words: self.words.iter().map(|(k, v)| (k.clone(), *v)).collect(),
        };
        let json = serde_json::to_vec(&stored)?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        // Write then rename, so a crash never leaves half a file for `load` to read.
        let mut partial = path.as_os_str().to_owned();
        partial.push(".partial");
        std::fs::write(&partial, json)?;
        std::fs::rename(&partial, path)
    }

    /// Reads a saved vocabulary; `None` when the file is missing or unreadable, or was
    /// saved for other content (`fingerprint`) or by another analysis version.
    pub fn load(path: &Path, fingerprint: &str) -> Option<Self> {
        let bytes = std::fs::read(path).ok()?;
        let stored: Stored = serde_json::from_slice(&bytes).ok()?;
        if stored.analysis_version != ANALYSIS_VERSION || stored.fingerprint != fingerprint {
            return None;
        }
        Some(Self::from_counts(
            stored.documents,
            stored.terms.into_iter().collect(),
            stored.words.into_iter().collect(),
        ))
    }

    pub(crate) fn contains_term(&self, term: &str) -> bool {
        self.terms.contains_key(term)
    }

    /// Whether a question word, or one of its stems, occurs in the knowledge.
    pub(crate) fn knows(&self, word: &str, stems: &Stems) -> bool {
        self.words.contains_key(word)
            || self.contains_term(&stems.primary)
            || stems
                .secondary
                .as_deref()
                .is_some_and(|s| self.contains_term(s))
    }

    /// The nearest known words to an unknown one: first comparing whole words
    /// ("cavallos" → "caballos"), then, if none is near, Spanish stems (so an
    /// inflection the knowledge lacks still finds its relatives).
    pub(crate) fn corrections(&self, word: &str, word_stems: &Stems) -> Vec<Correction> {
        if !word.chars().all(char::is_alphabetic) {
            return Vec::new();
        }
        let by_word = self.nearest(&self.word_index, &self.words, word);
        if !by_word.is_empty() {
            return by_word
                .into_iter()
                .map(|(found, distance)| Correction {
                    stems: stems(found),
                    word: Some(found.to_owned()),
                    distance,
                })
                .collect();
        }
        self.nearest(&self.stem_index, &self.terms, &word_stems.primary)
            .into_iter()
            .map(|(found, distance)| Correction {
                word: None,
                stems: Stems {
                    primary: found.to_owned(),
                    secondary: None,
                },
                distance,
            })
            .collect()
    }

    /// The nearest entries of `index` (excluding `query` itself), most frequent first.
    fn nearest<'a>(
        &self,
        index: &'a TypoIndex,
        frequencies: &HashMap<String, u32>,
        query: &str,
    ) -> Vec<(&'a str, usize)> {
        let mut candidates: Vec<_> = index
            .lookup(query)
            .into_iter()
            .filter(|c| c.distance > 0)
            .collect();
        let Some(best) = candidates.first().map(|c| c.distance) else {
            return Vec::new();
        };
        candidates.retain(|c| c.distance == best);
        let frequency = |word: &str| frequencies.get(word).copied().unwrap_or(0);
        candidates.sort_by(|a, b| {
            frequency(b.word)
                .cmp(&frequency(a.word))
                .then(a.word.cmp(b.word))
        });
        candidates
            .into_iter()
            .take(MAX_CORRECTIONS)
            .map(|c| (c.word, c.distance))
            .collect()
    }
}

impl std::fmt::Debug for Vocabulary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vocabulary")
            .field("documents", &self.documents)
            .field("terms", &self.terms.len())
            .field("words", &self.words.len())
            .field(
                "typo_entries",
                &(self.word_index.len() + self.stem_index.len()),
            )
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vocabulary() -> Vocabulary {
        Vocabulary::build(
            &Analyzer::default(),
            [
                "La Tiguan tiene 220 caballos de potencia y rendimiento de 11 km/l.",
                "El Mazda CX-30 tiene caballos y un baúl de 430 litros.",
                "Volkswagen T-Cross: caballero no, caballos sí.",
            ],
        )
    }

    fn corrected(vocabulary: &Vocabulary, word: &str) -> Vec<Option<String>> {
        vocabulary
            .corrections(word, &stems(word))
            .into_iter()
            .map(|c| c.word)
            .collect()
    }

    #[test]
    fn counts_terms_per_document() {
        let v = vocabulary();
        assert_eq!(v.documents(), 3);
        assert_eq!(v.document_frequency("caball"), 3);
        assert_eq!(v.document_frequency("tigu"), 1);
        assert_eq!(v.document_frequency("cx30"), 1);
        assert_eq!(v.document_frequency("la"), 0, "stopwords are not terms");
        assert!(!v.is_empty());
    }

    #[test]
    fn corrects_unknown_words_to_the_nearest_known_ones() {
        let v = vocabulary();
        assert_eq!(corrected(&v, "cavallos"), [Some("caballos".to_owned())]);
        assert_eq!(
            corrected(&v, "rendimeinto"),
            [Some("rendimiento".to_owned())]
        );
        assert_eq!(corrected(&v, "tigan"), [Some("tiguan".to_owned())]);
        assert_eq!(corrected(&v, "tcros"), [Some("tcross".to_owned())]);
    }

    #[test]
    fn known_words_and_figures_are_left_alone() {
        let v = vocabulary();
        for word in ["caballos", "caballo", "tiguan", "baul"] {
            assert!(v.knows(word, &stems(word)), "{word}");
        }
        assert!(!v.knows("cavallos", &stems("cavallos")));
        assert!(corrected(&v, "2200").is_empty());
        assert!(corrected(&v, "bau").is_empty(), "too short to correct");
    }

    #[test]
    fn falls_back_to_stems_for_unseen_inflections() {
        let v = Vocabulary::build(&Analyzer::default(), ["los cilindros"]);
        // "cilindrito" is 3 edits from "cilindros", but its stem is 1 from "cilindr".
        let found = v.corrections("cilindrito", &stems("cilindrito"));
        assert!(found.iter().all(|c| c.word.is_none()), "{found:?}");
        assert!(
            found.iter().any(|c| c.stems.primary == "cilindr"),
            "{found:?}"
        );
    }

    #[test]
    fn saves_and_loads_only_for_the_same_fingerprint() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/vocabulary.json");
        let v = vocabulary();
        v.save(&path, "index-abc").unwrap();
        let loaded = Vocabulary::load(&path, "index-abc").unwrap();
        assert_eq!(loaded.len(), v.len());
        assert_eq!(loaded.documents(), 3);
        assert_eq!(
            corrected(&loaded, "cavallos"),
            [Some("caballos".to_owned())]
        );
        assert!(Vocabulary::load(&path, "index-other").is_none());
        assert!(Vocabulary::load(&dir.path().join("missing.json"), "index-abc").is_none());
        std::fs::write(&path, "{ not json").unwrap();
        assert!(Vocabulary::load(&path, "index-abc").is_none());
    }
}
