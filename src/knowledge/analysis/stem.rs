//! Stopwords and stemming, Spanish and English at once.
//!
//! The knowledge is Spanish and most questions are too, but some come in English and
//! we cannot tell a question's language reliably from a few words. So every word gets
//! its Spanish Snowball stem (the primary term) and, when it differs, its English stem
//! (a secondary term). Documents and questions go through the same function, so
//! "caballos"/"caballo" meet on the Spanish stem and "seats"/"seat" on the English one.

use std::sync::LazyLock;

use rust_stemmers::{Algorithm, Stemmer};

static SPANISH: LazyLock<Stemmer> = LazyLock::new(|| Stemmer::create(Algorithm::Spanish));
static ENGLISH: LazyLock<Stemmer> = LazyLock::new(|| Stemmer::create(Algorithm::English));

/// The index terms of one folded word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Stems {
    /// Spanish stem; the word itself for numbers and codes ("1.6", "cx30", "4x4").
    pub primary: String,
    /// English stem when it differs from the Spanish one.
    pub secondary: Option<String>,
}

/// Stems a folded, non-stopword word.
pub(crate) fn stems(word: &str) -> Stems {
    // Words with digits are model codes, sizes and figures: stemming would only damage
    // them. One- and two-letter words are abbreviations ("hp", "cc", "rs").
    if word.chars().count() <= 2 || word.chars().any(|c| c.is_ascii_digit()) {
        return Stems {
            primary: word.to_owned(),
            secondary: None,
        };
    }
    let primary = SPANISH.stem(word).into_owned();
    let english = ENGLISH.stem(word);
    let secondary = (english != primary).then(|| english.into_owned());
    Stems { primary, secondary }
}

/// The Spanish stem alone, for comparing words (synonym matching).
pub(crate) fn spanish_stem(word: &str) -> String {
    stems(word).primary
}

/// Whether a folded word carries no meaning for retrieval, in Spanish or in English.
///
/// The lists are short on purpose: question words ("cuanto", "cuando", "como") stay,
/// because FAQ headings are questions and share them with the customer, and "no" stays
/// because "¿Qué NO cubre la garantía?" is not "¿Qué cubre?".
pub(crate) fn is_stopword(word: &str) -> bool {
    is_spanish_stopword(word) || is_english_stopword(word)
}

fn is_spanish_stopword(word: &str) -> bool {
    matches!(
        word,
        "a" | "al"
            | "ante"
            | "con"
            | "de"
            | "del"
            | "desde"
            | "e"
            | "el"
            | "ella"
            | "ellas"
            | "ellos"
            | "en"
            | "entre"
            | "era"
            | "eres"
            | "es"
            | "esa"
            | "esas"
            | "ese"
            | "eso"
            | "esos"
            | "esta"
            | "estan"
            | "estas"
            | "este"
            | "esto"
            | "estos"
            | "fue"
            | "ha"
            | "han"
            | "hasta"
            | "hay"
            | "he"
            | "la"
            | "las"
            | "le"
            | "les"
            | "lo"
            | "los"
            | "mas"
            | "me"
            | "mi"
            | "mis"
            | "muy"
            | "nos"
            | "o"
            | "os"
            | "pa"
            | "pal"
            | "para"
            | "pero"
            | "por"
            | "pues"
            | "q"
            | "que"
            | "se"
            | "sea"
            | "ser"
            | "si"
            | "sin"
            | "sobre"
            | "son"
            | "soy"
            | "su"
            | "sus"
            | "tambien"
            | "te"
            | "ti"
            | "tu"
            | "tus"
            | "u"
            | "un"
            | "una"
            | "unas"
            | "uno"
            | "unos"
            | "usted"
            | "ustedes"
            | "y"
            | "ya"
            | "yo"
    )
}

fn is_english_stopword(word: &str) -> bool {
    matches!(
        word,
        "about"
            | "after"
            | "am"
            | "an"
            | "and"
            | "any"
            | "are"
            | "as"
            | "at"
            | "be"
            | "been"
            | "but"
            | "by"
            | "can"
            | "could"
            | "did"
            | "do"
            | "does"
            | "for"
            | "from"
            | "had"
            | "has"
            | "have"
            | "her"
            | "his"
            | "how"
            | "i"
            | "if"
            | "in"
            | "into"
            | "is"
            | "it"
            | "its"
            | "my"
            | "of"
            | "on"
            | "or"
            | "our"
            | "she"
            | "should"
            | "so"
            | "than"
            | "that"
            | "the"
            | "their"
            | "them"
            | "then"
            | "there"
            | "these"
            | "they"
            | "this"
            | "those"
            | "to"
            | "us"
            | "was"
            | "we"
            | "were"
            | "what"
            | "when"
            | "where"
            | "which"
            | "who"
            | "why"
            | "will"
            | "with"
            | "would"
            | "you"
            | "your"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn primary(word: &str) -> String {
        stems(word).primary
    }

    /// Every term a word produces.
    fn all(word: &str) -> Vec<String> {
        let s = stems(word);
        std::iter::once(s.primary).chain(s.secondary).collect()
    }

    #[test]
    fn spanish_inflections_share_a_stem() {
        assert_eq!(primary("consumo"), primary("consume"));
        assert_eq!(primary("caballos"), primary("caballo"));
        assert_eq!(primary("llantas"), primary("llanta"));
        assert_eq!(primary("automatica"), primary("automatico"));
        assert_eq!(primary("transmision"), primary("transmisiones"));
    }

    #[test]
    fn english_plurals_share_a_term() {
        assert!(all("seats").contains(&"seat".to_owned()));
        assert_eq!(all("seat"), ["seat"]);
        assert!(all("covers").contains(&"cover".to_owned()));
    }

    #[test]
    fn codes_and_numbers_are_not_stemmed() {
        assert_eq!(all("cx30"), ["cx30"]);
        assert_eq!(all("1.6"), ["1.6"]);
        assert_eq!(all("4x4"), ["4x4"]);
        assert_eq!(all("hp"), ["hp"]);
    }

    #[test]
    fn stopwords_of_both_languages() {
        for word in [
            "de", "la", "los", "que", "q", "pa", "the", "does", "of", "what",
        ] {
            assert!(is_stopword(word), "{word}");
        }
        for word in [
            "cuanto", "no", "baul", "tiguan", "trunk", "t", "4x4", "cuando",
        ] {
            assert!(!is_stopword(word), "{word}");
        }
    }
}
