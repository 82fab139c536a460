//! `aerie.execution.v1.ExecutionService`.

use aerie_common::auth::{Action, Grant, Permission};
use std::collections::BTreeMap;
use std::time::Duration;

use aerie_common::ServiceError;
use aerie_common::audit::{self, AuditEntry};
use aerie_common::auth::Call;
use aerie_common::paging::{PageRequest, Sort};
use aerie_proto::execution::v1 as pb;
use aerie_proto::execution::v1::execution_service_server::ExecutionService;
use serde_json::{Map, Value, json};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use super::{ExecutionApi, execution_message, next_change, not_found};
use crate::domain::plan::Plan;
use crate::domain::{ExecutionId, State, execution_folder, push_history};
use crate::executor::{NewExecution, StartedBy};
use crate::repo::entities::executions as execution_rows;
use crate::repo::entities::task_runs as task_run_rows;
use crate::repo::executions::{self as repo, Filter, SORT_FIELDS, StateChange};
use crate::repo::queue;
use crate::storage::{StoragePath, safe_file_name};

/// Largest file served by GetExecutionFile.
const MAX_DOWNLOAD_BYTES: usize = 64 * 1024 * 1024;

impl ExecutionApi {
    /// The execution `id` of the call's tenant, once the caller may
    /// `action` executions in its namespace.
    pub(super) async fn authorized_execution(
        &self,
        call: &Call,
        id: &ExecutionId,
        action: Action,
    ) -> Result<execution_rows::Model, Status> {
        let row = {
            let tx = self.read(&call.tenant).await?;
            repo::find(&tx, id).await.map_err(ServiceError::from)?
        };
        let Some(row) = row else {
            // Whether or not the caller may use the tenant, the answer is
            // the same: nothing here by that id.
            return Err(Status::not_found(not_found(id)));
        };
        self.guard
            .authorize(
                call,
                Grant(Permission::Execution, action),
                &row.namespace,
                || not_found(id),
            )
            .await?;
        Ok(row)
    }

    /// The execution with its task runs, read in one transaction (so the
    /// runs never come from a later commit than the execution's state),
    /// when the caller may read it.
    async fn readable_execution(
        &self,
        call: &Call,
        id: &ExecutionId,
    ) -> Result<pb::Execution, Status> {
        let Some((row, runs)) = self.load(&call.tenant, id).await? else {
            return Err(Status::not_found(not_found(id)));
        };
        self.guard
            .authorize(
                call,
                Grant(Permission::Execution, Action::Read),
                &row.namespace,
                || not_found(id),
            )
            .await?;
        Ok(execution_message(row, runs))
    }
}

/// How long an idempotency key keeps answering with its first execution.
const IDEMPOTENCY_WINDOW: chrono::TimeDelta = chrono::TimeDelta::hours(24);

/// Uses of a key before this are forgotten.
fn idempotency_cutoff() -> chrono::DateTime<chrono::Utc> {
    crate::repo::now() - IDEMPOTENCY_WINDOW
}

/// A checked `Idempotency-Key`, if one was sent.
fn idempotency_key(text: &str) -> Result<Option<String>, Status> {
    if text.is_empty() {
        return Ok(None);
    }
    if text.len() > 255 || !text.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Status::invalid_argument(
            "Idempotency-Key must be 1 to 255 printable ASCII characters without spaces",
        ));
    }
    Ok(Some(text.to_owned()))
}

/// What a replayed creation must match, and how it answers.
struct Replay {
    namespace: String,
    flow_id: String,
    wait: bool,
}

impl ExecutionApi {
    /// The execution a live idempotency key already created, answered as
    /// the first request was (waiting for its end when asked to); a key used
    /// for another flow is a conflict.
    async fn idempotent_replay(
        &self,
        call: &Call,
        key: &str,
        request: &Replay,
    ) -> Result<Option<pb::Execution>, Status> {
        let found = {
            let tx = self.read(&call.tenant).await?;
            repo::find_idempotency_key(&tx, key, idempotency_cutoff())
                .await
                .map_err(ServiceError::from)?
        };
        let Some(found) = found else {
            return Ok(None);
        };
        if found.namespace != request.namespace || found.flow_id != request.flow_id {
            return Err(Status::already_exists(format!(
                "Idempotency-Key '{key}' was used within 24 hours for flow {}/{}",
                found.namespace, found.flow_id
            )));
        }
        let id = ExecutionId::parse(&found.execution_id)?;
        // Answering with the execution is reading it.
        let execution = self.readable_execution(call, &id).await?;
        if request.wait {
            return Ok(Some(self.wait_for_end(&call.tenant, &id).await?));
        }
        Ok(Some(execution))
    }
}

#[tonic::async_trait]
impl ExecutionService for ExecutionApi {
    async fn create_execution(
        &self,
        request: Request<pb::CreateExecutionRequest>,
    ) -> Result<Response<pb::Execution>, Status> {
        let call = self.guard.call(&request).await?;
        let body = request.into_inner();
        self.guard
            .authorize(
                &call,
                Grant(Permission::Execution, Action::Create),
                &body.namespace,
                || format!("flow {}/{} not found", body.namespace, body.flow_id),
            )
            .await?;
        let key = idempotency_key(&body.idempotency_key)?;
        // Kestra's rule: only the correlation id may be carried over.
        if let Some((label, value)) = body
            .labels
            .iter()
            .find(|(k, _)| k.starts_with("system.") && *k != crate::executor::CORRELATION_ID)
        {
            return Err(Status::invalid_argument(format!(
                "System labels can only be set by Kestra itself, offending label: {label}={value}"
            )));
        }
        let caller_labels: BTreeMap<String, String> = body
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        crate::domain::check_labels(&caller_labels).map_err(Status::invalid_argument)?;
        let body_again = Replay {
            namespace: body.namespace.clone(),
            flow_id: body.flow_id.clone(),
            wait: body.wait,
        };
        // A retry with the key of an accepted request gets that execution,
        // counted against no quota.
        if let Some(key) = &key
            && let Some(first) = self.idempotent_replay(&call, key, &body_again).await?
        {
            return Ok(Response::new(first));
        }
        self.engine.admission.admit(&call.tenant).await?;
        let flow = self
            .flow_to_run(&call.tenant, &body.namespace, &body.flow_id, body.revision)
            .await?;
        let plan = self.plan_of(&call.tenant, &flow)?;
        let given = match aerie_proto::wire::from_struct(body.inputs) {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        let id = ExecutionId::generate();
        let folder = execution_folder(&flow.namespace, &flow.id, &id);
        one_file_per_input(&body.files)?;
        let mut uploads = Vec::new();
        let mut files = BTreeMap::new();
        for file in body.files {
            let path = StoragePath::parse(&format!(
                "{folder}/inputs/{}/{}",
                safe_file_name(&file.input),
                safe_file_name(&file.filename)
            ))?;
            files.insert(file.input.clone(), path.uri());
            uploads.push((path, file.content));
        }
        let resolved = self
            .engine
            .resolve_inputs(
                &call.tenant,
                (&flow.namespace, &flow.id, flow.revision),
                &plan.inputs,
                &given,
                &files,
            )
            .map_err(|problems| Status::invalid_argument(problems.join("; ")))?;
        for (path, content) in &uploads {
            self.engine
                .storage
                .put(&call.tenant, path, content.clone().into())
                .await?;
        }
        let new = NewExecution {
            id: id.clone(),
            namespace: flow.namespace,
            flow_id: flow.id,
            flow_revision: flow.revision,
            flow_source: flow.source,
            inputs: resolved,
            // The flow's labels, then the caller's (which win on a key).
            labels: plan.labels.clone().into_iter().chain(body.labels).collect(),
            started_by: StartedBy::Caller(call.caller.name.to_string()),
            concurrency: plan.concurrency,
        };
        let accepted = async {
            let tx = self.write(&call.tenant).await?;
            let row = self.engine.accept(&tx, new).await?;
            if let Some(key) = &key {
                repo::insert_idempotency_key(&tx, key, &row, idempotency_cutoff()).await?;
            }
            tx.commit().await?;
            Ok::<_, ServiceError>(row)
        }
        .await;
        let row = match accepted {
            Ok(row) => row,
            Err(err) => {
                // Nothing was accepted: the uploads must not linger.
                for (path, _) in &uploads {
                    let _ = self.engine.storage.delete(&call.tenant, path).await;
                }
                // Two requests with one key at once: the other one won.
                if let Some(key) = &key
                    && let Some(first) = self.idempotent_replay(&call, key, &body_again).await?
                {
                    return Ok(Response::new(first));
                }
                return Err(err.into());
            }
        };
        self.engine.wake();
        tracing::info!(execution = %id, tenant = %call.tenant, namespace = %row.namespace,
            flow = %row.flow_id, by = %call.caller.name, "execution created");
        if body.wait {
            return Ok(Response::new(self.wait_for_end(&call.tenant, &id).await?));
        }
        Ok(Response::new(execution_message(row, Vec::new())))
    }

    async fn get_execution(
        &self,
        request: Request<pb::GetExecutionRequest>,
    ) -> Result<Response<pb::Execution>, Status> {
        let call = self.guard.call(&request).await?;
        let id = ExecutionId::parse(&request.into_inner().id)?;
        Ok(Response::new(self.readable_execution(&call, &id).await?))
    }

    async fn search_executions(
        &self,
        request: Request<pb::SearchExecutionsRequest>,
    ) -> Result<Response<pb::SearchExecutionsResponse>, Status> {
        let call = self.guard.call(&request).await?;
        let body = request.into_inner();
        let scope = self
            .guard
            .scope(&call, Grant(Permission::Execution, Action::Read))
            .await?;
        let page = PageRequest::new(body.page, body.size)?;
        let sort = if body.sort.is_empty() {
            "created:desc"
        } else {
            &body.sort
        };
        let sort = Sort::parse(sort, SORT_FIELDS)?;
        let states = body
            .state
            .iter()
            .map(|&state| match pb::ExecutionState::try_from(state) {
                Ok(pb::ExecutionState::Unspecified) | Err(_) => {
                    Err(Status::invalid_argument(format!("unknown state {state}")))
                }
                Ok(known) => Ok(known.short_name().to_owned()),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let filter = Filter {
            scope: &scope,
            namespace: Some(body.namespace.as_str()).filter(|n| !n.is_empty()),
            flow_id: Some(body.flow_id.as_str()).filter(|f| !f.is_empty()),
            states: &states,
            created_from: bound("start_date", body.start_date.as_ref())?,
            created_before: bound("end_date", body.end_date.as_ref())?,
        };
        let tx = self.read(&call.tenant).await?;
        let (rows, total) = repo::search(&tx, filter, page, &sort)
            .await
            .map_err(ServiceError::from)?;
        Ok(Response::new(pb::SearchExecutionsResponse {
            results: rows
                .into_iter()
                .map(|row| execution_message(row, Vec::new()))
                .collect(),
            total,
        }))
    }

    async fn kill_execution(
        &self,
        request: Request<pb::KillExecutionRequest>,
    ) -> Result<Response<pb::Execution>, Status> {
        let call = self.guard.call(&request).await?;
        let id = ExecutionId::parse(&request.into_inner().id)?;
        let row = self
            .authorized_execution(&call, &id, Action::Update)
            .await?;
        let state = State::parse(&row.state).unwrap_or(State::Failed);
        if state.is_terminal() {
            return Err(Status::failed_precondition(format!(
                "execution {id} has already ended ({})",
                row.state
            )));
        }
        self.kill_with_subflows(&call, &id, state).await?;
        Ok(Response::new(self.answer(&call.tenant, &id).await?))
    }

    async fn restart_execution(
        &self,
        request: Request<pb::RestartExecutionRequest>,
    ) -> Result<Response<pb::Execution>, Status> {
        let call = self.guard.call(&request).await?;
        let id = ExecutionId::parse(&request.into_inner().id)?;
        self.authorized_execution(&call, &id, Action::Update)
            .await?;
        // Queued again: counted against the tenant's queue and rate quotas
        // like a new execution.
        self.engine.admission.admit(&call.tenant).await?;
        let tx = self.write(&call.tenant).await?;
        let current = found(&tx, &id).await?;
        if !matches!(
            State::parse(&current.state),
            Some(State::Failed | State::Killed)
        ) {
            return Err(Status::failed_precondition(format!(
                "only a FAILED or KILLED execution can be restarted; {id} is {}",
                current.state
            )));
        }
        let now = crate::repo::now();
        let change = StateChange {
            state: State::Restarted.as_str(),
            histories: push_history(&current.histories, State::Restarted, now),
            outputs: None,
            update_time: now,
        };
        repo::set_state(&tx, &id, change)
            .await
            .map_err(ServiceError::from)?;
        self.enqueue_again(&tx, &call, &current).await?;
        enqueue_audit(&tx, &call, &id, &current, "RESTART").await?;
        tx.commit().await.map_err(ServiceError::from)?;
        self.engine.changed(&id);
        self.engine.wake();
        tracing::info!(execution = %id, tenant = %call.tenant, by = %call.caller.name, "execution restarted");
        Ok(Response::new(self.answer(&call.tenant, &id).await?))
    }

    async fn replay_execution(
        &self,
        request: Request<pb::ReplayExecutionRequest>,
    ) -> Result<Response<pb::Execution>, Status> {
        let call = self.guard.call(&request).await?;
        let body = request.into_inner();
        let id = ExecutionId::parse(&body.id)?;
        let original = self.authorized_execution(&call, &id, Action::Read).await?;
        self.guard
            .authorize(
                &call,
                Grant(Permission::Execution, Action::Create),
                &original.namespace,
                || not_found(&id),
            )
            .await?;
        if !State::parse(&original.state).is_some_and(State::is_terminal) {
            return Err(Status::failed_precondition(format!(
                "only an ended execution can be replayed; {id} is {}",
                original.state
            )));
        }
        if body.revision < 0 {
            return Err(Status::invalid_argument("revision starts at 1"));
        }
        // The task runs a replay from one starts with, checked before the
        // replay counts against the quotas (the original has ended: they
        // no longer change).
        let original_runs = match body.task_run_id.as_str() {
            "" => None,
            chosen => {
                let tx = self.read(&call.tenant).await?;
                let runs = repo::task_runs(&tx, &id)
                    .await
                    .map_err(ServiceError::from)?;
                if !runs.iter().any(|r| r.id == chosen) {
                    return Err(Status::invalid_argument(format!(
                        "No task found to replay: {} is no task run of execution {id}",
                        chosen.chars().take(64).collect::<String>()
                    )));
                }
                Some(runs)
            }
        };
        let revision = match body.revision {
            0 => original.flow_revision,
            n => n,
        };
        let flow = self
            .flow_to_run(
                &call.tenant,
                &original.namespace,
                &original.flow_id,
                revision,
            )
            .await?;
        let plan = self.plan_of(&call.tenant, &flow)?;
        // The inputs as the first run resolved them (files included: the
        // replay reads the same stored files).
        let inputs = match serde_json::from_str(&original.inputs) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        };
        let new = NewExecution {
            id: ExecutionId::generate(),
            namespace: flow.namespace,
            flow_id: flow.id,
            flow_revision: flow.revision,
            flow_source: flow.source,
            inputs,
            labels: serde_json::from_str(&original.labels).unwrap_or_default(),
            started_by: StartedBy::Caller(call.caller.name.to_string()),
            concurrency: plan.concurrency,
        };
        let replay_id = new.id.clone();
        let copies = match (&original_runs, body.task_run_id.as_str()) {
            (Some(runs), chosen) => {
                let task = runs
                    .iter()
                    .find(|r| r.id == chosen)
                    .map(|r| r.task_id.as_str());
                if let Some(task) = task
                    && !plan.contains_task(task)
                {
                    return Err(Status::invalid_argument(format!(
                        "No task found to replay: revision {} of the flow has no task {task}",
                        flow.revision
                    )));
                }
                // Runs of tasks the replayed revision lacks are left out.
                let copies = crate::executor::replay::runs_before(
                    runs,
                    chosen,
                    &replay_id,
                    crate::repo::now(),
                    |task| plan.contains_task(task),
                )
                .ok_or_else(|| {
                    Status::invalid_argument(format!("No task found to replay in execution {id}"))
                })?;
                Some(copies)
            }
            (None, _) => None,
        };
        // Counted against the tenant's queue and rate quotas like a new
        // execution, once nothing else refuses it.
        self.engine.admission.admit(&call.tenant).await?;
        let tx = self.write(&call.tenant).await?;
        let mut row = self
            .engine
            .accept(&tx, new)
            .await
            .map_err(ServiceError::from)?;
        // A replay its flow's concurrency limit cancelled or failed at once
        // runs nothing: nothing is copied into it.
        let waiting = [State::Created, State::Queued].map(State::as_str);
        if let Some(copies) = copies.filter(|_| waiting.contains(&row.state.as_str())) {
            // RESTARTED, as Kestra shows a replay (QUEUED still when it
            // waits behind its flow's concurrency limit); the executor then
            // reads the copied task runs instead of starting afresh.
            let now = crate::repo::now();
            let created = push_history("[]", State::Created, row.create_time);
            let restarted = push_history(&created, State::Restarted, now);
            let (state, histories) = match State::parse(&row.state) {
                Some(State::Queued) => {
                    (State::Queued, push_history(&restarted, State::Queued, now))
                }
                _ => (State::Restarted, restarted),
            };
            repo::insert_task_runs(&tx, copies)
                .await
                .map_err(ServiceError::from)?;
            let change = StateChange {
                state: state.as_str(),
                histories: histories.clone(),
                outputs: None,
                update_time: now,
            };
            repo::set_state(&tx, &replay_id, change)
                .await
                .map_err(ServiceError::from)?;
            row.state = state.as_str().to_owned();
            row.histories = histories;
        }
        tx.commit().await.map_err(ServiceError::from)?;
        self.engine.wake();
        tracing::info!(execution = %replay_id, replay_of = %id, tenant = %call.tenant,
            by = %call.caller.name, "execution replayed");
        Ok(Response::new(execution_message(row, Vec::new())))
    }

    async fn pause_execution(
        &self,
        request: Request<pb::PauseExecutionRequest>,
    ) -> Result<Response<pb::Execution>, Status> {
        let call = self.guard.call(&request).await?;
        let id = ExecutionId::parse(&request.into_inner().id)?;
        let seen = self
            .authorized_execution(&call, &id, Action::Update)
            .await?;
        // Paused here when no worker holds it: the Flow triggers on PAUSED
        // start with it (looked up before the write; a worker that pauses
        // it starts them itself).
        let triggered = match seen.state == State::Running.as_str() {
            true => crate::executor::Triggered::default(),
            false => self.triggered_by(&call.tenant, &seen, State::Paused).await,
        };
        let tx = self.write(&call.tenant).await?;
        let current = found(&tx, &id).await?;
        let pausable = [
            State::Created,
            State::Queued,
            State::Running,
            State::Restarted,
        ];
        if !State::parse(&current.state).is_some_and(|s| pausable.contains(&s)) {
            return Err(Status::failed_precondition(format!(
                "only a queued or running execution can be paused; {id} is {}",
                current.state
            )));
        }
        if queue::take_unheld(&tx, &id)
            .await
            .map_err(ServiceError::from)?
        {
            // No worker holds it: paused here and now; the resume queues
            // it again.
            let now = crate::repo::now();
            let change = StateChange {
                state: State::Paused.as_str(),
                histories: push_history(&current.histories, State::Paused, now),
                outputs: None,
                update_time: now,
            };
            repo::set_state(&tx, &id, change)
                .await
                .map_err(ServiceError::from)?;
            if self.start_triggered(&tx, &id, triggered).await? {
                self.engine.wake();
            }
        } else if !queue::request_pause(&tx, &id)
            .await
            .map_err(ServiceError::from)?
        {
            return Err(Status::failed_precondition(format!(
                "execution {id} is ending; it cannot be paused now"
            )));
        }
        // A worker holding it sees the flag with its next lease renewal; one
        // of this process is told at once below.
        enqueue_audit(&tx, &call, &id, &current, "PAUSE").await?;
        tx.commit().await.map_err(ServiceError::from)?;
        self.engine
            .stop_local(&id, crate::executor::StopReason::Pause);
        self.engine.changed(&id);
        tracing::info!(execution = %id, tenant = %call.tenant, by = %call.caller.name, "pause requested");
        Ok(Response::new(self.answer(&call.tenant, &id).await?))
    }

    async fn resume_execution(
        &self,
        request: Request<pb::ResumeExecutionRequest>,
    ) -> Result<Response<pb::Execution>, Status> {
        let call = self.guard.call(&request).await?;
        let body = request.into_inner();
        let id = ExecutionId::parse(&body.id)?;
        self.authorized_execution(&call, &id, Action::Update)
            .await?;
        // Checked before anything counts against a quota or is written:
        // a refused resume takes nothing (the paused execution's runs and
        // source do not change until it is resumed).
        let (current, answered, uploads) = {
            let tx = self.read(&call.tenant).await?;
            let current = paused(&tx, &id).await?;
            let given = match aerie_proto::wire::from_struct(body.inputs) {
                Value::Object(map) => map,
                _ => Map::new(),
            };
            let (answered, uploads) = self
                .on_resume_inputs(&tx, &current, &given, body.files)
                .await?;
            (current, answered, uploads)
        };
        // The Flow triggers on RUNNING start with the resume (looked up
        // before the write).
        let triggered = self
            .triggered_by(&call.tenant, &current, State::Running)
            .await;
        // Queued again: counted against the tenant's queue and rate quotas
        // like a new execution.
        self.engine.admission.admit(&call.tenant).await?;
        for (path, content) in &uploads {
            self.engine
                .storage
                .put(&call.tenant, path, content.clone().into())
                .await?;
        }
        let tx = self.write(&call.tenant).await?;
        let resumed = async {
            // Resumed by another caller meanwhile: this one changes nothing.
            paused(&tx, &id).await?;
            for run in answered {
                repo::update_task_run(&tx, run)
                    .await
                    .map_err(ServiceError::from)?;
            }
            // The Pause tasks go on: RUNNING again, as in Kestra.
            self.move_task_runs(&tx, &id, &[State::Paused], State::Running)
                .await?;
            let now = crate::repo::now();
            let change = StateChange {
                state: State::Running.as_str(),
                histories: push_history(&current.histories, State::Running, now),
                outputs: None,
                update_time: now,
            };
            repo::set_state(&tx, &id, change)
                .await
                .map_err(ServiceError::from)?;
            // A timed pause's job waits in the queue: it runs now instead.
            queue::remove(&tx, &id).await.map_err(ServiceError::from)?;
            self.enqueue_again(&tx, &call, &current).await?;
            self.start_triggered(&tx, &id, triggered).await?;
            enqueue_audit(&tx, &call, &id, &current, "RESUME").await?;
            tx.commit().await.map_err(ServiceError::from)?;
            Ok::<_, Status>(())
        }
        .await;
        if let Err(status) = resumed {
            // Nothing was resumed: the uploads must not linger.
            for (path, _) in &uploads {
                let _ = self.engine.storage.delete(&call.tenant, path).await;
            }
            return Err(status);
        }
        self.engine.changed(&id);
        self.engine.wake();
        tracing::info!(execution = %id, tenant = %call.tenant, by = %call.caller.name, "execution resumed");
        Ok(Response::new(self.answer(&call.tenant, &id).await?))
    }

    type FollowExecutionStream = ReceiverStream<Result<pb::Execution, Status>>;

    async fn follow_execution(
        &self,
        request: Request<pb::FollowExecutionRequest>,
    ) -> Result<Response<Self::FollowExecutionStream>, Status> {
        let call = self.guard.call(&request).await?;
        let id = ExecutionId::parse(&request.into_inner().id)?;
        self.authorized_execution(&call, &id, Action::Read).await?;
        let (sender, receiver) = tokio::sync::mpsc::channel(16);
        let api = self.clone();
        tokio::spawn(async move {
            let mut changes = api.engine.subscribe();
            let mut last: Option<pb::Execution> = None;
            let mut checked = std::time::Instant::now();
            loop {
                // A stream outlives its first check: access taken away
                // (a binding, the user) ends it within REAUTHORIZE.
                if checked.elapsed() >= super::REAUTHORIZE {
                    if let Err(status) = api.authorized_execution(&call, &id, Action::Read).await {
                        let _ = sender.send(Err(status)).await;
                        return;
                    }
                    checked = std::time::Instant::now();
                }
                let loaded = api.load(&call.tenant, &id).await;
                let message = match loaded {
                    Ok(Some((row, runs))) => execution_message(row, runs),
                    Ok(None) => return,
                    Err(err) => {
                        let _ = sender.send(Err(err.into())).await;
                        return;
                    }
                };
                let ended = message
                    .state
                    .as_ref()
                    .and_then(|s| pb::ExecutionState::try_from(s.current).ok())
                    .and_then(|s| State::parse(s.short_name()))
                    .is_some_and(State::is_terminal);
                if last.as_ref() != Some(&message) {
                    if sender.send(Ok(message.clone())).await.is_err() {
                        return;
                    }
                    last = Some(message);
                }
                if ended {
                    return;
                }
                tokio::select! {
                    _ = next_change(&mut changes, &id, Duration::from_millis(500)) => {}
                    _ = sender.closed() => return,
                    _ = api.engine.closing().cancelled() => {
                        let _ = sender.send(Err(super::shutting_down(&id))).await;
                        return;
                    }
                }
            }
        });
        Ok(Response::new(ReceiverStream::new(receiver)))
    }

    async fn list_logs(
        &self,
        request: Request<pb::ListLogsRequest>,
    ) -> Result<Response<pb::ListLogsResponse>, Status> {
        let call = self.guard.call(&request).await?;
        let lines = self.list_logs_of(&call, request.into_inner()).await?;
        Ok(Response::new(lines))
    }

    async fn search_logs(
        &self,
        request: Request<pb::SearchLogsRequest>,
    ) -> Result<Response<pb::SearchLogsResponse>, Status> {
        let call = self.guard.call(&request).await?;
        let found = self.search_logs_of(&call, request.into_inner()).await?;
        Ok(Response::new(found))
    }

    type FollowLogsStream = ReceiverStream<Result<pb::LogLine, Status>>;

    async fn follow_logs(
        &self,
        request: Request<pb::FollowLogsRequest>,
    ) -> Result<Response<Self::FollowLogsStream>, Status> {
        let call = self.guard.call(&request).await?;
        let stream = self.follow_logs_of(call, request.into_inner()).await?;
        Ok(Response::new(stream))
    }

    async fn delete_execution(
        &self,
        request: Request<pb::DeleteExecutionRequest>,
    ) -> Result<Response<pb::DeleteExecutionResponse>, Status> {
        let call = self.guard.call(&request).await?;
        let id = ExecutionId::parse(&request.into_inner().id)?;
        self.authorized_execution(&call, &id, Action::Delete)
            .await?;
        let tx = self.write(&call.tenant).await?;
        let current = found(&tx, &id).await?;
        if !State::parse(&current.state).is_some_and(State::is_terminal) {
            return Err(Status::failed_precondition(format!(
                "execution {id} is {}: only an ended execution can be deleted; kill it first",
                current.state
            )));
        }
        repo::delete_executions(&tx, &[id.as_str().to_owned()])
            .await
            .map_err(ServiceError::from)?;
        let entry = AuditEntry::new(
            &call.tenant,
            "EXECUTION",
            id.as_str(),
            "DELETE",
            &*call.caller.name,
        )
        .with_details(json!({
            "namespace": current.namespace,
            "flowId": current.flow_id,
            "state": current.state,
        }));
        audit::enqueue(tx.conn(), entry)
            .await
            .map_err(ServiceError::from)?;
        tx.commit().await.map_err(ServiceError::from)?;
        // Files go once the row is gone (as in a purge): a crash in between
        // leaves files no execution names, never the other way round.
        let folder =
            StoragePath::parse(&execution_folder(&current.namespace, &current.flow_id, &id))?;
        if let Err(err) = self
            .engine
            .storage
            .delete_folder(&call.tenant, &folder)
            .await
        {
            tracing::warn!(tenant = %call.tenant, execution = %id, %err, "files of a deleted execution kept");
        }
        tracing::info!(execution = %id, tenant = %call.tenant, by = %call.caller.name, "execution deleted");
        Ok(Response::new(pb::DeleteExecutionResponse {}))
    }

    async fn set_execution_labels(
        &self,
        request: Request<pb::SetExecutionLabelsRequest>,
    ) -> Result<Response<pb::Execution>, Status> {
        let call = self.guard.call(&request).await?;
        let body = request.into_inner();
        let id = ExecutionId::parse(&body.id)?;
        self.authorized_execution(&call, &id, Action::Update)
            .await?;
        let tx = self.write(&call.tenant).await?;
        let current = found(&tx, &id).await?;
        if !State::parse(&current.state).is_some_and(State::is_terminal) {
            return Err(Status::failed_precondition(format!(
                "execution {id} is {}: labels change only once it has ended",
                current.state
            )));
        }
        let mut labels: BTreeMap<String, String> =
            serde_json::from_str(&current.labels).unwrap_or_default();
        // Kestra's rule: `system.` labels are set by the product alone; the
        // caller may send them back unchanged.
        if let Some((key, value)) = body
            .labels
            .iter()
            .find(|(key, value)| key.starts_with("system.") && labels.get(*key) != Some(*value))
        {
            return Err(Status::invalid_argument(format!(
                "system labels are set by Aerie alone: {key}={value}"
            )));
        }
        let previous = labels.clone();
        labels.extend(body.labels);
        crate::domain::check_labels(&labels).map_err(Status::invalid_argument)?;
        let text = serde_json::to_string(&labels).map_err(|e| Status::internal(e.to_string()))?;
        repo::set_labels(&tx, &id, text)
            .await
            .map_err(ServiceError::from)?;
        let entry = AuditEntry::new(
            &call.tenant,
            "EXECUTION",
            id.as_str(),
            "UPDATE",
            &*call.caller.name,
        )
        .with_details(json!({
            "operation": "LABELS",
            "namespace": current.namespace,
            "flowId": current.flow_id,
            "previousLabels": previous,
            "labels": labels,
        }));
        audit::enqueue(tx.conn(), entry)
            .await
            .map_err(ServiceError::from)?;
        tx.commit().await.map_err(ServiceError::from)?;
        self.engine.changed(&id);
        Ok(Response::new(self.answer(&call.tenant, &id).await?))
    }

    async fn get_execution_file(
        &self,
        request: Request<pb::GetExecutionFileRequest>,
    ) -> Result<Response<pb::ExecutionFile>, Status> {
        let call = self.guard.call(&request).await?;
        let body = request.into_inner();
        let id = ExecutionId::parse(&body.id)?;
        let path = StoragePath::from_uri(&body.path)?;
        let row = self.authorized_execution(&call, &id, Action::Read).await?;
        if !path.is_within(&execution_folder(&row.namespace, &row.flow_id, &id)) {
            return Err(Status::invalid_argument(format!(
                "{} is not a file of execution {id}",
                path.uri()
            )));
        }
        let content = self
            .engine
            .storage
            .get(&call.tenant, &path, MAX_DOWNLOAD_BYTES)
            .await?;
        Ok(Response::new(pb::ExecutionFile {
            filename: path.file_name().to_owned(),
            content: content.to_vec(),
        }))
    }

    async fn purge_executions(
        &self,
        request: Request<pb::PurgeExecutionsRequest>,
    ) -> Result<Response<pb::PurgeExecutionsResponse>, Status> {
        let call = self.guard.call(&request).await?;
        let grant = Grant(Permission::Execution, Action::Delete);
        if self.guard.scope(&call, grant).await? != aerie_common::auth::NamespaceScope::Everywhere {
            return Err(Status::permission_denied(format!(
                "{} may not purge executions of {}: that needs EXECUTION:DELETE on every namespace",
                call.caller.name, call.tenant
            )));
        }
        let before = request
            .into_inner()
            .before
            .and_then(|t| chrono::DateTime::from_timestamp(t.seconds, t.nanos.max(0) as u32))
            .ok_or_else(|| Status::invalid_argument("before is required"))?;
        let purged = crate::retention::purge(
            self.db(),
            &self.engine.storage,
            &call.tenant,
            before,
            &call.caller.name,
        )
        .await?;
        tracing::info!(tenant = %call.tenant, by = %call.caller.name, %before, purged, "executions purged");
        Ok(Response::new(pb::PurgeExecutionsResponse { purged }))
    }

    async fn get_usage(
        &self,
        request: Request<pb::GetUsageRequest>,
    ) -> Result<Response<pb::Usage>, Status> {
        let call = self.guard.call(&request).await?;
        self.guard.require_tenant_use(&call).await?;
        let quotas = self.engine.quotas.of(&call.tenant).await;
        let counts = queue::usage(self.db(), &call.tenant)
            .await
            .map_err(ServiceError::from)?;
        let last_minute = {
            let tx = self.read(&call.tenant).await?;
            repo::created_since(&tx, crate::repo::now() - chrono::Duration::seconds(60))
                .await
                .map_err(ServiceError::from)?
        };
        Ok(Response::new(pb::Usage {
            running_executions: counts.running,
            queued_executions: counts.queued,
            executions_last_minute: last_minute,
            quotas: Some(aerie_common::quota::in_force(&quotas)),
        }))
    }
}

impl ExecutionApi {
    /// The execution as it is now, with its task runs: the answer of the
    /// calls that change one.
    async fn answer(
        &self,
        tenant: &aerie_common::TenantId,
        id: &ExecutionId,
    ) -> Result<pb::Execution, Status> {
        let (row, runs) = self
            .load(tenant, id)
            .await?
            .ok_or_else(|| Status::not_found(not_found(id)))?;
        Ok(execution_message(row, runs))
    }

    /// Puts an execution back in the queue, to run now: a restarted or
    /// resumed execution waits its turn under its flow's concurrency limit,
    /// whatever the limit's behavior.
    async fn enqueue_again(
        &self,
        tx: &crate::repo::TenantTxn,
        call: &Call,
        current: &execution_rows::Model,
    ) -> Result<(), Status> {
        let id = ExecutionId::parse(&current.id)?;
        let running_quota = self
            .engine
            .quotas
            .overrides(&call.tenant)
            .await
            .running_executions;
        let source = repo::flow_source(tx, current)
            .await
            .map_err(ServiceError::from)?;
        let flow_limit = Plan::parse(&source)
            .ok()
            .and_then(|plan| plan.concurrency)
            .map_or(0, |c| c.limit);
        let job = queue::Job {
            execution: id,
            flow_key: queue::flow_key(&current.namespace, &current.flow_id),
            flow_limit,
        };
        queue::enqueue_many(
            tx,
            std::slice::from_ref(&job),
            crate::repo::now_millis(),
            running_quota,
        )
        .await
        .map_err(ServiceError::from)?;
        Ok(())
    }

    /// Moves the execution's unfinished task runs in `from` to `to`.
    /// The paused Pause task runs that declare `onResume`, each with its
    /// checked inputs as its `onResume` output, and the uploads of their
    /// FILE inputs (not yet written). Inputs are refused when no paused
    /// task declares any, and each one must be declared by one of them.
    async fn on_resume_inputs(
        &self,
        tx: &crate::repo::TenantTxn,
        current: &execution_rows::Model,
        given: &Map<String, Value>,
        files: Vec<pb::InputFile>,
    ) -> Result<(Vec<task_run_rows::Model>, Vec<(StoragePath, Vec<u8>)>), Status> {
        let id = ExecutionId::parse(&current.id)?;
        one_file_per_input(&files)?;
        let paused: Vec<_> = repo::task_runs(tx, &id)
            .await
            .map_err(ServiceError::from)?
            .into_iter()
            .filter(|run| run.state == State::Paused.as_str())
            .collect();
        let mut asking = Vec::new();
        if !paused.is_empty() {
            let source = repo::flow_source(tx, current)
                .await
                .map_err(ServiceError::from)?;
            let plan = Plan::parse(&source).map_err(|err| {
                Status::failed_precondition(format!("the flow cannot run: {err}"))
            })?;
            for run in paused {
                let Some(crate::domain::plan::Body::Pause(pause)) =
                    plan.find_task(&run.task_id).map(|task| &task.body)
                else {
                    continue;
                };
                if !pause.takes_inputs() {
                    continue;
                }
                let declared = pause.on_resume().map_err(|problem| {
                    Status::failed_precondition(format!(
                        "task {}: onResume: {}",
                        run.task_id, problem.message
                    ))
                })?;
                asking.push((run, declared));
            }
        }
        if asking.is_empty() {
            if given.is_empty() && files.is_empty() {
                return Ok((Vec::new(), Vec::new()));
            }
            return Err(Status::invalid_argument(format!(
                "no paused task of execution {id} declares onResume inputs: resume it without inputs"
            )));
        }
        let mut problems: Vec<String> = given
            .keys()
            .chain(files.iter().map(|f| &f.input))
            .filter(|name| {
                !asking
                    .iter()
                    .any(|(_, declared)| declared.iter().any(|d| &d.id == *name))
            })
            .map(|name| {
                format!(
                    "unknown input '{}'",
                    name.chars().take(64).collect::<String>()
                )
            })
            .collect();
        let folder = execution_folder(&current.namespace, &current.flow_id, &id);
        let mut answered = Vec::new();
        let mut uploads = Vec::new();
        for (mut run, declared) in asking {
            let known = |name: &String| declared.iter().any(|d| &d.id == name);
            let own: Map<String, Value> = given
                .iter()
                .filter(|(name, _)| known(name))
                .map(|(name, value)| (name.clone(), value.clone()))
                .collect();
            // Kestra's layout: the files of a task run sit in its folder.
            let mut uris = BTreeMap::new();
            for file in files.iter().filter(|f| known(&f.input)) {
                let path = StoragePath::parse(&format!(
                    "{folder}/tasks/{}/{}/{}/{}",
                    safe_file_name(&run.task_id),
                    safe_file_name(&run.id),
                    safe_file_name(&file.input),
                    safe_file_name(&file.filename)
                ))?;
                uris.insert(file.input.clone(), path.uri());
                uploads.push((path, file.content.clone()));
            }
            match crate::domain::inputs::resolve(&declared, &own, &uris) {
                Ok(resolved) => {
                    let mut outputs = match serde_json::from_str(&run.outputs) {
                        Ok(Value::Object(outputs)) => outputs,
                        _ => Map::new(),
                    };
                    outputs.insert("onResume".into(), Value::Object(resolved));
                    run.outputs = Value::Object(outputs).to_string();
                    answered.push(run);
                }
                Err(found) => problems.extend(found),
            }
        }
        // The same task paused in several iterations finds the same problems.
        let mut seen = std::collections::HashSet::new();
        problems.retain(|problem| seen.insert(problem.clone()));
        if !problems.is_empty() {
            return Err(Status::invalid_argument(problems.join("; ")));
        }
        Ok((answered, uploads))
    }

    async fn move_task_runs(
        &self,
        tx: &crate::repo::TenantTxn,
        id: &ExecutionId,
        from: &[State],
        to: State,
    ) -> Result<(), Status> {
        let now = crate::repo::now();
        for mut run in repo::task_runs(tx, id).await.map_err(ServiceError::from)? {
            if State::parse(&run.state).is_some_and(|s| from.contains(&s)) {
                run.state = to.as_str().to_owned();
                run.histories = push_history(&run.histories, to, now);
                run.update_time = now;
                repo::update_task_run(tx, run)
                    .await
                    .map_err(ServiceError::from)?;
            }
        }
        Ok(())
    }

    /// Kills an execution in `state` and then, as Kestra does, the
    /// subflow executions it started that have not ended (theirs too).
    /// The caller was authorized for `id`: the subflows go with it, as
    /// they came with it.
    fn kill_with_subflows<'a>(
        &'a self,
        call: &'a Call,
        id: &'a ExecutionId,
        state: State,
    ) -> futures::future::BoxFuture<'a, Result<(), Status>> {
        Box::pin(async move {
            match state {
                State::Paused => self.kill_paused(call, id).await?,
                State::Killing => {}
                _ => self.kill_running(call, id).await?,
            }
            let children = {
                let tx = self.read(&call.tenant).await?;
                repo::unfinished_children(&tx, id)
                    .await
                    .map_err(ServiceError::from)?
            };
            for child in children {
                if let Ok(child) = ExecutionId::parse(&child) {
                    self.kill_subflow(call, &child).await?;
                }
            }
            Ok(())
        })
    }

    /// Kills one subflow execution of a tree being killed (and its own
    /// subflows). Its worker may be writing it at this moment: a deadlock
    /// or a row changed under the kill answers Aborted, so it is read again
    /// and killed again, a few times, rather than failing a kill whose top
    /// has already taken effect.
    async fn kill_subflow(&self, call: &Call, child: &ExecutionId) -> Result<(), Status> {
        const ATTEMPTS: u32 = 5;
        let mut attempt = 1;
        loop {
            let state = {
                let tx = self.read(&call.tenant).await?;
                repo::find(&tx, child).await.map_err(ServiceError::from)?
            }
            .and_then(|row| State::parse(&row.state));
            let Some(state) = state.filter(|state| !state.is_terminal()) else {
                return Ok(());
            };
            match self.kill_with_subflows(call, child, state).await {
                Ok(()) => return Ok(()),
                // It ended meanwhile: nothing to do.
                Err(status) if status.code() == tonic::Code::FailedPrecondition => return Ok(()),
                Err(status) if status.code() == tonic::Code::Aborted && attempt < ATTEMPTS => {
                    tracing::debug!(execution = %child, %status, attempt, "subflow kill retried");
                    tokio::time::sleep(std::time::Duration::from_millis(20 * u64::from(attempt)))
                        .await;
                    attempt += 1;
                }
                Err(status) => return Err(status),
            }
        }
    }

    /// Asks the worker running (or about to run) `id` to stop it.
    async fn kill_running(&self, call: &Call, id: &ExecutionId) -> Result<(), Status> {
        let tx = self.write(&call.tenant).await?;
        let current = found(&tx, id).await?;
        if State::parse(&current.state).is_some_and(State::is_terminal) {
            return Err(Status::failed_precondition(format!(
                "execution {id} has already ended ({})",
                current.state
            )));
        }
        let now = crate::repo::now();
        let change = StateChange {
            state: State::Killing.as_str(),
            histories: push_history(&current.histories, State::Killing, now),
            outputs: None,
            update_time: now,
        };
        repo::set_state(&tx, id, change)
            .await
            .map_err(ServiceError::from)?;
        queue::request_kill(&tx, id)
            .await
            .map_err(ServiceError::from)?;
        enqueue_audit(&tx, call, id, &current, "KILL").await?;
        tx.commit().await.map_err(ServiceError::from)?;
        self.engine.changed(id);
        self.engine.kill_local(id);
        self.engine.wake();
        tracing::info!(execution = %id, tenant = %call.tenant, by = %call.caller.name, "kill requested");
        Ok(())
    }

    /// The executions Flow triggers start when `row` moves to `state`
    /// outside a worker (a kill or a resume of a paused execution).
    async fn triggered_by(
        &self,
        tenant: &aerie_common::TenantId,
        row: &execution_rows::Model,
        state: State,
    ) -> crate::executor::Triggered {
        let Ok(id) = ExecutionId::parse(&row.id) else {
            return crate::executor::Triggered::default();
        };
        let labels = serde_json::from_str(&row.labels).unwrap_or_default();
        let outputs = serde_json::from_str(&row.outputs).unwrap_or_else(|_| json!({}));
        let moved = crate::executor::Ended {
            id: &id,
            namespace: &row.namespace,
            flow_id: &row.flow_id,
            flow_revision: row.flow_revision,
            state,
            outputs: &outputs,
            labels: &labels,
            task_outputs: None,
            chain: crate::executor::chain_of(
                &serde_json::from_str(&row.trigger).unwrap_or_default(),
            ),
        };
        self.engine.triggered_by(tenant, &moved).await
    }

    /// Inside `tx`: the executions `triggered` starts, and a WARN line in
    /// `id`'s log for each trigger that fired and started nothing; true
    /// when something starts.
    async fn start_triggered(
        &self,
        tx: &crate::repo::TenantTxn,
        id: &ExecutionId,
        triggered: crate::executor::Triggered,
    ) -> Result<bool, Status> {
        let lines = triggered
            .problems
            .into_iter()
            .map(|message| crate::repo::executions::NewLog {
                task_run_id: String::new(),
                task_id: String::new(),
                level: "WARN",
                time: crate::repo::now(),
                message,
            })
            .collect();
        repo::append_logs(tx, id, lines)
            .await
            .map_err(ServiceError::from)?;
        let triggered = crate::executor::Triggered {
            problems: Vec::new(),
            ..triggered
        };
        Ok(self
            .engine
            .accept_triggered(tx, triggered)
            .await
            .map_err(ServiceError::from)?)
    }

    /// Ends a PAUSED execution at once: no worker holds it.
    async fn kill_paused(&self, call: &Call, id: &ExecutionId) -> Result<(), Status> {
        // Flow triggers fired by this end start with it (looked up before
        // the write).
        let triggered = {
            let tx = self.read(&call.tenant).await?;
            let row = found(&tx, id).await?;
            self.triggered_by(&call.tenant, &row, State::Killed).await
        };
        let tx = self.write(&call.tenant).await?;
        let current = found(&tx, id).await?;
        if current.state != State::Paused.as_str() {
            return Err(Status::aborted(format!(
                "execution {id} changed while it was being killed; try again"
            )));
        }
        self.move_task_runs(
            &tx,
            id,
            &[State::Paused, State::Running, State::Created],
            State::Killed,
        )
        .await?;
        let now = crate::repo::now();
        let change = StateChange {
            state: State::Killed.as_str(),
            histories: push_history(&current.histories, State::Killed, now),
            outputs: None,
            update_time: now,
        };
        repo::set_state(&tx, id, change)
            .await
            .map_err(ServiceError::from)?;
        queue::remove(&tx, id).await.map_err(ServiceError::from)?;
        // A parent waiting for this subflow looks at it again at once.
        let parent = current
            .parent_execution_id
            .as_deref()
            .and_then(|p| ExecutionId::parse(p).ok());
        if let Some(parent) = &parent {
            queue::wake(&tx, parent).await.map_err(ServiceError::from)?;
        }
        let starts = self.start_triggered(&tx, id, triggered).await?;
        enqueue_audit(&tx, call, id, &current, "KILL").await?;
        tx.commit().await.map_err(ServiceError::from)?;
        self.engine.changed(id);
        if parent.is_some() || starts {
            self.engine.wake();
        }
        tracing::info!(execution = %id, tenant = %call.tenant, by = %call.caller.name, "paused execution killed");
        Ok(())
    }
}

/// The execution `id`, when it is PAUSED.
async fn paused(
    tx: &crate::repo::TenantTxn,
    id: &ExecutionId,
) -> Result<execution_rows::Model, Status> {
    let current = found(tx, id).await?;
    if current.state != State::Paused.as_str() {
        return Err(Status::failed_precondition(format!(
            "only a PAUSED execution can be resumed; {id} is {}",
            current.state
        )));
    }
    Ok(current)
}

/// Refuses two files for one input: the second would be stored and the
/// first forgotten.
fn one_file_per_input(files: &[pb::InputFile]) -> Result<(), Status> {
    let mut seen = std::collections::HashSet::new();
    match files.iter().find(|f| !seen.insert(f.input.as_str())) {
        Some(twice) => Err(Status::invalid_argument(format!(
            "input '{}' takes one file, not several",
            twice.input.chars().take(64).collect::<String>()
        ))),
        None => Ok(()),
    }
}

/// The execution `id` in `tx`'s tenant, read inside the transaction that
/// changes it; NOT_FOUND when it is gone.
async fn found(
    tx: &crate::repo::TenantTxn,
    id: &ExecutionId,
) -> Result<execution_rows::Model, Status> {
    repo::find(tx, id)
        .await
        .map_err(ServiceError::from)?
        .ok_or_else(|| Status::not_found(not_found(id)))
}

/// Audits a change of state in the transaction making it.
async fn enqueue_audit(
    tx: &crate::repo::TenantTxn,
    call: &Call,
    id: &ExecutionId,
    row: &execution_rows::Model,
    operation: &str,
) -> Result<(), Status> {
    let entry = AuditEntry::new(
        &call.tenant,
        "EXECUTION",
        id.as_str(),
        "UPDATE",
        &*call.caller.name,
    )
    .with_details(json!({
        "operation": operation,
        "namespace": row.namespace,
        "flowId": row.flow_id,
        "previousState": row.state,
    }));
    audit::enqueue(tx.conn(), entry)
        .await
        .map_err(|e| ServiceError::from(e).into())
}

/// A date filter's bound; one out of range is refused, not ignored.
pub(super) fn bound(
    name: &str,
    timestamp: Option<&prost_types::Timestamp>,
) -> Result<Option<chrono::DateTime<chrono::Utc>>, Status> {
    match timestamp {
        None => Ok(None),
        Some(t) => aerie_common::time::from_timestamp(Some(t))
            .map(Some)
            .ok_or_else(|| Status::invalid_argument(format!("{name} is out of range"))),
    }
}
