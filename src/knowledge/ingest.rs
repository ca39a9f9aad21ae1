//! Incremental ingest of the knowledge folder: files whose content hash the index
//! already has are skipped, changed and new files are read, chunked, encoded and
//! replaced, and files gone from the folder are removed from the index.
//!
//! A file that cannot be read is reported and skipped — never fatal — and its previous
//! version stays indexed, so a bad edit never takes an answer away.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::analysis::Analyzer;
use super::base::{FileProblem, KnowledgeBase, KnowledgeError};
use super::chunk::Chunker;
use super::index::IndexedChunk;
use super::load;
use super::{Chunk, SourceDocument};

/// After writing this many chunks in one run, compact the index: a big first ingest
/// otherwise leaves it as one unindexed segment that every search scans.
const OPTIMIZE_AFTER_CHUNKS: usize = 1_000;

/// What happened to one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum FileOutcome {
    Added {
        chunks: usize,
    },
    Updated {
        chunks: usize,
    },
    Unchanged {
        chunks: usize,
    },
    Removed,
    /// Could not be read; the previous version (if any) stays indexed.
    Failed {
        error: String,
    },
}

#[derive(Debug, Clone, Serialize)]
pub struct FileReport {
    pub source: String,
    #[serde(flatten)]
    pub outcome: FileOutcome,
}

/// The result of one ingest.
#[derive(Debug, Clone, Default, Serialize)]
pub struct IngestReport {
    pub files: Vec<FileReport>,
    /// Chunks in the index afterwards.
    pub chunks: usize,
    /// Chunks written (re-)encoded by this run.
    pub chunks_written: usize,
    #[serde(serialize_with = "serialize_seconds")]
    pub elapsed: Duration,
}

fn serialize_seconds<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

impl IngestReport {
    pub fn count(&self, pick: impl Fn(&FileOutcome) -> bool) -> usize {
        self.files.iter().filter(|f| pick(&f.outcome)).count()
    }

    pub fn failed(&self) -> usize {
        self.count(|o| matches!(o, FileOutcome::Failed { .. }))
    }

    /// True when the index changed.
    pub fn changed(&self) -> bool {
        self.files.iter().any(|f| {
            matches!(
                f.outcome,
                FileOutcome::Added { .. } | FileOutcome::Updated { .. } | FileOutcome::Removed
            )
        })
    }
}

/// Told about progress, file by file (the CLI draws a bar; `serve` logs).
pub trait IngestProgress: Send + Sync {
    /// Before work starts: how many files will be read (changed or new).
    fn start(&self, _files_to_read: usize) {}
    fn file_done(&self, _report: &FileReport) {}
}

/// Progress nobody watches.
pub struct Quiet;
impl IngestProgress for Quiet {}

impl KnowledgeBase {
    /// Brings the index in line with the folder. Safe to call concurrently: runs are
    /// serialised.
    pub async fn ingest(
        &self,
        progress: &dyn IngestProgress,
    ) -> Result<IngestReport, KnowledgeError> {
        let _one_at_a_time = self.ingest_lock.lock().await;
        let started = Instant::now();
        let root = self.root.clone();
        if !root.is_dir() {
            return Err(KnowledgeError::MissingFolder(root));
        }
        let indexed = self.index.files().await?;
        let on_disk = {
            let root = root.clone();
            let recipe = self.recipe.clone();
            tokio::task::spawn_blocking(move || hash_files(&root, &recipe)).await?
        };

        let mut report = IngestReport::default();
        let mut to_read = Vec::new();
        for (source, hashed) in &on_disk {
            match (hashed, indexed.get(source)) {
                (Ok(hash), Some(known)) if *hash == known.file_hash => {
                    report.files.push(FileReport {
                        source: source.clone(),
                        outcome: FileOutcome::Unchanged {
                            chunks: known.chunks,
                        },
                    });
                }
                (Ok(_), _) => to_read.push(source.clone()),
                (Err(error), _) => report.files.push(FileReport {
                    source: source.clone(),
                    outcome: FileOutcome::Failed {
                        error: error.clone(),
                    },
                }),
            }
        }
        progress.start(to_read.len());
        for file in &report.files {
            progress.file_done(file);
        }

        for source in to_read {
            let existed = indexed.contains_key(&source);
            let outcome = match self.ingest_file(&source).await {
                Ok(chunks) => {
                    report.chunks_written += chunks;
                    if existed {
                        FileOutcome::Updated { chunks }
                    } else {
                        FileOutcome::Added { chunks }
                    }
                }
                Err(FileError::Unreadable(error)) => FileOutcome::Failed { error },
                Err(FileError::Knowledge(err)) => return Err(err),
            };
            let file = FileReport { source, outcome };
            progress.file_done(&file);
            report.files.push(file);
        }

        let removed: Vec<String> = indexed
            .keys()
            .filter(|source| !on_disk.contains_key(*source))
            .cloned()
            .collect();
        if !removed.is_empty() {
            self.index.delete_sources(&removed).await?;
            for source in removed {
                let file = FileReport {
                    source,
                    outcome: FileOutcome::Removed,
                };
                progress.file_done(&file);
                report.files.push(file);
            }
        }
        report.files.sort_by(|a, b| a.source.cmp(&b.source));

        if report.chunks_written >= OPTIMIZE_AFTER_CHUNKS {
            self.index.optimize().await?;
        }
        if report.changed() {
            self.refresh_query_state().await?;
        } else if self.synonyms_changed() {
            self.reload_synonyms();
        }
        report.chunks = self.index.count().await?;
        report.elapsed = started.elapsed();
        self.record_ingest(&report);
        Ok(report)
    }

    /// Reads, chunks, encodes and replaces one file; returns its chunk count.
    async fn ingest_file(&self, source: &str) -> Result<usize, FileError> {
        let root = self.root.clone();
        let path = root.join(source);
        let chunker = Arc::clone(&self.chunker);
        let analyzer = self.query_state().analyzer.clone();
        let recipe = self.recipe.clone();
        let prepared = tokio::task::spawn_blocking(move || {
            prepare(&root, &path, &recipe, &chunker, &analyzer)
        })
        .await
        .map_err(KnowledgeError::from)?
        .map_err(FileError::Unreadable)?;

        let dense = match &self.embedder {
            None => None,
            Some(embedder) => {
                // Chunks whose text did not change keep their vector (ids follow content).
                let ids: Vec<_> = prepared.iter().map(|(c, _)| c.id).collect();
                let mut known = self.index.dense_vectors(&ids).await?;
                let missing: Vec<String> = prepared
                    .iter()
                    .filter(|(c, _)| !known.contains_key(&c.id))
                    .map(|(c, _)| c.indexed_text())
                    .collect();
                let mut fresh = embedder
                    .embed_passages(&missing)
                    .await
                    .map_err(KnowledgeError::from)?
                    .into_iter();
                let mut vectors = Vec::with_capacity(prepared.len());
                for (chunk, _) in &prepared {
                    let vector = match known.remove(&chunk.id) {
                        Some(vector) => vector,
                        None => fresh.next().unwrap_or_default(),
                    };
                    vectors.push(vector);
                }
                Some(vectors)
            }
        };

        let count = prepared.len();
        let mut points = Vec::with_capacity(count);
        let mut dense = dense.map(Vec::into_iter);
        for (chunk, sparse) in prepared {
            points.push(IndexedChunk {
                dense: dense.as_mut().and_then(Iterator::next),
                chunk,
                sparse,
            });
        }
        self.index.replace_source(source, points).await?;
        Ok(count)
    }

    fn record_ingest(&self, report: &IngestReport) {
        let mut status = self
            .status
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        status.ingested_at = crate::store::now_ms();
        status.chunks = report.chunks;
        status
            .problems
            .retain(|p| p.source == super::base::SYNONYMS_FILE);
        for file in &report.files {
            if let FileOutcome::Failed { error } = &file.outcome {
                status.problems.push(FileProblem {
                    source: file.source.clone(),
                    error: error.clone(),
                });
            }
        }
        metrics::gauge!("showroom_knowledge_problems").set(status.problems.len() as f64);
        metrics::counter!("showroom_knowledge_chunks_written_total")
            .increment(report.chunks_written as u64);
    }
}

enum FileError {
    /// The file's own problem: reported, skipped.
    Unreadable(String),
    /// The index or embeddings failed: the whole run stops (and is retried later).
    Knowledge(KnowledgeError),
}

impl From<KnowledgeError> for FileError {
    fn from(err: KnowledgeError) -> Self {
        Self::Knowledge(err)
    }
}

impl From<super::index::IndexError> for FileError {
    fn from(err: super::index::IndexError) -> Self {
        Self::Knowledge(err.into())
    }
}

/// Every knowledge file's source name and content hash (or why it cannot be read).
fn hash_files(root: &Path, recipe: &str) -> BTreeMap<String, Result<String, String>> {
    load::knowledge_files(root)
        .into_iter()
        .map(|path| {
            let source = load::relative_source(root, &path);
            let hash = file_hash(&path, recipe)
                .map_err(|err| format!("{source}: cannot read the file: {err}"));
            (source, hash)
        })
        .collect()
}

/// Blocking part of one file: read, chunk, encode sparse vectors.
fn prepare(
    root: &Path,
    path: &Path,
    recipe: &str,
    chunker: &Chunker,
    analyzer: &Analyzer,
) -> Result<Vec<(Chunk, super::SparseVector)>, String> {
    let mut document: SourceDocument =
        load::load_file(root, path).map_err(|err| err.to_string())?;
    // The hash compared on the next run is the one computed the same way here.
    document.file_hash =
        file_hash(path, recipe).map_err(|err| format!("{}: {err}", document.source))?;
    let chunks = chunker.chunk(&document);
    if chunks.is_empty() {
        return Err(format!(
            "{}: no text found; add some text under a heading, or remove the file",
            document.source
        ));
    }
    Ok(chunks
        .into_iter()
        .map(|chunk| {
            let sparse = analyzer.encode_document(&chunk.indexed_text());
            (chunk, sparse)
        })
        .collect())
}

/// Content hash of a file, of its `.meta.yaml` sidecar if any, and of the `recipe` that
/// turns files into indexed chunks: editing either file, or changing the chunk size, the
/// analysis or the embedding model, re-ingests the file.
pub fn file_hash(path: &Path, recipe: &str) -> std::io::Result<String> {
    let mut bytes = std::fs::read(path)?;
    match std::fs::read(load::sidecar_path(path)) {
        Ok(meta) => {
            bytes.push(0);
            bytes.extend_from_slice(&meta);
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(err) => return Err(err),
    }
    bytes.push(0);
    bytes.extend_from_slice(recipe.as_bytes());
    Ok(super::document::content_hash(&bytes))
}
