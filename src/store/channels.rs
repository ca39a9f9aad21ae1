//! The channels' own tables on SQL: long button payloads kept under short keys, link
//! tokens that carry a web conversation over to Telegram or Viber, and what the relay
//! looks up to send replies nobody delivered.

use async_trait::async_trait;
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use super::{ConversationHandle, QueryContext, Store, StoreError};
use crate::channels::callbacks::PayloadStore;
use crate::channels::linking::{LinkStore, NewLinkToken, RedeemedLink};
use crate::channels::relay::Recipient;
use crate::engine::ChannelKind;

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

#[async_trait]
impl LinkStore for Store {
    async fn save_link_token(&self, token: &NewLinkToken<'_>) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO link_tokens (token_hash, conversation_id, customer_id, channel, \
             created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(token.token_hash)
        .bind(token.conversation_id)
        .bind(token.customer_id)
        .bind(token.channel.as_str())
        .bind(token.created_at)
        .bind(token.expires_at)
        .execute(&self.writer)
        .await
        .context("storing a link to continue on another channel")?;
        Ok(())
    }

    async fn redeem_link_token(
        &self,
        token_hash: &str,
        channel: ChannelKind,
        used_by: &str,
        now: i64,
    ) -> Result<Option<RedeemedLink>, StoreError> {
        let ctx = "using a link to continue on another channel";
        // One statement: of two redemptions racing, only one sees `used_at IS NULL`
        // (RETURNING needs SQLite 3.35 or PostgreSQL).
        let row = sqlx::query(
            "UPDATE link_tokens SET used_at = $1, used_by = $2 \
             WHERE token_hash = $3 AND channel = $4 AND used_at IS NULL AND expires_at > $5 \
             RETURNING conversation_id, customer_id",
        )
        .bind(now)
        .bind(used_by)
        .bind(token_hash)
        .bind(channel.as_str())
        .bind(now)
        .fetch_optional(&self.writer)
        .await
        .context(ctx)?;
        row.map(|row| {
            Ok(RedeemedLink {
                conversation_id: row.try_get("conversation_id").context(ctx)?,
                customer_id: row.try_get("customer_id").context(ctx)?,
            })
        })
        .transpose()
    }

    async fn link_token_used_by(&self, token_hash: &str) -> Result<Option<String>, StoreError> {
        let ctx = "reading who used a link";
        let row = sqlx::query("SELECT used_by FROM link_tokens WHERE token_hash = $1")
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await
            .context(ctx)?;
        Ok(match row {
            Some(row) => row.try_get("used_by").context(ctx)?,
            None => None,
        })
    }
}

fn recipient_from_row(row: &AnyRow) -> Result<Recipient, StoreError> {
    let ctx = "reading a conversation's address";
    let channel: String = row.try_get("channel").context(ctx)?;
    Ok(Recipient {
        conversation: ConversationHandle {
            id: row.try_get("id").context(ctx)?,
            customer_id: row.try_get("customer_id").context(ctx)?,
            channel: ChannelKind::parse(&channel)
                .ok_or_else(|| StoreError::Corrupt(format!("unknown channel {channel:?}")))?,
            created: false,
        },
        external_id: row.try_get("external_id").context(ctx)?,
    })
}

/// What the relay asks: where a conversation's customer is, and which conversations
/// have replies nobody delivered.
impl Store {
    /// The conversation and its customer's address on its channel.
    pub async fn recipient(&self, conversation_id: &str) -> Result<Option<Recipient>, StoreError> {
        sqlx::query("SELECT id, customer_id, channel, external_id FROM conversations WHERE id = $1")
            .bind(conversation_id)
            .fetch_optional(&self.pool)
            .await
            .context("reading a conversation's address")?
            .as_ref()
            .map(recipient_from_row)
            .transpose()
    }

    /// Conversations on `channels` with a reply committed before `older_than` (Unix
    /// milliseconds) and still undelivered, by id after `after`, at most `limit`. Walks
    /// the partial index `messages_undelivered`, so it costs what is undelivered, not
    /// the whole history.
    pub async fn conversations_with_undelivered(
        &self,
        channels: &[ChannelKind],
        older_than: i64,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Recipient>, StoreError> {
        if channels.is_empty() {
            return Ok(Vec::new());
        }
        let placeholders: Vec<String> =
            (0..channels.len()).map(|i| format!("${}", i + 4)).collect();
        let sql = format!(
            "SELECT c.id, c.customer_id, c.channel, c.external_id FROM conversations c \
             JOIN (SELECT conversation_id FROM messages \
                   WHERE direction = 'out' AND delivered_at IS NULL \
                   AND created_at < $1 AND conversation_id > $2 \
                   GROUP BY conversation_id) u ON u.conversation_id = c.id \
             WHERE c.channel IN ({}) ORDER BY c.id LIMIT $3",
            placeholders.join(", ")
        );
        // Only generated placeholders are spliced in; the values are bound.
        let mut query = sqlx::query(AssertSqlSafe(sql))
            .bind(older_than)
            .bind(after.unwrap_or(""))
            .bind(limit);
        for channel in channels {
            query = query.bind(channel.as_str());
        }
        query
            .fetch_all(&self.pool)
            .await
            .context("looking for replies nobody delivered")?
            .iter()
            .map(recipient_from_row)
            .collect()
    }

    /// Undelivered replies of the conversation someone may be sending right now: turn
    /// replies committed after `replied_after`, pushed messages after `pushed_after`.
    pub async fn undelivered_in_hand(
        &self,
        conversation_id: &str,
        pushed_after: i64,
        replied_after: i64,
    ) -> Result<Vec<i64>, StoreError> {
        let ctx = "reading replies being delivered";
        sqlx::query(
            "SELECT id FROM messages WHERE conversation_id = $1 AND direction = 'out' \
             AND delivered_at IS NULL \
             AND ((reply_to IS NULL AND created_at > $2) OR (reply_to IS NOT NULL AND created_at > $3)) \
             ORDER BY id",
        )
        .bind(conversation_id)
        .bind(pushed_after)
        .bind(replied_after)
        .fetch_all(&self.pool)
        .await
        .context(ctx)?
        .iter()
        .map(|row| row.try_get("id").context(ctx))
        .collect()
    }
}
