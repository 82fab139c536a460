//! Driving a call from many tasks for a while, and reporting latencies.

use std::sync::Arc;
use std::time::{Duration, Instant};

/// Latencies and count of one phase.
pub struct Phase {
    pub name: &'static str,
    pub requests: usize,
    pub elapsed: Duration,
    pub latencies: Vec<Duration>,
}

impl Phase {
    pub fn throughput(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }

    pub fn percentile(&self, p: f64) -> Duration {
        let mut sorted = self.latencies.clone();
        sorted.sort();
        let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
        sorted.get(index).copied().unwrap_or_default()
    }

    pub fn report(&self) {
        println!(
            "{:<28} {:>10.0} req/s   p50 {:>7.2} ms   p99 {:>7.2} ms   ({} requests)",
            self.name,
            self.throughput(),
            self.percentile(0.50).as_secs_f64() * 1e3,
            self.percentile(0.99).as_secs_f64() * 1e3,
            self.requests
        );
    }
}

/// Runs `call` from `concurrency` tasks for `duration`, collecting latencies.
pub async fn drive<F, Fut>(
    name: &'static str,
    concurrency: usize,
    duration: Duration,
    call: F,
) -> Phase
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let call = Arc::new(call);
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let call = call.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let t = Instant::now();
                assert!(call().await, "{name}: a request failed");
                latencies.push(t.elapsed());
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.expect("worker"));
    }
    Phase {
        name,
        requests: latencies.len(),
        elapsed: started.elapsed(),
        latencies,
    }
}

/// When `execution` (an execution as the REST API answers it) entered
/// `state`, from its state histories.
pub fn history_date(
    execution: &serde_json::Value,
    state: &str,
) -> Option<chrono::DateTime<chrono::Utc>> {
    execution["state"]["histories"]
        .as_array()?
        .iter()
        .find(|h| h["state"] == state)?["date"]
        .as_str()
        .and_then(|d| chrono::DateTime::parse_from_rfc3339(d).ok())
        .map(|d| d.to_utc())
}
