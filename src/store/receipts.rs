//! Receipts of messages the channels sent (Viber's `delivered`, `seen`, `failed`), kept
//! one per message and event so a callback sent again is not counted twice.

use sqlx::Row;

use super::{QueryContext, Store, StoreError};
use crate::engine::ChannelKind;

/// One receipt callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelReceipt {
    pub channel: ChannelKind,
    /// The platform's id of the message we sent.
    pub message_token: String,
    pub user_id: Option<String>,
    /// `delivered`, `seen` or `failed`.
    pub event: String,
    pub description: Option<String>,
    pub at: i64,
}

impl Store {
    /// Keeps a receipt; returns `false` when the same one was kept before.
    pub async fn record_receipt(&self, receipt: &ChannelReceipt) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO channel_receipts (channel, message_token, user_id, event, description, at) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (channel, message_token, event) DO NOTHING",
        )
        .bind(receipt.channel.as_str())
        .bind(&receipt.message_token)
        .bind(&receipt.user_id)
        .bind(&receipt.event)
        .bind(&receipt.description)
        .bind(receipt.at)
        .execute(&self.writer)
        .await
        .context("recording a message receipt")?;
        Ok(done.rows_affected() > 0)
    }

    /// The receipts of one sent message, oldest first.
    pub async fn receipts_of(
        &self,
        channel: ChannelKind,
        message_token: &str,
    ) -> Result<Vec<ChannelReceipt>, StoreError> {
        let ctx = "reading message receipts";
        let rows = sqlx::query(
            "SELECT message_token, user_id, event, description, at FROM channel_receipts \
             WHERE channel = $1 AND message_token = $2 ORDER BY id",
        )
        .bind(channel.as_str())
        .bind(message_token)
        .fetch_all(&self.pool)
        .await
        .context(ctx)?;
        rows.iter()
            .map(|row| {
                Ok(ChannelReceipt {
                    channel,
                    message_token: row.try_get("message_token").context(ctx)?,
                    user_id: row.try_get("user_id").context(ctx)?,
                    event: row.try_get("event").context(ctx)?,
                    description: row.try_get("description").context(ctx)?,
                    at: row.try_get("at").context(ctx)?,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_receipt_sent_again_is_kept_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::test_store(dir.path()).await;
        let receipt = ChannelReceipt {
            channel: ChannelKind::Viber,
            message_token: "5741311803571721087".into(),
            user_id: Some("01234567890A=".into()),
            event: "failed".into(),
            description: Some("failure description".into()),
            at: 1_457_764_197_627,
        };
        assert!(store.record_receipt(&receipt).await.unwrap());
        assert!(!store.record_receipt(&receipt).await.unwrap());
        let seen = ChannelReceipt {
            event: "seen".into(),
            description: None,
            ..receipt.clone()
        };
        assert!(store.record_receipt(&seen).await.unwrap());
        assert_eq!(
            store
                .receipts_of(ChannelKind::Viber, "5741311803571721087")
                .await
                .unwrap(),
            vec![receipt, seen]
        );
    }
}
