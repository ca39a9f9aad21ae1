//! `CustomerStore` on SQL: the customer record itself (profile fields grow with leads),
//! contact details, consents and the outreach messages sent to them.

use async_trait::async_trait;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{
    Backend, CustomerStore, OutreachCap, OutreachCreated, OutreachRecord, QueryContext, Store,
    StoreError, now_ms,
};
use crate::engine::{ChannelIdentity, Language};

const OUTREACH_COLUMNS: &str = "id, customer_id, conversation_id, flow_id, flow_values, language, \
     message, created_at, idempotency_key";

fn values_from_json(
    json: Option<String>,
) -> Result<serde_json::Map<String, serde_json::Value>, StoreError> {
    match json {
        None => Ok(serde_json::Map::new()),
        Some(json) => serde_json::from_str(&json)
            .map_err(|err| StoreError::Corrupt(format!("outreach values: {err}"))),
    }
}

fn outreach_from_row(row: &AnyRow) -> Result<OutreachRecord, StoreError> {
    let ctx = "reading an outreach message";
    let language: String = row.try_get("language").context(ctx)?;
    Ok(OutreachRecord {
        id: row.try_get("id").context(ctx)?,
        customer_id: row.try_get("customer_id").context(ctx)?,
        conversation_id: row.try_get("conversation_id").context(ctx)?,
        flow_id: row.try_get("flow_id").context(ctx)?,
        values: values_from_json(row.try_get("flow_values").context(ctx)?)?,
        language: Language::parse(&language)
            .ok_or_else(|| StoreError::Corrupt(format!("outreach language {language:?}")))?,
        message: row.try_get("message").context(ctx)?,
        created_at: row.try_get("created_at").context(ctx)?,
        idempotency_key: row.try_get("idempotency_key").context(ctx)?,
    })
}

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

    async fn customer_by_identity(
        &self,
        identity: &ChannelIdentity,
    ) -> Result<Option<String>, StoreError> {
        let ctx = "looking up a customer";
        sqlx::query(
            "SELECT customer_id FROM channel_identities WHERE channel = $1 AND external_id = $2",
        )
        .bind(identity.channel.as_str())
        .bind(&identity.external_id)
        .fetch_optional(&self.pool)
        .await
        .context(ctx)?
        .map(|row| row.try_get("customer_id"))
        .transpose()
        .context(ctx)
    }

    async fn find_customer_by_phone(&self, e164: &str) -> Result<Option<String>, StoreError> {
        let ctx = "looking up a customer by phone";
        sqlx::query(
            "SELECT c.id FROM customers c \
             LEFT JOIN conversations v ON v.customer_id = c.id \
             LEFT JOIN messages m ON m.conversation_id = v.id AND m.direction = 'in' \
             WHERE c.phone = $1 \
             GROUP BY c.id, c.updated_at \
             ORDER BY COALESCE(MAX(m.id), 0) DESC, c.updated_at DESC LIMIT 1",
        )
        .bind(e164)
        .fetch_optional(&self.pool)
        .await
        .context(ctx)?
        .map(|row| row.try_get("id"))
        .transpose()
        .context(ctx)
    }

    async fn set_contact(
        &self,
        customer_id: &str,
        name: Option<&str>,
        phone_e164: Option<&str>,
    ) -> Result<(), StoreError> {
        if name.is_none() && phone_e164.is_none() {
            return Ok(());
        }
        sqlx::query(
            "UPDATE customers SET display_name = COALESCE($1, display_name), \
             phone = COALESCE($2, phone), updated_at = $3 WHERE id = $4",
        )
        .bind(name)
        .bind(phone_e164)
        .bind(now_ms())
        .bind(customer_id)
        .execute(&self.writer)
        .await
        .context("recording contact details")?;
        Ok(())
    }

    async fn record_consent(
        &self,
        customer_id: &str,
        purpose: &str,
        channel: &str,
        text: &str,
        version: &str,
        at: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO consents (customer_id, purpose, channel, text, version, granted_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(customer_id)
        .bind(purpose)
        .bind(channel)
        .bind(text)
        .bind(version)
        .bind(at)
        .execute(&self.writer)
        .await
        .context("recording a consent")?;
        Ok(())
    }

    async fn revoke_consent(
        &self,
        customer_id: &str,
        purpose: &str,
        at: i64,
    ) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE consents SET revoked_at = $1 \
             WHERE customer_id = $2 AND purpose = $3 AND revoked_at IS NULL",
        )
        .bind(at)
        .bind(customer_id)
        .bind(purpose)
        .execute(&self.writer)
        .await
        .context("revoking a consent")?;
        Ok(done.rows_affected())
    }

    async fn has_consent(&self, customer_id: &str, purpose: &str) -> Result<bool, StoreError> {
        let row = sqlx::query(
            "SELECT id FROM consents WHERE customer_id = $1 AND purpose = $2 AND revoked_at IS NULL \
             LIMIT 1",
        )
        .bind(customer_id)
        .bind(purpose)
        .fetch_optional(&self.pool)
        .await
        .context("reading consents")?;
        Ok(row.is_some())
    }

    async fn create_outreach(
        &self,
        outreach: &OutreachRecord,
        cap: OutreachCap,
    ) -> Result<OutreachCreated, StoreError> {
        let ctx = "recording an outreach message";
        let existing = |key: &str| {
            let key = key.to_owned();
            async move {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {OUTREACH_COLUMNS} FROM outreach WHERE idempotency_key = $1"
                )))
                .bind(key)
                .fetch_optional(&self.writer)
                .await
                .context(ctx)?
                .as_ref()
                .map(outreach_from_row)
                .transpose()
            }
        };
        let mut tx = self.writer.begin().await.context(ctx)?;
        if self.backend == Backend::Postgres {
            // Count and insert as one step per customer, across instances.
            sqlx::query("SELECT 1::BIGINT FROM (SELECT pg_advisory_xact_lock(hashtext($1))) AS l")
                .bind(format!("outreach:{}", outreach.customer_id))
                .execute(&mut *tx)
                .await
                .context(ctx)?;
        }
        if let Some(key) = &outreach.idempotency_key {
            let found = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {OUTREACH_COLUMNS} FROM outreach WHERE idempotency_key = $1"
            )))
            .bind(key)
            .fetch_optional(&mut *tx)
            .await
            .context(ctx)?;
            if let Some(row) = found {
                let record = outreach_from_row(&row)?;
                tx.rollback().await.context(ctx)?;
                return Ok(OutreachCreated::Existing(Box::new(record)));
            }
        }
        let count: i64 = sqlx::query(
            "SELECT COUNT(*) AS n FROM outreach WHERE customer_id = $1 AND created_at >= $2",
        )
        .bind(&outreach.customer_id)
        .bind(cap.since)
        .fetch_one(&mut *tx)
        .await
        .context(ctx)?
        .try_get("n")
        .context(ctx)?;
        if count >= i64::from(cap.max) {
            tx.rollback().await.context(ctx)?;
            return Ok(OutreachCreated::Capped);
        }
        let values = if outreach.values.is_empty() {
            None
        } else {
            Some(serde_json::Value::Object(outreach.values.clone()).to_string())
        };
        let inserted = sqlx::query(
            "INSERT INTO outreach (id, customer_id, conversation_id, flow_id, flow_values, language, \
             message, created_at, idempotency_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&outreach.id)
        .bind(&outreach.customer_id)
        .bind(&outreach.conversation_id)
        .bind(outreach.flow_id.as_deref())
        .bind(values)
        .bind(outreach.language.as_str())
        .bind(&outreach.message)
        .bind(outreach.created_at)
        .bind(outreach.idempotency_key.as_deref())
        .execute(&mut *tx)
        .await;
        match inserted {
            Ok(_) => {
                tx.commit().await.context(ctx)?;
                Ok(OutreachCreated::Created)
            }
            // The same key, sent for another customer by a racing request: theirs stands.
            Err(sqlx::Error::Database(err)) if err.is_unique_violation() => {
                tx.rollback().await.context(ctx)?;
                match outreach.idempotency_key.as_deref() {
                    Some(key) => match existing(key).await? {
                        Some(record) => Ok(OutreachCreated::Existing(Box::new(record))),
                        None => Err(StoreError::Corrupt(
                            "an outreach key collided but its row is gone".into(),
                        )),
                    },
                    None => Err(StoreError::Corrupt(
                        "two outreach messages were given the same id".into(),
                    )),
                }
            }
            Err(err) => Err(err).context(ctx),
        }
    }

    async fn outreach_count_since(&self, customer_id: &str, since: i64) -> Result<u64, StoreError> {
        let ctx = "counting outreach messages";
        let count: i64 = sqlx::query(
            "SELECT COUNT(*) AS n FROM outreach WHERE customer_id = $1 AND created_at >= $2",
        )
        .bind(customer_id)
        .bind(since)
        .fetch_one(&self.pool)
        .await
        .context(ctx)?
        .try_get("n")
        .context(ctx)?;
        Ok(count.max(0) as u64)
    }

    async fn outreach_offer(
        &self,
        id: &str,
    ) -> Result<Option<(String, serde_json::Map<String, serde_json::Value>)>, StoreError> {
        let ctx = "reading an outreach offer";
        let Some(row) = sqlx::query("SELECT flow_id, flow_values FROM outreach WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .context(ctx)?
        else {
            return Ok(None);
        };
        let flow: Option<String> = row.try_get("flow_id").context(ctx)?;
        match flow {
            Some(flow) => Ok(Some((
                flow,
                values_from_json(row.try_get("flow_values").context(ctx)?)?,
            ))),
            None => Ok(None),
        }
    }
}
