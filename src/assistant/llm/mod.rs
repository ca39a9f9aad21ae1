//! Chat completions from any OpenAI-compatible server (OpenAI, Azure OpenAI, vLLM, Ollama,
//! llama.cpp server), streamed: each piece of text goes to the caller as it arrives so the
//! customer sees the answer grow.
//!
//! The rest of the assistant talks to [`ChatModel`], so tests and the orchestration never
//! depend on HTTP. [`LlmClient`] is the real one: async-openai underneath, with our own
//! retries (timeouts, 429 and 5xx, only until the first piece of text reached the
//! customer), a first-token and a whole-answer timeout, and a circuit breaker that makes
//! calls fail at once while the server is known to be down, so answers fall back without
//! waiting.
//!
//! - `client`: the request, the attempts and what each failure means.
//! - `stream`: putting streamed chunks back together (text and tool calls).
//! - `transport`: the HTTP layer that keeps `Retry-After`.
//! - `retry`: how long to wait before the next attempt.
//! - `breaker`: the circuit breaker.

use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::mpsc::UnboundedSender;

mod breaker;
mod client;
mod retry;
mod stream;
mod transport;

pub use breaker::{CircuitBreaker, Clock, Permit, SystemClock};
pub use client::LlmClient;

/// Who wrote a message of the conversation sent to the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    System,
    User,
    Assistant,
}

/// One message of the conversation sent to the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatMessage {
    pub role: Role,
    pub content: String,
}

impl ChatMessage {
    pub fn system(content: impl Into<String>) -> Self {
        Self {
            role: Role::System,
            content: content.into(),
        }
    }

    pub fn user(content: impl Into<String>) -> Self {
        Self {
            role: Role::User,
            content: content.into(),
        }
    }

    pub fn assistant(content: impl Into<String>) -> Self {
        Self {
            role: Role::Assistant,
            content: content.into(),
        }
    }
}

/// A function the model may call instead of (or besides) answering.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolSpec {
    /// `a-z`, `A-Z`, `0-9`, `_` and `-`, at most 64 characters (OpenAI's rule).
    pub name: String,
    /// What it does and when to call it; the model reads this.
    pub description: String,
    /// A JSON Schema object describing the arguments.
    pub parameters: serde_json::Value,
}

/// What to ask the model.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatRequest {
    pub messages: Vec<ChatMessage>,
    /// Empty: the model only answers.
    pub tools: Vec<ToolSpec>,
    /// Most tokens of the answer (sent as `max_tokens`).
    pub max_tokens: u32,
    /// Asks for a JSON answer following this schema (structured output), instead of
    /// free text.
    pub response_schema: Option<ResponseSchema>,
}

/// A JSON Schema the answer must follow (`response_format: json_schema`, strict).
#[derive(Debug, Clone, PartialEq)]
pub struct ResponseSchema {
    /// `a-z`, `A-Z`, `0-9`, `_` and `-`, at most 64 characters.
    pub name: String,
    pub schema: serde_json::Value,
}

/// A call the model asked for, with its arguments parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    /// A JSON object (`{}` when the model sent no arguments).
    pub arguments: serde_json::Value,
}

/// The model's whole answer.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Completion {
    /// Every streamed piece, joined.
    pub text: String,
    pub tool_calls: Vec<ToolCall>,
    /// As the server said it: `stop`, `length`, `tool_calls`, `content_filter`.
    pub finish_reason: Option<String>,
}

/// The server and model a failure concerns; printed as "the LLM server at URL (model `m`)".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Base URL with any password hidden.
    pub url: String,
    pub model: String,
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the LLM server at {} (model `{}`)", self.url, self.model)
    }
}

/// Why no completion came back. Each message names the server and model and says what to
/// check.
#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    #[error(
        "{endpoint} sent nothing within {} (assistant.llm.first_token_timeout). It may be overloaded or still loading the model",
        human(*waited)
    )]
    FirstTokenTimeout {
        endpoint: Endpoint,
        waited: Duration,
    },
    #[error(
        "{endpoint} did not finish the answer within {} (assistant.llm.timeout)",
        human(*waited)
    )]
    Timeout {
        endpoint: Endpoint,
        waited: Duration,
    },
    #[error(
        "{endpoint} is limiting requests (HTTP 429: {message}). Wait, or raise the account's rate limit"
    )]
    RateLimited {
        endpoint: Endpoint,
        message: String,
        /// What the server's `Retry-After` asked for, if it said.
        retry_after: Option<Duration>,
    },
    #[error("{endpoint} failed with HTTP {status}: {message}")]
    ServerError {
        endpoint: Endpoint,
        status: u16,
        message: String,
    },
    #[error(
        "{endpoint} refused the request (HTTP {status}: {message}). Check assistant.llm.model (or SHOWROOM_LLM_MODEL), OPENAI_API_KEY, and that the base URL ends in /v1"
    )]
    Rejected {
        endpoint: Endpoint,
        status: u16,
        message: String,
    },
    #[error(
        "cannot reach {endpoint}: {reason}. Check that the server is running and that OPENAI_BASE_URL (or assistant.llm.base_url) points at it"
    )]
    Unreachable { endpoint: Endpoint, reason: String },
    #[error(
        "{endpoint} failed several times in a row, so it is left alone {} (circuit breaker, assistant.llm.breaker_cooldown)",
        wait_phrase(*retry_in)
    )]
    CircuitOpen {
        endpoint: Endpoint,
        /// Until the next request is let through; zero while a trial request is under way.
        retry_in: Duration,
    },
    #[error("the answer stream from {endpoint} broke: {reason}")]
    BrokenStream { endpoint: Endpoint, reason: String },
    #[error(
        "{endpoint} gave an answer that cannot be used: {reason}. Check that the model supports chat completions (and tool calling)"
    )]
    InvalidReply { endpoint: Endpoint, reason: String },
    #[error("cannot set up the client for {endpoint}: {reason}")]
    Setup { endpoint: Endpoint, reason: String },
}

impl LlmError {
    /// True when the same request may well succeed a little later (timeouts, 429, 5xx,
    /// connection failures, a broken stream, an open breaker); false when it would fail
    /// the same way (a refused request, an unusable answer, bad settings).
    pub fn is_transient(&self) -> bool {
        match self {
            Self::FirstTokenTimeout { .. }
            | Self::Timeout { .. }
            | Self::RateLimited { .. }
            | Self::ServerError { .. }
            | Self::Unreachable { .. }
            | Self::BrokenStream { .. }
            | Self::CircuitOpen { .. } => true,
            Self::Rejected { .. } | Self::InvalidReply { .. } | Self::Setup { .. } => false,
        }
    }

    /// The server and model concerned.
    pub fn endpoint(&self) -> &Endpoint {
        match self {
            Self::FirstTokenTimeout { endpoint, .. }
            | Self::Timeout { endpoint, .. }
            | Self::RateLimited { endpoint, .. }
            | Self::ServerError { endpoint, .. }
            | Self::Rejected { endpoint, .. }
            | Self::Unreachable { endpoint, .. }
            | Self::CircuitOpen { endpoint, .. }
            | Self::BrokenStream { endpoint, .. }
            | Self::InvalidReply { endpoint, .. }
            | Self::Setup { endpoint, .. } => endpoint,
        }
    }

    /// A short label for metrics and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::FirstTokenTimeout { .. } => "first_token_timeout",
            Self::Timeout { .. } => "timeout",
            Self::RateLimited { .. } => "rate_limited",
            Self::ServerError { .. } => "server_error",
            Self::Rejected { .. } => "rejected",
            Self::Unreachable { .. } => "unreachable",
            Self::CircuitOpen { .. } => "circuit_open",
            Self::BrokenStream { .. } => "broken_stream",
            Self::InvalidReply { .. } => "invalid_reply",
            Self::Setup { .. } => "setup",
        }
    }
}

/// A chat model that streams its answers.
#[async_trait]
pub trait ChatModel: Send + Sync {
    /// Streams the completion: each text piece is sent to `deltas` as it arrives;
    /// returns the whole completion (text + tool calls) at the end. When it fails after
    /// pieces were sent, those pieces are all the caller gets (it is not retried: the
    /// customer already saw them).
    async fn complete(
        &self,
        request: &ChatRequest,
        deltas: &UnboundedSender<String>,
    ) -> Result<Completion, LlmError>;

    /// "model @ base url" for logs.
    fn describe(&self) -> String;
}

/// `1.5s`, `300ms`, `60s`.
pub(crate) fn human(duration: Duration) -> String {
    let millis = duration.as_millis();
    if millis >= 1000 && millis.is_multiple_of(100) {
        let seconds = duration.as_secs_f64();
        if millis.is_multiple_of(1000) {
            format!("{}s", duration.as_secs())
        } else {
            format!("{seconds:.1}s")
        }
    } else {
        format!("{millis}ms")
    }
}

fn wait_phrase(retry_in: Duration) -> String {
    if retry_in.is_zero() {
        "until the trial request under way ends".to_owned()
    } else {
        format!("for another {}", human(retry_in))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint() -> Endpoint {
        Endpoint {
            url: "http://127.0.0.1:11434/v1".into(),
            model: "llama3.1:8b".into(),
        }
    }

    #[test]
    fn messages_name_the_server_the_model_and_the_setting() {
        let err = LlmError::FirstTokenTimeout {
            endpoint: endpoint(),
            waited: Duration::from_millis(1500),
        };
        let text = err.to_string();
        assert!(text.contains("http://127.0.0.1:11434/v1"), "{text}");
        assert!(text.contains("`llama3.1:8b`"), "{text}");
        assert!(text.contains("1.5s"), "{text}");
        assert!(text.contains("first_token_timeout"), "{text}");

        let open = LlmError::CircuitOpen {
            endpoint: endpoint(),
            retry_in: Duration::from_secs(42),
        }
        .to_string();
        assert!(open.contains("for another 42s"), "{open}");
        let probing = LlmError::CircuitOpen {
            endpoint: endpoint(),
            retry_in: Duration::ZERO,
        }
        .to_string();
        assert!(probing.contains("trial request"), "{probing}");
    }

    #[test]
    fn only_failures_that_may_pass_are_transient() {
        let e = endpoint;
        let transient = [
            LlmError::Timeout {
                endpoint: e(),
                waited: Duration::from_secs(1),
            },
            LlmError::RateLimited {
                endpoint: e(),
                message: "slow down".into(),
                retry_after: None,
            },
            LlmError::ServerError {
                endpoint: e(),
                status: 503,
                message: "busy".into(),
            },
            LlmError::Unreachable {
                endpoint: e(),
                reason: "refused".into(),
            },
            LlmError::BrokenStream {
                endpoint: e(),
                reason: "cut".into(),
            },
        ];
        assert!(transient.iter().all(LlmError::is_transient));
        let lasting = [
            LlmError::Rejected {
                endpoint: e(),
                status: 404,
                message: "model not found".into(),
            },
            LlmError::InvalidReply {
                endpoint: e(),
                reason: "bad JSON".into(),
            },
        ];
        assert!(!lasting.iter().any(LlmError::is_transient));
        assert_eq!(lasting[0].endpoint().model, "llama3.1:8b");
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(human(Duration::from_millis(300)), "300ms");
        assert_eq!(human(Duration::from_secs(60)), "60s");
        assert_eq!(human(Duration::from_millis(2500)), "2.5s");
        assert_eq!(human(Duration::from_millis(1234)), "1234ms");
    }

    #[test]
    fn constructors_set_the_role() {
        assert_eq!(ChatMessage::system("a").role, Role::System);
        assert_eq!(ChatMessage::user("b").role, Role::User);
        assert_eq!(ChatMessage::assistant("c").content, "c");
    }
}
