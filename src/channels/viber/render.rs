//! Replies as Viber messages: text within Viber's 7,000 characters (split at a paragraph,
//! a line or a space), sources as plain lines, and the buttons as a keyboard on the last
//! part. Pure functions; the async part (long payloads kept in the store) is
//! [`encode_buttons`].
//!
//! # How a pressed button comes back
//!
//! Viber has no callback for keys: a `reply` key makes the app send its `ActionBody` as
//! an ordinary text message. So every key's `ActionBody` is [`BUTTON_MARK`] followed by
//! the payload (or, when the payload is long, a key to it in the store, as for Telegram's
//! `callback_data`), and keys are `Silent` so the code is not shown in the chat. A text
//! that starts with the mark is a press; anything else is typed text. The mark begins
//! with an invisible separator (U+2063) no keyboard types, so typed text is never taken
//! for a press, and every press carries the mark, so a press is never taken for text.

use super::api::{
    ActionType, Keyboard, KeyboardButton, MAX_KEYBOARD_BUTTONS, MAX_TEXT_CHARS,
    SHARE_PHONE_API_VERSION, SendMessage, Sender,
};
use crate::channels::callbacks::CallbackCodec;
use crate::engine::{Button, Citation, Language, Reply};
use crate::store::StoreError;

/// Starts the `ActionBody` of every key showroom sends.
pub const BUTTON_MARK: &str = "\u{2063}btn:";
/// The `ActionBody` of the share-phone key (Viber requires one; the app sends the
/// contact instead).
pub const SHARE_PHONE_BODY: &str = "phone";
/// Longest `ActionBody` we send as it is; longer payloads go by key.
pub const MAX_ACTION_BODY: usize = 250;
/// Titles up to this many characters get a half-width key.
const SHORT_TITLE_CHARS: usize = 16;

/// One Viber text message of a reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedMessage {
    pub text: String,
    pub keyboard: Option<Keyboard>,
}

/// A reply's button with what its key sends back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedButton {
    pub title: String,
    pub action_body: String,
}

/// The `ActionBody` of each button (long payloads kept in the store under a key).
pub async fn encode_buttons(
    codec: &CallbackCodec,
    buttons: &[Button],
) -> Result<Vec<EncodedButton>, StoreError> {
    let mut encoded = Vec::with_capacity(buttons.len());
    for button in buttons {
        encoded.push(EncodedButton {
            title: button.title.clone(),
            action_body: format!("{BUTTON_MARK}{}", codec.encode(&button.payload).await?),
        });
    }
    Ok(encoded)
}

/// The codec for key bodies: payloads up to [`MAX_ACTION_BODY`] bytes go as they are.
pub fn action_codec(
    store: std::sync::Arc<dyn crate::channels::callbacks::PayloadStore>,
) -> CallbackCodec {
    CallbackCodec::new(store, MAX_ACTION_BODY - BUTTON_MARK.len())
}

/// The messages for `reply`: its text and sources split into parts of at most 7,000
/// characters, the keyboard (buttons and the share-phone key) on the last part.
pub fn render(
    reply: &Reply,
    buttons: &[EncodedButton],
    language: Language,
) -> Vec<RenderedMessage> {
    let text = text_with_sources(&reply.text, &reply.citations, language);
    let mut parts: Vec<RenderedMessage> = split_text(&text, MAX_TEXT_CHARS)
        .into_iter()
        .map(|text| RenderedMessage {
            text,
            keyboard: None,
        })
        .collect();
    if let Some(last) = parts.last_mut() {
        last.keyboard = keyboard(buttons, reply.asks_contact, language);
    }
    parts
}

/// The `min_api_version` a message needs: share-phone keys need 3.
pub fn min_api_version(configured: u32, message: &RenderedMessage) -> u32 {
    let shares_phone = message.keyboard.as_ref().is_some_and(|k| {
        k.buttons
            .iter()
            .any(|b| b.action_type == ActionType::SharePhone)
    });
    if shares_phone {
        configured.max(SHARE_PHONE_API_VERSION)
    } else {
        configured
    }
}

/// The `send_message` body of one rendered message; without `receiver` it is the answer
/// to a `conversation_started` callback.
pub fn send_message(
    receiver: Option<&str>,
    sender: Sender,
    configured_min_api_version: u32,
    rendered: RenderedMessage,
    tracking_data: String,
) -> SendMessage {
    SendMessage {
        receiver: receiver.map(str::to_owned),
        min_api_version: min_api_version(configured_min_api_version, &rendered),
        sender,
        tracking_data,
        kind: "text".into(),
        text: rendered.text,
        keyboard: rendered.keyboard,
    }
}

/// The label of the share-phone key.
pub fn share_phone_title(language: Language) -> &'static str {
    match language {
        Language::Es => "📱 Compartir mi número",
        Language::En => "📱 Share my number",
    }
}

/// The reply's text followed by its sources, one per line.
pub fn text_with_sources(text: &str, citations: &[Citation], language: Language) -> String {
    if citations.is_empty() {
        return text.to_owned();
    }
    let mut out = text.trim_end().to_owned();
    out.push_str("\n\n");
    out.push_str(sources_heading(language));
    for citation in citations {
        out.push_str("\n• ");
        out.push_str(&citation.title);
        if let Some(section) = &citation.section {
            out.push_str(" — ");
            out.push_str(section);
        }
        if let Some(url) = &citation.url {
            out.push_str(" (");
            out.push_str(url);
            out.push(')');
        }
    }
    out
}

pub fn sources_heading(language: Language) -> &'static str {
    match language {
        Language::Es => "Fuentes:",
        Language::En => "Sources:",
    }
}

/// The keyboard for a reply's buttons, `None` without buttons. Viber shows at most 24
/// keys: the share-phone key comes first, and buttons past the limit are left out.
pub fn keyboard(
    buttons: &[EncodedButton],
    asks_contact: bool,
    language: Language,
) -> Option<Keyboard> {
    let mut keys = Vec::new();
    if asks_contact {
        keys.push(KeyboardButton {
            columns: 6,
            rows: 1,
            action_type: ActionType::SharePhone,
            action_body: SHARE_PHONE_BODY.into(),
            text: share_phone_title(language).into(),
            silent: false,
        });
    }
    for button in buttons {
        if keys.len() == MAX_KEYBOARD_BUTTONS {
            tracing::warn!(
                buttons = buttons.len(),
                "a reply has more buttons than a Viber keyboard holds (24); the rest are left out"
            );
            break;
        }
        let columns = if button.title.chars().count() <= SHORT_TITLE_CHARS {
            3
        } else {
            6
        };
        keys.push(KeyboardButton {
            columns,
            rows: 1,
            action_type: ActionType::Reply,
            action_body: button.action_body.clone(),
            text: button.title.clone(),
            silent: true,
        });
    }
    (!keys.is_empty()).then(|| Keyboard {
        kind: "keyboard".into(),
        default_height: false,
        buttons: keys,
    })
}

/// Splits `text` into parts of at most `max` characters, preferring to cut after a blank
/// line, then after a line break, then after a space. The parts joined give `text` back.
pub fn split_text(text: &str, max: usize) -> Vec<String> {
    let max = max.max(1);
    let mut parts = Vec::new();
    let mut rest = text;
    while rest.chars().count() > max {
        // Byte index just past the `max`-th character.
        let limit = rest
            .char_indices()
            .nth(max)
            .map(|(index, _)| index)
            .unwrap_or(rest.len());
        let window = &rest[..limit];
        let cut = [("\n\n", 2), ("\n", 1), (" ", 1)]
            .iter()
            .find_map(|(separator, len)| {
                window
                    .rfind(separator)
                    .map(|at| at + len)
                    .filter(|&at| at > 0 && at <= limit)
            })
            .unwrap_or(limit);
        parts.push(rest[..cut].to_owned());
        rest = &rest[cut..];
    }
    if !rest.is_empty() || parts.is_empty() {
        parts.push(rest.to_owned());
    }
    parts
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::channels::callbacks::MemoryPayloads;

    fn encoded(title: &str, payload: &str) -> EncodedButton {
        EncodedButton {
            title: title.into(),
            action_body: format!("{BUTTON_MARK}{payload}"),
        }
    }

    #[test]
    fn short_text_is_one_message_with_the_keyboard() {
        let reply = Reply::text("¿En qué sede?");
        let parts = render(
            &reply,
            &[
                encoded("Sede Norte", "answer:norte"),
                encoded("Sede Sur con parqueadero", "answer:sur"),
            ],
            Language::Es,
        );
        assert_eq!(parts.len(), 1);
        let keyboard = parts[0].keyboard.as_ref().unwrap();
        assert_eq!(keyboard.kind, "keyboard");
        assert!(!keyboard.default_height);
        assert_eq!(keyboard.buttons.len(), 2);
        assert_eq!(keyboard.buttons[0].columns, 3, "short title: half width");
        assert_eq!(keyboard.buttons[1].columns, 6, "long title: full width");
        assert_eq!(keyboard.buttons[0].action_type, ActionType::Reply);
        assert_eq!(
            keyboard.buttons[0].action_body,
            format!("{BUTTON_MARK}answer:norte")
        );
        assert!(keyboard.buttons[0].silent);
    }

    #[test]
    fn long_text_is_split_at_paragraphs_and_the_keyboard_goes_last() {
        let paragraph = "palabra ".repeat(500); // 4,000 characters
        let text = format!(
            "{}\n\n{}\n\n{}",
            paragraph.trim_end(),
            paragraph.trim_end(),
            "fin"
        );
        let reply = Reply::text(text.clone());
        let parts = render(&reply, &[encoded("Sí", "yes")], Language::Es);
        assert!(parts.len() >= 2, "{}", parts.len());
        for part in &parts {
            assert!(part.text.chars().count() <= MAX_TEXT_CHARS);
        }
        assert!(parts[0].text.ends_with("\n\n"), "cut after a blank line");
        assert!(
            parts[..parts.len() - 1]
                .iter()
                .all(|p| p.keyboard.is_none())
        );
        assert!(parts.last().unwrap().keyboard.is_some());
        let joined: String = parts.iter().map(|p| p.text.as_str()).collect();
        assert_eq!(joined, text);
    }

    #[test]
    fn splitting_falls_back_to_lines_spaces_and_hard_cuts() {
        assert_eq!(split_text("aaaa\nbbbb", 6), ["aaaa\n", "bbbb"]);
        assert_eq!(split_text("aaa bbb ccc", 8), ["aaa bbb ", "ccc"]);
        assert_eq!(split_text("ñññññññ", 3), ["ñññ", "ñññ", "ñ"]);
        assert_eq!(split_text("", 3), [""]);
        let long = "x".repeat(MAX_TEXT_CHARS * 2 + 1);
        let parts = split_text(&long, MAX_TEXT_CHARS);
        assert_eq!(parts.len(), 3);
        assert_eq!(parts.concat(), long);
    }

    #[test]
    fn sources_are_lines_under_the_answer() {
        let citations = vec![
            Citation {
                title: "Ficha Tiguan".into(),
                section: Some("Motor".into()),
                url: Some("https://example.co/tiguan.pdf".into()),
            },
            Citation {
                title: "Garantía".into(),
                section: None,
                url: None,
            },
        ];
        assert_eq!(
            text_with_sources("El motor es 2.0 TSI.", &citations, Language::Es),
            "El motor es 2.0 TSI.\n\nFuentes:\n• Ficha Tiguan — Motor (https://example.co/tiguan.pdf)\n• Garantía"
        );
    }

    #[test]
    fn asking_for_the_phone_adds_a_share_phone_key_first_and_needs_api_3() {
        let reply = Reply::text("¿A qué número te contactamos?").asking_contact();
        let parts = render(&reply, &[], Language::En);
        let keyboard = parts[0].keyboard.as_ref().unwrap();
        assert_eq!(keyboard.buttons[0].action_type, ActionType::SharePhone);
        assert_eq!(keyboard.buttons[0].text, "📱 Share my number");
        assert_eq!(keyboard.buttons[0].action_body, SHARE_PHONE_BODY);
        assert_eq!(min_api_version(1, &parts[0]), 3);
        assert_eq!(min_api_version(7, &parts[0]), 7);
        let plain = render(&Reply::text("hola"), &[], Language::Es);
        assert!(plain[0].keyboard.is_none());
        assert_eq!(min_api_version(1, &plain[0]), 1);
    }

    #[test]
    fn a_keyboard_never_holds_more_than_24_keys() {
        let buttons: Vec<EncodedButton> = (0..30).map(|i| encoded(&format!("{i}"), "x")).collect();
        let keyboard = keyboard(&buttons, true, Language::Es).unwrap();
        assert_eq!(keyboard.buttons.len(), MAX_KEYBOARD_BUTTONS);
    }

    #[tokio::test]
    async fn long_payloads_go_by_key() {
        let codec = action_codec(Arc::new(MemoryPayloads::default()));
        let long = format!("answer:{}", "x".repeat(400));
        let encoded = encode_buttons(
            &codec,
            &[Button::new("A", "answer:a"), Button::new("B", long.clone())],
        )
        .await
        .unwrap();
        assert_eq!(encoded[0].action_body, format!("{BUTTON_MARK}answer:a"));
        assert!(
            encoded[1].action_body.len() <= MAX_ACTION_BODY,
            "{}",
            encoded[1].action_body
        );
        let key = encoded[1].action_body.strip_prefix(BUTTON_MARK).unwrap();
        assert_eq!(codec.decode(key).await.unwrap(), Some(long));
    }
}
