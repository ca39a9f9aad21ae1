//! Who the customer is: e-mail, phone, national id, name. Each is checked by the same
//! parser the flows use, so a value found in free text is exactly what a flow question
//! would have saved; ids and names need a cue ("cédula", "me llamo") because a bare
//! number or a capitalized word is too often something else.

use std::ops::Range;
use std::sync::LazyLock;

use regex::Regex;

use super::regex;
use super::view::{View, overlaps, tokens};
use crate::flows::input::{self, InputContext, InputKind};
use crate::leads::model::{Email, NationalId, PhoneE164};

static EMAIL: LazyLock<Regex> =
    LazyLock::new(|| regex(r"(?i)[a-z0-9._%+\-]+@[a-z0-9\-]+(?:\.[a-z0-9\-]+)+"));

pub(super) fn find_email(text: &str) -> Option<(Email, Range<usize>)> {
    EMAIL
        .find_iter(text)
        .find_map(|m| Email::parse(m.as_str()).map(|email| (email, m.range())))
}

/// "cédula 1.020.304.050", "cc 1020304050", "NIT 900.123.456-8": an id needs its cue.
static NATIONAL_ID: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r"\b(?:(?:numero de )?(?:cedula(?: de ciudadania)?|documento(?: de identidad)?|identificacion)|c\.\s?c\.?|cc|(?P<nit>nit|n\.i\.t\.?)|id number|id)(?:\s+(?:es|is|no\.?|numero|nro\.?))*\s*[:#=]?\s*(?P<number>\d[\d.,'\s\-]{4,22}\d)",
    )
});

pub(super) fn find_national_id(folded: &View) -> Option<(NationalId, Range<usize>)> {
    for caps in NATIONAL_ID.captures_iter(&folded.text) {
        let (Some(whole), Some(number)) = (caps.get(0), caps.name("number")) else {
            continue;
        };
        let is_nit = caps.name("nit").is_some();
        for candidate in prefixes(number.as_str()) {
            let digits: String = candidate.chars().filter(char::is_ascii_digit).collect();
            // A NIT written without its dash: the last of ten digits is the check digit.
            let nit_guess = (is_nit && !candidate.contains('-') && digits.len() == 10)
                .then(|| format!("{}-{}", &digits[..9], &digits[9..]))
                .and_then(|text| NationalId::parse(&text));
            if let Some(id) = nit_guess.or_else(|| NationalId::parse(candidate)) {
                let end = number.start() + candidate.len();
                return Some((id, folded.original(whole.start()..end)));
            }
        }
    }
    None
}

/// `text`, then shorter and shorter prefixes that end before a space: a number run on
/// into the next one ("1020304050 3001234567") still yields its first number.
fn prefixes(text: &str) -> impl Iterator<Item = &str> {
    let text = text.trim_end_matches(|c: char| !c.is_ascii_digit());
    let cuts = text
        .char_indices()
        .filter(|(_, c)| c.is_whitespace())
        .map(|(at, _)| text[..at].trim_end())
        .collect::<Vec<_>>();
    std::iter::once(text).chain(cuts.into_iter().rev())
}

static PHONE_CANDIDATE: LazyLock<Regex> =
    LazyLock::new(|| regex(r"[+(]?\s?\d[\d \t().\-]{5,24}\d"));
/// Amounts written with thousands separators are money or ids, not phones.
static THOUSANDS: LazyLock<Regex> = LazyLock::new(|| regex(r"^\d{1,3}(?:\.\d{3})+$"));
static MONEY_AFTER: LazyLock<Regex> = LazyLock::new(|| {
    regex(r"^\s*(?:millones|millon|mil|m|mm|k|pesos|cop|usd|dolares|km|kms|kilometros|cc|hp)\b")
});

pub(super) fn find_phone(
    folded: &View,
    used: &[Range<usize>],
    ctx: &InputContext,
) -> Option<PhoneE164> {
    for found in PHONE_CANDIDATE.find_iter(&folded.text) {
        if overlaps(&folded.original(found.range()), used) {
            continue;
        }
        let before = folded.text[..found.start()].trim_end();
        if before.ends_with('$') || MONEY_AFTER.is_match(&folded.text[found.end()..]) {
            continue;
        }
        for window in windows(found.as_str()) {
            let digits = window.chars().filter(char::is_ascii_digit).count();
            if THOUSANDS.is_match(window) || (digits < 8 && !window.starts_with('+')) {
                continue;
            }
            if let Some(phone) = PhoneE164::parse(window, ctx) {
                return Some(phone);
            }
        }
    }
    None
}

/// Runs of whitespace-separated groups of `text`, longest first: "modelo 2018 300 123
/// 4567" finds the phone after the year.
fn windows(text: &str) -> Vec<&str> {
    let groups: Vec<Range<usize>> = {
        let mut out = Vec::new();
        let mut start = None;
        for (at, c) in text.char_indices() {
            match (c.is_whitespace(), start) {
                (false, None) => start = Some(at),
                (true, Some(s)) => {
                    out.push(s..at);
                    start = None;
                }
                _ => {}
            }
        }
        if let Some(s) = start {
            out.push(s..text.len());
        }
        out
    };
    // Eight groups are more than any phone's: "+57 300 123 45 67" has five.
    let groups = &groups[..groups.len().min(8)];
    let mut out = Vec::new();
    for len in (1..=groups.len()).rev() {
        for first in 0..=groups.len() - len {
            out.push(&text[groups[first].start..groups[first + len - 1].end]);
        }
    }
    out
}

// Names.

/// "me llamo", "mi nombre es" are followed by a name even in lowercase; "soy", "I am"
/// are followed by many other things ("soy de Cali"), so the name must be capitalized.
static NAME_CUE: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r"\b(?:(?P<sure>me llamo|mi nombre es|mi nombre completo es|my name is|my name s)|(?:yo soy|soy|i am|i m|im|this is|le habla|te habla|les habla))\s",
    )
});

/// Words that end a name.
const NAME_STOPS: &[&str] = &[
    "y",
    "e",
    "o",
    "and",
    "or",
    "tengo",
    "quiero",
    "estoy",
    "busco",
    "necesito",
    "quisiera",
    "me",
    "mi",
    "te",
    "le",
    "para",
    "por",
    "con",
    "que",
    "vivo",
    "soy",
    "desde",
    "en",
    "from",
    "in",
    "at",
    "i",
    "my",
    "want",
    "need",
    "have",
    "looking",
    "un",
    "una",
    "el",
    "cliente",
    "cel",
    "celular",
    "telefono",
    "correo",
    "email",
    "cedula",
    "cc",
    "nit",
    "numero",
    "gracias",
    "please",
    "hola",
    "interesado",
    "interesada",
    "interested",
    "sobre",
    "about",
    "buenas",
    "buenos",
    "nuevo",
    "nueva",
    "new",
    "customer",
    "client",
    "a",
    "an",
    "the",
    "here",
    "aqui",
    "yo",
    "usted",
    "ustedes",
    "su",
    "tu",
    "del",
    "de",
    "la",
    "las",
    "los",
];
/// Words allowed inside a name before a capitalized word: "María de los Ángeles".
const NAME_PARTICLES: &[&str] = &["de", "del", "la", "las", "los"];
const NAME_MAX_WORDS: usize = 5;

pub(super) fn find_name(
    source: &str,
    words: &View,
    cities: &[(String, String)],
    ctx: &InputContext,
) -> Option<(String, Range<usize>)> {
    let tokens = tokens(&words.text);
    let capitalized = |token: &Range<usize>| {
        let at = words.original(token.clone()).start;
        source[at..].chars().next().is_some_and(char::is_uppercase)
    };
    let is_city = |word: &str| cities.iter().any(|(_, w)| w == word);
    for cue in NAME_CUE.captures_iter(&words.text) {
        let Some(whole) = cue.get(0) else { continue };
        let sure = cue.name("sure").is_some();
        let Some(first) = tokens.iter().position(|t| t.start >= whole.end()) else {
            continue;
        };
        let mut picked: Vec<&Range<usize>> = Vec::new();
        let mut i = first;
        while let Some(token) = tokens.get(i) {
            let word = &words.text[token.clone()];
            if NAME_PARTICLES.contains(&word) && !picked.is_empty() {
                // Particles belong to the name only when a capitalized name word follows.
                let next = tokens[i..]
                    .iter()
                    .position(|t| !NAME_PARTICLES.contains(&&words.text[t.clone()]))
                    .map(|n| i + n);
                match next.and_then(|n| tokens.get(n).map(|t| (n, t))) {
                    Some((n, t))
                        if capitalized(t)
                            && !NAME_STOPS.contains(&&words.text[t.clone()])
                            && !is_city(&words.text[t.clone()]) =>
                    {
                        picked.extend(&tokens[i..n]);
                        i = n;
                        continue;
                    }
                    _ => break,
                }
            }
            let plain_word = word.chars().all(char::is_alphabetic);
            if NAME_STOPS.contains(&word)
                || !plain_word
                || (picked.is_empty() && !sure && !capitalized(token))
                || picked.len() >= NAME_MAX_WORDS
            {
                break;
            }
            picked.push(token);
            i += 1;
        }
        let (Some(first), Some(last)) = (picked.first(), picked.last()) else {
            continue;
        };
        let at = words.original(first.start..last.end);
        let Ok(parsed) = input::parse(InputKind::Name, &source[at.clone()], ctx) else {
            continue;
        };
        if let Some(name) = parsed.value.as_str() {
            return Some((name.to_owned(), at));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::super::test_support::read;
    use crate::leads::model::Signal;

    #[test]
    fn emails() {
        let x = read("mi correo es Ana.Gomez@Example.com, gracias");
        assert_eq!(x.profile.email.unwrap().as_str(), "ana.gomez@example.com");
        assert!(x.signals.contains(&Signal::GaveContact));
        assert_eq!(read("escríbeme a ana arroba gmail").profile.email, None);
        assert_eq!(read("ana@gmial.com").profile.email, None, "typo refused");
    }

    #[test]
    fn colombian_phones() {
        for text in [
            "mi cel es 300 123 4567",
            "llámame al +57 300 123 4567 por favor",
            "3001234567",
            "whatsapp: (300) 123-4567",
            "tengo un carro modelo 2018 3001234567",
        ] {
            let x = read(text);
            assert_eq!(
                x.profile.phone.as_ref().map(|p| p.as_str()),
                Some("+573001234567"),
                "{text}"
            );
            assert!(x.signals.contains(&Signal::GaveContact), "{text}");
        }
    }

    #[test]
    fn numbers_that_are_not_phones() {
        for text in [
            "tengo un presupuesto de $120.000.000",
            "cédula 1.020.304.050",
            "cc 1020304050",
            "hasta 90000000 pesos",
            "un carro de 2018 con 45000 km",
            "1234567",
        ] {
            assert_eq!(read(text).profile.phone, None, "{text}");
        }
    }

    #[test]
    fn national_ids_need_their_cue() {
        let id = |text: &str| {
            read(text)
                .profile
                .national_id
                .map(|i| i.as_str().to_owned())
        };
        assert_eq!(id("mi cédula 1.020.304.050").as_deref(), Some("1020304050"));
        assert_eq!(
            id("CC 1020304050 y cel 3001234567").as_deref(),
            Some("1020304050")
        );
        assert_eq!(
            id("Cédula de ciudadanía: 52.123.456").as_deref(),
            Some("52123456")
        );
        assert_eq!(id("NIT 900.123.456-8").as_deref(), Some("900123456-8"));
        assert_eq!(id("nit 9001234568").as_deref(), Some("900123456-8"));
        assert_eq!(id("1020304050"), None, "no cue");
        assert_eq!(id("un motor de 1600 cc 2018"), None);
        assert_eq!(id("NIT 900.123.456-1"), None, "wrong check digit");
        let x = read("cc 1020304050 y cel 3001234567");
        assert_eq!(x.profile.phone.unwrap().as_str(), "+573001234567");
    }

    #[test]
    fn names_after_a_cue() {
        let name = |text: &str| read(text).profile.name;
        assert_eq!(
            name("Hola, me llamo Ana María Gómez").as_deref(),
            Some("Ana María Gómez")
        );
        assert_eq!(
            name("me llamo ana maria gomez y quiero una tiguan").as_deref(),
            Some("Ana Maria Gomez")
        );
        assert_eq!(
            name("mi nombre es Carlos Andrés Ruiz, cel 3001234567").as_deref(),
            Some("Carlos Andrés Ruiz")
        );
        assert_eq!(name("soy Juan Pérez").as_deref(), Some("Juan Pérez"));
        assert_eq!(name("My name is John Smith").as_deref(), Some("John Smith"));
        assert_eq!(
            name("me llamo María de los Ángeles Ruiz").as_deref(),
            Some("María de los Ángeles Ruiz")
        );
        assert_eq!(name("Soy Ana de Cali").as_deref(), Some("Ana"));
        for text in [
            "soy de Cali",
            "soy cliente de ustedes",
            "Soy Cliente",
            "soy nuevo",
            "I am looking for a Tiguan",
            "I'm interested in the Duster",
            "soy 3001234567",
            "hola",
        ] {
            assert_eq!(name(text), None, "{text}");
        }
    }
}
