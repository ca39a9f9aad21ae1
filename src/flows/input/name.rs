//! A person's name. Greetings and fillers ("hola, me llamo…", "I'm…") are removed word
//! by word so accents and the original letters survive, then the name is Title Cased
//! with Spanish particles ("de", "del", "la", "y") kept lowercase inside the name.
//! Words already written in mixed case ("McDonald", "DeLuca") are kept as typed.

use super::{Invalid, Parsed, fold};

const MIN_CHARS: usize = 2;
const MAX_CHARS: usize = 60;

/// Leading fillers, as folded words. Longer phrases first so "yo me llamo" wins over "yo".
const LEADING: &[&[&str]] = &[
    &["mi", "nombre", "completo", "es"],
    &["my", "full", "name", "is"],
    &["mi", "nombre", "es"],
    &["el", "nombre", "es"],
    &["yo", "me", "llamo"],
    &["my", "name", "is"],
    &["buenos", "dias"],
    &["buenas", "tardes"],
    &["buenas", "noches"],
    &["buen", "dia"],
    &["mi", "nombre"],
    &["me", "llamo"],
    &["me", "llaman"],
    &["yo", "soy"],
    &["my", "name's"],
    &["i", "am"],
    &["this", "is"],
    &["nombre"],
    &["name"],
    &["soy"],
    &["hola"],
    &["buenas"],
    &["hi"],
    &["hello"],
    &["hey"],
    &["i'm"],
    &["i’m"],
    &["im"],
    &["it's"],
    // Courtesy titles are not part of the name.
    &["el", "senor"],
    &["la", "senora"],
    &["la", "senorita"],
    &["senor"],
    &["senora"],
    &["senorita"],
    &["sr"],
    &["sra"],
    &["srta"],
    &["dona"],
    &["dr"],
    &["dra"],
    &["doctor"],
    &["doctora"],
    &["ing"],
    &["mr"],
    &["mrs"],
    &["ms"],
];

const TRAILING: &[&[&str]] = &[
    &["nice", "to", "meet", "you"],
    &["mucho", "gusto"],
    &["thank", "you"],
    &["gracias"],
    &["thanks"],
];

/// Lowercase inside a name: "Juan Pablo de la Torre", "María del Mar", "Ortega y Gasset".
const PARTICLES: &[&str] = &[
    "de", "del", "la", "las", "los", "y", "e", "da", "das", "do", "dos", "van", "von", "der",
];

/// Words no name contains: a sentence ("me llamo Juan y tengo un carro") is not a name.
const NOT_NAME_WORDS: &[&str] = &[
    "tengo",
    "quiero",
    "busco",
    "necesito",
    "quisiera",
    "gracias",
    "favor",
    "para",
    "por",
    "que",
    "con",
    "un",
    "una",
    "uno",
    "mi",
    "es",
    "soy",
    "llamo",
    "nombre",
    "hola",
    "carro",
    "moto",
    "vehiculo",
    "precio",
    "cotizar",
    "cotizacion",
    "informacion",
    "info",
    "no",
    "si",
    "the",
    "and",
    "want",
    "need",
    "my",
    "name",
    "is",
    "car",
    "please",
    "thanks",
    "hello",
];

/// Answers that fit the character rules but are clearly not a name.
const NOT_NAMES: &[&str] = &[
    "no",
    "si",
    "ok",
    "okay",
    "vale",
    "listo",
    "hola",
    "gracias",
    "nada",
    "ninguno",
    "no se",
    "no quiero",
    "prefiero no",
    "yes",
    "no thanks",
    "hello",
    "hi",
    "test",
    "prueba",
    "asdf",
    "anonimo",
    "anonymous",
    "nombre",
    "name",
    "mi nombre",
    "my name",
];

pub(super) fn parse(text: &str) -> Result<Parsed, Invalid> {
    if super::too_long(text) {
        return Err(invalid());
    }
    let words: Vec<&str> = text.split_whitespace().collect();
    let words = strip_fillers(&words);
    let keys: Vec<String> = words.iter().map(|w| key(w)).collect();
    // Fillers alone ("me llamo", "gracias") were kept by `strip_fillers`; they are no name.
    if LEADING
        .iter()
        .chain(TRAILING)
        .any(|phrase| *phrase == keys.as_slice())
    {
        return Err(invalid());
    }
    let joined = words.join(" ");
    let name = trim_punctuation(&joined);

    if name.is_empty() {
        return Err(invalid());
    }
    if name.chars().any(char::is_numeric) {
        return Err(Invalid::new(
            "Tu nombre no debería llevar números. Escríbelo solo con letras, por ejemplo Ana María Gómez.",
            "Your name shouldn't contain numbers. Please type it with letters only, for example Ana María Gómez.",
        ));
    }
    let allowed = |c: char| {
        c.is_alphabetic()
            || matches!(c, ' ' | '\'' | '’' | '-' | '.')
            || ('\u{0300}'..='\u{036F}').contains(&c)
    };
    let count = name.chars().count();
    if !name.chars().all(allowed)
        || !(MIN_CHARS..=MAX_CHARS).contains(&count)
        || !has_letter_run(name)
        || NOT_NAMES.contains(&fold(name).as_str())
        || name
            .split(' ')
            .any(|w| NOT_NAME_WORDS.contains(&key(w).as_str()))
    {
        return Err(invalid());
    }
    Ok(Parsed::text(title_case(name)))
}

fn invalid() -> Invalid {
    Invalid::new(
        "No entendí tu nombre. Escríbelo con letras, por ejemplo Ana María Gómez.",
        "I didn't catch your name. Please type it with letters, for example Ana María Gómez.",
    )
}

/// Folds a word for filler matching, ignoring punctuation around it ("hola," "soy:").
fn key(word: &str) -> String {
    fold(word.trim_matches(|c: char| matches!(c, ',' | '.' | ':' | ';' | '!' | '¡' | '?' | '¿')))
}

fn strip_fillers<'a>(words: &[&'a str]) -> Vec<&'a str> {
    let mut start = 0;
    let mut end = words.len();
    let matches_at = |at: usize, phrase: &[&str]| {
        at + phrase.len() <= words.len()
            && phrase
                .iter()
                .enumerate()
                .all(|(i, p)| key(words[at + i]) == *p)
    };
    // Only strip while something remains, so a customer really named "Soy" is not erased
    // to nothing; a lone filler is then rejected as not a name.
    'outer: loop {
        for phrase in LEADING {
            if matches_at(start, phrase) && start + phrase.len() < end {
                start += phrase.len();
                continue 'outer;
            }
        }
        break;
    }
    'outer: loop {
        for phrase in TRAILING {
            if end > start + phrase.len() && matches_at(end - phrase.len(), phrase) {
                end -= phrase.len();
                continue 'outer;
            }
        }
        break;
    }
    words[start..end].to_vec()
}

fn trim_punctuation(s: &str) -> &str {
    let edge = |c: char| {
        matches!(
            c,
            ',' | ':' | ';' | '!' | '¡' | '?' | '¿' | '"' | '«' | '»' | '“' | '”' | '*' | '_'
        ) || c.is_whitespace()
    };
    let mut s = s.trim_matches(edge);
    s = s.trim_start_matches(|c: char| c == '.' || c == '-' || c.is_whitespace());
    // A final dot ends a sentence ("Soy Ana."), unless it closes an initial ("Juan P.").
    if let Some(rest) = s.strip_suffix('.') {
        let last_word_letters = rest
            .rsplit(' ')
            .next()
            .map(|w| w.chars().filter(|c| c.is_alphabetic()).count())
            .unwrap_or(0);
        if last_word_letters >= 2 {
            s = rest.trim_end_matches(edge);
        }
    }
    s
}

fn has_letter_run(s: &str) -> bool {
    let mut run = 0;
    for c in s.chars() {
        if c.is_alphabetic() {
            run += 1;
            if run >= 2 {
                return true;
            }
        } else if !('\u{0300}'..='\u{036F}').contains(&c) {
            run = 0;
        }
    }
    false
}

fn title_case(name: &str) -> String {
    let words: Vec<&str> = name.split(' ').collect();
    let last = words.len().saturating_sub(1);
    let mut out = Vec::with_capacity(words.len());
    for (i, word) in words.iter().enumerate() {
        let folded = fold(word);
        if i > 0 && i < last && PARTICLES.contains(&folded.as_str()) {
            out.push(word.to_lowercase());
        } else if is_deliberate_mixed_case(word) {
            out.push((*word).to_string());
        } else {
            out.push(capitalize_segments(word));
        }
    }
    out.join(" ")
}

/// "McDonald", "DeLuca": capital first, another capital later, and some lowercase.
fn is_deliberate_mixed_case(word: &str) -> bool {
    let mut chars = word.chars();
    let first_upper = chars.next().is_some_and(char::is_uppercase);
    let later_upper = chars.clone().any(char::is_uppercase);
    let any_lower = word.chars().any(char::is_lowercase);
    first_upper && later_upper && any_lower
}

/// Capitalizes after the start and after hyphens and apostrophes: "o'brien" → "O'Brien",
/// "maría-josé" → "María-José".
fn capitalize_segments(word: &str) -> String {
    let mut out = String::with_capacity(word.len());
    let mut at_start = true;
    for c in word.chars() {
        if c.is_alphabetic() {
            if at_start {
                out.extend(c.to_uppercase());
            } else {
                out.extend(c.to_lowercase());
            }
            at_start = false;
        } else {
            out.push(c);
            at_start = matches!(c, '-' | '\'' | '’' | '.');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::test_support::ctx;
    use super::super::{InputKind, parse};

    #[test]
    fn accepts() {
        let cases = [
            ("me llamo juan pablo de la torre", "Juan Pablo de la Torre"),
            ("Ana", "Ana"),
            ("MARÍA JOSÉ GÓMEZ", "María José Gómez"),
            ("hola, soy maría del mar", "María del Mar"),
            ("Mi nombre es Andrés Felipe Muñoz.", "Andrés Felipe Muñoz"),
            ("my name is john o'brien", "John O'Brien"),
            ("I'm Ronald McDonald", "Ronald McDonald"),
            (
                "i am ana-maría ortega y gasset",
                "Ana-María Ortega y Gasset",
            ),
            ("juan p.", "Juan P."),
            ("de la cruz", "De la Cruz"),
            ("  luz   dary  ", "Luz Dary"),
            (
                "Buenas tardes, mi nombre es Camila Rojas, mucho gusto",
                "Camila Rojas",
            ),
            ("Ma\u{0301}rio", "Ma\u{0301}rio"),
            ("Ñusta Quispe", "Ñusta Quispe"),
            ("Ли Вэй", "Ли Вэй"),
            ("jUAN", "Juan"),
            ("soy el señor Pérez", "Pérez"),
            ("Dra. Luz Marina Díaz", "Luz Marina Díaz"),
            ("VAN DER BERG", "Van der Berg"),
        ];
        for (input, want) in cases {
            let p = parse(InputKind::Name, input, &ctx())
                .unwrap_or_else(|e| panic!("{input:?} rejected: {e}"));
            assert_eq!(p.value, serde_json::json!(want), "{input:?}");
            assert_eq!(p.display, want);
        }
    }

    #[test]
    fn rejects() {
        let long = "Juan ".repeat(15);
        let cases = [
            "",
            "me llamo",
            "Soy",
            "J",
            "A B",
            "Juan 2",
            "3001234567",
            "ana@gmail.com",
            "😀😀",
            "juan 😀",
            "no",
            "Gracias",
            "me llamo Juan y tengo un carro",
            "quiero cotizar",
            "#hashtag",
            long.as_str(),
        ];
        for input in cases {
            assert!(
                parse(InputKind::Name, input, &ctx()).is_err(),
                "{input:?} should be rejected"
            );
        }
        let e = parse(InputKind::Name, "Juan 2", &ctx()).unwrap_err();
        assert!(e.es.contains("números") && e.en.contains("numbers"));
    }
}
