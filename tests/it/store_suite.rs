//! One store test suite, run against every backend: a SQLite file and the machine's
//! PostgreSQL.

use std::sync::Arc;

use showroom::config::StoreConfig;
use showroom::engine::{Button, ChannelIdentity, ChannelKind, InboundContent, Reply};
use showroom::store::{AuditEntry, AuditStore, ConversationStore, Direction, Store, TurnCommit};

use crate::support::PgDatabase;

fn store_config() -> StoreConfig {
    StoreConfig {
        max_connections: 8,
        acquire_timeout: std::time::Duration::from_secs(5),
    }
}

#[tokio::test]
async fn store_suite_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("nested/showroom.db").display()
    );
    let store = Store::connect(&url, &store_config())
        .await
        .expect("open SQLite");
    suite(store.clone()).await;
    // Migrations are idempotent: opening again applies nothing and keeps the data.
    let again = Store::connect(&url, &store_config())
        .await
        .expect("reopen SQLite");
    assert_eq!(again.list_conversations(100, 0).await.unwrap().len(), 2);
}

#[tokio::test]
async fn store_suite_postgres() {
    let db = PgDatabase::create().await;
    let store = Store::connect(&db.url, &store_config())
        .await
        .expect("open PostgreSQL");
    suite(store.clone()).await;
    store.close().await;
    let again = Store::connect(&db.url, &store_config())
        .await
        .expect("reopen PostgreSQL");
    assert_eq!(again.list_conversations(100, 0).await.unwrap().len(), 2);
    again.close().await;
}

async fn suite(store: Store) {
    store
        .ping(std::time::Duration::from_secs(2))
        .await
        .expect("ping");
    conversations_are_opened_once(&store).await;
    inbound_messages_are_deduplicated_and_ordered(&store).await;
    turns_commit_atomically_and_once(&store).await;
    audit_log_round_trips(&store).await;
}

async fn conversations_are_opened_once(store: &Store) {
    let identity = ChannelIdentity::new(ChannelKind::Web, "identity-a");
    assert_eq!(store.find_conversation(&identity).await.unwrap(), None);
    // Many concurrent first contacts from one identity: one customer, one conversation.
    let store_arc = Arc::new(store.clone());
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let (store, identity) = (store_arc.clone(), identity.clone());
        tasks.push(tokio::spawn(async move {
            store.open_conversation(&identity, 1_000).await
        }));
    }
    let mut handles = Vec::new();
    for task in tasks {
        handles.push(task.await.unwrap().expect("open conversation"));
    }
    assert_eq!(handles.iter().filter(|h| h.created).count(), 1);
    assert!(
        handles
            .iter()
            .all(|h| h.id == handles[0].id && h.customer_id == handles[0].customer_id)
    );
    let found = store.find_conversation(&identity).await.unwrap().unwrap();
    assert_eq!(found.id, handles[0].id);
    assert!(!found.created);
    assert_eq!(found.channel, ChannelKind::Web);
}

async fn inbound_messages_are_deduplicated_and_ordered(store: &Store) {
    let conversation = store
        .open_conversation(&ChannelIdentity::new(ChannelKind::Telegram, "42"), 2_000)
        .await
        .unwrap();
    let first = store
        .append_inbound(
            &conversation.id,
            &InboundContent::Text {
                text: "hola".into(),
            },
            Some("update-1"),
            2_001,
        )
        .await
        .unwrap();
    let again = store
        .append_inbound(
            &conversation.id,
            &InboundContent::Text {
                text: "hola".into(),
            },
            Some("update-1"),
            2_002,
        )
        .await
        .unwrap();
    assert!(!first.duplicate);
    assert!(again.duplicate);
    assert_eq!(first.id, again.id);
    let second = store
        .append_inbound(
            &conversation.id,
            &InboundContent::Button {
                payload: "menu:service".into(),
            },
            None,
            2_003,
        )
        .await
        .unwrap();
    let third = store
        .append_inbound(
            &conversation.id,
            &InboundContent::Contact {
                phone: "+573001234567".into(),
            },
            None,
            2_004,
        )
        .await
        .unwrap();
    assert!(first.id < second.id && second.id < third.id);

    let mut lock = store.lock_conversation(&conversation.id).await.unwrap();
    assert_eq!(lock.conversation_id(), conversation.id);
    let pending = store.next_pending(&mut lock).await.unwrap().unwrap();
    lock.release().await;
    assert_eq!(pending.id, first.id);
    assert_eq!(
        pending.content,
        InboundContent::Text {
            text: "hola".into()
        }
    );
    assert_eq!(pending.received_at, 2_001);
    let with_pending = store.conversations_with_pending().await.unwrap();
    assert!(with_pending.iter().any(|c| c.id == conversation.id));
}

async fn turns_commit_atomically_and_once(store: &Store) {
    let conversation = store
        .find_conversation(&ChannelIdentity::new(ChannelKind::Telegram, "42"))
        .await
        .unwrap()
        .unwrap();
    let replies = vec![
        Reply::text("Hola"),
        Reply::text("¿Qué necesitas?").with_buttons(vec![Button::new("Taller", "menu:service")]),
    ];
    let mut processed = Vec::new();
    let mut lock = store.lock_conversation(&conversation.id).await.unwrap();
    while let Some(pending) = store.next_pending(&mut lock).await.unwrap() {
        let title =
            matches!(pending.content, InboundContent::Button { .. }).then_some("Cita de taller");
        let state = format!("{{\"step\":{}}}", pending.id);
        let outbound = store
            .commit_turn(
                &mut lock,
                TurnCommit {
                    inbound_id: pending.id,
                    inbound_title: title,
                    session_state: &state,
                    replies: &replies,
                    now: 3_000 + pending.id,
                },
            )
            .await
            .unwrap();
        assert_eq!(outbound.len(), 2);
        assert_eq!(outbound[1].reply, replies[1]);
        // Committing the same turn again changes nothing and returns the first replies.
        let repeated = store
            .commit_turn(
                &mut lock,
                TurnCommit {
                    inbound_id: pending.id,
                    inbound_title: None,
                    session_state: "{}",
                    replies: &[Reply::text("duplicate")],
                    now: 9_999,
                },
            )
            .await
            .unwrap();
        assert_eq!(repeated, outbound);
        assert_eq!(store.replies_to(pending.id).await.unwrap(), outbound);
        processed.push(pending.id);
    }
    assert_eq!(processed.len(), 3);
    let session = store.load_session(&mut lock).await.unwrap();
    lock.release().await;
    assert_eq!(session.state, format!("{{\"step\":{}}}", processed[2]));
    assert_eq!(session.last_activity_at, Some(3_000 + processed[2]));
    assert!(
        store
            .conversations_with_pending()
            .await
            .unwrap()
            .iter()
            .all(|c| c.id != conversation.id)
    );

    let undelivered = store.undelivered(&conversation.id).await.unwrap();
    assert_eq!(undelivered.len(), 6);
    store
        .mark_delivered(&[undelivered[0].id, undelivered[1].id], 4_000)
        .await
        .unwrap();
    assert_eq!(store.undelivered(&conversation.id).await.unwrap().len(), 4);
    store.mark_delivered(&[], 4_001).await.unwrap();

    let transcript = store.transcript(&conversation.id).await.unwrap();
    assert_eq!(transcript.len(), 9);
    assert_eq!(
        transcript
            .iter()
            .filter(|m| m.direction == Direction::In)
            .count(),
        3
    );
    let button = transcript.iter().find(|m| m.kind == "button").unwrap();
    assert_eq!(button.text, "Cita de taller");
    assert_eq!(button.payload.as_deref(), Some("menu:service"));
    // All three inbound messages were stored before any reply.
    assert!(
        transcript[..3]
            .iter()
            .all(|m| m.direction == Direction::In && m.processed_at.is_some())
    );
    assert_eq!(transcript[3].delivered_at, Some(4_000));
    assert_eq!(transcript[4].delivered_at, Some(4_000));
    assert_eq!(transcript[5].delivered_at, None);
    assert_eq!(
        transcript[4].buttons,
        vec![Button::new("Taller", "menu:service")]
    );
    assert_eq!(transcript[4].reply_to, Some(transcript[0].id));

    let listed = store.list_conversations(10, 0).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0].id, conversation.id, "most recent activity first");
    assert_eq!(listed[0].message_count, 9);
    assert_eq!(store.list_conversations(10, 1).await.unwrap().len(), 1);
    assert_eq!(
        store
            .conversation(&conversation.id)
            .await
            .unwrap()
            .unwrap()
            .message_count,
        9
    );
    assert_eq!(store.conversation("missing").await.unwrap(), None);
}

async fn audit_log_round_trips(store: &Store) {
    let entry = AuditEntry {
        at: 5_000,
        actor: "admin".into(),
        action: "conversation.viewed".into(),
        subject: Some("customer-1".into()),
        detail: Some(serde_json::json!({"reason": "support"})),
    };
    store.record(&entry).await.unwrap();
    store
        .record(&AuditEntry {
            detail: None,
            ..entry.clone()
        })
        .await
        .unwrap();
    let entries = store.entries_for("customer-1").await.unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0], entry);
    assert_eq!(entries[1].detail, None);
}
