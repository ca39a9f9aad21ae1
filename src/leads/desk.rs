//! The leads desk: after every turn, what the customer said and did becomes their lead.
//!
//! One turn → one transaction: facts from the text and the flow values are merged into
//! the profile (only with the customer's consent) and the interest, records of the same
//! person on other channels are merged into one, the lead is scored, and when it
//! qualifies — a booking, a request for a person, or a score past `handoff_from` — it is
//! routed to a branch and advisor and a `lead.created` goes into the outbox in the same
//! transaction. Later news about a handed-off lead goes out as `lead.updated`.
//!
//! Observing the same turn twice (processed again after a crash) finds nothing new and
//! writes nothing: facts merge idempotently and `lead.created` has a dedupe key.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use jiff::Timestamp;

use super::extract::{Extracted, Extractor};
use super::merge::merge_leads;
use super::routing::Routing;
use super::score::ScoreRules;
use super::understand::LlmReader;
use super::{PhoneE164, Signal};
use crate::crm::worker::OutboxNotifier;
use crate::engine::{Input, Observation, ObservedTurn, Reply, TurnNotes, TurnObserver};
use crate::store::{
    CustomerRecord, LeadRecord, LeadStatus, LeadStore, LeadTx, NewOutboxMessage, StoreError,
};

/// The consent purpose that allows keeping personal data and handing the lead off.
pub const CONTACT_CONSENT: &str = "contact";

/// A customer who first wrote this long ago is returning.
const RETURNING_AFTER: Duration = Duration::from_secs(24 * 3600);

/// What the flows' actions in one turn mean for the lead.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Events {
    booked_test_drive: bool,
    booked_service: bool,
    requested_advisor: bool,
    opted_out: bool,
    opted_in: bool,
    /// A booking was cancelled or moved: the CRM's copy of it is out of date.
    booking_changed: bool,
}

/// The action ran and set `flag` to "yes".
fn ran_with(notes: &TurnNotes, action: &str, flag: &str) -> bool {
    notes
        .actions
        .iter()
        .any(|a| a.name == action && a.outcome.get(flag).and_then(|v| v.as_str()) == Some("yes"))
}

impl Events {
    fn from_notes(notes: &TurnNotes) -> Self {
        Self {
            booked_test_drive: ran_with(notes, "book_test_drive", "booked"),
            booked_service: ran_with(notes, "book_service", "booked"),
            // A privacy request goes to a person too, but it is not a sales lead.
            requested_advisor: notes.actions.iter().any(|action| {
                action.name == "request_advisor"
                    && action.args.get("reason").and_then(|v| v.as_str()) != Some("privacy")
            }),
            opted_out: notes.ran("opt_out").is_some(),
            opted_in: notes.ran("opt_in").is_some(),
            booking_changed: ran_with(notes, "cancel_booking", "cancelled")
                || ran_with(notes, "reschedule_booking", "rescheduled"),
        }
    }

    fn any(&self) -> bool {
        *self != Events::default()
    }

    fn signals(&self) -> impl Iterator<Item = Signal> {
        [
            (self.booked_test_drive, Signal::BookedTestDrive),
            (self.booked_service, Signal::BookedService),
            (self.requested_advisor, Signal::RequestedAdvisor),
            (self.opted_out, Signal::OptedOut),
        ]
        .into_iter()
        .filter_map(|(on, signal)| on.then_some(signal))
    }

    /// Why this turn hands the lead off, if it does by itself.
    fn handoff_reason(&self) -> Option<&'static str> {
        if self.booked_test_drive || self.booked_service {
            Some("booking")
        } else if self.requested_advisor {
            Some("advisor")
        } else {
            None
        }
    }
}

/// Whose lead a change is about.
#[derive(Debug, Clone)]
struct Origin {
    customer_id: String,
    conversation_id: String,
    channel: crate::engine::ChannelKind,
    language: crate::engine::Language,
}

impl Origin {
    fn of(turn: &ObservedTurn<'_>) -> Self {
        Self {
            customer_id: turn.customer_id.to_owned(),
            conversation_id: turn.conversation_id.to_owned(),
            channel: turn.channel,
            language: turn.language,
        }
    }
}

/// A message for the LLM to read after its turn.
struct ReadJob {
    origin: Origin,
    text: String,
}

/// Free texts of fewer words are flow answers or greetings: not worth an LLM call.
const LLM_MIN_WORDS: usize = 4;

/// Builds and updates leads from turns. One per server.
pub struct LeadDesk {
    store: Arc<dyn LeadStore>,
    extractor: Extractor,
    rules: ScoreRules,
    routing: Routing,
    /// Advisor id → name, for the customer's "who will contact you".
    advisors: HashMap<String, String>,
    /// How long a new CRM message waits before other instances' workers may take it;
    /// this instance's worker is told at once.
    settle: Duration,
    time_zone: jiff::tz::TimeZone,
    notifier: Mutex<Option<OutboxNotifier>>,
    /// Messages waiting for the LLM reader, when there is one.
    reader: Mutex<Option<tokio::sync::mpsc::Sender<ReadJob>>>,
}

impl LeadDesk {
    pub fn new(
        store: Arc<dyn LeadStore>,
        extractor: Extractor,
        rules: ScoreRules,
        routing: Routing,
        advisors: HashMap<String, String>,
        settle: Duration,
        time_zone: jiff::tz::TimeZone,
    ) -> Self {
        Self {
            store,
            extractor,
            rules,
            routing,
            advisors,
            settle,
            time_zone,
            notifier: Mutex::new(None),
            reader: Mutex::new(None),
        }
    }

    /// Has the LLM read every longer free text too, after its turn (so the customer
    /// never waits for it); what it finds is applied like any other facts. Stops with
    /// `shutdown`.
    pub fn spawn_reader(
        self: &Arc<Self>,
        reader: LlmReader,
        shutdown: tokio_util::sync::CancellationToken,
    ) -> tokio::task::JoinHandle<()> {
        // A backlog beyond this is dropped: the rules already read those messages.
        let (jobs, mut queue) = tokio::sync::mpsc::channel::<ReadJob>(256);
        if let Ok(mut slot) = self.reader.lock() {
            *slot = Some(jobs);
        }
        let desk = self.clone();
        tokio::spawn(async move {
            loop {
                let job = tokio::select! {
                    () = shutdown.cancelled() => break,
                    job = queue.recv() => match job {
                        Some(job) => job,
                        None => break,
                    },
                };
                let facts = match reader.read(&job.text, &desk.extractor).await {
                    Ok(facts) => facts,
                    Err(err) => {
                        metrics::counter!("showroom_leads_llm_reads_total", "outcome" => "failed")
                            .increment(1);
                        tracing::warn!(cause = %err, "the LLM could not read a message for the lead; the rules' reading stands");
                        continue;
                    }
                };
                metrics::counter!("showroom_leads_llm_reads_total", "outcome" => "read")
                    .increment(1);
                if facts.is_empty() {
                    continue;
                }
                match desk
                    .apply(&job.origin, facts, Events::default(), Timestamp::now())
                    .await
                {
                    Ok(observation) => desk.committed(observation.outbox),
                    Err(err) => {
                        tracing::error!(cause = %err, "could not store what the LLM read for the lead")
                    }
                }
            }
        })
    }

    /// Where to announce committed CRM messages (the outbox worker of this instance).
    pub fn set_notifier(&self, notifier: OutboxNotifier) {
        if let Ok(mut slot) = self.notifier.lock() {
            *slot = Some(notifier);
        }
    }

    /// The facts of one turn: the text, the flow's values, a shared contact.
    fn facts(&self, turn: &ObservedTurn<'_>, now: Timestamp) -> Extracted {
        let mut facts = match turn.input {
            Input::Text(text) => {
                let today = now.to_zoned(self.time_zone.clone()).date();
                self.extractor.extract(text, today)
            }
            _ => Extracted::default(),
        };
        // In a service booking the model is the car they own, not one they want.
        let servicing = turn
            .notes
            .values
            .get("booking_kind")
            .and_then(|v| v.as_str())
            == Some("service")
            || turn.notes.ran("book_service").is_some();
        if servicing {
            facts.interest.model = None;
        }
        let mut values = turn.notes.values.clone();
        if servicing {
            values.remove("model");
        }
        let from_values = self.extractor.from_values(&values);
        facts.profile.merge(&from_values.profile);
        facts.interest.merge(&from_values.interest);
        facts.signals.extend(from_values.signals);
        if let Input::Contact { phone } = turn.input {
            let e164 = if phone.starts_with('+') {
                phone.clone()
            } else {
                format!("+{phone}")
            };
            // The channel vouches for a shared contact: the number is verified.
            if let Ok(phone) = PhoneE164::try_from(e164) {
                facts.profile.phone = Some(phone);
                facts.profile.phone_verified = true;
            }
        }
        facts
    }

    async fn apply(
        &self,
        turn: &Origin,
        facts: Extracted,
        events: Events,
        now: Timestamp,
    ) -> Result<Observation, StoreError> {
        let now_ms = now.as_millisecond();
        let keys: Vec<String> = [
            facts.profile.phone.as_ref().map(|p| p.as_str().to_owned()),
            facts.profile.email.as_ref().map(|e| e.as_str().to_owned()),
            facts
                .profile
                .national_id
                .as_ref()
                .map(|n| n.as_str().to_owned()),
        ]
        .into_iter()
        .flatten()
        .collect();
        let mut tx = self.store.begin_lead(&turn.customer_id, &keys).await?;
        let consent = tx.has_consent(CONTACT_CONSENT).await?;
        let mut customer = tx.customer().await?;
        if customer.erased_at.is_some() {
            // An erased customer who writes again starts over as a new person only
            // through a new consent; until then nothing about them is kept.
            if !consent {
                return Ok(Observation::default());
            }
        }

        // Personal data only with consent; the rest of the lead is not about who they are.
        let mut profile_changed = false;
        let mut folded = Vec::new();
        if consent && !facts.profile.is_empty() {
            let mut profile = customer.profile.clone();
            profile_changed = profile.merge(&facts.profile);
            if profile_changed {
                tx.save_profile(&profile).await?;
            }
            for duplicate in tx.duplicates(&profile).await? {
                folded.extend(tx.absorb(&duplicate.id).await?);
            }
            if !folded.is_empty() || profile_changed {
                customer = tx.customer().await?;
            }
        }

        let (mut lead, is_new, merged_away) = self
            .current_lead(&mut *tx, &customer, folded, turn, now_ms)
            .await?;
        let before = lead.clone();

        lead.interest.merge(&facts.interest);
        // Whether they left a way to reach them is the desk's call (consent first).
        lead.signals.extend(
            facts
                .signals
                .iter()
                .copied()
                .filter(|s| *s != Signal::GaveContact),
        );
        lead.signals.extend(events.signals());
        if events.opted_in {
            lead.signals.remove(&Signal::OptedOut);
        }
        if consent && (customer.profile.phone.is_some() || customer.profile.email.is_some()) {
            lead.signals.insert(Signal::GaveContact);
        }
        if let Some(first) = tx.first_message_at().await?
            && now_ms.saturating_sub(first) > RETURNING_AFTER.as_millis() as i64
        {
            lead.signals.insert(Signal::ReturningCustomer);
        }
        let qualification = self.rules.qualify(&lead.signals);
        lead.score = qualification.score;
        lead.band = qualification.band;
        lead.reasons = qualification.reasons.clone();

        let changed = is_new
            || !merged_away.is_empty()
            || events.booking_changed
            || profile_changed
            || lead.interest != before.interest
            || lead.signals != before.signals
            || lead.customer_id != before.customer_id;
        if !changed {
            // Nothing new (or this turn was observed before a crash): write nothing.
            return Ok(Observation::default());
        }
        lead.conversation_id = Some(turn.conversation_id.clone());
        lead.revision += 1;
        lead.updated_at = now_ms;

        let mut observation = Observation::default();
        let reason = events
            .handoff_reason()
            .or_else(|| self.rules.hands_off(&qualification).then_some("score"));
        let reachable =
            consent && customer.opted_out_at.is_none() && !lead.signals.contains(&Signal::OptedOut);
        let event = match (lead.status, reason) {
            (LeadStatus::Open, Some(reason)) if reachable => {
                let promise = self
                    .hand_off(&mut *tx, &mut lead, reason, turn, now)
                    .await?;
                observation.replies.extend(promise.map(Reply::text));
                Some((
                    "lead.created",
                    Some(format!("lead.created:{}", lead.id)),
                    false,
                ))
            }
            (LeadStatus::HandedOff, _) => Some(("lead.updated", None, true)),
            _ => None,
        };
        tx.save_lead(&lead).await?;
        let mut counted = None;
        if let Some((event, dedupe_key, coalesce)) = event {
            let written = tx
                .enqueue(&NewOutboxMessage {
                    event: event.into(),
                    lead_id: Some(lead.id.clone()),
                    customer_id: Some(lead.customer_id.clone()),
                    body: None,
                    dedupe_key,
                    coalesce,
                    not_before: now_ms + self.settle.as_millis() as i64,
                })
                .await?;
            if written.is_some() {
                counted = Some(event);
            }
            observation.outbox.extend(written);
        }
        for merged in merged_away {
            let written = tx
                .enqueue(&NewOutboxMessage {
                    event: "lead.updated".into(),
                    customer_id: Some(lead.customer_id.clone()),
                    lead_id: Some(merged),
                    body: None,
                    dedupe_key: None,
                    coalesce: true,
                    not_before: now_ms + self.settle.as_millis() as i64,
                })
                .await?;
            observation.outbox.extend(written);
        }
        tx.commit().await?;
        if let Some(event) = counted {
            metrics::counter!("showroom_leads_events_total", "event" => event).increment(1);
        }
        metrics::counter!("showroom_leads_changes_total", "band" => lead.band.as_str())
            .increment(1);
        Ok(observation)
    }

    /// The customer's active lead; when records were merged, the leads they had become
    /// one (the one the CRM already has, else the oldest). A new lead when there is none.
    async fn current_lead(
        &self,
        tx: &mut dyn LeadTx,
        customer: &CustomerRecord,
        folded: Vec<LeadRecord>,
        turn: &Origin,
        now_ms: i64,
    ) -> Result<(LeadRecord, bool, Vec<String>), StoreError> {
        let Some(merged) = merge_leads(tx, &customer.id, folded, now_ms).await? else {
            let qualification = self.rules.qualify(&Default::default());
            let lead = LeadRecord {
                id: format!("lead_{}", uuid::Uuid::now_v7().simple()),
                customer_id: customer.id.clone(),
                status: LeadStatus::Open,
                interest: Default::default(),
                signals: Default::default(),
                score: qualification.score,
                band: qualification.band,
                reasons: qualification.reasons,
                branch: None,
                advisor: None,
                channel: turn.channel.as_str().to_owned(),
                conversation_id: Some(turn.conversation_id.clone()),
                handed_off_at: None,
                handoff_reason: None,
                contact_by: None,
                merged_into: None,
                revision: 0,
                created_at: now_ms,
                updated_at: now_ms,
            };
            return Ok((lead, true, Vec::new()));
        };
        Ok((merged.kept, false, merged.announced))
    }

    /// Routes the lead to a branch and advisor and marks it handed off; returns what the
    /// customer is told.
    async fn hand_off(
        &self,
        tx: &mut dyn LeadTx,
        lead: &mut LeadRecord,
        reason: &str,
        turn: &Origin,
        now: Timestamp,
    ) -> Result<Option<String>, StoreError> {
        let now_ms = now.as_millisecond();
        lead.status = LeadStatus::HandedOff;
        lead.handed_off_at = Some(now_ms);
        lead.handoff_reason = Some(reason.to_owned());
        let model = lead.interest.model.clone();
        let Some(branch) = self
            .routing
            .branch_for(lead.interest.branch.as_deref(), model.as_deref())
        else {
            return Ok(None);
        };
        let candidates = self.routing.candidates(&branch, model.as_deref());
        let advisor = tx.assign_advisor(&candidates, now_ms).await?;
        let by = self.routing.contact_by(&branch, now);
        let advisor_name = advisor
            .as_ref()
            .and_then(|id| self.advisors.get(id))
            .map(String::as_str);
        let promise = self
            .routing
            .promise(advisor_name, &branch, by, now, turn.language);
        lead.branch = Some(branch);
        lead.advisor = advisor;
        lead.contact_by = Some(by.as_millisecond());
        Ok(Some(promise))
    }
}

#[async_trait]
impl TurnObserver for LeadDesk {
    async fn observe(&self, turn: ObservedTurn<'_>) -> Result<Observation, StoreError> {
        let now = Timestamp::now();
        let facts = self.facts(&turn, now);
        let events = Events::from_notes(turn.notes);
        let origin = Origin::of(&turn);
        if let Input::Text(text) = turn.input
            && text.split_whitespace().count() >= LLM_MIN_WORDS
            && let Ok(slot) = self.reader.lock()
            && let Some(jobs) = slot.as_ref()
        {
            let job = ReadJob {
                origin: origin.clone(),
                text: text.clone(),
            };
            if jobs.try_send(job).is_err() {
                tracing::debug!("the LLM reader is behind; this message keeps the rules' reading");
            }
        }
        if facts.is_empty() && !events.any() && turn.notes.is_empty() {
            return Ok(Observation::default());
        }
        self.apply(&origin, facts, events, now).await
    }

    fn committed(&self, outbox: Vec<i64>) {
        if let Ok(slot) = self.notifier.lock()
            && let Some(notifier) = slot.as_ref()
        {
            notifier.notify(outbox);
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Map, Value, json};

    use super::*;

    fn notes(actions: &[(&str, Value, Value)]) -> TurnNotes {
        let mut notes = TurnNotes::default();
        for (name, args, outcome) in actions {
            let object = |v: &Value| v.as_object().cloned().unwrap_or_else(Map::new);
            notes.action(name, &object(args), &object(outcome));
        }
        notes
    }

    #[test]
    fn a_booking_counts_only_when_it_was_made() {
        let booked = Events::from_notes(&notes(&[(
            "book_test_drive",
            json!({"model": "tiguan"}),
            json!({"booked": "yes"}),
        )]));
        assert!(booked.booked_test_drive);
        assert_eq!(booked.handoff_reason(), Some("booking"));
        let taken = Events::from_notes(&notes(&[(
            "book_test_drive",
            json!({"model": "tiguan"}),
            json!({"booked": "no"}),
        )]));
        assert!(
            !taken.any(),
            "someone else took the slot: no booking, no handoff"
        );
    }

    #[test]
    fn a_privacy_request_is_not_a_sales_lead() {
        let privacy = Events::from_notes(&notes(&[(
            "request_advisor",
            json!({"reason": "privacy"}),
            json!({}),
        )]));
        assert!(!privacy.requested_advisor);
        let sales = Events::from_notes(&notes(&[(
            "request_advisor",
            json!({"reason": "buy"}),
            json!({}),
        )]));
        assert_eq!(sales.handoff_reason(), Some("advisor"));
        assert_eq!(
            sales.signals().collect::<Vec<_>>(),
            [Signal::RequestedAdvisor]
        );
    }

    #[test]
    fn opting_out_is_a_signal_and_never_a_handoff() {
        let out = Events::from_notes(&notes(&[("opt_out", json!({}), json!({}))]));
        assert_eq!(out.signals().collect::<Vec<_>>(), [Signal::OptedOut]);
        assert_eq!(out.handoff_reason(), None);
    }
}
