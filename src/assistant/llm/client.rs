//! [`LlmClient`]: one streamed chat completion per call, through async-openai.
//!
//! A call is bounded by `timeout` as a whole, retries included, because a customer is
//! waiting; each attempt must also show its first chunk within `first_token_timeout`.
//! Timeouts, 429, 5xx, connection failures and broken streams are retried up to
//! `max_retries` times with backoff — but only while no text has reached the caller: once
//! the customer has seen part of an answer, a failure is returned as it is and the caller
//! falls back. The circuit breaker counts calls, not attempts.
//!
//! `max_tokens` is sent rather than `max_completion_tokens`: it is what vLLM, Ollama and
//! llama.cpp read. A server that refuses it and asks for `max_completion_tokens` (OpenAI's
//! reasoning models) gets that from then on.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_openai::Client;
use async_openai::config::OpenAIConfig;
use async_openai::error::{OpenAIError, WrappedError};
use async_openai::types::chat::{
    ChatCompletionRequestAssistantMessage, ChatCompletionRequestAssistantMessageContent,
    ChatCompletionRequestMessage, ChatCompletionRequestSystemMessage,
    ChatCompletionRequestSystemMessageContent, ChatCompletionRequestUserMessage,
    ChatCompletionRequestUserMessageContent, ChatCompletionTool, ChatCompletionTools,
    CreateChatCompletionRequest, FunctionObject, ResponseFormat, ResponseFormatJsonSchema,
};
use async_trait::async_trait;
use futures_util::StreamExt;
use tokio::sync::mpsc::UnboundedSender;
use tokio::time::{Instant, timeout_at};

use super::breaker::CircuitBreaker;
use super::retry::{FIRST_BACKOFF, pause_after};
use super::stream::{Assembler, Unusable};
use super::transport::{self, Refusal};
use super::{ChatMessage, ChatModel, ChatRequest, Completion, Endpoint, LlmError, Role};
use crate::assistant::LlmConfig;
use crate::config::redact_url;
use crate::outbound::with_causes;

/// Chat completions from the configured OpenAI-compatible server.
pub struct LlmClient {
    client: Client<OpenAIConfig>,
    endpoint: Endpoint,
    temperature: f32,
    first_token_timeout: Duration,
    timeout: Duration,
    max_retries: u32,
    breaker: CircuitBreaker,
    first_backoff: Duration,
    /// Set once the server refused `max_tokens` and asked for `max_completion_tokens`.
    completion_tokens_field: AtomicBool,
}

impl std::fmt::Debug for LlmClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LlmClient")
            .field("endpoint", &self.endpoint)
            .field("breaker", &self.breaker)
            .finish_non_exhaustive()
    }
}

impl LlmClient {
    /// Prepares the client; the server is not contacted here.
    pub fn new(config: &LlmConfig) -> Result<Self, LlmError> {
        let endpoint = Endpoint {
            url: redact_url(&config.base_url),
            model: config.model.clone(),
        };
        let setup = |reason: &str| LlmError::Setup {
            endpoint: endpoint.clone(),
            reason: reason.to_owned(),
        };
        if !(config.base_url.starts_with("http://") || config.base_url.starts_with("https://")) {
            return Err(setup(
                "the base URL must start with http:// or https:// and end in /v1, like http://127.0.0.1:11434/v1",
            ));
        }
        if config.model.trim().is_empty() {
            return Err(setup(
                "no model is set; set assistant.llm.model or SHOWROOM_LLM_MODEL",
            ));
        }
        // Servers without authentication ignore the key, but the client always sends one.
        let api_key = config
            .api_key
            .clone()
            .unwrap_or_else(|| "unused".to_owned());
        let client = transport::client(
            OpenAIConfig::new()
                .with_api_base(config.base_url.trim_end_matches('/'))
                .with_api_key(api_key),
        );
        let breaker = CircuitBreaker::new(
            config.breaker_failures,
            config.breaker_cooldown,
            format!("{} @ {}", endpoint.model, endpoint.url),
        );
        Ok(Self {
            client,
            temperature: config.temperature,
            first_token_timeout: config.first_token_timeout,
            timeout: config.timeout,
            max_retries: config.max_retries,
            breaker,
            first_backoff: FIRST_BACKOFF,
            completion_tokens_field: AtomicBool::new(false),
            endpoint,
        })
    }

    /// The request as async-openai sends it.
    #[allow(deprecated)] // `max_tokens`: deprecated by OpenAI, yet what compatible servers read.
    fn wire_request(&self, request: &ChatRequest) -> CreateChatCompletionRequest {
        let tools: Vec<ChatCompletionTools> = request
            .tools
            .iter()
            .map(|tool| {
                ChatCompletionTools::Function(ChatCompletionTool {
                    function: FunctionObject {
                        name: tool.name.clone(),
                        description: Some(tool.description.clone()),
                        parameters: Some(tool.parameters.clone()),
                        strict: None,
                    },
                })
            })
            .collect();
        let mut wire = CreateChatCompletionRequest {
            model: self.endpoint.model.clone(),
            messages: request.messages.iter().map(wire_message).collect(),
            temperature: Some(self.temperature),
            stream: Some(true),
            // Some servers refuse an empty list.
            tools: (!tools.is_empty()).then_some(tools),
            response_format: request.response_schema.as_ref().map(|format| {
                ResponseFormat::JsonSchema {
                    json_schema: ResponseFormatJsonSchema {
                        description: None,
                        name: format.name.clone(),
                        schema: format.schema.clone(),
                        strict: Some(true),
                    },
                }
            }),
            ..CreateChatCompletionRequest::default()
        };
        if self.completion_tokens_field.load(Ordering::Relaxed) {
            wire.max_completion_tokens = Some(request.max_tokens);
        } else {
            wire.max_tokens = Some(request.max_tokens);
        }
        wire
    }

    /// Attempts until one succeeds, a failure is final, or the time is up.
    async fn complete_with_retries(
        &self,
        request: &ChatRequest,
        deltas: &UnboundedSender<String>,
    ) -> Result<Completion, LlmError> {
        let deadline = Instant::now() + self.timeout;
        let mut wire = self.wire_request(request);
        let mut streamed = false;
        let mut attempt: u32 = 0;
        loop {
            let err = match self.attempt(&wire, deltas, deadline, &mut streamed).await {
                Ok(completion) => return Ok(completion),
                Err(err) => err,
            };
            if !streamed && self.switch_to_completion_tokens(&err, &mut wire) {
                continue;
            }
            if streamed || !err.is_transient() || attempt >= self.max_retries {
                return Err(err);
            }
            let pause = pause_after(&err, attempt, self.first_backoff);
            if Instant::now() + pause >= deadline {
                return Err(err);
            }
            tracing::warn!(
                llm = %self.describe(),
                attempt = attempt + 1,
                pause_ms = pause.as_millis() as u64,
                cause = %err,
                "LLM request failed; retrying"
            );
            metrics::counter!("showroom_llm_retries_total", "cause" => err.kind()).increment(1);
            tokio::time::sleep(pause).await;
            attempt += 1;
        }
    }

    /// One request, streamed into `deltas`. `streamed` turns true with the first piece of
    /// text passed on.
    async fn attempt(
        &self,
        wire: &CreateChatCompletionRequest,
        deltas: &UnboundedSender<String>,
        deadline: Instant,
        streamed: &mut bool,
    ) -> Result<Completion, LlmError> {
        let first_deadline = deadline.min(Instant::now() + self.first_token_timeout);
        let mut stream = match timeout_at(
            first_deadline,
            self.client.chat().create_stream(wire.clone()),
        )
        .await
        {
            Err(_) => return Err(self.silence(first_deadline, deadline, false)),
            Ok(Err(err)) => return Err(self.classify(err)),
            Ok(Ok(stream)) => stream,
        };
        let mut assembler = Assembler::default();
        let mut started = false;
        loop {
            let until = if started { deadline } else { first_deadline };
            let chunk = match timeout_at(until, stream.next()).await {
                Err(_) => return Err(self.silence(until, deadline, started)),
                Ok(None) => break,
                Ok(Some(Err(err))) => return Err(self.classify(err)),
                Ok(Some(Ok(chunk))) => chunk,
            };
            started = true;
            if let Some(piece) = assembler.push(chunk) {
                *streamed = true;
                // A caller that stopped listening still gets the whole completion back.
                let _ = deltas.send(piece);
            }
        }
        assembler.finish().map_err(|unusable| match unusable {
            Unusable::Unfinished => LlmError::BrokenStream {
                endpoint: self.endpoint.clone(),
                reason: "the stream ended before the model said it had finished".into(),
            },
            Unusable::BadToolCall(reason) => LlmError::InvalidReply {
                endpoint: self.endpoint.clone(),
                reason,
            },
        })
    }

    /// The timeout error for a wait that ran out at `until`.
    fn silence(&self, until: Instant, deadline: Instant, started: bool) -> LlmError {
        if started || until >= deadline {
            LlmError::Timeout {
                endpoint: self.endpoint.clone(),
                waited: self.timeout,
            }
        } else {
            LlmError::FirstTokenTimeout {
                endpoint: self.endpoint.clone(),
                waited: self.first_token_timeout,
            }
        }
    }

    /// After a refusal that names `max_completion_tokens`, sends that field instead of
    /// `max_tokens` (now and for later calls). True when the request changed.
    #[allow(deprecated)] // `max_tokens`, see `wire_request`.
    fn switch_to_completion_tokens(
        &self,
        err: &LlmError,
        wire: &mut CreateChatCompletionRequest,
    ) -> bool {
        if !asks_for_completion_tokens(err) {
            return false;
        }
        let Some(max_tokens) = wire.max_tokens.take() else {
            return false;
        };
        wire.max_completion_tokens = Some(max_tokens);
        self.completion_tokens_field.store(true, Ordering::Relaxed);
        tracing::info!(llm = %self.describe(), "the LLM server wants max_completion_tokens instead of max_tokens; sending that");
        true
    }

    fn classify(&self, err: OpenAIError) -> LlmError {
        let endpoint = self.endpoint.clone();
        match err {
            OpenAIError::Boxed(boxed) => match boxed.downcast::<Refusal>() {
                Ok(refusal) => self.refused(*refusal),
                Err(other) => LlmError::Unreachable {
                    endpoint,
                    reason: with_causes(other.to_string(), other.as_ref()),
                },
            },
            OpenAIError::ApiError(response) => self.refused(Refusal {
                status: response.status_code.as_u16(),
                kind: response.api_error.code.or(response.api_error.r#type),
                message: response.api_error.message,
                retry_after: None,
            }),
            OpenAIError::Reqwest(err) => {
                // reqwest says "error sending request"; the cause (refused, DNS, TLS) is in
                // its source chain.
                let summary = if err.is_connect() {
                    "cannot connect".to_owned()
                } else if err.is_timeout() {
                    "the connection timed out".to_owned()
                } else {
                    err.to_string()
                };
                LlmError::Unreachable {
                    endpoint,
                    reason: with_causes(summary, &err),
                }
            }
            OpenAIError::StreamError(err) => LlmError::BrokenStream {
                endpoint,
                reason: err.to_string(),
            },
            OpenAIError::JSONDeserialize(err, content) => {
                // Servers report a failure in the middle of a stream as an error event.
                match serde_json::from_str::<WrappedError>(&content) {
                    Ok(wrapped) => LlmError::BrokenStream {
                        endpoint,
                        reason: format!("the server reported: {}", wrapped.error.message),
                    },
                    Err(_) => LlmError::InvalidReply {
                        endpoint,
                        reason: format!(
                            "a streamed chunk is not a chat.completion.chunk ({err}): {}",
                            content.chars().take(160).collect::<String>()
                        ),
                    },
                }
            }
            other => LlmError::Setup {
                endpoint,
                reason: other.to_string(),
            },
        }
    }

    fn refused(&self, refusal: Refusal) -> LlmError {
        let endpoint = self.endpoint.clone();
        match refusal.status {
            429 if !refusal.is_out_of_quota() => LlmError::RateLimited {
                endpoint,
                message: refusal.message,
                retry_after: refusal.retry_after,
            },
            408 | 500.. => LlmError::ServerError {
                endpoint,
                status: refusal.status,
                message: refusal.message,
            },
            status => LlmError::Rejected {
                endpoint,
                status,
                message: refusal.message,
            },
        }
    }
}

#[async_trait]
impl ChatModel for LlmClient {
    async fn complete(
        &self,
        request: &ChatRequest,
        deltas: &UnboundedSender<String>,
    ) -> Result<Completion, LlmError> {
        let permit = match self.breaker.try_acquire() {
            Ok(permit) => permit,
            Err(retry_in) => {
                metrics::counter!("showroom_llm_requests_total", "outcome" => "circuit_open")
                    .increment(1);
                return Err(LlmError::CircuitOpen {
                    endpoint: self.endpoint.clone(),
                    retry_in,
                });
            }
        };
        let result = self.complete_with_retries(request, deltas).await;
        let outcome = match &result {
            Ok(_) => "ok",
            Err(err) => err.kind(),
        };
        metrics::counter!("showroom_llm_requests_total", "outcome" => outcome).increment(1);
        match &result {
            Ok(_) => permit.succeeded(),
            Err(err) if counts_against_server(err) => {
                tracing::warn!(llm = %self.describe(), cause = %err, "LLM completion failed");
                permit.failed();
            }
            Err(err) => {
                // The server is up; the request or the model's answer was the problem.
                tracing::warn!(llm = %self.describe(), cause = %err, "LLM completion unusable");
                permit.succeeded();
            }
        }
        result
    }

    fn describe(&self) -> String {
        format!("{} @ {}", self.endpoint.model, self.endpoint.url)
    }
}

fn wire_message(message: &ChatMessage) -> ChatCompletionRequestMessage {
    let text = message.content.clone();
    match message.role {
        Role::System => ChatCompletionRequestMessage::System(ChatCompletionRequestSystemMessage {
            content: ChatCompletionRequestSystemMessageContent::Text(text),
            name: None,
        }),
        Role::User => ChatCompletionRequestMessage::User(ChatCompletionRequestUserMessage {
            content: ChatCompletionRequestUserMessageContent::Text(text),
            name: None,
        }),
        Role::Assistant => {
            ChatCompletionRequestMessage::Assistant(ChatCompletionRequestAssistantMessage {
                content: Some(ChatCompletionRequestAssistantMessageContent::Text(text)),
                ..ChatCompletionRequestAssistantMessage::default()
            })
        }
    }
}

/// Failures the breaker counts: all but an answer that arrived and could not be used (the
/// server is up then). A refused request counts: a wrong model or key fails every call,
/// and failing fast is kinder than asking again each time.
fn counts_against_server(err: &LlmError) -> bool {
    !matches!(err, LlmError::InvalidReply { .. })
}

fn asks_for_completion_tokens(err: &LlmError) -> bool {
    matches!(err, LlmError::Rejected { status: 400, message, .. } if message.contains("max_completion_tokens"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::assistant::llm::ToolSpec;

    fn config(base_url: &str) -> LlmConfig {
        LlmConfig {
            base_url: base_url.into(),
            api_key: None,
            model: "llama3.1:8b".into(),
            context_window: 8192,
            answer_tokens: 300,
            temperature: 0.2,
            first_token_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(10),
            max_retries: 0,
            breaker_failures: 1,
            breaker_cooldown: Duration::from_secs(60),
            edit_interval: Duration::from_secs(1),
        }
    }

    fn request(tools: Vec<ToolSpec>) -> ChatRequest {
        ChatRequest {
            messages: vec![
                ChatMessage::system("Eres el asistente."),
                ChatMessage::user("¿Cuánto rinde?"),
                ChatMessage::assistant("16 km/l."),
                ChatMessage::user("¿Y en ciudad?"),
            ],
            tools,
            max_tokens: 300,
            response_schema: None,
        }
    }

    #[test]
    fn the_request_carries_messages_tools_and_limits() {
        let client = LlmClient::new(&config("http://127.0.0.1:9/v1")).expect("valid");
        let tool = ToolSpec {
            name: "start_flow".into(),
            description: "Starts a booking flow".into(),
            parameters: json!({"type": "object", "properties": {"flow": {"type": "string"}}}),
        };
        let body = serde_json::to_value(client.wire_request(&request(vec![tool]))).expect("json");
        assert_eq!(body["model"], "llama3.1:8b");
        assert_eq!(body["stream"], true);
        assert_eq!(body["max_tokens"], 300);
        assert!(body.get("max_completion_tokens").is_none());
        assert!((body["temperature"].as_f64().expect("number") - 0.2).abs() < 1e-6);
        let roles: Vec<&str> = body["messages"]
            .as_array()
            .expect("messages")
            .iter()
            .map(|m| m["role"].as_str().expect("role"))
            .collect();
        assert_eq!(roles, ["system", "user", "assistant", "user"]);
        assert_eq!(body["messages"][1]["content"], "¿Cuánto rinde?");
        assert_eq!(body["tools"][0]["type"], "function");
        assert_eq!(body["tools"][0]["function"]["name"], "start_flow");
        assert_eq!(
            body["tools"][0]["function"]["parameters"]["properties"]["flow"]["type"],
            "string"
        );

        let plain = serde_json::to_value(client.wire_request(&request(Vec::new()))).expect("json");
        assert!(plain.get("tools").is_none(), "no empty tools list: {plain}");
        assert!(plain.get("response_format").is_none(), "{plain}");
    }

    #[test]
    fn a_response_schema_asks_for_strict_structured_output() {
        let client = LlmClient::new(&config("http://127.0.0.1:9/v1")).expect("valid");
        let mut asked = request(Vec::new());
        asked.response_schema = Some(crate::assistant::llm::ResponseSchema {
            name: "customer_facts".into(),
            schema: json!({"type": "object", "properties": {}, "additionalProperties": false}),
        });
        let body = serde_json::to_value(client.wire_request(&asked)).expect("json");
        assert_eq!(body["response_format"]["type"], "json_schema");
        assert_eq!(
            body["response_format"]["json_schema"]["name"],
            "customer_facts"
        );
        assert_eq!(body["response_format"]["json_schema"]["strict"], true);
        assert_eq!(
            body["response_format"]["json_schema"]["schema"]["additionalProperties"],
            false
        );
    }

    #[test]
    fn a_server_asking_for_max_completion_tokens_gets_it() {
        let client = LlmClient::new(&config("https://api.openai.com/v1")).expect("valid");
        let mut wire = client.wire_request(&request(Vec::new()));
        let unrelated = LlmError::Rejected {
            endpoint: client.endpoint.clone(),
            status: 400,
            message: "messages: too long".into(),
        };
        assert!(!client.switch_to_completion_tokens(&unrelated, &mut wire));
        let asked = LlmError::Rejected {
            endpoint: client.endpoint.clone(),
            status: 400,
            message: "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.".into(),
        };
        assert!(client.switch_to_completion_tokens(&asked, &mut wire));
        let body = serde_json::to_value(&wire).expect("json");
        assert_eq!(body["max_completion_tokens"], 300);
        assert!(body.get("max_tokens").is_none());
        assert!(
            !client.switch_to_completion_tokens(&asked, &mut wire),
            "switches once"
        );
        let later = serde_json::to_value(client.wire_request(&request(Vec::new()))).expect("json");
        assert_eq!(
            later["max_completion_tokens"], 300,
            "remembered for later calls"
        );
    }

    #[test]
    fn statuses_become_the_right_errors() {
        let client = LlmClient::new(&config("http://127.0.0.1:9/v1")).expect("valid");
        let refusal = |status: u16, kind: Option<&str>| Refusal {
            status,
            message: "why".into(),
            kind: kind.map(str::to_owned),
            retry_after: Some(Duration::from_secs(2)),
        };
        assert!(matches!(
            client.refused(refusal(429, Some("rate_limit_exceeded"))),
            LlmError::RateLimited { retry_after: Some(d), .. } if d == Duration::from_secs(2)
        ));
        assert!(matches!(
            client.refused(refusal(429, Some("insufficient_quota"))),
            LlmError::Rejected { status: 429, .. }
        ));
        assert!(matches!(
            client.refused(refusal(503, None)),
            LlmError::ServerError { status: 503, .. }
        ));
        assert!(matches!(
            client.refused(refusal(404, None)),
            LlmError::Rejected { status: 404, .. }
        ));
        let mid_stream = client.classify(OpenAIError::JSONDeserialize(
            serde_json::from_str::<u8>("x").expect_err("not a number"),
            r#"{"error":{"message":"overloaded","type":"server_error","param":null,"code":null}}"#
                .into(),
        ));
        assert!(
            matches!(mid_stream, LlmError::BrokenStream { ref reason, .. } if reason.contains("overloaded"))
        );
    }

    #[test]
    fn bad_settings_are_refused_with_the_fix() {
        let err = LlmClient::new(&config("127.0.0.1:11434/v1")).expect_err("no scheme");
        assert!(err.to_string().contains("http://"), "{err}");
        let mut no_model = config("http://127.0.0.1:11434/v1");
        no_model.model = " ".into();
        let err = LlmClient::new(&no_model).expect_err("no model");
        assert!(err.to_string().contains("SHOWROOM_LLM_MODEL"), "{err}");
    }

    #[tokio::test]
    async fn an_unreachable_server_opens_the_breaker() {
        // A port nobody listens on: bound, then released.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("bind")
            .local_addr()
            .expect("addr")
            .port();
        let client =
            LlmClient::new(&config(&format!("http://127.0.0.1:{port}/v1"))).expect("valid");
        assert_eq!(
            client.describe(),
            format!("llama3.1:8b @ http://127.0.0.1:{port}/v1")
        );
        let (deltas, _rx) = tokio::sync::mpsc::unbounded_channel();
        let err = client
            .complete(&request(Vec::new()), &deltas)
            .await
            .expect_err("nobody listens");
        assert!(matches!(err, LlmError::Unreachable { .. }), "{err}");
        assert!(err.is_transient());
        let err = client
            .complete(&request(Vec::new()), &deltas)
            .await
            .expect_err("breaker open");
        assert!(matches!(err, LlmError::CircuitOpen { .. }), "{err}");
    }
}
