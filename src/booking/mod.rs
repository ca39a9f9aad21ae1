//! Bookings: test drives and service appointments at the dealer's branches.
//!
//! - `model`: what a booking is (kinds, statuses, codes, slots, requests).
//! - `calendar`: branches, opening hours, holidays and resources from settings.
//! - `availability`: the next free slots for a need, day labels, nearby alternatives.
//! - `ics`: the calendar file a confirmation links to.
//! - `reminders`: the durable reminder worker.
//! - `outreach`: post-sale messages the CRM/ERP asks us to send.
//! - `routes`: the `.ics` download and the outreach endpoint.
//!
//! Reservation itself is the store's job (`store::BookingStore`): claims on a fixed
//! time grid under a unique key, so two customers can never hold the same bay or demo
//! car at the same moment, whatever the number of instances.

pub mod actions;
pub mod availability;
pub mod calendar;
pub mod ics;
pub mod model;
pub mod outreach;
pub mod reminders;
pub mod routes;
pub mod sources;

pub use model::*;
