//! Slows down password guessing: after a few failures for one username or
//! one source, each further attempt waits longer (up to a cap), until a
//! success (per user) or a quiet period.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures allowed before attempts slow down.
const FREE_FAILURES: u32 = 3;
/// Delay of the first slowed attempt; it doubles per failure.
const BASE_DELAY: Duration = Duration::from_millis(250);
/// Longest delay.
const MAX_DELAY: Duration = Duration::from_secs(5);
/// Failures are forgotten after this long without a new one.
const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Entries kept at most; the oldest are dropped beyond it.
const MAX_ENTRIES: usize = 100_000;

/// Failure counts per key (`user:<name>` or `source:<address>`).
#[derive(Default)]
pub struct Throttle {
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

impl Throttle {
    /// How long an attempt for these keys must wait first.
    pub fn delay(&self, keys: &[String]) -> Duration {
        let Ok(failures) = self.failures.lock() else {
            return MAX_DELAY;
        };
        keys.iter()
            .filter_map(|key| failures.get(key))
            .filter(|(_, last)| last.elapsed() < WINDOW)
            .map(|(count, _)| delay_for(*count))
            .max()
            .unwrap_or(Duration::ZERO)
    }

    /// Records a failed attempt for each key.
    pub fn failed(&self, keys: &[String]) {
        if let Ok(mut failures) = self.failures.lock() {
            if failures.len() >= MAX_ENTRIES {
                failures.retain(|_, (_, last)| last.elapsed() < WINDOW);
            }
            for key in keys {
                let entry = failures.entry(key.clone()).or_insert((0, Instant::now()));
                if entry.1.elapsed() >= WINDOW {
                    entry.0 = 0;
                }
                entry.0 += 1;
                entry.1 = Instant::now();
            }
        }
    }

    /// Forgets failures for a key (a successful login of that user).
    pub fn succeeded(&self, key: &str) {
        if let Ok(mut failures) = self.failures.lock() {
            failures.remove(key);
        }
    }
}

fn delay_for(failures: u32) -> Duration {
    if failures < FREE_FAILURES {
        return Duration::ZERO;
    }
    let doublings = (failures - FREE_FAILURES).min(10);
    (BASE_DELAY * 2u32.pow(doublings)).min(MAX_DELAY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_after_free_failures_and_reset_on_success() {
        let throttle = Throttle::default();
        let keys = ["user:alice".to_owned(), "source:10.0.0.1".to_owned()];
        for _ in 0..FREE_FAILURES {
            assert_eq!(throttle.delay(&keys), Duration::ZERO);
            throttle.failed(&keys);
        }
        assert_eq!(throttle.delay(&keys), BASE_DELAY);
        throttle.failed(&keys);
        assert_eq!(throttle.delay(&keys), BASE_DELAY * 2);
        for _ in 0..20 {
            throttle.failed(&keys);
        }
        assert_eq!(throttle.delay(&keys), MAX_DELAY);
        throttle.succeeded("user:alice");
        assert_eq!(throttle.delay(&keys[..1]), Duration::ZERO);
        assert_eq!(throttle.delay(&keys), MAX_DELAY, "the source stays slowed");
    }
}
