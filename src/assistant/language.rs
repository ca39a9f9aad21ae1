//! Which language a customer writes in, so the answer comes back in it. Counts words
//! that only one of Spanish and English uses (articles, pronouns, common verbs and the
//! dealership's everyday words), plus Spanish spelling ("¿", "¡", accents, "ñ").
//!
//! Colombian Spanish borrows English ("test drive", "full equipo", "ok", "hello") and
//! names carry accents ("José"), so borrowed words count for neither side and one
//! signal is never enough: the answer is None for short or mixed text, and the
//! conversation keeps its language.

use crate::engine::Language;

/// Signals the winning language needs at least.
const MIN_SIGNALS: usize = 2;

/// Words only Spanish uses (folded: no accents, lowercase).
const SPANISH: &[&str] = &[
    "de",
    "la",
    "que",
    "el",
    "en",
    "y",
    "o",
    "los",
    "del",
    "se",
    "las",
    "por",
    "un",
    "para",
    "con",
    "una",
    "su",
    "al",
    "lo",
    "como",
    "mas",
    "pero",
    "sus",
    "le",
    "ya",
    "este",
    "si",
    "porque",
    "esta",
    "entre",
    "cuando",
    "muy",
    "sin",
    "sobre",
    "tambien",
    "hasta",
    "hay",
    "donde",
    "quien",
    "desde",
    "todo",
    "nos",
    "todos",
    "uno",
    "les",
    "ni",
    "otros",
    "ese",
    "eso",
    "ellos",
    "esto",
    "mi",
    "antes",
    "unos",
    "yo",
    "otro",
    "otra",
    "esa",
    "estos",
    "mucho",
    "nada",
    "cual",
    "cuales",
    "poco",
    "ella",
    "algo",
    "mis",
    "tu",
    "te",
    "tus",
    "usted",
    "ustedes",
    "es",
    "estoy",
    "estan",
    "tengo",
    "tiene",
    "tienen",
    "tienes",
    "quiero",
    "quisiera",
    "necesito",
    "necesita",
    "puedo",
    "puede",
    "pueden",
    "podria",
    "hola",
    "gracias",
    "buenas",
    "buenos",
    "dias",
    "tardes",
    "noches",
    "cuanto",
    "cuanta",
    "cuantos",
    "cuesta",
    "vale",
    "precio",
    "precios",
    "carro",
    "carros",
    "camioneta",
    "cita",
    "sede",
    "taller",
    "prueba",
    "manejo",
    "manana",
    "hoy",
    "bien",
    "bueno",
    "favor",
    "porfa",
    "hacer",
    "saber",
    "ver",
    "ir",
    "pregunta",
    "informacion",
    "sabado",
    "domingo",
    "lunes",
    "martes",
    "miercoles",
    "jueves",
    "viernes",
    "semana",
    "ano",
    "consumo",
    "gasta",
    "rinde",
    "llevar",
    "cambiar",
    "cancelar",
    "agendar",
    "probar",
    "asesor",
    "cotizar",
    "cotizacion",
    "llamo",
    "somos",
    "soy",
];

/// Words only English uses.
const ENGLISH: &[&str] = &[
    "the",
    "is",
    "are",
    "was",
    "were",
    "be",
    "been",
    "of",
    "and",
    "or",
    "to",
    "in",
    "on",
    "at",
    "it",
    "its",
    "for",
    "with",
    "you",
    "your",
    "we",
    "our",
    "they",
    "their",
    "this",
    "that",
    "these",
    "those",
    "there",
    "what",
    "whats",
    "when",
    "where",
    "which",
    "who",
    "how",
    "why",
    "does",
    "do",
    "did",
    "dont",
    "doesnt",
    "can",
    "cant",
    "could",
    "would",
    "should",
    "will",
    "wont",
    "have",
    "has",
    "had",
    "want",
    "wants",
    "need",
    "needs",
    "like",
    "get",
    "know",
    "about",
    "from",
    "just",
    "much",
    "many",
    "some",
    "any",
    "not",
    "i",
    "im",
    "ive",
    "id",
    "my",
    "please",
    "thanks",
    "thank",
    "good",
    "morning",
    "afternoon",
    "evening",
    "price",
    "cost",
    "car",
    "cars",
    "book",
    "appointment",
    "tomorrow",
    "today",
    "saturday",
    "sunday",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "week",
    "branch",
    "quote",
    "fuel",
    "trunk",
    "maintenance",
    "name",
    "an",
    "if",
    "also",
    "only",
    "than",
    "then",
    "here",
    "yes",
];

/// The language a message is written in, when it is clear; None for short or mixed text
/// ("ok", "Tiguan 2025").
pub fn detect(text: &str) -> Option<Language> {
    let mut spanish = 0;
    let mut english = 0;
    if text.contains(['¿', '¡']) {
        spanish += 2;
    }
    for raw in text.split(|c: char| !(c.is_alphanumeric() || c == '\'' || c == '’')) {
        if raw.is_empty() {
            continue;
        }
        // "don't" → "dont", "I'm" → "im": English contractions become plain words.
        let joined: String = raw.chars().filter(|c| *c != '\'' && *c != '’').collect();
        let word = crate::engine::fold(&joined);
        if SPANISH.contains(&word.as_str()) {
            spanish += 1;
        } else if ENGLISH.contains(&word.as_str()) {
            english += 1;
        } else if raw.chars().any(|c| {
            matches!(
                c.to_lowercase().next(),
                Some('á' | 'é' | 'í' | 'ó' | 'ú' | 'ñ' | 'ü')
            )
        }) {
            // A Spanish-spelled word the lists don't know ("autonomía", "baúl").
            spanish += 1;
        }
    }
    let (winner, language, loser) = if spanish >= english {
        (spanish, Language::Es, english)
    } else {
        (english, Language::En, spanish)
    };
    (winner >= MIN_SIGNALS && winner > loser && winner >= 2 * loser).then_some(language)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn es(text: &str) {
        assert_eq!(detect(text), Some(Language::Es), "{text}");
    }

    fn en(text: &str) {
        assert_eq!(detect(text), Some(Language::En), "{text}");
    }

    fn unclear(text: &str) {
        assert_eq!(detect(text), None, "{text}");
    }

    #[test]
    fn plain_spanish() {
        es("quiero probar el Tiguan el sábado");
        es("cuanto cuesta la tcross");
        es("necesito llevar mi carro a mantenimiento");
    }

    #[test]
    fn plain_english() {
        en("I want to book a test drive");
        en("how much is the Tiguan?");
        en("what is the fuel consumption of the Duster");
    }

    #[test]
    fn spanish_spelling_counts() {
        es("¿precio?");
        es("¡Hola! ¿Tienen la Tiguan?");
        es("autonomía del eléctrico");
    }

    #[test]
    fn accents_and_case_are_folded() {
        es("CUÁNTO CUESTA LA DUSTER");
        es("Buenos Días, Qué Tal");
        es("cuanto cuesta mañana");
    }

    #[test]
    fn english_contractions_count() {
        en("I'm looking for a car");
        en("don't call me, I'd rather write");
        en("I’d like a quote");
    }

    #[test]
    fn borrowed_english_does_not_flip_spanish() {
        es("quiero un test drive");
        es("hello, quiero saber el precio");
        es("la quiero full equipo");
        es("ok, entonces el sábado a las 10");
        es("me llamo John y quiero un test drive del Tracker");
    }

    #[test]
    fn a_spanish_name_does_not_flip_english() {
        en("Hi, my name is José and I want a test drive");
        en("is there a Peñalosa branch?");
    }

    #[test]
    fn short_text_is_unclear() {
        for text in [
            "ok",
            "hola",
            "gracias",
            "thanks",
            "sí",
            "test drive",
            "full",
            "hello",
            "1",
        ] {
            unclear(text);
        }
    }

    #[test]
    fn names_and_numbers_are_unclear() {
        unclear("Tiguan 2025");
        unclear("CX-30");
        unclear("300 123 4567");
        unclear("ABC-123");
    }

    #[test]
    fn mixed_text_is_unclear() {
        unclear("quiero the tiguan");
        unclear("el price");
    }

    #[test]
    fn empty_and_odd_text() {
        for text in ["", "   ", "😀😀", "'''", "\u{0301}", "?!"] {
            unclear(text);
        }
    }

    #[test]
    fn a_long_spanish_message_with_some_english() {
        es(
            "Buenas tardes, vi la Tiguan en el showroom y me gustó mucho, \
            quisiera saber si tienen disponibilidad para un test drive este fin de semana, thanks",
        );
    }

    #[test]
    fn a_long_english_message_with_some_spanish() {
        en(
            "Hello, I saw the Tiguan at your store and I would like to know if there is \
            a test drive available this weekend, gracias",
        );
    }

    #[test]
    fn greetings_of_two_words_are_enough() {
        es("hola, buenas");
        en("good morning");
    }

    #[test]
    fn dealership_words() {
        es("cita taller");
        en("book appointment");
    }
}
