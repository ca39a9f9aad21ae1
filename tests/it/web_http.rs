//! `POST /api/v1/chat/messages`, health, readiness, metrics and the admin API over real
//! HTTP.

use serde_json::{Value, json};

use crate::support::{ADMIN_TOKEN, start_server};

async fn post(client: &reqwest::Client, url: &str, body: Value) -> (u16, Value) {
    let response = client.post(url).json(&body).send().await.expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.expect("json body"))
}

#[tokio::test]
async fn greeting_button_and_typed_number_over_http() {
    let server = start_server(|_| {}).await;
    let client = reqwest::Client::new();
    let url = server.url("/api/v1/chat/messages");

    let (status, body) = post(&client, &url, json!({})).await;
    assert_eq!(status, 200);
    let session = body["session"].as_str().expect("session token").to_owned();
    assert_eq!(session.len(), 43);
    let greeting = &body["replies"][0];
    assert_eq!(greeting["type"], "message");
    assert!(
        greeting["text"]
            .as_str()
            .unwrap()
            .contains("Autos del Valle"),
        "{greeting}"
    );
    assert_eq!(greeting["buttons"][1]["payload"], "menu:service");

    let (status, body) = post(
        &client,
        &url,
        json!({"session": session, "button": "menu:service"}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["session"], session.as_str());
    assert!(
        body["replies"][0]["text"]
            .as_str()
            .unwrap()
            .contains("placa"),
        "{body}"
    );

    // "1" picks the first offered button ("Volver al menú").
    let (_, body) = post(&client, &url, json!({"session": session, "text": "1"})).await;
    assert_eq!(
        body["replies"][0]["buttons"].as_array().unwrap().len(),
        3,
        "{body}"
    );

    // The admin API shows the whole transcript, with the pressed button's title.
    let list: Value = client
        .get(server.url("/admin/api/conversations"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = list["conversations"][0]["id"].as_str().unwrap();
    assert_eq!(list["conversations"][0]["message_count"], 6);
    let detail: Value = client
        .get(server.url(&format!("/admin/api/conversations/{id}")))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let messages = detail["messages"].as_array().unwrap();
    let kinds: Vec<(&str, &str)> = messages
        .iter()
        .map(|m| {
            (
                m["direction"].as_str().unwrap(),
                m["kind"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("in", "start"),
            ("out", "text"),
            ("in", "button"),
            ("out", "text"),
            ("in", "text"),
            ("out", "text")
        ]
    );
    assert_eq!(messages[2]["text"], "Cita de taller");
    assert_eq!(messages[2]["payload"], "menu:service");
    assert!(
        messages
            .iter()
            .filter(|m| m["direction"] == "out")
            .all(|m| m["delivered_at"].is_i64())
    );
    server.stop().await;
}

#[tokio::test]
async fn unknown_or_forged_session_gets_a_fresh_one() {
    let server = start_server(|_| {}).await;
    let client = reqwest::Client::new();
    let url = server.url("/api/v1/chat/messages");
    let forged = "A".repeat(43);
    let (status, body) = post(&client, &url, json!({"session": forged, "text": "hola"})).await;
    assert_eq!(status, 200);
    assert_ne!(body["session"], forged.as_str());
    // The greeting first, then the answer to "hola".
    assert_eq!(body["replies"].as_array().unwrap().len(), 2, "{body}");
    server.stop().await;
}

#[tokio::test]
async fn bad_requests_get_clear_errors() {
    let server = start_server(|raw| raw.web.max_message_chars = 50).await;
    let client = reqwest::Client::new();
    let url = server.url("/api/v1/chat/messages");

    let (status, body) = post(&client, &url, json!({"text": "a", "button": "b"})).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("invalid_request"))
    );

    let (status, body) = post(&client, &url, json!({"txt": "hola"})).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("invalid_request"))
    );
    assert!(body["message"].as_str().unwrap().contains("txt"), "{body}");

    let response = client
        .post(&url)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);

    let (status, body) = post(&client, &url, json!({"text": "x".repeat(51)})).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (413, Some("message_too_large"))
    );
    assert!(body["message"].as_str().unwrap().contains("50"), "{body}");

    let response = client.get(server.url("/nope")).send().await.unwrap();
    assert_eq!(response.status(), 404);
    server.stop().await;
}

#[tokio::test]
async fn rate_limit_answers_429_with_retry_after() {
    let server = start_server(|raw| raw.web.messages_per_minute_per_session = 3).await;
    let client = reqwest::Client::new();
    let url = server.url("/api/v1/chat/messages");
    let (_, body) = post(&client, &url, json!({})).await;
    let session = body["session"].as_str().unwrap().to_owned();
    for _ in 0..3 {
        let (status, _) = post(&client, &url, json!({"session": session, "text": "hola"})).await;
        assert_eq!(status, 200);
    }
    let response = client
        .post(&url)
        .json(&json!({"session": session, "text": "hola"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    assert!(response.headers().get("retry-after").is_some());
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "rate_limited");
    server.stop().await;
}

#[tokio::test]
async fn health_readiness_metrics_and_admin_auth() {
    let server = start_server(|_| {}).await;
    let client = reqwest::Client::new();
    assert_eq!(
        client
            .get(server.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        client
            .get(server.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    post(&client, &server.url("/api/v1/chat/messages"), json!({})).await;

    let metrics = client
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("showroom_messages_total{channel=\"web\",direction=\"in\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("showroom_message_processing_seconds_bucket"),
        "{metrics}"
    );

    let unauthorized = client
        .get(server.url("/admin/api/conversations"))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthorized.status(), 401);
    let wrong = client
        .get(server.url("/admin/api/conversations"))
        .bearer_auth("wrong-token-wrong-token")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let missing = client
        .get(server.url("/admin/api/conversations/does-not-exist"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let request_id = client.get(server.url("/healthz")).send().await.unwrap();
    assert!(request_id.headers().contains_key("x-request-id"));
    server.stop().await;
}

#[tokio::test]
async fn widget_and_demo_page_are_served() {
    let server = start_server(|_| {}).await;
    let client = reqwest::Client::new();
    let page = client.get(server.url("/")).send().await.unwrap();
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(page.text().await.unwrap().contains("/widget.js"));
    let widget = client.get(server.url("/widget.js")).send().await.unwrap();
    assert!(
        widget.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    assert!(widget.text().await.unwrap().contains("attachShadow"));
    server.stop().await;
}
