//! The widget's JSON frames (DESIGN.md §3), shared by the WebSocket and the plain HTTP
//! endpoint so both speak exactly the same shapes.

use serde::{Deserialize, Serialize};

use crate::engine::{Button, Outbound};
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
    },
    Typing,
    Error {
        code: ErrorCode,
        message: &'a str,
    },
}

impl<'a> ServerFrame<'a> {
    pub fn message(outbound: &'a Outbound) -> Self {
        Self::Message {
            id: outbound.id.to_string(),
            text: &outbound.reply.text,
            buttons: &outbound.reply.buttons,
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
