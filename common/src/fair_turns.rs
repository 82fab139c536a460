//! Turns at a shared resource handed out round-robin between lanes (one lane
//! per tenant, one for the instance's own work), first come first served
//! within a lane. A lane with a hundred waiting writers gets one turn in
//! each round like a lane with one: a tenant flooding the resource delays
//! its neighbours by at most one of its turns, never by its whole backlog.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

/// The lane of the instance's own work (claims, lease renewals).
pub const INSTANCE_LANE: &str = "";

/// Turns at one resource; `permits` holders at once.
pub struct FairTurns {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Turns free now.
    free: usize,
    /// Waiters of each lane, oldest first.
    waiting: HashMap<String, VecDeque<oneshot::Sender<()>>>,
    /// Lanes with waiters, in the order their next turn comes.
    order: VecDeque<String>,
}

/// A turn; the next one is handed out when it is dropped.
pub struct Turn {
    turns: Arc<FairTurns>,
}

impl Drop for Turn {
    fn drop(&mut self) {
        self.turns.hand_on();
    }
}

/// A waiter that may be dropped (its caller cancelled) after its turn was
/// handed to it but before it saw it: the turn then goes on.
struct Waiting {
    turns: Arc<FairTurns>,
    granted: Option<oneshot::Receiver<()>>,
}

impl Drop for Waiting {
    fn drop(&mut self) {
        if let Some(mut granted) = self.granted.take() {
            granted.close();
            if granted.try_recv().is_ok() {
                self.turns.hand_on();
            }
        }
    }
}

impl FairTurns {
    pub fn new(permits: usize) -> Arc<FairTurns> {
        Arc::new(FairTurns {
            state: Mutex::new(State {
                free: permits.max(1),
                ..State::default()
            }),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits for a turn in `lane`.
    pub async fn turn(self: &Arc<Self>, lane: &str) -> Turn {
        let granted = {
            let mut state = self.lock();
            if state.free > 0 && state.order.is_empty() {
                state.free -= 1;
                return Turn {
                    turns: self.clone(),
                };
            }
            let (grant, granted) = oneshot::channel();
            let queue = state.waiting.entry(lane.to_owned()).or_default();
            queue.push_back(grant);
            if queue.len() == 1 {
                state.order.push_back(lane.to_owned());
            }
            granted
        };
        let mut waiting = Waiting {
            turns: self.clone(),
            granted: Some(granted),
        };
        let receiver = waiting.granted.as_mut().expect("set above");
        // The sender lives in the state until it is used, so this only
        // fails if the turns were dropped, which their Arc prevents.
        let _ = receiver.await;
        waiting.granted = None;
        Turn {
            turns: self.clone(),
        }
    }

    /// Gives a freed turn to the first waiter of the next lane, or frees it.
    fn hand_on(&self) {
        let mut state = self.lock();
        while let Some(lane) = state.order.pop_front() {
            let Some(queue) = state.waiting.get_mut(&lane) else {
                continue;
            };
            let next = queue.pop_front();
            if queue.is_empty() {
                state.waiting.remove(&lane);
            } else {
                state.order.push_back(lane);
            }
            // A waiter that gave up has dropped its receiver: try the next.
            if let Some(next) = next
                && next.send(()).is_ok()
            {
                return;
            }
        }
        state.free += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// Records the lane of each turn taken, in order.
    async fn taken_order(turns: &Arc<FairTurns>, lanes: &[&str]) -> Vec<String> {
        let first = turns.turn("holder").await;
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut waiters = Vec::new();
        for lane in lanes {
            let (turns, order, lane) = (turns.clone(), order.clone(), lane.to_string());
            waiters.push(tokio::spawn(async move {
                let _turn = turns.turn(&lane).await;
                order.lock().unwrap().push(lane);
            }));
            // Queue them in the order given.
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        drop(first);
        for waiter in waiters {
            waiter.await.unwrap();
        }
        Arc::try_unwrap(order)
            .expect("every waiter ended")
            .into_inner()
            .unwrap()
    }

    #[tokio::test]
    async fn a_flooding_lane_gets_one_turn_per_round() {
        let turns = FairTurns::new(1);
        let order = taken_order(&turns, &["noisy", "noisy", "noisy", "noisy", "quiet", ""]).await;
        assert_eq!(order, ["noisy", "quiet", "", "noisy", "noisy", "noisy"]);
    }

    #[tokio::test]
    async fn a_cancelled_waiter_does_not_keep_the_turn() {
        let turns = FairTurns::new(1);
        let held = turns.turn("a").await;
        let gave_up = tokio::time::timeout(Duration::from_millis(10), turns.turn("b")).await;
        assert!(gave_up.is_err());
        drop(held);
        // The turn is free again, not lost with the waiter that left.
        tokio::time::timeout(Duration::from_secs(1), turns.turn("c"))
            .await
            .expect("the turn was handed on");
    }

    #[tokio::test]
    async fn permits_bound_the_holders() {
        let turns = FairTurns::new(2);
        let (_a, _b) = (turns.turn("a").await, turns.turn("a").await);
        let third = tokio::time::timeout(Duration::from_millis(10), turns.turn("b")).await;
        assert!(third.is_err(), "a third holder got in");
        drop(_a);
        tokio::time::timeout(Duration::from_secs(1), turns.turn("b"))
            .await
            .expect("a freed permit is handed on");
    }
}
