//! `[assistant]` and `[assistant.llm]` settings, validated. The LLM's address, key and
//! model come from the environment (`OPENAI_BASE_URL`, `OPENAI_API_KEY`,
//! `SHOWROOM_LLM_MODEL`); with neither a key nor a URL the assistant answers
//! extractively, which is the embedded default.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::{ConfigError, invalid, parse_duration};

/// `[assistant]` as written in `showroom.toml`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RawAssistant {
    /// Passages retrieved per question.
    pub passages: usize,
    /// Most sources cited under one answer.
    pub max_citations: usize,
    /// Share (0–1) of the question's content words that must appear in the retrieved
    /// passages before the assistant answers; below it says "no tengo ese dato".
    pub min_coverage: f32,
    /// Earlier questions and answers kept for follow-ups ("¿y en carretera?").
    pub history_turns: usize,
    /// Reload `prompts/*.j2` while `serve` runs when a file changes.
    pub watch_prompts: bool,
    pub llm: RawLlm,
}

impl Default for RawAssistant {
    fn default() -> Self {
        Self {
            passages: 5,
            max_citations: 3,
            min_coverage: 0.5,
            history_turns: 6,
            watch_prompts: true,
            llm: RawLlm::default(),
        }
    }
}

/// `[assistant.llm]`: any OpenAI-compatible `/v1/chat/completions`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RawLlm {
    /// Base URL up to and including `/v1`; `OPENAI_BASE_URL` overrides it. Empty and no
    /// `OPENAI_API_KEY` = no LLM (extractive answers).
    pub base_url: String,
    /// `SHOWROOM_LLM_MODEL` overrides it.
    pub model: String,
    /// The model's context window in tokens.
    pub context_window: usize,
    /// Tokens kept free for the answer (sent as `max_tokens`).
    pub answer_tokens: usize,
    pub temperature: f32,
    /// Longest wait for the first token.
    pub first_token_timeout: String,
    /// Longest whole answer.
    pub timeout: String,
    /// Attempts after the first one fails with a timeout, 429 or 5xx before any token.
    pub max_retries: u32,
    /// Failures in a row that open the circuit breaker (answers go extractive).
    pub breaker_failures: u32,
    /// How long the breaker stays open before one request tries the LLM again.
    pub breaker_cooldown: String,
    /// Least time between two edits of a growing answer on Telegram.
    pub edit_interval: String,
}

impl Default for RawLlm {
    fn default() -> Self {
        Self {
            base_url: String::new(),
            model: "gpt-4o-mini".into(),
            context_window: 16_000,
            answer_tokens: 700,
            temperature: 0.2,
            first_token_timeout: "15s".into(),
            timeout: "60s".into(),
            max_retries: 2,
            breaker_failures: 3,
            breaker_cooldown: "60s".into(),
            edit_interval: "1s".into(),
        }
    }
}

/// `OPENAI_BASE_URL`, `OPENAI_API_KEY`, `SHOWROOM_LLM_MODEL`.
#[derive(Clone, Default)]
pub struct LlmEnv {
    pub base_url: Option<String>,
    pub api_key: Option<String>,
    pub model: Option<String>,
}

impl std::fmt::Debug for LlmEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LlmEnv")
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "<set>"))
            .field("model", &self.model)
            .finish()
    }
}

impl LlmEnv {
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        Self {
            base_url: var("OPENAI_BASE_URL"),
            api_key: var("OPENAI_API_KEY"),
            model: var("SHOWROOM_LLM_MODEL"),
        }
    }
}

/// Validated `[assistant]`.
#[derive(Debug, Clone)]
pub struct AssistantConfig {
    pub passages: usize,
    pub max_citations: usize,
    pub min_coverage: f32,
    pub history_turns: usize,
    pub watch_prompts: bool,
    /// `None`: extractive answers only.
    pub llm: Option<LlmConfig>,
}

/// Validated `[assistant.llm]` plus its server.
#[derive(Clone, PartialEq)]
pub struct LlmConfig {
    /// Up to and including `/v1`.
    pub base_url: String,
    pub api_key: Option<String>,
    pub model: String,
    pub context_window: usize,
    pub answer_tokens: usize,
    pub temperature: f32,
    pub first_token_timeout: Duration,
    pub timeout: Duration,
    pub max_retries: u32,
    pub breaker_failures: u32,
    pub breaker_cooldown: Duration,
    pub edit_interval: Duration,
}

impl std::fmt::Debug for LlmConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LlmConfig")
            .field("base_url", &crate::config::redact_url(&self.base_url))
            .field("model", &self.model)
            .field("context_window", &self.context_window)
            .field("answer_tokens", &self.answer_tokens)
            .finish_non_exhaustive()
    }
}

impl AssistantConfig {
    pub fn from_settings(raw: &RawAssistant, env: &LlmEnv) -> Result<Self, ConfigError> {
        if !(1..=20).contains(&raw.passages) {
            return Err(invalid(
                "assistant.passages",
                raw.passages,
                "a number of passages between 1 and 20 is expected (5 suits most questions)",
            ));
        }
        if !(1..=10).contains(&raw.max_citations) {
            return Err(invalid(
                "assistant.max_citations",
                raw.max_citations,
                "a number between 1 and 10 is expected",
            ));
        }
        if !(0.0..=1.0).contains(&raw.min_coverage) {
            return Err(invalid(
                "assistant.min_coverage",
                raw.min_coverage,
                "a share between 0 and 1 is expected, like 0.5",
            ));
        }
        if raw.history_turns > 50 {
            return Err(invalid(
                "assistant.history_turns",
                raw.history_turns,
                "at most 50 earlier exchanges are kept",
            ));
        }
        Ok(Self {
            passages: raw.passages,
            max_citations: raw.max_citations,
            min_coverage: raw.min_coverage,
            history_turns: raw.history_turns,
            watch_prompts: raw.watch_prompts,
            llm: llm_config(&raw.llm, env)?,
        })
    }
}

fn llm_config(raw: &RawLlm, env: &LlmEnv) -> Result<Option<LlmConfig>, ConfigError> {
    let base_url = env
        .base_url
        .clone()
        .unwrap_or_else(|| raw.base_url.trim().to_owned());
    if base_url.is_empty() && env.api_key.is_none() {
        return Ok(None);
    }
    let base_url = if base_url.is_empty() {
        "https://api.openai.com/v1".to_owned()
    } else {
        base_url.trim_end_matches('/').to_owned()
    };
    if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
        return Err(invalid(
            "assistant.llm.base_url",
            crate::config::redact_url(&base_url),
            "a base URL like http://127.0.0.1:11434/v1 or https://api.openai.com/v1 is expected",
        ));
    }
    let model = env
        .model
        .clone()
        .unwrap_or_else(|| raw.model.trim().to_owned());
    if model.is_empty() {
        return Err(invalid(
            "assistant.llm.model",
            "",
            "the model name the server knows is expected, like \"gpt-4o-mini\" or \"llama3.1:8b\"",
        ));
    }
    if !(1024..=2_000_000).contains(&raw.context_window) {
        return Err(invalid(
            "assistant.llm.context_window",
            raw.context_window,
            "the model's context window in tokens is expected, between 1024 and 2000000",
        ));
    }
    if raw.answer_tokens < 64 || raw.answer_tokens * 2 > raw.context_window {
        return Err(invalid(
            "assistant.llm.answer_tokens",
            raw.answer_tokens,
            "at least 64 tokens and at most half of assistant.llm.context_window is expected",
        ));
    }
    if !(0.0..=2.0).contains(&raw.temperature) {
        return Err(invalid(
            "assistant.llm.temperature",
            raw.temperature,
            "a number between 0 and 2 is expected (0.2 keeps answers close to the sources)",
        ));
    }
    if raw.breaker_failures == 0 {
        return Err(invalid(
            "assistant.llm.breaker_failures",
            0,
            "a number of failures above 0 is expected",
        ));
    }
    let first_token_timeout = parse_duration(
        "assistant.llm.first_token_timeout",
        &raw.first_token_timeout,
    )?;
    let timeout = parse_duration("assistant.llm.timeout", &raw.timeout)?;
    if first_token_timeout > timeout {
        return Err(invalid(
            "assistant.llm.first_token_timeout",
            &raw.first_token_timeout,
            "at most assistant.llm.timeout is expected",
        ));
    }
    Ok(Some(LlmConfig {
        base_url,
        api_key: env.api_key.clone(),
        model,
        context_window: raw.context_window,
        answer_tokens: raw.answer_tokens,
        temperature: raw.temperature,
        first_token_timeout,
        timeout,
        max_retries: raw.max_retries,
        breaker_failures: raw.breaker_failures,
        breaker_cooldown: parse_duration("assistant.llm.breaker_cooldown", &raw.breaker_cooldown)?,
        edit_interval: parse_duration("assistant.llm.edit_interval", &raw.edit_interval)?,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_key_and_no_url_means_extractive() {
        let config = AssistantConfig::from_settings(&RawAssistant::default(), &LlmEnv::default())
            .expect("defaults are valid");
        assert!(config.llm.is_none());
    }

    #[test]
    fn a_url_turns_the_llm_on_and_env_wins() {
        let env = LlmEnv {
            base_url: Some("http://127.0.0.1:11434/v1/".into()),
            api_key: None,
            model: Some("llama3.1:8b".into()),
        };
        let config =
            AssistantConfig::from_settings(&RawAssistant::default(), &env).expect("valid settings");
        let llm = config.llm.expect("llm on");
        assert_eq!(llm.base_url, "http://127.0.0.1:11434/v1");
        assert_eq!(llm.model, "llama3.1:8b");
        let key_only = LlmEnv {
            api_key: Some("sk-test".into()),
            ..LlmEnv::default()
        };
        let llm = AssistantConfig::from_settings(&RawAssistant::default(), &key_only)
            .expect("valid")
            .llm
            .expect("llm on");
        assert_eq!(llm.base_url, "https://api.openai.com/v1");
    }

    #[test]
    fn bad_values_name_their_key() {
        let raw = RawAssistant {
            min_coverage: 1.5,
            ..RawAssistant::default()
        };
        let err = AssistantConfig::from_settings(&raw, &LlmEnv::default())
            .expect_err("refused")
            .to_string();
        assert!(err.contains("assistant.min_coverage"), "{err}");
        let raw = RawAssistant {
            llm: RawLlm {
                answer_tokens: 9000,
                ..RawLlm::default()
            },
            ..RawAssistant::default()
        };
        let env = LlmEnv {
            base_url: Some("http://x/v1".into()),
            ..LlmEnv::default()
        };
        let err = AssistantConfig::from_settings(&raw, &env)
            .expect_err("refused")
            .to_string();
        assert!(err.contains("assistant.llm.answer_tokens"), "{err}");
    }
}
