//! Who takes a lead and when the customer hears from them: the branch (the one they
//! asked for, else one with a demo car of their model, else the first), the advisors
//! there who sell that brand (the store picks among them round robin), and a contact
//! time inside the branch's opening hours, told to the customer in their language.

use std::sync::Arc;

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Span, Timestamp};

use super::settings::{Advisor, LeadsConfig};
use crate::booking::availability::{day_label, long_day};
use crate::booking::calendar::{Branch, Calendar};
use crate::config::CatalogConfig;
use crate::engine::Language;

/// How far ahead an opening is looked for; a branch closed longer than this has no
/// business hours worth promising.
const SEARCH_DAYS: i64 = 400;

/// Routing rules from `[leads]`, the catalog and the branches' calendar.
#[derive(Debug, Clone)]
pub struct Routing {
    advisors: Vec<Advisor>,
    /// `(model id, brand)`.
    brands: Vec<(String, String)>,
    response_time: SignedDuration,
    calendar: Arc<Calendar>,
}

impl Routing {
    pub fn new(config: &LeadsConfig, catalog: &CatalogConfig, calendar: Arc<Calendar>) -> Self {
        Self {
            advisors: config.advisors.clone(),
            brands: catalog
                .models
                .iter()
                .map(|m| (m.id.clone(), m.brand.clone()))
                .collect(),
            response_time: config.response_time,
            calendar,
        }
    }

    pub fn advisor(&self, id: &str) -> Option<&Advisor> {
        self.advisors.iter().find(|a| a.id == id)
    }

    /// The customer's branch if it exists; else the first with a demo car of `model`;
    /// else the first branch. `None` only without branches.
    pub fn branch_for(&self, preferred: Option<&str>, model: Option<&str>) -> Option<String> {
        let branches = &self.calendar.branches;
        preferred
            .and_then(|id| branches.iter().find(|b| b.id == id))
            .or_else(|| {
                let model = model?;
                branches
                    .iter()
                    .find(|b| b.demo_vehicles.iter().any(|v| v.model == model))
            })
            .or_else(|| branches.first())
            .map(|b| b.id.clone())
    }

    /// Advisor ids, in settings order, who can take a lead for `model` at `branch`: those
    /// selling its brand (or every brand); failing that anyone at the branch; failing
    /// that every advisor.
    pub fn candidates(&self, branch: &str, model: Option<&str>) -> Vec<String> {
        let brand = model.and_then(|model| {
            self.brands
                .iter()
                .find(|(id, _)| id == model)
                .map(|(_, brand)| brand.as_str())
        });
        let at_branch: Vec<&Advisor> = self
            .advisors
            .iter()
            .filter(|a| a.branch == branch)
            .collect();
        let selling: Vec<&Advisor> = at_branch
            .iter()
            .copied()
            .filter(|a| brand.is_none_or(|brand| a.sells(brand)))
            .collect();
        let chosen = if !selling.is_empty() {
            selling
        } else if !at_branch.is_empty() {
            at_branch
        } else {
            self.advisors.iter().collect()
        };
        chosen.into_iter().map(|a| a.id.clone()).collect()
    }

    /// When an advisor will have contacted the customer: `response_time` from now when
    /// the branch is open now and stays open that long, otherwise from its next opening.
    pub fn contact_by(&self, branch: &str, now: Timestamp) -> Timestamp {
        let after = |t: Timestamp| t.checked_add(self.response_time).unwrap_or(Timestamp::MAX);
        let Some(branch) = self.calendar.branch(branch) else {
            return after(now);
        };
        if let Some(closes) = open_until(branch, now)
            && after(now) <= closes
        {
            return after(now);
        }
        match next_opening_after(branch, now) {
            Some(opens) => after(opens),
            None => after(now),
        }
    }

    /// What the customer reads: "Laura Gómez, de Sede Norte, te contactará hoy antes de
    /// las 3:30 p. m." The time is the branch's, rounded up to 5 minutes.
    pub fn promise(
        &self,
        advisor_name: Option<&str>,
        branch: &str,
        by: Timestamp,
        now: Timestamp,
        language: Language,
    ) -> String {
        let found = self.calendar.branch(branch);
        let branch_name = found.map_or(branch, |b| b.name.as_str());
        let time_zone = found
            .or_else(|| self.calendar.branches.first())
            .map_or(TimeZone::UTC, |b| b.time_zone.clone());
        let by = round_up_to_5_minutes(by).to_zoned(time_zone.clone());
        let today = now.to_zoned(time_zone).date();
        let day = day_phrase(by.date(), today, language);
        let (hour, minute) = (by.hour(), by.minute());
        let twelve = match hour % 12 {
            0 => 12,
            h => h,
        };
        match language {
            Language::Es => {
                let article = if twelve == 1 { "la" } else { "las" };
                let meridiem = if hour < 12 { "a. m." } else { "p. m." };
                // "p. m." already ends the sentence with its period.
                let time = format!("{article} {twelve}:{minute:02} {meridiem}");
                match advisor_name {
                    Some(name) => {
                        format!("{name}, de {branch_name}, te contactará {day} antes de {time}")
                    }
                    None => {
                        format!("Un asesor de {branch_name} te contactará {day} antes de {time}")
                    }
                }
            }
            Language::En => {
                let meridiem = if hour < 12 { "AM" } else { "PM" };
                let time = format!("{twelve}:{minute:02} {meridiem}");
                match advisor_name {
                    Some(name) => {
                        format!("{name} from {branch_name} will contact you {day} before {time}.")
                    }
                    None => format!(
                        "An advisor from {branch_name} will contact you {day} before {time}."
                    ),
                }
            }
        }
    }
}

/// "hoy" / "mañana (mar 24 nov)" / "el sáb 28 nov", and the English forms.
fn day_phrase(date: Date, today: Date, language: Language) -> String {
    let tomorrow = today.tomorrow().is_ok_and(|t| t == date);
    match (language, date == today, tomorrow) {
        (Language::Es, true, _) => "hoy".into(),
        (Language::En, true, _) => "today".into(),
        (_, false, true) => long_day(date, today, language),
        (Language::Es, false, false) => format!("el {}", day_label(date, today, language)),
        (Language::En, false, false) => format!("on {}", day_label(date, today, language)),
    }
}

/// A promise "before 3:42:10" reads better, and is still kept, as "before 3:45".
fn round_up_to_5_minutes(t: Timestamp) -> Timestamp {
    const STEP: i64 = 5 * 60;
    let seconds = t.as_second() + i64::from(t.subsec_nanosecond() > 0);
    let rounded = seconds.saturating_add(STEP - 1).div_euclid(STEP) * STEP;
    Timestamp::from_second(rounded).unwrap_or(t)
}

/// The opening ranges of `date` at `branch`, as instants.
fn ranges_on(branch: &Branch, date: Date) -> Vec<(Timestamp, Timestamp)> {
    branch
        .opening_hours(date)
        .iter()
        .filter_map(|&(open, close)| {
            let at = |time| {
                date.to_datetime(time)
                    .to_zoned(branch.time_zone.clone())
                    .ok()
                    .map(|z| z.timestamp())
            };
            Some((at(open)?, at(close)?))
        })
        .collect()
}

/// When the range `t` falls in closes, if the branch is open at `t`.
pub fn open_until(branch: &Branch, t: Timestamp) -> Option<Timestamp> {
    ranges_on(branch, branch.today(t))
        .into_iter()
        .find(|&(open, close)| open <= t && t < close)
        .map(|(_, close)| close)
}

/// The first opening strictly after `t`.
pub fn next_opening_after(branch: &Branch, t: Timestamp) -> Option<Timestamp> {
    let first = branch.today(t);
    (0..SEARCH_DAYS)
        .filter_map(|offset| first.checked_add(Span::new().days(offset)).ok())
        .flat_map(|date| ranges_on(branch, date))
        .map(|(open, _)| open)
        .find(|&open| open > t)
}

/// The first moment at or after `t` when the branch is open.
pub fn next_open_moment(branch: &Branch, t: Timestamp) -> Option<Timestamp> {
    match open_until(branch, t) {
        Some(_) => Some(t),
        None => next_opening_after(branch, t),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RawSettings;
    use crate::leads::settings::{RawAdvisor, RawLeads};

    fn catalog() -> CatalogConfig {
        let raw = RawSettings::default();
        CatalogConfig {
            models: raw.models,
            branches: raw.branches,
        }
    }

    fn routing_with(raw: &RawLeads) -> Routing {
        let catalog = catalog();
        let settings = RawSettings::default();
        let calendar =
            Calendar::from_settings(&settings.booking, &catalog.branches, &catalog.models).unwrap();
        let config = LeadsConfig::from_settings(raw, &catalog).unwrap();
        Routing::new(&config, &catalog, Arc::new(calendar))
    }

    fn routing() -> Routing {
        routing_with(&RawLeads::default())
    }

    /// A Bogotá wall-clock time (UTC−5, no DST).
    fn bogota(text: &str) -> Timestamp {
        let datetime: jiff::civil::DateTime = text.parse().unwrap();
        datetime
            .to_zoned(TimeZone::get("America/Bogota").unwrap())
            .unwrap()
            .timestamp()
    }

    #[test]
    fn branch_preferred_then_demo_car_then_first() {
        let r = routing();
        assert_eq!(
            r.branch_for(Some("palmira"), Some("tiguan")).as_deref(),
            Some("palmira")
        );
        assert_eq!(
            r.branch_for(Some("centro"), Some("duster")).as_deref(),
            Some("sur")
        );
        assert_eq!(r.branch_for(None, Some("tiguan")).as_deref(), Some("norte"));
        assert_eq!(
            r.branch_for(None, Some("ferrari")).as_deref(),
            Some("norte")
        );
        assert_eq!(r.branch_for(None, None).as_deref(), Some("norte"));
    }

    #[test]
    fn candidates_sell_the_brand_else_anyone_at_the_branch_else_everyone() {
        let r = routing();
        assert_eq!(
            r.candidates("norte", Some("tiguan")),
            vec!["laura_gomez", "andres_rojas"]
        );
        assert_eq!(
            r.candidates("norte", Some("corolla_cross")),
            vec!["andres_rojas"]
        );
        assert_eq!(
            r.candidates("palmira", Some("duster")),
            vec!["santiago_munoz"]
        );
        assert_eq!(
            r.candidates("sur", None),
            vec!["camila_torres", "julian_vargas"]
        );

        let advisor = |id: &str, branch: &str, brands: &[&str]| RawAdvisor {
            id: id.into(),
            name: id.into(),
            branch: branch.into(),
            brands: brands.iter().map(|b| b.to_string()).collect(),
            email: String::new(),
            phone: String::new(),
        };
        let r = routing_with(&RawLeads {
            advisors: vec![
                advisor("vw_only", "norte", &["Volkswagen"]),
                advisor("sur_all", "sur", &[]),
            ],
            ..RawLeads::default()
        });
        assert_eq!(
            r.candidates("norte", Some("duster")),
            vec!["vw_only"],
            "anyone at the branch"
        );
        assert_eq!(
            r.candidates("palmira", Some("duster")),
            vec!["vw_only", "sur_all"],
            "everyone"
        );
        assert_eq!(r.advisor("sur_all").map(|a| a.branch.as_str()), Some("sur"));
    }

    #[track_caller]
    fn assert_contact(now: &str, by: &str) {
        let r = routing();
        assert_eq!(r.contact_by("norte", bogota(now)), bogota(by), "from {now}");
    }

    #[test]
    fn contact_within_business_hours() {
        // Monday 23 Nov 2026, open.
        assert_contact("2026-11-23T15:00", "2026-11-23T15:30");
        // Closes at 18:00, too soon for 30 minutes: next morning.
        assert_contact("2026-11-23T17:45", "2026-11-24T08:30");
        // Evening and before opening.
        assert_contact("2026-11-23T20:00", "2026-11-24T08:30");
        assert_contact("2026-11-24T07:00", "2026-11-24T08:30");
        // Saturday closes at 13:00; Sunday is closed.
        assert_contact("2026-11-28T10:00", "2026-11-28T10:30");
        assert_contact("2026-11-28T14:00", "2026-11-30T08:30");
        assert_contact("2026-11-29T10:00", "2026-11-30T08:30");
        // Tuesday 8 Dec is a holiday.
        assert_contact("2026-12-07T19:00", "2026-12-09T08:30");
        assert_contact("2026-12-08T10:00", "2026-12-09T08:30");
        // An unknown branch still gets a time.
        let now = bogota("2026-11-29T10:00");
        assert_eq!(
            routing().contact_by("centro", now),
            bogota("2026-11-29T10:30")
        );
    }

    #[test]
    fn next_open_moment_is_now_when_open() {
        let r = routing();
        let norte = r.calendar.branch("norte").unwrap();
        let now = bogota("2026-11-23T09:00");
        assert_eq!(next_open_moment(norte, now), Some(now));
        assert_eq!(
            next_open_moment(norte, bogota("2026-11-28T13:00")),
            Some(bogota("2026-11-30T08:00"))
        );
    }

    #[track_caller]
    fn assert_promise(name: Option<&str>, now: &str, language: Language, expected: &str) {
        let r = routing();
        let now = bogota(now);
        let by = r.contact_by("norte", now);
        assert_eq!(r.promise(name, "norte", by, now, language), expected);
    }

    #[test]
    fn promises_in_spanish() {
        assert_promise(
            Some("Laura Gómez"),
            "2026-11-23T15:00",
            Language::Es,
            "Laura Gómez, de Sede Norte, te contactará hoy antes de las 3:30 p. m.",
        );
        assert_promise(
            None,
            "2026-11-23T19:00",
            Language::Es,
            "Un asesor de Sede Norte te contactará mañana (mar 24 nov) antes de las 8:30 a. m.",
        );
        assert_promise(
            Some("Laura Gómez"),
            "2026-11-28T14:00",
            Language::Es,
            "Laura Gómez, de Sede Norte, te contactará el lun 30 nov antes de las 8:30 a. m.",
        );
        assert_promise(
            None,
            "2026-11-23T12:45",
            Language::Es,
            "Un asesor de Sede Norte te contactará hoy antes de la 1:15 p. m.",
        );
        // 15:12:10 + 30 minutes, rounded up.
        assert_promise(
            None,
            "2026-11-23T15:12:10",
            Language::Es,
            "Un asesor de Sede Norte te contactará hoy antes de las 3:45 p. m.",
        );
    }

    #[test]
    fn promises_in_english() {
        assert_promise(
            Some("Laura Gómez"),
            "2026-11-23T09:00",
            Language::En,
            "Laura Gómez from Sede Norte will contact you today before 9:30 AM.",
        );
        assert_promise(
            None,
            "2026-11-29T10:00",
            Language::En,
            "An advisor from Sede Norte will contact you tomorrow (Mon 30 Nov) before 8:30 AM.",
        );
        assert_promise(
            None,
            "2026-12-07T19:00",
            Language::En,
            "An advisor from Sede Norte will contact you on Wed 9 Dec before 8:30 AM.",
        );
    }
}
