//! `[knowledge]` settings, validated: chunk sizes, which index backend, and the optional
//! embeddings server. Connection strings come from the environment only.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::{ConfigError, invalid, parse_duration};

/// `[knowledge]` as written in `showroom.toml`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RawKnowledge {
    /// Largest chunk, in tokens (cl100k); passages are cut at headings and paragraphs.
    pub chunk_tokens: usize,
    /// Tokens repeated at the start of the next chunk when a section is split.
    pub chunk_overlap: usize,
    /// Re-ingest while `serve` runs when a file in the knowledge folder changes.
    pub watch: bool,
    /// Collection name on a Qdrant server (`QDRANT_URL`).
    pub collection: String,
    pub embeddings: RawEmbeddings,
}

impl Default for RawKnowledge {
    fn default() -> Self {
        Self {
            chunk_tokens: 320,
            chunk_overlap: 48,
            watch: true,
            collection: "showroom_knowledge".into(),
            embeddings: RawEmbeddings::default(),
        }
    }
}

/// `[knowledge.embeddings]`: any OpenAI-compatible `/v1/embeddings`. Off while `url` (or
/// `SHOWROOM_EMBEDDINGS_URL`) is empty.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RawEmbeddings {
    /// Base URL up to and including `/v1`, e.g. `http://127.0.0.1:8000/v1`.
    pub url: String,
    pub model: String,
    /// Length of the vectors the model returns (multilingual-e5-small: 384).
    pub dimensions: usize,
    /// Prepended to questions (e5 models expect `query: `).
    pub query_prefix: String,
    /// Prepended to passages (e5 models expect `passage: `).
    pub passage_prefix: String,
    /// Texts per request.
    pub batch_size: usize,
    pub timeout: String,
    /// Attempts after the first one fails (timeouts, 429, 5xx).
    pub max_retries: u32,
}

impl Default for RawEmbeddings {
    fn default() -> Self {
        Self {
            url: String::new(),
            model: "multilingual-e5-small".into(),
            dimensions: 384,
            query_prefix: "query: ".into(),
            passage_prefix: "passage: ".into(),
            batch_size: 32,
            timeout: "30s".into(),
            max_retries: 3,
        }
    }
}

/// Environment that selects servers: `QDRANT_URL`, `QDRANT_API_KEY`,
/// `SHOWROOM_EMBEDDINGS_URL`, `SHOWROOM_EMBEDDINGS_MODEL`, `SHOWROOM_EMBEDDINGS_API_KEY`
/// (falls back to `OPENAI_API_KEY`).
#[derive(Clone, Default)]
pub struct KnowledgeEnv {
    pub qdrant_url: Option<String>,
    pub qdrant_api_key: Option<String>,
    pub embeddings_url: Option<String>,
    pub embeddings_model: Option<String>,
    pub embeddings_api_key: Option<String>,
}

impl std::fmt::Debug for KnowledgeEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KnowledgeEnv")
            .field("qdrant_url", &self.qdrant_url)
            .field(
                "qdrant_api_key",
                &self.qdrant_api_key.as_ref().map(|_| "<set>"),
            )
            .field("embeddings_url", &self.embeddings_url)
            .field("embeddings_model", &self.embeddings_model)
            .field(
                "embeddings_api_key",
                &self.embeddings_api_key.as_ref().map(|_| "<set>"),
            )
            .finish()
    }
}

impl KnowledgeEnv {
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        Self {
            qdrant_url: var("QDRANT_URL"),
            qdrant_api_key: var("QDRANT_API_KEY"),
            embeddings_url: var("SHOWROOM_EMBEDDINGS_URL"),
            embeddings_model: var("SHOWROOM_EMBEDDINGS_MODEL"),
            embeddings_api_key: var("SHOWROOM_EMBEDDINGS_API_KEY")
                .or_else(|| var("OPENAI_API_KEY")),
        }
    }
}

/// Validated `[knowledge]`.
#[derive(Debug, Clone)]
pub struct KnowledgeConfig {
    pub chunk_tokens: usize,
    pub chunk_overlap: usize,
    pub watch: bool,
    pub backend: IndexBackend,
    pub embeddings: Option<EmbeddingsConfig>,
}

/// Where the vectors live.
#[derive(Clone, PartialEq, Eq)]
pub enum IndexBackend {
    /// Qdrant Edge files in this folder (inside the data folder).
    Embedded { path: PathBuf },
    /// A Qdrant server (gRPC, usually port 6334).
    Qdrant {
        url: String,
        api_key: Option<String>,
        collection: String,
    },
}

impl std::fmt::Debug for IndexBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Embedded { path } => f.debug_struct("Embedded").field("path", path).finish(),
            Self::Qdrant {
                url, collection, ..
            } => f
                .debug_struct("Qdrant")
                .field("url", &crate::config::redact_url(url))
                .field("collection", collection)
                .finish_non_exhaustive(),
        }
    }
}

/// Validated `[knowledge.embeddings]` plus its server.
#[derive(Clone, PartialEq)]
pub struct EmbeddingsConfig {
    pub url: String,
    pub api_key: Option<String>,
    pub model: String,
    pub dimensions: usize,
    pub query_prefix: String,
    pub passage_prefix: String,
    pub batch_size: usize,
    pub timeout: Duration,
    pub max_retries: u32,
}

impl std::fmt::Debug for EmbeddingsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddingsConfig")
            .field("url", &crate::config::redact_url(&self.url))
            .field("model", &self.model)
            .field("dimensions", &self.dimensions)
            .field("batch_size", &self.batch_size)
            .finish_non_exhaustive()
    }
}

impl KnowledgeConfig {
    pub fn from_settings(
        raw: &RawKnowledge,
        data_dir: &std::path::Path,
        env: &KnowledgeEnv,
    ) -> Result<Self, ConfigError> {
        if !(32..=8192).contains(&raw.chunk_tokens) {
            return Err(invalid(
                "knowledge.chunk_tokens",
                raw.chunk_tokens,
                "a size between 32 and 8192 tokens is expected (320 suits spec sheets)",
            ));
        }
        if raw.chunk_overlap >= raw.chunk_tokens / 2 {
            return Err(invalid(
                "knowledge.chunk_overlap",
                raw.chunk_overlap,
                "an overlap smaller than half of knowledge.chunk_tokens is expected",
            ));
        }
        let backend = match &env.qdrant_url {
            Some(url) => {
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    return Err(invalid(
                        "QDRANT_URL",
                        crate::config::redact_url(url),
                        "a URL like http://127.0.0.1:6334 (the gRPC port) is expected",
                    ));
                }
                let collection = raw.collection.trim();
                if collection.is_empty()
                    || !collection
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                {
                    return Err(invalid(
                        "knowledge.collection",
                        &raw.collection,
                        "a name of letters, digits, `_` or `-` is expected",
                    ));
                }
                IndexBackend::Qdrant {
                    url: url.clone(),
                    api_key: env.qdrant_api_key.clone(),
                    collection: collection.to_owned(),
                }
            }
            None => IndexBackend::Embedded {
                path: data_dir.join("knowledge-index"),
            },
        };
        let embeddings = embeddings_config(&raw.embeddings, env)?;
        Ok(Self {
            chunk_tokens: raw.chunk_tokens,
            chunk_overlap: raw.chunk_overlap,
            watch: raw.watch,
            backend,
            embeddings,
        })
    }
}

fn embeddings_config(
    raw: &RawEmbeddings,
    env: &KnowledgeEnv,
) -> Result<Option<EmbeddingsConfig>, ConfigError> {
    let url = env
        .embeddings_url
        .clone()
        .unwrap_or_else(|| raw.url.trim().to_owned());
    if url.is_empty() {
        return Ok(None);
    }
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(invalid(
            "knowledge.embeddings.url",
            crate::config::redact_url(&url),
            "a base URL like http://127.0.0.1:8000/v1 is expected",
        ));
    }
    let model = env
        .embeddings_model
        .clone()
        .unwrap_or_else(|| raw.model.trim().to_owned());
    if model.is_empty() {
        return Err(invalid(
            "knowledge.embeddings.model",
            "",
            "the embedding model's name is expected (e.g. multilingual-e5-small)",
        ));
    }
    if !(8..=8192).contains(&raw.dimensions) {
        return Err(invalid(
            "knowledge.embeddings.dimensions",
            raw.dimensions,
            "the length of the model's vectors is expected, between 8 and 8192 (e5-small: 384)",
        ));
    }
    if !(1..=2048).contains(&raw.batch_size) {
        return Err(invalid(
            "knowledge.embeddings.batch_size",
            raw.batch_size,
            "between 1 and 2048 texts per request is expected",
        ));
    }
    Ok(Some(EmbeddingsConfig {
        url: url.trim_end_matches('/').to_owned(),
        api_key: env.embeddings_api_key.clone(),
        model,
        dimensions: raw.dimensions,
        query_prefix: raw.query_prefix.clone(),
        passage_prefix: raw.passage_prefix.clone(),
        batch_size: raw.batch_size,
        timeout: parse_duration("knowledge.embeddings.timeout", &raw.timeout)?,
        max_retries: raw.max_retries,
    }))
}
