//! The widget's JSON frames (DESIGN.md §3), shared by the WebSocket and the plain HTTP
//! endpoint so both speak exactly the same shapes.

use serde::{Deserialize, Serialize};

use crate::engine::{Button, Citation, Outbound};
use crate::http::ErrorCode;

/// Client → server.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientFrame {
    Message { text: String },
    Button { payload: String },
}

/// Server → client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame<'a> {
    Session {
        session: &'a str,
    },
    Message {
        id: String,
        text: &'a str,
        buttons: &'a [Button],
        #[serde(skip_serializing_if = "<[Citation]>::is_empty")]
        sources: &'a [Citation],
    },
    /// A piece of an answer being composed.
    Delta {
        id: &'a str,
        text: &'a str,
    },
    /// The streamed answer `id` is complete: its committed text (which replaces the
    /// streamed pieces; the grounding guard may have changed it), buttons and sources.
    MessageEnd {
        id: &'a str,
        text: &'a str,
        buttons: &'a [Button],
        sources: &'a [Citation],
    },
    Typing,
    Error {
        code: ErrorCode,
        message: &'a str,
    },
}

impl<'a> ServerFrame<'a> {
    /// A committed reply as one message. A streamed one keeps its stream id, so the
    /// widget replaces the pieces it showed.
    pub fn message(outbound: &'a Outbound) -> Self {
        Self::Message {
            id: outbound
                .reply
                .stream_id
                .clone()
                .unwrap_or_else(|| outbound.id.to_string()),
            text: &outbound.reply.text,
            buttons: &outbound.reply.buttons,
            sources: &outbound.reply.citations,
        }
    }

    /// The end of a reply streamed under `id`.
    pub fn message_end(id: &'a str, outbound: &'a Outbound) -> Self {
        Self::MessageEnd {
            id,
            text: &outbound.reply.text,
            buttons: &outbound.reply.buttons,
            sources: &outbound.reply.citations,
        }
    }

    pub fn to_json(&self) -> String {
        // Plain data with string keys always serializes.
        serde_json::to_string(self).unwrap_or_else(|_| {
            String::from(r#"{"type":"error","code":"internal","message":"internal error"}"#)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Reply;

    #[test]
    fn frames_have_the_documented_shape() {
        let outbound = Outbound {
            id: 7,
            conversation_id: "c".into(),
            reply: Reply::text("Hola").with_buttons(vec![Button::new("Taller", "menu:service")]),
        };
        assert_eq!(
            ServerFrame::message(&outbound).to_json(),
            r#"{"type":"message","id":"7","text":"Hola","buttons":[{"title":"Taller","payload":"menu:service"}]}"#
        );
        assert_eq!(ServerFrame::Typing.to_json(), r#"{"type":"typing"}"#);
        let answer = Outbound {
            id: 8,
            conversation_id: "c".into(),
            reply: Reply {
                text: "Rinde 17,2 km/l.".into(),
                stream_id: Some("s-1".into()),
                ..Reply::default()
            }
            .with_citations(vec![Citation {
                title: "Volkswagen Tiguan".into(),
                section: Some("Consumo".into()),
                url: None,
            }]),
        };
        assert_eq!(
            ServerFrame::message(&answer).to_json(),
            r#"{"type":"message","id":"s-1","text":"Rinde 17,2 km/l.","buttons":[],"sources":[{"title":"Volkswagen Tiguan","section":"Consumo"}]}"#
        );
        assert_eq!(
            ServerFrame::Delta {
                id: "s-1",
                text: "Rinde"
            }
            .to_json(),
            r#"{"type":"delta","id":"s-1","text":"Rinde"}"#
        );
        assert_eq!(
            ServerFrame::message_end("s-1", &answer).to_json(),
            r#"{"type":"message_end","id":"s-1","text":"Rinde 17,2 km/l.","buttons":[],"sources":[{"title":"Volkswagen Tiguan","section":"Consumo"}]}"#
        );
        assert_eq!(
            ServerFrame::Error {
                code: ErrorCode::RateLimited,
                message: "wait"
            }
            .to_json(),
            r#"{"type":"error","code":"rate_limited","message":"wait"}"#
        );
        let parsed: ClientFrame =
            serde_json::from_str(r#"{"type":"button","payload":"menu"}"#).unwrap();
        assert_eq!(
            parsed,
            ClientFrame::Button {
                payload: "menu".into()
            }
        );
        assert!(serde_json::from_str::<ClientFrame>(r#"{"type":"message"}"#).is_err());
        assert!(serde_json::from_str::<ClientFrame>(r#"{"type":"shout","text":"x"}"#).is_err());
    }
}
