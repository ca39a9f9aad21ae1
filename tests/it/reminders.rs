//! Booking reminders over a real server: one due in two seconds is pushed into the
//! customer's conversation exactly once (with a "Mis citas" button), one whose moment
//! passed long ago is skipped, not sent late, and a restart on the same database sends
//! nothing again.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use serde_json::Value;

use crate::booking_support::{
    Running, admin_get, book_test_drive, bot_messages, eventually, grid_start, open_store,
    open_web_conversation, start_in,
};

fn reminders_in(messages: &[Value]) -> Vec<Value> {
    messages
        .iter()
        .filter(|m| {
            m["text"]
                .as_str()
                .is_some_and(|t| t.starts_with("Te recordamos"))
        })
        .cloned()
        .collect()
}

async fn history_events(client: &reqwest::Client, server: &Running, code: &str) -> Vec<String> {
    let detail = admin_get(client, server, &format!("/admin/api/bookings/{code}")).await;
    detail["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn due_reminders_are_sent_once_and_stale_ones_skipped_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = start_in(&data, None, |_| {}).await;
    let client = reqwest::Client::new();
    let store = open_store(&data).await;
    let customer = open_web_conversation(&client, &server, &store).await;

    let now = Timestamp::now();
    let soon = book_test_drive(
        &store,
        &customer,
        grid_start(1),
        vec![("24h".into(), now + SignedDuration::from_secs(2))],
    )
    .await;
    // Its moment passed two hours ago, far beyond the 30-minute grace: the server was
    // "down" then, and a late reminder would be spam.
    let stale = book_test_drive(
        &store,
        &customer,
        grid_start(2),
        vec![("24h".into(), now - SignedDuration::from_hours(2))],
    )
    .await;

    let sent = eventually(Duration::from_secs(20), || async {
        let reminders =
            reminders_in(&bot_messages(&client, &server, &customer.conversation_id).await);
        (!reminders.is_empty()).then_some(reminders)
    })
    .await
    .expect("the due reminder arrives in the conversation");
    assert_eq!(sent.len(), 1, "{sent:#?}");
    let text = sent[0]["text"].as_str().unwrap();
    assert!(text.contains("prueba de manejo del Tiguan"), "{text}");
    assert!(text.contains("Sede Norte, Av. 6N # 28N-10, Cali"), "{text}");
    assert!(text.contains(soon.code.as_str()), "{text}");
    assert_eq!(sent[0]["buttons"][0]["title"], "Mis citas");
    assert_eq!(sent[0]["buttons"][0]["payload"], "flow:my_bookings");

    let skipped = eventually(Duration::from_secs(10), || async {
        let events = history_events(&client, &server, stale.code.as_str()).await;
        events
            .contains(&"reminder_skipped".to_owned())
            .then_some(events)
    })
    .await
    .expect("the stale reminder is recorded as skipped");
    assert!(
        !skipped.contains(&"reminder_sent".to_owned()),
        "{skipped:?}"
    );
    let events = history_events(&client, &server, soon.code.as_str()).await;
    assert!(events.contains(&"reminder_sent".to_owned()), "{events:?}");

    // An HTTP-only client gets the reminder with its next request.
    let body: Value = client
        .post(server.url("/api/v1/chat/messages"))
        .json(&serde_json::json!({"session": customer.session}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        reminders_in(body["replies"].as_array().unwrap()).len(),
        1,
        "{body}"
    );

    server.stop().await;
    let server = start_in(&data, None, |_| {}).await;
    // Several polls of the restarted worker.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let reminders = reminders_in(&bot_messages(&client, &server, &customer.conversation_id).await);
    assert_eq!(reminders.len(), 1, "sent once, never again: {reminders:#?}");
    let events = history_events(&client, &server, stale.code.as_str()).await;
    assert_eq!(
        events.iter().filter(|e| e.starts_with("reminder_")).count(),
        1,
        "{events:?}"
    );
    server.stop().await;
    store.close().await;
}
