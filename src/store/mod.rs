//! Persistence behind one interface, on SQLite (the embedded default) or PostgreSQL.
//!
//! Both backends run the same SQL through sqlx's `Any` driver: the schema keeps to
//! portable types (TEXT, 64-bit integers for ids and Unix-millisecond times) and `$n`
//! placeholders, which SQLite accepts too. What truly differs — SQLite's single writer,
//! PostgreSQL's advisory locks — lives in `Backend` and `lock.rs`.
//!
//! Consumers depend on the traits (`ConversationStore`, `AuditStore`), grouped by
//! aggregate, never on sqlx.

mod audit;
mod bookings;
mod channels;
mod conversations;
mod customers;
mod leads;
mod leads_api;
mod lock;
mod outbox;
pub mod receipts;

use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Executor};

pub use leads_api::{
    ConsentRecord, CustomerKey, CustomerRecord, Erasure, LeadFilter, LeadRecord, LeadStatus,
    LeadStore, LeadTx, NewOutboxMessage, OutboxCounts, OutboxDelivery, OutboxFilter, OutboxRecord,
    OutboxSelection, OutboxStatus, OutboxStore,
};
pub use lock::ConversationLock;

use crate::config::{StoreConfig, redact_url};
use crate::engine::{ChannelIdentity, ChannelKind, InboundContent, Outbound, Reply};

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

/// Something went wrong talking to the database.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the database {url}: {source}")]
    Connect {
        url: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("cannot create the data folder {path}: {source}")]
    DataDir {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot apply database migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database error while {context}: {source}")]
    Query {
        context: &'static str,
        #[source]
        source: sqlx::Error,
    },
    #[error("stored data is not valid ({0}); it was written by an incompatible version")]
    Corrupt(String),
    /// The caller asked for something the store refuses before touching the database
    /// (a booking off the reservation grid); a bug in the caller, not a database fault.
    #[error("cannot store this: {0}")]
    Invalid(String),
}

/// Adds what was being done to a sqlx error.
pub(crate) trait QueryContext<T> {
    fn context(self, context: &'static str) -> Result<T, StoreError>;
}

impl<T> QueryContext<T> for Result<T, sqlx::Error> {
    fn context(self, context: &'static str) -> Result<T, StoreError> {
        self.map_err(|source| StoreError::Query { context, source })
    }
}

/// Which database engine is behind the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The database. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    /// Reads, and on PostgreSQL everything.
    pool: AnyPool,
    /// Writes. On SQLite a single connection: SQLite has one writer at a time anyway, and
    /// queueing writers in-process avoids `SQLITE_BUSY` storms under load.
    writer: AnyPool,
    backend: Backend,
}

impl Store {
    /// Opens the database, creating the SQLite file and its folder when needed, and
    /// applies pending migrations.
    pub async fn connect(url: &str, config: &StoreConfig) -> Result<Self, StoreError> {
        install_default_drivers();
        let connect_error = |source| StoreError::Connect {
            url: redact_url(url),
            source,
        };
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            Backend::Postgres
        };
        let store = match backend {
            Backend::Sqlite => {
                if let Some(dir) = sqlite_parent_dir(url) {
                    std::fs::create_dir_all(dir).map_err(|source| StoreError::DataDir {
                        path: dir.display().to_string(),
                        source,
                    })?;
                }
                let options = |max| {
                    AnyPoolOptions::new()
                        .max_connections(max)
                        .acquire_timeout(config.acquire_timeout)
                        .after_connect(|conn, _meta| {
                            Box::pin(async move {
                                conn.execute("PRAGMA busy_timeout = 10000").await?;
                                conn.execute("PRAGMA foreign_keys = ON").await?;
                                // WAL + NORMAL: a commit survives a process crash; only an
                                // OS crash can lose the last transactions.
                                conn.execute("PRAGMA synchronous = NORMAL").await?;
                                Ok(())
                            })
                        })
                };
                let writer = options(1).connect(url).await.map_err(connect_error)?;
                writer
                    .execute("PRAGMA journal_mode = WAL")
                    .await
                    .map_err(connect_error)?;
                let pool = options(config.max_connections)
                    .connect(url)
                    .await
                    .map_err(connect_error)?;
                SQLITE_MIGRATIONS.run(&writer).await?;
                Self {
                    pool,
                    writer,
                    backend,
                }
            }
            Backend::Postgres => {
                let pool = AnyPoolOptions::new()
                    .max_connections(config.max_connections)
                    .acquire_timeout(config.acquire_timeout)
                    .connect(url)
                    .await
                    .map_err(connect_error)?;
                POSTGRES_MIGRATIONS.run(&pool).await?;
                Self {
                    writer: pool.clone(),
                    pool,
                    backend,
                }
            }
        };
        Ok(store)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Answers whether the database is reachable, within `timeout`.
    pub async fn ping(&self, timeout: Duration) -> Result<(), StoreError> {
        match tokio::time::timeout(timeout, self.pool.execute("SELECT 1")).await {
            Ok(result) => result.map(|_| ()).context("checking the database"),
            Err(_) => Err(StoreError::Query {
                context: "checking the database",
                source: sqlx::Error::PoolTimedOut,
            }),
        }
    }

    pub async fn close(&self) {
        self.writer.close().await;
        self.pool.close().await;
    }
}

/// The folder of a `sqlite://path?…` URL, when it has one.
fn sqlite_parent_dir(url: &str) -> Option<&Path> {
    let path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:")
        .split('?')
        .next()?;
    if path.is_empty() || path == ":memory:" {
        return None;
    }
    Path::new(path)
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
}

// ---------------------------------------------------------------------------------------
// What the engine and the admin API need from the store.
// ---------------------------------------------------------------------------------------

/// A conversation as the engine addresses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationHandle {
    pub id: String,
    pub customer_id: String,
    pub channel: ChannelKind,
    /// True when this call created the conversation.
    pub created: bool,
}

/// The result of storing an inbound message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendedInbound {
    pub id: i64,
    /// The channel delivered this message before; it was stored only once.
    pub duplicate: bool,
}

/// An inbound message stored but not yet processed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingInbound {
    pub id: i64,
    pub content: InboundContent,
    pub received_at: i64,
}

/// A conversation's state between messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub state: String,
    /// When the customer last wrote (milliseconds), `None` before the first message.
    pub last_activity_at: Option<i64>,
}

/// Everything one processed message changes, committed in one transaction.
#[derive(Debug, Clone)]
pub struct TurnCommit<'a> {
    pub inbound_id: i64,
    /// For a button press: the title of the pressed button, kept in the transcript.
    pub inbound_title: Option<&'a str>,
    pub session_state: &'a str,
    pub replies: &'a [Reply],
    pub now: i64,
}

/// Bot messages written without an inbound message (reminders, outreach), committed
/// under the conversation lock like a turn.
#[derive(Debug, Clone)]
pub struct PushCommit<'a> {
    pub replies: &'a [Reply],
    /// The session with the pushed buttons remembered; `None` leaves it as it is.
    pub session_state: Option<&'a str>,
    /// Messages already written under this key are returned instead of new ones.
    pub dedupe_key: Option<&'a str>,
    pub now: i64,
}

/// What a push committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pushed {
    pub outbound: Vec<Outbound>,
    /// The key was used before: `outbound` are the earlier messages; nothing was written.
    pub duplicate: bool,
}

/// A conversation in a listing.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ConversationSummary {
    pub id: String,
    pub customer_id: String,
    pub channel: ChannelKind,
    pub started_at: i64,
    pub last_activity_at: i64,
    pub message_count: i64,
}

/// One line of a transcript.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MessageRecord {
    pub id: i64,
    pub direction: Direction,
    pub kind: String,
    pub text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub buttons: Vec<crate::engine::Button>,
    /// Sources cited under an answer.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub citations: Vec<crate::engine::Citation>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<i64>,
    pub created_at: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub processed_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivered_at: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    In,
    Out,
}

/// Conversations, their messages and sessions.
#[async_trait]
pub trait ConversationStore: Send + Sync {
    /// Finds the conversation of a channel identity, creating customer, identity,
    /// conversation and session when it is new.
    async fn open_conversation(
        &self,
        identity: &ChannelIdentity,
        now: i64,
    ) -> Result<ConversationHandle, StoreError>;

    /// Finds the conversation of a channel identity without creating one.
    async fn find_conversation(
        &self,
        identity: &ChannelIdentity,
    ) -> Result<Option<ConversationHandle>, StoreError>;

    /// Stores (commits) an inbound message. A repeated `channel_message_id` is not
    /// stored twice.
    async fn append_inbound(
        &self,
        conversation_id: &str,
        content: &InboundContent,
        channel_message_id: Option<&str>,
        now: i64,
    ) -> Result<AppendedInbound, StoreError>;

    /// Takes the cross-instance lock of a conversation (a no-op on SQLite, where one
    /// process owns the file).
    async fn lock_conversation(
        &self,
        conversation_id: &str,
    ) -> Result<ConversationLock, StoreError>;

    /// The oldest inbound message of the locked conversation not processed yet.
    async fn next_pending(
        &self,
        lock: &mut ConversationLock,
    ) -> Result<Option<PendingInbound>, StoreError>;

    /// Conversations that have stored but unprocessed inbound messages (left by a crash).
    async fn conversations_with_pending(&self) -> Result<Vec<ConversationHandle>, StoreError>;

    /// The locked conversation's session.
    async fn load_session(&self, lock: &mut ConversationLock) -> Result<SessionRecord, StoreError>;

    /// Marks the inbound processed, saves the session and stores the replies, atomically.
    /// If the inbound was processed already, changes nothing and returns its replies.
    async fn commit_turn(
        &self,
        lock: &mut ConversationLock,
        turn: TurnCommit<'_>,
    ) -> Result<Vec<Outbound>, StoreError>;

    /// The replies produced for one inbound message.
    async fn replies_to(&self, inbound_id: i64) -> Result<Vec<Outbound>, StoreError>;

    /// Replies committed but not yet delivered (for example, the process died first).
    async fn undelivered(&self, conversation_id: &str) -> Result<Vec<Outbound>, StoreError>;

    async fn mark_delivered(&self, ids: &[i64], now: i64) -> Result<(), StoreError>;

    /// Conversations by latest activity first.
    async fn list_conversations(
        &self,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<ConversationSummary>, StoreError>;

    async fn conversation(&self, id: &str) -> Result<Option<ConversationSummary>, StoreError>;

    /// The whole transcript, oldest first.
    async fn transcript(&self, conversation_id: &str) -> Result<Vec<MessageRecord>, StoreError>;

    /// Stores bot messages that answer no inbound message (and the session, when given),
    /// atomically. When `dedupe_key` was used before, writes nothing and returns the
    /// messages written under it then.
    async fn commit_push(
        &self,
        lock: &mut ConversationLock,
        push: PushCommit<'_>,
    ) -> Result<Pushed, StoreError>;

    /// A conversation's stored session state, read without its lock (for a glance at the
    /// language; never to change it).
    async fn session_state(&self, conversation_id: &str) -> Result<Option<String>, StoreError>;

    /// The customer's conversation they last wrote in (any channel); `None` when they
    /// never wrote to the bot.
    async fn latest_conversation(
        &self,
        customer_id: &str,
    ) -> Result<Option<ConversationHandle>, StoreError>;
}

/// Customers themselves.
#[async_trait]
pub trait CustomerStore: Send + Sync {
    /// Records (`Some(time)`) or clears (`None`) a customer's request not to be contacted.
    async fn set_opted_out(&self, customer_id: &str, at: Option<i64>) -> Result<(), StoreError>;

    async fn opted_out_at(&self, customer_id: &str) -> Result<Option<i64>, StoreError>;

    /// The customer behind a channel identity, if we know it.
    async fn customer_by_identity(
        &self,
        identity: &ChannelIdentity,
    ) -> Result<Option<String>, StoreError>;

    /// The customer with this E.164 phone number; when several customers share it (one
    /// per channel), the one who wrote last.
    async fn find_customer_by_phone(&self, e164: &str) -> Result<Option<String>, StoreError>;

    /// Records the customer's name and phone (E.164); `None` leaves a field as it is.
    async fn set_contact(
        &self,
        customer_id: &str,
        name: Option<&str>,
        phone_e164: Option<&str>,
    ) -> Result<(), StoreError>;

    /// Records that the customer agreed to `purpose` (`contact`, `marketing`…) on
    /// `channel`: the evidence is the exact `text` they were shown and the `version` of
    /// that text (flows bump it whenever the wording changes). `at` in Unix milliseconds.
    async fn record_consent(
        &self,
        customer_id: &str,
        purpose: &str,
        channel: &str,
        text: &str,
        version: &str,
        at: i64,
    ) -> Result<(), StoreError>;

    /// Withdraws every standing consent of the customer for `purpose`; the records stay
    /// as evidence, marked revoked at `at`. Returns how many were withdrawn (0 when there
    /// was none).
    async fn revoke_consent(
        &self,
        customer_id: &str,
        purpose: &str,
        at: i64,
    ) -> Result<u64, StoreError>;

    /// Whether the customer has a consent for `purpose` that was not revoked.
    async fn has_consent(&self, customer_id: &str, purpose: &str) -> Result<bool, StoreError>;

    /// Records an outreach message unless its idempotency key was used before (then the
    /// earlier one is returned) or the customer already got `cap.max` since `cap.since`.
    /// The count and the insert are one transaction, serialized per customer.
    async fn create_outreach(
        &self,
        outreach: &OutreachRecord,
        cap: OutreachCap,
    ) -> Result<OutreachCreated, StoreError>;

    /// How many outreach messages the customer got since `since` (Unix milliseconds).
    async fn outreach_count_since(&self, customer_id: &str, since: i64) -> Result<u64, StoreError>;

    /// The flow an outreach message offers and the values to start it with; `None` when
    /// there is no such outreach or it offers no flow.
    async fn outreach_offer(
        &self,
        id: &str,
    ) -> Result<Option<(String, serde_json::Map<String, serde_json::Value>)>, StoreError>;
}

/// A message the CRM/ERP asked us to send to a customer.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct OutreachRecord {
    pub id: String,
    pub customer_id: String,
    pub conversation_id: String,
    pub flow_id: Option<String>,
    pub values: serde_json::Map<String, serde_json::Value>,
    pub language: crate::engine::Language,
    /// The text sent, in `language`.
    pub message: String,
    pub created_at: i64,
    pub idempotency_key: Option<String>,
}

/// At most `max` outreach messages per customer since `since` (Unix milliseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutreachCap {
    pub max: u32,
    pub since: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub enum OutreachCreated {
    Created,
    /// The idempotency key was used before, by this outreach.
    Existing(Box<OutreachRecord>),
    /// The customer reached the cap; nothing was stored.
    Capped,
}

/// Bookings and their reminders. Reservation is atomic on both backends and across
/// instances: a booking claims every `booking::CLAIM_GRID` step of its unit's time under
/// a unique key in the same transaction that writes the booking, its history and its
/// reminders, so of two customers racing for one slot exactly one commits.
#[async_trait]
pub trait BookingStore: Send + Sync {
    /// What confirmed bookings hold at a branch in `[from, to)`: one slot per booking.
    async fn occupied(
        &self,
        branch: &str,
        from: jiff::Timestamp,
        to: jiff::Timestamp,
    ) -> Result<Vec<crate::booking::Slot>, StoreError>;

    /// Books the request's slot, or `Taken` when any part of it is held.
    async fn reserve(
        &self,
        request: &crate::booking::BookingRequest,
    ) -> Result<crate::booking::Booking, crate::booking::ReserveError>;

    /// Moves a confirmed booking to another slot (same kind) and replaces its pending
    /// reminders; `customer_id` restricts it to the customer's own bookings.
    async fn reschedule(
        &self,
        code: &crate::booking::BookingCode,
        customer_id: Option<&str>,
        slot: &crate::booking::Slot,
        reminders: &[(String, jiff::Timestamp)],
    ) -> Result<crate::booking::Booking, crate::booking::ReserveError>;

    /// Cancels a confirmed booking, frees its time and drops its pending reminders.
    /// `None` when there is no such confirmed booking (for that customer).
    async fn cancel(
        &self,
        code: &crate::booking::BookingCode,
        customer_id: Option<&str>,
        reason: &str,
    ) -> Result<Option<crate::booking::Booking>, StoreError>;

    async fn booking(
        &self,
        code: &crate::booking::BookingCode,
    ) -> Result<Option<crate::booking::Booking>, StoreError>;

    /// The booking's history, oldest first.
    async fn history(
        &self,
        booking_id: &str,
    ) -> Result<Vec<crate::booking::BookingEvent>, StoreError>;

    /// A customer's confirmed bookings that start after `now`, soonest first.
    async fn upcoming_for_customer(
        &self,
        customer_id: &str,
        now: jiff::Timestamp,
    ) -> Result<Vec<crate::booking::Booking>, StoreError>;

    /// Bookings matching the filter, by start time.
    async fn list_bookings(
        &self,
        filter: &crate::booking::BookingFilter,
    ) -> Result<Vec<crate::booking::Booking>, StoreError>;

    /// Claims up to `limit` reminders due at `now` for `lease` (an instance that dies
    /// mid-send loses the claim when the lease ends); claimed ones are not returned to
    /// other callers meanwhile. Reminders of cancelled bookings are never returned.
    async fn claim_due_reminders(
        &self,
        now: jiff::Timestamp,
        lease: jiff::SignedDuration,
        limit: u32,
    ) -> Result<Vec<crate::booking::DueReminder>, StoreError>;

    /// Records how a claimed reminder ended (and a history event on its booking).
    async fn finish_reminder(
        &self,
        id: i64,
        outcome: crate::booking::ReminderOutcome,
        at: jiff::Timestamp,
    ) -> Result<(), StoreError>;
}

/// One entry of the audit log.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AuditEntry {
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub subject: Option<String>,
    pub detail: Option<serde_json::Value>,
}

/// Who did what, for operators and privacy requests.
#[async_trait]
pub trait AuditStore: Send + Sync {
    async fn record(&self, entry: &AuditEntry) -> Result<(), StoreError>;
    async fn entries_for(&self, subject: &str) -> Result<Vec<AuditEntry>, StoreError>;
}

/// The current time in Unix milliseconds, the unit every stored time uses.
pub fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// A store on a fresh SQLite file in `dir`, migrated, for unit tests.
#[cfg(test)]
pub(crate) async fn test_store(dir: &Path) -> Store {
    let url = format!("sqlite://{}?mode=rwc", dir.join("db.sqlite").display());
    let config = crate::config::StoreConfig {
        max_connections: 2,
        acquire_timeout: std::time::Duration::from_secs(10),
    };
    match Store::connect(&url, &config).await {
        Ok(store) => store,
        Err(err) => panic!("a test database in {}: {err}", dir.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_folder_is_found() {
        assert_eq!(
            sqlite_parent_dir("sqlite://data/showroom.db?mode=rwc"),
            Some(Path::new("data"))
        );
        assert_eq!(sqlite_parent_dir("sqlite://showroom.db"), None);
        assert_eq!(sqlite_parent_dir("sqlite::memory:"), None);
    }
}
