//! The main menu from settings: a greeting, one button per `[[menu]]` entry and each
//! entry's reply. It is the router until flow files (R2) take over, and stays as the
//! fallback when no flow matches.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::router::{Input, RouteError, Router, Turn};
use super::session::fold;
use super::{Button, Language, Reply};
use crate::config::{BotConfig, Localized, MenuItem};

/// Payload of the "back to the main menu" button.
pub const MENU_PAYLOAD: &str = "menu";
const ITEM_PREFIX: &str = "menu:";
/// Typed words that bring the main menu back.
const MENU_WORDS: &[&str] = &[
    "menu", "inicio", "hola", "buenas", "hello", "hi", "start", "/start",
];

#[derive(Clone)]
pub struct MenuRouter {
    greeting: Localized,
    fallback: Localized,
    items: Vec<MenuItem>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct MenuState {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    current: Option<String>,
}

impl MenuRouter {
    pub fn new(bot: &BotConfig, items: Vec<MenuItem>) -> Self {
        Self {
            greeting: bot.greeting.clone(),
            fallback: bot.fallback.clone(),
            items,
        }
    }

    fn text(&self, text: &Localized, language: Language) -> String {
        text.get(language).to_owned()
    }

    fn menu_buttons(&self, language: Language) -> Vec<Button> {
        self.items
            .iter()
            .map(|item| {
                Button::new(
                    item.title.get(language),
                    format!("{ITEM_PREFIX}{}", item.id),
                )
            })
            .collect()
    }

    fn item_reply(&self, item: &MenuItem, language: Language) -> Reply {
        let back = match language {
            Language::Es => "Volver al menú",
            Language::En => "Back to the menu",
        };
        Reply::text(self.text(&item.reply, language))
            .with_buttons(vec![Button::new(back, MENU_PAYLOAD)])
    }

    fn menu_reply(&self, text: String, language: Language) -> Reply {
        Reply::text(text).with_buttons(self.menu_buttons(language))
    }
}

#[async_trait]
impl Router for MenuRouter {
    async fn route(&self, turn: &mut Turn<'_>) -> Result<(), RouteError> {
        let mut state: MenuState = serde_json::from_value(turn.state.take()).unwrap_or_default();
        let language = turn.language;
        let greeting = || self.menu_reply(self.text(&self.greeting, language), language);
        let reply = match &turn.input {
            Input::Start { .. } => {
                state.current = None;
                greeting()
            }
            Input::Resume => match state.current.as_deref().and_then(|id| self.item(id)) {
                Some(item) => self.item_reply(item, language),
                None => greeting(),
            },
            Input::Button { payload } if payload == MENU_PAYLOAD => {
                state.current = None;
                let text = match language {
                    Language::Es => "¿En qué más te puedo ayudar?",
                    Language::En => "What else can I help you with?",
                };
                self.menu_reply(text.to_owned(), language)
            }
            Input::Button { payload } => {
                match payload
                    .strip_prefix(ITEM_PREFIX)
                    .and_then(|id| self.item(id))
                {
                    Some(item) => {
                        state.current = Some(item.id.clone());
                        self.item_reply(item, language)
                    }
                    None => self.menu_reply(self.text(&self.fallback, language), language),
                }
            }
            Input::Text(text) if MENU_WORDS.contains(&fold(text).as_str()) => {
                state.current = None;
                greeting()
            }
            Input::Text(_) | Input::Contact { .. } => {
                self.menu_reply(self.text(&self.fallback, language), language)
            }
        };
        turn.reply(reply);
        *turn.state = serde_json::to_value(&state).unwrap_or(Value::Null);
        Ok(())
    }

    fn in_progress(&self, state: &Value) -> bool {
        state.get("current").is_some_and(|v| !v.is_null())
    }
}

impl MenuRouter {
    fn item(&self, id: &str) -> Option<&MenuItem> {
        self.items.iter().find(|item| item.id == id)
    }
}
