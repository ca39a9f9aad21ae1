//! Limits for the web channel: message length, and messages per minute per session and
//! per client address (token buckets from `governor`). Refusals carry a stable error
//! code and, for rate limits, how long to wait.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use axum::http::HeaderMap;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::config::WebConfig;
use crate::http::{ApiError, ErrorCode};

pub struct WebLimits {
    max_message_chars: usize,
    pub max_frame_bytes: usize,
    trust_forwarded_for: bool,
    per_session: DefaultKeyedRateLimiter<String>,
    per_ip: DefaultKeyedRateLimiter<IpAddr>,
}

impl WebLimits {
    pub fn new(config: &WebConfig) -> Self {
        Self {
            max_message_chars: config.max_message_chars,
            max_frame_bytes: config.max_frame_bytes,
            trust_forwarded_for: config.trust_forwarded_for,
            per_session: RateLimiter::keyed(Quota::per_minute(
                config.messages_per_minute_per_session,
            )),
            per_ip: RateLimiter::keyed(Quota::per_minute(config.messages_per_minute_per_ip)),
        }
    }

    /// Refuses empty and over-long texts.
    pub fn check_text(&self, text: &str) -> Result<(), ApiError> {
        if text.trim().is_empty() {
            return Err(ApiError::new(
                ErrorCode::InvalidFrame,
                "the message is empty",
            ));
        }
        let chars = text.chars().count();
        if chars > self.max_message_chars {
            metrics::counter!("showroom_rejected_messages_total", "reason" => "too_large")
                .increment(1);
            return Err(ApiError::new(
                ErrorCode::MessageTooLarge,
                format!(
                    "the message has {chars} characters; the limit is {}. Please send a shorter message",
                    self.max_message_chars
                ),
            ));
        }
        Ok(())
    }

    /// Takes one message from the session's and the address's budgets.
    pub fn check_rate(&self, session_key: &str, ip: IpAddr) -> Result<(), ApiError> {
        self.check_address(ip)?;
        self.per_session
            .check_key(&session_key.to_owned())
            .map_err(refused)
    }

    /// Takes one message from the address's budget alone: opening a session costs as
    /// much as sending a message, so a script cannot fill the store with empty
    /// conversations.
    pub fn check_address(&self, ip: IpAddr) -> Result<(), ApiError> {
        self.per_ip.check_key(&ip).map_err(refused)
    }

    /// The client's address: the peer, or with `trust_forwarded_for` the address our
    /// proxy appended last to `X-Forwarded-For` (earlier entries are client-supplied).
    pub fn client_ip(&self, peer: SocketAddr, headers: &HeaderMap) -> IpAddr {
        if self.trust_forwarded_for
            && let Some(ip) = headers
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.rsplit(',').next())
                .and_then(|v| v.trim().parse().ok())
        {
            return ip;
        }
        peer.ip()
    }

    /// Forgets idle keys so the limiters' memory does not grow with every visitor.
    pub fn forget_idle(&self) {
        self.per_session.retain_recent();
        self.per_ip.retain_recent();
        self.per_session.shrink_to_fit();
        self.per_ip.shrink_to_fit();
    }
}

fn refused(not_until: governor::NotUntil<<DefaultClock as Clock>::Instant>) -> ApiError {
    metrics::counter!("showroom_rejected_messages_total", "reason" => "rate_limited").increment(1);
    let wait = not_until.wait_time_from(DefaultClock::default().now());
    let seconds = wait.max(Duration::from_secs(1)).as_secs_f64().ceil() as u64;
    let mut err = ApiError::new(
        ErrorCode::RateLimited,
        format!("too many messages; please wait {seconds} s before sending another"),
    );
    err.retry_after = Some(seconds);
    err
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::num::NonZeroU32;

    fn limits(per_session: u32) -> WebLimits {
        WebLimits::new(&WebConfig {
            max_message_chars: 10,
            max_frame_bytes: 1024,
            messages_per_minute_per_session: NonZeroU32::new(per_session).unwrap(),
            messages_per_minute_per_ip: NonZeroU32::new(1000).unwrap(),
            trust_forwarded_for: true,
        })
    }

    #[test]
    fn text_limits() {
        let l = limits(5);
        assert!(l.check_text("hola").is_ok());
        assert_eq!(
            l.check_text("   ").unwrap_err().code,
            ErrorCode::InvalidFrame
        );
        // Characters, not bytes: ten accented letters are fine.
        assert!(l.check_text("ññññññññññ").is_ok());
        assert_eq!(
            l.check_text("12345678901").unwrap_err().code,
            ErrorCode::MessageTooLarge
        );
    }

    #[test]
    fn rate_limit_per_session() {
        let l = limits(3);
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        for _ in 0..3 {
            assert!(l.check_rate("a", ip).is_ok());
        }
        let err = l.check_rate("a", ip).unwrap_err();
        assert_eq!(err.code, ErrorCode::RateLimited);
        assert!(err.retry_after.unwrap() >= 1);
        assert!(
            l.check_rate("b", ip).is_ok(),
            "other sessions are not affected"
        );
    }

    #[test]
    fn forwarded_for_uses_the_last_hop() {
        let l = limits(3);
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", "1.1.1.1, 203.0.113.9".parse().unwrap());
        let peer: SocketAddr = "10.0.0.2:5000".parse().unwrap();
        assert_eq!(
            l.client_ip(peer, &headers),
            "203.0.113.9".parse::<IpAddr>().unwrap()
        );
    }
}
