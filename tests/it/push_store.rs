//! Pushed messages, customers' contacts and consents, and outreach records on every
//! backend (a SQLite file, the machine's PostgreSQL): a push under a used dedupe key
//! writes nothing and returns the first push's messages; the outreach cap and
//! idempotency keys hold.

use std::sync::Arc;
use std::time::Duration;

use showroom::config::{Config, StoreConfig};
use showroom::engine::{
    Button, ChannelIdentity, ChannelKind, Engine, EngineError, EngineSettings, InboundContent,
    Language, MenuRouter, Reply,
};
use showroom::store::{
    ConversationStore, CustomerStore, OutreachCap, OutreachCreated, OutreachRecord, Store,
};

use crate::support::PgDatabase;

fn store_config() -> StoreConfig {
    StoreConfig {
        max_connections: 8,
        acquire_timeout: Duration::from_secs(10),
    }
}

#[tokio::test]
async fn pushes_and_outreach_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("showroom.db").display()
    );
    let store = Store::connect(&url, &store_config()).await.unwrap();
    suite(store.clone()).await;
    store.close().await;
}

#[tokio::test]
async fn pushes_and_outreach_on_postgres() {
    let db = PgDatabase::create().await;
    let store = Store::connect(&db.url, &store_config()).await.unwrap();
    suite(store.clone()).await;
    store.close().await;
}

fn engine(store: &Store) -> Engine {
    let config = Config::defaults_with_data_dir("unused").unwrap();
    Engine::new(
        Arc::new(store.clone()),
        Arc::new(MenuRouter::new(&config.bot, config.menu.clone())),
        EngineSettings {
            max_concurrent_turns: 8,
            default_language: Language::Es,
            idle_timeout: Duration::from_secs(1800),
            resume_prompt: config.bot.resume_prompt.clone(),
        },
    )
}

async fn suite(store: Store) {
    let engine = engine(&store);
    let identity = ChannelIdentity::new(ChannelKind::Telegram, "push-suite-1");
    let conversation = engine.open(&identity).await.unwrap();
    engine
        .handle(&conversation, InboundContent::Start { payload: None }, None)
        .await
        .unwrap();
    let greeting_ids: Vec<i64> = engine
        .undelivered(&conversation)
        .await
        .unwrap()
        .iter()
        .map(|o| o.id)
        .collect();
    engine
        .mark_delivered(&engine.undelivered(&conversation).await.unwrap())
        .await
        .unwrap();

    // A push with two messages, then the same key again: the same two, nothing new.
    let mut notices = engine.subscribe();
    let replies = vec![
        Reply::text("Te recordamos tu cita."),
        Reply::text("¿Necesitas algo más?")
            .with_buttons(vec![Button::new("Mis citas", "flow:my_bookings")]),
    ];
    let first = engine
        .push(&conversation.id, replies.clone(), Some("reminder:1"))
        .await
        .unwrap();
    assert_eq!(first.len(), 2);
    assert!(first.iter().all(|o| !greeting_ids.contains(&o.id)));
    assert_eq!(&*notices.recv().await.unwrap(), conversation.id.as_str());
    let again = engine
        .push(
            &conversation.id,
            vec![Reply::text("otra cosa")],
            Some("reminder:1"),
        )
        .await
        .unwrap();
    assert_eq!(again, first, "the first push's messages, unchanged");
    // A key that merely starts like another is a different key.
    let other = engine
        .push(
            &conversation.id,
            vec![Reply::text("uno")],
            Some("reminder:12"),
        )
        .await
        .unwrap();
    assert_eq!(other.len(), 1);
    let undelivered = engine.undelivered(&conversation).await.unwrap();
    assert_eq!(undelivered.len(), 3, "{undelivered:#?}");
    let transcript = store.transcript(&conversation.id).await.unwrap();
    assert_eq!(
        transcript
            .iter()
            .filter(|m| m.text == "Te recordamos tu cita.")
            .count(),
        1
    );
    // The pushed buttons are what typed text now matches ("1" presses "Mis citas"); the
    // later push without buttons left them alone.
    let state = store
        .session_state(&conversation.id)
        .await
        .unwrap()
        .unwrap();
    assert!(state.contains("flow:my_bookings"), "{state}");

    assert!(matches!(
        engine
            .push("no-such-conversation", vec![Reply::text("x")], None)
            .await,
        Err(EngineError::UnknownConversation(_))
    ));

    // Customers: identity, phone, consent, latest conversation.
    let customer = conversation.customer_id.clone();
    assert_eq!(
        store.customer_by_identity(&identity).await.unwrap(),
        Some(customer.clone())
    );
    assert_eq!(
        store.find_customer_by_phone("+573001112233").await.unwrap(),
        None
    );
    store
        .set_contact(&customer, Some("Ana"), Some("+573001112233"))
        .await
        .unwrap();
    store.set_contact(&customer, None, None).await.unwrap();
    assert_eq!(
        store.find_customer_by_phone("+573001112233").await.unwrap(),
        Some(customer.clone())
    );
    assert_eq!(
        store
            .latest_conversation(&customer)
            .await
            .unwrap()
            .map(|c| c.id),
        Some(conversation.id.clone())
    );
    assert!(!store.has_consent(&customer, "contact").await.unwrap());
    store
        .record_consent(
            &customer, "contact", "telegram", "Acepto.", "2026-12", 1_000,
        )
        .await
        .unwrap();
    assert!(store.has_consent(&customer, "contact").await.unwrap());
    assert!(!store.has_consent(&customer, "marketing").await.unwrap());
    assert_eq!(
        store
            .revoke_consent(&customer, "contact", 2_000)
            .await
            .unwrap(),
        1
    );
    assert!(!store.has_consent(&customer, "contact").await.unwrap());
    // Nothing left to withdraw, and a purpose never granted: nothing happens.
    assert_eq!(
        store
            .revoke_consent(&customer, "contact", 3_000)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store
            .revoke_consent(&customer, "marketing", 3_000)
            .await
            .unwrap(),
        0
    );

    // Outreach: the cap counts within the window; a used key returns the first record.
    let record = |id: &str, key: Option<&str>, at: i64| OutreachRecord {
        id: id.into(),
        customer_id: customer.clone(),
        conversation_id: conversation.id.clone(),
        flow_id: Some("service".into()),
        values: serde_json::json!({"plate": "ABC123"})
            .as_object()
            .unwrap()
            .clone(),
        language: Language::Es,
        message: "Hola".into(),
        created_at: at,
        idempotency_key: key.map(str::to_owned),
    };
    let cap = |since| OutreachCap { max: 2, since };
    assert_eq!(
        store
            .create_outreach(&record("o1", Some("k1"), 10_000), cap(0))
            .await
            .unwrap(),
        OutreachCreated::Created
    );
    match store
        .create_outreach(&record("o2", Some("k1"), 11_000), cap(0))
        .await
        .unwrap()
    {
        OutreachCreated::Existing(earlier) => {
            assert_eq!(*earlier, record("o1", Some("k1"), 10_000))
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        store
            .create_outreach(&record("o3", None, 12_000), cap(0))
            .await
            .unwrap(),
        OutreachCreated::Created
    );
    assert_eq!(
        store
            .create_outreach(&record("o4", None, 13_000), cap(0))
            .await
            .unwrap(),
        OutreachCreated::Capped
    );
    // Outside the window the old ones no longer count.
    assert_eq!(
        store
            .create_outreach(&record("o5", None, 13_000), cap(11_000))
            .await
            .unwrap(),
        OutreachCreated::Created
    );
    assert_eq!(store.outreach_count_since(&customer, 0).await.unwrap(), 3);
    let (flow, values) = store.outreach_offer("o1").await.unwrap().unwrap();
    assert_eq!(
        (flow.as_str(), values["plate"].as_str()),
        ("service", Some("ABC123"))
    );
    assert_eq!(store.outreach_offer("nope").await.unwrap(), None);
}
