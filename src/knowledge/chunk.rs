//! Cuts documents into chunks of at most `max_tokens` (cl100k tokens, counted with the
//! bundled tiktoken vocabulary — no download). Each section is cut on its own, never
//! merged with the next one, because a search hit cites its section. Inside a section the
//! cuts fall between paragraphs, then lines, then sentences; only a single sentence too
//! long for a chunk is cut between words, and then `overlap_tokens` are repeated so a
//! figure split at the cut is still whole in one of the two chunks.

use std::collections::HashSet;
use std::sync::OnceLock;

use tiktoken_rs::CoreBPE;

use super::document::{Chunk, ChunkId, SourceDocument};

/// The tokenizer cannot be prepared, or the sizes make no sense.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot prepare the knowledge chunker: {reason}")]
pub struct ChunkerError {
    reason: String,
}

/// Splits [`SourceDocument`]s into [`Chunk`]s to a token budget.
#[derive(Clone)]
pub struct Chunker {
    bpe: &'static CoreBPE,
    max_tokens: usize,
    overlap_tokens: usize,
}

impl std::fmt::Debug for Chunker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chunker")
            .field("max_tokens", &self.max_tokens)
            .field("overlap_tokens", &self.overlap_tokens)
            .finish_non_exhaustive()
    }
}

/// The vocabulary takes a noticeable moment to build, so every chunker shares one.
static CL100K: OnceLock<CoreBPE> = OnceLock::new();

fn cl100k() -> Result<&'static CoreBPE, ChunkerError> {
    if let Some(bpe) = CL100K.get() {
        return Ok(bpe);
    }
    let bpe = tiktoken_rs::cl100k_base().map_err(|err| ChunkerError {
        reason: format!("the bundled cl100k tokenizer did not load: {err}"),
    })?;
    Ok(CL100K.get_or_init(|| bpe))
}

/// A piece of a section that is never cut further, and what joins it to the piece before
/// (a blank line between paragraphs, a newline between lines, a space between sentences).
struct Piece {
    text: String,
    joiner: &'static str,
}

impl Chunker {
    /// `max_tokens` is the largest chunk; `overlap_tokens` (less than half of it) are
    /// repeated where a long sentence has to be cut.
    pub fn new(max_tokens: usize, overlap_tokens: usize) -> Result<Self, ChunkerError> {
        if max_tokens < 8 {
            return Err(ChunkerError {
                reason: format!("a chunk of {max_tokens} tokens is too small (8 at least)"),
            });
        }
        if overlap_tokens >= max_tokens / 2 {
            return Err(ChunkerError {
                reason: format!(
                    "an overlap of {overlap_tokens} tokens must be less than half the chunk size ({max_tokens})"
                ),
            });
        }
        Ok(Self {
            bpe: cl100k()?,
            max_tokens,
            overlap_tokens,
        })
    }

    pub fn max_tokens(&self) -> usize {
        self.max_tokens
    }

    pub fn count_tokens(&self, text: &str) -> usize {
        self.bpe.encode_ordinary(text).len()
    }

    /// The document's chunks in reading order, numbered from 0. Identical chunks under the
    /// same headings (a repeated disclaimer) are kept once.
    pub fn chunk(&self, document: &SourceDocument) -> Vec<Chunk> {
        let mut seen = HashSet::new();
        let mut chunks = Vec::new();
        for section in &document.sections {
            for text in self.split(&section.text) {
                if !seen.insert((section.heading_path.clone(), text.clone())) {
                    continue;
                }
                chunks.push(Chunk {
                    id: ChunkId::for_content(&document.source, &section.heading_path, &text),
                    source: document.source.clone(),
                    file_hash: document.file_hash.clone(),
                    ordinal: u32::try_from(chunks.len()).unwrap_or(u32::MAX),
                    heading_path: section.heading_path.clone(),
                    text,
                    meta: document.meta.clone(),
                });
            }
        }
        chunks
    }

    /// One section's text as chunk texts, each within the budget.
    fn split(&self, text: &str) -> Vec<String> {
        let text = text.trim();
        if text.is_empty() {
            return Vec::new();
        }
        if self.fits(text) {
            return vec![text.to_owned()];
        }
        self.pack(self.pieces(text))
    }

    fn fits(&self, text: &str) -> bool {
        self.count_tokens(text) <= self.max_tokens
    }

    /// Paragraphs that fit, else their lines, else their sentences, else word windows.
    fn pieces(&self, text: &str) -> Vec<Piece> {
        let mut pieces = Vec::new();
        for paragraph in paragraphs(text) {
            if self.fits(&paragraph) {
                pieces.push(Piece {
                    text: paragraph,
                    joiner: "\n\n",
                });
                continue;
            }
            let mut joiner = "\n\n";
            for line in paragraph.lines().map(str::trim).filter(|l| !l.is_empty()) {
                if self.fits(line) {
                    pieces.push(Piece {
                        text: line.to_owned(),
                        joiner,
                    });
                } else {
                    for sentence in sentences(line) {
                        if self.fits(sentence) {
                            pieces.push(Piece {
                                text: sentence.to_owned(),
                                joiner,
                            });
                        } else {
                            for window in self.windows(sentence) {
                                pieces.push(Piece {
                                    text: window,
                                    joiner,
                                });
                                joiner = " ";
                            }
                        }
                        joiner = " ";
                    }
                }
                joiner = "\n";
            }
        }
        pieces
    }

    /// Greedily joins consecutive pieces while the result stays within the budget.
    fn pack(&self, pieces: Vec<Piece>) -> Vec<String> {
        let mut chunks = Vec::new();
        let mut current = String::new();
        for piece in pieces {
            if current.is_empty() {
                current = piece.text;
                continue;
            }
            let candidate = format!("{current}{}{}", piece.joiner, piece.text);
            if self.fits(&candidate) {
                current = candidate;
            } else {
                chunks.push(std::mem::replace(&mut current, piece.text));
            }
        }
        if !current.is_empty() {
            chunks.push(current);
        }
        chunks
    }

    /// Cuts a sentence too long for one chunk between words, repeating about
    /// `overlap_tokens` of the end of each window at the start of the next.
    fn windows(&self, text: &str) -> Vec<String> {
        let atoms: Vec<String> = words(text)
            .into_iter()
            .flat_map(|word| self.fitting_parts(word))
            .collect();
        // Per-word counts add up to about the count of the whole (cl100k rarely merges
        // across a space); every window is checked exactly before it is kept.
        let costs: Vec<usize> = atoms.iter().map(|a| self.count_tokens(a)).collect();
        let mut windows = Vec::new();
        let mut start = 0;
        while start < atoms.len() {
            let mut end = start;
            let mut sum = 0;
            while end < atoms.len() && sum + costs[end] <= self.max_tokens {
                sum += costs[end];
                end += 1;
            }
            end = end.max(start + 1);
            while end > start + 1 && !self.fits(atoms[start..end].concat().trim()) {
                end -= 1;
            }
            windows.push(atoms[start..end].concat().trim().to_owned());
            if end == atoms.len() {
                break;
            }
            let mut next = end;
            let mut repeated = 0;
            while next > start + 1 && repeated + costs[next - 1] <= self.overlap_tokens {
                repeated += costs[next - 1];
                next -= 1;
            }
            start = next;
        }
        windows
    }

    /// A "word" longer than a chunk (a pasted code, a URL) cut by characters.
    fn fitting_parts(&self, word: &str) -> Vec<String> {
        if self.fits(word) {
            return vec![word.to_owned()];
        }
        let chars: Vec<char> = word.chars().collect();
        let mut parts = Vec::new();
        let mut start = 0;
        while start < chars.len() {
            let mut len = (chars.len() - start).min(self.max_tokens);
            while len > 1 && !self.fits(&chars[start..start + len].iter().collect::<String>()) {
                len = (len * 3 / 4).max(1);
            }
            parts.push(chars[start..start + len].iter().collect());
            start += len;
        }
        parts
    }
}

/// Runs of non-blank lines.
fn paragraphs(text: &str) -> Vec<String> {
    let mut paragraphs = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            if !current.is_empty() {
                paragraphs.push(current.join("\n"));
                current.clear();
            }
        } else {
            current.push(line.trim_end());
        }
    }
    if !current.is_empty() {
        paragraphs.push(current.join("\n"));
    }
    paragraphs
}

/// Sentences end at `.`, `!`, `?`, `…` or `;` followed by a space; the mark stays with its
/// sentence. ("1.598 cc" has no space after the dot, so figures are not cut.)
fn sentences(line: &str) -> Vec<&str> {
    let mut sentences = Vec::new();
    let mut start = 0;
    let mut chars = line.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if matches!(c, '.' | '!' | '?' | '…' | ';')
            && chars.peek().is_some_and(|(_, next)| next.is_whitespace())
        {
            let end = i + c.len_utf8();
            let sentence = line[start..end].trim();
            if !sentence.is_empty() {
                sentences.push(sentence);
            }
            start = end;
        }
    }
    let rest = line[start..].trim();
    if !rest.is_empty() {
        sentences.push(rest);
    }
    sentences
}

/// Words with the whitespace before them (" motor"), the way cl100k tokenizes them.
fn words(text: &str) -> Vec<&str> {
    let mut words = Vec::new();
    let mut start = 0;
    let mut previous_blank = true;
    for (i, c) in text.char_indices() {
        let blank = c.is_whitespace();
        if blank && !previous_blank && i > start {
            words.push(&text[start..i]);
            start = i;
        }
        previous_blank = blank;
    }
    if start < text.len() {
        words.push(&text[start..]);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knowledge::{DocumentMeta, Section};

    fn document(sections: &[(&[&str], &str)]) -> SourceDocument {
        SourceDocument {
            source: "specs/kia.md".into(),
            file_hash: "abc".into(),
            meta: DocumentMeta {
                title: "Kia Sportage".into(),
                model: Some("sportage".into()),
                ..DocumentMeta::default()
            },
            sections: sections
                .iter()
                .map(|(path, text)| Section {
                    heading_path: path.iter().map(|h| (*h).to_owned()).collect(),
                    text: (*text).to_owned(),
                })
                .collect(),
        }
    }

    /// A long Spanish sentence without sentence breaks: only word windows can cut it.
    fn long_sentence(words: usize) -> String {
        (0..words)
            .map(|i| format!("palabra{i}"))
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn sizes_are_checked() {
        assert!(Chunker::new(4, 0).is_err());
        assert!(Chunker::new(100, 50).is_err());
        let chunker = Chunker::new(100, 10).unwrap();
        assert_eq!(chunker.count_tokens(""), 0);
        assert!(chunker.count_tokens("consumo combinado de 14 km/l") > 3);
    }

    #[test]
    fn small_sections_stay_separate_chunks_with_their_metadata() {
        let chunker = Chunker::new(200, 20).unwrap();
        let doc = document(&[
            (&["Kia Sportage", "Motor"], "2.0 litros, 154 hp."),
            (&["Kia Sportage", "Consumo"], "14 km/l combinado."),
        ]);
        let chunks = chunker.chunk(&doc);
        assert_eq!(chunks.len(), 2);
        assert_eq!(chunks[0].ordinal, 0);
        assert_eq!(chunks[1].ordinal, 1);
        assert_eq!(chunks[1].section(), Some("Consumo"));
        assert_eq!(chunks[1].text, "14 km/l combinado.");
        assert_eq!(chunks[1].source, "specs/kia.md");
        assert_eq!(chunks[1].file_hash, "abc");
        assert_eq!(chunks[1].meta.model.as_deref(), Some("sportage"));
    }

    #[test]
    fn every_chunk_respects_the_budget_and_cuts_fall_between_paragraphs() {
        let chunker = Chunker::new(40, 8).unwrap();
        let text = (0..8)
            .map(|i| format!("El consumo combinado es de 1{i} km/l y el tanque es de 54 litros."))
            .collect::<Vec<_>>()
            .join("\n\n");
        let doc = document(&[(&["Kia", "Consumo"], &text)]);
        let chunks = chunker.chunk(&doc);
        assert!(chunks.len() > 1);
        for chunk in &chunks {
            assert!(chunker.count_tokens(&chunk.text) <= 40, "{chunk:?}");
            assert!(chunk.text.starts_with("El consumo"), "{:?}", chunk.text);
            assert!(chunk.text.ends_with("litros."), "{:?}", chunk.text);
        }
    }

    #[test]
    fn long_lines_and_sentences_are_cut_within_budget() {
        let chunker = Chunker::new(32, 6).unwrap();
        let table = (0..30)
            .map(|i| format!("Versión {i}: motor 1.{i} turbo, {i}0 hp."))
            .collect::<Vec<_>>()
            .join("\n");
        let prose = (0..20)
            .map(|i| format!("Frase número {i} sobre la garantía."))
            .collect::<Vec<_>>()
            .join(" ");
        let doc = document(&[(&["A"], &table), (&["B"], &prose)]);
        let chunks = chunker.chunk(&doc);
        for chunk in &chunks {
            assert!(chunker.count_tokens(&chunk.text) <= 32, "{chunk:?}");
        }
        let rejoined: Vec<&str> = chunks
            .iter()
            .filter(|c| c.section() == Some("A"))
            .flat_map(|c| c.text.lines())
            .collect();
        assert_eq!(
            rejoined.join("\n"),
            table,
            "lines are kept whole and in order"
        );
        assert!(chunks.iter().any(|c| c.section() == Some("B")));
    }

    #[test]
    fn oversized_sentences_overlap() {
        let chunker = Chunker::new(40, 10).unwrap();
        let text = long_sentence(120);
        let chunks = chunker.chunk(&document(&[(&["Largo"], &text)]));
        assert!(chunks.len() >= 3, "{chunks:?}");
        for pair in chunks.windows(2) {
            assert!(chunker.count_tokens(&pair[0].text) <= 40);
            let last_word = pair[0].text.split_whitespace().last().unwrap();
            let next_words: Vec<&str> = pair[1].text.split_whitespace().collect();
            let at = next_words
                .iter()
                .position(|w| *w == last_word)
                .unwrap_or_else(|| panic!("{last_word} is not repeated in {:?}", pair[1].text));
            let repeated = next_words[..=at].join(" ");
            assert!(
                pair[0].text.ends_with(&repeated),
                "overlap is the tail of the previous chunk"
            );
            let overlap = chunker.count_tokens(&repeated);
            assert!((1..=12).contains(&overlap), "overlap of {overlap} tokens");
        }
        // Every word survives the cuts.
        let all: HashSet<&str> = chunks
            .iter()
            .flat_map(|c| c.text.split_whitespace())
            .collect();
        assert_eq!(all.len(), 120);
    }

    #[test]
    fn giant_words_are_cut_by_characters() {
        let chunker = Chunker::new(16, 2).unwrap();
        // Pseudo-random letters, so no two parts are equal (equal chunks are deduplicated).
        let mut seed = 7u32;
        let blob: String = (0..2000)
            .map(|_| {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                char::from(b'a' + ((seed >> 16) % 26) as u8)
            })
            .collect();
        let chunks = chunker.chunk(&document(&[(&["Blob"], &blob)]));
        assert!(chunks.len() > 1);
        for chunk in &chunks {
            assert!(chunker.count_tokens(&chunk.text) <= 16);
        }
        let rejoined: String = chunks.iter().map(|c| c.text.replace(' ', "")).collect();
        assert_eq!(rejoined, blob);
    }

    #[test]
    fn ids_are_stable_and_duplicates_dropped() {
        let chunker = Chunker::new(100, 10).unwrap();
        let doc = document(&[
            (&["Kia", "Motor"], "154 hp."),
            (&["Kia", "Aviso"], "Confirme con su asesor."),
            (&["Kia", "Aviso"], "Confirme con su asesor."),
            (&["Kia", "Otro aviso"], "Confirme con su asesor."),
        ]);
        let first = chunker.chunk(&doc);
        let again = chunker.chunk(&doc);
        assert_eq!(first, again);
        assert_eq!(first.len(), 3, "the repeated (headings, text) is kept once");
        assert_eq!(
            first[0].id,
            ChunkId::for_content("specs/kia.md", &first[0].heading_path, "154 hp.")
        );
        assert_ne!(
            first[1].id, first[2].id,
            "same text under other headings is another chunk"
        );

        // Editing one section leaves the other chunks' ids alone.
        let mut edited = doc.clone();
        edited.sections[0].text = "160 hp.".into();
        let after = chunker.chunk(&edited);
        assert_ne!(after[0].id, first[0].id);
        assert_eq!(after[1].id, first[1].id);
    }

    #[test]
    fn sentence_and_word_splitting() {
        assert_eq!(
            sentences("Tiene 1.598 cc. Potencia de 114 hp! ¿Y el consumo? 12 km/l"),
            vec![
                "Tiene 1.598 cc.",
                "Potencia de 114 hp!",
                "¿Y el consumo?",
                "12 km/l"
            ]
        );
        assert_eq!(words("a  bc d"), vec!["a", "  bc", " d"]);
    }

    #[test]
    fn the_shipped_sheets_chunk_within_budget() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("knowledge");
        let chunker = Chunker::new(320, 48).unwrap();
        let mut total = 0;
        for file in crate::knowledge::load::knowledge_files(&root) {
            let doc = crate::knowledge::load::load_file(&root, &file).unwrap();
            let chunks = chunker.chunk(&doc);
            assert!(chunks.len() >= doc.sections.len().min(1));
            for chunk in &chunks {
                assert!(chunker.count_tokens(&chunk.text) <= 320);
            }
            total += chunks.len();
        }
        assert!(total > 50, "{total} chunks");
    }
}
