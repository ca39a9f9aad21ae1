//! The channels' own tables on SQL: long button payloads kept under short keys.

use async_trait::async_trait;
use sqlx::Row;

use super::{QueryContext, Store, StoreError};
use crate::channels::callbacks::PayloadStore;

#[async_trait]
impl PayloadStore for Store {
    async fn save_payload(&self, key: &str, payload: &str, now: i64) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO button_payloads (key, payload, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (key) DO NOTHING",
        )
        .bind(key)
        .bind(payload)
        .bind(now)
        .execute(&self.writer)
        .await
        .context("keeping a long button payload")?;
        Ok(())
    }

    async fn load_payload(&self, key: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT payload FROM button_payloads WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .context("reading a long button payload")?;
        Ok(match row {
            Some(row) => Some(
                row.try_get("payload")
                    .context("reading a long button payload")?,
            ),
            None => None,
        })
    }
}
