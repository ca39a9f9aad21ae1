//! Dates as customers say them, relative to "now" in the branch's time zone: "mañana",
//! "el sábado", "15 de diciembre", "15/12", "el 15", "next monday", "dec 15th".
//!
//! Ambiguity rules, chosen for booking visits:
//! - Slash and dash dates are day/month (Latin America): "05/06" is 5 June, and "12/15"
//!   is rejected with a hint rather than read as US month/day.
//! - A bare weekday ("el sábado", "este sábado", "on saturday") is its next occurrence
//!   after today, so said on a Saturday it means next week; only "hoy sábado" is today.
//!   "el próximo lunes" / "next monday" mean the same next occurrence; "el lunes de la
//!   próxima semana" / "monday next week" is the Monday of the following calendar week.
//! - Day and month without a year roll to next year when already past; "el 15" rolls to
//!   the next month that has that day; a full date in the past is rejected.
//! - A trailing time ("mañana a las 3 pm", "tomorrow at noon") is ignored.

use std::sync::LazyLock;

use jiff::Span;
use jiff::civil::{Date, Weekday};
use regex::Regex;

use super::{InputContext, Invalid, Lang, Parsed, fold, number};

const WEEKDAYS_ES: [&str; 7] = [
    "lunes",
    "martes",
    "miércoles",
    "jueves",
    "viernes",
    "sábado",
    "domingo",
];
const WEEKDAYS_EN: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];
const MONTHS_ES: [&str; 12] = [
    "enero",
    "febrero",
    "marzo",
    "abril",
    "mayo",
    "junio",
    "julio",
    "agosto",
    "septiembre",
    "octubre",
    "noviembre",
    "diciembre",
];
const MONTHS_EN: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// "a las 3", "at noon", "en la tarde"...: the time part, dropped.
static TIME_TAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"\s+(?:a\s+las?|a\s+eso|a\s+(?:mediodia|medianoche)|al\s+mediodia|at|tipo|around|como\s+a(?:\s+las?)?|(?:de|en|por)\s+la\s+(?:manana|tarde|noche|madrugada)|in\s+the\s+(?:morning|afternoon|evening)|tarde|noche)\b.*$",
    )
    .expect("valid regex")
});

static NUMERIC_DATE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(\d{1,4})([/\-.])(\d{1,2})(?:([/\-.])(\d{2}|\d{4}))?$").expect("valid regex")
});

static SLASH_SPACES: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(\d)\s*([/\-])\s*(\d)").expect("valid regex"));

static ORDINAL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(\d{1,2})(?:st|nd|rd|th|ero|ro|er|o|°|º|\.)$").expect("valid regex")
});

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    Today,
    Tomorrow,
    DayAfter,
    Yesterday,
    Weekday(Weekday),
    Month(i8),
    /// A number and how many digits it was written with (0 for words).
    Num(u32, usize),
    /// "un", "una", "a": one, but only counted in "en una semana" / "in a week".
    One,
    Next,
    Week,
    Days,
    In,
}

/// What the tokens resolved to, before past-date rules.
enum Resolved {
    /// A date the customer fixed completely (relative words or a year).
    Exact(Date),
    /// Day and month: rolls to next year when past.
    DayMonth(i8, i8),
    /// Day of month only: rolls to the next month that has it.
    Day(i8),
}

pub(super) fn parse(text: &str, ctx: &InputContext) -> Result<Parsed, Invalid> {
    if super::too_long(text) {
        return Err(invalid());
    }
    let today = ctx.now.date();
    let tokens = tokenize(text)?;
    let date = resolve(&tokens, today)?;
    Ok(Parsed::new(
        date.to_string(),
        display(date, today, ctx.language),
    ))
}

fn tokenize(text: &str) -> Result<Vec<Tok>, Invalid> {
    let mut s = fold(text);
    s = s
        .chars()
        .map(|c| {
            if ",;!?¿¡()\"«»".contains(c) {
                ' '
            } else {
                c
            }
        })
        .collect();
    s = SLASH_SPACES.replace_all(&s, "$1$2$3").into_owned();
    s = TIME_TAIL.replace(&s, "").into_owned();

    let words: Vec<&str> = s
        .split_whitespace()
        .map(|w| {
            if NUMERIC_DATE.is_match(w) {
                w
            } else {
                w.trim_end_matches('.')
            }
        })
        .filter(|w| !w.is_empty())
        .collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let rest = &words[i..];
        let (tok, used): (Option<Tok>, usize) = match rest {
            ["pasado", "manana", ..] => (Some(Tok::DayAfter), 2),
            ["day", "after", "tomorrow", ..] => (Some(Tok::DayAfter), 3),
            ["que", "viene", ..] => (Some(Tok::Next), 2),
            [w, ..] if NUMERIC_DATE.is_match(w) => {
                tokens.extend(numeric_date(w)?);
                i += 1;
                continue;
            }
            [w, ..] => (word(w)?, 1),
            [] => break,
        };
        tokens.extend(tok);
        i += used;
    }
    Ok(tokens)
}

/// One word; Ok(None) for fillers, Err for anything unknown.
fn word(w: &str) -> Result<Option<Tok>, Invalid> {
    if let Some(caps) = ORDINAL.captures(w) {
        let n = caps[1].parse().map_err(|_| invalid())?;
        return Ok(Some(Tok::Num(n, caps[1].len())));
    }
    if !w.is_empty() && w.len() <= 4 && w.bytes().all(|b| b.is_ascii_digit()) {
        let n = w.parse().map_err(|_| invalid())?;
        return Ok(Some(Tok::Num(n, w.len())));
    }
    if let Some(day) = weekday(w) {
        return Ok(Some(Tok::Weekday(day)));
    }
    if let Some(m) = month(w) {
        return Ok(Some(Tok::Month(m)));
    }
    let tok = match w {
        "hoy" | "today" | "tonight" => Tok::Today,
        "manana" | "tomorrow" => Tok::Tomorrow,
        "ayer" | "yesterday" => Tok::Yesterday,
        "proximo" | "proxima" | "next" | "siguiente" | "entrante" | "otra" => Tok::Next,
        "semana" | "week" | "weeks" | "semanas" => Tok::Week,
        "dia" | "dias" | "day" | "days" => Tok::Days,
        "en" | "in" | "dentro" => Tok::In,
        "primero" | "first" => Tok::Num(1, 0),
        "el" | "la" | "los" | "de" | "del" | "para" | "on" | "the" | "of" | "for" | "este"
        | "esta" | "this" | "coming" | "a" | "al" | "por" | "favor" | "please" | "porfa"
        | "mejor" | "puede" | "ser" | "si" | "yes" | "ok" | "un" | "una" | "an" | "fecha"
        | "date" => {
            return Ok(match w {
                "un" | "una" | "a" | "an" => Some(Tok::One),
                _ => None,
            });
        }
        _ => match number::word_number(w) {
            Some(n) if (1..=31).contains(&n) => Tok::Num(n, 0),
            _ => return Err(invalid()),
        },
    };
    Ok(Some(tok))
}

pub(super) fn weekday(w: &str) -> Option<Weekday> {
    Some(match w {
        "lunes" | "monday" | "mon" | "lun" => Weekday::Monday,
        "martes" | "tuesday" | "tue" | "tues" => Weekday::Tuesday,
        "miercoles" | "wednesday" | "wed" | "mie" | "mier" => Weekday::Wednesday,
        "jueves" | "thursday" | "thu" | "thur" | "thurs" | "jue" => Weekday::Thursday,
        "viernes" | "friday" | "fri" | "vie" => Weekday::Friday,
        "sabado" | "saturday" | "sat" | "sab" => Weekday::Saturday,
        "domingo" | "sunday" | "sun" | "dom" => Weekday::Sunday,
        _ => return None,
    })
}

fn month(w: &str) -> Option<i8> {
    Some(match w {
        "enero" | "january" | "ene" | "jan" => 1,
        "febrero" | "february" | "feb" => 2,
        "marzo" | "march" | "mar" => 3,
        "abril" | "april" | "abr" | "apr" => 4,
        "mayo" | "may" => 5,
        "junio" | "june" | "jun" => 6,
        "julio" | "july" | "jul" => 7,
        "agosto" | "august" | "ago" | "aug" => 8,
        "septiembre" | "setiembre" | "september" | "sep" | "sept" | "set" => 9,
        "octubre" | "october" | "oct" => 10,
        "noviembre" | "november" | "nov" => 11,
        "diciembre" | "december" | "dic" | "dec" => 12,
        _ => return None,
    })
}

/// "15/12", "15-12-2026", "2026-12-15", "15/12/26" as day, month and maybe year tokens.
fn numeric_date(w: &str) -> Result<Vec<Tok>, Invalid> {
    let caps = NUMERIC_DATE.captures(w).ok_or_else(invalid)?;
    let num = |i: usize| -> Result<u32, Invalid> {
        caps.get(i)
            .ok_or_else(invalid)?
            .as_str()
            .parse()
            .map_err(|_| invalid())
    };
    let (first, second) = (&caps[1], num(3)?);
    if let Some(sep2) = caps.get(4)
        && sep2.as_str() != &caps[2]
    {
        return Err(invalid());
    }
    if first.len() == 4 {
        // ISO year-month-day.
        let day = caps
            .get(5)
            .filter(|d| d.as_str().len() <= 2)
            .ok_or_else(invalid)?;
        let day = day.as_str().parse().map_err(|_| invalid())?;
        return Ok(vec![
            Tok::Num(day, 2),
            month_tok(second)?,
            Tok::Num(first.parse().map_err(|_| invalid())?, 4),
        ]);
    }
    if first.len() > 2 {
        return Err(invalid());
    }
    let day: u32 = first.parse().map_err(|_| invalid())?;
    if second > 12 && (1..=12).contains(&day) {
        return Err(Invalid::new(
            "Escribe la fecha como día/mes, por ejemplo 15/12 para el 15 de diciembre.",
            "Please write the date as day/month, for example 15/12 for December 15.",
        ));
    }
    let mut toks = vec![Tok::Num(day, 2), month_tok(second)?];
    if let Some(year) = caps.get(5) {
        let y: u32 = year.as_str().parse().map_err(|_| invalid())?;
        let y = if year.as_str().len() == 2 {
            2000 + y
        } else {
            y
        };
        toks.push(Tok::Num(y, 4));
    }
    Ok(toks)
}

fn month_tok(m: u32) -> Result<Tok, Invalid> {
    match i8::try_from(m) {
        Ok(m @ 1..=12) => Ok(Tok::Month(m)),
        _ => Err(no_such_date()),
    }
}

fn resolve(tokens: &[Tok], today: Date) -> Result<Date, Invalid> {
    let mut weekdays = Vec::new();
    let mut months = Vec::new();
    let mut days = Vec::new();
    let mut years = Vec::new();
    let mut relative = Vec::new();
    let (mut next, mut week, mut in_, mut day_word, mut one) = (false, false, false, false, false);
    for &tok in tokens {
        match tok {
            Tok::Today | Tok::Tomorrow | Tok::DayAfter | Tok::Yesterday => relative.push(tok),
            Tok::Weekday(w) => weekdays.push(w),
            Tok::Month(m) => months.push(m),
            Tok::Num(n, 4) => years.push(n),
            Tok::Num(n, _) => days.push(n),
            Tok::Next => next = true,
            Tok::Week => week = true,
            Tok::Days => day_word = true,
            Tok::In => in_ = true,
            Tok::One => one = true,
        }
    }
    if weekdays.len() > 1 || months.len() > 1 || years.len() > 1 || relative.len() > 1 {
        return Err(invalid());
    }
    let weekday = weekdays.first().copied();

    // "en 3 días", "in two weeks", "dentro de una semana".
    if in_ {
        let n = match days[..] {
            [n] => n,
            [] if one => 1,
            _ => return Err(invalid()),
        };
        if weekday.is_some() || !months.is_empty() || !years.is_empty() || !relative.is_empty() {
            return Err(invalid());
        }
        let n = i64::from(n)
            * if week {
                7
            } else if day_word {
                1
            } else {
                return Err(invalid());
            };
        if n > 366 {
            return Err(invalid());
        }
        return add_days(today, n);
    }

    let resolved = if let Some(&rel) = relative.first() {
        if !days.is_empty() || !months.is_empty() || !years.is_empty() || week {
            return Err(invalid());
        }
        let offset = match rel {
            Tok::Today => 0,
            Tok::Tomorrow => 1,
            Tok::DayAfter => 2,
            _ => return Err(past()),
        };
        Resolved::Exact(add_days(today, offset)?)
    } else if let Some(&m) = months.first() {
        let [d] = days[..] else { return Err(invalid()) };
        let d = day_number(d)?;
        match years.first() {
            Some(&y) => {
                let y = i16::try_from(y).map_err(|_| invalid())?;
                Resolved::Exact(Date::new(y, m, d).map_err(|_| no_such_date())?)
            }
            None => Resolved::DayMonth(d, m),
        }
    } else if !years.is_empty() {
        return Err(invalid());
    } else if let [d] = days[..] {
        Resolved::Day(day_number(d)?)
    } else if !days.is_empty() {
        return Err(invalid());
    } else if let Some(w) = weekday {
        // Only a weekday: the check below would be circular.
        let date = if next && week {
            let monday = add_days(
                today,
                7 - i64::from(today.weekday().to_monday_zero_offset()),
            )?;
            add_days(monday, i64::from(w.to_monday_zero_offset()))?
        } else {
            let ahead =
                (w.to_monday_zero_offset() - today.weekday().to_monday_zero_offset() + 7) % 7;
            add_days(today, if ahead == 0 { 7 } else { i64::from(ahead) })?
        };
        return Ok(date);
    } else if week {
        return Err(Invalid::new(
            "¿Qué día de la semana? Escribe, por ejemplo, «el lunes de la próxima semana» o una fecha como 15/12.",
            "Which day of the week? Write, for example, “Monday next week” or a date like 15/12.",
        ));
    } else {
        return Err(invalid());
    };

    let date = match resolved {
        Resolved::Exact(date) => {
            if date < today {
                return Err(past());
            }
            date
        }
        Resolved::DayMonth(d, m) => next_day_month(today, d, m)?,
        Resolved::Day(d) => next_day_of_month(today, d)?,
    };
    if let Some(w) = weekday
        && date.weekday() != w
    {
        return Err(weekday_mismatch(date, w));
    }
    Ok(date)
}

fn day_number(d: u32) -> Result<i8, Invalid> {
    match i8::try_from(d) {
        Ok(d @ 1..=31) => Ok(d),
        _ => Err(no_such_date()),
    }
}

fn add_days(date: Date, days: i64) -> Result<Date, Invalid> {
    let span = Span::new().try_days(days).map_err(|_| invalid())?;
    date.checked_add(span).map_err(|_| invalid())
}

/// This year's day/month, or the next year's that exists (29 February waits for a leap year).
fn next_day_month(today: Date, d: i8, m: i8) -> Result<Date, Invalid> {
    let mut any_valid = false;
    for ahead in 0..=8 {
        let Some(year) = today.year().checked_add(ahead) else {
            break;
        };
        if let Ok(date) = Date::new(year, m, d) {
            any_valid = true;
            if date >= today {
                return Ok(date);
            }
        }
    }
    Err(if any_valid { invalid() } else { no_such_date() })
}

/// "El 15": this month if still ahead, else the next month that has that day.
fn next_day_of_month(today: Date, d: i8) -> Result<Date, Invalid> {
    let mut first = today.first_of_month();
    for _ in 0..12 {
        if let Ok(date) = Date::new(first.year(), first.month(), d)
            && date >= today
        {
            return Ok(date);
        }
        first = first
            .checked_add(Span::new().months(1))
            .map_err(|_| invalid())?;
    }
    Err(no_such_date())
}

fn display(date: Date, today: Date, lang: Lang) -> String {
    let wd = usize::from(date.weekday().to_monday_zero_offset().unsigned_abs());
    let mi = usize::from(date.month().unsigned_abs()).saturating_sub(1);
    let other_year = date.year() != today.year();
    match lang {
        Lang::Es => {
            let mut s = format!(
                "{} {} de {}",
                WEEKDAYS_ES[wd % 7],
                date.day(),
                MONTHS_ES[mi % 12]
            );
            if other_year {
                s.push_str(&format!(" de {}", date.year()));
            }
            s
        }
        Lang::En => {
            let mut s = format!(
                "{}, {} {}",
                WEEKDAYS_EN[wd % 7],
                MONTHS_EN[mi % 12],
                date.day()
            );
            if other_year {
                s.push_str(&format!(", {}", date.year()));
            }
            s
        }
    }
}

fn invalid() -> Invalid {
    Invalid::new(
        "No entendí la fecha. Puedes escribir, por ejemplo, «mañana», «el sábado», «15 de diciembre» o 15/12 (día/mes).",
        "I didn't get the date. You can write, for example, “tomorrow”, “on Saturday”, “December 15” or 15/12 (day/month).",
    )
}

fn no_such_date() -> Invalid {
    Invalid::new(
        "Esa fecha no existe. Revísala y escríbela de nuevo, por ejemplo 15 de diciembre o 15/12.",
        "That date doesn't exist. Please check it and type it again, for example December 15 or 15/12.",
    )
}

fn past() -> Invalid {
    Invalid::new(
        "Esa fecha ya pasó. Escribe una fecha de hoy en adelante, por ejemplo «mañana» o 15/12.",
        "That date has already passed. Please write a date from today on, for example “tomorrow” or 15/12.",
    )
}

fn weekday_mismatch(date: Date, said: Weekday) -> Invalid {
    let actual = usize::from(date.weekday().to_monday_zero_offset().unsigned_abs()) % 7;
    let said = usize::from(said.to_monday_zero_offset().unsigned_abs()) % 7;
    let mi = usize::from(date.month().unsigned_abs()).saturating_sub(1) % 12;
    Invalid::new(
        format!(
            "Esa fecha no coincide: el {} de {} es {}, no {}. ¿Qué día quieres?",
            date.day(),
            MONTHS_ES[mi],
            WEEKDAYS_ES[actual],
            WEEKDAYS_ES[said]
        ),
        format!(
            "That doesn't match: {} {} is a {}, not a {}. Which day would you like?",
            MONTHS_EN[mi],
            date.day(),
            WEEKDAYS_EN[actual],
            WEEKDAYS_EN[said]
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{ctx, ctx_at};
    use super::super::{InputKind, Lang, parse};
    use serde_json::json;

    fn date_of(input: &str) -> String {
        let p = parse(InputKind::Date, input, &ctx())
            .unwrap_or_else(|e| panic!("{input:?} rejected: {e}"));
        p.value.as_str().unwrap_or_default().to_string()
    }

    /// `now` is Monday 2026-11-23 10:00 in Bogotá.
    #[test]
    fn accepts_spanish() {
        let cases = [
            ("hoy", "2026-11-23"),
            ("Hoy lunes", "2026-11-23"),
            ("mañana", "2026-11-24"),
            ("manana", "2026-11-24"),
            ("MAÑANA", "2026-11-24"),
            ("pasado mañana", "2026-11-25"),
            ("el sábado", "2026-11-28"),
            ("este sabado", "2026-11-28"),
            ("sábado", "2026-11-28"),
            ("Miércoles", "2026-11-25"),
            ("el lunes", "2026-11-30"),
            ("el próximo lunes", "2026-11-30"),
            ("el lunes que viene", "2026-11-30"),
            ("el miércoles de la próxima semana", "2026-12-02"),
            ("el viernes de la otra semana", "2026-12-04"),
            ("15 de diciembre", "2026-12-15"),
            ("15 dic", "2026-12-15"),
            ("dic 15", "2026-12-15"),
            ("diciembre 15", "2026-12-15"),
            ("15 de diciembre de 2026", "2026-12-15"),
            ("martes 15 de diciembre", "2026-12-15"),
            ("15/12", "2026-12-15"),
            ("15 / 12", "2026-12-15"),
            ("15/12/2026", "2026-12-15"),
            ("15/12/26", "2026-12-15"),
            ("15-12", "2026-12-15"),
            ("15.12.2026", "2026-12-15"),
            ("2026-12-15", "2026-12-15"),
            ("el 15", "2026-12-15"),
            ("el día 28", "2026-11-28"),
            ("el 23", "2026-11-23"),
            ("el 31", "2026-12-31"),
            ("sábado 28", "2026-11-28"),
            ("primero de diciembre", "2026-12-01"),
            ("1ro de dic.", "2026-12-01"),
            ("veinticinco de diciembre", "2026-12-25"),
            ("15/01", "2027-01-15"),
            ("2 de enero", "2027-01-02"),
            ("22/11", "2027-11-22"),
            ("23/11", "2026-11-23"),
            ("29/02", "2028-02-29"),
            ("mañana a las 3 pm", "2026-11-24"),
            ("el sábado en la mañana", "2026-11-28"),
            ("el sábado tarde", "2026-11-28"),
            ("en 3 días", "2026-11-26"),
            ("dentro de una semana", "2026-11-30"),
            ("¿El viernes?", "2026-11-27"),
            ("mañana a mediodía", "2026-11-24"),
        ];
        for (input, want) in cases {
            assert_eq!(date_of(input), want, "{input:?}");
        }
    }

    #[test]
    fn accepts_english() {
        let cases = [
            ("today", "2026-11-23"),
            ("tomorrow", "2026-11-24"),
            ("day after tomorrow", "2026-11-25"),
            ("the day after tomorrow", "2026-11-25"),
            ("on saturday", "2026-11-28"),
            ("this Saturday", "2026-11-28"),
            ("next monday", "2026-11-30"),
            ("monday next week", "2026-11-30"),
            ("next week thursday", "2026-12-03"),
            ("december 15", "2026-12-15"),
            ("Dec 15th", "2026-12-15"),
            ("15th of December", "2026-12-15"),
            ("December 15, 2026", "2026-12-15"),
            ("the 28th", "2026-11-28"),
            ("in a week", "2026-11-30"),
            ("tomorrow at noon", "2026-11-24"),
            ("in 2 weeks", "2026-12-07"),
            ("jan 3rd", "2027-01-03"),
        ];
        for (input, want) in cases {
            assert_eq!(date_of(input), want, "{input:?}");
        }
    }

    #[test]
    fn display_in_both_languages() {
        let p = parse(InputKind::Date, "15/12", &ctx()).unwrap();
        assert_eq!(p.value, json!("2026-12-15"));
        assert_eq!(p.display, "martes 15 de diciembre");
        let mut en = ctx();
        en.language = Lang::En;
        let p = parse(InputKind::Date, "el sábado", &en).unwrap();
        assert_eq!(p.display, "Saturday, November 28");
        let p = parse(InputKind::Date, "15/01", &ctx()).unwrap();
        assert_eq!(p.display, "viernes 15 de enero de 2027");
        let p = parse(InputKind::Date, "15/01", &en).unwrap();
        assert_eq!(p.display, "Friday, January 15, 2027");
        let p = parse(InputKind::Date, "miercoles", &ctx()).unwrap();
        assert_eq!(p.display, "miércoles 25 de noviembre");
    }

    #[test]
    fn today_is_taken_in_the_branch_time_zone() {
        // 22:00 in Bogotá is already 03:00 of the next day in UTC; Bogotá has no DST.
        let late = ctx_at(2026, 11, 23, 22, 0);
        let p = parse(InputKind::Date, "hoy", &late).unwrap();
        assert_eq!(p.value, json!("2026-11-23"));
        let p = parse(InputKind::Date, "mañana", &late).unwrap();
        assert_eq!(p.value, json!("2026-11-24"));
        // On the last day of the year, "mañana" and "el 15" cross into the new year.
        let eve = ctx_at(2026, 12, 31, 9, 0);
        assert_eq!(
            parse(InputKind::Date, "mañana", &eve).unwrap().value,
            json!("2027-01-01")
        );
        assert_eq!(
            parse(InputKind::Date, "el 15", &eve).unwrap().value,
            json!("2027-01-15")
        );
        // On a Saturday, "el sábado" is next week and "hoy sábado" is today.
        let saturday = ctx_at(2026, 11, 28, 9, 0);
        assert_eq!(
            parse(InputKind::Date, "el sábado", &saturday)
                .unwrap()
                .value,
            json!("2026-12-05")
        );
        assert_eq!(
            parse(InputKind::Date, "hoy sábado", &saturday)
                .unwrap()
                .value,
            json!("2026-11-28")
        );
    }

    #[test]
    fn rejects() {
        let cases = [
            ("", "No entendí"),
            ("abc", "No entendí"),
            ("ayer", "ya pasó"),
            ("22/11/2026", "ya pasó"),
            ("1 de enero de 2020", "ya pasó"),
            ("31/02", "no existe"),
            ("31 de abril", "no existe"),
            ("32/12", "no existe"),
            ("15/13", "no existe"),
            ("el 0", "no existe"),
            ("12/15", "día/mes"),
            ("hoy sábado", "no coincide"),
            ("viernes 28", "no coincide"),
            ("lunes martes", "No entendí"),
            ("la próxima semana", "¿Qué día"),
            ("15/12/2026/1", "No entendí"),
            ("15 y 16 de diciembre", "No entendí"),
            ("en 999 días", "No entendí"),
            ("99/99/99999", "No entendí"),
        ];
        for (input, expected) in cases {
            let e = parse(InputKind::Date, input, &ctx())
                .expect_err(&format!("{input:?} should be rejected"));
            assert!(e.es.contains(expected), "{input:?}: {}", e.es);
        }
        let e = parse(InputKind::Date, "viernes 28", &ctx()).unwrap_err();
        assert_eq!(
            e.es,
            "Esa fecha no coincide: el 28 de noviembre es sábado, no viernes. ¿Qué día quieres?"
        );
    }
}
