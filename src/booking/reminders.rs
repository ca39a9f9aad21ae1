//! The reminder worker: every few seconds it claims the reminders whose moment came
//! (`BookingStore::claim_due_reminders`, a lease so several instances never send one
//! twice) and pushes each into the booking's conversation with the dedupe key
//! `reminder:<id>`, so a crash between sending and recording the send cannot repeat it.
//! A reminder found more than `calendar.reminder_grace` late (the server was down) is
//! skipped: after downtime we skip, never spam. Polling is the whole wake-up mechanism:
//! reminders are due hours after they are written, and a poll also picks up what a
//! crashed instance left claimed once its lease ends.

use std::sync::Arc;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use tokio_util::sync::CancellationToken;

use super::availability::when;
use super::{BookingKind, DueReminder, ReminderOutcome};
use crate::config::Config;
use crate::config::model_name;
use crate::engine::{Button, Engine, EngineError, Language, Reply};
use crate::store::{BookingStore, StoreError};

/// How often due reminders are looked for.
pub const POLL_EVERY: Duration = Duration::from_secs(2);
/// How long a claimed reminder is ours before another instance may take it over.
pub const LEASE: SignedDuration = SignedDuration::from_secs(60);
/// Reminders claimed per poll.
pub const BATCH: u32 = 50;
/// The payload of the "My bookings" button.
pub const MY_BOOKINGS_PAYLOAD: &str = "flow:my_bookings";

/// "Now", injectable so tests can drive the worker through time.
pub type Now = Arc<dyn Fn() -> Timestamp + Send + Sync>;

/// The system clock.
pub fn system_clock() -> Now {
    Arc::new(Timestamp::now)
}

/// What one poll did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub sent: usize,
    pub skipped: usize,
    /// Left claimed after an error; retried when the lease ends.
    pub failed: usize,
}

pub struct ReminderWorker {
    bookings: Arc<dyn BookingStore>,
    engine: Arc<Engine>,
    config: Arc<Config>,
    now: Now,
}

impl ReminderWorker {
    pub fn new(
        bookings: Arc<dyn BookingStore>,
        engine: Arc<Engine>,
        config: Arc<Config>,
        now: Now,
    ) -> Self {
        Self {
            bookings,
            engine,
            config,
            now,
        }
    }

    /// Polls until `token` is cancelled. A failed poll (database down) is logged and
    /// retried on the next tick.
    pub async fn run(self, token: CancellationToken) {
        tracing::info!(every = ?POLL_EVERY, "reminder worker started");
        let mut every = tokio::time::interval(POLL_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = token.cancelled() => break,
                _ = every.tick() => {}
            }
            // A batch is finished even if shutdown starts meanwhile: each push is short.
            match self.run_once().await {
                Ok(tally) if tally != Tally::default() => {
                    tracing::info!(
                        sent = tally.sent,
                        skipped = tally.skipped,
                        failed = tally.failed,
                        "reminders processed"
                    );
                }
                Ok(_) => {}
                Err(err) => tracing::warn!(cause = %err, "could not claim due reminders"),
            }
        }
        tracing::debug!("reminder worker stopped");
    }

    /// Claims and handles the reminders due now, batch after batch.
    pub async fn run_once(&self) -> Result<Tally, StoreError> {
        let mut tally = Tally::default();
        loop {
            let now = (self.now)();
            let due = self.bookings.claim_due_reminders(now, LEASE, BATCH).await?;
            let full = due.len() >= BATCH as usize;
            for reminder in due {
                match self.handle(&reminder, now).await {
                    Ok(ReminderOutcome::Sent) => tally.sent += 1,
                    Ok(ReminderOutcome::Skipped) => tally.skipped += 1,
                    Err(err) => {
                        tally.failed += 1;
                        tracing::warn!(cause = %err, reminder = reminder.id, "reminder not sent; retried after its lease");
                    }
                }
            }
            // Failed ones stay claimed, so asking again cannot loop on them.
            if !full {
                return Ok(tally);
            }
        }
    }

    async fn handle(
        &self,
        reminder: &DueReminder,
        now: Timestamp,
    ) -> Result<ReminderOutcome, EngineError> {
        let booking = &reminder.booking;
        let late = now.duration_since(reminder.due_at);
        let outcome = if late > self.config.calendar.reminder_grace {
            tracing::info!(reminder = reminder.id, code = %booking.code, ?late, "reminder skipped: its moment passed long ago");
            ReminderOutcome::Skipped
        } else if booking.slot.start <= now {
            ReminderOutcome::Skipped
        } else {
            let reply = self.reply(reminder, now);
            let key = format!("reminder:{}", reminder.id);
            match self
                .engine
                .push(&booking.conversation_id, vec![reply], Some(&key))
                .await
            {
                Ok(_) => ReminderOutcome::Sent,
                Err(EngineError::UnknownConversation(_)) => ReminderOutcome::Skipped,
                Err(err) => return Err(err),
            }
        };
        self.bookings
            .finish_reminder(reminder.id, outcome, now)
            .await?;
        Ok(outcome)
    }

    /// «Te recordamos tu prueba de manejo del Tiguan: mañana (sáb 28 nov) a las 10:00
    /// en Sede Norte, Av. 6N # 28N-10, Cali. Código PM-7K3QX.»
    pub fn reply(&self, reminder: &DueReminder, now: Timestamp) -> Reply {
        let booking = &reminder.booking;
        let language = booking.language;
        let calendar = &self.config.calendar;
        let branch = calendar.branch(&booking.slot.unit.branch);
        let tz = branch.map_or(jiff::tz::TimeZone::UTC, |b| b.time_zone.clone());
        let start = booking.slot.start.to_zoned(tz.clone());
        let today = now.to_zoned(tz).date();
        let at = when(start.date(), start.time(), today, language);
        let place = match branch {
            Some(b) if !b.address.is_empty() => format!("{}, {}", b.name, b.address),
            Some(b) => format!("{}, {}", b.name, b.city),
            None => booking.slot.unit.branch.clone(),
        };
        let model = booking
            .model
            .as_deref()
            .map(|id| model_name(&self.config.catalog.models, id));
        let code = &booking.code;
        let text = match (booking.kind, language) {
            (BookingKind::TestDrive, Language::Es) => {
                let model = model.map(|m| format!(" del {m}")).unwrap_or_default();
                format!("Te recordamos tu prueba de manejo{model}: {at} en {place}. Código {code}.")
            }
            (BookingKind::TestDrive, Language::En) => {
                let model = model.map(|m| format!(" {m}")).unwrap_or_default();
                format!("Reminder: your{model} test drive is {at} at {place}. Code {code}.")
            }
            (BookingKind::Service, _) => {
                let service = booking
                    .service_type
                    .as_deref()
                    .and_then(|id| calendar.service_type(id))
                    .map(|s| format!(" ({})", s.title.get(language)))
                    .unwrap_or_default();
                let car = match (model, booking.plate.as_deref()) {
                    (Some(m), Some(p)) => format!("{m} {p}"),
                    (Some(m), None) => m.to_owned(),
                    (None, Some(p)) => p.to_owned(),
                    (None, None) => String::new(),
                };
                match language {
                    Language::Es => {
                        let car = if car.is_empty() {
                            car
                        } else {
                            format!(" para tu {car}")
                        };
                        format!(
                            "Te recordamos tu cita de taller{service}{car}: {at} en {place}. Código {code}."
                        )
                    }
                    Language::En => {
                        let car = if car.is_empty() {
                            car
                        } else {
                            format!(" for your {car}")
                        };
                        format!(
                            "Reminder: your service appointment{service}{car} is {at} at {place}. Code {code}."
                        )
                    }
                }
            }
        };
        let my_bookings = match language {
            Language::Es => "Mis citas",
            Language::En => "My bookings",
        };
        Reply::text(text).with_buttons(vec![Button::new(my_bookings, MY_BOOKINGS_PAYLOAD)])
    }
}

/// Starts the worker on the server's task tracker; it stops when `state.shutdown` is
/// cancelled.
pub fn spawn(state: &crate::http::AppState, now: Now) {
    let worker = ReminderWorker::new(
        Arc::new(state.store.clone()),
        state.engine.clone(),
        state.config.clone(),
        now,
    );
    state.connections.spawn(worker.run(state.shutdown.clone()));
}
