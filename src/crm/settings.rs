//! `[crm]` settings, validated, and the CRM endpoint from the environment
//! (`CRM_WEBHOOK_URL`, `CRM_WEBHOOK_SECRET`). Without a URL the handoffs wait in the
//! outbox until one is set, so a dealer can start taking leads before the CRM is wired.
//! The default retry schedule is the example schedule of the Standard Webhooks spec.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::signing::WebhookSecret;
use crate::config::{ConfigError, invalid, parse_duration};

/// `[crm]` as written in `showroom.toml`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RawCrm {
    /// Longest wait for the CRM's answer to one attempt.
    pub timeout: String,
    /// The wait before each attempt, the first one included (`"0s"`: at once); when the
    /// last one fails the message becomes a dead letter.
    pub schedule: Vec<String>,
    /// Each wait is scaled by a random factor within ±this share (0.2 = ±20%), so
    /// messages that failed together are not retried together.
    pub jitter: f64,
    /// How long a claimed message belongs to one worker; longer than `timeout`.
    pub lease: String,
    /// How often the worker looks for due messages (retries, other instances' work).
    pub poll_interval: String,
    /// Most messages claimed at once.
    pub batch: u32,
    /// Most deliveries under way at once.
    pub concurrency: usize,
    /// Newest transcript messages sent with a lead; older ones are left out.
    pub max_transcript_messages: usize,
    /// How long a new message waits for other instances' pollers; the instance that
    /// wrote it delivers it at once.
    pub settle: String,
    /// Longest `Retry-After` honoured; a longer one is cut to this.
    pub max_retry_after: String,
}

impl Default for RawCrm {
    fn default() -> Self {
        Self {
            timeout: "10s".into(),
            // The Standard Webhooks example: at once, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h,
            // 14 h, 20 h, 24 h (about 3 days in all).
            schedule: [
                "0s", "5s", "5m", "30m", "2h", "5h", "10h", "14h", "20h", "24h",
            ]
            .into_iter()
            .map(String::from)
            .collect(),
            jitter: 0.2,
            lease: "60s".into(),
            poll_interval: "1s".into(),
            batch: 32,
            concurrency: 8,
            max_transcript_messages: 500,
            settle: "2s".into(),
            max_retry_after: "24h".into(),
        }
    }
}

/// Where the CRM listens and the secret we sign with.
#[derive(Clone, PartialEq, Eq)]
pub struct CrmEndpoint {
    /// `http://` or `https://`.
    pub url: String,
    pub secret: WebhookSecret,
}

impl std::fmt::Debug for CrmEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may carry credentials; the secret's own Debug hides it.
        f.debug_struct("CrmEndpoint")
            .field("url", &crate::config::redact_url(&self.url))
            .field("secret", &self.secret)
            .finish()
    }
}

/// `CRM_WEBHOOK_URL` and `CRM_WEBHOOK_SECRET`, checked. `None`: no CRM configured.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CrmEnv {
    pub endpoint: Option<CrmEndpoint>,
}

impl CrmEnv {
    pub fn from_env() -> Result<Self, ConfigError> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        Self::from_values(
            var("CRM_WEBHOOK_URL").as_deref(),
            var("CRM_WEBHOOK_SECRET").as_deref(),
        )
    }

    /// What `from_env` does with the two values (for tests and other sources).
    pub fn from_values(url: Option<&str>, secret: Option<&str>) -> Result<Self, ConfigError> {
        let Some(url) = url.map(str::trim).filter(|u| !u.is_empty()) else {
            // A secret alone sends nothing; it waits for its URL.
            return Ok(Self::default());
        };
        let url = check_url(url)?;
        let Some(secret) = secret.map(str::trim).filter(|s| !s.is_empty()) else {
            return Err(invalid(
                "CRM_WEBHOOK_SECRET",
                "",
                "CRM_WEBHOOK_URL is set, so the secret shared with the CRM is needed to sign the handoffs; set CRM_WEBHOOK_SECRET to the whsec_… value the CRM was given (generate one with `echo whsec_$(openssl rand -base64 32)`), or unset CRM_WEBHOOK_URL",
            ));
        };
        let secret = WebhookSecret::parse(secret).map_err(|err| {
            invalid(
                "CRM_WEBHOOK_SECRET",
                "<hidden>",
                &format!("it is not usable: {err}"),
            )
        })?;
        Ok(Self {
            endpoint: Some(CrmEndpoint { url, secret }),
        })
    }
}

fn check_url(url: &str) -> Result<String, ConfigError> {
    let expected = "the CRM's webhook address is expected, starting with https:// (or http:// inside a private network), like https://crm.example.co/hooks/showroom";
    let shown = crate::config::redact_url(url);
    let parsed =
        reqwest::Url::parse(url).map_err(|_| invalid("CRM_WEBHOOK_URL", &shown, expected))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(invalid("CRM_WEBHOOK_URL", &shown, expected));
    }
    Ok(url.to_owned())
}

/// Validated `[crm]` plus the endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct CrmConfig {
    /// `None`: no CRM configured; handoffs wait in the outbox.
    pub endpoint: Option<CrmEndpoint>,
    pub timeout: Duration,
    /// The wait before attempt `n` (0-based) is `schedule[n]`; there are
    /// `schedule.len()` attempts in all.
    pub schedule: Vec<Duration>,
    /// Share in `[0, 1)`.
    pub jitter: f64,
    pub lease: Duration,
    pub poll_interval: Duration,
    pub batch: u32,
    pub concurrency: usize,
    pub max_transcript_messages: usize,
    pub settle: Duration,
    pub max_retry_after: Duration,
}

impl CrmConfig {
    pub fn from_settings(raw: &RawCrm, env: &CrmEnv) -> Result<Self, ConfigError> {
        let timeout = parse_duration("crm.timeout", &raw.timeout)?;
        if timeout < Duration::from_secs(1) || timeout > Duration::from_secs(120) {
            return Err(invalid(
                "crm.timeout",
                &raw.timeout,
                "between 1s and 120s is expected (Standard Webhooks suggests 15s to 30s)",
            ));
        }
        if raw.schedule.is_empty() || raw.schedule.len() > 50 {
            return Err(invalid(
                "crm.schedule",
                format!("{} entries", raw.schedule.len()),
                "1 to 50 waits are expected, the first for the first attempt, like [\"0s\", \"5s\", \"5m\", \"30m\", \"2h\"]",
            ));
        }
        let schedule = raw
            .schedule
            .iter()
            .enumerate()
            .map(|(index, text)| parse_duration(&format!("crm.schedule[{index}]"), text))
            .collect::<Result<Vec<_>, _>>()?;
        if schedule[0] != Duration::ZERO {
            return Err(invalid(
                "crm.schedule[0]",
                &raw.schedule[0],
                "\"0s\" is expected: the first entry is the first attempt, made as soon as the message is written",
            ));
        }
        if !(0.0..1.0).contains(&raw.jitter) {
            return Err(invalid(
                "crm.jitter",
                raw.jitter,
                "a share from 0 (none) up to but not including 1 is expected, like 0.2 for ±20%",
            ));
        }
        let lease = parse_duration("crm.lease", &raw.lease)?;
        if lease <= timeout {
            return Err(invalid(
                "crm.lease",
                &raw.lease,
                &format!(
                    "a lease longer than crm.timeout ({}) is expected, or a slow attempt could be sent twice by two workers",
                    raw.timeout
                ),
            ));
        }
        let poll_interval = parse_duration("crm.poll_interval", &raw.poll_interval)?;
        if poll_interval < Duration::from_millis(100) || poll_interval > Duration::from_secs(300) {
            return Err(invalid(
                "crm.poll_interval",
                &raw.poll_interval,
                "between 100ms and 5m is expected",
            ));
        }
        if !(1..=1000).contains(&raw.batch) {
            return Err(invalid(
                "crm.batch",
                raw.batch,
                "between 1 and 1000 messages is expected",
            ));
        }
        if !(1..=256).contains(&raw.concurrency) {
            return Err(invalid(
                "crm.concurrency",
                raw.concurrency,
                "between 1 and 256 deliveries at once is expected",
            ));
        }
        if !(1..=100_000).contains(&raw.max_transcript_messages) {
            return Err(invalid(
                "crm.max_transcript_messages",
                raw.max_transcript_messages,
                "between 1 and 100000 messages is expected",
            ));
        }
        let settle = parse_duration("crm.settle", &raw.settle)?;
        if settle > Duration::from_secs(600) {
            return Err(invalid(
                "crm.settle",
                &raw.settle,
                "at most 10m is expected (2s lets the writing instance deliver first)",
            ));
        }
        let max_retry_after = parse_duration("crm.max_retry_after", &raw.max_retry_after)?;
        if max_retry_after < Duration::from_secs(1) {
            return Err(invalid(
                "crm.max_retry_after",
                &raw.max_retry_after,
                "at least 1s is expected, like \"24h\"",
            ));
        }
        Ok(Self {
            endpoint: env.endpoint.clone(),
            timeout,
            schedule,
            jitter: raw.jitter,
            lease,
            poll_interval,
            batch: raw.batch,
            concurrency: raw.concurrency,
            max_transcript_messages: raw.max_transcript_messages,
            settle,
            max_retry_after,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    fn env() -> CrmEnv {
        CrmEnv::from_values(Some("https://crm.example.co/hooks"), Some(SECRET)).unwrap()
    }

    #[test]
    fn defaults_follow_the_standard_webhooks_example_schedule() {
        let config = CrmConfig::from_settings(&RawCrm::default(), &env()).unwrap();
        let minutes = |m: u64| Duration::from_secs(60 * m);
        assert_eq!(
            config.schedule,
            vec![
                Duration::ZERO,
                Duration::from_secs(5),
                minutes(5),
                minutes(30),
                minutes(120),
                minutes(300),
                minutes(600),
                minutes(840),
                minutes(1200),
                minutes(1440),
            ]
        );
        assert_eq!(config.timeout, Duration::from_secs(10));
        assert_eq!(config.lease, Duration::from_secs(60));
        assert_eq!(config.settle, Duration::from_secs(2));
        assert_eq!(config.max_retry_after, minutes(1440));
        assert_eq!(config.endpoint.unwrap().url, "https://crm.example.co/hooks");
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let err = serde_json::from_str::<RawCrm>(r#"{"timout": "5s"}"#).unwrap_err();
        assert!(err.to_string().contains("timout"), "{err}");
    }

    #[test]
    fn bad_values_name_their_key() {
        let check = |raw: RawCrm, key: &str| {
            let err = CrmConfig::from_settings(&raw, &CrmEnv::default()).unwrap_err();
            assert!(err.to_string().contains(&format!("`{key}`")), "{err}");
        };
        check(
            RawCrm {
                schedule: vec!["0s".into(), "soon".into()],
                ..RawCrm::default()
            },
            "crm.schedule[1]",
        );
        check(
            RawCrm {
                schedule: vec![],
                ..RawCrm::default()
            },
            "crm.schedule",
        );
        check(
            RawCrm {
                lease: "10s".into(),
                ..RawCrm::default()
            },
            "crm.lease",
        );
        check(
            RawCrm {
                jitter: 1.0,
                ..RawCrm::default()
            },
            "crm.jitter",
        );
        check(
            RawCrm {
                concurrency: 0,
                ..RawCrm::default()
            },
            "crm.concurrency",
        );
    }

    #[test]
    fn no_url_means_no_endpoint() {
        assert_eq!(CrmEnv::from_values(None, None).unwrap(), CrmEnv::default());
        assert_eq!(
            CrmEnv::from_values(Some("  "), Some(SECRET)).unwrap(),
            CrmEnv::default()
        );
    }

    #[test]
    fn a_url_without_a_secret_is_refused_plainly() {
        let err = CrmEnv::from_values(Some("https://crm.example.co/hooks"), None).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("CRM_WEBHOOK_SECRET"), "{text}");
        assert!(text.contains("openssl rand"), "{text}");
    }

    #[test]
    fn urls_must_be_http_or_https() {
        for url in ["ftp://crm.example.co", "crm.example.co/hooks", "https://"] {
            let err = CrmEnv::from_values(Some(url), Some(SECRET)).unwrap_err();
            assert!(err.to_string().contains("CRM_WEBHOOK_URL"), "{url}: {err}");
        }
        assert!(CrmEnv::from_values(Some("http://127.0.0.1:9000/crm"), Some(SECRET)).is_ok());
    }

    #[test]
    fn a_bad_secret_is_explained_without_being_shown() {
        let err = CrmEnv::from_values(Some("https://crm.example.co"), Some("hunter2-hunter2"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("whsec_"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[test]
    fn debug_hides_the_secret() {
        let shown = format!("{:?}", env());
        assert!(!shown.contains("MfKQ"), "{shown}");
        assert!(shown.contains("crm.example.co"), "{shown}");
    }
}
