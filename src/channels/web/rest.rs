//! `POST /api/v1/chat/messages`: the widget's conversation over plain HTTP, for clients
//! that cannot hold a WebSocket. `{"session"?, "text" | "button"}` →
//! `{"session", "replies": [message frames]}`. Without text or button it returns the
//! greeting (new session) or anything not yet delivered (existing session).

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};

use super::{ClientFrame, ServerFrame, WebSession};
use crate::http::{ApiError, ApiJson, AppState, ErrorCode, PeerAddr};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatRequest {
    session: Option<String>,
    text: Option<String>,
    button: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct ChatResponse {
    session: String,
    replies: Vec<serde_json::Value>,
}

pub async fn post_message(
    State(state): State<AppState>,
    PeerAddr(peer): PeerAddr,
    headers: HeaderMap,
    ApiJson(request): ApiJson<ChatRequest>,
) -> Result<Json<ChatResponse>, ApiError> {
    let frame = match (request.text, request.button) {
        (Some(_), Some(_)) => {
            return Err(ApiError::new(
                ErrorCode::InvalidRequest,
                "send either \"text\" or \"button\", not both",
            ));
        }
        (Some(text), None) => Some(ClientFrame::Message { text }),
        (None, Some(payload)) => Some(ClientFrame::Button { payload }),
        (None, None) => None,
    };
    let ip = state.web_limits.client_ip(peer, &headers);
    // Refuse a bad message before creating anything, so a refused first request leaves
    // no conversation behind.
    if let Some(ClientFrame::Message { text } | ClientFrame::Button { payload: text }) = &frame {
        state.web_limits.check_text(text)?;
    }
    let session = WebSession::resolve(&state, request.session.as_deref(), ip).await?;
    let mut replies = if session.fresh {
        session.start(&state).await?
    } else {
        state.engine.undelivered(&session.conversation).await?
    };
    if let Some(frame) = frame {
        replies.extend(session.send(&state, ip, frame).await?);
    }
    state.engine.mark_delivered(&replies).await?;
    Ok(Json(ChatResponse {
        session: session.token.as_str().to_owned(),
        replies: replies
            .iter()
            .map(|r| serde_json::to_value(ServerFrame::message(r)).unwrap_or_default())
            .collect(),
    }))
}
