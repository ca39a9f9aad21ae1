//! A customer books a test drive and a service appointment with the shipped flows, end
//! to end: over the chat HTTP API (what the widget speaks) against a real server and
//! SQLite file, and through the `showroom chat` binary. The booking is real: it holds
//! the demo car, shows in the admin API and its `.ics` link downloads.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use crate::booking_support::admin_get;
use crate::support::start_server;

const SHIPPED_FLOWS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/flows");

struct Chat {
    client: reqwest::Client,
    url: String,
    session: Option<String>,
}

impl Chat {
    /// Sends text or a button (by its title, as a customer would see it) and returns
    /// the bot's replies.
    async fn send(&mut self, body: Value) -> Vec<Value> {
        let mut body = body;
        if let Some(session) = &self.session {
            body["session"] = json!(session);
        }
        let response: Value = self
            .client
            .post(&self.url)
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        self.session = response["session"].as_str().map(str::to_owned);
        response["replies"].as_array().cloned().unwrap_or_default()
    }

    async fn say(&mut self, text: &str) -> Vec<Value> {
        self.send(json!({ "text": text })).await
    }

    /// Presses the button titled `title` in the last replies.
    async fn press(&mut self, replies: &[Value], title: &str) -> Vec<Value> {
        let payload =
            button(replies, title).unwrap_or_else(|| panic!("no button `{title}` in {replies:?}"));
        self.send(json!({ "button": payload })).await
    }
}

fn button(replies: &[Value], title: &str) -> Option<String> {
    replies.iter().rev().find_map(|r| {
        r["buttons"].as_array()?.iter().find_map(|b| {
            (b["title"] == title).then(|| b["payload"].as_str().unwrap_or_default().to_owned())
        })
    })
}

fn first_button(replies: &[Value]) -> String {
    replies
        .iter()
        .rev()
        .find_map(|r| r["buttons"][0]["title"].as_str().map(str::to_owned))
        .unwrap_or_else(|| panic!("no buttons in {replies:?}"))
}

fn last_button(replies: &[Value]) -> String {
    replies
        .iter()
        .rev()
        .find_map(|r| {
            r["buttons"].as_array()?.last()?["title"]
                .as_str()
                .map(str::to_owned)
        })
        .unwrap_or_else(|| panic!("no buttons in {replies:?}"))
}

fn texts(replies: &[Value]) -> String {
    replies
        .iter()
        .filter_map(|r| r["text"].as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The consent question among `replies`, exactly as the customer saw it.
fn consent_question(replies: &[Value]) -> String {
    replies
        .iter()
        .filter_map(|r| r["text"].as_str())
        .find(|text| text.contains("¿Nos autorizas?"))
        .unwrap_or_else(|| panic!("no consent question in {replies:?}"))
        .to_owned()
}

#[tokio::test]
async fn a_customer_books_a_test_drive_and_cancels_it_over_the_chat_api() {
    use crate::booking_support::{open_store, start_in};
    use showroom::store::{CustomerStore, LeadStore};

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = start_in(&data, None, |raw| raw.flows_dir = SHIPPED_FLOWS.into()).await;
    let mut chat = Chat {
        client: reqwest::Client::new(),
        url: server.url("/api/v1/chat/messages"),
        session: None,
    };
    let greeting = chat.send(json!({})).await;
    let replies = chat.press(&greeting, "Prueba de manejo").await;
    assert!(
        texts(&replies).contains("¿Qué modelo quieres manejar?"),
        "{replies:?}"
    );
    let replies = chat.say("tiguan").await;
    let replies = chat.press(&replies, "Sede Norte").await;
    assert!(
        texts(&replies).contains("¿Qué día te queda bien?"),
        "{replies:?}"
    );
    // The first free day and time, whatever today is.
    let day = first_button(&replies);
    let replies = chat.press(&replies, &day).await;
    let time = first_button(&replies);
    let replies = chat.press(&replies, &time).await;
    // Consent comes before any personal data is asked.
    assert!(!texts(&replies).contains("¿Cómo te llamas?"), "{replies:?}");
    let question = consent_question(&replies);
    let replies = chat.press(&replies, "Sí, autorizo").await;
    assert!(texts(&replies).contains("¿Cómo te llamas?"), "{replies:?}");
    chat.say("Ana María Gómez").await;
    let replies = chat.say("300 123 4567").await;
    assert!(
        texts(&replies).contains("Confirmemos: prueba de manejo del Tiguan en Sede Norte"),
        "{replies:?}"
    );
    let replies = chat.press(&replies, "Sí, agendar").await;
    let confirmation = texts(&replies);
    assert!(
        confirmation.contains("Tu prueba de manejo quedó agendada"),
        "{confirmation}"
    );
    let code = confirmation
        .split("Código: ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("a booking code")
        .to_owned();
    assert!(code.starts_with("PM-"), "{code}");

    // The calendar link works, and only with its token.
    let link = confirmation
        .split_whitespace()
        .find(|w| w.contains(".ics?token="))
        .expect("an .ics link");
    let path = &link[link.find("/api/v1/bookings/").expect("path")..];
    let ics = chat.client.get(server.url(path)).send().await.unwrap();
    assert_eq!(ics.status(), 200);
    let body = ics.text().await.unwrap();
    assert!(
        body.contains("BEGIN:VEVENT") && body.contains(&code),
        "{body}"
    );
    let forged = path.split("token=").next().unwrap().to_owned() + "token=nope";
    assert_eq!(
        chat.client
            .get(server.url(&forged))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );

    // Staff see it in the admin API.
    let admin = admin_get(
        &chat.client,
        &server,
        &format!("/admin/api/bookings/{code}"),
    )
    .await;
    assert_eq!(admin["booking"]["status"], "confirmed", "{admin}");
    assert_eq!(admin["booking"]["model"], "tiguan", "{admin}");

    // The consent is kept as evidence: the very words she saw, their version, the channel.
    let store = open_store(&data).await;
    let ana = store
        .find_customer_by_phone("+573001234567")
        .await
        .unwrap()
        .expect("the customer who booked");
    let consents = store.consents(&ana).await.unwrap();
    assert_eq!(consents.len(), 1, "{consents:?}");
    assert_eq!(consents[0].text, question);
    assert!(question.contains("Autos del Valle"), "{question}");
    assert_eq!(consents[0].version.as_deref(), Some("2026-12"));
    assert_eq!(
        (consents[0].purpose.as_str(), consents[0].channel.as_str()),
        ("contact", "web")
    );
    assert!(consents[0].revoked_at.is_none());

    // "Mis citas" lists it; the customer cancels it.
    let replies = chat.say("mis citas").await;
    assert!(
        texts(&replies).contains("Estas son tus próximas citas"),
        "{replies:?}"
    );
    let listed = first_button(&replies);
    assert!(listed.contains("Tiguan"), "{listed}");
    let replies = chat.press(&replies, &listed).await;
    let replies = chat.press(&replies, "Cancelar la cita").await;
    let replies = chat.press(&replies, "Sí, cancelarla").await;
    assert!(
        texts(&replies).contains(&format!("Listo, cancelé tu cita {code}")),
        "{replies:?}"
    );
    let admin = admin_get(
        &chat.client,
        &server,
        &format!("/admin/api/bookings/{code}"),
    )
    .await;
    assert_eq!(admin["booking"]["status"], "cancelled", "{admin}");
    server.stop().await;
}

/// "No autorizo": the booking stops before the name and phone are asked, and nothing
/// personal is kept: no consent, no contact details.
#[tokio::test]
async fn without_consent_no_name_or_phone_is_asked_nor_kept() {
    use crate::booking_support::{find_web_conversation, open_store, start_in};
    use showroom::store::{CustomerStore, LeadStore};

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = start_in(&data, None, |raw| raw.flows_dir = SHIPPED_FLOWS.into()).await;
    let mut chat = Chat {
        client: reqwest::Client::new(),
        url: server.url("/api/v1/chat/messages"),
        session: None,
    };
    let greeting = chat.send(json!({})).await;
    chat.press(&greeting, "Prueba de manejo").await;
    let replies = chat.say("tiguan").await;
    let replies = chat.press(&replies, "Sede Norte").await;
    let day = first_button(&replies);
    let replies = chat.press(&replies, &day).await;
    let time = first_button(&replies);
    let replies = chat.press(&replies, &time).await;
    consent_question(&replies);
    let replies = chat.press(&replies, "No autorizo").await;
    let said = texts(&replies);
    assert!(
        said.contains("Sin tu autorización no podemos agendar"),
        "{said}"
    );
    assert!(!said.contains("¿Cómo te llamas?"), "{said}");
    // Whatever they type next is not taken as a name: the booking is over.
    let replies = chat.say("Ana María Gómez").await;
    assert!(!texts(&replies).contains("¿A qué número"), "{replies:?}");

    let store = open_store(&data).await;
    let customer = find_web_conversation(&store, chat.session.clone().unwrap())
        .await
        .customer_id;
    assert!(store.consents(&customer).await.unwrap().is_empty());
    assert!(!store.has_consent(&customer, "contact").await.unwrap());
    let record = store
        .customer_record(&customer)
        .await
        .unwrap()
        .expect("the customer");
    assert_eq!(
        (record.profile.name, record.profile.phone),
        (None, None),
        "personal data kept without consent"
    );
    server.stop().await;
}

#[test]
fn a_customer_books_a_service_appointment_in_showroom_chat() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_showroom"))
        .args(["chat", "--user", "ana"])
        .current_dir(dir.path())
        .env("SHOWROOM_DATA_DIR", dir.path().join("data"))
        .env("SHOWROOM_FLOWS_DIR", SHIPPED_FLOWS)
        .env_remove("DATABASE_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start showroom chat");
    // Menu 2 (service), plate, model, year, mileage, service 1, branch 1, day 2
    // (always a working day with free times), time 1, consent 1, name, phone, confirm 1.
    let script = "2\nabc 123\nduster\n2021\n45 mil\n1\n1\n2\n1\n1\nAna María Gómez\n300 123 4567\n1\n/salir\n";
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("¿Cuál es la placa de tu carro?"),
        "{stdout}"
    );
    let consent = stdout
        .find("¿Nos autorizas?")
        .expect("the consent question");
    let name = stdout.find("¿Cómo te llamas?").expect("the name question");
    assert!(consent < name, "consent must come first: {stdout}");
    assert!(
        stdout.contains(
            "Mantenimiento por kilometraje para tu Duster 2021 (placa ABC-123, 45.000 km)"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("Tu cita de taller quedó agendada."),
        "{stdout}"
    );
    assert!(stdout.contains("• Código: TL-"), "{stdout}");
}

/// Walks one customer to the confirmation question for the Tiguan (one demo car, at
/// Sede Norte) at `day` / `time`. When `None`: the last day offered (today's slots run out
/// as the clock passes, so "Hoy" may be gone for the next customer) and its first time.
async fn to_confirmation(
    url: String,
    day: Option<String>,
    time: Option<String>,
) -> (Chat, Vec<Value>, String, String) {
    let mut chat = Chat {
        client: reqwest::Client::new(),
        url,
        session: None,
    };
    let greeting = chat.send(json!({})).await;
    chat.press(&greeting, "Prueba de manejo").await;
    let replies = chat.say("tiguan").await;
    let replies = chat.press(&replies, "Sede Norte").await;
    let day = day.unwrap_or_else(|| last_button(&replies));
    let replies = chat.press(&replies, &day).await;
    let time = time.unwrap_or_else(|| first_button(&replies));
    let replies = chat.press(&replies, &time).await;
    chat.press(&replies, "Sí, autorizo").await;
    chat.say("Cliente de Prueba").await;
    let replies = chat.say("300 123 4567").await;
    assert!(texts(&replies).contains("¿La agendo?"), "{replies:?}");
    (chat, replies, day, time)
}

/// 50 customers confirm the same last free demo-car slot at once, spread over the given
/// servers: exactly one gets it, the other 49 are told and offered other times.
async fn race_for_the_last_slot(urls: &[String]) {
    let (_, _, day, time) = to_confirmation(urls[0].clone(), None, None).await;
    let mut racers = Vec::new();
    for i in 0..50 {
        racers.push(
            to_confirmation(
                urls[i % urls.len()].clone(),
                Some(day.clone()),
                Some(time.clone()),
            )
            .await,
        );
    }
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(racers.len()));
    let mut tasks = Vec::new();
    for (mut chat, replies, _, _) in racers {
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            chat.press(&replies, "Sí, agendar").await
        }));
    }
    let mut won = 0;
    for task in tasks {
        let replies = task.await.unwrap();
        let text = texts(&replies);
        if text.contains("Tu prueba de manejo quedó agendada") {
            won += 1;
        } else {
            assert!(
                text.contains("Alguien acaba de tomar ese horario"),
                "{text}"
            );
            assert!(text.contains("¿Qué día te queda bien?"), "{text}");
            assert!(
                replies
                    .iter()
                    .any(|r| r["buttons"].as_array().is_some_and(|b| !b.is_empty())),
                "the loser is offered days to pick again: {replies:?}"
            );
        }
    }
    assert_eq!(won, 1, "exactly one of 50 customers gets the slot");
    // The taken time is no longer offered that day.
    let mut late = Chat {
        client: reqwest::Client::new(),
        url: urls[0].clone(),
        session: None,
    };
    let greeting = late.send(json!({})).await;
    late.press(&greeting, "Prueba de manejo").await;
    let replies = late.say("tiguan").await;
    let replies = late.press(&replies, "Sede Norte").await;
    let replies = late.press(&replies, &day).await;
    assert!(
        button(&replies, &time).is_none(),
        "{time} still offered: {replies:?}"
    );
}

fn busy_server(raw: &mut showroom::config::RawSettings) {
    raw.flows_dir = SHIPPED_FLOWS.into();
    // 51 customers on one address: the per-address limit is not what is tested here.
    raw.web.messages_per_minute_per_ip = 100_000;
}

#[tokio::test]
async fn fifty_customers_race_for_the_last_demo_car_slot_on_sqlite() {
    let server = start_server(busy_server).await;
    race_for_the_last_slot(&[server.url("/api/v1/chat/messages")]).await;
    server.stop().await;
}

#[tokio::test]
async fn fifty_customers_race_for_the_last_demo_car_slot_on_two_postgres_instances() {
    let db = crate::support::PgDatabase::create().await;
    let a = crate::support::start_server_with_database(Some(db.url.clone()), busy_server).await;
    let b = crate::support::start_server_with_database(Some(db.url.clone()), busy_server).await;
    race_for_the_last_slot(&[
        a.url("/api/v1/chat/messages"),
        b.url("/api/v1/chat/messages"),
    ])
    .await;
    a.stop().await;
    b.stop().await;
}

/// Post-sale outreach end to end: the ERP sends "your car is due for its service" with
/// the service flow and the car's plate and model; the customer presses "Agendar" and
/// the service flow starts at the first question it doesn't know the answer to.
#[tokio::test]
async fn an_outreach_offer_starts_the_service_flow_with_the_car_filled_in() {
    use crate::booking_support::{API_TOKEN, open_store, open_web_conversation, start_in};
    use showroom::store::CustomerStore;

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = start_in(&data, Some(API_TOKEN), |raw| {
        raw.flows_dir = SHIPPED_FLOWS.into();
    })
    .await;
    let client = reqwest::Client::new();
    let store = open_store(&data).await;
    let ana = open_web_conversation(&client, &server, &store).await;
    // What an earlier booking left: her phone, and her authorisation to be contacted.
    store
        .set_contact(&ana.customer_id, Some("Ana Gómez"), Some("+573001234567"))
        .await
        .unwrap();
    store
        .record_consent(&ana.customer_id, "contact", "web", "booking", "2026-12", 0)
        .await
        .unwrap();

    let sent = client
        .post(server.url("/api/v1/outreach"))
        .bearer_auth(API_TOKEN)
        .json(&json!({
            "customer": {"phone": "+57 300 123 4567"},
            "message": {"es": "Hola Ana, tu Tiguan ya está para el mantenimiento de 10.000 km."},
            "flow": {"id": "service", "values": {"plate": "ABC123", "model": "tiguan"}},
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), 202);

    let mut chat = Chat {
        client: client.clone(),
        url: server.url("/api/v1/chat/messages"),
        session: Some(ana.session.clone()),
    };
    // Her next visit brings the message, with its two buttons.
    let replies = chat.say("hola").await;
    assert!(
        texts(&replies).contains("mantenimiento de 10.000 km"),
        "{replies:?}"
    );
    let replies = chat.press(&replies, "Agendar").await;
    assert_eq!(
        texts(&replies),
        "¿De qué año es tu Tiguan?",
        "plate and model came with the offer"
    );
    let replies = chat.say("2022").await;
    assert!(
        texts(&replies).contains("¿Cuántos kilómetros tiene"),
        "{replies:?}"
    );
    server.stop().await;
}
