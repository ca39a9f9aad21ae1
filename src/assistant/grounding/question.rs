//! What a question asks about: its content words, each with the index terms that count
//! as finding it in a passage. Shared by the coverage check and the extractive answerer,
//! so "the knowledge has this" and "this sentence answers it" agree.
//!
//! The knowledge analyzer decides what a word is (folding, stemming, stopwords), so a
//! question meets passages on the same terms retrieval used. On top of it:
//! - model and brand names are not content: every passage of the Tiguan's sheet "has"
//!   the Tiguan, which says nothing about whether it has a panoramic roof;
//! - question filler ("cuánto", "tiene", "how much") is not content either: passages
//!   answer it with figures, not with the same words (it still counts when comparing
//!   the question with a FAQ heading, which is phrased like a question);
//! - a word also counts as found through its typo corrections and synonyms, and through
//!   the synonyms of a phrase it is part of ("bolsas de aire" → "airbags"), with the
//!   lower weights retrieval gives them;
//! - a word the knowledge never uses but `synonyms.yaml` lists ("galones") weighs half:
//!   the dealer knows customers say it, so its absence from the sheets is not a sign of
//!   a foreign topic the way an unknown word ("motos", "towing") is.

use std::collections::{HashMap, HashSet};

use crate::knowledge::Hit;
use crate::knowledge::analysis::{Analyzer, Vocabulary, normalize, term_id};
use crate::knowledge::catalog::ModelCatalog;

/// Longest run of question words checked for a phrase synonym ("caballos de fuerza",
/// "licencia de conducción").
const LONGEST_PHRASE: usize = 4;

/// How strongly a synonym finds a word: retrieval's weight for synonyms.
const SYNONYM: f32 = 0.7;

/// How strongly a whole number finds a decimal it rounds ("12" → "12,3"): like a
/// one-letter typo.
const ROUNDED_NUMBER: f32 = 0.8;

/// Weight of a word only `synonyms.yaml` knows (see the module documentation).
const SYNONYM_ONLY_WORD: f32 = 0.5;

/// Words that shape a question but never name what it is about. Folded.
const FILLER: &[&str] = &[
    // Spanish question words and verbs of asking.
    "cual",
    "cuales",
    "cuanto",
    "cuanta",
    "cuantos",
    "cuantas",
    "como",
    "cuando",
    "donde",
    "quien",
    "quienes",
    "tiene",
    "tienen",
    "tienes",
    "tengo",
    "trae",
    "traen",
    "viene",
    "vienen",
    "puedo",
    "puede",
    "pueden",
    "quiero",
    "quisiera",
    "necesito",
    "saber",
    "dime",
    "decir",
    "dice",
    "hola",
    "buenas",
    "buenos",
    "buen",
    "tardes",
    "noches",
    "saludos",
    "favor",
    "gracias",
    "info",
    "informacion",
    "hacer",
    "hace",
    "toca",
    "sirve",
    "igual",
    "bien",
    "tanto",
    "tan",
    "cosa",
    "cada",
    // Verbs that ask for a measure: the answer is a figure, not the verb.
    "mide",
    "miden",
    "pesa",
    "carga",
    "cargan",
    "cabe",
    "caben",
    "dura",
    "duran",
    "demora",
    "demoran",
    "tarda",
    "tardan",
    // Possessives.
    "mio",
    "mia",
    "mios",
    "mias",
    "tuyo",
    "tuya",
    "suyo",
    "suya",
    "hacen",
    "hago",
    "hacerle",
    "tamano",
    "sacar",
    "sacan",
    "saco",
    // The vehicle itself: named by the model, like the model's name.
    "carro",
    "carros",
    "camioneta",
    "camionetas",
    "vehiculo",
    "vehiculos",
    "auto",
    "autos",
    "automovil",
    "car",
    "cars",
    "suv",
    // English.
    "much",
    "many",
    "long",
    "big",
    "tell",
    "know",
    "want",
    "need",
    "get",
    "please",
    "hi",
    "hello",
    "thanks",
    "there",
    "whats",
    "take",
    "size",
    "before",
];

/// Words that ask for an amount: answers with a figure are preferred.
const QUANTITY_WORDS: &[&str] = &[
    "cuanto",
    "cuanta",
    "cuantos",
    "cuantas",
    "rinde",
    "rendimiento",
    "consumo",
    "gasta",
    "mide",
    "pesa",
    "dura",
    "demora",
    "cada",
    "tamano",
    "carga",
    "cabe",
    "caben",
    "tarda",
    "much",
    "many",
    "long",
    "big",
    "size",
];

/// One word of a question (not a stopword, not a name).
#[derive(Debug, Clone)]
pub(crate) struct ContentWord {
    /// As the customer wrote it.
    pub written: String,
    /// Question filler ("cuánto", "tiene"): not content, but part of the phrasing.
    pub filler: bool,
    /// Only `synonyms.yaml` knows the word, the knowledge never uses it ("galones").
    pub synonym_only: bool,
    /// Index term → how strongly finding it finds the word: 1 for the word itself,
    /// less for typo corrections and synonyms (the weights retrieval uses).
    alternatives: HashMap<u32, f32>,
    /// Phrases that find the word when every one of their words is there (each word:
    /// its acceptable terms), with their strength: synonyms of several words
    /// ("licencia de conducción" for "pase"), or the customer's own phrase when the word
    /// is part of one ("bolsas de aire").
    phrases: Vec<(Vec<Vec<u32>>, f32)>,
}

impl ContentWord {
    /// How strongly a text with these terms contains the word (0 = not at all).
    pub fn strength_in(&self, terms: &HashSet<u32>) -> f32 {
        let single = self
            .alternatives
            .iter()
            .filter(|(id, _)| terms.contains(id))
            .map(|(_, strength)| *strength)
            .fold(0.0, f32::max);
        self.phrases
            .iter()
            .filter(|(phrase, _)| {
                phrase
                    .iter()
                    .all(|word| word.iter().any(|id| terms.contains(id)))
            })
            .map(|(_, strength)| *strength)
            .fold(single, f32::max)
    }
}

/// A question reduced to what it asks about.
#[derive(Debug, Clone, Default)]
pub(crate) struct QuestionTerms {
    /// Content words and filler, in question order.
    pub words: Vec<ContentWord>,
    /// Model ids the question names.
    pub models: Vec<String>,
    /// Brands the question names (as written in front matter).
    pub brands: Vec<String>,
    /// Index terms of the names the question uses.
    pub names: HashSet<u32>,
    /// Whether it asks for an amount ("cuánto", "how many", "rinde").
    pub asks_quantity: bool,
}

impl QuestionTerms {
    pub fn new(
        analyzer: &Analyzer,
        vocabulary: &Vocabulary,
        catalog: &ModelCatalog,
        question: &str,
    ) -> Self {
        let raw = raw_words(question);
        let mentions = catalog.mentions(question);
        let name_terms: HashSet<String> = mentions
            .models
            .iter()
            .chain(&mentions.brands)
            .flat_map(|name| analyzer.document_terms(&name.replace('_', " ")))
            .collect();
        let asks_quantity = raw
            .iter()
            .any(|w| QUANTITY_WORDS.contains(&Analyzer::fold(w).as_str()));

        // Which raw words are content, and what each one alone expands to.
        let mut words: Vec<Option<ContentWord>> = Vec::with_capacity(raw.len());
        let mut single: Vec<HashSet<u32>> = Vec::with_capacity(raw.len());
        for word in &raw {
            let own = analyzer.document_terms(word);
            let expanded = analyzer.encode_query(word, vocabulary);
            single.push(expanded.indices.iter().copied().collect());
            let folded = Analyzer::fold(word);
            let is_name = !own.is_empty()
                && (own.iter().all(|t| name_terms.contains(t)) || {
                    let named = catalog.mentions(word);
                    !named.models.is_empty() || !named.brands.is_empty()
                });
            if own.is_empty() || is_name {
                words.push(None);
                continue;
            }
            let mut alternatives: HashMap<u32, f32> = expanded
                .indices
                .iter()
                .zip(&expanded.values)
                .map(|(id, weight)| (*id, weight.min(1.0)))
                .collect();
            for term in &own {
                alternatives.insert(term_id(term), 1.0);
            }
            // Customers round: "de 12 pulgadas" finds "12,3 pulgadas".
            if folded.chars().all(|c| c.is_ascii_digit()) {
                for decimal in 0..10 {
                    let near = term_id(&format!("{folded}.{decimal}"));
                    alternatives.entry(near).or_insert(ROUNDED_NUMBER);
                }
            }
            let synonym_only =
                vocabulary.document_frequency(&own[0]) == 0 && analyzer.synonyms().knows(&folded);
            words.push(Some(ContentWord {
                written: word.clone(),
                filler: FILLER.contains(&folded.as_str()),
                synonym_only,
                alternatives,
                phrases: Vec::new(),
            }));
        }
        // What retrieval adds for a run of words beyond its words and shorter runs
        // (phrase synonyms' terms, glued names: "cx 30" → "cx30") belongs to every word
        // of the run.
        let mut expanded_runs: HashMap<(usize, usize), HashSet<u32>> = HashMap::new();
        for (i, ids) in single.iter().enumerate() {
            expanded_runs.insert((i, i + 1), ids.clone());
        }
        for len in 2..=LONGEST_PHRASE.min(raw.len()) {
            for start in 0..=raw.len() - len {
                let end = start + len;
                let phrase = analyzer.encode_query(&raw[start..end].join(" "), vocabulary);
                let known: Vec<&HashSet<u32>> = [(start, end - 1), (start + 1, end)]
                    .iter()
                    .filter_map(|run| expanded_runs.get(run))
                    .collect();
                let extra: Vec<(u32, f32)> = phrase
                    .indices
                    .iter()
                    .zip(&phrase.values)
                    .filter(|(id, _)| !known.iter().any(|ids| ids.contains(id)))
                    .map(|(id, weight)| (*id, weight.min(1.0)))
                    .collect();
                expanded_runs.insert((start, end), phrase.indices.iter().copied().collect());
                for word in words[start..end].iter_mut().flatten() {
                    for (id, weight) in &extra {
                        let strength = word.alternatives.entry(*id).or_insert(0.0);
                        *strength = strength.max(*weight);
                    }
                }
            }
        }

        add_phrase_synonyms(analyzer, &raw, &mut words);

        Self {
            words: words.into_iter().flatten().collect(),
            models: mentions.models,
            brands: mentions.brands,
            names: name_terms.iter().map(|t| term_id(t)).collect(),
            asks_quantity,
        }
    }

    /// The content words (filler left out).
    pub fn content(&self) -> impl Iterator<Item = &ContentWord> {
        self.words.iter().filter(|w| !w.filler)
    }

    /// Whether the question has content words (not only names and filler).
    pub fn has_content(&self) -> bool {
        self.content().next().is_some()
    }

    /// How much of the question a text with these terms holds: the sum of its content
    /// words' strengths there.
    pub fn found_in(&self, terms: &HashSet<u32>) -> f32 {
        self.content().map(|w| w.strength_in(terms)).sum()
    }

    /// What [`Self::found_in`] is out of when judging whether a text can answer at all:
    /// one per content word, half for a word only the synonyms know that this text
    /// lacks (see the module documentation).
    pub fn total_for(&self, terms: &HashSet<u32>) -> f32 {
        self.content()
            .map(|w| {
                if w.synonym_only && w.strength_in(terms) <= 0.0 {
                    SYNONYM_ONLY_WORD
                } else {
                    1.0
                }
            })
            .sum()
    }

    /// Share (0–1) of the content words a text with these terms holds, each counting
    /// one; 1 when the question has none. For comparing texts with each other.
    pub fn share_in(&self, terms: &HashSet<u32>) -> f32 {
        let total = self.content().count();
        if total == 0 {
            return 1.0;
        }
        self.found_in(terms) / total as f32
    }

    /// How alike the question and a heading are (Dice coefficient over words, filler
    /// included): FAQ headings are questions, and "¿Cada cuánto le debo hacer
    /// mantenimiento?" is the one to answer "cada cuanto toca el mantenimiento".
    pub fn heading_similarity(&self, analyzer: &Analyzer, heading: &str) -> f32 {
        let heading_words = normalize::tokens(heading)
            .iter()
            .filter(|token| {
                let terms = analyzer.document_terms(&token.text);
                !terms.is_empty() && !terms.iter().all(|t| self.names.contains(&term_id(t)))
            })
            .count();
        if heading_words == 0 || self.words.is_empty() {
            return 0.0;
        }
        let terms = text_terms(analyzer, heading);
        let matched: f32 = self.words.iter().map(|w| w.strength_in(&terms)).sum();
        (2.0 * matched / (self.words.len() + heading_words) as f32).min(1.0)
    }

    /// Whether a text with these terms names a model or brand the question names.
    pub fn names_in(&self, terms: &HashSet<u32>) -> bool {
        self.names.iter().any(|id| terms.contains(id))
    }
}

/// Table header rows carry no facts: the shipped sheets head two-column tables with
/// "| Dato | Valor |", which the loader renders as the line "Dato: Valor" — and "valor"
/// would answer every price question. Folded.
const TABLE_HEADER_WORDS: &[&str] = &["dato", "datos", "valor", "valores", "item", "value"];

/// Whether a passage line is a table header such as "Dato: Valor".
pub(crate) fn is_table_header(line: &str) -> bool {
    let Some((name, value)) = line.trim().split_once(':') else {
        return false;
    };
    let is_header_word = |w: &str| TABLE_HEADER_WORDS.contains(&Analyzer::fold(w.trim()).as_str());
    is_header_word(name) && is_header_word(value)
}

/// The index terms of a passage: its title, headings and text, table headers left out.
pub(crate) fn passage_terms(analyzer: &Analyzer, hit: &Hit) -> HashSet<u32> {
    let mut text = hit.title.clone();
    for heading in &hit.chunk.heading_path {
        text.push('\n');
        text.push_str(heading);
    }
    for line in hit.text.lines().filter(|line| !is_table_header(line)) {
        text.push('\n');
        text.push_str(line);
    }
    text_terms(analyzer, &text)
}

/// Gives each word the synonyms of the groups it takes part in: a group a run of words
/// matches, and no shorter run inside it, belongs to the run's words ("pase" →
/// "licencia de conducción"). A run of several words that is itself a synonym ("bolsas
/// de aire") is one meaning: its words are found only together or through the group
/// ("airbags"), so "aire" alone ("aire acondicionado") does not find them.
fn add_phrase_synonyms(analyzer: &Analyzer, raw: &[String], words: &mut [Option<ContentWord>]) {
    use crate::knowledge::analysis::synonyms::MatchWord;
    let synonyms = analyzer.synonyms();
    if synonyms.is_empty() {
        return;
    }
    let spellings: Vec<Vec<Vec<MatchWord>>> = raw
        .iter()
        .map(|word| {
            normalize::tokens(word)
                .iter()
                .flat_map(|token| token.words().to_vec())
                .map(|w| vec![MatchWord::new(&w)])
                .collect()
        })
        .collect();
    let mut matched: HashMap<(usize, usize), HashSet<usize>> = HashMap::new();
    for len in 1..=LONGEST_PHRASE.min(raw.len()) {
        for start in 0..=raw.len() - len {
            let end = start + len;
            let question: Vec<Vec<MatchWord>> =
                spellings[start..end].iter().flatten().cloned().collect();
            let groups = synonyms.matching_groups(&question);
            let here: HashSet<usize> = groups.iter().map(|g| g.as_ptr() as usize).collect();
            let inside: HashSet<usize> = [(start, end - 1), (start + 1, end)]
                .iter()
                .filter_map(|run| matched.get(run))
                .flatten()
                .copied()
                .collect();
            let new: Vec<_> = groups
                .iter()
                .filter(|g| !inside.contains(&(g.as_ptr() as usize)))
                .collect();
            matched.insert((start, end), here);
            if new.is_empty() {
                continue;
            }
            let own: HashSet<u32> = raw[start..end]
                .iter()
                .flat_map(|w| analyzer.document_terms(w))
                .map(|t| term_id(&t))
                .collect();
            if len > 1 {
                for word in words[start..end].iter_mut().flatten() {
                    word.alternatives.clear();
                    word.phrases.clear();
                }
            }
            for member in new.iter().flat_map(|group| group.iter()) {
                // Terms in order: a primary stem starts a word, a secondary one is
                // another spelling of the same word.
                let mut required: Vec<Vec<u32>> = Vec::new();
                for term in &member.terms.terms {
                    match required.last_mut() {
                        Some(word) if term.secondary => word.push(term_id(&term.text)),
                        _ => required.push(vec![term_id(&term.text)]),
                    }
                }
                let is_own = required.iter().all(|w| w.iter().any(|id| own.contains(id)));
                let strength = if is_own { 1.0 } else { SYNONYM };
                for word in words[start..end].iter_mut().flatten() {
                    match required.as_slice() {
                        [] => {}
                        [single] => {
                            for id in single {
                                let at = word.alternatives.entry(*id).or_insert(0.0);
                                *at = at.max(strength);
                            }
                        }
                        _ => word.phrases.push((required.clone(), strength)),
                    }
                }
            }
        }
    }
}

/// A passage's section heading when it is a question (FAQ and policy answers): then it
/// says what the passage answers, in words like the customer's.
pub(crate) fn asked_heading(hit: &Hit) -> Option<&str> {
    hit.section
        .as_deref()
        .filter(|s| s.trim_end().ends_with('?'))
}

/// The index terms of a text, as a set of term ids.
pub(crate) fn text_terms(analyzer: &Analyzer, text: &str) -> HashSet<u32> {
    analyzer
        .document_terms(text)
        .iter()
        .map(|term| term_id(term))
        .collect()
}

/// The question's words as written: split at spaces and at punctuation that cannot be
/// inside a word; hyphens, apostrophes, `/` and number separators stay ("r-line",
/// "a/c", "1.3").
fn raw_words(question: &str) -> Vec<String> {
    question
        .split(|c: char| c.is_whitespace() || matches!(c, '¿' | '?' | '¡' | '!' | ';' | '(' | ')'))
        .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()))
        .filter(|w| !w.is_empty())
        // Commas and points inside words are kept only between digits.
        .flat_map(split_soft_punctuation)
        .filter(|w| !normalize::fold(w).is_empty())
        .collect()
}

/// "airbags,tiene" → ["airbags", "tiene"]; "1,6" stays whole.
fn split_soft_punctuation(word: &str) -> Vec<String> {
    let chars: Vec<char> = word.chars().collect();
    let mut parts = Vec::new();
    let mut current = String::new();
    for (i, c) in chars.iter().enumerate() {
        let between_digits = i > 0
            && chars[i - 1].is_ascii_digit()
            && chars.get(i + 1).is_some_and(char::is_ascii_digit);
        if matches!(c, ',' | '.' | ':') && !between_digits {
            if !current.is_empty() {
                parts.push(std::mem::take(&mut current));
            }
        } else {
            current.push(*c);
        }
    }
    if !current.is_empty() {
        parts.push(current);
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_keep_their_spelling_and_inner_marks() {
        assert_eq!(
            raw_words("¿La R-Line trae a/c, y 1,6 litros?"),
            ["La", "R-Line", "trae", "a/c", "y", "1,6", "litros"]
        );
        assert_eq!(raw_words("hola,que tal."), ["hola", "que", "tal"]);
        assert!(raw_words("¿? ...").is_empty());
    }
}
