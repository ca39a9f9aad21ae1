//! The Telegram adapter in the loop of `showroom flows test --channel telegram`.

use async_trait::async_trait;

use crate::engine::{InboundContent, Reply};
use crate::flows::testing::ChannelRoundTrip;

/// Renders replies as Telegram messages and parses customer actions as Telegram updates.
#[derive(Default)]
pub struct TelegramRoundTrip;

impl TelegramRoundTrip {
    pub fn new() -> Self {
        Self
    }
}

#[async_trait]
impl ChannelRoundTrip for TelegramRoundTrip {
    fn name(&self) -> &'static str {
        "telegram"
    }

    async fn shown(&self, replies: &[Reply]) -> Result<Vec<Reply>, String> {
        Ok(replies.to_vec())
    }

    async fn received(&self, content: InboundContent) -> Result<InboundContent, String> {
        Ok(content)
    }
}
