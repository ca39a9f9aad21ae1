//! CRM handoffs end to end: real `showroom serve` processes on SQLite or the machine's
//! PostgreSQL deliver signed webhooks to `tests/crm/receiver.py`, a test CRM that checks
//! every signature with the reference `standardwebhooks` library and every body against
//! `docs/handoff.schema.json`. The CRM goes down, answers 410 Gone, gives up for good;
//! `serve` is SIGKILLed between commit and delivery and runs twice on one database. The
//! operator's `showroom outbox` and `showroom privacy` commands run on the same data.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use tokio_tungstenite::connect_async;

use crate::support::{
    CrmReceiver, Deployment, PgDatabase, Received, ServeProcess, Socket, WebChat, free_port,
    next_frame, send, wait_for,
};

/// Fast retries for tests: a failed attempt is tried again a second later.
const FAST_CRM: &str = r#"
[crm]
schedule = ["0s", "1s", "1s", "1s", "1s", "1s"]
jitter = 0.0
poll_interval = "200ms"
timeout = "2s"
lease = "5s"
"#;

/// The customer's phone in the hand-offs, as typed and in E.164.
const PHONE: &str = "300 123 4567";
const PHONE_E164: &str = "+573001234567";

fn lead_created(received: &[Received]) -> Vec<&Received> {
    received
        .iter()
        .filter(|r| r.event() == "lead.created")
        .collect()
}

/// The attempts that the CRM answered with 200.
fn accepted(received: &[Received]) -> Vec<&Received> {
    received.iter().filter(|r| r.status == 200).collect()
}

fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

// ---------------------------------------------------------------------------------------
// The widget over WebSocket.
// ---------------------------------------------------------------------------------------

/// The widget's socket; reads frames until the bot says what the test waits for.
struct Widget {
    socket: Socket,
}

impl Widget {
    async fn open(server: &ServeProcess) -> Self {
        let url = format!(
            "{}/api/v1/chat/ws",
            server.base.replacen("http://", "ws://", 1)
        );
        let (mut socket, _) = connect_async(url).await.expect("connect the widget");
        let session = next_frame(&mut socket).await;
        assert_eq!(session["type"], "session", "{session}");
        Self { socket }
    }

    /// The next `message` frame whose text contains `needle` (earlier ones are skipped).
    async fn until(&mut self, needle: &str) -> Value {
        let mut seen = Vec::new();
        loop {
            let frame = next_frame(&mut self.socket).await;
            assert_ne!(frame["type"], "error", "{frame} after {seen:?}");
            if frame["type"] == "message"
                && frame["text"].as_str().is_some_and(|t| t.contains(needle))
            {
                return frame;
            }
            seen.push(frame);
        }
    }

    async fn say(&mut self, text: &str) {
        send(&mut self.socket, json!({"type": "message", "text": text})).await;
    }

    async fn press(&mut self, frame: &Value, title: &str) {
        let payload = frame["buttons"]
            .as_array()
            .and_then(|buttons| buttons.iter().find(|b| b["title"] == title))
            .map(|b| b["payload"].clone())
            .unwrap_or_else(|| panic!("no button `{title}` in {frame}"));
        send(
            &mut self.socket,
            json!({"type": "button", "payload": payload}),
        )
        .await;
    }

    async fn press_nth(&mut self, frame: &Value, pick: impl FnOnce(&[Value]) -> &Value) {
        let buttons = frame["buttons"]
            .as_array()
            .unwrap_or_else(|| panic!("no buttons in {frame}"));
        let payload = pick(buttons)["payload"].clone();
        send(
            &mut self.socket,
            json!({"type": "button", "payload": payload}),
        )
        .await;
    }
}

#[tokio::test]
async fn test_drive_booked_in_the_widget_hands_off_one_signed_lead_created() {
    let crm = CrmReceiver::start();
    let site = Deployment::new(FAST_CRM).with_env(crm.env());
    let server = site.serve().await;
    let mut widget = Widget::open(&server).await;
    let greeting = widget.until("").await;
    widget.press(&greeting, "Prueba de manejo").await;
    widget.until("¿Qué modelo quieres manejar?").await;
    widget.say("tiguan").await;
    let branch = widget.until("¿En qué sede").await;
    widget.press(&branch, "Sede Norte").await;
    // The last day offered: today's hours may run out while the test runs.
    let days = widget.until("¿Qué día te queda bien?").await;
    widget.press_nth(&days, |b| b.last().unwrap()).await;
    let times = widget.until("¿A qué hora?").await;
    widget.press_nth(&times, |b| &b[0]).await;
    let consent = widget.until("¿Nos autorizas?").await;
    widget.press(&consent, "Sí, autorizo").await;
    widget.until("¿Cómo te llamas?").await;
    widget.say("Ana María Gómez").await;
    widget.until("celular").await;
    widget.say(PHONE).await;
    widget
        .until("Confirmemos: prueba de manejo del Tiguan")
        .await;

    let sent_at = now_secs();
    widget.say("sí").await;
    let confirmation = widget.until("quedó agendada").await;
    let confirmation = confirmation["text"].as_str().unwrap().to_owned();
    let code = confirmation
        .split("Código: ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("a booking code")
        .to_owned();

    let received = crm
        .wait_until(|r| accepted(r).iter().any(|r| r.event() == "lead.created"))
        .await
        .expect("the CRM got a lead.created");
    let created = accepted(&received)
        .into_iter()
        .find(|r| r.event() == "lead.created")
        .unwrap()
        .clone();
    let elapsed = created.at - sent_at;
    eprintln!("from the confirming \"sí\" to the CRM's record of lead.created: {elapsed:.3} s");
    assert!(elapsed < 10.0, "took {elapsed:.1} s");
    created.assert_valid();

    let data = &created.body["data"];
    assert_eq!(data["status"], "handed_off", "{data}");
    assert_eq!(data["handoff_reason"], "booking", "{data}");
    assert_eq!(data["channel"], "web", "{data}");
    assert_eq!(data["customer"]["name"], "Ana María Gómez", "{data}");
    assert_eq!(data["customer"]["phone"], PHONE_E164, "{data}");
    let consent = &data["consent"];
    assert_eq!(consent["purpose"], "contact", "{consent}");
    assert!(
        consent["text"]
            .as_str()
            .is_some_and(|t| t.contains("Ley 1581")),
        "{consent}"
    );
    assert!(
        consent["version"].as_str().is_some_and(|v| !v.is_empty()),
        "{consent}"
    );
    assert!(consent["revoked_at"].is_null(), "{consent}");
    let qualification = &data["qualification"];
    assert!(
        qualification["score"].as_u64().is_some_and(|s| s > 0),
        "{qualification}"
    );
    assert!(
        ["cold", "warm", "hot"].contains(&qualification["band"].as_str().unwrap_or_default()),
        "{qualification}"
    );
    let signals: Vec<&str> = qualification["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["signal"].as_str())
        .collect();
    assert!(signals.contains(&"booked_test_drive"), "{qualification}");
    let bookings = data["bookings"].as_array().unwrap();
    assert_eq!(bookings.len(), 1, "{data}");
    assert_eq!(bookings[0]["code"], code.as_str(), "{data}");
    assert_eq!(bookings[0]["kind"], "test_drive", "{data}");
    assert_eq!(bookings[0]["model"]["id"], "tiguan", "{data}");
    let assignment = &data["assignment"];
    assert_eq!(assignment["branch"]["id"], "norte", "{assignment}");
    assert!(
        assignment["advisor"]["id"].as_str().is_some(),
        "{assignment}"
    );
    assert!(
        assignment["advisor"]["name"].as_str().is_some(),
        "{assignment}"
    );

    let transcript = data["transcript"].as_array().unwrap();
    let said = |direction: &str, needle: &str| {
        transcript.iter().any(|line| {
            line["direction"] == direction
                && line["text"].as_str().is_some_and(|t| t.contains(needle))
        })
    };
    for customer_said in ["tiguan", "Sede Norte", "Ana María Gómez", PHONE, "sí"] {
        assert!(
            said("in", customer_said),
            "`{customer_said}` not in {transcript:#?}"
        );
    }
    assert!(
        said("out", "Tu prueba de manejo quedó agendada") && said("out", &code),
        "the bot's confirmation is not in the transcript: {transcript:#?}"
    );

    // Delivered and recorded as delivered: nothing more will go out for it.
    let outbox = wait_for(|| async {
        let outbox = server.admin_get("/admin/api/outbox").await;
        (outbox["counts"]["delivered"] == 1 && outbox["counts"]["pending"] == 0).then_some(outbox)
    })
    .await
    .expect("the outbox records the delivery");
    assert_eq!(
        outbox["messages"][0]["webhook_id"],
        created.webhook_id.as_deref().unwrap(),
        "{outbox}"
    );
    let received = crm.received().await;
    assert_eq!(lead_created(&received).len(), 1, "{received:#?}");
}

#[tokio::test]
async fn crm_down_then_up_delivers_later_with_the_same_webhook_id() {
    let crm = CrmReceiver::start();
    crm.set_mode(json!({"status": 503, "retry_after": 1})).await;
    let site = Deployment::new(FAST_CRM).with_env(crm.env());
    let server = site.serve().await;
    WebChat::open(&server.base)
        .await
        .ask_for_an_advisor("Juan Pérez", PHONE)
        .await;

    let failed = crm
        .wait_until(|r| r.len() >= 3)
        .await
        .expect("showroom keeps trying while the CRM is down");
    assert!(failed.iter().all(|r| r.status == 503), "{failed:#?}");
    crm.set_mode(json!({"status": 200, "retry_after": null}))
        .await;
    let received = crm
        .wait_until(|r| !accepted(r).is_empty())
        .await
        .expect("delivered once the CRM is back");

    let attempts = lead_created(&received);
    assert_eq!(
        attempts.len(),
        received.len(),
        "only the lead.created: {received:#?}"
    );
    assert!(attempts.len() >= 4, "{attempts:#?}");
    let first = attempts[0];
    for attempt in &attempts {
        attempt.assert_valid();
        assert_eq!(
            attempt.webhook_id, first.webhook_id,
            "every retry keeps the webhook-id"
        );
        assert_eq!(
            attempt.body_sha256, first.body_sha256,
            "every retry sends the same bytes"
        );
        assert_eq!(attempt.body, first.body);
    }
    assert_eq!(accepted(&received).len(), 1);
    assert_eq!(first.body["data"]["customer"]["phone"], PHONE_E164);
    // The retries were spaced out, not sent in a burst.
    let spread = attempts.last().unwrap().at - first.at;
    assert!(
        spread >= 2.5,
        "{} attempts in {spread:.2} s",
        attempts.len()
    );
}

#[tokio::test]
async fn sigkill_between_commit_and_delivery_delivers_after_restart_once() {
    let crm = CrmReceiver::start();
    crm.set_mode(json!({"status": 503})).await;
    // The lease outlives one attempt (`timeout`) by little, so a message claimed by the
    // killed process is free again soon after the restart.
    let site = Deployment::new(
        r#"
[crm]
schedule = ["0s", "1s", "1s", "1s", "1s", "1s", "1s", "1s", "1s", "1s"]
jitter = 0.0
poll_interval = "200ms"
timeout = "1s"
lease = "2s"
"#,
    )
    .with_env(crm.env());
    let port = free_port();
    let server = site.serve_in("data", port).await;
    WebChat::open(&server.base)
        .await
        .ask_for_an_advisor("Juan Pérez", PHONE)
        .await;
    let failed = crm
        .wait_until(|r| !r.is_empty())
        .await
        .expect("a first attempt while the CRM is down");
    let webhook_id = failed[0].webhook_id.clone().expect("a webhook-id");
    server.kill_hard();

    crm.set_mode(json!({"status": 200})).await;
    let _server = site.serve_in("data", port).await;
    let received = crm
        .wait_until(|r| !accepted(r).is_empty())
        .await
        .expect("delivered after the restart");
    let delivered = accepted(&received);
    assert_eq!(delivered.len(), 1, "{received:#?}");
    assert_eq!(
        delivered[0].webhook_id.as_deref(),
        Some(webhook_id.as_str())
    );
    assert_eq!(delivered[0].event(), "lead.created");
    delivered[0].assert_valid();
    assert!(
        received
            .iter()
            .all(|r| r.webhook_id.as_deref() == Some(webhook_id.as_str())),
        "one message, one webhook-id: {received:#?}"
    );
    // Nothing else comes after it: the outbox records it delivered.
    let outbox = site.cli_json(&["outbox", "list", "--json"]);
    assert_eq!(outbox["counts"]["delivered"], 1, "{outbox}");
    assert_eq!(outbox["counts"]["pending"], 0, "{outbox}");
    assert_eq!(accepted(&crm.received().await).len(), 1);
}

#[tokio::test]
async fn two_instances_on_one_postgres_never_deliver_a_message_twice() {
    const LEADS: usize = 10;
    const NAMES: [&str; LEADS] = [
        "Ana Gómez",
        "Bruno Díaz",
        "Carla Ruiz",
        "Diego Mora",
        "Elena Páez",
        "Fabio León",
        "Gloria Vega",
        "Hugo Rojas",
        "Inés Castro",
        "Jorge Silva",
    ];
    let database = PgDatabase::create().await;
    let crm = CrmReceiver::start();
    // Slow answers keep claims open while the other instance polls.
    crm.set_mode(json!({"status": 200, "delay": 0.3})).await;
    // No settle: both instances' pollers compete for every message at once.
    let site = Deployment::new(
        r#"
[crm]
settle = "0s"
poll_interval = "100ms"
jitter = 0.0
"#,
    )
    .with_env(crm.env())
    .with_env([("DATABASE_URL".to_owned(), database.url.clone())]);
    // One after the other: the first one migrates the database.
    let first = site.serve_in("data-a", free_port()).await;
    let second = site.serve_in("data-b", free_port()).await;

    let mut chats = tokio::task::JoinSet::new();
    for (i, name) in NAMES.into_iter().enumerate() {
        let base = if i % 2 == 0 {
            &first.base
        } else {
            &second.base
        }
        .clone();
        chats.spawn(async move {
            let phone = format!("310 555 {:04}", 1000 + i);
            WebChat::open(&base)
                .await
                .ask_for_an_advisor(name, &phone)
                .await;
        });
    }
    while let Some(done) = chats.join_next().await {
        done.expect("a hand-off conversation");
    }

    let received = crm
        .wait_until(|r| {
            accepted(r)
                .iter()
                .map(|r| r.webhook_id.clone())
                .collect::<BTreeSet<_>>()
                .len()
                >= LEADS
        })
        .await
        .expect("every hand-off delivered");
    let outbox = wait_for(|| async {
        let outbox = first.admin_get("/admin/api/outbox").await;
        (outbox["counts"]["delivered"] == LEADS && outbox["counts"]["pending"] == 0)
            .then_some(outbox)
    })
    .await
    .expect("the outbox records every delivery");
    assert_eq!(outbox["counts"]["dead"], 0, "{outbox}");

    // Whatever arrived after the outbox said "delivered" counts too.
    let received = {
        let later = crm.received().await;
        assert!(later.len() >= received.len());
        later
    };
    let mut per_id: BTreeMap<String, Vec<&Received>> = BTreeMap::new();
    for attempt in &received {
        attempt.assert_valid();
        per_id
            .entry(attempt.webhook_id.clone().expect("a webhook-id"))
            .or_default()
            .push(attempt);
    }
    let twice: Vec<_> = per_id
        .iter()
        .filter(|(_, attempts)| accepted_count(attempts) != 1)
        .map(|(id, attempts)| (id, attempts.len()))
        .collect();
    assert!(
        twice.is_empty(),
        "webhook-ids not delivered exactly once: {twice:?}"
    );
    assert_eq!(per_id.len(), LEADS, "{per_id:#?}");
    let leads: BTreeSet<&str> = received.iter().map(Received::lead_id).collect();
    assert_eq!(leads.len(), LEADS, "one message per lead");
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

fn accepted_count(attempts: &[&Received]) -> usize {
    attempts.iter().filter(|r| r.status == 200).count()
}

#[tokio::test]
async fn crm_410_disables_the_endpoint_until_outbox_retry() {
    let crm = CrmReceiver::start();
    crm.set_mode(json!({"status": 410})).await;
    let site = Deployment::new(FAST_CRM).with_env(crm.env());
    let server = site.serve().await;
    WebChat::open(&server.base)
        .await
        .ask_for_an_advisor("Juan Pérez", PHONE)
        .await;
    crm.wait_until(|r| !r.is_empty())
        .await
        .expect("the first attempt");
    let listing = wait_for(|| async {
        let listing = site.cli_json(&["outbox", "list", "--json"]);
        (!listing["endpoint"]["disabled_at"].is_null()).then_some(listing)
    })
    .await
    .expect("`outbox list` shows the endpoint disabled");
    assert_eq!(listing["counts"]["pending"], 1, "{listing}");

    // A second lead while the endpoint is off: held back too. Ten polls go by.
    WebChat::open(&server.base)
        .await
        .ask_for_an_advisor("Pedro Ruiz", "315 987 6543")
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let received = crm.received().await;
    assert_eq!(received.len(), 1, "sent after 410 Gone: {received:#?}");
    let listing = site.cli_json(&["outbox", "list", "--json"]);
    assert_eq!(listing["counts"]["pending"], 2, "{listing}");
    assert_eq!(listing["counts"]["dead"], 0, "{listing}");
    let table = site.cli(&["outbox", "list"]);
    assert!(table.contains("DISABLED"), "{table}");
    assert!(table.contains("showroom outbox retry --all"), "{table}");

    crm.set_mode(json!({"status": 200})).await;
    let said = site.cli(&["outbox", "retry", "--all"]);
    assert!(said.contains("re-enabled the CRM endpoint"), "{said}");
    let received = crm
        .wait_until(|r| accepted(r).len() >= 2)
        .await
        .expect("both delivered once re-enabled");
    assert_eq!(accepted(&received).len(), 2, "{received:#?}");
    for attempt in accepted(&received) {
        attempt.assert_valid();
    }
    assert_eq!(
        accepted(&received)
            .iter()
            .filter(|r| r.webhook_id == received[0].webhook_id)
            .count(),
        1,
        "the message that got the 410 went out again with its webhook-id"
    );
    let listing = wait_for(|| async {
        let listing = site.cli_json(&["outbox", "list", "--json"]);
        (listing["counts"]["delivered"] == 2).then_some(listing)
    })
    .await
    .expect("both recorded delivered");
    assert!(listing["endpoint"]["disabled_at"].is_null(), "{listing}");
}

#[tokio::test]
async fn exhausted_retries_park_a_dead_letter_that_retry_sends() {
    let crm = CrmReceiver::start();
    crm.set_mode(json!({"status": 500})).await;
    let site = Deployment::new(
        r#"
[crm]
schedule = ["0s", "1s"]
jitter = 0.0
poll_interval = "200ms"
"#,
    )
    .with_env(crm.env());
    let server = site.serve().await;
    WebChat::open(&server.base)
        .await
        .ask_for_an_advisor("Juan Pérez", PHONE)
        .await;
    let dead = wait_for(|| async {
        let listing = site.cli_json(&["outbox", "list", "--status", "dead", "--json"]);
        let messages = listing["messages"].as_array()?;
        (!messages.is_empty()).then(|| messages[0].clone())
    })
    .await
    .expect("a dead letter after the last attempt");
    assert_eq!(dead["status"], "dead", "{dead}");
    assert_eq!(dead["attempts"], 2, "{dead}");
    assert_eq!(dead["last_status"], 500, "{dead}");
    let received = crm.received().await;
    assert_eq!(received.len(), 2, "{received:#?}");
    let webhook_id = dead["webhook_id"].as_str().unwrap();
    assert!(
        received
            .iter()
            .all(|r| r.webhook_id.as_deref() == Some(webhook_id))
    );

    crm.set_mode(json!({"status": 200})).await;
    let id = dead["id"].as_i64().unwrap().to_string();
    let said = site.cli(&["outbox", "retry", &id]);
    assert!(said.contains("1 message back in line"), "{said}");
    let received = crm
        .wait_until(|r| !accepted(r).is_empty())
        .await
        .expect("delivered after the retry");
    let delivered = accepted(&received);
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0].webhook_id.as_deref(), Some(webhook_id));
    assert_eq!(delivered[0].body_sha256, received[0].body_sha256);
    delivered[0].assert_valid();
    wait_for(|| async {
        let listing = site.cli_json(&["outbox", "list", "--json"]);
        (listing["counts"]["delivered"] == 1 && listing["counts"]["dead"] == 0).then_some(())
    })
    .await
    .expect("recorded delivered");
}

#[tokio::test]
async fn privacy_export_and_erase() {
    let crm = CrmReceiver::start();
    let site = Deployment::new(FAST_CRM).with_env(crm.env());
    let server = site.serve().await;
    let mut chat = WebChat::open(&server.base).await;
    chat.ask_for_an_advisor("Juan Pérez", PHONE).await;
    let received = crm
        .wait_until(|r| !accepted(r).is_empty())
        .await
        .expect("the lead.created");
    let lead_id = received[0].lead_id().to_owned();

    let export = site.cli_json(&["privacy", "export", "--phone", "3001234567"]);
    let text = export.to_string();
    assert!(text.contains("Juan Pérez"), "{export:#}");
    assert!(text.contains(PHONE_E164), "{export:#}");
    assert!(text.contains(&lead_id), "{export:#}");
    let consents = find_key(&export, "consents").expect("consents in the export");
    assert!(
        consents
            .as_array()
            .is_some_and(|c| c.iter().any(|c| c["purpose"] == "contact")),
        "{consents}"
    );
    // The transcript: what the customer wrote and what the bot answered.
    assert!(
        text.contains("Ya le pasé tu solicitud a un asesor"),
        "{export:#}"
    );
    assert!(text.contains(PHONE), "{export:#}");
    let customer_id = received[0].body["data"]["customer"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    site.cli(&["privacy", "erase", "--phone", "3001234567", "--yes"]);
    let received = crm
        .wait_until(|r| accepted(r).iter().any(|r| r.event() == "privacy.erased"))
        .await
        .expect("the CRM is told about the erasure");
    let erased = accepted(&received)
        .into_iter()
        .find(|r| r.event() == "privacy.erased")
        .unwrap();
    erased.assert_valid();
    assert_eq!(erased.body["data"]["customer_id"], customer_id.as_str());
    assert!(
        erased.body["data"]["lead_ids"]
            .as_array()
            .unwrap()
            .iter()
            .any(|id| id == lead_id.as_str()),
        "{}",
        erased.body
    );

    let lead = site.cli_json(&["leads", "show", &lead_id, "--json"]);
    assert_eq!(
        find_key(&lead, "status").and_then(Value::as_str),
        Some("erased"),
        "{lead:#}"
    );

    let after = site.cli_json(&["privacy", "export", "--customer", &customer_id]);
    let profile = find_key(&after, "profile").expect("the customer record");
    assert!(
        profile["name"].is_null() && profile["phone"].is_null(),
        "{after:#}"
    );
    let conversations = find_key(&after, "conversations")
        .and_then(Value::as_array)
        .expect("the conversations, kept for counts");
    assert!(!conversations.is_empty(), "{after:#}");
    for conversation in conversations {
        for message in conversation["messages"].as_array().unwrap() {
            assert_eq!(message["text"], "", "a transcript text is kept: {message}");
        }
    }
    let text = after.to_string();
    for gone in [
        "Juan Pérez",
        PHONE_E164,
        PHONE,
        "3001234567",
        "Ya le pasé tu solicitud a un asesor",
    ] {
        assert!(!text.contains(gone), "`{gone}` is still held: {after:#}");
    }
}

/// The first value under `key`, searching objects depth-first.
fn find_key<'a>(value: &'a Value, key: &str) -> Option<&'a Value> {
    match value {
        Value::Object(map) => map
            .get(key)
            .or_else(|| map.values().find_map(|v| find_key(v, key))),
        Value::Array(items) => items.iter().find_map(|v| find_key(v, key)),
        _ => None,
    }
}

#[tokio::test]
async fn opt_out_revokes_consent_and_sends_lead_updated() {
    let crm = CrmReceiver::start();
    let site = Deployment::new(FAST_CRM).with_env(crm.env());
    let server = site.serve().await;
    let mut chat = WebChat::open(&server.base).await;
    chat.ask_for_an_advisor("Juan Pérez", PHONE).await;
    let received = crm
        .wait_until(|r| !accepted(r).is_empty())
        .await
        .expect("the lead.created");
    let lead_id = received[0].lead_id().to_owned();
    assert!(received[0].body["data"]["consent"]["revoked_at"].is_null());

    let options = chat.say("no quiero que me contacten").await;
    assert!(options.contains("¿Qué quieres hacer?"), "{options}");
    let done = chat.press("No contactarme").await;
    assert!(done.contains("retiramos tu autorización"), "{done}");

    let received = crm
        .wait_until(|r| {
            accepted(r).iter().any(|r| {
                r.event() == "lead.updated" && !r.body["data"]["consent"]["revoked_at"].is_null()
            })
        })
        .await
        .expect("a lead.updated with the consent revoked");
    let updated = accepted(&received)
        .into_iter()
        .find(|r| r.event() == "lead.updated" && !r.body["data"]["consent"]["revoked_at"].is_null())
        .unwrap();
    updated.assert_valid();
    let data = &updated.body["data"];
    assert_eq!(data["lead_id"], lead_id.as_str());
    assert_eq!(data["consent"]["purpose"], "contact", "{data}");
    assert!(
        data["revision"].as_i64() > received[0].body["data"]["revision"].as_i64(),
        "{data}"
    );
    assert_ne!(updated.webhook_id, received[0].webhook_id);
}
