//! The seam between the engine and whatever decides what to answer: the settings menu
//! today, flows (R2) and the assistant (R5) later. A router sees one customer input and
//! its own state, and appends replies; it never touches storage or channels.

use async_trait::async_trait;
use serde_json::Value;

use super::{ChannelKind, Language, Reply, ReplyStream, TurnNotes};

/// What the customer did, as the router sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// The conversation was (re)started, maybe from a deep link.
    Start {
        payload: Option<String>,
    },
    Text(String),
    /// A button was pressed, or typed text matched one of the offered buttons.
    Button {
        payload: String,
    },
    Contact {
        phone: String,
    },
    /// The customer came back after the idle timeout and chose to continue: repeat the
    /// current question.
    Resume,
}

/// One turn of a conversation handed to a router.
#[derive(Debug)]
pub struct Turn<'a> {
    pub input: Input,
    pub channel: ChannelKind,
    pub customer_id: &'a str,
    pub conversation_id: &'a str,
    /// The customer's language; a router may change it (the engine keeps the change).
    pub language: Language,
    /// The router's own state for this conversation, persisted by the engine.
    pub state: &'a mut Value,
    /// Replies to send, in order.
    pub replies: Vec<Reply>,
    /// Where to stream a reply while it is composed, when the channel shows growing
    /// text (the widget); `None` otherwise.
    pub stream: Option<&'a ReplyStream>,
    /// What the turn learned about the customer (values collected, actions run), for
    /// the leads desk.
    pub notes: TurnNotes,
}

impl Turn<'_> {
    pub fn reply(&mut self, reply: Reply) {
        self.replies.push(reply);
    }
}

/// A router failed in a way the customer cannot fix; the engine apologises and logs it.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct RouteError(pub Box<dyn std::error::Error + Send + Sync>);

/// Decides the replies to a customer's input.
#[async_trait]
pub trait Router: Send + Sync {
    async fn route(&self, turn: &mut Turn<'_>) -> Result<(), RouteError>;

    /// Whether the customer is in the middle of something worth resuming after a pause
    /// (an unfinished booking, say), as opposed to idling at the main menu.
    fn in_progress(&self, state: &Value) -> bool;
}
