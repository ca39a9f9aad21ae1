//! One customer across channels through the real adapters: a single `showroom serve`
//! with Telegram (long polling against the fake Bot API) and Viber (its webhook
//! registered with the fake REST API) both on, and the widget's HTTP chat API. A widget
//! conversation continues on Telegram and on Viber through one-time links; the same
//! verified phone on Telegram, Viber and the web is one customer with one lead. What is
//! stored is read back through the admin API, as staff would.

use serde_json::{Value, json};

use crate::fake_telegram::{FakeTelegram, Sent, TelegramCustomer};
use crate::fake_viber::{FakeViber, texts};
use crate::support::{Deployment, ServeProcess, WebChat, free_port, wait_for};

/// Five messages a second to a chat keeps the conversations quick.
const SETTINGS: &str = "[telegram]\nmessages_per_second_per_chat = 5\nedit_interval = \"200ms\"\n";
const CONTINUED: &str = "¡Listo! Seguimos aquí la conversación que empezaste en la web.";
const STALE_NOTE: &str = "Ese enlace ya se usó o venció; seguimos aquí desde el inicio.";
const GREETING: &str = "¿En qué te puedo ayudar?";
/// Bearer token of the CRM/ERP calls (`/api/v1/outreach`).
const API_TOKEN: &str = "test-api-token-0123456789";

/// The fakes and the one server talking to both.
struct Site {
    telegram: FakeTelegram,
    viber: FakeViber,
    /// Viber's callbacks go here.
    webhook: String,
    server: ServeProcess,
    _deployment: Deployment,
}

impl Site {
    /// Starts both fakes and `showroom serve`; waits until the widget may offer both
    /// apps (the bot accounts are learnt from `getMe` and `get_account_info`).
    async fn start() -> Self {
        let telegram = FakeTelegram::start().await;
        let viber = FakeViber::start().await;
        let port = free_port();
        let base = format!("http://127.0.0.1:{port}");
        let deployment = Deployment::new(SETTINGS)
            .with_env(telegram.env())
            .with_env(viber.env(&base))
            .with_env([("SHOWROOM_API_TOKEN".to_owned(), API_TOKEN.to_owned())]);
        let server = deployment.serve_in("data", port).await;
        let client = reqwest::Client::new();
        let offered = wait_for(|| async {
            let body: Value = client
                .get(format!("{base}/api/v1/chat/channels"))
                .send()
                .await
                .ok()?
                .json()
                .await
                .ok()?;
            (body == json!({"telegram": true, "viber": true})).then_some(())
        })
        .await;
        assert!(offered.is_some(), "Telegram and Viber never both offered");
        Self {
            telegram,
            viber,
            webhook: format!("{base}/webhooks/viber"),
            server,
            _deployment: deployment,
        }
    }

    /// `POST /api/v1/chat/link` for the widget session `session`; returns the URL.
    async fn link(&self, session: &str, channel: &str) -> String {
        let response = reqwest::Client::new()
            .post(format!("{}/api/v1/chat/link", self.server.base))
            .json(&json!({"session": session, "channel": channel}))
            .send()
            .await
            .unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert_eq!(status, 200, "{body}");
        let expires: jiff::Timestamp = body["expires_at"].as_str().unwrap().parse().unwrap();
        assert!(expires > jiff::Timestamp::now(), "{body}");
        body["url"].as_str().unwrap().to_owned()
    }

    /// Every conversation, as `(channel, customer_id)`.
    async fn conversations(&self) -> Vec<(String, String)> {
        let listing = self.server.admin_get("/admin/api/conversations").await;
        listing["conversations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["channel"].as_str().unwrap().to_owned(),
                    c["customer_id"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }

    /// The leads that are neither merged into another nor erased.
    async fn active_leads(&self) -> Vec<Value> {
        let listing = self.server.admin_get("/admin/api/leads").await;
        listing["leads"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|l| l["status"] == "open" || l["status"] == "handed_off")
            .cloned()
            .collect()
    }
}

fn joined(sent: &[Sent]) -> String {
    sent.iter()
        .map(|m| m.text.as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The title of the last button among the widget's last replies (the last day offered:
/// today's hours may run out while the test runs).
fn last_button(chat: &WebChat) -> String {
    chat.last
        .iter()
        .rev()
        .find_map(|r| r["buttons"].as_array()?.last()?["title"].as_str())
        .unwrap_or_else(|| panic!("no buttons in {:?}", chat.last))
        .to_owned()
}

fn first_button(chat: &WebChat) -> String {
    chat.last
        .iter()
        .rev()
        .find_map(|r| r["buttons"].as_array()?.first()?["title"].as_str())
        .unwrap_or_else(|| panic!("no buttons in {:?}", chat.last))
        .to_owned()
}

/// The value of `name` in a link's query.
fn param(url: &str, name: &str) -> String {
    reqwest::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| panic!("no {name} in {url}"))
}

#[tokio::test]
async fn a_widget_conversation_continues_on_telegram_through_the_bot_api() {
    let site = Site::start().await;

    // Halfway through a test drive on the widget: consent and name given.
    let mut web = WebChat::open(&site.server.base).await;
    let asked = web.press("Prueba de manejo").await;
    assert!(asked.contains("¿Qué modelo quieres manejar?"), "{asked}");
    web.say("tiguan").await;
    let asked = web.press("Sede Norte").await;
    assert!(asked.contains("¿Qué día te queda bien?"), "{asked}");
    let asked = web.press(&last_button(&web)).await;
    assert!(asked.contains("¿A qué hora?"), "{asked}");
    let asked = web.press(&first_button(&web)).await;
    assert!(asked.contains("¿Nos autorizas?"), "{asked}");
    let asked = web.press("Sí, autorizo").await;
    assert!(asked.contains("¿Cómo te llamas?"), "{asked}");
    let asked = web.say("Ana María Gómez").await;
    assert!(asked.contains("celular"), "{asked}");

    let session = web.session.clone().unwrap();
    let url = site.link(&session, "telegram").await;
    assert!(
        url.starts_with("https://t.me/AutosDelValleBot?start=lnk_"),
        "{url}"
    );
    let token = param(&url, "start");

    // Telegram opens the bot with `/start <token>` from a chat the bot never saw.
    let ana = TelegramCustomer {
        fake: &site.telegram,
        chat: 5_550_101,
        language: "es",
    };
    let continued = ana.say(&format!("/start {token}"), "celular").await;
    assert_eq!(continued[0].text, CONTINUED, "{continued:#?}");
    assert!(
        continued
            .iter()
            .any(|m| m.asks_contact && m.text.contains("celular")),
        "the phone question again, with the share-phone button: {continued:#?}"
    );
    let confirm = ana.share_contact("573001234567", "¿La agendo?").await;
    let said = joined(&confirm);
    assert!(
        said.contains("Confirmemos: prueba de manejo del Tiguan en Sede Norte")
            && said.contains("a nombre de Ana María Gómez"),
        "the web answers are kept: {said}"
    );
    let done = ana.press("Sí, agendar", "quedó agendada").await;
    let code = joined(&done)
        .split("Código: ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no booking code in {done:#?}"))
        .to_owned();

    // One customer with a web and a Telegram conversation, one lead, the booking.
    let conversations = site.conversations().await;
    assert_eq!(conversations.len(), 2, "{conversations:?}");
    let customer_id = conversations[0].1.clone();
    let mut channels: Vec<&str> = conversations.iter().map(|(c, _)| c.as_str()).collect();
    channels.sort_unstable();
    assert_eq!(channels, ["telegram", "web"], "{conversations:?}");
    assert!(
        conversations.iter().all(|(_, c)| *c == customer_id),
        "both identities are one customer: {conversations:?}"
    );
    let customer = site
        .server
        .admin_get(&format!("/admin/api/customers/{customer_id}"))
        .await;
    let profile = &customer["customer"]["profile"];
    assert_eq!(profile["phone"], "+573001234567", "{customer:#}");
    assert_eq!(
        profile["phone_verified"], true,
        "shared on Telegram: {customer:#}"
    );
    let identities = channels_of(&customer);
    assert_eq!(identities, ["telegram", "web"], "{customer:#}");
    let leads = site.active_leads().await;
    assert_eq!(leads.len(), 1, "{leads:#?}");
    assert_eq!(leads[0]["customer_id"], customer_id.as_str(), "{leads:#?}");
    assert_eq!(leads[0]["status"], "handed_off", "a booking hands off");
    let bookings = site.server.admin_get("/admin/api/bookings").await;
    let bookings = bookings["bookings"].as_array().unwrap();
    assert_eq!(bookings.len(), 1, "{bookings:#?}");
    let booking = &bookings[0];
    assert_eq!(booking["code"], code.as_str(), "{booking:#}");
    assert_eq!(booking["customer_id"], customer_id.as_str(), "{booking:#}");
    assert_eq!(booking["channel"], "telegram", "{booking:#}");
    assert_eq!(booking["model"], "tiguan", "{booking:#}");
    assert_eq!(booking["name"], "Ana María Gómez", "{booking:#}");

    // The same link from another Telegram chat: told politely, then a fresh start.
    let stranger = TelegramCustomer {
        fake: &site.telegram,
        chat: 5_550_102,
        language: "es",
    };
    let refused = stranger.say(&format!("/start {token}"), GREETING).await;
    assert_eq!(refused[0].text, STALE_NOTE, "{refused:#?}");
    assert!(
        !joined(&refused).contains("Ana María"),
        "nothing of the web conversation: {refused:#?}"
    );
    let conversations = site.conversations().await;
    assert_eq!(conversations.len(), 3, "{conversations:?}");
    assert_eq!(
        conversations
            .iter()
            .filter(|(_, c)| *c == customer_id)
            .count(),
        2,
        "the stranger is someone else: {conversations:?}"
    );
    assert_eq!(site.active_leads().await.len(), 1);
}

#[tokio::test]
async fn the_same_verified_phone_on_telegram_viber_and_the_web_is_one_customer_and_one_lead() {
    let site = Site::start().await;

    // Telegram: an advisor, the phone shared with the button (no plus, as Telegram sends it).
    let juan = TelegramCustomer {
        fake: &site.telegram,
        chat: 5_550_201,
        language: "es",
    };
    juan.say("hablar con un asesor", "¿Nos autorizas?").await;
    juan.press("Sí, autorizo", "¿Cómo te llamas?").await;
    let asked = juan.say("Juan Pérez", "celular").await;
    assert!(
        asked.iter().any(|m| m.asks_contact),
        "the share-phone button: {asked:#?}"
    );
    juan.share_contact("573001234567", "¿En qué te podemos ayudar?")
        .await;
    juan.press("Comprar un carro", "Ya le pasé tu solicitud")
        .await;

    // Viber: the same phone with the share-phone key.
    let mut viber = site
        .viber
        .customer(&site.webhook, "pttm25kSGUo1919sBORWyA==", "es");
    let welcome = viber.start(None).await;
    assert!(
        welcome["text"]
            .as_str()
            .unwrap_or_default()
            .contains(GREETING),
        "{welcome:#}"
    );
    let said = viber.press("Hablar con un asesor").await;
    assert!(texts(&said).contains("¿Nos autorizas?"), "{said:#?}");
    let said = viber.press("Sí, autorizo").await;
    assert!(texts(&said).contains("¿Cómo te llamas?"), "{said:#?}");
    let said = viber.say("Juan Pérez").await;
    assert!(texts(&said).contains("celular"), "{said:#?}");
    let said = viber.share_phone("+573001234567").await;
    assert!(
        texts(&said).contains("¿En qué te podemos ayudar?"),
        "{said:#?}"
    );
    let said = viber.press("Comprar un carro").await;
    assert!(
        texts(&said).contains("Ya le pasé tu solicitud"),
        "{said:#?}"
    );

    // The widget: the same number typed.
    let mut web = WebChat::open(&site.server.base).await;
    web.ask_for_an_advisor("Juan Pérez", "+57 300 123 4567")
        .await;

    let conversations = site.conversations().await;
    let mut channels: Vec<&str> = conversations.iter().map(|(c, _)| c.as_str()).collect();
    channels.sort_unstable();
    assert_eq!(channels, ["telegram", "viber", "web"], "{conversations:?}");
    let customer_id = conversations[0].1.clone();
    assert!(
        conversations.iter().all(|(_, c)| *c == customer_id),
        "one customer: {conversations:?}"
    );
    let customer = site
        .server
        .admin_get(&format!("/admin/api/customers/{customer_id}"))
        .await;
    let profile = &customer["customer"]["profile"];
    assert_eq!(profile["phone"], "+573001234567", "{customer:#}");
    assert_eq!(profile["phone_verified"], true, "{customer:#}");
    let identities = channels_of(&customer);
    assert_eq!(identities, ["telegram", "viber", "web"], "{customer:#}");
    let leads = site.active_leads().await;
    assert_eq!(leads.len(), 1, "one lead: {leads:#?}");
    assert_eq!(leads[0]["customer_id"], customer_id.as_str(), "{leads:#?}");
}

#[tokio::test]
async fn a_viber_deep_link_continues_the_widget_conversation_in_the_welcome() {
    let site = Site::start().await;

    let mut web = WebChat::open(&site.server.base).await;
    let asked = web.say("asesor").await;
    assert!(asked.contains("¿Nos autorizas?"), "{asked}");
    web.press("Sí, autorizo").await;
    let asked = web.say("Marta Ruiz").await;
    assert!(asked.contains("celular"), "{asked}");

    let url = site.link(web.session.as_deref().unwrap(), "viber").await;
    assert!(
        url.starts_with("viber://pa?chatURI=autosdelvalle&context=lnk_"),
        "{url}"
    );
    let token = param(&url, "context");

    // The welcome (the webhook's answer) carries the conversation on.
    let mut marta = site.viber.customer(&site.webhook, "01234567890A=", "es");
    let welcome = marta.start(Some(&token)).await;
    let text = welcome["text"].as_str().unwrap_or_default();
    assert!(
        text.starts_with(CONTINUED) && text.contains("celular"),
        "{welcome:#}"
    );
    assert!(
        marta
            .keys()
            .iter()
            .any(|k| k["ActionType"] == "share-phone"),
        "the phone question's share-phone key: {welcome:#}"
    );
    let said = marta.share_phone("573001234567").await;
    assert!(
        texts(&said).contains("¿En qué te podemos ayudar?"),
        "{said:#?}"
    );
    let said = marta.press("Comprar un carro").await;
    assert!(
        texts(&said).contains("¡Listo, Marta Ruiz! Ya le pasé tu solicitud"),
        "the name given on the web is kept: {said:#?}"
    );

    let conversations = site.conversations().await;
    let mut channels: Vec<&str> = conversations.iter().map(|(c, _)| c.as_str()).collect();
    channels.sort_unstable();
    assert_eq!(channels, ["viber", "web"], "{conversations:?}");
    assert_eq!(
        conversations[0].1, conversations[1].1,
        "one customer: {conversations:?}"
    );

    // The same context on another Viber account: the note, then the usual welcome.
    let mut other = site
        .viber
        .customer(&site.webhook, "5n7pCGdNvMm1EwIzBBo5Qw==", "es");
    let welcome = other.start(Some(&token)).await;
    let text = welcome["text"].as_str().unwrap_or_default();
    assert!(
        text.starts_with(STALE_NOTE) && !text.contains("Marta"),
        "{welcome:#}"
    );
}

/// The channels of a customer's identities (`/admin/api/customers/{id}`), sorted.
fn channels_of(customer: &serde_json::Value) -> Vec<String> {
    let mut channels: Vec<String> = customer["identities"]
        .as_array()
        .map(|ids| {
            ids.iter()
                .filter_map(|id| id.as_str()?.split_once(':').map(|(c, _)| c.to_owned()))
                .collect()
        })
        .unwrap_or_default();
    channels.sort();
    channels
}

#[tokio::test]
async fn outreach_reaches_a_telegram_customer_through_the_relay_and_its_button_works() {
    let site = Site::start().await;
    // Ana agreed to be contacted on Telegram (the consent question of the advisor flow).
    let ana = TelegramCustomer {
        fake: &site.telegram,
        chat: 5_550_301,
        language: "es",
    };
    ana.say("hablar con un asesor", "¿Nos autorizas?").await;
    ana.press("Sí, autorizo", "¿Cómo te llamas?").await;
    ana.say("Ana Gómez", "celular").await;
    ana.share_contact("573001234567", "¿En qué te podemos ayudar?")
        .await;
    ana.press("Comprar un carro", "Ya le pasé tu solicitud")
        .await;

    // The ERP announces her service; nobody is connected, so the relay sends it.
    let seen = site.telegram.sent_to(ana.chat).len();
    let response = reqwest::Client::new()
        .post(format!("{}/api/v1/outreach", site.server.base))
        .bearer_auth(API_TOKEN)
        .json(&json!({
            "customer": {"channel": "telegram", "id": ana.chat.to_string()},
            "message": {
                "es": "Hola Ana, tu Tiguan ABC123 ya cumple 10.000 km: es hora de su mantenimiento.",
                "en": "Hi Ana, your Tiguan ABC123 is due for its 10,000 km service."
            },
            "flow": {"id": "service", "values": {"plate": "ABC123", "model": "tiguan"}},
            "idempotency_key": "service-abc123-10000",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202, "{}", response.text().await.unwrap());
    let arrived = site
        .telegram
        .wait_for(ana.chat, seen, |m| m.text.contains("10.000 km"))
        .await;
    let offer = arrived
        .iter()
        .find(|m| m.text.contains("10.000 km"))
        .expect("the outreach message");
    let titles: Vec<&str> = offer.buttons.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(titles, ["Agendar", "Ahora no"], "{offer:#?}");
    // Sent once, though the relay keeps sweeping.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let copies = site
        .telegram
        .sent_to(ana.chat)
        .iter()
        .filter(|m| m.text.contains("10.000 km"))
        .count();
    assert_eq!(copies, 1);

    // "Agendar" starts the service flow with the plate and model already known.
    let answered = ana.press("Agendar", "¿De qué año").await;
    assert!(
        joined(&answered).contains("Tiguan"),
        "{}",
        joined(&answered)
    );
}
