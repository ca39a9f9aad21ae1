//! What a message says that a booking flow asks: model, branch, day, service type,
//! plate and year. Each comes with the words it was read from, so the rules can tell a
//! message made only of these ("prueba de manejo tiguan el sábado") from a question that
//! merely mentions them.
//!
//! Models, branches and service types are matched on the names in settings, tolerating
//! a typo in long names. Days are found by trying every short run of words around a
//! date word on the flows' own date parser, so the value is exactly what the day
//! question would have saved.

use std::ops::Range;
use std::sync::LazyLock;

use jiff::Zoned;
use jiff::tz::TimeZone;
use regex::Regex;

use super::text::{Words, phrase_words, same_word};
use crate::booking::calendar::Calendar;
use crate::config::RawModel;
use crate::flows::input::{self, InputContext, InputKind, Lang, PlateCountry};

/// Longest run of words tried as a date ("el sábado 28 de noviembre a las 10").
const MAX_DATE_WORDS: usize = 8;
/// Model names forgive a typo from five letters ("tigan"), like the knowledge catalog.
const FUZZY_MODEL: usize = 5;
/// Branch names and service types are more often ordinary words: only long ones do.
const FUZZY_PLACE: usize = 6;
const FUZZY_SERVICE: usize = 8;

/// Words of a branch name that say nothing about which branch it is (the leads
/// extractor reads branch names with the same list).
pub(crate) const GENERIC_BRANCH_WORDS: &[&str] = &[
    "sede",
    "sedes",
    "sucursal",
    "concesionario",
    "vitrina",
    "showroom",
    "agencia",
    "taller",
    "punto",
    "de",
    "del",
    "la",
    "el",
    "branch",
    "store",
    "dealer",
    "dealership",
];

/// English names customers give Spanish branch names ("the north branch").
const PLACE_TRANSLATIONS: &[(&str, &str)] = &[
    ("norte", "north"),
    ("sur", "south"),
    ("oriente", "east"),
    ("occidente", "west"),
    ("centro", "downtown"),
    ("centro", "center"),
    ("centro", "centre"),
];

/// Names of things (models, branches, service types), each a list of word sequences.
#[derive(Debug, Clone, Default)]
struct Names {
    entries: Vec<(String, Vec<Vec<String>>)>,
    min_fuzzy: usize,
}

/// Where a message names one thing of a [`Names`] list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Mention {
    pub id: String,
    pub range: Range<usize>,
}

impl Names {
    fn new(min_fuzzy: usize) -> Self {
        Self {
            entries: Vec::new(),
            min_fuzzy,
        }
    }

    fn add(&mut self, id: &str, names: impl IntoIterator<Item = String>) {
        let mut sequences: Vec<Vec<String>> = Vec::new();
        for name in names {
            let words = phrase_words(&name);
            let joined = words.concat();
            for candidate in [words, vec![joined]] {
                if !candidate.is_empty()
                    && !candidate[0].is_empty()
                    && !sequences.contains(&candidate)
                {
                    sequences.push(candidate);
                }
            }
        }
        // Longer names first, so "corolla cross" is read before "corolla".
        sequences.sort_by_key(|s| std::cmp::Reverse(s.len()));
        match self.entries.iter_mut().find(|(known, _)| known == id) {
            Some((_, known)) => known.extend(sequences),
            None => self.entries.push((id.to_owned(), sequences)),
        }
    }

    /// Every place a name occurs; where two overlap, the longer one.
    fn find(&self, words: &Words) -> Vec<Mention> {
        let mut found: Vec<Mention> = Vec::new();
        for start in 0..words.len() {
            for (id, sequences) in &self.entries {
                let hit = sequences.iter().find(|sequence| {
                    start + sequence.len() <= words.len()
                        && sequence
                            .iter()
                            .enumerate()
                            .all(|(k, name)| same_word(words.word(start + k), name, self.min_fuzzy))
                });
                if let Some(sequence) = hit {
                    found.push(Mention {
                        id: id.clone(),
                        range: start..start + sequence.len(),
                    });
                }
            }
        }
        found.sort_by_key(|m| (std::cmp::Reverse(m.range.len()), m.range.start));
        let mut kept: Vec<Mention> = Vec::new();
        for mention in found {
            let overlaps = kept
                .iter()
                .any(|k| k.range.start < mention.range.end && mention.range.start < k.range.end);
            if !overlaps {
                kept.push(mention);
            }
        }
        kept.sort_by_key(|m| m.range.start);
        kept
    }
}

/// A branch as far as intent cares: what it is called, its clock, what it offers.
#[derive(Debug, Clone)]
pub(super) struct BranchInfo {
    pub id: String,
    pub time_zone: TimeZone,
    /// Models with a demo car there.
    pub models: Vec<String>,
    /// Service types one of its bays does.
    pub services: Vec<String>,
}

/// The names the rules recognise, built once from settings.
#[derive(Debug, Clone)]
pub(super) struct Vocabulary {
    models: Names,
    branches: Names,
    services: Names,
    pub branch_info: Vec<BranchInfo>,
    plate_country: PlateCountry,
}

impl Vocabulary {
    pub fn new(models: &[RawModel], calendar: &Calendar, plate_country: PlateCountry) -> Self {
        let mut model_names = Names::new(FUZZY_MODEL);
        for model in models {
            let mut names = vec![model.id.clone(), model.name.clone()];
            names.extend(model.synonyms.iter().cloned());
            model_names.add(&model.id, names);
        }

        let mut branch_names = Names::new(FUZZY_PLACE);
        let city_count = |city: &str| {
            calendar
                .branches
                .iter()
                .filter(|b| phrase_words(&b.city) == phrase_words(city))
                .count()
        };
        for branch in &calendar.branches {
            let name = phrase_words(&branch.name);
            let distinctive: Vec<String> = name
                .iter()
                .filter(|w| !GENERIC_BRANCH_WORDS.contains(&w.as_str()))
                .cloned()
                .collect();
            let mut names = vec![branch.name.clone()];
            if !distinctive.is_empty() {
                names.push(distinctive.join(" "));
                if let [word] = distinctive.as_slice() {
                    names.extend(
                        PLACE_TRANSLATIONS
                            .iter()
                            .filter(|(es, _)| es == word)
                            .map(|(_, en)| (*en).to_owned()),
                    );
                }
            }
            let id_words = phrase_words(&branch.id);
            if id_words.iter().all(|w| w.chars().count() >= 3)
                && !id_words
                    .iter()
                    .all(|w| GENERIC_BRANCH_WORDS.contains(&w.as_str()))
            {
                names.push(branch.id.clone());
            }
            if !branch.city.trim().is_empty() && city_count(&branch.city) == 1 {
                names.push(branch.city.clone());
            }
            branch_names.add(&branch.id, names);
        }

        let mut service_names = Names::new(FUZZY_SERVICE);
        for service in &calendar.service_types {
            let mut names = vec![
                service.id.clone(),
                service.title.es.clone(),
                service.title.en.clone(),
            ];
            names.extend(service.synonyms.iter().cloned());
            service_names.add(&service.id, names);
        }

        let branch_info = calendar
            .branches
            .iter()
            .map(|b| BranchInfo {
                id: b.id.clone(),
                time_zone: b.time_zone.clone(),
                models: b.demo_vehicles.iter().map(|v| v.model.clone()).collect(),
                services: b
                    .bays
                    .iter()
                    .flat_map(|bay| bay.services.iter().cloned())
                    .collect(),
            })
            .collect();

        Self {
            models: model_names,
            branches: branch_names,
            services: service_names,
            branch_info,
            plate_country,
        }
    }

    /// Everything the message says, relative to `now`.
    pub fn read(&self, words: &Words, now: &Zoned) -> Reading {
        let models = self.models.find(words);
        let branches = self.branches.find(words);
        let services = self.services.find(words);
        let branch = single(&branches);
        let now = match branch.and_then(|id| self.branch_info.iter().find(|b| b.id == id)) {
            Some(info) => now.with_time_zone(info.time_zone.clone()),
            None => now.clone(),
        };
        let ctx = InputContext {
            now,
            default_region: phonenumber::country::Id::CO,
            plate_country: self.plate_country,
            language: Lang::Es,
        };
        let day = find_day(words, &ctx);
        let plate = find_plate(words, &ctx);
        let year = find_year(words, &models, ctx.now.year());
        Reading {
            models,
            branches,
            services,
            day,
            plate,
            year,
        }
    }
}

/// What [`Vocabulary::read`] found.
#[derive(Debug, Clone, Default)]
pub(super) struct Reading {
    pub models: Vec<Mention>,
    pub branches: Vec<Mention>,
    pub services: Vec<Mention>,
    /// The day as the `booking_days` question saves it (`2026-11-28`), and its words.
    pub day: Option<(String, Vec<Range<usize>>)>,
    pub plate: Option<(String, Range<usize>)>,
    pub year: Option<(i16, usize)>,
}

impl Reading {
    pub fn model(&self) -> Option<&str> {
        single(&self.models)
    }

    pub fn branch(&self) -> Option<&str> {
        single(&self.branches)
    }

    pub fn service(&self) -> Option<&str> {
        single(&self.services)
    }

    pub fn is_model(&self, i: usize) -> bool {
        self.models.iter().any(|m| m.range.contains(&i))
    }

    pub fn is_service(&self, i: usize) -> bool {
        self.services.iter().any(|m| m.range.contains(&i))
    }

    /// Token `i` is part of a value (a model, branch, day, service type, plate or year).
    pub fn explains(&self, i: usize) -> bool {
        let in_mentions = |mentions: &[Mention]| mentions.iter().any(|m| m.range.contains(&i));
        in_mentions(&self.models)
            || in_mentions(&self.branches)
            || in_mentions(&self.services)
            || self
                .day
                .as_ref()
                .is_some_and(|(_, ranges)| ranges.iter().any(|r| r.contains(&i)))
            || self.plate.as_ref().is_some_and(|(_, r)| r.contains(&i))
            || self.year.is_some_and(|(_, at)| at == i)
    }
}

/// The one id named, however many times; None when none or several.
fn single(mentions: &[Mention]) -> Option<&str> {
    let first = mentions.first()?;
    mentions
        .iter()
        .all(|m| m.id == first.id)
        .then_some(first.id.as_str())
}

static NUMERIC_DATE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\d{1,4}[/\-.]\d{1,2}(?:[/\-.]\d{2,4})?$").expect("valid regex"));

static ORDINAL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\d{1,2}(?:st|nd|rd|th|ro|er|o)$").expect("valid regex"));

/// A word that makes a run of words a date rather than filler: a weekday, a month
/// with its day, today/tomorrow, "15/12", "el 15", "en 3 días". Bare numbers ("2
/// carros"), "primero" and "la mañana" (the morning) are not.
fn date_anchor(words: &Words, i: usize) -> bool {
    let word = words.word(i);
    let previous = if i > 0 { words.word(i - 1) } else { "" };
    let number_next_to = |i: usize| {
        let is_number =
            |w: &str| !w.is_empty() && w.len() <= 2 && w.bytes().all(|b| b.is_ascii_digit());
        is_number(previous) || is_number(words.word(i + 1)) || ORDINAL.is_match(words.word(i + 1))
    };
    match word {
        "lunes" | "martes" | "miercoles" | "jueves" | "viernes" | "sabado" | "domingo"
        | "monday" | "tuesday" | "wednesday" | "thursday" | "friday" | "saturday" | "sunday"
        | "hoy" | "today" | "tomorrow" | "pasado" | "enero" | "febrero" | "marzo" | "abril"
        | "junio" | "julio" | "agosto" | "septiembre" | "setiembre" | "octubre" | "noviembre"
        | "diciembre" | "january" | "february" | "march" | "april" | "june" | "july" | "august"
        | "september" | "october" | "november" | "december" => true,
        "manana" => !matches!(previous, "la" | "las" | "esta"),
        "mayo" | "may" | "ene" | "feb" | "mar" | "abr" | "jun" | "jul" | "ago" | "sep" | "sept"
        | "oct" | "nov" | "dic" | "jan" | "apr" | "aug" | "dec" => number_next_to(i),
        "dia" | "dias" | "semana" | "semanas" | "day" | "days" | "week" | "weeks" => {
            (i.saturating_sub(3)..i).any(|k| matches!(words.word(k), "en" | "in" | "dentro"))
        }
        _ => {
            let raw = words.tokens.get(i).map_or("", |t| t.raw.as_str());
            NUMERIC_DATE.is_match(raw)
                || ORDINAL.is_match(word)
                || (word.len() <= 2
                    && word.bytes().all(|b| b.is_ascii_digit())
                    && matches!(previous, "el" | "the" | "dia" | "on"))
        }
    }
}

/// Words of a time of day. The date parser drops everything from the first of them on
/// ("mañana a las 3"), so a date word after one ("3 de la tarde del jueves") would be
/// dropped with it and the run read as "el 3".
const TIME_WORDS: &[&str] = &[
    "las",
    "tarde",
    "noche",
    "madrugada",
    "mediodia",
    "medianoche",
    "tipo",
    "at",
    "around",
    "morning",
    "afternoon",
    "evening",
    "pm",
    "am",
];

/// The run has a date word, and no time word before its last date word.
fn anchored(words: &Words, anchors: &[bool], range: Range<usize>) -> bool {
    let Some(last_anchor) = range.clone().rev().find(|&i| anchors[i]) else {
        return false;
    };
    !(range.start..last_anchor).any(|i| TIME_WORDS.contains(&words.word(i)))
}

/// The day the message names, as the day question would save it. Several different
/// days ("no el lunes, el martes") are none: the flow asks.
fn find_day(words: &Words, ctx: &InputContext) -> Option<(String, Vec<Range<usize>>)> {
    let anchors: Vec<bool> = (0..words.len()).map(|i| date_anchor(words, i)).collect();
    let mut found: Vec<(Range<usize>, String)> = Vec::new();
    for start in 0..words.len() {
        let longest = (start + 1..=words.len().min(start + MAX_DATE_WORDS))
            .rev()
            .filter(|&end| anchored(words, &anchors, start..end))
            .find_map(|end| {
                let parsed = input::parse(InputKind::Date, &words.raw(start..end), ctx).ok()?;
                let value = parsed.value.as_str()?.to_owned();
                Some((start..end, value))
            });
        found.extend(longest);
    }
    found.sort_by_key(|(range, _)| (std::cmp::Reverse(range.len()), range.start));
    let mut kept: Vec<(Range<usize>, String)> = Vec::new();
    for (range, value) in found {
        if !kept
            .iter()
            .any(|(k, _)| k.start < range.end && range.start < k.end)
        {
            kept.push((range, value));
        }
    }
    let value = kept.first()?.1.clone();
    if kept.iter().any(|(_, v)| *v != value) {
        return None;
    }
    Some((value, kept.into_iter().map(|(range, _)| range).collect()))
}

/// A licence plate: a word mixing letters and digits that fits the country's plates
/// ("ABC123", "abc-123"), or whatever follows "placa" ("placa abc 123").
fn find_plate(words: &Words, ctx: &InputContext) -> Option<(String, Range<usize>)> {
    let mut found: Vec<(String, Range<usize>)> = Vec::new();
    let mut parse = |range: Range<usize>| {
        let parsed = input::parse(InputKind::Plate, &words.raw(range.clone()), ctx).ok()?;
        let value = parsed.value.as_str()?.to_owned();
        found.push((value, range));
        Some(())
    };
    let mut i = 0;
    while i < words.len() {
        let word = words.word(i);
        let cue = matches!(word, "placa" | "plate" | "patente" | "matricula");
        if cue {
            let end = |n: usize| (i + n).min(words.len());
            if parse(i..end(3)).or_else(|| parse(i..end(2))).is_some() {
                i = end(3);
                continue;
            }
        }
        let mixed = word.bytes().any(|b| b.is_ascii_digit())
            && word.bytes().any(|b| b.is_ascii_alphabetic());
        if mixed {
            parse(i..i + 1);
        }
        i += 1;
    }
    let (value, range) = found.first()?.clone();
    found
        .iter()
        .all(|(v, _)| *v == value)
        .then_some((value, range))
}

/// The car's year: four digits right after its model ("mi Duster 2021") or after
/// "modelo"/"año" ("modelo 2019"), from 1990 to next year.
fn find_year(words: &Words, models: &[Mention], this_year: i16) -> Option<(i16, usize)> {
    (1..words.len()).find_map(|i| {
        let word = words.word(i);
        if word.len() != 4 {
            return None;
        }
        let year: i16 = word.parse().ok()?;
        if !(1990..=this_year + 1).contains(&year) {
            return None;
        }
        let after_model = models.iter().any(|m| m.range.end == i);
        let after_cue = matches!(words.word(i - 1), "modelo" | "ano" | "year" | "model");
        (after_model || after_cue).then_some((year, i))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vocabulary() -> Vocabulary {
        let dir = std::env::temp_dir();
        let config =
            crate::config::Config::defaults_with_data_dir(dir).expect("defaults are valid");
        Vocabulary::new(&config.catalog.models, &config.calendar, PlateCountry::Co)
    }

    fn monday() -> Zoned {
        jiff::civil::date(2026, 11, 23)
            .at(10, 0, 0, 0)
            .in_tz("America/Bogota")
            .expect("Bogotá is in the tz database")
    }

    #[test]
    fn names_are_found_with_their_words() {
        let words = Words::new("quiero la Corolla Cross en la del norte");
        let reading = vocabulary().read(&words, &monday());
        assert_eq!(reading.model(), Some("corolla_cross"));
        assert_eq!(reading.models[0].range, 2..4);
        assert_eq!(reading.branch(), Some("norte"));
        assert!(reading.explains(7) && !reading.explains(0));
    }

    #[test]
    fn a_city_shared_by_two_branches_names_neither() {
        let reading = vocabulary().read(&Words::new("en cali"), &monday());
        assert_eq!(reading.branch(), None);
        let reading = vocabulary().read(&Words::new("en palmira"), &monday());
        assert_eq!(reading.branch(), Some("palmira"));
    }

    #[test]
    fn days_need_a_date_word_and_the_longest_phrase_wins() {
        let vocabulary = vocabulary();
        let day = |text: &str| {
            vocabulary
                .read(&Words::new(text), &monday())
                .day
                .map(|(value, _)| value)
        };
        assert_eq!(
            day("el sábado a las 10 de la mañana").as_deref(),
            Some("2026-11-28")
        );
        assert_eq!(day("quiero ir en la mañana"), None);
        assert_eq!(day("quiero probar 2 carros"), None);
        assert_eq!(day("el 15 de diciembre").as_deref(), Some("2026-12-15"));
        assert_eq!(day("para el 15/12 porfa").as_deref(), Some("2026-12-15"));
        assert_eq!(day("no el lunes, el martes"), None);
        assert_eq!(day("ayer"), None);
        assert_eq!(
            day("a las 3 de la tarde del jueves").as_deref(),
            Some("2026-11-26"),
            "the time before the day does not swallow it"
        );
    }

    #[test]
    fn plates_and_years() {
        let vocabulary = vocabulary();
        let reading = vocabulary.read(&Words::new("mi Duster 2021 placa abc 123"), &monday());
        assert_eq!(reading.plate.map(|(p, _)| p).as_deref(), Some("ABC123"));
        assert_eq!(reading.year.map(|(y, _)| y), Some(2021));
        let reading = vocabulary.read(&Words::new("tengo 150 mil km y 2 hijos"), &monday());
        assert!(reading.plate.is_none() && reading.year.is_none());
    }
}
