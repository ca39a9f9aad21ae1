//! Viber: events by webhook, replies through the REST bot API.
//!
//! - `api`: the documented JSON; `client`: the REST calls, rate limit and status codes.
//! - `render`: replies as messages and keyboards (and how a key press comes back);
//!   `events`: the callbacks, parsed; `webhook`: `POST /webhooks/viber`, signed.
//! - `round_trip`: the adapter in `showroom flows test --channel viber`.
//!
//! A customer who opened the chat is not subscribed yet: the only message that reaches
//! them is the answer to `conversation_started`, so the welcome goes in that HTTP answer
//! and the rest waits, undelivered, until they write or subscribe.

pub mod api;
pub mod client;
pub mod events;
pub mod render;
pub mod round_trip;
pub mod settings;
pub mod webhook;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use axum::Router;
use tokio_util::sync::CancellationToken;

use self::api::{SendMessage, Sender};
use self::client::{ViberClient, ViberError};
use self::events::{Incoming, IncomingMessage, Receipt, ViberUser};
use self::render::RenderedMessage;
use self::settings::ViberConfig;
use super::callbacks::CallbackCodec;
use super::delivery::{Deliver, DeliveryError, send_committed};
use super::linking::Linker;
use crate::engine::{
    ChannelIdentity, ChannelKind, ConversationLocks, Engine, EngineError, Language, Outbound,
};
use crate::http::AppState;
use crate::store::receipts::ChannelReceipt;
use crate::store::{ConversationHandle, Store, StoreError, now_ms};

/// The first wait before registering the webhook again; doubled up to 10 s.
const WEBHOOK_RETRY: Duration = Duration::from_millis(500);

/// Why a callback could not be handled; Viber sends it again later.
#[derive(Debug, thiserror::Error)]
pub enum ViberEventError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the opt-out of a Viber customer failed: {0}")]
    OptOut(#[from] crate::flows::actions::ActionError),
}

/// The Viber channel of this instance.
pub struct ViberChannel {
    config: ViberConfig,
    engine: Arc<Engine>,
    store: Store,
    linker: Arc<Linker>,
    client: ViberClient,
    codec: CallbackCodec,
    /// One customer's sends one at a time, so replies go out in order and two callbacks
    /// of the same customer never send the same leftover twice.
    sending: ConversationLocks,
}

impl ViberChannel {
    /// Builds the client; talks to Viber only in `run` and when sending.
    pub fn new(
        config: ViberConfig,
        engine: Arc<Engine>,
        store: Store,
        linker: Arc<Linker>,
    ) -> anyhow::Result<Self> {
        let client = ViberClient::new(&config)
            .map_err(|err| anyhow::anyhow!("cannot build the HTTP client for Viber: {err}"))?;
        let codec = render::action_codec(Arc::new(store.clone()));
        Ok(Self {
            config,
            engine,
            store,
            linker,
            client,
            codec,
            sending: ConversationLocks::new(256),
        })
    }

    /// Registers the webhook when configured (again and again until Viber takes it),
    /// learns the bot's chat URI, and waits until `token` is cancelled.
    pub async fn run(self: Arc<Self>, token: CancellationToken) {
        if let Some(uri) = &self.config.chat_uri {
            self.linker.set_viber_chat_uri(uri.clone());
        }
        if let Some(url) = self.config.webhook_url.clone() {
            tokio::select! {
                () = token.cancelled() => return,
                () = self.register_webhook(&url) => {}
            }
        } else {
            tracing::info!(
                "Viber is on without VIBER_WEBHOOK_URL: showroom answers POST /webhooks/viber but does not register it"
            );
        }
        if self.config.chat_uri.is_none() {
            tokio::select! {
                () = token.cancelled() => return,
                () = self.learn_chat_uri() => {}
            }
        }
        token.cancelled().await;
    }

    async fn register_webhook(&self, url: &str) {
        let mut attempt = 0;
        loop {
            match self.client.set_webhook(url).await {
                Ok(_) => {
                    tracing::info!(url = %crate::config::redact_url(url), "Viber webhook registered");
                    return;
                }
                Err(err) => {
                    let wait = crate::outbound::backoff(WEBHOOK_RETRY, attempt);
                    let hint = err.status().and_then(|s| s.operator_hint()).unwrap_or(
                        "check that VIBER_WEBHOOK_URL is showroom's public https address and that Viber can reach it",
                    );
                    tracing::warn!(cause = %err, ?wait, "cannot register the Viber webhook yet; trying again: {hint}");
                    tokio::time::sleep(wait).await;
                    attempt = attempt.saturating_add(1);
                }
            }
        }
    }

    async fn learn_chat_uri(&self) {
        for attempt in 0..5 {
            match self.client.get_account_info().await {
                Ok(account) => match account.uri.filter(|u| !u.is_empty()) {
                    Some(uri) => {
                        tracing::info!(%uri, "Viber chat URI learnt from get_account_info");
                        self.linker.set_viber_chat_uri(uri);
                        return;
                    }
                    None => {
                        tracing::warn!(
                            "Viber's account info has no uri; set viber.chat_uri in showroom.toml for \"continue on Viber\" links"
                        );
                        return;
                    }
                },
                Err(err) => {
                    tracing::warn!(cause = %err, "cannot read the Viber account info yet");
                    tokio::time::sleep(crate::outbound::backoff(WEBHOOK_RETRY, attempt)).await;
                }
            }
        }
        tracing::warn!(
            "no Viber chat URI: \"continue on Viber\" links are off; set viber.chat_uri in showroom.toml"
        );
    }

    fn sender(&self) -> Sender {
        Sender {
            name: self.config.sender_name.clone(),
            avatar: self.config.sender_avatar.clone(),
        }
    }

    /// The `send_message` body of one rendered message.
    fn body(
        &self,
        receiver: Option<&str>,
        rendered: RenderedMessage,
        tracking: String,
    ) -> SendMessage {
        render::send_message(
            receiver,
            self.sender(),
            self.config.min_api_version,
            rendered,
            tracking,
        )
    }

    async fn rendered(
        &self,
        outbound: &Outbound,
        language: Language,
    ) -> Result<Vec<RenderedMessage>, StoreError> {
        let buttons = render::encode_buttons(&self.codec, &outbound.reply.buttons).await?;
        Ok(render::render(&outbound.reply, &buttons, language))
    }

    fn identity(user_id: &str) -> ChannelIdentity {
        ChannelIdentity::new(ChannelKind::Viber, user_id)
    }

    /// Opens the customer's conversation; a new one is held in their app's language.
    async fn open(&self, user: &ViberUser) -> Result<ConversationHandle, EngineError> {
        let conversation = self.engine.open(&Self::identity(&user.id)).await?;
        // Only on first contact: no extra read on every message.
        if conversation.created
            && let Some(language) = user.language()
        {
            self.engine.prefer_language(&conversation, language).await?;
        }
        Ok(conversation)
    }

    /// `conversation_started`: starts (a deep link's `context` carries a flow or a link
    /// token) and returns the welcome for the HTTP answer. Only that one message reaches a
    /// customer who has not subscribed, so it holds as many of the first replies as fit
    /// one message up to the first one with buttons; the rest wait for the customer.
    pub async fn conversation_started(
        &self,
        user: &ViberUser,
        context: Option<String>,
        message_token: Option<&str>,
    ) -> Result<Option<SendMessage>, ViberEventError> {
        let conversation = self.open(user).await?;
        let context = context.filter(|c| !c.trim().is_empty());
        let replies = self
            .linker
            .start(&conversation, context, message_token)
            .await?;
        let language = self.engine.language_of(&conversation.id).await?;
        let Some((welcome, included)) = self.welcome(&replies, language).await? else {
            return Ok(None);
        };
        if let Err(err) = self.engine.mark_delivered(&replies[..included]).await {
            tracing::warn!(cause = %err, "could not mark the Viber welcome as delivered; it may be sent again");
        }
        Ok(Some(welcome))
    }

    /// The welcome message: the first replies joined while they fit one message and
    /// until one carries a keyboard. Returns it with how many replies it delivers.
    async fn welcome(
        &self,
        replies: &[Outbound],
        language: Language,
    ) -> Result<Option<(SendMessage, usize)>, StoreError> {
        let mut text = String::new();
        let mut keyboard = None;
        let mut included = 0;
        let mut whole = true;
        for outbound in replies {
            let mut parts = self.rendered(outbound, language).await?;
            if parts.len() > 1 {
                if included == 0 {
                    // A first reply longer than one message: its first part now, and the
                    // whole reply again once the customer writes (a repeat beats a loss).
                    text = parts.remove(0).text;
                    included = 1;
                    whole = false;
                }
                break;
            }
            let Some(part) = parts.pop() else { break };
            let joined = if text.is_empty() {
                part.text
            } else {
                format!("{text}\n\n{}", part.text)
            };
            if included > 0 && joined.chars().count() > api::MAX_TEXT_CHARS {
                break;
            }
            text = joined;
            keyboard = part.keyboard;
            included += 1;
            if keyboard.is_some() {
                break;
            }
        }
        if included == 0 {
            return Ok(None);
        }
        let tracking = format!("out:{}", replies[included - 1].id);
        let delivered = if whole { included } else { 0 };
        Ok(Some((
            self.body(None, RenderedMessage { text, keyboard }, tracking),
            delivered,
        )))
    }

    /// `subscribed`: the customer can be written to now; what waited goes out.
    pub async fn subscribed(&self, user: &ViberUser) -> Result<(), ViberEventError> {
        let conversation = self.open(user).await?;
        self.send_pending(&conversation, &user.id).await?;
        Ok(())
    }

    /// `unsubscribed`: the customer opted out of the bot. Like the privacy flow's
    /// "don't contact me": opted out, every consent withdrawn. Viber refuses further sends
    /// (not subscribed) until they write again.
    pub async fn unsubscribed(&self, user_id: &str) -> Result<(), ViberEventError> {
        let Some(conversation) = self.engine.find(&Self::identity(user_id)).await? else {
            tracing::info!("a Viber customer we never talked to unsubscribed; nothing to record");
            return Ok(());
        };
        let language = self.engine.language_of(&conversation.id).await?;
        let store = Arc::new(self.store.clone());
        let actions = crate::flows::actions::StoreActions::new(store.clone(), store);
        crate::flows::actions::Actions::run(
            &actions,
            crate::flows::actions::ActionCall {
                name: "opt_out",
                args: serde_json::Map::new(),
                customer_id: &conversation.customer_id,
                conversation_id: &conversation.id,
                channel: ChannelKind::Viber,
                language,
            },
        )
        .await?;
        metrics::counter!("showroom_viber_unsubscribed_total").increment(1);
        tracing::info!(conversation = %conversation.id, "a Viber customer unsubscribed: opted out, consents withdrawn");
        Ok(())
    }

    /// `message`: one customer turn, answered through `send_message`.
    pub async fn message(
        &self,
        sender: &ViberUser,
        message: &IncomingMessage,
        message_token: Option<&str>,
    ) -> Result<(), ViberEventError> {
        let conversation = self.open(sender).await?;
        match events::incoming(message, &self.codec).await? {
            Incoming::Content(content) => {
                self.engine
                    .handle(&conversation, content, message_token)
                    .await?;
            }
            Incoming::Unsupported(kind) => {
                tracing::debug!(%kind, "a Viber message showroom does not read; answered politely");
                let language = self.engine.language_of(&conversation.id).await?;
                let rendered = RenderedMessage {
                    text: events::unsupported_reply(language).into(),
                    keyboard: None,
                };
                let body = self.body(Some(&sender.id), rendered, "unsupported".into());
                if let Err(err) = self.client.send_message(&body).await {
                    tracing::warn!(cause = %err, "could not answer an unsupported Viber message");
                }
            }
        }
        self.send_pending(&conversation, &sender.id).await?;
        Ok(())
    }

    /// Sends, in order, every reply of the conversation not delivered yet: this turn's,
    /// and any an earlier send left behind (the welcome's rest, a failed send). A reply
    /// Viber already took is never sent again, also when Viber repeats a callback.
    async fn send_pending(
        &self,
        conversation: &ConversationHandle,
        user_id: &str,
    ) -> Result<(), EngineError> {
        let _one_at_a_time = self.sending.lock(user_id).await;
        let pending = self.engine.undelivered(conversation).await?;
        let language = self.engine.language_of(&conversation.id).await?;
        send_committed(&self.engine, self, user_id, &pending, language).await;
        Ok(())
    }

    /// `delivered`, `seen`, `failed`: kept, and counted.
    pub async fn receipt(&self, event: &'static str, receipt: &Receipt) -> Result<(), StoreError> {
        metrics::counter!("showroom_viber_receipts_total", "event" => event).increment(1);
        let Some(message_token) = receipt.message_token.clone() else {
            return Ok(());
        };
        if event == "failed" {
            tracing::warn!(
                reason = receipt.desc.as_deref().unwrap_or(""),
                "Viber could not deliver a message"
            );
        }
        self.store
            .record_receipt(&ChannelReceipt {
                channel: ChannelKind::Viber,
                message_token,
                user_id: receipt.user_id.clone(),
                event: event.to_owned(),
                description: receipt.desc.clone(),
                at: now_ms(),
            })
            .await?;
        Ok(())
    }

    /// Whether `signature` (the `X-Viber-Content-Signature` header) signs `body`.
    pub fn signed(&self, body: &[u8], signature: Option<&str>) -> bool {
        webhook::verify_signature(self.config.auth_token.as_bytes(), body, signature)
    }
}

/// What a failed send means for the replies.
fn delivery_error(err: ViberError) -> DeliveryError {
    let reason = err.to_string();
    match err.status() {
        Some(status) if status.is_unreachable() => DeliveryError::Unreachable {
            channel: ChannelKind::Viber,
            reason,
        },
        status => {
            if let Some(hint) = status.and_then(|s| s.operator_hint()) {
                tracing::error!(cause = %reason, "Viber refused a message: {hint}");
            }
            DeliveryError::Failed {
                channel: ChannelKind::Viber,
                reason,
            }
        }
    }
}

#[async_trait]
impl Deliver for ViberChannel {
    fn channel(&self) -> ChannelKind {
        ChannelKind::Viber
    }

    /// Each reply as one or more messages (7,000 characters each); a reply counts as
    /// handed over when all its parts were. A reply cut off half way is sent whole again.
    async fn deliver(
        &self,
        external_id: &str,
        replies: &[Outbound],
        language: Language,
    ) -> (usize, Option<DeliveryError>) {
        for (index, outbound) in replies.iter().enumerate() {
            let parts = match self.rendered(outbound, language).await {
                Ok(parts) => parts,
                Err(err) => {
                    return (
                        index,
                        Some(DeliveryError::Failed {
                            channel: ChannelKind::Viber,
                            reason: format!("cannot keep a button's payload: {err}"),
                        }),
                    );
                }
            };
            for part in parts {
                let body = self.body(Some(external_id), part, format!("out:{}", outbound.id));
                if let Err(err) = self.client.send_message(&body).await {
                    return (index, Some(delivery_error(err)));
                }
            }
        }
        (replies.len(), None)
    }
}

/// `POST /webhooks/viber`.
pub fn routes() -> Router<AppState> {
    Router::new().route("/webhooks/viber", axum::routing::post(webhook::receive))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channels::viber::api::ViberStatus;

    fn refused(code: i64) -> ViberError {
        ViberError::Refused {
            method: "send_message",
            status: ViberStatus::from_code(code),
            code,
            message: "x".into(),
        }
    }

    #[test]
    fn customers_viber_cannot_reach_stop_the_sending_and_the_rest_is_retried() {
        for code in [5, 6, 11] {
            assert!(
                matches!(
                    delivery_error(refused(code)),
                    DeliveryError::Unreachable { .. }
                ),
                "{code}"
            );
        }
        for err in [
            refused(12),
            refused(2),
            refused(3),
            refused(13),
            ViberError::Http {
                method: "send_message",
                status: 502,
            },
            ViberError::Transport("connection refused".into()),
        ] {
            assert!(matches!(delivery_error(err), DeliveryError::Failed { .. }));
        }
    }
}
