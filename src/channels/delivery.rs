//! What a channel that reaches customers on its own (Telegram, Viber) offers the rest of
//! showroom: sending committed replies to a customer's address on that channel. The
//! turn handlers and the relay (pushed and left-over messages) both send through it, and
//! both mark what went out as delivered, so a reply is sent until it is.

use async_trait::async_trait;

use crate::engine::{ChannelKind, Engine, Language, Outbound};

/// Why replies could not be handed to the channel. Whatever was not handed over stays
/// undelivered and is tried again.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// The customer cannot be written to (blocked the bot, unsubscribed): stop trying.
    #[error("the customer cannot be reached on {channel}: {reason}")]
    Unreachable {
        channel: ChannelKind,
        reason: String,
    },
    /// Anything else (network, the platform's rate limit, a 5xx): try again later.
    #[error("{channel} did not take the message: {reason}")]
    Failed {
        channel: ChannelKind,
        reason: String,
    },
}

/// A channel that can send committed replies to one of its customers.
#[async_trait]
pub trait Deliver: Send + Sync {
    fn channel(&self) -> ChannelKind;

    /// Sends `replies` in order to `external_id` (a Telegram chat id, a Viber user id)
    /// and stops at the first that fails. Returns how many, from the first, were handed
    /// over, and the error that stopped it, if any.
    async fn deliver(
        &self,
        external_id: &str,
        replies: &[Outbound],
        language: Language,
    ) -> (usize, Option<DeliveryError>);
}

/// Sends `replies` through `channel` and marks the ones handed over as delivered.
/// Returns the error that stopped it, if any; unsent replies stay undelivered.
pub async fn send_committed(
    engine: &Engine,
    channel: &dyn Deliver,
    external_id: &str,
    replies: &[Outbound],
    language: Language,
) -> Option<DeliveryError> {
    if replies.is_empty() {
        return None;
    }
    let (sent, error) = channel.deliver(external_id, replies, language).await;
    let sent = sent.min(replies.len());
    if sent > 0
        && let Err(err) = engine.mark_delivered(&replies[..sent]).await
    {
        // Sent but not marked: the relay may send these again. Rare (database down right
        // after the platform took the message); a repeat beats a loss.
        tracing::error!(cause = %err, channel = %channel.channel(), "could not mark replies as delivered");
    }
    if let Some(err) = &error {
        tracing::warn!(cause = %err, channel = %channel.channel(), unsent = replies.len() - sent, "replies left for the relay");
    }
    error
}
