//! Times of day: "10am", "10:30", "10h30", "a las 3 de la tarde", "las 3 y media",
//! "cuarto para las 4", "mediodía", "half past three", "15:00".
//!
//! An hour without a.m./p.m. follows dealership hours: 1–6 is the afternoon (13–18),
//! 7–11 the morning, 12 noon. Written with a leading zero ("09:30", "01:00") or as 0 or
//! 13–23 it is read as a 24-hour clock. A date in front ("mañana a las 3") is ignored.

use std::sync::LazyLock;

use regex::Regex;

use super::{InputContext, Invalid, Lang, Parsed, date, fold, number};

/// "p. m.", "p.m.", "a.m" → "pm", "am" (only after a digit or a space, not inside words).
static DOTTED_MERIDIEM: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(^|[\d\s])([ap])\s?\.\s?m\b\.?").expect("valid regex"));
/// "10h30", "10 h 30" → "10:30"; "4.30" → "4:30".
static H_CLOCK: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b(\d{1,2})\s?(?:h|\.)\s?(\d{2})\b").expect("valid regex"));
/// "15h", "15 hrs", "15 horas" → "15".
static H_SUFFIX: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b(\d{1,2})\s?(?:h|hs|hrs?|horas?)\b").expect("valid regex"));
static DIGIT_LETTER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(\d)([a-z])").expect("valid regex"));
static ON_THE_HOUR: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b(?:en\s+punto|o\s?'?\s?clock|sharp)\b").expect("valid regex"));
static CLOCK: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(\d{1,2}):(\d{2})$").expect("valid regex"));

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Meridiem {
    Am,
    Pm,
    Night,
    Noon,
    Midnight,
}

/// Phrases that say which half of the day; removed from the text once found.
static MERIDIEMS: LazyLock<Vec<(Regex, Meridiem)>> = LazyLock::new(|| {
    [
        (
            r"\b(?:(?:de|en|por)\s+la\s+(?:manana|madrugada)|in\s+the\s+morning|this\s+morning|esta\s+manana|am)\b",
            Meridiem::Am,
        ),
        (
            r"\b(?:(?:(?:de|en|por)\s+la|esta)\s+tarde|tarde|in\s+the\s+afternoon|this\s+afternoon|pm)\b",
            Meridiem::Pm,
        ),
        (
            r"\b(?:(?:(?:de|en|por)\s+la|esta)\s+noche|noche|in\s+the\s+evening|this\s+evening|at\s+night|tonight)\b",
            Meridiem::Night,
        ),
        (r"\b(?:(?:del?|al|a)\s+)?(?:mediodia|noon|midday)\b", Meridiem::Noon),
        (r"\b(?:(?:de\s+la|a\s+la)\s+)?(?:medianoche|midnight)\b", Meridiem::Midnight),
    ]
    .into_iter()
    .map(|(re, m)| (Regex::new(re).expect("valid regex"), m))
    .collect()
});

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    /// "10:30"; `padded` when the hour was written "09".
    Clock {
        hour: u32,
        minute: u32,
        padded: bool,
    },
    Num {
        n: u32,
        padded: bool,
    },
    Word(u32),
    Plus,
    Minus,
    /// "para" (cuarto para las 4) and "to" (quarter to four).
    Before,
    /// "past", "after".
    After,
    Half,
    Quarter,
}

pub(super) fn parse(text: &str, ctx: &InputContext) -> Result<Parsed, Invalid> {
    if super::too_long(text) {
        return Err(invalid());
    }
    let (tokens, meridiem) = tokenize(text)?;
    let minutes = resolve(&tokens, meridiem)?;
    let (h, m) = (minutes / 60, minutes % 60);
    Ok(Parsed::new(
        format!("{h:02}:{m:02}"),
        display(h, m, ctx.language),
    ))
}

fn invalid() -> Invalid {
    Invalid::new(
        "No entendí la hora. Escríbela, por ejemplo, así: 3:00 p. m., 15:00 o «a las 3 de la tarde».",
        "I didn't get the time. Please write it like 3:00 PM, 15:00 or “3 in the afternoon”.",
    )
}

fn tokenize(text: &str) -> Result<(Vec<Tok>, Option<Meridiem>), Invalid> {
    let mut s: String = fold(text)
        .chars()
        .map(|c| {
            if ",;!?¿¡()\"«»".contains(c) {
                ' '
            } else {
                c
            }
        })
        .collect();
    s = s
        .replace("medio dia", "mediodia")
        .replace("media noche", "medianoche");
    // Letters glued to digits first ("10am", "4.30pm"), so the word boundaries below hold.
    s = DIGIT_LETTER.replace_all(&s, "$1 $2").into_owned();
    s = DOTTED_MERIDIEM.replace_all(&s, "$1 ${2}m ").into_owned();
    s = H_CLOCK.replace_all(&s, "$1:$2").into_owned();
    s = H_SUFFIX.replace_all(&s, "$1").into_owned();
    s = ON_THE_HOUR.replace_all(&s, " ").into_owned();

    let mut meridiem = None;
    for (re, m) in MERIDIEMS.iter() {
        if re.is_match(&s) {
            if meridiem.is_some_and(|seen| seen != *m) {
                return Err(invalid());
            }
            meridiem = Some(*m);
            s = re.replace_all(&s, " ").into_owned();
        }
    }

    let mut tokens = Vec::new();
    for w in s.split_whitespace() {
        let w = w.trim_end_matches('.');
        if let Some(tok) = classify(w)? {
            tokens.push(tok);
        }
    }
    Ok((tokens, meridiem))
}

fn classify(w: &str) -> Result<Option<Tok>, Invalid> {
    if let Some(caps) = CLOCK.captures(w) {
        let hour: u32 = caps[1].parse().map_err(|_| invalid())?;
        let minute: u32 = caps[2].parse().map_err(|_| invalid())?;
        let padded = caps[1].len() == 2 && caps[1].starts_with('0');
        return Ok(Some(Tok::Clock {
            hour,
            minute,
            padded,
        }));
    }
    if !w.is_empty() && w.len() <= 2 && w.bytes().all(|b| b.is_ascii_digit()) {
        let n = w.parse().map_err(|_| invalid())?;
        return Ok(Some(Tok::Num {
            n,
            padded: w.len() == 2 && w.starts_with('0'),
        }));
    }
    if date::weekday(w).is_some() {
        return Ok(None);
    }
    Ok(Some(match w {
        "y" | "and" => Tok::Plus,
        "menos" => Tok::Minus,
        "para" | "to" | "till" => Tok::Before,
        "past" | "after" => Tok::After,
        "media" | "half" => Tok::Half,
        "cuarto" | "quarter" => Tok::Quarter,
        "a" | "las" | "la" | "el" | "los" | "at" | "around" | "about" | "tipo" | "eso" | "de"
        | "como" | "sobre" | "hacia" | "hora" | "aprox" | "aproximadamente" | "approximately"
        | "por" | "favor" | "please" | "porfa" | "hoy" | "manana" | "pasado" | "today"
        | "tomorrow" | "the" | "un" | "an" | "mejor" | "puede" | "ser" | "temprano" | "eh" => {
            return Ok(None);
        }
        _ => match number::word_number(w) {
            Some(n) if n <= 59 => Tok::Word(n),
            _ => return Err(invalid()),
        },
    }))
}

/// Minutes after midnight.
fn resolve(tokens: &[Tok], meridiem: Option<Meridiem>) -> Result<u32, Invalid> {
    if tokens.is_empty() {
        return match meridiem {
            Some(Meridiem::Noon) => Ok(12 * 60),
            Some(Meridiem::Midnight) => Ok(0),
            _ => Err(invalid()),
        };
    }
    // "cuarto para las 4", "half past three", "ten to four".
    if let Some(pos) = tokens
        .iter()
        .position(|t| matches!(t, Tok::Before | Tok::After))
    {
        let (minute_part, rest) = tokens.split_at(pos);
        let [link, hour_part @ ..] = rest else {
            return Err(invalid());
        };
        let minutes = minute_expr(minute_part)?;
        let (hour, _) = hour_token(hour_part)?;
        let base = to_24h(hour, false, meridiem)? * 60;
        return match link {
            Tok::After if minutes < 60 => Ok(base + minutes),
            Tok::Before if minutes < 60 && minutes != 30 => {
                Ok((base + 24 * 60 - minutes) % (24 * 60))
            }
            _ => Err(invalid()),
        };
    }

    let (first, rest) = tokens.split_first().ok_or_else(invalid)?;
    if let Tok::Clock {
        hour,
        minute,
        padded,
    } = *first
    {
        if !rest.is_empty() || minute > 59 {
            return Err(invalid());
        }
        return Ok(to_24h(hour, padded, meridiem)? * 60 + minute);
    }
    let (hour, padded) = hour_token(std::slice::from_ref(first))?;
    let base = to_24h(hour, padded, meridiem)? * 60;
    match rest {
        [] => Ok(base),
        [Tok::Plus, minute @ ..] => Ok(base + minute_expr(minute)?),
        [Tok::Minus, minute @ ..] => {
            let minutes = minute_expr(minute)?;
            if minutes == 30 {
                return Err(invalid());
            }
            Ok((base + 24 * 60 - minutes) % (24 * 60))
        }
        // "three thirty", "10 30".
        minute => Ok(base + minute_expr(minute)?),
    }
}

/// The hour in an "hour" position: a number or a word, 0–23.
fn hour_token(tokens: &[Tok]) -> Result<(u32, bool), Invalid> {
    match tokens {
        [Tok::Num { n, padded }] if *n <= 23 => Ok((*n, *padded)),
        [Tok::Word(n)] if *n <= 23 => Ok((*n, false)),
        _ => Err(invalid()),
    }
}

/// 0–59 minutes: "media", "cuarto", "15", "quince", "cuarenta y cinco", "forty five".
fn minute_expr(tokens: &[Tok]) -> Result<u32, Invalid> {
    let minutes = match tokens {
        [Tok::Half] => 30,
        [Tok::Quarter] => 15,
        [Tok::Num { n, .. }] | [Tok::Word(n)] => *n,
        [Tok::Word(tens), Tok::Word(units)] | [Tok::Word(tens), Tok::Plus, Tok::Word(units)]
            if *tens >= 20 && tens % 10 == 0 && (1..=9).contains(units) =>
        {
            tens + units
        }
        _ => return Err(invalid()),
    };
    if minutes > 59 {
        return Err(invalid());
    }
    Ok(minutes)
}

/// Applies a.m./p.m., or the dealership-hours heuristic when there is none.
fn to_24h(hour: u32, padded: bool, meridiem: Option<Meridiem>) -> Result<u32, Invalid> {
    let h = match (meridiem, hour) {
        (_, 24..) => return Err(invalid()),
        (Some(Meridiem::Am), 12) => 0,
        (Some(Meridiem::Am), 0..=11) => hour,
        (Some(Meridiem::Am), _) => return Err(invalid()),
        (Some(Meridiem::Pm | Meridiem::Noon), 0) => return Err(invalid()),
        (Some(Meridiem::Pm | Meridiem::Noon), 1..=11) => hour + 12,
        (Some(Meridiem::Pm | Meridiem::Noon), _) => hour,
        // "12 de la noche" is midnight; "2 de la noche" is the small hours.
        (Some(Meridiem::Night), 12 | 0) => 0,
        (Some(Meridiem::Night), 1..=4) => hour,
        (Some(Meridiem::Night), 5..=11) => hour + 12,
        (Some(Meridiem::Night), _) => hour,
        (Some(Meridiem::Midnight), 12 | 0) => 0,
        (Some(Meridiem::Midnight), _) => return Err(invalid()),
        (None, _) if padded || hour == 0 || hour >= 13 => hour,
        (None, 1..=6) => hour + 12,
        (None, _) => hour,
    };
    Ok(h)
}

fn display(h: u32, m: u32, lang: Lang) -> String {
    let h12 = match h % 12 {
        0 => 12,
        x => x,
    };
    match (lang, h < 12) {
        (Lang::Es, true) => format!("{h12}:{m:02} a. m."),
        (Lang::Es, false) => format!("{h12}:{m:02} p. m."),
        (Lang::En, true) => format!("{h12}:{m:02} AM"),
        (Lang::En, false) => format!("{h12}:{m:02} PM"),
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
            ("10am", "10:00"),
            ("10 am", "10:00"),
            ("10 AM", "10:00"),
            ("10:30", "10:30"),
            ("10h30", "10:30"),
            ("10 h 30", "10:30"),
            ("3 pm", "15:00"),
            ("3pm", "15:00"),
            ("a las 3 de la tarde", "15:00"),
            ("3 de la tarde", "15:00"),
            ("a las 8 de la mañana", "08:00"),
            ("8 de la noche", "20:00"),
            ("mediodía", "12:00"),
            ("medio día", "12:00"),
            ("al mediodía", "12:00"),
            ("12 del mediodía", "12:00"),
            ("las 3 y media", "15:30"),
            ("3:15 p.m.", "15:15"),
            ("3:15 p. m.", "15:15"),
            ("9:45 a.m.", "09:45"),
            ("15:00", "15:00"),
            ("15h", "15:00"),
            ("15 horas", "15:00"),
            ("noon", "12:00"),
            ("midnight", "00:00"),
            ("medianoche", "00:00"),
            ("12 am", "00:00"),
            ("12 pm", "12:00"),
            ("12 de la noche", "00:00"),
            ("half past three", "15:30"),
            ("quarter past 10", "10:15"),
            ("quarter to four", "15:45"),
            ("cuarto para las 4", "15:45"),
            ("un cuarto para las 12", "11:45"),
            ("las 4 menos cuarto", "15:45"),
            ("las 7 menos diez", "06:50"),
            ("las tres y cuarto", "15:15"),
            ("a las dos y cuarenta y cinco", "14:45"),
            ("three thirty pm", "15:30"),
            ("a la una", "13:00"),
            ("a las 11", "11:00"),
            ("las 7", "07:00"),
            ("a las 12", "12:00"),
            ("09:30", "09:30"),
            ("01:00", "01:00"),
            ("0:30", "00:30"),
            ("4.30pm", "16:30"),
            ("mañana a las 9", "09:00"),
            ("el sábado a las 11 de la mañana", "11:00"),
            ("tipo 4", "16:00"),
            ("a eso de las 10", "10:00"),
            ("3 en punto", "15:00"),
            ("at 5 o'clock", "17:00"),
            ("7 in the evening", "19:00"),
            ("10 de la mañana", "10:00"),
            ("2 y 15 de la tarde", "14:15"),
            ("7 tarde", "19:00"),
            ("esta noche a las 8", "20:00"),
            ("10 30", "10:30"),
        ];
        for (input, want) in cases {
            let p = parse(InputKind::Time, input, &ctx())
                .unwrap_or_else(|e| panic!("{input:?} rejected: {e}"));
            assert_eq!(p.value, json!(want), "{input:?}");
        }
    }

    #[test]
    fn display_in_both_languages() {
        let mut en = ctx();
        en.language = Lang::En;
        for (input, es, en_display) in [
            ("15:00", "3:00 p. m.", "3:00 PM"),
            ("9:05 am", "9:05 a. m.", "9:05 AM"),
            ("mediodía", "12:00 p. m.", "12:00 PM"),
            ("medianoche", "12:00 a. m.", "12:00 AM"),
        ] {
            assert_eq!(parse(InputKind::Time, input, &ctx()).unwrap().display, es);
            assert_eq!(
                parse(InputKind::Time, input, &en).unwrap().display,
                en_display
            );
        }
    }

    #[test]
    fn rejects() {
        let cases = [
            "",
            "abc",
            "mañana",
            "25:00",
            "10:75",
            "24:00",
            "15 am",
            "0 pm",
            "3 am pm",
            "3 y 4 y 5",
            "100",
            "las 3 y 60",
            "5 de la tarde de la mañana",
            "3 medianoche",
            "😀",
            "3:5",
        ];
        for input in cases {
            assert!(
                parse(InputKind::Time, input, &ctx()).is_err(),
                "{input:?} should be rejected"
            );
        }
        let e = parse(InputKind::Time, "abc", &ctx()).unwrap_err();
        assert!(e.es.contains("3:00 p. m.") && e.en.contains("3:00 PM"));
    }
}
