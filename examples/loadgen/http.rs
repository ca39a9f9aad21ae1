//! The same conversation over plain HTTP (`POST /api/v1/chat/messages`): one request
//! per message, the whole turn in its answer. Connections are pooled across customers,
//! as a browser would reuse its own.

use std::time::Duration;

use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::script::{Outgoing, Reply};
use crate::transport::{Chat, Connector, Failure};

pub struct HttpConnector {
    client: reqwest::Client,
    url: String,
}

impl HttpConnector {
    pub fn new(base: &str, pool: usize, timeout: Duration) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(pool)
            .tcp_nodelay(true)
            .timeout(timeout)
            .build()?;
        Ok(Self {
            client,
            url: format!("{}/api/v1/chat/messages", base.trim_end_matches('/')),
        })
    }
}

impl Connector for HttpConnector {
    type Chat = HttpChat;

    async fn open(&self) -> Result<(HttpChat, Vec<Reply>), Failure> {
        let mut chat = HttpChat {
            client: self.client.clone(),
            url: self.url.clone(),
            session: None,
        };
        let greeting = chat.post(json!({})).await?;
        Ok((chat, greeting))
    }
}

pub struct HttpChat {
    client: reqwest::Client,
    url: String,
    session: Option<String>,
}

impl HttpChat {
    async fn post(&mut self, mut body: Value) -> Result<Vec<Reply>, Failure> {
        if let Some(session) = &self.session {
            body["session"] = json!(session);
        }
        let response = self
            .client
            .post(&self.url)
            .json(&body)
            .send()
            .await
            .map_err(request_failure)?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(request_failure)?;
        let answer: Value = serde_json::from_slice(&bytes).map_err(|err| {
            Failure::new(
                format!("http {}", status.as_u16()),
                format!("not JSON ({err}): {}", String::from_utf8_lossy(&bytes)),
            )
        })?;
        if !status.is_success() {
            let code = answer.get("code").and_then(Value::as_str).unwrap_or("?");
            let message = answer.get("message").and_then(Value::as_str).unwrap_or("");
            return Err(Failure::new(
                format!("http {} {code}", status.as_u16()),
                message,
            ));
        }
        let malformed = || Failure::new("bad reply", answer.to_string());
        let session = answer
            .get("session")
            .and_then(Value::as_str)
            .ok_or_else(malformed)?;
        self.session = Some(session.to_owned());
        answer
            .get("replies")
            .and_then(Value::as_array)
            .ok_or_else(malformed)?
            .iter()
            .map(|frame| Reply::from_frame(frame).ok_or_else(malformed))
            .collect()
    }
}

fn request_failure(err: reqwest::Error) -> Failure {
    let kind = if err.is_timeout() {
        "timeout"
    } else if err.is_connect() {
        "connect"
    } else {
        "http request"
    };
    Failure::new(kind, err.to_string())
}

impl Chat for HttpChat {
    async fn send(&mut self, message: &Outgoing) -> Result<Vec<Reply>, Failure> {
        let body = match message {
            Outgoing::Text(text) => json!({ "text": text }),
            Outgoing::Button(payload) => json!({ "button": payload }),
        };
        self.post(body).await
    }

    async fn close(self) {}

    /// The session lives in the server's store, not in a connection: nothing to hold.
    async fn hold(self, stop: CancellationToken) -> bool {
        stop.cancelled().await;
        true
    }
}
