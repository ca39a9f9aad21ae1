//! Telegram end to end: the real `showroom serve` against the fake Bot API — a test drive
//! booked by long polling (inline buttons, the share-phone button), the webhook's secret
//! token, Telegram's "retry after", redelivered updates, escaping and language; and the
//! shipped flow tests through the Telegram adapter.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use showroom::channels::telegram::round_trip::TelegramRoundTrip;

use crate::fake_telegram::{
    Failure, FakeTelegram, TelegramCustomer, callback_update, contact_update, text_update,
};
use crate::support::{Deployment, PgDatabase};

/// Five messages a second to a chat keeps the conversations quick; the 429 test uses
/// Telegram's one.
const QUICK: &str = "[telegram]\nmessages_per_second_per_chat = 5\nedit_interval = \"200ms\"\n";

/// Waits until the bot called `method`; on a timeout shows the server's log.
async fn wait_for_calls(
    fake: &FakeTelegram,
    site: &Deployment,
    method: &str,
) -> Vec<crate::fake_telegram::Call> {
    for _ in 0..200 {
        let calls = fake.calls(method);
        if !calls.is_empty() {
            return calls;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "the bot never called {method}; server log:\n{}",
        serve_log(site)
    );
}

/// The logs of the deployment's `serve` processes (`data.<port>.log` beside `data`).
fn serve_log(site: &Deployment) -> String {
    let data = site.data_dir("data");
    let Some(dir) = data.parent() else {
        return String::new();
    };
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".log"))
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn a_test_drive_booking_completes_over_telegram_by_polling() {
    let fake = FakeTelegram::start().await;
    let site = Deployment::new(QUICK).with_env(fake.env());
    let server = site.serve().await;
    wait_for_calls(&fake, &site, "deleteWebhook").await;
    wait_for_calls(&fake, &site, "getUpdates").await;
    assert!(
        !fake.calls("getMe").is_empty(),
        "the username is asked with getMe"
    );

    let ana = TelegramCustomer {
        fake: &fake,
        chat: 5_550_001,
        language: "es",
    };
    let greeting = ana.say("/start", "¿En qué te puedo ayudar?").await;
    let last = greeting
        .iter()
        .find(|m| !m.buttons.is_empty())
        .expect("the greeting with the menu");
    assert_eq!(last.parse_mode.as_deref(), Some("HTML"));
    assert!(
        last.buttons
            .iter()
            .any(|(title, _)| title == "Prueba de manejo"),
        "{last:?}"
    );
    assert!(!fake.calls("sendChatAction").is_empty(), "typing… is shown");

    ana.press("Prueba de manejo", "¿Qué modelo quieres manejar?")
        .await;
    assert!(
        !fake.calls("answerCallbackQuery").is_empty(),
        "the button's spinner is stopped"
    );
    ana.say("tiguan", "¿En qué sede quieres probar el Tiguan?")
        .await;
    ana.press("Sede Norte", "¿Qué día te queda bien?").await;
    let day = ana.first_button();
    ana.press(&day, "¿A qué hora?").await;
    let time = ana.first_button();
    ana.press(&time, "¿Nos autorizas?").await;
    ana.press("Sí, autorizo", "¿Cómo te llamas?").await;
    let asked = ana.say("Ana María Gómez", "celular").await;
    assert!(
        asked
            .iter()
            .any(|m| m.asks_contact && m.text.contains("celular")),
        "the phone question shows the share-phone button: {asked:?}"
    );

    let seen = ana.seen();
    fake.push_update(contact_update(ana.chat, "+573001234567"));
    let confirm = fake
        .wait_for(ana.chat, seen, |m| m.text.contains("¿La agendo?"))
        .await;
    assert!(
        confirm.iter().any(|m| m
            .text
            .contains("Confirmemos: prueba de manejo del Tiguan en Sede Norte")),
        "{confirm:?}"
    );
    let done = ana.press("Sí, agendar", "quedó agendada").await;
    let confirmation = &done
        .iter()
        .find(|m| m.text.contains("Código: "))
        .expect("the confirmation")
        .text;
    let code = confirmation
        .split("Código: ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("a booking code")
        .to_owned();

    let booking = server
        .admin_get(&format!("/admin/api/bookings/{code}"))
        .await;
    assert_eq!(booking["booking"]["status"], "confirmed", "{booking}");
    assert_eq!(booking["booking"]["model"], "tiguan", "{booking}");

    let conversations = server.admin_get("/admin/api/conversations").await;
    let conversation = conversations["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["channel"] == "telegram")
        .unwrap_or_else(|| panic!("no Telegram conversation: {conversations:#}"))
        .clone();
    let customer = server
        .admin_get(&format!(
            "/admin/api/customers/{}",
            conversation["customer_id"].as_str().unwrap()
        ))
        .await;
    let text = customer.to_string();
    assert!(text.contains("+573001234567"), "{customer:#}");
    assert!(
        text.contains("\"phone_verified\":true"),
        "a shared contact is a verified phone: {customer:#}"
    );
    drop(server);
}

#[tokio::test]
async fn the_webhook_takes_only_requests_with_the_secret_token() {
    let fake = FakeTelegram::start().await;
    let mut env = fake.env();
    env.retain(|(name, _)| !name.starts_with("TELEGRAM_WEBHOOK"));
    env.push((
        "TELEGRAM_WEBHOOK_URL".into(),
        "https://bot.example.co/webhooks/telegram".into(),
    ));
    env.push(("TELEGRAM_WEBHOOK_SECRET".into(), "s3cr3t_-token".into()));
    let site = Deployment::new(QUICK).with_env(env);
    let server = site.serve().await;

    let registered = wait_for_calls(&fake, &site, "setWebhook").await;
    let params = &registered[0].params;
    assert_eq!(params["url"], "https://bot.example.co/webhooks/telegram");
    assert_eq!(params["secret_token"], "s3cr3t_-token");
    assert_eq!(
        params["allowed_updates"],
        json!(["message", "callback_query"])
    );
    assert!(
        fake.calls("getUpdates").is_empty(),
        "no polling in webhook mode"
    );

    let client = reqwest::Client::new();
    let url = format!("{}/webhooks/telegram", server.base);
    let mut update = text_update(5_550_002, "hola", "es");
    update["update_id"] = json!(77);
    let post = |secret: Option<&str>, body: String| {
        let mut request = client
            .post(&url)
            .header("content-type", "application/json")
            .body(body);
        if let Some(secret) = secret {
            request = request.header("X-Telegram-Bot-Api-Secret-Token", secret);
        }
        request.send()
    };

    for secret in [
        None,
        Some("wrong"),
        Some("s3cr3t_-toke"),
        Some("s3cr3t_-tokenX"),
    ] {
        let refused = post(secret, update.to_string()).await.unwrap();
        assert_eq!(refused.status(), 401, "secret {secret:?}");
        let body: Value = refused.json().await.unwrap();
        assert_eq!(body["code"], "unauthorized", "{body}");
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains("X-Telegram-Bot-Api-Secret-Token"),
            "{body}"
        );
    }
    let conversations = server.admin_get("/admin/api/conversations").await;
    assert_eq!(
        conversations["conversations"],
        json!([]),
        "nothing stored from refused requests"
    );
    assert!(fake.sent_to(5_550_002).is_empty());

    let malformed = post(Some("s3cr3t_-token"), "{\"update_id\": ".into())
        .await
        .unwrap();
    assert_eq!(malformed.status(), 400);

    let accepted = post(Some("s3cr3t_-token"), update.to_string())
        .await
        .unwrap();
    assert_eq!(accepted.status(), 200);
    let answered = fake.sent_to(5_550_002);
    assert!(!answered.is_empty(), "answered within the request");

    // Telegram redelivers an update it got no 200 for: it is answered once.
    let again = post(Some("s3cr3t_-token"), update.to_string())
        .await
        .unwrap();
    assert_eq!(again.status(), 200);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        fake.sent_to(5_550_002).len(),
        answered.len(),
        "a redelivered update is not answered twice"
    );
    drop(server);
}

#[tokio::test]
async fn an_update_that_cannot_be_stored_gets_503_and_is_taken_when_telegram_sends_it_again() {
    let fake = FakeTelegram::start().await;
    let database = PgDatabase::create().await;
    let mut env = fake.env();
    env.retain(|(name, _)| !name.starts_with("TELEGRAM_WEBHOOK"));
    env.extend([
        (
            "TELEGRAM_WEBHOOK_URL".to_owned(),
            "https://bot.example.co/webhooks/telegram".to_owned(),
        ),
        (
            "TELEGRAM_WEBHOOK_SECRET".to_owned(),
            "s3cr3t_-token".to_owned(),
        ),
        ("DATABASE_URL".to_owned(), database.url.clone()),
    ]);
    let settings = format!("{QUICK}[store]\nacquire_timeout = \"1s\"\n");
    let site = Deployment::new(&settings).with_env(env);
    let server = site.serve().await;
    wait_for_calls(&fake, &site, "setWebhook").await;

    let client = reqwest::Client::new();
    let url = format!("{}/webhooks/telegram", server.base);
    let mut update = text_update(5_550_009, "quiero hablar con un asesor", "es");
    update["update_id"] = json!(901);
    let post = || {
        client
            .post(&url)
            .header("content-type", "application/json")
            .header("X-Telegram-Bot-Api-Secret-Token", "s3cr3t_-token")
            .body(update.to_string())
            .send()
    };

    database.set_reachable(false).await;
    let refused = post().await.unwrap();
    assert_eq!(
        refused.status(),
        503,
        "Telegram must send it again: {}",
        refused.text().await.unwrap_or_default()
    );
    assert!(fake.sent_to(5_550_009).is_empty());

    // The database is back: Telegram's next attempt is taken, without a restart.
    database.set_reachable(true).await;
    let accepted = post().await.unwrap();
    assert_eq!(accepted.status(), 200);
    let answered = fake.sent_to(5_550_009);
    assert!(
        answered
            .iter()
            .any(|m| m.text.contains("asesor") || m.text.contains("datos")),
        "the customer is answered: {answered:#?}"
    );
    let conversations = server.admin_get("/admin/api/conversations").await;
    let id = conversations["conversations"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let conversation = server
        .admin_get(&format!("/admin/api/conversations/{id}"))
        .await;
    let inbound: Vec<&Value> = conversation["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["direction"] == "in")
        .collect();
    assert_eq!(inbound.len(), 1, "stored once: {conversation:#}");
    drop(server);
}

#[tokio::test]
async fn retry_after_is_honoured_and_english_speakers_get_english() {
    let fake = FakeTelegram::start().await;
    // Telegram's own limit: one message a second to a chat.
    let site = Deployment::new("").with_env(fake.env());
    let server = site.serve().await;
    wait_for_calls(&fake, &site, "getUpdates").await;

    fake.fail_next("sendMessage", 1, Failure::RetryAfter(1));
    let john = TelegramCustomer {
        fake: &fake,
        chat: 5_550_003,
        language: "en",
    };
    let greeting = john.say("/start", "How can I help you?").await;
    assert!(
        greeting
            .last()
            .unwrap()
            .buttons
            .iter()
            .any(|(t, _)| t == "Test drive"),
        "{greeting:?}"
    );
    let attempts: Vec<_> = fake
        .calls("sendMessage")
        .into_iter()
        .filter(|c| c.params["chat_id"] == json!(5_550_003))
        .collect();
    assert!(attempts.len() >= 2, "refused once, then sent: {attempts:?}");
    let waited = attempts[1].at.duration_since(attempts[0].at);
    assert!(
        waited >= Duration::from_millis(950),
        "sent again after {waited:?}, before the 1 s Telegram asked for"
    );

    // A customer who blocked the bot: nothing crashes, the next customer is answered.
    fake.fail_next(
        "sendMessage",
        1,
        Failure::Forbidden("Forbidden: bot was blocked by the user"),
    );
    fake.push_update(text_update(5_550_004, "hola", "es"));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let maria = TelegramCustomer {
        fake: &fake,
        chat: 5_550_005,
        language: "es",
    };
    maria.say("/start", "¿En qué te puedo ayudar?").await;

    // A button whose data the bot never issued: an alert, then the menu; nothing breaks.
    let seen = maria.seen();
    fake.push_update(callback_update(maria.chat, 1, "~forgedkey"));
    let menu = fake
        .wait_for(maria.chat, seen, |m| !m.buttons.is_empty())
        .await;
    assert!(!menu.is_empty());
    let alerts: Vec<_> = fake
        .calls("answerCallbackQuery")
        .into_iter()
        .filter(|c| c.params["show_alert"] == true)
        .collect();
    assert!(
        alerts.iter().any(|c| c.params["text"]
            .as_str()
            .unwrap_or_default()
            .contains("ya no está disponible")),
        "{alerts:?}"
    );

    // A photo gets a polite answer, not an error.
    let seen = maria.seen();
    let mut photo = text_update(maria.chat, "", "es");
    if let Some(message) = photo["message"].as_object_mut() {
        message.remove("text");
        message.insert(
            "photo".into(),
            json!([{"file_id": "AgAD", "file_unique_id": "AQAD", "width": 90, "height": 90}]),
        );
    }
    fake.push_update(photo);
    fake.wait_for(maria.chat, seen, |m| m.text.contains("solo leo texto"))
        .await;

    drop(server);
}

#[tokio::test]
async fn shipped_flow_tests_pass_through_the_telegram_adapter() {
    crate::flows::assert_shipped_flow_tests_pass(Some(Arc::new(TelegramRoundTrip::new()))).await;
}
