//! The lead and outbox store, on both backends: outbox claims never overlap (many
//! workers at once, leases that end), dedupe keys and coalescing hold, and two records
//! of one person merge into the older one.

use std::collections::BTreeSet;
use std::sync::Arc;

use showroom::config::StoreConfig;
use showroom::engine::{ChannelIdentity, ChannelKind};
use showroom::leads::{Band, Interest, PhoneE164, Profile};
use showroom::store::{
    ConversationStore, LeadRecord, LeadStatus, LeadStore, NewOutboxMessage, OutboxDelivery,
    OutboxSelection, OutboxStatus, OutboxStore, Store,
};

use crate::support::PgDatabase;

fn store_config() -> StoreConfig {
    StoreConfig {
        max_connections: 12,
        acquire_timeout: std::time::Duration::from_secs(10),
    }
}

#[tokio::test]
async fn lead_store_suite_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("s.db").display());
    let store = Store::connect(&url, &store_config()).await.unwrap();
    suite(store).await;
}

#[tokio::test]
async fn lead_store_suite_postgres() {
    let db = PgDatabase::create().await;
    let store = Store::connect(&db.url, &store_config()).await.unwrap();
    suite(store.clone()).await;
    store.close().await;
}

async fn suite(store: Store) {
    outbox_claims_never_overlap_and_leases_end(&store).await;
    dedupe_keys_and_coalescing_hold(&store).await;
    two_records_of_one_person_merge_into_the_older(&store).await;
}

async fn customer(store: &Store, id: &str) -> (String, String) {
    let handle = store
        .open_conversation(&ChannelIdentity::new(ChannelKind::Web, id), 1_000)
        .await
        .unwrap();
    (handle.customer_id, handle.id)
}

fn message(event: &str, lead: Option<&str>, customer: &str) -> NewOutboxMessage {
    NewOutboxMessage {
        event: event.into(),
        lead_id: lead.map(str::to_owned),
        customer_id: Some(customer.to_owned()),
        body: Some("{}".into()),
        dedupe_key: None,
        coalesce: false,
        not_before: 0,
    }
}

fn lead(id: &str, customer: &str, created_at: i64) -> LeadRecord {
    LeadRecord {
        id: id.into(),
        customer_id: customer.into(),
        status: LeadStatus::Open,
        interest: Interest::default(),
        signals: Default::default(),
        score: 0,
        band: Band::Cold,
        reasons: Vec::new(),
        branch: None,
        advisor: None,
        channel: "web".into(),
        conversation_id: None,
        handed_off_at: None,
        handoff_reason: None,
        contact_by: None,
        merged_into: None,
        revision: 1,
        created_at,
        updated_at: created_at,
    }
}

async fn outbox_claims_never_overlap_and_leases_end(store: &Store) {
    let (customer_id, _) = customer(store, "claims").await;
    let mut tx = store.begin_lead(&customer_id, &[]).await.unwrap();
    let mut written = BTreeSet::new();
    for _ in 0..60 {
        written.insert(
            tx.enqueue(&message("lead.created", None, &customer_id))
                .await
                .unwrap()
                .expect("written"),
        );
    }
    tx.commit().await.unwrap();

    // Eight workers claim at once until nothing is left: each message exactly once.
    let store = Arc::new(store.clone());
    let workers: Vec<_> = (0..8)
        .map(|n| {
            let store = store.clone();
            tokio::spawn(async move {
                let worker = format!("w{n}");
                let mut mine = Vec::new();
                loop {
                    let claimed = store.claim_due(&worker, 10, i64::MAX, 4).await.unwrap();
                    if claimed.is_empty() {
                        break mine;
                    }
                    mine.extend(claimed.iter().map(|m| m.id));
                }
            })
        })
        .collect();
    let mut claimed = Vec::new();
    for worker in workers {
        claimed.extend(worker.await.unwrap());
    }
    let unique: BTreeSet<i64> = claimed.iter().copied().collect();
    assert_eq!(claimed.len(), unique.len(), "a message was claimed twice");
    assert_eq!(unique, written);

    // A lease that ended lets another worker take the message; the first one's late
    // report then changes nothing.
    let (customer_id, _) = customer(&store, "lease").await;
    let mut tx = store.begin_lead(&customer_id, &[]).await.unwrap();
    let id = tx
        .enqueue(&message("lead.created", None, &customer_id))
        .await
        .unwrap()
        .unwrap();
    tx.commit().await.unwrap();
    let first = store.claim_ids("slow", &[id], 100, 200).await.unwrap();
    assert_eq!(first.len(), 1);
    assert!(
        store
            .claim_ids("other", &[id], 150, 300)
            .await
            .unwrap()
            .is_empty()
    );
    let second = store.claim_ids("other", &[id], 250, 400).await.unwrap();
    assert_eq!(second.len(), 1, "the lease ended at 200");
    assert!(!store.record_delivered(id, "slow", 200, 260).await.unwrap());
    assert!(store.record_delivered(id, "other", 200, 260).await.unwrap());
    let delivered = store.outbox_message(id).await.unwrap().unwrap();
    assert_eq!(delivered.status, OutboxStatus::Delivered);
    assert_eq!(delivered.attempts, 1);

    // Replay sends it again with the same webhook-id; a dead letter comes back on retry.
    assert_eq!(
        store
            .replay_outbox(&OutboxSelection::Ids(vec![id]), 500)
            .await
            .unwrap(),
        1
    );
    let replayed = store.outbox_message(id).await.unwrap().unwrap();
    assert_eq!(replayed.status, OutboxStatus::Pending);
    assert_eq!(replayed.webhook_id, delivered.webhook_id);
    assert_eq!(store.claim_due("w", 500, 600, 10).await.unwrap().len(), 1);
    store
        .mark_dead(id, "w", Some(500), "CRM said no")
        .await
        .unwrap();
    assert_eq!(
        store.outbox_message(id).await.unwrap().unwrap().status,
        OutboxStatus::Dead
    );
    assert_eq!(
        store
            .retry_outbox(&OutboxSelection::All { since: None }, 700)
            .await
            .unwrap(),
        1
    );
    let retried = store.outbox_message(id).await.unwrap().unwrap();
    assert_eq!(
        (retried.status, retried.attempts),
        (OutboxStatus::Pending, 0)
    );
}

async fn dedupe_keys_and_coalescing_hold(store: &Store) {
    let (customer_id, _) = customer(store, "dedupe").await;
    let mut tx = store.begin_lead(&customer_id, &[]).await.unwrap();
    let created = NewOutboxMessage {
        dedupe_key: Some("lead.created:L1".into()),
        ..message("lead.created", Some("L1"), &customer_id)
    };
    assert!(tx.enqueue(&created).await.unwrap().is_some());
    assert!(tx.enqueue(&created).await.unwrap().is_none(), "same key");
    let updated = NewOutboxMessage {
        body: None,
        coalesce: true,
        not_before: i64::MAX,
        ..message("lead.updated", Some("L1"), &customer_id)
    };
    let first = tx.enqueue(&updated).await.unwrap().expect("first update");
    assert!(
        tx.enqueue(&updated).await.unwrap().is_none(),
        "folded into the update not tried yet"
    );
    tx.commit().await.unwrap();
    // Once its body is fixed (an attempt started), a new update is a new message.
    store.claim_ids("w", &[first], 0, i64::MAX).await.unwrap();
    store.set_body(first, "w", "{\"v\":1}").await.unwrap();
    let mut tx = store.begin_lead(&customer_id, &[]).await.unwrap();
    assert!(tx.enqueue(&updated).await.unwrap().is_some());
    tx.commit().await.unwrap();
}

async fn two_records_of_one_person_merge_into_the_older(store: &Store) {
    let (older, older_conversation) = customer(store, "merge-a").await;
    let (newer, newer_conversation) = customer(store, "merge-b").await;
    let phone = PhoneE164::try_from("+573001112233".to_owned()).unwrap();
    for (customer_id, lead_id, at) in [(&older, "LA", 10), (&newer, "LB", 20)] {
        let mut tx = store.begin_lead(customer_id, &[]).await.unwrap();
        tx.save_profile(&Profile {
            phone: Some(phone.clone()),
            name: Some(format!("name of {lead_id}")),
            ..Profile::default()
        })
        .await
        .unwrap();
        tx.save_lead(&lead(lead_id, customer_id, at)).await.unwrap();
        tx.commit().await.unwrap();
    }
    // The newer record's turn finds the older one by phone and merges.
    let mut tx = store
        .begin_lead(&newer, &[phone.as_str().to_owned()])
        .await
        .unwrap();
    let profile = tx.customer().await.unwrap().profile;
    let duplicates = tx.duplicates(&profile).await.unwrap();
    assert_eq!(
        duplicates.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
        [older.as_str()]
    );
    let folded = tx.absorb(&older).await.unwrap();
    assert_eq!(tx.customer().await.unwrap().id, older, "the older survives");
    assert_eq!(
        folded.iter().map(|l| l.id.as_str()).collect::<Vec<_>>(),
        ["LB"],
        "the newer record's lead is handed back to be folded"
    );
    let active = tx.active_leads().await.unwrap();
    assert_eq!(
        active.iter().map(|l| l.id.as_str()).collect::<Vec<_>>(),
        ["LA"]
    );
    tx.commit().await.unwrap();

    let conversations = store.conversations_of(&older).await.unwrap();
    let ids: BTreeSet<&str> = conversations.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(
        ids,
        BTreeSet::from([older_conversation.as_str(), newer_conversation.as_str()])
    );
    let gone = store.customer_record(&newer).await.unwrap().unwrap();
    assert_eq!(gone.merged_into.as_deref(), Some(older.as_str()));
    // The identity of the newer record now finds the older customer.
    let found = store
        .find_customers(&showroom::store::CustomerKey::Channel {
            channel: "web".into(),
            external_id: "merge-b".into(),
        })
        .await
        .unwrap();
    assert_eq!(found, std::slice::from_ref(&older));
    let survivor = store.customer_record(&older).await.unwrap().unwrap();
    assert_eq!(survivor.profile.name.as_deref(), Some("name of LA"));
}
