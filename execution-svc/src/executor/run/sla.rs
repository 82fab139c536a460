//! A flow's SLAs, kept while its execution runs: a `MAX_DURATION` SLA
//! fires when the execution has run longer than its duration (counted from
//! its creation, as Kestra counts it), an `EXECUTION_ASSERTION` when its
//! expression is false at the end. A violation adds the SLA's labels and
//! logs it; `FAIL` and `CANCEL` then stop the execution (its running tasks
//! end KILLED) and end it FAILED or CANCELLED.
//!
//! An execution that waits without a worker (paused, or waiting for a
//! subflow) is woken at its next deadline, so the SLA fires on time then
//! too.

use aerie_common::kestra::sla::{Behavior, Kind, Sla};
use futures::future::BoxFuture;

use super::{Outcome, Run};
use crate::domain::template::is_truthy;
use crate::executor::StopReason;
use crate::repo;

impl Run<'_> {
    /// When each `MAX_DURATION` SLA of `slas` falls due.
    fn deadlines<'s>(&self, slas: &'s [Sla]) -> Vec<(chrono::DateTime<chrono::Utc>, &'s Sla)> {
        let mut due: Vec<_> = slas
            .iter()
            .filter_map(|sla| match sla.kind {
                Kind::MaxDuration(limit) => {
                    Some((self.created + chrono::TimeDelta::from_std(limit).ok()?, sla))
                }
                Kind::Assertion(_) => None,
            })
            .collect();
        due.sort_by_key(|(at, _)| *at);
        due
    }

    /// Runs `work` while watching the `MAX_DURATION` SLAs: one past due
    /// fires at once, the others when they fall due.
    pub(super) async fn watching_slas(
        &self,
        slas: &[Sla],
        work: BoxFuture<'_, Outcome>,
    ) -> Outcome {
        let mut due = self.deadlines(slas).into_iter().peekable();
        // Past due already (a paused execution woken at its deadline, a
        // run resumed after a restart): fired before any task runs, since
        // the work may end at its first poll.
        while let Some((at, sla)) = due.peek().copied() {
            if at > repo::now() {
                break;
            }
            due.next();
            if sla.behavior == Behavior::None && self.labelled_by(sla) {
                // Fired in an earlier run of this execution (its labels
                // are there): not logged again.
                continue;
            }
            self.violated(sla, exceeded(sla));
        }
        let mut work = work;
        loop {
            let Some((at, sla)) = due.peek().copied() else {
                return work.await;
            };
            let wait = (at - repo::now()).to_std().unwrap_or_default();
            tokio::select! {
                biased;
                _ = tokio::time::sleep(wait) => {
                    due.next();
                    self.violated(sla, exceeded(sla));
                }
                outcome = &mut work => return outcome,
            }
        }
    }

    /// Checks the `EXECUTION_ASSERTION` SLAs of an execution that ends
    /// with `outcome`; answers the outcome they leave.
    pub(super) async fn asserting_slas(&self, slas: &[Sla], outcome: Outcome) -> Outcome {
        let mut outcome = outcome;
        for sla in slas {
            let Kind::Assertion(assert) = &sla.kind else {
                continue;
            };
            let context = self.base.scope(&self.outputs, &[]);
            let problem = match self.render(assert, &context).await {
                Ok(rendered) if is_truthy(&rendered) => continue,
                Ok(rendered) => format!("its assertion is false ({})", rendered.trim()),
                Err(super::Failure::Stopped) => return outcome,
                Err(super::Failure::Error(why) | super::Failure::Refused(why)) => {
                    format!("its assertion cannot be evaluated: {why}")
                }
            };
            self.violated(sla, problem);
            outcome = outcome.max(match sla.behavior {
                Behavior::Fail => Outcome::Failed,
                Behavior::Cancel => Outcome::Cancelled,
                Behavior::None => outcome,
            });
        }
        outcome
    }

    /// Records a violation: the SLA's labels, a log line and, for FAIL and
    /// CANCEL, the stop that ends the execution so.
    fn violated(&self, sla: &Sla, why: String) {
        if !sla.labels.is_empty()
            && let Err(problem) = self.add_labels(sla.labels.clone())
        {
            let line = format!("SLA '{}': its labels are not added: {problem}", sla.id);
            self.lock_pending()
                .logs
                .push(self.log_line("", "", "WARN", line));
        }
        let (level, then) = match sla.behavior {
            Behavior::Fail => ("ERROR", "the execution fails"),
            Behavior::Cancel => ("ERROR", "the execution is cancelled"),
            Behavior::None => ("WARN", "its labels are added"),
        };
        let line = self.log_line(
            "",
            "",
            level,
            format!("SLA '{}' violated: {why}; {then}", sla.id),
        );
        self.lock_pending().logs.push(line);
        if sla.behavior != Behavior::None {
            let mut chosen = self.sla_behavior.lock().unwrap_or_else(|p| p.into_inner());
            chosen.get_or_insert(sla.behavior);
            self.stop.stop(StopReason::Sla);
        }
    }

    /// Whether the execution carries every label of `sla` already.
    fn labelled_by(&self, sla: &Sla) -> bool {
        let labels = self.labels.lock().unwrap_or_else(|p| p.into_inner());
        !sla.labels.is_empty() && sla.labels.iter().all(|(k, v)| labels.get(k) == Some(v))
    }

    /// How a run stopped by an SLA ends.
    pub(super) fn sla_outcome(&self) -> Outcome {
        match *self.sla_behavior.lock().unwrap_or_else(|p| p.into_inner()) {
            Some(Behavior::Cancel) => Outcome::Cancelled,
            _ => Outcome::Failed,
        }
    }

    /// Makes an execution that waits without a worker wake at its next
    /// `MAX_DURATION` deadline at the latest.
    pub(super) fn wake_for_slas(&self, slas: &[Sla]) {
        let now = repo::now();
        if let Some((at, _)) = self.deadlines(slas).into_iter().find(|(at, _)| *at > now) {
            let mut wake = self.wake.lock().unwrap_or_else(|p| p.into_inner());
            if wake.is_none_or(|current| at < current) {
                *wake = Some(at);
            }
        }
    }
}

/// Why a `MAX_DURATION` SLA is violated, its limit in ISO-8601.
fn exceeded(sla: &Sla) -> String {
    let limit = match sla.kind {
        Kind::MaxDuration(limit) => limit.as_secs_f64(),
        Kind::Assertion(_) => 0.0,
    };
    format!("the execution ran longer than its maximum duration (PT{limit}S)")
}
