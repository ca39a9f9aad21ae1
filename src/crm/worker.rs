//! The outbox worker: claims due CRM handoffs (and at once the ones this instance just
//! wrote, through [`OutboxNotifier`]), signs and POSTs them, and records the outcome.
//! Claims are leases, so any number of instances share one outbox and a message whose
//! worker died is picked up when its lease ends. A 2xx is delivered; 410 Gone disables
//! the endpoint until an operator re-enables it; anything else is retried along
//! `[crm] schedule` (honouring a longer `Retry-After`) and then parked as a dead letter.
//! Logs name the webhook id, event and status, never the body: it holds personal data.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use jiff::Timestamp;
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, RETRY_AFTER};
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::payload::PayloadBuilder;
use super::settings::{CrmConfig, CrmEndpoint};
use super::signing::sign;
use crate::store::{OutboxDelivery, OutboxRecord, now_ms};

const USER_AGENT: &str = concat!("showroom/", env!("CARGO_PKG_VERSION"));

/// Ids waiting to be claimed at once; past this the poller finds the rest anyway.
const MAX_NOTIFIED: usize = 4096;

/// How long a message waits after the database failed us while preparing it.
const STORE_RETRY: Duration = Duration::from_secs(5);

/// Most characters of the CRM's error answer kept in `last_error` for operators.
const ERROR_SNIPPET_CHARS: usize = 200;

/// Wakes the worker to claim messages this instance just committed.
#[derive(Clone)]
pub struct OutboxNotifier {
    wake: Arc<Wake>,
}

struct Wake {
    ids: Mutex<Vec<i64>>,
    notify: Notify,
}

impl Wake {
    fn ids(&self) -> MutexGuard<'_, Vec<i64>> {
        // The list is only pushed to and drained; a panic elsewhere cannot leave it torn.
        self.ids
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Up to `most` ids, oldest first.
    fn take(&self, most: usize) -> Vec<i64> {
        let mut ids = self.ids();
        let n = most.min(ids.len());
        ids.drain(..n).collect()
    }
}

impl OutboxNotifier {
    /// Asks the worker to deliver these outbox messages now, after their transaction
    /// committed. Never blocks; a worker that is not running just leaves them to the
    /// poller of another instance.
    pub fn notify(&self, ids: Vec<i64>) {
        if ids.is_empty() {
            return;
        }
        {
            let mut pending = self.wake.ids();
            if pending.len() + ids.len() > MAX_NOTIFIED {
                tracing::debug!(
                    dropped = ids.len(),
                    "outbox notifications are piling up; the poller will claim these"
                );
                return;
            }
            pending.extend(ids);
        }
        self.wake.notify.notify_one();
    }
}

/// Delivers the outbox to the CRM; see the module docs.
pub struct OutboxWorker {
    outbox: Arc<dyn OutboxDelivery>,
    builder: Arc<PayloadBuilder>,
    config: CrmConfig,
    worker_id: String,
    wake: Arc<Wake>,
}

impl OutboxWorker {
    pub fn new(
        outbox: Arc<dyn OutboxDelivery>,
        builder: Arc<PayloadBuilder>,
        config: CrmConfig,
    ) -> (OutboxWorker, OutboxNotifier) {
        let wake = Arc::new(Wake {
            ids: Mutex::new(Vec::new()),
            notify: Notify::new(),
        });
        let worker = OutboxWorker {
            outbox,
            builder,
            config,
            worker_id: format!("crm-{}", uuid::Uuid::new_v4().simple()),
            wake: wake.clone(),
        };
        (worker, OutboxNotifier { wake })
    }

    /// This worker's id in the outbox's leases.
    pub fn worker_id(&self) -> &str {
        &self.worker_id
    }

    /// Delivers until `shutdown`, then waits for the attempts under way (each ends
    /// within `[crm] timeout`) so none is cut after the CRM got it but before we
    /// recorded it. Returns at once when no CRM is configured.
    pub async fn run(self, shutdown: CancellationToken) {
        let Some(endpoint) = self.config.endpoint.clone() else {
            tracing::info!(
                "CRM_WEBHOOK_URL is not set: CRM handoffs wait in the outbox (`showroom outbox list`) and go out once it is set and the service restarted"
            );
            return;
        };
        let client = match http_client(&self.config) {
            Ok(client) => client,
            Err(err) => {
                tracing::error!(
                    error = %crate::outbound::with_causes(err.to_string(), &err),
                    "cannot start the CRM HTTP client; CRM handoffs wait in the outbox until the service restarts"
                );
                return;
            }
        };
        let delivery = Arc::new(Delivery {
            outbox: self.outbox.clone(),
            builder: self.builder.clone(),
            worker_id: self.worker_id.clone(),
            endpoint,
            client,
            schedule: self.config.schedule.clone(),
            jitter: self.config.jitter,
            timeout: self.config.timeout,
            max_retry_after: self.config.max_retry_after,
            disabled: AtomicBool::new(false),
        });
        tracing::info!(worker = %self.worker_id, "CRM outbox worker started");
        let mut in_flight: JoinSet<()> = JoinSet::new();
        let mut next_poll = Instant::now();
        let mut paused_logged = false;
        loop {
            while let Some(finished) = in_flight.try_join_next() {
                log_panic(finished);
            }
            let free = self.config.concurrency.saturating_sub(in_flight.len());
            if free > 0 {
                let poll_due = Instant::now() >= next_poll;
                let ids = self.wake.take(free);
                if poll_due || !ids.is_empty() {
                    if poll_due {
                        next_poll = Instant::now() + self.config.poll_interval;
                    }
                    if self.endpoint_paused(&delivery, &mut paused_logged).await {
                        // Notified ids stay pending; the poller takes them once re-enabled.
                    } else {
                        let full = self
                            .claim(&delivery, ids, poll_due, free, &mut in_flight)
                            .await;
                        if full {
                            // More are due: look again as soon as there is room.
                            next_poll = Instant::now();
                        }
                    }
                    continue;
                }
            }
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = self.wake.notify.notified() => {}
                _ = tokio::time::sleep_until(next_poll), if free > 0 => {}
                Some(finished) = in_flight.join_next(), if !in_flight.is_empty() => {
                    log_panic(finished);
                }
            }
        }
        while let Some(finished) = in_flight.join_next().await {
            log_panic(finished);
        }
        tracing::info!(worker = %self.worker_id, "CRM outbox worker stopped");
    }

    /// True while the endpoint is disabled (410 Gone), logging the change once.
    async fn endpoint_paused(&self, delivery: &Delivery, logged: &mut bool) -> bool {
        match self
            .outbox
            .endpoint_disabled_at(&delivery.endpoint.url)
            .await
        {
            Ok(Some(_)) => {
                delivery.disabled.store(true, Ordering::SeqCst);
                if !*logged {
                    tracing::error!(
                        "the CRM endpoint is disabled since it answered 410 Gone: CRM handoffs wait in the outbox; after fixing the CRM, run `showroom outbox retry` to re-enable it"
                    );
                    *logged = true;
                }
                true
            }
            Ok(None) => {
                if delivery.disabled.swap(false, Ordering::SeqCst) || *logged {
                    tracing::info!("the CRM endpoint is enabled again; delivering the outbox");
                }
                *logged = false;
                false
            }
            Err(err) => {
                tracing::warn!(error = %err, "cannot check whether the CRM endpoint is enabled; trying again at the next poll");
                true
            }
        }
    }

    /// Claims what was notified plus, when polling, what is due; starts a delivery for
    /// each. True when the due claim was full (more may be waiting).
    async fn claim(
        &self,
        delivery: &Arc<Delivery>,
        ids: Vec<i64>,
        poll_due: bool,
        free: usize,
        in_flight: &mut JoinSet<()>,
    ) -> bool {
        let now = now_ms();
        let lease_until = now + millis(self.config.lease);
        let mut claimed = Vec::new();
        if !ids.is_empty() {
            match self
                .outbox
                .claim_ids(&self.worker_id, &ids, now, lease_until)
                .await
            {
                Ok(records) => claimed.extend(records),
                Err(err) => {
                    tracing::warn!(error = %err, "cannot claim new CRM handoffs; the poller will pick them up")
                }
            }
        }
        let mut full = false;
        if poll_due {
            let room = free
                .saturating_sub(claimed.len())
                .min(self.config.batch as usize);
            if room > 0 {
                match self
                    .outbox
                    .claim_due(&self.worker_id, now, lease_until, room as i64)
                    .await
                {
                    Ok(records) => {
                        full = records.len() == room;
                        claimed.extend(records);
                    }
                    Err(err) => {
                        tracing::warn!(error = %err, "cannot claim due CRM handoffs; trying again at the next poll")
                    }
                }
            }
        }
        for record in claimed {
            in_flight.spawn(delivery.clone().deliver(record));
        }
        full
    }
}

fn log_panic(finished: Result<(), tokio::task::JoinError>) {
    if let Err(err) = finished
        && err.is_panic()
    {
        tracing::error!(error = %err, "a CRM delivery panicked; its message is retried when its lease ends");
    }
}

fn http_client(config: &CrmConfig) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .user_agent(USER_AGENT)
        // Standard Webhooks: a redirect is a failure; the operator should fix the URL.
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(config.timeout)
        .build()
}

/// What one delivery task needs.
struct Delivery {
    outbox: Arc<dyn OutboxDelivery>,
    builder: Arc<PayloadBuilder>,
    worker_id: String,
    endpoint: CrmEndpoint,
    client: reqwest::Client,
    schedule: Vec<Duration>,
    jitter: f64,
    timeout: Duration,
    max_retry_after: Duration,
    /// Set by a 410 (or the poller seeing it disabled): claimed messages go back untried.
    disabled: AtomicBool,
}

/// How one POST ended.
#[derive(Debug, PartialEq)]
enum Attempt {
    Delivered(u16),
    Gone,
    Failed {
        status: Option<u16>,
        error: String,
        retry_after: Option<Duration>,
    },
}

impl Delivery {
    async fn deliver(self: Arc<Self>, record: OutboxRecord) {
        let Some(body) = self.body(&record).await else {
            return;
        };
        if self.disabled.load(Ordering::SeqCst) {
            self.release(&record, now_ms()).await;
            return;
        }
        let started = std::time::Instant::now();
        let attempt = self.post(&record.webhook_id, body).await;
        metrics::histogram!("showroom_crm_delivery_seconds")
            .record(started.elapsed().as_secs_f64());
        self.record_outcome(&record, attempt).await;
    }

    /// The stored body, or a new one stored before its first attempt so every retry
    /// sends the same bytes. `None` when the message was dealt with here.
    async fn body(&self, record: &OutboxRecord) -> Option<String> {
        if let Some(body) = &record.body {
            return Some(body.clone());
        }
        match self.builder.body(record).await {
            Ok(body) => match self
                .outbox
                .set_body(record.id, &self.worker_id, &body)
                .await
            {
                Ok(()) => Some(body),
                Err(err) => {
                    tracing::warn!(webhook_id = %record.webhook_id, event = %record.event, error = %err, "cannot store the CRM handoff's body; trying again shortly");
                    self.release(record, now_ms() + millis(STORE_RETRY)).await;
                    None
                }
            },
            Err(err) if err.is_transient() => {
                tracing::warn!(webhook_id = %record.webhook_id, event = %record.event, error = %err, "cannot build the CRM handoff now; trying again shortly");
                self.release(record, now_ms() + millis(STORE_RETRY)).await;
                None
            }
            Err(err) => {
                tracing::error!(webhook_id = %record.webhook_id, event = %record.event, error = %err, "cannot build the CRM handoff; parked as a dead letter");
                if let Err(store_err) = self
                    .outbox
                    .mark_dead(record.id, &self.worker_id, None, &err.to_string())
                    .await
                {
                    tracing::warn!(webhook_id = %record.webhook_id, error = %store_err, "cannot park the CRM handoff; it is tried again when its lease ends");
                }
                count("dead");
                None
            }
        }
    }

    async fn post(&self, webhook_id: &str, body: String) -> Attempt {
        let timestamp = Timestamp::now().as_second();
        let signature = sign(
            &self.endpoint.secret,
            webhook_id,
            timestamp,
            body.as_bytes(),
        );
        let request = self
            .client
            .post(&self.endpoint.url)
            .timeout(self.timeout)
            .header(CONTENT_TYPE, "application/json")
            .header("webhook-id", webhook_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body);
        let response = match request.send().await {
            Ok(response) => response,
            Err(err) => return failed_without_answer(err, self.timeout),
        };
        let status = response.status();
        if status.is_success() {
            // Read the answer so the connection can be reused; its content is not ours.
            let _ = response.bytes().await;
            return Attempt::Delivered(status.as_u16());
        }
        if status == StatusCode::GONE {
            return Attempt::Gone;
        }
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| parse_retry_after(value, Timestamp::now()));
        let answer = response.text().await.unwrap_or_default();
        let answer: String = answer.trim().chars().take(ERROR_SNIPPET_CHARS).collect();
        let mut error = format!("the CRM answered {status}");
        if !answer.is_empty() {
            error.push_str(": ");
            error.push_str(&answer);
        }
        Attempt::Failed {
            status: Some(status.as_u16()),
            error,
            retry_after,
        }
    }

    async fn record_outcome(&self, record: &OutboxRecord, attempt: Attempt) {
        let now = now_ms();
        let id = record.id;
        let worker = self.worker_id.as_str();
        let webhook_id = record.webhook_id.as_str();
        let event = record.event.as_str();
        let number = record.attempts + 1;
        match attempt {
            Attempt::Delivered(status) => {
                count("delivered");
                match self.outbox.record_delivered(id, worker, status, now).await {
                    Ok(true) => {
                        tracing::info!(
                            webhook_id,
                            event,
                            status,
                            attempt = number,
                            "CRM handoff delivered"
                        )
                    }
                    Ok(false) => tracing::warn!(
                        webhook_id,
                        event,
                        status,
                        "CRM handoff delivered after its lease ran out; another worker may send it again with the same webhook-id"
                    ),
                    Err(err) => tracing::warn!(
                        webhook_id,
                        event,
                        status,
                        error = %err,
                        "CRM handoff delivered but not recorded; it will be sent again with the same webhook-id"
                    ),
                }
            }
            Attempt::Gone => {
                count("disabled");
                self.disabled.store(true, Ordering::SeqCst);
                tracing::error!(
                    webhook_id,
                    event,
                    status = 410,
                    "the CRM answered 410 Gone: the endpoint is disabled and CRM handoffs wait in the outbox; after fixing the CRM, run `showroom outbox retry` to re-enable it"
                );
                if let Err(err) = self
                    .outbox
                    .set_endpoint_disabled(&self.endpoint.url, Some(now))
                    .await
                {
                    tracing::warn!(error = %err, "cannot record that the CRM endpoint is disabled; this instance holds back anyway");
                }
                self.release(record, now).await;
            }
            Attempt::Failed {
                status,
                error,
                retry_after,
            } => {
                let done = usize::try_from(number).unwrap_or(usize::MAX);
                match next_delay(
                    &self.schedule,
                    self.jitter,
                    done,
                    retry_after,
                    self.max_retry_after,
                ) {
                    Some(delay) => {
                        count("retry");
                        tracing::warn!(
                            webhook_id,
                            event,
                            status,
                            attempt = number,
                            retry_in_secs = delay.as_secs(),
                            "CRM handoff failed; it will be tried again"
                        );
                        if let Err(err) = self
                            .outbox
                            .schedule_retry(id, worker, now + millis(delay), status, &error)
                            .await
                        {
                            tracing::warn!(webhook_id, error = %err, "cannot schedule the retry; it is tried again when its lease ends");
                        }
                    }
                    None => {
                        count("dead");
                        tracing::error!(
                            webhook_id,
                            event,
                            status,
                            attempt = number,
                            "CRM handoff failed on its last attempt and is parked as a dead letter; `showroom outbox retry` sends it again"
                        );
                        if let Err(err) = self.outbox.mark_dead(id, worker, status, &error).await {
                            tracing::warn!(webhook_id, error = %err, "cannot park the CRM handoff; it is tried again when its lease ends");
                        }
                    }
                }
            }
        }
    }

    async fn release(&self, record: &OutboxRecord, next_attempt_at: i64) {
        if let Err(err) = self
            .outbox
            .release(record.id, &self.worker_id, next_attempt_at)
            .await
        {
            tracing::warn!(webhook_id = %record.webhook_id, error = %err, "cannot give the CRM handoff back; it is tried again when its lease ends");
        }
    }
}

fn failed_without_answer(err: reqwest::Error, timeout: Duration) -> Attempt {
    let error = if err.is_timeout() {
        format!("the CRM did not answer within {} s", timeout.as_secs_f64())
    } else {
        // The URL may carry a token: keep it out of stored errors.
        let err = err.without_url();
        crate::outbound::with_causes(format!("cannot reach the CRM: {err}"), &err)
    };
    Attempt::Failed {
        status: None,
        error,
        retry_after: None,
    }
}

fn count(outcome: &'static str) {
    metrics::counter!("showroom_crm_deliveries_total", "outcome" => outcome).increment(1);
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// The wait before the next attempt after `attempts_done` attempts failed: the
/// schedule's, jittered, or a longer `Retry-After` (capped at `max_retry_after`).
/// `None` when the schedule has no more attempts.
pub fn next_delay(
    schedule: &[Duration],
    jitter: f64,
    attempts_done: usize,
    retry_after: Option<Duration>,
    max_retry_after: Duration,
) -> Option<Duration> {
    let planned = jittered(*schedule.get(attempts_done)?, jitter);
    Some(match retry_after {
        Some(asked) => planned.max(asked.min(max_retry_after)),
        None => planned,
    })
}

/// `delay` scaled by a random factor in `[1 - jitter, 1 + jitter]`.
pub fn jittered(delay: Duration, jitter: f64) -> Duration {
    if jitter <= 0.0 || delay.is_zero() {
        return delay;
    }
    delay.mul_f64(rand::random_range((1.0 - jitter)..=(1.0 + jitter)))
}

/// A `Retry-After` value: delta-seconds (`120`) or an HTTP-date
/// (`Sun, 06 Nov 1994 08:49:37 GMT`), as a wait from `now`. `None` when unreadable.
pub fn parse_retry_after(value: &str, now: Timestamp) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return value.parse::<u64>().ok().map(Duration::from_secs);
    }
    let at = jiff::fmt::rfc2822::DateTimeParser::new()
        .parse_timestamp(value)
        .ok()?;
    let wait = at.duration_since(now);
    Some(Duration::try_from(wait).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now: Timestamp = "1994-11-06T08:49:07Z".parse().unwrap();
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now),
            Some(Duration::ZERO),
            "a date in the past means now"
        );
        assert_eq!(parse_retry_after("-5", now), None);
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("", now), None);
    }

    #[test]
    fn jitter_stays_within_its_share() {
        let delay = Duration::from_secs(100);
        let mut seen_below = false;
        let mut seen_above = false;
        for _ in 0..1000 {
            let jittered = jittered(delay, 0.2);
            assert!(
                jittered >= Duration::from_secs(80) && jittered <= Duration::from_secs(120),
                "{jittered:?}"
            );
            seen_below |= jittered < delay;
            seen_above |= jittered > delay;
        }
        assert!(seen_below && seen_above, "jitter goes both ways");
        assert_eq!(jittered(delay, 0.0), delay);
        assert_eq!(jittered(Duration::ZERO, 0.2), Duration::ZERO);
    }

    #[test]
    fn the_schedule_gives_the_wait_before_each_attempt_then_ends() {
        let schedule = [
            Duration::ZERO,
            Duration::from_secs(5),
            Duration::from_secs(300),
        ];
        let cap = Duration::from_secs(3600);
        assert_eq!(
            next_delay(&schedule, 0.0, 1, None, cap),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            next_delay(&schedule, 0.0, 2, None, cap),
            Some(Duration::from_secs(300))
        );
        assert_eq!(next_delay(&schedule, 0.0, 3, None, cap), None, "exhausted");
    }

    #[test]
    fn a_longer_retry_after_wins_up_to_the_cap() {
        let schedule = [Duration::ZERO, Duration::from_secs(5)];
        let cap = Duration::from_secs(600);
        let delay = |asked| next_delay(&schedule, 0.0, 1, Some(asked), cap);
        assert_eq!(
            delay(Duration::from_secs(120)),
            Some(Duration::from_secs(120))
        );
        assert_eq!(delay(Duration::from_secs(1)), Some(Duration::from_secs(5)));
        assert_eq!(delay(Duration::from_secs(86_400)), Some(cap));
        assert_eq!(
            next_delay(&schedule, 0.0, 2, Some(Duration::from_secs(1)), cap),
            None,
            "Retry-After does not add attempts"
        );
    }

    // --- Against a local CRM, with an in-memory outbox. ---

    use std::collections::VecDeque;

    use async_trait::async_trait;
    use axum::body::Bytes;
    use axum::extract::State;
    use axum::http::HeaderMap;
    use axum::response::{IntoResponse, Response};

    use crate::crm::payload::test_support;
    use crate::crm::signing::WebhookSecret;
    use crate::store::{OutboxStatus, StoreError};

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    #[derive(Clone)]
    enum Reply {
        Status(u16),
        WithRetryAfter(u16, &'static str),
        Slow(Duration),
    }

    #[derive(Clone, Default)]
    struct Crm {
        script: Arc<Mutex<VecDeque<Reply>>>,
        received: Arc<Mutex<Vec<(HeaderMap, Bytes)>>>,
    }

    impl Crm {
        fn received(&self) -> Vec<(HeaderMap, Bytes)> {
            self.received.lock().unwrap().clone()
        }
    }

    async fn answer(State(crm): State<Crm>, headers: HeaderMap, body: Bytes) -> Response {
        crm.received.lock().unwrap().push((headers, body));
        let reply = crm.script.lock().unwrap().pop_front();
        let status = |code| StatusCode::from_u16(code).unwrap();
        match reply.unwrap_or(Reply::Status(200)) {
            Reply::Status(code) => (status(code), "answer").into_response(),
            Reply::WithRetryAfter(code, value) => {
                (status(code), [("retry-after", value)], "slow down").into_response()
            }
            Reply::Slow(pause) => {
                tokio::time::sleep(pause).await;
                StatusCode::OK.into_response()
            }
        }
    }

    /// A CRM on loopback following `script`, then answering 200.
    async fn start_crm(script: Vec<Reply>) -> (String, Crm, tokio::task::JoinHandle<()>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/crm", listener.local_addr().unwrap());
        let crm = Crm {
            script: Arc::new(Mutex::new(script.into())),
            ..Crm::default()
        };
        let app = axum::Router::new()
            .route("/crm", axum::routing::post(answer))
            .with_state(crm.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        (url, crm, task)
    }

    #[derive(Debug, Clone)]
    struct Stored {
        record: OutboxRecord,
        lease: Option<(String, i64)>,
    }

    #[derive(Default)]
    struct FakeOutbox {
        messages: Mutex<Vec<Stored>>,
        disabled_at: Mutex<Option<i64>>,
    }

    impl FakeOutbox {
        fn with(records: Vec<OutboxRecord>) -> Arc<Self> {
            let messages = records
                .into_iter()
                .map(|record| Stored {
                    record,
                    lease: None,
                })
                .collect();
            Arc::new(Self {
                messages: Mutex::new(messages),
                ..Self::default()
            })
        }

        fn get(&self, id: i64) -> Stored {
            let messages = self.messages.lock().unwrap();
            messages.iter().find(|m| m.record.id == id).unwrap().clone()
        }

        /// Runs `change` on a message leased to `worker`.
        fn leased<T>(
            &self,
            id: i64,
            worker: &str,
            change: impl FnOnce(&mut Stored) -> T,
        ) -> Option<T> {
            let mut messages = self.messages.lock().unwrap();
            let stored = messages.iter_mut().find(|m| m.record.id == id)?;
            let mine = stored.lease.as_ref().is_some_and(|(w, _)| w == worker);
            mine.then(|| change(stored))
        }

        fn claim(
            &self,
            worker: &str,
            now: i64,
            lease_until: i64,
            limit: usize,
            wanted: impl Fn(&OutboxRecord) -> bool,
        ) -> Vec<OutboxRecord> {
            let mut messages = self.messages.lock().unwrap();
            messages
                .iter_mut()
                .filter(|m| m.record.status == OutboxStatus::Pending)
                .filter(|m| m.lease.as_ref().is_none_or(|(_, until)| *until < now))
                .filter(|m| wanted(&m.record))
                .take(limit)
                .map(|m| {
                    m.lease = Some((worker.to_owned(), lease_until));
                    m.record.clone()
                })
                .collect()
        }
    }

    #[async_trait]
    impl OutboxDelivery for FakeOutbox {
        async fn claim_due(
            &self,
            worker: &str,
            now: i64,
            lease_until: i64,
            limit: i64,
        ) -> Result<Vec<OutboxRecord>, StoreError> {
            Ok(self.claim(worker, now, lease_until, limit as usize, |r| {
                r.next_attempt_at <= now
            }))
        }
        async fn claim_ids(
            &self,
            worker: &str,
            ids: &[i64],
            now: i64,
            lease_until: i64,
        ) -> Result<Vec<OutboxRecord>, StoreError> {
            Ok(self.claim(worker, now, lease_until, usize::MAX, |r| {
                ids.contains(&r.id)
            }))
        }
        async fn set_body(&self, id: i64, worker: &str, body: &str) -> Result<(), StoreError> {
            self.leased(id, worker, |m| m.record.body = Some(body.to_owned()));
            Ok(())
        }
        async fn record_delivered(
            &self,
            id: i64,
            worker: &str,
            status: u16,
            at: i64,
        ) -> Result<bool, StoreError> {
            Ok(self
                .leased(id, worker, |m| {
                    m.record.status = OutboxStatus::Delivered;
                    m.record.attempts += 1;
                    m.record.last_status = Some(i64::from(status));
                    m.record.delivered_at = Some(at);
                    m.lease = None;
                })
                .is_some())
        }
        async fn schedule_retry(
            &self,
            id: i64,
            worker: &str,
            next_attempt_at: i64,
            status: Option<u16>,
            error: &str,
        ) -> Result<(), StoreError> {
            self.leased(id, worker, |m| {
                m.record.attempts += 1;
                m.record.next_attempt_at = next_attempt_at;
                m.record.last_status = status.map(i64::from);
                m.record.last_error = Some(error.to_owned());
                m.lease = None;
            });
            Ok(())
        }
        async fn mark_dead(
            &self,
            id: i64,
            worker: &str,
            status: Option<u16>,
            error: &str,
        ) -> Result<(), StoreError> {
            self.leased(id, worker, |m| {
                m.record.status = OutboxStatus::Dead;
                m.record.attempts += 1;
                m.record.last_status = status.map(i64::from);
                m.record.last_error = Some(error.to_owned());
                m.lease = None;
            });
            Ok(())
        }
        async fn release(
            &self,
            id: i64,
            worker: &str,
            next_attempt_at: i64,
        ) -> Result<(), StoreError> {
            self.leased(id, worker, |m| {
                m.record.next_attempt_at = next_attempt_at;
                m.lease = None;
            });
            Ok(())
        }
        async fn endpoint_disabled_at(&self, _: &str) -> Result<Option<i64>, StoreError> {
            Ok(*self.disabled_at.lock().unwrap())
        }
        async fn set_endpoint_disabled(&self, _: &str, at: Option<i64>) -> Result<(), StoreError> {
            *self.disabled_at.lock().unwrap() = at;
            Ok(())
        }
    }

    const BODY: &str = r#"{"type":"lead.created","data":{}}"#;

    fn pending(id: i64, body: Option<&str>, next_attempt_at: i64) -> OutboxRecord {
        OutboxRecord {
            id,
            webhook_id: format!("msg_test{id}"),
            event: "lead.created".into(),
            lead_id: Some("lead1".into()),
            customer_id: Some("c1".into()),
            body: body.map(String::from),
            status: OutboxStatus::Pending,
            attempts: 0,
            next_attempt_at,
            last_status: None,
            last_error: None,
            created_at: next_attempt_at,
            delivered_at: None,
        }
    }

    fn config(url: &str, schedule_ms: &[u64]) -> CrmConfig {
        CrmConfig {
            endpoint: Some(CrmEndpoint {
                url: url.to_owned(),
                secret: WebhookSecret::parse(SECRET).unwrap(),
            }),
            timeout: Duration::from_secs(5),
            schedule: schedule_ms
                .iter()
                .map(|ms| Duration::from_millis(*ms))
                .collect(),
            jitter: 0.0,
            lease: Duration::from_secs(30),
            poll_interval: Duration::from_millis(50),
            batch: 32,
            concurrency: 4,
            max_transcript_messages: 100,
            settle: Duration::ZERO,
            max_retry_after: Duration::from_secs(3600),
        }
    }

    struct Running {
        notifier: OutboxNotifier,
        shutdown: CancellationToken,
        task: tokio::task::JoinHandle<()>,
    }

    impl Running {
        async fn stop(self) {
            self.shutdown.cancel();
            tokio::time::timeout(Duration::from_secs(10), self.task)
                .await
                .expect("the worker stops when told")
                .unwrap();
        }
    }

    fn start(outbox: Arc<FakeOutbox>, config: CrmConfig) -> Running {
        let builder = Arc::new(test_support::builder(test_support::fake(), 100));
        let (worker, notifier) = OutboxWorker::new(outbox, builder, config);
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(worker.run(shutdown.clone()));
        Running {
            notifier,
            shutdown,
            task,
        }
    }

    async fn wait_for(outbox: &FakeOutbox, id: i64, done: impl Fn(&Stored) -> bool) -> Stored {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let stored = outbox.get(id);
            if done(&stored) {
                return stored;
            }
            assert!(Instant::now() < deadline, "gave up waiting: {stored:?}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
        headers.get(name).unwrap().to_str().unwrap()
    }

    #[tokio::test]
    async fn a_2xx_is_delivered_with_standard_webhooks_headers() {
        let (url, crm, _server) = start_crm(vec![Reply::Status(204)]).await;
        let outbox = FakeOutbox::with(vec![pending(1, Some(BODY), now_ms())]);
        let running = start(outbox.clone(), config(&url, &[0]));
        let stored = wait_for(&outbox, 1, |m| m.record.status == OutboxStatus::Delivered).await;
        running.stop().await;
        assert_eq!(stored.record.last_status, Some(204));
        assert_eq!(stored.record.attempts, 1);

        let received = crm.received();
        assert_eq!(received.len(), 1);
        let (headers, body) = &received[0];
        assert_eq!(body.as_ref(), BODY.as_bytes());
        assert_eq!(header(headers, "content-type"), "application/json");
        assert_eq!(header(headers, "webhook-id"), "msg_test1");
        assert!(header(headers, "user-agent").starts_with("showroom/"));
        let timestamp: i64 = header(headers, "webhook-timestamp").parse().unwrap();
        assert!((Timestamp::now().as_second() - timestamp).abs() < 60);
        let secret = WebhookSecret::parse(SECRET).unwrap();
        assert_eq!(
            header(headers, "webhook-signature"),
            sign(&secret, "msg_test1", timestamp, BODY.as_bytes())
        );
    }

    #[tokio::test]
    async fn a_body_is_built_and_stored_before_the_first_attempt() {
        let (url, crm, _server) = start_crm(vec![Reply::Status(500)]).await;
        let outbox = FakeOutbox::with(vec![pending(1, None, now_ms())]);
        let running = start(outbox.clone(), config(&url, &[0, 20]));
        let stored = wait_for(&outbox, 1, |m| m.record.status == OutboxStatus::Delivered).await;
        running.stop().await;
        let body = stored.record.body.unwrap();
        assert!(body.contains(r#""lead_id":"lead1""#), "{body}");
        let received = crm.received();
        assert_eq!(received.len(), 2);
        for (headers, sent) in &received {
            assert_eq!(
                sent.as_ref(),
                body.as_bytes(),
                "every attempt sends the same bytes"
            );
            assert_eq!(header(headers, "webhook-id"), "msg_test1");
        }
    }

    #[tokio::test]
    async fn a_failure_is_retried_along_the_schedule() {
        let (url, crm, _server) = start_crm(vec![Reply::Status(500), Reply::Status(503)]).await;
        let outbox = FakeOutbox::with(vec![pending(1, Some(BODY), now_ms())]);
        let running = start(outbox.clone(), config(&url, &[0, 20, 20]));
        let stored = wait_for(&outbox, 1, |m| m.record.status == OutboxStatus::Delivered).await;
        running.stop().await;
        assert_eq!(stored.record.attempts, 3);
        assert_eq!(crm.received().len(), 3);
    }

    #[tokio::test]
    async fn the_last_failure_parks_a_dead_letter() {
        let (url, crm, _server) = start_crm(vec![Reply::Status(500), Reply::Status(500)]).await;
        let outbox = FakeOutbox::with(vec![pending(1, Some(BODY), now_ms())]);
        let running = start(outbox.clone(), config(&url, &[0, 20]));
        let stored = wait_for(&outbox, 1, |m| m.record.status == OutboxStatus::Dead).await;
        running.stop().await;
        assert_eq!(stored.record.attempts, 2);
        assert_eq!(stored.record.last_status, Some(500));
        let error = stored.record.last_error.unwrap();
        assert!(error.contains("500") && error.contains("answer"), "{error}");
        assert_eq!(crm.received().len(), 2);
    }

    #[tokio::test]
    async fn gone_disables_the_endpoint_until_it_is_re_enabled() {
        let (url, crm, _server) = start_crm(vec![Reply::Status(410)]).await;
        let outbox = FakeOutbox::with(vec![
            pending(1, Some(BODY), now_ms()),
            pending(2, Some(BODY), now_ms() + 300),
        ]);
        let running = start(outbox.clone(), config(&url, &[0, 20]));
        let deadline = Instant::now() + Duration::from_secs(10);
        while outbox.disabled_at.lock().unwrap().is_none() {
            assert!(Instant::now() < deadline, "410 never disabled the endpoint");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // Several polls pass, message 2 falls due: nothing is sent while disabled.
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert_eq!(crm.received().len(), 1);
        let first = outbox.get(1);
        assert_eq!(
            first.record.status,
            OutboxStatus::Pending,
            "not a dead letter"
        );
        assert_eq!(first.record.attempts, 0, "a 410 does not use up an attempt");
        assert_eq!(outbox.get(2).record.status, OutboxStatus::Pending);

        // What `showroom outbox retry` does.
        *outbox.disabled_at.lock().unwrap() = None;
        for id in [1, 2] {
            wait_for(&outbox, id, |m| m.record.status == OutboxStatus::Delivered).await;
        }
        running.stop().await;
        assert_eq!(crm.received().len(), 3);
    }

    #[tokio::test]
    async fn a_longer_retry_after_is_honoured() {
        let (url, _crm, _server) = start_crm(vec![Reply::WithRetryAfter(429, "120")]).await;
        let outbox = FakeOutbox::with(vec![pending(1, Some(BODY), now_ms())]);
        let running = start(outbox.clone(), config(&url, &[0, 20]));
        let stored = wait_for(&outbox, 1, |m| m.record.attempts == 1).await;
        running.stop().await;
        assert_eq!(stored.record.status, OutboxStatus::Pending);
        assert_eq!(stored.record.last_status, Some(429));
        let wait = stored.record.next_attempt_at - now_ms();
        assert!(
            (115_000..=120_000).contains(&wait),
            "next attempt in {wait} ms"
        );
    }

    #[tokio::test]
    async fn a_slow_crm_times_out_and_is_retried_later() {
        let (url, _crm, _server) = start_crm(vec![Reply::Slow(Duration::from_secs(5))]).await;
        let outbox = FakeOutbox::with(vec![pending(1, Some(BODY), now_ms())]);
        let mut config = config(&url, &[0, 60_000]);
        config.timeout = Duration::from_millis(200);
        let running = start(outbox.clone(), config);
        let started = Instant::now();
        let stored = wait_for(&outbox, 1, |m| m.record.attempts == 1).await;
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
        running.stop().await;
        assert_eq!(stored.record.status, OutboxStatus::Pending);
        assert_eq!(stored.record.last_status, None);
        let error = stored.record.last_error.unwrap();
        assert!(error.contains("did not answer within 0.2 s"), "{error}");
        assert!(stored.record.next_attempt_at - now_ms() > 50_000);
    }

    #[tokio::test]
    async fn an_unreachable_crm_is_retried_with_the_cause() {
        // A port nothing listens on.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let outbox = FakeOutbox::with(vec![pending(1, Some(BODY), now_ms())]);
        let running = start(
            outbox.clone(),
            config(
                &format!("http://127.0.0.1:{port}/crm?token=hush"),
                &[0, 60_000],
            ),
        );
        let stored = wait_for(&outbox, 1, |m| m.record.attempts == 1).await;
        running.stop().await;
        let error = stored.record.last_error.unwrap();
        assert!(error.starts_with("cannot reach the CRM"), "{error}");
        assert!(!error.contains("hush"), "the URL stays out: {error}");
    }

    #[tokio::test]
    async fn notified_messages_go_out_before_they_are_due() {
        let (url, crm, _server) = start_crm(vec![]).await;
        // Written with a settle time: the poller would not take it for a minute.
        let outbox = FakeOutbox::with(vec![pending(1, Some(BODY), now_ms() + 60_000)]);
        let mut config = config(&url, &[0]);
        config.poll_interval = Duration::from_secs(60);
        let running = start(outbox.clone(), config);
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(crm.received().is_empty());
        let started = Instant::now();
        running.notifier.notify(vec![1]);
        wait_for(&outbox, 1, |m| m.record.status == OutboxStatus::Delivered).await;
        assert!(started.elapsed() < Duration::from_secs(2));
        running.stop().await;
    }

    #[tokio::test]
    async fn without_a_url_the_worker_returns_at_once() {
        let outbox = FakeOutbox::with(vec![pending(1, Some(BODY), now_ms())]);
        let mut config = config("http://127.0.0.1:9/crm", &[0]);
        config.endpoint = None;
        let builder = Arc::new(test_support::builder(test_support::fake(), 100));
        let (worker, notifier) = OutboxWorker::new(outbox.clone(), builder, config);
        notifier.notify(vec![1]);
        tokio::time::timeout(Duration::from_secs(1), worker.run(CancellationToken::new()))
            .await
            .expect("returns without a CRM");
        assert_eq!(outbox.get(1).record.status, OutboxStatus::Pending);
    }
}
