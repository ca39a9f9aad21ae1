//! The conversation lock. Holding one is the only way to read a conversation's pending
//! messages and commit a processed turn, so the type system keeps processing serialized.
//!
//! On PostgreSQL it is a session-level advisory lock held on a dedicated pooled
//! connection, so several `serve` instances never process one conversation at once; the
//! work done under the lock runs on that same connection, so a processing conversation
//! needs one connection, not two (two would let a busy pool deadlock on itself). On
//! SQLite one process owns the file, the engine's in-process lock is enough, and the
//! work goes through the single writer connection.

use sqlx::Any;
use sqlx::pool::PoolConnection;

use super::{Backend, QueryContext, Store, StoreError};

/// Held while a conversation's messages are processed. Call [`ConversationLock::release`];
/// if it is dropped instead (a panic, a cancelled task) its connection is closed, which
/// makes PostgreSQL release the lock, rather than returned to the pool still locked.
#[derive(Debug)]
pub struct ConversationLock {
    conversation_id: String,
    connection: Option<PoolConnection<Any>>,
}

impl ConversationLock {
    pub(super) async fn acquire(store: &Store, conversation_id: &str) -> Result<Self, StoreError> {
        let conversation_id = conversation_id.to_owned();
        if store.backend == Backend::Sqlite {
            return Ok(Self {
                conversation_id,
                connection: None,
            });
        }
        let mut connection = store
            .pool
            .acquire()
            .await
            .context("waiting for a database connection to lock a conversation")?;
        // `pg_advisory_lock` returns `void`, which the Any driver cannot decode; wrap it.
        let locked =
            sqlx::query("SELECT 1::BIGINT FROM (SELECT pg_advisory_lock(hashtext($1))) AS l")
                .bind(&conversation_id)
                .execute(&mut *connection)
                .await;
        if let Err(source) = locked {
            connection.close_on_drop();
            return Err(StoreError::Query {
                context: "locking a conversation",
                source,
            });
        }
        Ok(Self {
            conversation_id,
            connection: Some(connection),
        })
    }

    pub fn conversation_id(&self) -> &str {
        &self.conversation_id
    }

    /// The connection holding the lock (PostgreSQL), on which work under the lock runs.
    pub(super) fn connection(&mut self) -> Option<&mut PoolConnection<Any>> {
        self.connection.as_mut()
    }

    /// Releases the lock and returns the connection to the pool.
    pub async fn release(mut self) {
        if let Some(mut connection) = self.connection.take() {
            let unlocked =
                sqlx::query("SELECT 1::BIGINT FROM (SELECT pg_advisory_unlock(hashtext($1))) AS l")
                    .bind(&self.conversation_id)
                    .execute(&mut *connection)
                    .await;
            if let Err(err) = unlocked {
                tracing::warn!(cause = %err, "could not release a conversation lock; closing its connection");
                connection.close_on_drop();
            }
        }
    }
}

impl Drop for ConversationLock {
    fn drop(&mut self) {
        if let Some(mut connection) = self.connection.take() {
            connection.close_on_drop();
        }
    }
}
