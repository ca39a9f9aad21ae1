//! Hybrid retrieval: what `showroom kb search` prints and the assistant cites.
//!
//! A question runs as up to four ranked lists — sparse (BM25 over analysed terms) and,
//! when embeddings are on, dense — each once over everything and once restricted to the
//! models or brands the question names. Reciprocal-rank fusion merges them: a chunk's
//! score is Σ 1 / (k + rank) over the lists it appears in. Chunks of a named model sit
//! in both the open and the restricted lists, so they rise; the open lists keep FAQ and
//! policy answers ("¿qué cubre la garantía del Tiguan?") in reach.

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use super::analysis::{Analyzer, term_id};
use super::base::{KnowledgeBase, KnowledgeError};
use super::index::{ScoredChunk, SearchFilter};
use super::{Chunk, ChunkId, SparseVector};

/// The `k` of reciprocal-rank fusion: 60 is the value of the original paper and
/// Qdrant's; it keeps one list's top result from drowning the others.
const RRF_K: f32 = 60.0;
/// How deep each list goes before fusion.
const CANDIDATES: usize = 30;
/// List weights, tuned on `knowledge/eval.yaml` (see docs/BENCHMARKS.md). Word matching
/// is the sharper signal on spec sheets full of figures and model names, so the dense
/// list counts half: it brings paraphrases word matching misses without outvoting it.
const SPARSE_WEIGHT: f32 = 1.0;
const DENSE_WEIGHT: f32 = 0.5;
/// Extra weight of the lists restricted to a named model, or to a named brand alone.
const MODEL_WEIGHT: f32 = 1.0;
const BRAND_WEIGHT: f32 = 0.25;

/// One search result.
#[derive(Debug, Clone, Serialize)]
pub struct Hit {
    /// 1 for the best.
    pub rank: usize,
    /// Fused score (higher is better; only comparable within one query).
    pub score: f32,
    /// File path relative to the knowledge folder.
    pub source: String,
    /// Innermost heading above the passage.
    pub section: Option<String>,
    pub title: String,
    pub url: Option<String>,
    pub text: String,
    #[serde(skip)]
    pub chunk: Chunk,
}

/// How a search runs; `Default` is what customers get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SearchOptions {
    pub k: usize,
    /// Use dense vectors when embeddings are configured.
    pub dense: bool,
}

impl Default for SearchOptions {
    fn default() -> Self {
        Self { k: 5, dense: true }
    }
}

impl KnowledgeBase {
    /// The best `options.k` passages for a question.
    pub async fn search(
        &self,
        question: &str,
        options: SearchOptions,
    ) -> Result<Vec<Hit>, KnowledgeError> {
        let started = std::time::Instant::now();
        let state = self.query_state();
        let sparse = state.analyzer.encode_query(question, &state.vocabulary);
        let mentions = state.catalog.mentions(question);
        let named = SearchFilter {
            models: mentions.models.clone(),
            // A named model is more precise than its brand.
            brands: if mentions.models.is_empty() {
                mentions.brands.clone()
            } else {
                Vec::new()
            },
        };
        let everything = SearchFilter::default();
        // A named model is a strong hint; a brand alone is weaker ("the warranty of a
        // new Toyota" is a FAQ question, not the Corolla's spec sheet).
        let named_weight = if mentions.models.is_empty() {
            BRAND_WEIGHT
        } else {
            MODEL_WEIGHT
        };

        // The open and the restricted search of each kind run at once: both go to the
        // blocking pool, so on two cores a named-model question costs one search's time.
        let mut lists: Vec<(f32, Vec<ScoredChunk>)> = Vec::with_capacity(4);
        if !sparse.is_empty() {
            if named.is_empty() {
                let all = self.index.search_sparse(&sparse, &everything, CANDIDATES);
                lists.push((SPARSE_WEIGHT, all.await?));
            } else {
                // Within one model's documents its name says nothing; rank them by the
                // rest of the question ("gasta" finds Consumo, not the Resumen that
                // repeats "Sportage").
                let names = mentions.models.iter().chain(&mentions.brands);
                let mut rest = without_terms(&sparse, &state.analyzer, names);
                if rest.is_empty() {
                    rest = sparse.clone();
                }
                let (all, only) = tokio::join!(
                    self.index.search_sparse(&sparse, &everything, CANDIDATES),
                    self.index.search_sparse(&rest, &named, CANDIDATES),
                );
                let mut only = only?;
                if only.is_empty() && rest != sparse {
                    // Nothing else in the question matched: the name alone still ranks.
                    only = self
                        .index
                        .search_sparse(&sparse, &named, CANDIDATES)
                        .await?;
                }
                lists.push((SPARSE_WEIGHT, all?));
                lists.push((SPARSE_WEIGHT * named_weight, only));
            }
        }
        if options.dense
            && let Some(embedder) = &self.embedder
        {
            match embedder.embed_query(question).await {
                Ok(vector) if named.is_empty() => {
                    let all = self.index.search_dense(&vector, &everything, CANDIDATES);
                    lists.push((DENSE_WEIGHT, all.await?));
                }
                Ok(vector) => {
                    let (all, only) = tokio::join!(
                        self.index.search_dense(&vector, &everything, CANDIDATES),
                        self.index.search_dense(&vector, &named, CANDIDATES),
                    );
                    lists.push((DENSE_WEIGHT, all?));
                    lists.push((DENSE_WEIGHT * named_weight, only?));
                }
                // Sparse results still answer; a down embeddings server must not stop them.
                Err(err) => {
                    metrics::counter!("showroom_knowledge_embedding_failures_total").increment(1);
                    tracing::warn!(error = %err, "dense retrieval skipped for this question");
                }
            }
        }
        let hits = fuse(lists, options.k);
        metrics::histogram!("showroom_knowledge_search_seconds").record(started.elapsed());
        Ok(hits)
    }
}

/// `query` without the index terms of `names` (model ids like `corolla_cross`, brands).
fn without_terms<'a>(
    query: &SparseVector,
    analyzer: &Analyzer,
    names: impl Iterator<Item = &'a String>,
) -> SparseVector {
    let drop: HashSet<u32> = names
        .flat_map(|name| analyzer.document_terms(&name.replace('_', " ")))
        .map(|term| term_id(&term))
        .collect();
    SparseVector::from_pairs(
        query
            .indices
            .iter()
            .zip(&query.values)
            .filter(|(id, _)| !drop.contains(id))
            .map(|(id, weight)| (*id, *weight)),
    )
}

/// Weighted reciprocal-rank fusion of ranked lists into the best `k` hits: each list
/// adds `weight / (RRF_K + rank)` to the chunks it holds.
pub fn fuse(lists: Vec<(f32, Vec<ScoredChunk>)>, k: usize) -> Vec<Hit> {
    let mut fused: HashMap<ChunkId, (f32, Chunk)> = HashMap::new();
    for (weight, list) in lists {
        for (position, scored) in list.into_iter().enumerate() {
            let contribution = weight / (RRF_K + position as f32 + 1.0);
            fused
                .entry(scored.chunk.id)
                .and_modify(|(score, _)| *score += contribution)
                .or_insert((contribution, scored.chunk));
        }
    }
    let mut ranked: Vec<(f32, Chunk)> = fused.into_values().collect();
    // Ties (same lists, same positions) break by source and position for stable output.
    ranked.sort_by(|(a, chunk_a), (b, chunk_b)| {
        b.total_cmp(a)
            .then_with(|| chunk_a.source.cmp(&chunk_b.source))
            .then_with(|| chunk_a.ordinal.cmp(&chunk_b.ordinal))
    });
    ranked
        .into_iter()
        .take(k)
        .enumerate()
        .map(|(i, (score, chunk))| Hit {
            rank: i + 1,
            score,
            source: chunk.source.clone(),
            section: chunk.section().map(str::to_owned),
            title: chunk.meta.title.clone(),
            url: chunk.meta.url.clone(),
            text: chunk.text.clone(),
            chunk,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knowledge::DocumentMeta;

    fn chunk(source: &str, text: &str) -> Chunk {
        let path = vec!["T".to_owned()];
        Chunk {
            id: ChunkId::for_content(source, &path, text),
            source: source.into(),
            file_hash: "h".into(),
            ordinal: 0,
            heading_path: path,
            text: text.into(),
            meta: DocumentMeta::default(),
        }
    }

    fn scored(chunks: &[&Chunk]) -> Vec<ScoredChunk> {
        chunks
            .iter()
            .map(|c| ScoredChunk {
                chunk: (*c).clone(),
                score: 1.0,
            })
            .collect()
    }

    #[test]
    fn a_chunk_high_in_two_lists_beats_the_top_of_one() {
        let a = chunk("a.md", "a");
        let b = chunk("b.md", "b");
        let c = chunk("c.md", "c");
        let hits = fuse(
            vec![(1.0, scored(&[&a, &b, &c])), (1.0, scored(&[&b, &c]))],
            3,
        );
        let order: Vec<&str> = hits.iter().map(|h| h.source.as_str()).collect();
        assert_eq!(order, ["b.md", "c.md", "a.md"]);
        assert_eq!(hits[0].rank, 1);
        assert!(hits[0].score > hits[1].score);
    }

    #[test]
    fn fusion_keeps_only_k_and_handles_no_lists() {
        let a = chunk("a.md", "a");
        let b = chunk("b.md", "b");
        assert_eq!(fuse(vec![(1.0, scored(&[&a, &b]))], 1).len(), 1);
        assert!(fuse(Vec::new(), 5).is_empty());
    }
}
