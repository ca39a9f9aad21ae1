//! Free text at a button question: customers type "el segundo", "tiguan", "Tiguán",
//! "tiguna", "2" or "sí claro" instead of pressing a button. Matching is tolerant but
//! never guesses between two buttons: an ambiguous answer is re-asked.

use super::model::Choice;
use crate::engine::fold;

/// Words that mean yes/no, for buttons whose value is `yes` / `no`.
const YES: &[&str] = &[
    "si",
    "sii",
    "sip",
    "claro",
    "dale",
    "de una",
    "ok",
    "okay",
    "listo",
    "por supuesto",
    "yes",
    "yeah",
    "yep",
    "sure",
];
const NO: &[&str] = &[
    "no",
    "nop",
    "nope",
    "para nada",
    "ahora no",
    "not now",
    "nah",
];
const ORDINALS: &[&[&str]] = &[
    &[
        "primero",
        "primera",
        "el primero",
        "la primera",
        "first",
        "the first",
    ],
    &[
        "segundo",
        "segunda",
        "el segundo",
        "la segunda",
        "second",
        "the second",
    ],
    &[
        "tercero",
        "tercera",
        "el tercero",
        "la tercera",
        "third",
        "the third",
    ],
    &[
        "cuarto",
        "cuarta",
        "el cuarto",
        "la cuarta",
        "fourth",
        "the fourth",
    ],
];

/// The choice a customer's text names, if exactly one fits.
pub fn match_choice<'a>(text: &str, choices: &'a [Choice]) -> Option<&'a Choice> {
    let wanted = fold(text);
    if wanted.is_empty() {
        return None;
    }
    if let Ok(number) = wanted.parse::<usize>() {
        return number.checked_sub(1).and_then(|i| choices.get(i));
    }
    if let Some(position) = ORDINALS
        .iter()
        .position(|words| words.contains(&wanted.as_str()))
    {
        return choices.get(position);
    }
    let names = |choice: &Choice| -> Vec<String> {
        let mut names = vec![
            fold(&choice.title.es),
            fold(&choice.title.en),
            fold(&choice.value),
        ];
        names.extend(choice.synonyms.iter().map(|s| fold(s)));
        match choice.value.as_str() {
            "yes" | "si" => names.extend(YES.iter().map(|s| s.to_string())),
            "no" => names.extend(NO.iter().map(|s| s.to_string())),
            _ => {}
        }
        names.retain(|n| !n.is_empty());
        names
    };
    // 1. The whole answer is a title, value or synonym.
    let exact: Vec<&Choice> = choices
        .iter()
        .filter(|c| names(c).contains(&wanted))
        .collect();
    if let [one] = exact.as_slice() {
        return Some(one);
    }
    // 2. A title or synonym appears as whole words inside the answer ("el tiguan porfa").
    let padded = format!(" {wanted} ");
    let inside: Vec<&Choice> = choices
        .iter()
        .filter(|c| {
            names(c)
                .iter()
                .any(|n| n.len() >= 3 && padded.contains(&format!(" {n} ")))
        })
        .collect();
    if let [one] = inside.as_slice() {
        return Some(one);
    }
    // 3. The answer is part of a title ("corolla" for "Corolla Cross"). When it is part
    //    of several ("cross" for "T-Cross" and "Corolla Cross") nobody can tell which
    //    one was meant, and a typo match below would only guess.
    let part_of: Vec<&Choice> = choices
        .iter()
        .filter(|c| names(c).iter().any(|n| format!(" {n} ").contains(&padded)))
        .collect();
    match part_of.as_slice() {
        [one] if wanted.chars().count() >= 3 => return Some(one),
        [_, _, ..] => return None,
        _ => {}
    }
    // 4. A typo: the closest name within a small edit distance, if unambiguous.
    let mut scored: Vec<(usize, &Choice)> = choices
        .iter()
        .filter_map(|c| {
            names(c)
                .iter()
                .filter(|n| n.chars().count() >= 4)
                .map(|n| strsim::damerau_levenshtein(&wanted, n))
                .filter(|d| *d <= (wanted.chars().count() / 5).max(1))
                .min()
                .map(|d| (d, c))
        })
        .collect();
    scored.sort_by_key(|(d, _)| *d);
    match scored.as_slice() {
        [(_, one)] => Some(one),
        [(best, one), (second, _), ..] if best < second => Some(one),
        _ => None,
    }
}

/// What an escape word asks for. They work the same at every step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Escape {
    Menu,
    Cancel,
    Advisor,
    Back,
    Language(crate::engine::Language),
}

const MENU_WORDS: &[&str] = &[
    "menu",
    "menu principal",
    "volver al menu",
    "inicio",
    "main menu",
    "home",
];
const CANCEL_WORDS: &[&str] = &[
    "cancelar",
    "cancela",
    "cancelalo",
    "cancel",
    "stop",
    "salir",
    "olvidalo",
];
const BACK_WORDS: &[&str] = &["atras", "volver", "regresar", "anterior", "back", "go back"];
const ADVISOR_WORDS: &[&str] = &[
    "asesor", "asesora", "agente", "humano", "persona", "advisor", "agent", "human",
];

/// The escape a whole message asks for. Menu, cancel and back must be the whole message
/// ("no quiero cancelar la cita" is not a cancel); asking for a person may be a phrase.
pub fn escape(text: &str) -> Option<Escape> {
    use crate::engine::Language;
    let folded = fold(text);
    let words = folded.as_str();
    if MENU_WORDS.contains(&words) {
        return Some(Escape::Menu);
    }
    if CANCEL_WORDS.contains(&words) {
        return Some(Escape::Cancel);
    }
    if BACK_WORDS.contains(&words) {
        return Some(Escape::Back);
    }
    match words {
        "english" | "in english" | "ingles" | "en ingles" => {
            return Some(Escape::Language(Language::En));
        }
        "espanol" | "spanish" | "en espanol" | "in spanish" => {
            return Some(Escape::Language(Language::Es));
        }
        _ => {}
    }
    let asks_for_person =
        folded.split(' ').any(|w| ADVISOR_WORDS.contains(&w)) && folded.split(' ').count() <= 8;
    asks_for_person.then_some(Escape::Advisor)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Localized;

    fn choice(value: &str, es: &str, en: &str, synonyms: &[&str]) -> Choice {
        Choice {
            value: value.into(),
            title: Localized::new(es, en),
            synonyms: synonyms.iter().map(|s| s.to_string()).collect(),
            display: None,
        }
    }

    fn models() -> Vec<Choice> {
        vec![
            choice("tiguan", "Tiguan", "Tiguan", &[]),
            choice("t_cross", "T-Cross", "T-Cross", &["tcross"]),
            choice("corolla_cross", "Corolla Cross", "Corolla Cross", &[]),
        ]
    }

    #[test]
    fn tolerant_matches() {
        let m = models();
        let value = |t: &str| match_choice(t, &m).map(|c| c.value.as_str());
        assert_eq!(value("2"), Some("t_cross"));
        assert_eq!(value("el segundo"), Some("t_cross"));
        assert_eq!(value("TIGUÁN"), Some("tiguan"));
        assert_eq!(value("tiguna"), Some("tiguan"), "one transposition");
        assert_eq!(value("me interesa el tiguan porfa"), Some("tiguan"));
        assert_eq!(value("tcross"), Some("t_cross"), "synonym");
        assert_eq!(value("corola cross"), Some("corolla_cross"));
        assert_eq!(value("4"), None);
        assert_eq!(value("un camión"), None);
        assert_eq!(value("cross"), None, "two buttons contain it: ask again");
        assert_eq!(value("corolla"), Some("corolla_cross"), "part of one title");
    }

    #[test]
    fn yes_and_no_words() {
        let yes_no = vec![
            choice("yes", "Sí", "Yes", &[]),
            choice("no", "No", "No", &[]),
        ];
        let value = |t: &str| match_choice(t, &yes_no).map(|c| c.value.as_str());
        assert_eq!(value("sí"), Some("yes"));
        assert_eq!(value("claro"), Some("yes"));
        assert_eq!(value("Yes"), Some("yes"));
        assert_eq!(value("nop"), Some("no"));
        assert_eq!(value("quizás"), None);
    }

    #[test]
    fn escapes() {
        use crate::engine::Language;
        assert_eq!(escape("Menú"), Some(Escape::Menu));
        assert_eq!(escape("cancelar"), Some(Escape::Cancel));
        assert_eq!(escape("no quiero cancelar la cita"), None);
        assert_eq!(escape("ATRÁS"), Some(Escape::Back));
        assert_eq!(escape("quiero hablar con un asesor"), Some(Escape::Advisor));
        assert_eq!(escape("agent"), Some(Escape::Advisor));
        assert_eq!(escape("English"), Some(Escape::Language(Language::En)));
        assert_eq!(escape("en español"), Some(Escape::Language(Language::Es)));
        assert_eq!(escape("3001234567"), None);
    }
}
