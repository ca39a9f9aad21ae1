//! Operations endpoints (`/healthz`, `/readyz`, `/metrics`) and the admin API under
//! `/admin/api`, which is off (404) unless `ADMIN_TOKEN` is set and then requires
//! `Authorization: Bearer <ADMIN_TOKEN>`.

mod bookings;
mod conversations;
mod flows;
mod health;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use subtle::ConstantTimeEq;

use crate::http::{ApiError, AppState, ErrorCode};

pub fn ops_routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
}

pub fn api_routes(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/conversations", get(conversations::list))
        .route("/conversations/{id}", get(conversations::show))
        .route("/bookings", get(bookings::list))
        .route("/bookings/{code}", get(bookings::show))
        .route("/flows", get(flows::status))
        .route("/flows/reload", post(flows::reload))
        .route_layer(middleware::from_fn_with_state(state, require_admin_token))
}

async fn require_admin_token(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let Some(expected) = state.config.secrets.admin_token.as_deref() else {
        return Err(ApiError::not_found(
            "the admin API (set ADMIN_TOKEN to turn it on)",
        ));
    };
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if bool::from(presented.as_bytes().ct_eq(expected.as_bytes())) {
        Ok(next.run(request).await)
    } else {
        Err(ApiError::new(
            ErrorCode::Unauthorized,
            "send the admin token as \"Authorization: Bearer <ADMIN_TOKEN>\"",
        ))
    }
}
