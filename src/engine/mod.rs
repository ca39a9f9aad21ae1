//! The conversation loop: find the customer and conversation of a channel identity,
//! commit each inbound message before looking at it, process one conversation's
//! messages strictly in order (in-process stripes plus the store's cross-instance lock),
//! run the router, and commit the replies before any channel sends them.
//!
//! Processing drains *every* pending message of the conversation in id order, not just
//! the caller's: a message stored by another instance, or left unprocessed by a crash,
//! is handled before newer ones, so order holds even across processes.
//!
//! Messages the bot sends on its own (reminders, outreach) go through `Engine::push`,
//! under the same locks, with a dedupe key so a retry never sends them twice.

mod menu;
mod message;
mod notes;
mod ordering;
mod push;
mod router;
mod session;
mod stream;

use std::sync::Arc;
use std::time::{Duration, Instant};

pub use menu::{MENU_PAYLOAD, MenuRouter};
pub use message::{
    Button, ChannelIdentity, ChannelKind, Citation, Inbound, InboundContent, Language, Outbound,
    Reply,
};
pub use notes::{ActionNote, Observation, ObservedTurn, TurnNotes, TurnObserver};
pub use ordering::ConversationLocks;
pub use router::{Input, RouteError, Router, Turn};
pub use session::{Session, fold};
pub use stream::{ReplyStream, StreamEvent, StreamWriter};

use crate::config::Localized;
use crate::store::{
    ConversationHandle, ConversationLock, ConversationStore, PendingInbound, PushCommit,
    StoreError, TurnCommit, now_ms,
};

/// Payloads of the buttons under the "continue where you left off?" prompt.
pub const RESUME_CONTINUE: &str = "resume:continue";
pub const RESUME_RESTART: &str = "resume:restart";

/// The `Start` payload of a conversation carried over from another channel (after
/// [`Engine::adopt`]): the customer is told so and gets the question they were at again.
pub const LINKED_START: &str = "link:continue";

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("there is no conversation {0}")]
    UnknownConversation(String),
}

/// Engine settings that are not the router's business.
#[derive(Debug, Clone)]
pub struct EngineSettings {
    pub default_language: Language,
    pub idle_timeout: Duration,
    pub resume_prompt: Localized,
    /// Conversations processed at once. On PostgreSQL each holds a connection for its
    /// lock while the router (a booking, say) needs others from the same pool; capping
    /// turns below the pool size keeps them from starving each other. Half the pool.
    pub max_concurrent_turns: usize,
}

pub struct Engine {
    store: Arc<dyn ConversationStore>,
    router: Arc<dyn Router>,
    locks: ConversationLocks,
    /// Permits for turns under a store lock (see `EngineSettings::max_concurrent_turns`).
    turns: tokio::sync::Semaphore,
    settings: EngineSettings,
    /// Conversations with newly pushed messages (see `push`).
    pushed: tokio::sync::broadcast::Sender<Arc<str>>,
    /// The leads desk, when there is one.
    observer: Option<Arc<dyn TurnObserver>>,
}

impl Engine {
    pub fn new(
        store: Arc<dyn ConversationStore>,
        router: Arc<dyn Router>,
        settings: EngineSettings,
    ) -> Self {
        Self {
            store,
            router,
            locks: ConversationLocks::default(),
            turns: tokio::sync::Semaphore::new(settings.max_concurrent_turns.max(1)),
            settings,
            pushed: push::notifier(),
            observer: None,
        }
    }

    /// Lets `observer` learn from every turn (the leads desk).
    pub fn with_observer(mut self, observer: Arc<dyn TurnObserver>) -> Self {
        self.observer = Some(observer);
        self
    }

    /// The conversation of a channel identity, created on first contact.
    pub async fn open(
        &self,
        identity: &ChannelIdentity,
    ) -> Result<ConversationHandle, EngineError> {
        Ok(self.store.open_conversation(identity, now_ms()).await?)
    }

    /// The conversation of a channel identity, if there is one.
    pub async fn find(
        &self,
        identity: &ChannelIdentity,
    ) -> Result<Option<ConversationHandle>, EngineError> {
        Ok(self.store.find_conversation(identity).await?)
    }

    /// Opens the conversation of an inbound event and handles it.
    pub async fn receive(
        &self,
        inbound: Inbound,
    ) -> Result<(ConversationHandle, Vec<Outbound>), EngineError> {
        let conversation = self.open(&inbound.identity).await?;
        let replies = self
            .handle(
                &conversation,
                inbound.content,
                inbound.channel_message_id.as_deref(),
            )
            .await?;
        Ok((conversation, replies))
    }

    /// Commits one inbound message, processes it (after any older pending ones) and
    /// returns its committed replies. A redelivered `channel_message_id` is not processed
    /// twice; its original replies are returned.
    pub async fn handle(
        &self,
        conversation: &ConversationHandle,
        content: InboundContent,
        channel_message_id: Option<&str>,
    ) -> Result<Vec<Outbound>, EngineError> {
        self.handle_streaming(conversation, content, channel_message_id, None)
            .await
    }

    /// [`Engine::handle`], streaming the replies to this message to `stream` while they
    /// are composed (replies to older pending messages are not streamed).
    #[tracing::instrument(skip_all, fields(conversation = %conversation.id))]
    pub async fn handle_streaming(
        &self,
        conversation: &ConversationHandle,
        content: InboundContent,
        channel_message_id: Option<&str>,
        stream: Option<&ReplyStream>,
    ) -> Result<Vec<Outbound>, EngineError> {
        let appended = self
            .store
            .append_inbound(&conversation.id, &content, channel_message_id, now_ms())
            .await?;
        if appended.duplicate {
            tracing::debug!(
                message = appended.id,
                "redelivered message; not processed twice"
            );
        } else {
            metrics::counter!("showroom_messages_total",
                "channel" => conversation.channel.as_str(), "direction" => "in")
            .increment(1);
        }
        match self
            .process_pending(conversation, appended.id, stream)
            .await?
        {
            Some(replies) => Ok(replies),
            // Processed earlier (a redelivery) or by another instance: read what it answered.
            None => Ok(self.store.replies_to(appended.id).await?),
        }
    }

    /// Replies committed but never delivered, for a channel to send on reconnect.
    pub async fn undelivered(
        &self,
        conversation: &ConversationHandle,
    ) -> Result<Vec<Outbound>, EngineError> {
        Ok(self.store.undelivered(&conversation.id).await?)
    }

    /// Records that a channel handed these replies to the customer.
    pub async fn mark_delivered(&self, replies: &[Outbound]) -> Result<(), EngineError> {
        let ids: Vec<i64> = replies.iter().map(|r| r.id).collect();
        self.store.mark_delivered(&ids, now_ms()).await?;
        Ok(())
    }

    /// Processes messages a crash left stored but unprocessed. Their replies wait,
    /// undelivered, until the channel reconnects.
    pub async fn recover(&self) -> Result<usize, EngineError> {
        let conversations = self.store.conversations_with_pending().await?;
        for conversation in &conversations {
            self.process_pending(conversation, i64::MAX, None).await?;
        }
        Ok(conversations.len())
    }

    /// Waits for a free turn slot. The semaphore is never closed, so this always gets
    /// one; `None` would only mean "go ahead without".
    pub(crate) async fn turn_permit(&self) -> Option<tokio::sync::SemaphorePermit<'_>> {
        self.turns.acquire().await.ok()
    }

    /// Processes the conversation's pending messages up to `upto`, under its locks, and
    /// returns the replies to `upto` when this call processed it.
    async fn process_pending(
        &self,
        conversation: &ConversationHandle,
        upto: i64,
        stream: Option<&ReplyStream>,
    ) -> Result<Option<Vec<Outbound>>, EngineError> {
        let _in_process = self.locks.lock(&conversation.id).await;
        let _turn = self.turn_permit().await;
        let mut lock = self.store.lock_conversation(&conversation.id).await?;
        let result = async {
            let mut replies_to_upto = None;
            while let Some(pending) = self.store.next_pending(&mut lock).await? {
                let id = pending.id;
                let stream = stream.filter(|_| id == upto);
                let replies = self
                    .process_one(conversation, &mut lock, pending, stream)
                    .await?;
                if id == upto {
                    replies_to_upto = Some(replies);
                }
                if id >= upto {
                    break;
                }
            }
            Ok(replies_to_upto)
        }
        .await;
        lock.release().await;
        result
    }

    async fn process_one(
        &self,
        conversation: &ConversationHandle,
        lock: &mut ConversationLock,
        pending: PendingInbound,
        stream: Option<&ReplyStream>,
    ) -> Result<Vec<Outbound>, EngineError> {
        let started = Instant::now();
        let record = self.store.load_session(lock).await?;
        let mut session = Session::from_stored(&record.state);
        let language = session.language.unwrap_or(self.settings.default_language);

        let (input, inbound_title) = session.input_for(pending.content);
        let mut replies = Vec::new();
        let idle = record.last_activity_at.is_some_and(|last| {
            pending.received_at.saturating_sub(last) > self.settings.idle_timeout.as_millis() as i64
        });
        let input = match input {
            Input::Start {
                payload: Some(payload),
            } if payload == LINKED_START => {
                replies.push(Reply::text(match language {
                    Language::Es => {
                        "¡Listo! Seguimos aquí la conversación que empezaste en la web."
                    }
                    Language::En => {
                        "Done! We carry on here with the conversation you started on the web."
                    }
                }));
                session.resume_pending = false;
                if self.router.in_progress(&session.router) {
                    Input::Resume
                } else {
                    Input::Start { payload: None }
                }
            }
            other => other,
        };
        let input = if session.resume_pending {
            session.resume_pending = false;
            match input {
                Input::Button { payload } if payload == RESUME_CONTINUE => Some(Input::Resume),
                Input::Button { payload } if payload == RESUME_RESTART => {
                    session.router = serde_json::Value::Null;
                    Some(Input::Start { payload: None })
                }
                other => Some(other),
            }
        } else if idle
            && !matches!(input, Input::Start { .. })
            && self.router.in_progress(&session.router)
        {
            session.resume_pending = true;
            replies.push(self.resume_prompt(language));
            None
        } else {
            Some(input)
        };

        let mut language = language;
        let mut observed_outbox = Vec::new();
        if let Some(input) = input {
            let mut turn = Turn {
                input,
                channel: conversation.channel,
                customer_id: &conversation.customer_id,
                conversation_id: &conversation.id,
                language,
                state: &mut session.router,
                replies: Vec::new(),
                stream,
                notes: TurnNotes::default(),
            };
            match self.router.route(&mut turn).await {
                Ok(()) => {
                    language = turn.language;
                    replies.append(&mut turn.replies);
                    let notes = std::mem::take(&mut turn.notes);
                    let input = turn.input.clone();
                    if let Some(observer) = &self.observer {
                        let observed = observer
                            .observe(ObservedTurn {
                                customer_id: &conversation.customer_id,
                                conversation_id: &conversation.id,
                                channel: conversation.channel,
                                language,
                                input: &input,
                                notes: &notes,
                            })
                            .await;
                        match observed {
                            Ok(mut observation) => {
                                replies.append(&mut observation.replies);
                                observed_outbox = observation.outbox;
                            }
                            // The customer's turn goes on: a lead that could not be
                            // updated now is updated by their next message.
                            Err(err) => {
                                tracing::error!(cause = %err, message = pending.id, "could not update the lead of this turn");
                            }
                        }
                    }
                }
                Err(err) => {
                    tracing::error!(cause = %err, message = pending.id, "router failed; apologising");
                    replies.push(Reply::text(match language {
                        Language::Es => "Lo siento, tuve un problema. ¿Lo intentamos de nuevo? Escribe «menú» para ver las opciones.",
                        Language::En => "Sorry, something went wrong on my side. Type \"menu\" to see the options.",
                    }));
                }
            }
        }
        if language != self.settings.default_language || session.language.is_some() {
            session.language = Some(language);
        }
        session.remember_offered(&replies);

        let state = session.to_stored();
        let outbound = self
            .store
            .commit_turn(
                lock,
                TurnCommit {
                    inbound_id: pending.id,
                    inbound_title: inbound_title.as_deref(),
                    session_state: &state,
                    replies: &replies,
                    now: now_ms(),
                },
            )
            .await?;
        if let Some(observer) = self
            .observer
            .as_ref()
            .filter(|_| !observed_outbox.is_empty())
        {
            observer.committed(observed_outbox);
        }
        metrics::counter!("showroom_messages_total",
            "channel" => conversation.channel.as_str(), "direction" => "out")
        .increment(outbound.len() as u64);
        metrics::histogram!("showroom_message_processing_seconds")
            .record(started.elapsed().as_secs_f64());
        Ok(outbound)
    }

    /// Makes `target` continue `source`'s conversation (a customer who moved from the
    /// widget to Telegram or Viber): `target`'s session becomes a copy of `source`'s —
    /// the flow under way, its answers, the language. Handle a `Start` with
    /// [`LINKED_START`] next, so the customer gets the question they were at.
    #[tracing::instrument(skip_all, fields(conversation = %target.id, from = %source_id))]
    pub async fn adopt(
        &self,
        target: &ConversationHandle,
        source_id: &str,
    ) -> Result<(), EngineError> {
        let Some(source_state) = self.store.session_state(source_id).await? else {
            return Err(EngineError::UnknownConversation(source_id.to_owned()));
        };
        self.update_session(target, |_| {
            let mut session = Session::from_stored(&source_state);
            // Buttons offered on the web are not on screen here.
            session.resume_pending = false;
            Some(session)
        })
        .await
    }

    /// Holds the conversation in `language` unless it already has one (the customer's
    /// app language on Telegram or Viber, on their first message). A customer who
    /// switched languages keeps their choice.
    pub async fn prefer_language(
        &self,
        conversation: &ConversationHandle,
        language: Language,
    ) -> Result<(), EngineError> {
        if let Some(state) = self.store.session_state(&conversation.id).await?
            && Session::from_stored(&state).language.is_some()
        {
            return Ok(());
        }
        self.update_session(conversation, |mut session| {
            // Checked again under the lock: a turn may have set it meanwhile.
            if session.language.is_some() {
                return None;
            }
            session.language = Some(language);
            Some(session)
        })
        .await
    }

    /// Rewrites the conversation's session under its locks, like a turn would;
    /// `change` returns `None` to leave it as it is.
    async fn update_session(
        &self,
        conversation: &ConversationHandle,
        change: impl FnOnce(Session) -> Option<Session>,
    ) -> Result<(), EngineError> {
        let _in_process = self.locks.lock(&conversation.id).await;
        let _turn = self.turn_permit().await;
        let mut lock = self.store.lock_conversation(&conversation.id).await?;
        let result = async {
            let record = self.store.load_session(&mut lock).await?;
            let Some(session) = change(Session::from_stored(&record.state)) else {
                return Ok(());
            };
            let state = session.to_stored();
            self.store
                .commit_push(
                    &mut lock,
                    PushCommit {
                        replies: &[],
                        session_state: Some(&state),
                        dedupe_key: None,
                        now: now_ms(),
                    },
                )
                .await
                .map(|_| ())
        }
        .await;
        lock.release().await;
        Ok(result?)
    }

    fn resume_prompt(&self, language: Language) -> Reply {
        let (yes, restart) = match language {
            Language::Es => ("Continuar", "Empezar de nuevo"),
            Language::En => ("Continue", "Start over"),
        };
        Reply::text(self.settings.resume_prompt.get(language)).with_buttons(vec![
            Button::new(yes, RESUME_CONTINUE),
            Button::new(restart, RESUME_RESTART),
        ])
    }
}
