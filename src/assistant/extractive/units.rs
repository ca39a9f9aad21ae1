//! Passages cut into the pieces an extractive answer is made of: one spec line, one
//! table row, one sentence of prose. Markdown marks are removed and figures are kept
//! exactly as written, so an answer quotes the sheet and the grounding check finds
//! every figure in it.
//!
//! Sentences end at `.`, `?`, `!` or `…` followed by a space and a capital letter (or
//! `¿`/`¡`), unless the word before the point is an abbreviation ("aprox.", "Sr.",
//! "p. ej.") or a single letter; "1.5" and "aprox. 180 mm" therefore stay whole. A
//! sentence of three words or fewer ("Sí.", "No tiene costo.") joins the next one.

/// Words that end with a point without ending a sentence. Folded, without the point.
const ABBREVIATIONS: &[&str] = &[
    "aprox", "approx", "sr", "sra", "srta", "dr", "dra", "lic", "ing", "ej", "etc", "no", "num",
    "nro", "pag", "art", "av", "cra", "cl", "tel", "vs", "max", "min", "ref", "cc", "e.g", "i.e",
    "mr", "mrs", "ms", "st", "inc", "ltda", "s.a", "s.a.s",
];

/// One piece of a passage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Unit {
    /// Clean text: no list marker, no Markdown emphasis.
    pub text: String,
    /// Position in the passage, from 0.
    pub order: usize,
    /// The unit introduces the list after it ("**Independientes:**").
    pub lead: bool,
    /// For list items under a lead: the lead's `order`.
    pub under: Option<usize>,
}

/// Cuts a passage's text into units. `fields`: the text is a table row written as
/// "columna: valor. columna: valor." (a CSV row), and each field is a unit.
pub(crate) fn units(text: &str, fields: bool) -> Vec<Unit> {
    let mut units: Vec<Unit> = Vec::new();
    let mut current_lead: Option<usize> = None;
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() {
            // Markdown often has a blank line between a lead and its list.
            continue;
        }
        let (item, is_list_item) = strip_list_marker(trimmed);
        let clean = clean_markdown(item);
        if clean.is_empty() {
            continue;
        }
        if !is_list_item {
            current_lead = None;
        }
        let found = sentences(&clean, fields);
        // A table row's fields are short by nature and each says one thing.
        let found = if fields {
            found.into_iter().map(str::to_owned).collect()
        } else {
            join_short(found)
        };
        for sentence in found {
            let order = units.len();
            let lead = sentence.ends_with(':');
            units.push(Unit {
                text: sentence,
                order,
                lead,
                under: if lead { None } else { current_lead },
            });
            if lead {
                current_lead = Some(order);
            }
        }
    }
    units
}

/// Words in a sentence too short to stand alone ("Sí.", "No.", "Por lo general sí."):
/// it joins the sentence after it.
const SHORT_SENTENCE: usize = 3;

/// Joins each short sentence to the one after it.
fn join_short(sentences: Vec<&str>) -> Vec<String> {
    let mut joined: Vec<String> = Vec::with_capacity(sentences.len());
    let mut pending: Option<String> = None;
    for sentence in sentences {
        let text = match pending.take() {
            Some(short) => format!("{short} {sentence}"),
            None => sentence.to_owned(),
        };
        if text.split_whitespace().count() <= SHORT_SENTENCE && !text.ends_with(':') {
            pending = Some(text);
        } else {
            joined.push(text);
        }
    }
    joined.extend(pending);
    joined
}

/// "- item", "* item", "+ item", "1. item", "2) item" → ("item", true).
fn strip_list_marker(line: &str) -> (&str, bool) {
    for marker in ["- ", "* ", "+ ", "• "] {
        if let Some(rest) = line.strip_prefix(marker) {
            return (rest.trim_start(), true);
        }
    }
    let digits = line.len() - line.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    if digits > 0 && digits <= 2 {
        let rest = &line[digits..];
        if let Some(rest) = rest.strip_prefix(". ").or_else(|| rest.strip_prefix(") ")) {
            return (rest.trim_start(), true);
        }
    }
    (line, false)
}

/// Removes emphasis and code marks and turns links into their text.
fn clean_markdown(text: &str) -> String {
    let without_marks = text.replace("**", "").replace("__", "").replace('`', "");
    // [text](url) → text
    let mut out = String::with_capacity(without_marks.len());
    let mut rest = without_marks.as_str();
    while let Some(open) = rest.find('[') {
        let after = &rest[open + 1..];
        let link = after.find("](").and_then(|close| {
            after[close + 2..]
                .find(')')
                .map(|end| (close, close + 2 + end + 1))
        });
        match link {
            Some((close, end)) => {
                out.push_str(&rest[..open]);
                out.push_str(&after[..close]);
                rest = &after[end..];
            }
            None => {
                out.push_str(&rest[..=open]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Sentences of one line (see the module documentation); with `fields`, every ". "
/// ends one.
fn sentences(line: &str, fields: bool) -> Vec<&str> {
    let chars: Vec<(usize, char)> = line.char_indices().collect();
    let mut found = Vec::new();
    let mut start = 0;
    for (k, &(i, c)) in chars.iter().enumerate() {
        if !matches!(c, '.' | '?' | '!' | '…') {
            continue;
        }
        // The mark may be followed by closing quotes or brackets before the space.
        let mut next = k + 1;
        while chars
            .get(next)
            .is_some_and(|(_, c)| matches!(c, '»' | '"' | '\u{201d}' | ')'))
        {
            next += 1;
        }
        let Some(&(_, space)) = chars.get(next) else {
            continue;
        };
        if !space.is_whitespace() {
            continue;
        }
        let starts_sentence = fields
            || chars
                .get(next + 1)
                .is_some_and(|(_, c)| c.is_uppercase() || matches!(c, '¿' | '¡' | '«' | '"'));
        if !starts_sentence || (c == '.' && is_abbreviation(&line[start..i])) {
            continue;
        }
        let end = chars.get(next).map_or(line.len(), |(at, _)| *at);
        let sentence = line[start..end].trim();
        if !sentence.is_empty() {
            found.push(sentence);
        }
        start = end;
    }
    let rest = line[start..].trim();
    if !rest.is_empty() {
        found.push(rest);
    }
    found
}

/// Whether the word right before a point (at the end of `before`) is an abbreviation
/// or a single letter ("a. m.", "J. Pérez").
fn is_abbreviation(before: &str) -> bool {
    let word: String = before
        .chars()
        .rev()
        .take_while(|c| c.is_alphanumeric() || *c == '.')
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let folded = crate::knowledge::analysis::normalize::fold(&word);
    let folded = folded.trim_matches('.');
    folded.chars().count() == 1 && folded.chars().all(char::is_alphabetic)
        || ABBREVIATIONS.contains(&folded)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(text: &str) -> Vec<String> {
        units(text, false).into_iter().map(|u| u.text).collect()
    }

    #[test]
    fn spec_lines_and_table_rows_are_units_without_markdown() {
        assert_eq!(
            texts("- **Potencia:** 150 hp a 5.000 rpm\n- Tanque: 52 litros.\nLargo: 4.199 mm"),
            [
                "Potencia: 150 hp a 5.000 rpm",
                "Tanque: 52 litros.",
                "Largo: 4.199 mm"
            ]
        );
    }

    #[test]
    fn prose_splits_at_sentences_but_not_at_abbreviations_or_decimals() {
        assert_eq!(
            texts(
                "Altura aprox. 180 mm con motor 1.5 turbo. El Sr. Gómez lo confirma. ¿Tienes más dudas sobre esto? Escribe «asesor»."
            ),
            [
                "Altura aprox. 180 mm con motor 1.5 turbo.",
                "El Sr. Gómez lo confirma.",
                "¿Tienes más dudas sobre esto?",
                "Escribe «asesor»."
            ]
        );
        assert_eq!(
            texts("Consumo: 11 km/l (unos 9,1 l/100 km). En ciudad baja a 8 km/l."),
            [
                "Consumo: 11 km/l (unos 9,1 l/100 km).",
                "En ciudad baja a 8 km/l."
            ]
        );
        assert_eq!(
            texts("Abrimos a las 7 a. m. todos los días. Te esperamos."),
            ["Abrimos a las 7 a. m. todos los días.", "Te esperamos."]
        );
    }

    #[test]
    fn list_items_remember_their_lead_line() {
        let found = units(
            "**Independientes:**\n\n- Cédula.\n- RUT.\n\nOtra cosa.\n- Suelta.",
            false,
        );
        assert!(found[0].lead);
        assert_eq!(found[0].text, "Independientes:");
        assert_eq!(found[1].under, Some(0));
        assert_eq!(found[2].under, Some(0));
        assert_eq!(found[3].under, None);
        assert_eq!(found[4].under, None, "prose ends the lead's list");
    }

    #[test]
    fn a_short_answer_joins_its_explanation() {
        assert_eq!(
            texts("Sí. Recibimos tu carro en retoma. No. Eso no."),
            ["Sí. Recibimos tu carro en retoma.", "No. Eso no."]
        );
    }

    #[test]
    fn csv_rows_give_one_unit_per_field() {
        let found: Vec<String> = units(
            "version: Zen. motor: 1.6 SCe gasolina. potencia hp: 114.",
            true,
        )
        .into_iter()
        .map(|u| u.text)
        .collect();
        assert_eq!(
            found,
            [
                "version: Zen.",
                "motor: 1.6 SCe gasolina.",
                "potencia hp: 114."
            ]
        );
    }

    #[test]
    fn links_keep_their_text() {
        assert_eq!(
            texts("Lee [la política](https://x.example/p) aquí."),
            ["Lee la política aquí."]
        );
    }
}
