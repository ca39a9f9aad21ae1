//! `[viber]` settings and the bot's secrets from the environment (`VIBER_AUTH_TOKEN`,
//! `VIBER_API_URL`, `VIBER_WEBHOOK_URL`). Without a token Viber is off. Viber only
//! delivers by webhook: with `VIBER_WEBHOOK_URL` the webhook is registered at start;
//! without it, `POST /webhooks/viber` still answers if it was registered elsewhere.

use serde::{Deserialize, Serialize};

use crate::channels::telegram::settings::check_http_url;
use crate::config::{ConfigError, invalid};

/// Where Viber's REST bot API lives; methods are at `{base}/{method}`.
pub const DEFAULT_API_URL: &str = "https://chatapi.viber.com/pa";

/// `[viber]` as written in `showroom.toml`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RawViber {
    /// The name shown as the sender of every message (at most 28 characters). Empty: the
    /// bot's name.
    pub sender_name: String,
    /// A picture for the sender (an https address of a JPEG under 100 KB), optional.
    pub sender_avatar: String,
    /// The bot account's URI, for "continue on Viber" links
    /// (`viber://pa?chatURI=<uri>&context=…`). Empty: asked from Viber
    /// (`get_account_info`) at start.
    pub chat_uri: String,
    /// The oldest Viber app version the keyboards need (share-phone needs 3).
    pub min_api_version: u32,
    /// Messages per second in all.
    pub messages_per_second: u32,
}

impl Default for RawViber {
    fn default() -> Self {
        Self {
            sender_name: String::new(),
            sender_avatar: String::new(),
            chat_uri: String::new(),
            min_api_version: 7,
            messages_per_second: 20,
        }
    }
}

/// The Viber secrets, from the environment.
#[derive(Clone, Default)]
pub struct ViberEnv {
    pub auth_token: Option<String>,
    pub api_url: Option<String>,
    pub webhook_url: Option<String>,
}

impl std::fmt::Debug for ViberEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ViberEnv")
            .field("auth_token", &self.auth_token.as_ref().map(|_| "<set>"))
            .field("api_url", &self.api_url)
            .field("webhook_url", &self.webhook_url)
            .finish()
    }
}

impl ViberEnv {
    pub fn from_env() -> Self {
        let var = crate::config::env_value;
        Self {
            auth_token: var("VIBER_AUTH_TOKEN"),
            api_url: var("VIBER_API_URL"),
            webhook_url: var("VIBER_WEBHOOK_URL"),
        }
    }
}

/// Validated Viber settings; `Config::viber` is `None` when there is no token.
#[derive(Debug, Clone)]
pub struct ViberConfig {
    pub auth_token: String,
    /// Without a trailing slash.
    pub api_url: String,
    /// Registered with `set_webhook` at start, when set.
    pub webhook_url: Option<String>,
    pub sender_name: String,
    pub sender_avatar: Option<String>,
    pub chat_uri: Option<String>,
    pub min_api_version: u32,
    pub messages_per_second: u32,
}

/// Viber's limit on the sender name.
const MAX_SENDER_NAME: usize = 28;

impl ViberConfig {
    /// `None` without `VIBER_AUTH_TOKEN`; `bot_name` is the sender name by default.
    pub fn from_settings(
        raw: &RawViber,
        env: &ViberEnv,
        bot_name: &str,
    ) -> Result<Option<Self>, ConfigError> {
        let Some(auth_token) = env.auth_token.clone() else {
            return Ok(None);
        };
        if auth_token.contains(char::is_whitespace) {
            return Err(invalid(
                "VIBER_AUTH_TOKEN",
                "<hidden>",
                "the token from the Viber Admin Panel (Edit info → Your app key) is expected, without spaces",
            ));
        }
        let api_url = env
            .api_url
            .as_deref()
            .unwrap_or(DEFAULT_API_URL)
            .trim_end_matches('/')
            .to_owned();
        check_http_url("VIBER_API_URL", &api_url, DEFAULT_API_URL)?;
        if let Some(url) = &env.webhook_url {
            check_http_url(
                "VIBER_WEBHOOK_URL",
                url,
                "https://bot.example.co/webhooks/viber",
            )?;
            if !url.starts_with("https://")
                && !url.starts_with("http://127.0.0.1")
                && !url.starts_with("http://localhost")
            {
                return Err(invalid(
                    "VIBER_WEBHOOK_URL",
                    crate::config::redact_url(url),
                    "an https:// address is expected: Viber only calls https:// addresses with a valid certificate; put showroom behind a TLS proxy and give its https:// address",
                ));
            }
        }
        let sender_name = match raw.sender_name.trim() {
            "" => bot_name.trim().to_owned(),
            name => name.to_owned(),
        };
        if sender_name.is_empty() || sender_name.chars().count() > MAX_SENDER_NAME {
            return Err(invalid(
                "viber.sender_name",
                &sender_name,
                "a name of 1 to 28 characters (Viber's limit) is expected, like \"Autos del Valle\"",
            ));
        }
        let sender_avatar = match raw.sender_avatar.trim() {
            "" => None,
            url => {
                check_http_url("viber.sender_avatar", url, "https://example.co/logo.jpg")?;
                Some(url.to_owned())
            }
        };
        if raw.messages_per_second == 0 {
            return Err(invalid(
                "viber.messages_per_second",
                0,
                "a whole number of at least 1 is expected",
            ));
        }
        Ok(Some(Self {
            auth_token,
            api_url,
            webhook_url: env.webhook_url.clone(),
            sender_name,
            sender_avatar,
            chat_uri: Some(raw.chat_uri.trim().to_owned()).filter(|u| !u.is_empty()),
            min_api_version: raw.min_api_version.max(1),
            messages_per_second: raw.messages_per_second,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_without_a_token_and_named_after_the_bot() {
        let raw = RawViber::default();
        assert!(
            ViberConfig::from_settings(&raw, &ViberEnv::default(), "Sofía")
                .unwrap()
                .is_none()
        );
        let env = ViberEnv {
            auth_token: Some("4453b6ac1s345678-e02c5f12174805f9-daec9cbb5448c51r".into()),
            ..ViberEnv::default()
        };
        let config = ViberConfig::from_settings(&raw, &env, "Sofía")
            .unwrap()
            .unwrap();
        assert_eq!(config.sender_name, "Sofía");
        assert_eq!(config.api_url, DEFAULT_API_URL);
    }

    #[test]
    fn a_long_sender_name_is_refused() {
        let raw = RawViber {
            sender_name: "Concesionario de Autos del Valle del Cauca".into(),
            ..RawViber::default()
        };
        let env = ViberEnv {
            auth_token: Some("token".into()),
            ..ViberEnv::default()
        };
        let err = ViberConfig::from_settings(&raw, &env, "x")
            .unwrap_err()
            .to_string();
        assert!(err.contains("28"), "{err}");
    }
}
