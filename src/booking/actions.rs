//! The actions booking flows run: book a test drive or a service appointment, look up,
//! cancel or move one of the customer's own bookings, and record consent. Each sets
//! values the flow shows next (`booking_code`, `booking_when`, `ics_url`…).

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use jiff::Timestamp;
use jiff::civil::DateTime;
use serde_json::{Map, Value};

use super::availability::when;
use super::availability::{Availability, Need, occupied_window_on};
use super::calendar::Calendar;
use super::{
    Booking, BookingCode, BookingFilter, BookingKind, BookingRequest, BookingStatus, ReserveError,
    Slot,
};
use crate::config::{RawModel, model_name};
use crate::engine::Language;
use crate::flows::actions::{ActionCall, ActionError, ActionOutcome, Actions};
use crate::store::{AuditEntry, AuditStore, BookingStore, CustomerStore, now_ms};

/// How often a booking retries on another free unit when a racing customer took the
/// one it chose.
const RESERVE_ATTEMPTS: usize = 3;

const BOOKED: &[&str] = &[
    "booked",
    "booking_code",
    "booking_when",
    "booking_place",
    "ics_url",
];

pub const BOOKING_ACTIONS: &[(&str, &[&str])] = &[
    ("book_test_drive", BOOKED),
    ("book_service", BOOKED),
    (
        "load_booking",
        &[
            "found",
            "booking_kind",
            "branch",
            "model",
            "service_type",
            "booking_when",
            "booking_place",
        ],
    ),
    ("cancel_booking", &["cancelled", "booking_when"]),
    (
        "reschedule_booking",
        &["rescheduled", "booking_when", "ics_url"],
    ),
    ("record_consent", &["consent"]),
    ("count_bookings", &["booking_count"]),
];

pub fn booking_vocabulary() -> BTreeMap<String, Vec<String>> {
    BOOKING_ACTIONS
        .iter()
        .map(|(name, outputs)| {
            (
                name.to_string(),
                outputs.iter().map(|s| s.to_string()).collect(),
            )
        })
        .collect()
}

pub struct BookingActions {
    calendar: Arc<Calendar>,
    models: Vec<RawModel>,
    bookings: Arc<dyn BookingStore>,
    customers: Arc<dyn CustomerStore>,
    audit: Arc<dyn AuditStore>,
    /// Where customers reach this server, for `.ics` links.
    public_url: String,
}

impl BookingActions {
    pub fn new(
        calendar: Arc<Calendar>,
        models: Vec<RawModel>,
        bookings: Arc<dyn BookingStore>,
        customers: Arc<dyn CustomerStore>,
        audit: Arc<dyn AuditStore>,
        public_url: String,
    ) -> Self {
        Self {
            calendar,
            models,
            bookings,
            customers,
            audit,
            public_url: public_url.trim_end_matches('/').to_owned(),
        }
    }

    fn ics_url(&self, booking: &Booking) -> String {
        format!(
            "{}/api/v1/bookings/{}.ics?token={}",
            self.public_url, booking.code, booking.ics_token
        )
    }

    /// "mañana (mar 24 nov) a las 10:00" in the branch's time zone.
    fn when(&self, booking: &Booking, language: Language) -> String {
        let tz = self
            .calendar
            .branch(&booking.slot.unit.branch)
            .map(|b| b.time_zone.clone())
            .unwrap_or(jiff::tz::TimeZone::UTC);
        let start = booking.slot.start.to_zoned(tz.clone());
        let today = Timestamp::now().to_zoned(tz).date();
        when(start.date(), start.time(), today, language)
    }

    fn place(&self, branch: &str) -> String {
        self.calendar
            .branch(branch)
            .map(|b| format!("{}, {}", b.name, b.address))
            .unwrap_or_else(|| branch.to_owned())
    }

    /// What the branch holds around `start`'s day: all that checking one start needs (the
    /// refusals' alternatives are not used here), and far less than the whole horizon
    /// once the calendar holds thousands of bookings.
    async fn occupied_on_day(
        &self,
        branch: &str,
        start: DateTime,
    ) -> Result<Vec<Slot>, crate::store::StoreError> {
        let tz = self
            .calendar
            .branch(branch)
            .map(|b| b.time_zone.clone())
            .unwrap_or(jiff::tz::TimeZone::UTC);
        let (from, to) = occupied_window_on(start.date(), &tz);
        self.bookings.occupied(branch, from, to).await
    }

    async fn audit(
        &self,
        call: &ActionCall<'_>,
        action: &str,
        detail: Value,
    ) -> Result<(), ActionError> {
        self.audit
            .record(&AuditEntry {
                at: now_ms(),
                actor: format!("customer:{}", call.channel),
                action: action.into(),
                subject: Some(call.customer_id.to_owned()),
                detail: Some(detail),
            })
            .await?;
        Ok(())
    }

    /// Books the slot the flow chose, trying another free unit at the same time when a
    /// racing customer took the first; `booked: "no"` when none is left.
    async fn book(
        &self,
        kind: BookingKind,
        call: &ActionCall<'_>,
    ) -> Result<ActionOutcome, ActionError> {
        let args = Args::new(call);
        let branch = args.required("branch")?;
        let need = match kind {
            BookingKind::TestDrive => Need::TestDrive {
                branch: branch.clone(),
                model: args.required("model")?,
            },
            BookingKind::Service => Need::Service {
                branch: branch.clone(),
                service_type: args.required("service_type")?,
            },
        };
        let start = args.slot("slot")?;
        let phone = args.optional("phone");
        let name = args.optional("name").unwrap_or_default();
        // A crash between the reservation and the commit of this turn makes the engine
        // process the same confirmation again: the booking it made stands. Reserving again
        // would find the slot taken (by that booking) and send the customer to book a
        // second one.
        if let Some(booking) = self
            .made_by_this_conversation(kind, call, &args, start)
            .await?
        {
            self.save_contact(call, &name, phone.as_deref()).await?;
            return Ok(self.booked(&booking, &branch, call.language));
        }
        let now = Timestamp::now();
        for _ in 0..RESERVE_ATTEMPTS {
            let occupied = self.occupied_on_day(&branch, start).await?;
            let slot: Slot =
                match Availability::new(&self.calendar, now, &occupied).check(&need, start) {
                    Ok(slot) => slot,
                    Err(_) => break,
                };
            let request = BookingRequest {
                kind,
                customer_id: call.customer_id.to_owned(),
                conversation_id: call.conversation_id.to_owned(),
                channel: call.channel,
                language: call.language,
                reminders: self.calendar.reminder_times(slot.start, now),
                slot,
                service_type: args.optional("service_type"),
                model: args.optional("model"),
                plate: args.optional("plate"),
                year: args.optional("year").and_then(|y| y.parse().ok()),
                mileage_km: args.optional("mileage").and_then(|m| m.parse().ok()),
                name: name.clone(),
                phone: phone.clone(),
            };
            match self.bookings.reserve(&request).await {
                Ok(booking) => {
                    self.save_contact(call, &name, phone.as_deref()).await?;
                    self.audit(
                        call,
                        "booking.created",
                        serde_json::json!({"code": booking.code, "kind": kind.as_str()}),
                    )
                    .await?;
                    return Ok(self.booked(&booking, &branch, call.language));
                }
                Err(ReserveError::Taken) => continue,
                Err(ReserveError::Store(err)) => return Err(err.into()),
                Err(other @ ReserveError::NotFound(_)) => {
                    return Err(ActionError::BadArguments {
                        action: call.name.to_owned(),
                        message: other.to_string(),
                    });
                }
            }
        }
        let mut values = Map::new();
        values.insert("booked".into(), "no".into());
        for key in ["booking_code", "booking_when", "booking_place", "ics_url"] {
            values.insert(key.into(), "".into());
        }
        Ok(ActionOutcome {
            values,
            replies: Vec::new(),
        })
    }

    /// The name and phone the customer gave for the booking, on their customer record.
    async fn save_contact(
        &self,
        call: &ActionCall<'_>,
        name: &str,
        phone: Option<&str>,
    ) -> Result<(), ActionError> {
        self.customers
            .set_contact(
                call.customer_id,
                Some(name).filter(|n| !n.is_empty()),
                phone,
            )
            .await?;
        Ok(())
    }

    /// What the flow says after `booking` was made.
    fn booked(&self, booking: &Booking, branch: &str, language: Language) -> ActionOutcome {
        let mut values = Map::new();
        values.insert("booked".into(), "yes".into());
        values.insert("booking_code".into(), booking.code.to_string().into());
        values.insert("booking_when".into(), self.when(booking, language).into());
        values.insert("booking_place".into(), self.place(branch).into());
        values.insert("ics_url".into(), self.ics_url(booking).into());
        ActionOutcome {
            values,
            replies: Vec::new(),
        }
    }

    /// The confirmed booking this conversation already made for exactly this request
    /// (kind, branch, model or service, start), if any.
    async fn made_by_this_conversation(
        &self,
        kind: BookingKind,
        call: &ActionCall<'_>,
        args: &Args<'_>,
        start: DateTime,
    ) -> Result<Option<Booking>, ActionError> {
        let branch = args.required("branch")?;
        let Some(at) = self
            .calendar
            .branch(&branch)
            .and_then(|b| start.to_zoned(b.time_zone.clone()).ok())
            .map(|zoned| zoned.timestamp())
        else {
            return Ok(None);
        };
        let filter = BookingFilter {
            branch: Some(branch),
            status: Some(BookingStatus::Confirmed),
            kind: Some(kind),
            from: Some(at),
            to: at.checked_add(jiff::SignedDuration::from_mins(1)).ok(),
            customer_id: Some(call.customer_id.to_owned()),
            limit: 20,
            offset: 0,
        };
        let (model, service_type) = (args.optional("model"), args.optional("service_type"));
        Ok(self
            .bookings
            .list_bookings(&filter)
            .await?
            .into_iter()
            .find(|b| {
                b.conversation_id == call.conversation_id
                    && b.model == model
                    && b.service_type == service_type
            }))
    }

    async fn own_booking(&self, call: &ActionCall<'_>) -> Result<Option<Booking>, ActionError> {
        let args = Args::new(call);
        let Some(code) = BookingCode::parse(&args.required("code")?) else {
            return Ok(None);
        };
        Ok(self
            .bookings
            .booking(&code)
            .await?
            .filter(|b| b.customer_id == call.customer_id))
    }

    async fn load(&self, call: &ActionCall<'_>) -> Result<ActionOutcome, ActionError> {
        let mut values = Map::new();
        match self.own_booking(call).await? {
            Some(booking) => {
                values.insert("found".into(), "yes".into());
                values.insert("booking_kind".into(), booking.kind.as_str().into());
                values.insert("branch".into(), booking.slot.unit.branch.clone().into());
                values.insert(
                    "model".into(),
                    booking.model.clone().unwrap_or_default().into(),
                );
                values.insert(
                    "service_type".into(),
                    booking.service_type.clone().unwrap_or_default().into(),
                );
                values.insert(
                    "booking_when".into(),
                    self.when(&booking, call.language).into(),
                );
                values.insert(
                    "booking_place".into(),
                    self.place(&booking.slot.unit.branch).into(),
                );
                values.insert(
                    "model_display".into(),
                    model_name(&self.models, booking.model.as_deref().unwrap_or_default()).into(),
                );
            }
            None => {
                values.insert("found".into(), "no".into());
            }
        }
        Ok(ActionOutcome {
            values,
            replies: Vec::new(),
        })
    }

    async fn cancel(&self, call: &ActionCall<'_>) -> Result<ActionOutcome, ActionError> {
        let mut values = Map::new();
        let cancelled = match self.own_booking(call).await? {
            Some(booking) => {
                self.bookings
                    .cancel(&booking.code, Some(call.customer_id), "customer")
                    .await?
            }
            None => None,
        };
        match cancelled {
            Some(booking) => {
                self.audit(
                    call,
                    "booking.cancelled",
                    serde_json::json!({"code": booking.code}),
                )
                .await?;
                values.insert("cancelled".into(), "yes".into());
                values.insert(
                    "booking_when".into(),
                    self.when(&booking, call.language).into(),
                );
            }
            None => {
                values.insert("cancelled".into(), "no".into());
                values.insert("booking_when".into(), "".into());
            }
        }
        Ok(ActionOutcome {
            values,
            replies: Vec::new(),
        })
    }

    async fn reschedule(&self, call: &ActionCall<'_>) -> Result<ActionOutcome, ActionError> {
        let args = Args::new(call);
        let start = args.slot("slot")?;
        let mut values = Map::new();
        values.insert("rescheduled".into(), "no".into());
        values.insert("booking_when".into(), "".into());
        values.insert("ics_url".into(), "".into());
        let Some(booking) = self.own_booking(call).await? else {
            return Ok(ActionOutcome {
                values,
                replies: Vec::new(),
            });
        };
        let branch = booking.slot.unit.branch.clone();
        let need = match booking.kind {
            BookingKind::TestDrive => Need::TestDrive {
                branch: branch.clone(),
                model: booking.model.clone().unwrap_or_default(),
            },
            BookingKind::Service => Need::Service {
                branch: branch.clone(),
                service_type: booking.service_type.clone().unwrap_or_default(),
            },
        };
        let now = Timestamp::now();
        for _ in 0..RESERVE_ATTEMPTS {
            // The booking's own time doesn't block moving it by half an hour.
            let occupied: Vec<Slot> = self
                .occupied_on_day(&branch, start)
                .await?
                .into_iter()
                .filter(|s| s != &booking.slot)
                .collect();
            let Ok(slot) = Availability::new(&self.calendar, now, &occupied).check(&need, start)
            else {
                break;
            };
            let reminders = self.calendar.reminder_times(slot.start, now);
            match self
                .bookings
                .reschedule(&booking.code, Some(call.customer_id), &slot, &reminders)
                .await
            {
                Ok(moved) => {
                    self.audit(
                        call,
                        "booking.rescheduled",
                        serde_json::json!({"code": moved.code}),
                    )
                    .await?;
                    values.insert("rescheduled".into(), "yes".into());
                    values.insert(
                        "booking_when".into(),
                        self.when(&moved, call.language).into(),
                    );
                    values.insert("ics_url".into(), self.ics_url(&moved).into());
                    break;
                }
                Err(ReserveError::Taken) => continue,
                Err(ReserveError::Store(err)) => return Err(err.into()),
                Err(ReserveError::NotFound(_)) => break,
            }
        }
        Ok(ActionOutcome {
            values,
            replies: Vec::new(),
        })
    }

    /// Records the customer's consent as evidence: what for, on which channel, the exact
    /// words they were shown (in the language they read them) and the version of those
    /// words. Without the text or the version the flow file is wrong: nothing is
    /// recorded, so the flow never goes on as if the customer had agreed.
    async fn consent(&self, call: &ActionCall<'_>) -> Result<ActionOutcome, ActionError> {
        let args = Args::new(call);
        let purpose = args.optional("purpose").unwrap_or_else(|| "contact".into());
        let text = args.in_language("text", call.language)?;
        let version = args.required("version")?;
        self.customers
            .record_consent(
                call.customer_id,
                &purpose,
                call.channel.as_str(),
                &text,
                &version,
                now_ms(),
            )
            .await?;
        self.audit(
            call,
            "consent.granted",
            serde_json::json!({
                "purpose": purpose,
                "version": version,
                "language": call.language.as_str(),
            }),
        )
        .await?;
        let mut values = Map::new();
        values.insert("consent".into(), "yes".into());
        Ok(ActionOutcome {
            values,
            replies: Vec::new(),
        })
    }
}

#[async_trait]
impl Actions for BookingActions {
    fn vocabulary(&self) -> BTreeMap<String, Vec<String>> {
        booking_vocabulary()
    }

    async fn run(&self, call: ActionCall<'_>) -> Result<ActionOutcome, ActionError> {
        match call.name {
            "book_test_drive" => self.book(BookingKind::TestDrive, &call).await,
            "book_service" => self.book(BookingKind::Service, &call).await,
            "load_booking" => self.load(&call).await,
            "cancel_booking" => self.cancel(&call).await,
            "reschedule_booking" => self.reschedule(&call).await,
            "record_consent" => self.consent(&call).await,
            "count_bookings" => {
                let upcoming = self
                    .bookings
                    .upcoming_for_customer(call.customer_id, Timestamp::now())
                    .await?;
                let mut values = Map::new();
                values.insert("booking_count".into(), upcoming.len().into());
                Ok(ActionOutcome {
                    values,
                    replies: Vec::new(),
                })
            }
            other => Err(ActionError::Unknown(other.to_owned())),
        }
    }
}

/// An action's `with:` values, as the texts templates rendered.
struct Args<'a> {
    action: &'a str,
    values: &'a Map<String, Value>,
}

impl<'a> Args<'a> {
    fn new(call: &'a ActionCall<'_>) -> Self {
        Self {
            action: call.name,
            values: &call.args,
        }
    }

    fn optional(&self, key: &str) -> Option<String> {
        match self.values.get(key)? {
            Value::String(s) if s.trim().is_empty() => None,
            Value::String(s) => Some(s.trim().to_owned()),
            Value::Null => None,
            other => Some(other.to_string()),
        }
    }

    fn required(&self, key: &str) -> Result<String, ActionError> {
        self.optional(key).ok_or_else(|| ActionError::BadArguments {
            action: self.action.to_owned(),
            message: format!("`{key}` is missing or empty; pass it in `with:`"),
        })
    }

    /// The text the customer read: `{key}_es` or `{key}_en` by `language`, or `{key}` when
    /// the flow passes a single text.
    fn in_language(&self, key: &str, language: Language) -> Result<String, ActionError> {
        let own = format!("{key}_{}", language.as_str());
        self.optional(&own)
            .or_else(|| self.optional(key))
            .ok_or_else(|| ActionError::BadArguments {
                action: self.action.to_owned(),
                message: format!(
                    "`{own}` is missing or empty; pass the exact text the customer was shown in \
                     each language (`{key}_es` and `{key}_en`) in `with:`"
                ),
            })
    }

    /// A slot as stored by the time question: branch-local `2026-11-28T10:00`.
    fn slot(&self, key: &str) -> Result<DateTime, ActionError> {
        let text = self.required(key)?;
        text.parse::<DateTime>()
            .map_err(|_| ActionError::BadArguments {
                action: self.action.to_owned(),
                message: format!(
                    "`{key}` is \"{text}\", but a time from the `booking_times` list is expected"
                ),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::engine::{ChannelIdentity, ChannelKind};
    use crate::store::{ConversationStore, LeadStore, Store};

    struct Setup {
        _dir: tempfile::TempDir,
        store: Store,
        actions: BookingActions,
        customer_id: String,
    }

    async fn setup() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let config = Config::defaults_with_data_dir(dir.path()).unwrap();
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("db.sqlite").display()
        );
        let store = Store::connect(&url, &config.store).await.unwrap();
        let customer_id = store
            .open_conversation(&ChannelIdentity::new(ChannelKind::Telegram, "42"), 0)
            .await
            .unwrap()
            .customer_id;
        let actions = BookingActions::new(
            Arc::new(config.calendar.clone()),
            config.catalog.models.clone(),
            Arc::new(store.clone()),
            Arc::new(store.clone()),
            Arc::new(store.clone()),
            "http://localhost".into(),
        );
        Setup {
            _dir: dir,
            store,
            actions,
            customer_id,
        }
    }

    fn call<'a>(customer_id: &'a str, language: Language, args: Value) -> ActionCall<'a> {
        ActionCall {
            name: "record_consent",
            args: args.as_object().cloned().unwrap(),
            customer_id,
            conversation_id: "c1",
            channel: ChannelKind::Telegram,
            language,
        }
    }

    fn both_texts() -> Value {
        serde_json::json!({
            "purpose": "contact",
            "version": "2026-12",
            "text_es": "¿Nos autorizas?",
            "text_en": "Do you agree?",
        })
    }

    #[tokio::test]
    async fn consent_keeps_the_words_the_customer_read_and_their_version() {
        let s = setup().await;
        let outcome = s
            .actions
            .run(call(&s.customer_id, Language::En, both_texts()))
            .await
            .unwrap();
        assert_eq!(outcome.values["consent"], "yes");
        let consents = s.store.consents(&s.customer_id).await.unwrap();
        assert_eq!(consents.len(), 1, "{consents:?}");
        let consent = &consents[0];
        assert_eq!(consent.purpose, "contact");
        assert_eq!(consent.channel, "telegram");
        assert_eq!(consent.text, "Do you agree?");
        assert_eq!(consent.version.as_deref(), Some("2026-12"));
        assert!(consent.granted_at > 0 && consent.revoked_at.is_none());

        s.actions
            .run(call(&s.customer_id, Language::Es, both_texts()))
            .await
            .unwrap();
        let consents = s.store.consents(&s.customer_id).await.unwrap();
        assert_eq!(consents[1].text, "¿Nos autorizas?");

        let audit = s.store.entries_for(&s.customer_id).await.unwrap();
        let granted: Vec<_> = audit
            .iter()
            .filter(|e| e.action == "consent.granted")
            .collect();
        assert_eq!(granted.len(), 2, "{audit:?}");
        assert_eq!(
            granted[0].detail,
            Some(serde_json::json!({"purpose": "contact", "version": "2026-12", "language": "en"}))
        );
    }

    #[tokio::test]
    async fn one_text_for_every_language_is_accepted() {
        let s = setup().await;
        let args = serde_json::json!({"version": "v1", "text": "Acepto."});
        s.actions
            .run(call(&s.customer_id, Language::En, args))
            .await
            .unwrap();
        let consents = s.store.consents(&s.customer_id).await.unwrap();
        assert_eq!(
            (consents[0].purpose.as_str(), consents[0].text.as_str()),
            ("contact", "Acepto.")
        );
    }

    #[tokio::test]
    async fn consent_without_its_text_or_version_is_not_recorded() {
        let s = setup().await;
        for (args, missing) in [
            (serde_json::json!({"version": "2026-12"}), "`text_es`"),
            (
                serde_json::json!({"version": "2026-12", "text_en": "Do you agree?"}),
                "`text_es`",
            ),
            (
                serde_json::json!({"text_es": "¿Nos autorizas?"}),
                "`version`",
            ),
            (
                serde_json::json!({"text_es": "¿Nos autorizas?", "version": "  "}),
                "`version`",
            ),
        ] {
            let err = s
                .actions
                .run(call(&s.customer_id, Language::Es, args.clone()))
                .await
                .unwrap_err();
            assert!(
                matches!(err, ActionError::BadArguments { .. })
                    && err.to_string().contains(missing),
                "{args}: {err}"
            );
        }
        assert!(s.store.consents(&s.customer_id).await.unwrap().is_empty());
        assert!(
            !s.store
                .has_consent(&s.customer_id, "contact")
                .await
                .unwrap()
        );
    }
}
