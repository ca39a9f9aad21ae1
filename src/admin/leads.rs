//! Leads, customers and the CRM outbox as staff see them: the read models shared by the
//! admin API and the `showroom leads|outbox|privacy` commands (so `--json` and the API
//! print the same documents), and the admin endpoints:
//!
//! - `GET /admin/api/leads?status=&band=&since=&limit=` (latest change first),
//! - `GET /admin/api/leads/{id}` (lead, customer, consents, bookings, outbox messages),
//! - `GET /admin/api/customers/{id}` (record, channel identities, consents, leads),
//! - `GET /admin/api/outbox?status=&lead=&limit=` (counts, CRM endpoint, messages),
//! - `POST /admin/api/outbox/{id}/retry`.

use axum::Json;
use axum::extract::{Path, State};
use jiff::{SignedDuration, Timestamp, Zoned};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::booking::{Booking, BookingFilter};
use crate::config::Config;
use crate::http::{ApiError, ApiQuery, AppState, ErrorCode};
use crate::leads::Band;
use crate::store::{
    AuditEntry, AuditStore, BookingStore, ConsentRecord, ConversationStore, ConversationSummary,
    CustomerRecord, LeadFilter, LeadRecord, LeadStatus, LeadStore, MessageRecord, OutboxCounts,
    OutboxFilter, OutboxRecord, OutboxSelection, OutboxStatus, OutboxStore, StoreError, now_ms,
};

/// Everything the staff views read. A trait object so the views do not care which
/// store is behind them.
pub(crate) trait LeadData:
    LeadStore + OutboxStore + BookingStore + ConversationStore + AuditStore
{
}

impl<T> LeadData for T where
    T: LeadStore + OutboxStore + BookingStore + ConversationStore + AuditStore
{
}

const DEFAULT_PAGE: i64 = 50;
const MAX_PAGE: i64 = 500;

// ---------------------------------------------------------------------------------------
// Read models.
// ---------------------------------------------------------------------------------------

/// A lead with its customer: one row of a listing, one line of a JSONL export.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct LeadWithCustomer {
    #[serde(flatten)]
    pub lead: LeadRecord,
    pub customer: Option<CustomerRecord>,
}

/// One lead and what staff need to act on it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct LeadDetail {
    pub lead: LeadRecord,
    pub customer: Option<CustomerRecord>,
    pub consents: Vec<ConsentRecord>,
    /// The customer's bookings, by start time.
    pub bookings: Vec<Booking>,
    /// The CRM messages about this lead, newest first.
    pub outbox: Vec<OutboxRecord>,
}

/// One customer, their consents and their leads.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct CustomerDetail {
    pub customer: CustomerRecord,
    /// Where the customer talks to us, as `channel:id` (`telegram:123456789`; a web
    /// session's id is the hash of its token).
    pub identities: Vec<String>,
    pub consents: Vec<ConsentRecord>,
    pub leads: Vec<LeadRecord>,
}

/// A conversation with its whole transcript.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ConversationTranscript {
    #[serde(flatten)]
    pub conversation: ConversationSummary,
    pub messages: Vec<MessageRecord>,
}

/// The CRM endpoint outbox messages go to, and whether it is switched off.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct EndpointState {
    /// Redacted for display; `None` when no CRM URL is set (handoffs wait).
    pub url: Option<String>,
    /// When the endpoint answered 410 Gone (Unix milliseconds); `None`: enabled.
    pub disabled_at: Option<i64>,
}

pub(crate) async fn leads_with_customers(
    data: &dyn LeadData,
    filter: &LeadFilter,
) -> Result<Vec<LeadWithCustomer>, StoreError> {
    let leads = data.leads(filter).await?;
    let mut rows = Vec::with_capacity(leads.len());
    // Listings are paged (500 at most), so one lookup per lead is fine; exports of
    // every lead read each customer once.
    let mut customers: std::collections::HashMap<String, Option<CustomerRecord>> =
        std::collections::HashMap::new();
    for lead in leads {
        let customer = match customers.get(&lead.customer_id) {
            Some(found) => found.clone(),
            None => {
                let found = data.customer_record(&lead.customer_id).await?;
                customers.insert(lead.customer_id.clone(), found.clone());
                found
            }
        };
        rows.push(LeadWithCustomer { lead, customer });
    }
    Ok(rows)
}

pub(crate) async fn lead_detail(
    data: &dyn LeadData,
    id: &str,
) -> Result<Option<LeadDetail>, StoreError> {
    let Some(lead) = data.lead(id).await? else {
        return Ok(None);
    };
    let customer = data.customer_record(&lead.customer_id).await?;
    let consents = data.consents(&lead.customer_id).await?;
    let bookings = customer_bookings(data, &lead.customer_id).await?;
    let outbox = data
        .list_outbox(&OutboxFilter {
            lead_id: Some(lead.id.clone()),
            ..OutboxFilter::default()
        })
        .await?;
    Ok(Some(LeadDetail {
        lead,
        customer,
        consents,
        bookings,
        outbox,
    }))
}

pub(crate) async fn customer_detail(
    data: &dyn LeadData,
    id: &str,
) -> Result<Option<CustomerDetail>, StoreError> {
    let Some(customer) = data.customer_record(id).await? else {
        return Ok(None);
    };
    let consents = data.consents(id).await?;
    let leads = data.leads(&customer_leads(id)).await?;
    let identities = data
        .channel_identities(id)
        .await?
        .into_iter()
        .map(|(channel, external_id)| format!("{channel}:{external_id}"))
        .collect();
    Ok(Some(CustomerDetail {
        customer,
        identities,
        consents,
        leads,
    }))
}

/// The customer's conversations on every channel, oldest first, with their messages.
pub(crate) async fn transcripts(
    data: &dyn LeadData,
    customer_id: &str,
) -> Result<Vec<ConversationTranscript>, StoreError> {
    let mut out = Vec::new();
    for conversation in data.conversations_of(customer_id).await? {
        let messages = data.transcript(&conversation.id).await?;
        out.push(ConversationTranscript {
            conversation,
            messages,
        });
    }
    Ok(out)
}

/// Every lead of a customer, whatever its status.
pub(crate) fn customer_leads(customer_id: &str) -> LeadFilter {
    LeadFilter {
        customer_id: Some(customer_id.to_owned()),
        ..LeadFilter::default()
    }
}

/// Every booking of a customer, by start time.
pub(crate) async fn customer_bookings(
    data: &dyn LeadData,
    customer_id: &str,
) -> Result<Vec<Booking>, StoreError> {
    data.list_bookings(&BookingFilter {
        customer_id: Some(customer_id.to_owned()),
        // 0: no limit.
        limit: 0,
        ..BookingFilter::default()
    })
    .await
}

pub(crate) async fn endpoint_state(
    data: &dyn LeadData,
    config: &Config,
) -> Result<EndpointState, StoreError> {
    let Some(url) = crm_url(config) else {
        return Ok(EndpointState {
            url: None,
            disabled_at: None,
        });
    };
    let disabled_at = data.endpoint_disabled_at(&url).await?;
    Ok(EndpointState {
        url: Some(crate::config::redact_url(&url)),
        disabled_at,
    })
}

/// Switches a CRM endpoint that answered 410 Gone back on. Returns when it had been
/// disabled, `None` when it was on already (or no URL is set).
pub(crate) async fn reenable_endpoint(
    data: &dyn LeadData,
    config: &Config,
) -> Result<Option<i64>, StoreError> {
    let Some(url) = crm_url(config) else {
        return Ok(None);
    };
    let disabled_at = data.endpoint_disabled_at(&url).await?;
    if disabled_at.is_some() {
        data.set_endpoint_disabled(&url, None).await?;
    }
    Ok(disabled_at)
}

/// The CRM webhook URL, exactly as the outbox worker keys its endpoint state.
pub(crate) fn crm_url(config: &Config) -> Option<String> {
    config
        .crm
        .endpoint
        .as_ref()
        .map(|endpoint| endpoint.url.clone())
}

// ---------------------------------------------------------------------------------------
// `since`: a date, an age or a moment.
// ---------------------------------------------------------------------------------------

/// `--since` / `since=` that is none of the accepted forms.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0:?} is not a date like 2026-12-01, an age like 7d, 12h or 2w, or a moment like 2026-12-01T08:00:00-05:00"
)]
pub struct SinceError(String);

/// Reads when a listing starts, as Unix milliseconds: a date (`2026-12-01`, from its
/// midnight in `now`'s time zone), an age back from `now` (`7d`, `12h`, `2w`), or an
/// RFC 3339 moment.
pub fn parse_since(text: &str, now: &Zoned) -> Result<i64, SinceError> {
    let error = || SinceError(text.to_owned());
    let trimmed = text.trim();
    if let Some(age) = parse_age(trimmed) {
        return now
            .timestamp()
            .checked_sub(age.ok_or_else(error)?)
            .map(Timestamp::as_millisecond)
            .map_err(|_| error());
    }
    // A moment first: a date parser would also take the date part of a moment.
    if let Ok(moment) = trimmed.parse::<Timestamp>() {
        return Ok(moment.as_millisecond());
    }
    // Only a bare date: `2026-12-01T08:00` without an offset is ambiguous.
    if trimmed.len() == "2026-12-01".len()
        && let Ok(date) = trimmed.parse::<jiff::civil::Date>()
    {
        return date
            .to_zoned(now.time_zone().clone())
            .map(|midnight| midnight.timestamp().as_millisecond())
            .map_err(|_| error());
    }
    Err(error())
}

/// `Some(None)`: shaped like an age but too large.
fn parse_age(text: &str) -> Option<Option<SignedDuration>> {
    let unit = text.chars().last()?;
    let hours_per_unit = match unit {
        'h' => 1,
        'd' => 24,
        'w' => 24 * 7,
        _ => return None,
    };
    let digits = &text[..text.len() - unit.len_utf8()];
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Ages beyond a century are typos, and keep the arithmetic far from overflow.
    let hours = digits
        .parse::<i64>()
        .ok()
        .and_then(|n| n.checked_mul(hours_per_unit))
        .filter(|hours| *hours <= 100 * 366 * 24);
    Some(hours.map(SignedDuration::from_hours))
}

// ---------------------------------------------------------------------------------------
// Endpoints.
// ---------------------------------------------------------------------------------------

fn bad(message: String) -> ApiError {
    ApiError::new(ErrorCode::InvalidRequest, message)
}

fn present(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|v| !v.is_empty())
}

fn page_limit(value: Option<&str>) -> Result<i64, ApiError> {
    let Some(value) = present(value) else {
        return Ok(DEFAULT_PAGE);
    };
    value
        .parse::<i64>()
        .ok()
        .filter(|n| (1..=MAX_PAGE).contains(n))
        .ok_or_else(|| {
            bad(format!(
                "limit={value:?} must be a whole number from 1 to {MAX_PAGE}"
            ))
        })
}

/// Query values stay strings so a bad one gets a message naming it.
#[derive(Debug, Deserialize)]
pub struct LeadQuery {
    status: Option<String>,
    band: Option<String>,
    since: Option<String>,
    limit: Option<String>,
}

impl LeadQuery {
    fn filter(&self, now: &Zoned) -> Result<LeadFilter, ApiError> {
        let status = present(self.status.as_deref())
            .map(|v| {
                LeadStatus::parse(v).ok_or_else(|| {
                    bad(format!(
                        "status={v:?} is not one of \"open\", \"handed_off\", \"merged\", \"erased\""
                    ))
                })
            })
            .transpose()?;
        let band = present(self.band.as_deref())
            .map(|v| {
                Band::parse(v).ok_or_else(|| {
                    bad(format!(
                        "band={v:?} is not one of \"cold\", \"warm\", \"hot\""
                    ))
                })
            })
            .transpose()?;
        let since = present(self.since.as_deref())
            .map(|v| parse_since(v, now).map_err(|err| bad(format!("since={err}"))))
            .transpose()?;
        Ok(LeadFilter {
            status,
            band,
            customer_id: None,
            since,
            limit: Some(page_limit(self.limit.as_deref())?),
        })
    }
}

pub async fn list_leads(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<LeadQuery>,
) -> Result<Json<Value>, ApiError> {
    let now = Zoned::now().with_time_zone(state.config.flows.time_zone.clone());
    let filter = query.filter(&now)?;
    let leads = leads_with_customers(&state.store, &filter).await?;
    Ok(Json(json!({ "leads": leads, "limit": filter.limit })))
}

pub async fn show_lead(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<LeadDetail>, ApiError> {
    lead_detail(&state.store, &id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("the lead"))
}

pub async fn show_customer(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<CustomerDetail>, ApiError> {
    customer_detail(&state.store, &id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("the customer"))
}

#[derive(Debug, Deserialize)]
pub struct OutboxQuery {
    status: Option<String>,
    lead: Option<String>,
    limit: Option<String>,
}

impl OutboxQuery {
    fn filter(&self) -> Result<OutboxFilter, ApiError> {
        let status = present(self.status.as_deref())
            .map(|v| {
                OutboxStatus::parse(v).ok_or_else(|| {
                    bad(format!(
                        "status={v:?} is not one of \"pending\", \"delivered\", \"dead\""
                    ))
                })
            })
            .transpose()?;
        Ok(OutboxFilter {
            status,
            lead_id: present(self.lead.as_deref()).map(str::to_owned),
            customer_id: None,
            limit: Some(page_limit(self.limit.as_deref())?),
        })
    }
}

#[derive(Debug, Serialize)]
struct OutboxListing {
    counts: OutboxCounts,
    endpoint: EndpointState,
    messages: Vec<OutboxRecord>,
    limit: Option<i64>,
}

pub async fn list_outbox(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<OutboxQuery>,
) -> Result<Json<Value>, ApiError> {
    let filter = query.filter()?;
    let listing = OutboxListing {
        counts: state.store.outbox_counts().await?,
        endpoint: endpoint_state(&state.store, &state.config).await?,
        messages: state.store.list_outbox(&filter).await?,
        limit: filter.limit,
    };
    Ok(Json(json!(listing)))
}

/// Puts one dead (or pending) message back in line now, and switches the CRM endpoint
/// back on if it had answered 410 Gone: retrying means "send it now".
pub async fn retry_outbox_message(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let not_found = || ApiError::not_found("the outbox message");
    let id: i64 = id.parse().map_err(|_| not_found())?;
    let message = state
        .store
        .outbox_message(id)
        .await?
        .ok_or_else(not_found)?;
    if message.status == OutboxStatus::Delivered {
        return Err(bad(format!(
            "outbox message {id} was delivered already; to send it again with the same webhook-id run `showroom outbox replay {id}`"
        )));
    }
    let now = now_ms();
    let retried = state
        .store
        .retry_outbox(&OutboxSelection::Ids(vec![id]), now)
        .await?;
    let reenabled = reenable_endpoint(&state.store, &state.config).await?;
    state
        .store
        .record(&AuditEntry {
            at: now,
            actor: "admin:api".into(),
            action: "outbox.retried".into(),
            subject: message.customer_id.clone(),
            detail: Some(json!({ "ids": [id], "retried": retried, "endpoint_reenabled": reenabled.is_some() })),
        })
        .await?;
    let message = state
        .store
        .outbox_message(id)
        .await?
        .ok_or_else(not_found)?;
    Ok(Json(json!({
        "retried": retried,
        "endpoint_reenabled": reenabled.is_some(),
        "message": message,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bogota_noon() -> Zoned {
        "2026-12-10T12:00:00-05:00[America/Bogota]".parse().unwrap()
    }

    fn query<T: serde::de::DeserializeOwned>(pairs: &[(&str, &str)]) -> T {
        let map: serde_json::Map<String, Value> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
            .collect();
        serde_json::from_value(Value::Object(map)).unwrap()
    }

    #[test]
    fn since_reads_ages_back_from_now() {
        let now = bogota_noon();
        let noon = now.timestamp().as_millisecond();
        let hour = 3_600_000;
        assert_eq!(parse_since("7d", &now), Ok(noon - 7 * 24 * hour));
        assert_eq!(parse_since("12h", &now), Ok(noon - 12 * hour));
        assert_eq!(parse_since("2w", &now), Ok(noon - 14 * 24 * hour));
        assert_eq!(parse_since(" 0d ", &now), Ok(noon));
    }

    #[test]
    fn since_reads_dates_from_local_midnight() {
        let now = bogota_noon();
        let midnight: Timestamp = "2026-12-01T05:00:00Z".parse().unwrap();
        assert_eq!(
            parse_since("2026-12-01", &now),
            Ok(midnight.as_millisecond())
        );
        assert_eq!(
            parse_since("2026-12-01T08:00:00-05:00", &now),
            Ok(midnight.as_millisecond() + 8 * 3_600_000)
        );
    }

    #[test]
    fn since_refuses_other_text_and_names_it() {
        let now = bogota_noon();
        for text in [
            "yesterday",
            "7",
            "d",
            "7y",
            "-7d",
            "2026-13-01",
            "99999999999999d",
        ] {
            let err = parse_since(text, &now).unwrap_err();
            assert!(err.to_string().contains(&format!("{text:?}")), "{err}");
            assert!(err.to_string().contains("7d"), "{err}");
        }
    }

    #[test]
    fn lead_query_parses_with_defaults() {
        let now = bogota_noon();
        let filter = query::<LeadQuery>(&[]).filter(&now).unwrap();
        assert_eq!(filter.limit, Some(DEFAULT_PAGE));
        assert_eq!(
            (filter.status, filter.band, filter.since),
            (None, None, None)
        );
        let filter = query::<LeadQuery>(&[
            ("status", "handed_off"),
            ("band", "hot"),
            ("since", "1d"),
            ("limit", "10"),
        ])
        .filter(&now)
        .unwrap();
        assert_eq!(filter.status, Some(LeadStatus::HandedOff));
        assert_eq!(filter.band, Some(Band::Hot));
        assert_eq!(
            filter.since,
            Some(now.timestamp().as_millisecond() - 24 * 3_600_000)
        );
        assert_eq!(filter.limit, Some(10));
    }

    #[test]
    fn bad_query_values_are_named() {
        let now = bogota_noon();
        for (pairs, needle) in [
            (vec![("status", "closed")], "status=\"closed\""),
            (vec![("band", "tepid")], "band=\"tepid\""),
            (vec![("since", "ayer")], "since=\"ayer\""),
            (vec![("limit", "0")], "limit=\"0\""),
            (vec![("limit", "501")], "limit=\"501\""),
        ] {
            let err = query::<LeadQuery>(&pairs).filter(&now).unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidRequest);
            assert!(
                err.message.contains(needle),
                "{} lacks {needle}",
                err.message
            );
        }
        let err = query::<OutboxQuery>(&[("status", "failed")])
            .filter()
            .unwrap_err();
        assert!(err.message.contains("status=\"failed\""), "{}", err.message);
        let filter = query::<OutboxQuery>(&[("status", "dead"), ("lead", "L1")])
            .filter()
            .unwrap();
        assert_eq!(filter.status, Some(OutboxStatus::Dead));
        assert_eq!(filter.lead_id.as_deref(), Some("L1"));
    }
}
