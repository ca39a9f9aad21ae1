//! Quantities as customers type them: "45.000 km", "45 mil", "1,5 millones", "$ 80.000.000",
//! "80 palos", "cuarenta y cinco mil", "forty five thousand", "45k". Both "." and "," are
//! used for thousands and decimals in Latin America, so a separator followed by exactly
//! three digits is a thousands separator and anything else is the decimal mark. Two
//! separate numbers ("40 o 50", "entre 40 y 50") are rejected rather than guessed.

use std::sync::LazyLock;

use regex::Regex;

use super::{InputContext, Invalid, Lang, Parsed, fold, group_thousands};

/// Beyond this f64 stops being exact for integers; no price or mileage gets close.
const MAX_VALUE: f64 = 1e15;

static DIGIT_LETTER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(\d)([a-z$%])|([a-z$%])(\d)").expect("valid regex"));
static SPACED_THOUSANDS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(\d) (\d{3})\b").expect("valid regex"));
static WORD_HYPHEN: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"([a-z])-([a-z])").expect("valid regex"));

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    Km,
    Miles,
    Pesos,
    Dollars,
    Years,
    Months,
    Installments,
    Percent,
    Cc,
    Hp,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Token {
    Digits(f64),
    Word(f64),
    /// English "hundred": multiplies what came just before.
    Hundred,
    /// "mil", "millones", "k", "M"...; abbreviations and slang need a number before them.
    Scale {
        factor: f64,
        bare_ok: bool,
    },
    /// "medio", "media", "half": adds half of the last scale ("un millón y medio").
    Half,
    Unit(Unit),
    /// "a"/"an": one, but only right before a scale ("a million").
    Article,
    Filler,
}

pub(super) fn parse(text: &str, ctx: &InputContext) -> Result<Parsed, Invalid> {
    if super::too_long(text) {
        return Err(invalid());
    }
    let tokens = tokenize(text)?;
    let (value, unit) = evaluate(&tokens)?;
    // "1,1 millones" is 1100000.0000000002 in binary floating point: snap to whole
    // numbers and six decimals, which is more than any quantity a customer types.
    let whole = value.round();
    let value = if (value - whole).abs() < 1e-6 {
        whole
    } else {
        (value * 1e6).round() / 1e6
    };
    let json = if value.fract() == 0.0 {
        // Exact: `value` is whole, non-negative and at most MAX_VALUE < 2^53.
        serde_json::Value::from(value as i64)
    } else {
        serde_json::Number::from_f64(value)
            .map(serde_json::Value::Number)
            .ok_or_else(invalid)?
    };
    Ok(Parsed {
        value: json,
        display: display(value, unit, ctx.language),
    })
}

fn invalid() -> Invalid {
    Invalid::new(
        "No entendí la cantidad. Escríbela solo con números, por ejemplo 45.000.",
        "I didn't get the amount. Please type just the number, for example 45,000.",
    )
}

fn one_number() -> Invalid {
    Invalid::new(
        "Escribe un solo número, por ejemplo 45.000.",
        "Please type a single number, for example 45,000.",
    )
}

fn tokenize(text: &str) -> Result<Vec<Token>, Invalid> {
    let mut s = fold(text).replace("us$", " usd ").replace("u$s", " usd ");
    s = WORD_HYPHEN.replace_all(&s, "$1 $2").into_owned();
    // Twice, because a match consumes the digit the next match would need ("1k2").
    for _ in 0..2 {
        s = DIGIT_LETTER.replace_all(&s, "$1$3 $2$4").into_owned();
    }
    s = s.replace('$', " $ ").replace('%', " % ");
    // "1 500 000": a handful of rounds covers any real number; the input is short.
    for _ in 0..6 {
        let joined = SPACED_THOUSANDS.replace_all(&s, "$1$2").into_owned();
        if joined == s {
            break;
        }
        s = joined;
    }

    let words: Vec<&str> = s
        .split_whitespace()
        .map(|w| {
            w.trim_matches(|c: char| ",;:!?¿¡()\"'*~".contains(c))
                .trim_end_matches('.')
        })
        .filter(|w| !w.is_empty())
        .collect();

    let mut tokens = Vec::with_capacity(words.len());
    let mut i = 0;
    while i < words.len() {
        let word = words[i];
        let next = words.get(i + 1).copied();
        // Two-word units and scales.
        match (word, next) {
            ("por", Some("ciento")) | ("per", Some("cent")) => {
                tokens.push(Token::Unit(Unit::Percent));
                i += 2;
                continue;
            }
            ("a", Some("half")) => {
                tokens.push(Token::Half);
                i += 2;
                continue;
            }
            _ => {}
        }
        let token = if word.starts_with(|c: char| c.is_ascii_digit()) {
            Token::Digits(numeral(word).ok_or_else(invalid)?)
        } else {
            classify(word).ok_or_else(invalid)?
        };
        tokens.push(token);
        i += 1;
    }
    Ok(tokens)
}

/// A numeral with separators, by the three-digit rule; None if the separators make no
/// sense ("1.2.3", "1.234.5", "1234.567").
fn numeral(word: &str) -> Option<f64> {
    let mut groups: Vec<&str> = Vec::new();
    let mut seps: Vec<char> = Vec::new();
    let mut start = 0;
    for (i, c) in word.char_indices() {
        if c.is_ascii_digit() {
            continue;
        }
        if !matches!(c, '.' | ',' | '\'' | '’') {
            return None;
        }
        groups.push(&word[start..i]);
        seps.push(c);
        start = i + c.len_utf8();
    }
    groups.push(&word[start..]);
    if groups.iter().any(|g| g.is_empty()) {
        return None;
    }
    let (last, init) = groups.split_last()?;
    let decimal = match seps.last() {
        None => None,
        // "0,500" is a decimal: thousands groups never start with a lone zero.
        Some(&sep)
            if sep != '\''
                && sep != '’'
                && (last.len() != 3 || (seps.len() == 1 && groups[0] == "0")) =>
        {
            Some(sep)
        }
        Some(_) => None,
    };
    let thousands = &seps[..seps.len() - usize::from(decimal.is_some())];
    let mut grouping: Option<char> = None;
    for &sep in thousands {
        if matches!(sep, '\'' | '’') {
            continue;
        }
        if grouping.is_some_and(|g| g != sep) || decimal == Some(sep) {
            return None;
        }
        grouping = Some(sep);
    }
    let int_groups = if decimal.is_some() { init } else { &groups[..] };
    if !thousands.is_empty()
        && (int_groups.first().is_none_or(|g| g.len() > 3)
            || int_groups.iter().skip(1).any(|g| g.len() != 3))
    {
        return None;
    }
    let mut number: String = int_groups.concat();
    if decimal.is_some() {
        number.push('.');
        number.push_str(last);
    }
    number.parse::<f64>().ok()
}

fn scale(factor: f64, bare_ok: bool) -> Token {
    Token::Scale { factor, bare_ok }
}

fn classify(word: &str) -> Option<Token> {
    if let Some(n) = word_number(word) {
        return Some(Token::Word(f64::from(n)));
    }
    Some(match word {
        "a" | "an" => Token::Article,
        "hundred" | "hundreds" => Token::Hundred,
        "mil" | "thousand" | "thousands" => scale(1e3, true),
        "k" | "grand" | "luca" | "lucas" => scale(1e3, false),
        "millon" | "millones" | "million" | "millions" => scale(1e6, true),
        // "MM" is how Colombian finance writes millions; "palos" is slang for them.
        "m" | "mm" | "mill" | "palo" | "palos" => scale(1e6, false),
        "billion" | "billions" => scale(1e9, true),
        "medio" | "media" | "half" => Token::Half,
        "km" | "kms" | "kilometro" | "kilometros" | "kilometer" | "kilometers" | "kilometre"
        | "kilometres" => Token::Unit(Unit::Km),
        "milla" | "millas" | "mile" | "miles" | "mi" => Token::Unit(Unit::Miles),
        "$" | "cop" | "peso" | "pesos" => Token::Unit(Unit::Pesos),
        "usd" | "dolar" | "dolares" | "dollar" | "dollars" => Token::Unit(Unit::Dollars),
        "ano" | "anos" | "year" | "years" | "yrs" => Token::Unit(Unit::Years),
        "mes" | "meses" | "month" | "months" => Token::Unit(Unit::Months),
        "cuota" | "cuotas" | "installment" | "installments" => Token::Unit(Unit::Installments),
        "%" | "porciento" | "percent" => Token::Unit(Unit::Percent),
        "cc" | "c.c" => Token::Unit(Unit::Cc),
        "hp" | "caballos" => Token::Unit(Unit::Hp),
        "y" | "and" | "de" | "del" | "of" | "aprox" | "aproximadamente" | "approx"
        | "approximately" | "unos" | "unas" | "como" | "mas" | "menos" | "o" | "or" | "about"
        | "around" | "cerca" | "alrededor" | "tiene" | "tengo" | "lleva" | "son" | "es" | "is"
        | "has" | "it's" | "recorridos" | "recorrido" | "al" | "el" | "la" | "the" | "en"
        | "in" | "total" | "solo" | "only" | "just" | "exactamente" | "exactly" | "unidades"
        | "units" | "entre" | "between" => Token::Filler,
        _ => return None,
    })
}

/// Single number words below a thousand, Spanish and English (folded): "cuarenta", "veintidos",
/// "quinientos", "forty". Also used for hours and minutes.
pub(crate) fn word_number(word: &str) -> Option<u32> {
    Some(match word {
        "cero" | "zero" => 0,
        "un" | "uno" | "una" | "one" => 1,
        "dos" | "two" => 2,
        "tres" | "three" => 3,
        "cuatro" | "four" => 4,
        "cinco" | "five" => 5,
        "seis" | "six" => 6,
        "siete" | "seven" => 7,
        "ocho" | "eight" => 8,
        "nueve" | "nine" => 9,
        "diez" | "ten" => 10,
        "once" | "eleven" => 11,
        "doce" | "twelve" => 12,
        "trece" | "thirteen" => 13,
        "catorce" | "fourteen" => 14,
        "quince" | "fifteen" => 15,
        "dieciseis" | "sixteen" => 16,
        "diecisiete" | "seventeen" => 17,
        "dieciocho" | "eighteen" => 18,
        "diecinueve" | "nineteen" => 19,
        "veinte" | "twenty" => 20,
        "veintiun" | "veintiuno" | "veintiuna" => 21,
        "veintidos" => 22,
        "veintitres" => 23,
        "veinticuatro" => 24,
        "veinticinco" => 25,
        "veintiseis" => 26,
        "veintisiete" => 27,
        "veintiocho" => 28,
        "veintinueve" => 29,
        "treinta" | "thirty" => 30,
        "cuarenta" | "forty" | "fourty" => 40,
        "cincuenta" | "fifty" => 50,
        "sesenta" | "sixty" => 60,
        "setenta" | "seventy" => 70,
        "ochenta" | "eighty" => 80,
        "noventa" | "ninety" => 90,
        "cien" | "ciento" => 100,
        "doscientos" | "doscientas" => 200,
        "trescientos" | "trescientas" => 300,
        "cuatrocientos" | "cuatrocientas" => 400,
        "quinientos" | "quinientas" => 500,
        "seiscientos" | "seiscientas" => 600,
        "setecientos" | "setecientas" => 700,
        "ochocientos" | "ochocientas" => 800,
        "novecientos" | "novecientas" => 900,
        _ => return None,
    })
}

/// Adds up the tokens: `total` holds millions and up, `thousands` the thousands, `small`
/// the part below a thousand still waiting for a scale.
fn evaluate(tokens: &[Token]) -> Result<(f64, Option<Unit>), Invalid> {
    let mut total = 0.0;
    let mut thousands = 0.0;
    let mut small = 0.0;
    let mut small_set = false;
    let mut small_from_digits = false;
    // The last word added to `small`, so "cuarenta cinco" passes and "cinco cuarenta" does not.
    let mut last_word: Option<f64> = None;
    let mut last_scale: Option<f64> = None;
    let mut last_big_scale = f64::INFINITY;
    let mut half_used = false;
    let mut seen_number = false;
    let mut unit: Option<Unit> = None;

    for (i, &token) in tokens.iter().enumerate() {
        match token {
            Token::Digits(n) => {
                if small_set {
                    return Err(one_number());
                }
                small = n;
                small_set = true;
                small_from_digits = true;
                last_word = None;
                seen_number = true;
            }
            Token::Word(n) => {
                if small_set && (small_from_digits || last_word.is_none_or(|w| n >= w)) {
                    return Err(one_number());
                }
                small += n;
                small_set = true;
                last_word = Some(n);
                seen_number = true;
            }
            Token::Article => {
                if matches!(
                    tokens.get(i + 1),
                    Some(Token::Scale { .. } | Token::Hundred)
                ) {
                    if small_set {
                        return Err(one_number());
                    }
                    small = 1.0;
                    small_set = true;
                    last_word = Some(1.0);
                    seen_number = true;
                }
            }
            Token::Hundred => {
                if small_set && small >= 100.0 {
                    return Err(invalid());
                }
                small = if small_set { small * 100.0 } else { 100.0 };
                small_set = true;
                last_word = Some(100.0);
                seen_number = true;
            }
            Token::Scale { bare_ok: false, .. } if !small_set => return Err(invalid()),
            Token::Scale { factor: scale, .. } if scale < 1e6 => {
                // "mil mil", "45k mil".
                if thousands != 0.0 {
                    return Err(invalid());
                }
                let base = if small_set { small } else { 1.0 };
                thousands = base * scale;
                small = 0.0;
                small_set = false;
                small_from_digits = false;
                last_word = None;
                last_scale = Some(scale);
                seen_number = true;
            }
            Token::Scale { factor: scale, .. } => {
                // Millions after millions ("un millón dos millones") are two numbers.
                if scale >= last_big_scale {
                    return Err(invalid());
                }
                let mut base = thousands + small;
                if !small_set && thousands == 0.0 {
                    if total != 0.0 {
                        return Err(invalid());
                    }
                    base = 1.0;
                }
                total += base * scale;
                thousands = 0.0;
                small = 0.0;
                small_set = false;
                small_from_digits = false;
                last_word = None;
                last_scale = Some(scale);
                last_big_scale = scale;
                seen_number = true;
            }
            Token::Half => {
                if half_used || !seen_number {
                    return Err(invalid());
                }
                half_used = true;
                match last_scale {
                    // "dos y medio millones": the half joins the number before the scale.
                    _ if small_set => small += 0.5,
                    Some(scale) if scale >= 1e6 => total += 0.5 * scale,
                    Some(scale) => thousands += 0.5 * scale,
                    None => return Err(invalid()),
                }
                last_word = Some(0.0);
            }
            Token::Unit(u) => {
                if unit.is_some_and(|seen| seen != u) {
                    return Err(invalid());
                }
                unit = Some(u);
            }
            Token::Filler => {}
        }
    }
    if !seen_number {
        return Err(invalid());
    }
    let value = total + thousands + small;
    if !value.is_finite() || value > MAX_VALUE {
        return Err(Invalid::new(
            "Ese número es demasiado grande. Revísalo y escríbelo de nuevo, por favor.",
            "That number is too large. Please check it and type it again.",
        ));
    }
    Ok((value, unit))
}

/// "45.000" / "45,000", with up to six decimals and no trailing zeros.
fn format_number(value: f64, lang: Lang) -> String {
    let (group, decimal) = match lang {
        Lang::Es => ('.', ','),
        Lang::En => (',', '.'),
    };
    let fixed = format!("{value:.6}");
    let (int, frac) = fixed.split_once('.').unwrap_or((fixed.as_str(), ""));
    let frac = frac.trim_end_matches('0');
    let mut out = group_thousands(int, group);
    if !frac.is_empty() {
        out.push(decimal);
        out.push_str(frac);
    }
    out
}

fn display(value: f64, unit: Option<Unit>, lang: Lang) -> String {
    let n = format_number(value, lang);
    let one = value == 1.0;
    let plural = |es_one: &str, es_many: &str, en_one: &str, en_many: &str| {
        let word = match (lang, one) {
            (Lang::Es, true) => es_one,
            (Lang::Es, false) => es_many,
            (Lang::En, true) => en_one,
            (Lang::En, false) => en_many,
        };
        format!("{n} {word}")
    };
    match unit {
        None => n,
        Some(Unit::Km) => format!("{n} km"),
        Some(Unit::Miles) => plural("milla", "millas", "mile", "miles"),
        Some(Unit::Pesos) => format!("${n}"),
        Some(Unit::Dollars) => format!("US${n}"),
        Some(Unit::Years) => plural("año", "años", "year", "years"),
        Some(Unit::Months) => plural("mes", "meses", "month", "months"),
        Some(Unit::Installments) => plural("cuota", "cuotas", "installment", "installments"),
        Some(Unit::Percent) => match lang {
            Lang::Es => format!("{n} %"),
            Lang::En => format!("{n}%"),
        },
        Some(Unit::Cc) => format!("{n} cc"),
        Some(Unit::Hp) => format!("{n} hp"),
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::ctx;
    use super::super::{InputKind, Lang, parse};
    use serde_json::json;

    #[test]
    fn accepts() {
        let cases = [
            ("45000", json!(45000), "45.000", "45,000"),
            ("45.000", json!(45000), "45.000", "45,000"),
            ("45,000", json!(45000), "45.000", "45,000"),
            ("45.000 km", json!(45000), "45.000 km", "45,000 km"),
            ("45 mil", json!(45000), "45.000", "45,000"),
            ("45mil km", json!(45000), "45.000 km", "45,000 km"),
            ("1,5 millones", json!(1_500_000), "1.500.000", "1,500,000"),
            ("1.5M", json!(1_500_000), "1.500.000", "1,500,000"),
            (
                "120 millones de pesos",
                json!(120_000_000),
                "$120.000.000",
                "$120,000,000",
            ),
            (
                "$ 80.000.000",
                json!(80_000_000),
                "$80.000.000",
                "$80,000,000",
            ),
            (
                "$80.000.000",
                json!(80_000_000),
                "$80.000.000",
                "$80,000,000",
            ),
            ("cuarenta y cinco mil", json!(45000), "45.000", "45,000"),
            ("forty five thousand", json!(45000), "45.000", "45,000"),
            (
                "forty-five thousand km",
                json!(45000),
                "45.000 km",
                "45,000 km",
            ),
            ("45k", json!(45000), "45.000", "45,000"),
            ("1.5", json!(1.5), "1,5", "1.5"),
            ("1,5", json!(1.5), "1,5", "1.5"),
            ("1.234,56", json!(1234.56), "1.234,56", "1,234.56"),
            ("1,234.56", json!(1234.56), "1.234,56", "1,234.56"),
            ("1'500.000", json!(1_500_000), "1.500.000", "1,500,000"),
            ("45 000", json!(45000), "45.000", "45,000"),
            ("1 500 000", json!(1_500_000), "1.500.000", "1,500,000"),
            ("0", json!(0), "0", "0"),
            ("0 km", json!(0), "0 km", "0 km"),
            ("0,5", json!(0.5), "0,5", "0.5"),
            (
                "un millón quinientos mil",
                json!(1_500_000),
                "1.500.000",
                "1,500,000",
            ),
            (
                "dos millones trescientos mil pesos",
                json!(2_300_000),
                "$2.300.000",
                "$2,300,000",
            ),
            (
                "mil millones",
                json!(1_000_000_000),
                "1.000.000.000",
                "1,000,000,000",
            ),
            ("dos mil quinientos", json!(2500), "2.500", "2,500"),
            (
                "ciento veinte millones",
                json!(120_000_000),
                "120.000.000",
                "120,000,000",
            ),
            ("novecientos noventa y nueve", json!(999), "999", "999"),
            (
                "un millón y medio",
                json!(1_500_000),
                "1.500.000",
                "1,500,000",
            ),
            (
                "dos y medio millones",
                json!(2_500_000),
                "2.500.000",
                "2,500,000",
            ),
            (
                "a million and a half",
                json!(1_500_000),
                "1.500.000",
                "1,500,000",
            ),
            (
                "one hundred twenty thousand",
                json!(120_000),
                "120.000",
                "120,000",
            ),
            ("two thousand three hundred", json!(2300), "2.300", "2,300"),
            ("80 palos", json!(80_000_000), "80.000.000", "80,000,000"),
            ("50 lucas", json!(50_000), "50.000", "50,000"),
            (
                "unos 45 mil km aprox.",
                json!(45000),
                "45.000 km",
                "45,000 km",
            ),
            ("3 años", json!(3), "3 años", "3 years"),
            ("1 año", json!(1), "1 año", "1 year"),
            ("36 cuotas", json!(36), "36 cuotas", "36 installments"),
            ("10%", json!(10), "10 %", "10%"),
            ("10 por ciento", json!(10), "10 %", "10%"),
            ("US$ 25.000", json!(25000), "US$25.000", "US$25,000"),
            ("1600 cc", json!(1600), "1.600 cc", "1,600 cc"),
            (
                "12000 millas",
                json!(12000),
                "12.000 millas",
                "12,000 miles",
            ),
            ("mil", json!(1000), "1.000", "1,000"),
            ("veintidós", json!(22), "22", "22"),
            ("3.141", json!(3141), "3.141", "3,141"),
            ("1,1 millones", json!(1_100_000), "1.100.000", "1,100,000"),
            ("0,1 millones", json!(100_000), "100.000", "100,000"),
            ("2,75", json!(2.75), "2,75", "2.75"),
        ];
        let mut en = ctx();
        en.language = Lang::En;
        for (input, value, es_display, en_display) in cases {
            let p = parse(InputKind::Number, input, &ctx())
                .unwrap_or_else(|e| panic!("{input:?} rejected: {e}"));
            assert_eq!(p.value, value, "{input:?}");
            assert_eq!(p.display, es_display, "{input:?}");
            let p = parse(InputKind::Number, input, &en).unwrap();
            assert_eq!(p.display, en_display, "{input:?}");
        }
    }

    #[test]
    fn whole_values_are_json_integers() {
        let p = parse(InputKind::Number, "45.000", &ctx()).unwrap();
        assert!(p.value.is_i64());
        let p = parse(InputKind::Number, "1,5", &ctx()).unwrap();
        assert!(p.value.is_f64());
    }

    #[test]
    fn rejects() {
        let cases = [
            "",
            "abc",
            "muchos",
            "40 o 50",
            "entre 40 y 50 mil",
            "45 cinco",
            "cinco cuarenta",
            "1.2.3",
            "1.234.5",
            "1234.567",
            "1.234,567.8",
            "-45",
            "45 km 30 $",
            "1e308",
            "millones millones",
            "mil mil",
            "999999999999999999",
            "9999999999 millones",
            "k",
            "m km",
            "y medio",
            "😀",
            "45..000",
        ];
        for input in cases {
            assert!(
                parse(InputKind::Number, input, &ctx()).is_err(),
                "{input:?} should be rejected"
            );
        }
        let e = parse(InputKind::Number, "40 o 50", &ctx()).unwrap_err();
        assert!(e.es.contains("un solo número"));
        let e = parse(InputKind::Number, "abc", &ctx()).unwrap_err();
        assert!(e.es.contains("45.000") && e.en.contains("45,000"));
    }
}
