//! One vector-index test suite, run against every backend: the embedded Qdrant Edge shard
//! in a temporary folder (always), and a Qdrant server when `QDRANT_URL` is set.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use showroom::knowledge::index::{
    EmbeddedIndex, IndexError, IndexLayout, IndexedChunk, QdrantIndex, SearchFilter, VectorIndex,
};
use showroom::knowledge::{Chunk, ChunkId, DocumentMeta, SparseVector};

const SPARSE_ONLY: IndexLayout = IndexLayout {
    dense_dimensions: None,
};
const DENSE_4: IndexLayout = IndexLayout {
    dense_dimensions: Some(4),
};

/// Opens indexes by name: the same name again reopens the same storage (the caller drops
/// the previous handle first), a new name starts empty.
#[async_trait]
trait Backend: Send + Sync {
    async fn open(&self, name: &str, layout: IndexLayout) -> Arc<dyn VectorIndex>;
}

struct Embedded {
    dir: tempfile::TempDir,
}

#[async_trait]
impl Backend for Embedded {
    async fn open(&self, name: &str, layout: IndexLayout) -> Arc<dyn VectorIndex> {
        let path: PathBuf = self.dir.path().join(name);
        Arc::new(
            EmbeddedIndex::open(&path, layout)
                .await
                .unwrap_or_else(|error| panic!("open embedded index {name}: {error}")),
        )
    }
}

struct Server {
    url: String,
    api_key: Option<String>,
    /// Unique per run, so collections of an earlier run never leak into this one.
    prefix: String,
    opened: Mutex<Vec<Arc<QdrantIndex>>>,
}

#[async_trait]
impl Backend for Server {
    async fn open(&self, name: &str, layout: IndexLayout) -> Arc<dyn VectorIndex> {
        let collection = format!("{}_{name}", self.prefix);
        let index = QdrantIndex::connect(&self.url, self.api_key.as_deref(), &collection, layout)
            .await
            .unwrap_or_else(|error| panic!("connect to {collection}: {error}"));
        let index = Arc::new(index);
        self.opened.lock().unwrap().push(index.clone());
        index
    }
}

impl Server {
    async fn delete_collections(&self) {
        let opened = std::mem::take(&mut *self.opened.lock().unwrap());
        let mut deleted = BTreeSet::new();
        for index in opened {
            if deleted.insert(index.collection().to_owned()) {
                index
                    .delete_collection()
                    .await
                    .expect("delete test collection");
            }
        }
    }
}

#[tokio::test]
async fn knowledge_index_suite_embedded() {
    let backend = Embedded {
        dir: tempfile::tempdir().unwrap(),
    };
    suite(&backend).await;
}

#[tokio::test]
async fn knowledge_index_suite_qdrant_server() {
    let Ok(url) = std::env::var("QDRANT_URL") else {
        eprintln!("skipped: QDRANT_URL is not set; the Qdrant server backend was not tested");
        return;
    };
    let backend = Server {
        url,
        api_key: std::env::var("QDRANT_API_KEY").ok(),
        prefix: format!("showroom_test_{}", uuid::Uuid::new_v4().simple()),
        opened: Mutex::new(Vec::new()),
    };
    suite(&backend).await;
    backend.delete_collections().await;
}

async fn suite(backend: &dyn Backend) {
    files_report_hashes_and_chunk_counts(&*backend.open("files", SPARSE_ONLY).await).await;
    sparse_search_weighs_rare_terms_higher(&*backend.open("idf", SPARSE_ONLY).await).await;
    filters_restrict_by_model_and_brand(&*backend.open("filters", SPARSE_ONLY).await).await;
    delete_sources_removes_only_those_files(&*backend.open("delete", SPARSE_ONLY).await).await;
    upsert_of_the_same_id_replaces(&*backend.open("replace", SPARSE_ONLY).await).await;
    replace_source_swaps_one_file(&*backend.open("swap", SPARSE_ONLY).await).await;
    dense_search_finds_nearest_by_cosine(&*backend.open("dense", DENSE_4).await).await;
    sparse_only_index_refuses_dense_vectors(&*backend.open("sparse_only", SPARSE_ONLY).await).await;
    chunks_and_files_page_through_everything(&*backend.open("paging", SPARSE_ONLY).await).await;
    reopening_keeps_the_data(backend).await;
    another_layout_starts_empty(backend).await;
}

// Term ids used by hand-built sparse vectors.
const COMMON: u32 = 1;
const RARE: u32 = 2;
const SHARED: u32 = 3;

fn chunk(
    source: &str,
    ordinal: u32,
    text: &str,
    model: Option<&str>,
    brand: Option<&str>,
) -> Chunk {
    let heading_path = vec![format!("Ficha {source}"), format!("Parte {ordinal}")];
    Chunk {
        id: ChunkId::for_content(source, &heading_path, text),
        source: source.to_owned(),
        file_hash: format!("hash-{source}"),
        ordinal,
        heading_path,
        text: text.to_owned(),
        meta: DocumentMeta {
            title: format!("Ficha {source}"),
            brand: brand.map(str::to_owned),
            model: model.map(str::to_owned),
            year: Some(2025),
            kind: Some("spec_sheet".to_owned()),
            url: None,
        },
    }
}

fn sparse(chunk: Chunk, terms: &[(u32, f32)]) -> IndexedChunk {
    IndexedChunk {
        chunk,
        sparse: SparseVector::from_pairs(terms.iter().copied()),
        dense: None,
    }
}

fn words(terms: &[(u32, f32)]) -> SparseVector {
    SparseVector::from_pairs(terms.iter().copied())
}

fn sources_of(hits: &[showroom::knowledge::index::ScoredChunk]) -> Vec<&str> {
    hits.iter().map(|hit| hit.chunk.source.as_str()).collect()
}

async fn files_report_hashes_and_chunk_counts(index: &dyn VectorIndex) {
    assert!(index.files().await.unwrap().is_empty());
    assert_eq!(index.count().await.unwrap(), 0);
    let mut chunks = Vec::new();
    for ordinal in 0..3 {
        chunks.push(sparse(
            chunk(
                "specs/kia.md",
                ordinal,
                &format!("kia {ordinal}"),
                None,
                None,
            ),
            &[(SHARED, 1.0)],
        ));
    }
    chunks.push(sparse(
        chunk("faq.md", 0, "garantía", None, None),
        &[(COMMON, 1.0)],
    ));
    index.upsert(chunks).await.unwrap();

    let files = index.files().await.unwrap();
    assert_eq!(files.len(), 2);
    assert_eq!(files["specs/kia.md"].file_hash, "hash-specs/kia.md");
    assert_eq!(files["specs/kia.md"].chunks, 3);
    assert_eq!(files["faq.md"].file_hash, "hash-faq.md");
    assert_eq!(files["faq.md"].chunks, 1);
    assert_eq!(index.count().await.unwrap(), 4);
    // Every payload field comes back as written.
    let stored = index.chunks().await.unwrap();
    let original = chunk("specs/kia.md", 2, "kia 2", None, None);
    assert_eq!(stored.iter().find(|c| c.id == original.id), Some(&original));
}

async fn sparse_search_weighs_rare_terms_higher(index: &dyn VectorIndex) {
    // By raw dot product `common` wins (2 × 1 against 1 × 1). With IDF the term found in
    // one chunk of four outweighs the one found in three, so `rare` must come first.
    index
        .upsert(vec![
            sparse(
                chunk("common.md", 0, "común común", None, None),
                &[(COMMON, 2.0)],
            ),
            sparse(chunk("rare.md", 0, "raro", None, None), &[(RARE, 1.0)]),
            sparse(chunk("other1.md", 0, "común", None, None), &[(COMMON, 1.0)]),
            sparse(chunk("other2.md", 0, "común", None, None), &[(COMMON, 1.0)]),
        ])
        .await
        .unwrap();
    let hits = index
        .search_sparse(
            &words(&[(COMMON, 1.0), (RARE, 1.0)]),
            &SearchFilter::default(),
            10,
        )
        .await
        .unwrap();
    assert_eq!(hits.len(), 4, "{:?}", sources_of(&hits));
    assert_eq!(sources_of(&hits)[..2], ["rare.md", "common.md"]);
    assert!(hits.windows(2).all(|pair| pair[0].score >= pair[1].score));
    assert!(hits[0].score > hits[1].score);
    assert_eq!(hits[0].chunk.text, "raro");

    let top = index
        .search_sparse(
            &words(&[(COMMON, 1.0), (RARE, 1.0)]),
            &SearchFilter::default(),
            1,
        )
        .await
        .unwrap();
    assert_eq!(sources_of(&top), ["rare.md"]);
    // Nothing to look for, nothing found; a term no chunk has finds nothing either.
    let empty = index
        .search_sparse(&SparseVector::default(), &SearchFilter::default(), 10)
        .await
        .unwrap();
    assert!(empty.is_empty());
    let unknown = index
        .search_sparse(&words(&[(4242, 1.0)]), &SearchFilter::default(), 10)
        .await
        .unwrap();
    assert!(unknown.is_empty());
}

async fn filters_restrict_by_model_and_brand(index: &dyn VectorIndex) {
    index
        .upsert(vec![
            sparse(
                chunk("kia-sportage.md", 0, "baúl", Some("sportage"), Some("Kia")),
                &[(SHARED, 1.0)],
            ),
            sparse(
                chunk(
                    "toyota-corolla-cross.md",
                    0,
                    "baúl",
                    Some("corolla_cross"),
                    Some("Toyota"),
                ),
                &[(SHARED, 1.0)],
            ),
            sparse(
                chunk("toyota-rav4.md", 0, "baúl", Some("rav4"), Some("Toyota")),
                &[(SHARED, 1.0)],
            ),
            sparse(
                chunk("mb-glc.md", 0, "baúl", Some("glc"), Some("Mercedes Benz")),
                &[(SHARED, 1.0)],
            ),
            sparse(chunk("faq.md", 0, "baúl", None, None), &[(SHARED, 1.0)]),
        ])
        .await
        .unwrap();
    let query = words(&[(SHARED, 1.0)]);
    let search = |models: &[&str], brands: &[&str]| {
        let filter = SearchFilter {
            models: models.iter().map(|m| m.to_string()).collect(),
            brands: brands.iter().map(|b| b.to_string()).collect(),
        };
        let query = query.clone();
        async move {
            let hits = index.search_sparse(&query, &filter, 10).await.unwrap();
            sources_of(&hits)
                .into_iter()
                .map(str::to_owned)
                .collect::<BTreeSet<_>>()
        }
    };
    let set = |items: &[&str]| items.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();

    assert_eq!(search(&[], &[]).await.len(), 5);
    assert_eq!(search(&["sportage"], &[]).await, set(&["kia-sportage.md"]));
    assert_eq!(
        search(&["sportage", "rav4"], &[]).await,
        set(&["kia-sportage.md", "toyota-rav4.md"])
    );
    assert_eq!(
        search(&[], &["Toyota"]).await,
        set(&["toyota-corolla-cross.md", "toyota-rav4.md"])
    );
    // A brand with a space is matched whole, not as words.
    assert_eq!(search(&[], &["Mercedes Benz"]).await, set(&["mb-glc.md"]));
    assert!(search(&[], &["Mercedes"]).await.is_empty());
    // Model and brand must both hold.
    assert_eq!(
        search(&["rav4"], &["Toyota"]).await,
        set(&["toyota-rav4.md"])
    );
    assert!(search(&["sportage"], &["Toyota"]).await.is_empty());
    assert!(search(&["no_such_model"], &[]).await.is_empty());
}

async fn delete_sources_removes_only_those_files(index: &dyn VectorIndex) {
    let mut chunks = Vec::new();
    for source in ["a.md", "b.md", "c.md"] {
        for ordinal in 0..2 {
            chunks.push(sparse(
                chunk(source, ordinal, &format!("{source} {ordinal}"), None, None),
                &[(SHARED, 1.0)],
            ));
        }
    }
    index.upsert(chunks).await.unwrap();
    index
        .delete_sources(&[
            "a.md".to_owned(),
            "c.md".to_owned(),
            "never-indexed.md".to_owned(),
        ])
        .await
        .unwrap();
    let files = index.files().await.unwrap();
    assert_eq!(
        files.keys().map(String::as_str).collect::<Vec<_>>(),
        ["b.md"]
    );
    assert_eq!(files["b.md"].chunks, 2);
    assert_eq!(index.count().await.unwrap(), 2);
    let hits = index
        .search_sparse(&words(&[(SHARED, 1.0)]), &SearchFilter::default(), 10)
        .await
        .unwrap();
    assert_eq!(sources_of(&hits), ["b.md", "b.md"]);
    // Deleting nothing is not an error and changes nothing.
    index.delete_sources(&[]).await.unwrap();
    assert_eq!(index.count().await.unwrap(), 2);
}

async fn replace_source_swaps_one_file(index: &dyn VectorIndex) {
    let mut chunks = Vec::new();
    for source in ["a.md", "b.md"] {
        for ordinal in 0..3 {
            chunks.push(sparse(
                chunk(
                    source,
                    ordinal,
                    &format!("{source} v1 {ordinal}"),
                    None,
                    None,
                ),
                &[(SHARED, 1.0)],
            ));
        }
    }
    index.upsert(chunks).await.unwrap();
    // a.md shrinks from three chunks to one with new text and a new hash.
    let mut edited = chunk("a.md", 0, "a.md v2", None, None);
    edited.file_hash = "hash-a.md-v2".to_owned();
    index
        .replace_source("a.md", vec![sparse(edited, &[(RARE, 1.0)])])
        .await
        .unwrap();
    let files = index.files().await.unwrap();
    assert_eq!(files["a.md"].chunks, 1);
    assert_eq!(files["a.md"].file_hash, "hash-a.md-v2");
    assert_eq!(files["b.md"].chunks, 3, "the other file is untouched");
    let hits = index
        .search_sparse(&words(&[(SHARED, 1.0)]), &SearchFilter::default(), 10)
        .await
        .unwrap();
    assert_eq!(sources_of(&hits), ["b.md", "b.md", "b.md"]);
    let hits = index
        .search_sparse(&words(&[(RARE, 1.0)]), &SearchFilter::default(), 10)
        .await
        .unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].chunk.text, "a.md v2");
}

async fn upsert_of_the_same_id_replaces(index: &dyn VectorIndex) {
    let original = chunk(
        "kia.md",
        0,
        "consumo 14 km/l",
        Some("sportage"),
        Some("Kia"),
    );
    index
        .upsert(vec![
            sparse(original.clone(), &[(COMMON, 1.0)]),
            sparse(chunk("other.md", 0, "otro", None, None), &[(COMMON, 1.0)]),
        ])
        .await
        .unwrap();
    let mut changed = original.clone();
    changed.text = "consumo 15 km/l".to_owned();
    changed.file_hash = "hash-kia-v2".to_owned();
    changed.meta.model = Some("sportage_hev".to_owned());
    index
        .upsert(vec![sparse(changed.clone(), &[(RARE, 1.0)])])
        .await
        .unwrap();

    assert_eq!(index.count().await.unwrap(), 2);
    let stored = index.chunks().await.unwrap();
    assert_eq!(stored.iter().filter(|c| c.id == original.id).count(), 1);
    assert_eq!(stored.iter().find(|c| c.id == original.id), Some(&changed));
    assert_eq!(
        index.files().await.unwrap()["kia.md"].file_hash,
        "hash-kia-v2"
    );
    // The vectors were replaced too: the old term no longer finds it, the new one does.
    let old_term = index
        .search_sparse(&words(&[(COMMON, 1.0)]), &SearchFilter::default(), 10)
        .await
        .unwrap();
    assert_eq!(sources_of(&old_term), ["other.md"]);
    let new_term = index
        .search_sparse(&words(&[(RARE, 1.0)]), &SearchFilter::default(), 10)
        .await
        .unwrap();
    assert_eq!(new_term.len(), 1);
    assert_eq!(new_term[0].chunk, changed);
}

fn normalized(vector: &[f32]) -> Vec<f32> {
    let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
    vector.iter().map(|x| x / norm).collect()
}

fn assert_same_direction(actual: &[f32], expected: &[f32]) {
    let (actual, expected) = (normalized(actual), normalized(expected));
    assert_eq!(actual.len(), expected.len());
    for (a, e) in actual.iter().zip(&expected) {
        assert!((a - e).abs() < 1e-5, "{actual:?} != {expected:?}");
    }
}

async fn dense_search_finds_nearest_by_cosine(index: &dyn VectorIndex) {
    assert_eq!(index.layout(), DENSE_4);
    let east = chunk("east.md", 0, "east", Some("sportage"), Some("Kia"));
    let north = chunk("north.md", 0, "north", Some("rav4"), Some("Toyota"));
    let north_east = chunk(
        "north-east.md",
        0,
        "north east",
        Some("rav4"),
        Some("Toyota"),
    );
    let no_dense = chunk("words-only.md", 0, "words only", None, None);
    let with_dense = |chunk: &Chunk, dense: [f32; 4]| IndexedChunk {
        chunk: chunk.clone(),
        sparse: words(&[(SHARED, 1.0)]),
        dense: Some(dense.to_vec()),
    };
    index
        .upsert(vec![
            with_dense(&east, [1.0, 0.0, 0.0, 0.0]),
            // Length does not matter to cosine.
            with_dense(&north, [0.0, 3.0, 0.0, 0.0]),
            with_dense(&north_east, [0.7, 0.7, 0.0, 0.0]),
            sparse(no_dense.clone(), &[(SHARED, 1.0)]),
        ])
        .await
        .unwrap();
    assert_eq!(index.count().await.unwrap(), 4);

    let hits = index
        .search_dense(&[1.0, 0.1, 0.0, 0.0], &SearchFilter::default(), 10)
        .await
        .unwrap();
    assert_eq!(sources_of(&hits), ["east.md", "north-east.md", "north.md"]);
    let cosine = 1.0 / (1.0f32 + 0.01).sqrt();
    assert!((hits[0].score - cosine).abs() < 1e-3, "{}", hits[0].score);
    assert!(hits.windows(2).all(|pair| pair[0].score > pair[1].score));
    assert_eq!(hits[0].chunk, east);

    let filtered = index
        .search_dense(
            &[1.0, 0.1, 0.0, 0.0],
            &SearchFilter {
                models: vec![],
                brands: vec!["Toyota".to_owned()],
            },
            1,
        )
        .await
        .unwrap();
    assert_eq!(sources_of(&filtered), ["north-east.md"]);
    // The sparse vector of a point with a dense one is searchable as well.
    let by_words = index
        .search_sparse(&words(&[(SHARED, 1.0)]), &SearchFilter::default(), 10)
        .await
        .unwrap();
    assert_eq!(by_words.len(), 4);

    let stored = index
        .dense_vectors(&[
            east.id,
            north.id,
            no_dense.id,
            ChunkId::for_content("x", &[], "y"),
        ])
        .await
        .unwrap();
    assert_eq!(stored.len(), 2, "only chunks stored with a dense vector");
    assert_same_direction(&stored[&east.id], &[1.0, 0.0, 0.0, 0.0]);
    assert_same_direction(&stored[&north.id], &[0.0, 3.0, 0.0, 0.0]);
    assert!(index.dense_vectors(&[]).await.unwrap().is_empty());

    let wrong_upsert = index
        .upsert(vec![IndexedChunk {
            chunk: chunk("short.md", 0, "short", None, None),
            sparse: words(&[(SHARED, 1.0)]),
            dense: Some(vec![1.0, 0.0, 0.0]),
        }])
        .await
        .unwrap_err();
    assert!(
        matches!(
            wrong_upsert,
            IndexError::Dimensions {
                expected: 4,
                actual: 3
            }
        ),
        "{wrong_upsert}"
    );
    let wrong_query = index
        .search_dense(&[1.0; 5], &SearchFilter::default(), 10)
        .await
        .unwrap_err();
    assert!(
        matches!(
            wrong_query,
            IndexError::Dimensions {
                expected: 4,
                actual: 5
            }
        ),
        "{wrong_query}"
    );
    assert_eq!(
        index.count().await.unwrap(),
        4,
        "a rejected batch stores nothing"
    );
    assert!(
        index
            .search_dense(&[], &SearchFilter::default(), 10)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn sparse_only_index_refuses_dense_vectors(index: &dyn VectorIndex) {
    assert_eq!(index.layout(), SPARSE_ONLY);
    let error = index
        .search_dense(&[1.0, 0.0, 0.0, 0.0], &SearchFilter::default(), 10)
        .await
        .unwrap_err();
    assert!(matches!(error, IndexError::Operation { .. }), "{error}");
    assert!(error.to_string().contains("word vectors only"), "{error}");
    let error = index
        .upsert(vec![IndexedChunk {
            chunk: chunk("a.md", 0, "a", None, None),
            sparse: words(&[(SHARED, 1.0)]),
            dense: Some(vec![1.0, 0.0, 0.0, 0.0]),
        }])
        .await
        .unwrap_err();
    assert!(matches!(error, IndexError::Operation { .. }), "{error}");
    assert_eq!(index.count().await.unwrap(), 0);
    let a = chunk("a.md", 0, "a", None, None);
    index
        .upsert(vec![sparse(a.clone(), &[(SHARED, 1.0)])])
        .await
        .unwrap();
    assert!(index.dense_vectors(&[a.id]).await.unwrap().is_empty());
}

async fn chunks_and_files_page_through_everything(index: &dyn VectorIndex) {
    // Far more than one scroll page (1,000), and not a multiple of it.
    const FILES: u32 = 25;
    const PER_FILE: u32 = 100;
    let mut expected = HashMap::new();
    let mut batch = Vec::new();
    for file in 0..FILES {
        for ordinal in 0..PER_FILE {
            let chunk = chunk(
                &format!("f{file:02}.md"),
                ordinal,
                &format!("chunk {file} {ordinal}"),
                None,
                None,
            );
            expected.insert(chunk.id, chunk.clone());
            batch.push(sparse(chunk, &[(SHARED, 1.0), (100 + file, 1.0)]));
        }
    }
    index.upsert(batch).await.unwrap();
    let total = (FILES * PER_FILE) as usize;
    assert_eq!(index.count().await.unwrap(), total);

    let chunks = index.chunks().await.unwrap();
    assert_eq!(chunks.len(), total);
    let ids: BTreeSet<ChunkId> = chunks.iter().map(|c| c.id).collect();
    assert_eq!(ids.len(), total, "no chunk listed twice");
    for chunk in &chunks {
        assert_eq!(Some(chunk), expected.get(&chunk.id));
    }

    let files = index.files().await.unwrap();
    assert_eq!(files.len(), FILES as usize);
    assert!(files.values().all(|file| file.chunks == PER_FILE as usize));

    let hits = index
        .search_sparse(&words(&[(100 + 7, 1.0)]), &SearchFilter::default(), 1_000)
        .await
        .unwrap();
    assert_eq!(hits.len(), PER_FILE as usize);
    assert!(hits.iter().all(|hit| hit.chunk.source == "f07.md"));
}

async fn reopening_keeps_the_data(backend: &dyn Backend) {
    let kept = chunk("kept.md", 0, "se queda", Some("sportage"), Some("Kia"));
    {
        let index = backend.open("reopen", DENSE_4).await;
        index
            .upsert(vec![IndexedChunk {
                chunk: kept.clone(),
                sparse: words(&[(RARE, 1.0)]),
                dense: Some(vec![0.0, 0.0, 1.0, 0.0]),
            }])
            .await
            .unwrap();
        index
            .upsert(vec![sparse(
                chunk("gone.md", 0, "se va", None, None),
                &[(COMMON, 1.0)],
            )])
            .await
            .unwrap();
        index.delete_sources(&["gone.md".to_owned()]).await.unwrap();
    }
    let index = backend.open("reopen", DENSE_4).await;
    assert_eq!(index.count().await.unwrap(), 1);
    assert_eq!(index.chunks().await.unwrap(), vec![kept.clone()]);
    assert_eq!(index.files().await.unwrap()["kept.md"].chunks, 1);
    let hits = index
        .search_sparse(&words(&[(RARE, 1.0)]), &SearchFilter::default(), 5)
        .await
        .unwrap();
    assert_eq!(sources_of(&hits), ["kept.md"]);
    let hits = index
        .search_dense(&[0.0, 0.0, 1.0, 0.0], &SearchFilter::default(), 5)
        .await
        .unwrap();
    assert_eq!(sources_of(&hits), ["kept.md"]);
    assert_same_direction(
        &index.dense_vectors(&[kept.id]).await.unwrap()[&kept.id],
        &[0.0, 0.0, 1.0, 0.0],
    );
}

async fn another_layout_starts_empty(backend: &dyn Backend) {
    {
        let index = backend.open("relayout", SPARSE_ONLY).await;
        index
            .upsert(vec![sparse(
                chunk("a.md", 0, "a", None, None),
                &[(SHARED, 1.0)],
            )])
            .await
            .unwrap();
        assert_eq!(index.count().await.unwrap(), 1);
    }
    let with_embeddings = IndexLayout {
        dense_dimensions: Some(3),
    };
    let b = chunk("b.md", 0, "b", None, None);
    {
        let index = backend.open("relayout", with_embeddings).await;
        assert_eq!(index.layout(), with_embeddings);
        assert_eq!(index.count().await.unwrap(), 0, "a new layout starts empty");
        assert!(index.files().await.unwrap().is_empty());
        index
            .upsert(vec![IndexedChunk {
                chunk: b.clone(),
                sparse: words(&[(SHARED, 1.0)]),
                dense: Some(vec![0.0, 1.0, 0.0]),
            }])
            .await
            .unwrap();
        let hits = index
            .search_dense(&[0.0, 1.0, 0.0], &SearchFilter::default(), 5)
            .await
            .unwrap();
        assert_eq!(sources_of(&hits), ["b.md"]);
    }
    // Same layout again: kept. Other dimensions: rebuilt again.
    {
        let index = backend.open("relayout", with_embeddings).await;
        assert_eq!(index.chunks().await.unwrap(), vec![b]);
    }
    let index = backend.open("relayout", DENSE_4).await;
    assert_eq!(index.count().await.unwrap(), 0);
}
