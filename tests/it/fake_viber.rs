//! A fake Viber REST bot API on a free loopback port, following the documented JSON:
//! `POST /set_webhook` (like the real one, it calls the webhook with a signed `webhook`
//! event and answers status 1 "invalidUrl" unless that gets 200), `POST /send_message`
//! (`{"status": 0, "status_message": "ok", "message_token": …, "chat_hostname": …}`), and
//! `POST /get_account_info`. Every call needs `X-Viber-Auth-Token` (status 2 otherwise)
//! and is recorded. Tests script the next statuses of `send_message` (12 "too many
//! requests", 6 "receiverNotSubscribed", …), and a customer who unsubscribed gets 6.
//!
//! [`ViberCustomer`] plays a customer: it builds real-format callbacks, signs them with
//! the token as Viber does, POSTs them to showroom's webhook, and reads what the bot sent
//! them (texts and keyboards), pressing keys by their label.

// Shared by several test modules; each one uses part of it.
#![allow(dead_code)]

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Json;
use axum::routing::post;
use serde_json::{Value, json};
use showroom::channels::viber::webhook::sign;
use tokio::task::JoinHandle;

/// The bot token the fake accepts (the format of Viber's app keys).
pub const VIBER_TOKEN: &str = "4453b6ac1s345678-e02c5f12174805f9-daec9cbb5448c51r";

/// One call to the fake.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    pub auth_token: Option<String>,
    pub body: Value,
}

#[derive(Default)]
struct FakeState {
    calls: Mutex<Vec<Call>>,
    /// Statuses `send_message` answers next, one per call, before answering normally.
    scripted: Mutex<VecDeque<i64>>,
    /// Customers who unsubscribed: `send_message` to them answers 6.
    unsubscribed: Mutex<HashSet<String>>,
    webhook: Mutex<Option<String>>,
    /// How many more `set_webhook` calls answer 1 "invalidUrl" (Viber could not reach it).
    failing_set_webhook: AtomicU64,
    tokens: AtomicU64,
}

pub struct FakeViber {
    pub url: String,
    state: Arc<FakeState>,
    task: JoinHandle<()>,
}

impl Drop for FakeViber {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn status_message(status: i64) -> &'static str {
    match status {
        0 => "ok",
        1 => "invalidUrl",
        2 => "invalidAuthToken",
        3 => "badData",
        6 => "receiverNotSubscribed",
        12 => "tooManyRequests",
        _ => "generalError",
    }
}

fn answer(status: i64) -> Json<Value> {
    Json(json!({"status": status, "status_message": status_message(status)}))
}

impl FakeViber {
    pub async fn start() -> Self {
        let state = Arc::new(FakeState {
            tokens: AtomicU64::new(5_741_311_803_571_721_000),
            ..FakeState::default()
        });
        let app = Router::new()
            .route("/set_webhook", post(set_webhook))
            .route("/send_message", post(send_message))
            .route("/get_account_info", post(get_account_info))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the fake Viber");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("fake Viber");
        });
        Self { url, state, task }
    }

    /// `VIBER_AUTH_TOKEN`, `VIBER_API_URL` and `VIBER_WEBHOOK_URL` for a showroom that
    /// will listen at `base` (`http://127.0.0.1:PORT`).
    pub fn env(&self, base: &str) -> Vec<(String, String)> {
        vec![
            ("VIBER_AUTH_TOKEN".into(), VIBER_TOKEN.into()),
            ("VIBER_API_URL".into(), self.url.clone()),
            ("VIBER_WEBHOOK_URL".into(), format!("{base}/webhooks/viber")),
        ]
    }

    pub fn calls(&self, method: &str) -> Vec<Call> {
        self.state
            .calls
            .lock()
            .unwrap()
            .iter()
            .filter(|c| c.method == method)
            .cloned()
            .collect()
    }

    /// The `send_message` bodies Viber took for `user` (status 0), in order.
    pub fn sent_to(&self, user: &str) -> Vec<Value> {
        self.state
            .calls
            .lock()
            .unwrap()
            .iter()
            .filter(|c| {
                c.method == "send_message" && c.body["receiver"] == user && c.body["_answered"] == 0
            })
            .map(|c| c.body.clone())
            .collect()
    }

    /// The next `send_message` calls answer these statuses, one each.
    pub fn script(&self, statuses: &[i64]) {
        self.state.scripted.lock().unwrap().extend(statuses);
    }

    /// The next `count` `set_webhook` calls fail as if Viber could not reach the webhook.
    pub fn fail_set_webhook(&self, count: u64) {
        self.state
            .failing_set_webhook
            .store(count, Ordering::SeqCst);
    }

    /// From now on `send_message` to `user` answers 6 "receiverNotSubscribed".
    pub fn unsubscribe(&self, user: &str) {
        self.state
            .unsubscribed
            .lock()
            .unwrap()
            .insert(user.to_owned());
    }

    /// The webhook set last, if `set_webhook` succeeded.
    pub fn webhook(&self) -> Option<String> {
        self.state.webhook.lock().unwrap().clone()
    }

    /// A customer of the bot whose webhook is `webhook`.
    pub fn customer(&self, webhook: &str, id: &str, language: &str) -> ViberCustomer<'_> {
        ViberCustomer {
            fake: self,
            webhook: webhook.to_owned(),
            id: id.to_owned(),
            language: language.to_owned(),
            read: 0,
            keyboard: None,
            tokens: AtomicU64::new(4_912_661_846_655_238_145),
            client: reqwest::Client::new(),
        }
    }
}

fn record(state: &FakeState, method: &str, headers: &HeaderMap, body: Value) -> Option<usize> {
    let auth_token = headers
        .get("X-Viber-Auth-Token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mut calls = state.calls.lock().unwrap();
    calls.push(Call {
        method: method.to_owned(),
        auth_token: auth_token.clone(),
        body,
    });
    (auth_token.as_deref() == Some(VIBER_TOKEN)).then(|| calls.len() - 1)
}

fn set_answered(state: &FakeState, index: usize, status: i64) {
    state.calls.lock().unwrap()[index].body["_answered"] = json!(status);
}

async fn set_webhook(
    State(state): State<Arc<FakeState>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Json<Value> {
    let Some(_) = record(&state, "set_webhook", &headers, body.clone()) else {
        return answer(2);
    };
    let Some(url) = body["url"].as_str() else {
        return answer(3);
    };
    // Like Viber: a signed `webhook` callback must get 200 before the webhook is set.
    let check = json!({"event": "webhook", "timestamp": 1457764197627u64,
        "chat_hostname": "SN-376_", "message_token": state.tokens.fetch_add(1, Ordering::SeqCst)});
    let bytes = serde_json::to_vec(&check).unwrap();
    let reached = reqwest::Client::new()
        .post(url)
        .header(
            "X-Viber-Content-Signature",
            sign(VIBER_TOKEN.as_bytes(), &bytes),
        )
        .header("Content-Type", "application/json")
        .body(bytes)
        .send()
        .await
        .is_ok_and(|r| r.status().as_u16() == 200);
    let failing = state
        .failing_set_webhook
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if !reached || failing {
        return answer(1);
    }
    *state.webhook.lock().unwrap() = Some(url.to_owned());
    Json(json!({"status": 0, "status_message": "ok",
        "event_types": body["event_types"].clone()}))
}

async fn send_message(
    State(state): State<Arc<FakeState>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Json<Value> {
    let Some(index) = record(&state, "send_message", &headers, body.clone()) else {
        return answer(2);
    };
    let well_formed = body["receiver"].is_string()
        && body["type"] == "text"
        && body["sender"]["name"]
            .as_str()
            .is_some_and(|n| !n.is_empty() && n.chars().count() <= 28)
        && body["text"]
            .as_str()
            .is_some_and(|t| t.chars().count() <= 7000);
    let scripted = state.scripted.lock().unwrap().pop_front();
    let unsubscribed = body["receiver"]
        .as_str()
        .is_some_and(|r| state.unsubscribed.lock().unwrap().contains(r));
    let status = match (well_formed, scripted) {
        (false, _) => 3,
        (true, Some(status)) => status,
        (true, None) if unsubscribed => 6,
        (true, None) => 0,
    };
    set_answered(&state, index, status);
    if status != 0 {
        return answer(status);
    }
    Json(json!({"status": 0, "status_message": "ok",
        "message_token": state.tokens.fetch_add(1, Ordering::SeqCst),
        "chat_hostname": "SN-CHAT-05_"}))
}

async fn get_account_info(
    State(state): State<Arc<FakeState>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Json<Value> {
    if record(&state, "get_account_info", &headers, body).is_none() {
        return answer(2);
    }
    let webhook = state.webhook.lock().unwrap().clone();
    Json(json!({
        "status": 0, "status_message": "ok",
        "id": "pa:75346594275468546724", "name": "Autos del Valle", "uri": "autosdelvalle",
        "icon": "http://example.com/icon.jpg", "background": "http://example.com/bg.jpg",
        "category": "Automotive", "subcategory": "Dealers",
        "location": {"lon": -76.532, "lat": 3.4516}, "country": "CO",
        "webhook": webhook,
        "event_types": ["delivered", "seen", "failed", "subscribed", "unsubscribed", "conversation_started"],
        "subscribers_count": 35,
        "members": [{"id": "01234567890A=", "name": "my name", "avatar": "http://example.com", "role": "admin"}]
    }))
}

/// A Viber customer talking to showroom's webhook.
pub struct ViberCustomer<'a> {
    fake: &'a FakeViber,
    webhook: String,
    pub id: String,
    language: String,
    /// How many of the messages sent to this customer were read.
    read: usize,
    /// The last keyboard on screen.
    pub keyboard: Option<Value>,
    tokens: AtomicU64,
    client: reqwest::Client,
}

impl ViberCustomer<'_> {
    fn user(&self) -> Value {
        json!({"id": self.id, "name": "Ana María", "avatar": "http://avatar.example.com",
               "country": "CO", "language": self.language, "api_version": 9})
    }

    fn token(&self) -> u64 {
        self.tokens.fetch_add(1, Ordering::SeqCst)
    }

    /// POSTs `event` signed as Viber signs it; returns the status and the JSON answer.
    pub async fn post(&self, event: &Value) -> (u16, Value) {
        let bytes = serde_json::to_vec(event).unwrap();
        let signature = sign(VIBER_TOKEN.as_bytes(), &bytes);
        self.post_raw(bytes, Some(&signature)).await
    }

    /// POSTs raw bytes with the given signature header (or none).
    pub async fn post_raw(&self, body: Vec<u8>, signature: Option<&str>) -> (u16, Value) {
        let mut request = self
            .client
            .post(&self.webhook)
            .header("Content-Type", "application/json")
            .body(body);
        if let Some(signature) = signature {
            request = request.header("X-Viber-Content-Signature", signature);
        }
        let response = request.send().await.expect("post to the webhook");
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub fn conversation_started(&self, context: Option<&str>) -> Value {
        let mut event = json!({"event": "conversation_started", "timestamp": 1457764197627u64,
            "type": "open", "user": self.user(), "message_token": self.token(), "subscribed": false});
        if let Some(context) = context {
            event["context"] = json!(context);
        }
        event
    }

    pub fn message(&self, message: Value) -> Value {
        json!({"event": "message", "timestamp": 1457764197627u64, "message_token": self.token(),
               "sender": self.user(), "message": message, "silent": false})
    }

    pub fn subscribed(&self) -> Value {
        json!({"event": "subscribed", "timestamp": 1457764197627u64, "user": self.user(),
               "message_token": self.token()})
    }

    pub fn unsubscribed(&self) -> Value {
        json!({"event": "unsubscribed", "timestamp": 1457764197627u64, "user_id": self.id,
               "message_token": self.token()})
    }

    pub fn receipt(&self, event: &str, message_token: &Value) -> Value {
        json!({"event": event, "timestamp": 1457764197627u64, "message_token": message_token,
               "user_id": self.id})
    }

    /// Opens the chat (optionally by a deep link with `context`); returns the welcome in
    /// the webhook's answer.
    pub async fn start(&mut self, context: Option<&str>) -> Value {
        let (status, welcome) = self.post(&self.conversation_started(context)).await;
        assert_eq!(status, 200, "{welcome}");
        if welcome.get("keyboard").is_some() {
            self.keyboard = Some(welcome["keyboard"].clone());
        }
        welcome
    }

    /// Sends a `message` callback; returns the messages the bot sent back.
    pub async fn send(&mut self, message: Value) -> Vec<Value> {
        let event = self.message(message);
        let (status, answer) = self.post(&event).await;
        assert_eq!(status, 200, "{answer}");
        self.new_messages()
    }

    /// Messages the bot sent since the last read; the last keyboard is remembered.
    pub fn new_messages(&mut self) -> Vec<Value> {
        let sent = self.fake.sent_to(&self.id);
        let new: Vec<Value> = sent[self.read.min(sent.len())..].to_vec();
        self.read = sent.len();
        if let Some(keyboard) = new.iter().rev().find_map(|m| m.get("keyboard")) {
            self.keyboard = Some(keyboard.clone());
        }
        new
    }

    pub async fn say(&mut self, text: &str) -> Vec<Value> {
        self.send(json!({"type": "text", "text": text})).await
    }

    /// The keys of the keyboard on screen.
    pub fn keys(&self) -> Vec<Value> {
        self.keyboard
            .as_ref()
            .and_then(|k| k["Buttons"].as_array().cloned())
            .unwrap_or_default()
    }

    /// Presses the key labelled `title`: the app sends its ActionBody as text.
    pub async fn press(&mut self, title: &str) -> Vec<Value> {
        let keys = self.keys();
        let key = keys
            .iter()
            .find(|k| k["Text"] == title)
            .unwrap_or_else(|| panic!("no key {title:?} on screen: {keys:#?}"))
            .clone();
        self.press_key(&key).await
    }

    pub async fn press_key(&mut self, key: &Value) -> Vec<Value> {
        assert_eq!(key["ActionType"], "reply", "{key}");
        let body = key["ActionBody"].as_str().expect("ActionBody").to_owned();
        self.send(json!({"type": "text", "text": body, "tracking_data": "out:1"}))
            .await
    }

    /// Presses the share-phone key: the app sends the customer's own number.
    pub async fn share_phone(&mut self, phone: &str) -> Vec<Value> {
        let keys = self.keys();
        assert!(
            keys.iter().any(|k| k["ActionType"] == "share-phone"),
            "no share-phone key on screen: {keys:#?}"
        );
        self.send(json!({"type": "contact",
            "contact": {"name": "Ana María", "phone_number": phone, "avatar": "http://avatar.example.com"}}))
            .await
    }
}

/// The texts of messages, one per line.
pub fn texts(messages: &[Value]) -> String {
    messages
        .iter()
        .filter_map(|m| m["text"].as_str())
        .collect::<Vec<_>>()
        .join("\n")
}
