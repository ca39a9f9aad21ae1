//! Figures in text: numbers with their unit, read the way Colombian spec sheets and
//! customers write them, so an answer's "17.2 km/L" and a sheet's "17,2 km/l" compare
//! equal and an invented "25 km/l" does not.
//!
//! What counts as a figure, and what does not:
//! - a number ("1.6", "1,6", "1.500", "1500", "1 500"), with a currency before it ("$",
//!   "COP", "USD"), a multiplier after it ("10 mil", "120 millones") and a unit after it,
//!   attached or spaced ("150hp", "150 hp"); units are compared by meaning (hp = cv =
//!   caballos, litros = l, años = years…);
//! - a number right after a label that is a unit ("Puestos: 7", "potencia hp: 114")
//!   takes that unit, and the first number of a range ("8–9 km/l", "entre 1.500 y 4.400
//!   rpm") takes the unit of the second;
//! - not figures: citation markers ("[1]"), list markers at the start of a line ("1. ",
//!   "2) "), ordinals ("1º", "3rd"), numbers glued to letters that are not a unit (codes
//!   and names: "CX-30", "4MOTION", "4x4"), numbers inside «…» or “…” (cited titles),
//!   and numbers written as words ("dos", "three") — small counts customers and models
//!   write both ways, which would flag more honest paraphrases than inventions.

/// What a figure measures. Units of one kind are interchangeable spellings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unit {
    Power,
    KmPerLitre,
    LitresPer100Km,
    KmPerGallon,
    Millimetres,
    Centimetres,
    Metres,
    Kilograms,
    Litres,
    NewtonMetres,
    KmPerHour,
    Kilometres,
    Years,
    Months,
    Weeks,
    Days,
    Hours,
    Minutes,
    Percent,
    Inches,
    CubicCentimetres,
    Rpm,
    Gallons,
    Money,
    Stars,
    Airbags,
    Speeds,
    Seats,
    Cylinders,
}

/// Unit spellings, folded (lowercase, no accents). Longer spellings are tried first.
const UNITS: &[(&str, Unit)] = &[
    ("caballos de fuerza", Unit::Power),
    ("caballos", Unit::Power),
    ("caballo", Unit::Power),
    ("horsepower", Unit::Power),
    ("hp", Unit::Power),
    ("cv", Unit::Power),
    ("bhp", Unit::Power),
    ("km/l", Unit::KmPerLitre),
    ("km/lt", Unit::KmPerLitre),
    ("km/litro", Unit::KmPerLitre),
    ("km por litro", Unit::KmPerLitre),
    ("kilometros por litro", Unit::KmPerLitre),
    ("km per litre", Unit::KmPerLitre),
    ("km per liter", Unit::KmPerLitre),
    ("kpl", Unit::KmPerLitre),
    ("l/100 km", Unit::LitresPer100Km),
    ("l/100km", Unit::LitresPer100Km),
    ("litros cada 100 km", Unit::LitresPer100Km),
    ("litros por cada 100 km", Unit::LitresPer100Km),
    ("litros por 100 km", Unit::LitresPer100Km),
    ("litres per 100 km", Unit::LitresPer100Km),
    ("liters per 100 km", Unit::LitresPer100Km),
    ("km por galon", Unit::KmPerGallon),
    ("km/galon", Unit::KmPerGallon),
    ("km/gal", Unit::KmPerGallon),
    ("kilometros por galon", Unit::KmPerGallon),
    ("mm", Unit::Millimetres),
    ("milimetros", Unit::Millimetres),
    ("millimeters", Unit::Millimetres),
    ("millimetres", Unit::Millimetres),
    ("cm", Unit::Centimetres),
    ("centimetros", Unit::Centimetres),
    ("centimeters", Unit::Centimetres),
    ("metros", Unit::Metres),
    ("metro", Unit::Metres),
    ("meters", Unit::Metres),
    ("metres", Unit::Metres),
    ("m", Unit::Metres),
    ("kg", Unit::Kilograms),
    ("kilos", Unit::Kilograms),
    ("kilogramos", Unit::Kilograms),
    ("kilograms", Unit::Kilograms),
    ("litros", Unit::Litres),
    ("litro", Unit::Litres),
    ("lts", Unit::Litres),
    ("lt", Unit::Litres),
    ("l", Unit::Litres),
    ("liters", Unit::Litres),
    ("litres", Unit::Litres),
    ("liter", Unit::Litres),
    ("litre", Unit::Litres),
    ("nm", Unit::NewtonMetres),
    ("newton metro", Unit::NewtonMetres),
    ("newton metros", Unit::NewtonMetres),
    ("km/h", Unit::KmPerHour),
    ("kph", Unit::KmPerHour),
    ("km por hora", Unit::KmPerHour),
    ("kilometros por hora", Unit::KmPerHour),
    ("km", Unit::Kilometres),
    ("kms", Unit::Kilometres),
    ("kilometros", Unit::Kilometres),
    ("kilometro", Unit::Kilometres),
    ("kilometers", Unit::Kilometres),
    ("kilometres", Unit::Kilometres),
    ("anos", Unit::Years),
    ("ano", Unit::Years),
    ("years", Unit::Years),
    ("year", Unit::Years),
    ("meses", Unit::Months),
    ("mes", Unit::Months),
    ("months", Unit::Months),
    ("month", Unit::Months),
    ("semanas", Unit::Weeks),
    ("semana", Unit::Weeks),
    ("weeks", Unit::Weeks),
    ("week", Unit::Weeks),
    ("dias habiles", Unit::Days),
    ("dias", Unit::Days),
    ("dia", Unit::Days),
    ("days", Unit::Days),
    ("day", Unit::Days),
    ("horas", Unit::Hours),
    ("hora", Unit::Hours),
    ("hours", Unit::Hours),
    ("hour", Unit::Hours),
    ("minutos", Unit::Minutes),
    ("minuto", Unit::Minutes),
    ("minutes", Unit::Minutes),
    ("minute", Unit::Minutes),
    ("min", Unit::Minutes),
    ("%", Unit::Percent),
    ("por ciento", Unit::Percent),
    ("percent", Unit::Percent),
    ("pulgadas", Unit::Inches),
    ("pulgada", Unit::Inches),
    ("inches", Unit::Inches),
    ("inch", Unit::Inches),
    ("\"", Unit::Inches),
    ("\u{201d}", Unit::Inches),
    ("cc", Unit::CubicCentimetres),
    ("cm3", Unit::CubicCentimetres),
    ("centimetros cubicos", Unit::CubicCentimetres),
    ("rpm", Unit::Rpm),
    ("galones", Unit::Gallons),
    ("galon", Unit::Gallons),
    ("gallons", Unit::Gallons),
    ("gallon", Unit::Gallons),
    ("gal", Unit::Gallons),
    ("pesos", Unit::Money),
    ("cop", Unit::Money),
    ("usd", Unit::Money),
    ("dolares", Unit::Money),
    ("dollars", Unit::Money),
    ("estrellas", Unit::Stars),
    ("estrella", Unit::Stars),
    ("stars", Unit::Stars),
    ("star", Unit::Stars),
    ("airbags", Unit::Airbags),
    ("airbag", Unit::Airbags),
    ("air bags", Unit::Airbags),
    ("bolsas de aire", Unit::Airbags),
    ("velocidades", Unit::Speeds),
    ("marchas", Unit::Speeds),
    ("cambios", Unit::Speeds),
    ("speeds", Unit::Speeds),
    ("puestos", Unit::Seats),
    ("pasajeros", Unit::Seats),
    ("plazas", Unit::Seats),
    ("asientos", Unit::Seats),
    ("seats", Unit::Seats),
    ("passengers", Unit::Seats),
    ("cilindros", Unit::Cylinders),
    ("cilindro", Unit::Cylinders),
    ("cylinders", Unit::Cylinders),
    ("cylinder", Unit::Cylinders),
];

/// Words after a number that multiply it ("10 mil km", "120 millones").
const MULTIPLIERS: &[(&str, f64)] = &[
    ("millones", 1e6),
    ("millon", 1e6),
    ("millions", 1e6),
    ("million", 1e6),
    ("mil", 1e3),
    ("thousand", 1e3),
];

/// Currency written before a number.
const CURRENCY_PREFIXES: &[&str] = &["us$", "cop$", "cop", "usd", "$"];

/// Words between the two ends of a range ("8–9", "12 a 72", "entre 1.500 y 4.400").
const RANGE_LINKS: &[&str] = &[
    "-", "–", "—", "a", "y", "o", "al", "hasta", "to", "and", "or",
];

/// A figure found in a text.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Quantity {
    pub value: f64,
    pub unit: Option<Unit>,
    /// Byte range of the figure as written, currency and unit included.
    pub span: std::ops::Range<usize>,
}

/// Every figure of a text, in order.
pub(crate) fn quantities(text: &str) -> Vec<Quantity> {
    Scanner::new(text).figures()
}

/// Every number value in a text, codes and names included ("CX-30" gives 30): a bare
/// number in an answer is supported when the context has it in any form.
pub(crate) fn all_numbers(text: &str) -> Vec<f64> {
    let scanner = Scanner::new(text);
    let mut values = Vec::new();
    let mut i = 0;
    while i < scanner.chars.len() {
        if scanner.chars[i].is_ascii_digit() {
            let (value, end) = scanner.number(i);
            if let Some(value) = value {
                values.push(value);
            } else {
                // A date or version like 12.5.2024: each group.
                let digits: String = scanner.chars[i..end].iter().collect();
                values.extend(
                    digits
                        .split(['.', ','])
                        .filter_map(|g| g.parse::<f64>().ok()),
                );
            }
            i = end.max(i + 1);
        } else {
            i += 1;
        }
    }
    values
}

/// Whether two figure values are the same number.
pub(crate) fn same_value(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

/// One number spelling: thousands separators go ("1.984" → 1984, "100.000" → 100000),
/// a single separator otherwise is the decimal mark ("9,1" → 9.1, "1.6" → 1.6). The
/// same rule as the knowledge analyzer's, so figures and index terms agree. `None` for
/// several groups that are not thousands (a date such as 12.5.2024).
pub(crate) fn parse_number(text: &str) -> Option<f64> {
    let groups: Vec<&str> = text.split(['.', ',']).collect();
    if groups
        .iter()
        .any(|g| g.is_empty() || !g.chars().all(|c| c.is_ascii_digit()))
    {
        return None;
    }
    match groups.as_slice() {
        [whole] => whole.parse().ok(),
        [first, rest @ ..] if first.len() <= 3 && rest.iter().all(|g| g.len() == 3) => {
            groups.concat().parse().ok()
        }
        [whole, decimals] => format!("{whole}.{decimals}").parse().ok(),
        _ => None,
    }
}

/// Walks a text's characters with their byte offsets and a folded copy (lowercase, no
/// accents, one folded character per original one) for comparing words.
struct Scanner<'a> {
    text: &'a str,
    chars: Vec<char>,
    folded: Vec<char>,
    offsets: Vec<usize>,
}

impl<'a> Scanner<'a> {
    fn new(text: &'a str) -> Self {
        let (offsets, chars): (Vec<usize>, Vec<char>) = text.char_indices().unzip();
        let folded = chars.iter().map(|c| fold_char(*c)).collect();
        Self {
            text,
            chars,
            folded,
            offsets,
        }
    }

    fn offset(&self, index: usize) -> usize {
        self.offsets.get(index).copied().unwrap_or(self.text.len())
    }

    fn is_word_char(&self, index: usize) -> bool {
        self.chars.get(index).is_some_and(|c| c.is_alphanumeric())
    }

    fn figures(&self) -> Vec<Quantity> {
        let hidden = self.hidden_ranges();
        let mut found: Vec<(Quantity, usize, usize)> = Vec::new();
        let mut i = 0;
        while i < self.chars.len() {
            let c = self.chars[i];
            let starts_number = c.is_ascii_digit() && !(i > 0 && self.glued_before(i));
            if !starts_number {
                if c.is_alphanumeric() {
                    // Skip the rest of a word so its digits ("cx30") are not figures.
                    while self.is_word_char(i) {
                        i += 1;
                    }
                } else {
                    i += 1;
                }
                continue;
            }
            let (value, end) = self.number(i);
            if hidden.iter().any(|r| r.contains(&i)) || self.is_list_marker(i, end) {
                i = end;
                continue;
            }
            let Some(value) = value else {
                i = end;
                continue;
            };
            match self.after_number(end) {
                After::Code(next) => {
                    i = next;
                }
                After::Figure {
                    multiplier,
                    unit,
                    end: figure_end,
                } => {
                    let (start, currency) = self.currency_before(i);
                    let unit = unit
                        .or(currency.then_some(Unit::Money))
                        .or_else(|| self.label_unit(i));
                    found.push((
                        Quantity {
                            value: value * multiplier,
                            unit,
                            span: self.offset(start)..self.offset(figure_end),
                        },
                        i,
                        end,
                    ));
                    i = figure_end.max(end);
                }
            }
        }
        self.spread_range_units(&mut found);
        found.into_iter().map(|(q, _, _)| q).collect()
    }

    /// Whether the digit at `index` continues a word: "cx30", "CX-30", "T-GDi 1".
    fn glued_before(&self, index: usize) -> bool {
        let previous = self.chars[index - 1];
        if previous.is_alphabetic() {
            return true;
        }
        if matches!(previous, '-' | '_') && index >= 2 {
            return self.chars[index - 2].is_alphabetic();
        }
        false
    }

    /// The number starting at `start`: digits with `.`/`,` between digits, and spaced
    /// thousands ("1 500"). Returns its value and the index after it.
    fn number(&self, start: usize) -> (Option<f64>, usize) {
        let mut end = start;
        loop {
            while end < self.chars.len() && self.chars[end].is_ascii_digit() {
                end += 1;
            }
            let separator = end + 1 < self.chars.len()
                && matches!(self.chars[end], '.' | ',')
                && self.chars[end + 1].is_ascii_digit();
            if !separator {
                break;
            }
            end += 1;
        }
        let mut written: String = self.chars[start..end].iter().collect();
        // "1 500", "120 000 000": groups of three after a space, only after a short
        // plain number.
        if written.len() <= 3 && written.chars().all(|c| c.is_ascii_digit()) {
            let mut at = end;
            loop {
                let group = at + 4 <= self.chars.len()
                    && matches!(self.chars[at], ' ' | '\u{a0}' | '\u{202f}')
                    && self.chars[at + 1..at + 4].iter().all(char::is_ascii_digit)
                    && !self
                        .chars
                        .get(at + 4)
                        .is_some_and(|c| c.is_ascii_digit() || matches!(c, '.' | ','));
                if !group {
                    break;
                }
                written.extend(&self.chars[at + 1..at + 4]);
                at += 4;
            }
            end = at;
        }
        (parse_number(&written.replace(' ', "")), end)
    }

    /// What follows a number: a unit (maybe after a multiplier), nothing, or letters
    /// that make it a code ("4MOTION", "4x4", "1st").
    fn after_number(&self, end: usize) -> After {
        let glued = self.chars.get(end).copied();
        if glued.is_some_and(|c| c.is_alphabetic() || matches!(c, 'º' | 'ª' | '°')) {
            // `unit_at` only matches a spelling that ends the word ("150hp", not "4x4").
            if let Some((unit, unit_end)) = self.unit_at(end) {
                return After::Figure {
                    multiplier: 1.0,
                    unit: Some(unit),
                    end: unit_end,
                };
            }
            let mut next = end;
            while next < self.chars.len()
                && (self.chars[next].is_alphanumeric() || matches!(self.chars[next], 'º' | 'ª'))
            {
                next += 1;
            }
            return After::Code(next);
        }
        if glued == Some('-') && self.chars.get(end + 1).is_some_and(|c| c.is_alphabetic()) {
            let mut next = end + 1;
            while self.is_word_char(next) {
                next += 1;
            }
            return After::Code(next);
        }
        // Glued symbols: "10%", `18"`.
        if let Some((unit, unit_end)) = self.unit_at(end) {
            return After::Figure {
                multiplier: 1.0,
                unit: Some(unit),
                end: unit_end,
            };
        }
        let mut at = self.skip_spaces(end);
        let mut multiplier = 1.0;
        let mut figure_end = end;
        if let Some((factor, word_end)) = self.multiplier_at(at) {
            multiplier = factor;
            figure_end = word_end;
            at = self.skip_spaces(word_end);
            // "120 millones de pesos"
            if self.word_at(at, "de") {
                let after_de = self.skip_spaces(at + 2);
                if self.unit_at(after_de).is_some() {
                    at = after_de;
                }
            }
        }
        if at > figure_end
            && let Some((unit, unit_end)) = self.unit_at(at)
        {
            return After::Figure {
                multiplier,
                unit: Some(unit),
                end: unit_end,
            };
        }
        After::Figure {
            multiplier,
            unit: None,
            end: figure_end,
        }
    }

    fn skip_spaces(&self, mut at: usize) -> usize {
        let mut skipped = 0;
        while at < self.chars.len()
            && matches!(self.chars[at], ' ' | '\u{a0}' | '\u{202f}')
            && skipped < 2
        {
            at += 1;
            skipped += 1;
        }
        at
    }

    /// The longest unit spelling at `at` that ends a word.
    fn unit_at(&self, at: usize) -> Option<(Unit, usize)> {
        let mut best: Option<(Unit, usize)> = None;
        for (spelling, unit) in UNITS {
            let len = spelling.chars().count();
            if at + len > self.folded.len() {
                continue;
            }
            let matches = self.folded[at..at + len]
                .iter()
                .zip(spelling.chars())
                .all(|(a, b)| *a == b);
            let ends_word =
                !spelling.ends_with(char::is_alphanumeric) || !self.is_word_char(at + len);
            if matches && ends_word && best.is_none_or(|(_, end)| at + len > end) {
                best = Some((*unit, at + len));
            }
        }
        best
    }

    fn multiplier_at(&self, at: usize) -> Option<(f64, usize)> {
        MULTIPLIERS
            .iter()
            .find(|(word, _)| self.word_at(at, word))
            .map(|(word, factor)| (*factor, at + word.chars().count()))
    }

    /// Whether the folded whole word `word` starts at `at`.
    fn word_at(&self, at: usize, word: &str) -> bool {
        let len = word.chars().count();
        at + len <= self.folded.len()
            && self.folded[at..at + len].iter().copied().eq(word.chars())
            && !self.is_word_char(at + len)
            && !(at > 0 && self.is_word_char(at - 1))
    }

    /// A currency sign or code right before the number: where the figure starts.
    fn currency_before(&self, start: usize) -> (usize, bool) {
        let mut at = start;
        while at > 0 && matches!(self.chars[at - 1], ' ' | '\u{a0}') && start - at < 2 {
            at -= 1;
        }
        for prefix in CURRENCY_PREFIXES {
            let len = prefix.chars().count();
            if at < len {
                continue;
            }
            let begins = at - len;
            let matches = self.folded[begins..at].iter().copied().eq(prefix.chars());
            let word_start = begins == 0 || !self.chars[begins - 1].is_alphanumeric();
            if matches && word_start {
                return (begins, true);
            }
        }
        (start, false)
    }

    /// "Puestos: 7", "potencia hp: 114": the unit named by the label before a colon.
    fn label_unit(&self, start: usize) -> Option<Unit> {
        let mut at = start;
        while at > 0 && self.chars[at - 1] == ' ' {
            at -= 1;
        }
        if at == 0 || self.chars[at - 1] != ':' {
            return None;
        }
        let end = at - 1;
        let mut begin = end;
        while begin > 0 && self.chars[begin - 1].is_alphanumeric() {
            begin -= 1;
        }
        let label: String = self.folded[begin..end].iter().collect();
        UNITS
            .iter()
            .find(|(spelling, _)| *spelling == label)
            .map(|(_, unit)| *unit)
    }

    /// Citation markers "[1]" and cited titles in «…» or “…”: character index ranges.
    fn hidden_ranges(&self) -> Vec<std::ops::Range<usize>> {
        let mut ranges = Vec::new();
        for (open, close) in [('[', ']'), ('«', '»'), ('\u{201c}', '\u{201d}')] {
            let mut from = None;
            for (i, c) in self.chars.iter().enumerate() {
                if *c == open {
                    from = Some(i);
                } else if *c == close
                    && let Some(start) = from.take()
                {
                    ranges.push(start..i);
                }
            }
        }
        ranges
    }

    /// "1. ", "2) " at the start of a line.
    fn is_list_marker(&self, start: usize, end: usize) -> bool {
        let line_start = self.chars[..start]
            .iter()
            .rev()
            .take_while(|c| **c != '\n')
            .all(|c| c.is_whitespace());
        // A marker is a plain number; "1.5 " would have been read as one number.
        line_start
            && matches!(self.chars.get(end), Some('.' | ')'))
            && self.chars.get(end + 1).is_none_or(|c| c.is_whitespace())
    }

    /// The first end of a range takes the unit of the second: "8–9 km/l".
    fn spread_range_units(&self, found: &mut [(Quantity, usize, usize)]) {
        for i in (0..found.len().saturating_sub(1)).rev() {
            if found[i].0.unit.is_some() {
                continue;
            }
            let Some(unit) = found[i + 1].0.unit else {
                continue;
            };
            let between: String = self.folded[found[i].2..found[i + 1].1].iter().collect();
            if RANGE_LINKS.contains(&between.trim()) {
                found[i].0.unit = Some(unit);
            }
        }
    }
}

enum After {
    /// Not a figure; scanning resumes here.
    Code(usize),
    Figure {
        multiplier: f64,
        unit: Option<Unit>,
        /// Index after the figure (its unit included).
        end: usize,
    },
}

/// Lowercase without accents, one character for one.
fn fold_char(c: char) -> char {
    let lower = c.to_lowercase().next().unwrap_or(c);
    match lower {
        'á' | 'à' | 'â' | 'ä' | 'ã' => 'a',
        'é' | 'è' | 'ê' | 'ë' => 'e',
        'í' | 'ì' | 'î' | 'ï' => 'i',
        'ó' | 'ò' | 'ô' | 'ö' | 'õ' => 'o',
        'ú' | 'ù' | 'û' | 'ü' => 'u',
        'ñ' => 'n',
        'ç' => 'c',
        '³' => '3',
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Vec<(f64, Option<Unit>, String)> {
        quantities(text)
            .into_iter()
            .map(|q| (q.value, q.unit, text[q.span].to_owned()))
            .collect()
    }

    #[test]
    fn numbers_have_one_value_however_written() {
        assert_eq!(parse_number("1.6"), Some(1.6));
        assert_eq!(parse_number("1,6"), Some(1.6));
        assert_eq!(parse_number("1.500"), Some(1500.0));
        assert_eq!(parse_number("120.000.000"), Some(120_000_000.0));
        assert_eq!(parse_number("10,25"), Some(10.25));
        assert_eq!(parse_number("12.5.2024"), None);
        assert_eq!(read("1 500 rpm")[0].0, 1500.0);
    }

    #[test]
    fn units_attached_spaced_and_after_multipliers() {
        assert_eq!(
            read("150hp y 17,2 km/L"),
            [
                (150.0, Some(Unit::Power), "150hp".to_owned()),
                (17.2, Some(Unit::KmPerLitre), "17,2 km/L".to_owned()),
            ]
        );
        assert_eq!(read("10 mil km")[0].0, 10_000.0);
        assert_eq!(read("10 mil km")[0].1, Some(Unit::Kilometres));
        let price = read("cuesta $ 120.000.000 o 120 millones de pesos");
        assert_eq!(
            price[0],
            (120e6, Some(Unit::Money), "$ 120.000.000".to_owned())
        );
        assert_eq!(price[1].0, 120e6);
        assert_eq!(price[1].1, Some(Unit::Money));
        assert_eq!(read("el 10%")[0].1, Some(Unit::Percent));
        assert_eq!(read("rines de 18\"")[0].1, Some(Unit::Inches));
    }

    #[test]
    fn codes_markers_and_titles_are_not_figures() {
        assert!(read("la CX-30 con 4MOTION, es 4x4").is_empty());
        assert!(read("según la ficha [1] y [2]").is_empty());
        assert!(read("1. Potencia\n2) Torque").is_empty());
        assert!(read("la 1ª fila, the 3rd row").is_empty());
        assert!(read("en «Tiguan 2025 — ficha técnica»").is_empty());
    }

    #[test]
    fn labels_and_ranges_give_units() {
        let found = read("Puestos: 7 (2 + 3 + 2); potencia hp: 114");
        assert_eq!(found[0].1, Some(Unit::Seats));
        assert_eq!(found.last().map(|f| f.1), Some(Some(Unit::Power)));
        let range = read("unos 8–9 km/l, entre 1.500 y 4.400 rpm");
        assert!(range.iter().all(|f| f.1.is_some()), "{range:?}");
    }
}
