//! The REST bot API client: `POST {api_url}/{method}` with `X-Viber-Auth-Token` and a JSON
//! body. Viber answers HTTP 200 with a `status` even for errors, so the status decides:
//! "too many requests" is waited out and retried a few times; everything else is returned
//! as a typed [`ViberStatus`]. Sends are held to `messages_per_second` overall.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use reqwest::header::CONTENT_TYPE;
use serde::Serialize;

use super::api::{ApiAnswer, EVENT_TYPES, SendMessage, SetWebhook, ViberStatus};
use super::settings::ViberConfig;
use crate::outbound::{backoff, with_causes};

/// The header that authenticates every call.
pub const AUTH_HEADER: &str = "X-Viber-Auth-Token";
/// Tries of one message while Viber says "too many requests".
const SEND_ATTEMPTS: u32 = 4;
/// The first wait after a "too many requests"; doubled on each further one.
const FIRST_RATE_LIMIT_WAIT: Duration = Duration::from_millis(250);
/// How long one call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(15);
/// How much of an unexpected answer goes into an error.
const SNIPPET_CHARS: usize = 200;

#[derive(Debug, thiserror::Error)]
pub enum ViberError {
    #[error("{0}")]
    Transport(String),
    #[error("Viber answered HTTP {status} to {method}")]
    Http { method: &'static str, status: u16 },
    #[error("Viber's answer to {method} is not the documented JSON ({reason}): {snippet}")]
    Decode {
        method: &'static str,
        reason: String,
        snippet: String,
    },
    #[error("Viber refused {method}: status {code} \"{message}\"")]
    Refused {
        method: &'static str,
        status: ViberStatus,
        code: i64,
        message: String,
    },
}

impl ViberError {
    /// The Viber status, when Viber answered with one.
    pub fn status(&self) -> Option<ViberStatus> {
        match self {
            Self::Refused { status, .. } => Some(*status),
            _ => None,
        }
    }
}

pub struct ViberClient {
    http: reqwest::Client,
    api_url: String,
    auth_token: String,
    limiter: DefaultDirectRateLimiter,
}

impl ViberClient {
    pub fn new(config: &ViberConfig) -> Result<Self, reqwest::Error> {
        let per_second = NonZeroU32::new(config.messages_per_second).unwrap_or(NonZeroU32::MIN);
        Ok(Self {
            http: reqwest::Client::builder()
                .user_agent(concat!("showroom/", env!("CARGO_PKG_VERSION")))
                .timeout(CALL_TIMEOUT)
                .build()?,
            api_url: config.api_url.clone(),
            auth_token: config.auth_token.clone(),
            limiter: RateLimiter::direct(Quota::per_second(per_second)),
        })
    }

    /// Registers `url` for our callbacks. Viber calls it with a signed `webhook` event
    /// before answering, so the server must already listen.
    pub async fn set_webhook(&self, url: &str) -> Result<ApiAnswer, ViberError> {
        let body = SetWebhook {
            url: url.to_owned(),
            event_types: EVENT_TYPES.iter().map(|e| (*e).to_owned()).collect(),
            send_name: true,
            send_photo: false,
        };
        self.call("set_webhook", &body).await
    }

    /// The bot account: its `uri` makes "continue on Viber" links.
    pub async fn get_account_info(&self) -> Result<ApiAnswer, ViberError> {
        self.call("get_account_info", &serde_json::json!({})).await
    }

    /// Sends one message, within the overall rate, waiting out "too many requests" a few
    /// times before giving up.
    pub async fn send_message(&self, message: &SendMessage) -> Result<ApiAnswer, ViberError> {
        let mut attempt = 0;
        loop {
            self.limiter.until_ready().await;
            match self.call("send_message", message).await {
                Err(err)
                    if err.status() == Some(ViberStatus::TooManyRequests)
                        && attempt + 1 < SEND_ATTEMPTS =>
                {
                    let wait = backoff(FIRST_RATE_LIMIT_WAIT, attempt);
                    tracing::info!(
                        ?wait,
                        "Viber says too many requests; waiting before sending again"
                    );
                    metrics::counter!("showroom_viber_rate_limited_total").increment(1);
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                result => return result,
            }
        }
    }

    async fn call(
        &self,
        method: &'static str,
        body: &impl Serialize,
    ) -> Result<ApiAnswer, ViberError> {
        let url = format!("{}/{method}", self.api_url);
        let body = serde_json::to_vec(body).map_err(|err| ViberError::Decode {
            method,
            reason: format!("cannot write the request: {err}"),
            snippet: String::new(),
        })?;
        let response = self
            .http
            .post(&url)
            .header(AUTH_HEADER, &self.auth_token)
            .header(CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .map_err(|err| {
                ViberError::Transport(with_causes(
                    format!("cannot call Viber's {method} at {url}"),
                    &err,
                ))
            })?;
        let status = response.status();
        let text = response.text().await.map_err(|err| {
            ViberError::Transport(with_causes(
                format!("cannot read Viber's answer to {method}"),
                &err,
            ))
        })?;
        if !status.is_success() {
            return Err(ViberError::Http {
                method,
                status: status.as_u16(),
            });
        }
        let answer: ApiAnswer = serde_json::from_str(&text).map_err(|err| ViberError::Decode {
            method,
            reason: err.to_string(),
            snippet: text.chars().take(SNIPPET_CHARS).collect(),
        })?;
        match ViberStatus::from_code(answer.status) {
            ViberStatus::Ok => Ok(answer),
            status => Err(ViberError::Refused {
                method,
                status,
                code: answer.status,
                message: answer.status_message,
            }),
        }
    }
}
