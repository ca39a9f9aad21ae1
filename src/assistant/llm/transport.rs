//! The HTTP layer under async-openai. It replaces the crate's default stack, whose own
//! retries (three, no jitter) would multiply ours and ignore `max_retries`, with the plain
//! reqwest transport, and turns an unsuccessful status into a [`Refusal`] that keeps what
//! async-openai's error would drop: the `Retry-After` header of a 429.

use std::time::Duration;

use async_openai::Client;
use async_openai::config::OpenAIConfig;
use async_openai::error::{OpenAIError, WrappedError};
use async_openai::middleware::{HttpRequestFactory, ReqwestService};
use tower::ServiceExt;

use super::retry::parse_retry_after;

/// The server answered with an error status.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("HTTP {status}: {message}")]
pub(super) struct Refusal {
    pub status: u16,
    /// The server's `error.message`, or the start of its body.
    pub message: String,
    /// `error.type` or `error.code` (`insufficient_quota`, `rate_limit_exceeded`, …).
    pub kind: Option<String>,
    pub retry_after: Option<Duration>,
}

impl Refusal {
    /// Reads an error reply: OpenAI's `{"error": {"message", "type", "param", "code"}}`,
    /// or whatever text a proxy put there.
    pub(super) fn from_reply(
        status: u16,
        retry_after: Option<&str>,
        retry_after_ms: Option<&str>,
        body: &[u8],
    ) -> Self {
        let (message, kind) = match serde_json::from_slice::<WrappedError>(body) {
            Ok(wrapped) => {
                let kind = wrapped.error.code.clone().or(wrapped.error.r#type.clone());
                (wrapped.error.message, kind)
            }
            Err(_) => {
                let text = String::from_utf8_lossy(body);
                let text: String = text.trim().chars().take(200).collect();
                (text, None)
            }
        };
        let message = if message.trim().is_empty() {
            "no explanation given".to_owned()
        } else {
            message.trim().to_owned()
        };
        Self {
            status,
            message,
            kind,
            retry_after: parse_retry_after(retry_after, retry_after_ms),
        }
    }

    /// A 429 that waiting does not cure: the account has no credit left.
    pub(super) fn is_out_of_quota(&self) -> bool {
        self.kind.as_deref() == Some("insufficient_quota")
    }
}

/// An async-openai client on the plain transport, with error statuses as [`Refusal`]s
/// (inside `OpenAIError::Boxed`).
pub(super) fn client(config: OpenAIConfig) -> Client<OpenAIConfig> {
    let plain = ReqwestService::default();
    let service = tower::service_fn(move |factory: HttpRequestFactory| {
        let plain = plain.clone();
        async move {
            let response = plain.oneshot(factory).await?;
            let status = response.status();
            if status.is_success() {
                return Ok(response);
            }
            let header = |name: &str| {
                response
                    .headers()
                    .get(name)
                    .and_then(|value| value.to_str().ok())
                    .map(str::to_owned)
            };
            let retry_after = header("retry-after");
            let retry_after_ms = header("retry-after-ms");
            // An unreadable body still leaves the status, which is what matters most.
            let body = response.bytes().await.unwrap_or_default();
            let refusal = Refusal::from_reply(
                status.as_u16(),
                retry_after.as_deref(),
                retry_after_ms.as_deref(),
                &body,
            );
            Err(OpenAIError::Boxed(Box::new(refusal)))
        }
    });
    Client::with_config(config).with_http_service(service)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openai_error_bodies_are_read() {
        let body = br#"{"error":{"message":"Rate limit reached for gpt-4o-mini","type":"requests","param":null,"code":"rate_limit_exceeded"}}"#;
        let refusal = Refusal::from_reply(429, Some("3"), None, body);
        assert_eq!(refusal.message, "Rate limit reached for gpt-4o-mini");
        assert_eq!(refusal.kind.as_deref(), Some("rate_limit_exceeded"));
        assert_eq!(refusal.retry_after, Some(Duration::from_secs(3)));
        assert!(!refusal.is_out_of_quota());

        let quota = br#"{"error":{"message":"You exceeded your current quota","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}"#;
        assert!(Refusal::from_reply(429, None, None, quota).is_out_of_quota());
    }

    #[test]
    fn other_bodies_keep_their_start() {
        let refusal = Refusal::from_reply(502, None, None, b"<html>Bad Gateway</html>");
        assert_eq!(refusal.message, "<html>Bad Gateway</html>");
        assert_eq!(refusal.kind, None);
        assert_eq!(
            Refusal::from_reply(503, None, None, b"").message,
            "no explanation given"
        );
        assert_eq!(
            Refusal::from_reply(500, None, None, b"").to_string(),
            "HTTP 500: no explanation given"
        );
    }
}
