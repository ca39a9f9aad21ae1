//! The HTTP surface: `router(state)` assembles the web channel, health and metrics, and
//! the admin API (its own bearer-auth layer), under global limits — load shedding, a
//! concurrency cap, a timeout, panic catching, and a trace span with a request id.

mod bearer;
mod error;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::error_handling::HandleErrorLayer;
use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRequestParts};
use axum::http::Request;
use axum::http::request::Parts;
use axum::response::IntoResponse;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

pub use bearer::{BearerToken, check_bearer};
pub use error::{ApiError, ApiJson, ApiQuery, ErrorCode};

use crate::channels::web::WebLimits;
use crate::config::Config;
use crate::engine::Engine;
use crate::flows::FlowRegistry;
use crate::store::Store;

/// Everything request handlers share. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub engine: Arc<Engine>,
    pub store: Store,
    pub flows: Arc<FlowRegistry>,
    /// `None` when there is no knowledge folder.
    pub knowledge: Option<Arc<crate::knowledge::KnowledgeBase>>,
    /// The assistant's prompts; `None` when the assistant is off (no knowledge folder).
    pub prompts: Option<Arc<crate::assistant::prompts::PromptRegistry>>,
    pub web_limits: Arc<WebLimits>,
    /// Cancelled when the server shuts down; long-lived connections watch it.
    pub shutdown: CancellationToken,
    /// Tracks WebSocket connections so shutdown waits for their in-flight messages.
    pub connections: TaskTracker,
    /// Telegram, when configured.
    pub telegram: Option<Arc<crate::channels::telegram::TelegramChannel>>,
    /// Viber, when configured.
    pub viber: Option<Arc<crate::channels::viber::ViberChannel>>,
    /// "Continue on Telegram/Viber" links.
    pub linker: Arc<crate::channels::linking::Linker>,
}

/// The whole HTTP application.
pub fn router(state: AppState) -> Router {
    let timeout = state.config.http.request_timeout;
    let max_concurrent = state.config.http.max_concurrent_requests;
    Router::new()
        .merge(crate::channels::web::routes())
        .merge(crate::channels::telegram::routes())
        .merge(crate::channels::viber::routes())
        .merge(crate::booking::routes::routes(state.clone()))
        .merge(crate::admin::ops_routes())
        .nest("/admin/api", crate::admin::api_routes(state.clone()))
        .fallback(|| async { ApiError::not_found("this address") })
        .layer(DefaultBodyLimit::max(256 * 1024))
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
                .layer(TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
                    let request_id = req
                        .headers()
                        .get("x-request-id")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("-");
                    tracing::info_span!("http", method = %req.method(), path = %req.uri().path(), request_id)
                }))
                .layer(PropagateRequestIdLayer::x_request_id())
                .layer(CatchPanicLayer::custom(|_| {
                    ApiError::new(ErrorCode::Internal, "an internal error occurred").into_response()
                }))
                .layer(HandleErrorLayer::new(overloaded))
                .load_shed()
                .concurrency_limit(max_concurrent)
                .timeout(timeout),
        )
        .with_state(state)
}

async fn overloaded(err: tower::BoxError) -> ApiError {
    if err.is::<tower::timeout::error::Elapsed>() {
        ApiError::new(
            ErrorCode::Unavailable,
            "the request took too long; please try again",
        )
    } else if err.is::<tower::load_shed::error::Overloaded>() {
        ApiError::new(
            ErrorCode::Overloaded,
            "the server is busy; please try again shortly",
        )
    } else {
        tracing::error!(cause = %err, "unhandled middleware error");
        ApiError::new(ErrorCode::Internal, "an internal error occurred")
    }
}

/// The TCP peer of a request; unspecified when the server was not started with
/// connection info (router tests without a socket).
pub struct PeerAddr(pub SocketAddr);

impl<S: Send + Sync> FromRequestParts<S> for PeerAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|info| info.0)
            .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)));
        Ok(Self(peer))
    }
}

/// How long `/readyz` waits for the database.
pub const READINESS_TIMEOUT: Duration = Duration::from_secs(2);
