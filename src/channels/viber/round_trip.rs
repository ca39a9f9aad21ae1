//! The Viber adapter in the loop of `showroom flows test --channel viber`: replies are
//! rendered to the documented `send_message` JSON (the same code the channel sends with),
//! checked against Viber's limits and read back as the app shows them; what the customer
//! does is built as Viber's documented callback JSON and parsed by the webhook's parser.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Value, json};

use super::api::{
    MAX_KEYBOARD_BUTTONS, MAX_TEXT_CHARS, MAX_TRACKING_DATA, SHARE_PHONE_API_VERSION, Sender,
};
use super::events::{self, Incoming, ViberEvent};
use super::render::{self, MAX_ACTION_BODY};
use crate::channels::callbacks::{CallbackCodec, MemoryPayloads};
use crate::engine::{Button, InboundContent, Language, Reply};
use crate::flows::testing::ChannelRoundTrip;

/// The customer every built callback comes from.
const TEST_USER: &str = "01234567890A=";

/// Renders replies as Viber messages and parses customer actions as Viber updates.
pub struct ViberRoundTrip {
    codec: CallbackCodec,
}

impl Default for ViberRoundTrip {
    fn default() -> Self {
        Self::new()
    }
}

impl ViberRoundTrip {
    pub fn new() -> Self {
        Self {
            codec: render::action_codec(Arc::new(MemoryPayloads::default())),
        }
    }

    /// The documented JSON of one reply's messages.
    async fn bodies(&self, reply: &Reply) -> Result<Vec<Value>, String> {
        let buttons = render::encode_buttons(&self.codec, &reply.buttons)
            .await
            .map_err(|err| err.to_string())?;
        let sender = Sender {
            name: "Autos del Valle".into(),
            avatar: None,
        };
        render::render(reply, &buttons, Language::Es)
            .into_iter()
            .map(|message| {
                serde_json::to_value(render::send_message(
                    Some(TEST_USER),
                    sender.clone(),
                    1,
                    message,
                    "out:1".into(),
                ))
                .map_err(|err| err.to_string())
            })
            .collect()
    }
}

/// Checks one `send_message` body against Viber's limits; returns its text and keys.
fn read_back(body: &Value) -> Result<(String, Vec<Button>, bool), String> {
    let text = body["text"]
        .as_str()
        .ok_or_else(|| format!("a message without text: {body}"))?;
    if text.chars().count() > MAX_TEXT_CHARS {
        return Err(format!(
            "a message of {} characters; Viber takes at most {MAX_TEXT_CHARS}",
            text.chars().count()
        ));
    }
    if body["type"] != "text" || body["sender"]["name"].as_str().is_none_or(str::is_empty) {
        return Err(format!(
            "a send_message body without type or sender: {body}"
        ));
    }
    if body["tracking_data"]
        .as_str()
        .is_some_and(|t| t.len() > MAX_TRACKING_DATA)
    {
        return Err("tracking_data over 4,096 characters".into());
    }
    let mut buttons = Vec::new();
    let mut shares_phone = false;
    if let Some(keyboard) = body.get("keyboard") {
        if keyboard["Type"] != "keyboard" {
            return Err(format!(
                "a keyboard without \"Type\": \"keyboard\": {keyboard}"
            ));
        }
        let keys = keyboard["Buttons"]
            .as_array()
            .ok_or_else(|| format!("a keyboard without Buttons: {keyboard}"))?;
        if keys.is_empty() || keys.len() > MAX_KEYBOARD_BUTTONS {
            return Err(format!(
                "a keyboard with {} keys; Viber shows 1 to {MAX_KEYBOARD_BUTTONS}",
                keys.len()
            ));
        }
        for key in keys {
            let columns = key["Columns"].as_u64().unwrap_or(0);
            let rows = key["Rows"].as_u64().unwrap_or(0);
            let title = key["Text"].as_str().unwrap_or_default();
            let action_body = key["ActionBody"].as_str().unwrap_or_default();
            if !(1..=6).contains(&columns) || !(1..=2).contains(&rows) {
                return Err(format!("a key of {columns} columns and {rows} rows: {key}"));
            }
            if title.is_empty() || action_body.is_empty() {
                return Err(format!("a key without Text or ActionBody: {key}"));
            }
            if action_body.len() > MAX_ACTION_BODY {
                return Err(format!("an ActionBody over {MAX_ACTION_BODY} bytes: {key}"));
            }
            match key["ActionType"].as_str() {
                Some("reply") => buttons.push(Button::new(title, action_body)),
                Some("share-phone") => {
                    if body["min_api_version"].as_u64().unwrap_or(0)
                        < u64::from(SHARE_PHONE_API_VERSION)
                    {
                        return Err("a share-phone key with min_api_version under 3".into());
                    }
                    shares_phone = true;
                }
                other => return Err(format!("a key with ActionType {other:?}: {key}")),
            }
        }
    }
    Ok((text.to_owned(), buttons, shares_phone))
}

#[async_trait]
impl ChannelRoundTrip for ViberRoundTrip {
    fn name(&self) -> &'static str {
        "viber"
    }

    async fn shown(&self, replies: &[Reply]) -> Result<Vec<Reply>, String> {
        let mut shown = Vec::with_capacity(replies.len());
        for reply in replies {
            let keys = reply.buttons.len() + usize::from(reply.asks_contact);
            if keys > MAX_KEYBOARD_BUTTONS {
                return Err(format!(
                    "a reply with {keys} keys; a Viber keyboard holds at most {MAX_KEYBOARD_BUTTONS}: \"{}\"",
                    reply.text
                ));
            }
            let bodies = self.bodies(reply).await?;
            let mut text = String::new();
            let mut buttons = Vec::new();
            let mut asks_contact = false;
            for (index, body) in bodies.iter().enumerate() {
                let (part, keys, shares_phone) = read_back(body)?;
                if index + 1 < bodies.len() && (!keys.is_empty() || shares_phone) {
                    return Err("a keyboard on a part that is not the last".into());
                }
                text.push_str(&part);
                buttons = keys;
                asks_contact = shares_phone;
            }
            // The sources were appended as lines; what the customer reads above them is
            // the reply's text.
            if !reply.citations.is_empty() {
                let expected =
                    render::text_with_sources(&reply.text, &reply.citations, Language::Es);
                if text != expected {
                    return Err(format!("the sources did not render as lines: {text}"));
                }
                text = reply.text.clone();
            }
            shown.push(Reply {
                text,
                buttons,
                citations: reply.citations.clone(),
                stream_id: reply.stream_id.clone(),
                asks_contact,
            });
        }
        Ok(shown)
    }

    async fn received(&self, content: InboundContent) -> Result<InboundContent, String> {
        let callback = match &content {
            InboundContent::Start { payload } => {
                let mut event = json!({
                    "event": "conversation_started", "timestamp": 1457764197627u64,
                    "type": "open", "message_token": 4912661846655238145u64, "subscribed": false,
                    "user": {"id": TEST_USER, "name": "John McClane", "country": "CO",
                             "language": "es", "api_version": 9}
                });
                if let Some(payload) = payload {
                    event["context"] = json!(payload);
                }
                event
            }
            InboundContent::Text { text } => message(json!({"type": "text", "text": text})),
            // `payload` is the key's ActionBody from `shown`: the app sends it as text.
            InboundContent::Button { payload } => {
                message(json!({"type": "text", "text": payload, "tracking_data": "out:1"}))
            }
            InboundContent::Contact { phone } => message(json!({
                "type": "contact", "contact": {"name": "John McClane", "phone_number": phone}
            })),
        };
        let bytes = serde_json::to_vec(&callback).map_err(|err| err.to_string())?;
        match events::parse(&bytes).map_err(|err| err.to_string())? {
            ViberEvent::ConversationStarted { context, .. } => Ok(InboundContent::Start {
                payload: context.filter(|c| !c.is_empty()),
            }),
            ViberEvent::Message { message, .. } => {
                match events::incoming(&message, &self.codec)
                    .await
                    .map_err(|err| err.to_string())?
                {
                    Incoming::Content(content) => Ok(content),
                    Incoming::Unsupported(kind) => {
                        Err(format!("the adapter does not read a {kind} message"))
                    }
                }
            }
            other => Err(format!("the callback parsed as {other:?}")),
        }
    }
}

/// A documented `message` callback from the test customer.
fn message(message: Value) -> Value {
    json!({
        "event": "message", "timestamp": 1457764197627u64,
        "message_token": 4912661846655238145u64,
        "sender": {"id": TEST_USER, "name": "John McClane", "country": "CO",
                   "language": "es", "api_version": 9},
        "message": message, "silent": false
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_press_comes_back_as_the_button_and_text_as_text() {
        let trip = ViberRoundTrip::new();
        let reply = Reply::text("¿En qué sede?")
            .with_buttons(vec![Button::new("Sede Norte", "answer:norte")]);
        let shown = trip.shown(&[reply]).await.unwrap();
        assert_eq!(shown[0].text, "¿En qué sede?");
        let key = &shown[0].buttons[0];
        assert_eq!(key.title, "Sede Norte");
        assert_eq!(
            trip.received(InboundContent::Button {
                payload: key.payload.clone()
            })
            .await
            .unwrap(),
            InboundContent::Button {
                payload: "answer:norte".into()
            }
        );
        assert_eq!(
            trip.received(InboundContent::Text {
                text: "Sede Norte".into()
            })
            .await
            .unwrap(),
            InboundContent::Text {
                text: "Sede Norte".into()
            }
        );
    }

    #[tokio::test]
    async fn long_replies_read_back_whole_and_the_phone_question_shows_share_phone() {
        let trip = ViberRoundTrip::new();
        let long = "Una frase sobre el carro. ".repeat(600);
        let shown = trip
            .shown(&[
                Reply::text(long.clone()),
                Reply::text("¿Tu celular?").asking_contact(),
            ])
            .await
            .unwrap();
        assert_eq!(shown[0].text, long);
        assert!(shown[1].asks_contact);
        assert!(shown[1].buttons.is_empty());
        assert_eq!(
            trip.received(InboundContent::Contact {
                phone: "573001234567".into()
            })
            .await
            .unwrap(),
            InboundContent::Contact {
                phone: "+573001234567".into()
            }
        );
        assert_eq!(
            trip.received(InboundContent::Start {
                payload: Some("asesor".into())
            })
            .await
            .unwrap(),
            InboundContent::Start {
                payload: Some("asesor".into())
            }
        );
    }

    #[tokio::test]
    async fn too_many_buttons_fail_the_test() {
        let trip = ViberRoundTrip::new();
        let buttons = (0..25)
            .map(|i| Button::new(format!("{i}"), format!("answer:{i}")))
            .collect();
        let err = trip
            .shown(&[Reply::text("elige").with_buttons(buttons)])
            .await
            .unwrap_err();
        assert!(err.contains("24"), "{err}");
    }
}
