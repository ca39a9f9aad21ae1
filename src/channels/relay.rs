//! Sends what Telegram and Viber customers have not received yet: messages the bot
//! pushed (reminders, outreach) and replies a failed send left behind.
//!
//! Whoever commits a reply usually sends it: a channel's turn handler sends its turn's
//! replies at once. So the relay only takes what nobody else holds: pushed messages after
//! a short settle (a push the linker hands back to the adapter is sent by the adapter),
//! turn replies after a grace period, and always the oldest first, never overtaking
//! one still in someone's hands. It hears of pushes from `Engine::subscribe` and sweeps
//! the store every few seconds for the rest (and for notices it missed).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::broadcast::error::RecvError;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::delivery::{Deliver, DeliveryError, send_committed};
use crate::engine::{ChannelIdentity, ChannelKind, Engine, EngineError, Outbound};
use crate::outbound::backoff;
use crate::store::{ConversationHandle, Store, StoreError, now_ms};

/// Conversations read per sweep query.
const SWEEP_PAGE: i64 = 100;

/// A conversation and its customer's address on its channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    pub conversation: ConversationHandle,
    /// A Telegram chat id, a Viber user id.
    pub external_id: String,
}

impl Recipient {
    pub fn identity(&self) -> ChannelIdentity {
        ChannelIdentity::new(self.conversation.channel, self.external_id.clone())
    }
}

/// How patient the relay is.
#[derive(Debug, Clone, Copy)]
pub struct RelayTiming {
    /// How often the store is swept for replies nobody delivered.
    pub sweep_every: Duration,
    /// A turn reply younger than this may still be on its way from its turn handler.
    pub grace: Duration,
    /// A pushed message younger than this may still be on its way from whoever pushed it.
    pub push_settle: Duration,
    /// The first wait after a failed send; doubles with each failure.
    pub first_retry: Duration,
    /// How long a customer who cannot be reached (blocked the bot) is left alone.
    pub unreachable_pause: Duration,
}

impl Default for RelayTiming {
    fn default() -> Self {
        Self {
            sweep_every: Duration::from_secs(5),
            grace: Duration::from_secs(10),
            push_settle: Duration::from_secs(5),
            first_retry: Duration::from_secs(2),
            unreachable_pause: Duration::from_secs(6 * 3600),
        }
    }
}

/// Relays until `token` is cancelled.
pub async fn run(
    engine: Arc<Engine>,
    store: Store,
    channels: Vec<Arc<dyn Deliver>>,
    token: CancellationToken,
) {
    run_with(engine, store, channels, RelayTiming::default(), token).await;
}

/// [`run`] with other timings (tests).
pub async fn run_with(
    engine: Arc<Engine>,
    store: Store,
    channels: Vec<Arc<dyn Deliver>>,
    timing: RelayTiming,
    token: CancellationToken,
) {
    let mut relay = Relay {
        engine,
        store,
        channels,
        timing,
        due: HashMap::new(),
        failures: HashMap::new(),
        paused: HashMap::new(),
    };
    let mut notices = relay.engine.subscribe();
    let mut next_sweep = Instant::now();
    loop {
        let wake = relay.due.values().copied().fold(next_sweep, Instant::min);
        tokio::select! {
            biased;
            () = token.cancelled() => break,
            notice = notices.recv() => match notice {
                Ok(conversation_id) => relay.heard_of(&conversation_id),
                Err(RecvError::Lagged(missed)) => {
                    tracing::debug!(missed, "the relay missed push notices; sweeping instead");
                    next_sweep = Instant::now();
                }
                // The engine is gone: nothing will be pushed any more.
                Err(RecvError::Closed) => {
                    token.cancelled().await;
                    break;
                }
            },
            () = tokio::time::sleep_until(wake) => {
                let work = async {
                    relay.deliver_due().await;
                    if Instant::now() >= next_sweep {
                        relay.sweep().await;
                        next_sweep = Instant::now() + relay.timing.sweep_every;
                    }
                };
                // A send cut short may be repeated after a restart; a shutdown that
                // waits on a platform's rate limit would be worse.
                tokio::select! {
                    () = token.cancelled() => break,
                    () = work => {}
                }
            }
        }
    }
    tracing::debug!("relay stopped");
}

struct Relay {
    engine: Arc<Engine>,
    store: Store,
    channels: Vec<Arc<dyn Deliver>>,
    timing: RelayTiming,
    /// Conversations to look at, and when.
    due: HashMap<String, Instant>,
    /// Failed sends in a row, per conversation.
    failures: HashMap<String, u32>,
    /// Customers who cannot be reached, left alone until then.
    paused: HashMap<String, Instant>,
}

/// Why a relay attempt did not finish.
#[derive(Debug, thiserror::Error)]
enum AttemptError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Relay {
    fn channel(&self, kind: ChannelKind) -> Option<&Arc<dyn Deliver>> {
        self.channels.iter().find(|c| c.channel() == kind)
    }

    fn kinds(&self) -> Vec<ChannelKind> {
        self.channels.iter().map(|c| c.channel()).collect()
    }

    /// A push was committed: look after the settle time, unless a retry is set already.
    fn heard_of(&mut self, conversation_id: &str) {
        let at = Instant::now() + self.timing.push_settle;
        self.due.entry(conversation_id.to_owned()).or_insert(at);
    }

    /// Waiting out a failure or an unreachable customer.
    fn waiting(&self, conversation_id: &str, now: Instant) -> bool {
        self.due.get(conversation_id).is_some_and(|at| *at > now)
            || self
                .paused
                .get(conversation_id)
                .is_some_and(|until| *until > now)
    }

    async fn deliver_due(&mut self) {
        let now = Instant::now();
        let ready: Vec<String> = self
            .due
            .iter()
            .filter(|(_, at)| **at <= now)
            .map(|(id, _)| id.clone())
            .collect();
        for conversation_id in ready {
            self.due.remove(&conversation_id);
            let recipient = match self.store.recipient(&conversation_id).await {
                Ok(Some(recipient)) => recipient,
                Ok(None) => continue,
                Err(err) => {
                    self.failed(&conversation_id, &err);
                    continue;
                }
            };
            self.attempt(&recipient).await;
        }
    }

    /// Conversations with replies older than the grace period that nobody delivered.
    async fn sweep(&mut self) {
        let now = Instant::now();
        self.paused.retain(|_, until| *until > now);
        let older_than = now_ms() - self.timing.grace.as_millis() as i64;
        let kinds = self.kinds();
        let mut after: Option<String> = None;
        loop {
            let page = match self
                .store
                .conversations_with_undelivered(&kinds, older_than, after.as_deref(), SWEEP_PAGE)
                .await
            {
                Ok(page) => page,
                Err(err) => {
                    tracing::error!(cause = %err, "the relay could not look for undelivered replies; trying again at the next sweep");
                    return;
                }
            };
            let full = page.len() as i64 == SWEEP_PAGE;
            after = page.last().map(|r| r.conversation.id.clone());
            for recipient in page {
                if !self.waiting(&recipient.conversation.id, now) {
                    self.due.remove(&recipient.conversation.id);
                    self.attempt(&recipient).await;
                }
            }
            if !full {
                return;
            }
        }
    }

    /// Sends what is the relay's to send in one conversation, and plans what comes next.
    async fn attempt(&mut self, recipient: &Recipient) {
        let id = recipient.conversation.id.clone();
        let Some(channel) = self.channel(recipient.conversation.channel).cloned() else {
            return;
        };
        if self.waiting(&id, Instant::now()) {
            return;
        }
        let (ready, held) = match self.ready(recipient).await {
            Ok(split) => split,
            Err(err) => {
                self.failed(&id, &err);
                return;
            }
        };
        if held {
            // Someone is sending the newest ones; look again once they are old enough.
            self.due
                .insert(id.clone(), Instant::now() + self.timing.push_settle);
        }
        if ready.is_empty() {
            return;
        }
        let language = match self.engine.language_of(&id).await {
            Ok(language) => language,
            Err(err) => {
                self.failed(&id, &err);
                return;
            }
        };
        let error = send_committed(
            &self.engine,
            channel.as_ref(),
            &recipient.external_id,
            &ready,
            language,
        )
        .await;
        match error {
            None => {
                self.failures.remove(&id);
            }
            Some(DeliveryError::Unreachable { reason, .. }) => {
                self.failures.remove(&id);
                self.due.remove(&id);
                let until = Instant::now() + self.timing.unreachable_pause;
                if self.paused.insert(id.clone(), until).is_none() {
                    tracing::warn!(conversation = %id, channel = %recipient.conversation.channel, %reason,
                        pause = ?self.timing.unreachable_pause,
                        "the customer cannot be reached; their undelivered messages wait until the pause ends");
                }
            }
            Some(err @ DeliveryError::Failed { .. }) => self.failed(&id, &err),
        }
    }

    /// The undelivered replies the relay may send now (the oldest ones, up to the first
    /// still in someone's hands), and whether any are held back.
    async fn ready(&self, recipient: &Recipient) -> Result<(Vec<Outbound>, bool), AttemptError> {
        let undelivered = self.engine.undelivered(&recipient.conversation).await?;
        if undelivered.is_empty() {
            return Ok((undelivered, false));
        }
        let now = now_ms();
        let in_hand: HashSet<i64> = self
            .store
            .undelivered_in_hand(
                &recipient.conversation.id,
                now - self.timing.push_settle.as_millis() as i64,
                now - self.timing.grace.as_millis() as i64,
            )
            .await?
            .into_iter()
            .collect();
        let total = undelivered.len();
        let ready: Vec<Outbound> = undelivered
            .into_iter()
            .take_while(|reply| !in_hand.contains(&reply.id))
            .collect();
        let held = ready.len() < total;
        Ok((ready, held))
    }

    /// Retries the conversation later, waiting longer after each failure in a row.
    fn failed(&mut self, conversation_id: &str, err: &dyn std::error::Error) {
        let attempts = self.failures.entry(conversation_id.to_owned()).or_default();
        let wait = backoff(self.timing.first_retry, *attempts);
        *attempts = attempts.saturating_add(1);
        tracing::debug!(conversation = %conversation_id, cause = %err, ?wait, "relay retries later");
        self.due
            .insert(conversation_id.to_owned(), Instant::now() + wait);
    }
}
