//! The CRM handoff: the payload (`docs/handoff.schema.json`), Standard Webhooks
//! signing, and the outbox worker that delivers with retries, `Retry-After`, 410 Gone
//! and dead letters.
//!
//! - [`payload`]: the JSON body of `lead.created`, `lead.updated`, `privacy.erased`.
//! - [`signing`]: `webhook-id`, `webhook-timestamp`, `webhook-signature`.
//! - [`worker`]: claims due messages, delivers, schedules retries.
//! - [`settings`]: `[crm]` and `CRM_WEBHOOK_URL` / `CRM_WEBHOOK_SECRET`.

pub mod payload;
pub mod settings;
pub mod signing;
pub mod worker;
