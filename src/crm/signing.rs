//! Standard Webhooks signing (<https://www.standardwebhooks.com/>): the receiver checks
//! `webhook-signature: v1,<base64 HMAC-SHA256 of "{webhook-id}.{webhook-timestamp}.{body}">`
//! with the shared `whsec_…` secret, so any of the reference libraries verifies what we
//! send without code of ours on their side.

use std::fmt;

use base64::Engine as _;
use base64::alphabet;
use base64::engine::general_purpose::STANDARD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use hmac::{KeyInit, Mac};
use sha2::Sha256;

/// The prefix that marks a Standard Webhooks symmetric secret.
const PREFIX: &str = "whsec_";

/// The spec asks for 24 to 64 random bytes (192 to 512 bits).
const MIN_KEY_BYTES: usize = 24;
const MAX_KEY_BYTES: usize = 64;

/// How to make a good secret, said in every error.
const GENERATE: &str = "generate one with `echo whsec_$(openssl rand -base64 32)`";

/// Secrets are pasted by hand: accept them with or without the trailing `=`.
const LENIENT_BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Why a `whsec_…` secret was refused. The texts never repeat the secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("the secret must look like whsec_ followed by base64; {GENERATE}")]
    MissingPrefix,
    #[error("the part after whsec_ is not base64 ({reason}); {GENERATE}")]
    NotBase64 { reason: String },
    #[error(
        "the secret holds {bytes} bytes, but Standard Webhooks asks for {MIN_KEY_BYTES} to {MAX_KEY_BYTES} random bytes; {GENERATE}"
    )]
    WrongLength { bytes: usize },
}

/// The HMAC key shared with the CRM. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret {
    key: Vec<u8>,
}

impl WebhookSecret {
    /// Parses `whsec_<base64>` (spaces around are ignored).
    pub fn parse(text: &str) -> Result<Self, SecretError> {
        let encoded = text
            .trim()
            .strip_prefix(PREFIX)
            .ok_or(SecretError::MissingPrefix)?;
        let key = LENIENT_BASE64
            .decode(encoded)
            .map_err(|err| SecretError::NotBase64 {
                reason: err.to_string(),
            })?;
        if !(MIN_KEY_BYTES..=MAX_KEY_BYTES).contains(&key.len()) {
            return Err(SecretError::WrongLength { bytes: key.len() });
        }
        Ok(Self { key })
    }
}

impl std::str::FromStr for WebhookSecret {
    type Err = SecretError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(<hidden>)")
    }
}

/// The `webhook-signature` header value for one attempt: `v1,<base64>`.
pub fn sign(secret: &WebhookSecret, webhook_id: &str, timestamp_secs: i64, body: &[u8]) -> String {
    let mut mac = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(&secret.key)
        .expect("HMAC takes keys of any length");
    mac.update(webhook_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp_secs.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// A new `webhook-id`: `msg_` and a time-ordered UUID, so ids sort by creation and never
/// contain the `.` that separates the signed parts.
pub fn new_webhook_id() -> String {
    format!("msg_{}", uuid::Uuid::now_v7().simple())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks reference libraries (and Svix's docs).
    #[test]
    fn signs_the_published_example_exactly() {
        let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert_eq!(
            sign(
                &secret,
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1614265330,
                br#"{"test": 2432232314}"#
            ),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn every_signed_part_changes_the_signature() {
        let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let base = sign(&secret, "msg_a", 1, b"{}");
        assert_ne!(base, sign(&secret, "msg_b", 1, b"{}"));
        assert_ne!(base, sign(&secret, "msg_a", 2, b"{}"));
        assert_ne!(base, sign(&secret, "msg_a", 1, b"{ }"));
        let other = WebhookSecret::parse("whsec_AAAA9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert_ne!(base, sign(&other, "msg_a", 1, b"{}"));
    }

    #[test]
    fn bad_secrets_say_what_is_wrong_and_how_to_fix_it() {
        let missing = WebhookSecret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap_err();
        assert_eq!(missing, SecretError::MissingPrefix);
        assert!(missing.to_string().contains("openssl rand -base64 32"));

        let garbled = WebhookSecret::parse("whsec_not base64!").unwrap_err();
        assert!(
            matches!(garbled, SecretError::NotBase64 { .. }),
            "{garbled}"
        );

        let short = WebhookSecret::parse("whsec_c2hvcnQ=").unwrap_err();
        assert_eq!(short, SecretError::WrongLength { bytes: 5 });
        assert!(short.to_string().contains("24 to 64"), "{short}");
    }

    #[test]
    fn padding_and_spaces_are_forgiven() {
        // 32 bytes, as `openssl rand -base64 32` prints them (with `=`).
        let padded = "whsec_3q2+7wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
        let bare = padded.trim_end_matches('=');
        assert_eq!(
            WebhookSecret::parse(&format!("  {padded}\n")).unwrap(),
            WebhookSecret::parse(bare).unwrap()
        );
    }

    #[test]
    fn debug_never_shows_the_key() {
        let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let shown = format!("{secret:?}");
        assert_eq!(shown, "WebhookSecret(<hidden>)");
        assert!(!shown.contains("MfKQ"));
    }

    #[test]
    fn webhook_ids_are_unique_and_have_no_dots() {
        let a = new_webhook_id();
        let b = new_webhook_id();
        assert_ne!(a, b);
        assert!(a.starts_with("msg_") && a.len() == 4 + 32, "{a}");
        assert!(!a.contains('.'));
    }
}
