//! showroom — a conversational runtime for car dealerships.
//!
//! Customers chat on the web widget (and, in later releases, Telegram and Viber); menu
//! flows and the assistant answer them; every message is stored before it is processed
//! and every reply before it is sent, so a crash loses nothing.
//!
//! # Layout
//!
//! - [`config`]: settings from `showroom.toml` and the environment, validated up front.
//! - [`engine`]: the conversation loop — identity → conversation, strict per-conversation
//!   order, idle/resume, the [`engine::Router`] seam, and the settings menu router.
//! - [`flows`]: staff-written YAML flows: validation, runner, hot reload, tests.
//! - [`knowledge`]: spec sheets, FAQ and policies: ingest, the vector index (embedded
//!   Qdrant Edge or a Qdrant server) and hybrid retrieval.
//! - [`assistant`]: free-text questions answered from the knowledge base with citations
//!   (LLM streamed and checked, or extractive), and intent that starts flows.
//! - [`booking`]: calendar, availability, reservations, reminders, outreach.
//! - [`leads`]: profile, consent, qualification, de-duplication, routing.
//! - [`crm`]: the signed CRM handoff and its outbox worker.
//! - [`fswatch`]: watching the folders staff edit.
//! - [`outbound`]: backoff and error causes shared by calls to other servers.
//! - [`store`]: persistence (SQLite or PostgreSQL) behind traits grouped by aggregate.
//! - [`channels`]: adapters; `web` (widget, WebSocket, HTTP) and `cli` (terminal chat).
//! - [`http`]: the axum application: routes, global limits, the JSON error type.
//! - [`admin`]: health, readiness, metrics and the bearer-protected admin API.
//! - [`telemetry`]: logs with personal data masked, and the Prometheus recorder.
//! - [`cli`]: the staff commands (`flows …`, `kb …`, `ask`).
//! - [`server`]: wiring and graceful shutdown.

pub mod admin;
pub mod assistant;
pub mod booking;
pub mod channels;
pub mod cli;
pub mod config;
pub mod crm;
pub mod engine;
pub mod flows;
pub mod fswatch;
#[doc(hidden)]
pub mod fuzzing;
pub mod http;
pub mod knowledge;
pub mod leads;
pub mod outbound;
pub mod server;
pub mod store;
pub mod telemetry;
