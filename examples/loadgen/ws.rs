//! The widget's WebSocket (`GET /api/v1/chat/ws`): one connection per conversation. The
//! server sends a turn's replies as separate `message` frames with no end marker, so a
//! turn ends at the frame that asks the customer something (`script::ends_turn`), at an
//! `error` frame, or at the timeout.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

use crate::script::{Outgoing, Reply, ends_turn, texts};
use crate::transport::{Chat, Connector, Failure};

type Socket = WebSocketStream<TcpStream>;

pub struct WsConnector {
    url: String,
    server: SocketAddr,
    /// Local addresses to connect from, in turns; empty lets the kernel choose. Each
    /// source address has its own ~28,000 ephemeral ports towards one server address.
    sources: Vec<IpAddr>,
    next_source: AtomicUsize,
    timeout: Duration,
}

impl WsConnector {
    pub fn new(url: String, server: SocketAddr, sources: Vec<IpAddr>, timeout: Duration) -> Self {
        Self {
            url,
            server,
            sources,
            next_source: AtomicUsize::new(0),
            timeout,
        }
    }

    async fn connect_tcp(&self) -> Result<TcpStream, Failure> {
        let failed =
            |err: std::io::Error| Failure::new(format!("connect: {}", err.kind()), err.to_string());
        let stream = if self.sources.is_empty() {
            TcpStream::connect(self.server).await.map_err(failed)?
        } else {
            let turn = self.next_source.fetch_add(1, Ordering::Relaxed) % self.sources.len();
            let socket = match self.server {
                SocketAddr::V4(_) => TcpSocket::new_v4(),
                SocketAddr::V6(_) => TcpSocket::new_v6(),
            }
            .map_err(failed)?;
            socket
                .bind(SocketAddr::new(self.sources[turn], 0))
                .map_err(failed)?;
            socket.connect(self.server).await.map_err(failed)?
        };
        // Frames are small and answered at once: don't let Nagle hold them back.
        stream.set_nodelay(true).map_err(failed)?;
        Ok(stream)
    }
}

impl Connector for WsConnector {
    type Chat = WsChat;

    async fn open(&self) -> Result<(WsChat, Vec<Reply>), Failure> {
        let opened = async {
            let stream = self.connect_tcp().await?;
            let (socket, _) = tokio_tungstenite::client_async(self.url.as_str(), stream)
                .await
                .map_err(|err| Failure::new("ws handshake", err.to_string()))?;
            Ok::<_, Failure>(socket)
        };
        let socket = tokio::time::timeout(self.timeout, opened)
            .await
            .map_err(|_| Failure::new("timeout", "connecting took too long"))??;
        let mut chat = WsChat {
            socket,
            timeout: self.timeout,
            session: None,
        };
        let greeting = chat.read_turn().await?;
        if chat.session.is_none() {
            return Err(Failure::new(
                "bad reply",
                "the greeting came before any `session` frame",
            ));
        }
        Ok((chat, greeting))
    }
}

pub struct WsChat {
    socket: Socket,
    timeout: Duration,
    /// The token from the `session` frame.
    session: Option<String>,
}

impl WsChat {
    /// Reads frames until one ends the turn.
    async fn read_turn(&mut self) -> Result<Vec<Reply>, Failure> {
        let mut replies = Vec::new();
        let deadline = tokio::time::Instant::now() + self.timeout;
        loop {
            let frame = match tokio::time::timeout_at(deadline, self.socket.next()).await {
                Err(_) => {
                    return Err(Failure::new(
                        "timeout",
                        format!("no end of turn; got: {}", texts(&replies)),
                    ));
                }
                Ok(None) => return Err(Failure::new("ws closed", "the server closed the socket")),
                Ok(Some(Err(err))) => return Err(Failure::new("ws connection", err.to_string())),
                Ok(Some(Ok(frame))) => frame,
            };
            let text = match frame {
                Message::Text(text) => text,
                Message::Close(close) => {
                    let why = close.map_or_else(
                        || "no reason".to_owned(),
                        |c| format!("{} {}", u16::from(c.code), c.reason.as_str()),
                    );
                    return Err(Failure::new("ws closed", why));
                }
                Message::Binary(_) => {
                    return Err(Failure::new("bad frame", "a binary frame"));
                }
                Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => continue,
            };
            let frame: Value = serde_json::from_str(text.as_str())
                .map_err(|err| Failure::new("bad frame", format!("{err}: {}", text.as_str())))?;
            match frame.get("type").and_then(Value::as_str) {
                Some("session") => {
                    let token = frame.get("session").and_then(Value::as_str);
                    let token = token.ok_or_else(|| Failure::new("bad frame", text.as_str()))?;
                    self.session = Some(token.to_owned());
                }
                Some("typing" | "delta") => {}
                Some("message" | "message_end") => {
                    let reply = Reply::from_frame(&frame)
                        .ok_or_else(|| Failure::new("bad frame", text.as_str()))?;
                    let last = ends_turn(&reply);
                    replies.push(reply);
                    if last {
                        return Ok(replies);
                    }
                }
                Some("error") => {
                    let code = frame.get("code").and_then(Value::as_str).unwrap_or("?");
                    let message = frame.get("message").and_then(Value::as_str).unwrap_or("");
                    return Err(Failure::new(format!("error frame {code}"), message));
                }
                _ => return Err(Failure::new("bad frame", text.as_str())),
            }
        }
    }
}

impl Chat for WsChat {
    async fn send(&mut self, message: &Outgoing) -> Result<Vec<Reply>, Failure> {
        let frame = match message {
            Outgoing::Text(text) => json!({"type": "message", "text": text}),
            Outgoing::Button(payload) => json!({"type": "button", "payload": payload}),
        };
        self.socket
            .send(Message::Text(frame.to_string().into()))
            .await
            .map_err(|err| Failure::new("ws connection", err.to_string()))?;
        self.read_turn().await
    }

    async fn close(mut self) {
        let _ = self.socket.close(None).await;
    }

    async fn hold(mut self, stop: CancellationToken) -> bool {
        loop {
            tokio::select! {
                () = stop.cancelled() => {
                    let _ = self.socket.close(None).await;
                    return true;
                }
                frame = self.socket.next() => match frame {
                    None | Some(Err(_) | Ok(Message::Close(_))) => return false,
                    // Reading answers the server's keepalive pings.
                    Some(Ok(_)) => {}
                },
            }
        }
    }
}
