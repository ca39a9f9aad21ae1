//! The words of a customer's message, as intent rules read them: each word folded for
//! matching ("Cotízame" → `cotizame`, "T-Cross" → `tcross`), its spelling kept for the
//! date and plate parsers ("15/12"), and the clause it belongs to, because "no, quiero
//! probar el Tiguan" holds a refusal and a request in two clauses.
//!
//! Also the small word patterns the rules are written in (`hablar con un|una? asesor*`).

use crate::engine::fold;

/// Words looked at in one message; a pasted essay is not a booking request, and the
/// date scan stays cheap.
const MAX_WORDS: usize = 80;

#[derive(Debug, Clone)]
pub(super) struct Token {
    /// As typed, without the punctuation around it ("sábado", "15/12", "ABC-123").
    pub raw: String,
    /// Lowercase, no accents, letters and digits only ("sabado", "1512", "abc123").
    pub word: String,
    pub clause: usize,
}

#[derive(Debug, Clone, Default)]
pub(super) struct Words {
    pub tokens: Vec<Token>,
    /// Per clause: it opened with "¿" or ended with "?".
    pub asked: Vec<bool>,
}

impl Words {
    pub fn new(text: &str) -> Self {
        let mut words = Words {
            tokens: Vec::new(),
            asked: vec![false],
        };
        for chunk in text.split_whitespace() {
            if words.tokens.len() >= MAX_WORDS {
                break;
            }
            let core = chunk.trim_matches(|c: char| !c.is_alphanumeric());
            let (lead, rest) = chunk.split_at(chunk.find(core).unwrap_or(0));
            let tail = &rest[core.len()..];
            if lead.contains(['¿', '¡']) {
                words.open_clause();
            }
            if lead.contains('¿') {
                words.mark_asked();
            }
            let word = fold(core).replace(' ', "");
            if !word.is_empty() {
                let clause = words.asked.len() - 1;
                words.tokens.push(Token {
                    raw: core.to_owned(),
                    word,
                    clause,
                });
            }
            if tail.contains('?') {
                words.mark_asked();
            }
            if tail.contains([',', '.', ';', ':', '!', '?', ')', '\u{2026}']) {
                words.open_clause();
            }
        }
        // A closing "?" or "." opens a clause that never gets a word.
        if words.asked.len() > 1
            && words
                .tokens
                .last()
                .is_some_and(|t| t.clause + 1 < words.asked.len())
        {
            words.asked.pop();
        }
        words
    }

    fn open_clause(&mut self) {
        let current = self.asked.len() - 1;
        if self.tokens.last().is_some_and(|t| t.clause == current) {
            self.asked.push(false);
        }
    }

    fn mark_asked(&mut self) {
        if let Some(last) = self.asked.last_mut() {
            *last = true;
        }
    }

    /// Token index ranges of the clauses that have words.
    pub fn clauses(&self) -> Vec<std::ops::Range<usize>> {
        let mut ranges: Vec<std::ops::Range<usize>> = Vec::new();
        for (i, token) in self.tokens.iter().enumerate() {
            match ranges.last_mut() {
                Some(range) if self.tokens[range.start].clause == token.clause => range.end = i + 1,
                _ => ranges.push(i..i + 1),
            }
        }
        ranges
    }

    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    pub fn word(&self, i: usize) -> &str {
        self.tokens.get(i).map_or("", |t| t.word.as_str())
    }

    /// The original spelling of tokens `range`, joined by spaces.
    pub fn raw(&self, range: std::ops::Range<usize>) -> String {
        self.tokens[range]
            .iter()
            .map(|t| t.raw.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Folded words of a name or phrase from settings, split like messages are.
pub(super) fn phrase_words(phrase: &str) -> Vec<String> {
    Words::new(&phrase.replace('_', " "))
        .tokens
        .into_iter()
        .map(|t| t.word)
        .collect()
}

/// `word` is `expected` or its plural ("golpes"); from `min_fuzzy` letters on, also with
/// one typo that keeps the first letter ("mantenimieto", "tigan"): people rarely mistype
/// the first letter.
pub(super) fn same_word(word: &str, expected: &str, min_fuzzy: usize) -> bool {
    if word == expected {
        return true;
    }
    // Cheapest tests first: this runs for every word of a message against every cue.
    let plural =
        word.strip_suffix('s') == Some(expected) || word.strip_suffix("es") == Some(expected);
    if plural {
        return expected.chars().count() >= MIN_PLURAL;
    }
    if word.chars().next() != expected.chars().next() {
        return false;
    }
    let len = expected.chars().count();
    len >= min_fuzzy
        && word.chars().count().abs_diff(len) <= 1
        && strsim::damerau_levenshtein(word, expected) <= 1
}

/// Shortest word that takes a plural "s" ("sur" must not read "surs").
const MIN_PLURAL: usize = 4;

/// Shortest word that forgives a typo in rule patterns.
pub(super) const FUZZY_CUE: usize = 6;

/// One slot of a [`Pattern`].
#[derive(Debug, Clone)]
struct Slot {
    alternatives: Vec<Alt>,
    optional: bool,
}

#[derive(Debug, Clone)]
enum Alt {
    Word(String),
    /// Without typo tolerance, for words one typo away from another ("agente", "agende").
    Exact(String),
    Prefix(String),
    /// A model name or a word for a car ("carro", "camioneta", "car").
    Car,
}

/// Words in a row, written `hablar con un|una? asesor*`: `|` separates alternatives,
/// a trailing `?` makes the slot optional, `*` matches any ending, a leading `=` turns
/// off typo tolerance, `@car` is a model or a word for a car.
#[derive(Debug, Clone)]
pub(super) struct Pattern(Vec<Slot>);

impl Pattern {
    pub fn new(spec: &str) -> Self {
        let slots = spec
            .split_whitespace()
            .map(|slot| {
                let (body, optional) = match slot.strip_suffix('?') {
                    Some(body) => (body, true),
                    None => (slot, false),
                };
                let alternatives = body
                    .split('|')
                    .map(|alt| {
                        if alt == "@car" {
                            Alt::Car
                        } else if let Some(word) = alt.strip_prefix('=') {
                            Alt::Exact(word.to_owned())
                        } else if let Some(prefix) = alt.strip_suffix('*') {
                            Alt::Prefix(prefix.to_owned())
                        } else {
                            Alt::Word(alt.to_owned())
                        }
                    })
                    .collect();
                Slot {
                    alternatives,
                    optional,
                }
            })
            .collect();
        Self(slots)
    }

    /// The end of the longest match starting at `at`, within `limit`.
    pub fn match_at(
        &self,
        words: &Words,
        at: usize,
        limit: usize,
        is_car: &dyn Fn(usize) -> bool,
    ) -> Option<usize> {
        self.match_slots(0, words, at, limit, is_car)
    }

    fn match_slots(
        &self,
        slot: usize,
        words: &Words,
        at: usize,
        limit: usize,
        is_car: &dyn Fn(usize) -> bool,
    ) -> Option<usize> {
        let Some(current) = self.0.get(slot) else {
            return Some(at);
        };
        let taken = (at < limit)
            .then(|| {
                let word = words.word(at);
                current
                    .alternatives
                    .iter()
                    .any(|alt| match alt {
                        Alt::Word(expected) => same_word(word, expected, FUZZY_CUE),
                        Alt::Exact(expected) => word == expected,
                        Alt::Prefix(prefix) => word.starts_with(prefix.as_str()),
                        Alt::Car => is_car(at),
                    })
                    .then(|| self.match_slots(slot + 1, words, at + 1, limit, is_car))
                    .flatten()
            })
            .flatten();
        let skipped = current
            .optional
            .then(|| self.match_slots(slot + 1, words, at, limit, is_car))
            .flatten();
        match (taken, skipped) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words_of(text: &str) -> Vec<&str> {
        text.split(' ').collect()
    }

    #[test]
    fn words_are_folded_and_keep_their_spelling() {
        let words = Words::new("¿Cotízame la T-Cross para el 15/12?");
        let folded: Vec<&str> = words.tokens.iter().map(|t| t.word.as_str()).collect();
        assert_eq!(folded, words_of("cotizame la tcross para el 1512"));
        assert_eq!(words.tokens[5].raw, "15/12");
        assert_eq!(words.asked, vec![true]);
    }

    #[test]
    fn punctuation_splits_clauses_and_marks_questions() {
        let words = Words::new("No, quiero probar el Tiguan. ¿Tienen en la sede norte?");
        assert_eq!(words.clauses(), vec![0..1, 1..5, 5..10]);
        assert_eq!(words.asked, vec![false, false, true]);
    }

    #[test]
    fn patterns_take_alternatives_optional_slots_and_prefixes() {
        let words = Words::new("quiero hablar con asesores");
        let pattern = Pattern::new("hablar con un|una? asesor*");
        let never = |_: usize| false;
        assert_eq!(pattern.match_at(&words, 1, words.len(), &never), Some(4));
        assert_eq!(pattern.match_at(&words, 0, words.len(), &never), None);
        let pattern = Pattern::new("prueba de manejo");
        let typo = Words::new("prueba de manego");
        assert_eq!(
            pattern.match_at(&typo, 0, 3, &never),
            Some(3),
            "one typo forgiven"
        );
        let short = Words::new("prueba el manejo");
        assert_eq!(
            pattern.match_at(&short, 0, 3, &never),
            None,
            "short words are exact"
        );
        let pattern = Pattern::new("llevar mi? @car");
        let car = |i: usize| i == 2;
        let words = Words::new("llevar mi tiguan");
        assert_eq!(pattern.match_at(&words, 0, 3, &car), Some(3));
    }
}
