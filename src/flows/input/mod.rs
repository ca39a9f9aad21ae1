//! Typed input: turns what a customer typed for a flow question into a canonical value,
//! or into a friendly re-ask in their language. Every kind parses Spanish and English
//! whatever the conversation language, because bilingual customers mix them; the
//! language only picks the message and the display form.

mod date;
mod email;
mod name;
mod national_id;
mod number;
mod phone;
mod plate;
mod text;
mod time;
mod vin;

/// Number words ("dos", "quince", "forty"), shared with the leads extractor.
pub(crate) use number::word_number;

use serde::{Deserialize, Serialize};

/// What kind of answer a flow question expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InputKind {
    Text,
    Name,
    Phone,
    Email,
    Cedula,
    Nit,
    Plate,
    Vin,
    Number,
    Date,
    Time,
}

impl InputKind {
    pub const ALL: &'static [InputKind] = &[
        InputKind::Text,
        InputKind::Name,
        InputKind::Phone,
        InputKind::Email,
        InputKind::Cedula,
        InputKind::Nit,
        InputKind::Plate,
        InputKind::Vin,
        InputKind::Number,
        InputKind::Date,
        InputKind::Time,
    ];

    /// The name used in flow files; the same as the serde name.
    pub fn as_str(self) -> &'static str {
        match self {
            InputKind::Text => "text",
            InputKind::Name => "name",
            InputKind::Phone => "phone",
            InputKind::Email => "email",
            InputKind::Cedula => "cedula",
            InputKind::Nit => "nit",
            InputKind::Plate => "plate",
            InputKind::Vin => "vin",
            InputKind::Number => "number",
            InputKind::Date => "date",
            InputKind::Time => "time",
        }
    }

    /// The inverse of [`InputKind::as_str`]; exact match, as flow files are written by staff.
    pub fn parse_name(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|kind| kind.as_str() == s)
    }

    /// The input type a Spanish-speaking editor probably meant by a Spanish word
    /// (`nombre`, `teléfono`…): used only to suggest the right name in `flows check`.
    pub fn from_spanish(word: &str) -> Option<Self> {
        let kind = match crate::engine::fold(word).as_str() {
            "texto" | "libre" => Self::Text,
            "nombre" | "nombres" => Self::Name,
            "telefono" | "celular" | "movil" | "whatsapp" => Self::Phone,
            "correo" | "mail" | "e mail" => Self::Email,
            "placa" | "patente" | "matricula" => Self::Plate,
            "numero" | "kilometraje" | "cantidad" => Self::Number,
            "fecha" | "dia" => Self::Date,
            "hora" => Self::Time,
            "vin" | "chasis" | "serial" => Self::Vin,
            "cc" | "documento" => Self::Cedula,
            _ => return None,
        };
        Some(kind)
    }
}

/// What the parsers need to know about the branch and the customer.
#[derive(Debug, Clone)]
pub struct InputContext {
    /// "Now" in the branch's time zone (e.g. America/Bogota); relative dates use it.
    pub now: jiff::Zoned,
    /// Region assumed for phone numbers typed without a country code.
    pub default_region: phonenumber::country::Id,
    /// Which plate patterns to accept.
    pub plate_country: PlateCountry,
    /// The customer's language; used only for messages and display, never for parsing.
    pub language: Lang,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Es,
    En,
}

/// Country whose licence plate formats are accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum PlateCountry {
    Co,
    Mx,
    Pe,
    Cl,
    Ec,
}

/// A successfully parsed value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Parsed {
    /// Canonical machine value, stored and used in conditions: e.g. "+573001234567", "ana@example.com",
    /// "1020304050", "900123456-8", "ABC123", "1HGCM82633A004352", 45000 (JSON number), "2026-12-15", "15:00".
    pub value: serde_json::Value,
    /// How to show it back to the customer, in their language: "+57 300 1234567", "martes 15 de diciembre", "3:00 p. m."/"3:00 PM", "45.000 km" ...
    pub display: String,
}

impl Parsed {
    fn text(value: impl Into<String>) -> Self {
        let value = value.into();
        Self {
            display: value.clone(),
            value: serde_json::Value::String(value),
        }
    }

    fn new(value: impl Into<String>, display: impl Into<String>) -> Self {
        Self {
            value: serde_json::Value::String(value.into()),
            display: display.into(),
        }
    }
}

/// Why the text was not accepted; `message(lang)` is the re-ask text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{es}")]
pub struct Invalid {
    pub es: String,
    pub en: String,
}

impl Invalid {
    pub fn message(&self, lang: Lang) -> &str {
        match lang {
            Lang::Es => &self.es,
            Lang::En => &self.en,
        }
    }

    fn new(es: impl Into<String>, en: impl Into<String>) -> Self {
        Self {
            es: es.into(),
            en: en.into(),
        }
    }
}

/// Parses `text` as `kind`. Never panics, whatever the text.
pub fn parse(kind: InputKind, text: &str, ctx: &InputContext) -> Result<Parsed, Invalid> {
    let text = text.trim();
    match kind {
        InputKind::Text => text::parse(text),
        InputKind::Name => name::parse(text),
        InputKind::Phone => phone::parse(text, ctx),
        InputKind::Email => email::parse(text),
        InputKind::Cedula => national_id::parse_cedula(text),
        InputKind::Nit => national_id::parse_nit(text),
        InputKind::Plate => plate::parse(text, ctx),
        InputKind::Vin => vin::parse(text),
        InputKind::Number => number::parse(text, ctx),
        InputKind::Date => date::parse(text, ctx),
        InputKind::Time => time::parse(text, ctx),
    }
}

/// Lowercases and strips diacritics so keywords match however they were typed
/// ("Mañana", "manana", "MAÑANA"). Only for matching: never stored.
fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars().flat_map(char::to_lowercase) {
        let plain = match c {
            'á' | 'à' | 'ä' | 'â' | 'ã' => 'a',
            'é' | 'è' | 'ë' | 'ê' => 'e',
            'í' | 'ì' | 'ï' | 'î' => 'i',
            'ó' | 'ò' | 'ö' | 'ô' | 'õ' => 'o',
            'ú' | 'ù' | 'ü' | 'û' => 'u',
            'ñ' => 'n',
            'ç' => 'c',
            // Decomposed accents (iOS sometimes sends "a" + U+0301).
            '\u{0300}'..='\u{036F}' => continue,
            other => other,
        };
        out.push(plain);
    }
    out
}

/// Groups an ASCII digit string in threes from the right: ("1020304050", '.') → "1.020.304.050".
fn group_thousands(digits: &str, sep: char) -> String {
    let len = digits.chars().count();
    let mut out = String::with_capacity(len + len / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (len - i).is_multiple_of(3) {
            out.push(sep);
        }
        out.push(c);
    }
    out
}

/// Anything longer than this is not a phone, plate, date... and is rejected before any
/// real work, so a pasted essay costs nothing.
const MAX_SHORT_INPUT: usize = 200;

fn too_long(text: &str) -> bool {
    text.len() > MAX_SHORT_INPUT * 4 || text.chars().count() > MAX_SHORT_INPUT
}

#[cfg(test)]
pub(crate) mod test_support {
    use super::{InputContext, Lang, PlateCountry};

    /// Monday 2026-11-23 10:00 in Bogotá (UTC−5 all year, no DST).
    pub fn ctx() -> InputContext {
        ctx_at(2026, 11, 23, 10, 0)
    }

    pub fn ctx_at(year: i16, month: i8, day: i8, hour: i8, minute: i8) -> InputContext {
        let now = jiff::civil::date(year, month, day)
            .at(hour, minute, 0, 0)
            .in_tz("America/Bogota")
            .expect("Bogotá is in the tz database");
        InputContext {
            now,
            default_region: phonenumber::country::Id::CO,
            plate_country: PlateCountry::Co,
            language: Lang::Es,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::ctx;
    use super::*;

    #[test]
    fn kind_names_round_trip_and_match_serde() {
        assert_eq!(InputKind::ALL.len(), 11);
        for &kind in InputKind::ALL {
            assert_eq!(InputKind::parse_name(kind.as_str()), Some(kind));
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
            let back: InputKind = serde_json::from_str(&json).unwrap();
            assert_eq!(back, kind);
        }
        assert_eq!(InputKind::parse_name("Phone"), None);
        assert_eq!(InputKind::parse_name(""), None);
        assert_eq!(InputKind::parse_name("telefono"), None);
    }

    #[test]
    fn plate_country_serde_is_uppercase() {
        assert_eq!(serde_json::to_string(&PlateCountry::Co).unwrap(), "\"CO\"");
        let mx: PlateCountry = serde_json::from_str("\"MX\"").unwrap();
        assert_eq!(mx, PlateCountry::Mx);
    }

    #[test]
    fn invalid_message_picks_language() {
        let e = Invalid::new("hola", "hello");
        assert_eq!(e.message(Lang::Es), "hola");
        assert_eq!(e.message(Lang::En), "hello");
        assert_eq!(e.to_string(), "hola");
    }

    #[test]
    fn parse_trims_input() {
        let p = parse(InputKind::Cedula, "  \n 1020304050 \t", &ctx()).unwrap();
        assert_eq!(p.value, serde_json::json!("1020304050"));
    }

    #[test]
    fn fold_strips_accents_and_case() {
        assert_eq!(fold("MAÑANA Miércoles"), "manana miercoles");
        assert_eq!(fold("Ma\u{0301}s"), "mas");
    }

    #[test]
    fn group_thousands_inserts_separators() {
        assert_eq!(group_thousands("1", '.'), "1");
        assert_eq!(group_thousands("123", '.'), "123");
        assert_eq!(group_thousands("1234", '.'), "1.234");
        assert_eq!(group_thousands("1020304050", ','), "1,020,304,050");
    }

    /// A few hundred odd strings through every kind, in both languages and for every
    /// plate country: none may panic, and every error must carry both messages.
    #[test]
    fn never_panics_on_odd_input() {
        let fragments: &[&str] = &[
            "",
            " ",
            "\u{0}",
            "\u{7}\u{1b}[31m",
            "\r\n\t",
            "😀",
            "👨‍👩‍👧‍👦",
            "🇨🇴",
            "مرحبا ١٢٣",
            "\u{202E}3001234567",
            "שלום",
            "\u{200B}\u{FEFF}",
            "\u{0301}",
            "e\u{0301}",
            "٣٠٠١٢٣٤٥٦٧",
            "３００１２３４５６７",
            "+",
            "++57",
            "-",
            "--",
            ".",
            "...",
            ",,,",
            "@",
            "@@",
            "a@",
            "@b.c",
            "/",
            "//",
            ":",
            "::",
            "h",
            "0",
            "00",
            "000000000000000000000000000000",
            "99999999999999999999999999999999999999",
            "1.2.3.4.5",
            "1,2,3,4",
            "1.234,5.6",
            "1'2'3",
            "-45",
            "1e308",
            "NaN",
            "inf",
            "mil millones millones millones millones millones millones",
            "y y y",
            "y medio",
            "menos cuarto",
            "para las",
            "half past",
            "31/02",
            "29/02",
            "0/0",
            "99/99/99999",
            "2026-13-45",
            "-2026-01-01",
            "32767-12-31",
            "el 0",
            "el 32",
            "hoy sábado",
            "sábado 31",
            "en 99999999999 días",
            "24:60",
            "99:99",
            "12 am pm",
            "las 0 de la tarde",
            "1HGCM82633A004352",
            "ÑÑÑ123",
            "abc-12d",
            "900.123.456-8",
            "900-",
            "-8",
            "me llamo",
            "soy",
            "de la",
            "O'",
            "3001234567",
            "57",
            "+0",
            "tel:+57",
            "#:",
            "  2 22#:",
            "ana@gmial.com",
            "ana@@gmail.com",
            "ana@.com",
            "ana@gmail..com",
            "@gmail.com",
            "mañana",
            "pasado",
            "next",
            "próximo",
            "de",
            "k",
            "m",
            "$",
            "45mil km",
            "cuarenta y cinco mil",
            "dic 15",
            "15",
            "3 y media",
            "medio día",
        ];
        let mut inputs: Vec<String> = fragments.iter().map(|s| s.to_string()).collect();
        for a in fragments.iter().step_by(3) {
            for b in fragments.iter().step_by(7) {
                inputs.push(format!("{a}{b}"));
                inputs.push(format!("{a} {b}"));
            }
        }
        inputs.push("a".repeat(10_000));
        inputs.push("9".repeat(10_000));
        inputs.push("😀".repeat(10_000));
        inputs.push("mil ".repeat(2_500));
        inputs.push("millones ".repeat(1_200));
        inputs.push("1.".repeat(5_000));
        inputs.push(" ".repeat(10_000));
        inputs.push("de la ".repeat(2_000));
        inputs.push("\u{0301}".repeat(10_000));
        for len in 0..=20 {
            inputs.push("1".repeat(len));
            inputs.push(format!("+{}", "9".repeat(len)));
            inputs.push(format!("57{}", "0".repeat(len)));
            inputs.push("3".repeat(len));
        }
        assert!(inputs.len() >= 300, "only {} inputs", inputs.len());

        let mut ctx = ctx();
        for lang in [Lang::Es, Lang::En] {
            ctx.language = lang;
            for plate in [
                PlateCountry::Co,
                PlateCountry::Mx,
                PlateCountry::Pe,
                PlateCountry::Cl,
                PlateCountry::Ec,
            ] {
                ctx.plate_country = plate;
                for input in &inputs {
                    for &kind in InputKind::ALL {
                        match parse(kind, input, &ctx) {
                            Ok(p) => assert!(
                                !p.display.is_empty(),
                                "{kind:?} gave an empty display for {input:?}"
                            ),
                            Err(e) => {
                                assert!(!e.es.is_empty() && !e.en.is_empty(), "{kind:?} {input:?}")
                            }
                        }
                    }
                }
            }
        }
    }
}
