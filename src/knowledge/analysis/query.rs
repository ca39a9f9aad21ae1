//! A customer's question as a sparse vector.
//!
//! The words as typed weigh 1; each term the analysis adds weighs less, so additions
//! rescue a question without pushing aside what the customer actually wrote: typo
//! corrections (by distance), the joined form of a split name ("t cross" → "tcross"),
//! and the other members of the synonym groups the question mentions.
//! When a term arrives by several routes it keeps its highest weight.

use std::collections::HashMap;

use super::normalize::{Token, tokens};
use super::stem::{Stems, is_stopword, stems};
use super::synonyms::{MatchWord, Synonyms};
use super::term_id::term_id;
use super::terms::TextTerms;
use super::vocabulary::{Correction, MAX_CORRECTIONS, Vocabulary};
use crate::knowledge::SparseVector;

/// A word as the customer wrote it.
const TYPED: f32 = 1.0;
/// An English stem that differs from the Spanish one: a second guess at the same word,
/// so a word does not count double just because the two stemmers disagree on it.
const SECONDARY_STEM: f32 = 0.5;
/// A correction one edit away ("cavallos" → "caballos").
const ONE_EDIT: f32 = 0.8;
/// A correction two edits away (only for words of 8+ characters).
const TWO_EDITS: f32 = 0.6;
/// Two typed words glued into a word the knowledge uses ("cx 30" → "cx30").
const GLUED: f32 = 0.9;
/// Each other member of a mentioned synonym group, split across a phrase's words.
const SYNONYM: f32 = 0.7;

/// Encodes a question: see the module documentation.
pub(crate) fn encode(synonyms: &Synonyms, query: &str, vocabulary: &Vocabulary) -> SparseVector {
    let tokens = tokens(query);
    let mut weights = Weights::default();
    // Every word of the question in order, stopwords included (phrases contain them),
    // with the spellings a synonym may match: as typed and as corrected.
    let mut spellings: Vec<Vec<MatchWord>> = Vec::new();
    for token in &tokens {
        if token.is_compound() && !is_stopword(&token.text) {
            weights.add_stems(&stems(&token.text), TYPED);
        }
        for word in token.words() {
            let mut alternatives = vec![MatchWord::new(word)];
            if !is_stopword(word) {
                let word_stems = stems(word);
                weights.add_stems(&word_stems, TYPED);
                // Without a vocabulary there is no telling a typo from a rare word.
                let known = vocabulary.is_empty()
                    || vocabulary.knows(word, &word_stems)
                    || synonyms.knows(word);
                if !known {
                    for correction in corrections(word, &word_stems, vocabulary, synonyms) {
                        let weight = if correction.distance <= 1 {
                            ONE_EDIT
                        } else {
                            TWO_EDITS
                        };
                        weights.add_stems(&correction.stems, weight);
                        if let Some(corrected) = &correction.word {
                            alternatives.push(MatchWord::new(corrected));
                        }
                    }
                }
            }
            spellings.push(alternatives);
        }
    }
    add_glued_pairs(&tokens, vocabulary, &mut weights);
    for members in synonyms.matching_groups(&spellings) {
        for member in members {
            weights.add_phrase(&member.terms, SYNONYM);
        }
    }
    weights.into_vector()
}

/// The nearest known spellings of an unknown word, from the knowledge's vocabulary and
/// from the synonym groups (customers' words the sheets may not use: "cavallos" →
/// "caballos", a synonym of the sheets' "hp"). Empty when nothing is near.
fn corrections(
    word: &str,
    word_stems: &Stems,
    vocabulary: &Vocabulary,
    synonyms: &Synonyms,
) -> Vec<Correction> {
    // Figures and model codes are never "corrected" ("2025" is not a typo of "2024").
    if !word.chars().all(char::is_alphabetic) {
        return Vec::new();
    }
    let mut found = vocabulary.corrections(word, word_stems);
    found.extend(
        synonyms
            .nearest(word)
            .into_iter()
            .filter(|c| c.distance > 0)
            .map(|c| Correction {
                word: Some(c.word.to_owned()),
                stems: stems(c.word),
                distance: c.distance,
            }),
    );
    let Some(best) = found.iter().map(|c| c.distance).min() else {
        return found;
    };
    found.retain(|c| c.distance == best);
    let mut seen = std::collections::HashSet::new();
    found.retain(|c| seen.insert(c.stems.primary.clone()));
    found.truncate(MAX_CORRECTIONS);
    found
}

/// "t cross", "cx 30": when two adjacent words, one of them short or a number, glue
/// into a term the knowledge has, add that term.
fn add_glued_pairs(tokens: &[Token], vocabulary: &Vocabulary, weights: &mut Weights) {
    if vocabulary.is_empty() {
        return;
    }
    for pair in tokens.windows(2) {
        let [first, second] = pair else { continue };
        if first.is_compound() || second.is_compound() {
            continue;
        }
        let short_or_number =
            |w: &str| w.chars().count() <= 2 || w.chars().any(|c| c.is_ascii_digit());
        if !(short_or_number(&first.text) || short_or_number(&second.text)) {
            continue;
        }
        let glued = format!("{}{}", first.text, second.text);
        let glued_stems = stems(&glued);
        if vocabulary.contains_term(&glued_stems.primary) {
            weights.add_stems(&glued_stems, GLUED);
        }
    }
}

/// Term → weight, keeping the highest weight a term was given.
#[derive(Default)]
struct Weights(HashMap<String, f32>);

impl Weights {
    fn add(&mut self, term: &str, weight: f32) {
        match self.0.get_mut(term) {
            Some(existing) => *existing = existing.max(weight),
            None => {
                self.0.insert(term.to_owned(), weight);
            }
        }
    }

    fn add_stems(&mut self, stems: &Stems, weight: f32) {
        self.add(&stems.primary, weight);
        if let Some(secondary) = &stems.secondary {
            self.add(secondary, weight * SECONDARY_STEM);
        }
    }

    /// A phrase's terms share `weight` equally among its words.
    fn add_phrase(&mut self, phrase: &TextTerms, weight: f32) {
        if phrase.length == 0 {
            return;
        }
        let share = weight / phrase.length as f32;
        for term in &phrase.terms {
            let factor = if term.secondary { SECONDARY_STEM } else { 1.0 };
            self.add(&term.text, share * factor);
        }
    }

    fn into_vector(self) -> SparseVector {
        SparseVector::from_pairs(self.0.into_iter().map(|(term, w)| (term_id(&term), w)))
    }
}
