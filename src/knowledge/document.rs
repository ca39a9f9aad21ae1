//! What the knowledge base is made of: source documents read from `knowledge/`, and the
//! chunks they are cut into. Every chunk carries its source, heading path and metadata,
//! so a hit can be cited and filtered without going back to the file.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Metadata from a Markdown file's front matter (or a PDF/CSV's `.meta.yaml` sidecar).
/// Every field is optional: a FAQ has no model, a policy no year.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentMeta {
    /// Human title; falls back to the first heading, then the file name.
    pub title: String,
    pub brand: Option<String>,
    /// The model id, as in `[[models]]` of settings (`corolla_cross`).
    pub model: Option<String>,
    pub year: Option<u16>,
    /// `spec_sheet`, `faq`, `policy`, … — free text, used for filtering.
    pub kind: Option<String>,
    /// Where a customer can read the original.
    pub url: Option<String>,
}

/// A file read and split into sections, before chunking.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceDocument {
    /// Path relative to the knowledge folder, with `/` separators (`specs/kia-sportage.md`).
    pub source: String,
    /// SHA-256 (hex) of the file's bytes, plus its sidecar's when it has one.
    pub file_hash: String,
    pub meta: DocumentMeta,
    pub sections: Vec<Section>,
}

/// A run of text under one heading path (`["Kia Sportage", "Consumo y tanque"]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub heading_path: Vec<String>,
    pub text: String,
}

/// A stable identifier for a chunk: derived from its source, headings and text, so an
/// unchanged chunk keeps its id (and its cached embedding) when the file around it changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ChunkId(uuid::Uuid);

impl ChunkId {
    pub fn for_content(source: &str, heading_path: &[String], text: &str) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(source.as_bytes());
        for heading in heading_path {
            hasher.update([0x1f]);
            hasher.update(heading.as_bytes());
        }
        hasher.update([0x1e]);
        hasher.update(text.as_bytes());
        let digest = hasher.finalize();
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        Self(uuid::Builder::from_custom_bytes(bytes).into_uuid())
    }

    pub fn from_uuid(uuid: uuid::Uuid) -> Self {
        Self(uuid)
    }

    pub fn as_uuid(&self) -> uuid::Uuid {
        self.0
    }
}

impl fmt::Display for ChunkId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// One retrievable passage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Chunk {
    pub id: ChunkId,
    /// Path relative to the knowledge folder (`specs/kia-sportage.md`).
    pub source: String,
    pub file_hash: String,
    /// Position of the chunk in its file, from 0.
    pub ordinal: u32,
    /// Headings above the chunk, outermost first.
    pub heading_path: Vec<String>,
    pub text: String,
    pub meta: DocumentMeta,
}

impl Chunk {
    /// The innermost heading: what a citation names as the section.
    pub fn section(&self) -> Option<&str> {
        self.heading_path.last().map(String::as_str)
    }

    /// What the sparse and dense encoders see: title and headings give a passage its
    /// subject ("Consumo y tanque" of the "Kia Sportage"), which the body often omits.
    pub fn indexed_text(&self) -> String {
        let mut text = String::with_capacity(self.text.len() + 128);
        text.push_str(&self.meta.title);
        for heading in &self.heading_path {
            if heading != &self.meta.title {
                text.push_str(" — ");
                text.push_str(heading);
            }
        }
        text.push('\n');
        text.push_str(&self.text);
        text
    }
}

/// A sparse vector: sorted, distinct term ids and their weights.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SparseVector {
    pub indices: Vec<u32>,
    pub values: Vec<f32>,
}

impl SparseVector {
    /// Builds a vector from (id, weight) pairs in any order; weights of repeated ids add up.
    pub fn from_pairs(pairs: impl IntoIterator<Item = (u32, f32)>) -> Self {
        let mut map = std::collections::BTreeMap::<u32, f32>::new();
        for (id, weight) in pairs {
            *map.entry(id).or_default() += weight;
        }
        let (indices, values) = map.into_iter().filter(|(_, w)| *w > 0.0).unzip();
        Self { indices, values }
    }

    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }
}

/// SHA-256 of some bytes, as lowercase hex.
pub fn content_hash(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut hex = String::with_capacity(64);
    for byte in digest {
        use fmt::Write as _;
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_ids_follow_content_not_position() {
        let path = vec!["Kia Sportage".to_owned(), "Consumo".to_owned()];
        let a = ChunkId::for_content("specs/kia.md", &path, "14 km/l");
        assert_eq!(a, ChunkId::for_content("specs/kia.md", &path, "14 km/l"));
        assert_ne!(a, ChunkId::for_content("specs/kia.md", &path, "15 km/l"));
        assert_ne!(a, ChunkId::for_content("specs/otro.md", &path, "14 km/l"));
    }

    #[test]
    fn sparse_vectors_are_sorted_and_merged() {
        let v = SparseVector::from_pairs([(9, 1.0), (3, 0.5), (9, 0.5), (4, 0.0)]);
        assert_eq!(v.indices, vec![3, 9]);
        assert_eq!(v.values, vec![0.5, 1.5]);
    }
}
