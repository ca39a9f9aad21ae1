//! [`EmbeddedIndex`]: the index as a Qdrant Edge shard in a folder of the data directory.
//!
//! Qdrant Edge is synchronous, so every call runs on tokio's blocking pool with the shard
//! behind an `Arc`. Writes and flushes take one lock because `EdgeShard::flush` panics
//! when an update holds the write-ahead log at the same moment. The layout the shard was
//! made for is kept in `showroom-layout.json` beside the shard files; a different layout
//! (embeddings switched on or off, another model size) rebuilds the shard empty.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use qdrant_edge::{
    Condition, CountRequest, CreateIndex, Distance, EdgeConfig, EdgeShard, EdgeSparseVectorParams,
    EdgeVectorParams, FieldCondition, FieldIndexOperations, Filter, JsonPath, Match, Modifier,
    NamedQuery, OperationError, Payload, PayloadFieldSchema, PayloadSchemaType, PointId,
    PointInsertOperations, PointOperations, PointStructPersisted, QueryEnum, QueryRequest, Record,
    ScoredPoint, ScoringQuery, ScrollRequest, UpdateOperation, VectorInternal,
    VectorStructInternal, VectorStructPersisted, WithPayloadInterface, WithVector,
};
use serde::{Deserialize, Serialize};

use super::payload::{self, FileTally};
use super::{
    DENSE_VECTOR, IndexError, IndexLayout, IndexedChunk, IndexedFile, SPARSE_VECTOR, ScoredChunk,
    SearchFilter, VectorIndex,
};
use crate::knowledge::document::{Chunk, ChunkId, SparseVector};

/// Beside the shard's own files: the layout showroom created the shard for.
const LAYOUT_FILE: &str = "showroom-layout.json";
/// Written by Qdrant Edge in every shard folder; its presence marks a folder as ours.
const EDGE_CONFIG_FILE: &str = "edge_config.json";
/// Bumped when the payload or vectors change shape, so old folders are rebuilt.
const LAYOUT_VERSION: u32 = 1;
/// Points per update operation: keeps each write-ahead-log record small.
const UPSERT_BATCH: usize = 256;
/// Points per scroll page.
const SCROLL_PAGE: usize = 1_000;

/// The knowledge index embedded in the process (Qdrant Edge), kept in its own folder.
pub struct EmbeddedIndex {
    shard: Arc<Shard>,
    layout: IndexLayout,
    path: PathBuf,
}

struct Shard {
    edge: EdgeShard,
    /// Held by every update and flush (see the module note).
    writes: Mutex<()>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct StoredLayout {
    version: u32,
    dense_dimensions: Option<usize>,
}

impl From<IndexLayout> for StoredLayout {
    fn from(layout: IndexLayout) -> Self {
        Self {
            version: LAYOUT_VERSION,
            dense_dimensions: layout.dense_dimensions,
        }
    }
}

impl EmbeddedIndex {
    /// Opens the index in `path`, creating it when the folder is new or empty. When the
    /// folder holds an index of another layout, it is wiped and created again, empty (the
    /// next ingest fills it). A folder with other files in it is refused, never wiped.
    pub async fn open(path: &Path, layout: IndexLayout) -> Result<Self, IndexError> {
        let owned = path.to_path_buf();
        let edge = tokio::task::spawn_blocking(move || open_shard(&owned, layout))
            .await
            .map_err(|error| IndexError::Open {
                path: path.display().to_string(),
                reason: format!("the opening task stopped unexpectedly: {error}"),
            })??;
        Ok(Self {
            shard: Arc::new(Shard {
                edge,
                writes: Mutex::new(()),
            }),
            layout,
            path: path.to_path_buf(),
        })
    }

    /// The folder the index lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Merges segments and drops deleted points, building search indexes where the data
    /// has grown large enough. Blocks writes while it runs; call after a big ingest.
    /// Returns whether anything changed.
    pub async fn optimize(&self) -> Result<bool, IndexError> {
        self.run("optimize the index", |shard| {
            let _writes = shard.lock_writes();
            let changed = shard
                .edge
                .optimize()
                .map_err(failed("optimize the index"))?;
            shard.edge.flush();
            Ok(changed)
        })
        .await
    }

    /// Checks dense sizes and turns chunks into Qdrant points.
    fn points(&self, chunks: Vec<IndexedChunk>) -> Result<Vec<PointStructPersisted>, IndexError> {
        for chunk in &chunks {
            if let Some(dense) = &chunk.dense {
                let expected = self.dense_dimensions("store dense vectors")?;
                check_dimensions(expected, dense.len())?;
            }
        }
        chunks.into_iter().map(point).collect()
    }

    /// Runs `work` on the blocking pool with the shard.
    async fn run<T: Send + 'static>(
        &self,
        operation: &'static str,
        work: impl FnOnce(&Shard) -> Result<T, IndexError> + Send + 'static,
    ) -> Result<T, IndexError> {
        let shard = Arc::clone(&self.shard);
        tokio::task::spawn_blocking(move || work(&shard))
            .await
            .map_err(|error| IndexError::Operation {
                operation,
                reason: format!("the index task stopped unexpectedly: {error}"),
            })?
    }

    fn dense_dimensions(&self, operation: &'static str) -> Result<usize, IndexError> {
        self.layout
            .dense_dimensions
            .ok_or_else(|| no_dense_vectors(operation))
    }
}

/// Upserts in batches of [`UPSERT_BATCH`] points, keeping each log record small.
fn upsert_batches(points: Vec<PointStructPersisted>) -> Vec<UpdateOperation> {
    let mut updates = Vec::with_capacity(points.len().div_ceil(UPSERT_BATCH));
    let mut points = points.into_iter().peekable();
    while points.peek().is_some() {
        let batch: Vec<_> = points.by_ref().take(UPSERT_BATCH).collect();
        updates.push(UpdateOperation::PointOperation(
            PointOperations::UpsertPoints(PointInsertOperations::PointsList(batch)),
        ));
    }
    updates
}

impl Shard {
    fn lock_writes(&self) -> std::sync::MutexGuard<'_, ()> {
        // A panic while writing leaves nothing half-done that the guard protects.
        self.writes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Applies updates in order, then makes them durable.
    fn write(
        &self,
        operation: &'static str,
        updates: impl IntoIterator<Item = UpdateOperation>,
    ) -> Result<(), IndexError> {
        let _writes = self.lock_writes();
        for update in updates {
            self.edge.update(update).map_err(failed(operation))?;
        }
        self.edge.flush();
        Ok(())
    }

    /// Every point, page by page, with the payload fields asked for.
    fn scroll_all(
        &self,
        with_payload: WithPayloadInterface,
        mut each: impl FnMut(Record) -> Result<(), IndexError>,
    ) -> Result<(), IndexError> {
        let mut offset = None;
        loop {
            let (records, next) = self
                .edge
                .scroll(ScrollRequest {
                    offset,
                    limit: Some(SCROLL_PAGE),
                    filter: None,
                    with_payload: Some(with_payload.clone()),
                    with_vector: WithVector::Bool(false),
                    order_by: None,
                })
                .map_err(failed("read the index"))?;
            for record in records {
                each(record)?;
            }
            match next {
                Some(next) => offset = Some(next),
                None => return Ok(()),
            }
        }
    }

    fn query(
        &self,
        operation: &'static str,
        vector_name: &str,
        vector: VectorInternal,
        filter: Option<Filter>,
        limit: usize,
    ) -> Result<Vec<ScoredChunk>, IndexError> {
        let points = self
            .edge
            .query(QueryRequest {
                prefetches: Vec::new(),
                query: Some(ScoringQuery::Vector(QueryEnum::Nearest(NamedQuery::new(
                    vector,
                    vector_name,
                )))),
                filter,
                score_threshold: None,
                limit,
                offset: 0,
                params: None,
                with_vector: WithVector::Bool(false),
                with_payload: WithPayloadInterface::Bool(true),
            })
            .map_err(failed(operation))?;
        points.into_iter().map(scored_chunk).collect()
    }
}

#[async_trait]
impl VectorIndex for EmbeddedIndex {
    async fn optimize(&self) -> Result<(), IndexError> {
        EmbeddedIndex::optimize(self).await.map(|_changed| ())
    }

    fn backend(&self) -> &'static str {
        "embedded"
    }

    fn layout(&self) -> IndexLayout {
        self.layout
    }

    async fn files(&self) -> Result<BTreeMap<String, IndexedFile>, IndexError> {
        self.run("list the indexed files", |shard| {
            let mut tally = FileTally::default();
            let fields = [payload::SOURCE, payload::FILE_HASH].map(json_path);
            shard.scroll_all(WithPayloadInterface::Fields(fields.to_vec()), |record| {
                let id = chunk_id(record.id)?;
                let (source, file_hash) = payload::file_of(id, &payload_of(id, record.payload)?)?;
                tally.add(source, file_hash);
                Ok(())
            })?;
            Ok(tally.finish())
        })
        .await
    }

    async fn replace_source(
        &self,
        source: &str,
        chunks: Vec<IndexedChunk>,
    ) -> Result<(), IndexError> {
        let points = self.points(chunks)?;
        let filter = must([match_any(payload::SOURCE, &[source.to_owned()])]);
        self.run("replace a file in the index", move |shard| {
            let mut updates = vec![UpdateOperation::PointOperation(
                PointOperations::DeletePointsByFilter(filter),
            )];
            updates.extend(upsert_batches(points));
            shard.write("replace a file in the index", updates)
        })
        .await
    }

    async fn upsert(&self, chunks: Vec<IndexedChunk>) -> Result<(), IndexError> {
        if chunks.is_empty() {
            return Ok(());
        }
        let points = self.points(chunks)?;
        self.run("store chunks", move |shard| {
            shard.write("store chunks", upsert_batches(points))
        })
        .await
    }

    async fn delete_sources(&self, sources: &[String]) -> Result<(), IndexError> {
        if sources.is_empty() {
            return Ok(());
        }
        let filter = must([match_any(payload::SOURCE, sources)]);
        self.run("remove files from the index", move |shard| {
            shard.write(
                "remove files from the index",
                [UpdateOperation::PointOperation(
                    PointOperations::DeletePointsByFilter(filter),
                )],
            )
        })
        .await
    }

    async fn search_sparse(
        &self,
        query: &SparseVector,
        filter: &SearchFilter,
        limit: usize,
    ) -> Result<Vec<ScoredChunk>, IndexError> {
        if query.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let vector = sparse_vector(query)?;
        let filter = search_filter(filter);
        self.run("search by words", move |shard| {
            shard.query("search by words", SPARSE_VECTOR, vector, filter, limit)
        })
        .await
    }

    async fn search_dense(
        &self,
        query: &[f32],
        filter: &SearchFilter,
        limit: usize,
    ) -> Result<Vec<ScoredChunk>, IndexError> {
        let expected = self.dense_dimensions("search by meaning")?;
        if query.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        check_dimensions(expected, query.len())?;
        let vector = VectorInternal::Dense(query.to_vec());
        let filter = search_filter(filter);
        self.run("search by meaning", move |shard| {
            shard.query("search by meaning", DENSE_VECTOR, vector, filter, limit)
        })
        .await
    }

    async fn dense_vectors(
        &self,
        ids: &[ChunkId],
    ) -> Result<HashMap<ChunkId, Vec<f32>>, IndexError> {
        if ids.is_empty() || self.layout.dense_dimensions.is_none() {
            return Ok(HashMap::new());
        }
        let point_ids: Vec<PointId> = ids.iter().map(|id| PointId::Uuid(id.as_uuid())).collect();
        self.run("read stored dense vectors", move |shard| {
            let records = shard
                .edge
                .retrieve(
                    &point_ids,
                    Some(WithPayloadInterface::Bool(false)),
                    Some(WithVector::Selector(vec![DENSE_VECTOR.to_owned()])),
                )
                .map_err(failed("read stored dense vectors"))?;
            let mut vectors = HashMap::with_capacity(records.len());
            for record in records {
                let id = chunk_id(record.id)?;
                if let Some(dense) = record.vector.and_then(dense_of) {
                    vectors.insert(id, dense);
                }
            }
            Ok(vectors)
        })
        .await
    }

    async fn chunks(&self) -> Result<Vec<Chunk>, IndexError> {
        self.run("read every chunk", |shard| {
            let mut chunks = Vec::new();
            shard.scroll_all(WithPayloadInterface::Bool(true), |record| {
                let id = chunk_id(record.id)?;
                chunks.push(payload::from_payload(id, &payload_of(id, record.payload)?)?);
                Ok(())
            })?;
            Ok(chunks)
        })
        .await
    }

    async fn count(&self) -> Result<usize, IndexError> {
        self.run("count chunks", |shard| {
            shard
                .edge
                .count(CountRequest {
                    filter: None,
                    exact: true,
                })
                .map_err(failed("count chunks"))
        })
        .await
    }
}

/// Creates, loads or rebuilds the shard in `path` (blocking).
fn open_shard(path: &Path, layout: IndexLayout) -> Result<EdgeShard, IndexError> {
    let open_error = |reason: String| IndexError::Open {
        path: path.display().to_string(),
        reason,
    };
    let wanted = StoredLayout::from(layout);
    let has_shard = path.join(EDGE_CONFIG_FILE).exists();
    let stored = read_layout(path);

    if !has_shard && stored.is_none() {
        if has_other_files(path).map_err(|error| open_error(error.to_string()))? {
            return Err(open_error(
                "the folder already holds other files. The index needs a folder of its own: \
                 point the index path at a new or empty folder"
                    .into(),
            ));
        }
        return create_shard(path, wanted);
    }

    match stored {
        Some(Ok(stored)) if stored == wanted && has_shard => {
            EdgeShard::load(path, None).map_err(|error| {
                open_error(format!(
                    "{error}. If another showroom process is running, stop it first; if the \
                     folder is damaged, delete it and run `showroom kb ingest` to rebuild it"
                ))
            })
        }
        stored => {
            let why = match stored {
                Some(Ok(stored)) if has_shard => format!(
                    "it was built for {} and the settings now ask for {}",
                    describe(stored),
                    describe(wanted)
                ),
                Some(Ok(_)) => "its shard files are missing".to_owned(),
                Some(Err(reason)) => format!("its layout file is unreadable ({reason})"),
                None => "it has no layout file (an earlier creation stopped half way)".to_owned(),
            };
            tracing::warn!(
                path = %path.display(),
                "rebuilding the knowledge index empty because {why}; the next ingest fills it again"
            );
            if has_shard {
                // Loading takes the shard's lock: this fails, instead of wiping files in
                // use, when another process has the index open.
                let in_use = EdgeShard::load(path, None).map_err(|error| {
                    open_error(format!(
                        "the index must be rebuilt because {why}, but it cannot be opened: \
                         {error}. Stop any other showroom process using it, or delete the \
                         folder and run `showroom kb ingest`"
                    ))
                })?;
                drop(in_use);
            }
            std::fs::remove_dir_all(path)
                .map_err(|error| open_error(format!("cannot remove the old index: {error}")))?;
            create_shard(path, wanted)
        }
    }
}

fn create_shard(path: &Path, layout: StoredLayout) -> Result<EdgeShard, IndexError> {
    let open_error = |reason: String| IndexError::Open {
        path: path.display().to_string(),
        reason,
    };
    std::fs::create_dir_all(path).map_err(|error| {
        open_error(format!(
            "cannot create the folder: {error}. Check that the data folder is writable"
        ))
    })?;
    let sparse = EdgeSparseVectorParams::builder()
        .modifier(Modifier::Idf)
        .build();
    let mut config = EdgeConfig::builder().sparse_vector(SPARSE_VECTOR, sparse);
    if let Some(dimensions) = layout.dense_dimensions {
        config = config.vector(
            DENSE_VECTOR,
            EdgeVectorParams::builder(dimensions, Distance::Cosine).build(),
        );
    }
    let edge =
        EdgeShard::new(path, config.build()).map_err(|error| open_error(error.to_string()))?;
    for field in payload::KEYWORD_FIELDS {
        edge.update(UpdateOperation::FieldIndexOperation(
            FieldIndexOperations::CreateIndex(CreateIndex {
                field_name: json_path(field),
                field_schema: Some(PayloadFieldSchema::FieldType(PayloadSchemaType::Keyword)),
            }),
        ))
        .map_err(|error| open_error(format!("cannot index the field `{field}`: {error}")))?;
    }
    edge.flush();
    // Written last: a folder without it is a creation that stopped half way.
    write_layout(path, layout)
        .map_err(|error| open_error(format!("cannot write {LAYOUT_FILE}: {error}")))?;
    Ok(edge)
}

fn read_layout(path: &Path) -> Option<Result<StoredLayout, String>> {
    let bytes = match std::fs::read(path.join(LAYOUT_FILE)) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return None,
        Err(error) => return Some(Err(error.to_string())),
    };
    Some(serde_json::from_slice(&bytes).map_err(|error| error.to_string()))
}

fn write_layout(path: &Path, layout: StoredLayout) -> std::io::Result<()> {
    let temporary = path.join(format!("{LAYOUT_FILE}.tmp"));
    let json = serde_json::to_vec_pretty(&layout).map_err(std::io::Error::other)?;
    std::fs::write(&temporary, json)?;
    std::fs::rename(&temporary, path.join(LAYOUT_FILE))
}

fn has_other_files(path: &Path) -> std::io::Result<bool> {
    match std::fs::read_dir(path) {
        Ok(mut entries) => Ok(entries.next().is_some()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(error) => Err(error),
    }
}

fn describe(layout: StoredLayout) -> String {
    let vectors = match layout.dense_dimensions {
        Some(dimensions) => format!("word and {dimensions}-dimension meaning vectors"),
        None => "word vectors only".to_owned(),
    };
    format!("{vectors} (layout version {})", layout.version)
}

fn point(chunk: IndexedChunk) -> Result<PointStructPersisted, IndexError> {
    let mut vectors = HashMap::new();
    // A chunk with no words has no sparse vector; it is still stored and listed.
    if !chunk.sparse.is_empty() {
        vectors.insert(SPARSE_VECTOR.to_owned(), sparse_vector(&chunk.sparse)?);
    }
    if let Some(dense) = chunk.dense {
        vectors.insert(DENSE_VECTOR.to_owned(), VectorInternal::Dense(dense));
    }
    Ok(PointStructPersisted {
        id: PointId::Uuid(chunk.chunk.id.as_uuid()),
        vector: VectorStructPersisted::from(VectorStructInternal::Named(vectors)),
        payload: Some(Payload(payload::to_payload(&chunk.chunk))),
    })
}

fn sparse_vector(vector: &SparseVector) -> Result<VectorInternal, IndexError> {
    qdrant_edge::Vector::new_sparse(vector.indices.clone(), vector.values.clone())
        .map(VectorInternal::from)
        .map_err(|error| IndexError::Operation {
            operation: "use a word vector",
            reason: format!("{error} (term ids must be distinct and match the weights one to one)"),
        })
}

fn dense_of(vectors: VectorStructInternal) -> Option<Vec<f32>> {
    match vectors {
        VectorStructInternal::Named(mut named) => match named.remove(DENSE_VECTOR)? {
            VectorInternal::Dense(dense) => Some(dense),
            VectorInternal::Sparse(_) | VectorInternal::MultiDense(_) => None,
        },
        VectorStructInternal::Single(_) | VectorStructInternal::MultiDense(_) => None,
    }
}

fn scored_chunk(point: ScoredPoint) -> Result<ScoredChunk, IndexError> {
    let id = chunk_id(point.id)?;
    let chunk = payload::from_payload(id, &payload_of(id, point.payload)?)?;
    Ok(ScoredChunk {
        chunk,
        score: point.score,
    })
}

fn payload_of(
    id: ChunkId,
    payload: Option<Payload>,
) -> Result<serde_json::Map<String, serde_json::Value>, IndexError> {
    payload
        .map(|payload| payload.0)
        .ok_or_else(|| IndexError::Payload(format!("chunk {id} came back without its payload")))
}

fn chunk_id(id: PointId) -> Result<ChunkId, IndexError> {
    match id {
        PointId::Uuid(uuid) => Ok(ChunkId::from_uuid(uuid)),
        PointId::NumId(number) => Err(IndexError::Payload(format!(
            "point {number} has a numeric id, which showroom never writes; the folder holds \
             another program's index. Delete it and run `showroom kb ingest`"
        ))),
    }
}

fn search_filter(filter: &SearchFilter) -> Option<Filter> {
    let mut conditions = Vec::new();
    if !filter.models.is_empty() {
        conditions.push(match_any(payload::MODEL, &filter.models));
    }
    if !filter.brands.is_empty() {
        conditions.push(match_any(payload::BRAND, &filter.brands));
    }
    (!conditions.is_empty()).then(|| must(conditions))
}

fn must(conditions: impl IntoIterator<Item = Condition>) -> Filter {
    Filter {
        should: None,
        min_should: None,
        must: Some(conditions.into_iter().collect()),
        must_not: None,
    }
}

fn match_any(field: &str, values: &[String]) -> Condition {
    Condition::Field(FieldCondition::new_match(
        json_path(field),
        Match::from(values.to_vec()),
    ))
}

fn json_path(field: &str) -> JsonPath {
    JsonPath {
        first_key: field.to_owned(),
        rest: Vec::new(),
    }
}

fn check_dimensions(expected: usize, actual: usize) -> Result<(), IndexError> {
    if expected == actual {
        Ok(())
    } else {
        Err(IndexError::Dimensions { expected, actual })
    }
}

fn no_dense_vectors(operation: &'static str) -> IndexError {
    IndexError::Operation {
        operation,
        reason: "this index holds word vectors only. Configure `[knowledge.embeddings]` and \
                 reopen the index to add meaning vectors"
            .into(),
    }
}

fn failed(operation: &'static str) -> impl Fn(OperationError) -> IndexError {
    move |error| IndexError::Operation {
        operation,
        reason: error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knowledge::document::DocumentMeta;

    fn indexed(source: &str, text: &str, sparse: &[(u32, f32)]) -> IndexedChunk {
        let heading_path = vec!["Ficha".to_owned()];
        IndexedChunk {
            chunk: Chunk {
                id: ChunkId::for_content(source, &heading_path, text),
                source: source.into(),
                file_hash: format!("hash-of-{source}"),
                ordinal: 0,
                heading_path,
                text: text.into(),
                meta: DocumentMeta {
                    title: "Ficha".into(),
                    ..DocumentMeta::default()
                },
            },
            sparse: SparseVector::from_pairs(sparse.iter().copied()),
            dense: None,
        }
    }

    const SPARSE_ONLY: IndexLayout = IndexLayout {
        dense_dimensions: None,
    };

    #[tokio::test]
    async fn a_folder_with_other_files_is_refused_not_wiped() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("notes.txt"), "keep me").unwrap();
        let error = EmbeddedIndex::open(dir.path(), SPARSE_ONLY)
            .await
            .err()
            .expect("a foreign folder must be refused");
        assert!(matches!(error, IndexError::Open { .. }));
        assert!(error.to_string().contains("new or empty folder"), "{error}");
        assert!(dir.path().join("notes.txt").exists());
    }

    #[tokio::test]
    async fn an_index_without_its_layout_file_is_rebuilt() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index");
        let index = EmbeddedIndex::open(&path, SPARSE_ONLY).await.unwrap();
        index
            .upsert(vec![indexed("a.md", "uno", &[(1, 1.0)])])
            .await
            .unwrap();
        drop(index);
        // What a creation that stopped before writing the layout leaves behind.
        std::fs::remove_file(path.join(LAYOUT_FILE)).unwrap();
        let index = EmbeddedIndex::open(&path, SPARSE_ONLY).await.unwrap();
        assert_eq!(index.count().await.unwrap(), 0);
        assert!(path.join(LAYOUT_FILE).exists());
    }

    #[tokio::test]
    async fn the_same_folder_cannot_be_opened_twice() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index");
        let _first = EmbeddedIndex::open(&path, SPARSE_ONLY).await.unwrap();
        let error = EmbeddedIndex::open(&path, SPARSE_ONLY)
            .await
            .err()
            .expect("a second opener must be refused");
        assert!(
            error.to_string().contains("another showroom process"),
            "{error}"
        );
        // Nor does a layout change wipe an index that is in use.
        let wider = IndexLayout {
            dense_dimensions: Some(4),
        };
        assert!(EmbeddedIndex::open(&path, wider).await.is_err());
        assert!(path.join(EDGE_CONFIG_FILE).exists());
    }

    #[tokio::test]
    async fn optimize_keeps_every_chunk_searchable() {
        let dir = tempfile::tempdir().unwrap();
        let index = EmbeddedIndex::open(&dir.path().join("index"), SPARSE_ONLY)
            .await
            .unwrap();
        let chunks: Vec<_> = (0..50)
            .map(|n| {
                indexed(
                    &format!("f{n}.md"),
                    &format!("texto {n}"),
                    &[(n, 1.0), (999, 1.0)],
                )
            })
            .collect();
        index.upsert(chunks).await.unwrap();
        index
            .delete_sources(&["f0.md".to_owned(), "f1.md".to_owned()])
            .await
            .unwrap();
        index.optimize().await.unwrap();
        assert_eq!(index.count().await.unwrap(), 48);
        let hits = index
            .search_sparse(
                &SparseVector::from_pairs([(7, 1.0)]),
                &SearchFilter::default(),
                5,
            )
            .await
            .unwrap();
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].chunk.source, "f7.md");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_writes_and_reads_do_not_collide() {
        // Without the write lock, a flush racing an update panics inside Qdrant Edge.
        let dir = tempfile::tempdir().unwrap();
        let index = Arc::new(
            EmbeddedIndex::open(&dir.path().join("index"), SPARSE_ONLY)
                .await
                .unwrap(),
        );
        let mut tasks = Vec::new();
        for writer in 0..4u32 {
            let index = Arc::clone(&index);
            tasks.push(tokio::spawn(async move {
                for round in 0..10u32 {
                    let chunks = (0..20u32)
                        .map(|n| {
                            let text = format!("{writer} {round} {n}");
                            indexed(&format!("w{writer}.md"), &text, &[(n, 1.0)])
                        })
                        .collect();
                    index.upsert(chunks).await.unwrap();
                    index
                        .search_sparse(
                            &SparseVector::from_pairs([(3, 1.0)]),
                            &SearchFilter::default(),
                            5,
                        )
                        .await
                        .unwrap();
                }
                index
                    .delete_sources(&[format!("w{writer}.md")])
                    .await
                    .unwrap();
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(index.count().await.unwrap(), 0);
    }

    #[tokio::test]
    async fn malformed_sparse_vectors_are_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let index = EmbeddedIndex::open(&dir.path().join("index"), SPARSE_ONLY)
            .await
            .unwrap();
        let mut chunk = indexed("a.md", "uno", &[(1, 1.0)]);
        chunk.sparse = SparseVector {
            indices: vec![1, 2],
            values: vec![1.0],
        };
        let error = index.upsert(vec![chunk]).await.unwrap_err();
        assert!(matches!(error, IndexError::Operation { .. }), "{error}");
    }
}
