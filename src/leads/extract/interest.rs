//! What the customer wants and how ready they are: budget in pesos, when they buy,
//! financing, a car to trade in, a price question. Phrases are matched whole-word on
//! the folded words; a phrase right after "no" ("no este mes") does not count.

use std::ops::Range;
use std::sync::LazyLock;

use jiff::civil::Date;
use regex::Regex;
use serde_json::Value;

use super::view::{View, find_phrase, overlaps, tokens, words_of};
use super::{Extractor, MAX_SCAN_CHARS, head, regex};
use crate::leads::model::{Signal, Signals, Timeframe};

// Budget.

/// Above this a "budget" is a misread number.
pub(super) const MAX_BUDGET: u64 = 20_000_000_000;
const MIN_BUDGET: u64 = 1_000_000;

static AMOUNT: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r"(?:(?P<currency>us\s?\$|u\$s|usd|\$|cop)\s?)?(?P<number>\d{1,3}(?:[.,]\d{3})+|\d+(?:[.,]\d+)?)(?:\s?(?P<unit>millones|millon|mills?|mm|m|palos|palo|mil|k|millions|million|pesos|cop)\b)?",
    )
});
static FOREIGN_AFTER: LazyLock<Regex> =
    LazyLock::new(|| regex(r"^\s*(?:de\s+)?(?:dolares|dolar|dollars?|usd|us|euros?|eur)\b"));
static INSTALLMENT_AFTER: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r"^\s*(?:de pesos\s+)?(?:mensual(?:es)?|al mes|por mes|a month|per month|monthly|de cuota)\b",
    )
});
static NOT_MONEY_AFTER: LazyLock<Regex> =
    LazyLock::new(|| regex(r"^\s*(?:km|kms|kilometros|cc|hp|kg|anos|years|dias|meses)\b"));
static BUDGET_CUE: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r"\b(?:presupuesto|budget|hasta|maximo|max|tope|dispongo de|cuento con|up to|around|entre|unos|alrededor de|spend|gastar|invertir)\b",
    )
});
static INSTALLMENT_BEFORE: LazyLock<Regex> = LazyLock::new(|| {
    regex(r"\b(?:cuotas?|inicial|mensual(?:es|idad)?|abono|separar|entrada|down payment)\b")
});

pub(super) fn find_budget(folded: &View) -> Option<u64> {
    budget_in(&folded.text)
}

/// The budget in a folded text: the first amount after "presupuesto", "hasta"… or, failing
/// that, the first amount in pesos.
fn budget_in(text: &str) -> Option<u64> {
    let mut first: Option<u64> = None;
    for caps in AMOUNT.captures_iter(text) {
        let Some(whole) = caps.get(0) else { continue };
        let number = caps.name("number").map_or("", |m| m.as_str());
        let currency = caps.name("currency").map(|m| m.as_str().replace(' ', ""));
        let unit = caps.name("unit").map(|m| m.as_str());
        let before = context_before(text, whole.start(), 40);
        let after = &text[whole.end()..];
        let foreign = matches!(currency.as_deref(), Some("us$" | "u$s" | "usd"))
            || FOREIGN_AFTER.is_match(after);
        if foreign
            || INSTALLMENT_AFTER.is_match(after)
            || NOT_MONEY_AFTER.is_match(after)
            || INSTALLMENT_BEFORE.is_match(context_before(text, whole.start(), 25))
            || (unit == Some("mil") && after.trim_start().starts_with("millon"))
        {
            continue;
        }
        let cue = BUDGET_CUE.is_match(before);
        let pesos = matches!(currency.as_deref(), Some("$" | "cop"))
            || matches!(unit, Some("pesos" | "cop"));
        let Some(value) = amount(number) else {
            continue;
        };
        let multiplier: f64 = match unit {
            Some(
                "millones" | "millon" | "mill" | "mills" | "mm" | "m" | "palos" | "palo"
                | "millions" | "million",
            ) => 1e6,
            Some("mil" | "k") => 1e3,
            _ => 1.0,
        };
        let plausible = match unit {
            // "4.5 m" is more often metres than millions.
            Some("m") => pesos || cue || value >= 10.0,
            Some(_) if multiplier == 1e6 => true,
            Some("mil" | "k") => pesos || cue,
            _ => pesos || (cue && value >= MIN_BUDGET as f64),
        };
        let cop = value * multiplier;
        if !plausible || !(MIN_BUDGET as f64..=MAX_BUDGET as f64).contains(&cop) {
            continue;
        }
        let cop = cop.round() as u64;
        if cue {
            return Some(cop);
        }
        first.get_or_insert(cop);
    }
    first
}

/// Up to `chars` bytes of `text` before `at`, cut at a character boundary.
fn context_before(text: &str, at: usize, chars: usize) -> &str {
    let mut start = at.saturating_sub(chars);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..at]
}

/// "120.000.000" → 120000000, "1,5" → 1.5, "120" → 120.
fn amount(number: &str) -> Option<f64> {
    let grouped = number.len() > 4
        && number
            .split(['.', ','])
            .skip(1)
            .all(|group| group.len() == 3);
    if grouped {
        number.replace(['.', ','], "").parse().ok()
    } else {
        number.replace(',', ".").parse().ok()
    }
}

pub(super) fn budget_value(text: &str) -> Option<u64> {
    let trimmed = text.trim();
    if !trimmed.is_empty() && trimmed.bytes().all(|b| b.is_ascii_digit()) {
        return trimmed.parse().ok().filter(|&n| n > 0 && n <= MAX_BUDGET);
    }
    budget_in(&View::folded(head(text, MAX_SCAN_CHARS)).text)
}

// Timeframe.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum When {
    Soon,
    Months,
    Later,
    JustLooking,
    /// By the end of this year.
    ThisYear,
}

static TIMEFRAME_PHRASES: LazyLock<Vec<(Regex, When)>> = LazyLock::new(|| {
    vec![
        (
            regex(
                r"\b(?:este mes|esta semana|este fin de semana|la proxima semana|la otra semana|la semana que viene|lo antes posible|lo mas pronto posible|lo mas rapido posible|cuanto antes|de inmediato|inmediatamente|urgente|urgentemente|ya mismo|asap|as soon as possible|right away|right now|this month|this week|this weekend|next week|immediately)\b",
            ),
            When::Soon,
        ),
        (
            regex(
                r"\b(?:el proximo mes|el otro mes|el mes que viene|el mes entrante|next month)\b",
            ),
            When::Months,
        ),
        (
            regex(
                r"\b(?:este ano|fin de ano|final de ano|finales de ano|fin de este ano|finales de este ano|this year|end of the year|end of year)\b",
            ),
            When::ThisYear,
        ),
        (
            regex(r"\b(?:el proximo ano|el otro ano|el ano que viene|el ano entrante|next year)\b"),
            When::Later,
        ),
        (
            regex(
                r"\b(?:solo estoy (?:mirando|viendo|averiguando|curioseando|cotizando)|solo (?:mirando|viendo|curioseando)|estoy curioseando|por curiosidad|(?:todavia|aun) no (?:voy a|pienso|planeo|quiero) comprar|no (?:voy a|pienso|planeo) comprar (?:todavia|aun|por ahora|pronto)|just (?:looking|browsing)|only looking|not (?:buying|ready to buy) yet|not planning to buy)\b",
            ),
            When::JustLooking,
        ),
    ]
});

/// "lo quiero ya", "para ya!": "ya" alone means now only at the end of what is asked.
static NOW_YA: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r"\b(?:comprarlo|comprarla|comprar|compro|necesito|necesitamos|lo necesito|la necesito|lo quiero|la quiero|quiero|para)\s+ya(?:\s+mismo)?\s*(?:[.!,;]|por favor|$)",
    )
});

static IN_SOME_TIME: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r"\b(?:en|dentro de|in|within|para)\s+(?P<few>unos |unas |un par de |a couple of |a few |about )?(?P<n>\d{1,3}|un|una|uno|dos|tres|cuatro|cinco|seis|siete|ocho|nueve|diez|once|doce|quince|veinte|treinta|one|a|an|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty)?\s*(?P<unit>dias|dia|semanas|semana|meses|mes|anos|ano|days|day|weeks|week|months|month|years|year)\b",
    )
});

static IN_MONTH: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r"\b(?:en|para|in|by|antes de|hasta|a mediados de|a finales de|a principios de)\s+(?:el mes de\s+)?(?P<month>enero|febrero|marzo|abril|mayo|junio|julio|agosto|septiembre|setiembre|octubre|noviembre|diciembre|january|february|march|april|may|june|july|august|september|october|november|december)\b",
    )
});

/// When the customer means to buy, and whether they said they are only looking.
pub(super) fn find_timeframe(
    words: &View,
    folded: &View,
    today: Date,
) -> (Option<Timeframe>, bool) {
    let text = &words.text;
    let mut found: Vec<(usize, When, Option<Timeframe>)> = Vec::new();
    for (pattern, when) in TIMEFRAME_PHRASES.iter() {
        for m in pattern.find_iter(text) {
            if *when == When::JustLooking || !negated(text, m.start()) {
                found.push((m.start(), *when, None));
            }
        }
    }
    if let Some(m) = NOW_YA.find(&folded.text) {
        // Positions of the folded view are compared through the original.
        let start = folded.original(m.range()).start;
        let at = words
            .from
            .iter()
            .position(|r| r.start >= start)
            .unwrap_or(text.len());
        found.push((at, When::Soon, None));
    }
    for caps in IN_SOME_TIME.captures_iter(text) {
        let (Some(whole), Some(unit)) = (caps.get(0), caps.name("unit")) else {
            continue;
        };
        if negated(text, whole.start()) {
            continue;
        }
        let few = caps.name("few").map(|m| m.as_str());
        let count = match (few, caps.name("n")) {
            (Some(few), _) if few.contains("par") || few.contains("couple") => 2,
            (_, Some(n)) => match count_word(n.as_str()) {
                Some(count) => count,
                None => continue,
            },
            (Some(_), None) => 3,
            // "en semana santa" is not a time from now.
            (None, None) => continue,
        };
        let days_per = match unit.as_str().trim_end_matches('s') {
            "dia" | "day" => 1,
            "semana" | "week" => 7,
            "mes" | "month" | "mese" => 30,
            _ => 365,
        };
        found.push((whole.start(), When::Soon, Some(by_days(count * days_per))));
    }
    for caps in IN_MONTH.captures_iter(text) {
        let (Some(whole), Some(month)) = (caps.get(0), caps.name("month")) else {
            continue;
        };
        if negated(text, whole.start()) {
            continue;
        }
        let Some(month) = month_number(month.as_str()) else {
            continue;
        };
        // "en diciembre": around the middle of the next such month.
        let year = if month < today.month() {
            today.year().saturating_add(1)
        } else {
            today.year()
        };
        let days = days_until(today, Date::new(year, month, 15).ok());
        found.push((whole.start(), When::Soon, Some(by_days(days))));
    }
    found.sort_by_key(|(at, _, _)| *at);
    let Some(&(_, when, computed)) = found.first() else {
        return (None, false);
    };
    let timeframe = match (computed, when) {
        (Some(timeframe), _) => timeframe,
        (None, When::Soon) => Timeframe::Within30Days,
        (None, When::Months) => Timeframe::Within6Months,
        (None, When::Later | When::JustLooking) => Timeframe::Later,
        (None, When::ThisYear) => by_days(days_until(today, Date::new(today.year(), 12, 31).ok())),
    };
    (Some(timeframe), when == When::JustLooking)
}

/// "no este mes", "no es urgente".
fn negated(text: &str, at: usize) -> bool {
    let before: Vec<&str> = text[..at].split_whitespace().rev().take(2).collect();
    match before.as_slice() {
        [first, ..] if ["no", "not", "nunca", "never"].contains(first) => true,
        [first, second] => {
            ["es", "sera", "esta", "is", "be"].contains(first) && ["no", "not"].contains(second)
        }
        _ => false,
    }
}

fn by_days(days: i32) -> Timeframe {
    match days {
        ..=31 => Timeframe::Within30Days,
        32..=183 => Timeframe::Within6Months,
        _ => Timeframe::Later,
    }
}

/// Days from `today` to `date` (0 when it has passed or does not exist).
fn days_until(today: Date, date: Option<Date>) -> i32 {
    date.and_then(|date| today.until(date).ok())
        .map_or(0, |span| span.get_days().max(0))
}

/// "2", "dos", "una", "a" (as in "a month"): how many weeks or months.
fn count_word(word: &str) -> Option<i32> {
    if let Ok(n) = word.parse::<i32>() {
        return Some(n);
    }
    match word {
        "a" | "an" => Some(1),
        _ => crate::flows::input::word_number(word).and_then(|n| i32::try_from(n).ok()),
    }
}

fn month_number(word: &str) -> Option<i8> {
    let n = match word {
        "enero" | "january" => 1,
        "febrero" | "february" => 2,
        "marzo" | "march" => 3,
        "abril" | "april" => 4,
        "mayo" | "may" => 5,
        "junio" | "june" => 6,
        "julio" | "july" => 7,
        "agosto" | "august" => 8,
        "septiembre" | "setiembre" | "september" => 9,
        "octubre" | "october" => 10,
        "noviembre" | "november" => 11,
        "diciembre" | "december" => 12,
        _ => return None,
    };
    Some(n)
}

pub(super) fn timeframe_signals(
    signals: &mut Signals,
    timeframe: Option<Timeframe>,
    just_looking: bool,
) {
    if just_looking {
        signals.insert(Signal::JustLooking);
        return;
    }
    match timeframe {
        Some(Timeframe::Within30Days) => {
            signals.insert(Signal::BuysWithin30Days);
        }
        Some(Timeframe::Later) => {
            signals.insert(Signal::BuysLater);
        }
        Some(Timeframe::Within6Months) | None => {}
    }
}

/// A flow's saved timeframe: the canonical names, a few aliases, or words.
pub(super) fn timeframe_value(text: &str) -> (Option<Timeframe>, bool) {
    match text {
        // Both spellings: serde's snake_case of `Within30Days` is "within30_days".
        "within_30_days" | "within30_days" | "this_month" | "now" | "soon" => {
            (Some(Timeframe::Within30Days), false)
        }
        "within_6_months" | "within6_months" | "months" => (Some(Timeframe::Within6Months), false),
        "later" | "next_year" => (Some(Timeframe::Later), false),
        "just_looking" => (Some(Timeframe::Later), true),
        other => {
            let other = head(other, MAX_SCAN_CHARS);
            let folded = View::folded(other);
            let words = View::words(&folded);
            let today = jiff::Zoned::now().date();
            find_timeframe(&words, &folded, today)
        }
    }
}

// Financing, trade-in, price.

static CASH: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r"\b(?:de contado|al contado|en efectivo|pago total|cash|pay in full|sin (?:credito|financiacion|financiar|financiamiento)|no (?:necesito|quiero|requiero|voy a necesitar|need) (?:un |a )?(?:credito|financiacion|financiar|financiamiento|prestamo|financing|loan))\b",
    )
});
static FINANCED: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r"\b(?:a credito|credito|creditos|financiad[oa]s?|financiar(?:lo|la)?|financiacion|financiamiento|financian|financia|cuotas?|leasing|prestamo|plan de pagos|financing|finance|financed|loan|installments?|monthly payments?)\b",
    )
});

/// `(financing, asked about financing)`: both cash and credit mentioned means unknown.
pub(super) fn find_financing(words: &View) -> (Option<bool>, bool) {
    let cash: Vec<Range<usize>> = CASH.find_iter(&words.text).map(|m| m.range()).collect();
    let financed = FINANCED
        .find_iter(&words.text)
        .any(|m| !overlaps(&m.range(), &cash));
    let financing = match (financed, !cash.is_empty()) {
        (true, false) => Some(true),
        (false, true) => Some(false),
        _ => None,
    };
    (financing, financed)
}

pub(super) fn financing_value(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::String(s) => match words_of(s).as_str() {
            "true" | "yes" | "si" | "credito" | "a credito" | "financed" | "financing"
            | "financiado" | "financiacion" | "leasing" => Some(true),
            "false" | "no" | "contado" | "de contado" | "cash" => Some(false),
            "" => None,
            _ => find_financing(&View::words(&View::folded(head(s, MAX_SCAN_CHARS)))).0,
        },
        _ => None,
    }
}

static TRADE_IN: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r"\b(?:parte de pago|retoma|retoman|retomar|retomarian|permuta|permutar|permutan|recib(?:e|en|irian|ir) (?:mi|mis|(?:un |una |el )?(?:carros?|vehiculos?|autos?|usados?|camionetas?|motos?))|trade in|trade my|part exchange)\b",
    )
});
static TRADE_IN_DENIED: LazyLock<Regex> = LazyLock::new(|| {
    regex(r"\b(?:no tengo|no tenemos|sin (?:retoma|permuta)|i don t have|no trade in)\b")
});
/// Where a description of the customer's car starts: "tengo un…", "mi…".
static TRADE_IN_INTRO: LazyLock<Regex> =
    LazyLock::new(|| regex(r"\b(?:tengo|tenemos|i have|i ve got|mi|my)\b"));
const LEADING_ARTICLES: &[&str] = &["un", "una", "a", "an", "el", "la", "mi", "my"];
const GENERIC_CARS: &[&str] = &[
    "carro",
    "carrito",
    "vehiculo",
    "auto",
    "coche",
    "camioneta",
    "moto",
    "usado",
    "actual",
    "car",
    "vehicle",
    "truck",
    "suv",
];
const DESCRIPTION_STOPS: &[&str] = &[
    "para",
    "que",
    "y",
    "como",
    "en",
    "de",
    "to",
    "for",
    "and",
    "as",
    "lo",
    "la",
    "el",
    "los",
    "las",
    "quiero",
    "busco",
    "necesito",
    "me",
    "se",
    "si",
    "pero",
    "porque",
    "con",
    "a",
    "i",
    "reciben",
    "recibe",
    "recibirian",
    "retoma",
    "permuta",
    "it",
    "is",
    "es",
];

pub(super) fn trade_in_value(value: &Value) -> Option<String> {
    match value {
        Value::Bool(true) => Some(String::new()),
        Value::Bool(false) => None,
        Value::String(s) => match words_of(s).as_str() {
            "" | "no" | "false" | "none" | "ninguno" | "ninguna" | "nada" => None,
            "si" | "yes" | "true" => Some(String::new()),
            _ => Some(head(s.trim(), 120).to_owned()),
        },
        _ => None,
    }
}

pub(super) static PRICE_QUESTION: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r"\b(?:cuanto (?:cuesta|cuestan|vale|valen|sale|salen)|que precio|precio|precios|valor|valores|cotizacion|cotizar|cotizame|how much|price|prices|pricing|cost|quote)\b",
    )
});

impl Extractor {
    /// A trade-in: the car's description when the customer gave one, `""` otherwise. The
    /// second value is where the description and the cue are, for the model rule to skip.
    pub(super) fn find_trade_in(&self, words: &View) -> Option<(String, Vec<Range<usize>>)> {
        let cue = TRADE_IN.find(&words.text)?;
        if TRADE_IN_DENIED.is_match(&words.text) {
            return None;
        }
        let mut used = vec![words.original(cue.range())];
        let tokens = tokens(&words.text);
        let mut best: Option<(usize, Range<usize>)> = None;
        for intro in TRADE_IN_INTRO.find_iter(&words.text) {
            let distance = if intro.end() <= cue.start() {
                cue.start() - intro.end()
            } else {
                intro.start().saturating_sub(cue.end())
            };
            if distance > 80 {
                continue;
            }
            let Some(description) = self.car_description(&words.text, &tokens, intro.end()) else {
                continue;
            };
            if best.as_ref().is_none_or(|(d, _)| distance < *d) {
                best = Some((distance, description));
            }
        }
        let description = match best {
            Some((_, at)) => {
                let original = words.original(at);
                used.push(original.clone());
                words.source[original].trim().to_owned()
            }
            None => String::new(),
        };
        Some((description, used))
    }

    /// The words after "tengo un…" that describe a car, if they name a brand, a model or
    /// a year ("Mazda 3 2018"); "tengo una pregunta" describes none.
    fn car_description(
        &self,
        text: &str,
        tokens: &[Range<usize>],
        from: usize,
    ) -> Option<Range<usize>> {
        let start = tokens.iter().position(|t| t.start >= from)?;
        let mut picked: Vec<Range<usize>> = Vec::new();
        for token in &tokens[start..] {
            let word = &text[token.clone()];
            if picked.is_empty()
                && (LEADING_ARTICLES.contains(&word) || GENERIC_CARS.contains(&word))
            {
                continue;
            }
            if DESCRIPTION_STOPS.contains(&word) || picked.len() == 6 {
                break;
            }
            picked.push(token.clone());
        }
        let (first, last) = (picked.first()?, picked.last()?);
        let range = first.start..last.end;
        let described = &text[range.clone()];
        let names_a_car = described.chars().any(|c| c.is_ascii_digit())
            || self
                .brands
                .iter()
                .chain(self.models.iter().map(|(_, p)| p))
                .any(|name| find_phrase(described, name).next().is_some());
        names_a_car.then_some(range)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::read;
    use crate::leads::model::{Signal, Timeframe};

    #[test]
    fn budgets_in_pesos() {
        let budget = |text: &str| read(text).interest.budget_cop;
        assert_eq!(
            budget("tengo un presupuesto de 120 millones"),
            Some(120_000_000)
        );
        assert_eq!(budget("$120.000.000"), Some(120_000_000));
        assert_eq!(budget("hasta 90 millones"), Some(90_000_000));
        assert_eq!(budget("unos 120M"), Some(120_000_000));
        assert_eq!(budget("presupuesto 1,5 millones"), Some(1_500_000));
        assert_eq!(budget("hasta 95.000.000"), Some(95_000_000));
        assert_eq!(budget("tengo 80 palos"), Some(80_000_000));
        assert_eq!(budget("budget of 100 million pesos"), Some(100_000_000));
        for text in [
            "100 mil dólares",
            "USD 30,000",
            "us$ 45.000",
            "cuota inicial de 20 millones",
            "cuotas de 2 millones mensuales",
            "mide 4.5 m de largo",
            "modelo 2018 con 45.000 km",
            "tengo 2 carros",
            "hasta 2027",
        ] {
            assert_eq!(budget(text), None, "{text}");
        }
        assert_eq!(
            budget("cuota inicial de 20 millones y presupuesto de 110 millones"),
            Some(110_000_000)
        );
    }

    #[test]
    fn timeframes() {
        let when = |text: &str| {
            let x = read(text);
            (x.interest.timeframe, x.signals)
        };
        let soon = Some(Timeframe::Within30Days);
        for text in [
            "lo quiero comprar este mes",
            "lo necesito ya",
            "quiero comprar ya!",
            "lo antes posible",
            "en 2 semanas",
            "en dos semanas",
            "as soon as possible",
            "en diciembre",
        ] {
            let (timeframe, signals) = when(text);
            assert_eq!(timeframe, soon, "{text}");
            assert!(signals.contains(&Signal::BuysWithin30Days), "{text}");
        }
        for text in [
            "en dos meses",
            "el próximo mes",
            "en 3 meses",
            "para marzo",
            "in a couple of months",
        ] {
            assert_eq!(when(text).0, Some(Timeframe::Within6Months), "{text}");
        }
        for text in ["el próximo año", "en un año", "next year", "para agosto"] {
            let (timeframe, signals) = when(text);
            assert_eq!(timeframe, Some(Timeframe::Later), "{text}");
            assert!(signals.contains(&Signal::BuysLater), "{text}");
        }
        for text in [
            "solo estoy mirando",
            "Todavía no voy a comprar",
            "just looking, thanks",
        ] {
            let (timeframe, signals) = when(text);
            assert_eq!(timeframe, Some(Timeframe::Later), "{text}");
            assert!(signals.contains(&Signal::JustLooking), "{text}");
            assert!(!signals.contains(&Signal::BuysLater), "{text}");
        }
        for text in [
            "ya tengo carro",
            "ya agendé la cita",
            "quiero ya saber el precio",
            "no es urgente",
            "tiene 5 años de garantía",
            "hola",
        ] {
            assert_eq!(when(text).0, None, "{text}");
        }
        assert_eq!(
            when("no este mes, el próximo año").0,
            Some(Timeframe::Later)
        );
    }

    #[test]
    fn financing() {
        let fin = |text: &str| {
            let x = read(text);
            (
                x.interest.financing,
                x.signals.contains(&Signal::AskedFinancing),
            )
        };
        for text in [
            "lo quiero a crédito",
            "¿lo puedo pagar en cuotas?",
            "financiado",
            "¿tienen leasing?",
            "do you offer financing?",
        ] {
            assert_eq!(fin(text), (Some(true), true), "{text}");
        }
        for text in [
            "pago de contado",
            "al contado",
            "sin crédito",
            "no necesito financiación",
            "I'll pay cash",
        ] {
            assert_eq!(fin(text), (Some(false), false), "{text}");
        }
        assert_eq!(fin("no sé si de contado o a crédito"), (None, true));
        assert_eq!(fin("quiero una tiguan"), (None, false));
        assert_eq!(fin("tengo un crédito aprobado").0, Some(true));
    }

    #[test]
    fn trade_ins() {
        let trade = |text: &str| {
            let x = read(text);
            assert_eq!(
                x.interest.trade_in.is_some(),
                x.signals.contains(&Signal::HasTradeIn),
                "{text}"
            );
            x.interest.trade_in
        };
        assert_eq!(
            trade("tengo un Mazda 3 2018 para dejar en parte de pago").as_deref(),
            Some("Mazda 3 2018")
        );
        assert_eq!(
            trade("¿Reciben mi Renault Logan 2016 en parte de pago?").as_deref(),
            Some("Renault Logan 2016")
        );
        assert_eq!(
            trade("tengo una camioneta Kia Sportage 2017, ¿la reciben en retoma?").as_deref(),
            Some("Kia Sportage 2017")
        );
        assert_eq!(trade("¿hacen permuta?").as_deref(), Some(""));
        assert_eq!(trade("¿reciben mi carro?").as_deref(), Some(""));
        assert_eq!(
            trade("tengo una pregunta: ¿reciben carros usados?").as_deref(),
            Some("")
        );
        assert_eq!(
            trade("I have a 2019 Ford Focus to trade in").as_deref(),
            Some("2019 Ford Focus")
        );
        assert_eq!(trade("no tengo carro para dar en parte de pago"), None);
        assert_eq!(trade("quiero una Tiguan"), None);
        assert_eq!(trade("me recibe el asesor?"), None);
    }

    #[test]
    fn a_trade_in_car_is_not_the_model_wanted() {
        let x = read("tengo una Duster 2015 para dejar en parte de pago y quiero la Tiguan");
        assert_eq!(x.interest.model.as_deref(), Some("tiguan"));
        assert_eq!(x.interest.trade_in.as_deref(), Some("Duster 2015"));
    }

    #[test]
    fn price_questions() {
        for text in [
            "¿Cuánto cuesta la Tiguan?",
            "precio del duster",
            "qué valor tiene",
            "how much is it?",
            "me das una cotización",
        ] {
            assert!(read(text).signals.contains(&Signal::AskedPrice), "{text}");
        }
        for text in [
            "por favor",
            "el consumo",
            "la valoración del carro",
            "preciosa camioneta",
        ] {
            assert!(!read(text).signals.contains(&Signal::AskedPrice), "{text}");
        }
    }
}
