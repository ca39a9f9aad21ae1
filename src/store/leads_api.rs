//! What the leads desk, the CRM outbox worker and the privacy commands need from the
//! store. The SQL lives in `leads.rs` and `outbox.rs`.

use async_trait::async_trait;

use super::StoreError;
use crate::leads::{Band, Interest, Profile, Reason, Signals};

/// A customer record with its profile.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CustomerRecord {
    pub id: String,
    pub profile: Profile,
    pub language: Option<String>,
    pub opted_out_at: Option<i64>,
    /// Set when this record was found to be the same person as another one.
    pub merged_into: Option<String>,
    pub erased_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Where a lead stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeadStatus {
    /// Collecting: not handed off yet.
    Open,
    /// With the CRM; new information goes out as `lead.updated`.
    HandedOff,
    /// Folded into another lead of the same person.
    Merged,
    /// The customer's personal data was erased.
    Erased,
}

impl LeadStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            LeadStatus::Open => "open",
            LeadStatus::HandedOff => "handed_off",
            LeadStatus::Merged => "merged",
            LeadStatus::Erased => "erased",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "open" => Some(LeadStatus::Open),
            "handed_off" => Some(LeadStatus::HandedOff),
            "merged" => Some(LeadStatus::Merged),
            "erased" => Some(LeadStatus::Erased),
            _ => None,
        }
    }
}

/// A lead as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LeadRecord {
    pub id: String,
    pub customer_id: String,
    pub status: LeadStatus,
    pub interest: Interest,
    pub signals: Signals,
    pub score: u8,
    pub band: Band,
    pub reasons: Vec<Reason>,
    pub branch: Option<String>,
    pub advisor: Option<String>,
    /// The channel the lead started on.
    pub channel: String,
    /// The conversation that last changed it.
    pub conversation_id: Option<String>,
    pub handed_off_at: Option<i64>,
    /// Why it was handed off: `booking`, `advisor` or `score`.
    pub handoff_reason: Option<String>,
    /// When the customer was told an advisor would contact them by.
    pub contact_by: Option<i64>,
    pub merged_into: Option<String>,
    /// Grows by one on every stored change.
    pub revision: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A consent as stored: the evidence of what the customer agreed to.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ConsentRecord {
    pub purpose: String,
    pub channel: String,
    pub text: String,
    pub version: Option<String>,
    pub granted_at: i64,
    pub revoked_at: Option<i64>,
}

/// Which leads to list.
#[derive(Debug, Clone, Default)]
pub struct LeadFilter {
    pub status: Option<LeadStatus>,
    pub band: Option<Band>,
    pub customer_id: Option<String>,
    /// Updated at or after (Unix milliseconds).
    pub since: Option<i64>,
    pub limit: Option<i64>,
}

/// How to find a customer for a privacy request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CustomerKey {
    Phone(crate::leads::PhoneE164),
    Email(crate::leads::Email),
    NationalId(crate::leads::NationalId),
    /// A channel identity, `web:…`, `telegram:…`, `viber:…`.
    Channel {
        channel: String,
        external_id: String,
    },
    Id(String),
}

/// A CRM event waiting in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOutboxMessage {
    /// `lead.created`, `lead.updated`, `privacy.erased`.
    pub event: String,
    pub lead_id: Option<String>,
    pub customer_id: Option<String>,
    /// The body, when it is known now; `None` builds it at the first attempt from the
    /// lead as it is then (so it carries the whole transcript of the turn that caused it).
    pub body: Option<String>,
    /// A second message with the same key is not written (`lead.created:<lead>`).
    pub dedupe_key: Option<String>,
    /// When a pending `lead.updated` of the same lead has not been tried yet, this one is
    /// folded into it: its body is built at the attempt, with the latest data anyway.
    pub coalesce: bool,
    /// Not tried before this time (Unix milliseconds), unless the worker is told about it.
    pub not_before: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutboxStatus {
    Pending,
    Delivered,
    /// Gave up after the last retry; `showroom outbox retry` sends it again.
    Dead,
}

impl OutboxStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxStatus::Pending => "pending",
            OutboxStatus::Delivered => "delivered",
            OutboxStatus::Dead => "dead",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(OutboxStatus::Pending),
            "delivered" => Some(OutboxStatus::Delivered),
            "dead" => Some(OutboxStatus::Dead),
            _ => None,
        }
    }
}

/// An outbox message as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OutboxRecord {
    pub id: i64,
    /// The Standard Webhooks `webhook-id`, the same on every attempt.
    pub webhook_id: String,
    pub event: String,
    pub lead_id: Option<String>,
    pub customer_id: Option<String>,
    pub body: Option<String>,
    pub status: OutboxStatus,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub delivered_at: Option<i64>,
}

/// Which outbox messages to list.
#[derive(Debug, Clone, Default)]
pub struct OutboxFilter {
    pub status: Option<OutboxStatus>,
    pub lead_id: Option<String>,
    pub customer_id: Option<String>,
    pub limit: Option<i64>,
}

/// Which messages `retry` or `replay` puts back in line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutboxSelection {
    Ids(Vec<i64>),
    /// Every dead message (retry) or every delivered one since a time (replay).
    All {
        since: Option<i64>,
    },
}

/// Counts per status, for metrics and `outbox list`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct OutboxCounts {
    pub pending: i64,
    pub delivered: i64,
    pub dead: i64,
}

/// What a privacy erasure removed.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Erasure {
    pub customers: Vec<String>,
    pub leads: Vec<String>,
    pub messages: u64,
    pub bookings: u64,
}

/// One lead change, under a lock on the customer, committed with the outbox messages it
/// causes: either both are stored or neither.
#[async_trait]
pub trait LeadTx: Send {
    async fn customer(&mut self) -> Result<CustomerRecord, StoreError>;

    /// Other live customer records (not merged, not erased) with the same phone, email or
    /// national id as given.
    async fn duplicates(&mut self, profile: &Profile) -> Result<Vec<CustomerRecord>, StoreError>;

    /// Merges `other` and this customer, who are the same person: the older record
    /// survives (the CRM may know its id) and gets everything of the other (channel
    /// identities, conversations, consents, bookings, outreach, leads, profile fields it
    /// lacks); from then on this transaction works on the survivor. Returns the leads
    /// that were active on the record that went away, now stored as merged: the caller
    /// folds them into one.
    async fn absorb(&mut self, other: &str) -> Result<Vec<LeadRecord>, StoreError>;

    /// This customer's active lead (open or handed off), newest first if several.
    async fn active_leads(&mut self) -> Result<Vec<LeadRecord>, StoreError>;

    async fn save_profile(&mut self, profile: &Profile) -> Result<(), StoreError>;

    /// Inserts or updates the lead (by id).
    async fn save_lead(&mut self, lead: &LeadRecord) -> Result<(), StoreError>;

    /// Whether the customer has a standing consent for `purpose`.
    async fn has_consent(&mut self, purpose: &str) -> Result<bool, StoreError>;

    /// When the customer first wrote to the bot (Unix milliseconds), on any channel.
    async fn first_message_at(&mut self) -> Result<Option<i64>, StoreError>;

    /// Among `candidates`, the advisor who got a lead least recently (never first), and
    /// records the assignment.
    async fn assign_advisor(
        &mut self,
        candidates: &[String],
        now: i64,
    ) -> Result<Option<String>, StoreError>;

    /// Writes an outbox message; `None` when its dedupe key exists or it was coalesced.
    async fn enqueue(&mut self, message: &NewOutboxMessage) -> Result<Option<i64>, StoreError>;

    async fn commit(self: Box<Self>) -> Result<(), StoreError>;
}

/// Leads, customers' profiles and privacy requests.
#[async_trait]
pub trait LeadStore: Send + Sync {
    /// Starts a lead change for `customer_id`. On PostgreSQL it holds advisory locks on
    /// the customer and on each of `keys` (normalized phone, email, id) until commit, so
    /// two instances never create two leads for one person.
    async fn begin_lead(
        &self,
        customer_id: &str,
        keys: &[String],
    ) -> Result<Box<dyn LeadTx>, StoreError>;

    async fn lead(&self, id: &str) -> Result<Option<LeadRecord>, StoreError>;

    /// Leads by latest change first.
    async fn leads(&self, filter: &LeadFilter) -> Result<Vec<LeadRecord>, StoreError>;

    async fn customer_record(&self, id: &str) -> Result<Option<CustomerRecord>, StoreError>;

    /// Customers matching a key (merged records resolve to the one they merged into).
    async fn find_customers(&self, key: &CustomerKey) -> Result<Vec<String>, StoreError>;

    async fn consents(&self, customer_id: &str) -> Result<Vec<ConsentRecord>, StoreError>;

    /// The customer's identities on the channels: (`web`, session id), (`telegram`, chat
    /// id)…
    async fn channel_identities(
        &self,
        customer_id: &str,
    ) -> Result<Vec<(String, String)>, StoreError>;

    /// The customer's conversations (all channels), oldest first.
    async fn conversations_of(
        &self,
        customer_id: &str,
    ) -> Result<Vec<super::ConversationSummary>, StoreError>;

    /// Removes the customer's personal data (profile fields, message texts, booking
    /// names and phones, consent texts stay as evidence without the person), closes their
    /// leads as erased, keeps anonymous counts, and writes `notice` to the outbox, all in
    /// one transaction.
    async fn erase_customer(
        &self,
        customer_id: &str,
        at: i64,
        notice: &NewOutboxMessage,
    ) -> Result<Erasure, StoreError>;
}

/// The CRM outbox as the delivery worker sees it, claimed by workers on any number of
/// instances: a claimed message is leased to one worker until it reports back or the
/// lease ends.
#[async_trait]
pub trait OutboxDelivery: Send + Sync {
    /// Claims up to `limit` pending messages due at `now` (`FOR UPDATE SKIP LOCKED` on
    /// PostgreSQL) for `worker` until `lease_until`.
    async fn claim_due(
        &self,
        worker: &str,
        now: i64,
        lease_until: i64,
        limit: i64,
    ) -> Result<Vec<OutboxRecord>, StoreError>;

    /// Claims the given pending messages now, whatever their `next_attempt_at` (the
    /// instance that wrote them delivers at once).
    async fn claim_ids(
        &self,
        worker: &str,
        ids: &[i64],
        now: i64,
        lease_until: i64,
    ) -> Result<Vec<OutboxRecord>, StoreError>;

    /// Fixes the body of a claimed message before its first attempt.
    async fn set_body(&self, id: i64, worker: &str, body: &str) -> Result<(), StoreError>;

    /// The attempt got a 2xx. False when the lease was lost meanwhile.
    async fn record_delivered(
        &self,
        id: i64,
        worker: &str,
        status: u16,
        at: i64,
    ) -> Result<bool, StoreError>;

    /// The attempt failed; try again at `next_attempt_at`.
    async fn schedule_retry(
        &self,
        id: i64,
        worker: &str,
        next_attempt_at: i64,
        status: Option<u16>,
        error: &str,
    ) -> Result<(), StoreError>;

    /// The last attempt failed: park it as a dead letter.
    async fn mark_dead(
        &self,
        id: i64,
        worker: &str,
        status: Option<u16>,
        error: &str,
    ) -> Result<(), StoreError>;

    /// Gives a claimed message back untried (the endpoint is disabled, shutting down).
    async fn release(&self, id: i64, worker: &str, next_attempt_at: i64) -> Result<(), StoreError>;

    /// When the CRM endpoint answered 410 Gone (`None`: enabled).
    async fn endpoint_disabled_at(&self, url: &str) -> Result<Option<i64>, StoreError>;

    /// Disables (`Some(time)`) or re-enables (`None`) an endpoint.
    async fn set_endpoint_disabled(&self, url: &str, at: Option<i64>) -> Result<(), StoreError>;
}

/// The CRM outbox as operators see it (`showroom outbox`, the admin API): besides what
/// the worker does, listing, counting and putting messages back in line.
#[async_trait]
pub trait OutboxStore: OutboxDelivery {
    async fn outbox_message(&self, id: i64) -> Result<Option<OutboxRecord>, StoreError>;

    /// Newest first.
    async fn list_outbox(&self, filter: &OutboxFilter) -> Result<Vec<OutboxRecord>, StoreError>;

    async fn outbox_counts(&self) -> Result<OutboxCounts, StoreError>;

    /// Puts dead (or waiting, unclaimed) messages back in line now, with their attempts
    /// reset.
    async fn retry_outbox(&self, which: &OutboxSelection, now: i64) -> Result<u64, StoreError>;

    /// Sends delivered messages again, with the same `webhook-id` and body.
    async fn replay_outbox(&self, which: &OutboxSelection, now: i64) -> Result<u64, StoreError>;
}
