//! Growing answers on channels that can edit a message they sent (Telegram): the first
//! piece goes out as a new message, which is then edited to the text so far — at most
//! once per interval, because Telegram limits edits like messages — and a last time to
//! the committed text when the turn ends. Channels without edits (Viber) simply get the
//! committed reply.

use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::engine::StreamEvent;

/// A channel's "send a message" and "edit that message".
#[async_trait]
pub trait EditableMessages: Send + Sync {
    /// What identifies a sent message (Telegram: chat id + message id).
    type Sent: Send + Sync;
    type Error: std::fmt::Display + Send;

    async fn send(&self, text: &str) -> Result<Self::Sent, Self::Error>;
    async fn edit(&self, sent: &Self::Sent, text: &str) -> Result<(), Self::Error>;
}

/// The message a stream was shown in, for the final edit.
pub struct Shown<S> {
    pub stream: String,
    pub sent: S,
    /// The text the message shows now.
    pub text: String,
}

/// Relays stream events to `target` until the sender side closes (the turn ended).
/// Returns the message each stream was shown in, so the channel can edit it to the
/// committed text instead of sending the reply again. Failures are logged and end the
/// relay: the committed reply is still delivered normally.
pub async fn relay<T: EditableMessages>(
    mut events: mpsc::UnboundedReceiver<StreamEvent>,
    target: &T,
    interval: Duration,
) -> Vec<Shown<T::Sent>> {
    let mut shown: Vec<Shown<T::Sent>> = Vec::new();
    // Text of the current stream not yet on screen, and when we last touched it.
    let mut pending: Option<(String, String)> = None;
    let mut last_edit = Instant::now();
    loop {
        let event = match &pending {
            Some(_) => {
                let wake = last_edit + interval;
                tokio::select! {
                    event = events.recv() => event,
                    () = tokio::time::sleep_until(wake) => {
                        if let Some((stream, text)) = pending.take()
                            && let Err(err) = show(target, &mut shown, &stream, text).await
                        {
                            tracing::warn!(cause = %err, "could not edit a growing answer");
                            return shown;
                        }
                        last_edit = Instant::now();
                        continue;
                    }
                }
            }
            None => events.recv().await,
        };
        let Some(event) = event else {
            break;
        };
        match event {
            StreamEvent::Delta { stream, text } => {
                let so_far = match pending.take() {
                    Some((id, mut so_far)) if id == stream => {
                        so_far.push_str(&text);
                        so_far
                    }
                    _ => {
                        let mut so_far = shown
                            .iter()
                            .find(|s| s.stream == stream)
                            .map(|s| s.text.clone())
                            .unwrap_or_default();
                        so_far.push_str(&text);
                        so_far
                    }
                };
                let first = !shown.iter().any(|s| s.stream == stream);
                if first {
                    // The first piece shows at once: the customer sees the bot answering.
                    if let Err(err) = show(target, &mut shown, &stream, so_far).await {
                        tracing::warn!(cause = %err, "could not send a growing answer");
                        return shown;
                    }
                    last_edit = Instant::now();
                } else {
                    pending = Some((stream, so_far));
                }
            }
            StreamEvent::Discard { stream } => {
                if pending.as_ref().is_some_and(|(id, _)| *id == stream) {
                    pending = None;
                }
            }
        }
    }
    // The turn ended: what is still pending shows now, without waiting for the interval.
    if let Some((stream, text)) = pending
        && let Err(err) = show(target, &mut shown, &stream, text).await
    {
        tracing::warn!(cause = %err, "could not edit a growing answer");
    }
    shown
}

async fn show<T: EditableMessages>(
    target: &T,
    shown: &mut Vec<Shown<T::Sent>>,
    stream: &str,
    text: String,
) -> Result<(), T::Error> {
    match shown.iter_mut().find(|s| s.stream == stream) {
        Some(entry) if entry.text == text => Ok(()),
        Some(entry) => {
            target.edit(&entry.sent, &text).await?;
            entry.text = text;
            Ok(())
        }
        None => {
            let sent = target.send(&text).await?;
            shown.push(Shown {
                stream: stream.to_owned(),
                sent,
                text,
            });
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::engine::ReplyStream;

    #[derive(Default)]
    struct Recorder {
        calls: Mutex<Vec<String>>,
    }

    #[async_trait]
    impl EditableMessages for Recorder {
        type Sent = usize;
        type Error = String;

        async fn send(&self, text: &str) -> Result<usize, String> {
            let mut calls = self.calls.lock().map_err(|e| e.to_string())?;
            calls.push(format!("send {text}"));
            Ok(calls.len())
        }

        async fn edit(&self, _sent: &usize, text: &str) -> Result<(), String> {
            self.calls
                .lock()
                .map_err(|e| e.to_string())?
                .push(format!("edit {text}"));
            Ok(())
        }
    }

    #[tokio::test(start_paused = true)]
    async fn edits_are_throttled_and_end_with_the_full_text() {
        let (stream, events) = ReplyStream::channel();
        let target = Recorder::default();
        let producer = async {
            let mut writer = stream.start();
            for piece in ["El ", "Tiguan ", "rinde ", "17,2 ", "km/l."] {
                writer.write(piece);
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            drop(writer);
            drop(stream);
        };
        let (shown, ()) = tokio::join!(relay(events, &target, Duration::from_secs(1)), producer);
        let calls = target.calls.lock().expect("not poisoned").clone();
        // First piece at once, then at most one edit per second, then the rest.
        assert_eq!(calls.first().map(String::as_str), Some("send El "));
        assert!(calls.len() < 5, "pieces were not throttled: {calls:?}");
        assert_eq!(shown.len(), 1);
        assert_eq!(shown[0].text, "El Tiguan rinde 17,2 km/l.");
        assert_eq!(
            calls.last().map(String::as_str),
            Some("edit El Tiguan rinde 17,2 km/l.")
        );
    }
}
