//! Whether executions arrive so fast that the claimer should wait a moment
//! before claiming, so that one claim takes several (the claimer also
//! waits while every worker is busy; see `Engine::work`).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// The window over which arrivals are counted.
const WINDOW: Duration = Duration::from_millis(50);
/// Executions claimed within [`WINDOW`] from which the instance counts as
/// busy: 5 in 50 ms, 100 a second (6,000 a minute).
const BUSY_AT: usize = 5;
/// How long the claimer lets executions gather when busy.
pub(super) const GATHER_FOR: Duration = Duration::from_millis(4);

/// The recent claims that found executions. Waiting before a claim trades
/// every execution's latency for fewer claim statements (the database's
/// costliest per execution), which pays only at a high rate. A wake-up
/// soon after the last claim is not enough to say so: one tenant's
/// executions ending and starting wake the claimer often, and the few
/// executions of its neighbours would each wait for nothing.
#[derive(Debug, Default)]
pub(super) struct ClaimPace {
    claimed_at: VecDeque<Instant>,
}

impl ClaimPace {
    /// Notes a claim at `now` that found `executions`.
    pub(super) fn claimed(&mut self, executions: usize, now: Instant) {
        for _ in 0..executions.min(BUSY_AT) {
            self.claimed_at.push_back(now);
        }
        self.forget_before(now);
    }

    /// Whether executions arrive fast enough, as of `now`, for the claimer
    /// to let them gather.
    pub(super) fn busy(&mut self, now: Instant) -> bool {
        self.forget_before(now);
        self.claimed_at.len() >= BUSY_AT
    }

    fn forget_before(&mut self, now: Instant) {
        while self
            .claimed_at
            .front()
            .is_some_and(|at| now.duration_since(*at) > WINDOW)
        {
            self.claimed_at.pop_front();
        }
        while self.claimed_at.len() > BUSY_AT {
            self.claimed_at.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_few_executions_now_and_then_never_wait() {
        let start = Instant::now();
        let mut pace = ClaimPace::default();
        // Thirty a second, one per claim, woken every 33 ms: not busy.
        for i in 0..100 {
            let now = start + ms(33 * i);
            assert!(!pace.busy(now), "at claim {i}");
            pace.claimed(1, now);
        }
        // Empty claims (an execution ended, nothing queued) count nothing.
        for i in 0..100 {
            pace.claimed(0, start + ms(3300 + i));
        }
        assert!(!pace.busy(start + ms(3400)));
    }

    #[test]
    fn a_high_rate_gathers_until_it_falls() {
        let start = Instant::now();
        let mut pace = ClaimPace::default();
        // 200 a second, one every 5 ms.
        for i in 0..4 {
            pace.claimed(1, start + ms(5 * i));
        }
        assert!(!pace.busy(start + ms(16)), "four in 50 ms are not enough");
        pace.claimed(1, start + ms(20));
        assert!(pace.busy(start + ms(21)));
        // One claim that found many counts as many.
        let mut burst = ClaimPace::default();
        burst.claimed(40, start);
        assert!(burst.busy(start + ms(1)));
        // Quiet for longer than the window: no longer busy.
        assert!(!pace.busy(start + ms(20) + WINDOW + ms(1)));
        assert!(!burst.busy(start + WINDOW + ms(1)));
    }
}
