//! "Continue on Telegram/Viber" for the widget: `GET /api/v1/chat/channels` says which
//! channels can be offered now, `POST /api/v1/chat/link` `{"session", "channel"}` gives
//! a one-time deep link that carries this web conversation over.
//!
//! The widget runs on the dealer's own site, another origin, so these answer CORS
//! (any origin: no cookies are involved, the session token in the body is the
//! credential, as on the WebSocket).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::SessionToken;
use crate::channels::linking::LinkError;
use crate::engine::ChannelKind;
use crate::http::{ApiError, ApiJson, AppState, ErrorCode};

/// Which channels the widget may offer.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Channels {
    telegram: bool,
    viber: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkRequest {
    session: String,
    channel: String,
}

#[derive(Debug, Serialize)]
pub struct LinkResponse {
    url: String,
    /// RFC 3339.
    expires_at: String,
}

/// Configured on this server and its bot account known (links need its name).
fn offered(state: &AppState, channel: ChannelKind) -> bool {
    let configured = match channel {
        ChannelKind::Telegram => state.telegram.is_some(),
        ChannelKind::Viber => state.viber.is_some(),
        ChannelKind::Web | ChannelKind::Cli => false,
    };
    configured && state.linker.can_link(channel)
}

/// Lets a page on any origin read the response.
fn cross_origin(response: impl IntoResponse) -> Response {
    let mut response = response.into_response();
    response.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    response
}

pub async fn channels(State(state): State<AppState>) -> Response {
    cross_origin(Json(Channels {
        telegram: offered(&state, ChannelKind::Telegram),
        viber: offered(&state, ChannelKind::Viber),
    }))
}

/// The browser's preflight before the widget POSTs JSON from another origin.
pub async fn preflight() -> Response {
    cross_origin((
        [
            (header::ACCESS_CONTROL_ALLOW_METHODS, "POST"),
            (header::ACCESS_CONTROL_ALLOW_HEADERS, "content-type"),
            (header::ACCESS_CONTROL_MAX_AGE, "86400"),
        ],
        axum::http::StatusCode::NO_CONTENT,
    ))
}

pub async fn create_link(
    State(state): State<AppState>,
    request: Result<ApiJson<LinkRequest>, ApiError>,
) -> Response {
    let result = match request {
        Ok(ApiJson(request)) => issue(&state, request).await,
        Err(err) => Err(err),
    };
    cross_origin(result)
}

async fn issue(state: &AppState, request: LinkRequest) -> Result<Json<LinkResponse>, ApiError> {
    let channel = match ChannelKind::parse(&request.channel) {
        Some(channel @ (ChannelKind::Telegram | ChannelKind::Viber)) => channel,
        _ => {
            return Err(ApiError::new(
                ErrorCode::InvalidRequest,
                format!(
                    "\"channel\" must be \"telegram\" or \"viber\", not {:?}",
                    request.channel
                ),
            ));
        }
    };
    let configured = match channel {
        ChannelKind::Telegram => state.telegram.is_some(),
        _ => state.viber.is_some(),
    };
    if !configured {
        return Err(link_error(LinkError::NotConfigured(channel)));
    }
    let unknown_session = || {
        ApiError::new(
            ErrorCode::NotFound,
            "there is no chat with this session; open the chat first, then ask for the link",
        )
    };
    let token = SessionToken::parse(&request.session).ok_or_else(unknown_session)?;
    let conversation = state
        .engine
        .find(&token.identity())
        .await?
        .ok_or_else(unknown_session)?;
    let offer = state
        .linker
        .issue(&conversation, channel)
        .await
        .map_err(link_error)?;
    Ok(Json(LinkResponse {
        url: offer.url,
        expires_at: offer.expires_at.to_string(),
    }))
}

fn link_error(err: LinkError) -> ApiError {
    match err {
        LinkError::NotConfigured(_) => ApiError::new(ErrorCode::NotFound, err.to_string()),
        // Learnt when the channel starts: a moment later it works.
        LinkError::AccountUnknown(_) => ApiError::new(ErrorCode::Unavailable, err.to_string()),
        LinkError::NotWebConversation(_) => {
            ApiError::new(ErrorCode::InvalidRequest, err.to_string())
        }
        LinkError::Store(store) => ApiError::from(store),
    }
}
