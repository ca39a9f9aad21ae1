//! Long polling: `deleteWebhook` (Telegram refuses `getUpdates` while a webhook is set),
//! then `getUpdates` in a loop. Each chat's updates run in the order they came, one after
//! the other; different chats run at the same time. An update is confirmed to Telegram
//! (the next call's offset) only after the whole batch was handled, so a crash never
//! drops an update Telegram thinks we have: it comes again after the restart, and the
//! engine recognises a repeat by its `update_id`. The price is that a slow turn (an LLM
//! answer) holds back the next batch; busy bots use webhook mode.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::TelegramChannel;

const FIRST_BACKOFF: Duration = Duration::from_millis(500);

pub async fn poll(channel: Arc<TelegramChannel>, token: CancellationToken) {
    let mut attempt = 0;
    loop {
        let result = tokio::select! {
            () = token.cancelled() => return,
            result = channel.client.delete_webhook() => result,
        };
        match result {
            Ok(()) => break,
            Err(err) => {
                tracing::warn!(cause = %err, "could not clear Telegram's webhook before polling (deleteWebhook); trying again");
                if !pause(&token, attempt).await {
                    return;
                }
                attempt += 1;
            }
        }
    }
    // The last turn of each chat: the next one of that chat waits for it (and gives up
    // when it failed, so a chat's updates are never taken out of order). Each turn
    // returns the id of the first update of its chat that could not be handled.
    let mut tails: HashMap<i64, JoinHandle<Option<i32>>> = HashMap::new();
    // Batches in a row with an update that could not be handled: the pause grows.
    let mut failed_rounds = 0;
    let mut offset: i32 = 0;
    attempt = 0;
    loop {
        let batch = tokio::select! {
            () = token.cancelled() => break,
            batch = channel.client.get_updates(offset, channel.config.poll_timeout) => batch,
        };
        let updates = match batch {
            Ok(updates) => {
                attempt = 0;
                updates
            }
            Err(err) => {
                tracing::warn!(cause = %err, "could not get updates from Telegram (getUpdates); trying again");
                if !pause(&token, attempt).await {
                    break;
                }
                attempt += 1;
                continue;
            }
        };
        for update in updates {
            let id = i32::try_from(update.id.0).unwrap_or(i32::MAX);
            offset = offset.max(id.saturating_add(1));
            let Some(chat) = super::update::classify(&update).map(|i| i.chat_id) else {
                continue;
            };
            let previous = tails.remove(&chat);
            let channel = channel.clone();
            let turn = tokio::spawn(async move {
                if let Some(previous) = previous
                    && let Ok(Some(failed)) = previous.await
                {
                    return Some(failed);
                }
                channel.handle_update(&update).await.err().map(|_| id)
            });
            tails.insert(chat, turn);
        }
        // The batch is handled before its offset goes back to Telegram (see above). The
        // turns finish even when the server is stopping: their replies are committed.
        let mut first_failed: Option<i32> = None;
        for (_, turn) in tails.drain() {
            if let Ok(Some(failed)) = turn.await {
                first_failed = Some(first_failed.map_or(failed, |f| f.min(failed)));
            }
        }
        if let Some(failed) = first_failed {
            // Ask again from the first update not taken (the database was unreachable);
            // the ones after it that were handled are recognised as repeats.
            offset = failed;
            if !pause(&token, failed_rounds).await {
                break;
            }
            failed_rounds += 1;
        } else {
            failed_rounds = 0;
        }
    }
}

/// Waits before the next attempt; `false` when the server stops meanwhile.
async fn pause(token: &CancellationToken, attempt: u32) -> bool {
    tokio::select! {
        () = token.cancelled() => false,
        () = tokio::time::sleep(crate::outbound::backoff(FIRST_BACKOFF, attempt)) => true,
    }
}
