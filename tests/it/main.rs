//! showroom's integration tests: one binary, one module per capability. Servers run for
//! real on free loopback ports with real SQLite files (and the machine's PostgreSQL);
//! nothing here is mocked.

mod support;

mod assistant;
mod assistant_llm;
mod booking_support;
mod bookings_e2e;
mod bookings_store;
mod browser;
mod channels_e2e;
mod config_errors;
mod crash;
mod crm;
mod engine;
mod failures;
mod fake_llm;
mod fake_telegram;
mod fake_viber;
mod flows;
mod fuzz_replay;
mod ics;
mod knowledge;
mod knowledge_embeddings;
mod knowledge_index;
mod leads;
mod leads_store;
mod linking;
mod ordering_postgres;
mod outreach;
mod push_store;
mod reminders;
mod store_suite;
mod telegram;
mod telegram_assistant;
mod terminal_chat;
mod viber;
mod web_http;
mod web_ws;
