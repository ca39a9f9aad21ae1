//! Two engines (as two `serve` instances would have) on one PostgreSQL database receive
//! interleaved messages of the same conversation: every message is processed exactly
//! once, strictly in the order it was stored, and never two at a time.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Value, json};
use showroom::config::{Localized, StoreConfig};
use showroom::engine::{
    ChannelIdentity, ChannelKind, Engine, EngineSettings, InboundContent, Input, Language, Reply,
    RouteError, Router, Turn,
};
use showroom::store::{ConversationStore, Direction, Store};

use crate::support::PgDatabase;

/// Numbers the messages it sees in its session state, and notices overlapping calls
/// (the shared `inside` counter spans both engines, as a real side effect would).
struct SequenceRouter {
    inside: Arc<AtomicUsize>,
}

#[async_trait]
impl Router for SequenceRouter {
    async fn route(&self, turn: &mut Turn<'_>) -> Result<(), RouteError> {
        let overlapping = self.inside.fetch_add(1, Ordering::SeqCst) > 0;
        // Widen the window in which a second instance could slip in.
        tokio::time::sleep(Duration::from_millis(3)).await;
        let seen = turn.state.get("seen").and_then(Value::as_u64).unwrap_or(0) + 1;
        *turn.state = json!({ "seen": seen });
        let text = match &turn.input {
            Input::Text(text) => text.clone(),
            other => format!("{other:?}"),
        };
        turn.reply(Reply::text(format!(
            "{seen}|{text}|{}",
            if overlapping { "OVERLAP" } else { "alone" }
        )));
        self.inside.fetch_sub(1, Ordering::SeqCst);
        Ok(())
    }

    fn in_progress(&self, _: &Value) -> bool {
        false
    }
}

#[tokio::test]
async fn two_instances_process_one_conversation_in_order_once() {
    let db = PgDatabase::create().await;
    let config = StoreConfig {
        max_connections: 8,
        acquire_timeout: Duration::from_secs(10),
    };
    let inside = Arc::new(AtomicUsize::new(0));
    let settings = EngineSettings {
        max_concurrent_turns: 8,
        default_language: Language::Es,
        idle_timeout: Duration::from_secs(3600),
        resume_prompt: Localized::new("¿Seguimos?", "Continue?"),
    };
    let mut engines = Vec::new();
    let mut stores = Vec::new();
    for _ in 0..2 {
        let store = Store::connect(&db.url, &config).await.expect("connect");
        stores.push(store.clone());
        engines.push(Arc::new(Engine::new(
            Arc::new(store),
            Arc::new(SequenceRouter {
                inside: inside.clone(),
            }),
            settings.clone(),
        )));
    }
    let identity = ChannelIdentity::new(ChannelKind::Telegram, "interleaved");
    let conversation = engines[0].open(&identity).await.unwrap();
    assert_eq!(
        engines[1].open(&identity).await.unwrap().id,
        conversation.id
    );

    // Four senders per instance, all at once, each sending its own numbered messages.
    const PER_SENDER: usize = 10;
    let mut tasks = Vec::new();
    for sender in 0..8 {
        let engine = engines[sender % 2].clone();
        let conversation = conversation.clone();
        tasks.push(tokio::spawn(async move {
            for n in 0..PER_SENDER {
                let text = format!("s{sender}-m{n}");
                let replies = engine
                    .handle(
                        &conversation,
                        InboundContent::Text { text: text.clone() },
                        Some(&text),
                    )
                    .await
                    .expect("handled");
                assert_eq!(replies.len(), 1, "one reply for {text}");
                assert!(
                    replies[0].reply.text.contains(&format!("|{text}|")),
                    "reply {:?} is for {text}",
                    replies[0]
                );
            }
        }));
    }
    for task in tasks {
        task.await.expect("sender panicked");
    }

    let transcript = stores[0].transcript(&conversation.id).await.unwrap();
    let inbound: Vec<_> = transcript
        .iter()
        .filter(|m| m.direction == Direction::In)
        .collect();
    let outbound: Vec<_> = transcript
        .iter()
        .filter(|m| m.direction == Direction::Out)
        .collect();
    assert_eq!(inbound.len(), 8 * PER_SENDER, "no message lost or doubled");
    assert_eq!(outbound.len(), 8 * PER_SENDER, "exactly one reply each");
    for (position, message) in inbound.iter().enumerate() {
        let reply = outbound
            .iter()
            .find(|o| o.reply_to == Some(message.id))
            .expect("a reply");
        let expected = format!("{}|{}|alone", position + 1, message.text);
        assert_eq!(
            reply.text, expected,
            "processed in stored order, one at a time"
        );
    }
    // Each sender's own messages keep their order.
    for sender in 0..8 {
        let mine: Vec<usize> = inbound
            .iter()
            .filter_map(|m| {
                m.text
                    .strip_prefix(&format!("s{sender}-m"))
                    .map(|n| n.parse().unwrap())
            })
            .collect();
        assert_eq!(mine, (0..PER_SENDER).collect::<Vec<_>>());
    }
    for store in stores {
        store.close().await;
    }
}

/// Regression: processing must need one connection per conversation, not two. With a
/// pool of two connections and twenty conversations at once, a design that holds the
/// lock on one connection and works on another starves until the acquire timeout.
#[tokio::test]
async fn a_small_pool_serves_many_conversations_at_once() {
    let db = PgDatabase::create().await;
    let config = StoreConfig {
        max_connections: 2,
        acquire_timeout: Duration::from_secs(20),
    };
    let store = Store::connect(&db.url, &config).await.expect("connect");
    let engine = Arc::new(Engine::new(
        Arc::new(store.clone()),
        Arc::new(SequenceRouter {
            inside: Arc::new(AtomicUsize::new(0)),
        }),
        EngineSettings {
            max_concurrent_turns: 8,
            default_language: Language::Es,
            idle_timeout: Duration::from_secs(3600),
            resume_prompt: Localized::new("¿Seguimos?", "Continue?"),
        },
    ));
    let mut tasks = Vec::new();
    for customer in 0..20 {
        let engine = engine.clone();
        tasks.push(tokio::spawn(async move {
            let identity = ChannelIdentity::new(ChannelKind::Viber, format!("customer-{customer}"));
            let conversation = engine.open(&identity).await?;
            for n in 0..3 {
                let replies = engine
                    .handle(
                        &conversation,
                        InboundContent::Text {
                            text: format!("m{n}"),
                        },
                        None,
                    )
                    .await?;
                assert!(
                    replies[0]
                        .reply
                        .text
                        .starts_with(&format!("{}|m{n}|", n + 1))
                );
            }
            Ok::<_, showroom::engine::EngineError>(())
        }));
    }
    for task in tasks {
        task.await
            .expect("no panic")
            .expect("every message handled without exhausting the pool");
    }
    store.close().await;
}
