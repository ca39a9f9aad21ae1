//! `[telegram]` settings and the bot's secrets from the environment
//! (`TELEGRAM_BOT_TOKEN`, `TELEGRAM_API_URL`, `TELEGRAM_WEBHOOK_URL`,
//! `TELEGRAM_WEBHOOK_SECRET`). Without a token Telegram is off. With a webhook URL the bot
//! is registered there (several instances behind a load balancer); without one this
//! instance polls Telegram for updates (one instance only: Telegram refuses two pollers).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::{ConfigError, invalid, parse_duration};

/// Where the official Bot API lives; a self-hosted Bot API server or a test fake can
/// take its place through `TELEGRAM_API_URL`.
pub const DEFAULT_API_URL: &str = "https://api.telegram.org";

/// `[telegram]` as written in `showroom.toml`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RawTelegram {
    /// The bot's @username without the @, for "continue on Telegram" links
    /// (`https://t.me/<username>?start=…`). Empty: asked from Telegram (`getMe`) at start.
    pub bot_username: String,
    /// Messages per second to one chat (Telegram allows about 1).
    pub messages_per_second_per_chat: u32,
    /// Messages per second in all (Telegram allows about 30 for a bot).
    pub messages_per_second: u32,
    /// How long one long-polling request waits for updates.
    pub poll_timeout: String,
    /// Least time between two edits of an answer that grows while it is written.
    pub edit_interval: String,
    /// Longest wait honoured when Telegram answers "retry after N seconds"; a longer one
    /// leaves the message for the relay to try later.
    pub max_retry_after: String,
}

impl Default for RawTelegram {
    fn default() -> Self {
        Self {
            bot_username: String::new(),
            messages_per_second_per_chat: 1,
            messages_per_second: 30,
            poll_timeout: "30s".into(),
            edit_interval: "1s".into(),
            max_retry_after: "60s".into(),
        }
    }
}

/// The Telegram secrets, from the environment.
#[derive(Clone, Default)]
pub struct TelegramEnv {
    pub token: Option<String>,
    pub api_url: Option<String>,
    pub webhook_url: Option<String>,
    pub webhook_secret: Option<String>,
}

impl std::fmt::Debug for TelegramEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelegramEnv")
            .field("token", &self.token.as_ref().map(|_| "<set>"))
            .field("api_url", &self.api_url)
            .field("webhook_url", &self.webhook_url)
            .field(
                "webhook_secret",
                &self.webhook_secret.as_ref().map(|_| "<set>"),
            )
            .finish()
    }
}

impl TelegramEnv {
    pub fn from_env() -> Self {
        let var = crate::config::env_value;
        Self {
            token: var("TELEGRAM_BOT_TOKEN"),
            api_url: var("TELEGRAM_API_URL"),
            webhook_url: var("TELEGRAM_WEBHOOK_URL"),
            webhook_secret: var("TELEGRAM_WEBHOOK_SECRET"),
        }
    }
}

/// How updates reach this instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpdateMode {
    /// `getUpdates` in a loop.
    Polling,
    /// Telegram posts to `POST /webhooks/telegram`; `url` is registered with `setWebhook`
    /// and every request must carry `secret` in `X-Telegram-Bot-Api-Secret-Token`.
    Webhook { url: String, secret: String },
}

/// Validated Telegram settings; `Config::telegram` is `None` when there is no token.
#[derive(Debug, Clone)]
pub struct TelegramConfig {
    pub token: String,
    /// Without a trailing slash; methods are at `{api_url}/bot{token}/{method}`.
    pub api_url: String,
    pub mode: UpdateMode,
    pub bot_username: Option<String>,
    pub messages_per_second_per_chat: u32,
    pub messages_per_second: u32,
    pub poll_timeout: Duration,
    pub edit_interval: Duration,
    pub max_retry_after: Duration,
}

impl TelegramConfig {
    /// `None` without `TELEGRAM_BOT_TOKEN`.
    pub fn from_settings(
        raw: &RawTelegram,
        env: &TelegramEnv,
    ) -> Result<Option<Self>, ConfigError> {
        let Some(token) = env.token.clone() else {
            return Ok(None);
        };
        // "123456:ABC-DEF…": the bot id, a colon, the secret part.
        let well_formed = token.split_once(':').is_some_and(|(id, secret)| {
            !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) && !secret.is_empty()
        }) && !token.contains(['/', ' ']);
        if !well_formed {
            return Err(invalid(
                "TELEGRAM_BOT_TOKEN",
                "<hidden>",
                "the token @BotFather gave is expected, like 123456789:AAE…; copy it again from BotFather (/token)",
            ));
        }
        let api_url = env
            .api_url
            .as_deref()
            .unwrap_or(DEFAULT_API_URL)
            .trim_end_matches('/')
            .to_owned();
        check_http_url("TELEGRAM_API_URL", &api_url, "https://api.telegram.org")?;
        let mode = match &env.webhook_url {
            None => UpdateMode::Polling,
            Some(url) => {
                check_http_url(
                    "TELEGRAM_WEBHOOK_URL",
                    url,
                    "https://bot.example.co/webhooks/telegram",
                )?;
                let Some(secret) = env.webhook_secret.clone() else {
                    return Err(invalid(
                        "TELEGRAM_WEBHOOK_SECRET",
                        "",
                        "a secret token is needed because TELEGRAM_WEBHOOK_URL is set: it tells Telegram's requests from anyone else's; set TELEGRAM_WEBHOOK_SECRET to 1–256 letters, digits, _ or - (generate one with `openssl rand -hex 32`), the same on every instance",
                    ));
                };
                let allowed = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
                if secret.is_empty() || secret.len() > 256 || !secret.chars().all(allowed) {
                    return Err(invalid(
                        "TELEGRAM_WEBHOOK_SECRET",
                        "<hidden>",
                        "1–256 characters are expected, only letters, digits, _ and - (Telegram's rule); generate one with `openssl rand -hex 32`",
                    ));
                }
                UpdateMode::Webhook {
                    url: url.clone(),
                    secret,
                }
            }
        };
        let username = raw.bot_username.trim().trim_start_matches('@');
        if !username.is_empty()
            && !username
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(invalid(
                "telegram.bot_username",
                username,
                "the bot's username is expected as BotFather shows it, letters, digits and _ (like ConcesionarioBot), without @",
            ));
        }
        for (key, value) in [
            (
                "telegram.messages_per_second_per_chat",
                raw.messages_per_second_per_chat,
            ),
            ("telegram.messages_per_second", raw.messages_per_second),
        ] {
            if value == 0 {
                return Err(invalid(
                    key,
                    value,
                    "a whole number of at least 1 is expected",
                ));
            }
        }
        Ok(Some(Self {
            token,
            api_url,
            mode,
            bot_username: (!username.is_empty()).then(|| username.to_owned()),
            messages_per_second_per_chat: raw.messages_per_second_per_chat,
            messages_per_second: raw.messages_per_second,
            poll_timeout: parse_duration("telegram.poll_timeout", &raw.poll_timeout)?,
            edit_interval: parse_duration("telegram.edit_interval", &raw.edit_interval)?,
            max_retry_after: parse_duration("telegram.max_retry_after", &raw.max_retry_after)?,
        }))
    }
}

/// An http(s) address with a host, or a clear error naming `key`.
pub(crate) fn check_http_url(key: &str, url: &str, example: &str) -> Result<(), ConfigError> {
    let shown = crate::config::redact_url(url);
    let expected = format!(
        "an address starting with https:// (or http:// for a local server), like {example}"
    );
    let parsed = reqwest::Url::parse(url).map_err(|_| invalid(key, &shown, &expected))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(invalid(key, &shown, &expected));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(token: &str) -> TelegramEnv {
        TelegramEnv {
            token: Some(token.into()),
            ..TelegramEnv::default()
        }
    }

    #[test]
    fn off_without_a_token_and_polling_without_a_webhook() {
        let raw = RawTelegram::default();
        assert!(
            TelegramConfig::from_settings(&raw, &TelegramEnv::default())
                .unwrap()
                .is_none()
        );
        let config = TelegramConfig::from_settings(&raw, &env("123:abc"))
            .unwrap()
            .unwrap();
        assert_eq!(config.mode, UpdateMode::Polling);
        assert_eq!(config.api_url, DEFAULT_API_URL);
    }

    #[test]
    fn a_webhook_needs_a_valid_secret() {
        let raw = RawTelegram::default();
        let mut e = env("123:abc");
        e.webhook_url = Some("https://bot.example.co/webhooks/telegram".into());
        let err = TelegramConfig::from_settings(&raw, &e)
            .unwrap_err()
            .to_string();
        assert!(err.contains("TELEGRAM_WEBHOOK_SECRET"), "{err}");
        e.webhook_secret = Some("has spaces!".into());
        assert!(TelegramConfig::from_settings(&raw, &e).is_err());
        e.webhook_secret = Some("s3cr3t_-token".into());
        let config = TelegramConfig::from_settings(&raw, &e).unwrap().unwrap();
        assert!(matches!(config.mode, UpdateMode::Webhook { .. }));
    }

    #[test]
    fn a_malformed_token_is_refused_without_showing_it() {
        let err = TelegramConfig::from_settings(&RawTelegram::default(), &env("not-a-token"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("BotFather") && !err.contains("not-a-token"),
            "{err}"
        );
    }
}
