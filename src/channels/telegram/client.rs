//! The Bot API client: teloxide's `Bot` at the configured API URL behind its `Throttle`
//! adaptor (messages per chat and overall), plus our handling of "retry after N
//! seconds": Throttle is built with `no_retry`, so it freezes its queue for N seconds but
//! hands the error back; we wait the same N (the freeze runs alongside, not after) and
//! send again when N is within `max_retry_after`, else leave the message for later.

use std::time::Duration;

use teloxide_core::adaptors::Throttle;
use teloxide_core::adaptors::throttle::{Limits, Settings};
use teloxide_core::payloads::{
    AnswerCallbackQuerySetters, EditMessageTextSetters, GetUpdatesSetters, SendMessageSetters,
    SetWebhookSetters,
};
use teloxide_core::requests::{Request, Requester};
use teloxide_core::types::{
    AllowedUpdate, ButtonRequest, CallbackQueryId, ChatAction, ChatId, InlineKeyboardButton,
    InlineKeyboardMarkup, KeyboardButton, KeyboardMarkup, MessageId, ParseMode, ReplyMarkup,
    Update,
};
use teloxide_core::{ApiError, Bot, RequestError};

use super::render::{Markup, OutMessage};
use super::settings::TelegramConfig;
use crate::channels::delivery::DeliveryError;
use crate::engine::ChannelKind;

/// The updates this bot asks for.
pub const ALLOWED_UPDATES: [AllowedUpdate; 2] =
    [AllowedUpdate::Message, AllowedUpdate::CallbackQuery];

/// Talks to the Bot API.
#[derive(Clone)]
pub struct TelegramClient {
    bot: Throttle<Bot>,
    max_retry_after: Duration,
}

/// Why a call failed, sorted the way callers act on it.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The customer blocked the bot, deleted their account, or the chat is gone.
    #[error("the chat cannot be written to: {0}")]
    Unreachable(String),
    /// Telegram asked to wait longer than `max_retry_after`.
    #[error("Telegram asked to wait {0:?} before sending again")]
    TooLongToWait(Duration),
    #[error("{0}")]
    Failed(String),
}

impl CallError {
    fn from_request(err: RequestError) -> Self {
        match &err {
            RequestError::Api(
                ApiError::BotBlocked | ApiError::UserDeactivated | ApiError::ChatNotFound,
            ) => Self::Unreachable(err.to_string()),
            _ => Self::Failed(crate::outbound::with_causes(err.to_string(), &err)),
        }
    }

    pub fn into_delivery(self) -> DeliveryError {
        match self {
            Self::Unreachable(reason) => DeliveryError::Unreachable {
                channel: ChannelKind::Telegram,
                reason,
            },
            other => DeliveryError::Failed {
                channel: ChannelKind::Telegram,
                reason: other.to_string(),
            },
        }
    }
}

impl TelegramClient {
    /// Must be called inside the tokio runtime: Throttle's worker is spawned here.
    pub fn new(config: &TelegramConfig) -> anyhow::Result<Self> {
        let api_url = reqwest::Url::parse(&config.api_url).map_err(|err| {
            anyhow::anyhow!(
                "TELEGRAM_API_URL {:?} is not an address ({err}); set it like https://api.telegram.org",
                crate::config::redact_url(&config.api_url)
            )
        })?;
        // Long polls hold the request open for `poll_timeout`: the client must wait longer.
        let client = teloxide_core::net::default_reqwest_settings()
            .timeout(config.poll_timeout + Duration::from_secs(15))
            .build()
            .map_err(|err| anyhow::anyhow!("could not build the Telegram HTTP client: {err}"))?;
        let bot = Bot::with_client(config.token.clone(), client).set_api_url(api_url);
        let limits = Limits {
            messages_per_sec_chat: config.messages_per_second_per_chat,
            // Telegram's per-minute cap is for groups; a private chat is held to the per-second one.
            messages_per_min_chat: config.messages_per_second_per_chat.saturating_mul(60),
            messages_per_sec_overall: config.messages_per_second,
            ..Limits::default()
        };
        let bot = Throttle::spawn_with_settings(bot, Settings::default().limits(limits).no_retry());
        Ok(Self {
            bot,
            max_retry_after: config.max_retry_after,
        })
    }

    /// Runs `call` until it succeeds, fails for another reason than a rate limit, or
    /// Telegram asks to wait longer than `max_retry_after`.
    async fn with_retry_after<T, F, Fut>(&self, call: F) -> Result<T, CallError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, RequestError>>,
    {
        loop {
            match call().await {
                Ok(value) => return Ok(value),
                Err(RequestError::RetryAfter(seconds)) => {
                    let wait = seconds.duration();
                    if wait > self.max_retry_after {
                        return Err(CallError::TooLongToWait(wait));
                    }
                    tracing::info!(
                        ?wait,
                        "Telegram asked to slow down; waiting before sending again"
                    );
                    tokio::time::sleep(wait).await;
                }
                Err(err) => return Err(CallError::from_request(err)),
            }
        }
    }

    /// Sends one rendered message; returns its id.
    pub async fn send(&self, chat: i64, message: &OutMessage) -> Result<MessageId, CallError> {
        let markup = reply_markup(&message.markup);
        self.with_retry_after(|| {
            let mut request = self
                .bot
                .send_message(ChatId(chat), message.html.clone())
                .parse_mode(ParseMode::Html);
            if let Some(markup) = &markup {
                request = request.reply_markup(markup.clone());
            }
            async move { request.send().await.map(|sent| sent.id) }
        })
        .await
    }

    /// Replaces a message's text (and inline keyboard). "Not modified" is success.
    pub async fn edit(
        &self,
        chat: i64,
        id: MessageId,
        html: &str,
        markup: &Markup,
    ) -> Result<(), CallError> {
        let inline = match reply_markup(markup) {
            Some(ReplyMarkup::InlineKeyboard(keyboard)) => Some(keyboard),
            _ => None,
        };
        let result = self
            .with_retry_after(|| {
                let mut request = self
                    .bot
                    .edit_message_text(ChatId(chat), id, html.to_owned())
                    .parse_mode(ParseMode::Html);
                if let Some(keyboard) = &inline {
                    request = request.reply_markup(keyboard.clone());
                }
                async move { request.send().await.map(|_| ()) }
            })
            .await;
        match result {
            Err(CallError::Failed(reason)) if reason.contains("message is not modified") => Ok(()),
            other => other,
        }
    }

    /// Stops the button's spinner, optionally with an alert.
    pub async fn answer_callback(
        &self,
        query_id: &str,
        alert: Option<&str>,
    ) -> Result<(), CallError> {
        let mut request = self
            .bot
            .answer_callback_query(CallbackQueryId(query_id.to_owned()));
        if let Some(text) = alert {
            request = request.text(text).show_alert(true);
        }
        request
            .send()
            .await
            .map(|_| ())
            .map_err(CallError::from_request)
    }

    /// "typing…" in the chat.
    pub async fn typing(&self, chat: i64) -> Result<(), CallError> {
        self.bot
            .send_chat_action(ChatId(chat), ChatAction::Typing)
            .send()
            .await
            .map(|_| ())
            .map_err(CallError::from_request)
    }

    /// The bot's @username.
    pub async fn username(&self) -> Result<Option<String>, CallError> {
        let me = self
            .bot
            .get_me()
            .send()
            .await
            .map_err(CallError::from_request)?;
        Ok(me.user.username)
    }

    pub async fn set_webhook(&self, url: &str, secret: &str) -> Result<(), CallError> {
        let url = reqwest::Url::parse(url).map_err(|err| {
            CallError::Failed(format!("TELEGRAM_WEBHOOK_URL is not an address: {err}"))
        })?;
        self.bot
            .set_webhook(url)
            .secret_token(secret)
            .allowed_updates(ALLOWED_UPDATES)
            .drop_pending_updates(false)
            .send()
            .await
            .map(|_| ())
            .map_err(CallError::from_request)
    }

    pub async fn delete_webhook(&self) -> Result<(), CallError> {
        self.bot
            .delete_webhook()
            .send()
            .await
            .map(|_| ())
            .map_err(CallError::from_request)
    }

    /// Updates after `offset`, waiting up to `timeout` for one.
    pub async fn get_updates(
        &self,
        offset: i32,
        timeout: Duration,
    ) -> Result<Vec<Update>, CallError> {
        self.bot
            .get_updates()
            .offset(offset)
            .timeout(u32::try_from(timeout.as_secs()).unwrap_or(u32::MAX))
            .allowed_updates(ALLOWED_UPDATES)
            .send()
            .await
            .map_err(CallError::from_request)
    }
}

/// Our keyboard as teloxide's.
fn reply_markup(markup: &Markup) -> Option<ReplyMarkup> {
    match markup {
        Markup::None => None,
        Markup::Inline(rows) => Some(ReplyMarkup::InlineKeyboard(InlineKeyboardMarkup::new(
            rows.iter().map(|row| {
                row.iter()
                    .map(|(title, data)| {
                        InlineKeyboardButton::callback(title.clone(), data.clone())
                    })
                    .collect::<Vec<_>>()
            }),
        ))),
        Markup::Contact(label) => Some(ReplyMarkup::Keyboard(
            KeyboardMarkup::new([[
                KeyboardButton::new(label.clone()).request(ButtonRequest::Contact)
            ]])
            .one_time_keyboard()
            .resize_keyboard(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyboards_serialize_as_the_bot_api_documents() {
        let inline = reply_markup(&Markup::Inline(vec![vec![("Sí".into(), "yes".into())]]));
        assert_eq!(
            serde_json::to_value(inline).unwrap(),
            serde_json::json!({"inline_keyboard": [[{"text": "Sí", "callback_data": "yes"}]]})
        );
        let contact = serde_json::to_value(reply_markup(&Markup::Contact("📱".into()))).unwrap();
        assert_eq!(
            contact["keyboard"][0][0]["request_contact"], true,
            "{contact}"
        );
        assert_eq!(contact["one_time_keyboard"], true, "{contact}");
        assert_eq!(contact["resize_keyboard"], true, "{contact}");
    }
}
