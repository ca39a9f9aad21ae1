//! `GET /admin/api/bookings?branch=&status=&kind=&from=&to=&limit=&offset=` (by start
//! time; `from`/`to` are RFC 3339 moments) and `GET /admin/api/bookings/{code}` (the
//! booking with its history: booked, rescheduled, reminders sent or skipped…).

use axum::Json;
use axum::extract::{Path, State};
use jiff::Timestamp;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::booking::{BookingCode, BookingFilter, BookingKind, BookingStatus};
use crate::http::{ApiError, ApiQuery, AppState, ErrorCode};
use crate::store::BookingStore;

const MAX_PAGE: u32 = 500;

/// Query values stay strings so a bad one gets a message naming it.
#[derive(Debug, Deserialize)]
pub struct BookingQuery {
    branch: Option<String>,
    status: Option<String>,
    kind: Option<String>,
    from: Option<String>,
    to: Option<String>,
    customer: Option<String>,
    limit: Option<String>,
    offset: Option<String>,
}

fn bad(message: String) -> ApiError {
    ApiError::new(ErrorCode::InvalidRequest, message)
}

fn moment(name: &str, value: Option<&str>) -> Result<Option<Timestamp>, ApiError> {
    value
        .filter(|v| !v.is_empty())
        .map(|v| {
            v.parse::<Timestamp>().map_err(|_| {
                bad(format!(
                    "{name}={v:?} is not an RFC 3339 moment; use one like 2026-11-28T00:00:00-05:00 or 2026-11-28T05:00:00Z"
                ))
            })
        })
        .transpose()
}

fn number(
    name: &str,
    value: Option<&str>,
    default: u32,
    range: (u32, u32),
) -> Result<u32, ApiError> {
    let Some(value) = value.filter(|v| !v.is_empty()) else {
        return Ok(default);
    };
    value
        .parse::<u32>()
        .ok()
        .filter(|n| (range.0..=range.1).contains(n))
        .ok_or_else(|| {
            bad(format!(
                "{name}={value:?} must be a whole number from {} to {}",
                range.0, range.1
            ))
        })
}

impl BookingQuery {
    fn filter(&self) -> Result<BookingFilter, ApiError> {
        let status = match self.status.as_deref().filter(|v| !v.is_empty()) {
            None => None,
            Some(v) => Some(BookingStatus::parse(v).ok_or_else(|| {
                bad(format!(
                    "status={v:?} is not one of \"confirmed\", \"cancelled\""
                ))
            })?),
        };
        let kind = match self.kind.as_deref().filter(|v| !v.is_empty()) {
            None => None,
            Some(v) => Some(BookingKind::parse(v).ok_or_else(|| {
                bad(format!(
                    "kind={v:?} is not one of \"test_drive\", \"service\""
                ))
            })?),
        };
        let from = moment("from", self.from.as_deref())?;
        let to = moment("to", self.to.as_deref())?;
        if let (Some(from), Some(to)) = (from, to)
            && from >= to
        {
            return Err(bad(format!("from ({from}) must be before to ({to})")));
        }
        Ok(BookingFilter {
            branch: self.branch.clone().filter(|v| !v.is_empty()),
            status,
            kind,
            from,
            to,
            customer_id: self.customer.clone().filter(|v| !v.is_empty()),
            limit: number("limit", self.limit.as_deref(), 50, (1, MAX_PAGE))?,
            offset: number("offset", self.offset.as_deref(), 0, (0, u32::MAX))?,
        })
    }
}

pub async fn list(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<BookingQuery>,
) -> Result<Json<Value>, ApiError> {
    let filter = query.filter()?;
    if let Some(branch) = &filter.branch
        && state.config.calendar.branch(branch).is_none()
    {
        let known: Vec<&str> = state
            .config
            .calendar
            .branches
            .iter()
            .map(|b| b.id.as_str())
            .collect();
        return Err(bad(format!(
            "branch={branch:?} is not a branch; known: {}",
            known.join(", ")
        )));
    }
    let bookings = state.store.list_bookings(&filter).await?;
    Ok(Json(json!({
        "bookings": bookings,
        "limit": filter.limit,
        "offset": filter.offset,
    })))
}

pub async fn show(
    State(state): State<AppState>,
    Path(code): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let not_found = || ApiError::not_found("the booking");
    let code = BookingCode::parse(&code).ok_or_else(not_found)?;
    let booking = state.store.booking(&code).await?.ok_or_else(not_found)?;
    let history = state.store.history(&booking.id).await?;
    Ok(Json(json!({ "booking": booking, "history": history })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(pairs: &[(&str, &str)]) -> BookingQuery {
        let map: serde_json::Map<String, Value> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
            .collect();
        serde_json::from_value(Value::Object(map)).unwrap()
    }

    #[test]
    fn filters_parse_with_defaults() {
        let filter = query(&[]).filter().unwrap();
        assert_eq!((filter.limit, filter.offset), (50, 0));
        let filter = query(&[
            ("status", "confirmed"),
            ("kind", "test_drive"),
            ("from", "2026-11-28T00:00:00-05:00"),
            ("to", "2026-11-29T05:00:00Z"),
            ("limit", "10"),
        ])
        .filter()
        .unwrap();
        assert_eq!(filter.status, Some(BookingStatus::Confirmed));
        assert_eq!(filter.kind, Some(BookingKind::TestDrive));
        assert_eq!(filter.from, Some("2026-11-28T05:00:00Z".parse().unwrap()));
        assert_eq!(filter.limit, 10);
    }

    #[test]
    fn bad_values_are_named() {
        for (pairs, needle) in [
            (vec![("from", "yesterday")], "from=\"yesterday\""),
            (vec![("status", "done")], "status=\"done\""),
            (vec![("kind", "repair")], "kind=\"repair\""),
            (vec![("limit", "0")], "limit=\"0\""),
            (vec![("offset", "-1")], "offset=\"-1\""),
            (
                vec![
                    ("from", "2026-11-29T00:00:00Z"),
                    ("to", "2026-11-28T00:00:00Z"),
                ],
                "must be before",
            ),
        ] {
            let err = query(&pairs).filter().unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidRequest);
            assert!(
                err.message.contains(needle),
                "{} lacks {needle}",
                err.message
            );
        }
    }
}
