//! `ConversationStore` on SQL: customers and identities, conversations, the message log
//! and sessions.

use async_trait::async_trait;
use sqlx::any::AnyRow;
use sqlx::{Any, AssertSqlSafe, Connection, Executor, Row};

use super::{
    AppendedInbound, ConversationHandle, ConversationLock, ConversationStore, ConversationSummary,
    Direction, MessageRecord, PendingInbound, PushCommit, Pushed, QueryContext, SessionRecord,
    Store, StoreError, TurnCommit,
};
use crate::engine::{
    Button, ChannelIdentity, ChannelKind, Citation, InboundContent, Outbound, Reply,
};

const OUTBOUND_COLUMNS: &str =
    "id, conversation_id, text, buttons, citations, stream_id, asks_contact";

fn channel_of(value: &str) -> Result<ChannelKind, StoreError> {
    ChannelKind::parse(value)
        .ok_or_else(|| StoreError::Corrupt(format!("unknown channel {value:?}")))
}

fn handle_from_row(row: &AnyRow, created: bool) -> Result<ConversationHandle, StoreError> {
    Ok(ConversationHandle {
        id: row.try_get("id").context("reading a conversation")?,
        customer_id: row
            .try_get("customer_id")
            .context("reading a conversation")?,
        channel: channel_of(
            &row.try_get::<String, _>("channel")
                .context("reading a conversation")?,
        )?,
        created,
    })
}

fn buttons_from_json(json: Option<String>) -> Result<Vec<Button>, StoreError> {
    match json {
        None => Ok(Vec::new()),
        Some(json) => serde_json::from_str(&json)
            .map_err(|err| StoreError::Corrupt(format!("message buttons: {err}"))),
    }
}

fn citations_from_json(json: Option<String>) -> Result<Vec<Citation>, StoreError> {
    match json {
        None => Ok(Vec::new()),
        Some(json) => serde_json::from_str(&json)
            .map_err(|err| StoreError::Corrupt(format!("message citations: {err}"))),
    }
}

fn citations_to_json(citations: &[Citation]) -> Result<Option<String>, StoreError> {
    if citations.is_empty() {
        return Ok(None);
    }
    serde_json::to_string(citations)
        .map(Some)
        .map_err(|err| StoreError::Corrupt(format!("citations: {err}")))
}

fn outbound_from_row(row: &AnyRow) -> Result<Outbound, StoreError> {
    Ok(Outbound {
        id: row.try_get("id").context("reading a reply")?,
        conversation_id: row.try_get("conversation_id").context("reading a reply")?,
        reply: Reply {
            text: row.try_get("text").context("reading a reply")?,
            buttons: buttons_from_json(row.try_get("buttons").context("reading a reply")?)?,
            citations: citations_from_json(row.try_get("citations").context("reading a reply")?)?,
            stream_id: row.try_get("stream_id").context("reading a reply")?,
            asks_contact: row
                .try_get::<i64, _>("asks_contact")
                .context("reading a reply")?
                != 0,
        },
    })
}

fn summary_from_row(row: &AnyRow) -> Result<ConversationSummary, StoreError> {
    let ctx = "reading a conversation";
    Ok(ConversationSummary {
        id: row.try_get("id").context(ctx)?,
        customer_id: row.try_get("customer_id").context(ctx)?,
        channel: channel_of(&row.try_get::<String, _>("channel").context(ctx)?)?,
        started_at: row.try_get("started_at").context(ctx)?,
        last_activity_at: row.try_get("last_activity_at").context(ctx)?,
        message_count: row.try_get("message_count").context(ctx)?,
    })
}

/// The replies to one inbound message, on any executor (pool, connection, transaction).
async fn fetch_replies<'e>(
    executor: impl Executor<'e, Database = Any>,
    inbound_id: i64,
) -> Result<Vec<Outbound>, StoreError> {
    sqlx::query(AssertSqlSafe(format!(
        "SELECT {OUTBOUND_COLUMNS} FROM messages WHERE reply_to = $1 AND direction = 'out' ORDER BY id"
    )))
    .bind(inbound_id)
    .fetch_all(executor)
    .await
    .context("reading replies")?
    .iter()
    .map(outbound_from_row)
    .collect()
}

/// The messages pushed under a dedupe key: the first carries the key itself, the n-th
/// (n ≥ 2) `key␟n`, because the key column is unique.
async fn fetch_pushed<'e>(
    executor: impl Executor<'e, Database = Any>,
    dedupe_key: &str,
) -> Result<Vec<Outbound>, StoreError> {
    let prefix = format!("{dedupe_key}{PUSH_KEY_SEPARATOR}");
    sqlx::query(AssertSqlSafe(format!(
        "SELECT {OUTBOUND_COLUMNS} FROM messages \
         WHERE dedupe_key = $1 OR substr(dedupe_key, 1, CAST($2 AS INTEGER)) = $3 ORDER BY id"
    )))
    .bind(dedupe_key)
    .bind(prefix.chars().count() as i64)
    .bind(&prefix)
    .fetch_all(executor)
    .await
    .context("reading pushed messages")?
    .iter()
    .map(outbound_from_row)
    .collect()
}

/// Joins a push's dedupe key and the index of its second and later messages.
const PUSH_KEY_SEPARATOR: char = '\u{1f}';

fn push_key(dedupe_key: &str, index: usize) -> String {
    if index == 0 {
        dedupe_key.to_owned()
    } else {
        format!("{dedupe_key}{PUSH_KEY_SEPARATOR}{}", index + 1)
    }
}

fn buttons_to_json(buttons: &[Button]) -> Result<Option<String>, StoreError> {
    if buttons.is_empty() {
        return Ok(None);
    }
    serde_json::to_string(buttons)
        .map(Some)
        .map_err(|err| StoreError::Corrupt(format!("buttons: {err}")))
}

const SUMMARY_SELECT: &str = "SELECT c.id, c.customer_id, c.channel, c.started_at, c.last_activity_at, \
     (SELECT COUNT(*) FROM messages m WHERE m.conversation_id = c.id) AS message_count \
     FROM conversations c";

#[async_trait]
impl ConversationStore for Store {
    async fn open_conversation(
        &self,
        identity: &ChannelIdentity,
        now: i64,
    ) -> Result<ConversationHandle, StoreError> {
        if let Some(found) = self.find_conversation(identity).await? {
            return Ok(found);
        }
        let ctx = "creating a conversation";
        let mut tx = self.writer.begin().await.context(ctx)?;
        let channel = identity.channel.as_str();
        let existing_customer: Option<String> = sqlx::query(
            "SELECT customer_id FROM channel_identities WHERE channel = $1 AND external_id = $2",
        )
        .bind(channel)
        .bind(&identity.external_id)
        .fetch_optional(&mut *tx)
        .await
        .context(ctx)?
        .map(|row| row.try_get("customer_id"))
        .transpose()
        .context(ctx)?;
        let customer_id = match existing_customer {
            Some(id) => id,
            None => {
                let id = uuid::Uuid::now_v7().to_string();
                sqlx::query(
                    "INSERT INTO customers (id, created_at, updated_at) VALUES ($1, $2, $2)",
                )
                .bind(&id)
                .bind(now)
                .execute(&mut *tx)
                .await
                .context(ctx)?;
                let inserted = sqlx::query(
                    "INSERT INTO channel_identities (channel, external_id, customer_id, created_at) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (channel, external_id) DO NOTHING",
                )
                .bind(channel)
                .bind(&identity.external_id)
                .bind(&id)
                .bind(now)
                .execute(&mut *tx)
                .await
                .context(ctx)?;
                if inserted.rows_affected() == 0 {
                    // Another instance created this identity at the same moment: use theirs.
                    tx.rollback().await.context(ctx)?;
                    return self.open_conversation(identity, now).await;
                }
                id
            }
        };
        let conversation_id = uuid::Uuid::now_v7().to_string();
        let inserted = sqlx::query(
            "INSERT INTO conversations (id, customer_id, channel, external_id, started_at, last_activity_at) \
             VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (channel, external_id) DO NOTHING",
        )
        .bind(&conversation_id)
        .bind(&customer_id)
        .bind(channel)
        .bind(&identity.external_id)
        .bind(now)
        .execute(&mut *tx)
        .await
        .context(ctx)?;
        if inserted.rows_affected() == 0 {
            tx.rollback().await.context(ctx)?;
            return self.find_conversation(identity).await?.ok_or_else(|| {
                StoreError::Corrupt("conversation vanished while opening it".into())
            });
        }
        sqlx::query(
            "INSERT INTO sessions (conversation_id, state, version, last_activity_at, updated_at) \
             VALUES ($1, '{}', 0, NULL, $2)",
        )
        .bind(&conversation_id)
        .bind(now)
        .execute(&mut *tx)
        .await
        .context(ctx)?;
        tx.commit().await.context(ctx)?;
        Ok(ConversationHandle {
            id: conversation_id,
            customer_id,
            channel: identity.channel,
            created: true,
        })
    }

    async fn find_conversation(
        &self,
        identity: &ChannelIdentity,
    ) -> Result<Option<ConversationHandle>, StoreError> {
        sqlx::query(
            "SELECT id, customer_id, channel FROM conversations WHERE channel = $1 AND external_id = $2",
        )
        .bind(identity.channel.as_str())
        .bind(&identity.external_id)
        .fetch_optional(&self.pool)
        .await
        .context("looking up a conversation")?
        .map(|row| handle_from_row(&row, false))
        .transpose()
    }

    async fn append_inbound(
        &self,
        conversation_id: &str,
        content: &InboundContent,
        channel_message_id: Option<&str>,
        now: i64,
    ) -> Result<AppendedInbound, StoreError> {
        let ctx = "storing an inbound message";
        let payload = match content {
            InboundContent::Button { payload } => Some(payload.as_str()),
            _ => None,
        };
        let inserted = sqlx::query(
            "INSERT INTO messages (conversation_id, direction, kind, text, payload, channel_message_id, created_at) \
             VALUES ($1, 'in', $2, $3, $4, $5, $6) \
             ON CONFLICT (conversation_id, channel_message_id) WHERE channel_message_id IS NOT NULL DO NOTHING \
             RETURNING id",
        )
        .bind(conversation_id)
        .bind(content.kind())
        .bind(content.transcript_text())
        .bind(payload)
        .bind(channel_message_id)
        .bind(now)
        .fetch_optional(&self.writer)
        .await
        .context(ctx)?;
        if let Some(row) = inserted {
            return Ok(AppendedInbound {
                id: row.try_get("id").context(ctx)?,
                duplicate: false,
            });
        }
        let row = sqlx::query(
            "SELECT id FROM messages WHERE conversation_id = $1 AND channel_message_id = $2",
        )
        .bind(conversation_id)
        .bind(channel_message_id)
        .fetch_one(&self.pool)
        .await
        .context(ctx)?;
        Ok(AppendedInbound {
            id: row.try_get("id").context(ctx)?,
            duplicate: true,
        })
    }

    async fn lock_conversation(
        &self,
        conversation_id: &str,
    ) -> Result<ConversationLock, StoreError> {
        ConversationLock::acquire(self, conversation_id).await
    }

    async fn next_pending(
        &self,
        lock: &mut ConversationLock,
    ) -> Result<Option<PendingInbound>, StoreError> {
        let ctx = "reading the next unprocessed message";
        let query = sqlx::query(
            "SELECT id, kind, text, payload, created_at FROM messages \
             WHERE conversation_id = $1 AND direction = 'in' AND processed_at IS NULL \
             ORDER BY id LIMIT 1",
        )
        .bind(lock.conversation_id().to_owned());
        // On SQLite the writer connection sees our own latest commits at once.
        let row = match lock.connection() {
            Some(connection) => query.fetch_optional(&mut **connection).await,
            None => query.fetch_optional(&self.writer).await,
        };
        let Some(row) = row.context(ctx)? else {
            return Ok(None);
        };
        let kind: String = row.try_get("kind").context(ctx)?;
        let content = InboundContent::from_stored(
            &kind,
            row.try_get("text").context(ctx)?,
            row.try_get("payload").context(ctx)?,
        )
        .ok_or_else(|| StoreError::Corrupt(format!("unknown inbound kind {kind:?}")))?;
        Ok(Some(PendingInbound {
            id: row.try_get("id").context(ctx)?,
            content,
            received_at: row.try_get("created_at").context(ctx)?,
        }))
    }

    async fn conversations_with_pending(&self) -> Result<Vec<ConversationHandle>, StoreError> {
        sqlx::query(
            "SELECT DISTINCT c.id, c.customer_id, c.channel FROM messages m \
             JOIN conversations c ON c.id = m.conversation_id \
             WHERE m.direction = 'in' AND m.processed_at IS NULL",
        )
        .fetch_all(&self.pool)
        .await
        .context("finding unprocessed messages")?
        .iter()
        .map(|row| handle_from_row(row, false))
        .collect()
    }

    async fn load_session(&self, lock: &mut ConversationLock) -> Result<SessionRecord, StoreError> {
        let ctx = "loading a session";
        let query =
            sqlx::query("SELECT state, last_activity_at FROM sessions WHERE conversation_id = $1")
                .bind(lock.conversation_id().to_owned());
        let row = match lock.connection() {
            Some(connection) => query.fetch_optional(&mut **connection).await,
            None => query.fetch_optional(&self.writer).await,
        }
        .context(ctx)?;
        match row {
            Some(row) => Ok(SessionRecord {
                state: row.try_get("state").context(ctx)?,
                last_activity_at: row.try_get("last_activity_at").context(ctx)?,
            }),
            None => Ok(SessionRecord {
                state: "{}".into(),
                last_activity_at: None,
            }),
        }
    }

    async fn commit_turn(
        &self,
        lock: &mut ConversationLock,
        turn: TurnCommit<'_>,
    ) -> Result<Vec<Outbound>, StoreError> {
        let ctx = "saving a processed message";
        let conversation_id = lock.conversation_id().to_owned();
        let mut tx = match lock.connection() {
            Some(connection) => connection.begin().await,
            None => self.writer.begin().await,
        }
        .context(ctx)?;
        let marked = sqlx::query(
            "UPDATE messages SET processed_at = $1, text = COALESCE($2, text) \
             WHERE id = $3 AND processed_at IS NULL",
        )
        .bind(turn.now)
        .bind(turn.inbound_title)
        .bind(turn.inbound_id)
        .execute(&mut *tx)
        .await
        .context(ctx)?;
        if marked.rows_affected() == 0 {
            // Processed already (by another instance before we held the lock): keep theirs.
            let replies = fetch_replies(&mut *tx, turn.inbound_id).await?;
            tx.rollback().await.context(ctx)?;
            return Ok(replies);
        }
        sqlx::query(
            "UPDATE sessions SET state = $1, version = version + 1, last_activity_at = $2, updated_at = $2 \
             WHERE conversation_id = $3",
        )
        .bind(turn.session_state)
        .bind(turn.now)
        .bind(&conversation_id)
        .execute(&mut *tx)
        .await
        .context(ctx)?;
        sqlx::query("UPDATE conversations SET last_activity_at = $1 WHERE id = $2")
            .bind(turn.now)
            .bind(&conversation_id)
            .execute(&mut *tx)
            .await
            .context(ctx)?;
        let mut outbound = Vec::with_capacity(turn.replies.len());
        for reply in turn.replies {
            let buttons = buttons_to_json(&reply.buttons)?;
            let row = sqlx::query(
                "INSERT INTO messages (conversation_id, direction, kind, text, buttons, citations, stream_id, reply_to, created_at, asks_contact) \
                 VALUES ($1, 'out', 'text', $2, $3, $4, $5, $6, $7, $8) RETURNING id",
            )
            .bind(&conversation_id)
            .bind(&reply.text)
            .bind(buttons)
            .bind(citations_to_json(&reply.citations)?)
            .bind(reply.stream_id.as_deref())
            .bind(turn.inbound_id)
            .bind(turn.now)
            .bind(i64::from(reply.asks_contact))
            .fetch_one(&mut *tx)
            .await
            .context(ctx)?;
            outbound.push(Outbound {
                id: row.try_get("id").context(ctx)?,
                conversation_id: conversation_id.clone(),
                reply: reply.clone(),
            });
        }
        tx.commit().await.context(ctx)?;
        Ok(outbound)
    }

    async fn replies_to(&self, inbound_id: i64) -> Result<Vec<Outbound>, StoreError> {
        fetch_replies(&self.writer, inbound_id).await
    }

    async fn undelivered(&self, conversation_id: &str) -> Result<Vec<Outbound>, StoreError> {
        sqlx::query(AssertSqlSafe(format!(
            "SELECT {OUTBOUND_COLUMNS} FROM messages \
             WHERE conversation_id = $1 AND direction = 'out' AND delivered_at IS NULL ORDER BY id"
        )))
        .bind(conversation_id)
        .fetch_all(&self.pool)
        .await
        .context("reading undelivered replies")?
        .iter()
        .map(outbound_from_row)
        .collect()
    }

    async fn mark_delivered(&self, ids: &[i64], now: i64) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        let placeholders: Vec<String> = (0..ids.len()).map(|i| format!("${}", i + 2)).collect();
        let sql = format!(
            "UPDATE messages SET delivered_at = $1 WHERE delivered_at IS NULL AND id IN ({})",
            placeholders.join(", ")
        );
        // Only generated placeholders are spliced in; the ids are bound.
        let mut query = sqlx::query(AssertSqlSafe(sql)).bind(now);
        for id in ids {
            query = query.bind(*id);
        }
        query
            .execute(&self.writer)
            .await
            .context("marking replies delivered")?;
        Ok(())
    }

    async fn list_conversations(
        &self,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<ConversationSummary>, StoreError> {
        sqlx::query(AssertSqlSafe(format!(
            "{SUMMARY_SELECT} ORDER BY c.last_activity_at DESC, c.id LIMIT $1 OFFSET $2"
        )))
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
        .await
        .context("listing conversations")?
        .iter()
        .map(summary_from_row)
        .collect()
    }

    async fn conversation(&self, id: &str) -> Result<Option<ConversationSummary>, StoreError> {
        sqlx::query(AssertSqlSafe(format!("{SUMMARY_SELECT} WHERE c.id = $1")))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .context("reading a conversation")?
            .as_ref()
            .map(summary_from_row)
            .transpose()
    }

    async fn transcript(&self, conversation_id: &str) -> Result<Vec<MessageRecord>, StoreError> {
        let ctx = "reading a transcript";
        let rows = sqlx::query(
            "SELECT id, direction, kind, text, payload, buttons, citations, reply_to, created_at, processed_at, delivered_at \
             FROM messages WHERE conversation_id = $1 ORDER BY id",
        )
        .bind(conversation_id)
        .fetch_all(&self.pool)
        .await
        .context(ctx)?;
        rows.iter()
            .map(|row| {
                let direction: String = row.try_get("direction").context(ctx)?;
                Ok(MessageRecord {
                    id: row.try_get("id").context(ctx)?,
                    direction: if direction == "in" {
                        Direction::In
                    } else {
                        Direction::Out
                    },
                    kind: row.try_get("kind").context(ctx)?,
                    text: row.try_get("text").context(ctx)?,
                    payload: row.try_get("payload").context(ctx)?,
                    buttons: buttons_from_json(row.try_get("buttons").context(ctx)?)?,
                    citations: citations_from_json(row.try_get("citations").context(ctx)?)?,
                    reply_to: row.try_get("reply_to").context(ctx)?,
                    created_at: row.try_get("created_at").context(ctx)?,
                    processed_at: row.try_get("processed_at").context(ctx)?,
                    delivered_at: row.try_get("delivered_at").context(ctx)?,
                })
            })
            .collect()
    }

    async fn commit_push(
        &self,
        lock: &mut ConversationLock,
        push: PushCommit<'_>,
    ) -> Result<Pushed, StoreError> {
        let ctx = "saving messages the bot sends on its own";
        let conversation_id = lock.conversation_id().to_owned();
        let mut tx = match lock.connection() {
            Some(connection) => connection.begin().await,
            None => self.writer.begin().await,
        }
        .context(ctx)?;
        if let Some(key) = push.dedupe_key {
            let earlier = fetch_pushed(&mut *tx, key).await?;
            if !earlier.is_empty() {
                tx.rollback().await.context(ctx)?;
                return Ok(Pushed {
                    outbound: earlier,
                    duplicate: true,
                });
            }
        }
        let mut outbound = Vec::with_capacity(push.replies.len());
        for (index, reply) in push.replies.iter().enumerate() {
            let inserted = sqlx::query(
                "INSERT INTO messages (conversation_id, direction, kind, text, buttons, citations, dedupe_key, created_at, asks_contact) \
                 VALUES ($1, 'out', 'text', $2, $3, $4, $5, $6, $7) RETURNING id",
            )
            .bind(&conversation_id)
            .bind(&reply.text)
            .bind(buttons_to_json(&reply.buttons)?)
            .bind(citations_to_json(&reply.citations)?)
            .bind(push.dedupe_key.map(|key| push_key(key, index)))
            .bind(push.now)
            .bind(i64::from(reply.asks_contact))
            .fetch_one(&mut *tx)
            .await;
            let row = match inserted {
                Ok(row) => row,
                Err(sqlx::Error::Database(err))
                    if err.is_unique_violation() && push.dedupe_key.is_some() =>
                {
                    // Another instance pushed the same key to another conversation
                    // meanwhile (this conversation's lock serializes the rest): theirs.
                    tx.rollback().await.context(ctx)?;
                    let key = push.dedupe_key.unwrap_or_default();
                    return Ok(Pushed {
                        outbound: fetch_pushed(&self.writer, key).await?,
                        duplicate: true,
                    });
                }
                Err(err) => return Err(err).context(ctx),
            };
            outbound.push(Outbound {
                id: row.try_get("id").context(ctx)?,
                conversation_id: conversation_id.clone(),
                reply: reply.clone(),
            });
        }
        if let Some(state) = push.session_state {
            // Not `last_activity_at`: that is when the customer last wrote (idle checks).
            sqlx::query(
                "UPDATE sessions SET state = $1, version = version + 1, updated_at = $2 \
                 WHERE conversation_id = $3",
            )
            .bind(state)
            .bind(push.now)
            .bind(&conversation_id)
            .execute(&mut *tx)
            .await
            .context(ctx)?;
        }
        sqlx::query("UPDATE conversations SET last_activity_at = $1 WHERE id = $2")
            .bind(push.now)
            .bind(&conversation_id)
            .execute(&mut *tx)
            .await
            .context(ctx)?;
        tx.commit().await.context(ctx)?;
        Ok(Pushed {
            outbound,
            duplicate: false,
        })
    }

    async fn session_state(&self, conversation_id: &str) -> Result<Option<String>, StoreError> {
        let ctx = "reading a session";
        sqlx::query("SELECT state FROM sessions WHERE conversation_id = $1")
            .bind(conversation_id)
            .fetch_optional(&self.pool)
            .await
            .context(ctx)?
            .map(|row| row.try_get("state"))
            .transpose()
            .context(ctx)
    }

    async fn latest_conversation(
        &self,
        customer_id: &str,
    ) -> Result<Option<ConversationHandle>, StoreError> {
        // The conversation of the customer's latest inbound message; ids grow with time.
        sqlx::query(
            "SELECT c.id, c.customer_id, c.channel FROM conversations c \
             JOIN messages m ON m.conversation_id = c.id AND m.direction = 'in' \
             WHERE c.customer_id = $1 ORDER BY m.id DESC LIMIT 1",
        )
        .bind(customer_id)
        .fetch_optional(&self.pool)
        .await
        .context("finding a customer's latest conversation")?
        .map(|row| handle_from_row(&row, false))
        .transpose()
    }
}
