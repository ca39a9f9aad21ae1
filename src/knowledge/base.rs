//! [`KnowledgeBase`]: the knowledge folder, its index and everything retrieval needs,
//! opened once and shared. Ingest ([`super::ingest`]) and search ([`super::search`]) are
//! methods on it.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use serde::Serialize;

use super::analysis::{Analyzer, Synonyms, Vocabulary};
use super::catalog::ModelCatalog;
use super::chunk::Chunker;
use super::embed::Embedder;
use super::index::{EmbeddedIndex, IndexLayout, QdrantIndex, VectorIndex};
use super::{IndexBackend, KnowledgeConfig};
use crate::config::RawModel;

/// File in the knowledge folder with regional vocabulary for queries.
pub const SYNONYMS_FILE: &str = "synonyms.yaml";

#[derive(Debug, thiserror::Error)]
pub enum KnowledgeError {
    #[error(transparent)]
    Index(#[from] super::index::IndexError),
    #[error(transparent)]
    Embeddings(#[from] super::embed::EmbedError),
    #[error("cannot set up the chunker: {0}")]
    Chunker(#[from] super::chunk::ChunkerError),
    #[error(
        "the knowledge folder {0} does not exist; create it or point `knowledge_dir` (SHOWROOM_KNOWLEDGE_DIR) at the folder with your spec sheets"
    )]
    MissingFolder(PathBuf),
    #[error("background work failed: {0}")]
    Join(#[from] tokio::task::JoinError),
}

/// What retrieval reads on every query, swapped whole after each ingest.
#[derive(Debug, Default)]
pub(crate) struct QueryState {
    pub analyzer: Analyzer,
    pub vocabulary: Vocabulary,
    pub catalog: ModelCatalog,
}

/// Status of the knowledge base, for `/admin/api/knowledge` and the CLI.
#[derive(Debug, Clone, Default, Serialize)]
pub struct KnowledgeStatus {
    pub dir: PathBuf,
    /// `embedded` or `qdrant`.
    pub backend: &'static str,
    /// Embedding model, when dense retrieval is on.
    pub embeddings: Option<String>,
    pub files: usize,
    pub chunks: usize,
    /// Distinct index terms known to typo correction.
    pub vocabulary: usize,
    /// When the last ingest finished (Unix milliseconds); 0 = not since start.
    pub ingested_at: i64,
    /// Files the last ingest could not read, and why (the previous version stays indexed).
    pub problems: Vec<FileProblem>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FileProblem {
    pub source: String,
    pub error: String,
}

pub struct KnowledgeBase {
    pub(crate) root: PathBuf,
    pub(crate) cache_dir: PathBuf,
    pub(crate) index: Arc<dyn VectorIndex>,
    pub(crate) embedder: Option<Arc<Embedder>>,
    pub(crate) chunker: Arc<Chunker>,
    /// How files become indexed chunks (analysis version, chunk sizes, embedding
    /// model); part of every file's hash, so changing it re-ingests everything.
    pub(crate) recipe: String,
    pub(crate) models: Vec<RawModel>,
    pub(crate) state: RwLock<Arc<QueryState>>,
    pub(crate) status: RwLock<KnowledgeStatus>,
    /// One ingest at a time (the watcher and `POST` reloads may overlap).
    pub(crate) ingest_lock: tokio::sync::Mutex<()>,
    /// Hash of `synonyms.yaml` when it was last read ("" when absent), so an edit of
    /// that file alone is noticed.
    pub(crate) synonyms_seen: std::sync::Mutex<String>,
}

impl KnowledgeBase {
    /// Opens the index named by settings (creating it when new) and loads what queries
    /// need. Does not ingest: call [`KnowledgeBase::ingest`].
    pub async fn open(
        root: &Path,
        data_dir: &Path,
        config: &KnowledgeConfig,
        models: &[RawModel],
    ) -> Result<Self, KnowledgeError> {
        if !root.is_dir() {
            return Err(KnowledgeError::MissingFolder(root.to_path_buf()));
        }
        let cache_dir = data_dir.join("knowledge-cache");
        let embedder = match &config.embeddings {
            Some(embeddings) => Some(Arc::new(Embedder::open(embeddings, &cache_dir).await?)),
            None => None,
        };
        let layout = IndexLayout {
            dense_dimensions: embedder.as_ref().map(|e| e.dimensions()),
        };
        let index: Arc<dyn VectorIndex> = match &config.backend {
            IndexBackend::Embedded { path } => Arc::new(EmbeddedIndex::open(path, layout).await?),
            IndexBackend::Qdrant {
                url,
                api_key,
                collection,
            } => Arc::new(QdrantIndex::connect(url, api_key.as_deref(), collection, layout).await?),
        };
        let chunker = Arc::new(Chunker::new(config.chunk_tokens, config.chunk_overlap)?);
        let recipe = format!(
            "analysis {}; chunks {} tokens, {} overlap; embeddings {}",
            super::analysis::ANALYSIS_VERSION,
            config.chunk_tokens,
            config.chunk_overlap,
            embedder.as_ref().map_or("none", |e| e.model()),
        );
        let base = Self {
            recipe,
            root: root.to_path_buf(),
            cache_dir,
            index,
            embedder,
            chunker,
            models: models.to_vec(),
            state: RwLock::new(Arc::new(QueryState::default())),
            status: RwLock::new(KnowledgeStatus {
                dir: root.to_path_buf(),
                ..KnowledgeStatus::default()
            }),
            ingest_lock: tokio::sync::Mutex::new(()),
            synonyms_seen: std::sync::Mutex::new(String::new()),
        };
        base.refresh_query_state().await?;
        Ok(base)
    }

    /// Opens with settings from a whole `Config`.
    pub async fn from_config(config: &crate::config::Config) -> Result<Self, KnowledgeError> {
        Self::open(
            &config.knowledge_dir,
            &config.data_dir,
            &config.knowledge,
            &config.catalog.models,
        )
        .await
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn index(&self) -> &Arc<dyn VectorIndex> {
        &self.index
    }

    pub fn has_embeddings(&self) -> bool {
        self.embedder.is_some()
    }

    pub fn status(&self) -> KnowledgeStatus {
        self.status
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    pub(crate) fn query_state(&self) -> Arc<QueryState> {
        self.state
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Rebuilds the analyzer (synonyms), the vocabulary and the model catalog from the
    /// folder and the index. The vocabulary is cached on disk, keyed by the indexed files.
    pub(crate) async fn refresh_query_state(&self) -> Result<(), KnowledgeError> {
        let files = self.index.files().await?;
        let analyzer = Analyzer::new(self.current_synonyms());
        let fingerprint = files_fingerprint(&files);
        let vocabulary_path = self.cache_dir.join("vocabulary.json");
        let chunks = self.index.chunks().await?;
        let catalog = ModelCatalog::new(&self.models, chunks.iter().map(|c| &c.meta));
        let vocabulary = match Vocabulary::load(&vocabulary_path, &fingerprint) {
            Some(vocabulary) => vocabulary,
            None => {
                let analyzer = analyzer.clone();
                let vocabulary = tokio::task::spawn_blocking(move || {
                    let texts: Vec<String> = chunks.iter().map(|c| c.indexed_text()).collect();
                    Vocabulary::build(&analyzer, texts.iter().map(String::as_str))
                })
                .await?;
                if let Err(err) = std::fs::create_dir_all(&self.cache_dir)
                    .and_then(|()| vocabulary.save(&vocabulary_path, &fingerprint))
                {
                    // Only a cache: the next start rebuilds it.
                    tracing::warn!(cause = %err, path = %vocabulary_path.display(), "cannot save the vocabulary cache");
                }
                vocabulary
            }
        };
        let chunks_count: usize = files.values().map(|f| f.chunks).sum();
        {
            let mut status = self
                .status
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            status.backend = self.index.backend();
            status.embeddings = self.embedder.as_ref().map(|e| e.model().to_owned());
            status.files = files.len();
            status.chunks = chunks_count;
            status.vocabulary = vocabulary.len();
        }
        metrics::gauge!("showroom_knowledge_chunks").set(chunks_count as f64);
        *self
            .state
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(QueryState {
            analyzer,
            vocabulary,
            catalog,
        });
        Ok(())
    }

    /// True when `synonyms.yaml` changed since it was last read.
    pub(crate) fn synonyms_changed(&self) -> bool {
        let seen = self
            .synonyms_seen
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *seen != self.synonyms_file_hash()
    }

    /// Applies an edited `synonyms.yaml` to questions; the index needs nothing, since
    /// synonyms only widen questions.
    pub(crate) fn reload_synonyms(&self) {
        let current = self.query_state();
        let state = QueryState {
            analyzer: Analyzer::new(self.current_synonyms()),
            vocabulary: current.vocabulary.clone(),
            catalog: current.catalog.clone(),
        };
        *self
            .state
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(state);
        tracing::info!("synonyms reloaded");
    }

    fn synonyms_file_hash(&self) -> String {
        std::fs::read(self.root.join(SYNONYMS_FILE))
            .map(|bytes| super::document::content_hash(&bytes))
            .unwrap_or_default()
    }

    /// `knowledge/synonyms.yaml`, or none when there is no such file. A broken file is
    /// reported in the status and the synonyms in use stay, so a bad edit never takes
    /// answers away.
    fn current_synonyms(&self) -> Synonyms {
        *self
            .synonyms_seen
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = self.synonyms_file_hash();
        let path = self.root.join(SYNONYMS_FILE);
        if !path.exists() {
            self.set_synonyms_problem(None);
            return Synonyms::default();
        }
        match Synonyms::load(&path) {
            Ok(synonyms) => {
                self.set_synonyms_problem(None);
                synonyms
            }
            Err(err) => {
                tracing::warn!(error = %err, "synonyms.yaml has a problem; the synonyms in use stay until it is fixed");
                self.set_synonyms_problem(Some(err.to_string()));
                self.query_state().analyzer.synonyms().clone()
            }
        }
    }

    fn set_synonyms_problem(&self, error: Option<String>) {
        let mut status = self
            .status
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        status.problems.retain(|p| p.source != SYNONYMS_FILE);
        if let Some(error) = error {
            status.problems.push(FileProblem {
                source: SYNONYMS_FILE.to_owned(),
                error,
            });
        }
    }
}

/// Identifies the indexed content: changes whenever a file is added, removed or edited.
fn files_fingerprint(
    files: &std::collections::BTreeMap<String, super::index::IndexedFile>,
) -> String {
    let mut text = String::new();
    for (source, file) in files {
        text.push_str(source);
        text.push('\t');
        text.push_str(&file.file_hash);
        text.push('\n');
    }
    super::document::content_hash(text.as_bytes())
}
