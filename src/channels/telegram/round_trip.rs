//! The Telegram adapter in the loop of `showroom flows test --channel telegram`: each
//! reply is rendered by the same renderer the bot sends with, serialized as the
//! `sendMessage` request body, checked against Telegram's limits and read back as the
//! customer sees it; each customer action is built as a documented `Update` and parsed
//! by the same parser the webhook and the polling loop use.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use async_trait::async_trait;
use serde_json::{Value, json};

use super::render::{self, MAX_MESSAGE_UNITS, Markup};
use super::update::{self, Action};
use crate::channels::callbacks::{CallbackCodec, MemoryPayloads, TELEGRAM_CALLBACK_BYTES};
use crate::engine::{Button, InboundContent, Language, Reply};
use crate::flows::testing::ChannelRoundTrip;

/// The customer's chat (and user) id in the built updates.
const CHAT_ID: i64 = 5_550_001;

/// Renders replies as Telegram messages and parses customer actions as Telegram updates.
pub struct TelegramRoundTrip {
    codec: CallbackCodec,
    next_update: AtomicU32,
}

impl Default for TelegramRoundTrip {
    fn default() -> Self {
        Self::new()
    }
}

impl TelegramRoundTrip {
    pub fn new() -> Self {
        Self {
            codec: CallbackCodec::telegram(Arc::new(MemoryPayloads::default())),
            next_update: AtomicU32::new(1),
        }
    }

    fn update_id(&self) -> u32 {
        self.next_update.fetch_add(1, Ordering::Relaxed)
    }
}

/// The `sendMessage` body teloxide posts for `message` (JSON; the fields the Bot API
/// documents).
fn send_message_body(message: &render::OutMessage) -> Value {
    let mut body = json!({"chat_id": CHAT_ID, "text": message.html, "parse_mode": "HTML"});
    match &message.markup {
        Markup::None => {}
        Markup::Inline(rows) => {
            body["reply_markup"] = json!({
                "inline_keyboard": rows.iter().map(|row| row.iter().map(|(text, data)| {
                    json!({"text": text, "callback_data": data})
                }).collect::<Vec<_>>()).collect::<Vec<_>>()
            });
        }
        Markup::Contact(label) => {
            body["reply_markup"] = json!({
                "keyboard": [[{"text": label, "request_contact": true}]],
                "one_time_keyboard": true,
                "resize_keyboard": true
            });
        }
    }
    body
}

/// What the customer sees of one `sendMessage` body, after checking Telegram's limits.
fn read_back(body: &Value) -> Result<(String, Vec<Button>), String> {
    let html = body["text"].as_str().unwrap_or_default();
    let text = render::visible_text(html)?;
    let units = render::utf16_len(&text);
    if units > MAX_MESSAGE_UNITS {
        return Err(format!(
            "a message of {units} characters is over Telegram's {MAX_MESSAGE_UNITS}"
        ));
    }
    let mut buttons = Vec::new();
    if let Some(rows) = body["reply_markup"]["inline_keyboard"].as_array() {
        for button in rows.iter().filter_map(Value::as_array).flatten() {
            let title = button["text"].as_str().unwrap_or_default();
            let data = button["callback_data"].as_str().unwrap_or_default();
            if data.is_empty() || data.len() > TELEGRAM_CALLBACK_BYTES {
                return Err(format!(
                    "the button \"{title}\" has callback_data of {} bytes; Telegram takes 1–{TELEGRAM_CALLBACK_BYTES}",
                    data.len()
                ));
            }
            buttons.push(Button::new(title, data));
        }
    }
    Ok((text, buttons))
}

#[async_trait]
impl ChannelRoundTrip for TelegramRoundTrip {
    fn name(&self) -> &'static str {
        "telegram"
    }

    async fn shown(&self, replies: &[Reply]) -> Result<Vec<Reply>, String> {
        let mut seen = Vec::with_capacity(replies.len());
        for reply in replies {
            // The language only picks the contact button's label; the texts are the flow's.
            let messages = super::render_reply(&self.codec, reply, Language::Es)
                .await
                .map_err(|err| format!("could not keep a long button payload: {err}"))?;
            let mut text = String::new();
            let mut buttons = Vec::new();
            for message in &messages {
                let body = send_message_body(message);
                let (part, mut part_buttons) = read_back(&body)?;
                buttons.append(&mut part_buttons);
                // The share-phone prompt is an extra message, not the reply's text.
                if !message.contact_prompt {
                    text.push_str(message.joined_by);
                    text.push_str(&part);
                }
            }
            if reply.asks_contact
                && !messages
                    .iter()
                    .any(|m| matches!(m.markup, Markup::Contact(_)))
            {
                return Err("a phone question without the share-phone keyboard".into());
            }
            seen.push(Reply {
                text,
                buttons,
                citations: Vec::new(),
                stream_id: reply.stream_id.clone(),
                asks_contact: reply.asks_contact,
            });
        }
        Ok(seen)
    }

    async fn received(&self, content: InboundContent) -> Result<InboundContent, String> {
        let update_id = self.update_id();
        let from =
            json!({"id": CHAT_ID, "is_bot": false, "first_name": "Ana", "language_code": "es"});
        let chat = json!({"id": CHAT_ID, "type": "private", "first_name": "Ana"});
        let message = |extra: Value| {
            let mut message =
                json!({"message_id": update_id, "date": 1_764_000_000, "from": from, "chat": chat});
            if let (Some(message), Some(extra)) = (message.as_object_mut(), extra.as_object()) {
                message.extend(extra.clone());
            }
            json!({"update_id": update_id, "message": message})
        };
        let raw = match &content {
            InboundContent::Start { payload } => message(json!({
                "text": match payload {
                    Some(payload) => format!("/start {payload}"),
                    None => "/start".to_owned(),
                }
            })),
            InboundContent::Text { text } => message(json!({ "text": text })),
            InboundContent::Contact { phone } => message(json!({
                "contact": {"phone_number": phone, "first_name": "Ana", "user_id": CHAT_ID}
            })),
            InboundContent::Button { payload } => json!({
                "update_id": update_id,
                "callback_query": {
                    "id": format!("cq{update_id}"), "from": from, "chat_instance": "1",
                    "data": payload,
                    "message": {"message_id": 1, "date": 1_764_000_000, "chat": chat, "text": "…"}
                }
            }),
        };
        let update = update::parse_update(raw.to_string().as_bytes())
            .map_err(|err| format!("teloxide could not read the update {raw}: {err}"))?;
        let incoming = update::classify(&update)
            .ok_or_else(|| format!("the update {raw} was not read as a customer action"))?;
        match incoming.action {
            Action::Start { payload } => Ok(InboundContent::Start { payload }),
            Action::Text { text } => Ok(InboundContent::Text { text }),
            Action::Contact { phone } => Ok(InboundContent::Contact { phone }),
            Action::Callback { data, .. } => {
                let data = data.ok_or("a callback query without data")?;
                update::button_content(&self.codec, &data)
                    .await
                    .map_err(|err| format!("could not read a long button payload: {err}"))?
                    .ok_or_else(|| format!("the callback data {data:?} is not a button we sent"))
            }
            Action::Unsupported => Err(format!("the update {raw} was not understood")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn long_payloads_and_escapes_survive_the_round_trip() {
        let trip = TelegramRoundTrip::new();
        let long = format!("answer:{}", "modelo-".repeat(12));
        let reply = Reply::text("Precio < 100 & más")
            .with_buttons(vec![Button::new("Tiguan", long.clone())]);
        let shown = trip.shown(&[reply]).await.unwrap();
        assert_eq!(shown[0].text, "Precio < 100 & más");
        let data = shown[0].buttons[0].payload.clone();
        assert!(data.len() <= TELEGRAM_CALLBACK_BYTES, "{data}");
        assert_eq!(
            trip.received(InboundContent::Button { payload: data })
                .await
                .unwrap(),
            InboundContent::Button { payload: long }
        );
    }

    #[tokio::test]
    async fn actions_come_back_as_they_went() {
        let trip = TelegramRoundTrip::new();
        for content in [
            InboundContent::Start { payload: None },
            InboundContent::Start {
                payload: Some("prueba".into()),
            },
            InboundContent::Text {
                text: "hola".into(),
            },
            InboundContent::Contact {
                phone: "+573001234567".into(),
            },
        ] {
            assert_eq!(trip.received(content.clone()).await.unwrap(), content);
        }
    }

    #[tokio::test]
    async fn a_long_reply_is_split_and_joined_back() {
        let trip = TelegramRoundTrip::new();
        let text = format!("{}\n\n{}", "a".repeat(4000), "b".repeat(4000));
        let shown = trip.shown(&[Reply::text(text.clone())]).await.unwrap();
        assert_eq!(shown[0].text, text);
    }
}
