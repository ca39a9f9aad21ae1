//! How long to wait before trying the LLM again: exponential backoff with jitter, or what
//! the server asked for in `Retry-After` on a 429 — capped, because a customer is waiting
//! and a long wait is worse than the fallback answer.

use std::time::Duration;

use super::LlmError;
use crate::outbound::backoff;

/// First pause between attempts; doubled on each retry, with jitter (see
/// [`crate::outbound::backoff`]).
pub(super) const FIRST_BACKOFF: Duration = Duration::from_millis(250);
/// Longest `Retry-After` honoured; a server asking for more gets this.
pub(super) const MAX_RETRY_AFTER: Duration = Duration::from_secs(10);

/// The pause before attempt `attempt + 1` after `err`.
pub(super) fn pause_after(err: &LlmError, attempt: u32, first: Duration) -> Duration {
    match err {
        LlmError::RateLimited {
            retry_after: Some(asked),
            ..
        } => (*asked).min(MAX_RETRY_AFTER),
        _ => backoff(first, attempt),
    }
}

/// The wait a 429 asks for: `retry-after-ms` (OpenAI, Azure) or `Retry-After` in seconds.
/// An HTTP date or anything unreadable counts as not said.
pub(super) fn parse_retry_after(seconds: Option<&str>, millis: Option<&str>) -> Option<Duration> {
    let from_millis = millis
        .and_then(|value| value.trim().parse::<f64>().ok())
        .and_then(|ms| Duration::try_from_secs_f64(ms / 1000.0).ok());
    from_millis.or_else(|| {
        seconds
            .and_then(|value| value.trim().parse::<f64>().ok())
            .and_then(|s| Duration::try_from_secs_f64(s).ok())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assistant::llm::Endpoint;

    #[test]
    fn retry_after_is_read_in_seconds_or_milliseconds() {
        assert_eq!(
            parse_retry_after(Some("2"), None),
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            parse_retry_after(Some(" 1.5 "), None),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            parse_retry_after(Some("20"), Some("350")),
            Some(Duration::from_millis(350)),
            "the finer header wins"
        );
        assert_eq!(
            parse_retry_after(Some("Wed, 21 Oct 2015 07:28:00 GMT"), None),
            None
        );
        assert_eq!(parse_retry_after(Some("-3"), None), None);
        assert_eq!(parse_retry_after(None, None), None);
    }

    #[test]
    fn a_429_waits_what_the_server_asked_up_to_the_cap() {
        let endpoint = Endpoint {
            url: "http://x/v1".into(),
            model: "m".into(),
        };
        let limited = |asked: u64| LlmError::RateLimited {
            endpoint: endpoint.clone(),
            message: "slow down".into(),
            retry_after: Some(Duration::from_secs(asked)),
        };
        assert_eq!(
            pause_after(&limited(3), 0, FIRST_BACKOFF),
            Duration::from_secs(3)
        );
        assert_eq!(
            pause_after(&limited(120), 0, FIRST_BACKOFF),
            MAX_RETRY_AFTER
        );
        let server = LlmError::ServerError {
            endpoint,
            status: 502,
            message: "bad gateway".into(),
        };
        assert!(pause_after(&server, 1, FIRST_BACKOFF) <= FIRST_BACKOFF * 2);
    }
}
