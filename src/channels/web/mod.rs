//! The web channel: the embeddable widget and its demo page, the chat WebSocket and the
//! same conversation over plain HTTP. Session tokens identify a browser's conversation;
//! an unknown or malformed token gets a fresh session (never one chosen by the client).

mod frames;
mod limits;
mod link;
mod rest;
mod token;
mod ws;

use std::net::IpAddr;

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{get, post};

pub use frames::{ClientFrame, ServerFrame};
pub use limits::WebLimits;
pub use token::SessionToken;

use crate::engine::{InboundContent, Outbound, ReplyStream};
use crate::http::{ApiError, AppState};
use crate::store::ConversationHandle;

const WIDGET_JS: &str = include_str!("../../../assets/widget.js");
const DEMO_PAGE: &str = include_str!("../../../assets/index.html");

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(demo_page))
        .route("/widget.js", get(widget_js))
        .route("/api/v1/chat/ws", get(ws::upgrade))
        .route("/api/v1/chat/messages", post(rest::post_message))
        .route("/api/v1/chat/channels", get(link::channels))
        .route(
            "/api/v1/chat/link",
            post(link::create_link).options(link::preflight),
        )
}

async fn demo_page() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        DEMO_PAGE,
    )
}

async fn widget_js() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            // Short cache: dealers pick up widget fixes within minutes.
            (header::CACHE_CONTROL, "public, max-age=300"),
            // The widget is embedded on the dealer's own site, another origin.
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
        ],
        WIDGET_JS,
    )
}

/// A browser's conversation, found from its token or freshly created.
pub(crate) struct WebSession {
    pub token: SessionToken,
    pub conversation: ConversationHandle,
    /// Created by this request: the greeting has not been sent yet.
    pub fresh: bool,
}

impl WebSession {
    /// Creating a session counts against the address's message budget, so a script
    /// cannot fill the database with empty conversations.
    pub async fn resolve(
        state: &AppState,
        requested: Option<&str>,
        ip: IpAddr,
    ) -> Result<Self, ApiError> {
        if let Some(token) = requested.and_then(SessionToken::parse)
            && let Some(conversation) = state.engine.find(&token.identity()).await?
        {
            return Ok(Self {
                token,
                conversation,
                fresh: false,
            });
        }
        state.web_limits.check_address(ip)?;
        let token = SessionToken::generate();
        let conversation = state.engine.open(&token.identity()).await?;
        Ok(Self {
            token,
            conversation,
            fresh: true,
        })
    }

    /// Greets a fresh session: the conversation's `Start` event.
    pub async fn start(&self, state: &AppState) -> Result<Vec<Outbound>, ApiError> {
        Ok(state
            .engine
            .handle(
                &self.conversation,
                InboundContent::Start { payload: None },
                None,
            )
            .await?)
    }

    /// Checks limits, then hands a customer's frame to the engine.
    pub async fn send(
        &self,
        state: &AppState,
        ip: IpAddr,
        frame: ClientFrame,
    ) -> Result<Vec<Outbound>, ApiError> {
        self.send_streaming(state, ip, frame, None).await
    }

    /// [`WebSession::send`], streaming answers to `stream` while they are composed.
    pub async fn send_streaming(
        &self,
        state: &AppState,
        ip: IpAddr,
        frame: ClientFrame,
        stream: Option<&ReplyStream>,
    ) -> Result<Vec<Outbound>, ApiError> {
        let content = match frame {
            ClientFrame::Message { text } => {
                state.web_limits.check_text(&text)?;
                InboundContent::Text {
                    text: text.trim().to_owned(),
                }
            }
            ClientFrame::Button { payload } => {
                state.web_limits.check_text(&payload)?;
                InboundContent::Button { payload }
            }
        };
        state.web_limits.check_rate(&self.conversation.id, ip)?;
        Ok(state
            .engine
            .handle_streaming(&self.conversation, content, None, stream)
            .await?)
    }
}
