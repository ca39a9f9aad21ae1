//! A Telegram `Update` as what the customer did, without talking to Telegram or the
//! engine: `/start [payload]`, typed text, their own shared contact, a pressed button,
//! or something we do not read (a photo, a sticker, a voice note…). The webhook, the
//! polling loop and `flows test --channel telegram` all go through [`classify`].

use teloxide_core::types::{Update, UpdateKind};

use crate::engine::{ChannelIdentity, ChannelKind, InboundContent, Language};

use super::super::callbacks::CallbackCodec;

/// One update, as far as showroom cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incoming {
    /// `update_id`: a redelivered update has the same one.
    pub update_id: u32,
    /// The private chat with the customer (its id is theirs on Telegram).
    pub chat_id: i64,
    /// The customer's app language (`from.language_code`), when we speak it.
    pub language: Option<Language>,
    pub action: Action,
}

impl Incoming {
    pub fn identity(&self) -> ChannelIdentity {
        ChannelIdentity::new(ChannelKind::Telegram, self.chat_id.to_string())
    }

    /// The id the engine dedupes redeliveries on.
    pub fn channel_message_id(&self) -> String {
        self.update_id.to_string()
    }
}

/// What the customer did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// `/start`, with the deep-link payload after it (`t.me/bot?start=<payload>`).
    Start {
        payload: Option<String>,
    },
    Text {
        text: String,
    },
    /// Their own number, shared with the `request_contact` button: verified by Telegram.
    Contact {
        phone: String,
    },
    /// A pressed inline button: answer `query_id`, then decode `data`.
    Callback {
        query_id: String,
        data: Option<String>,
    },
    /// A photo, sticker, voice note, location…: answered politely, not processed.
    Unsupported,
}

/// An `Update` from the JSON Telegram sends. From bytes, not from a `serde_json::Value`:
/// teloxide reads the update's kind from borrowed input and, given a `Value`, silently
/// makes every update an `UpdateKind::Error`.
pub fn parse_update(body: &[u8]) -> Result<Update, serde_json::Error> {
    serde_json::from_slice(body)
}

/// Reads an update; `None` for what is not a customer's action (edits, other kinds, a
/// message without a sender).
pub fn classify(update: &Update) -> Option<Incoming> {
    let update_id = update.id.0;
    match &update.kind {
        UpdateKind::Message(message) => {
            let from = message.from.as_ref()?;
            let action = if let Some(text) = message.text() {
                message_action(text)
            } else if let Some(contact) = message.contact() {
                if contact.user_id == Some(from.id) {
                    Action::Contact {
                        phone: contact.phone_number.clone(),
                    }
                } else {
                    // Someone else's card: a number, but not one Telegram vouches for.
                    Action::Text {
                        text: contact.phone_number.clone(),
                    }
                }
            } else {
                Action::Unsupported
            };
            Some(Incoming {
                update_id,
                chat_id: message.chat.id.0,
                language: from.language_code.as_deref().and_then(Language::parse),
                action,
            })
        }
        UpdateKind::CallbackQuery(query) => {
            // The button's message is in the customer's private chat, whose id is theirs.
            let chat_id = query
                .message
                .as_ref()
                .map_or(query.from.id.0 as i64, |m| m.chat().id.0);
            Some(Incoming {
                update_id,
                chat_id,
                language: query
                    .from
                    .language_code
                    .as_deref()
                    .and_then(Language::parse),
                action: Action::Callback {
                    query_id: query.id.0.clone(),
                    data: query.data.clone(),
                },
            })
        }
        _ => None,
    }
}

fn message_action(text: &str) -> Action {
    let trimmed = text.trim();
    if let Some(rest) = trimmed.strip_prefix("/start") {
        // `/start@BotName payload` in groups; `/startx` is not the command.
        let rest = match rest.strip_prefix('@') {
            Some(mention) => mention.split_once(' ').map_or("", |(_, after)| after),
            None if rest.is_empty() || rest.starts_with(char::is_whitespace) => rest,
            None => {
                return Action::Text {
                    text: trimmed.to_owned(),
                };
            }
        };
        let payload = rest.trim();
        return Action::Start {
            payload: (!payload.is_empty()).then(|| payload.to_owned()),
        };
    }
    Action::Text {
        text: trimmed.to_owned(),
    }
}

/// What a pressed button means: its payload, or `None` for data the codec does not know
/// (a forged button, or one from before the store lost it).
pub async fn button_content(
    codec: &CallbackCodec,
    data: &str,
) -> Result<Option<InboundContent>, crate::store::StoreError> {
    Ok(codec
        .decode(data)
        .await?
        .map(|payload| InboundContent::Button { payload }))
}

/// The polite answer to what we cannot read yet.
pub fn unsupported_text(language: Language) -> &'static str {
    match language {
        Language::Es => {
            "Por ahora solo leo texto y botones. Escríbeme tu pregunta o toca una de las opciones."
        }
        Language::En => {
            "For now I can only read text and buttons. Type your question or tap one of the options."
        }
    }
}

/// The alert on a button that no longer works.
pub fn stale_button_text(language: Language) -> &'static str {
    match language {
        Language::Es => "Ese botón ya no está disponible. Te muestro el menú.",
        Language::En => "That button is no longer available. Here is the menu.",
    }
}

#[cfg(test)]
pub(crate) mod fixtures {
    //! Updates in the JSON Telegram documents (https://core.telegram.org/bots/api#update).

    use serde_json::{Value, json};

    pub fn user(id: i64, language: &str) -> Value {
        json!({"id": id, "is_bot": false, "first_name": "Ana", "language_code": language})
    }

    pub fn chat(id: i64) -> Value {
        json!({"id": id, "type": "private", "first_name": "Ana"})
    }

    pub fn text(update_id: u32, chat_id: i64, text: &str) -> Value {
        json!({
            "update_id": update_id,
            "message": {
                "message_id": update_id, "date": 1_764_000_000,
                "from": user(chat_id, "es"), "chat": chat(chat_id), "text": text
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::fixtures::{chat, text, user};
    use super::*;
    use crate::channels::callbacks::MemoryPayloads;

    fn parse(value: serde_json::Value) -> Incoming {
        let update = parse_update(value.to_string().as_bytes()).expect("a valid update");
        classify(&update).expect("a customer action")
    }

    #[test]
    fn start_with_and_without_a_payload() {
        let got = parse(text(7, 42, "/start"));
        assert_eq!(got.action, Action::Start { payload: None });
        assert_eq!(
            got.identity(),
            ChannelIdentity::new(ChannelKind::Telegram, "42")
        );
        assert_eq!(got.channel_message_id(), "7");
        assert_eq!(
            parse(text(8, 42, "/start lnk_abc123")).action,
            Action::Start {
                payload: Some("lnk_abc123".into())
            }
        );
        assert_eq!(
            parse(text(9, 42, "  hola  ")).action,
            Action::Text {
                text: "hola".into()
            }
        );
        assert_eq!(
            parse(text(9, 42, "/starting")).action,
            Action::Text {
                text: "/starting".into()
            }
        );
    }

    #[test]
    fn only_their_own_contact_is_a_verified_phone() {
        let contact = |user_id: i64| {
            json!({
                "update_id": 10,
                "message": {
                    "message_id": 3, "date": 1_764_000_000, "from": user(42, "en"), "chat": chat(42),
                    "contact": {"phone_number": "+573001234567", "first_name": "Ana", "user_id": user_id}
                }
            })
        };
        let own = parse(contact(42));
        assert_eq!(
            own.action,
            Action::Contact {
                phone: "+573001234567".into()
            }
        );
        assert_eq!(own.language, Some(Language::En));
        assert_eq!(
            parse(contact(99)).action,
            Action::Text {
                text: "+573001234567".into()
            }
        );
    }

    #[tokio::test]
    async fn callbacks_decode_through_the_codec() {
        let codec = CallbackCodec::telegram(Arc::new(MemoryPayloads::default()));
        let long = format!("answer:{}", "x".repeat(80));
        let data = codec.encode(&long).await.unwrap();
        let got = parse(json!({
            "update_id": 11,
            "callback_query": {
                "id": "4382bfdwdsb323b2d9", "from": user(42, "es"), "chat_instance": "-1",
                "data": data,
                "message": {"message_id": 5, "date": 1_764_000_000, "chat": chat(42), "text": "¿Qué modelo?"}
            }
        }));
        assert_eq!(got.chat_id, 42);
        let Action::Callback { query_id, data } = got.action else {
            panic!("not a callback");
        };
        assert_eq!(query_id, "4382bfdwdsb323b2d9");
        assert_eq!(
            button_content(&codec, &data.unwrap()).await.unwrap(),
            Some(InboundContent::Button { payload: long })
        );
        assert_eq!(button_content(&codec, "~nope").await.unwrap(), None);
    }

    #[test]
    fn photos_and_stickers_are_answered_not_processed() {
        let got = parse(json!({
            "update_id": 12,
            "message": {
                "message_id": 6, "date": 1_764_000_000, "from": user(42, "es"), "chat": chat(42),
                "photo": [{"file_id": "a", "file_unique_id": "b", "width": 90, "height": 90}]
            }
        }));
        assert_eq!(got.action, Action::Unsupported);
        let other = parse_update(json!({
            "update_id": 13,
            "edited_message": {"message_id": 6, "date": 1, "chat": chat(42), "text": "x", "edit_date": 2}
        })
        .to_string()
        .as_bytes())
        .unwrap();
        assert_eq!(classify(&other), None);
    }
}
