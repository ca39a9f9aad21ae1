//! The vector index behind retrieval, with two backends of one layout:
//!
//! - [`EmbeddedIndex`]: Qdrant Edge in the data folder (the default; no service to run).
//! - [`QdrantIndex`]: a Qdrant server through gRPC, when `QDRANT_URL` is set.
//!
//! Layout, the same in both: one point per chunk (id = [`ChunkId`]); a sparse vector named
//! [`SPARSE_VECTOR`] with the IDF modifier (the index weighs rare terms; we send BM25 term
//! frequencies); an optional dense vector named [`DENSE_VECTOR`] (cosine); and the chunk
//! as payload, with keyword indexes on `source`, `model`, `brand` and `kind` for filters.

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;

use super::document::{Chunk, ChunkId, SparseVector};

mod edge;
mod payload;
mod server;

pub use edge::EmbeddedIndex;
pub use server::QdrantIndex;

/// Name of the sparse (BM25) vector in both backends.
pub const SPARSE_VECTOR: &str = "bm25";
/// Name of the optional dense vector in both backends.
pub const DENSE_VECTOR: &str = "dense";

/// What a point is made of.
#[derive(Debug, Clone)]
pub struct IndexedChunk {
    pub chunk: Chunk,
    pub sparse: SparseVector,
    /// Present when embeddings are configured.
    pub dense: Option<Vec<f32>>,
}

/// A chunk and its score for one query (higher is better).
#[derive(Debug, Clone)]
pub struct ScoredChunk {
    pub chunk: Chunk,
    pub score: f32,
}

/// A file as the index knows it: what incremental ingest compares against the disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexedFile {
    pub file_hash: String,
    pub chunks: usize,
}

/// Restricts a search to chunks whose payload matches. Empty lists mean "any".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchFilter {
    /// Chunk's `model` is one of these.
    pub models: Vec<String>,
    /// Chunk's `brand` is one of these (compared as written in front matter).
    pub brands: Vec<String>,
}

impl SearchFilter {
    pub fn is_empty(&self) -> bool {
        self.models.is_empty() && self.brands.is_empty()
    }
}

/// The shape of the index; opening an index whose stored shape differs recreates it
/// (empty), and the next ingest fills it again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexLayout {
    /// Dimensions of the dense vector, or `None` for sparse only.
    pub dense_dimensions: Option<usize>,
}

#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("cannot open the embedded index in {path}: {reason}")]
    Open { path: String, reason: String },
    #[error("cannot reach the Qdrant server at {url}: {reason}")]
    Connect { url: String, reason: String },
    #[error("the vector index failed to {operation}: {reason}")]
    Operation {
        operation: &'static str,
        reason: String,
    },
    #[error("a dense vector has {actual} dimensions but the index expects {expected}")]
    Dimensions { expected: usize, actual: usize },
    #[error("a chunk stored in the index cannot be read back: {0}")]
    Payload(String),
}

/// One interface over both backends; the shared test suite runs against each.
#[async_trait]
pub trait VectorIndex: Send + Sync {
    /// `"embedded"` or `"qdrant"`, for status pages and logs.
    fn backend(&self) -> &'static str;

    fn layout(&self) -> IndexLayout;

    /// Every indexed file (by `source`) with its hash and chunk count.
    async fn files(&self) -> Result<BTreeMap<String, IndexedFile>, IndexError>;

    /// Inserts or replaces points by chunk id. Dense vectors must match the layout.
    async fn upsert(&self, chunks: Vec<IndexedChunk>) -> Result<(), IndexError>;

    /// Removes every chunk of these sources.
    async fn delete_sources(&self, sources: &[String]) -> Result<(), IndexError>;

    /// Replaces every chunk of `source` with `chunks`. The embedded index does both in
    /// one write (one flush, and a crash keeps either the old file or the new one).
    async fn replace_source(
        &self,
        source: &str,
        chunks: Vec<IndexedChunk>,
    ) -> Result<(), IndexError> {
        self.delete_sources(&[source.to_owned()]).await?;
        self.upsert(chunks).await
    }

    /// Best chunks by sparse dot product (with IDF applied by the index).
    async fn search_sparse(
        &self,
        query: &SparseVector,
        filter: &SearchFilter,
        limit: usize,
    ) -> Result<Vec<ScoredChunk>, IndexError>;

    /// Best chunks by cosine similarity. An error if the layout has no dense vector.
    async fn search_dense(
        &self,
        query: &[f32],
        filter: &SearchFilter,
        limit: usize,
    ) -> Result<Vec<ScoredChunk>, IndexError>;

    /// Dense vectors already stored for these chunks (for reuse when a file changes).
    async fn dense_vectors(
        &self,
        ids: &[ChunkId],
    ) -> Result<HashMap<ChunkId, Vec<f32>>, IndexError>;

    /// Every chunk, in no particular order (vocabulary building, status pages).
    async fn chunks(&self) -> Result<Vec<Chunk>, IndexError>;

    /// Number of points.
    async fn count(&self) -> Result<usize, IndexError>;

    /// Compacts the index after many writes (merging segments, dropping deleted points,
    /// building search structures). A server does this by itself.
    async fn optimize(&self) -> Result<(), IndexError> {
        Ok(())
    }
}
