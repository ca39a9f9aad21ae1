//! Helpers for the booking tests (reminders, outreach, `.ics`): a server in a data
//! folder the test owns (so it can be restarted on the same database, and so the test
//! can open the same database through `Store`), web conversations opened over the
//! chat API, and bookings made directly through the store.

use std::path::{Path, PathBuf};
use std::time::Duration;

use jiff::Timestamp;
use serde_json::{Value, json};
use showroom::booking::{Booking, BookingKind, BookingRequest, ResourceUnit, Slot};
use showroom::config::{RawSettings, StoreConfig};
use showroom::engine::{ChannelKind, Language};
use showroom::store::{BookingStore, ConversationStore, Store};

use crate::support::{ADMIN_TOKEN, TestServer, spawn_server};

pub const API_TOKEN: &str = "test-api-token-0123456789abcdef";

/// A server on a data folder the test keeps.
pub type Running = TestServer;

/// Starts a server on `127.0.0.1:0` keeping its data in `data_dir`, and waits until it
/// is ready.
pub async fn start_in(
    data_dir: &Path,
    api_token: Option<&str>,
    tweak: impl FnOnce(&mut RawSettings),
) -> Running {
    let server = spawn_server(data_dir, None, api_token, tweak).await;
    // Ready means migrated: only then may the test open the same database itself.
    let client = reqwest::Client::new();
    for _ in 0..200 {
        if let Ok(response) = client.get(server.url("/readyz")).send().await
            && response.status().is_success()
        {
            return server;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the server did not become ready");
}

/// The same database the server in `data_dir` uses.
pub async fn open_store(data_dir: &Path) -> Store {
    let url = format!(
        "sqlite://{}?mode=rwc",
        data_dir.join("showroom.db").display()
    );
    Store::connect(
        &url,
        &StoreConfig {
            max_connections: 4,
            acquire_timeout: Duration::from_secs(30),
        },
    )
    .await
    .expect("open the server's database")
}

/// A folder with one small flow, `service`, for outreach offers.
pub fn flows_dir(root: &Path) -> PathBuf {
    let dir = root.join("flows");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("service.yaml"),
        "id: service\n\
         title:\n  es: Cita de taller\n  en: Service appointment\n\
         triggers:\n  menu: 1\n\
         steps:\n  - say:\n      es: Agendemos tu cita de taller.\n      en: Let's book your service.\n",
    )
    .unwrap();
    dir
}

/// A web conversation opened over the chat API, as a customer would.
pub struct WebCustomer {
    pub session: String,
    pub conversation_id: String,
    pub customer_id: String,
}

/// Opens a conversation with `POST /api/v1/chat/messages`, as the widget does, and
/// finds its ids in the store.
pub async fn open_web_conversation(
    client: &reqwest::Client,
    server: &Running,
    store: &Store,
) -> WebCustomer {
    let body: Value = client
        .post(server.url("/api/v1/chat/messages"))
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let session = body["session"].as_str().expect("session").to_owned();
    find_web_conversation(store, session).await
}

/// The ids of the conversation of a web session token.
pub async fn find_web_conversation(store: &Store, session: String) -> WebCustomer {
    let identity = showroom::channels::web::SessionToken::parse(&session)
        .expect("a session token")
        .identity();
    let conversation = store
        .find_conversation(&identity)
        .await
        .unwrap()
        .expect("the session's conversation");
    WebCustomer {
        session,
        conversation_id: conversation.id,
        customer_id: conversation.customer_id,
    }
}

pub async fn admin_get(client: &reqwest::Client, server: &Running, path: &str) -> Value {
    let response = client
        .get(server.url(path))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "{path}: {}",
        response.status()
    );
    response.json().await.unwrap()
}

/// The bot messages of a conversation, from the admin API.
pub async fn bot_messages(
    client: &reqwest::Client,
    server: &Running,
    conversation_id: &str,
) -> Vec<Value> {
    let detail = admin_get(
        client,
        server,
        &format!("/admin/api/conversations/{conversation_id}"),
    )
    .await;
    detail["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["direction"] == "out")
        .cloned()
        .collect()
}

/// A moment on the booking grid, `days` days from now at the next whole hour.
pub fn grid_start(days: i64) -> Timestamp {
    let now = Timestamp::now().as_second();
    let hour = (now / 3600 + 1) * 3600;
    Timestamp::from_second(hour + days * 86_400).unwrap()
}

/// Books a 45-minute test drive of the Tiguan at Sede Norte directly in the store.
pub async fn book_test_drive(
    store: &Store,
    customer: &WebCustomer,
    start: Timestamp,
    reminders: Vec<(String, Timestamp)>,
) -> Booking {
    let request = BookingRequest {
        kind: BookingKind::TestDrive,
        customer_id: customer.customer_id.clone(),
        conversation_id: customer.conversation_id.clone(),
        channel: ChannelKind::Web,
        language: Language::Es,
        slot: Slot {
            unit: ResourceUnit {
                branch: "norte".into(),
                resource: "norte_tiguan".into(),
                unit: 0,
            },
            start,
            end: start + jiff::SignedDuration::from_mins(45),
        },
        service_type: None,
        model: Some("tiguan".into()),
        plate: None,
        year: None,
        mileage_km: None,
        name: "Ana Gómez".into(),
        phone: Some("+573001234567".into()),
        reminders,
    };
    let bookings: &dyn BookingStore = store;
    bookings.reserve(&request).await.expect("reserve")
}

/// Polls `check` every 200 ms until it returns `Some`, for at most `limit`.
pub async fn eventually<T, F, Fut>(limit: Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(value) = check().await {
            return Some(value);
        }
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
