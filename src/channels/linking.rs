//! One customer across channels: the widget offers "continue on Telegram/Viber" with a
//! deep link that carries a one-time token; the first `/start <token>` (Telegram) or
//! `conversation_started` with that context (Viber) links the new identity to the web
//! customer and carries the conversation over.

use std::sync::{Arc, RwLock};

use crate::engine::{Engine, EngineError, InboundContent, Outbound};
use crate::store::{ConversationHandle, Store};

/// Start payloads that are link tokens begin with this.
pub const LINK_PREFIX: &str = "lnk_";

/// Issues and redeems link tokens.
pub struct Linker {
    #[allow(dead_code)]
    store: Store,
    engine: Arc<Engine>,
    /// Where the links point; learnt from the channels when they start.
    targets: RwLock<LinkTargets>,
}

/// The bot accounts links open.
#[derive(Debug, Clone, Default)]
pub struct LinkTargets {
    /// `https://t.me/<username>?start=<token>`.
    pub telegram_username: Option<String>,
    /// `viber://pa?chatURI=<uri>&context=<token>`.
    pub viber_chat_uri: Option<String>,
}

impl Linker {
    pub fn new(store: Store, engine: Arc<Engine>) -> Self {
        Self {
            store,
            engine,
            targets: RwLock::default(),
        }
    }

    /// The Telegram bot's username (from settings or `getMe`).
    pub fn set_telegram_username(&self, username: String) {
        self.targets
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .telegram_username = Some(username);
    }

    /// The Viber bot's chat URI (from settings or `get_account_info`).
    pub fn set_viber_chat_uri(&self, uri: String) {
        self.targets
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .viber_chat_uri = Some(uri);
    }

    /// Where links point now.
    pub fn targets(&self) -> LinkTargets {
        self.targets
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Handles a channel's `Start` event: a link token links and continues the web
    /// conversation; anything else starts as usual (deep links to flows included).
    pub async fn start(
        &self,
        conversation: &ConversationHandle,
        payload: Option<String>,
        channel_message_id: Option<&str>,
    ) -> Result<Vec<Outbound>, EngineError> {
        self.engine
            .handle(
                conversation,
                InboundContent::Start { payload },
                channel_message_id,
            )
            .await
    }
}
