//! `POST /api/v1/outreach`: messages the CRM/ERP asks us to send a customer (a service
//! is due, a recall, a test-drive follow-up), optionally offering a flow with values
//! filled in ("Agendar" starts the `service` flow with the plate already known).
//!
//! The rules, each refused with its own stable code: we write only to customers who
//! started the bot themselves (`customer_not_found` otherwise: channels forbid cold
//! messages), never to one who opted out (`opted_out`), only with a recorded contact
//! consent (`no_consent`), and at most `outreach.max_per_customer` times per
//! `outreach.window` (`frequency_capped`). The endpoint is off (404) unless
//! `SHOWROOM_API_TOKEN` is set, and then requires it as a bearer token.
//!
//! Crash safety: the outreach row is written first, then pushed with the dedupe key
//! `outreach:<idempotency_key or id>`; a client retrying with the same
//! `idempotency_key` completes a half-done send and never doubles a finished one.

use axum::Json;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::engine::{Button, ChannelIdentity, ChannelKind, Language, Reply};
use crate::flows::input::{self, InputContext, InputKind, Lang};
use crate::http::{ApiError, ApiJson, AppState, BearerToken, ErrorCode, check_bearer};
use crate::store::{
    AuditEntry, AuditStore, ConversationStore, CustomerStore, OutreachCap, OutreachCreated,
    OutreachRecord, now_ms,
};

/// The consent purpose outreach needs (what the consent flow records).
pub const CONSENT_PURPOSE: &str = "contact";
/// Payload prefix of the "Book now" button; the flow runner starts the offered flow.
pub const OFFER_PREFIX: &str = "offer:";
/// Payload of the "Not now" button.
pub const OFFER_NO: &str = "offer:no";
/// Longest message accepted, in characters (channels cut longer ones anyway).
pub const MAX_MESSAGE_CHARS: usize = 2000;
/// Longest idempotency key accepted.
pub const MAX_KEY_CHARS: usize = 200;

/// Who to write to: a channel identity, or a phone number the customer gave us.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomerRef {
    pub channel: Option<String>,
    pub id: Option<String>,
    pub phone: Option<String>,
}

/// The text in one or both languages; the customer's own is used when present.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutreachMessage {
    pub es: Option<String>,
    pub en: Option<String>,
}

impl OutreachMessage {
    /// The text for `language`, or the other one when that is missing.
    fn pick(&self, language: Language) -> Option<(&str, Language)> {
        let es = self.es.as_deref().map(str::trim).filter(|t| !t.is_empty());
        let en = self.en.as_deref().map(str::trim).filter(|t| !t.is_empty());
        match language {
            Language::Es => es
                .map(|t| (t, Language::Es))
                .or(en.map(|t| (t, Language::En))),
            Language::En => en
                .map(|t| (t, Language::En))
                .or(es.map(|t| (t, Language::Es))),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OfferedFlow {
    pub id: String,
    #[serde(default)]
    pub values: Map<String, Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutreachRequest {
    pub customer: CustomerRef,
    pub message: OutreachMessage,
    pub flow: Option<OfferedFlow>,
    pub idempotency_key: Option<String>,
}

/// How a request names its customer, once checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Identity(ChannelIdentity),
    /// E.164.
    Phone(String),
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::InvalidRequest, message)
}

/// Checks the shape of a request (no database needed): who, what, which flow.
pub fn check_request(
    request: &OutreachRequest,
    phone_region: phonenumber::country::Id,
) -> Result<Target, ApiError> {
    let target = match &request.customer {
        CustomerRef {
            channel: Some(channel),
            id: Some(id),
            phone: None,
        } => {
            let channel = match ChannelKind::parse(channel) {
                Some(kind @ (ChannelKind::Web | ChannelKind::Telegram | ChannelKind::Viber)) => {
                    kind
                }
                _ => {
                    return Err(invalid(format!(
                        "customer.channel {channel:?} is not one of \"web\", \"telegram\", \"viber\""
                    )));
                }
            };
            if id.trim().is_empty() {
                return Err(invalid("customer.id is empty"));
            }
            Target::Identity(ChannelIdentity::new(channel, id.trim()))
        }
        CustomerRef {
            channel: None,
            id: None,
            phone: Some(phone),
        } => Target::Phone(normalize_phone(phone, phone_region).ok_or_else(|| {
            invalid(format!(
                "customer.phone {phone:?} is not a valid phone number; send it in E.164, like \"+573001234567\""
            ))
        })?),
        _ => {
            return Err(invalid(
                "customer must be {\"channel\": \"web\"|\"telegram\"|\"viber\", \"id\": …} or {\"phone\": \"+57…\"}",
            ));
        }
    };
    let texts = [&request.message.es, &request.message.en];
    if texts
        .iter()
        .all(|t| t.as_deref().is_none_or(|t| t.trim().is_empty()))
    {
        return Err(invalid("message needs a text in \"es\", \"en\" or both"));
    }
    if texts.iter().any(|t| {
        t.as_deref()
            .is_some_and(|t| t.chars().count() > MAX_MESSAGE_CHARS)
    }) {
        return Err(invalid(format!(
            "message texts are limited to {MAX_MESSAGE_CHARS} characters"
        )));
    }
    if let Some(key) = &request.idempotency_key
        && (key.is_empty()
            || key.chars().count() > MAX_KEY_CHARS
            || key.chars().any(char::is_control))
    {
        return Err(invalid(format!(
            "idempotency_key must be 1 to {MAX_KEY_CHARS} characters without control characters"
        )));
    }
    Ok(target)
}

/// `+573001234567` from anything a CRM sends ("300 123 4567", "+57 300-123-4567").
pub fn normalize_phone(phone: &str, region: phonenumber::country::Id) -> Option<String> {
    let ctx = InputContext {
        now: jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC),
        default_region: region,
        plate_country: input::PlateCountry::Co,
        language: Lang::Es,
    };
    match input::parse(InputKind::Phone, phone, &ctx).ok()?.value {
        Value::String(e164) => Some(e164),
        _ => None,
    }
}

/// "30 days", "12 hours", "90 minutes".
fn describe_window(window: jiff::SignedDuration) -> String {
    let seconds = window.as_secs();
    match seconds {
        s if s > 0 && s % 86_400 == 0 => format!("{} days", s / 86_400),
        s if s > 0 && s % 3_600 == 0 => format!("{} hours", s / 3_600),
        s => format!("{} minutes", s / 60),
    }
}

/// The buttons under an outreach message that offers a flow.
pub fn offer_buttons(outreach_id: &str, language: Language) -> Vec<Button> {
    let (book, not_now) = match language {
        Language::Es => ("Agendar", "Ahora no"),
        Language::En => ("Book now", "Not now"),
    };
    vec![
        Button::new(book, format!("{OFFER_PREFIX}{outreach_id}")),
        Button::new(not_now, OFFER_NO),
    ]
}

/// `POST /api/v1/outreach` → 202 `{"outreach_id", "conversation_id"}`.
pub async fn send(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<OutreachRequest>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let target = check_request(&request, state.config.flows.phone_region)?;
    if let Some(flow) = &request.flow
        && state.flows.current().flow(&flow.id).is_none()
    {
        return Err(ApiError::new(
            ErrorCode::UnknownFlow,
            format!("there is no flow {:?} in the live flows", flow.id),
        ));
    }

    let customer_id = match &target {
        Target::Identity(identity) => state.store.customer_by_identity(identity).await?,
        Target::Phone(e164) => state.store.find_customer_by_phone(e164).await?,
    };
    let not_found = || {
        ApiError::new(
            ErrorCode::CustomerNotFound,
            "no customer matches, or they never wrote to the bot; we only write to customers who started a conversation",
        )
    };
    let customer_id = customer_id.ok_or_else(not_found)?;
    let conversation = state
        .store
        .latest_conversation(&customer_id)
        .await?
        .ok_or_else(not_found)?;
    if state.store.opted_out_at(&customer_id).await?.is_some() {
        return Err(ApiError::new(
            ErrorCode::OptedOut,
            "the customer asked not to be contacted",
        ));
    }
    if !state
        .store
        .has_consent(&customer_id, CONSENT_PURPOSE)
        .await?
    {
        return Err(ApiError::new(
            ErrorCode::NoConsent,
            "the customer has not agreed to be contacted",
        ));
    }

    let language = state.engine.language_of(&conversation.id).await?;
    let Some((text, language)) = request.message.pick(language) else {
        return Err(invalid("message needs a text in \"es\", \"en\" or both"));
    };
    let now = now_ms();
    let window = state.config.outreach.window.as_millis();
    let cap = OutreachCap {
        max: state.config.outreach.max_per_customer,
        since: now.saturating_sub(i64::try_from(window).unwrap_or(i64::MAX)),
    };
    let record = OutreachRecord {
        id: uuid::Uuid::now_v7().to_string(),
        customer_id: customer_id.clone(),
        conversation_id: conversation.id.clone(),
        flow_id: request.flow.as_ref().map(|f| f.id.clone()),
        values: request
            .flow
            .as_ref()
            .map(|f| f.values.clone())
            .unwrap_or_default(),
        language,
        message: text.to_owned(),
        created_at: now,
        idempotency_key: request.idempotency_key.clone(),
    };
    let record = match state.store.create_outreach(&record, cap).await? {
        OutreachCreated::Created => {
            state
                .store
                .record(&AuditEntry {
                    at: now,
                    actor: "api".into(),
                    action: "outreach.created".into(),
                    subject: Some(customer_id.clone()),
                    detail: Some(json!({"outreach_id": record.id, "flow": record.flow_id})),
                })
                .await?;
            record
        }
        OutreachCreated::Existing(earlier) if earlier.customer_id == customer_id => *earlier,
        OutreachCreated::Existing(_) => {
            return Err(ApiError::new(
                ErrorCode::IdempotencyConflict,
                "this idempotency_key was used for another customer",
            ));
        }
        OutreachCreated::Capped => {
            return Err(ApiError::new(
                ErrorCode::FrequencyCapped,
                format!(
                    "the customer already got {} message(s) in the last {}",
                    state.config.outreach.max_per_customer,
                    describe_window(state.config.outreach.window)
                ),
            ));
        }
    };

    let mut reply = Reply::text(&record.message);
    if record.flow_id.is_some() {
        reply = reply.with_buttons(offer_buttons(&record.id, record.language));
    }
    let key = format!(
        "outreach:{}",
        record.idempotency_key.as_deref().unwrap_or(&record.id)
    );
    state
        .engine
        .push(&record.conversation_id, vec![reply], Some(&key))
        .await?;
    tracing::info!(outreach = %record.id, conversation = %record.conversation_id, "outreach message sent");
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({
            "outreach_id": record.id,
            "conversation_id": record.conversation_id,
        })),
    ))
}

/// Off (404) without `SHOWROOM_API_TOKEN`; otherwise `Authorization: Bearer <token>`,
/// compared in constant time.
pub async fn require_api_token(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    check_bearer(
        request.headers(),
        state.config.secrets.api_token.as_deref(),
        &BearerToken {
            api: "the outreach API",
            token: "API token",
            variable: "SHOWROOM_API_TOKEN",
        },
    )?;
    Ok(next.run(request).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(customer: Value) -> OutreachRequest {
        serde_json::from_value(json!({
            "customer": customer,
            "message": {"es": "Hola", "en": "Hi"},
        }))
        .unwrap()
    }

    #[test]
    fn customers_are_named_by_identity_or_phone() {
        let co = phonenumber::country::Id::CO;
        assert_eq!(
            check_request(&request(json!({"channel": "telegram", "id": "42"})), co).unwrap(),
            Target::Identity(ChannelIdentity::new(ChannelKind::Telegram, "42"))
        );
        assert_eq!(
            check_request(&request(json!({"phone": "300 123 4567"})), co).unwrap(),
            Target::Phone("+573001234567".into())
        );
        for bad in [
            json!({"channel": "cli", "id": "1"}),
            json!({"channel": "web"}),
            json!({"phone": "12"}),
            json!({"phone": "+573001234567", "channel": "web", "id": "x"}),
            json!({}),
        ] {
            let err = check_request(&request(bad.clone()), co).unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidRequest, "{bad}");
        }
    }

    #[test]
    fn the_customers_language_is_used_when_there_is_a_text_in_it() {
        let both = OutreachMessage {
            es: Some("Hola".into()),
            en: Some("Hi".into()),
        };
        assert_eq!(both.pick(Language::En), Some(("Hi", Language::En)));
        let spanish_only = OutreachMessage {
            es: Some("Hola".into()),
            en: Some("  ".into()),
        };
        assert_eq!(
            spanish_only.pick(Language::En),
            Some(("Hola", Language::Es))
        );
        let none = OutreachMessage { es: None, en: None };
        assert_eq!(none.pick(Language::Es), None);
    }

    #[test]
    fn windows_read_naturally() {
        use jiff::SignedDuration;
        assert_eq!(describe_window(SignedDuration::from_hours(720)), "30 days");
        assert_eq!(describe_window(SignedDuration::from_hours(12)), "12 hours");
        assert_eq!(describe_window(SignedDuration::from_mins(90)), "90 minutes");
    }

    #[test]
    fn offers_carry_the_outreach_id() {
        let buttons = offer_buttons("abc", Language::Es);
        assert_eq!(buttons[0], Button::new("Agendar", "offer:abc"));
        assert_eq!(buttons[1], Button::new("Ahora no", "offer:no"));
        assert_eq!(offer_buttons("abc", Language::En)[0].title, "Book now");
    }
}
