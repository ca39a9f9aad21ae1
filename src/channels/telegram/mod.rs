//! Telegram: updates by long polling or by webhook, replies through the Bot API.

pub mod round_trip;
pub mod settings;

use std::sync::Arc;

use async_trait::async_trait;
use axum::Router;
use tokio_util::sync::CancellationToken;

use self::settings::TelegramConfig;
use super::delivery::{Deliver, DeliveryError};
use super::linking::Linker;
use crate::engine::{ChannelKind, Engine, Language, Outbound};
use crate::http::AppState;
use crate::store::Store;

/// The Telegram channel of this instance.
pub struct TelegramChannel {
    #[allow(dead_code)]
    config: TelegramConfig,
    #[allow(dead_code)]
    engine: Arc<Engine>,
    #[allow(dead_code)]
    store: Store,
    #[allow(dead_code)]
    linker: Arc<Linker>,
}

impl TelegramChannel {
    /// Builds the client; talks to Telegram only in `run`.
    pub fn new(
        config: TelegramConfig,
        engine: Arc<Engine>,
        store: Store,
        linker: Arc<Linker>,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            config,
            engine,
            store,
            linker,
        })
    }

    /// Registers the webhook (webhook mode) or polls for updates until `token` is cancelled.
    pub async fn run(self: Arc<Self>, token: CancellationToken) {
        token.cancelled().await;
    }
}

#[async_trait]
impl Deliver for TelegramChannel {
    fn channel(&self) -> ChannelKind {
        ChannelKind::Telegram
    }

    async fn deliver(
        &self,
        _external_id: &str,
        _replies: &[Outbound],
        _language: Language,
    ) -> (usize, Option<DeliveryError>) {
        (
            0,
            Some(DeliveryError::Failed {
                channel: ChannelKind::Telegram,
                reason: "not wired yet".into(),
            }),
        )
    }
}

/// `POST /webhooks/telegram`.
pub fn routes() -> Router<AppState> {
    Router::new()
}
