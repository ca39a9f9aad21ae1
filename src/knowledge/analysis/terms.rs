//! From tokens to index terms: stopwords out, the rest stemmed. Documents, questions
//! and synonym phrases all go through [`token_terms`], so they always agree.

use super::normalize::Token;
use super::stem::{Stems, is_stopword, stems};

/// One index term of a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Term {
    pub text: String,
    /// An English stem that differs from the Spanish one (weighs less in questions).
    pub secondary: bool,
}

/// The terms of a text, in order with repeats, and its length for BM25.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct TextTerms {
    pub terms: Vec<Term>,
    /// Words that produced terms: a compound counts its parts, not its joined form, and
    /// secondary stems do not count, so a word weighs the same in every language mix.
    pub length: usize,
}

impl TextTerms {
    pub fn of_tokens(tokens: &[Token]) -> Self {
        let mut text_terms = Self::default();
        for token in tokens {
            text_terms.length += token_terms(token, &mut text_terms.terms);
        }
        text_terms
    }
}

/// Appends the terms of `token` and returns how many words it counts for.
pub(crate) fn token_terms(token: &Token, out: &mut Vec<Term>) -> usize {
    if token.is_compound() && !is_stopword(&token.text) {
        push_stems(stems(&token.text), out);
    }
    let mut words = 0;
    for word in token.words() {
        if !is_stopword(word) {
            push_stems(stems(word), out);
            words += 1;
        }
    }
    words
}

fn push_stems(stems: Stems, out: &mut Vec<Term>) {
    out.push(Term {
        text: stems.primary,
        secondary: false,
    });
    if let Some(secondary) = stems.secondary {
        out.push(Term {
            text: secondary,
            secondary: true,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::super::normalize::tokens;
    use super::*;

    #[test]
    fn compounds_give_joined_and_part_terms_and_count_their_parts() {
        let terms = TextTerms::of_tokens(&tokens("la CX-30"));
        let texts: Vec<&str> = terms.terms.iter().map(|t| t.text.as_str()).collect();
        assert_eq!(texts, ["cx30", "cx", "30"]);
        assert_eq!(terms.length, 2);
    }

    #[test]
    fn secondary_stems_are_marked_and_not_counted() {
        let terms = TextTerms::of_tokens(&tokens("caballos"));
        assert_eq!(
            terms.terms,
            [
                Term {
                    text: "caball".into(),
                    secondary: false
                },
                Term {
                    text: "caballo".into(),
                    secondary: true
                }
            ]
        );
        assert_eq!(terms.length, 1);
    }
}
