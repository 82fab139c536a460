//! The Subflow task: start another flow's execution in the same tenant
//! and, with `wait` (the default), end as it ends.
//!
//! The child execution is accepted in the same write as the task run that
//! names it, so a crash never starts it twice nor loses it. While the child
//! runs, the parent holds no worker: its job is parked (see
//! [`Run::park_for_subflows`]) and the child's end wakes it in the write
//! that ends the child.

use std::collections::BTreeMap;

use aerie_proto::flow::v1 as flow_pb;
use serde_json::{Map, Value, json};

use super::{Failure, Outcome, Run, RunError, RunKey, parse_object};
use crate::domain::plan::Task;
use crate::domain::{ExecutionId, State, push_history};
use crate::executor::{CORRELATION_ID, NewExecution, StartedBy};
use crate::repo::entities::{executions, task_runs};
use crate::repo::{self, TenantTxn, queue};
use aerie_common::kestra::tasks::SubflowCall;

/// Executions in a chain of subflows, the first included: a flow that
/// calls itself stops here instead of running forever.
pub(super) const MAX_SUBFLOW_DEPTH: usize = 10;

/// How long a parent waits parked before looking at its subflows again by
/// itself; normally the end of the subflow wakes it at once.
const RECHECK: chrono::TimeDelta = chrono::TimeDelta::minutes(5);

/// The flow a subflow task starts, with its plan.
pub(super) struct Target {
    flow: flow_pb::Flow,
    plan: std::sync::Arc<crate::domain::plan::Plan>,
}

/// Where a subflow execution stands, for the task waiting on it.
enum Child {
    Running,
    Ended { state: State, outputs: Value },
    Gone,
}

impl Run<'_> {
    /// Runs a Subflow task, or looks again at the subflow it waits for.
    pub(super) async fn subflow(
        &self,
        task: &Task,
        call: &SubflowCall,
        parent: &str,
        key: RunKey,
        existing: Option<task_runs::Model>,
    ) -> Outcome {
        let now = repo::now();
        let wait = call.wait;
        // RUNNING with a child named: this run waits for it. Anything else
        // (new, failed before a restart) starts a new subflow execution.
        let mut waiting_on = existing
            .as_ref()
            .filter(|r| r.state == State::Running.as_str())
            .and_then(|r| {
                parse_object(&r.outputs)
                    .get("executionId")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            });
        let mut row = existing.unwrap_or_else(|| self.new_run(parent, task, &key.2, now));
        let mut logs = Vec::new();
        loop {
            let Some(child) = waiting_on.take() else {
                row.start_time = Some(repo::now());
                row.attempts += 1;
                row.state = State::Running.as_str().to_owned();
                row.histories = push_history(&row.histories, State::Running, repo::now());
                row.update_time = repo::now();
                let context = self.context(&row, task);
                if let Some(condition) = &task.run_if {
                    match self.render(condition, &context).await {
                        Ok(rendered) if !crate::domain::template::is_truthy(&rendered) => {
                            return self
                                .finish(row, key, task, State::Skipped, json!({}), logs)
                                .await;
                        }
                        Ok(_) => {}
                        Err(Failure::Stopped) => return self.stopped(),
                        Err(Failure::Error(message) | Failure::Refused(message)) => {
                            logs.push(self.log_line(
                                &row.id,
                                &task.id,
                                "ERROR",
                                format!("runIf: {message}"),
                            ));
                            return self.fail(row, key, task, logs).await;
                        }
                    }
                }
                let new = match self.new_subflow(task, call, &row, &context).await {
                    Ok(new) => new,
                    Err(Failure::Stopped) => return self.stopped(),
                    Err(Failure::Error(message) | Failure::Refused(message)) => {
                        logs.push(self.log_line(&row.id, &task.id, "ERROR", message));
                        return self.fail(row, key, task, logs).await;
                    }
                };
                let id = new.id.clone();
                row.outputs = json!({"executionId": id.as_str()}).to_string();
                let line = format!(
                    "started subflow execution {id} of {}/{}",
                    new.namespace, new.flow_id
                );
                logs.push(self.log_line(&row.id, &task.id, "INFO", line));
                if !self
                    .start_child(new, &key, &row, std::mem::take(&mut logs))
                    .await
                {
                    return Outcome::Stopped;
                }
                if !wait {
                    let outputs = json!({"executionId": id.as_str()});
                    return self
                        .finish(row, key, task, State::Success, outputs, Vec::new())
                        .await;
                }
                waiting_on = Some(id.as_str().to_owned());
                continue;
            };
            let (state, child_outputs) = match self.child(&child).await {
                Ok(Child::Running) => {
                    self.lock_waiting().push(child);
                    return Outcome::Waiting;
                }
                Ok(Child::Ended { state, outputs }) => (state, outputs),
                Ok(Child::Gone) => {
                    let message = format!("the subflow execution {child} no longer exists");
                    logs.push(self.log_line(&row.id, &task.id, "ERROR", message));
                    return self.fail(row, key, task, logs).await;
                }
                Err(err) => {
                    self.record_failure(err);
                    return Outcome::Stopped;
                }
            };
            let state = ended_as(state, call.transmit_failed);
            let mut outputs =
                json!({"executionId": child, "state": state_of_child(&child_outputs, state)});
            if let Some(values) = child_outputs.get("outputs").filter(|o| has_entries(o)) {
                outputs["outputs"] = values.clone();
            }
            if !call.outputs.is_empty() {
                match self.subflow_outputs(&child, &call.outputs).await {
                    Ok(values) => {
                        let mut all = match outputs.get("outputs") {
                            Some(Value::Object(flow_outputs)) => flow_outputs.clone(),
                            _ => serde_json::Map::new(),
                        };
                        all.extend(values);
                        outputs["outputs"] = Value::Object(all);
                    }
                    Err(Failure::Stopped) => return self.stopped(),
                    Err(Failure::Error(message) | Failure::Refused(message)) => {
                        let message = format!("outputs: {message}");
                        logs.push(self.log_line(&row.id, &task.id, "ERROR", message));
                        row.outputs = outputs.to_string();
                        return self.fail(row, key, task, logs).await;
                    }
                }
            }
            if state == State::Failed
                && let Some(retry) = task.retry.as_ref().filter(|r| r.new_execution)
            {
                // Retried as a whole, in a new execution.
                self.retry_in_new_execution(retry);
            } else if state == State::Failed
                && let Some(retry) = &task.retry
            {
                let since_first = (repo::now() - row.start_time.unwrap_or(now))
                    .to_std()
                    .unwrap_or_default();
                if let Some(delay) = retry.next_delay(row.attempts.max(1) as u32, since_first) {
                    let notice = format!(
                        "subflow execution {child} ended {}; attempt {} failed; retrying in {}s",
                        child_outputs["state"].as_str().unwrap_or("FAILED"),
                        row.attempts,
                        delay.as_secs_f64()
                    );
                    logs.push(self.log_line(&row.id, &task.id, "WARN", notice));
                    let at = repo::now();
                    row.state = State::Retrying.as_str().to_owned();
                    row.histories = push_history(&row.histories, State::Retrying, at);
                    row.outputs = outputs.to_string();
                    row.update_time = at;
                    self.lock_runs().insert(key.clone(), row.clone());
                    let kept = self.kept_logs(task, std::mem::take(&mut logs));
                    if !self.persist(row.clone(), kept).await {
                        return Outcome::Stopped;
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        _ = self.stop.stopped() => return self.stopped(),
                    }
                    continue;
                }
            }
            let state = match state {
                State::Failed if task.allow_failure => State::Warning,
                other => other,
            };
            return self.finish(row, key, task, state, outputs, logs).await;
        }
    }

    /// The subflow execution a Subflow task asks for, checked as one
    /// created through the API is (its inputs, labels and the tenant's
    /// quotas), not written yet.
    async fn new_subflow(
        &self,
        task: &Task,
        call: &SubflowCall,
        row: &task_runs::Model,
        context: &super::Scope,
    ) -> Result<NewExecution, Failure> {
        let target = self.subflow_target(call, context).await?;
        self.engine
            .admission
            .admit(self.tenant)
            .await
            .map_err(|err| Failure::Refused(err.to_string()))?;
        self.child_execution(task, call, row, context, &target, None)
            .await
    }

    /// The flow a Subflow (or ForEachItem) task starts, looked up in this
    /// execution's tenant: `namespace`, `flowId` and `revision` rendered,
    /// the chain of subflows checked, the flow enabled and runnable.
    pub(super) async fn subflow_target(
        &self,
        call: &SubflowCall,
        context: &super::Scope,
    ) -> Result<Target, Failure> {
        let namespace = self.render(&call.namespace, context).await?;
        let flow_id = self.render(&call.flow_id, context).await?;
        let revision = match &call.revision {
            None => 0,
            Some(text) => {
                let rendered = self.render(text, context).await?;
                match rendered.trim().parse::<i32>() {
                    Ok(n) if n >= 1 => n,
                    _ => {
                        return Err(format!(
                            "revision '{rendered}' is not a whole number, 1 or more"
                        )
                        .into());
                    }
                }
            }
        };
        self.check_depth().await?;
        let request = aerie_proto::flow::internal::v1::GetSubflowRequest {
            namespace: namespace.clone(),
            id: flow_id.clone(),
            revision,
            flow_namespace: self.namespace.clone(),
        };
        let flow = self
            .engine
            .flows
            .clone()
            .get_subflow(self.engine.internal(self.tenant, request))
            .await
            .map_err(|status| match status.code() {
                tonic::Code::NotFound => Failure::Error(format!(
                    "Unable to find flow '{namespace}'.'{flow_id}'{}",
                    match revision {
                        0 => String::new(),
                        n => format!(" with revision '{n}'"),
                    }
                )),
                _ => Failure::Error(format!(
                    "subflow {namespace}/{flow_id}: {}",
                    status.message()
                )),
            })?
            .into_inner();
        if flow.disabled {
            return Err(
                format!("Cannot execute a flow which is disabled: {namespace}/{flow_id}").into(),
            );
        }
        let key = (
            self.tenant.storage_key().to_owned(),
            flow.namespace.clone(),
            flow.id.clone(),
            flow.revision,
        );
        let plan = self
            .engine
            .plan(key, &flow.source)
            .map_err(|err| format!("the subflow {namespace}/{flow_id} cannot run: {err}"))?;
        Ok(Target { flow, plan })
    }

    /// One execution of `target` for `task` (run `row`), its inputs and
    /// labels rendered in `context`; `iteration` is the batch number of a
    /// ForEachItem. Not admitted nor written yet.
    pub(super) async fn child_execution(
        &self,
        task: &Task,
        call: &SubflowCall,
        row: &task_runs::Model,
        context: &super::Scope,
        target: &Target,
        iteration: Option<usize>,
    ) -> Result<NewExecution, Failure> {
        let (flow, plan) = (&target.flow, &target.plan);
        let (namespace, flow_id) = (&flow.namespace, &flow.id);
        let given = match self
            .render_value(&Value::Object(call.inputs.clone()), context)
            .await?
        {
            Value::Object(rendered) => rendered,
            _ => Map::new(),
        };
        let inputs = self
            .engine
            .resolve_inputs(
                self.tenant,
                (namespace, flow_id, flow.revision),
                &plan.inputs,
                &given,
                &BTreeMap::new(),
            )
            .map_err(|problems| {
                // A problem quotes the value, trimmed or cut where masking
                // would not find it: not when a secret went into it.
                if self.carries_secret(&Value::Object(given.clone())) {
                    format!(
                        "inputs of {namespace}/{flow_id} do not fit the inputs that flow declares"
                    )
                } else {
                    format!("inputs of {namespace}/{flow_id}: {}", problems.join("; "))
                }
            })?;
        let labels = self.subflow_labels(call, context, &plan.labels).await?;
        // A secret stays masked only in the execution that resolved it: it
        // does not travel on in another execution's inputs or labels,
        // except into a SECRET input, which is sealed there.
        let secret = crate::executor::secret_inputs::secret_input_ids(&plan.inputs);
        let mut plain = given.clone();
        plain.retain(|id, _| !secret.contains(&id.as_str()));
        let labels_value = serde_json::to_value(&labels).unwrap_or_default();
        if self.carries_secret(&Value::Object(plain)) || self.carries_secret(&labels_value) {
            return Err(Failure::Refused(format!(
                "the inputs or labels of the subflow {namespace}/{flow_id} carry a secret's value: pass the secret's name, and let the subflow read it with secret()"
            )));
        }
        let id = ExecutionId::generate();
        let mut trigger = json!({
            "id": task.id,
            "type": task.type_name,
            "variables": {
                "executionId": self.id.as_str(),
                "namespace": self.namespace,
                "flowId": self.flow_id,
                "flowRevision": self.flow_revision,
            },
        });
        if let Some(iteration) = iteration {
            trigger["variables"]["taskRunIteration"] = json!(iteration);
        }
        Ok(NewExecution {
            id,
            namespace: flow.namespace.clone(),
            flow_id: flow.id.clone(),
            flow_revision: flow.revision,
            flow_source: flow.source.clone(),
            inputs,
            labels,
            started_by: StartedBy::Subflow {
                parent: self.id.clone(),
                task_run: row.id.clone(),
                trigger,
            },
            concurrency: plan.concurrency,
        })
    }

    /// The subflow's labels: its flow's, then this execution's (all of them
    /// with `inheritLabels`, else its system labels only, so the
    /// correlation id carries on), then the task's own, which win.
    async fn subflow_labels(
        &self,
        call: &SubflowCall,
        context: &super::Scope,
        flow_labels: &BTreeMap<String, String>,
    ) -> Result<BTreeMap<String, String>, Failure> {
        let mut labels = flow_labels.clone();
        let inherit = call.inherit_labels;
        let current = self
            .labels
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        labels.extend(
            current
                .into_iter()
                .filter(|(k, _)| inherit || k.starts_with("system.")),
        );
        let given = crate::domain::plan::labels(call.labels.as_ref());
        for (key, value) in given {
            let key = self.render(&key, context).await?;
            if key.starts_with("system.") && key != CORRELATION_ID {
                return Err(format!(
                    "System labels can only be set by Kestra itself, offending label: {key}={value}"
                )
                .into());
            }
            labels.insert(key, self.render(&value, context).await?);
        }
        crate::domain::check_labels(&labels)?;
        Ok(labels)
    }

    /// Refuses a subflow past [`MAX_SUBFLOW_DEPTH`] executions deep.
    async fn check_depth(&self) -> Result<(), Failure> {
        let Some(mut parent) = self.parent.clone() else {
            return Ok(());
        };
        let tx = TenantTxn::read(&self.engine.db, self.tenant)
            .await
            .map_err(|e| format!("subflow: {e}"))?;
        // This execution and its parent make two.
        let mut depth = 2;
        loop {
            if depth >= MAX_SUBFLOW_DEPTH {
                return Err(Failure::Refused(format!(
                    "a chain of subflows may be {MAX_SUBFLOW_DEPTH} executions deep; this one would be deeper (does a flow call itself?)"
                )));
            }
            let above = repo::executions::find(&tx, &parent)
                .await
                .map_err(|e| format!("subflow: {e}"))?
                .and_then(|row| row.parent_execution_id)
                .and_then(|id| ExecutionId::parse(&id).ok());
            match above {
                Some(next) => {
                    parent = next;
                    depth += 1;
                }
                None => return Ok(()),
            }
        }
    }

    /// Whether an execution above this one (the chain of parents that
    /// started it) is being killed or was: then this one starts nothing
    /// more, so a kill of the top of a tree stops the whole tree from
    /// growing while the kill works its way down.
    pub(super) async fn an_ancestor_is_killed(
        &self,
        tx: &TenantTxn,
    ) -> Result<bool, sea_orm::DbErr> {
        let mut next = self.parent.clone();
        for _ in 0..MAX_SUBFLOW_DEPTH {
            let Some(id) = next else {
                return Ok(false);
            };
            let Some(row) = repo::executions::find(tx, &id).await? else {
                return Ok(false);
            };
            if [State::Killing, State::Killed]
                .map(State::as_str)
                .contains(&row.state.as_str())
            {
                return Ok(true);
            }
            next = row
                .parent_execution_id
                .as_deref()
                .and_then(|p| ExecutionId::parse(p).ok());
        }
        Ok(false)
    }

    /// Accepts the subflow execution and writes the task run naming it in
    /// one transaction, under this worker's lease; false (the run stops)
    /// when that fails.
    async fn start_child(
        &self,
        new: NewExecution,
        key: &RunKey,
        row: &task_runs::Model,
        logs: Vec<super::NewLog>,
    ) -> bool {
        let child = new.id.clone();
        self.lock_runs().insert(key.clone(), row.clone());
        let written = async {
            let tx = TenantTxn::write(&self.engine.db, self.tenant).await?;
            // A kill of this execution either came first (no child then) or
            // waits for this write and then kills the child too.
            if !repo::executions::lock_unless_killed(&tx, self.id).await?
                || self.an_ancestor_is_killed(&tx).await?
            {
                return Ok(false);
            }
            self.engine.accept(&tx, new).await?;
            self.stage(row.clone(), logs);
            self.write_held(&tx).await?;
            tx.commit().await?;
            Ok(true)
        }
        .await;
        match written {
            Ok(true) => {}
            Ok(false) => {
                self.stop.stop(super::StopReason::Kill);
                return false;
            }
            Err(err) => {
                self.record_failure(err);
                return false;
            }
        }
        self.engine.changed(self.id);
        self.engine.changed(&child);
        self.engine.wake();
        true
    }

    /// A Subflow task's `outputs`, rendered with the ended subflow's task
    /// outputs (`outputs.<task>.value`, keyed by iteration values inside
    /// its ForEach loops, as its own templates saw them).
    async fn subflow_outputs(
        &self,
        child: &str,
        templates: &serde_json::Map<String, Value>,
    ) -> Result<serde_json::Map<String, Value>, Failure> {
        let id = ExecutionId::parse(child).map_err(|e| Failure::Error(e.to_string()))?;
        let runs = async {
            let tx = TenantTxn::read(&self.engine.db, self.tenant).await?;
            let runs = repo::executions::task_runs(&tx, &id).await?;
            tx.commit().await?;
            Ok::<_, RunError>(runs)
        }
        .await;
        let runs = match runs {
            Ok(runs) => runs,
            Err(err) => {
                self.record_failure(err);
                return Err(Failure::Stopped);
            }
        };
        let base = crate::domain::scope::Base::new(
            json!({"execution": {"id": child}})
                .as_object()
                .expect("an object"),
        );
        let scope = base.scope(&outputs_of(&runs), &[]);
        match self
            .render_value(&Value::Object(templates.clone()), &scope)
            .await?
        {
            Value::Object(rendered) => Ok(rendered),
            _ => Ok(serde_json::Map::new()),
        }
    }

    /// Where the subflow execution `id` stands.
    async fn child(&self, id: &str) -> Result<Child, RunError> {
        let Ok(id) = ExecutionId::parse(id) else {
            return Ok(Child::Gone);
        };
        let tx = TenantTxn::read(&self.engine.db, self.tenant).await?;
        let mut row = repo::executions::find(&tx, &id).await?;
        // Retried in a new execution: the latest attempt is the one to
        // wait for and pass on.
        if let Some(retried) = row.as_ref().filter(|r| r.state == State::Retried.as_str()) {
            let first = retried.first_attempt_time.unwrap_or(retried.create_time);
            if let Some(latest) =
                repo::executions::latest_attempt(&tx, self.id.as_str(), first).await?
            {
                row = Some(latest);
            }
        }
        tx.commit().await?;
        Ok(match row {
            None => Child::Gone,
            Some(row) => match State::parse(&row.state).filter(|s| s.is_terminal()) {
                None => Child::Running,
                Some(state) => Child::Ended {
                    state,
                    outputs: json!({"state": row.state, "outputs": parse_object(&row.outputs)}),
                },
            },
        })
    }

    /// Lets the execution go while its subflows run: the job is parked
    /// (held by no worker, counted in no running or queued quota) until a
    /// subflow's end wakes it, or [`RECHECK`] later.
    pub(super) async fn park_for_subflows(&self) -> Result<(), RunError> {
        let tx = TenantTxn::write(&self.engine.db, self.tenant).await?;
        self.write_held(&tx).await?;
        // Sooner when something is due before (an SLA, room in a quota).
        let recheck = repo::now() + RECHECK;
        let at = self
            .wake
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .map_or(recheck, |due| due.min(recheck));
        let (owner, epoch) = (self.engine.owner(), self.epoch);
        if !queue::park(&tx, self.id, owner, epoch, at.timestamp_millis()).await? {
            return Err(RunError::LeaseLost);
        }
        // A subflow that ended while this worker was still running wakes a
        // job that was not parked yet: looked at again after parking, in
        // the same transaction, no end is missed.
        let waiting = std::mem::take(&mut *self.lock_waiting());
        let mut woken = false;
        for child in waiting {
            let Ok(child) = ExecutionId::parse(&child) else {
                continue;
            };
            let ended =
                repo::executions::find(&tx, &child)
                    .await?
                    .is_none_or(|row: executions::Model| {
                        State::parse(&row.state).is_some_and(State::is_terminal)
                    });
            if ended {
                queue::wake(&tx, self.id).await?;
                woken = true;
                break;
            }
        }
        // Likewise for the batches of a ForEachItem.
        let batches = std::mem::take(&mut *self.lock_waiting_batches());
        for (task_run, since) in batches {
            if woken {
                break;
            }
            let counts = repo::executions::children_by_state(&tx, &task_run, since).await?;
            let all_ended = counts
                .iter()
                .all(|(state, _)| State::parse(state).is_some_and(State::is_terminal));
            if all_ended {
                queue::wake(&tx, self.id).await?;
                woken = true;
            }
        }
        tx.commit().await?;
        self.engine.changed(self.id);
        if woken {
            self.engine.wake();
        }
        Ok(())
    }

    fn lock_waiting(&self) -> std::sync::MutexGuard<'_, Vec<String>> {
        self.waiting.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The state a Subflow task ends in when its subflow ended in `child`, as
/// Kestra decides it: with `transmitFailed`, a FAILED, KILLED or WARNING
/// subflow is passed on (`allowFailure` and `allowWarning` then apply as
/// to any task); otherwise the task succeeds.
pub(super) fn ended_as(child: State, transmit_failed: bool) -> State {
    match child {
        State::Failed | State::Killed | State::Warning if transmit_failed => child,
        // Retried, and no later attempt found: it did not succeed.
        State::Retried if transmit_failed => State::Failed,
        _ => State::Success,
    }
}

/// The subflow's own final state, shown in the task's outputs.
fn state_of_child(child: &Value, fallback: State) -> Value {
    child
        .get("state")
        .cloned()
        .unwrap_or_else(|| Value::from(fallback.as_str()))
}

fn has_entries(value: &Value) -> bool {
    value.as_object().is_some_and(|o| !o.is_empty())
}

/// The outputs of an execution's task runs as its templates saw them:
/// by task id, and inside ForEach loops by the enclosing values.
fn outputs_of(runs: &[task_runs::Model]) -> crate::domain::scope::Outputs {
    let lineage: std::collections::HashMap<&str, (&str, &str)> = runs
        .iter()
        .map(|r| (r.id.as_str(), (r.parent_id.as_str(), r.value.as_str())))
        .collect();
    let outputs = crate::domain::scope::Outputs::default();
    for run in runs {
        let own = parse_object(&run.outputs);
        if !has_entries(&own) {
            continue;
        }
        let mut values = Vec::new();
        let mut at = run.parent_id.as_str();
        // Bounded by the nesting limit; the count guards against a cycle.
        for _ in 0..=aerie_common::kestra::MAX_TASK_NESTING * 2 {
            let Some((up, value)) = lineage.get(at) else {
                break;
            };
            if !value.is_empty() {
                values.push(*value);
            }
            at = up;
        }
        values.reverse();
        if !run.value.is_empty() {
            values.push(run.value.as_str());
        }
        outputs.record(&run.task_id, &values, &own);
    }
    outputs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subflow_passes_its_failure_on_only_with_transmit_failed() {
        assert_eq!(ended_as(State::Failed, true), State::Failed);
        assert_eq!(ended_as(State::Killed, true), State::Killed);
        assert_eq!(ended_as(State::Warning, true), State::Warning);
        assert_eq!(ended_as(State::Success, true), State::Success);
        assert_eq!(ended_as(State::Cancelled, true), State::Success);
        assert_eq!(ended_as(State::Failed, false), State::Success);
        assert_eq!(ended_as(State::Killed, false), State::Success);
    }
}
