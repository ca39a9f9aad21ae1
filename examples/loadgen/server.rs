//! What the server shows about itself: its memory from `/proc/PID/status` (sampled
//! while the load runs), its open-files limit, and its own processing time from
//! `/metrics` (`showroom_message_processing_seconds`), to split end-to-end latency into
//! time in the engine and time elsewhere (network, queues, the HTTP/WebSocket layers).

use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;
use tokio_util::sync::CancellationToken;

/// `VmRSS` and `VmHWM` of a process, in KiB.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Memory {
    pub rss_kib: u64,
    pub hwm_kib: u64,
}

pub fn read_memory(pid: u32) -> Option<Memory> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kib| kib.parse::<u64>().ok())
    };
    Some(Memory {
        rss_kib: field("VmRSS:")?,
        hwm_kib: field("VmHWM:")?,
    })
}

/// The soft "Max open files" of a process (`self` for this one).
pub fn open_files_limit(pid: &str) -> Option<u64> {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).ok()?;
    limits
        .lines()
        .find(|line| line.starts_with("Max open files"))?
        .split_whitespace()
        .nth(3)?
        .parse()
        .ok()
}

/// CPU time (user + system) a process has used so far, in seconds (`self` for this one).
/// `/proc/PID/stat` counts in USER_HZ ticks, 100 per second on Linux.
pub fn cpu_seconds(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces; the fields after it are plain numbers.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = |index: usize| fields.get(index)?.parse::<u64>().ok();
    // utime and stime are fields 14 and 15 of the line; 12 and 13 after the name.
    Some((ticks(11)? + ticks(12)?) as f64 / 100.0)
}

/// Server memory over the run.
#[derive(Debug, Clone, Serialize)]
pub struct MemoryReport {
    pub pid: u32,
    pub start_rss_mib: f64,
    pub peak_rss_mib: f64,
    pub end_rss_mib: f64,
    /// The kernel's high-water mark at the end (includes anything before the run).
    pub hwm_mib: f64,
    pub samples: usize,
}

/// Samples a process's memory every `every` until stopped.
pub struct MemorySampler {
    pid: u32,
    samples: Arc<Mutex<Vec<Memory>>>,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl MemorySampler {
    pub fn start(pid: u32, every: Duration) -> Self {
        let samples = Arc::new(Mutex::new(Vec::new()));
        let stop = CancellationToken::new();
        let task = tokio::spawn({
            let samples = samples.clone();
            let stop = stop.clone();
            async move {
                let mut tick = tokio::time::interval(every);
                loop {
                    tokio::select! {
                        () = stop.cancelled() => break,
                        _ = tick.tick() => {}
                    }
                    if let Some(memory) = read_memory(pid)
                        && let Ok(mut samples) = samples.lock()
                    {
                        samples.push(memory);
                    }
                }
            }
        });
        Self {
            pid,
            samples,
            stop,
            task,
        }
    }

    pub async fn finish(self) -> Option<MemoryReport> {
        self.stop.cancel();
        let _ = self.task.await;
        let end = read_memory(self.pid);
        let mut samples = self.samples.lock().ok()?.clone();
        samples.extend(end);
        let first = samples.first()?;
        let last = samples.last()?;
        let mib = |kib: u64| kib as f64 / 1024.0;
        Some(MemoryReport {
            pid: self.pid,
            start_rss_mib: mib(first.rss_kib),
            peak_rss_mib: mib(samples.iter().map(|m| m.rss_kib).max().unwrap_or(0)),
            end_rss_mib: mib(last.rss_kib),
            hwm_mib: mib(last.hwm_kib),
            samples: samples.len(),
        })
    }
}

/// The cumulative `showroom_message_processing_seconds` histogram at one moment.
#[derive(Debug, Clone, Default)]
pub struct Processing {
    /// (upper bound in seconds, cumulative count), ascending; `+Inf` last.
    buckets: Vec<(f64, u64)>,
    sum: f64,
    count: u64,
}

const HISTOGRAM: &str = "showroom_message_processing_seconds";

impl Processing {
    /// Reads it from the Prometheus text of `/metrics`.
    pub fn parse(text: &str) -> Self {
        let mut processing = Self::default();
        for line in text.lines() {
            let Some(rest) = line.strip_prefix(HISTOGRAM) else {
                continue;
            };
            let Some(value) = rest.rsplit(' ').next() else {
                continue;
            };
            if let Some(bucket) = rest.strip_prefix("_bucket{le=\"") {
                let bound = bucket.split('"').next().unwrap_or_default();
                let bound = if bound == "+Inf" {
                    f64::INFINITY
                } else {
                    bound.parse().unwrap_or(f64::NAN)
                };
                if let Ok(count) = value.parse::<f64>() {
                    processing.buckets.push((bound, count as u64));
                }
            } else if rest.starts_with("_sum") {
                processing.sum = value.parse().unwrap_or(0.0);
            } else if rest.starts_with("_count") {
                processing.count = value.parse::<f64>().map_or(0, |c| c as u64);
            }
        }
        processing
            .buckets
            .sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
        processing
    }

    /// What happened between `before` and `self`.
    pub fn since(&self, before: &Processing) -> Processing {
        let earlier = |bound: f64| {
            before
                .buckets
                .iter()
                .find(|(b, _)| *b == bound)
                .map_or(0, |(_, c)| *c)
        };
        Processing {
            buckets: self
                .buckets
                .iter()
                .map(|&(bound, count)| (bound, count.saturating_sub(earlier(bound))))
                .collect(),
            sum: self.sum - before.sum,
            count: self.count.saturating_sub(before.count),
        }
    }

    /// The bucket bound under which a share `q` of the messages finished.
    fn quantile_bound(&self, q: f64) -> Option<f64> {
        let wanted = (q * self.count as f64).ceil() as u64;
        self.buckets
            .iter()
            .find(|(_, count)| *count >= wanted)
            .map(|(bound, _)| *bound)
    }

    pub fn report(&self) -> Option<ProcessingReport> {
        if self.count == 0 {
            return None;
        }
        let ms = |q: f64| self.quantile_bound(q).map(|s| s * 1000.0);
        Some(ProcessingReport {
            messages: self.count,
            mean_ms: self.sum / self.count as f64 * 1000.0,
            p50_at_most_ms: ms(0.50),
            p99_at_most_ms: ms(0.99),
        })
    }
}

/// The engine's own time per message during the run (from its histogram: quantiles are
/// bucket bounds, so "at most").
#[derive(Debug, Clone, Serialize)]
pub struct ProcessingReport {
    pub messages: u64,
    pub mean_ms: f64,
    pub p50_at_most_ms: Option<f64>,
    pub p99_at_most_ms: Option<f64>,
}

/// `/metrics` of the server at `base`, as text.
pub async fn scrape(client: &reqwest::Client, base: &str) -> Option<String> {
    let url = format!("{}/metrics", base.trim_end_matches('/'));
    let response = client.get(url).send().await.ok()?;
    if !response.status().is_success() {
        return None;
    }
    response.text().await.ok()
}

/// A gauge or counter without labels, e.g. `showroom_open_sessions`.
pub fn plain_metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|value| value.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_difference_and_bounds() {
        let before = Processing::parse(
            "showroom_message_processing_seconds_bucket{le=\"0.001\"} 10\n\
             showroom_message_processing_seconds_bucket{le=\"0.01\"} 10\n\
             showroom_message_processing_seconds_bucket{le=\"+Inf\"} 10\n\
             showroom_message_processing_seconds_sum 0.005\n\
             showroom_message_processing_seconds_count 10\n",
        );
        let after = Processing::parse(
            "showroom_message_processing_seconds_bucket{le=\"0.001\"} 60\n\
             showroom_message_processing_seconds_bucket{le=\"0.01\"} 109\n\
             showroom_message_processing_seconds_bucket{le=\"+Inf\"} 110\n\
             showroom_message_processing_seconds_sum 0.405\n\
             showroom_message_processing_seconds_count 110\n",
        );
        let report = after.since(&before).report().unwrap();
        assert_eq!(report.messages, 100);
        assert!((report.mean_ms - 4.0).abs() < 1e-9);
        assert_eq!(report.p50_at_most_ms, Some(1.0));
        assert_eq!(report.p99_at_most_ms, Some(10.0));
        assert_eq!(
            plain_metric("showroom_open_sessions 12\n", "showroom_open_sessions"),
            Some(12.0)
        );
    }
}
