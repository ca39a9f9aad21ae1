//! Telegram: updates by long polling or by webhook, replies through the Bot API.
//!
//! - `update`: an `Update` as what the customer did (pure; shared with `flows test`).
//! - `render`: a `Reply` as HTML messages with keyboards (pure; shared with `flows test`).
//! - `client`: the Bot API behind teloxide's `Throttle`, with `retry_after` honoured.
//! - `webhook`, `polling`: the two ways updates arrive; both end in
//!   [`TelegramChannel::handle_update`].
//!
//! A turn: "typing…", then the engine's answer streamed as edits of one message, then the
//! committed replies (the streamed one by a last edit of that message). A redelivered
//! update is answered once: only replies not yet delivered are sent.

pub mod client;
mod polling;
pub mod render;
pub mod round_trip;
pub mod settings;
pub mod update;
mod webhook;

use std::collections::HashSet;
use std::sync::Arc;

use async_trait::async_trait;
use teloxide_core::types::{MessageId, Update};
use tokio_util::sync::CancellationToken;

use self::client::{CallError, TelegramClient};
use self::render::{MAX_MESSAGE_UNITS, Markup, OutMessage};
use self::settings::{TelegramConfig, UpdateMode};
use self::update::{Action, Incoming};
use super::callbacks::CallbackCodec;
use super::delivery::{Deliver, DeliveryError, send_committed};
use super::edits::{EditableMessages, Shown, relay};
use super::linking::Linker;
use crate::engine::{
    ChannelKind, Engine, EngineError, InboundContent, Language, MENU_PAYLOAD, Outbound, Reply,
    ReplyStream,
};
use crate::store::{ConversationHandle, Store, StoreError};

pub use self::webhook::routes;

/// The Telegram channel of this instance.
pub struct TelegramChannel {
    config: TelegramConfig,
    engine: Arc<Engine>,
    linker: Arc<Linker>,
    client: TelegramClient,
    codec: CallbackCodec,
}

impl TelegramChannel {
    /// Builds the client (inside the runtime: the rate limiter's worker starts here);
    /// talks to Telegram only in `run`.
    pub fn new(
        config: TelegramConfig,
        engine: Arc<Engine>,
        store: Store,
        linker: Arc<Linker>,
    ) -> anyhow::Result<Self> {
        let client = TelegramClient::new(&config)?;
        Ok(Self {
            config,
            engine,
            linker,
            client,
            codec: CallbackCodec::telegram(Arc::new(store)),
        })
    }

    /// Registers the webhook (webhook mode) or polls for updates until `token` is cancelled.
    pub async fn run(self: Arc<Self>, token: CancellationToken) {
        let updates = async {
            match &self.config.mode {
                UpdateMode::Polling => polling::poll(self.clone(), token.clone()).await,
                UpdateMode::Webhook { url, secret } => {
                    webhook::register(&self.client, url, secret, &token).await;
                    token.cancelled().await;
                }
            }
        };
        tokio::join!(self.learn_username(&token), updates);
    }

    /// The bot's @username for "continue on Telegram" links: from settings, else `getMe`.
    async fn learn_username(&self, token: &CancellationToken) {
        let mode = match &self.config.mode {
            UpdateMode::Polling => "long polling".to_owned(),
            UpdateMode::Webhook { url, .. } => format!("webhook at {url}"),
        };
        if let Some(username) = &self.config.bot_username {
            tracing::info!(bot = %username, %mode, "Telegram is on");
            self.linker.set_telegram_username(username.clone());
            return;
        }
        let mut attempt = 0;
        loop {
            let result = tokio::select! {
                () = token.cancelled() => return,
                result = self.client.username() => result,
            };
            match result {
                Ok(Some(username)) => {
                    tracing::info!(bot = %username, %mode, "Telegram is on");
                    self.linker.set_telegram_username(username);
                    return;
                }
                Ok(None) => {
                    tracing::warn!(%mode, "Telegram's getMe returned no username; set [telegram] bot_username for \"continue on Telegram\" links");
                    return;
                }
                Err(err) => {
                    tracing::warn!(cause = %err, "could not ask Telegram for the bot's username (getMe); trying again");
                    let wait =
                        crate::outbound::backoff(std::time::Duration::from_millis(500), attempt);
                    attempt += 1;
                    tokio::select! {
                        () = token.cancelled() => return,
                        () = tokio::time::sleep(wait) => {}
                    }
                }
            }
        }
    }

    /// Handles one update from the webhook or the polling loop. Errors are logged: one
    /// customer's failure never stops the others.
    /// An error means the update may not be stored (the database is unreachable): the
    /// caller has Telegram send it again, and a repeat of what was stored is recognised
    /// by its `update_id`.
    pub async fn handle_update(&self, update: &Update) -> Result<(), EngineError> {
        let Some(incoming) = update::classify(update) else {
            tracing::debug!(
                update = update.id.0,
                "an update that is not a customer's action"
            );
            return Ok(());
        };
        let chat = incoming.chat_id;
        self.handle(incoming).await.inspect_err(|err| {
            tracing::error!(cause = %err, chat, "could not handle a Telegram update; Telegram will send it again");
        })
    }

    async fn handle(&self, incoming: Incoming) -> Result<(), EngineError> {
        let conversation = self.engine.open(&incoming.identity()).await?;
        // Only on first contact: no extra read on every message.
        if conversation.created
            && let Some(language) = incoming.language
        {
            self.engine.prefer_language(&conversation, language).await?;
        }
        let chat = incoming.chat_id;
        let message_id = incoming.channel_message_id();
        let content = match incoming.action {
            Action::Start { payload } => {
                self.typing(chat).await;
                let replies = self
                    .linker
                    .start(&conversation, payload, Some(&message_id))
                    .await?;
                self.deliver_fresh(&conversation, chat, replies, Vec::new())
                    .await;
                return Ok(());
            }
            Action::Text { text } if text.is_empty() => return Ok(()),
            Action::Text { text } => InboundContent::Text { text },
            Action::Contact { phone } => InboundContent::Contact { phone },
            Action::Callback { query_id, data } => {
                self.button(&conversation, &query_id, data.as_deref())
                    .await?
            }
            Action::Unsupported => {
                let language = self.engine.language_of(&conversation.id).await?;
                let polite = Reply::text(update::unsupported_text(language));
                let messages = render::render(&polite, &[], language);
                for message in &messages {
                    if let Err(err) = self.client.send(chat, message).await {
                        tracing::warn!(cause = %err, chat, "could not answer a message we cannot read");
                    }
                }
                return Ok(());
            }
        };
        self.typing(chat).await;
        let (stream, events) = ReplyStream::channel();
        let target = ChatMessages {
            client: &self.client,
            chat,
        };
        let turn = async {
            let result = self
                .engine
                .handle_streaming(&conversation, content, Some(&message_id), Some(&stream))
                .await;
            // Closing our end ends the relay once the router's writers are gone too.
            drop(stream);
            result
        };
        let (shown, replies) =
            tokio::join!(relay(events, &target, self.config.edit_interval), turn);
        self.deliver_fresh(&conversation, chat, replies?, shown)
            .await;
        Ok(())
    }

    /// A pressed button: stop its spinner, then its payload. A button whose data we no
    /// longer know gets an alert and the menu.
    async fn button(
        &self,
        conversation: &ConversationHandle,
        query_id: &str,
        data: Option<&str>,
    ) -> Result<InboundContent, EngineError> {
        let decoded = match data {
            Some(data) => update::button_content(&self.codec, data).await?,
            None => None,
        };
        let alert = match &decoded {
            Some(_) => None,
            None => Some(update::stale_button_text(
                self.engine.language_of(&conversation.id).await?,
            )),
        };
        if let Err(err) = self.client.answer_callback(query_id, alert).await {
            tracing::warn!(cause = %err, "could not answer a callback query");
        }
        Ok(decoded.unwrap_or_else(|| InboundContent::Button {
            payload: MENU_PAYLOAD.to_owned(),
        }))
    }

    async fn typing(&self, chat: i64) {
        if let Err(err) = self.client.typing(chat).await {
            tracing::debug!(cause = %err, chat, "could not show \"typing…\"");
        }
    }

    /// Sends the replies of a turn that were not delivered yet (a redelivered update gets
    /// its original replies back from the engine, already delivered). A streamed reply
    /// replaces its preview message (a long one: with its first part).
    async fn deliver_fresh(
        &self,
        conversation: &ConversationHandle,
        chat: i64,
        replies: Vec<Outbound>,
        shown: Vec<Shown<MessageId>>,
    ) {
        let pending: Option<HashSet<i64>> = match self.engine.undelivered(conversation).await {
            Ok(list) => Some(list.iter().map(|r| r.id).collect()),
            Err(err) => {
                tracing::warn!(cause = %err, "could not read which replies are undelivered; sending the turn's replies");
                None
            }
        };
        let replies: Vec<Outbound> = replies
            .into_iter()
            .filter(|r| pending.as_ref().is_none_or(|p| p.contains(&r.id)))
            .collect();
        let language = self
            .engine
            .language_of(&conversation.id)
            .await
            .unwrap_or_default();
        let mut rest = Vec::with_capacity(replies.len());
        for reply in replies {
            if self.replace_preview(chat, &reply, &shown, language).await {
                if let Err(err) = self
                    .engine
                    .mark_delivered(std::slice::from_ref(&reply))
                    .await
                {
                    tracing::error!(cause = %err, "could not mark a streamed reply as delivered");
                }
            } else {
                rest.push(reply);
            }
        }
        send_committed(&self.engine, self, &chat.to_string(), &rest, language).await;
    }

    /// Edits the message a reply was streamed into to its committed text (its first
    /// part, the other parts sent after it); `false` when it was not streamed, its first
    /// message carries the contact keyboard, or Telegram refused a call.
    async fn replace_preview(
        &self,
        chat: i64,
        reply: &Outbound,
        shown: &[Shown<MessageId>],
        language: Language,
    ) -> bool {
        let Some(preview) = reply
            .reply
            .stream_id
            .as_ref()
            .and_then(|id| shown.iter().find(|s| s.stream == *id))
        else {
            return false;
        };
        let messages = match render_reply(&self.codec, &reply.reply, language).await {
            Ok(messages) => messages,
            Err(err) => {
                tracing::warn!(cause = %err, "could not store a button payload");
                return false;
            }
        };
        let Some((first, rest)) = messages.split_first() else {
            return false;
        };
        if matches!(first.markup, Markup::Contact(_)) {
            // Only inline keyboards can be added by an edit.
            return false;
        }
        if let Err(err) = self
            .client
            .edit(chat, preview.sent, &first.html, &first.markup)
            .await
        {
            tracing::warn!(cause = %err, chat, "could not edit the streamed answer; sending it anew");
            return false;
        }
        // A reply longer than one message: the preview became its first part, the rest
        // follow as new messages (sending the whole reply again would repeat that part).
        for message in rest.iter().filter(|m| !m.html.is_empty()) {
            if let Err(err) = self.client.send(chat, message).await {
                tracing::warn!(cause = %err, chat, "could not send the rest of a streamed answer; sending it anew");
                return false;
            }
        }
        true
    }
}

/// `reply` as Telegram messages, its buttons' payloads encoded as callback data.
pub async fn render_reply(
    codec: &CallbackCodec,
    reply: &Reply,
    language: Language,
) -> Result<Vec<OutMessage>, StoreError> {
    let mut data = Vec::with_capacity(reply.buttons.len());
    for button in &reply.buttons {
        data.push(codec.encode(&button.payload).await?);
    }
    Ok(render::render(reply, &data, language))
}

#[async_trait]
impl Deliver for TelegramChannel {
    fn channel(&self) -> ChannelKind {
        ChannelKind::Telegram
    }

    async fn deliver(
        &self,
        external_id: &str,
        replies: &[Outbound],
        language: Language,
    ) -> (usize, Option<DeliveryError>) {
        let Ok(chat) = external_id.parse::<i64>() else {
            return (
                0,
                Some(DeliveryError::Unreachable {
                    channel: ChannelKind::Telegram,
                    reason: format!("{external_id:?} is not a Telegram chat id"),
                }),
            );
        };
        for (sent, reply) in replies.iter().enumerate() {
            let messages = match render_reply(&self.codec, &reply.reply, language).await {
                Ok(messages) => messages,
                Err(err) => {
                    return (
                        sent,
                        Some(DeliveryError::Failed {
                            channel: ChannelKind::Telegram,
                            reason: format!("could not store a button payload: {err}"),
                        }),
                    );
                }
            };
            for message in messages.iter().filter(|m| !m.html.is_empty()) {
                if let Err(err) = self.client.send(chat, message).await {
                    return (sent, Some(err.into_delivery()));
                }
            }
        }
        (replies.len(), None)
    }
}

/// One chat's messages, for showing an answer while it is written.
struct ChatMessages<'a> {
    client: &'a TelegramClient,
    chat: i64,
}

impl ChatMessages<'_> {
    /// The preview as HTML, cut to one message (the committed reply is split properly).
    fn preview(text: &str) -> OutMessage {
        let (first, _) = render::split_text(text, MAX_MESSAGE_UNITS)
            .into_iter()
            .next()
            .unwrap_or(("…", ""));
        OutMessage {
            html: render::escape(first),
            markup: Markup::None,
            joined_by: "",
            contact_prompt: false,
        }
    }
}

#[async_trait]
impl EditableMessages for ChatMessages<'_> {
    type Sent = MessageId;
    type Error = CallError;

    async fn send(&self, text: &str) -> Result<MessageId, CallError> {
        self.client.send(self.chat, &Self::preview(text)).await
    }

    async fn edit(&self, sent: &MessageId, text: &str) -> Result<(), CallError> {
        let preview = Self::preview(text);
        self.client
            .edit(self.chat, *sent, &preview.html, &Markup::None)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_growing_answer_is_escaped_and_cut_to_one_message() {
        let preview = ChatMessages::preview("Precio < 100 & más");
        assert_eq!(preview.html, "Precio &lt; 100 &amp; más");
        let long = "palabra ".repeat(1000);
        let preview = ChatMessages::preview(&long);
        assert!(render::visible_len(&preview.html) <= MAX_MESSAGE_UNITS);
        assert_eq!(preview.markup, Markup::None);
    }
}
