//! Retries with `behavior: CREATE_NEW_EXECUTION`: a task failing under such
//! a policy is not retried in place; when the execution then ends FAILED,
//! it ends RETRIED instead and a new execution of the same flow revision
//! (same inputs, labels and trigger) is accepted in the same write, to
//! start after the policy's delay. Attempts (`maxAttempt`) and
//! `maxDuration` count across the executions, from the first one's
//! creation, as in Kestra.

use std::sync::Arc;

use aerie_common::kestra::retry::Retry;

use super::{NewLog, Run};
use crate::domain::ExecutionId;
use crate::domain::plan::Plan;
use crate::executor::{NewExecution, StartedBy};
use crate::repo;

/// The execution a retry starts, and when (epoch milliseconds).
pub(super) struct Retried {
    pub(super) new: NewExecution,
    pub(super) at_millis: i64,
}

impl Run<'_> {
    /// Notes that a task failed under a `CREATE_NEW_EXECUTION` policy (the
    /// first such policy decides).
    pub(super) fn retry_in_new_execution(&self, policy: &Arc<Retry>) {
        self.new_execution_policy
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_or_insert_with(|| policy.clone());
    }

    /// For a FAILED end: the new execution its retry policy asks for, held
    /// for [`Run::end`] to write; a log line says why there is none when
    /// the policy is spent or the tenant's quota refuses it.
    pub(super) async fn plan_new_execution(
        &self,
        plan: &Plan,
        source: &str,
        logs: &mut Vec<NewLog>,
    ) {
        let Some(policy) = self
            .new_execution_policy
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
        else {
            return;
        };
        let since_first = (repo::now() - self.first_attempt)
            .to_std()
            .unwrap_or_default();
        let attempt = self.attempt_number.max(1);
        let Some(delay) = policy.next_delay(attempt as u32, since_first) else {
            logs.push(self.log_line(
                "",
                "",
                "WARN",
                format!("attempt {attempt} failed; the retry policy allows no more executions"),
            ));
            return;
        };
        if let Err(refused) = self.engine.admission.admit(self.tenant).await {
            logs.push(self.log_line(
                "",
                "",
                "ERROR",
                format!("attempt {attempt} failed; no new execution: {refused}"),
            ));
            return;
        }
        let labels = self
            .labels
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let id = ExecutionId::generate();
        logs.push(self.log_line(
            "",
            "",
            "WARN",
            format!(
                "attempt {attempt} failed; retrying in a new execution {id} in {}s",
                delay.as_secs_f64()
            ),
        ));
        let new = NewExecution {
            id,
            namespace: self.namespace.clone(),
            flow_id: self.flow_id.clone(),
            flow_revision: self.flow_revision,
            flow_source: source.to_owned(),
            inputs: self.inputs.clone(),
            labels,
            started_by: StartedBy::Retry {
                trigger: self.trigger.clone(),
                attempt: attempt + 1,
                first: self.first_attempt,
                parent: self.parent.clone(),
                parent_task_run: self.parent_task_run.clone(),
            },
            concurrency: plan.concurrency,
        };
        let at = repo::now() + chrono::TimeDelta::from_std(delay).unwrap_or_default();
        *self.retried.lock().unwrap_or_else(|p| p.into_inner()) = Some(Retried {
            new,
            at_millis: at.timestamp_millis(),
        });
    }
}
