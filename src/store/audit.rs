//! `AuditStore` on SQL: an append-only log of who did what (privacy requests, admin
//! actions, reloads), kept separate from conversations so erasing a customer's data
//! still leaves the record that it was erased.

use async_trait::async_trait;
use sqlx::Row;

use super::{AuditEntry, AuditStore, QueryContext, Store, StoreError};

#[async_trait]
impl AuditStore for Store {
    async fn record(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        let detail = entry.detail.as_ref().map(serde_json::Value::to_string);
        sqlx::query(
            "INSERT INTO audit_log (at, actor, action, subject, detail) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(entry.at)
        .bind(&entry.actor)
        .bind(&entry.action)
        .bind(entry.subject.as_deref())
        .bind(detail)
        .execute(&self.writer)
        .await
        .context("writing the audit log")?;
        Ok(())
    }

    async fn entries_for(&self, subject: &str) -> Result<Vec<AuditEntry>, StoreError> {
        let ctx = "reading the audit log";
        sqlx::query(
            "SELECT at, actor, action, subject, detail FROM audit_log WHERE subject = $1 ORDER BY id",
        )
        .bind(subject)
        .fetch_all(&self.pool)
        .await
        .context(ctx)?
        .iter()
        .map(|row| {
            let detail: Option<String> = row.try_get("detail").context(ctx)?;
            Ok(AuditEntry {
                at: row.try_get("at").context(ctx)?,
                actor: row.try_get("actor").context(ctx)?,
                action: row.try_get("action").context(ctx)?,
                subject: row.try_get("subject").context(ctx)?,
                detail: detail
                    .map(|text| serde_json::from_str(&text))
                    .transpose()
                    .map_err(|err| StoreError::Corrupt(format!("audit detail: {err}")))?,
            })
        })
        .collect()
    }
}
