//! Replies that grow while they are composed (an LLM answer token by token). A channel
//! that can show growing text hands the engine a [`ReplyStream`]; the router writes
//! pieces to it, then commits the finished reply as usual, tagged with the stream's id.
//! The committed reply is the truth: the streamed pieces are only a preview, which the
//! channel replaces with the committed text (the grounding guard may have changed it).

use tokio::sync::mpsc;

/// What a channel receives while a reply is composed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamEvent {
    /// More text of the reply `stream`.
    Delta { stream: String, text: String },
    /// The text streamed so far is void (the answer is being replaced); the final reply
    /// follows when the turn is committed.
    Discard { stream: String },
}

/// The channel's end: pieces of replies in the making.
#[derive(Debug, Clone)]
pub struct ReplyStream {
    events: mpsc::UnboundedSender<StreamEvent>,
}

impl ReplyStream {
    /// A stream and the receiver the channel reads from.
    pub fn channel() -> (Self, mpsc::UnboundedReceiver<StreamEvent>) {
        let (events, receiver) = mpsc::unbounded_channel();
        (Self { events }, receiver)
    }

    /// Starts one streamed reply; its id becomes the committed reply's `stream_id`.
    pub fn start(&self) -> StreamWriter {
        StreamWriter {
            id: format!("s-{}", uuid::Uuid::now_v7().simple()),
            events: self.events.clone(),
            written: false,
        }
    }
}

/// The router's end of one streamed reply.
#[derive(Debug)]
pub struct StreamWriter {
    id: String,
    events: mpsc::UnboundedSender<StreamEvent>,
    written: bool,
}

impl StreamWriter {
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Sends a piece. A channel that went away is not an error: the reply is still
    /// committed and delivered on reconnect.
    pub fn write(&mut self, text: &str) {
        if text.is_empty() {
            return;
        }
        self.written = true;
        let _ = self.events.send(StreamEvent::Delta {
            stream: self.id.clone(),
            text: text.to_owned(),
        });
    }

    /// Whether any piece was sent.
    pub fn has_written(&self) -> bool {
        self.written
    }

    /// Voids what was streamed so far.
    pub fn discard(&mut self) {
        if self.written {
            let _ = self.events.send(StreamEvent::Discard {
                stream: self.id.clone(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_arrive_in_order_under_one_id() {
        let (stream, mut events) = ReplyStream::channel();
        let mut writer = stream.start();
        writer.write("Hola");
        writer.write("");
        writer.write(", Ana");
        writer.discard();
        let id = writer.id().to_owned();
        assert!(id.starts_with("s-"));
        let got: Vec<StreamEvent> = std::iter::from_fn(|| events.try_recv().ok()).collect();
        assert_eq!(
            got,
            vec![
                StreamEvent::Delta {
                    stream: id.clone(),
                    text: "Hola".into()
                },
                StreamEvent::Delta {
                    stream: id.clone(),
                    text: ", Ana".into()
                },
                StreamEvent::Discard { stream: id },
            ]
        );
        assert_ne!(stream.start().id(), writer.id());
    }
}
