//! The widget's WebSocket against a real server: greeting, button, resume after
//! reconnect, malformed/oversized/binary frames, rate limits.

use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio_tungstenite::connect_async;
use tokio_tungstenite::tungstenite::Message;

use crate::support::{next_frame, send, start_server};

#[tokio::test]
async fn greeting_click_and_resume_after_reconnect() {
    let server = start_server(|_| {}).await;
    let (mut socket, _) = connect_async(server.ws_url("")).await.expect("connect");
    let session = next_frame(&mut socket).await;
    assert_eq!(session["type"], "session");
    let token = session["session"].as_str().unwrap().to_owned();
    let greeting = next_frame(&mut socket).await;
    assert_eq!(greeting["type"], "message");
    assert!(greeting["id"].is_string());
    assert_eq!(greeting["buttons"][0]["payload"], "menu:test_drive");

    send(
        &mut socket,
        json!({"type": "button", "payload": "menu:test_drive"}),
    )
    .await;
    let reply = next_frame(&mut socket).await;
    assert!(
        reply["text"].as_str().unwrap().contains("prueba de manejo"),
        "{reply}"
    );
    socket.close(None).await.ok();

    // Reconnect with the same token: same session, no second greeting, state kept.
    let (mut socket, _) = connect_async(server.ws_url(&format!("?session={token}")))
        .await
        .unwrap();
    let resumed = next_frame(&mut socket).await;
    assert_eq!(resumed, json!({"type": "session", "session": token}));
    send(
        &mut socket,
        json!({"type": "message", "text": "volver al menu"}),
    )
    .await;
    // Delivery is at least once: the reply may be replayed if the first socket closed
    // before it was recorded as delivered. Clients drop frames whose id they have seen.
    let mut menu = next_frame(&mut socket).await;
    while menu["id"] == reply["id"] {
        menu = next_frame(&mut socket).await;
    }
    assert_eq!(menu["buttons"].as_array().map(Vec::len), Some(3), "{menu}");
    assert!(
        menu["text"].as_str().unwrap().contains("más"),
        "typed title matched the back button: {menu}"
    );
    server.stop().await;
}

#[tokio::test]
async fn bad_frames_get_error_frames_and_the_socket_stays_open() {
    let server = start_server(|raw| raw.web.max_message_chars = 100).await;
    let (mut socket, _) = connect_async(server.ws_url("")).await.unwrap();
    next_frame(&mut socket).await; // session
    next_frame(&mut socket).await; // greeting

    socket
        .send(Message::Text("not json at all".into()))
        .await
        .unwrap();
    let error = next_frame(&mut socket).await;
    assert_eq!(
        (error["type"].as_str(), error["code"].as_str()),
        (Some("error"), Some("invalid_frame"))
    );

    send(&mut socket, json!({"type": "shout", "text": "hola"})).await;
    assert_eq!(next_frame(&mut socket).await["code"], "invalid_frame");

    send(
        &mut socket,
        json!({"type": "message", "text": "x".repeat(101)}),
    )
    .await;
    let too_large = next_frame(&mut socket).await;
    assert_eq!(too_large["code"], "message_too_large");
    assert!(too_large["message"].as_str().unwrap().contains("100"));

    send(&mut socket, json!({"type": "message", "text": "   "})).await;
    assert_eq!(next_frame(&mut socket).await["code"], "invalid_frame");

    socket
        .send(Message::Binary(vec![1, 2, 3].into()))
        .await
        .unwrap();
    assert_eq!(next_frame(&mut socket).await["code"], "invalid_frame");

    // Still alive and in order.
    send(
        &mut socket,
        json!({"type": "button", "payload": "menu:advisor"}),
    )
    .await;
    let reply = next_frame(&mut socket).await;
    assert_eq!(reply["type"], "message");
    assert!(reply["text"].as_str().unwrap().contains("asesor"));
    server.stop().await;
}

#[tokio::test]
async fn frames_over_the_protocol_limit_close_the_socket_not_the_server() {
    let server = start_server(|raw| {
        raw.web.max_message_chars = 100;
        raw.web.max_frame_bytes = 1024;
    })
    .await;
    let (mut socket, _) = connect_async(server.ws_url("")).await.unwrap();
    next_frame(&mut socket).await;
    next_frame(&mut socket).await;
    let huge = json!({"type": "message", "text": "x".repeat(10_000)}).to_string();
    let _ = socket.send(Message::Text(huge.into())).await;
    // The server drops this connection, and keeps serving others.
    let ended = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        loop {
            match socket.next().await {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break,
                Some(Ok(_)) => continue,
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "oversized frame did not end the connection");
    let (mut other, _) = connect_async(server.ws_url("")).await.unwrap();
    assert_eq!(next_frame(&mut other).await["type"], "session");
    server.stop().await;
}

/// The socket starts with a small read buffer (memory per open widget); a long message
/// within the limits must still arrive whole and get its answer.
#[tokio::test]
async fn a_message_larger_than_the_initial_read_buffer_is_answered() {
    let server = start_server(|raw| raw.web.max_message_chars = 10_000).await;
    let (mut socket, _) = connect_async(server.ws_url("")).await.unwrap();
    next_frame(&mut socket).await; // session
    next_frame(&mut socket).await; // greeting
    // 9,000 two-byte characters: an 18 KB frame, four times the initial buffer.
    let long = format!("quiero hablar con un asesor {}", "á".repeat(9_000));
    send(&mut socket, json!({"type": "message", "text": long})).await;
    let reply = next_frame(&mut socket).await;
    assert_eq!(reply["type"], "message", "{reply}");
    server.stop().await;
}

#[tokio::test]
async fn rate_limit_per_session_sends_an_error_frame() {
    let server = start_server(|raw| raw.web.messages_per_minute_per_session = 5).await;
    let (mut socket, _) = connect_async(server.ws_url("")).await.unwrap();
    next_frame(&mut socket).await;
    next_frame(&mut socket).await;
    for _ in 0..5 {
        send(&mut socket, json!({"type": "message", "text": "hola"})).await;
        assert_eq!(next_frame(&mut socket).await["type"], "message");
    }
    send(&mut socket, json!({"type": "message", "text": "hola"})).await;
    let limited = next_frame(&mut socket).await;
    assert_eq!(limited["code"], "rate_limited", "{limited}");
    server.stop().await;
}

#[tokio::test]
async fn rate_limit_per_address_covers_many_sessions() {
    // Opening a session costs one message from the address's budget, like sending one.
    let server = start_server(|raw| raw.web.messages_per_minute_per_ip = 4).await;
    let mut refusals = Vec::new();
    for _ in 0..3 {
        let (mut socket, _) = connect_async(server.ws_url("")).await.unwrap();
        let first = next_frame(&mut socket).await;
        if first["type"] == "error" {
            // No session: the error frame, then a proper close ("try again later").
            refusals.push(first["code"].clone());
            match socket.next().await {
                Some(Ok(Message::Close(Some(frame)))) => assert_eq!(u16::from(frame.code), 1013),
                other => panic!("expected a close frame, got {other:?}"),
            }
            continue;
        }
        next_frame(&mut socket).await; // greeting
        for _ in 0..2 {
            send(&mut socket, json!({"type": "message", "text": "hola"})).await;
            let reply = next_frame(&mut socket).await;
            if reply["type"] == "error" {
                refusals.push(reply["code"].clone());
            }
        }
    }
    assert!(
        !refusals.is_empty() && refusals.iter().all(|code| code == "rate_limited"),
        "three sessions and six messages from one address within a minute must hit a limit of four: {refusals:?}"
    );
    server.stop().await;
}

#[tokio::test]
async fn shutdown_closes_sockets_with_going_away() {
    let server = start_server(|_| {}).await;
    let (mut socket, _) = connect_async(server.ws_url("")).await.unwrap();
    next_frame(&mut socket).await;
    next_frame(&mut socket).await;
    let stopping = tokio::spawn(server.stop());
    let close = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        loop {
            match socket.next().await {
                Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
                None | Some(Err(_)) => return None,
                Some(Ok(_)) => continue,
            }
        }
    })
    .await
    .expect("socket closed on shutdown");
    assert_eq!(close, Some(1001));
    stopping.await.unwrap();
}
