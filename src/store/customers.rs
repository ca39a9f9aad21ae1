//! `CustomerStore` on SQL: the customer record itself (profile fields grow with leads).

use async_trait::async_trait;
use sqlx::Row;

use super::{CustomerStore, QueryContext, Store, StoreError, now_ms};

#[async_trait]
impl CustomerStore for Store {
    async fn set_opted_out(&self, customer_id: &str, at: Option<i64>) -> Result<(), StoreError> {
        sqlx::query("UPDATE customers SET opted_out_at = $1, updated_at = $2 WHERE id = $3")
            .bind(at)
            .bind(now_ms())
            .bind(customer_id)
            .execute(&self.writer)
            .await
            .context("recording an opt-out")?;
        Ok(())
    }

    async fn opted_out_at(&self, customer_id: &str) -> Result<Option<i64>, StoreError> {
        let row = sqlx::query("SELECT opted_out_at FROM customers WHERE id = $1")
            .bind(customer_id)
            .fetch_optional(&self.pool)
            .await
            .context("reading an opt-out")?;
        match row {
            Some(row) => row.try_get("opted_out_at").context("reading an opt-out"),
            None => Ok(None),
        }
    }
}
