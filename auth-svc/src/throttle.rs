//! Password guessing and login floods, bounded.
//!
//! - Failed logins are rate limited per account, per source, and per
//!   account from one source, with a generic cell rate algorithm: each key
//!   has a burst of attempts and regains one every interval. An attempt takes
//!   its allowance before the password is checked (so parallel guesses
//!   cannot all slip through) and gives it back when it succeeds. Past the
//!   limit the answer is 429 with Retry-After, at once, without hashing.
//! - Password hashing (about 19 MiB and tens of milliseconds each) runs at
//!   most once per core at a time; a source has only a few attempts in
//!   flight, and a bounded number wait. Everything beyond is shed with 429,
//!   so memory stays flat and one source's flood does not queue another's
//!   login behind it.
//! - The limiters live in bounded caches: keys an attacker can invent
//!   (usernames) cannot grow memory without bound.
//! - Hashing runs on a few threads of its own, one per slot, not on tokio's
//!   blocking pool: each thread's allocator arena reuses its one 19 MiB
//!   buffer, instead of every fresh blocking thread keeping one more.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

type Job = Box<dyn FnOnce() + Send>;

/// The threads password hashing runs on.
struct HashThreads {
    jobs: Mutex<std::sync::mpsc::Sender<Job>>,
}

impl HashThreads {
    fn new(count: usize) -> HashThreads {
        let (jobs, queue) = std::sync::mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for i in 0..count {
            let queue = queue.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("password-hash-{i}"))
                .spawn(move || {
                    loop {
                        // One worker waits on the queue at a time; the lock
                        // is released as soon as it has its job.
                        let job = match queue.lock() {
                            Ok(queue) => queue.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                });
            if let Err(err) = spawned {
                tracing::error!(%err, "cannot start a password hashing thread");
            }
        }
        HashThreads {
            jobs: Mutex::new(jobs),
        }
    }

    /// Runs `work` on a hashing thread; `None` when none is left.
    async fn run<R: Send + 'static>(&self, work: impl FnOnce() -> R + Send + 'static) -> Option<R> {
        let (done, result) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = done.send(work());
        });
        self.jobs.lock().ok()?.send(job).ok()?;
        result.await.ok()
    }
}

use aerie_common::rate::{KeyedLimiter, take_all};
pub use aerie_common::rate::{Rate, RetryAfter};

/// How logins are limited; [`LoginGuard::default`] is the production setting.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Failures of one account from any source.
    pub per_account: Rate,
    /// Failures from one source, whatever the account.
    pub per_source: Rate,
    /// Failures of one account from one source.
    pub per_account_source: Rate,
    /// Password checks running at once.
    pub hashing: usize,
    /// Attempts of one source in flight (running or waiting).
    pub in_flight_per_source: u32,
    /// Attempts waiting for a hashing slot, over all sources.
    pub waiting: usize,
    /// Longest wait for a hashing slot before shedding.
    pub max_wait: Duration,
    /// Keys remembered per kind (account, source, pair) at most.
    pub capacity: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Limits {
            per_account: Rate {
                burst: 50,
                interval: Duration::from_secs(6),
            },
            per_source: Rate {
                burst: 30,
                interval: Duration::from_secs(2),
            },
            per_account_source: Rate {
                burst: 10,
                interval: Duration::from_secs(30),
            },
            hashing: cores,
            in_flight_per_source: 4,
            waiting: 16 * cores,
            max_wait: Duration::from_secs(5),
            capacity: 100_000,
        }
    }
}

/// Why an attempt is not even checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Too many failures for this account or source.
    TooManyFailures(RetryAfter),
    /// Too many attempts at once; the server sheds load.
    Busy(RetryAfter),
}

/// The keys of one attempt, in the order they are locked.
struct Keys {
    account_source: String,
    source: String,
    account: String,
}

/// The admission of one login attempt; see the module documentation.
pub struct LoginGuard {
    limits: Limits,
    account_source: KeyedLimiter,
    source: KeyedLimiter,
    account: KeyedLimiter,
    hashing: Arc<Semaphore>,
    threads: HashThreads,
    in_flight: Mutex<HashMap<String, u32>>,
}

impl Default for LoginGuard {
    fn default() -> LoginGuard {
        LoginGuard::new(Limits::default())
    }
}

/// One admitted attempt: holds its source's in-flight slot until dropped.
pub struct Attempt<'a> {
    guard: &'a LoginGuard,
    keys: Keys,
}

impl LoginGuard {
    pub fn new(limits: Limits) -> LoginGuard {
        LoginGuard {
            limits,
            account_source: KeyedLimiter::new(limits.per_account_source, limits.capacity),
            source: KeyedLimiter::new(limits.per_source, limits.capacity),
            account: KeyedLimiter::new(limits.per_account, limits.capacity),
            hashing: Arc::new(Semaphore::new(limits.hashing.max(1))),
            threads: HashThreads::new(limits.hashing.max(1)),
            in_flight: Mutex::new(HashMap::new()),
        }
    }

    /// Admits an attempt of `account` from `source`, taking its allowance.
    pub async fn admit(&self, account: &str, source: &str) -> Result<Attempt<'_>, Refusal> {
        let keys = Keys {
            account_source: format!("{account}\u{0}{source}"),
            source: source.to_owned(),
            account: account.to_owned(),
        };
        self.enter(&keys.source)?;
        let attempt = Attempt { guard: self, keys };
        self.take(&attempt.keys).await?;
        Ok(attempt)
    }

    /// A hashing slot for a password check or a new hash (user creation),
    /// waited for at most `max_wait`.
    pub async fn hashing_slot(&self) -> Result<OwnedSemaphorePermit, Refusal> {
        let slot = self.hashing.clone().acquire_owned();
        match tokio::time::timeout(self.limits.max_wait, slot).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(Refusal::Busy(RetryAfter(Duration::from_secs(1)))),
        }
    }

    /// Runs password hashing `work` in a hashing slot, on a hashing thread.
    pub async fn hash<R: Send + 'static>(
        &self,
        work: impl FnOnce() -> R + Send + 'static,
    ) -> Result<R, Refusal> {
        let _slot = self.hashing_slot().await?;
        self.threads
            .run(work)
            .await
            .ok_or(Refusal::Busy(RetryAfter(Duration::from_secs(1))))
    }

    fn enter(&self, source: &str) -> Result<(), Refusal> {
        let busy = Refusal::Busy(RetryAfter(Duration::from_secs(1)));
        let Ok(mut in_flight) = self.in_flight.lock() else {
            return Err(busy);
        };
        let total: u32 = in_flight.values().sum();
        let cap = (self.limits.hashing + self.limits.waiting) as u32;
        let mine = in_flight.entry(source.to_owned()).or_insert(0);
        if *mine >= self.limits.in_flight_per_source || total >= cap {
            if *mine == 0 {
                in_flight.remove(source);
            }
            return Err(busy);
        }
        *mine += 1;
        Ok(())
    }

    fn leave(&self, source: &str) {
        if let Ok(mut in_flight) = self.in_flight.lock()
            && let Some(count) = in_flight.get_mut(source)
        {
            *count -= 1;
            if *count == 0 {
                in_flight.remove(source);
            }
        }
    }

    /// Takes one attempt from every key, or none of them.
    async fn take(&self, keys: &Keys) -> Result<(), Refusal> {
        take_all(&[
            (&self.account_source, &keys.account_source),
            (&self.source, &keys.source),
            (&self.account, &keys.account),
        ])
        .await
        .map_err(Refusal::TooManyFailures)
    }
}

impl Attempt<'_> {
    /// The password was right: the account's allowance is whole again, and
    /// the source gets its attempt back.
    pub async fn succeeded(&self) {
        let guard = self.guard;
        guard.account_source.forget(&self.keys.account_source).await;
        guard.account.forget(&self.keys.account).await;
        guard.source.give_back(&self.keys.source).await;
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        self.guard.leave(&self.keys.source);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(burst: u32) -> Limits {
        let rate = Rate {
            burst,
            interval: Duration::from_secs(60),
        };
        Limits {
            per_account: rate,
            per_source: Rate {
                burst: burst * 10,
                interval: Duration::from_secs(60),
            },
            per_account_source: rate,
            hashing: 1,
            in_flight_per_source: 100,
            waiting: 100,
            max_wait: Duration::from_millis(50),
            capacity: 1_000,
        }
    }

    #[tokio::test]
    async fn failures_past_the_burst_are_refused_with_a_retry_time() {
        let guard = LoginGuard::new(limits(3));
        for _ in 0..3 {
            guard
                .admit("henry", "10.0.0.1")
                .await
                .expect("within burst");
        }
        match guard.admit("henry", "10.0.0.1").await {
            Err(Refusal::TooManyFailures(retry)) => assert!(retry.seconds() >= 59, "{retry:?}"),
            Err(other) => panic!("refused for {other:?}"),
            Ok(_) => panic!("fourth failure admitted"),
        }
        // Another account from the same source is still admitted.
        guard
            .admit("ivan", "10.0.0.1")
            .await
            .expect("other account");
    }

    #[tokio::test]
    async fn a_success_restores_the_accounts_allowance() {
        let guard = LoginGuard::new(limits(2));
        guard.admit("henry", "s").await.expect("first");
        let attempt = guard.admit("henry", "s").await.expect("second");
        attempt.succeeded().await;
        drop(attempt);
        guard.admit("henry", "s").await.expect("after a success");
        guard.admit("henry", "s").await.expect("whole burst again");
    }

    #[tokio::test]
    async fn parallel_guesses_cannot_all_slip_through() {
        let guard = Arc::new(LoginGuard::new(limits(5)));
        let mut tasks = Vec::new();
        for _ in 0..30 {
            let guard = guard.clone();
            tasks.push(tokio::spawn(async move {
                guard.admit("henry", "s").await.map(|_| ()).is_ok()
            }));
        }
        let mut admitted = 0;
        for task in tasks {
            admitted += usize::from(task.await.expect("task"));
        }
        assert_eq!(admitted, 5);
    }

    #[tokio::test]
    async fn one_source_holds_only_a_few_attempts_in_flight() {
        let mut limits = limits(100);
        limits.in_flight_per_source = 2;
        let guard = LoginGuard::new(limits);
        let first = guard.admit("a", "flood").await.expect("first");
        let _second = guard.admit("b", "flood").await.expect("second");
        assert!(matches!(
            guard.admit("c", "flood").await,
            Err(Refusal::Busy(_))
        ));
        // Another source is not queued behind the flood.
        guard
            .admit("henry", "elsewhere")
            .await
            .expect("other source");
        drop(first);
        guard.admit("d", "flood").await.expect("a slot came back");
    }

    #[tokio::test]
    async fn hashing_slots_are_bounded_and_shed_after_waiting() {
        let guard = LoginGuard::new(limits(100));
        let held = guard.hashing_slot().await.expect("one slot");
        assert!(matches!(guard.hashing_slot().await, Err(Refusal::Busy(_))));
        drop(held);
        let _slot = guard.hashing_slot().await.expect("free again");
    }

    #[tokio::test]
    async fn the_limiters_memory_is_bounded() {
        let guard = LoginGuard::new(limits(1));
        for i in 0..5_000 {
            let _ = guard.admit(&format!("user{i}"), "s").await;
        }
        assert!(guard.in_flight.lock().expect("lock").is_empty());
        let kept = guard.account.remembered().await;
        assert!(kept <= 1_000, "{kept} accounts remembered");
    }
}
