//! What flows through the engine: `Inbound` events from any channel and the `Reply`
//! messages the router produces. Channel adapters convert to and from these types, so
//! the engine never sees a Telegram update or a WebSocket frame.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Where a customer talks to us.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChannelKind {
    Web,
    Telegram,
    Viber,
    Cli,
}

impl ChannelKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Web => "web",
            Self::Telegram => "telegram",
            Self::Viber => "viber",
            Self::Cli => "cli",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "web" => Some(Self::Web),
            "telegram" => Some(Self::Telegram),
            "viber" => Some(Self::Viber),
            "cli" => Some(Self::Cli),
            _ => None,
        }
    }
}

impl fmt::Display for ChannelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A customer's address on one channel: a Telegram chat id, a Viber user id, the hash of
/// a web session token.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ChannelIdentity {
    pub channel: ChannelKind,
    pub external_id: String,
}

impl ChannelIdentity {
    pub fn new(channel: ChannelKind, external_id: impl Into<String>) -> Self {
        Self {
            channel,
            external_id: external_id.into(),
        }
    }
}

/// The language we talk to a customer in. Spanish first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    #[default]
    Es,
    En,
}

impl Language {
    /// Accepts "es", "en" and regional tags such as "es-CO" or "en_US".
    pub fn parse(tag: &str) -> Option<Self> {
        let primary = tag.split(['-', '_']).next()?.to_ascii_lowercase();
        match primary.as_str() {
            "es" => Some(Self::Es),
            "en" => Some(Self::En),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Es => "es",
            Self::En => "en",
        }
    }
}

/// What a customer did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum InboundContent {
    /// The conversation was opened (widget opened, `/start`, Viber's conversation_started),
    /// optionally with a deep-link payload.
    Start { payload: Option<String> },
    /// Free text typed by the customer.
    Text { text: String },
    /// A button was pressed; `payload` is what we put on the button.
    Button { payload: String },
    /// The customer shared a phone number through the channel's own contact button.
    Contact { phone: String },
}

impl InboundContent {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Start { .. } => "start",
            Self::Text { .. } => "text",
            Self::Button { .. } => "button",
            Self::Contact { .. } => "contact",
        }
    }

    /// The text stored in the transcript.
    pub fn transcript_text(&self) -> &str {
        match self {
            Self::Start { payload } => payload.as_deref().unwrap_or(""),
            Self::Text { text } => text,
            Self::Button { payload } => payload,
            Self::Contact { phone } => phone,
        }
    }

    /// Rebuilds the content from the stored kind and text.
    pub fn from_stored(kind: &str, text: String, payload: Option<String>) -> Option<Self> {
        Some(match kind {
            "start" => Self::Start {
                payload: (!text.is_empty()).then_some(text),
            },
            "text" => Self::Text { text },
            "button" => Self::Button {
                payload: payload.unwrap_or(text),
            },
            "contact" => Self::Contact { phone: text },
            _ => return None,
        })
    }
}

/// One inbound event as a channel hands it to the engine.
#[derive(Debug, Clone)]
pub struct Inbound {
    pub identity: ChannelIdentity,
    pub content: InboundContent,
    /// An id the channel gives the message (Telegram `update_id`, Viber `message_token`,
    /// a widget's client id). A redelivery with the same id is stored once.
    pub channel_message_id: Option<String>,
    /// A language hint from the channel (Telegram's `language_code`, the widget's page).
    pub language_hint: Option<Language>,
}

/// A button under a message. `payload` is what comes back when it is pressed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Button {
    pub title: String,
    pub payload: String,
}

impl Button {
    pub fn new(title: impl Into<String>, payload: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            payload: payload.into(),
        }
    }
}

/// A source under an answer: which document, which section, and a link when the
/// document has one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Citation {
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub section: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// A message the bot wants to send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Reply {
    pub text: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buttons: Vec<Button>,
    /// Where an answer comes from, shown under it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub citations: Vec<Citation>,
    /// The id the reply was streamed under, so a channel that showed the pieces
    /// replaces them instead of showing the reply twice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_id: Option<String>,
    /// The reply asks for the customer's phone: channels that can share a contact
    /// (Telegram, Viber) show their own "share my phone" button under it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub asks_contact: bool,
}

impl Reply {
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            ..Self::default()
        }
    }

    pub fn with_buttons(mut self, buttons: Vec<Button>) -> Self {
        self.buttons = buttons;
        self
    }

    pub fn with_citations(mut self, citations: Vec<Citation>) -> Self {
        self.citations = citations;
        self
    }

    /// Marks the reply as a question for the customer's phone.
    pub fn asking_contact(mut self) -> Self {
        self.asks_contact = true;
        self
    }
}

/// A reply after it was committed: it has an id and is ready to be sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Outbound {
    pub id: i64,
    pub conversation_id: String,
    pub reply: Reply,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn language_tags() {
        assert_eq!(Language::parse("es-CO"), Some(Language::Es));
        assert_eq!(Language::parse("en_US"), Some(Language::En));
        assert_eq!(Language::parse("pt-BR"), None);
        assert_eq!(Language::parse(""), None);
    }

    #[test]
    fn stored_content_round_trips() {
        let cases = [
            InboundContent::Start { payload: None },
            InboundContent::Start {
                payload: Some("promo".into()),
            },
            InboundContent::Text {
                text: "hola".into(),
            },
            InboundContent::Button {
                payload: "menu:test_drive".into(),
            },
            InboundContent::Contact {
                phone: "+573001234567".into(),
            },
        ];
        for case in cases {
            let payload = match &case {
                InboundContent::Button { payload } => Some(payload.clone()),
                _ => None,
            };
            let back = InboundContent::from_stored(
                case.kind(),
                case.transcript_text().to_owned(),
                payload,
            );
            assert_eq!(back, Some(case));
        }
        assert_eq!(
            InboundContent::from_stored("sticker", String::new(), None),
            None
        );
    }
}
