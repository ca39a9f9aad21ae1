//! The booking domain's types, shared by the calendar, the store, flows and the API.

use std::fmt;

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::engine::{ChannelKind, Language};
use crate::store::StoreError;

/// Reservations claim time in steps of this size, whatever the slot granularity in
/// settings, so a change of settings never lets old and new bookings overlap unseen.
/// Slot granularity and durations must be multiples of it.
pub const CLAIM_GRID: SignedDuration = SignedDuration::from_mins(5);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BookingKind {
    TestDrive,
    Service,
}

impl BookingKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TestDrive => "test_drive",
            Self::Service => "service",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "test_drive" => Some(Self::TestDrive),
            "service" => Some(Self::Service),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BookingStatus {
    Confirmed,
    Cancelled,
}

impl BookingStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Confirmed => "confirmed",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "confirmed" => Some(Self::Confirmed),
            "cancelled" => Some(Self::Cancelled),
            _ => None,
        }
    }
}

/// A short code customers and staff can read over the phone: a kind prefix and five
/// characters without look-alikes, like `PM-7K3QX` (prueba de manejo) or `TL-9F2HD`
/// (taller).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct BookingCode(String);

impl BookingCode {
    /// Letters and digits that cannot be mistaken for each other (no 0/O, 1/I/L, 5/S…).
    pub const ALPHABET: &'static [u8] = b"23456789ABCDEFGHJKMNPQRTUVWXYZ";

    pub fn generate(kind: BookingKind) -> Self {
        use rand::RngExt;
        let prefix = match kind {
            BookingKind::TestDrive => "PM",
            BookingKind::Service => "TL",
        };
        let mut rng = rand::rng();
        let tail: String = (0..5)
            .map(|_| Self::ALPHABET[rng.random_range(0..Self::ALPHABET.len())] as char)
            .collect();
        Self(format!("{prefix}-{tail}"))
    }

    /// Accepts what a person types: any case, with or without the dash, spaces around.
    pub fn parse(text: &str) -> Option<Self> {
        let cleaned: String = text
            .trim()
            .chars()
            .filter(|c| !matches!(c, '-' | ' '))
            .map(|c| c.to_ascii_uppercase())
            .collect();
        let (prefix, tail) = cleaned.split_at_checked(2)?;
        let valid = matches!(prefix, "PM" | "TL")
            && tail.len() == 5
            && tail.bytes().all(|b| Self::ALPHABET.contains(&b));
        valid.then(|| Self(format!("{prefix}-{tail}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BookingCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One bookable unit: one place of a service bay (a bay of capacity 2 has units 0 and
/// 1) or one demo vehicle (unit 0).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ResourceUnit {
    pub branch: String,
    /// A bay id or a demo vehicle id from settings.
    pub resource: String,
    pub unit: u32,
}

/// A unit for a time range `[start, end)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slot {
    pub unit: ResourceUnit,
    pub start: Timestamp,
    pub end: Timestamp,
}

/// What a customer asks to book.
#[derive(Debug, Clone, PartialEq)]
pub struct BookingRequest {
    pub kind: BookingKind,
    pub customer_id: String,
    pub conversation_id: String,
    pub channel: ChannelKind,
    pub language: Language,
    pub slot: Slot,
    /// Service type id (service appointments).
    pub service_type: Option<String>,
    /// Model id (test drives; the customer's car for service).
    pub model: Option<String>,
    pub plate: Option<String>,
    pub year: Option<i32>,
    pub mileage_km: Option<i64>,
    pub name: String,
    /// E.164.
    pub phone: Option<String>,
    /// When to remind, with a label each (`24h`, `2h`); past moments are left out by
    /// the caller.
    pub reminders: Vec<(String, Timestamp)>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Booking {
    pub id: String,
    pub code: BookingCode,
    pub kind: BookingKind,
    pub status: BookingStatus,
    pub customer_id: String,
    pub conversation_id: String,
    pub channel: ChannelKind,
    pub language: Language,
    pub slot: Slot,
    pub service_type: Option<String>,
    pub model: Option<String>,
    pub plate: Option<String>,
    pub year: Option<i32>,
    pub mileage_km: Option<i64>,
    pub name: String,
    pub phone: Option<String>,
    /// Unguessable token for the `.ics` link; never shown in listings.
    #[serde(skip)]
    pub ics_token: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// One line of a booking's history.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BookingEvent {
    pub at: Timestamp,
    /// `booked`, `rescheduled`, `cancelled`, `reminder_sent`, `reminder_skipped`.
    pub event: String,
    pub detail: serde_json::Value,
}

/// Listing filter for the admin API.
#[derive(Debug, Clone, Default)]
pub struct BookingFilter {
    pub branch: Option<String>,
    pub status: Option<BookingStatus>,
    pub kind: Option<BookingKind>,
    /// Bookings starting at or after this moment.
    pub from: Option<Timestamp>,
    /// Bookings starting before this moment.
    pub to: Option<Timestamp>,
    pub customer_id: Option<String>,
    pub limit: u32,
    pub offset: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum ReserveError {
    /// Someone else holds part of that time on that unit.
    #[error("that time is no longer available")]
    Taken,
    #[error("the booking {0} does not exist or is not this customer's")]
    NotFound(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A reminder whose moment came, claimed by this instance for a short lease.
#[derive(Debug, Clone, PartialEq)]
pub struct DueReminder {
    pub id: i64,
    /// `24h`, `2h`…
    pub label: String,
    pub due_at: Timestamp,
    pub booking: Booking,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReminderOutcome {
    Sent,
    /// Its moment passed while we were down, or the booking was cancelled.
    Skipped,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_readable_and_parse_back() {
        for kind in [BookingKind::TestDrive, BookingKind::Service] {
            let code = BookingCode::generate(kind);
            assert_eq!(code.as_str().len(), 8);
            assert_eq!(BookingCode::parse(code.as_str()), Some(code.clone()));
            let typed = code.as_str().replace('-', " ").to_lowercase();
            assert_eq!(BookingCode::parse(&typed), Some(code));
        }
        assert_eq!(
            BookingCode::parse("PM-0O1IL"),
            None,
            "look-alikes are never issued"
        );
        assert_eq!(BookingCode::parse("XX-ABCDE"), None);
        assert_eq!(BookingCode::parse("pm"), None);
    }
}
