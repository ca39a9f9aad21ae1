//! Leads: every conversation builds one. The customer's profile and interest are
//! gathered from flows and free text, kept only with consent, scored by the
//! `[leads.score]` rules, de-duplicated across channels (same phone, email or national
//! id is one person with one lead), routed to a branch and advisor, and handed off to
//! the CRM through the outbox.
//!
//! - [`model`]: the domain types (`PhoneE164`, `Profile`, `Interest`, `Signal`…).
//! - [`extract`]: profile, interest and signals from free text, by rules and the catalog.
//! - [`score`]: signals → score, band and reasons.
//! - [`routing`]: branch and advisor, and when the customer will be contacted.
//! - [`settings`]: `[leads]` in `showroom.toml`.
//! - [`understand`]: the same facts read by the LLM (structured output), when there is one.
//! - [`desk`]: one turn's observations → the stored lead and its CRM events.

pub mod desk;
pub mod extract;
pub mod merge;
pub mod model;
pub mod routing;
pub mod score;
pub mod settings;
pub mod understand;

pub use model::{
    Band, Email, Interest, NationalId, PhoneE164, Profile, Qualification, Reason, Signal, Signals,
    Timeframe,
};
