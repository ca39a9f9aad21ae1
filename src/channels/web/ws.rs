//! `GET /api/v1/chat/ws[?session=TOKEN]`: the widget's WebSocket. The first frame is
//! always `session`; a new session is greeted, a resumed one gets whatever was committed
//! but never delivered (the server may have died right after committing). Frames are
//! handled one at a time, so a customer's messages keep their order. Bad frames get an
//! `error` frame and the socket stays open. Messages the bot sends on its own (reminders,
//! outreach) arrive at once when pushed in this process, and within one keepalive
//! period when pushed by another instance.

use std::collections::HashSet;
use std::net::IpAddr;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;
use tracing::Instrument;

use super::{ClientFrame, ServerFrame, WebSession};
use crate::engine::{Outbound, ReplyStream, StreamEvent};
use crate::http::{ApiError, AppState, ErrorCode, PeerAddr};

/// Close code "going away": the server is shutting down; the widget reconnects.
const CLOSE_GOING_AWAY: u16 = 1001;
/// Close code "try again later": no session could be opened (rate limit, store down).
const CLOSE_TRY_AGAIN_LATER: u16 = 1013;
/// How often an idle connection is pinged.
const KEEPALIVE_EVERY: Duration = Duration::from_secs(30);
/// Processing slower than this shows the typing indicator.
const TYPING_AFTER: Duration = Duration::from_millis(400);
/// Initial read buffer per connection. Chat frames are small and the buffer grows for a
/// larger one (up to `max_frame_bytes`); tungstenite's default of 128 KiB made every open
/// widget cost ~140 KiB of server memory.
const READ_BUFFER_BYTES: usize = 4 * 1024;

#[derive(Debug, Deserialize)]
pub struct WsQuery {
    session: Option<String>,
}

pub async fn upgrade(
    State(state): State<AppState>,
    PeerAddr(peer): PeerAddr,
    headers: HeaderMap,
    Query(query): Query<WsQuery>,
    ws: WebSocketUpgrade,
) -> Response {
    let ip = state.web_limits.client_ip(peer, &headers);
    let max = state.web_limits.max_frame_bytes;
    ws.max_message_size(max)
        .max_frame_size(max)
        .read_buffer_size(READ_BUFFER_BYTES)
        // Every frame is sent and flushed on its own; there is nothing to batch.
        .write_buffer_size(0)
        .on_upgrade(move |socket| {
            let tasks = state.connections.clone();
            tasks.track_future(async move {
                metrics::gauge!("showroom_open_sessions").increment(1.0);
                let span = tracing::info_span!("ws", conversation = tracing::field::Empty);
                serve(socket, state, query.session, ip)
                    .instrument(span)
                    .await;
                metrics::gauge!("showroom_open_sessions").decrement(1.0);
            })
        })
}

async fn serve(mut socket: WebSocket, state: AppState, requested: Option<String>, ip: IpAddr) {
    let session = match WebSession::resolve(&state, requested.as_deref(), ip).await {
        Ok(session) => session,
        Err(err) => {
            // Say why, then close properly so the widget backs off and retries.
            let _ = send_error(&mut socket, &err).await;
            let _ = socket
                .send(Message::Close(Some(CloseFrame {
                    code: CLOSE_TRY_AGAIN_LATER,
                    reason: Utf8Bytes::from_static("no session could be opened"),
                })))
                .await;
            return;
        }
    };
    tracing::Span::current().record("conversation", session.conversation.id.as_str());
    // Listen before reading what is undelivered, so a push in between is not missed.
    let mut pushed = state.engine.subscribe();

    let opened = async {
        send(
            &mut socket,
            &ServerFrame::Session {
                session: session.token.as_str(),
            },
        )
        .await?;
        let first = if session.fresh {
            session.start(&state).await
        } else {
            state
                .engine
                .undelivered(&session.conversation)
                .await
                .map_err(ApiError::from)
        };
        match first {
            Ok(replies) => deliver(&mut socket, &state, &replies).await,
            Err(err) => send_error(&mut socket, &err).await,
        }
    };
    if opened.await.is_err() {
        return;
    }

    let mut keepalive = tokio::time::interval(KEEPALIVE_EVERY);
    keepalive.tick().await;
    loop {
        let incoming = tokio::select! {
            biased;
            () = state.shutdown.cancelled() => {
                let _ = socket.send(Message::Close(Some(CloseFrame {
                    code: CLOSE_GOING_AWAY,
                    reason: Utf8Bytes::from_static("server restarting"),
                }))).await;
                break;
            }
            incoming = socket.recv() => incoming,
            notice = pushed.recv() => {
                let ours = match notice {
                    Ok(conversation) => *conversation == *session.conversation.id,
                    // Missed some notices: ours may be among them. (`Closed` cannot
                    // happen: the engine, which holds the sender, outlives connections.)
                    Err(RecvError::Lagged(_) | RecvError::Closed) => true,
                };
                if ours && deliver_undelivered(&mut socket, &state, &session).await.is_err() {
                    break;
                }
                continue;
            }
            _ = keepalive.tick() => {
                // Keeps idle connections alive through proxies that drop silent sockets.
                if socket.send(Message::Ping(Default::default())).await.is_err() {
                    break;
                }
                // Messages another instance pushed to this conversation.
                if deliver_undelivered(&mut socket, &state, &session).await.is_err() {
                    break;
                }
                continue;
            }
        };
        let text = match incoming {
            None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break,
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(Message::Binary(_))) => {
                let err = ApiError::new(
                    ErrorCode::InvalidFrame,
                    "binary frames are not supported; send JSON text frames",
                );
                if send_error(&mut socket, &err).await.is_err() {
                    break;
                }
                continue;
            }
            // axum answers pings itself.
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
        };
        let frame: ClientFrame = match serde_json::from_str(text.as_str()) {
            Ok(frame) => frame,
            Err(err) => {
                let err = ApiError::new(
                    ErrorCode::InvalidFrame,
                    format!(
                        "the frame is not valid: {err}. Expected {{\"type\":\"message\",\"text\":…}} or {{\"type\":\"button\",\"payload\":…}}"
                    ),
                );
                if send_error(&mut socket, &err).await.is_err() {
                    break;
                }
                continue;
            }
        };
        // Keep handling this message even if shutdown starts meanwhile: in-flight
        // messages finish, then the loop sees the cancellation.
        let (stream, mut events) = ReplyStream::channel();
        let handled = session.send_streaming(&state, ip, frame, Some(&stream));
        tokio::pin!(handled);
        let typing = tokio::time::sleep(TYPING_AFTER);
        tokio::pin!(typing);
        let mut typing_shown = false;
        // Ids streamed on this socket: their committed replies end the stream instead of
        // arriving as new messages.
        let mut streamed: HashSet<String> = HashSet::new();
        let result = loop {
            tokio::select! {
                result = &mut handled => break result,
                Some(event) = events.recv() => {
                    // A failed send means the customer left; the message is stored and
                    // still processed, and its reply waits for the reconnect.
                    if let StreamEvent::Delta { stream: id, text } = event {
                        let _ = send(&mut socket, &ServerFrame::Delta { id: &id, text: &text }).await;
                        streamed.insert(id);
                    }
                }
                () = &mut typing, if !typing_shown => {
                    typing_shown = true;
                    let _ = send(&mut socket, &ServerFrame::Typing).await;
                }
            }
        };
        let sent = match result {
            Ok(replies) => deliver_streamed(&mut socket, &state, &replies, &streamed).await,
            Err(err) => send_error(&mut socket, &err).await,
        };
        if sent.is_err() {
            break;
        }
    }
    tracing::debug!("web chat closed");
}

/// Sends whatever the conversation has committed but not delivered yet.
async fn deliver_undelivered(
    socket: &mut WebSocket,
    state: &AppState,
    session: &WebSession,
) -> Result<(), axum::Error> {
    match state.engine.undelivered(&session.conversation).await {
        Ok(replies) if replies.is_empty() => Ok(()),
        Ok(replies) => deliver(socket, state, &replies).await,
        // Not the customer's problem; the next check tries again.
        Err(err) => {
            tracing::warn!(cause = %err, "could not read undelivered messages");
            Ok(())
        }
    }
}

/// Sends replies and records them as delivered.
async fn deliver(
    socket: &mut WebSocket,
    state: &AppState,
    replies: &[Outbound],
) -> Result<(), axum::Error> {
    deliver_streamed(socket, state, replies, &HashSet::new()).await
}

/// Sends replies, ending the streams of those whose pieces this socket showed, and
/// records them as delivered.
async fn deliver_streamed(
    socket: &mut WebSocket,
    state: &AppState,
    replies: &[Outbound],
    streamed: &HashSet<String>,
) -> Result<(), axum::Error> {
    for reply in replies {
        let frame = match reply.reply.stream_id.as_deref() {
            Some(id) if streamed.contains(id) => ServerFrame::message_end(id, reply),
            _ => ServerFrame::message(reply),
        };
        send(socket, &frame).await?;
    }
    if let Err(err) = state.engine.mark_delivered(replies).await {
        // They were sent; at worst they are sent again on the next reconnect, and the
        // widget drops ids it already shows.
        tracing::warn!(cause = %err, "could not record delivery");
    }
    Ok(())
}

async fn send(socket: &mut WebSocket, frame: &ServerFrame<'_>) -> Result<(), axum::Error> {
    socket.send(Message::Text(frame.to_json().into())).await
}

async fn send_error(socket: &mut WebSocket, err: &ApiError) -> Result<(), axum::Error> {
    send(
        socket,
        &ServerFrame::Error {
            code: err.code,
            message: &err.message,
        },
    )
    .await
}
