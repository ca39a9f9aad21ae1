//! Open sessions: many conversations left mid-flow at once, to see what they cost the
//! server in memory. Each is greeted, presses "Prueba de manejo" and gets the model
//! question, so the server holds a live flow session for it; then it stays open (a
//! connected WebSocket, or for HTTP the session in the store) until the end.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;

use crate::script::{Booking, Next, Phones, Prompt};
use crate::stats::{Latency, Live, Recorder, Sample, Tally};
use crate::transport::{Chat, Connector, Failure};

pub struct Opened {
    pub requested: u64,
    pub opened: u64,
    pub failures: BTreeMap<String, Tally>,
    pub took: Duration,
    /// Opening plus the first answer, per session.
    pub latency: Latency,
    holders: Vec<tokio::task::JoinHandle<bool>>,
    stop: CancellationToken,
}

impl Opened {
    /// Closes every session; returns how many were still open (not closed by the server).
    pub async fn close(self) -> u64 {
        self.stop.cancel();
        let mut alive = 0;
        for holder in self.holders {
            if matches!(holder.await, Ok(true)) {
                alive += 1;
            }
        }
        alive
    }
}

/// Opens `count` sessions, at most `concurrency` being opened at once, and keeps them.
/// After `deadline` no more are started (a slow server gets measured with what it
/// managed to open).
pub async fn open<C: Connector>(
    connector: C,
    count: u64,
    concurrency: usize,
    deadline: Option<Instant>,
) -> Opened {
    let start = Instant::now();
    let connector = Arc::new(connector);
    let phones = Arc::new(Phones::new());
    let permits = Arc::new(Semaphore::new(concurrency.max(1)));
    let stop = CancellationToken::new();
    let (done, mut results) = mpsc::unbounded_channel::<Result<Duration, Failure>>();
    let mut progress = Progress::new(start, count);
    let mut holders = Vec::new();
    for _ in 0..count {
        let Ok(permit) = permits.clone().acquire_owned().await else {
            break;
        };
        if deadline.is_some_and(|d| Instant::now() >= d) {
            eprintln!("  time is up: no more sessions are started");
            break;
        }
        let connector = connector.clone();
        let phones = phones.clone();
        let done = done.clone();
        let stop = stop.clone();
        holders.push(tokio::spawn(async move {
            let began = Instant::now();
            let chat = start_flow(&*connector, &phones).await;
            drop(permit);
            match chat {
                Ok(chat) => {
                    let _ = done.send(Ok(began.elapsed()));
                    chat.hold(stop).await
                }
                Err(failure) => {
                    let _ = done.send(Err(failure));
                    false
                }
            }
        }));
        while let Ok(result) = results.try_recv() {
            progress.add(result);
        }
    }
    // Every started session reports once; holders keep their sender until the end.
    while progress.answered < holders.len() as u64 {
        let Some(result) = results.recv().await else {
            break;
        };
        progress.add(result);
    }
    Opened {
        requested: count,
        opened: progress.latencies.len() as u64,
        failures: progress.recorder.errors,
        took: start.elapsed(),
        latency: Latency::of(&progress.latencies),
        holders,
        stop,
    }
}

/// Sessions opened or failed so far, with a progress line every 5%.
struct Progress {
    start: Instant,
    count: u64,
    answered: u64,
    latencies: Vec<Sample>,
    recorder: Recorder,
    live: Live,
}

impl Progress {
    fn new(start: Instant, count: u64) -> Self {
        Self {
            start,
            count,
            answered: 0,
            latencies: Vec::new(),
            recorder: Recorder::new(start),
            live: Live::default(),
        }
    }

    fn add(&mut self, result: Result<Duration, Failure>) {
        self.answered += 1;
        match result {
            Ok(latency) => self.latencies.push(Sample {
                at_ms: 0,
                latency_us: u32::try_from(latency.as_micros()).unwrap_or(u32::MAX),
            }),
            Err(failure) => self.recorder.error(failure, &self.live),
        }
        if self.answered.is_multiple_of((self.count / 20).max(1)) {
            eprintln!(
                "  {}/{} sessions tried, {} open, {:.0} s",
                self.answered,
                self.count,
                self.latencies.len(),
                self.start.elapsed().as_secs_f64()
            );
        }
    }
}

/// Greeting, "Prueba de manejo", the model question: a session mid-flow.
async fn start_flow<C: Connector>(connector: &C, phones: &Phones) -> Result<C::Chat, Failure> {
    let mut booking = Booking::new(phones);
    let (mut chat, greeting) = connector.open().await?;
    let unexpected = |u: crate::script::Unexpected| Failure::new("unexpected reply", u.text);
    let Next::Send(press) = booking.next(&greeting).map_err(unexpected)? else {
        return Err(Failure::new("unexpected reply", "booked before starting"));
    };
    let replies = chat.send(&press).await?;
    if !replies.iter().any(|r| Prompt::of(r) == Some(Prompt::Model)) {
        let texts = crate::script::texts(&replies);
        return Err(Failure::new(
            "unexpected reply",
            format!("expected Model; got: {texts}"),
        ));
    }
    Ok(chat)
}
