//! `POST /api/v1/outreach` over a real server: every refusal with its stable code (off
//! without a token, wrong token, unknown customer, no consent, opted out, frequency cap,
//! unknown flow), and a success that reaches the customer's open WebSocket at once and
//! stays in the transcript with its "Agendar" / "Ahora no" buttons.

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{Value, json};
use showroom::store::{CustomerStore, now_ms};
use tokio_tungstenite::tungstenite::Message;

use crate::booking_support::{
    API_TOKEN, Running, bot_messages, eventually, find_web_conversation, flows_dir, open_store,
    open_web_conversation, start_in,
};
use crate::support::start_server;

async fn outreach(
    client: &reqwest::Client,
    server: &Running,
    token: Option<&str>,
    body: Value,
) -> (u16, Value) {
    let mut request = client.post(server.url("/api/v1/outreach")).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The next JSON frame of type `message`, skipping others, within `limit`.
async fn next_message(ws: &mut Ws, limit: Duration) -> Option<Value> {
    tokio::time::timeout(limit, async {
        while let Some(frame) = ws.next().await {
            if let Ok(Message::Text(text)) = frame {
                let value: Value = serde_json::from_str(text.as_str()).unwrap();
                if value["type"] == "message" {
                    return Some(value);
                }
            }
        }
        None
    })
    .await
    .ok()
    .flatten()
}

#[tokio::test]
async fn outreach_is_off_without_a_token() {
    let server = start_server(|_| {}).await;
    let response = reqwest::Client::new()
        .post(server.url("/api/v1/outreach"))
        .bearer_auth(API_TOKEN)
        .json(&json!({"customer": {"phone": "+573001234567"}, "message": {"es": "Hola"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn outreach_follows_the_channel_rules_and_reaches_the_customer() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let flows = flows_dir(dir.path());
    let server = start_in(&data, Some(API_TOKEN), |raw| {
        raw.flows_dir = flows;
        raw.flows.advisor_flow = String::new();
        raw.outreach.max_per_customer = 2;
    })
    .await;
    let client = reqwest::Client::new();
    let store = open_store(&data).await;

    // Ana talks to the bot on the widget (WebSocket) and gave us her phone.
    let (mut ws, _) = tokio_tungstenite::connect_async(server.ws_url(""))
        .await
        .unwrap();
    let first: Value = match ws.next().await.unwrap().unwrap() {
        Message::Text(text) => serde_json::from_str(text.as_str()).unwrap(),
        other => panic!("{other:?}"),
    };
    let session = first["session"].as_str().unwrap().to_owned();
    next_message(&mut ws, Duration::from_secs(5))
        .await
        .expect("greeting");
    let ana = find_web_conversation(&store, session).await;
    store
        .set_contact(&ana.customer_id, Some("Ana Gómez"), Some("+573001234567"))
        .await
        .unwrap();

    let offer = |key: &str| {
        json!({
            "customer": {"phone": "+57 300 123 4567"},
            "message": {
                "es": "Hola Ana, tu Tiguan ABC123 ya cumple 10.000 km: es hora de su mantenimiento.",
                "en": "Hi Ana, your Tiguan ABC123 is due for its 10,000 km service."
            },
            "flow": {"id": "service", "values": {"plate": "ABC123", "model": "tiguan"}},
            "idempotency_key": key,
        })
    };

    // Authentication.
    let (status, body) = outreach(&client, &server, None, offer("k1")).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("unauthorized")));
    let (status, _) = outreach(
        &client,
        &server,
        Some("wrong-token-0123456789"),
        offer("k1"),
    )
    .await;
    assert_eq!(status, 401);

    // Nobody with that identity or phone ever wrote to the bot.
    let (status, body) = outreach(
        &client,
        &server,
        Some(API_TOKEN),
        json!({"customer": {"channel": "telegram", "id": "987654"}, "message": {"es": "Hola"}}),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("customer_not_found")),
        "{body}"
    );
    let (status, body) = outreach(
        &client,
        &server,
        Some(API_TOKEN),
        json!({"customer": {"phone": "+573159998877"}, "message": {"es": "Hola"}}),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("customer_not_found")),
        "{body}"
    );

    // A bad request is refused before anything else.
    let (status, body) = outreach(
        &client,
        &server,
        Some(API_TOKEN),
        json!({"customer": {"phone": "12"}, "message": {"es": "Hola"}}),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("invalid_request")),
        "{body}"
    );

    // Known, but never agreed to be contacted.
    let (status, body) = outreach(&client, &server, Some(API_TOKEN), offer("k1")).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("no_consent")),
        "{body}"
    );
    store
        .record_consent(
            &ana.customer_id,
            "contact",
            "web",
            "Acepto que me contacten por este medio.",
            "2026-12",
            now_ms(),
        )
        .await
        .unwrap();

    // An offered flow must exist in the live flows.
    let mut unknown = offer("k0");
    unknown["flow"]["id"] = json!("no_such_flow");
    let (status, body) = outreach(&client, &server, Some(API_TOKEN), unknown).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("unknown_flow")),
        "{body}"
    );

    // Success: 202, and the open WebSocket gets it right away.
    let (status, body) = outreach(&client, &server, Some(API_TOKEN), offer("k1")).await;
    assert_eq!(status, 202, "{body}");
    let outreach_id = body["outreach_id"].as_str().unwrap().to_owned();
    assert_eq!(body["conversation_id"], ana.conversation_id.as_str());
    let live = next_message(&mut ws, Duration::from_secs(5))
        .await
        .expect("the message is delivered live");
    assert!(
        live["text"].as_str().unwrap().contains("10.000 km"),
        "{live}"
    );
    assert_eq!(
        live["buttons"],
        json!([
            {"title": "Agendar", "payload": format!("offer:{outreach_id}")},
            {"title": "Ahora no", "payload": "offer:no"},
        ])
    );
    // "Agendar" starts the offered flow with its values.
    let (flow, values) = store.outreach_offer(&outreach_id).await.unwrap().unwrap();
    assert_eq!(flow, "service");
    assert_eq!(values["plate"], "ABC123");

    // The same idempotency key again: the same outreach, no second message.
    let (status, again) = outreach(&client, &server, Some(API_TOKEN), offer("k1")).await;
    assert_eq!(status, 202);
    assert_eq!(again["outreach_id"], outreach_id.as_str());
    let messages = bot_messages(&client, &server, &ana.conversation_id).await;
    let offers: Vec<&Value> = messages
        .iter()
        .filter(|m| m["text"].as_str().unwrap().contains("10.000 km"))
        .collect();
    assert_eq!(offers.len(), 1, "{messages:#?}");
    assert_eq!(offers[0]["buttons"][0]["title"], "Agendar");
    assert_eq!(offers[0]["buttons"][1]["title"], "Ahora no");
    // The WebSocket recorded the delivery, so a reconnect does not send it again.
    let delivered = eventually(Duration::from_secs(5), || async {
        bot_messages(&client, &server, &ana.conversation_id)
            .await
            .iter()
            .any(|m| {
                m["text"].as_str().unwrap().contains("10.000 km") && m["delivered_at"].is_number()
            })
            .then_some(())
    })
    .await;
    assert!(delivered.is_some(), "marked delivered");

    // A second message fits the cap of two; a third does not.
    let (status, body) = outreach(&client, &server, Some(API_TOKEN), offer("k2")).await;
    assert_eq!(status, 202, "{body}");
    let (status, body) = outreach(&client, &server, Some(API_TOKEN), offer("k3")).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (429, Some("frequency_capped")),
        "{body}"
    );

    // Bruno opted out: refused whatever his consent says.
    let bruno = open_web_conversation(&client, &server, &store).await;
    store
        .record_consent(
            &bruno.customer_id,
            "contact",
            "web",
            "Acepto.",
            "2026-12",
            now_ms(),
        )
        .await
        .unwrap();
    store
        .set_opted_out(&bruno.customer_id, Some(now_ms()))
        .await
        .unwrap();
    let external_id = showroom::channels::web::SessionToken::parse(&bruno.session)
        .unwrap()
        .identity()
        .external_id;
    let (status, body) = outreach(
        &client,
        &server,
        Some(API_TOKEN),
        json!({"customer": {"channel": "web", "id": external_id}, "message": {"es": "Hola Bruno"}}),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("opted_out")),
        "{body}"
    );
    assert!(
        !bot_messages(&client, &server, &bruno.conversation_id)
            .await
            .iter()
            .any(|m| m["text"] == "Hola Bruno")
    );

    drop(ws);
    server.stop().await;
    store.close().await;
}
