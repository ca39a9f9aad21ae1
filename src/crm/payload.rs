//! The JSON body of a CRM handoff: `lead.created`, `lead.updated` and `privacy.erased` in
//! the Standard Webhooks envelope `{"type", "timestamp", "data"}`. The types here are the
//! contract with CRM integrators: their doc comments become the descriptions of
//! `docs/handoff.schema.json`, which a unit test keeps equal to [`schema()`]. Absent
//! values are sent as `null` rather than left out, so every key is always there to map.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

use crate::booking::{Booking, BookingFilter, BookingKind, BookingStatus};
use crate::leads::{Band, Signal, Timeframe};
use crate::store::{
    BookingStore, ConsentRecord, ConversationStore, ConversationSummary, CustomerRecord, Direction,
    LeadFilter, LeadRecord, LeadStatus, LeadStore, MessageRecord, OutboxRecord, Store, StoreError,
};

/// The `type` of a lead handed off for the first time.
pub const LEAD_CREATED: &str = "lead.created";
/// The `type` of new information on a lead the CRM already has.
pub const LEAD_UPDATED: &str = "lead.updated";
/// The `type` of a customer's personal data erased on request.
pub const PRIVACY_ERASED: &str = "privacy.erased";

/// The consent a lead's contact rests on (the purpose flows record).
const CONTACT_PURPOSE: &str = crate::booking::outreach::CONSENT_PURPOSE;

/// At most this many bookings are named in the summary.
const SUMMARY_BOOKINGS: usize = 3;

// ---------------------------------------------------------------------------------------
// The wire format.
// ---------------------------------------------------------------------------------------

/// A moment, as an RFC 3339 date-time in UTC (`2024-06-15T15:00:00Z`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Time(pub Timestamp);

impl Time {
    /// From stored Unix milliseconds; values out of jiff's range (never stored) clamp.
    pub fn from_millis(ms: i64) -> Self {
        Self(Timestamp::from_millisecond(ms).unwrap_or(if ms < 0 {
            Timestamp::MIN
        } else {
            Timestamp::MAX
        }))
    }
}

impl JsonSchema for Time {
    fn schema_name() -> Cow<'static, str> {
        "DateTime".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "string", "format": "date-time" })
    }
}

/// A CRM handoff from showroom: the body of a POST to the CRM's webhook URL, signed per
/// Standard Webhooks (headers `webhook-id`, `webhook-timestamp`, `webhook-signature`).
/// Retries of one event carry the same `webhook-id` and the same bytes: use the
/// `webhook-id` to ignore repeats. Events of one lead carry a growing `data.revision`:
/// ignore one older than what you stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type")]
#[schemars(title = "Showroom CRM handoff")]
pub enum Handoff {
    /// A lead handed off for the first time: it booked, asked for a person, or its score
    /// crossed the handoff threshold.
    #[serde(rename = "lead.created")]
    LeadCreated {
        /// When the change that caused this event was stored (not when it was sent).
        timestamp: Time,
        /// The lead.
        data: Box<LeadData>,
    },
    /// New information on a lead already handed off; carries the whole lead again, not a
    /// difference.
    #[serde(rename = "lead.updated")]
    LeadUpdated {
        /// When the change that caused this event was stored (not when it was sent).
        timestamp: Time,
        /// The lead.
        data: Box<LeadData>,
    },
    /// A customer asked to have their personal data erased (habeas data, Ley 1581 /
    /// GDPR). Showroom removed it; erase it from the CRM too.
    #[serde(rename = "privacy.erased")]
    PrivacyErased {
        /// When the data was erased.
        timestamp: Time,
        /// Whose data was erased.
        data: ErasureData,
    },
}

/// Everything showroom knows about a lead, as of the change that caused the event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LeadData {
    /// Showroom's id of the lead; the same in every event of this lead.
    pub lead_id: String,
    /// Grows by one on every stored change of the lead: an event with a lower revision
    /// than one already received is older news.
    pub revision: i64,
    /// Where the lead stands in showroom.
    pub status: LeadState,
    /// When `status` is `merged`: the lead that now carries this one's information.
    pub merged_into: Option<String>,
    /// Why the lead was handed off: `booking` (booked a test drive or a service),
    /// `advisor` (asked for a person) or `score` (crossed the score threshold).
    pub handoff_reason: Option<String>,
    /// Who the customer is.
    pub customer: Customer,
    /// The customer's consent to be contacted: the evidence of what they agreed to.
    pub consent: Option<Consent>,
    /// What the customer wants.
    pub interest: InterestData,
    /// The lead's score, band and the reasons behind them.
    pub qualification: QualificationData,
    /// The customer's bookings, test drives and service appointments, by start time.
    pub bookings: Vec<BookingData>,
    /// Who takes the lead and by when.
    pub assignment: Assignment,
    /// The channel the lead started on: `web`, `telegram`, `viber` or `cli`.
    pub channel: String,
    /// Every channel the customer wrote on, in the order they first used them.
    pub channels: Vec<String>,
    /// A short summary in Spanish for the advisor: model, booking, financing, trade-in,
    /// budget and timeframe.
    pub summary: String,
    /// Every message of all the customer's conversations, oldest first (only the newest
    /// ones when `transcript_truncated`).
    pub transcript: Vec<TranscriptLine>,
    /// True when older messages were left out of `transcript` to keep the body small.
    pub transcript_truncated: bool,
}

/// Where the lead stands in showroom.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LeadState {
    /// Still collecting information (not handed off yet).
    Open,
    /// With the CRM; new information arrives as `lead.updated`.
    HandedOff,
    /// Found to be the same person as another lead and folded into it (`merged_into`).
    Merged,
    /// The customer's personal data was erased.
    Erased,
}

impl From<LeadStatus> for LeadState {
    fn from(status: LeadStatus) -> Self {
        match status {
            LeadStatus::Open => Self::Open,
            LeadStatus::HandedOff => Self::HandedOff,
            LeadStatus::Merged => Self::Merged,
            LeadStatus::Erased => Self::Erased,
        }
    }
}

/// Who the customer is. Personal data, held with the customer's consent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Customer {
    /// Showroom's id of the customer; the same across channels once they are known to be
    /// one person.
    pub id: String,
    /// The name the customer gave.
    pub name: Option<String>,
    /// Mobile phone in E.164 form, like `+573001234567`.
    #[schemars(regex(pattern = r"^\+[1-9][0-9]{7,14}$"))]
    pub phone: Option<String>,
    /// The phone came from the channel itself (a shared contact), not typed by hand.
    pub phone_verified: bool,
    /// Email address, lowercased.
    #[schemars(email)]
    pub email: Option<String>,
    /// Colombian cédula (`1020304050`) or NIT with its check digit (`900123456-8`),
    /// checked.
    pub national_id: Option<String>,
    /// The city the customer lives in or asked about.
    pub city: Option<String>,
}

/// A consent as recorded: what the customer was shown and agreed to, when and where.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Consent {
    /// What the consent covers, like `contact`.
    pub purpose: String,
    /// When the customer accepted.
    pub granted_at: Time,
    /// The exact text the customer accepted.
    pub text: String,
    /// The version of that text, when it was versioned.
    pub version: Option<String>,
    /// The channel they accepted it on.
    pub channel: String,
    /// When they withdrew it ("no quiero que me contacten"); do not contact them then.
    pub revoked_at: Option<Time>,
}

/// What the customer wants.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct InterestData {
    /// The model of interest.
    pub model: Option<ModelRef>,
    /// The version or trim, as the customer named it.
    pub trim: Option<String>,
    /// Budget in Colombian pesos.
    pub budget_cop: Option<u64>,
    /// When they mean to buy.
    pub timeframe: Option<Timeframe>,
    /// Wants financing (`true`), pays cash (`false`), unknown (`null`).
    pub financing: Option<bool>,
    /// The car offered in part payment as the customer described it; an empty string
    /// when they have one but did not say which; `null` when unknown.
    pub trade_in: Option<String>,
    /// The branch the customer prefers.
    pub branch: Option<BranchRef>,
}

/// A car model of the dealer's catalog.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ModelRef {
    /// The model's id in showroom's settings (`[[models]]`), like `cx_30`.
    pub id: String,
    /// Its name, like `CX-30`; `null` when the id is no longer in the catalog.
    pub name: Option<String>,
    /// Its brand, like `Mazda`; `null` when the id is no longer in the catalog.
    pub brand: Option<String>,
}

/// A branch (sede) of the dealer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct BranchRef {
    /// The branch's id in showroom's settings (`[[branches]]`).
    pub id: String,
    /// Its name; `null` when the id is no longer in the settings.
    pub name: Option<String>,
}

/// The lead's score and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct QualificationData {
    /// 0 (cold) to 100 (ready to buy), from the dealer's scoring rules.
    #[schemars(range(max = 100))]
    pub score: u8,
    /// `cold`, `warm` or `hot`, from the score and the dealer's thresholds.
    pub band: Band,
    /// The signals behind the score, each with its points.
    pub reasons: Vec<ScoreReason>,
}

/// One line of "why this score".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ScoreReason {
    /// What the customer did or said.
    pub signal: Signal,
    /// Points this signal added (negative: took away).
    pub points: i32,
    /// The signal in Spanish, for people.
    pub text: String,
}

/// A test drive or service appointment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct BookingData {
    /// The code the customer was given, like `PM-7K3QX` (test drive) or `TL-9F2HD`
    /// (service).
    pub code: String,
    /// Test drive or service appointment.
    pub kind: BookingKindData,
    /// Whether the booking stands or was cancelled.
    pub status: BookingStatusData,
    /// When the appointment starts.
    pub start: Time,
    /// When the appointment ends.
    pub end: Time,
    /// Where the appointment is.
    pub branch: BranchRef,
    /// The model to drive (test drive) or the customer's car (service).
    pub model: Option<ModelRef>,
    /// The service booked (service appointments).
    pub service_type: Option<ServiceTypeRef>,
}

/// What was booked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BookingKindData {
    /// A test drive (prueba de manejo).
    TestDrive,
    /// A workshop appointment (cita de taller).
    Service,
}

/// Whether the booking stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BookingStatusData {
    Confirmed,
    Cancelled,
}

/// A service type of the dealer's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ServiceTypeRef {
    /// The id in showroom's settings (`[[booking.service_types]]`).
    pub id: String,
    /// Its Spanish title; `null` when the id is no longer in the settings.
    pub name: Option<String>,
}

/// Who takes the lead.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Assignment {
    /// The branch the lead was routed to.
    pub branch: Option<BranchRef>,
    /// The advisor the lead was routed to.
    pub advisor: Option<AdvisorRef>,
    /// When the customer was told they would be contacted by, when known.
    pub contact_by: Option<Time>,
}

/// A sales advisor of the dealer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AdvisorRef {
    /// The advisor's id in showroom's settings.
    pub id: String,
    /// The advisor's name; `null` when the id is no longer in the settings.
    pub name: Option<String>,
    /// The advisor's email, when the settings have it.
    #[schemars(email)]
    pub email: Option<String>,
    /// The advisor's phone, when the settings have it.
    pub phone: Option<String>,
}

/// One message of a conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TranscriptLine {
    /// When the message was stored.
    pub at: Time,
    /// The channel of the conversation: `web`, `telegram`, `viber` or `cli`.
    pub channel: String,
    /// `in`: from the customer; `out`: from the bot.
    pub direction: MessageDirection,
    /// What was written; for a button the customer pressed, the button's title.
    pub text: String,
    /// The titles of the buttons the bot offered with this message, if any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buttons: Vec<String>,
}

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum MessageDirection {
    /// From the customer.
    In,
    /// From the bot.
    Out,
}

/// What was erased.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ErasureData {
    /// Showroom's id of the customer whose personal data was erased.
    pub customer_id: String,
    /// The leads of that customer sent before: erase their personal data in the CRM.
    pub lead_ids: Vec<String>,
    /// When the data was erased.
    pub erased_at: Time,
}

/// The JSON Schema of [`Handoff`], as committed in `docs/handoff.schema.json`.
pub fn schema() -> serde_json::Value {
    schemars::schema_for!(Handoff).to_value()
}

/// The body of a `privacy.erased` event.
pub fn privacy_erased_body(customer_id: &str, lead_ids: &[String], erased_at: i64) -> String {
    let handoff = Handoff::PrivacyErased {
        timestamp: Time::from_millis(erased_at),
        data: ErasureData {
            customer_id: customer_id.to_owned(),
            lead_ids: lead_ids.to_vec(),
            erased_at: Time::from_millis(erased_at),
        },
    };
    to_body(&handoff)
}

fn to_body(handoff: &Handoff) -> String {
    // Plain structs with string keys: serde_json has nothing to refuse.
    serde_json::to_string(handoff).expect("a handoff always serializes")
}

// ---------------------------------------------------------------------------------------
// Building a lead's body from the store.
// ---------------------------------------------------------------------------------------

/// An advisor as the CRM sees them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AdvisorContact {
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
}

/// Names for the ids stored with leads and bookings, from the settings.
#[derive(Debug, Clone)]
pub struct Directory {
    /// Model id → (name, brand).
    pub models: HashMap<String, (String, String)>,
    /// Branch id → name.
    pub branches: HashMap<String, String>,
    /// Advisor id → contact.
    pub advisors: HashMap<String, AdvisorContact>,
    /// Service type id → Spanish title.
    pub service_types: HashMap<String, String>,
    /// The dealer's time zone, for the times in the Spanish summary.
    pub time_zone: TimeZone,
}

impl Default for Directory {
    fn default() -> Self {
        Self {
            models: HashMap::new(),
            branches: HashMap::new(),
            advisors: HashMap::new(),
            service_types: HashMap::new(),
            time_zone: TimeZone::UTC,
        }
    }
}

impl Directory {
    /// Models, branches, service types and time zone from the settings; advisors are
    /// left for the caller to add.
    pub fn from_config(config: &crate::config::Config) -> Self {
        Self {
            models: config
                .catalog
                .models
                .iter()
                .map(|m| (m.id.clone(), (m.name.clone(), m.brand.clone())))
                .collect(),
            branches: config
                .catalog
                .branches
                .iter()
                .map(|b| (b.id.clone(), b.name.clone()))
                .collect(),
            advisors: HashMap::new(),
            service_types: config
                .calendar
                .service_types
                .iter()
                .map(|s| (s.id.clone(), s.title.es.clone()))
                .collect(),
            time_zone: config.flows.time_zone.clone(),
        }
    }

    fn model(&self, id: &str) -> ModelRef {
        let found = self.models.get(id);
        ModelRef {
            id: id.to_owned(),
            name: found.map(|(name, _)| name.clone()),
            brand: found.map(|(_, brand)| brand.clone()),
        }
    }

    fn branch(&self, id: &str) -> BranchRef {
        BranchRef {
            id: id.to_owned(),
            name: self.branches.get(id).cloned(),
        }
    }

    fn advisor(&self, id: &str) -> AdvisorRef {
        let found = self.advisors.get(id);
        AdvisorRef {
            id: id.to_owned(),
            name: found.map(|a| a.name.clone()),
            email: found.and_then(|a| a.email.clone()),
            phone: found.and_then(|a| a.phone.clone()),
        }
    }

    fn service_type(&self, id: &str) -> ServiceTypeRef {
        ServiceTypeRef {
            id: id.to_owned(),
            name: self.service_types.get(id).cloned(),
        }
    }
}

/// Why a lead's body could not be built.
#[derive(Debug, thiserror::Error)]
pub enum PayloadError {
    #[error("outbox message {id} ({event}) names no lead, so there is nothing to send")]
    NoLead { id: i64, event: String },
    #[error("lead {0} does not exist (deleted from the database?), so there is nothing to send")]
    LeadNotFound(String),
    #[error("customer {customer} of lead {lead} does not exist, so there is nothing to send")]
    CustomerNotFound { customer: String, lead: String },
    #[error(
        "lead {0} was erased on the customer's request before this event was delivered; the CRM gets the privacy.erased event instead"
    )]
    LeadErased(String),
    #[error(
        "outbox message {id} has the event {event:?}, which this version does not know how to build"
    )]
    UnknownEvent { id: i64, event: String },
    #[error("cannot read the lead to build the CRM handoff: {0}")]
    Store(#[from] StoreError),
}

impl PayloadError {
    /// True when trying again later may work (the database was unavailable); the others
    /// will fail the same way every time.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Store(_))
    }
}

/// What building a handoff reads: a lead, its customer with their consents,
/// conversations and bookings. The store provides it (`Store`); tests use an in-memory one.
#[async_trait::async_trait]
pub trait HandoffSource: Send + Sync {
    async fn lead(&self, id: &str) -> Result<Option<LeadRecord>, StoreError>;
    /// Every lead id of a customer, whatever its status.
    async fn lead_ids_of(&self, customer_id: &str) -> Result<Vec<String>, StoreError>;
    async fn customer_record(&self, id: &str) -> Result<Option<CustomerRecord>, StoreError>;
    async fn consents(&self, customer_id: &str) -> Result<Vec<ConsentRecord>, StoreError>;
    async fn conversations_of(
        &self,
        customer_id: &str,
    ) -> Result<Vec<ConversationSummary>, StoreError>;
    async fn transcript(&self, conversation_id: &str) -> Result<Vec<MessageRecord>, StoreError>;
    async fn bookings_of(&self, customer_id: &str) -> Result<Vec<Booking>, StoreError>;
}

#[async_trait::async_trait]
impl HandoffSource for Store {
    async fn lead(&self, id: &str) -> Result<Option<LeadRecord>, StoreError> {
        LeadStore::lead(self, id).await
    }

    async fn lead_ids_of(&self, customer_id: &str) -> Result<Vec<String>, StoreError> {
        let filter = LeadFilter {
            customer_id: Some(customer_id.to_owned()),
            ..LeadFilter::default()
        };
        Ok(LeadStore::leads(self, &filter)
            .await?
            .into_iter()
            .map(|lead| lead.id)
            .collect())
    }

    async fn customer_record(&self, id: &str) -> Result<Option<CustomerRecord>, StoreError> {
        LeadStore::customer_record(self, id).await
    }

    async fn consents(&self, customer_id: &str) -> Result<Vec<ConsentRecord>, StoreError> {
        LeadStore::consents(self, customer_id).await
    }

    async fn conversations_of(
        &self,
        customer_id: &str,
    ) -> Result<Vec<ConversationSummary>, StoreError> {
        LeadStore::conversations_of(self, customer_id).await
    }

    async fn transcript(&self, conversation_id: &str) -> Result<Vec<MessageRecord>, StoreError> {
        ConversationStore::transcript(self, conversation_id).await
    }

    async fn bookings_of(&self, customer_id: &str) -> Result<Vec<Booking>, StoreError> {
        let filter = BookingFilter {
            customer_id: Some(customer_id.to_owned()),
            ..BookingFilter::default()
        };
        BookingStore::list_bookings(self, &filter).await
    }
}

/// Builds handoff bodies from the lead as stored at the time of the call.
pub struct PayloadBuilder {
    source: Arc<dyn HandoffSource>,
    directory: Directory,
    max_transcript_messages: usize,
}

impl PayloadBuilder {
    pub fn new(
        source: Arc<dyn HandoffSource>,
        directory: Directory,
        max_transcript_messages: usize,
    ) -> Self {
        Self {
            source,
            directory,
            max_transcript_messages,
        }
    }

    /// The body of an outbox message that was enqueued without one: a lead event built
    /// from the lead as it is now, or a `privacy.erased` rebuilt from the store.
    pub async fn body(&self, message: &OutboxRecord) -> Result<String, PayloadError> {
        let timestamp = Time::from_millis(message.created_at);
        let handoff = match message.event.as_str() {
            LEAD_CREATED | LEAD_UPDATED => {
                let lead_id = message
                    .lead_id
                    .as_deref()
                    .ok_or_else(|| PayloadError::NoLead {
                        id: message.id,
                        event: message.event.clone(),
                    })?;
                let data = Box::new(self.lead_data(lead_id, timestamp.0).await?);
                if message.event == LEAD_CREATED {
                    Handoff::LeadCreated { timestamp, data }
                } else {
                    Handoff::LeadUpdated { timestamp, data }
                }
            }
            PRIVACY_ERASED => {
                // Normally written with its body; this covers a notice enqueued without.
                let customer_id =
                    message
                        .customer_id
                        .as_deref()
                        .ok_or_else(|| PayloadError::UnknownEvent {
                            id: message.id,
                            event: message.event.clone(),
                        })?;
                let mut lead_ids = self.source.lead_ids_of(customer_id).await?;
                lead_ids.sort();
                return Ok(privacy_erased_body(
                    customer_id,
                    &lead_ids,
                    message.created_at,
                ));
            }
            other => {
                return Err(PayloadError::UnknownEvent {
                    id: message.id,
                    event: other.to_owned(),
                });
            }
        };
        Ok(to_body(&handoff))
    }

    /// The lead's data as it is stored now; `as_of` is the event's time (which bookings
    /// the summary calls upcoming).
    pub async fn lead_data(
        &self,
        lead_id: &str,
        as_of: Timestamp,
    ) -> Result<LeadData, PayloadError> {
        let lead = self
            .source
            .lead(lead_id)
            .await?
            .ok_or_else(|| PayloadError::LeadNotFound(lead_id.to_owned()))?;
        if lead.status == LeadStatus::Erased {
            return Err(PayloadError::LeadErased(lead.id));
        }
        let customer = self
            .source
            .customer_record(&lead.customer_id)
            .await?
            .ok_or_else(|| PayloadError::CustomerNotFound {
                customer: lead.customer_id.clone(),
                lead: lead.id.clone(),
            })?;
        if customer.erased_at.is_some() {
            return Err(PayloadError::LeadErased(lead.id));
        }
        let consents = self.source.consents(&customer.id).await?;
        let (channels, transcript, transcript_truncated) = self.transcript(&lead).await?;
        let bookings: Vec<BookingData> = self
            .source
            .bookings_of(&customer.id)
            .await?
            .iter()
            .map(|booking| self.booking(booking))
            .collect();
        let interest = self.interest(&lead);
        let summary = summary(&interest, &bookings, as_of, &self.directory.time_zone);
        Ok(LeadData {
            lead_id: lead.id.clone(),
            revision: lead.revision,
            status: lead.status.into(),
            merged_into: lead.merged_into.clone(),
            handoff_reason: lead.handoff_reason.clone(),
            customer: customer_data(&customer),
            consent: contact_consent(&consents).map(consent_data),
            interest,
            qualification: QualificationData {
                score: lead.score,
                band: lead.band,
                reasons: lead
                    .reasons
                    .iter()
                    .map(|r| ScoreReason {
                        signal: r.signal,
                        points: r.points,
                        text: r.text.clone(),
                    })
                    .collect(),
            },
            bookings,
            assignment: Assignment {
                branch: lead.branch.as_deref().map(|id| self.directory.branch(id)),
                advisor: lead.advisor.as_deref().map(|id| self.directory.advisor(id)),
                contact_by: lead.contact_by.map(Time::from_millis),
            },
            channel: lead.channel.clone(),
            channels,
            summary,
            transcript,
            transcript_truncated,
        })
    }

    /// The channels used and the newest `max_transcript_messages` lines of all the
    /// customer's conversations, oldest first.
    async fn transcript(
        &self,
        lead: &LeadRecord,
    ) -> Result<(Vec<String>, Vec<TranscriptLine>, bool), PayloadError> {
        let conversations = self.source.conversations_of(&lead.customer_id).await?;
        let mut channels: Vec<String> = Vec::new();
        let mut lines = Vec::new();
        for conversation in &conversations {
            let channel = conversation.channel.as_str();
            if !channels.iter().any(|c| c == channel) {
                channels.push(channel.to_owned());
            }
            for message in self.source.transcript(&conversation.id).await? {
                // "Chat opened" events carry no words.
                if message.direction == Direction::In && message.text.is_empty() {
                    continue;
                }
                let line = TranscriptLine {
                    at: Time::from_millis(message.created_at),
                    channel: channel.to_owned(),
                    direction: match message.direction {
                        Direction::In => MessageDirection::In,
                        Direction::Out => MessageDirection::Out,
                    },
                    text: without_link_tokens(&message.text),
                    buttons: message.buttons.into_iter().map(|b| b.title).collect(),
                };
                lines.push((message.created_at, message.id, line));
            }
        }
        if !channels.contains(&lead.channel) {
            channels.insert(0, lead.channel.clone());
        }
        // Message ids grow across conversations, so they order messages of one moment.
        lines.sort_by_key(|(at, id, _)| (*at, *id));
        let truncated = lines.len() > self.max_transcript_messages;
        let skip = lines.len().saturating_sub(self.max_transcript_messages);
        let transcript = lines
            .into_iter()
            .skip(skip)
            .map(|(_, _, line)| line)
            .collect();
        Ok((channels, transcript, truncated))
    }

    fn interest(&self, lead: &LeadRecord) -> InterestData {
        let interest = &lead.interest;
        InterestData {
            model: interest.model.as_deref().map(|id| self.directory.model(id)),
            trim: interest.trim.clone(),
            budget_cop: interest.budget_cop,
            timeframe: interest.timeframe,
            financing: interest.financing,
            trade_in: interest.trade_in.clone(),
            branch: interest
                .branch
                .as_deref()
                .map(|id| self.directory.branch(id)),
        }
    }

    fn booking(&self, booking: &Booking) -> BookingData {
        BookingData {
            code: booking.code.as_str().to_owned(),
            kind: match booking.kind {
                BookingKind::TestDrive => BookingKindData::TestDrive,
                BookingKind::Service => BookingKindData::Service,
            },
            status: match booking.status {
                BookingStatus::Confirmed => BookingStatusData::Confirmed,
                BookingStatus::Cancelled => BookingStatusData::Cancelled,
            },
            start: Time(booking.slot.start),
            end: Time(booking.slot.end),
            branch: self.directory.branch(&booking.slot.unit.branch),
            model: booking.model.as_deref().map(|id| self.directory.model(id)),
            service_type: booking
                .service_type
                .as_deref()
                .map(|id| self.directory.service_type(id)),
        }
    }
}

fn customer_data(customer: &CustomerRecord) -> Customer {
    let profile = &customer.profile;
    Customer {
        id: customer.id.clone(),
        name: profile.name.clone(),
        phone: profile.phone.as_ref().map(|p| p.as_str().to_owned()),
        phone_verified: profile.phone_verified,
        email: profile.email.as_ref().map(|e| e.as_str().to_owned()),
        national_id: profile.national_id.as_ref().map(|n| n.as_str().to_owned()),
        city: profile.city.clone(),
    }
}

/// The standing contact consent, newest first; else the newest revoked one (the CRM must
/// see that it was withdrawn).
fn contact_consent(consents: &[ConsentRecord]) -> Option<&ConsentRecord> {
    let contact = || consents.iter().filter(|c| c.purpose == CONTACT_PURPOSE);
    contact()
        .filter(|c| c.revoked_at.is_none())
        .max_by_key(|c| c.granted_at)
        .or_else(|| contact().max_by_key(|c| c.granted_at))
}

fn consent_data(consent: &ConsentRecord) -> Consent {
    Consent {
        purpose: consent.purpose.clone(),
        granted_at: Time::from_millis(consent.granted_at),
        text: consent.text.clone(),
        version: consent.version.clone(),
        channel: consent.channel.clone(),
        revoked_at: consent.revoked_at.map(Time::from_millis),
    }
}

// ---------------------------------------------------------------------------------------
// The Spanish summary.
// ---------------------------------------------------------------------------------------

/// A few sentences in Spanish an advisor reads before calling: model, upcoming bookings,
/// financing, trade-in, budget and timeframe, each only when known.
pub fn summary(
    interest: &InterestData,
    bookings: &[BookingData],
    as_of: Timestamp,
    time_zone: &TimeZone,
) -> String {
    let mut sentences: Vec<String> = Vec::new();
    if let Some(model) = &interest.model {
        let mut name = model_name(model);
        if let Some(trim) = interest.trim.as_deref().filter(|t| !t.trim().is_empty()) {
            name = format!("{name} {trim}");
        }
        sentences.push(format!("Interesado en {name}"));
    }
    let upcoming = bookings
        .iter()
        .filter(|b| b.status == BookingStatusData::Confirmed && b.start.0 >= as_of)
        .take(SUMMARY_BOOKINGS);
    for booking in upcoming {
        sentences.push(booking_sentence(booking, time_zone));
    }
    match interest.financing {
        Some(true) => sentences.push("Quiere financiación".into()),
        Some(false) => sentences.push("Pagaría de contado".into()),
        None => {}
    }
    match interest.trade_in.as_deref().map(str::trim) {
        Some("") => sentences.push("Tiene un carro para dejar en parte de pago".into()),
        Some(car) => sentences.push(format!("Deja en parte de pago: {car}")),
        None => {}
    }
    if let Some(budget) = interest.budget_cop {
        sentences.push(format!("Presupuesto: {}", pesos(budget)));
    }
    if let Some(timeframe) = interest.timeframe {
        sentences.push(
            match timeframe {
                Timeframe::Within30Days => "Quiere comprar en los próximos 30 días",
                Timeframe::Within6Months => "Compraría en uno a seis meses",
                Timeframe::Later => "Compraría en más de seis meses",
            }
            .into(),
        );
    }
    if sentences.is_empty() {
        return "Sin datos de interés todavía.".into();
    }
    let mut text = sentences.join(". ");
    text.push('.');
    text
}

fn model_name(model: &ModelRef) -> String {
    match (&model.brand, &model.name) {
        (Some(brand), Some(name)) if !name.starts_with(brand.as_str()) => {
            format!("{brand} {name}")
        }
        (_, Some(name)) => name.clone(),
        (_, None) => model.id.clone(),
    }
}

fn booking_sentence(booking: &BookingData, time_zone: &TimeZone) -> String {
    let local = booking.start.0.to_zoned(time_zone.clone());
    let when = local.strftime("%d/%m/%Y a las %H:%M");
    let branch = booking.branch.name.as_deref().unwrap_or(&booking.branch.id);
    let what = match booking.kind {
        BookingKindData::TestDrive => match &booking.model {
            Some(model) => format!("Prueba de manejo del {}", model_name(model)),
            None => "Prueba de manejo".to_owned(),
        },
        BookingKindData::Service => match booking.service_type.as_ref() {
            Some(service) => format!(
                "Cita de taller ({})",
                service.name.as_deref().unwrap_or(&service.id)
            ),
            None => "Cita de taller".to_owned(),
        },
    };
    format!("{what} el {when} en {branch} ({})", booking.code)
}

/// `85000000` → `$85.000.000`, the way Colombians write pesos.
fn pesos(amount: u64) -> String {
    let digits = amount.to_string();
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            grouped.push('.');
        }
        grouped.push(digit);
    }
    format!("${grouped}")
}

/// The bot's messages carry private links (`…/bookings/PM-7K3QX.ics?token=…`) that let
/// anyone holding them read the booking; the CRM gets the link without its token.
fn without_link_tokens(text: &str) -> String {
    static TOKEN: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"([?&]token=)[^\s&#]+").expect("a valid pattern")
    });
    TOKEN.replace_all(text, "${1}…").into_owned()
}

#[cfg(test)]
pub(crate) mod test_support {
    //! A store holding one customer with one handed-off lead, for tests of the payload
    //! and the worker.

    use super::*;

    use async_trait::async_trait;

    use crate::booking::{ResourceUnit, Slot};
    use crate::engine::{Button, ChannelKind, Language};
    use crate::leads::{Interest, PhoneE164, Profile, Reason};
    use crate::store::OutboxStatus;

    pub(crate) fn directory() -> Directory {
        Directory {
            models: HashMap::from([("cx_30".into(), ("CX-30".into(), "Mazda".into()))]),
            branches: HashMap::from([("norte".into(), "Sede Norte".into())]),
            advisors: HashMap::from([(
                "ana".into(),
                AdvisorContact {
                    name: "Ana Gómez".into(),
                    email: Some("ana@autosdelvalle.co".into()),
                    phone: Some("+573001112233".into()),
                },
            )]),
            service_types: HashMap::from([("oil".into(), "Cambio de aceite".into())]),
            time_zone: TimeZone::get("America/Bogota").unwrap(),
        }
    }

    pub(crate) fn ts(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    // --- Fakes of the store, holding one customer with one lead. ---

    pub(crate) struct Fake {
        pub lead: LeadRecord,
        pub customer: CustomerRecord,
        pub consents: Vec<ConsentRecord>,
        pub conversations: Vec<(ConversationSummary, Vec<MessageRecord>)>,
        pub bookings: Vec<Booking>,
    }

    #[async_trait]
    impl HandoffSource for Fake {
        async fn lead(&self, id: &str) -> Result<Option<LeadRecord>, StoreError> {
            Ok((id == self.lead.id).then(|| self.lead.clone()))
        }
        async fn lead_ids_of(&self, customer_id: &str) -> Result<Vec<String>, StoreError> {
            Ok(if customer_id == self.lead.customer_id {
                vec![self.lead.id.clone()]
            } else {
                vec![]
            })
        }
        async fn customer_record(&self, id: &str) -> Result<Option<CustomerRecord>, StoreError> {
            Ok((id == self.customer.id).then(|| self.customer.clone()))
        }
        async fn consents(&self, _: &str) -> Result<Vec<ConsentRecord>, StoreError> {
            Ok(self.consents.clone())
        }
        async fn conversations_of(&self, _: &str) -> Result<Vec<ConversationSummary>, StoreError> {
            Ok(self.conversations.iter().map(|(c, _)| c.clone()).collect())
        }
        async fn transcript(&self, id: &str) -> Result<Vec<MessageRecord>, StoreError> {
            Ok(self
                .conversations
                .iter()
                .find(|(c, _)| c.id == id)
                .map(|(_, messages)| messages.clone())
                .unwrap_or_default())
        }
        async fn bookings_of(&self, customer_id: &str) -> Result<Vec<Booking>, StoreError> {
            Ok(self
                .bookings
                .iter()
                .filter(|b| b.customer_id == customer_id)
                .cloned()
                .collect())
        }
    }

    pub(crate) const T0: i64 = 1_718_463_600_000; // 2024-06-15T15:00:00Z

    pub(crate) fn message(id: i64, direction: Direction, text: &str, at: i64) -> MessageRecord {
        MessageRecord {
            id,
            direction,
            kind: "text".into(),
            text: text.into(),
            payload: None,
            buttons: vec![],
            citations: vec![],
            reply_to: None,
            created_at: at,
            processed_at: None,
            delivered_at: None,
        }
    }

    pub(crate) fn conversation(id: &str, channel: ChannelKind, at: i64) -> ConversationSummary {
        ConversationSummary {
            id: id.into(),
            customer_id: "c1".into(),
            channel,
            started_at: at,
            last_activity_at: at,
            message_count: 0,
        }
    }

    pub(crate) fn fake() -> Fake {
        let mut offer = message(2, Direction::Out, "¿Qué modelo te interesa?", T0 + 1_000);
        offer.buttons = vec![
            Button::new("CX-30", "cx_30"),
            Button::new("Tracker", "tracker"),
        ];
        Fake {
            lead: LeadRecord {
                id: "lead1".into(),
                customer_id: "c1".into(),
                status: LeadStatus::HandedOff,
                interest: Interest {
                    model: Some("cx_30".into()),
                    financing: Some(true),
                    branch: Some("norte".into()),
                    ..Interest::default()
                },
                signals: [Signal::BookedTestDrive].into_iter().collect(),
                score: 70,
                band: Band::Hot,
                reasons: vec![Reason {
                    signal: Signal::BookedTestDrive,
                    points: 40,
                    text: Signal::BookedTestDrive.describe().into(),
                }],
                branch: Some("norte".into()),
                advisor: Some("ana".into()),
                channel: "web".into(),
                conversation_id: Some("conv-web".into()),
                handed_off_at: Some(T0),
                handoff_reason: Some("booking".into()),
                contact_by: Some(T0 + 3_600_000),
                merged_into: None,
                revision: 3,
                created_at: T0,
                updated_at: T0,
            },
            customer: CustomerRecord {
                id: "c1".into(),
                profile: Profile {
                    name: Some("Juan Pérez".into()),
                    phone: Some(PhoneE164::try_from("+573001234567".to_owned()).unwrap()),
                    phone_verified: true,
                    ..Profile::default()
                },
                language: None,
                opted_out_at: None,
                merged_into: None,
                erased_at: None,
                created_at: T0,
                updated_at: T0,
            },
            consents: vec![
                ConsentRecord {
                    purpose: "marketing".into(),
                    channel: "web".into(),
                    text: "Promociones".into(),
                    version: None,
                    granted_at: T0 + 5,
                    revoked_at: None,
                },
                ConsentRecord {
                    purpose: "contact".into(),
                    channel: "web".into(),
                    text: "¿Autorizas que te contactemos?".into(),
                    version: Some("v2".into()),
                    granted_at: T0,
                    revoked_at: None,
                },
            ],
            conversations: vec![
                (
                    conversation("conv-web", ChannelKind::Web, T0),
                    vec![message(1, Direction::In, "hola", T0), offer],
                ),
                (
                    conversation("conv-tg", ChannelKind::Telegram, T0 + 500),
                    vec![message(3, Direction::In, "sigo aquí", T0 + 2_000)],
                ),
            ],
            bookings: vec![Booking {
                id: "b1".into(),
                code: crate::booking::BookingCode::parse("PM-7K3QX").unwrap(),
                kind: BookingKind::TestDrive,
                status: BookingStatus::Confirmed,
                customer_id: "c1".into(),
                conversation_id: "conv-web".into(),
                channel: ChannelKind::Web,
                language: Language::Es,
                slot: Slot {
                    unit: ResourceUnit {
                        branch: "norte".into(),
                        resource: "demo-cx30".into(),
                        unit: 0,
                    },
                    start: Timestamp::from_millisecond(T0 + 86_400_000).unwrap(),
                    end: Timestamp::from_millisecond(T0 + 90_000_000).unwrap(),
                },
                service_type: None,
                model: Some("cx_30".into()),
                plate: None,
                year: None,
                mileage_km: None,
                name: "Juan Pérez".into(),
                phone: Some("+573001234567".into()),
                ics_token: "secret".into(),
                created_at: Timestamp::from_millisecond(T0).unwrap(),
                updated_at: Timestamp::from_millisecond(T0).unwrap(),
            }],
        }
    }

    pub(crate) fn builder(fake: Fake, max_transcript_messages: usize) -> PayloadBuilder {
        PayloadBuilder::new(Arc::new(fake), directory(), max_transcript_messages)
    }

    pub(crate) fn record(event: &str, lead_id: Option<&str>) -> OutboxRecord {
        OutboxRecord {
            id: 7,
            webhook_id: "msg_1".into(),
            event: event.into(),
            lead_id: lead_id.map(String::from),
            customer_id: Some("c1".into()),
            body: None,
            status: OutboxStatus::Pending,
            attempts: 0,
            next_attempt_at: T0,
            last_status: None,
            last_error: None,
            created_at: T0 + 3_000,
            delivered_at: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::*;
    use super::*;

    const SCHEMA_FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/handoff.schema.json");

    #[test]
    fn the_committed_schema_is_current() {
        let mut current = serde_json::to_string_pretty(&schema()).unwrap();
        current.push('\n');
        if std::env::var_os("UPDATE_SCHEMA").is_some() {
            std::fs::write(SCHEMA_FILE, &current).unwrap();
            return;
        }
        let committed = std::fs::read_to_string(SCHEMA_FILE).unwrap_or_default();
        assert!(
            committed == current,
            "docs/handoff.schema.json is not the schema of crm::payload::Handoff; if the change \
             is meant, regenerate it with `UPDATE_SCHEMA=1 cargo test --lib crm::payload` and \
             tell CRM integrators what changed"
        );
    }

    #[test]
    fn the_schema_documents_every_property() {
        fn walk(value: &serde_json::Value, path: &str, missing: &mut Vec<String>) {
            let Some(object) = value.as_object() else {
                return;
            };
            if let Some(properties) = object.get("properties").and_then(|p| p.as_object()) {
                for (name, property) in properties {
                    let described = property.get("description").is_some();
                    if !described {
                        missing.push(format!("{path}.{name}"));
                    }
                }
            }
            for (key, child) in object {
                match child {
                    serde_json::Value::Object(_) => walk(child, &format!("{path}/{key}"), missing),
                    serde_json::Value::Array(items) => {
                        for (i, item) in items.iter().enumerate() {
                            walk(item, &format!("{path}/{key}[{i}]"), missing);
                        }
                    }
                    _ => {}
                }
            }
        }
        let mut missing = Vec::new();
        walk(&schema(), "", &mut missing);
        // Plain names whose meaning the key says in full.
        // The tag's value is described by its variant.
        missing.retain(|path| !path.ends_with(".type"));
        assert!(missing.is_empty(), "undocumented properties: {missing:?}");
    }

    #[test]
    fn privacy_erased_uses_the_standard_envelope() {
        let body = privacy_erased_body("c1", &["l1".into(), "l2".into()], 1_718_463_600_000);
        assert_eq!(
            body,
            r#"{"type":"privacy.erased","timestamp":"2024-06-15T15:00:00Z","data":{"customer_id":"c1","lead_ids":["l1","l2"],"erased_at":"2024-06-15T15:00:00Z"}}"#
        );
        let back: Handoff = serde_json::from_str(&body).unwrap();
        assert!(matches!(back, Handoff::PrivacyErased { .. }));
    }

    #[test]
    fn pesos_are_grouped_by_thousands() {
        assert_eq!(pesos(0), "$0");
        assert_eq!(pesos(999), "$999");
        assert_eq!(pesos(1000), "$1.000");
        assert_eq!(pesos(85_000_000), "$85.000.000");
        assert_eq!(pesos(123_456_789_012), "$123.456.789.012");
    }

    #[test]
    fn the_summary_says_what_an_advisor_needs_in_spanish() {
        let interest = InterestData {
            model: Some(directory().model("cx_30")),
            trim: Some("Grand Touring".into()),
            budget_cop: Some(120_000_000),
            timeframe: Some(Timeframe::Within30Days),
            financing: Some(true),
            trade_in: Some("Chevrolet Spark 2015".into()),
            branch: None,
        };
        let booking = BookingData {
            code: "PM-7K3QX".into(),
            kind: BookingKindData::TestDrive,
            status: BookingStatusData::Confirmed,
            start: Time(ts("2024-06-15T15:00:00Z")),
            end: Time(ts("2024-06-15T16:00:00Z")),
            branch: directory().branch("norte"),
            model: Some(directory().model("cx_30")),
            service_type: None,
        };
        let cancelled = BookingData {
            status: BookingStatusData::Cancelled,
            code: "PM-22222".into(),
            ..booking.clone()
        };
        let text = summary(
            &interest,
            &[booking, cancelled],
            ts("2024-06-14T12:00:00Z"),
            &directory().time_zone,
        );
        assert_eq!(
            text,
            "Interesado en Mazda CX-30 Grand Touring. \
             Prueba de manejo del Mazda CX-30 el 15/06/2024 a las 10:00 en Sede Norte (PM-7K3QX). \
             Quiere financiación. Deja en parte de pago: Chevrolet Spark 2015. \
             Presupuesto: $120.000.000. Quiere comprar en los próximos 30 días."
        );
    }

    #[test]
    fn a_summary_without_data_says_so_and_past_bookings_are_left_out() {
        let past = BookingData {
            code: "TL-9F2HD".into(),
            kind: BookingKindData::Service,
            status: BookingStatusData::Confirmed,
            start: Time(ts("2024-06-01T15:00:00Z")),
            end: Time(ts("2024-06-01T16:00:00Z")),
            branch: directory().branch("norte"),
            model: None,
            service_type: Some(directory().service_type("oil")),
        };
        let now = ts("2024-06-14T12:00:00Z");
        let tz = TimeZone::UTC;
        assert_eq!(
            summary(
                &InterestData::default(),
                std::slice::from_ref(&past),
                now,
                &tz
            ),
            "Sin datos de interés todavía."
        );
        let earlier = ts("2024-05-01T00:00:00Z");
        let interest = InterestData {
            trade_in: Some(String::new()),
            financing: Some(false),
            ..InterestData::default()
        };
        assert_eq!(
            summary(&interest, &[past], earlier, &tz),
            "Cita de taller (Cambio de aceite) el 01/06/2024 a las 15:00 en Sede Norte (TL-9F2HD). \
             Pagaría de contado. Tiene un carro para dejar en parte de pago."
        );
    }

    #[tokio::test]
    async fn a_lead_body_carries_everything_the_crm_needs() {
        let body = builder(fake(), 500)
            .body(&record(LEAD_CREATED, Some("lead1")))
            .await
            .unwrap();
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(json["type"], "lead.created");
        assert_eq!(json["timestamp"], "2024-06-15T15:00:03Z");
        let data = &json["data"];
        assert_eq!(data["lead_id"], "lead1");
        assert_eq!(data["revision"], 3);
        assert_eq!(data["status"], "handed_off");
        assert_eq!(data["handoff_reason"], "booking");
        assert_eq!(data["customer"]["name"], "Juan Pérez");
        assert_eq!(data["customer"]["phone"], "+573001234567");
        assert_eq!(data["customer"]["phone_verified"], true);
        assert_eq!(data["customer"]["email"], serde_json::Value::Null);
        assert_eq!(data["consent"]["purpose"], "contact");
        assert_eq!(data["consent"]["version"], "v2");
        assert_eq!(data["consent"]["granted_at"], "2024-06-15T15:00:00Z");
        assert_eq!(
            data["interest"]["model"],
            serde_json::json!({"id": "cx_30", "name": "CX-30", "brand": "Mazda"})
        );
        assert_eq!(data["interest"]["branch"]["name"], "Sede Norte");
        assert_eq!(data["qualification"]["score"], 70);
        assert_eq!(data["qualification"]["band"], "hot");
        assert_eq!(
            data["qualification"]["reasons"][0]["signal"],
            "booked_test_drive"
        );
        assert_eq!(data["bookings"][0]["code"], "PM-7K3QX");
        assert_eq!(data["bookings"][0]["kind"], "test_drive");
        assert_eq!(data["bookings"][0]["start"], "2024-06-16T15:00:00Z");
        assert_eq!(data["bookings"][0]["branch"]["name"], "Sede Norte");
        assert_eq!(
            data["assignment"]["advisor"]["email"],
            "ana@autosdelvalle.co"
        );
        assert_eq!(data["assignment"]["contact_by"], "2024-06-15T16:00:00Z");
        assert_eq!(data["channel"], "web");
        assert_eq!(data["channels"], serde_json::json!(["web", "telegram"]));
        assert!(
            data["summary"]
                .as_str()
                .unwrap()
                .starts_with("Interesado en Mazda CX-30. Prueba de manejo del Mazda CX-30 el 16/06/2024 a las 10:00"),
            "{}",
            data["summary"]
        );
        let transcript = data["transcript"].as_array().unwrap();
        let texts: Vec<&str> = transcript
            .iter()
            .map(|l| l["text"].as_str().unwrap())
            .collect();
        assert_eq!(texts, ["hola", "¿Qué modelo te interesa?", "sigo aquí"]);
        assert_eq!(transcript[1]["direction"], "out");
        assert_eq!(
            transcript[1]["buttons"],
            serde_json::json!(["CX-30", "Tracker"])
        );
        assert_eq!(transcript[2]["channel"], "telegram");
        assert!(transcript[0].get("buttons").is_none());
        assert_eq!(data["transcript_truncated"], false);
        assert!(!body.contains("secret"), "the .ics token never leaves");

        let typed: Handoff = serde_json::from_str(&body).unwrap();
        assert!(matches!(typed, Handoff::LeadCreated { .. }));
    }

    #[tokio::test]
    async fn a_long_transcript_keeps_the_newest_messages() {
        let body = builder(fake(), 2)
            .body(&record(LEAD_UPDATED, Some("lead1")))
            .await
            .unwrap();
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(json["type"], "lead.updated");
        let texts: Vec<&str> = json["data"]["transcript"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["text"].as_str().unwrap())
            .collect();
        assert_eq!(texts, ["¿Qué modelo te interesa?", "sigo aquí"]);
        assert_eq!(json["data"]["transcript_truncated"], true);
    }

    #[tokio::test]
    async fn a_revoked_consent_is_sent_as_revoked() {
        let mut fake = fake();
        fake.consents[1].revoked_at = Some(T0 + 9_000);
        let data = builder(fake, 10)
            .lead_data("lead1", ts("2024-06-15T15:00:00Z"))
            .await
            .unwrap();
        let consent = data.consent.unwrap();
        assert_eq!(consent.purpose, "contact");
        assert_eq!(consent.revoked_at, Some(Time::from_millis(T0 + 9_000)));
    }

    #[tokio::test]
    async fn bodies_that_cannot_be_built_say_why() {
        let fake = || fake();
        let err = builder(fake(), 10)
            .body(&record(LEAD_CREATED, Some("nope")))
            .await
            .unwrap_err();
        assert!(matches!(err, PayloadError::LeadNotFound(_)), "{err}");
        assert!(!err.is_transient());

        let err = builder(fake(), 10)
            .body(&record(LEAD_CREATED, None))
            .await
            .unwrap_err();
        assert!(matches!(err, PayloadError::NoLead { .. }), "{err}");

        let err = builder(fake(), 10)
            .body(&record("lead.exploded", Some("lead1")))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("lead.exploded"), "{err}");

        let mut erased = fake();
        erased.lead.status = LeadStatus::Erased;
        let err = builder(erased, 10)
            .body(&record(LEAD_UPDATED, Some("lead1")))
            .await
            .unwrap_err();
        assert!(matches!(err, PayloadError::LeadErased(_)), "{err}");
    }

    #[tokio::test]
    async fn a_privacy_notice_without_body_is_rebuilt() {
        let body = builder(fake(), 10)
            .body(&record(PRIVACY_ERASED, None))
            .await
            .unwrap();
        assert_eq!(
            body,
            privacy_erased_body("c1", &["lead1".into()], T0 + 3_000)
        );
    }
}

#[cfg(test)]
mod link_tests {
    use super::without_link_tokens;

    #[test]
    fn booking_links_reach_the_crm_without_their_token() {
        assert_eq!(
            without_link_tokens(
                "Agrégala: https://dealer.co/api/v1/bookings/PM-7K3QX.ics?token=s3cr3t-x_y and more"
            ),
            "Agrégala: https://dealer.co/api/v1/bookings/PM-7K3QX.ics?token=… and more"
        );
        assert_eq!(without_link_tokens("sin enlaces"), "sin enlaces");
    }
}
