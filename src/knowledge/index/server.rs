//! [`QdrantIndex`]: the index as a collection on a Qdrant server, through gRPC.
//!
//! Same layout and semantics as the embedded index. Every write waits until the server
//! has applied it (`wait = true`), so a search right after an ingest sees the new chunks.
//! The client's own version check is off: it prints to stdout (which `kb search --json`
//! owns) and blocks a thread; a health check at connect time reports the server instead.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use async_trait::async_trait;
use qdrant_client::qdrant::point_id::PointIdOptions;
use qdrant_client::qdrant::vector_output::Vector as VectorData;
use qdrant_client::qdrant::vectors_config::Config as VectorsConfigKind;
use qdrant_client::qdrant::{
    CollectionParams, Condition, CountPointsBuilder, CreateCollectionBuilder,
    CreateFieldIndexCollectionBuilder, DeleteCollectionBuilder, DeletePointsBuilder, Distance,
    FieldType, Filter, GetPointsBuilder, Modifier, NamedVectors, PayloadIncludeSelector, PointId,
    PointStruct, Query, QueryPointsBuilder, ScoredPoint, ScrollPointsBuilder,
    SparseVectorParamsBuilder, SparseVectorsConfigBuilder, UpsertPointsBuilder, Vector,
    VectorInput, VectorParamsBuilder, VectorsConfigBuilder, VectorsSelector,
};
use qdrant_client::{Qdrant, QdrantError};

use super::payload::{self, FileTally};
use super::{
    DENSE_VECTOR, IndexError, IndexLayout, IndexedChunk, IndexedFile, SPARSE_VECTOR, ScoredChunk,
    SearchFilter, VectorIndex,
};
use crate::knowledge::document::{Chunk, ChunkId, SparseVector};

/// Points per upsert request.
const UPSERT_BATCH: usize = 256;
/// Points per scroll page.
const SCROLL_PAGE: u32 = 1_000;
/// Per request; upserts of a full batch with `wait` can take a while on a busy server.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The knowledge index in a collection of a Qdrant server.
pub struct QdrantIndex {
    client: Qdrant,
    collection: String,
    layout: IndexLayout,
}

impl QdrantIndex {
    /// Connects to the server at `url` (the gRPC address, usually port 6334) and makes
    /// sure `collection` exists with `layout`. A collection of showroom's shape with other
    /// dense vectors is deleted and created again, empty (the next ingest fills it); a
    /// collection of another shape is refused, never deleted.
    pub async fn connect(
        url: &str,
        api_key: Option<&str>,
        collection: &str,
        layout: IndexLayout,
    ) -> Result<Self, IndexError> {
        let connect_error = |reason: String| IndexError::Connect {
            url: url.to_owned(),
            reason,
        };
        let client = Qdrant::from_url(url)
            .api_key(api_key)
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .skip_compatibility_check()
            .build()
            .map_err(|error| connect_error(describe(&error)))?;
        let health = client.health_check().await.map_err(|error| {
            connect_error(format!(
                "{}. Check that the server is running and that QDRANT_URL is its gRPC \
                 address (usually port 6334, not the 6333 of the web API), and \
                 QDRANT_API_KEY if the server needs one",
                describe(&error)
            ))
        })?;
        tracing::debug!(url, version = %health.version, "connected to the Qdrant server");
        let index = Self {
            client,
            collection: collection.to_owned(),
            layout,
        };
        index.prepare_collection().await?;
        Ok(index)
    }

    /// The collection this index writes to.
    pub fn collection(&self) -> &str {
        &self.collection
    }

    /// Deletes the collection and everything in it (tests and `kb` maintenance).
    pub async fn delete_collection(&self) -> Result<(), IndexError> {
        self.client
            .delete_collection(DeleteCollectionBuilder::new(&self.collection))
            .await
            .map_err(failed("delete the collection"))?;
        Ok(())
    }

    async fn prepare_collection(&self) -> Result<(), IndexError> {
        let operation = "open the knowledge collection";
        let exists = self
            .client
            .collection_exists(&self.collection)
            .await
            .map_err(failed(operation))?;
        if !exists {
            return self.create_collection().await;
        }
        let info = self
            .client
            .collection_info(&self.collection)
            .await
            .map_err(failed(operation))?
            .result
            .ok_or_else(|| IndexError::Operation {
                operation,
                reason: format!("the server sent no details of `{}`", self.collection),
            })?;
        let params = info
            .config
            .as_ref()
            .and_then(|config| config.params.as_ref());
        let Some(stored) = params.and_then(layout_of) else {
            return Err(IndexError::Operation {
                operation,
                reason: format!(
                    "the collection `{}` exists but is not a showroom knowledge index (it has \
                     no `{SPARSE_VECTOR}` word vector with IDF). Set `knowledge.collection` to \
                     another name, or delete that collection if it is not needed",
                    self.collection
                ),
            });
        };
        if stored != self.layout {
            tracing::warn!(
                collection = %self.collection,
                stored = ?stored.dense_dimensions,
                wanted = ?self.layout.dense_dimensions,
                "recreating the knowledge collection empty because its dense vectors differ \
                 from the settings; the next ingest fills it again"
            );
            self.client
                .delete_collection(DeleteCollectionBuilder::new(&self.collection))
                .await
                .map_err(failed(operation))?;
            return self.create_collection().await;
        }
        for field in payload::KEYWORD_FIELDS {
            if !info.payload_schema.contains_key(field) {
                self.create_keyword_index(field).await?;
            }
        }
        Ok(())
    }

    async fn create_collection(&self) -> Result<(), IndexError> {
        let mut sparse = SparseVectorsConfigBuilder::default();
        sparse.add_named_vector_params(
            SPARSE_VECTOR,
            SparseVectorParamsBuilder::default().modifier(Modifier::Idf as i32),
        );
        let mut request =
            CreateCollectionBuilder::new(&self.collection).sparse_vectors_config(sparse);
        if let Some(dimensions) = self.layout.dense_dimensions {
            let mut dense = VectorsConfigBuilder::default();
            dense.add_named_vector_params(
                DENSE_VECTOR,
                VectorParamsBuilder::new(dimensions as u64, Distance::Cosine),
            );
            request = request.vectors_config(dense);
        }
        self.client
            .create_collection(request)
            .await
            .map_err(failed("create the knowledge collection"))?;
        for field in payload::KEYWORD_FIELDS {
            self.create_keyword_index(field).await?;
        }
        Ok(())
    }

    async fn create_keyword_index(&self, field: &str) -> Result<(), IndexError> {
        self.client
            .create_field_index(
                CreateFieldIndexCollectionBuilder::new(&self.collection, field, FieldType::Keyword)
                    .wait(true),
            )
            .await
            .map_err(failed("index a payload field"))?;
        Ok(())
    }

    /// Every point, page by page, with the payload asked for.
    async fn scroll_all(
        &self,
        operation: &'static str,
        with_payload: impl Into<qdrant_client::qdrant::with_payload_selector::SelectorOptions> + Clone,
        mut each: impl FnMut(
            ChunkId,
            serde_json::Map<String, serde_json::Value>,
        ) -> Result<(), IndexError>,
    ) -> Result<(), IndexError> {
        let mut offset: Option<PointId> = None;
        loop {
            let mut request = ScrollPointsBuilder::new(&self.collection)
                .limit(SCROLL_PAGE)
                .with_payload(with_payload.clone())
                .with_vectors(false);
            if let Some(offset) = offset.take() {
                request = request.offset(offset);
            }
            let page = self
                .client
                .scroll(request)
                .await
                .map_err(failed(operation))?;
            for point in page.result {
                let id = chunk_id(point.id)?;
                each(id, payload::from_qdrant(point.payload))?;
            }
            match page.next_page_offset {
                Some(next) => offset = Some(next),
                None => return Ok(()),
            }
        }
    }

    async fn query(
        &self,
        operation: &'static str,
        vector_name: &str,
        vector: VectorInput,
        filter: &SearchFilter,
        limit: usize,
    ) -> Result<Vec<ScoredChunk>, IndexError> {
        let mut request = QueryPointsBuilder::new(&self.collection)
            .query(Query::new_nearest(vector))
            .using(vector_name)
            .limit(limit as u64)
            .with_payload(true);
        if let Some(filter) = search_filter(filter) {
            request = request.filter(filter);
        }
        let response = self
            .client
            .query(request)
            .await
            .map_err(failed(operation))?;
        response.result.into_iter().map(scored_chunk).collect()
    }

    fn dense_dimensions(&self, operation: &'static str) -> Result<usize, IndexError> {
        self.layout
            .dense_dimensions
            .ok_or_else(|| no_dense_vectors(operation))
    }
}

#[async_trait]
impl VectorIndex for QdrantIndex {
    fn backend(&self) -> &'static str {
        "qdrant"
    }

    fn layout(&self) -> IndexLayout {
        self.layout
    }

    async fn files(&self) -> Result<BTreeMap<String, IndexedFile>, IndexError> {
        let mut tally = FileTally::default();
        let fields = PayloadIncludeSelector::new(vec![
            payload::SOURCE.to_owned(),
            payload::FILE_HASH.to_owned(),
        ]);
        self.scroll_all("list the indexed files", fields, |id, payload| {
            let (source, file_hash) = payload::file_of(id, &payload)?;
            tally.add(source, file_hash);
            Ok(())
        })
        .await?;
        Ok(tally.finish())
    }

    async fn upsert(&self, chunks: Vec<IndexedChunk>) -> Result<(), IndexError> {
        for chunk in &chunks {
            if let Some(dense) = &chunk.dense {
                let expected = self.dense_dimensions("store dense vectors")?;
                check_dimensions(expected, dense.len())?;
            }
        }
        let mut points = chunks.into_iter().map(point).peekable();
        while points.peek().is_some() {
            let batch: Vec<PointStruct> = points.by_ref().take(UPSERT_BATCH).collect();
            self.client
                .upsert_points(UpsertPointsBuilder::new(&self.collection, batch).wait(true))
                .await
                .map_err(failed("store chunks"))?;
        }
        Ok(())
    }

    async fn delete_sources(&self, sources: &[String]) -> Result<(), IndexError> {
        if sources.is_empty() {
            return Ok(());
        }
        let filter = Filter::must([Condition::matches(payload::SOURCE, sources.to_vec())]);
        self.client
            .delete_points(
                DeletePointsBuilder::new(&self.collection)
                    .points(filter)
                    .wait(true),
            )
            .await
            .map_err(failed("remove files from the index"))?;
        Ok(())
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
        let vector = VectorInput::new_sparse(query.indices.clone(), query.values.clone());
        self.query("search by words", SPARSE_VECTOR, vector, filter, limit)
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
        let vector = VectorInput::new_dense(query.to_vec());
        self.query("search by meaning", DENSE_VECTOR, vector, filter, limit)
            .await
    }

    async fn dense_vectors(
        &self,
        ids: &[ChunkId],
    ) -> Result<HashMap<ChunkId, Vec<f32>>, IndexError> {
        if ids.is_empty() || self.layout.dense_dimensions.is_none() {
            return Ok(HashMap::new());
        }
        let point_ids: Vec<PointId> = ids.iter().map(|id| point_id(*id)).collect();
        let response = self
            .client
            .get_points(
                GetPointsBuilder::new(&self.collection, point_ids)
                    .with_payload(false)
                    .with_vectors(VectorsSelector::new(vec![DENSE_VECTOR.to_owned()])),
            )
            .await
            .map_err(failed("read stored dense vectors"))?;
        let mut vectors = HashMap::with_capacity(response.result.len());
        for point in response.result {
            let id = chunk_id(point.id)?;
            let dense = point
                .vectors
                .and_then(|vectors| vectors.get_vector_by_name(DENSE_VECTOR));
            if let Some(VectorData::Dense(dense)) = dense {
                vectors.insert(id, dense.data);
            }
        }
        Ok(vectors)
    }

    async fn chunks(&self) -> Result<Vec<Chunk>, IndexError> {
        let mut chunks = Vec::new();
        self.scroll_all("read every chunk", true, |id, payload| {
            chunks.push(payload::from_payload(id, &payload)?);
            Ok(())
        })
        .await?;
        Ok(chunks)
    }

    async fn count(&self) -> Result<usize, IndexError> {
        let response = self
            .client
            .count(CountPointsBuilder::new(&self.collection).exact(true))
            .await
            .map_err(failed("count chunks"))?;
        let count = response.result.map_or(0, |result| result.count);
        usize::try_from(count).map_err(|_| IndexError::Operation {
            operation: "count chunks",
            reason: format!(
                "the server reported {count} points, more than this machine can address"
            ),
        })
    }
}

/// The layout of a collection in showroom's shape, or `None` for any other collection.
fn layout_of(params: &CollectionParams) -> Option<IndexLayout> {
    let sparse = params
        .sparse_vectors_config
        .as_ref()?
        .map
        .get(SPARSE_VECTOR)?;
    if sparse.modifier != Some(Modifier::Idf as i32) {
        return None;
    }
    let dense_dimensions = match params
        .vectors_config
        .as_ref()
        .and_then(|v| v.config.as_ref())
    {
        None => None,
        Some(VectorsConfigKind::ParamsMap(map)) if map.map.is_empty() => None,
        Some(VectorsConfigKind::ParamsMap(map)) if map.map.len() == 1 => {
            let dense = map.map.get(DENSE_VECTOR)?;
            // Showroom only ever makes cosine vectors: another distance is not ours.
            if dense.distance != Distance::Cosine as i32 {
                return None;
            }
            Some(usize::try_from(dense.size).ok()?)
        }
        Some(VectorsConfigKind::ParamsMap(_) | VectorsConfigKind::Params(_)) => return None,
    };
    Some(IndexLayout { dense_dimensions })
}

fn point(chunk: IndexedChunk) -> PointStruct {
    let mut vectors = NamedVectors::default();
    // A chunk with no words has no sparse vector; it is still stored and listed.
    if !chunk.sparse.is_empty() {
        vectors = vectors.add_vector(
            SPARSE_VECTOR,
            Vector::new_sparse(chunk.sparse.indices, chunk.sparse.values),
        );
    }
    if let Some(dense) = chunk.dense {
        vectors = vectors.add_vector(DENSE_VECTOR, Vector::new_dense(dense));
    }
    let payload = payload::to_qdrant(payload::to_payload(&chunk.chunk));
    PointStruct::new(point_id(chunk.chunk.id), vectors, payload)
}

fn point_id(id: ChunkId) -> PointId {
    PointId::from(id.as_uuid().to_string())
}

fn chunk_id(id: Option<PointId>) -> Result<ChunkId, IndexError> {
    match id.and_then(|id| id.point_id_options) {
        Some(PointIdOptions::Uuid(text)) => uuid::Uuid::parse_str(&text)
            .map(ChunkId::from_uuid)
            .map_err(|error| {
                IndexError::Payload(format!("point id `{text}` is not a UUID: {error}"))
            }),
        Some(PointIdOptions::Num(number)) => Err(IndexError::Payload(format!(
            "point {number} has a numeric id, which showroom never writes; the collection \
             holds another program's data. Use another `knowledge.collection`"
        ))),
        None => Err(IndexError::Payload(
            "the server sent a point without an id".into(),
        )),
    }
}

fn scored_chunk(point: ScoredPoint) -> Result<ScoredChunk, IndexError> {
    let id = chunk_id(point.id)?;
    let chunk = payload::from_payload(id, &payload::from_qdrant(point.payload))?;
    Ok(ScoredChunk {
        chunk,
        score: point.score,
    })
}

fn search_filter(filter: &SearchFilter) -> Option<Filter> {
    let mut conditions = Vec::new();
    if !filter.models.is_empty() {
        conditions.push(Condition::matches(payload::MODEL, filter.models.clone()));
    }
    if !filter.brands.is_empty() {
        conditions.push(Condition::matches(payload::BRAND, filter.brands.clone()));
    }
    (!conditions.is_empty()).then(|| Filter::must(conditions))
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
                 reconnect to add meaning vectors"
            .into(),
    }
}

/// The server's message without the gRPC metadata dump of the client's `Display`.
fn describe(error: &QdrantError) -> String {
    match error {
        QdrantError::ResponseError { status } => {
            format!("{} (gRPC status {:?})", status.message(), status.code())
        }
        QdrantError::ResourceExhaustedError {
            status,
            retry_after_seconds,
        } => format!(
            "the server is overloaded: {} (retry after {retry_after_seconds} s)",
            status.message()
        ),
        other => other.to_string(),
    }
}

fn failed(operation: &'static str) -> impl Fn(QdrantError) -> IndexError {
    move |error| IndexError::Operation {
        operation,
        reason: describe(&error),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use qdrant_client::qdrant::{
        SparseVectorConfig, SparseVectorParams, VectorParams, VectorParamsMap, VectorsConfig,
    };

    use super::*;

    fn params(
        sparse_modifier: Option<Modifier>,
        dense: Option<VectorsConfigKind>,
    ) -> CollectionParams {
        let mut sparse = HashMap::new();
        if let Some(modifier) = sparse_modifier {
            sparse.insert(
                SPARSE_VECTOR.to_owned(),
                SparseVectorParams {
                    index: None,
                    modifier: Some(modifier as i32),
                },
            );
        }
        CollectionParams {
            sparse_vectors_config: Some(SparseVectorConfig { map: sparse }),
            vectors_config: dense.map(|config| VectorsConfig {
                config: Some(config),
            }),
            ..CollectionParams::default()
        }
    }

    fn named_dense(name: &str, size: u64, distance: Distance) -> VectorsConfigKind {
        let params: VectorParams = VectorParamsBuilder::new(size, distance).build();
        VectorsConfigKind::ParamsMap(VectorParamsMap {
            map: HashMap::from([(name.to_owned(), params)]),
        })
    }

    #[test]
    fn collections_of_our_shape_report_their_layout() {
        assert_eq!(
            layout_of(&params(Some(Modifier::Idf), None)),
            Some(IndexLayout {
                dense_dimensions: None
            })
        );
        assert_eq!(
            layout_of(&params(
                Some(Modifier::Idf),
                Some(named_dense(DENSE_VECTOR, 384, Distance::Cosine))
            )),
            Some(IndexLayout {
                dense_dimensions: Some(384)
            })
        );
    }

    #[test]
    fn foreign_collections_are_not_ours() {
        // No IDF, no word vector, or dense vectors we did not make: never delete these.
        assert_eq!(layout_of(&params(Some(Modifier::None), None)), None);
        assert_eq!(
            layout_of(&params(
                Some(Modifier::Idf),
                Some(named_dense(DENSE_VECTOR, 384, Distance::Dot))
            )),
            None
        );
        assert_eq!(layout_of(&params(None, None)), None);
        assert_eq!(
            layout_of(&params(
                Some(Modifier::Idf),
                Some(named_dense("image", 512, Distance::Cosine))
            )),
            None
        );
        let unnamed: VectorParams = VectorParamsBuilder::new(384, Distance::Cosine).build();
        assert_eq!(
            layout_of(&params(
                Some(Modifier::Idf),
                Some(VectorsConfigKind::Params(unnamed))
            )),
            None
        );
    }

    #[test]
    fn filters_match_any_of_the_listed_values() {
        assert!(search_filter(&SearchFilter::default()).is_none());
        let filter = search_filter(&SearchFilter {
            models: vec!["corolla_cross".into(), "rav4".into()],
            brands: vec!["Mercedes Benz".into()],
        })
        .unwrap();
        assert_eq!(filter.must.len(), 2);
        // Values with spaces stay keywords (a single string would become full-text).
        let debug = format!("{filter:?}");
        assert!(debug.contains("Keywords"), "{debug}");
        assert!(!debug.contains("Text("), "{debug}");
    }

    #[test]
    fn points_carry_named_vectors_and_the_chunk_as_payload() {
        let heading_path = vec!["Ficha".to_owned()];
        let chunk = Chunk {
            id: ChunkId::for_content("a.md", &heading_path, "uno"),
            source: "a.md".into(),
            file_hash: "h".into(),
            ordinal: 0,
            heading_path,
            text: "uno".into(),
            meta: Default::default(),
        };
        let point = point(IndexedChunk {
            chunk: chunk.clone(),
            sparse: SparseVector::from_pairs([(3, 1.0)]),
            dense: Some(vec![0.5, 0.5]),
        });
        assert_eq!(chunk_id(point.id.clone()).unwrap(), chunk.id);
        let back = payload::from_payload(chunk.id, &payload::from_qdrant(point.payload.clone()));
        assert_eq!(back.unwrap(), chunk);
        let debug = format!("{:?}", point.vectors);
        assert!(
            debug.contains(SPARSE_VECTOR) && debug.contains(DENSE_VECTOR),
            "{debug}"
        );
    }
}
