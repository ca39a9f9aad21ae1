//! Viber's callbacks as documented: `webhook`, `conversation_started`, `subscribed`,
//! `unsubscribed`, `message`, and the receipts `delivered`/`seen`/`failed`. Parsing them
//! and turning a customer's message into engine content is the same code for the webhook
//! and for `showroom flows test --channel viber`.

use serde::{Deserialize, Deserializer};

use super::render::BUTTON_MARK;
use crate::channels::callbacks::CallbackCodec;
use crate::engine::{InboundContent, Language};
use crate::store::StoreError;

/// A callback body that is not one Viber documents.
#[derive(Debug, thiserror::Error)]
#[error("the body is not a Viber callback: {0}")]
pub struct EventError(#[from] serde_json::Error);

/// One callback.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum ViberEvent {
    /// Sent while `set_webhook` runs, to check the address answers.
    Webhook {
        #[serde(default, deserialize_with = "token")]
        message_token: Option<String>,
    },
    /// The customer opened the chat (the "Message" button or a deep link with `context`).
    /// Not a subscription: only the answer to this callback reaches them.
    ConversationStarted {
        user: ViberUser,
        #[serde(default)]
        context: Option<String>,
        #[serde(default)]
        subscribed: bool,
        #[serde(default, deserialize_with = "token")]
        message_token: Option<String>,
    },
    Subscribed {
        user: ViberUser,
        #[serde(default, deserialize_with = "token")]
        message_token: Option<String>,
    },
    Unsubscribed {
        user_id: String,
        #[serde(default, deserialize_with = "token")]
        message_token: Option<String>,
    },
    Message {
        sender: ViberUser,
        message: IncomingMessage,
        #[serde(default, deserialize_with = "token")]
        message_token: Option<String>,
    },
    Delivered(Receipt),
    Seen(Receipt),
    Failed(Receipt),
    /// Anything else Viber may add (`client_status`, …): acknowledged, not used.
    #[serde(other)]
    Other,
}

/// A customer as callbacks describe them.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ViberUser {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    /// The app's language (ISO 639-1, sometimes with a region).
    #[serde(default)]
    pub language: Option<String>,
    #[serde(default)]
    pub country: Option<String>,
    #[serde(default)]
    pub api_version: Option<u32>,
}

impl ViberUser {
    /// The customer's app language when showroom speaks it.
    pub fn language(&self) -> Option<Language> {
        self.language.as_deref().and_then(Language::parse)
    }
}

/// `delivered`, `seen` and `failed`: what happened to one of our messages.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Receipt {
    #[serde(default, deserialize_with = "token")]
    pub message_token: Option<String>,
    #[serde(default)]
    pub user_id: Option<String>,
    /// `failed` only: why.
    #[serde(default)]
    pub desc: Option<String>,
}

/// The `message` of a `message` callback.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct IncomingMessage {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub contact: Option<SharedContact>,
    #[serde(default)]
    pub location: Option<Location>,
    /// What we put on the last message the customer got.
    #[serde(default)]
    pub tracking_data: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SharedContact {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub phone_number: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Location {
    pub lat: f64,
    pub lon: f64,
    #[serde(default)]
    pub address: Option<String>,
}

/// `message_token` is a 64-bit number in Viber's samples and a string in some
/// libraries' fixtures; both become a string.
fn token<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    let value = Option::<serde_json::Value>::deserialize(deserializer)?;
    Ok(match value {
        Some(serde_json::Value::Number(n)) => Some(n.to_string()),
        Some(serde_json::Value::String(s)) => Some(s),
        _ => None,
    })
}

/// Parses a callback body.
pub fn parse(body: &[u8]) -> Result<ViberEvent, EventError> {
    Ok(serde_json::from_slice(body)?)
}

/// What a customer's message means to showroom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// Something the engine handles.
    Content(InboundContent),
    /// A picture, sticker, video, file…: answered politely, not handled.
    Unsupported(String),
}

/// Turns a `message` callback's message into engine content: a text with the button mark
/// is a press (see `render`), a shared contact is a verified phone, a location becomes a
/// text with the address.
pub async fn incoming(
    message: &IncomingMessage,
    codec: &CallbackCodec,
) -> Result<Incoming, StoreError> {
    Ok(match message.kind.as_str() {
        "text" => {
            let text = message.text.clone().unwrap_or_default();
            match text.strip_prefix(BUTTON_MARK) {
                Some(data) => match codec.decode(data).await? {
                    Some(payload) => Incoming::Content(InboundContent::Button { payload }),
                    None => {
                        // A key the store does not know: a forged press or one from long
                        // ago. The engine answers it like text it does not understand.
                        tracing::warn!("a Viber key press with an unknown payload key");
                        Incoming::Content(InboundContent::Text {
                            text: data.to_owned(),
                        })
                    }
                },
                None => Incoming::Content(InboundContent::Text { text }),
            }
        }
        "contact" => match message
            .contact
            .as_ref()
            .and_then(|c| c.phone_number.as_deref())
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            Some(phone) => Incoming::Content(InboundContent::Contact {
                phone: international(phone),
            }),
            None => Incoming::Unsupported("contact".into()),
        },
        "location" => match &message.location {
            Some(location) => Incoming::Content(InboundContent::Text {
                text: location
                    .address
                    .clone()
                    .filter(|a| !a.trim().is_empty())
                    .unwrap_or_else(|| format!("{:.6}, {:.6}", location.lat, location.lon)),
            }),
            None => Incoming::Unsupported("location".into()),
        },
        other => Incoming::Unsupported(other.to_owned()),
    })
}

/// Viber shares the account's own number in international form, usually without the
/// `+`; digits-only numbers long enough to carry a country code get it.
fn international(phone: &str) -> String {
    let digits_only = phone.chars().all(|c| c.is_ascii_digit());
    if digits_only && phone.len() >= 8 {
        format!("+{phone}")
    } else {
        phone.to_owned()
    }
}

/// The polite answer to a picture, sticker or file.
pub fn unsupported_reply(language: Language) -> &'static str {
    match language {
        Language::Es => {
            "Gracias. Por ahora solo leo texto y botones; escríbeme tu mensaje o elige una opción, por favor."
        }
        Language::En => {
            "Thanks. For now I can only read text and buttons; please type your message or pick an option."
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::channels::callbacks::MemoryPayloads;
    use serde_json::json;

    fn codec() -> CallbackCodec {
        super::super::render::action_codec(Arc::new(MemoryPayloads::default()))
    }

    fn bytes(value: serde_json::Value) -> Vec<u8> {
        serde_json::to_vec(&value).unwrap()
    }

    #[test]
    fn documented_conversation_started_parses() {
        let event = parse(&bytes(json!({
            "event": "conversation_started",
            "timestamp": 1457764197627u64,
            "type": "open",
            "context": "lnk_abc",
            "user": {"id": "01234567890A=", "name": "John McClane", "avatar": "http://avatar.example.com",
                     "country": "UK", "language": "en", "api_version": 1},
            "message_token": 4912661846655238145u64,
            "subscribed": false
        })))
        .unwrap();
        let ViberEvent::ConversationStarted {
            user,
            context,
            subscribed,
            message_token,
        } = event
        else {
            panic!("{event:?}")
        };
        assert_eq!(user.id, "01234567890A=");
        assert_eq!(user.language(), Some(Language::En));
        assert_eq!(context.as_deref(), Some("lnk_abc"));
        assert!(!subscribed);
        assert_eq!(message_token.as_deref(), Some("4912661846655238145"));
    }

    #[test]
    fn documented_receipts_and_subscriptions_parse() {
        let failed = parse(&bytes(
            json!({"event": "failed", "timestamp": 1457764197627u64,
            "message_token": 4912661846655238145u64, "user_id": "01234567890A=",
            "desc": "failure description"}),
        ))
        .unwrap();
        assert_eq!(
            failed,
            ViberEvent::Failed(Receipt {
                message_token: Some("4912661846655238145".into()),
                user_id: Some("01234567890A=".into()),
                desc: Some("failure description".into()),
            })
        );
        let seen = parse(&bytes(json!({"event": "seen", "timestamp": 1, "message_token": "912661846655238145", "user_id": "u"}))).unwrap();
        assert!(matches!(seen, ViberEvent::Seen(_)));
        let unsubscribed = parse(&bytes(
            json!({"event": "unsubscribed", "timestamp": 1457764197627u64,
            "user_id": "01234567890A=", "message_token": 4912661846655238145u64}),
        ))
        .unwrap();
        assert!(
            matches!(unsubscribed, ViberEvent::Unsubscribed { ref user_id, .. } if user_id == "01234567890A=")
        );
        let subscribed = parse(&bytes(json!({"event": "subscribed", "timestamp": 1457764197627u64,
            "user": {"id": "01234567890A=", "name": "John McClane", "language": "es", "country": "CO", "api_version": 9},
            "message_token": 4912661846655238145u64}))).unwrap();
        assert!(matches!(subscribed, ViberEvent::Subscribed { .. }));
        let webhook = parse(&bytes(
            json!({"event": "webhook", "timestamp": 1457764197627u64,
            "chat_hostname": "SN-376_", "message_token": 4912661846655238145u64}),
        ))
        .unwrap();
        assert!(matches!(webhook, ViberEvent::Webhook { .. }));
        let other = parse(&bytes(json!({"event": "client_status", "timestamp": 1}))).unwrap();
        assert_eq!(other, ViberEvent::Other);
        assert!(parse(b"{not json").is_err());
    }

    async fn content_of(message: serde_json::Value, codec: &CallbackCodec) -> Incoming {
        let event = parse(&bytes(json!({
            "event": "message", "timestamp": 1457764197627u64, "message_token": 4912661846655238145u64,
            "sender": {"id": "01234567890A=", "name": "John McClane", "avatar": "http://avatar.example.com",
                       "country": "CO", "language": "es-CO", "api_version": 9},
            "message": message, "silent": false
        })))
        .unwrap();
        let ViberEvent::Message { message, .. } = event else {
            panic!("{event:?}")
        };
        incoming(&message, codec).await.unwrap()
    }

    #[tokio::test]
    async fn text_and_presses_are_told_apart_by_the_mark() {
        let codec = codec();
        assert_eq!(
            content_of(
                json!({"type": "text", "text": "hola", "tracking_data": "out:1"}),
                &codec
            )
            .await,
            Incoming::Content(InboundContent::Text {
                text: "hola".into()
            })
        );
        assert_eq!(
            content_of(
                json!({"type": "text", "text": format!("{BUTTON_MARK}answer:tiguan")}),
                &codec
            )
            .await,
            Incoming::Content(InboundContent::Button {
                payload: "answer:tiguan".into()
            })
        );
        // A customer typing what a key's payload looks like is still typing.
        assert_eq!(
            content_of(json!({"type": "text", "text": "answer:tiguan"}), &codec).await,
            Incoming::Content(InboundContent::Text {
                text: "answer:tiguan".into()
            })
        );
    }

    #[tokio::test]
    async fn contacts_locations_and_media() {
        let codec = codec();
        assert_eq!(
            content_of(json!({"type": "contact", "contact": {"name": "Ana", "phone_number": "573001234567"}}), &codec).await,
            Incoming::Content(InboundContent::Contact { phone: "+573001234567".into() })
        );
        assert_eq!(
            content_of(json!({"type": "contact", "contact": {"name": "Ana", "phone_number": "+57 300 123 4567"}}), &codec).await,
            Incoming::Content(InboundContent::Contact { phone: "+57 300 123 4567".into() })
        );
        assert_eq!(
            content_of(json!({"type": "location", "location": {"lat": 3.4516, "lon": -76.532, "address": "Cl. 5 #38-25, Cali"}}), &codec).await,
            Incoming::Content(InboundContent::Text { text: "Cl. 5 #38-25, Cali".into() })
        );
        assert_eq!(
            content_of(json!({"type": "picture", "text": "", "media": "http://example.com/p.jpg", "thumbnail": "http://example.com/t.jpg"}), &codec).await,
            Incoming::Unsupported("picture".into())
        );
        assert_eq!(
            content_of(json!({"type": "sticker", "sticker_id": 46105}), &codec).await,
            Incoming::Unsupported("sticker".into())
        );
    }
}
