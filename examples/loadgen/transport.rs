//! What the customer script needs from a transport: open a conversation (its greeting),
//! send one message and get the bot's whole turn back. The WebSocket and the plain
//! HTTP endpoint implement it.

use std::future::Future;

use tokio_util::sync::CancellationToken;

use crate::script::{Outgoing, Reply};

/// Why a turn failed, grouped for the report: the key names the kind (HTTP status,
/// error frame code, timeout, connection), the detail is one example's text.
#[derive(Debug, Clone)]
pub struct Failure {
    pub kind: String,
    pub detail: String,
}

impl Failure {
    pub fn new(kind: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            kind: kind.into(),
            detail: detail.into(),
        }
    }
}

/// One conversation on a transport.
pub trait Chat: Sized + Send {
    /// Sends `message`; returns the bot's replies to it, up to the one that ends the turn.
    fn send(
        &mut self,
        message: &Outgoing,
    ) -> impl Future<Output = Result<Vec<Reply>, Failure>> + Send;

    /// Ends the conversation's connection, if it has one.
    fn close(self) -> impl Future<Output = ()> + Send;

    /// Keeps the conversation's connection open (answering pings) until `stop`; false
    /// when the server closed it first.
    fn hold(self, stop: CancellationToken) -> impl Future<Output = bool> + Send;
}

/// Opens conversations on a server.
pub trait Connector: Send + Sync + 'static {
    type Chat: Chat;

    /// Starts a new conversation; returns it with the greeting.
    fn open(&self) -> impl Future<Output = Result<(Self::Chat, Vec<Reply>), Failure>> + Send;
}
