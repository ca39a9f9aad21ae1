//! In-process ordering: one conversation's messages are processed one at a time.
//!
//! A fixed array of mutexes indexed by a hash of the conversation id, rather than a map of
//! per-conversation mutexes: memory stays constant however many conversations are open,
//! and nothing has to be cleaned up. Two conversations that share a stripe only wait for
//! each other briefly. Across processes the store's lock takes over.

use std::hash::{BuildHasher, RandomState};

use tokio::sync::{Mutex, MutexGuard};

pub struct ConversationLocks {
    stripes: Box<[Mutex<()>]>,
    hasher: RandomState,
}

impl ConversationLocks {
    pub fn new(stripes: usize) -> Self {
        Self {
            stripes: (0..stripes.max(1)).map(|_| Mutex::new(())).collect(),
            hasher: RandomState::new(),
        }
    }

    pub async fn lock(&self, conversation_id: &str) -> MutexGuard<'_, ()> {
        let index = self.hasher.hash_one(conversation_id) as usize % self.stripes.len();
        self.stripes[index].lock().await
    }
}

impl Default for ConversationLocks {
    fn default() -> Self {
        Self::new(4096)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn one_conversation_is_never_processed_twice_at_once() {
        let locks = Arc::new(ConversationLocks::new(8));
        let inside = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..50 {
            let (locks, inside) = (locks.clone(), inside.clone());
            tasks.push(tokio::spawn(async move {
                let _guard = locks.lock("conversation-1").await;
                assert_eq!(
                    inside.fetch_add(1, Ordering::SeqCst),
                    0,
                    "two holders at once"
                );
                tokio::task::yield_now().await;
                inside.fetch_sub(1, Ordering::SeqCst);
            }));
        }
        for task in tasks {
            task.await.expect("task panicked");
        }
    }
}
