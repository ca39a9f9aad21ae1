//! The bookings calendar from settings: branches with their time zone, opening hours,
//! holidays and resources (service bays, demo vehicles), service types, slot size, lead
//! time, horizon and reminders. Built once at start from the raw `[[branches]]` and
//! `[booking]` settings; every problem is reported with its key path, the bad value and
//! what is expected, so a bad calendar never reaches customers.

use std::collections::{BTreeSet, HashSet};

use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, SpanRelativeTo, Timestamp};

use super::availability::Need;
use super::model::CLAIM_GRID;
use crate::config::{
    ConfigError, Localized, RawBooking, RawBranch, RawModel, RawOutreach, invalid,
};

/// How appointments are offered, and where.
#[derive(Debug, Clone)]
pub struct Calendar {
    /// Distance between offered start times, counted from each opening.
    pub slot: SignedDuration,
    /// The earliest start offered is this long after now.
    pub min_lead: SignedDuration,
    /// The last day offered is today (branch-local) plus this many days.
    pub horizon_days: u32,
    pub test_drive_duration: SignedDuration,
    /// Reminders as written (`"24h"`) and how long before the start each goes out.
    pub reminders: Vec<(String, SignedDuration)>,
    /// A reminder this late after its moment (the service was down) is skipped.
    pub reminder_grace: SignedDuration,
    pub service_types: Vec<ServiceType>,
    pub branches: Vec<Branch>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceType {
    pub id: String,
    pub title: Localized,
    pub duration: SignedDuration,
    pub synonyms: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Branch {
    pub id: String,
    pub name: String,
    pub city: String,
    pub address: String,
    pub time_zone: TimeZone,
    /// Opening ranges per weekday, Monday first, in order and not overlapping; empty
    /// when closed that day.
    pub hours: [Vec<(Time, Time)>; 7],
    pub holidays: BTreeSet<Date>,
    pub bays: Vec<Bay>,
    pub demo_vehicles: Vec<DemoVehicle>,
}

/// A service bay: `capacity` cars at once (units `0..capacity`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bay {
    pub id: String,
    pub name: String,
    pub capacity: u32,
    /// Service type ids.
    pub services: Vec<String>,
}

/// A car for test drives (one unit, 0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoVehicle {
    pub id: String,
    /// A `[[models]]` id.
    pub model: String,
    pub plate: String,
}

/// How often the CRM/ERP may have us write to one customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutreachConfig {
    /// Messages per customer within `window`; 0 sends none.
    pub max_per_customer: u32,
    pub window: SignedDuration,
}

impl Calendar {
    pub fn branch(&self, id: &str) -> Option<&Branch> {
        self.branches.iter().find(|b| b.id == id)
    }

    pub fn service_type(&self, id: &str) -> Option<&ServiceType> {
        self.service_types.iter().find(|s| s.id == id)
    }

    /// Branches able to serve a need kind: with a bay for that service type / a demo car
    /// of that model. The need's own `branch` is ignored.
    pub fn branches_for(&self, need: &Need) -> Vec<&Branch> {
        self.branches
            .iter()
            .filter(|branch| match need {
                Need::Service { service_type, .. } => branch
                    .bays
                    .iter()
                    .any(|bay| bay.services.iter().any(|s| s == service_type)),
                Need::TestDrive { model, .. } => {
                    branch.demo_vehicles.iter().any(|v| &v.model == model)
                }
            })
            .collect()
    }

    /// When to remind about an appointment starting at `start`: only moments after
    /// `now`, earliest first, each with its label (`"24h"`).
    pub fn reminder_times(&self, start: Timestamp, now: Timestamp) -> Vec<(String, Timestamp)> {
        let mut times: Vec<(String, Timestamp)> = self
            .reminders
            .iter()
            .filter_map(|(label, before)| {
                let at = start.checked_sub(*before).ok()?;
                (at > now).then(|| (label.clone(), at))
            })
            .collect();
        times.sort_by_key(|(_, at)| *at);
        times
    }

    /// Validates the raw settings. `branches` and `models` are the already checked
    /// `[[branches]]` and `[[models]]` (ids unique and well formed).
    pub fn from_settings(
        raw: &RawBooking,
        branches: &[RawBranch],
        models: &[RawModel],
    ) -> Result<Self, ConfigError> {
        if raw.slot_minutes == 0
            || !raw.slot_minutes.is_multiple_of(5)
            || raw.slot_minutes > 24 * 60
        {
            return Err(invalid(
                "booking.slot_minutes",
                raw.slot_minutes,
                "a number of minutes that is a multiple of 5 is expected, like 15, 30 or 60",
            ));
        }
        let slot = SignedDuration::from_mins(i64::from(raw.slot_minutes));
        let min_lead = parse_duration("booking.min_lead", &raw.min_lead)?;
        if min_lead.is_negative() {
            return Err(invalid(
                "booking.min_lead",
                &raw.min_lead,
                "a duration of 0 or more is expected, like \"2h\" (\"0m\" offers the next free slot)",
            ));
        }
        if raw.horizon_days > 365 {
            return Err(invalid(
                "booking.horizon_days",
                raw.horizon_days,
                "a number of days from 0 (today only) to 365 is expected",
            ));
        }
        let test_drive_duration =
            appointment_duration("booking.test_drive_duration", &raw.test_drive_duration)?;

        let mut reminders = Vec::with_capacity(raw.reminders.len());
        for (index, text) in raw.reminders.iter().enumerate() {
            let key = format!("booking.reminders[{index}]");
            let before = parse_duration(&key, text)?;
            if !before.is_positive() {
                return Err(invalid(
                    &key,
                    text,
                    "how long before the start to remind is expected, like \"24h\" or \"2h\"",
                ));
            }
            let label = text.trim().to_owned();
            if reminders.iter().any(|(l, b)| *l == label || *b == before) {
                return Err(invalid(
                    &key,
                    text,
                    "each reminder to be listed once is expected",
                ));
            }
            reminders.push((label, before));
        }
        let reminder_grace = parse_duration("booking.reminder_grace", &raw.reminder_grace)?;
        if !reminder_grace.is_positive() {
            return Err(invalid(
                "booking.reminder_grace",
                &raw.reminder_grace,
                "a duration above 0 is expected, like \"30m\"",
            ));
        }

        let mut seen = HashSet::new();
        let mut service_types = Vec::with_capacity(raw.service_types.len());
        for (index, service) in raw.service_types.iter().enumerate() {
            let key = |field: &str| format!("booking.service_types[{index}].{field}");
            if !valid_id(&service.id) || !seen.insert(service.id.as_str()) {
                return Err(invalid(
                    &key("id"),
                    &service.id,
                    "a unique id of lowercase letters, digits and _ is expected (like \"maintenance\")",
                ));
            }
            for (lang, text) in [("es", &service.title.es), ("en", &service.title.en)] {
                if text.trim().is_empty() {
                    return Err(invalid(
                        &key(&format!("title.{lang}")),
                        text,
                        "the name customers see is expected",
                    ));
                }
            }
            service_types.push(ServiceType {
                id: service.id.clone(),
                title: service.title.clone(),
                duration: appointment_duration(&key("duration"), &service.duration)?,
                synonyms: service.synonyms.clone(),
            });
        }

        let branches = branches
            .iter()
            .enumerate()
            .map(|(index, raw)| branch_from_settings(index, raw, &service_types, models))
            .collect::<Result<Vec<_>, _>>()?;

        Ok(Self {
            slot,
            min_lead,
            horizon_days: raw.horizon_days,
            test_drive_duration,
            reminders,
            reminder_grace,
            service_types,
            branches,
        })
    }
}

impl Branch {
    /// The branch-local date at `now`.
    pub fn today(&self, now: Timestamp) -> Date {
        now.to_zoned(self.time_zone.clone()).date()
    }

    /// The opening ranges of `date`: none on holidays and closed days.
    pub fn opening_hours(&self, date: Date) -> &[(Time, Time)] {
        if self.holidays.contains(&date) {
            return &[];
        }
        &self.hours[weekday_index(date)]
    }
}

/// 0 for Monday … 6 for Sunday, the index of `Branch::hours`.
pub fn weekday_index(date: Date) -> usize {
    date.weekday().to_monday_zero_offset() as usize
}

impl OutreachConfig {
    pub fn from_settings(raw: &RawOutreach) -> Result<Self, ConfigError> {
        let window = parse_duration("outreach.window", &raw.window)?;
        if window < SignedDuration::from_hours(1) {
            return Err(invalid(
                "outreach.window",
                &raw.window,
                "a duration of at least one hour is expected, like \"30d\"",
            ));
        }
        Ok(Self {
            max_per_customer: raw.max_per_customer,
            window,
        })
    }
}

fn branch_from_settings(
    index: usize,
    raw: &RawBranch,
    service_types: &[ServiceType],
    models: &[RawModel],
) -> Result<Branch, ConfigError> {
    let key = |field: &str| format!("branches[{index}].{field}");
    let time_zone = TimeZone::get(raw.time_zone.trim()).map_err(|_| {
        invalid(
            &key("time_zone"),
            &raw.time_zone,
            "an IANA time zone such as \"America/Bogota\" or \"America/Mexico_City\" is expected",
        )
    })?;

    let mut hours: [Vec<(Time, Time)>; 7] = Default::default();
    for (day, (name, text)) in raw.hours.days().into_iter().enumerate() {
        hours[day] = parse_hours(&key(&format!("hours.{name}")), text)?;
    }
    if hours.iter().all(Vec::is_empty) {
        return Err(invalid(
            &key("hours"),
            "closed every day",
            "opening hours on at least one day are expected, like mon = \"08:00-18:00\"",
        ));
    }

    let mut holidays = BTreeSet::new();
    for (n, text) in raw.holidays.iter().enumerate() {
        let date = parse_date(text).ok_or_else(|| {
            invalid(
                &key(&format!("holidays[{n}]")),
                text,
                "a date written YYYY-MM-DD is expected, like \"2026-12-08\"",
            )
        })?;
        holidays.insert(date);
    }

    // Bays and demo vehicles share one name space: both are the `resource` of a claim.
    let mut resource_ids = HashSet::new();
    let mut bays = Vec::with_capacity(raw.bays.len());
    for (n, bay) in raw.bays.iter().enumerate() {
        let key = |field: &str| key(&format!("bays[{n}].{field}"));
        if !valid_id(&bay.id) || !resource_ids.insert(bay.id.as_str()) {
            return Err(invalid(
                &key("id"),
                &bay.id,
                "an id of lowercase letters, digits and _ is expected, used by no other bay or demo vehicle of this branch",
            ));
        }
        if bay.name.trim().is_empty() {
            return Err(invalid(
                &key("name"),
                &bay.name,
                "the bay's name is expected",
            ));
        }
        if !(1..=100).contains(&bay.capacity) {
            return Err(invalid(
                &key("capacity"),
                bay.capacity,
                "the number of cars the bay takes at once is expected, from 1 to 100",
            ));
        }
        if bay.services.is_empty() {
            return Err(invalid(
                &key("services"),
                "[]",
                "at least one service type id from [[booking.service_types]] is expected",
            ));
        }
        for (s, service) in bay.services.iter().enumerate() {
            if !service_types.iter().any(|t| &t.id == service) {
                let known: Vec<&str> = service_types.iter().map(|t| t.id.as_str()).collect();
                return Err(invalid(
                    &key(&format!("services[{s}]")),
                    service,
                    &format!(
                        "the id of a [[booking.service_types]] entry is expected (one of: {})",
                        known.join(", ")
                    ),
                ));
            }
        }
        bays.push(Bay {
            id: bay.id.clone(),
            name: bay.name.clone(),
            capacity: bay.capacity,
            services: bay.services.clone(),
        });
    }

    let mut demo_vehicles = Vec::with_capacity(raw.demo_vehicles.len());
    for (n, vehicle) in raw.demo_vehicles.iter().enumerate() {
        let key = |field: &str| key(&format!("demo_vehicles[{n}].{field}"));
        if !valid_id(&vehicle.id) || !resource_ids.insert(vehicle.id.as_str()) {
            return Err(invalid(
                &key("id"),
                &vehicle.id,
                "an id of lowercase letters, digits and _ is expected, used by no other bay or demo vehicle of this branch",
            ));
        }
        if !models.iter().any(|m| m.id == vehicle.model) {
            let known: Vec<&str> = models.iter().map(|m| m.id.as_str()).collect();
            return Err(invalid(
                &key("model"),
                &vehicle.model,
                &format!(
                    "the id of a [[models]] entry is expected (one of: {})",
                    known.join(", ")
                ),
            ));
        }
        if vehicle.plate.trim().is_empty() {
            return Err(invalid(
                &key("plate"),
                &vehicle.plate,
                "the car's licence plate is expected, like \"KGV-482\"",
            ));
        }
        demo_vehicles.push(DemoVehicle {
            id: vehicle.id.clone(),
            model: vehicle.model.clone(),
            plate: vehicle.plate.trim().to_owned(),
        });
    }

    Ok(Branch {
        id: raw.id.clone(),
        name: raw.name.clone(),
        city: raw.city.clone(),
        address: raw.address.clone(),
        time_zone,
        hours,
        holidays,
        bays,
        demo_vehicles,
    })
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// `"08:00-18:00"`, `"08:00-12:00, 14:00-18:00"` or `"closed"` (also `"cerrado"`).
fn parse_hours(key: &str, text: &str) -> Result<Vec<(Time, Time)>, ConfigError> {
    let trimmed = text.trim();
    if trimmed.eq_ignore_ascii_case("closed") || trimmed.eq_ignore_ascii_case("cerrado") {
        return Ok(Vec::new());
    }
    let shape = || {
        invalid(
            key,
            text,
            "a range like 08:00-13:00, several separated by commas, or \"closed\" is expected",
        )
    };
    let mut ranges: Vec<(Time, Time)> = Vec::new();
    for part in trimmed.split(',') {
        let (open, close) = part.split_once('-').ok_or_else(shape)?;
        let open = parse_clock(open.trim()).ok_or_else(shape)?;
        let close = parse_clock(close.trim()).ok_or_else(shape)?;
        if [open, close].iter().any(|t| t.minute() % 5 != 0) {
            return Err(invalid(
                key,
                text,
                "times on whole 5 minutes are expected, like 08:00-12:30",
            ));
        }
        if open >= close {
            return Err(invalid(
                key,
                text,
                "each range to open before it closes on the same day is expected, like 08:00-13:00",
            ));
        }
        if ranges.last().is_some_and(|&(_, previous)| open < previous) {
            return Err(invalid(
                key,
                text,
                "ranges in the order of the day that don't overlap are expected, like 08:00-12:00, 14:00-18:00",
            ));
        }
        ranges.push((open, close));
    }
    Ok(ranges)
}

/// `HH:MM` or `H:MM`, 24-hour clock.
fn parse_clock(text: &str) -> Option<Time> {
    let (hour, minute) = text.split_once(':')?;
    let digits = |s: &str, lengths: &[usize]| {
        lengths.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
    };
    if !digits(hour, &[1, 2]) || !digits(minute, &[2]) {
        return None;
    }
    Time::new(hour.parse().ok()?, minute.parse().ok()?, 0, 0).ok()
}

/// Exactly `YYYY-MM-DD`.
fn parse_date(text: &str) -> Option<Date> {
    let text = text.trim();
    let shape_ok = text.len() == 10
        && text.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            _ => b.is_ascii_digit(),
        });
    if !shape_ok {
        return None;
    }
    text.parse().ok()
}

/// Durations the way people write them: "45m", "2h", "1h 30m", "30d" (a day is 24 h).
fn parse_duration(key: &str, text: &str) -> Result<SignedDuration, ConfigError> {
    let wrong = || {
        invalid(
            key,
            text,
            "a duration like \"30m\", \"2h\", \"1h 30m\" or \"30d\" is expected",
        )
    };
    let span: jiff::Span = text.trim().parse().map_err(|_| wrong())?;
    span.to_duration(SpanRelativeTo::days_are_24_hours())
        .map_err(|_| wrong())
}

/// How long an appointment lasts: above 0, at most a day, in whole 5-minute steps (the
/// claim grid), so every booking covers whole claim cells.
fn appointment_duration(key: &str, text: &str) -> Result<SignedDuration, ConfigError> {
    let duration = parse_duration(key, text)?;
    let grid = CLAIM_GRID.as_secs();
    let whole_steps = duration.subsec_nanos() == 0 && duration.as_secs() % grid == 0;
    if !duration.is_positive() || !whole_steps || duration > SignedDuration::from_hours(24) {
        return Err(invalid(
            key,
            text,
            "a duration in whole 5-minute steps, above 0 and at most 24h, is expected, like \"45m\" or \"1h 30m\"",
        ));
    }
    Ok(duration)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, RawBay, RawDemoVehicle, RawSettings, Secrets};

    fn validate(raw: RawSettings) -> Result<Config, String> {
        Config::validate(raw, None, Secrets::default()).map_err(|e| e.to_string())
    }

    /// The message for `raw`, which must be refused.
    fn refused(raw: RawSettings) -> String {
        match validate(raw) {
            Ok(_) => panic!("the settings were accepted"),
            Err(message) => message,
        }
    }

    #[track_caller]
    fn assert_mentions(message: &str, parts: &[&str]) {
        for part in parts {
            assert!(message.contains(part), "{part:?} missing in: {message}");
        }
    }

    #[test]
    fn built_in_calendar() {
        let config = Config::defaults_with_data_dir("data").unwrap();
        let calendar = &config.calendar;
        assert_eq!(calendar.slot, SignedDuration::from_mins(30));
        assert_eq!(calendar.min_lead, SignedDuration::from_hours(2));
        assert_eq!(calendar.horizon_days, 14);
        assert_eq!(calendar.test_drive_duration, SignedDuration::from_mins(45));
        assert_eq!(
            calendar.reminders,
            vec![
                ("24h".to_owned(), SignedDuration::from_hours(24)),
                ("2h".to_owned(), SignedDuration::from_hours(2)),
            ]
        );
        assert_eq!(calendar.reminder_grace, SignedDuration::from_mins(30));
        let durations: Vec<(&str, i64)> = calendar
            .service_types
            .iter()
            .map(|s| (s.id.as_str(), s.duration.as_mins()))
            .collect();
        assert_eq!(
            durations,
            [
                ("maintenance", 90),
                ("diagnosis", 60),
                ("warranty", 60),
                ("bodywork", 120)
            ]
        );
        assert_eq!(
            calendar.service_type("bodywork").unwrap().title.en,
            "Bodywork and paint"
        );
        assert_eq!(
            config.outreach,
            OutreachConfig {
                max_per_customer: 2,
                window: SignedDuration::from_hours(30 * 24),
            }
        );

        let ids: Vec<&str> = calendar.branches.iter().map(|b| b.id.as_str()).collect();
        assert_eq!(ids, ["norte", "sur", "palmira"]);
        for branch in &calendar.branches {
            assert_eq!(branch.time_zone.iana_name(), Some("America/Bogota"));
            let t = |h, m| Time::new(h, m, 0, 0).unwrap();
            for day in 0..5 {
                assert_eq!(branch.hours[day], vec![(t(8, 0), t(18, 0))]);
            }
            assert_eq!(branch.hours[5], vec![(t(8, 0), t(13, 0))]);
            assert!(branch.hours[6].is_empty());
            assert_eq!(branch.holidays.len(), 36);
            assert!((2..=3).contains(&branch.bays.len()), "{}", branch.id);
            assert!(
                (3..=4).contains(&branch.demo_vehicles.len()),
                "{}",
                branch.id
            );
        }
        // Every service type is offered somewhere; bodywork only in Cali.
        for service in &calendar.service_types {
            let need = Need::Service {
                branch: String::new(),
                service_type: service.id.clone(),
            };
            let at: Vec<&str> = calendar
                .branches_for(&need)
                .iter()
                .map(|b| b.id.as_str())
                .collect();
            let expected: &[&str] = match service.id.as_str() {
                "bodywork" => &["norte", "sur"],
                _ => &["norte", "sur", "palmira"],
            };
            assert_eq!(at, expected, "{}", service.id);
        }
        // Every default model can be test-driven somewhere.
        for model in &config.catalog.models {
            let need = Need::TestDrive {
                branch: String::new(),
                model: model.id.clone(),
            };
            assert!(!calendar.branches_for(&need).is_empty(), "{}", model.id);
        }
        // The catalog flows read is the same list of branches.
        assert_eq!(config.catalog.branches.len(), calendar.branches.len());
    }

    /// Easter Sunday (anonymous Gregorian algorithm).
    fn easter(year: i16) -> Date {
        let y = i32::from(year);
        let (a, b, c) = (y % 19, y / 100, y % 100);
        let (d, e) = (b / 4, b % 4);
        let f = (b + 8) / 25;
        let g = (b - f + 1) / 3;
        let h = (19 * a + b - d - g + 15) % 30;
        let (i, k) = (c / 4, c % 4);
        let l = (32 + 2 * e + 2 * i - h - k) % 7;
        let m = (a + 11 * h + 22 * l) / 451;
        let month = (h + l - 7 * m + 114) / 31;
        let day = (h + l - 7 * m + 114) % 31 + 1;
        jiff::civil::date(year, month as i8, day as i8)
    }

    /// Colombian public holidays by the law (Ley 51 de 1983, "Ley Emiliani").
    fn colombian_holidays(year: i16) -> BTreeSet<Date> {
        let monday = |d: Date| {
            let ahead = (7 - weekday_index(d) as i64) % 7;
            d.checked_add(jiff::Span::new().days(ahead)).unwrap()
        };
        let date = |m, d| jiff::civil::date(year, m, d);
        let easter = easter(year);
        let after_easter = |days: i64| easter.checked_add(jiff::Span::new().days(days)).unwrap();
        let mut set: BTreeSet<Date> = [
            date(1, 1),
            date(5, 1),
            date(7, 20),
            date(8, 7),
            date(12, 8),
            date(12, 25),
        ]
        .into_iter()
        .collect();
        for (m, d) in [
            (1, 6),
            (3, 19),
            (6, 29),
            (8, 15),
            (10, 12),
            (11, 1),
            (11, 11),
        ] {
            set.insert(monday(date(m, d)));
        }
        set.extend([after_easter(-3), after_easter(-2)]);
        for days in [39, 60, 68] {
            set.insert(monday(after_easter(days)));
        }
        set
    }

    #[test]
    fn default_holidays_are_colombias_of_2026_and_2027() {
        let config = Config::defaults_with_data_dir("data").unwrap();
        let mut expected = colombian_holidays(2026);
        expected.extend(colombian_holidays(2027));
        assert_eq!(expected.len(), 36);
        for branch in &config.calendar.branches {
            assert_eq!(branch.holidays, expected, "{}", branch.id);
        }
    }

    #[test]
    fn reminder_times_leave_out_past_moments() {
        let calendar = Config::defaults_with_data_dir("data").unwrap().calendar;
        let start: Timestamp = "2026-11-25T15:00:00Z".parse().unwrap();
        let early: Timestamp = "2026-11-20T00:00:00Z".parse().unwrap();
        assert_eq!(
            calendar.reminder_times(start, early),
            vec![
                ("24h".to_owned(), "2026-11-24T15:00:00Z".parse().unwrap()),
                ("2h".to_owned(), "2026-11-25T13:00:00Z".parse().unwrap()),
            ]
        );
        let late: Timestamp = "2026-11-25T09:00:00Z".parse().unwrap();
        assert_eq!(
            calendar.reminder_times(start, late),
            vec![("2h".to_owned(), "2026-11-25T13:00:00Z".parse().unwrap())]
        );
        let exactly: Timestamp = "2026-11-25T13:00:00Z".parse().unwrap();
        assert!(calendar.reminder_times(start, exactly).is_empty());
    }

    #[test]
    fn hours_accept_ranges_and_closed() {
        let t = |h, m| Time::new(h, m, 0, 0).unwrap();
        assert_eq!(
            parse_hours("k", "08:00-12:00, 14:00-18:00").unwrap(),
            vec![(t(8, 0), t(12, 0)), (t(14, 0), t(18, 0))]
        );
        assert_eq!(
            parse_hours("k", "8:30-13:00").unwrap(),
            vec![(t(8, 30), t(13, 0))]
        );
        assert!(parse_hours("k", "closed").unwrap().is_empty());
        assert!(parse_hours("k", " Cerrado ").unwrap().is_empty());
        for bad in [
            "",
            "8-13",
            "08:00",
            "08:00-25:00",
            "08:00 - 12:00 14:00-18:00",
            "8h-13h",
        ] {
            assert!(parse_hours("k", bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn bad_hours_name_the_day_and_show_the_expected_form() {
        let mut raw = RawSettings::default();
        raw.branches[1].hours.sat = "8-13".into();
        assert_eq!(
            refused(raw),
            "setting `branches[1].hours.sat` has the value \"8-13\", but a range like 08:00-13:00, several separated by commas, or \"closed\" is expected"
        );

        let mut raw = RawSettings::default();
        raw.branches[0].hours.mon = "18:00-08:00".into();
        assert_mentions(
            &refused(raw),
            &["branches[0].hours.mon", "open before it closes"],
        );

        let mut raw = RawSettings::default();
        raw.branches[0].hours.tue = "08:00-13:00, 12:00-18:00".into();
        assert_mentions(&refused(raw), &["branches[0].hours.tue", "don't overlap"]);

        let mut raw = RawSettings::default();
        raw.branches[2].hours.wed = "08:07-12:00".into();
        assert_mentions(&refused(raw), &["branches[2].hours.wed", "5 minutes"]);
    }

    #[test]
    fn a_branch_closed_every_day_is_refused() {
        let mut raw = RawSettings::default();
        let closed = String::from("closed");
        let hours = &mut raw.branches[2].hours;
        for day in [
            &mut hours.mon,
            &mut hours.tue,
            &mut hours.wed,
            &mut hours.thu,
            &mut hours.fri,
            &mut hours.sat,
            &mut hours.sun,
        ] {
            *day = closed.clone();
        }
        assert_mentions(
            &refused(raw),
            &[
                "`branches[2].hours`",
                "closed every day",
                "at least one day",
            ],
        );
    }

    #[test]
    fn unknown_time_zone_is_refused() {
        let mut raw = RawSettings::default();
        raw.branches[0].time_zone = "Bogota".into();
        assert_mentions(
            &refused(raw),
            &[
                "`branches[0].time_zone`",
                "\"Bogota\"",
                "IANA time zone",
                "America/Bogota",
            ],
        );
    }

    #[test]
    fn bad_holiday_dates_are_refused() {
        for bad in ["2026-13-01", "8/12/2026", "2026-12-8", "2026-02-30"] {
            let mut raw = RawSettings::default();
            raw.branches[1].holidays.push(bad.into());
            let n = raw.branches[1].holidays.len() - 1;
            assert_mentions(
                &refused(raw),
                &[&format!("`branches[1].holidays[{n}]`"), bad, "YYYY-MM-DD"],
            );
        }
    }

    #[test]
    fn duplicate_resource_ids_are_refused() {
        let mut raw = RawSettings::default();
        raw.branches[0].bays[1].id = raw.branches[0].bays[0].id.clone();
        assert_mentions(
            &refused(raw),
            &["`branches[0].bays[1].id`", "norte_mecanica", "no other bay"],
        );

        let mut raw = RawSettings::default();
        raw.branches[1].demo_vehicles[2].id = raw.branches[1].demo_vehicles[0].id.clone();
        assert_mentions(
            &refused(raw),
            &["`branches[1].demo_vehicles[2].id`", "sur_duster"],
        );

        // A demo vehicle may not reuse a bay's id either: both are claim resources.
        let mut raw = RawSettings::default();
        raw.branches[2].demo_vehicles[0].id = raw.branches[2].bays[0].id.clone();
        assert_mentions(&refused(raw), &["`branches[2].demo_vehicles[0].id`"]);

        // The same id at two branches is fine: claims are per branch.
        let mut raw = RawSettings::default();
        raw.branches[1].bays[0].id = raw.branches[0].bays[0].id.clone();
        assert!(validate(raw).is_ok());
    }

    #[test]
    fn bay_services_must_be_service_types() {
        let mut raw = RawSettings::default();
        raw.branches[0].bays.push(RawBay {
            id: "norte_lavado".into(),
            name: "Lavado".into(),
            capacity: 1,
            services: vec!["maintenance".into(), "washing".into()],
        });
        assert_mentions(
            &refused(raw),
            &[
                "`branches[0].bays[3].services[1]`",
                "\"washing\"",
                "maintenance, diagnosis, warranty, bodywork",
            ],
        );

        let mut raw = RawSettings::default();
        raw.branches[0].bays[0].capacity = 0;
        assert_mentions(&refused(raw), &["`branches[0].bays[0].capacity`", "from 1"]);

        let mut raw = RawSettings::default();
        raw.branches[0].bays[0].services.clear();
        assert_mentions(
            &refused(raw),
            &["`branches[0].bays[0].services`", "at least one"],
        );
    }

    #[test]
    fn demo_vehicle_models_must_be_models() {
        let mut raw = RawSettings::default();
        raw.branches[2].demo_vehicles.push(RawDemoVehicle {
            id: "palmira_mustang".into(),
            model: "mustang".into(),
            plate: "ABC-123".into(),
        });
        assert_mentions(
            &refused(raw),
            &[
                "`branches[2].demo_vehicles[3].model`",
                "\"mustang\"",
                "[[models]]",
                "t_cross",
            ],
        );
    }

    #[test]
    fn slot_minutes_must_be_a_multiple_of_five() {
        for bad in [0, 7, 22] {
            let mut raw = RawSettings::default();
            raw.booking.slot_minutes = bad;
            assert_mentions(&refused(raw), &["`booking.slot_minutes`", "multiple of 5"]);
        }
        let mut raw = RawSettings::default();
        raw.booking.slot_minutes = 15;
        assert_eq!(
            validate(raw).unwrap().calendar.slot,
            SignedDuration::from_mins(15)
        );
    }

    #[test]
    fn appointment_durations_must_be_whole_five_minutes() {
        let mut raw = RawSettings::default();
        raw.booking.test_drive_duration = "42m".into();
        assert_mentions(
            &refused(raw),
            &["`booking.test_drive_duration`", "\"42m\"", "5-minute steps"],
        );

        let mut raw = RawSettings::default();
        raw.booking.service_types[3].duration = "1h 32m".into();
        assert_mentions(
            &refused(raw),
            &["`booking.service_types[3].duration`", "5-minute"],
        );

        let mut raw = RawSettings::default();
        raw.booking.service_types[0].duration = "0m".into();
        assert_mentions(&refused(raw), &["`booking.service_types[0].duration`"]);

        let mut raw = RawSettings::default();
        raw.booking.test_drive_duration = "a while".into();
        assert_mentions(
            &refused(raw),
            &["`booking.test_drive_duration`", "a duration like"],
        );

        let mut raw = RawSettings::default();
        raw.booking.test_drive_duration = "1h 15m".into();
        let calendar = validate(raw).unwrap().calendar;
        assert_eq!(calendar.test_drive_duration, SignedDuration::from_mins(75));
    }

    #[test]
    fn other_booking_settings_are_checked() {
        let mut raw = RawSettings::default();
        raw.booking.service_types[1].id = "maintenance".into();
        assert_mentions(&refused(raw), &["`booking.service_types[1].id`", "unique"]);

        let mut raw = RawSettings::default();
        raw.booking.min_lead = "-1h".into();
        assert_mentions(&refused(raw), &["`booking.min_lead`", "0 or more"]);

        let mut raw = RawSettings::default();
        raw.booking.reminders = vec!["24h".into(), "tomorrow".into()];
        assert_mentions(&refused(raw), &["`booking.reminders[1]`", "\"tomorrow\""]);

        let mut raw = RawSettings::default();
        raw.booking.reminder_grace = "0s".into();
        assert_mentions(&refused(raw), &["`booking.reminder_grace`", "above 0"]);

        let mut raw = RawSettings::default();
        raw.booking.horizon_days = 1000;
        assert_mentions(&refused(raw), &["`booking.horizon_days`", "365"]);

        let mut raw = RawSettings::default();
        raw.outreach.window = "soon".into();
        assert_mentions(&refused(raw), &["`outreach.window`", "\"soon\"", "30d"]);
    }

    #[test]
    fn a_typo_in_a_bay_is_reported_from_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("showroom.toml");
        std::fs::write(
            &path,
            "[[branches]]\nid = \"centro\"\nname = \"Centro\"\ncity = \"Cali\"\n\
             [[branches.bays]]\nid = \"b1\"\nname = \"Bahía 1\"\ncapacity = 2\nservice = [\"maintenance\"]\n",
        )
        .unwrap();
        let err = Config::load(Some(&path)).unwrap_err().to_string();
        assert_mentions(&err, &["branches[0].bays[0]", "service"]);
    }

    #[test]
    fn a_branch_written_in_the_file_gets_the_default_calendar() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("showroom.toml");
        std::fs::write(
            &path,
            "[[branches]]\nid = \"centro\"\nname = \"Centro\"\ncity = \"Santiago\"\n\
             time_zone = \"America/Santiago\"\n[branches.hours]\nsat = \"closed\"\n\
             [[branches.demo_vehicles]]\nid = \"d1\"\nmodel = \"duster\"\nplate = \"KDS-318\"\n",
        )
        .unwrap();
        let config = Config::load(Some(&path)).unwrap();
        let branch = &config.calendar.branches[0];
        assert_eq!(branch.time_zone.iana_name(), Some("America/Santiago"));
        assert!(branch.hours[5].is_empty(), "Saturday as written");
        assert_eq!(branch.hours[0].len(), 1, "Monday keeps its default");
        assert_eq!(branch.holidays.len(), 36);
        assert!(branch.bays.is_empty());
        assert_eq!(branch.demo_vehicles[0].model, "duster");
    }
}
