//! Masks personal data in log output: e-mail addresses, phone numbers and ID numbers.
//!
//! Applied to each formatted log line by the writer, after formatting, so it also covers
//! values that reached a log through `Debug` of some struct nobody thought to redact.
//! Dates, times and identifiers glued to letters or dashes (UUIDs) are left alone.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::{Captures, Regex};

static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"[A-Za-z0-9._%+\-]+@([A-Za-z0-9\-]+\.)+[A-Za-z]{2,}").expect("valid regex")
});

/// Runs of digits with the separators people type in phone numbers and ids.
static NUMBER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\+?\d[\d ().\-]{4,}\d").expect("valid regex"));

/// Digits in a row from which a number counts as personal data (Colombian cédulas have
/// 6 to 10 digits, phones 7 and more).
const MIN_DIGITS: usize = 6;

pub fn redact(line: &str) -> Cow<'_, str> {
    let line = EMAIL.replace_all(line, |caps: &Captures| {
        let whole = &caps[0];
        let domain = whole.rsplit('@').next().unwrap_or("");
        format!("***@{domain}")
    });
    let masked = NUMBER.replace_all(&line, |caps: &Captures| {
        let found = caps.get(0).expect("group 0 always exists");
        let text = found.as_str();
        let before = line[..found.start()].chars().next_back();
        let after = line[found.end()..].chars().next();
        let glued = |c: Option<char>| {
            c.is_some_and(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | ':' | '/'))
        };
        let digits = text.chars().filter(char::is_ascii_digit).count();
        let looks_like_time = text.contains(':') || is_iso_date(text);
        if glued(before) || glued(after) || digits < MIN_DIGITS || looks_like_time {
            return text.to_owned();
        }
        let last_two: String = text
            .chars()
            .filter(char::is_ascii_digit)
            .skip(digits - 2)
            .collect();
        format!("***{last_two}")
    });
    match masked {
        Cow::Borrowed(_) => line,
        Cow::Owned(owned) => Cow::Owned(owned),
    }
}

fn is_iso_date(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() >= 10
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && bytes[..4].iter().all(u8::is_ascii_digit)
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn masks_phones_emails_and_ids() {
        let line = r#"text="mi cel es +57 300 123 4567 y mi correo juan.perez@example.com, cédula 1020304050""#;
        let out = redact(line);
        assert!(!out.contains("300 123 4567"), "{out}");
        assert!(!out.contains("juan.perez"), "{out}");
        assert!(!out.contains("1020304050"), "{out}");
        assert!(out.contains("***67"), "{out}");
        assert!(out.contains("***@example.com"), "{out}");
        assert!(out.contains("***50"), "{out}");
    }

    #[test]
    fn leaves_times_uuids_and_small_numbers() {
        let line = "2026-11-23T08:35:12.123456Z  INFO conversation=01934567-7c3e-7abc-9def-001122334455 latency_ms=12 port 8080";
        assert_eq!(redact(line), line);
    }
}
