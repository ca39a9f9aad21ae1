//! Closed-loop load: each customer books a whole test drive, then starts a new
//! conversation, until the time is up or the planned number of conversations has begun.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::script::{Booking, Next, Phones};
use crate::stats::{Live, Recorder};
use crate::transport::{Chat, Connector, Failure};

/// A bound no well-behaved booking comes near (it takes 10 messages, a few more per slot
/// retry); past it the customer gives up and it counts as an error.
const MAX_MESSAGES_PER_CONVERSATION: u32 = 60;

/// Pause after a failed opening, so a refusing server isn't hammered in a tight loop.
const BACKOFF_AFTER_FAILED_OPENING: Duration = Duration::from_millis(100);

/// When the run stops.
pub struct Plan {
    pub customers: usize,
    pub deadline: Option<Instant>,
    pub conversations: Option<u64>,
    /// Customers start spread over this long.
    pub ramp_up: Duration,
    /// A customer's average pause before answering.
    pub think: Duration,
}

struct Shared<C> {
    connector: C,
    phones: Phones,
    started: AtomicU64,
    live: Arc<Live>,
    plan: Plan,
}

impl<C> Shared<C> {
    fn time_is_up(&self) -> bool {
        self.plan.deadline.is_some_and(|d| Instant::now() >= d)
    }

    /// Takes a ticket for one more conversation, unless the run is over.
    fn begin_conversation(&self) -> bool {
        if self.time_is_up() {
            return false;
        }
        let started = self.started.fetch_add(1, Ordering::Relaxed);
        self.plan.conversations.is_none_or(|total| started < total)
    }
}

/// Runs the customers; returns their merged measurements.
pub async fn run<C: Connector>(
    connector: C,
    plan: Plan,
    start: Instant,
    live: Arc<Live>,
) -> Recorder {
    let customers = plan.customers;
    let ramp_step = plan.ramp_up / u32::try_from(customers.max(1)).unwrap_or(u32::MAX);
    let shared = Arc::new(Shared {
        connector,
        phones: Phones::new(),
        started: AtomicU64::new(0),
        live,
        plan,
    });
    let tasks: Vec<_> = (0..customers)
        .map(|i| {
            let shared = shared.clone();
            let delay = ramp_step * u32::try_from(i).unwrap_or(u32::MAX);
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                customer(&shared, start).await
            })
        })
        .collect();
    let mut total = Recorder::new(start);
    for task in tasks {
        match task.await {
            Ok(recorder) => total.merge(recorder),
            Err(err) => total.error(Failure::new("loadgen task", err.to_string()), &shared.live),
        }
    }
    total
}

/// One customer: conversation after conversation.
async fn customer<C: Connector>(shared: &Shared<C>, start: Instant) -> Recorder {
    let mut recorder = Recorder::new(start);
    while shared.begin_conversation() {
        let mut booking = Booking::new(&shared.phones);
        let opened_at = Instant::now();
        let (mut chat, mut replies) = match shared.connector.open().await {
            Ok(opened) => opened,
            Err(failure) => {
                recorder.error(failure, &shared.live);
                tokio::time::sleep(BACKOFF_AFTER_FAILED_OPENING).await;
                continue;
            }
        };
        recorder.opening(opened_at.elapsed());
        let mut sent = 0;
        loop {
            let message = match booking.next(&replies) {
                Ok(Next::Booked) => {
                    recorder.booked(booking.slot_retries, &shared.live);
                    break;
                }
                Ok(Next::Send(message)) => message,
                Err(unexpected) => {
                    let expected = unexpected
                        .expected
                        .map_or_else(String::new, |p| format!("expected {p:?}; "));
                    let detail = format!("{expected}got: {}", unexpected.text);
                    recorder.error(Failure::new("unexpected reply", detail), &shared.live);
                    break;
                }
            };
            if shared.time_is_up() {
                recorder.abandoned += 1;
                break;
            }
            if !shared.plan.think.is_zero() {
                // Jittered, so customers don't answer in lockstep.
                let pause = shared.plan.think.mul_f64(rand::random_range(0.5..1.5));
                tokio::time::sleep(pause).await;
                if shared.time_is_up() {
                    recorder.abandoned += 1;
                    break;
                }
            }
            if sent == MAX_MESSAGES_PER_CONVERSATION {
                let detail = format!("no booking after {sent} messages");
                recorder.error(Failure::new("too many turns", detail), &shared.live);
                break;
            }
            sent += 1;
            let sent_at = Instant::now();
            match chat.send(&message).await {
                Ok(answer) => {
                    recorder.message(sent_at.elapsed(), &shared.live);
                    replies = answer;
                }
                Err(failure) => {
                    recorder.error(failure, &shared.live);
                    break;
                }
            }
        }
        chat.close().await;
    }
    recorder
}
