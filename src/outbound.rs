//! What every call to another server shares (the embeddings server, the LLM, later the
//! CRM): how long to wait before trying again, and an error text that keeps the causes.

use std::time::Duration;

/// Longest pause between two attempts, however many failed before.
pub const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// `first · 2^attempt`, capped at [`MAX_BACKOFF`], then scaled by a random 50–100% so
/// clients that failed together do not retry together.
pub fn backoff(first: Duration, attempt: u32) -> Duration {
    let exponential = first.saturating_mul(2u32.saturating_pow(attempt.min(16)));
    exponential
        .min(MAX_BACKOFF)
        .mul_f64(rand::random_range(0.5..=1.0))
}

/// `text` followed by the causes of `err` it does not already say, so "error sending
/// request" becomes "…: connection refused".
pub fn with_causes(mut text: String, err: &dyn std::error::Error) -> String {
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        for attempt in 0..5 {
            let nominal = Duration::from_millis(100 * 2u64.pow(attempt));
            let pause = backoff(Duration::from_millis(100), attempt);
            assert!(
                pause >= nominal / 2 && pause <= nominal,
                "{pause:?} for attempt {attempt}"
            );
        }
        assert!(backoff(Duration::from_secs(1), 40) <= MAX_BACKOFF);
    }

    #[test]
    fn causes_are_appended_once() {
        #[derive(Debug, thiserror::Error)]
        #[error("error sending request")]
        struct Outer(#[source] std::io::Error);
        let err = Outer(std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "connection refused",
        ));
        assert_eq!(
            with_causes("calling the server".into(), &err),
            "calling the server: connection refused"
        );
        assert_eq!(
            with_causes("calling the server: connection refused".into(), &err),
            "calling the server: connection refused"
        );
    }
}
