//! Operations endpoints (`/healthz`, `/readyz`, `/metrics`) and the admin API under
//! `/admin/api`, which is off (404) unless `ADMIN_TOKEN` is set and then requires
//! `Authorization: Bearer <ADMIN_TOKEN>`.

mod bookings;
mod conversations;
mod flows;
mod health;
mod knowledge;
pub(crate) mod leads;
mod prompts;

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};

use crate::http::{ApiError, AppState, BearerToken, check_bearer};

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
        .route("/leads", get(leads::list_leads))
        .route("/leads/{id}", get(leads::show_lead))
        .route("/customers/{id}", get(leads::show_customer))
        .route("/outbox", get(leads::list_outbox))
        .route("/outbox/{id}/retry", post(leads::retry_outbox_message))
        .route("/flows", get(flows::status))
        .route("/flows/reload", post(flows::reload))
        .route("/knowledge", get(knowledge::status))
        .route("/prompts", get(prompts::status))
        .route("/knowledge/search", get(knowledge::search))
        .route("/knowledge/ingest", post(knowledge::ingest))
        .route_layer(middleware::from_fn_with_state(state, require_admin_token))
}

async fn require_admin_token(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    check_bearer(
        request.headers(),
        state.config.secrets.admin_token.as_deref(),
        &BearerToken {
            api: "the admin API",
            token: "admin token",
            variable: "ADMIN_TOKEN",
        },
    )?;
    Ok(next.run(request).await)
}
