//! SIGKILL after a message was acknowledged, then a restart: the message and its reply
//! are in the transcript and the session goes on where it was.

use serde_json::{Value, json};

use crate::support::{ADMIN_TOKEN, ServeProcess, free_port};

#[tokio::test]
async fn acknowledged_messages_survive_sigkill_and_the_session_continues() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let port = free_port();
    let client = reqwest::Client::new();

    let server = ServeProcess::start(&data, port).await;
    let chat = format!("{}/api/v1/chat/messages", server.base);
    let greeting: Value = client
        .post(&chat)
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let session = greeting["session"].as_str().unwrap().to_owned();
    let ack: Value = client
        .post(&chat)
        .json(&json!({"session": session, "button": "menu:service"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        ack["replies"][0]["text"]
            .as_str()
            .unwrap()
            .contains("placa")
    );
    server.kill_hard();

    let server = ServeProcess::start(&data, port).await;
    let list: Value = client
        .get(format!("{}/admin/api/conversations", server.base))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = list["conversations"][0]["id"].as_str().unwrap();
    let detail: Value = client
        .get(format!("{}/admin/api/conversations/{id}", server.base))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let texts: Vec<&str> = detail["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts.len(), 4, "{texts:?}");
    assert_eq!(texts[2], "Cita de taller");
    assert!(texts[3].contains("placa"));

    // Same token, same conversation: the session remembers the menu item ("1" = back).
    let resumed: Value = client
        .post(format!("{}/api/v1/chat/messages", server.base))
        .json(&json!({"session": session, "text": "1"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(resumed["session"], session.as_str());
    assert!(
        resumed["replies"][0]["text"]
            .as_str()
            .unwrap()
            .contains("más"),
        "{resumed}"
    );
}
