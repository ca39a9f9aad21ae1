//! A fake Telegram Bot API on a free loopback port: `GET|POST /bot{token}/{method}` with
//! JSON, form or query parameters, answering the documented envelope
//! (https://core.telegram.org/bots/api#making-requests): `{"ok":true,"result":…}` or
//! `{"ok":false,"error_code":…,"description":…,"parameters":{"retry_after":N}}`.
//!
//! Methods: getMe, getUpdates (queued updates after `offset`, long-polling up to
//! `timeout` seconds), setWebhook, deleteWebhook, sendMessage (a Message with an
//! incrementing `message_id`), editMessageText, answerCallbackQuery, sendChatAction.
//! Every call is recorded; failures are scripted per method ([`FakeTelegram::fail_next`]).
//! Updates are built in the documented format ([`text_update`], [`contact_update`],
//! [`callback_update`]).

// Shared by several tests; each uses part of it.
#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use serde_json::{Value, json};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

pub const BOT_TOKEN: &str = "123456789:AAE-fake_token_for_tests";
pub const BOT_USERNAME: &str = "AutosDelValleBot";
pub const BOT_ID: i64 = 123_456_789;

/// A scripted failure.
#[derive(Debug, Clone)]
pub enum Failure {
    /// 429 "Too Many Requests: retry after N".
    RetryAfter(u32),
    /// 403 with this description ("Forbidden: bot was blocked by the user").
    Forbidden(&'static str),
}

/// One call the bot made.
#[derive(Debug, Clone)]
pub struct Call {
    /// Lowercase (Telegram ignores the case of method names).
    pub method: String,
    pub params: Value,
    pub at: Instant,
}

/// A message as the customer sees it in the chat (after edits).
#[derive(Debug, Clone)]
pub struct Sent {
    pub message_id: i64,
    /// The HTML as sent.
    pub html: String,
    /// The visible text (tags dropped, entities decoded).
    pub text: String,
    /// Inline buttons: (title, callback_data).
    pub buttons: Vec<(String, String)>,
    /// A reply keyboard with a `request_contact` button.
    pub asks_contact: bool,
    pub parse_mode: Option<String>,
}

#[derive(Default)]
struct Shared {
    calls: Vec<Call>,
    updates: Vec<Value>,
    next_update_id: u32,
    next_message_id: i64,
    failures: HashMap<String, VecDeque<Failure>>,
    /// Per chat, in order.
    chats: HashMap<i64, Vec<Sent>>,
}

pub struct FakeTelegram {
    shared: Arc<Mutex<Shared>>,
    arrived: Arc<Notify>,
    pub base: String,
    task: JoinHandle<()>,
}

impl Drop for FakeTelegram {
    fn drop(&mut self) {
        self.task.abort();
    }
}

type AppState = (Arc<Mutex<Shared>>, Arc<Notify>);

impl FakeTelegram {
    pub async fn start() -> Self {
        let shared = Arc::new(Mutex::new(Shared {
            next_update_id: 1000,
            next_message_id: 1,
            ..Shared::default()
        }));
        let arrived = Arc::new(Notify::new());
        let app = Router::new()
            .route("/{bot}/{method}", any(handle))
            .with_state((shared.clone(), arrived.clone()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port for the fake Telegram");
        let addr = listener.local_addr().expect("fake Telegram address");
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .await
                .expect("fake Telegram serves");
        });
        Self {
            shared,
            arrived,
            base: format!("http://{addr}"),
            task,
        }
    }

    /// The environment for `showroom serve` to talk to this fake.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("TELEGRAM_BOT_TOKEN".into(), BOT_TOKEN.into()),
            ("TELEGRAM_API_URL".into(), self.base.clone()),
            ("TELEGRAM_WEBHOOK_URL".into(), String::new()),
            ("TELEGRAM_WEBHOOK_SECRET".into(), String::new()),
        ]
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues an update (its `update_id` is set here) for `getUpdates`; returns the id.
    pub fn push_update(&self, mut update: Value) -> u32 {
        let id = {
            let mut shared = self.lock();
            let id = shared.next_update_id;
            shared.next_update_id += 1;
            update["update_id"] = json!(id);
            shared.updates.push(update);
            id
        };
        self.arrived.notify_waiters();
        id
    }

    /// Queues an update again with the `update_id` it already has (a redelivery).
    pub fn redeliver(&self, update: Value) {
        self.lock().updates.push(update);
        self.arrived.notify_waiters();
    }

    /// The next `times` calls of `method` fail with `failure`.
    pub fn fail_next(&self, method: &str, times: usize, failure: Failure) {
        let mut shared = self.lock();
        let queue = shared
            .failures
            .entry(method.to_ascii_lowercase())
            .or_default();
        for _ in 0..times {
            queue.push_back(failure.clone());
        }
    }

    pub fn calls(&self, method: &str) -> Vec<Call> {
        self.lock()
            .calls
            .iter()
            .filter(|c| c.method.eq_ignore_ascii_case(method))
            .cloned()
            .collect()
    }

    /// What the bot has shown in `chat`, in order, with edits applied.
    pub fn sent_to(&self, chat: i64) -> Vec<Sent> {
        self.lock().chats.get(&chat).cloned().unwrap_or_default()
    }

    /// The newest of the bot's messages in `chat` with an inline button titled `title`:
    /// that message's id and the button's `callback_data` (what a press sends back).
    pub fn button(&self, chat: i64, title: &str) -> Option<(i64, String)> {
        self.sent_to(chat).iter().rev().find_map(|m| {
            m.buttons
                .iter()
                .find(|(t, _)| t == title)
                .map(|(_, data)| (m.message_id, data.clone()))
        })
    }

    /// Waits (up to 30 s) until one of the chat's messages after the first `seen`
    /// satisfies `ready`, and a moment more for the rest of that turn; returns the
    /// messages after `seen`.
    pub async fn wait_for(
        &self,
        chat: i64,
        seen: usize,
        ready: impl Fn(&Sent) -> bool,
    ) -> Vec<Sent> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let sent = self.sent_to(chat);
            if sent.iter().skip(seen).any(&ready) {
                tokio::time::sleep(Duration::from_millis(500)).await;
                return self.sent_to(chat).split_off(seen);
            }
            assert!(
                Instant::now() < deadline,
                "the bot did not send the expected message to chat {chat}; it sent: {:#?}",
                sent.iter().map(|s| &s.text).collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The parameters of a call, whichever way teloxide (or anyone) sent them.
fn params(headers: &HeaderMap, query: &HashMap<String, String>, body: &Bytes) -> Value {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if content_type.starts_with("application/json") && !body.is_empty() {
        return serde_json::from_slice(body).unwrap_or(Value::Null);
    }
    let mut fields: HashMap<String, String> = query.clone();
    if let Some(boundary) = content_type
        .strip_prefix("multipart/form-data")
        .and_then(|rest| rest.split("boundary=").nth(1))
    {
        fields.extend(multipart_fields(
            &String::from_utf8_lossy(body),
            boundary.trim_matches('"'),
        ));
    }
    if content_type.starts_with("application/x-www-form-urlencoded") {
        let uri = format!("/?{}", String::from_utf8_lossy(body));
        if let Ok(form) = uri
            .parse()
            .map_err(|_| ())
            .and_then(|uri| Query::<HashMap<String, String>>::try_from_uri(&uri).map_err(|_| ()))
        {
            fields.extend(form.0);
        }
    }
    // Form values of object fields (reply_markup…) are JSON-serialized strings.
    Value::Object(
        fields
            .into_iter()
            .map(|(k, v)| {
                let value = serde_json::from_str(&v).unwrap_or(Value::String(v));
                (k, value)
            })
            .collect(),
    )
}

/// The text fields of a `multipart/form-data` body (teloxide sends `setWebhook` this
/// way, because the method can carry a certificate file).
fn multipart_fields(body: &str, boundary: &str) -> Vec<(String, String)> {
    body.split(&format!("--{boundary}"))
        .filter_map(|part| {
            let (head, value) = part.split_once("\r\n\r\n")?;
            let name = head.split("name=\"").nth(1)?.split('"').next()?;
            Some((name.to_owned(), value.trim_end_matches("\r\n").to_owned()))
        })
        .collect()
}

fn ok(result: Value) -> Response {
    axum::Json(json!({"ok": true, "result": result})).into_response()
}

fn error(status: StatusCode, description: &str, parameters: Option<Value>) -> Response {
    let mut body = json!({"ok": false, "error_code": status.as_u16(), "description": description});
    if let Some(parameters) = parameters {
        body["parameters"] = parameters;
    }
    (status, axum::Json(body)).into_response()
}

fn chat(id: i64) -> Value {
    json!({"id": id, "type": "private", "first_name": "Ana"})
}

fn bot_user() -> Value {
    json!({"id": BOT_ID, "is_bot": true, "first_name": "Autos del Valle", "username": BOT_USERNAME})
}

/// Telegram's HTML as plain text (enough for the tags and entities the bot uses).
fn visible(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
}

fn as_i64(value: &Value) -> Option<i64> {
    value.as_i64().or_else(|| value.as_str()?.parse().ok())
}

async fn handle(
    State((shared, arrived)): State<AppState>,
    Path((bot, method)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if bot != format!("bot{BOT_TOKEN}") {
        return error(StatusCode::UNAUTHORIZED, "Unauthorized", None);
    }
    // Telegram matches method names case-insensitively; teloxide sends `SendMessage`.
    let method = method.to_ascii_lowercase();
    let params = params(&headers, &query, &body);
    let failure = {
        let mut state = shared.lock().unwrap_or_else(|e| e.into_inner());
        state.calls.push(Call {
            method: method.clone(),
            params: params.clone(),
            at: Instant::now(),
        });
        state
            .failures
            .get_mut(&method)
            .and_then(VecDeque::pop_front)
    };
    match failure {
        Some(Failure::RetryAfter(seconds)) => {
            return error(
                StatusCode::TOO_MANY_REQUESTS,
                &format!("Too Many Requests: retry after {seconds}"),
                Some(json!({"retry_after": seconds})),
            );
        }
        Some(Failure::Forbidden(description)) => {
            return error(StatusCode::FORBIDDEN, description, None);
        }
        None => {}
    }
    let now = jiff::Timestamp::now().as_second();
    match method.as_str() {
        "getme" => {
            let mut me = bot_user();
            me["can_join_groups"] = json!(true);
            me["can_read_all_group_messages"] = json!(false);
            me["supports_inline_queries"] = json!(false);
            me["can_connect_to_business"] = json!(false);
            me["has_main_web_app"] = json!(false);
            ok(me)
        }
        "setwebhook" | "deletewebhook" | "answercallbackquery" | "sendchataction" => {
            ok(json!(true))
        }
        "getupdates" => {
            let offset = params.get("offset").and_then(as_i64).unwrap_or(0);
            let timeout = params.get("timeout").and_then(as_i64).unwrap_or(0);
            let deadline = tokio::time::Instant::now() + Duration::from_secs(timeout.max(0) as u64);
            loop {
                let waiting = arrived.notified();
                let batch: Vec<Value> = {
                    let mut state = shared.lock().unwrap_or_else(|e| e.into_inner());
                    // An offset confirms every update before it.
                    state
                        .updates
                        .retain(|u| u["update_id"].as_i64().unwrap_or(0) >= offset);
                    state.updates.iter().take(100).cloned().collect()
                };
                if !batch.is_empty() {
                    return ok(Value::Array(batch));
                }
                if tokio::time::timeout_at(deadline, waiting).await.is_err() {
                    return ok(json!([]));
                }
            }
        }
        "sendmessage" => {
            let Some(chat_id) = params.get("chat_id").and_then(as_i64) else {
                return error(
                    StatusCode::BAD_REQUEST,
                    "Bad Request: chat_id is empty",
                    None,
                );
            };
            let html = params["text"].as_str().unwrap_or_default().to_owned();
            if html.is_empty() {
                return error(
                    StatusCode::BAD_REQUEST,
                    "Bad Request: message text is empty",
                    None,
                );
            }
            let markup = &params["reply_markup"];
            let buttons = markup["inline_keyboard"]
                .as_array()
                .map(|rows| {
                    rows.iter()
                        .filter_map(Value::as_array)
                        .flatten()
                        .map(|b| {
                            (
                                b["text"].as_str().unwrap_or_default().to_owned(),
                                b["callback_data"].as_str().unwrap_or_default().to_owned(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            let asks_contact = markup["keyboard"].as_array().is_some_and(|rows| {
                rows.iter()
                    .flat_map(|r| r.as_array().into_iter().flatten())
                    .any(|b| b["request_contact"] == true)
            });
            let text = visible(&html);
            let message_id = {
                let mut state = shared.lock().unwrap_or_else(|e| e.into_inner());
                let id = state.next_message_id;
                state.next_message_id += 1;
                state.chats.entry(chat_id).or_default().push(Sent {
                    message_id: id,
                    html,
                    text: text.clone(),
                    buttons,
                    asks_contact,
                    parse_mode: params["parse_mode"].as_str().map(str::to_owned),
                });
                id
            };
            ok(json!({
                "message_id": message_id, "date": now, "chat": chat(chat_id),
                "from": bot_user(), "text": text
            }))
        }
        "editmessagetext" => {
            let (Some(chat_id), Some(message_id)) = (
                params.get("chat_id").and_then(as_i64),
                params.get("message_id").and_then(as_i64),
            ) else {
                return error(
                    StatusCode::BAD_REQUEST,
                    "Bad Request: message to edit not found",
                    None,
                );
            };
            let html = params["text"].as_str().unwrap_or_default().to_owned();
            let text = visible(&html);
            let mut state = shared.lock().unwrap_or_else(|e| e.into_inner());
            let Some(sent) = state
                .chats
                .get_mut(&chat_id)
                .and_then(|msgs| msgs.iter_mut().find(|m| m.message_id == message_id))
            else {
                return error(
                    StatusCode::BAD_REQUEST,
                    "Bad Request: message to edit not found",
                    None,
                );
            };
            if sent.html == html && params.get("reply_markup").is_none() {
                return error(
                    StatusCode::BAD_REQUEST,
                    "Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message",
                    None,
                );
            }
            sent.html = html;
            sent.text = text.clone();
            if let Some(rows) = params["reply_markup"]["inline_keyboard"].as_array() {
                sent.buttons = rows
                    .iter()
                    .filter_map(Value::as_array)
                    .flatten()
                    .map(|b| {
                        (
                            b["text"].as_str().unwrap_or_default().to_owned(),
                            b["callback_data"].as_str().unwrap_or_default().to_owned(),
                        )
                    })
                    .collect();
            }
            ok(json!({
                "message_id": message_id, "date": now, "edit_date": now, "chat": chat(chat_id),
                "from": bot_user(), "text": text
            }))
        }
        other => error(
            StatusCode::NOT_FOUND,
            &format!("Not Found: method {other} is not faked"),
            None,
        ),
    }
}

/// A customer (user id = chat id, private chat) as the Bot API describes one.
pub fn customer(chat_id: i64, language: &str) -> Value {
    json!({"id": chat_id, "is_bot": false, "first_name": "Ana", "last_name": "Gómez", "language_code": language})
}

/// A text message update (`update_id` is set by `push_update`).
pub fn text_update(chat_id: i64, text: &str, language: &str) -> Value {
    json!({
        "update_id": 0,
        "message": {
            "message_id": 1, "date": 1_764_000_000,
            "from": customer(chat_id, language), "chat": chat(chat_id), "text": text
        }
    })
}

/// The customer shares their own contact (`user_id` is theirs) with the request_contact button.
pub fn contact_update(chat_id: i64, phone: &str) -> Value {
    json!({
        "update_id": 0,
        "message": {
            "message_id": 2, "date": 1_764_000_000,
            "from": customer(chat_id, "es"), "chat": chat(chat_id),
            "contact": {"phone_number": phone, "first_name": "Ana", "last_name": "Gómez", "user_id": chat_id}
        }
    })
}

/// A press of an inline button with `data` under the bot's message `message_id`.
pub fn callback_update(chat_id: i64, message_id: i64, data: &str) -> Value {
    json!({
        "update_id": 0,
        "callback_query": {
            "id": format!("{chat_id}{message_id}"),
            "from": customer(chat_id, "es"),
            "chat_instance": "-5421",
            "data": data,
            "message": {
                "message_id": message_id, "date": 1_764_000_000,
                "from": bot_user(), "chat": chat(chat_id), "text": "…"
            }
        }
    })
}

/// A customer in a private chat with the bot, as the fake sees it: sends updates and
/// waits for the bot's answers.
pub struct TelegramCustomer<'a> {
    pub fake: &'a FakeTelegram,
    pub chat: i64,
    /// The app language the customer's updates carry (`language_code`).
    pub language: &'static str,
}

impl TelegramCustomer<'_> {
    /// How many messages the bot has sent to this chat so far.
    pub fn seen(&self) -> usize {
        self.fake.sent_to(self.chat).len()
    }

    /// Sends `update`; returns the bot's new messages once one contains `expect`.
    pub async fn send(&self, update: Value, expect: &str) -> Vec<Sent> {
        let seen = self.seen();
        self.fake.push_update(update);
        self.fake
            .wait_for(self.chat, seen, |m| m.text.contains(expect))
            .await
    }

    /// Writes `text`.
    pub async fn say(&self, text: &str, expect: &str) -> Vec<Sent> {
        self.send(text_update(self.chat, text, self.language), expect)
            .await
    }

    /// Presses the newest inline button titled `title`.
    pub async fn press(&self, title: &str, expect: &str) -> Vec<Sent> {
        let (message_id, data) = self.fake.button(self.chat, title).unwrap_or_else(|| {
            panic!("no button `{title}` in {:#?}", self.fake.sent_to(self.chat))
        });
        self.send(callback_update(self.chat, message_id, &data), expect)
            .await
    }

    /// Taps the share-phone button the bot offered.
    pub async fn share_contact(&self, phone: &str, expect: &str) -> Vec<Sent> {
        assert!(
            self.fake.sent_to(self.chat).iter().any(|m| m.asks_contact),
            "no share-phone button in {:#?}",
            self.fake.sent_to(self.chat)
        );
        self.send(contact_update(self.chat, phone), expect).await
    }

    /// The title of the first button of the newest message with buttons.
    pub fn first_button(&self) -> String {
        self.fake
            .sent_to(self.chat)
            .iter()
            .rev()
            .find_map(|m| m.buttons.first().map(|(title, _)| title.clone()))
            .expect("a message with buttons")
    }
}
