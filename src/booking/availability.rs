//! Free slots for a need (a service appointment or a test drive) at a branch, from the
//! calendar and the slots already taken. Everything is computed in the branch's own
//! time zone, whatever the server's clock says: the grid starts at each opening in
//! local time, "today" is the branch's today, and a DST change moves the UTC instants,
//! never the local times customers see. Pure and synchronous: callers load the
//! occupied slots (`occupied_window`) and ask; nothing here touches the store.

use std::collections::HashMap;

use jiff::civil::{Date, DateTime, Time};
use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::{SignedDuration, Timestamp};

use super::calendar::{Branch, Calendar};
use super::model::{ResourceUnit, Slot};
use crate::engine::Language;

/// What a customer wants to book.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Need {
    /// A workshop appointment: a place in a bay that does this service type.
    Service {
        branch: String,
        service_type: String,
    },
    /// A test drive: a demo vehicle of this model.
    TestDrive { branch: String, model: String },
}

impl Need {
    pub fn branch(&self) -> &str {
        match self {
            Self::Service { branch, .. } | Self::TestDrive { branch, .. } => branch,
        }
    }
}

/// A need the calendar cannot serve at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NeedError {
    #[error("there is no branch `{0}` in the settings")]
    UnknownBranch(String),
    #[error("there is no service type `{0}` in the settings ([[booking.service_types]])")]
    UnknownServiceType(String),
    #[error("no branch has a demo vehicle of the model `{0}`")]
    UnknownModel(String),
    #[error("the branch `{branch}` has no bay or demo vehicle for this")]
    NoResource { branch: String },
}

/// Why a requested start cannot be booked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnavailableReason {
    /// The branch is closed that day or at that time, or the appointment would run
    /// past closing.
    Closed,
    Holiday,
    /// Sooner than the minimum lead time (or already past).
    TooSoon,
    /// Beyond the booking horizon.
    TooFar,
    /// Every unit is busy then, or that time is not one of the offered start times.
    Taken,
    /// The branch has nothing for this need (or the need names something unknown).
    NoResource,
}

/// A refused start, with up to three free slots nearby: the same day first, then the
/// nearest in time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unavailable {
    pub reason: UnavailableReason,
    pub alternatives: Vec<Slot>,
}

/// Free slots as of `now`, given the slots already taken.
#[derive(Debug)]
pub struct Availability<'a> {
    calendar: &'a Calendar,
    now: Timestamp,
    occupied: HashMap<UnitKey<'a>, Vec<(Timestamp, Timestamp)>>,
}

/// (branch, resource, unit) of the taken ranges in `Availability::occupied`.
type UnitKey<'a> = (&'a str, &'a str, u32);

/// A need resolved against the calendar: where, how long, and the units that can serve
/// it in order of preference.
struct Plan<'a> {
    branch: &'a Branch,
    duration: SignedDuration,
    units: Vec<(&'a str, u32)>,
}

/// How many alternatives a refusal carries.
const ALTERNATIVES: usize = 3;

impl<'a> Availability<'a> {
    pub fn new(calendar: &'a Calendar, now: Timestamp, occupied: &'a [Slot]) -> Self {
        let mut index: HashMap<_, Vec<_>> = HashMap::new();
        for slot in occupied {
            let unit = &slot.unit;
            index
                .entry((unit.branch.as_str(), unit.resource.as_str(), unit.unit))
                .or_default()
                .push((slot.start, slot.end));
        }
        Self {
            calendar,
            now,
            occupied: index,
        }
    }

    /// The next free slots, ascending by start; one per start time (the first free
    /// unit).
    pub fn free_slots(&self, need: &Need, limit: usize) -> Result<Vec<Slot>, NeedError> {
        let plan = self.plan(need)?;
        let mut slots = Vec::new();
        for date in self.days(plan.branch) {
            if slots.len() >= limit {
                break;
            }
            slots.extend(self.free_on(&plan, date));
        }
        slots.truncate(limit);
        Ok(slots)
    }

    /// Branch-local dates with at least one free slot, ascending.
    pub fn free_days(&self, need: &Need, limit: usize) -> Result<Vec<Date>, NeedError> {
        let plan = self.plan(need)?;
        Ok(self
            .days(plan.branch)
            .filter(|&date| !self.free_on(&plan, date).is_empty())
            .take(limit)
            .collect())
    }

    /// Every free slot of one branch-local date (none outside the bookable days).
    pub fn free_slots_on(&self, need: &Need, date: Date) -> Result<Vec<Slot>, NeedError> {
        let plan = self.plan(need)?;
        Ok(self.free_on(&plan, date))
    }

    /// The slot starting at `start` (branch-local) if it can be booked; otherwise why
    /// not, with the nearest free alternatives.
    pub fn check(&self, need: &Need, start: DateTime) -> Result<Slot, Unavailable> {
        let Ok(plan) = self.plan(need) else {
            return Err(Unavailable {
                reason: UnavailableReason::NoResource,
                alternatives: Vec::new(),
            });
        };
        let branch = plan.branch;
        let date = start.date();
        let refuse = |reason| {
            Err(Unavailable {
                reason,
                alternatives: self.alternatives(&plan, start),
            })
        };
        if date > self.last_day(branch) {
            return refuse(UnavailableReason::TooFar);
        }
        if branch.holidays.contains(&date) {
            return refuse(UnavailableReason::Holiday);
        }
        let hours = branch.opening_hours(date);
        if hours.is_empty() {
            return refuse(UnavailableReason::Closed);
        }
        let requested = resolve(&branch.time_zone, start);
        if date < branch.today(self.now) || requested < self.earliest() {
            return refuse(UnavailableReason::TooSoon);
        }
        let Some(timestamp) = self
            .starts(&plan, date)
            .into_iter()
            .find_map(|(local, timestamp)| (local == start).then_some(timestamp))
        else {
            // Not an offered start: either outside the hours (or running past closing),
            // or inside them but off the grid.
            let fits = hours.iter().any(|&(open, close)| {
                let time = start.time();
                time >= open
                    && time < close
                    && requested
                        .checked_add(plan.duration)
                        .is_ok_and(|end| end <= resolve(&branch.time_zone, date.to_datetime(close)))
            });
            return refuse(if fits {
                UnavailableReason::Taken
            } else {
                UnavailableReason::Closed
            });
        };
        match self.slot_at(&plan, timestamp) {
            Some(slot) => Ok(slot),
            None => refuse(UnavailableReason::Taken),
        }
    }

    fn plan(&self, need: &Need) -> Result<Plan<'a>, NeedError> {
        let calendar = self.calendar;
        let branch = calendar
            .branch(need.branch())
            .ok_or_else(|| NeedError::UnknownBranch(need.branch().to_owned()))?;
        let (duration, units): (_, Vec<_>) = match need {
            Need::Service { service_type, .. } => {
                let service = calendar
                    .service_type(service_type)
                    .ok_or_else(|| NeedError::UnknownServiceType(service_type.clone()))?;
                let units = branch
                    .bays
                    .iter()
                    .filter(|bay| bay.services.contains(service_type))
                    .flat_map(|bay| (0..bay.capacity).map(|unit| (bay.id.as_str(), unit)))
                    .collect();
                (service.duration, units)
            }
            Need::TestDrive { model, .. } => {
                let units: Vec<_> = branch
                    .demo_vehicles
                    .iter()
                    .filter(|v| &v.model == model)
                    .map(|v| (v.id.as_str(), 0))
                    .collect();
                let known = calendar
                    .branches
                    .iter()
                    .any(|b| b.demo_vehicles.iter().any(|v| &v.model == model));
                if !known {
                    return Err(NeedError::UnknownModel(model.clone()));
                }
                (calendar.test_drive_duration, units)
            }
        };
        if units.is_empty() {
            return Err(NeedError::NoResource {
                branch: branch.id.clone(),
            });
        }
        Ok(Plan {
            branch,
            duration,
            units,
        })
    }

    /// The earliest start that may be booked.
    fn earliest(&self) -> Timestamp {
        self.now
            .checked_add(self.calendar.min_lead)
            .unwrap_or(Timestamp::MAX)
    }

    /// The last branch-local date that may be booked.
    fn last_day(&self, branch: &Branch) -> Date {
        let days = jiff::Span::new().days(i64::from(self.calendar.horizon_days));
        branch
            .today(self.now)
            .checked_add(days)
            .unwrap_or(Date::MAX)
    }

    /// Today to the last bookable day, branch-local.
    fn days(&self, branch: &Branch) -> impl Iterator<Item = Date> + use<'_> {
        let last = self.last_day(branch);
        std::iter::successors(Some(branch.today(self.now)), |d| d.tomorrow().ok())
            .take_while(move |d| *d <= last)
    }

    /// The start times of a date that fit in its opening hours, lead time and
    /// horizon aside: `(local, instant)`. Counted in local time from each opening; a
    /// start that doesn't exist locally (skipped by a DST change) is left out, and a
    /// start that exists twice takes the first.
    fn starts(&self, plan: &Plan<'_>, date: Date) -> Vec<(DateTime, Timestamp)> {
        let tz = &plan.branch.time_zone;
        let mut starts = Vec::new();
        for &(open, close) in plan.branch.opening_hours(date) {
            let closes = resolve(tz, date.to_datetime(close));
            let mut time = open;
            while time < close {
                let local = date.to_datetime(time);
                let instant = match tz.to_ambiguous_timestamp(local).offset() {
                    AmbiguousOffset::Unambiguous { offset } => offset.to_timestamp(local).ok(),
                    AmbiguousOffset::Fold { before, .. } => before.to_timestamp(local).ok(),
                    AmbiguousOffset::Gap { .. } => None,
                };
                if let Some(instant) = instant {
                    let fits = instant
                        .checked_add(plan.duration)
                        .is_ok_and(|end| end <= closes);
                    if fits {
                        starts.push((local, instant));
                    }
                }
                time = match time.checked_add(self.calendar.slot) {
                    Ok(next) if next > time => next,
                    _ => break,
                };
            }
        }
        starts
    }

    /// The free slots of one date.
    fn free_on(&self, plan: &Plan<'_>, date: Date) -> Vec<Slot> {
        let branch = plan.branch;
        if date < branch.today(self.now) || date > self.last_day(branch) {
            return Vec::new();
        }
        let earliest = self.earliest();
        self.starts(plan, date)
            .into_iter()
            .filter(|&(_, start)| start >= earliest)
            .filter_map(|(_, start)| self.slot_at(plan, start))
            .collect()
    }

    /// The first free unit for `[start, start + duration)`.
    fn slot_at(&self, plan: &Plan<'_>, start: Timestamp) -> Option<Slot> {
        let end = start.checked_add(plan.duration).ok()?;
        let branch = plan.branch.id.as_str();
        plan.units
            .iter()
            .find(|&&(resource, unit)| {
                self.occupied
                    .get(&(branch, resource, unit))
                    .is_none_or(|taken| taken.iter().all(|&(s, e)| e <= start || end <= s))
            })
            .map(|&(resource, unit)| Slot {
                unit: ResourceUnit {
                    branch: branch.to_owned(),
                    resource: resource.to_owned(),
                    unit,
                },
                start,
                end,
            })
    }

    /// Up to three free slots near `wanted`: the same day first, then by distance.
    fn alternatives(&self, plan: &Plan<'_>, wanted: DateTime) -> Vec<Slot> {
        let target = resolve(&plan.branch.time_zone, wanted);
        let mut free: Vec<(bool, SignedDuration, Slot)> = self
            .days(plan.branch)
            .flat_map(|date| {
                self.free_on(plan, date).into_iter().map(move |slot| {
                    let other_day = date != wanted.date();
                    let distance = slot.start.duration_since(target).abs();
                    (other_day, distance, slot)
                })
            })
            .collect();
        free.sort_by_key(|(other_day, distance, slot)| (*other_day, *distance, slot.start));
        free.into_iter()
            .take(ALTERNATIVES)
            .map(|(_, _, slot)| slot)
            .collect()
    }
}

/// A local datetime as an instant: a time skipped by a DST change counts as after it,
/// a repeated one as its first occurrence.
fn resolve(tz: &TimeZone, local: DateTime) -> Timestamp {
    tz.to_ambiguous_timestamp(local)
        .compatible()
        .unwrap_or(Timestamp::MAX)
}

/// The range of time to load occupied slots for before asking about availability:
/// from a day before `now` (a long appointment still running counts) to past the last
/// bookable day in any time zone.
pub fn occupied_window(calendar: &Calendar, now: Timestamp) -> (Timestamp, Timestamp) {
    let from = now
        .checked_sub(SignedDuration::from_hours(24))
        .unwrap_or(Timestamp::MIN);
    let ahead = SignedDuration::from_hours(24 * (i64::from(calendar.horizon_days) + 2));
    let to = now
        .checked_add(calendar.min_lead)
        .and_then(|t| t.checked_add(ahead))
        .unwrap_or(Timestamp::MAX);
    (from, to)
}

/// The range of time to load occupied slots for before listing one local `day`'s free
/// times: every booking that can overlap a slot starting that day. A day before its
/// midnight (an appointment running over midnight), three after (the day itself, a DST
/// shift, and an appointment of up to 24 h starting late). Much less than
/// [`occupied_window`] once a branch holds months of bookings.
pub fn occupied_window_on(day: Date, tz: &TimeZone) -> (Timestamp, Timestamp) {
    let midnight = resolve(tz, day.to_datetime(Time::midnight()));
    let from = midnight
        .checked_sub(SignedDuration::from_hours(24))
        .unwrap_or(Timestamp::MIN);
    let to = midnight
        .checked_add(SignedDuration::from_hours(72))
        .unwrap_or(Timestamp::MAX);
    (from, to)
}

const WEEKDAYS_ES: [&str; 7] = ["lun", "mar", "mié", "jue", "vie", "sáb", "dom"];
const WEEKDAYS_EN: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const MONTHS_ES: [&str; 12] = [
    "ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "sep", "oct", "nov", "dic",
];
const MONTHS_EN: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// A day button: "Hoy", "Mañana", "sáb 28 nov" / "Today", "Tomorrow", "Sat 28 Nov".
pub fn day_label(date: Date, today: Date, language: Language) -> String {
    let es = language == Language::Es;
    if date == today {
        return if es { "Hoy" } else { "Today" }.into();
    }
    if today.tomorrow().is_ok_and(|t| t == date) {
        return if es { "Mañana" } else { "Tomorrow" }.into();
    }
    let weekday = super::calendar::weekday_index(date);
    let month = usize::from(date.month().unsigned_abs()) - 1;
    if es {
        format!(
            "{} {} {}",
            WEEKDAYS_ES[weekday],
            date.day(),
            MONTHS_ES[month]
        )
    } else {
        format!(
            "{} {} {}",
            WEEKDAYS_EN[weekday],
            date.day(),
            MONTHS_EN[month]
        )
    }
}

/// A time button: "08:00", "15:30" / "8:00 AM", "3:30 PM".
pub fn time_label(time: Time, language: Language) -> String {
    match language {
        Language::Es => format!("{:02}:{:02}", time.hour(), time.minute()),
        Language::En => {
            let hour = time.hour();
            let suffix = if hour < 12 { "AM" } else { "PM" };
            let twelve = match hour % 12 {
                0 => 12,
                h => h,
            };
            format!("{twelve}:{:02} {suffix}", time.minute())
        }
    }
}

/// "mañana (mar 24 nov)" / "sáb 28 nov": relative words keep the date beside them.
pub fn long_day(date: Date, today: Date, language: Language) -> String {
    let label = day_label(date, today, language);
    let is_relative = date == today || today.tomorrow().is_ok_and(|t| t == date);
    if !is_relative {
        return label;
    }
    // A reference a week before gives the plain dated form.
    let reference = date.checked_sub(jiff::Span::new().days(7)).unwrap_or(date);
    let dated = day_label(date, reference, language);
    format!("{} ({dated})", label.to_lowercase())
}

/// "mañana (mar 24 nov) a las 10:00" / "tomorrow (Tue 24 Nov) at 10:00 AM".
pub fn when(date: Date, time: Time, today: Date, language: Language) -> String {
    let day = long_day(date, today, language);
    match language {
        Language::Es => format!("{day} a las {}", time_label(time, language)),
        Language::En => format!("{day} at {}", time_label(time, language)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, RawSettings, Secrets};
    use jiff::civil::{date, time};

    fn calendar_from(raw: RawSettings) -> Calendar {
        Config::validate(raw, None, Secrets::default())
            .unwrap()
            .calendar
    }

    fn defaults() -> Calendar {
        calendar_from(RawSettings::default())
    }

    fn ts(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn test_drive(branch: &str, model: &str) -> Need {
        Need::TestDrive {
            branch: branch.into(),
            model: model.into(),
        }
    }

    fn service(branch: &str, service_type: &str) -> Need {
        Need::Service {
            branch: branch.into(),
            service_type: service_type.into(),
        }
    }

    /// Local start times of slots at a Bogotá branch.
    fn local(slots: &[Slot]) -> Vec<DateTime> {
        let tz = TimeZone::get("America/Bogota").unwrap();
        slots
            .iter()
            .map(|s| s.start.to_zoned(tz.clone()).datetime())
            .collect()
    }

    #[test]
    fn bogota_branch_with_a_utc_server_clock() {
        let calendar = defaults();
        // 23:30 UTC on Monday is 18:30 in Bogotá: the branch has closed for the day.
        let now = ts("2026-11-23T23:30:00Z");
        let availability = Availability::new(&calendar, now, &[]);
        let need = test_drive("norte", "tiguan");
        let today = calendar.branch("norte").unwrap().today(now);
        assert_eq!(today, date(2026, 11, 23));
        assert!(availability.free_slots_on(&need, today).unwrap().is_empty());

        let first = &availability.free_slots(&need, 1).unwrap()[0];
        assert_eq!(first.start, ts("2026-11-24T13:00:00Z"), "08:00 in Bogotá");
        assert_eq!(first.end, ts("2026-11-24T13:45:00Z"));
        assert_eq!(
            first.unit,
            ResourceUnit {
                branch: "norte".into(),
                resource: "norte_tiguan".into(),
                unit: 0
            }
        );
        let day = availability.free_days(&need, 1).unwrap()[0];
        assert_eq!(day, date(2026, 11, 24));
        assert_eq!(day_label(day, today, Language::Es), "Mañana");
        assert_eq!(day_label(day, today, Language::En), "Tomorrow");

        // 03:00 UTC is already Tuesday in UTC but still Monday night in Bogotá: the
        // 08:00 slot is still "tomorrow" for the customer.
        let now = ts("2026-11-24T03:00:00Z");
        let availability = Availability::new(&calendar, now, &[]);
        let today = calendar.branch("norte").unwrap().today(now);
        assert_eq!(today, date(2026, 11, 23));
        let first = &availability.free_slots(&need, 1).unwrap()[0];
        assert_eq!(first.start, ts("2026-11-24T13:00:00Z"));
        assert_eq!(day_label(date(2026, 11, 24), today, Language::Es), "Mañana");
    }

    #[test]
    fn slots_follow_the_grid_and_end_by_closing() {
        let calendar = defaults();
        let now = ts("2026-11-23T12:00:00Z");
        let availability = Availability::new(&calendar, now, &[]);
        // Saturday 08:00-13:00: bodywork takes 2 h, so the last start is 11:00.
        let saturday = date(2026, 11, 28);
        let slots = availability
            .free_slots_on(&service("norte", "bodywork"), saturday)
            .unwrap();
        let starts: Vec<Time> = local(&slots).iter().map(|dt| dt.time()).collect();
        let expected: Vec<Time> = (0..7)
            .map(|i| time(8, 0, 0, 0) + SignedDuration::from_mins(30 * i))
            .collect();
        assert_eq!(starts, expected);
        assert!(
            slots
                .iter()
                .all(|s| s.end.duration_since(s.start) == SignedDuration::from_hours(2))
        );
        // Split hours: each range has its own grid.
        let mut raw = RawSettings::default();
        raw.branches[0].hours.wed = "08:15-12:00, 14:00-16:00".into();
        let calendar = calendar_from(raw);
        let availability = Availability::new(&calendar, now, &[]);
        let slots = availability
            .free_slots_on(&service("norte", "diagnosis"), date(2026, 11, 25))
            .unwrap();
        let starts: Vec<String> = local(&slots)
            .iter()
            .map(|dt| time_label(dt.time(), Language::Es))
            .collect();
        assert_eq!(
            starts,
            [
                "08:15", "08:45", "09:15", "09:45", "10:15", "10:45", "14:00", "14:30", "15:00"
            ]
        );
    }

    #[test]
    fn a_holiday_is_skipped() {
        let calendar = defaults();
        // Monday 7 December 2026, 18:30 in Bogotá; Tuesday the 8th is a holiday.
        let now = ts("2026-12-07T23:30:00Z");
        let availability = Availability::new(&calendar, now, &[]);
        let need = service("sur", "maintenance");
        let days = availability.free_days(&need, 2).unwrap();
        assert_eq!(days, [date(2026, 12, 9), date(2026, 12, 10)]);
        assert!(
            availability
                .free_slots_on(&need, date(2026, 12, 8))
                .unwrap()
                .is_empty()
        );

        let refused = availability
            .check(&need, date(2026, 12, 8).at(10, 0, 0, 0))
            .unwrap_err();
        assert_eq!(refused.reason, UnavailableReason::Holiday);
        assert_eq!(
            local(&refused.alternatives),
            [
                date(2026, 12, 9).at(8, 0, 0, 0),
                date(2026, 12, 9).at(8, 30, 0, 0),
                date(2026, 12, 9).at(9, 0, 0, 0),
            ]
        );
    }

    #[test]
    fn sunday_is_closed() {
        let calendar = defaults();
        // Saturday 28 November 2026, 14:00 in Bogotá: closed since 13:00.
        let now = ts("2026-11-28T19:00:00Z");
        let availability = Availability::new(&calendar, now, &[]);
        let need = test_drive("sur", "duster");
        let days = availability.free_days(&need, 1).unwrap();
        assert_eq!(days, [date(2026, 11, 30)], "Sunday the 29th is skipped");
        let sunday = date(2026, 11, 29);
        assert!(
            availability
                .free_slots_on(&need, sunday)
                .unwrap()
                .is_empty()
        );
        let refused = availability
            .check(&need, sunday.at(10, 0, 0, 0))
            .unwrap_err();
        assert_eq!(refused.reason, UnavailableReason::Closed);
        assert_eq!(
            local(&refused.alternatives)[0],
            date(2026, 11, 30).at(8, 0, 0, 0)
        );

        // Outside the hours of an open day, and a start that would end after closing.
        let monday = date(2026, 11, 30);
        let early = availability
            .check(&need, monday.at(7, 0, 0, 0))
            .unwrap_err();
        assert_eq!(early.reason, UnavailableReason::Closed);
        let late = availability
            .check(&need, monday.at(17, 30, 0, 0))
            .unwrap_err();
        assert_eq!(
            late.reason,
            UnavailableReason::Closed,
            "45 minutes from 17:30 ends after 18:00"
        );
        assert!(availability.check(&need, monday.at(17, 0, 0, 0)).is_ok());
    }

    #[test]
    fn minimum_lead_time() {
        let calendar = defaults();
        // Tuesday 24 November, 09:10 in Bogotá; with 2 h of lead the first is 11:30.
        let now = ts("2026-11-24T14:10:00Z");
        let availability = Availability::new(&calendar, now, &[]);
        let need = test_drive("norte", "cx_30");
        let first = &availability.free_slots(&need, 1).unwrap()[0];
        assert_eq!(
            local(std::slice::from_ref(first))[0],
            date(2026, 11, 24).at(11, 30, 0, 0)
        );

        let refused = availability
            .check(&need, date(2026, 11, 24).at(11, 0, 0, 0))
            .unwrap_err();
        assert_eq!(refused.reason, UnavailableReason::TooSoon);
        assert_eq!(
            local(&refused.alternatives),
            [
                date(2026, 11, 24).at(11, 30, 0, 0),
                date(2026, 11, 24).at(12, 0, 0, 0),
                date(2026, 11, 24).at(12, 30, 0, 0),
            ]
        );
        let past = availability
            .check(&need, date(2026, 11, 23).at(10, 0, 0, 0))
            .unwrap_err();
        assert_eq!(past.reason, UnavailableReason::TooSoon);

        // Without lead time the next grid start is offered.
        let mut raw = RawSettings::default();
        raw.booking.min_lead = "0m".into();
        let calendar = calendar_from(raw);
        let availability = Availability::new(&calendar, now, &[]);
        let first = &availability.free_slots(&need, 1).unwrap()[0];
        assert_eq!(
            local(std::slice::from_ref(first))[0],
            date(2026, 11, 24).at(9, 30, 0, 0)
        );
    }

    #[test]
    fn booking_horizon() {
        let calendar = defaults();
        // Monday 23 November, 10:00 in Bogotá: bookable through Monday 7 December.
        let now = ts("2026-11-23T15:00:00Z");
        let availability = Availability::new(&calendar, now, &[]);
        let need = service("palmira", "diagnosis");
        let days = availability.free_days(&need, 100).unwrap();
        assert_eq!(days.first(), Some(&date(2026, 11, 23)));
        assert_eq!(days.last(), Some(&date(2026, 12, 7)));
        // 13 open days: two Sundays are closed (no holiday falls in between).
        assert_eq!(days.len(), 13);
        let all = availability.free_slots(&need, usize::MAX).unwrap();
        assert!(
            all.windows(2).all(|w| w[0].start < w[1].start),
            "ascending, one per start"
        );
        assert_eq!(availability.free_slots(&need, 5).unwrap(), all[..5]);

        let refused = availability
            .check(&need, date(2026, 12, 9).at(10, 0, 0, 0))
            .unwrap_err();
        assert_eq!(refused.reason, UnavailableReason::TooFar);
        assert!(
            local(&refused.alternatives)
                .iter()
                .all(|dt| dt.date() == date(2026, 12, 7)),
            "the nearest are on the last bookable day"
        );
        assert!(
            availability
                .free_slots_on(&need, date(2026, 12, 9))
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn a_bay_of_capacity_two_takes_two_cars_at_once() {
        let calendar = defaults();
        let now = ts("2026-11-23T13:00:00Z");
        let need = service("norte", "bodywork"); // norte_latoneria, capacity 2
        let wednesday_ten = date(2026, 11, 25).at(10, 0, 0, 0);

        let mut occupied = Vec::new();
        for unit in 0..2 {
            let availability = Availability::new(&calendar, now, &occupied);
            let slot = availability
                .check(&need, wednesday_ten)
                .expect("a free place");
            assert_eq!(slot.unit.resource, "norte_latoneria");
            assert_eq!(slot.unit.unit, unit);
            occupied.push(slot);
        }
        let availability = Availability::new(&calendar, now, &occupied);
        let refused = availability.check(&need, wednesday_ten).unwrap_err();
        assert_eq!(refused.reason, UnavailableReason::Taken);
        // Two hours each: 08:00 ends as they start, 12:00 starts as they end.
        let day = date(2026, 11, 25);
        assert_eq!(
            local(&refused.alternatives),
            [
                day.at(8, 0, 0, 0),
                day.at(12, 0, 0, 0),
                day.at(12, 30, 0, 0)
            ]
        );
        // A slot overlapping only partly is taken too; other services are unaffected.
        let overlapping = availability.check(&need, day.at(11, 0, 0, 0)).unwrap_err();
        assert_eq!(overlapping.reason, UnavailableReason::Taken);
        assert!(
            availability
                .check(&service("norte", "maintenance"), wednesday_ten)
                .is_ok()
        );
        // The day is not full, so it is still offered.
        assert!(availability.free_days(&need, 14).unwrap().contains(&day));
    }

    #[test]
    fn a_booked_demo_car_blocks_only_its_model() {
        let calendar = defaults();
        let now = ts("2026-11-23T13:00:00Z");
        let day = date(2026, 11, 25);
        let tiguan = test_drive("norte", "tiguan");
        let booked = Availability::new(&calendar, now, &[])
            .check(&tiguan, day.at(10, 0, 0, 0))
            .unwrap();
        let occupied = [booked];
        let availability = Availability::new(&calendar, now, &occupied);

        let refused = availability
            .check(&tiguan, day.at(10, 0, 0, 0))
            .unwrap_err();
        assert_eq!(refused.reason, UnavailableReason::Taken);
        // Nearest first: 09:00 and 11:00 are both an hour away (earlier first), then
        // 08:30 and 11:30.
        assert_eq!(
            local(&refused.alternatives),
            [day.at(9, 0, 0, 0), day.at(11, 0, 0, 0), day.at(8, 30, 0, 0)]
        );
        let starts = local(&availability.free_slots_on(&tiguan, day).unwrap());
        for taken in [
            day.at(9, 30, 0, 0),
            day.at(10, 0, 0, 0),
            day.at(10, 30, 0, 0),
        ] {
            assert!(!starts.contains(&taken), "{taken}");
        }
        let other = availability
            .check(&test_drive("norte", "t_cross"), day.at(10, 0, 0, 0))
            .unwrap();
        assert_eq!(other.unit.resource, "norte_t_cross");
    }

    #[test]
    fn off_grid_times_are_refused_with_the_grid_times_around() {
        let calendar = defaults();
        let now = ts("2026-11-23T13:00:00Z");
        let availability = Availability::new(&calendar, now, &[]);
        let day = date(2026, 11, 25);
        let refused = availability
            .check(&test_drive("sur", "tracker"), day.at(10, 15, 0, 0))
            .unwrap_err();
        assert_eq!(refused.reason, UnavailableReason::Taken);
        assert_eq!(
            local(&refused.alternatives),
            [
                day.at(10, 0, 0, 0),
                day.at(10, 30, 0, 0),
                day.at(9, 30, 0, 0)
            ]
        );
    }

    #[test]
    fn needs_the_calendar_cannot_serve() {
        let calendar = defaults();
        let now = ts("2026-11-23T13:00:00Z");
        let availability = Availability::new(&calendar, now, &[]);
        assert_eq!(
            availability.free_slots(&test_drive("centro", "tiguan"), 3),
            Err(NeedError::UnknownBranch("centro".into()))
        );
        assert_eq!(
            availability.free_days(&service("norte", "washing"), 3),
            Err(NeedError::UnknownServiceType("washing".into()))
        );
        assert_eq!(
            availability.free_slots(&test_drive("norte", "mustang"), 3),
            Err(NeedError::UnknownModel("mustang".into()))
        );
        // The Duster is at Sur and Palmira, not at Norte.
        let no_duster = availability.free_slots(&test_drive("norte", "duster"), 3);
        assert_eq!(
            no_duster,
            Err(NeedError::NoResource {
                branch: "norte".into()
            })
        );
        assert_eq!(
            no_duster.unwrap_err().to_string(),
            "the branch `norte` has no bay or demo vehicle for this"
        );
        let refused = availability
            .check(
                &test_drive("norte", "duster"),
                date(2026, 11, 25).at(10, 0, 0, 0),
            )
            .unwrap_err();
        assert_eq!(refused.reason, UnavailableReason::NoResource);
        assert!(refused.alternatives.is_empty());

        let ids = |need: &Need| -> Vec<String> {
            calendar
                .branches_for(need)
                .iter()
                .map(|b| b.id.clone())
                .collect()
        };
        assert_eq!(ids(&test_drive("", "duster")), ["sur", "palmira"]);
        assert_eq!(ids(&test_drive("norte", "tiguan")), ["norte"]);
        assert_eq!(ids(&service("", "bodywork")), ["norte", "sur"]);
    }

    /// Palmira moved to Santiago de Chile, open every day, to cross Chile's DST start:
    /// on Sunday 6 September 2026 the clocks jump from 00:00 to 01:00 (-04 → -03).
    fn santiago() -> Calendar {
        let mut raw = RawSettings::default();
        let branch = &mut raw.branches[2];
        branch.time_zone = "America/Santiago".into();
        branch.holidays.clear();
        branch.hours.sun = "00:00-03:00, 08:00-13:00".into();
        calendar_from(raw)
    }

    #[test]
    fn a_branch_in_another_time_zone_keeps_its_local_grid_across_dst() {
        let calendar = santiago();
        let tz = TimeZone::get("America/Santiago").unwrap();
        let local = |slots: &[Slot]| -> Vec<DateTime> {
            slots
                .iter()
                .map(|s| s.start.to_zoned(tz.clone()).datetime())
                .collect()
        };
        // Saturday 5 September, 08:00 in Santiago (-04).
        let now = ts("2026-09-05T12:00:00Z");
        let availability = Availability::new(&calendar, now, &[]);
        let need = test_drive("palmira", "corolla_cross");

        let saturday = availability.free_slots_on(&need, date(2026, 9, 5)).unwrap();
        assert_eq!(
            saturday[0].start,
            ts("2026-09-05T14:00:00Z"),
            "10:00 at -04"
        );

        // Sunday: 00:00 and 00:30 don't exist; 01:00 is the first start. 02:30 would
        // end after 03:00. After the change, 08:00 is 11:00 UTC instead of 12:00.
        let sunday = availability.free_slots_on(&need, date(2026, 9, 6)).unwrap();
        let day = date(2026, 9, 6);
        assert_eq!(
            local(&sunday)[..4],
            [
                day.at(1, 0, 0, 0),
                day.at(1, 30, 0, 0),
                day.at(2, 0, 0, 0),
                day.at(8, 0, 0, 0)
            ]
        );
        assert_eq!(sunday[0].start, ts("2026-09-06T04:00:00Z"));
        assert_eq!(sunday[3].start, ts("2026-09-06T11:00:00Z"));
        assert!(
            local(&sunday).iter().all(|dt| dt.minute() % 30 == 0),
            "every start on the local half-hour grid"
        );

        let monday = availability.free_slots_on(&need, date(2026, 9, 7)).unwrap();
        assert_eq!(monday[0].start, ts("2026-09-07T11:00:00Z"), "08:00 at -03");

        // A time the DST change skipped is not a start.
        let skipped = availability.check(&need, day.at(0, 30, 0, 0)).unwrap_err();
        assert_eq!(skipped.reason, UnavailableReason::Taken);
        // 00:30 before the jump is 01:30 after it: the nearest start.
        assert_eq!(
            local(&skipped.alternatives),
            [day.at(1, 30, 0, 0), day.at(1, 0, 0, 0), day.at(2, 0, 0, 0)]
        );
        let slot = availability.check(&need, day.at(8, 30, 0, 0)).unwrap();
        assert_eq!(slot.start, ts("2026-09-06T11:30:00Z"));
        assert_eq!(slot.end, ts("2026-09-06T12:15:00Z"));

        // "Today" is Santiago's: at 02:00 UTC on Saturday it is still Friday there.
        let friday_night = Availability::new(&calendar, ts("2026-09-05T02:00:00Z"), &[]);
        assert_eq!(
            friday_night.free_days(&need, 1).unwrap(),
            [date(2026, 9, 5)]
        );
    }

    #[test]
    fn occupied_window_covers_every_bookable_slot() {
        let calendar = santiago();
        let now = ts("2026-09-05T12:00:00Z");
        let (from, to) = occupied_window(&calendar, now);
        assert!(from <= now);
        let availability = Availability::new(&calendar, now, &[]);
        for need in [
            test_drive("palmira", "tracker"),
            service("norte", "bodywork"),
        ] {
            let all = availability.free_slots(&need, usize::MAX).unwrap();
            assert!(all.iter().all(|s| from <= s.start && s.end <= to));
        }
    }

    #[test]
    fn occupied_window_on_a_day_keeps_every_booking_that_matters_that_day() {
        let calendar = santiago();
        let now = ts("2026-09-05T12:00:00Z");
        for (branch, need) in [
            ("palmira", test_drive("palmira", "tracker")),
            ("norte", service("norte", "bodywork")),
        ] {
            let tz = calendar.branch(branch).unwrap().time_zone.clone();
            let empty = Availability::new(&calendar, now, &[]);
            let free = empty.free_slots(&need, usize::MAX).unwrap();
            // Every other free slot of the horizon is booked.
            let booked: Vec<Slot> = free.iter().step_by(2).cloned().collect();
            let everything = Availability::new(&calendar, now, &booked);
            let mut days: Vec<Date> = free
                .iter()
                .map(|s| s.start.to_zoned(tz.clone()).date())
                .collect();
            days.dedup();
            assert!(days.len() > 5, "{branch}: {days:?}");
            for day in days {
                let (from, to) = occupied_window_on(day, &tz);
                let near: Vec<Slot> = booked
                    .iter()
                    .filter(|s| s.start < to && s.end > from)
                    .cloned()
                    .collect();
                assert!(near.len() < booked.len());
                assert_eq!(
                    Availability::new(&calendar, now, &near)
                        .free_slots_on(&need, day)
                        .unwrap(),
                    everything.free_slots_on(&need, day).unwrap(),
                    "{branch} {day}"
                );
            }
        }
    }

    #[test]
    fn labels() {
        let today = date(2026, 11, 23);
        assert_eq!(day_label(today, today, Language::Es), "Hoy");
        assert_eq!(day_label(today, today, Language::En), "Today");
        assert_eq!(day_label(date(2026, 11, 24), today, Language::Es), "Mañana");
        assert_eq!(
            day_label(date(2026, 11, 28), today, Language::Es),
            "sáb 28 nov"
        );
        assert_eq!(
            day_label(date(2026, 11, 28), today, Language::En),
            "Sat 28 Nov"
        );
        assert_eq!(
            day_label(date(2027, 1, 6), today, Language::Es),
            "mié 6 ene"
        );
        // Month ends and year ends still say "tomorrow".
        assert_eq!(
            day_label(date(2027, 1, 1), date(2026, 12, 31), Language::En),
            "Tomorrow"
        );

        assert_eq!(time_label(time(10, 0, 0, 0), Language::Es), "10:00");
        assert_eq!(time_label(time(8, 0, 0, 0), Language::Es), "08:00");
        assert_eq!(time_label(time(15, 30, 0, 0), Language::Es), "15:30");
        assert_eq!(time_label(time(10, 0, 0, 0), Language::En), "10:00 AM");
        assert_eq!(time_label(time(15, 30, 0, 0), Language::En), "3:30 PM");
        assert_eq!(time_label(time(12, 0, 0, 0), Language::En), "12:00 PM");
        assert_eq!(time_label(time(0, 15, 0, 0), Language::En), "12:15 AM");
    }
}
