//! The booking endpoints outside the admin API: the calendar file a confirmation links
//! to (`GET /api/v1/bookings/{code}.ics?token=…`) and outreach for the CRM/ERP
//! (`POST /api/v1/outreach`, behind its own bearer token).
//!
//! The `.ics` link is the customer's only credential for it: a wrong or missing token
//! answers exactly like an unknown code (404), so links cannot be probed for codes.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::header;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::ics::IcsEvent;
use super::outreach;
use super::{BookingCode, BookingStatus};
use crate::http::{ApiError, ApiQuery, AppState, ErrorCode};
use crate::store::BookingStore;

pub fn routes(state: AppState) -> Router<AppState> {
    let outreach = Router::new()
        .route("/api/v1/outreach", post(outreach::send))
        .route_layer(middleware::from_fn_with_state(
            state,
            outreach::require_api_token,
        ));
    Router::new()
        .route("/api/v1/bookings/{file}", get(calendar_file))
        .merge(outreach)
}

#[derive(Debug, Deserialize)]
pub struct IcsQuery {
    token: Option<String>,
}

/// `GET /api/v1/bookings/PM-7K3QX.ics?token=…`: 404 for an unknown code or a wrong
/// token, 410 once the booking is cancelled.
async fn calendar_file(
    State(state): State<AppState>,
    Path(file): Path<String>,
    ApiQuery(query): ApiQuery<IcsQuery>,
) -> Result<Response, ApiError> {
    let not_found = || ApiError::not_found("the booking");
    let code = file
        .strip_suffix(".ics")
        .and_then(BookingCode::parse)
        .ok_or_else(not_found)?;
    let booking = state.store.booking(&code).await?.ok_or_else(not_found)?;
    let token = query.token.unwrap_or_default();
    let matches = bool::from(token.as_bytes().ct_eq(booking.ics_token.as_bytes()));
    if token.is_empty() || !matches {
        return Err(not_found());
    }
    if booking.status == BookingStatus::Cancelled {
        return Err(ApiError::new(
            ErrorCode::Gone,
            format!("the booking {code} was cancelled"),
        ));
    }
    let history = state.store.history(&booking.id).await?;
    let moved = history.iter().filter(|e| e.event == "rescheduled").count();
    let ics = IcsEvent::for_booking(
        &booking,
        &state.config.calendar,
        &state.config.catalog.models,
        &state.config.bot.name,
        u32::try_from(moved).unwrap_or(u32::MAX),
        jiff::Timestamp::now(),
    )
    .render();
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "text/calendar; charset=utf-8".to_owned(),
            ),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{code}.ics\""),
            ),
            // The link carries a credential: keep it out of shared caches.
            (header::CACHE_CONTROL, "private, no-store".to_owned()),
        ],
        ics,
    )
        .into_response())
}
