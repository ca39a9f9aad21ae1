//! A conversation's state between messages, stored as JSON in the `sessions` table. The
//! engine owns the envelope (language, offered buttons, resume flag); the router owns
//! `router`, opaque to everyone else.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Button, InboundContent, Input, Language, Reply};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Session {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<Language>,
    /// Buttons of the last reply that had any: typed text is matched against them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub offered: Vec<Button>,
    /// We asked "continue where you left off?" and wait for the answer.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub resume_pending: bool,
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub router: Value,
}

impl Session {
    /// Reads a stored session. An unreadable one (written by an incompatible version)
    /// starts over rather than wedging the conversation.
    pub fn from_stored(json: &str) -> Self {
        serde_json::from_str(json).unwrap_or_else(|err| {
            tracing::warn!(cause = %err, "stored session unreadable; starting over");
            Self::default()
        })
    }

    pub fn to_stored(&self) -> String {
        // Serializing plain data with string keys cannot fail.
        serde_json::to_string(self).unwrap_or_else(|_| String::from("{}"))
    }

    /// Turns stored inbound content into router input: typed text that names an offered
    /// button becomes that button. Also returns, for a pressed button, its title, which
    /// the transcript keeps instead of the payload.
    pub fn input_for(&self, content: InboundContent) -> (Input, Option<String>) {
        match content {
            InboundContent::Start { payload } => (Input::Start { payload }, None),
            InboundContent::Text { text } => match self.offered_button_for(&text) {
                Some(button) => (
                    Input::Button {
                        payload: button.payload.clone(),
                    },
                    None,
                ),
                None => (Input::Text(text), None),
            },
            InboundContent::Button { payload } => {
                let title = self
                    .offered
                    .iter()
                    .find(|b| b.payload == payload)
                    .map(|b| b.title.clone());
                (Input::Button { payload }, title)
            }
            InboundContent::Contact { phone } => (Input::Contact { phone }, None),
        }
    }

    /// Keeps the buttons of the last reply that had any, so typed text can match them;
    /// replies without buttons clear them.
    pub fn remember_offered(&mut self, replies: &[Reply]) {
        if let Some(with_buttons) = replies.iter().rev().find(|r| !r.buttons.is_empty()) {
            self.offered = with_buttons.buttons.clone();
        } else if !replies.is_empty() {
            self.offered.clear();
        }
    }

    /// The offered button that typed text names: its number ("2") or its title, ignoring
    /// case, accents and surrounding punctuation.
    pub fn offered_button_for(&self, text: &str) -> Option<&Button> {
        let wanted = fold(text);
        if wanted.is_empty() {
            return None;
        }
        if let Ok(number) = wanted.parse::<usize>() {
            return number.checked_sub(1).and_then(|i| self.offered.get(i));
        }
        self.offered.iter().find(|b| fold(&b.title) == wanted)
    }
}

/// Lowercases, removes Spanish accents and keeps letters, digits and single spaces.
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars().flat_map(char::to_lowercase) {
        let c = match c {
            'á' | 'à' | 'ä' | 'â' => 'a',
            'é' | 'è' | 'ë' | 'ê' => 'e',
            'í' | 'ì' | 'ï' | 'î' => 'i',
            'ó' | 'ò' | 'ö' | 'ô' => 'o',
            'ú' | 'ù' | 'ü' | 'û' => 'u',
            'ñ' => 'n',
            c => c,
        };
        if c.is_alphanumeric() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with(' ') {
            out.push(' ');
        }
    }
    out.truncate(out.trim_end().len());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> Session {
        Session {
            offered: vec![
                Button::new("Prueba de manejo", "menu:test_drive"),
                Button::new("Cita de taller", "menu:service"),
            ],
            ..Session::default()
        }
    }

    #[test]
    fn typed_text_matches_offered_buttons() {
        let s = session();
        assert_eq!(
            s.offered_button_for("2").map(|b| b.payload.as_str()),
            Some("menu:service")
        );
        assert_eq!(
            s.offered_button_for("  PRUEBA de Manejo!! ")
                .map(|b| b.payload.as_str()),
            Some("menu:test_drive")
        );
        assert_eq!(s.offered_button_for("3"), None);
        assert_eq!(s.offered_button_for("0"), None);
        assert_eq!(s.offered_button_for("hola"), None);
        assert_eq!(s.offered_button_for("¿?"), None);
    }

    #[test]
    fn fold_removes_accents_and_punctuation() {
        assert_eq!(fold("¡Menú  Principal!"), "menu principal");
        assert_eq!(fold("Año ÚNICO"), "ano unico");
    }

    #[test]
    fn unreadable_session_starts_over() {
        assert_eq!(Session::from_stored("not json"), Session::default());
        let s = session();
        assert_eq!(Session::from_stored(&s.to_stored()), s);
    }
}
