//! The load loop: N concurrent clients, each sending one request after another until the
//! measuring window closes or it reaches its request limit.
//!
//! Every run has a warm-up whose requests are sent but not counted, so connection set-up and
//! cold caches do not weigh on the figures. A request counts when it completes inside the
//! window; the rate is those completions divided by the window's length.

use std::{
    collections::BTreeMap,
    future::Future,
    sync::Arc,
    time::{Duration, Instant},
};

use serde::{Deserialize, Serialize};

use crate::cpu::CpuUse;

/// How many clients run, for how long, and the most requests each may send.
#[derive(Clone, Copy, Debug)]
pub struct LoadSettings {
    pub clients: usize,
    /// Requests completed in this first stretch are not counted.
    pub warmup: Duration,
    /// Length of the measuring window that follows the warm-up.
    pub duration: Duration,
    /// Upper bound on requests per client, so a loop also stops when the clock misbehaves.
    pub max_requests_per_client: u64,
}

/// The result of one request.
#[derive(Debug)]
pub enum Outcome {
    /// The request did what it asked.
    Done,
    /// The server rejected it with an expected error; the string is its `extensions.code`.
    Rejected(String),
    /// Transport failure, unexpected status or malformed response.
    Failed(String),
}

/// The figures of one load run.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Rate {
    pub clients: usize,
    /// Length of the measuring window in seconds.
    pub seconds: f64,
    /// Requests that completed with [`Outcome::Done`] inside the window.
    pub completed: u64,
    /// Completed requests per second.
    pub per_second: f64,
    /// Latency percentiles of the completed requests, in milliseconds.
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// Expected rejections inside the window, by error code.
    pub rejected: BTreeMap<String, u64>,
    /// Failures inside the window; any failure makes the run's figures suspect.
    pub failed: u64,
    pub first_failure: Option<String>,
    /// Every request that completed, warm-up included, whatever its outcome.
    pub all_requests: u64,
    /// CPU used over the whole run, warm-up included; set by the caller.
    pub cpu: Option<CpuUse>,
}

/// Counts and latencies of one client inside the window.
#[derive(Default)]
struct ClientTally {
    all_requests: u64,
    latencies_us: Vec<u64>,
    rejected: BTreeMap<String, u64>,
    failed: u64,
    first_failure: Option<String>,
}

/// Runs `request(client, sequence)` from `settings.clients` concurrent tasks and returns the
/// figures of the measuring window. Every task stops by itself at the end of the window or at
/// its request limit, whichever comes first.
pub async fn run_load<F, Fut>(settings: LoadSettings, request: F) -> Rate
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Outcome> + Send + 'static,
{
    let request = Arc::new(request);
    let window_start = Instant::now() + settings.warmup;
    let window_end = window_start + settings.duration;

    let mut tasks = Vec::with_capacity(settings.clients);
    for client in 0..settings.clients {
        let request = Arc::clone(&request);
        tasks.push(tokio::spawn(async move {
            let mut tally = ClientTally::default();
            for sequence in 0..settings.max_requests_per_client {
                let began = Instant::now();
                if began >= window_end {
                    break;
                }
                let outcome = request(client, sequence).await;
                let ended = Instant::now();
                tally.all_requests += 1;
                if ended < window_start || ended > window_end {
                    continue;
                }
                match outcome {
                    Outcome::Done => tally.latencies_us.push(micros(ended - began)),
                    Outcome::Rejected(code) => *tally.rejected.entry(code).or_insert(0) += 1,
                    Outcome::Failed(message) => {
                        tally.failed += 1;
                        tally.first_failure.get_or_insert(message);
                    }
                }
            }
            tally
        }));
    }

    let mut latencies_us = Vec::new();
    let mut rate = Rate { clients: settings.clients, seconds: settings.duration.as_secs_f64(), ..Rate::default() };
    for task in tasks {
        let tally = match task.await {
            Ok(tally) => tally,
            Err(err) => {
                rate.failed += 1;
                rate.first_failure.get_or_insert(format!("client task panicked: {err}"));
                continue;
            }
        };
        rate.all_requests += tally.all_requests;
        latencies_us.extend(tally.latencies_us);
        for (code, count) in tally.rejected {
            *rate.rejected.entry(code).or_insert(0) += count;
        }
        rate.failed += tally.failed;
        if rate.first_failure.is_none() {
            rate.first_failure = tally.first_failure;
        }
    }

    latencies_us.sort_unstable();
    rate.completed = latencies_us.len() as u64;
    rate.per_second = rate.completed as f64 / rate.seconds;
    rate.p50_ms = percentile_ms(&latencies_us, 0.50);
    rate.p99_ms = percentile_ms(&latencies_us, 0.99);
    rate.max_ms = latencies_us.last().map_or(0.0, |&us| us as f64 / 1000.0);
    rate
}

fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

/// Returns the nearest-rank percentile of sorted microsecond latencies in milliseconds, or 0
/// when there are none.
fn percentile_ms(sorted_us: &[u64], fraction: f64) -> f64 {
    if sorted_us.is_empty() {
        return 0.0;
    }
    let rank = (fraction * sorted_us.len() as f64).ceil() as usize;
    sorted_us[rank.clamp(1, sorted_us.len()) - 1] as f64 / 1000.0
}

/// Returns a deterministic pseudo-random number for a client's request, so every run picks the
/// same SKUs and pages without a random-number crate. It is the SplitMix64 finalizer.
pub fn pick(client: usize, sequence: u64, salt: u64) -> u64 {
    let mut z = (client as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ sequence.rotate_left(32) ^ salt;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::percentile_ms;

    #[test]
    fn percentile_of_hundred_values() {
        let values: Vec<u64> = (1..=100).map(|ms| ms * 1000).collect();
        assert_eq!(percentile_ms(&values, 0.50), 50.0);
        assert_eq!(percentile_ms(&values, 0.99), 99.0);
    }

    #[test]
    fn percentile_of_nothing_is_zero() {
        assert_eq!(percentile_ms(&[], 0.99), 0.0);
    }
}
