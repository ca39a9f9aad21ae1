//! Button payloads on channels that cap them: Telegram's `callback_data` holds at most
//! 64 bytes, while a flow's payload (`answer:…` with a model and a date, an outreach
//! offer) can be longer. A payload that fits goes as it is; a longer one goes as `~` and
//! a short key, and the payload is kept in the store under that key. The key is a hash
//! of the payload, so the same button always gets the same key and nothing piles up per
//! message, and every instance behind a load balancer can read it back.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use base64::Engine as _;
use sha2::{Digest, Sha256};

use crate::store::{StoreError, now_ms};

/// Telegram's limit on `callback_data`, in bytes.
pub const TELEGRAM_CALLBACK_BYTES: usize = 64;

/// Marks callback data that is a key, not the payload itself.
const KEY_MARK: char = '~';

/// Where long payloads are kept under their keys.
#[async_trait]
pub trait PayloadStore: Send + Sync {
    /// Keeps `payload` under `key`; saving the same pair again is not an error.
    async fn save_payload(&self, key: &str, payload: &str, now: i64) -> Result<(), StoreError>;
    async fn load_payload(&self, key: &str) -> Result<Option<String>, StoreError>;
}

/// Payloads in memory, for `showroom flows test` and unit tests (nothing outlives them).
#[derive(Debug, Default)]
pub struct MemoryPayloads(Mutex<HashMap<String, String>>);

#[async_trait]
impl PayloadStore for MemoryPayloads {
    async fn save_payload(&self, key: &str, payload: &str, _now: i64) -> Result<(), StoreError> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key.to_owned(), payload.to_owned());
        Ok(())
    }

    async fn load_payload(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .cloned())
    }
}

/// Turns button payloads into callback data within a byte limit, and back.
#[derive(Clone)]
pub struct CallbackCodec {
    store: Arc<dyn PayloadStore>,
    max_bytes: usize,
}

impl CallbackCodec {
    pub fn new(store: Arc<dyn PayloadStore>, max_bytes: usize) -> Self {
        Self { store, max_bytes }
    }

    /// Telegram's codec: 64 bytes.
    pub fn telegram(store: Arc<dyn PayloadStore>) -> Self {
        Self::new(store, TELEGRAM_CALLBACK_BYTES)
    }

    /// The callback data for `payload`: itself when it fits (and cannot be mistaken for a
    /// key), else a key saved in the store.
    pub async fn encode(&self, payload: &str) -> Result<String, StoreError> {
        if payload.len() <= self.max_bytes && !payload.starts_with(KEY_MARK) {
            return Ok(payload.to_owned());
        }
        let key = key_of(payload);
        self.store.save_payload(&key, payload, now_ms()).await?;
        Ok(format!("{KEY_MARK}{key}"))
    }

    /// The payload behind callback data; `None` for a key the store does not know (a
    /// forged button, or a store that lost it).
    pub async fn decode(&self, data: &str) -> Result<Option<String>, StoreError> {
        match data.strip_prefix(KEY_MARK) {
            Some(key) => self.store.load_payload(key).await,
            None => Ok(Some(data.to_owned())),
        }
    }
}

/// 128 bits of SHA-256, base64url: 22 characters, well inside any limit.
fn key_of(payload: &str) -> String {
    let digest = Sha256::digest(payload.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codec() -> CallbackCodec {
        CallbackCodec::telegram(Arc::new(MemoryPayloads::default()))
    }

    #[tokio::test]
    async fn short_payloads_go_as_they_are() {
        let codec = codec();
        let data = codec.encode("answer:tiguan").await.unwrap();
        assert_eq!(data, "answer:tiguan");
        assert_eq!(
            codec.decode(&data).await.unwrap().as_deref(),
            Some("answer:tiguan")
        );
    }

    #[tokio::test]
    async fn long_payloads_go_by_key_and_come_back() {
        let codec = codec();
        let long = format!("answer:{}", "ñ".repeat(40));
        assert!(long.len() > TELEGRAM_CALLBACK_BYTES);
        let data = codec.encode(&long).await.unwrap();
        assert!(data.len() <= TELEGRAM_CALLBACK_BYTES, "{data}");
        assert_eq!(
            codec.encode(&long).await.unwrap(),
            data,
            "same payload, same key"
        );
        assert_eq!(codec.decode(&data).await.unwrap(), Some(long));
    }

    #[tokio::test]
    async fn payloads_that_look_like_keys_are_kept_too() {
        let codec = codec();
        let data = codec.encode("~tricky").await.unwrap();
        assert_ne!(data, "~tricky");
        assert_eq!(
            codec.decode(&data).await.unwrap().as_deref(),
            Some("~tricky")
        );
        assert_eq!(codec.decode("~unknownkey").await.unwrap(), None);
    }
}
