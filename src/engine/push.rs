//! Messages the bot sends without being written to (reminders, outreach). A push is
//! committed under the conversation's locks like a turn, so it never lands in the middle
//! of one; a dedupe key makes a retried push return the first one's messages instead of
//! sending twice. After the commit, live connections of this process are told (a
//! broadcast of conversation ids); connections on other instances find the messages on
//! their next periodic check, and HTTP-only clients with their next request.

use std::sync::Arc;

use tokio::sync::broadcast;

use super::{Engine, EngineError, Language, Outbound, Reply, Session};
use crate::store::{PushCommit, now_ms};

/// Notices kept for slow listeners; one that falls further behind just checks its
/// conversation for undelivered messages.
pub(super) const NOTICE_BUFFER: usize = 1024;

/// Tells live connections that a conversation has new undelivered messages.
pub(super) fn notifier() -> broadcast::Sender<Arc<str>> {
    broadcast::channel(NOTICE_BUFFER).0
}

impl Engine {
    /// Commits bot messages to a conversation that did not write, under its locks. With
    /// a `dedupe_key` used before, writes nothing and returns the messages written then.
    /// The returned messages are not delivered yet: live connections are notified.
    #[tracing::instrument(skip_all, fields(conversation = %conversation_id))]
    pub async fn push(
        &self,
        conversation_id: &str,
        replies: Vec<Reply>,
        dedupe_key: Option<&str>,
    ) -> Result<Vec<Outbound>, EngineError> {
        let Some(conversation) = self.store.conversation(conversation_id).await? else {
            return Err(EngineError::UnknownConversation(conversation_id.to_owned()));
        };
        let _in_process = self.locks.lock(conversation_id).await;
        let _turn = self.turn_permit().await;
        let mut lock = self.store.lock_conversation(conversation_id).await?;
        let result = async {
            // Buttons of a push become what typed text is matched against ("1",
            // "Agendar"); a push without buttons leaves the current question's alone.
            let state = if replies.iter().any(|r| !r.buttons.is_empty()) {
                let record = self.store.load_session(&mut lock).await?;
                let mut session = Session::from_stored(&record.state);
                session.remember_offered(&replies);
                Some(session.to_stored())
            } else {
                None
            };
            self.store
                .commit_push(
                    &mut lock,
                    PushCommit {
                        replies: &replies,
                        session_state: state.as_deref(),
                        dedupe_key,
                        now: now_ms(),
                    },
                )
                .await
        }
        .await;
        lock.release().await;
        let pushed = result?;
        if pushed.duplicate {
            tracing::debug!("push repeated; returning the messages sent the first time");
        } else {
            metrics::counter!("showroom_messages_total",
                "channel" => conversation.channel.as_str(), "direction" => "out")
            .increment(pushed.outbound.len() as u64);
        }
        // Even for a repeat: the first push may have died before anyone was told.
        let _ = self.pushed.send(Arc::from(conversation_id));
        Ok(pushed.outbound)
    }

    /// Conversation ids with newly pushed messages, as they are committed in this
    /// process. A receiver that lags gets `RecvError::Lagged`: check undelivered then.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<str>> {
        self.pushed.subscribe()
    }

    /// The language the conversation is held in: the session's, else the default.
    pub async fn language_of(&self, conversation_id: &str) -> Result<Language, EngineError> {
        let state = self.store.session_state(conversation_id).await?;
        Ok(state
            .and_then(|state| Session::from_stored(&state).language)
            .unwrap_or(self.settings.default_language))
    }
}
