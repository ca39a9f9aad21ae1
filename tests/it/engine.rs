//! The engine on a real SQLite file: idle resume, router failures, crash recovery and
//! redelivered messages.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;
use showroom::config::{Config, Localized, StoreConfig};
use showroom::engine::{
    ChannelIdentity, ChannelKind, Engine, EngineSettings, InboundContent, Input, Language,
    MenuRouter, RESUME_CONTINUE, RESUME_RESTART, Reply, RouteError, Router, Turn,
};
use showroom::store::{ConversationStore, Store};

async fn sqlite_store(dir: &tempfile::TempDir) -> Store {
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("engine.db").display()
    );
    Store::connect(
        &url,
        &StoreConfig {
            max_connections: 4,
            acquire_timeout: Duration::from_secs(5),
        },
    )
    .await
    .unwrap()
}

fn settings(idle_timeout: Duration) -> EngineSettings {
    EngineSettings {
        max_concurrent_turns: 8,
        default_language: Language::Es,
        idle_timeout,
        resume_prompt: Localized::new(
            "¿Continuamos donde quedamos?",
            "Continue where we left off?",
        ),
    }
}

fn menu_router() -> Arc<MenuRouter> {
    let config = Config::defaults_with_data_dir("unused").unwrap();
    Arc::new(MenuRouter::new(&config.bot, config.menu))
}

fn text(text: &str) -> InboundContent {
    InboundContent::Text { text: text.into() }
}

fn button(payload: &str) -> InboundContent {
    InboundContent::Button {
        payload: payload.into(),
    }
}

#[tokio::test]
async fn idle_customer_is_asked_to_continue_and_can_resume_or_restart() {
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_store(&dir).await;
    let engine = Engine::new(
        Arc::new(store),
        menu_router(),
        settings(Duration::from_millis(30)),
    );
    let conversation = engine
        .open(&ChannelIdentity::new(ChannelKind::Web, "idle"))
        .await
        .unwrap();
    engine
        .handle(&conversation, InboundContent::Start { payload: None }, None)
        .await
        .unwrap();
    let item = engine
        .handle(&conversation, button("menu:service"), None)
        .await
        .unwrap();
    assert!(item[0].reply.text.contains("placa"));

    tokio::time::sleep(Duration::from_millis(80)).await;
    let prompt = engine
        .handle(&conversation, text("ABC123"), None)
        .await
        .unwrap();
    assert_eq!(prompt[0].reply.text, "¿Continuamos donde quedamos?");
    let payloads: Vec<&str> = prompt[0]
        .reply
        .buttons
        .iter()
        .map(|b| b.payload.as_str())
        .collect();
    assert_eq!(payloads, [RESUME_CONTINUE, RESUME_RESTART]);

    // "Continuar": the pending question is asked again.
    let resumed = engine
        .handle(&conversation, text("continuar"), None)
        .await
        .unwrap();
    assert!(resumed[0].reply.text.contains("placa"), "{resumed:?}");

    tokio::time::sleep(Duration::from_millis(80)).await;
    engine
        .handle(&conversation, text("hola?"), None)
        .await
        .unwrap();
    let restarted = engine
        .handle(&conversation, button(RESUME_RESTART), None)
        .await
        .unwrap();
    assert!(restarted[0].reply.text.contains("¡Hola!"), "{restarted:?}");

    // At the main menu nothing is in progress: a long pause is not interrupted.
    tokio::time::sleep(Duration::from_millis(80)).await;
    let plain = engine
        .handle(&conversation, button("menu:advisor"), None)
        .await
        .unwrap();
    assert!(plain[0].reply.text.contains("asesor"));
}

/// Fails on the text "boom", answers everything else.
struct FlakyRouter;

#[async_trait]
impl Router for FlakyRouter {
    async fn route(&self, turn: &mut Turn<'_>) -> Result<(), RouteError> {
        if turn.input == Input::Text("boom".into()) {
            return Err(RouteError("exploded on purpose".into()));
        }
        turn.reply(Reply::text("ok"));
        Ok(())
    }

    fn in_progress(&self, _: &Value) -> bool {
        false
    }
}

#[tokio::test]
async fn a_failing_router_apologises_and_the_conversation_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_store(&dir).await;
    let engine = Engine::new(
        Arc::new(store.clone()),
        Arc::new(FlakyRouter),
        settings(Duration::from_secs(60)),
    );
    let conversation = engine
        .open(&ChannelIdentity::new(ChannelKind::Cli, "flaky"))
        .await
        .unwrap();
    let apology = engine
        .handle(&conversation, text("boom"), None)
        .await
        .unwrap();
    assert!(apology[0].reply.text.contains("Lo siento"));
    let fine = engine
        .handle(&conversation, text("hola"), None)
        .await
        .unwrap();
    assert_eq!(fine[0].reply.text, "ok");
    // Both messages were processed: nothing is left pending.
    assert!(store.conversations_with_pending().await.unwrap().is_empty());
}

#[tokio::test]
async fn messages_left_by_a_crash_are_processed_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_store(&dir).await;
    let conversation = store
        .open_conversation(&ChannelIdentity::new(ChannelKind::Web, "crashed"), 1)
        .await
        .unwrap();
    // Committed, then the process died before processing it.
    store
        .append_inbound(&conversation.id, &text("hola"), None, 2)
        .await
        .unwrap();
    store
        .append_inbound(&conversation.id, &button("menu:service"), None, 3)
        .await
        .unwrap();

    let engine = Engine::new(
        Arc::new(store.clone()),
        menu_router(),
        settings(Duration::from_secs(60)),
    );
    assert_eq!(engine.recover().await.unwrap(), 1);
    let waiting = engine.undelivered(&conversation).await.unwrap();
    assert_eq!(
        waiting.len(),
        2,
        "one reply per recovered message, in order"
    );
    assert!(waiting[1].reply.text.contains("placa"));
    assert_eq!(engine.recover().await.unwrap(), 0);
}

/// Counts how often it is called.
struct CountingRouter(AtomicUsize);

#[async_trait]
impl Router for CountingRouter {
    async fn route(&self, turn: &mut Turn<'_>) -> Result<(), RouteError> {
        let n = self.0.fetch_add(1, Ordering::SeqCst) + 1;
        turn.reply(Reply::text(format!("call {n}")));
        Ok(())
    }

    fn in_progress(&self, _: &Value) -> bool {
        false
    }
}

#[tokio::test]
async fn a_redelivered_message_is_answered_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_store(&dir).await;
    let router = Arc::new(CountingRouter(AtomicUsize::new(0)));
    let engine = Engine::new(
        Arc::new(store),
        router.clone(),
        settings(Duration::from_secs(60)),
    );
    let conversation = engine
        .open(&ChannelIdentity::new(ChannelKind::Telegram, "7"))
        .await
        .unwrap();
    let first = engine
        .handle(&conversation, text("hola"), Some("update-9"))
        .await
        .unwrap();
    let second = engine
        .handle(&conversation, text("hola"), Some("update-9"))
        .await
        .unwrap();
    assert_eq!(first, second);
    assert_eq!(router.0.load(Ordering::SeqCst), 1);
}
