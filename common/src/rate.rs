//! Keyed rate limits with a generic cell rate algorithm (GCRA): each key has
//! a burst of `burst` attempts and regains one every `interval`. The cells
//! live in a bounded cache, so keys a caller can invent (usernames, tenants)
//! cannot grow memory without bound; a cell left alone for a whole window
//! is dropped, which is what it would have refilled to anyway.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use moka::future::Cache;

/// A refused attempt: try again after this long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryAfter(pub Duration);

impl RetryAfter {
    /// Whole seconds, at least one, for the `Retry-After` header.
    pub fn seconds(self) -> u64 {
        self.0.as_secs_f64().ceil().max(1.0) as u64
    }
}

/// One key's allowance: a burst of `burst` attempts, one more every `interval`.
#[derive(Debug, Clone, Copy)]
pub struct Rate {
    pub burst: u32,
    pub interval: Duration,
}

impl Rate {
    /// `count` attempts per minute, all of them available at once.
    pub fn per_minute(count: u32) -> Rate {
        let count = count.max(1);
        Rate {
            burst: count,
            interval: Duration::from_secs(60) / count,
        }
    }
}

/// The theoretical arrival time of the next attempt.
#[derive(Debug)]
struct Cell {
    tat: Instant,
}

impl Cell {
    /// Takes one attempt at `now`, or says how long until one is available.
    fn take(&mut self, rate: Rate, now: Instant) -> Result<(), RetryAfter> {
        // The burst tolerance: `burst` attempts fit before `tat` runs ahead.
        let tolerance = rate.interval * rate.burst.saturating_sub(1);
        let tat = self.tat.max(now);
        let earliest = tat.checked_sub(tolerance).unwrap_or(now);
        if earliest > now {
            return Err(RetryAfter(earliest - now));
        }
        self.tat = tat + rate.interval;
        Ok(())
    }

    /// Gives one attempt back.
    fn give_back(&mut self, rate: Rate) {
        self.tat = self.tat.checked_sub(rate.interval).unwrap_or(self.tat);
    }
}

/// The cells of one kind of key.
pub struct KeyedLimiter {
    rate: Rate,
    cells: Cache<String, Arc<Mutex<Cell>>>,
}

impl KeyedLimiter {
    /// At most `capacity` keys are remembered.
    pub fn new(rate: Rate, capacity: u64) -> KeyedLimiter {
        let idle = rate.interval * rate.burst;
        KeyedLimiter {
            rate,
            cells: Cache::builder()
                .max_capacity(capacity)
                .time_to_idle(idle.max(Duration::from_secs(1)))
                .build(),
        }
    }

    async fn cell(&self, key: &str) -> Arc<Mutex<Cell>> {
        self.cells
            .get_with_by_ref(key, async {
                Arc::new(Mutex::new(Cell {
                    tat: Instant::now(),
                }))
            })
            .await
    }

    /// Takes one attempt of `key`.
    pub async fn take(&self, key: &str) -> Result<(), RetryAfter> {
        take_all(&[(self, key)]).await
    }

    /// Takes one attempt of `key` at `rate` instead of the limiter's own
    /// (a key with its own allowance, such as a tenant's quota override).
    pub async fn take_at(&self, key: &str, rate: Rate) -> Result<(), RetryAfter> {
        let cell = self.cell(key).await;
        let mut locked = cell.lock().unwrap_or_else(|p| p.into_inner());
        locked.take(rate, Instant::now())
    }

    /// Gives `key` one attempt back.
    pub async fn give_back(&self, key: &str) {
        if let Ok(mut cell) = self.cell(key).await.lock() {
            cell.give_back(self.rate);
        }
    }

    /// Makes `key`'s allowance whole again.
    pub async fn forget(&self, key: &str) {
        self.cells.invalidate(key).await;
    }

    /// Keys remembered now (after pending evictions ran).
    pub async fn remembered(&self) -> u64 {
        self.cells.run_pending_tasks().await;
        self.cells.entry_count()
    }
}

/// Takes one attempt from every `(limiter, key)`, or from none of them.
pub async fn take_all(keys: &[(&KeyedLimiter, &str)]) -> Result<(), RetryAfter> {
    let mut cells = Vec::with_capacity(keys.len());
    for (limiter, key) in keys {
        cells.push((limiter.rate, limiter.cell(key).await));
    }
    let now = Instant::now();
    let mut taken: Vec<(Rate, &Arc<Mutex<Cell>>)> = Vec::with_capacity(cells.len());
    for (rate, cell) in &cells {
        let Ok(mut locked) = cell.lock() else {
            continue;
        };
        if let Err(retry) = locked.take(*rate, now) {
            drop(locked);
            for (rate, cell) in taken {
                if let Ok(mut cell) = cell.lock() {
                    cell.give_back(rate);
                }
            }
            return Err(retry);
        }
        taken.push((*rate, cell));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_burst_then_one_per_interval() {
        let limiter = KeyedLimiter::new(Rate::per_minute(3), 100);
        for _ in 0..3 {
            limiter.take("t").await.expect("within the burst");
        }
        let retry = limiter.take("t").await.expect_err("past the burst");
        assert!((19..=20).contains(&retry.seconds()), "{retry:?}");
        limiter.take("other").await.expect("keys are apart");
        let own = Rate::per_minute(1);
        limiter.take_at("own", own).await.expect("its own burst");
        assert!(limiter.take_at("own", own).await.is_err(), "its own rate");
        limiter.give_back("t").await;
        limiter.take("t").await.expect("given back");
    }

    #[tokio::test]
    async fn all_or_nothing_across_keys() {
        let (a, b) = (
            KeyedLimiter::new(Rate::per_minute(5), 100),
            KeyedLimiter::new(Rate::per_minute(1), 100),
        );
        take_all(&[(&a, "k"), (&b, "k")]).await.expect("first");
        take_all(&[(&a, "k"), (&b, "k")])
            .await
            .expect_err("b is spent");
        // a's attempt was given back: four more fit.
        for _ in 0..4 {
            a.take("k").await.expect("a kept its allowance");
        }
    }

    #[tokio::test]
    async fn memory_is_bounded() {
        let limiter = KeyedLimiter::new(Rate::per_minute(1), 100);
        for i in 0..2_000 {
            let _ = limiter.take(&format!("key-{i}")).await;
        }
        assert!(limiter.remembered().await <= 100);
    }
}
