//! The option lists booking flows ask from: service types, the branches that can serve
//! a need, free days and free times (live from the store), and the customer's own
//! upcoming bookings. Days and times also understand typed answers ("el sábado",
//! "a las 3 de la tarde"), checked against availability with nearby alternatives.

use std::sync::Arc;

use async_trait::async_trait;
use jiff::civil::{Date, DateTime, Time};
use jiff::{Timestamp, Zoned};

use super::availability::{
    Availability, Need, NeedError, Unavailable, UnavailableReason, day_label, long_day,
    occupied_window, occupied_window_on, time_label, when,
};
use super::calendar::{Branch, Calendar};
use super::{Booking, Slot};
use crate::config::{Localized, RawModel, model_name};
use crate::engine::Language;
use crate::flows::input::{self, InputContext, InputKind, Lang, PlateCountry};
use crate::flows::model::Choice;
use crate::flows::sources::{Interpretation, SourceContext, SourceError, Sources, listed};
use crate::store::{BookingStore, StoreError};

/// Most time buttons offered for one day; other times can be typed.
const MAX_TIME_BUTTONS: usize = 12;
/// Days offered as buttons.
const MAX_DAY_BUTTONS: usize = 7;

/// What the lists read from the store.
#[async_trait]
pub trait BookingLookup: Send + Sync {
    async fn occupied(
        &self,
        branch: &str,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<Slot>, StoreError>;
    async fn upcoming_for_customer(
        &self,
        customer_id: &str,
        now: Timestamp,
    ) -> Result<Vec<Booking>, StoreError>;
}

#[async_trait]
impl<T: BookingStore + ?Sized> BookingLookup for T {
    async fn occupied(
        &self,
        branch: &str,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<Slot>, StoreError> {
        BookingStore::occupied(self, branch, from, to).await
    }

    async fn upcoming_for_customer(
        &self,
        customer_id: &str,
        now: Timestamp,
    ) -> Result<Vec<Booking>, StoreError> {
        BookingStore::upcoming_for_customer(self, customer_id, now).await
    }
}

/// An empty calendar of bookings, for flow tests: every slot is free.
pub struct NoBookings;

#[async_trait]
impl BookingLookup for NoBookings {
    async fn occupied(&self, _: &str, _: Timestamp, _: Timestamp) -> Result<Vec<Slot>, StoreError> {
        Ok(Vec::new())
    }

    async fn upcoming_for_customer(
        &self,
        _: &str,
        _: Timestamp,
    ) -> Result<Vec<Booking>, StoreError> {
        Ok(Vec::new())
    }
}

pub struct BookingSources {
    calendar: Arc<Calendar>,
    models: Vec<RawModel>,
    lookup: Arc<dyn BookingLookup>,
}

pub const SERVICE_TYPES: &str = "service_types";
pub const TEST_DRIVE_BRANCHES: &str = "test_drive_branches";
pub const SERVICE_BRANCHES: &str = "service_branches";
pub const BOOKING_DAYS: &str = "booking_days";
pub const BOOKING_TIMES: &str = "booking_times";
pub const MY_BOOKINGS: &str = "my_bookings";

/// Which bookings to load before asking about availability.
#[derive(Debug, Clone, Copy)]
enum Around {
    /// Everything up to the last bookable day, seen from this instant.
    Horizon(Timestamp),
    /// Only what can touch slots starting on this branch-local day.
    Day(Date),
}

impl BookingSources {
    pub fn new(
        calendar: Arc<Calendar>,
        models: Vec<RawModel>,
        lookup: Arc<dyn BookingLookup>,
    ) -> Self {
        Self {
            calendar,
            models,
            lookup,
        }
    }

    fn error(list: &str, message: impl ToString) -> SourceError {
        SourceError {
            list: list.into(),
            message: message.to_string(),
        }
    }

    /// The need the conversation describes: `booking_kind` (or a `service_type`),
    /// `branch`, and `model` / `service_type`.
    fn need(&self, list: &str, ctx: &SourceContext<'_>) -> Result<Need, SourceError> {
        let branch = ctx
            .text("branch")
            .ok_or_else(|| Self::error(list, "the flow must save `branch` before asking this"))?
            .to_owned();
        let is_service = match ctx.text("booking_kind") {
            Some(kind) => kind == "service",
            None => ctx.vars.contains_key("service_type"),
        };
        if is_service {
            let service_type = ctx.text("service_type").ok_or_else(|| {
                Self::error(list, "the flow must save `service_type` before asking this")
            })?;
            Ok(Need::Service {
                branch,
                service_type: service_type.to_owned(),
            })
        } else {
            let model = ctx.text("model").ok_or_else(|| {
                Self::error(list, "the flow must save `model` before asking this")
            })?;
            Ok(Need::TestDrive {
                branch,
                model: model.to_owned(),
            })
        }
    }

    fn branch_of(&self, need: &Need) -> Option<&Branch> {
        let id = match need {
            Need::Service { branch, .. } | Need::TestDrive { branch, .. } => branch,
        };
        self.calendar.branch(id)
    }

    async fn occupied(
        &self,
        list: &str,
        need: &Need,
        around: Around,
    ) -> Result<Vec<Slot>, SourceError> {
        let Some(branch) = self.branch_of(need) else {
            return Ok(Vec::new());
        };
        let (from, to) = match around {
            Around::Horizon(now) => occupied_window(&self.calendar, now),
            Around::Day(day) => occupied_window_on(day, &branch.time_zone),
        };
        self.lookup
            .occupied(&branch.id, from, to)
            .await
            .map_err(|err| Self::error(list, err))
    }

    fn today(&self, need: &Need, now: &Zoned) -> Date {
        match self.branch_of(need) {
            Some(branch) => now.timestamp().to_zoned(branch.time_zone.clone()).date(),
            None => now.date(),
        }
    }

    fn day_choice(&self, date: Date, today: Date) -> Choice {
        let title = Localized::new(
            day_label(date, today, Language::Es),
            day_label(date, today, Language::En),
        );
        let display = Localized::new(
            long_day(date, today, Language::Es),
            long_day(date, today, Language::En),
        );
        Choice {
            display: Some(display),
            ..Choice::new(date.to_string(), title)
        }
    }

    fn time_choice(&self, slot_start: DateTime, today: Date) -> Choice {
        let (date, time) = (slot_start.date(), slot_start.time());
        let title = Localized::new(
            time_label(time, Language::Es),
            time_label(time, Language::En),
        );
        let display = Localized::new(
            when(date, time, today, Language::Es),
            when(date, time, today, Language::En),
        );
        Choice {
            display: Some(display),
            ..Choice::new(slot_value(slot_start), title)
        }
    }

    fn local_start(&self, need: &Need, slot: &Slot) -> DateTime {
        let tz = self
            .branch_of(need)
            .map(|b| b.time_zone.clone())
            .unwrap_or(jiff::tz::TimeZone::UTC);
        slot.start.to_zoned(tz).datetime()
    }

    async fn days(&self, ctx: &SourceContext<'_>) -> Result<Vec<Choice>, SourceError> {
        let need = self.need(BOOKING_DAYS, ctx)?;
        let now = ctx.now.timestamp();
        let occupied = self
            .occupied(BOOKING_DAYS, &need, Around::Horizon(now))
            .await?;
        let availability = Availability::new(&self.calendar, now, &occupied);
        let today = self.today(&need, ctx.now);
        let days = availability
            .free_days(&need, MAX_DAY_BUTTONS)
            .map_err(|err| Self::error(BOOKING_DAYS, err))?;
        Ok(days
            .into_iter()
            .map(|d| self.day_choice(d, today))
            .collect())
    }

    /// A pressed day button: still a day with a free time? Reads that day's bookings, not
    /// the whole horizon's as listing the days does.
    async fn offered_day(
        &self,
        value: &str,
        ctx: &SourceContext<'_>,
    ) -> Result<Option<Choice>, SourceError> {
        let Ok(day) = value.parse::<Date>() else {
            return Ok(None);
        };
        let need = self.need(BOOKING_DAYS, ctx)?;
        let now = ctx.now.timestamp();
        let occupied = self.occupied(BOOKING_DAYS, &need, Around::Day(day)).await?;
        let free = Availability::new(&self.calendar, now, &occupied)
            .free_slots_on(&need, day)
            .map_err(|err| Self::error(BOOKING_DAYS, err))?;
        Ok((!free.is_empty()).then(|| self.day_choice(day, self.today(&need, ctx.now))))
    }

    async fn times(&self, ctx: &SourceContext<'_>) -> Result<Vec<Choice>, SourceError> {
        let need = self.need(BOOKING_TIMES, ctx)?;
        let day: Date = ctx
            .text("day")
            .and_then(|d| d.parse().ok())
            .ok_or_else(|| {
                Self::error(
                    BOOKING_TIMES,
                    "the flow must save `day` (from `booking_days`) before asking this",
                )
            })?;
        let now = ctx.now.timestamp();
        let occupied = self
            .occupied(BOOKING_TIMES, &need, Around::Day(day))
            .await?;
        let availability = Availability::new(&self.calendar, now, &occupied);
        let today = self.today(&need, ctx.now);
        let slots = availability
            .free_slots_on(&need, day)
            .map_err(|err| Self::error(BOOKING_TIMES, err))?;
        Ok(spread(slots, MAX_TIME_BUTTONS)
            .iter()
            .map(|slot| self.time_choice(self.local_start(&need, slot), today))
            .collect())
    }

    fn input_context(&self, need: &Need, ctx: &SourceContext<'_>) -> InputContext {
        let now = match self.branch_of(need) {
            Some(branch) => ctx.now.timestamp().to_zoned(branch.time_zone.clone()),
            None => ctx.now.clone(),
        };
        InputContext {
            now,
            default_region: phonenumber::country::Id::CO,
            plate_country: PlateCountry::Co,
            language: lang(ctx.language),
        }
    }

    /// A typed date at the day question.
    async fn interpret_day(
        &self,
        text: &str,
        ctx: &SourceContext<'_>,
    ) -> Result<Option<Interpretation>, SourceError> {
        let need = self.need(BOOKING_DAYS, ctx)?;
        let input = self.input_context(&need, ctx);
        let Ok(parsed) = input::parse(InputKind::Date, text, &input) else {
            return Ok(None);
        };
        let Some(date) = parsed.value.as_str().and_then(|d| d.parse::<Date>().ok()) else {
            return Ok(None);
        };
        let now = ctx.now.timestamp();
        let occupied = self
            .occupied(BOOKING_DAYS, &need, Around::Horizon(now))
            .await?;
        let availability = Availability::new(&self.calendar, now, &occupied);
        let today = self.today(&need, ctx.now);
        let free = availability
            .free_slots_on(&need, date)
            .map_err(|err| Self::error(BOOKING_DAYS, err))?;
        if !free.is_empty() {
            return Ok(Some(Interpretation::Chosen(self.day_choice(date, today))));
        }
        let branch = self.branch_of(&need);
        let why = day_refusal(date, today, branch, &self.calendar, ctx.language);
        let days = availability
            .free_days(&need, 3)
            .map_err(|err| Self::error(BOOKING_DAYS, err))?;
        let options: Vec<String> = days
            .into_iter()
            .map(|d| long_day(d, today, ctx.language))
            .collect();
        Ok(Some(Interpretation::Refused(with_alternatives(
            why,
            &options,
            ctx.language,
        ))))
    }

    /// A typed time at the time question, checked against availability that day.
    async fn interpret_time(
        &self,
        text: &str,
        ctx: &SourceContext<'_>,
    ) -> Result<Option<Interpretation>, SourceError> {
        let need = self.need(BOOKING_TIMES, ctx)?;
        let Some(day) = ctx.text("day").and_then(|d| d.parse::<Date>().ok()) else {
            return Ok(None);
        };
        let input = self.input_context(&need, ctx);
        let Ok(parsed) = input::parse(InputKind::Time, text, &input) else {
            return Ok(None);
        };
        let Some(time) = parsed.value.as_str().and_then(|t| t.parse::<Time>().ok()) else {
            return Ok(None);
        };
        let now = ctx.now.timestamp();
        // The horizon, not the day: the nearest alternatives may fall on other days.
        let occupied = self
            .occupied(BOOKING_TIMES, &need, Around::Horizon(now))
            .await?;
        let availability = Availability::new(&self.calendar, now, &occupied);
        let today = self.today(&need, ctx.now);
        match availability.check(&need, day.to_datetime(time)) {
            Ok(slot) => Ok(Some(Interpretation::Chosen(
                self.time_choice(self.local_start(&need, &slot), today),
            ))),
            Err(Unavailable {
                reason,
                alternatives,
            }) => {
                let asked = time_label(time, ctx.language);
                let why = time_refusal(reason, &asked, ctx.language);
                // Nearest first from availability; shown in the order of the day.
                let mut alternatives = alternatives;
                alternatives.sort_by_key(|slot| slot.start);
                let options: Vec<String> = alternatives
                    .iter()
                    .map(|slot| {
                        let start = self.local_start(&need, slot);
                        if start.date() == day {
                            time_label(start.time(), ctx.language)
                        } else {
                            when(start.date(), start.time(), today, ctx.language)
                        }
                    })
                    .collect();
                Ok(Some(Interpretation::Refused(with_alternatives(
                    why,
                    &options,
                    ctx.language,
                ))))
            }
        }
    }

    async fn my_bookings(&self, ctx: &SourceContext<'_>) -> Result<Vec<Choice>, SourceError> {
        let bookings = self
            .lookup
            .upcoming_for_customer(ctx.customer_id, ctx.now.timestamp())
            .await
            .map_err(|err| Self::error(MY_BOOKINGS, err))?;
        Ok(bookings
            .iter()
            .map(|booking| {
                let tz = self
                    .calendar
                    .branch(&booking.slot.unit.branch)
                    .map(|b| b.time_zone.clone())
                    .unwrap_or(jiff::tz::TimeZone::UTC);
                let start = booking.slot.start.to_zoned(tz);
                let today = ctx
                    .now
                    .timestamp()
                    .to_zoned(start.time_zone().clone())
                    .date();
                let what = |language| match (booking.kind, &booking.model, &booking.service_type) {
                    (super::BookingKind::TestDrive, Some(model), _) => {
                        model_name(&self.models, model).to_owned()
                    }
                    (super::BookingKind::Service, _, Some(service)) => self
                        .calendar
                        .service_type(service)
                        .map(|s| s.title.get(language).to_owned())
                        .unwrap_or_else(|| service.clone()),
                    _ => String::new(),
                };
                let title = |language| {
                    format!(
                        "{} {} · {}",
                        day_label(start.date(), today, language),
                        time_label(start.time(), language),
                        what(language)
                    )
                };
                let display = |language| {
                    format!(
                        "{} ({}, {})",
                        booking.code,
                        what(language),
                        when(start.date(), start.time(), today, language)
                    )
                };
                Choice {
                    synonyms: vec![booking.code.to_string()],
                    display: Some(Localized::new(display(Language::Es), display(Language::En))),
                    ..Choice::new(
                        booking.code.to_string(),
                        Localized::new(title(Language::Es), title(Language::En)),
                    )
                }
            })
            .collect())
    }
}

#[async_trait]
impl Sources for BookingSources {
    fn names(&self) -> Vec<String> {
        [
            SERVICE_TYPES,
            TEST_DRIVE_BRANCHES,
            SERVICE_BRANCHES,
            BOOKING_DAYS,
            BOOKING_TIMES,
            MY_BOOKINGS,
        ]
        .map(String::from)
        .to_vec()
    }

    async fn options(
        &self,
        name: &str,
        ctx: &SourceContext<'_>,
    ) -> Result<Vec<Choice>, SourceError> {
        match name {
            SERVICE_TYPES => Ok(self
                .calendar
                .service_types
                .iter()
                .map(|s| Choice {
                    synonyms: s.synonyms.clone(),
                    ..Choice::new(&s.id, s.title.clone())
                })
                .collect()),
            TEST_DRIVE_BRANCHES | SERVICE_BRANCHES => {
                let probe = if name == TEST_DRIVE_BRANCHES {
                    ctx.text("model").map(|model| Need::TestDrive {
                        branch: String::new(),
                        model: model.to_owned(),
                    })
                } else {
                    ctx.text("service_type").map(|service_type| Need::Service {
                        branch: String::new(),
                        service_type: service_type.to_owned(),
                    })
                };
                let branches: Vec<&Branch> = match &probe {
                    Some(need) => self.calendar.branches_for(need),
                    None => self.calendar.branches.iter().collect(),
                };
                Ok(branches
                    .into_iter()
                    .map(|b| Choice {
                        synonyms: vec![b.city.clone()],
                        display: Some(Localized::new(
                            format!("{} ({})", b.name, b.address),
                            format!("{} ({})", b.name, b.address),
                        )),
                        ..Choice::new(&b.id, Localized::new(&b.name, &b.name))
                    })
                    .collect())
            }
            BOOKING_DAYS => self.days(ctx).await,
            BOOKING_TIMES => self.times(ctx).await,
            MY_BOOKINGS => self.my_bookings(ctx).await,
            _ => Ok(Vec::new()),
        }
    }

    async fn interpret(
        &self,
        name: &str,
        text: &str,
        ctx: &SourceContext<'_>,
    ) -> Result<Option<Interpretation>, SourceError> {
        match name {
            BOOKING_DAYS => self.interpret_day(text, ctx).await,
            BOOKING_TIMES => self.interpret_time(text, ctx).await,
            // A code typed from a confirmation ("pm 7k3qx"); `load_booking` checks it
            // is the customer's own.
            MY_BOOKINGS => Ok(super::BookingCode::parse(text).map(|code| {
                Interpretation::Chosen(Choice::new(
                    code.to_string(),
                    Localized::new(code.to_string(), code.to_string()),
                ))
            })),
            _ => Ok(None),
        }
    }

    async fn offered(
        &self,
        name: &str,
        value: &str,
        ctx: &SourceContext<'_>,
    ) -> Result<Option<Choice>, SourceError> {
        if name == BOOKING_DAYS {
            return self.offered_day(value, ctx).await;
        }
        listed(self, name, value, ctx).await
    }
}

/// How a slot is stored in a flow: branch-local date and time, `2026-11-28T10:00`.
pub fn slot_value(start: DateTime) -> String {
    start.strftime("%Y-%m-%dT%H:%M").to_string()
}

/// At most `max` slots spread over the day, so the buttons cover morning and afternoon.
fn spread(slots: Vec<Slot>, max: usize) -> Vec<Slot> {
    if slots.len() <= max {
        return slots;
    }
    let step = slots.len() as f64 / max as f64;
    (0..max)
        .filter_map(|i| slots.get((i as f64 * step) as usize).cloned())
        .collect()
}

fn lang(language: Language) -> Lang {
    match language {
        Language::Es => Lang::Es,
        Language::En => Lang::En,
    }
}

fn with_alternatives(why: String, options: &[String], language: Language) -> String {
    if options.is_empty() {
        return why;
    }
    let list = join_or(options, language);
    match language {
        Language::Es => format!("{why} Lo más cercano que tenemos: {list}."),
        Language::En => format!("{why} The closest we have: {list}."),
    }
}

fn join_or(items: &[String], language: Language) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => {
            let word = match language {
                Language::Es => "o",
                Language::En => "or",
            };
            format!("{} {word} {last}", rest.join(", "))
        }
    }
}

fn day_refusal(
    date: Date,
    today: Date,
    branch: Option<&Branch>,
    calendar: &Calendar,
    language: Language,
) -> String {
    let label = long_day(date, today, language);
    let es = language == Language::Es;
    if date < today {
        return if es {
            format!("El {label} ya pasó.")
        } else {
            format!("{label} has already passed.")
        };
    }
    let horizon = today
        .checked_add(jiff::Span::new().days(i64::from(calendar.horizon_days)))
        .unwrap_or(Date::MAX);
    if date > horizon {
        let days = calendar.horizon_days;
        return if es {
            format!("Por ahora agendamos hasta {days} días adelante.")
        } else {
            format!("We book up to {days} days ahead.")
        };
    }
    if let Some(branch) = branch {
        if branch.holidays.contains(&date) {
            return if es {
                format!("El {label} es festivo y la sede está cerrada.")
            } else {
                format!("{label} is a public holiday and the branch is closed.")
            };
        }
        let weekday = date.weekday().to_monday_zero_offset() as usize;
        if branch.hours[weekday].is_empty() {
            return if es {
                format!("La sede no abre el {label}.")
            } else {
                format!("The branch is closed on {label}.")
            };
        }
    }
    if es {
        format!("El {label} ya no tenemos horarios libres.")
    } else {
        format!("There are no free times left on {label}.")
    }
}

fn time_refusal(reason: UnavailableReason, asked: &str, language: Language) -> String {
    let es = language == Language::Es;
    match reason {
        UnavailableReason::Taken => {
            if es {
                format!("A las {asked} ya no hay cupo.")
            } else {
                format!("{asked} is already taken.")
            }
        }
        UnavailableReason::Closed => {
            if es {
                format!("A las {asked} la sede está cerrada.")
            } else {
                format!("The branch is closed at {asked}.")
            }
        }
        UnavailableReason::Holiday => {
            if es {
                "Ese día es festivo y la sede está cerrada.".into()
            } else {
                "That day is a public holiday and the branch is closed.".into()
            }
        }
        UnavailableReason::TooSoon => {
            if es {
                format!("Las {asked} es muy pronto para alistar todo.")
            } else {
                format!("{asked} is too soon for us to get ready.")
            }
        }
        UnavailableReason::TooFar => {
            if es {
                "Esa fecha está más allá de lo que agendamos por ahora.".into()
            } else {
                "That is further ahead than we book for now.".into()
            }
        }
        UnavailableReason::NoResource => {
            if es {
                "Esa sede no tiene disponible lo que necesitas.".into()
            } else {
                "That branch doesn't have what you need.".into()
            }
        }
    }
}

impl From<NeedError> for SourceError {
    fn from(err: NeedError) -> Self {
        SourceError {
            list: "bookings".into(),
            message: err.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, RawSettings, Secrets};
    use jiff::civil::date;
    use serde_json::{Map, Value};

    /// Bookings held in memory, read by branch and window as the store reads them.
    struct Booked(Vec<Slot>);

    #[async_trait]
    impl BookingLookup for Booked {
        async fn occupied(
            &self,
            branch: &str,
            from: Timestamp,
            to: Timestamp,
        ) -> Result<Vec<Slot>, StoreError> {
            Ok(self
                .0
                .iter()
                .filter(|s| s.unit.branch == branch && s.start < to && s.end > from)
                .cloned()
                .collect())
        }

        async fn upcoming_for_customer(
            &self,
            _: &str,
            _: Timestamp,
        ) -> Result<Vec<Booking>, StoreError> {
            Ok(Vec::new())
        }
    }

    #[tokio::test]
    async fn a_pressed_day_stands_while_that_day_has_a_free_time() {
        let config = Config::validate(RawSettings::default(), None, Secrets::default()).unwrap();
        let calendar = Arc::new(config.calendar.clone());
        let now: Zoned = "2026-11-23T08:00:00-05:00[America/Bogota]".parse().unwrap();
        let need = Need::TestDrive {
            branch: "norte".into(),
            model: "tiguan".into(),
        };
        // The one demo Tiguan at Sede Norte is booked all Tuesday.
        let tuesday = date(2026, 11, 24);
        let tuesday_full = Availability::new(&calendar, now.timestamp(), &[])
            .free_slots_on(&need, tuesday)
            .unwrap();
        assert!(!tuesday_full.is_empty());
        let sources = |booked: Vec<Slot>| {
            BookingSources::new(
                calendar.clone(),
                config.catalog.models.clone(),
                Arc::new(Booked(booked)),
            )
        };
        let mut vars = Map::new();
        vars.insert("model".into(), Value::from("tiguan"));
        vars.insert("branch".into(), Value::from("norte"));
        let ctx = SourceContext {
            vars: &vars,
            language: Language::Es,
            customer_id: "c1",
            now: &now,
        };

        let free = sources(Vec::new());
        let chosen = free
            .offered(BOOKING_DAYS, "2026-11-24", &ctx)
            .await
            .unwrap();
        assert_eq!(chosen.map(|c| c.value), Some("2026-11-24".to_owned()));
        assert!(
            free.offered(BOOKING_DAYS, "someday", &ctx)
                .await
                .unwrap()
                .is_none()
        );

        let full = sources(tuesday_full);
        assert!(
            full.offered(BOOKING_DAYS, "2026-11-24", &ctx)
                .await
                .unwrap()
                .is_none(),
            "a full day pressed on an old message is refused"
        );
        let wednesday = full
            .offered(BOOKING_DAYS, "2026-11-25", &ctx)
            .await
            .unwrap();
        assert_eq!(wednesday.map(|c| c.value), Some("2026-11-25".to_owned()));
        // The days listed agree: Tuesday is gone, Wednesday is there.
        let listed: Vec<String> = full
            .options(BOOKING_DAYS, &ctx)
            .await
            .unwrap()
            .into_iter()
            .map(|c| c.value)
            .collect();
        assert!(!listed.contains(&"2026-11-24".to_owned()), "{listed:?}");
        assert!(listed.contains(&"2026-11-25".to_owned()), "{listed:?}");
    }
}
