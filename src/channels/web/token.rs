//! Web session tokens: 256 random bits, base64url. The token is the customer's only
//! credential for their web conversation, so only its SHA-256 is stored (as the channel
//! identity); a leaked database does not let anyone resume someone else's chat.

use crate::knowledge::document::content_hash;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::engine::{ChannelIdentity, ChannelKind};

const TOKEN_BYTES: usize = 32;
/// Length of 32 bytes in unpadded base64.
const TOKEN_CHARS: usize = 43;

#[derive(Clone, PartialEq, Eq)]
pub struct SessionToken(String);

impl SessionToken {
    pub fn generate() -> Self {
        let bytes: [u8; TOKEN_BYTES] = rand::random();
        Self(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// Accepts only strings shaped like a token we issued.
    pub fn parse(value: &str) -> Option<Self> {
        let shaped = value.len() == TOKEN_CHARS
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        shaped.then(|| Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The identity stored for this token: the hex SHA-256 of the token.
    pub fn identity(&self) -> ChannelIdentity {
        ChannelIdentity::new(ChannelKind::Web, content_hash(self.0.as_bytes()))
    }
}

impl std::fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionToken(<hidden>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_parse_and_differ() {
        let a = SessionToken::generate();
        let b = SessionToken::generate();
        assert_ne!(a, b);
        assert_eq!(SessionToken::parse(a.as_str()), Some(a.clone()));
        assert_eq!(a.identity().external_id.len(), 64);
        assert_ne!(a.identity(), b.identity());
    }

    #[test]
    fn malformed_tokens_are_refused() {
        assert_eq!(SessionToken::parse(""), None);
        assert_eq!(SessionToken::parse("short"), None);
        assert_eq!(SessionToken::parse(&"a".repeat(42)), None);
        assert_eq!(SessionToken::parse(&format!("{}=", "a".repeat(42))), None);
    }
}
