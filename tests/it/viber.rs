//! Viber end to end: a real `showroom serve` against the fake Viber REST API
//! (`fake_viber.rs`). The webhook is registered at start; callbacks are signed like
//! Viber's, and unsigned or wrongly signed ones are refused with nothing stored; a
//! customer books a test drive with keyboard keys and the share-phone key; "too many
//! requests" is waited out; unsubscribing opts the customer out. The shipped flow tests
//! also pass through the Viber adapter.

use std::sync::Arc;

use serde_json::{Value, json};
use showroom::channels::viber::round_trip::ViberRoundTrip;

use crate::fake_viber::{FakeViber, texts};
use crate::support::{Deployment, PgDatabase, ServeProcess, free_port, wait_for};

/// A showroom with Viber on, talking to `fake`; waits until its webhook is registered.
async fn serve_with_viber(fake: &FakeViber) -> (Deployment, ServeProcess, String) {
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let site = Deployment::new("").with_env(fake.env(&base));
    let server = site.serve_in("data", port).await;
    let webhook = format!("{base}/webhooks/viber");
    let registered = wait_for(|| async { fake.webhook() }).await;
    assert_eq!(
        registered.as_deref(),
        Some(webhook.as_str()),
        "set_webhook at start"
    );
    (site, server, webhook)
}

fn conversations_on_viber(listing: &Value) -> Vec<Value> {
    listing["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["channel"] == "viber")
        .cloned()
        .collect()
}

/// The customer record of the one Viber conversation.
async fn viber_customer(server: &ServeProcess) -> Value {
    let conversations = conversations_on_viber(&server.admin_get("/admin/api/conversations").await);
    assert_eq!(conversations.len(), 1, "{conversations:#?}");
    let id = conversations[0]["customer_id"].as_str().unwrap();
    server
        .admin_get(&format!("/admin/api/customers/{id}"))
        .await
}

/// `detail["customer"]` or the detail itself.
fn record(detail: &Value) -> &Value {
    if detail["customer"].is_object() {
        &detail["customer"]
    } else {
        detail
    }
}

fn record_consents(detail: &Value) -> Vec<Value> {
    detail["consents"]
        .as_array()
        .or(record(detail)["consents"].as_array())
        .cloned()
        .unwrap_or_else(|| panic!("no consents in {detail:#}"))
}

#[tokio::test]
async fn a_test_drive_booking_completes_over_viber() {
    let fake = FakeViber::start().await;
    let (_site, server, webhook) = serve_with_viber(&fake).await;
    let set = &fake.calls("set_webhook")[0];
    assert_eq!(
        set.auth_token.as_deref(),
        Some(crate::fake_viber::VIBER_TOKEN)
    );
    assert_eq!(
        set.body["event_types"],
        json!([
            "delivered",
            "seen",
            "failed",
            "subscribed",
            "unsubscribed",
            "conversation_started"
        ])
    );
    let account = wait_for(|| async { fake.calls("get_account_info").first().cloned() }).await;
    assert!(account.is_some(), "get_account_info for the chat URI");

    let mut ana = fake.customer(&webhook, "pttm25kSGUo1919sBORWyA==", "es");
    let welcome = ana.start(None).await;
    assert!(welcome.get("receiver").is_none(), "{welcome}");
    assert_eq!(welcome["type"], "text", "{welcome}");
    assert!(welcome["sender"]["name"].is_string(), "{welcome}");
    assert!(
        ana.keys().iter().any(|k| k["Text"] == "Prueba de manejo"),
        "the welcome carries the menu: {welcome:#}"
    );
    assert!(
        fake.sent_to(&ana.id).is_empty(),
        "nothing sent before the customer writes"
    );

    let said = ana.press("Prueba de manejo").await;
    assert!(
        texts(&said).contains("¿Qué modelo quieres manejar?"),
        "{said:#?}"
    );
    let said = ana.say("tiguan").await;
    assert!(texts(&said).contains("¿En qué sede"), "{said:#?}");
    let said = ana.press("Sede Norte").await;
    assert!(
        texts(&said).contains("¿Qué día te queda bien?"),
        "{said:#?}"
    );
    // The last day offered: today's hours may run out while the test runs.
    let last_day = ana.keys().last().cloned().unwrap();
    let said = ana.press_key(&last_day).await;
    assert!(texts(&said).contains("¿A qué hora?"), "{said:#?}");
    let first_time = ana.keys()[0].clone();
    let said = ana.press_key(&first_time).await;
    assert!(texts(&said).contains("¿Nos autorizas?"), "{said:#?}");
    let said = ana.press("Sí, autorizo").await;
    assert!(texts(&said).contains("¿Cómo te llamas?"), "{said:#?}");
    let said = ana.say("Ana María Gómez").await;
    assert!(texts(&said).contains("celular"), "{said:#?}");
    let share = said
        .iter()
        .find_map(|m| m["keyboard"]["Buttons"].as_array())
        .and_then(|keys| keys.iter().find(|k| k["ActionType"] == "share-phone"))
        .unwrap_or_else(|| panic!("the phone question shows a share-phone key: {said:#?}"));
    assert_eq!(share["Text"], "📱 Compartir mi número");
    let asked = said.iter().find(|m| m.get("keyboard").is_some()).unwrap();
    assert!(asked["min_api_version"].as_u64().unwrap() >= 3, "{asked}");
    let said = ana.share_phone("573001234567").await;
    assert!(
        texts(&said).contains("Confirmemos: prueba de manejo del Tiguan"),
        "{said:#?}"
    );
    let said = ana.say("sí").await;
    assert!(texts(&said).contains("quedó agendada"), "{said:#?}");

    let bookings = server.admin_get("/admin/api/bookings").await;
    let bookings = bookings["bookings"].as_array().unwrap();
    assert_eq!(bookings.len(), 1, "{bookings:#?}");
    assert_eq!(bookings[0]["channel"], "viber", "{bookings:#?}");
    assert_eq!(bookings[0]["name"], "Ana María Gómez", "{bookings:#?}");
    let customer = viber_customer(&server).await;
    let profile = &record(&customer)["profile"];
    assert_eq!(profile["phone"], "+573001234567", "{customer:#}");
    assert_eq!(profile["phone_verified"], true, "{customer:#}");

    // Unsubscribing is the privacy flow's "don't contact me": opted out, consent withdrawn.
    let consents = record_consents(&customer);
    assert!(
        consents.iter().any(|c| c["revoked_at"].is_null()),
        "a consent to withdraw: {customer:#}"
    );
    fake.unsubscribe(&ana.id);
    let (status, _) = ana.post(&ana.unsubscribed()).await;
    assert_eq!(status, 200);
    let customer = viber_customer(&server).await;
    assert!(record(&customer)["opted_out_at"].is_i64(), "{customer:#}");
    let consents = record_consents(&customer);
    assert!(
        consents.iter().all(|c| !c["revoked_at"].is_null()),
        "every consent withdrawn: {customer:#}"
    );

    // Receipts are recorded and counted.
    let delivered = ana.receipt("delivered", &json!(5741311803571721000u64));
    let (status, _) = ana.post(&delivered).await;
    assert_eq!(status, 200);
    let metrics = reqwest::get(format!("{}/metrics", server.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("showroom_viber_receipts_total"),
        "a receipts counter: {metrics}"
    );
}

#[tokio::test]
async fn unsigned_and_wrongly_signed_callbacks_are_refused_and_nothing_is_stored() {
    let fake = FakeViber::start().await;
    let (_site, server, webhook) = serve_with_viber(&fake).await;
    let ana = fake.customer(&webhook, "01234567890A=", "es");
    let event = serde_json::to_vec(&ana.message(json!({"type": "text", "text": "hola"}))).unwrap();

    let (status, answer) = ana.post_raw(event.clone(), None).await;
    assert_eq!(status, 403, "{answer}");
    assert_eq!(answer["code"], "invalid_signature", "{answer}");
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains("X-Viber-Content-Signature")
    );

    let forged = showroom::channels::viber::webhook::sign(b"not-the-token", &event);
    let (status, answer) = ana.post_raw(event.clone(), Some(&forged)).await;
    assert_eq!(status, 403, "{answer}");

    // A right signature over other bytes does not pass either.
    let right =
        showroom::channels::viber::webhook::sign(crate::fake_viber::VIBER_TOKEN.as_bytes(), &event);
    let mut tampered = event.clone();
    tampered.extend_from_slice(b" ");
    let (status, _) = ana.post_raw(tampered, Some(&right)).await;
    assert_eq!(status, 403);

    let listing = server.admin_get("/admin/api/conversations").await;
    assert!(conversations_on_viber(&listing).is_empty(), "{listing:#}");
    assert!(fake.sent_to(&ana.id).is_empty());

    // Signed but not JSON: 400 with a clear error.
    let garbage = b"{not json".to_vec();
    let signature = showroom::channels::viber::webhook::sign(
        crate::fake_viber::VIBER_TOKEN.as_bytes(),
        &garbage,
    );
    let (status, answer) = ana.post_raw(garbage, Some(&signature)).await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["code"], "invalid_request", "{answer}");

    // And the real thing passes.
    let (status, _) = ana.post_raw(event, Some(&right)).await;
    assert_eq!(status, 200);
    let listing = server.admin_get("/admin/api/conversations").await;
    assert_eq!(conversations_on_viber(&listing).len(), 1, "{listing:#}");
}

#[tokio::test]
async fn too_many_requests_is_waited_out_and_the_reply_delivered() {
    let fake = FakeViber::start().await;
    let (_site, _server, webhook) = serve_with_viber(&fake).await;
    let mut ana = fake.customer(&webhook, "pttm25kSGUo1919sBORWyA==", "es");
    ana.start(None).await;
    fake.script(&[12, 12]);
    let said = ana.say("quiero una prueba de manejo").await;
    assert!(
        texts(&said).contains("¿Qué modelo quieres manejar?"),
        "{said:#?}"
    );
    let attempts = fake.calls("send_message");
    let refused = attempts
        .iter()
        .filter(|c| c.body["_answered"] == 12)
        .count();
    assert_eq!(refused, 2, "{attempts:#?}");
    assert_eq!(said.len(), 1, "delivered once: {said:#?}");
}

#[tokio::test]
async fn a_callback_that_cannot_be_stored_gets_503_and_is_taken_when_viber_sends_it_again() {
    let fake = FakeViber::start().await;
    let database = PgDatabase::create().await;
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut env = fake.env(&base);
    env.push(("DATABASE_URL".to_owned(), database.url.clone()));
    let site = Deployment::new("[store]\nacquire_timeout = \"1s\"\n").with_env(env);
    let server = site.serve_in("data", port).await;
    let webhook = format!("{base}/webhooks/viber");
    wait_for(|| async { fake.webhook() }).await;
    let ana = fake.customer(&webhook, "pttm25kSGUo1919sBORWyA==", "es");
    // The same callback twice, as Viber resends it: same message_token.
    let event = ana.message(json!({"type": "text", "text": "quiero hablar con un asesor"}));

    database.set_reachable(false).await;
    let (status, body) = ana.post(&event).await;
    assert_eq!(status, 503, "Viber must send it again: {body}");
    assert!(fake.sent_to("pttm25kSGUo1919sBORWyA==").is_empty());

    database.set_reachable(true).await;
    let (status, body) = ana.post(&event).await;
    assert_eq!(status, 200, "{body}");
    let answered = wait_for(|| async {
        let sent = fake.sent_to("pttm25kSGUo1919sBORWyA==");
        (!sent.is_empty()).then_some(sent)
    })
    .await
    .expect("the customer is answered once the database is back");
    assert!(!answered.is_empty());
    let conversations = conversations_on_viber(&server.admin_get("/admin/api/conversations").await);
    let id = conversations[0]["id"].as_str().unwrap();
    let conversation = server
        .admin_get(&format!("/admin/api/conversations/{id}"))
        .await;
    let inbound = conversation["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["direction"] == "in")
        .count();
    assert_eq!(inbound, 1, "stored once: {conversation:#}");
}

#[tokio::test]
async fn unsubscribing_opts_the_customer_out_and_nothing_more_is_sent() {
    let fake = FakeViber::start().await;
    let (_site, server, webhook) = serve_with_viber(&fake).await;
    let mut ana = fake.customer(&webhook, "pttm25kSGUo1919sBORWyA==", "es");
    ana.start(None).await;
    let said = ana.say("quiero una prueba de manejo").await;
    assert!(!said.is_empty());
    let before = fake.calls("send_message").len();

    fake.unsubscribe(&ana.id);
    let (status, answer) = ana.post(&ana.unsubscribed()).await;
    assert_eq!(status, 200, "{answer}");

    let customer = viber_customer(&server).await;
    assert!(
        record(&customer)["opted_out_at"].is_i64(),
        "opted out: {customer:#}"
    );
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(
        fake.calls("send_message").len(),
        before,
        "nothing sent after unsubscribing"
    );
}

#[tokio::test]
async fn a_deep_link_context_starts_its_flow_in_the_welcome() {
    let fake = FakeViber::start().await;
    let (_site, _server, webhook) = serve_with_viber(&fake).await;
    let mut ana = fake.customer(&webhook, "pttm25kSGUo1919sBORWyA==", "es");
    let welcome = ana.start(Some("asesor")).await;
    assert!(
        ana.keys().iter().any(|k| k["Text"] == "Sí, autorizo"),
        "the advisor flow asks for consent first: {welcome:#}"
    );
    let said = ana.press("Sí, autorizo").await;
    assert!(texts(&said).contains("¿Cómo te llamas?"), "{said:#?}");
}

#[tokio::test]
async fn set_webhook_is_tried_again_until_viber_takes_it() {
    let fake = FakeViber::start().await;
    fake.fail_set_webhook(2);
    let (_site, _server, _webhook) = serve_with_viber(&fake).await;
    let calls = fake.calls("set_webhook");
    assert_eq!(calls.len(), 3, "two refusals, then success: {calls:#?}");
}

#[tokio::test]
async fn the_webhook_is_not_found_when_viber_is_off() {
    let site = Deployment::new("");
    let server = site.serve().await;
    let response = reqwest::Client::new()
        .post(format!("{}/webhooks/viber", server.base))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 404);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["code"], "not_found", "{answer}");
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains("VIBER_AUTH_TOKEN"),
        "{answer}"
    );
}

#[tokio::test]
async fn pictures_get_a_polite_answer_in_the_customer_s_language() {
    let fake = FakeViber::start().await;
    let (_site, _server, webhook) = serve_with_viber(&fake).await;
    let mut john = fake.customer(&webhook, "K917PBuvPZmhKfb8Vw3b2Q==", "en");
    john.start(None).await;
    let said = john
        .send(
            json!({"type": "picture", "text": "", "media": "http://example.com/p.jpg",
                     "thumbnail": "http://example.com/t.jpg"}),
        )
        .await;
    assert!(
        texts(&said).contains("For now I can only read text and buttons"),
        "{said:#?}"
    );
}

#[tokio::test]
async fn shipped_flow_tests_pass_through_the_viber_adapter() {
    crate::flows::assert_shipped_flow_tests_pass(Some(Arc::new(ViberRoundTrip::new()))).await;
}
