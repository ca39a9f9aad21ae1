//! What the customers measured: every reply's latency with the moment it arrived,
//! conversations, slot retries and failures by kind. Each customer keeps its own
//! `Recorder` (no locks on the hot path); they are merged once at the end. A few shared
//! counters feed the progress line.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::transport::Failure;

/// One answered message: when its reply arrived (ms since the run started) and how long
/// it took (µs).
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub at_ms: u32,
    pub latency_us: u32,
}

/// Failures of one kind, with the first one's text as an example.
#[derive(Debug, Clone, Serialize)]
pub struct Tally {
    pub count: u64,
    pub example: String,
}

/// Counters every customer bumps, for the progress line.
#[derive(Default)]
pub struct Live {
    pub messages: AtomicU64,
    pub conversations: AtomicU64,
    pub errors: AtomicU64,
}

pub struct Recorder {
    start: Instant,
    pub messages: Vec<Sample>,
    /// Conversations opened: connection (WebSocket) and greeting.
    pub openings: Vec<Sample>,
    pub conversations: u64,
    /// Conversations cut short because the run's time was up.
    pub abandoned: u64,
    pub slot_retries: u64,
    pub errors: BTreeMap<String, Tally>,
}

impl Recorder {
    pub fn new(start: Instant) -> Self {
        Self {
            start,
            messages: Vec::new(),
            openings: Vec::new(),
            conversations: 0,
            abandoned: 0,
            slot_retries: 0,
            errors: BTreeMap::new(),
        }
    }

    fn sample(&self, latency: Duration) -> Sample {
        Sample {
            at_ms: u32::try_from(self.start.elapsed().as_millis()).unwrap_or(u32::MAX),
            latency_us: u32::try_from(latency.as_micros()).unwrap_or(u32::MAX),
        }
    }

    pub fn message(&mut self, latency: Duration, live: &Live) {
        self.messages.push(self.sample(latency));
        live.messages.fetch_add(1, Ordering::Relaxed);
    }

    pub fn opening(&mut self, latency: Duration) {
        self.openings.push(self.sample(latency));
    }

    pub fn booked(&mut self, slot_retries: u32, live: &Live) {
        self.conversations += 1;
        self.slot_retries += u64::from(slot_retries);
        live.conversations.fetch_add(1, Ordering::Relaxed);
    }

    pub fn error(&mut self, failure: Failure, live: &Live) {
        live.errors.fetch_add(1, Ordering::Relaxed);
        self.errors
            .entry(failure.kind)
            .and_modify(|t| t.count += 1)
            .or_insert(Tally {
                count: 1,
                example: failure.detail.chars().take(300).collect(),
            });
    }

    pub fn merge(&mut self, other: Recorder) {
        self.messages.extend(other.messages);
        self.openings.extend(other.openings);
        self.conversations += other.conversations;
        self.abandoned += other.abandoned;
        self.slot_retries += other.slot_retries;
        for (kind, tally) in other.errors {
            self.errors
                .entry(kind)
                .and_modify(|t| t.count += tally.count)
                .or_insert(tally);
        }
    }
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Latency {
    pub count: usize,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Latency {
    pub fn of(samples: &[Sample]) -> Self {
        let mut us: Vec<u32> = samples.iter().map(|s| s.latency_us).collect();
        if us.is_empty() {
            return Self::default();
        }
        us.sort_unstable();
        let ms = |v: u32| f64::from(v) / 1000.0;
        // Nearest rank: the smallest value with at least p of the samples at or below it.
        let rank = |p: f64| {
            let index = (p * us.len() as f64).ceil() as usize;
            ms(us[index.clamp(1, us.len()) - 1])
        };
        let total: u64 = us.iter().map(|&v| u64::from(v)).sum();
        Self {
            count: us.len(),
            mean_ms: total as f64 / us.len() as f64 / 1000.0,
            p50_ms: rank(0.50),
            p95_ms: rank(0.95),
            p99_ms: rank(0.99),
            max_ms: ms(us[us.len() - 1]),
        }
    }
}

/// Throughput and tail latency of one slice of the run, to show drift (a store that
/// slows down as bookings pile up shows here, not in the totals).
#[derive(Debug, Clone, Serialize)]
pub struct Window {
    pub from_s: u32,
    pub to_s: u32,
    pub messages_per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

pub fn timeline(samples: &[Sample], elapsed: Duration, window: Duration) -> Vec<Window> {
    let window_ms = u32::try_from(window.as_millis()).unwrap_or(u32::MAX).max(1);
    let end_ms = u32::try_from(elapsed.as_millis()).unwrap_or(u32::MAX);
    let mut buckets: BTreeMap<u32, Vec<Sample>> = BTreeMap::new();
    for sample in samples {
        buckets
            .entry(sample.at_ms / window_ms)
            .or_default()
            .push(*sample);
    }
    buckets
        .into_iter()
        .map(|(index, bucket)| {
            let from = index * window_ms;
            let to = (from + window_ms).min(end_ms.max(from + 1));
            let latency = Latency::of(&bucket);
            Window {
                from_s: from / 1000,
                to_s: to.div_ceil(1000),
                messages_per_s: bucket.len() as f64 / (f64::from(to - from) / 1000.0),
                p50_ms: latency.p50_ms,
                p99_ms: latency.p99_ms,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples(latencies_ms: &[u32]) -> Vec<Sample> {
        latencies_ms
            .iter()
            .map(|&ms| Sample {
                at_ms: 0,
                latency_us: ms * 1000,
            })
            .collect()
    }

    #[test]
    fn nearest_rank_percentiles() {
        let latency = Latency::of(&samples(&(1..=100).collect::<Vec<_>>()));
        assert_eq!(latency.p50_ms, 50.0);
        assert_eq!(latency.p95_ms, 95.0);
        assert_eq!(latency.p99_ms, 99.0);
        assert_eq!(latency.max_ms, 100.0);
        assert_eq!(Latency::of(&samples(&[7])).p99_ms, 7.0);
        assert_eq!(Latency::of(&[]).count, 0);
    }
}
