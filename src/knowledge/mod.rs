//! The knowledge base: the dealer's spec sheets, FAQ and policies, searchable the way
//! customers ask.
//!
//! - [`load`]: read `knowledge/**` (Markdown with front matter, PDF, CSV) into documents.
//! - [`chunk`]: cut documents at headings and paragraphs to a token budget.
//! - [`analysis`]: folding, stemming, synonyms and typo tolerance; BM25 sparse vectors.
//! - [`embed`]: optional dense vectors from an OpenAI-compatible embeddings server.
//! - [`index`]: the vector index, embedded (Qdrant Edge) or a Qdrant server.
//! - [`ingest`]: incremental indexing of the folder; [`watch`] re-ingests on change.
//! - [`search`]: hybrid retrieval (sparse + dense, reciprocal-rank fusion, model boost).
//! - [`eval`]: recall@k and MRR of a question set.

pub mod analysis;
mod base;
pub mod catalog;
pub mod chunk;
pub mod document;
pub mod embed;
pub mod eval;
pub mod index;
pub mod ingest;
pub mod load;
pub mod search;
mod settings;
pub mod watch;

pub use base::{FileProblem, KnowledgeBase, KnowledgeError, KnowledgeStatus, SYNONYMS_FILE};
pub use document::{Chunk, ChunkId, DocumentMeta, Section, SourceDocument, SparseVector};
pub use ingest::{FileOutcome, FileReport, IngestProgress, IngestReport};
pub use search::{Hit, SearchOptions};
pub use settings::{
    EmbeddingsConfig, IndexBackend, KnowledgeConfig, KnowledgeEnv, RawEmbeddings, RawKnowledge,
};
