//! The lead domain: who the customer is (`Profile`), what they want (`Interest`), what
//! they did that says how ready they are (`Signal`), and the verdict (`Qualification`).
//! Values here are already checked: a `PhoneE164` is a valid number, an `Email` has an
//! `@` and a domain, a `NationalId` passed its check.

use std::collections::BTreeSet;
use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::flows::input::{InputContext, InputKind, Lang, PlateCountry, parse};

/// Parsing context for kinds that do not depend on time or region (email, ids).
fn plain_context() -> InputContext {
    InputContext {
        now: jiff::Zoned::now(),
        default_region: phonenumber::country::Id::CO,
        plate_country: PlateCountry::Co,
        language: Lang::Es,
    }
}

/// A phone number in E.164 form (`+573001234567`).
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(try_from = "String", into = "String")]
pub struct PhoneE164(String);

impl PhoneE164 {
    /// Parses what a customer typed (`300 123 4567`, `+57 300…`), assuming the region of
    /// `ctx` for numbers without a country code.
    pub fn parse(text: &str, ctx: &InputContext) -> Option<Self> {
        let parsed = parse(InputKind::Phone, text, ctx).ok()?;
        parsed.value.as_str().map(|s| Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for PhoneE164 {
    type Error = String;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        let digits = value.strip_prefix('+').unwrap_or("");
        if (8..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(value))
        } else {
            Err(format!("{value:?} is not an E.164 phone number"))
        }
    }
}

impl From<PhoneE164> for String {
    fn from(value: PhoneE164) -> Self {
        value.0
    }
}

impl fmt::Display for PhoneE164 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An email address, lowercased.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    pub fn parse(text: &str) -> Option<Self> {
        let parsed = parse(InputKind::Email, text, &plain_context()).ok()?;
        parsed.value.as_str().map(|s| Self(s.to_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Email {
    type Error = String;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Email::parse(&value).ok_or_else(|| format!("{value:?} is not an email address"))
    }
}

impl From<Email> for String {
    fn from(value: Email) -> Self {
        value.0
    }
}

/// A Colombian national id: a cédula (`1020304050`) or a NIT with its check digit
/// (`900123456-8`), checked.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(try_from = "String", into = "String")]
pub struct NationalId(String);

impl NationalId {
    /// A cédula or a NIT (`NIT 900.123.456-8`), normalized.
    pub fn parse(text: &str) -> Option<Self> {
        let ctx = plain_context();
        [InputKind::Nit, InputKind::Cedula]
            .into_iter()
            .filter(|kind| *kind != InputKind::Nit || text.contains('-'))
            .find_map(|kind| parse(kind, text, &ctx).ok())
            .and_then(|parsed| parsed.value.as_str().map(|s| Self(s.to_owned())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for NationalId {
    type Error = String;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        NationalId::parse(&value).ok_or_else(|| format!("{value:?} is not a cédula or NIT"))
    }
}

impl From<NationalId> for String {
    fn from(value: NationalId) -> Self {
        value.0
    }
}

/// Who the customer is. Personal data: kept only with the customer's consent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Profile {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<PhoneE164>,
    /// The phone came from the channel itself (a shared contact), not typed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub phone_verified: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<Email>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub national_id: Option<NationalId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
}

impl Profile {
    /// Fills what `self` lacks from `newer`, and replaces what `newer` says differently
    /// (the customer corrected themselves). True when anything changed.
    pub fn merge(&mut self, newer: &Profile) -> bool {
        let before = self.clone();
        if newer.name.is_some() {
            self.name.clone_from(&newer.name);
        }
        if let Some(phone) = &newer.phone {
            if self.phone.as_ref() != Some(phone) {
                self.phone_verified = newer.phone_verified;
            } else {
                self.phone_verified |= newer.phone_verified;
            }
            self.phone = Some(phone.clone());
        }
        if newer.email.is_some() {
            self.email.clone_from(&newer.email);
        }
        if newer.national_id.is_some() {
            self.national_id.clone_from(&newer.national_id);
        }
        if newer.city.is_some() {
            self.city.clone_from(&newer.city);
        }
        *self != before
    }

    pub fn is_empty(&self) -> bool {
        *self == Profile::default()
    }
}

/// When the customer means to buy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Timeframe {
    /// Within 30 days ("este mes", "ya", "en dos semanas").
    #[serde(rename = "within_30_days")]
    Within30Days,
    /// One to six months.
    #[serde(rename = "within_6_months")]
    Within6Months,
    /// Later than six months, or "solo estoy mirando".
    Later,
}

/// What the customer wants.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Interest {
    /// A `[[models]]` id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trim: Option<String>,
    /// Budget in Colombian pesos.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub budget_cop: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeframe: Option<Timeframe>,
    /// Wants financing (`true`), pays cash (`false`), unknown (`None`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub financing: Option<bool>,
    /// The car offered in part payment, as the customer described it; `Some("")` when
    /// they have one but did not say which.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trade_in: Option<String>,
    /// A `[[branches]]` id the customer prefers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
}

impl Interest {
    /// Same rule as `Profile::merge`: newer facts win. True when anything changed.
    pub fn merge(&mut self, newer: &Interest) -> bool {
        let before = self.clone();
        macro_rules! take {
            ($($field:ident),*) => {$(
                if newer.$field.is_some() {
                    self.$field.clone_from(&newer.$field);
                }
            )*};
        }
        take!(
            model, trim, budget_cop, timeframe, financing, trade_in, branch
        );
        *self != before
    }
}

/// Something the customer did or said that tells how ready they are to buy. Points per
/// signal are settings (`[leads.score]`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Signal {
    BookedTestDrive,
    BookedService,
    AskedPrice,
    AskedFinancing,
    #[serde(rename = "buys_within_30_days")]
    BuysWithin30Days,
    HasTradeIn,
    ReturningCustomer,
    RequestedAdvisor,
    GaveContact,
    /// "solo estoy mirando", "todavía no voy a comprar".
    JustLooking,
    /// Buys in more than six months.
    BuysLater,
    /// Asked not to be contacted.
    OptedOut,
}

impl Signal {
    pub const ALL: &'static [Signal] = &[
        Signal::BookedTestDrive,
        Signal::BookedService,
        Signal::AskedPrice,
        Signal::AskedFinancing,
        Signal::BuysWithin30Days,
        Signal::HasTradeIn,
        Signal::ReturningCustomer,
        Signal::RequestedAdvisor,
        Signal::GaveContact,
        Signal::JustLooking,
        Signal::BuysLater,
        Signal::OptedOut,
    ];

    /// The settings key (`[leads.score] booked_test_drive = 40`).
    pub fn as_str(self) -> &'static str {
        match self {
            Signal::BookedTestDrive => "booked_test_drive",
            Signal::BookedService => "booked_service",
            Signal::AskedPrice => "asked_price",
            Signal::AskedFinancing => "asked_financing",
            Signal::BuysWithin30Days => "buys_within_30_days",
            Signal::HasTradeIn => "has_trade_in",
            Signal::ReturningCustomer => "returning_customer",
            Signal::RequestedAdvisor => "requested_advisor",
            Signal::GaveContact => "gave_contact",
            Signal::JustLooking => "just_looking",
            Signal::BuysLater => "buys_later",
            Signal::OptedOut => "opted_out",
        }
    }

    /// How a person reads it, in Spanish (the CRM's language).
    pub fn describe(self) -> &'static str {
        match self {
            Signal::BookedTestDrive => "Agendó una prueba de manejo",
            Signal::BookedService => "Agendó una cita de taller",
            Signal::AskedPrice => "Preguntó por precios",
            Signal::AskedFinancing => "Preguntó por financiación",
            Signal::BuysWithin30Days => "Quiere comprar en los próximos 30 días",
            Signal::HasTradeIn => "Tiene un carro para dejar en parte de pago",
            Signal::ReturningCustomer => "Cliente que regresa",
            Signal::RequestedAdvisor => "Pidió hablar con un asesor",
            Signal::GaveContact => "Dejó sus datos de contacto",
            Signal::JustLooking => "Dice que solo está mirando",
            Signal::BuysLater => "Compraría en más de seis meses",
            Signal::OptedOut => "Pidió no ser contactado",
        }
    }
}

/// Cold, warm or hot, from the score and the `[leads]` thresholds.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Band {
    Cold,
    Warm,
    Hot,
}

impl Band {
    pub fn as_str(self) -> &'static str {
        match self {
            Band::Cold => "cold",
            Band::Warm => "warm",
            Band::Hot => "hot",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "cold" => Some(Band::Cold),
            "warm" => Some(Band::Warm),
            "hot" => Some(Band::Hot),
            _ => None,
        }
    }
}

/// One line of "why this score".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Reason {
    pub signal: Signal,
    pub points: i32,
    /// `Signal::describe`.
    pub text: String,
}

/// A lead's score (0–100), band and the reasons behind it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Qualification {
    pub score: u8,
    pub band: Band,
    pub reasons: Vec<Reason>,
}

/// The signals a lead has shown, in a stable order.
pub type Signals = BTreeSet<Signal>;
