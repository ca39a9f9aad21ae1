//! Embeddings already computed, kept in a small SQLite file so re-ingesting an unchanged
//! passage (or asking a repeated question) costs no request. The key is the SHA-256 of
//! the model name and the exact text sent, so changing the model or a prefix simply
//! misses. SQLite (not an append-only file) because `serve` and a `kb ingest` run may
//! write at the same time, and a crash mid-write must not corrupt what is there.
//! A lookup or write that fails is logged and treated as a miss: the cache only saves
//! time, it must never stop search.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use sha2::{Digest, Sha256};
use sqlx::AssertSqlSafe;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};

pub(crate) type CacheKey = [u8; 32];

/// File name of the cache inside the cache folder.
pub(crate) const CACHE_FILE: &str = "embeddings-cache.sqlite3";

/// Keys per `IN (…)` lookup, well under SQLite's bound-parameter limit.
const LOOKUP_BATCH: usize = 500;

pub(crate) struct EmbeddingCache {
    pool: SqlitePool,
    path: PathBuf,
}

/// The key of a text as sent to `model` (prefix included).
pub(crate) fn cache_key(model: &str, text: &str) -> CacheKey {
    let mut hasher = Sha256::new();
    hasher.update(model.as_bytes());
    hasher.update(b"\n");
    hasher.update(text.as_bytes());
    hasher.finalize().into()
}

impl EmbeddingCache {
    /// Opens (creating when missing) the cache file in `dir`.
    pub(crate) async fn open(dir: &Path) -> Result<Self, String> {
        std::fs::create_dir_all(dir).map_err(|err| format!("cannot create the folder: {err}"))?;
        let path = dir.join(CACHE_FILE);
        let options = SqliteConnectOptions::from_str("sqlite:")
            .map_err(|err| err.to_string())?
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(2)
            .connect_with(options)
            .await
            .map_err(|err| err.to_string())?;
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS embeddings (
                 key BLOB PRIMARY KEY NOT NULL,
                 vector BLOB NOT NULL
             ) WITHOUT ROWID",
        )
        .execute(&pool)
        .await
        .map_err(|err| err.to_string())?;
        Ok(Self { pool, path })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The cached vectors among `keys`; a failed lookup counts as all misses.
    pub(crate) async fn get_many(&self, keys: &[CacheKey]) -> HashMap<CacheKey, Vec<f32>> {
        let mut found = HashMap::new();
        for batch in keys.chunks(LOOKUP_BATCH) {
            let placeholders = vec!["?"; batch.len()].join(",");
            // Only `?` placeholders are formatted in; the keys are bound.
            let sql = format!("SELECT key, vector FROM embeddings WHERE key IN ({placeholders})");
            let mut query = sqlx::query_as::<_, (Vec<u8>, Vec<u8>)>(AssertSqlSafe(sql));
            for key in batch {
                query = query.bind(key.as_slice());
            }
            match query.fetch_all(&self.pool).await {
                Ok(rows) => {
                    for (key, vector) in rows {
                        if let (Ok(key), Some(vector)) = (CacheKey::try_from(key), decode(&vector))
                        {
                            found.insert(key, vector);
                        }
                    }
                }
                Err(err) => {
                    tracing::warn!(cache = %self.path.display(), error = %err, "embeddings cache lookup failed; asking the server instead");
                }
            }
        }
        found
    }

    /// Stores vectors in one transaction; a failure is logged and forgotten.
    pub(crate) async fn put_many(&self, entries: &[(CacheKey, &[f32])]) {
        if let Err(err) = self.try_put_many(entries).await {
            tracing::warn!(cache = %self.path.display(), error = %err, "cannot save embeddings in the cache; they will be asked for again");
        }
    }

    async fn try_put_many(&self, entries: &[(CacheKey, &[f32])]) -> Result<(), sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        for (key, vector) in entries {
            sqlx::query("INSERT OR REPLACE INTO embeddings (key, vector) VALUES (?, ?)")
                .bind(key.as_slice())
                .bind(encode(vector))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await
    }
}

fn encode(vector: &[f32]) -> Vec<u8> {
    vector.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn decode(bytes: &[u8]) -> Option<Vec<f32>> {
    if bytes.is_empty() || !bytes.len().is_multiple_of(4) {
        return None;
    }
    Some(
        bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_depend_on_model_and_exact_text() {
        let a = cache_key("e5", "passage: hola");
        assert_eq!(a, cache_key("e5", "passage: hola"));
        assert_ne!(a, cache_key("e5-large", "passage: hola"));
        assert_ne!(a, cache_key("e5", "query: hola"));
    }

    #[test]
    fn vectors_round_trip_exactly() {
        let v = vec![0.1_f32, -2.5, f32::MIN_POSITIVE, 3.0e10];
        assert_eq!(decode(&encode(&v)).unwrap(), v);
        assert_eq!(decode(&[1, 2, 3]), None);
    }

    #[tokio::test]
    async fn entries_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let key = cache_key("m", "t");
        {
            let cache = EmbeddingCache::open(dir.path()).await.unwrap();
            assert!(cache.get_many(&[key]).await.is_empty());
            cache.put_many(&[(key, &[1.0, 2.0][..])]).await;
        }
        let cache = EmbeddingCache::open(dir.path()).await.unwrap();
        let found = cache.get_many(&[key, cache_key("m", "other")]).await;
        assert_eq!(found.len(), 1);
        assert_eq!(found[&key], vec![1.0, 2.0]);
        assert!(cache.path().ends_with(CACHE_FILE));
    }
}
