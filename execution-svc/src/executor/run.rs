//! Running one claimed execution: walk its tasks, record each task run as
//! it starts and ends, and end the execution in a final state.
//!
//! Resuming is the same walk: a task run already SUCCESS, WARNING or
//! SKIPPED keeps its outputs and is not run again; anything else runs
//! again as a new attempt of the same task run (a Sleep only for what is
//! left of its duration).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use aerie_common::TenantId;
use aerie_common::config::QuotasConfig;
use aerie_proto::flow::v1 as flow_pb;
use futures::future::BoxFuture;
use futures::{StreamExt, stream};
use sea_orm::DbErr;
use serde_json::{Map, Value, json};

use super::{Engine, Stop, StopReason};
use crate::domain::plan::{Body, Plan, Task, TaskKind};
use crate::domain::scope::{Base, Outputs, Scope};
use crate::domain::template::{Lookups, Renderer, is_truthy, needs_lookups};
use crate::domain::{ExecutionId, State, execution_folder, push_history};
use crate::repo::entities::{executions, task_runs};
use crate::repo::executions::{NewLog, StateChange};
use crate::repo::queue::{self, Claimed};
use crate::repo::{self, TenantTxn};
use crate::storage::StoragePath;
use aerie_common::kestra::tasks;

mod for_each_item;
mod new_execution;
mod sla;
mod subflow;

/// Why a run stopped writing before its end.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Db(#[from] DbErr),
    #[error("another worker holds this execution now")]
    LeaseLost,
}

/// How a task, a list of tasks or the execution ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    Success,
    Warning,
    /// Waiting for a subflow execution to end: the execution stays RUNNING
    /// and holds no worker meanwhile.
    Waiting,
    /// Waiting at a Pause task: nothing after it runs until a resume.
    Paused,
    Failed,
    /// Ended by an SLA with behavior CANCEL.
    Cancelled,
    Killed,
    /// Shutting down or lost the lease: nothing more is written.
    Stopped,
}

impl Outcome {
    fn of(state: State) -> Outcome {
        match state {
            State::Success | State::Skipped => Outcome::Success,
            State::Warning => Outcome::Warning,
            State::Killed => Outcome::Killed,
            State::Paused => Outcome::Paused,
            _ => Outcome::Failed,
        }
    }

    fn state(self) -> State {
        match self {
            Outcome::Success => State::Success,
            Outcome::Warning => State::Warning,
            Outcome::Waiting => State::Running,
            Outcome::Paused => State::Paused,
            Outcome::Failed => State::Failed,
            Outcome::Cancelled => State::Cancelled,
            Outcome::Killed | Outcome::Stopped => State::Killed,
        }
    }

    /// Whether the tasks after this one still run.
    fn goes_on(self) -> bool {
        matches!(self, Outcome::Success | Outcome::Warning)
    }
}

/// Why a task body did not produce outputs.
enum Failure {
    Error(String),
    /// An error no retry can mend: a tenant quota refused the work.
    Refused(String),
    Stopped,
}

impl From<String> for Failure {
    fn from(message: String) -> Self {
        Failure::Error(message)
    }
}

/// What a task body produced.
struct Done {
    outputs: Value,
    /// Flowable tasks: how their children ended.
    outcome: Outcome,
}

fn leaf(outputs: Value) -> Done {
    Done {
        outputs,
        outcome: Outcome::Success,
    }
}

/// Retry waits this long or longer write the RETRYING state at once.
const PERSISTED_RETRY_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// Staged task runs written at once by a long run of instant tasks. A
/// neighbour's write waits for the one under way (SQLite's one writer
/// turn; on PostgreSQL, the shared cores and WAL), so shorter writes cost
/// the looping tenant, not its neighbours. Neighbours' round-trip p95
/// beside a tenant looping, flooding and sleeping (`aerie-bench noisy-neighbour`,
/// bench/README.md, which counts the runs within 1.5x): PostgreSQL
/// 1.12-1.79x its p95 alone at 4 rows, 1.72-1.75x at 10, 2.03-2.07x at 100; SQLite
/// 1.10-1.48x at 4, 1.26-1.40x at 10, 1.31-1.49x at 25. A ForEach over 10,000 items takes 1.4 s on
/// SQLite and 2.9 s on PostgreSQL at 4 rows (bar: 10 s).
const STAGED_FLUSH_ROWS: usize = 4;

/// Largest file the Write task stores.
const MAX_WRITE_BYTES: usize = 10 * 1024 * 1024;

/// Runs `job` to its end, or until it is stopped.
pub(super) async fn execute(
    engine: &Engine,
    job: &Claimed,
    stop: &Arc<Stop>,
) -> Result<(), RunError> {
    let (tenant, id) = (&job.tenant, &job.execution);
    let (row, previous, source, plan_key) = {
        let tx = TenantTxn::read(&engine.db, tenant).await?;
        let row = repo::executions::find(&tx, id).await?;
        let plan_key = row.as_ref().map(|row| {
            (
                tx.tenant_key().to_owned(),
                row.namespace.clone(),
                row.flow_id.clone(),
                row.flow_revision,
            )
        });
        let source = match &row {
            Some(row) if row.flow_source.is_empty() => {
                let key = (
                    tx.tenant_key().to_owned(),
                    row.namespace.clone(),
                    row.flow_id.clone(),
                    row.flow_revision,
                );
                match engine.stored_source(&key) {
                    Some(source) => source.to_string(),
                    None => {
                        let source = repo::executions::flow_source(&tx, row).await?;
                        if !source.is_empty() {
                            engine.remember_source(key, Arc::from(source.as_str()));
                        }
                        source
                    }
                }
            }
            Some(row) => row.flow_source.clone(),
            None => String::new(),
        };
        // A new execution has no task runs yet: no need to look. A replay
        // from a task run (RESTARTED in its history) starts with some.
        let fresh = row.as_ref().is_none_or(|r| {
            [State::Created, State::Queued]
                .map(State::as_str)
                .contains(&r.state.as_str())
                && !r.histories.contains(State::Restarted.as_str())
        });
        let runs = if fresh {
            Vec::new()
        } else {
            repo::executions::task_runs(&tx, id).await?
        };
        tx.commit().await?;
        (row, runs, source, plan_key)
    };
    let Some(row) = row else {
        let tx = TenantTxn::write(&engine.db, tenant).await?;
        queue::remove(&tx, id).await?;
        return Ok(tx.commit().await?);
    };
    let state = State::parse(&row.state).unwrap_or(State::Failed);
    if state.is_terminal() {
        let tx = TenantTxn::write(&engine.db, tenant).await?;
        queue::remove(&tx, id).await?;
        return Ok(tx.commit().await?);
    }
    // Executions created before sources were stored per revision carry
    // their own, which is parsed for them alone.
    let plan = match plan_key {
        Some(key) if row.flow_source.is_empty() => engine.plan(key, &source),
        _ => Plan::parse(&source).map(Arc::new),
    };
    let variables = plan
        .as_ref()
        .map(|p| p.variables.clone())
        .unwrap_or_default();
    let secret_inputs = match &plan {
        Ok(plan) => engine.open_secret_inputs(
            tenant,
            (&row.namespace, &row.flow_id, row.flow_revision),
            &plan.inputs,
            &serde_json::from_str(&row.inputs).unwrap_or_default(),
        ),
        Err(_) => Ok(Map::new()),
    };
    let quotas = engine.quotas.of(tenant).await;
    let scope = PlanScope {
        variables,
        secret_inputs: secret_inputs.clone().unwrap_or_default(),
    };
    let run = Run::new(engine, job, stop, &row, previous, scope, quotas);
    if state == State::Killing {
        // Killed while no worker ran it (queued, paused by its subflows):
        // what had not ended ends KILLED with it, so a restart runs it again.
        run.kill_unfinished_runs();
        return run.end(Outcome::Killed, None, Vec::new()).await;
    }
    if job.pause_requested {
        // Paused by a user before any worker ran it (or while its last
        // worker stopped): it waits for the resume.
        return run.end(Outcome::Paused, None, Vec::new()).await;
    }
    let plan = match plan {
        Ok(plan) => plan,
        Err(err) => {
            let line = run.log_line("", "", "ERROR", format!("the flow cannot run: {err}"));
            return run.end(Outcome::Failed, None, vec![line]).await;
        }
    };
    if let Err(why) = secret_inputs {
        let line = run.log_line("", "", "ERROR", why);
        return run.end(Outcome::Failed, None, vec![line]).await;
    }
    if state != State::Running {
        // Recorded with the first write of the run (or its end), with the
        // executions the Flow triggers on RUNNING start.
        run.lock_pending().running = true;
        run.prepare_running_triggers().await;
    }
    let work = run.block(&plan.tasks, &plan.errors, &plan.finally, "", &Value::Null);
    let outcome = run.watching_slas(&plan.slas, work).await;
    if let Some(err) = run.failure.lock().unwrap_or_else(|p| p.into_inner()).take() {
        return Err(err);
    }
    if stop.reason() == StopReason::Pause
        && matches!(
            outcome,
            Outcome::Stopped | Outcome::Paused | Outcome::Waiting
        )
    {
        // Paused by a user: what ended is kept; interrupted task runs stay
        // RUNNING and go on when it is resumed.
        return run.end(Outcome::Paused, None, Vec::new()).await;
    }
    if outcome == Outcome::Stopped && !matches!(stop.reason(), StopReason::Kill | StopReason::Sla) {
        return Ok(());
    }
    // Past its task-run quota an execution fails, whatever allowFailure
    // made of the refused task.
    let outcome = if run.over_task_runs.load(std::sync::atomic::Ordering::SeqCst) {
        outcome.max(Outcome::Failed)
    } else {
        outcome
    };
    let mut outcome = match stop.reason() {
        StopReason::Kill => Outcome::Killed,
        StopReason::Sla => {
            // Paused or waiting task runs end with it.
            run.kill_unfinished_runs();
            run.sla_outcome()
        }
        _ => outcome,
    };
    if outcome == Outcome::Paused {
        // The worker lets the execution go until a resume (or its delay),
        // or until an SLA falls due.
        run.wake_for_slas(&plan.slas);
        return run.end(outcome, None, Vec::new()).await;
    }
    if outcome == Outcome::Waiting {
        run.wake_for_slas(&plan.slas);
        return run.park_for_subflows().await;
    }
    let mut logs = Vec::new();
    let mut outputs = None;
    if outcome.goes_on() && !plan.outputs.is_empty() {
        match run.flow_outputs(&plan).await {
            Ok(values) => outputs = Some(values),
            Err(message) => {
                logs.push(run.log_line("", "", "ERROR", format!("flow outputs: {message}")));
                outcome = Outcome::Failed;
            }
        }
    }
    if matches!(
        outcome,
        Outcome::Success | Outcome::Warning | Outcome::Failed
    ) {
        outcome = run.asserting_slas(&plan.slas, outcome).await;
    }
    if outcome == Outcome::Failed {
        run.plan_new_execution(&plan, &source, &mut logs).await;
    }
    run.end(outcome, outputs, logs).await
}

type RunKey = (String, String, String);

/// One execution being run by this worker.
struct Run<'e> {
    engine: &'e Engine,
    tenant: &'e TenantId,
    id: &'e ExecutionId,
    /// The fencing token of this worker's claim, checked by every write.
    epoch: i64,
    /// The tenant's quotas when this run started.
    quotas: QuotasConfig,
    stop: &'e Stop,
    namespace: String,
    flow_id: String,
    flow_revision: i32,
    /// The execution whose Subflow task started this one: its end wakes it.
    parent: Option<ExecutionId>,
    /// The parent's task run that started this execution.
    parent_task_run: Option<String>,
    /// Subflow executions this run's Subflow tasks wait for.
    waiting: Mutex<Vec<String>>,
    /// ForEachItem task runs waiting for the subflow executions they
    /// started.
    waiting_batches: Mutex<Vec<(String, chrono::DateTime<chrono::Utc>)>>,
    /// inputs, flow, execution, trigger, vars and labels.
    base: Base,
    outputs: Outputs,
    runs: Mutex<HashMap<RunKey, task_runs::Model>>,
    /// Each task run's parent run and value, by its id: where it sits in
    /// the ForEach loops around it.
    lineage: Mutex<HashMap<String, (String, String)>>,
    renderer: Renderer,
    /// Secret values resolved so far, masked in every log line.
    masks: Arc<Mutex<Vec<String>>>,
    /// The first write that failed; the run stops and is retried.
    failure: Mutex<Option<RunError>>,
    /// Results waiting for the next durable write.
    pending: Mutex<Staged>,
    /// Ids of the task runs already in the database.
    stored: Mutex<std::collections::HashSet<String>>,
    /// The execution's state history as this worker knows it.
    histories: Mutex<String>,
    /// Log lines and bytes the Log tasks of this run wrote (quotas).
    log_lines: std::sync::atomic::AtomicU64,
    log_bytes: std::sync::atomic::AtomicU64,
    /// The execution's labels, as the Labels tasks leave them.
    labels: Mutex<std::collections::BTreeMap<String, String>>,
    /// The execution's state when this worker claimed it.
    state_at_start: String,
    /// RUNNING was written by this worker.
    running_written: std::sync::atomic::AtomicBool,
    /// The executions Flow triggers on RUNNING start, written with RUNNING.
    running_triggered: Mutex<Option<super::Triggered>>,
    /// What is left of the Flow-trigger tree's budget for this execution's
    /// triggers (RUNNING, PAUSED and its end take from the same budget).
    trigger_budget: std::sync::atomic::AtomicU64,
    /// When a paused execution must be looked at again by itself: the
    /// earliest `delay` or `timeout` of its Pause tasks.
    wake: Mutex<Option<chrono::DateTime<chrono::Utc>>>,
    /// When the execution was created: its SLAs' durations count from it.
    created: chrono::DateTime<chrono::Utc>,
    /// The behavior of the SLA that stopped the run, if one did.
    sla_behavior: Mutex<Option<aerie_common::kestra::sla::Behavior>>,
    /// Past the tenant's task-runs-per-execution quota: no more task runs.
    over_task_runs: std::sync::atomic::AtomicBool,
    /// Task runs of the execution so far, stored or about to be created.
    task_runs_taken: std::sync::atomic::AtomicUsize,
    /// The `CREATE_NEW_EXECUTION` policy of a task that failed, if any.
    new_execution_policy: Mutex<Option<Arc<aerie_common::kestra::retry::Retry>>>,
    /// The new execution that a retry starts, written with the end.
    retried: Mutex<Option<new_execution::Retried>>,
    /// This execution's attempt (1 unless a retry created it) and when the
    /// first attempt was created.
    attempt_number: i32,
    first_attempt: chrono::DateTime<chrono::Utc>,
    /// As stored, for a retry's new execution.
    inputs: Map<String, Value>,
    trigger: Value,
}

/// The forms of a secret value that masking replaces: the value, and the
/// value as a JSON string writes it when that differs (quotes, backslashes,
/// control characters escaped). Empty values are never masked.
fn secret_forms(secret: &str) -> Vec<String> {
    if secret.is_empty() {
        return Vec::new();
    }
    let mut forms = vec![secret.to_owned()];
    let quoted = serde_json::to_string(secret).expect("a string is JSON");
    let escaped = &quoted[1..quoted.len() - 1];
    if escaped != secret {
        forms.push(escaped.to_owned());
    }
    forms
}

/// What a run's template scope takes from its flow: `vars`, and the
/// opened values of its SECRET inputs.
struct PlanScope {
    variables: Map<String, Value>,
    secret_inputs: Map<String, Value>,
}

impl<'e> Run<'e> {
    fn new(
        engine: &'e Engine,
        job: &'e Claimed,
        stop: &'e Stop,
        row: &executions::Model,
        previous: Vec<task_runs::Model>,
        scope: PlanScope,
        quotas: QuotasConfig,
    ) -> Run<'e> {
        let (tenant, id) = (&job.tenant, &job.execution);
        // A SECRET input's value is masked wherever the run writes it.
        let masks = Arc::new(Mutex::new(
            scope
                .secret_inputs
                .values()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect::<Vec<_>>(),
        ));
        let lookups = TenantLookups {
            handle: tokio::runtime::Handle::current(),
            engine: engine.clone(),
            tenant: tenant.clone(),
            namespace: row.namespace.clone(),
            execution: Some(id.clone()),
            parent: row
                .parent_execution_id
                .as_deref()
                .and_then(|id| ExecutionId::parse(id).ok()),
            masks: masks.clone(),
        };
        let parse = |text: &str| serde_json::from_str::<Value>(text).unwrap_or_else(|_| json!({}));
        let mut base = Map::new();
        let mut inputs = parse(&row.inputs);
        if let Value::Object(stored) = &mut inputs {
            stored.extend(scope.secret_inputs);
        }
        base.insert("inputs".into(), inputs);
        base.insert(
            "trigger".into(),
            crate::domain::template_trigger(parse(&row.trigger)),
        );
        base.insert(
            "labels".into(),
            crate::domain::template_labels(&serde_json::from_str(&row.labels).unwrap_or_default()),
        );
        base.insert("vars".into(), Value::Object(scope.variables));
        base.insert(
            "flow".into(),
            json!({"id": row.flow_id, "namespace": row.namespace, "revision": row.flow_revision,
                   "tenantId": tenant.as_named()}),
        );
        base.insert(
            "execution".into(),
            json!({"id": row.id, "startDate": kestra_date(row.create_time)}),
        );
        let stored = previous.iter().map(|r| r.id.clone()).collect();
        let taken = previous.len();
        let lineage = previous
            .iter()
            .map(|r| (r.id.clone(), (r.parent_id.clone(), r.value.clone())))
            .collect();
        let runs = previous
            .into_iter()
            .map(|r| ((r.parent_id.clone(), r.task_id.clone(), r.value.clone()), r))
            .collect();
        Run {
            engine,
            tenant,
            id,
            epoch: job.epoch,
            quotas,
            stop,
            namespace: row.namespace.clone(),
            flow_id: row.flow_id.clone(),
            flow_revision: row.flow_revision,
            parent: row
                .parent_execution_id
                .as_deref()
                .and_then(|id| ExecutionId::parse(id).ok()),
            parent_task_run: row.parent_task_run_id.clone(),
            waiting: Mutex::new(Vec::new()),
            waiting_batches: Mutex::new(Vec::new()),
            base: Base::new(&base),
            outputs: Outputs::default(),
            runs: Mutex::new(runs),
            lineage: Mutex::new(lineage),
            renderer: Renderer::new(Arc::new(lookups)),
            masks,
            failure: Mutex::new(None),
            pending: Mutex::new(Staged::default()),
            stored: Mutex::new(stored),
            histories: Mutex::new(row.histories.clone()),
            log_lines: std::sync::atomic::AtomicU64::new(0),
            log_bytes: std::sync::atomic::AtomicU64::new(0),
            labels: Mutex::new(serde_json::from_str(&row.labels).unwrap_or_default()),
            state_at_start: row.state.clone(),
            running_written: std::sync::atomic::AtomicBool::new(false),
            running_triggered: Mutex::new(None),
            trigger_budget: std::sync::atomic::AtomicU64::new(
                super::chain_of(&parse_object(&row.trigger)).budget,
            ),
            wake: Mutex::new(None),
            created: row.create_time,
            sla_behavior: Mutex::new(None),
            new_execution_policy: Mutex::new(None),
            over_task_runs: std::sync::atomic::AtomicBool::new(false),
            task_runs_taken: std::sync::atomic::AtomicUsize::new(taken),
            retried: Mutex::new(None),
            attempt_number: row.attempt_number,
            first_attempt: row.first_attempt_time.unwrap_or(row.create_time),
            inputs: serde_json::from_str(&row.inputs).unwrap_or_default(),
            trigger: parse_object(&row.trigger),
        }
    }

    /// Runs `tasks` one after the other, then `errors` if one failed, then
    /// `finally`.
    fn block<'a>(
        &'a self,
        tasks: &'a [Task],
        errors: &'a [Task],
        finally: &'a [Task],
        parent: &'a str,
        value: &'a Value,
    ) -> BoxFuture<'a, Outcome> {
        Box::pin(async move {
            let outcome = self.sequence(tasks, parent, value).await;
            self.conclude(outcome, errors, finally, parent, value).await
        })
    }

    fn sequence<'a>(
        &'a self,
        tasks: &'a [Task],
        parent: &'a str,
        value: &'a Value,
    ) -> BoxFuture<'a, Outcome> {
        Box::pin(async move {
            let mut outcome = Outcome::Success;
            for task in tasks.iter().filter(|t| !t.disabled) {
                outcome = outcome.max(self.task(task, parent, value).await);
                if !outcome.goes_on() {
                    break;
                }
            }
            outcome
        })
    }

    async fn conclude(
        &self,
        mut outcome: Outcome,
        errors: &[Task],
        finally: &[Task],
        parent: &str,
        value: &Value,
    ) -> Outcome {
        if matches!(outcome, Outcome::Paused | Outcome::Waiting) {
            // Nothing else of this list runs before the resume (or before
            // the subflow ends).
            return outcome;
        }
        if outcome == Outcome::Failed && !errors.is_empty() {
            // The error branch runs; the list stays failed whatever it does.
            let handled = self.sequence(errors, parent, value).await;
            outcome = outcome.max(handled);
        }
        if !finally.is_empty() && outcome <= Outcome::Failed {
            outcome = outcome.max(self.sequence(finally, parent, value).await);
        }
        outcome
    }

    /// Runs one task (once per ForEach value), unless it is already done.
    fn task<'a>(
        &'a self,
        task: &'a Task,
        parent: &'a str,
        value: &'a Value,
    ) -> BoxFuture<'a, Outcome> {
        Box::pin(async move {
            let value_key = value_key(value);
            let key = (parent.to_owned(), task.id.clone(), value_key.clone());
            let existing = self.lock_runs().get(&key).cloned();
            if let Some(done) = existing.as_ref().and_then(|r| {
                State::parse(&r.state)
                    .filter(|s| s.is_done())
                    .map(|s| (r, s))
            }) {
                self.record_outputs(task, parent, &value_key, parse_object(&done.0.outputs));
                return Outcome::of(done.1);
            }
            if self.stop.is_stopped() {
                return self.stopped();
            }
            if existing.is_none() && !self.may_create_task_run(task, parent, &key).await {
                return Outcome::Failed;
            }
            match &task.body {
                Body::Pause(pause) => {
                    return self.pause(task, pause, parent, value, key, existing).await;
                }
                Body::Subflow(call) => {
                    return self.subflow(task, call, parent, key, existing).await;
                }
                Body::ForEachItemItems(call) => {
                    return self.start_batches(task, call, parent, key, existing).await;
                }
                _ => {}
            }
            // An instant task is CPU work from here to its end (rendering,
            // bookkeeping, writing its rows): each tenant gets its share of
            // the cores for it, however many executions it runs at once.
            let mut cpu = match is_instant(task.kind()) {
                true => Some(self.engine.cpu_slot(self.tenant).await),
                false => None,
            };
            let now = repo::now();
            let mut row = existing.unwrap_or_else(|| self.new_run(parent, task, &value_key, now));
            // A run interrupted while RUNNING (or waiting for a retry)
            // resumes with its start time, so a Sleep only waits for what is
            // left and a retry's maxDuration counts from the first attempt.
            let resumed = [State::Running, State::Retrying].map(State::as_str);
            if !resumed.contains(&row.state.as_str()) || row.start_time.is_none() {
                row.start_time = Some(now);
            }
            row.attempts += 1;
            row.state = State::Running.as_str().to_owned();
            row.histories = push_history(&row.histories, State::Running, now);
            row.update_time = now;
            let mut context = self.context(&row, task);
            if let Some(condition) = &task.run_if {
                match self.render(condition, &context).await {
                    Ok(rendered) if !is_truthy(&rendered) => {
                        return self
                            .finish(row, key, task, State::Skipped, json!({}), Vec::new())
                            .await;
                    }
                    Ok(_) => {}
                    Err(Failure::Error(message) | Failure::Refused(message)) => {
                        let line =
                            self.log_line(&row.id, &task.id, "ERROR", format!("runIf: {message}"));
                        return self.fail(row, key, task, vec![line]).await;
                    }
                    Err(Failure::Stopped) => return self.stopped(),
                }
            }
            if !is_instant(task.kind()) {
                self.lock_runs().insert(key.clone(), row.clone());
                if !self.persist(row.clone(), Vec::new()).await {
                    return Outcome::Stopped;
                }
            }
            let mut logs = Vec::new();
            let mut attempt_started = row.start_time.unwrap_or(now);
            let result = loop {
                let body = self.body(task, &row, attempt_started, value, &context, &mut logs);
                let result = match task.timeout {
                    Some(limit) => tokio::time::timeout(limit, body).await.unwrap_or_else(|_| {
                        // A flowable task's children stopped with it.
                        self.kill_unfinished_under(&row.id);
                        Err(Failure::Error(format!(
                            "timed out after {}s",
                            limit.as_secs_f64()
                        )))
                    }),
                    None => body.await,
                };
                let (Err(Failure::Error(message)), Some(retry)) = (&result, &task.retry) else {
                    break result;
                };
                if retry.new_execution {
                    // Retried as a whole, in a new execution, if it fails.
                    self.retry_in_new_execution(retry);
                    break result;
                }
                let since_first = (repo::now() - row.start_time.unwrap_or(now))
                    .to_std()
                    .unwrap_or_default();
                let Some(delay) = retry.next_delay(row.attempts.max(1) as u32, since_first) else {
                    break result;
                };
                // The failed attempt is recorded (RETRYING, with its error,
                // counted against the log quotas) and the task's CPU share
                // is given back while it waits.
                let notice = format!(
                    "attempt {} failed; retrying in {}s",
                    row.attempts,
                    delay.as_secs_f64()
                );
                if let Err(refused) = self
                    .count_log(message.len())
                    .and_then(|()| self.count_log(notice.len()))
                {
                    logs.push(self.log_line(&row.id, &task.id, "ERROR", message.clone()));
                    break Err(refused);
                }
                logs.push(self.log_line(&row.id, &task.id, "ERROR", message.clone()));
                logs.push(self.log_line(&row.id, &task.id, "WARN", notice));
                drop(cpu.take());
                let at = repo::now();
                row.state = State::Retrying.as_str().to_owned();
                row.histories = push_history(&row.histories, State::Retrying, at);
                row.update_time = at;
                self.lock_runs().insert(key.clone(), row.clone());
                // A short wait costs no write: the attempts are written
                // with the task's end. A longer one shows RETRYING at once.
                if delay >= PERSISTED_RETRY_WAIT {
                    let kept = self.kept_logs(task, std::mem::take(&mut logs));
                    if !self.persist(row.clone(), kept).await {
                        return Outcome::Stopped;
                    }
                }
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = self.stop.stopped() => break Err(Failure::Stopped),
                }
                if is_instant(task.kind()) {
                    cpu = Some(self.engine.cpu_slot(self.tenant).await);
                }
                let at = repo::now();
                attempt_started = at;
                row.attempts += 1;
                row.state = State::Running.as_str().to_owned();
                row.histories = push_history(&row.histories, State::Running, at);
                row.update_time = at;
                context = self.context(&row, task);
            };
            // Retried here or before a restart of the worker (a resumed
            // attempt alone is no retry).
            let retried = task.retry.as_ref().is_some_and(|r| r.warning_on_retry)
                && row.histories.contains(State::Retrying.as_str());
            match result {
                Ok(done) => match done.outcome {
                    Outcome::Stopped => Outcome::Stopped,
                    // A flowable task waits, RUNNING, for its paused child
                    // (or one waiting for a subflow).
                    Outcome::Paused => Outcome::Paused,
                    Outcome::Waiting => Outcome::Waiting,
                    Outcome::Failed if task.allow_failure => {
                        self.finish(row, key, task, State::Warning, done.outputs, logs)
                            .await
                    }
                    Outcome::Success if retried => {
                        self.finish(row, key, task, State::Warning, done.outputs, logs)
                            .await
                    }
                    outcome => {
                        self.finish(row, key, task, outcome.state(), done.outputs, logs)
                            .await
                    }
                },
                Err(Failure::Error(message) | Failure::Refused(message)) => {
                    logs.push(self.log_line(&row.id, &task.id, "ERROR", message));
                    self.fail(row, key, task, logs).await
                }
                Err(Failure::Stopped) => match self.stopped() {
                    Outcome::Killed => {
                        self.finish(row, key, task, State::Killed, json!({}), logs)
                            .await
                    }
                    other => other,
                },
            }
        })
    }

    /// Whether the execution may create one more task run: past the
    /// tenant's `task-runs-per-execution` quota (nested ForEach loops
    /// multiply), the first refused task run fails naming it, and the
    /// execution creates none after it and ends FAILED.
    async fn may_create_task_run(&self, task: &Task, parent: &str, key: &RunKey) -> bool {
        use std::sync::atomic::Ordering::SeqCst;
        if self.over_task_runs.load(SeqCst) {
            return false;
        }
        // Taken before the run exists: branches running at once never
        // overshoot together.
        let created = self.task_runs_taken.fetch_add(1, SeqCst);
        let quota = self.quotas.task_runs_per_execution as usize;
        if created < quota {
            return true;
        }
        if self.over_task_runs.swap(true, SeqCst) {
            return false;
        }
        aerie_common::metrics::instruments().quota_refusal("task-runs-per-execution");
        let row = self.new_run(parent, task, &key.2, repo::now());
        let message = format!(
            "this execution has created {created} task runs, the tenant's quota (quota task-runs-per-execution): it runs no more tasks and fails"
        );
        let line = self.log_line(&row.id, &task.id, "ERROR", message);
        self.finish(row, key.clone(), task, State::Failed, json!({}), vec![line])
            .await;
        false
    }

    /// Adds `given` to the execution's labels (written with the next
    /// write), unless the result breaks the label rules. Secret values are
    /// masked in them as in logs: labels are shown to every reader.
    fn add_labels(&self, given: BTreeMap<String, String>) -> Result<(), String> {
        let given: BTreeMap<String, String> = given
            .into_iter()
            .map(|(k, v)| (self.masked(k), self.masked(v)))
            .collect();
        let merged = {
            let mut labels = self.labels.lock().unwrap_or_else(|p| p.into_inner());
            let mut merged = labels.clone();
            merged.extend(given);
            crate::domain::check_labels(&merged)?;
            labels.clone_from(&merged);
            merged
        };
        self.lock_pending().labels =
            Some(serde_json::to_string(&merged).unwrap_or_else(|_| "{}".into()));
        Ok(())
    }

    /// A task run not started yet.
    fn new_run(
        &self,
        parent: &str,
        task: &Task,
        value_key: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> task_runs::Model {
        // Time-ordered like execution ids (see [`ExecutionId::generate`]).
        let id = uuid::Uuid::now_v7().to_string();
        self.lineage
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.clone(), (parent.to_owned(), value_key.to_owned()));
        task_runs::Model {
            tenant_id: String::new(),
            id,
            execution_id: self.id.as_str().to_owned(),
            parent_id: parent.to_owned(),
            task_id: task.id.clone(),
            value: value_key.to_owned(),
            state: State::Created.as_str().to_owned(),
            histories: push_history("[]", State::Created, now),
            outputs: "{}".to_owned(),
            attempts: 0,
            start_time: None,
            update_time: now,
        }
    }

    /// A Pause task. The first time, its run and the execution are PAUSED
    /// and the worker lets the execution go. Once resumed (the API marks
    /// the run RUNNING) or past its `delay`, its `tasks` run and it ends
    /// like a Sequential; past its `timeout` without a resume, it fails.
    async fn pause(
        &self,
        task: &Task,
        pause: &tasks::Pause,
        parent: &str,
        value: &Value,
        key: RunKey,
        existing: Option<task_runs::Model>,
    ) -> Outcome {
        let now = repo::now();
        let mut row = existing.unwrap_or_else(|| self.new_run(parent, task, &key.2, now));
        let delay = match &pause.delay {
            None => None,
            Some(text) => {
                let context = self.context(&row, task);
                let rendered = match self.render(text, &context).await {
                    Ok(rendered) => rendered,
                    Err(Failure::Stopped) => return self.stopped(),
                    Err(Failure::Error(message) | Failure::Refused(message)) => {
                        let line = self.log_line(&row.id, &task.id, "ERROR", message);
                        return self.fail(row, key, task, vec![line]).await;
                    }
                };
                match aerie_common::kestra::duration::parse_iso_duration(&rendered) {
                    Some(delay) => Some(delay),
                    None => {
                        let message = format!("delay '{rendered}' is not an ISO-8601 duration");
                        let line = self.log_line(&row.id, &task.id, "ERROR", message);
                        return self.fail(row, key, task, vec![line]).await;
                    }
                }
            }
        };
        let paused_at = crate::domain::parse_histories(&row.histories)
            .into_iter()
            .rev()
            .find(|h| h.state == State::Paused.as_str())
            .map(|h| h.date);
        let Some(paused_at) = paused_at else {
            row.start_time = Some(now);
            row.attempts += 1;
            row.histories = push_history(
                &push_history(&row.histories, State::Running, now),
                State::Paused,
                now,
            );
            row.state = State::Paused.as_str().to_owned();
            row.update_time = now;
            self.lock_runs().insert(key, row.clone());
            self.wake_after(now, delay, task.timeout);
            let line = self.log_line(&row.id, &task.id, "INFO", "paused".to_owned());
            if !self.persist(row, vec![line]).await {
                return Outcome::Stopped;
            }
            return Outcome::Paused;
        };
        if row.state == State::Paused.as_str() {
            let waited = (now - paused_at).to_std().unwrap_or_default();
            let resumed = delay.is_some_and(|delay| waited >= delay);
            if !resumed {
                if let Some(limit) = task.timeout
                    && waited >= limit
                {
                    let message = format!(
                        "paused for longer than its timeout of {}s without a resume",
                        limit.as_secs_f64()
                    );
                    let line = self.log_line(&row.id, &task.id, "ERROR", message);
                    return self.fail(row, key, task, vec![line]).await;
                }
                // Looked at too early (a worker restarted): paused still.
                self.wake_after(paused_at, delay, task.timeout);
                return Outcome::Paused;
            }
            // Resumed by its delay, not by a caller: its onResume inputs
            // take their defaults, as a resume without inputs gives them.
            if pause.takes_inputs() {
                let resolved = pause
                    .on_resume()
                    .map_err(|problem| problem.message)
                    .and_then(|declared| {
                        crate::domain::inputs::resolve(&declared, &Map::new(), &BTreeMap::new())
                            .map_err(|problems| problems.join("; "))
                    });
                match resolved {
                    Ok(values) => {
                        let mut outputs = parse_object(&row.outputs);
                        outputs["onResume"] = Value::Object(values);
                        row.outputs = outputs.to_string();
                    }
                    Err(why) => {
                        let message =
                            format!("resumed by its delay without onResume inputs: {why}");
                        let line = self.log_line(&row.id, &task.id, "ERROR", message);
                        return self.fail(row, key, task, vec![line]).await;
                    }
                }
            }
            row.state = State::Running.as_str().to_owned();
            row.histories = push_history(&row.histories, State::Running, now);
            row.update_time = now;
            self.lock_runs().insert(key.clone(), row.clone());
            if !self.persist(row.clone(), Vec::new()).await {
                return Outcome::Stopped;
            }
        }
        let outcome = self
            .block(&task.tasks, &task.errors, &[], &row.id, value)
            .await;
        let state = match outcome {
            Outcome::Paused | Outcome::Waiting | Outcome::Stopped => return outcome,
            Outcome::Failed if task.allow_failure => State::Warning,
            other => other.state(),
        };
        let outputs = parse_object(&row.outputs);
        self.finish(row, key, task, state, outputs, Vec::new())
            .await
    }

    /// Stages every task run that has not ended as KILLED.
    fn kill_unfinished_runs(&self) {
        let now = repo::now();
        let unfinished: Vec<task_runs::Model> = self
            .lock_runs()
            .values()
            .filter(|r| !State::parse(&r.state).is_some_and(State::is_terminal))
            .cloned()
            .collect();
        for mut row in unfinished {
            row.state = State::Killed.as_str().to_owned();
            row.histories = push_history(&row.histories, State::Killed, now);
            row.update_time = now;
            self.stage(row, Vec::new());
        }
    }

    /// Ends as KILLED the runs below `ancestor` that have not ended: a
    /// flowable task that timed out leaves none of its children RUNNING.
    fn kill_unfinished_under(&self, ancestor: &str) {
        let now = repo::now();
        let mut runs = self.lock_runs();
        let parents: HashMap<String, String> = runs
            .values()
            .map(|r| (r.id.clone(), r.parent_id.clone()))
            .collect();
        let is_under = |id: &str| {
            let mut at = id;
            // Bounded by the number of runs: no cycle can hold it.
            for _ in 0..=parents.len() {
                match parents.get(at) {
                    Some(parent) if parent == ancestor => return true,
                    Some(parent) if !parent.is_empty() => at = parent,
                    _ => return false,
                }
            }
            false
        };
        let mut killed = Vec::new();
        for row in runs.values_mut() {
            if State::parse(&row.state).is_some_and(State::is_terminal) || !is_under(&row.id) {
                continue;
            }
            row.state = State::Killed.as_str().to_owned();
            row.histories = push_history(&row.histories, State::Killed, now);
            row.update_time = now;
            killed.push(row.clone());
        }
        drop(runs);
        for row in killed {
            self.stage(row, Vec::new());
        }
    }

    /// Notes when a paused execution must be looked at again by itself.
    fn wake_after(
        &self,
        from: chrono::DateTime<chrono::Utc>,
        delay: Option<std::time::Duration>,
        timeout: Option<std::time::Duration>,
    ) {
        let Some(after) = [delay, timeout].into_iter().flatten().min() else {
            return;
        };
        let at = from + chrono::TimeDelta::from_std(after).unwrap_or(chrono::TimeDelta::MAX);
        let mut wake = self.wake.lock().unwrap_or_else(|p| p.into_inner());
        if wake.is_none_or(|current| at < current) {
            *wake = Some(at);
        }
    }

    async fn fail(
        &self,
        row: task_runs::Model,
        key: RunKey,
        task: &Task,
        logs: Vec<NewLog>,
    ) -> Outcome {
        let state = if task.allow_failure {
            State::Warning
        } else {
            State::Failed
        };
        self.finish(row, key, task, state, json!({}), logs).await
    }

    /// Records the end of a task run and its outputs.
    async fn finish(
        &self,
        mut row: task_runs::Model,
        key: RunKey,
        task: &Task,
        state: State,
        outputs: Value,
        logs: Vec<NewLog>,
    ) -> Outcome {
        let now = repo::now();
        let mut logs = self.kept_logs(task, logs);
        // A secret resolved by this run never reaches stored outputs, nor
        // the templates of later tasks, which read the same outputs.
        let mut outputs = self.masked_value(outputs);
        let mut state = state;
        let quota = self.quotas.output_bytes_per_task_run as usize;
        let mut text = outputs.to_string();
        let size = text.len();
        if size > quota {
            aerie_common::metrics::instruments().quota_refusal("output-bytes-per-task-run");
            logs.push(self.log_line(
                &row.id,
                &task.id,
                "ERROR",
                format!(
                    "outputs of {size} bytes, more than the tenant's quota of {quota} per task run (quota output-bytes-per-task-run)"
                ),
            ));
            outputs = json!({});
            text = "{}".to_owned();
            state = if task.allow_failure {
                State::Warning
            } else {
                State::Failed
            };
        }
        if task.allow_warning && state == State::Warning {
            state = State::Success;
        }
        row.state = state.as_str().to_owned();
        row.histories = push_history(&row.histories, state, now);
        row.outputs = text;
        row.update_time = now;
        let (parent_id, value_key) = (key.0.clone(), key.2.clone());
        self.lock_runs().insert(key, row.clone());
        if is_instant(task.kind()) && state.is_done() {
            self.stage(row, logs);
            // A long run of instant tasks is written in bounded pieces: no
            // single transaction holds the database long.
            let staged = self.lock_pending().runs.len();
            if staged >= STAGED_FLUSH_ROWS && !self.flush().await {
                return Outcome::Stopped;
            }
            // Instant tasks never wait on anything: a long run of them
            // (a ForEach over thousands of items) lets the other tasks of
            // this thread (other tenants' requests, lease heartbeats) in.
            tokio::task::yield_now().await;
        } else if !self.persist(row, logs).await {
            return Outcome::Stopped;
        }
        if state.is_done() {
            self.record_outputs(task, &parent_id, &value_key, outputs);
        }
        Outcome::of(state)
    }

    /// The body of one task.
    fn body<'a>(
        &'a self,
        task: &'a Task,
        row: &'a task_runs::Model,
        attempt_started: chrono::DateTime<chrono::Utc>,
        value: &'a Value,
        context: &'a Scope,
        logs: &'a mut Vec<NewLog>,
    ) -> BoxFuture<'a, Result<Done, Failure>> {
        Box::pin(async move {
            match &task.body {
                Body::Log(log) => {
                    let (rank, level) = crate::domain::LOG_LEVELS
                        .iter()
                        .enumerate()
                        .find(|(_, l)| **l == log.level)
                        .map_or((2, "INFO"), |(rank, l)| (rank, *l));
                    if rank < task.log_level {
                        // Below the task's logLevel: not rendered, not kept.
                        return Ok(leaf(json!({})));
                    }
                    for message in &log.messages {
                        let text = match message {
                            Value::String(s) => self.render(s, context).await?,
                            other => other.to_string(),
                        };
                        self.count_log(text.len())?;
                        logs.push(self.log_line(&row.id, &task.id, level, text));
                    }
                    Ok(leaf(json!({})))
                }
                Body::Return(r) => Ok(leaf(
                    json!({"value": self.render(&r.format, context).await?}),
                )),
                Body::OutputValues(output) => Ok(leaf(
                    json!({"values": self.render_value(&output.values, context).await?}),
                )),
                Body::Sequential => Ok(Done {
                    outcome: self
                        .block(&task.tasks, &task.errors, &task.finally, &row.id, value)
                        .await,
                    outputs: json!({}),
                }),
                Body::Parallel(parallel) => {
                    let branches = task.tasks.iter().filter(|t| !t.disabled).count();
                    let quota = self.quotas.parallel_branches as usize;
                    if branches > quota {
                        aerie_common::metrics::instruments().quota_refusal("parallel-branches");
                        return Err(Failure::Error(format!(
                            "Parallel has {branches} branches, more than the tenant's quota of {quota} (quota parallel-branches)"
                        )));
                    }
                    let limit = parallel
                        .concurrent
                        .map_or(task.tasks.len().max(1), |n| n as usize);
                    // The futures are built first: no closure is held across an await.
                    let branches: Vec<_> = task
                        .tasks
                        .iter()
                        .filter(|t| !t.disabled)
                        .map(|child| self.task(child, &row.id, value))
                        .collect();
                    let outcome = concurrently(branches, limit).await;
                    Ok(Done {
                        outcome: self
                            .conclude(outcome, &task.errors, &task.finally, &row.id, value)
                            .await,
                        outputs: json!({}),
                    })
                }
                Body::If(choice) => {
                    let chosen = is_truthy(&self.render(&choice.condition, context).await?);
                    let branch = if chosen { &task.tasks } else { &task.otherwise };
                    Ok(Done {
                        outcome: self
                            .block(branch, &task.errors, &task.finally, &row.id, value)
                            .await,
                        outputs: json!({"evaluationResult": chosen}),
                    })
                }
                Body::Labels(labels) => {
                    let given = match &labels.labels {
                        Value::String(text) => {
                            let rendered = self.render(text, context).await?;
                            let parsed: Value = serde_json::from_str(&rendered).map_err(|_| {
                                format!(
                                    "labels rendered to '{}', not a JSON mapping or list",
                                    rendered.chars().take(64).collect::<String>()
                                )
                            })?;
                            parsed
                        }
                        Value::Object(map) => {
                            let mut rendered = Map::new();
                            for (key, value) in map {
                                let key = self.render(key, context).await?;
                                rendered.insert(key, self.render_value(value, context).await?);
                            }
                            Value::Object(rendered)
                        }
                        other => self.render_value(other, context).await?,
                    };
                    let given = crate::domain::plan::labels(Some(&given));
                    // None can be set at run time (Kestra's rule and words).
                    if let Some((key, value)) = given.iter().find(|(k, _)| k.starts_with("system."))
                    {
                        return Err(Failure::Error(format!(
                            "System labels can only be set by Kestra itself, offending label: {key}={value}"
                        )));
                    }
                    self.add_labels(given).map_err(Failure::Error)?;
                    Ok(leaf(json!({})))
                }
                Body::Switch(switch) => {
                    let chosen = self.render(&switch.value, context).await?;
                    let case = task.cases.iter().find(|(value, _)| *value == chosen);
                    if case.is_none() && task.otherwise.is_empty() {
                        // Kestra: no task to run is a failure, not a no-op.
                        return Err(Failure::Error(format!(
                            "Switch value '{}' matches no case, and there are no defaults",
                            chosen.chars().take(100).collect::<String>()
                        )));
                    }
                    let branch = case.map_or(&task.otherwise, |(_, tasks)| tasks);
                    Ok(Done {
                        outcome: self
                            .block(branch, &task.errors, &task.finally, &row.id, value)
                            .await,
                        outputs: json!({"value": chosen, "defaults": case.is_none()}),
                    })
                }
                Body::ForEach(each) => {
                    let values = self.for_each_values(each, context).await?;
                    let quotas = &self.quotas;
                    // Unlimited concurrency means up to the branch quota.
                    let at_once = quotas.parallel_branches.max(1) as usize;
                    let limit = match each.concurrency_limit {
                        Some(0) => values.len().clamp(1, at_once),
                        Some(n) => (n as usize).min(at_once),
                        None => 1,
                    };
                    let iterations: Vec<_> = values
                        .iter()
                        .map(|item| self.sequence(&task.tasks, &row.id, item))
                        .collect();
                    let outcome = concurrently(iterations, limit).await;
                    Ok(Done {
                        outcome: self
                            .conclude(outcome, &task.errors, &task.finally, &row.id, value)
                            .await,
                        outputs: json!({}),
                    })
                }
                Body::Sleep(sleep) => {
                    let text = self.render(&sleep.duration, context).await?;
                    let total = aerie_common::kestra::duration::parse_iso_duration(&text)
                        .ok_or_else(|| format!("duration '{text}' is not an ISO-8601 duration"))?;
                    // From this attempt's start (a resumed run: the
                    // interrupted attempt's), so a retry sleeps in full.
                    let elapsed = (repo::now() - attempt_started).to_std().unwrap_or_default();
                    tokio::select! {
                        _ = tokio::time::sleep(total.saturating_sub(elapsed)) => Ok(leaf(json!({}))),
                        _ = self.stop.stopped() => Err(Failure::Stopped),
                    }
                }
                Body::Fail(fail) => {
                    if let Some(condition) = &fail.condition
                        && !is_truthy(&self.render(condition, context).await?)
                    {
                        return Ok(leaf(json!({})));
                    }
                    let message = match &fail.error_message {
                        Some(text) => self.render(text, context).await?,
                        None => "Flow failed".to_owned(),
                    };
                    Err(Failure::Error(message))
                }
                Body::ForEachItem => Ok(Done {
                    outcome: self
                        .block(&task.tasks, &task.errors, &[], &row.id, value)
                        .await,
                    outputs: json!({}),
                }),
                Body::ForEachItemSplit(split) => {
                    self.split_batches(task, split, row, context).await
                }
                Body::ForEachItemMerge => self.merge_outputs(task, row).await,
                Body::Pause(_) | Body::Subflow(_) | Body::ForEachItemItems(_) => {
                    Err(Failure::Error(format!(
                        "a {} task runs through its own path",
                        task.type_name
                    )))
                }
                Body::KvSet(set) => self.kv_set(set, context).await,
                Body::KvGet(get) => self.kv_get(get, context).await,
                Body::Write(write) => self.write_file(task, write, row, context).await,
            }
        })
    }

    /// The values a ForEach iterates over. A null among them fails the
    /// task, as in Kestra (an iteration has no value to be told by).
    async fn for_each_values(
        &self,
        each: &tasks::ForEach,
        context: &Scope,
    ) -> Result<Vec<Value>, Failure> {
        let values = self.for_each_items(each, context).await?;
        // Each value is stored with its task runs and keys their outputs,
        // shown to every reader of the execution: a secret is no value.
        if self.carries_secret(&Value::Array(values.clone())) {
            return Err(Failure::Refused(
                "a ForEach value carries a secret's value (values are stored with their task runs): iterate over names or indexes and read the secret inside".into(),
            ));
        }
        let nulls = values.iter().filter(|v| v.is_null()).count();
        if nulls > 0 {
            let shown = Value::Array(values).to_string();
            return Err(Failure::Error(format!(
                "Found '{nulls}' null values on Each, with values={}",
                shown.chars().take(200).collect::<String>()
            )));
        }
        Ok(values)
    }

    async fn for_each_items(
        &self,
        each: &tasks::ForEach,
        context: &Scope,
    ) -> Result<Vec<Value>, Failure> {
        let quota = self.quotas.foreach_items as usize;
        let too_many = |n: usize| {
            aerie_common::metrics::instruments().quota_refusal("foreach-items");
            Failure::Error(format!(
                "ForEach over {n} items, more than the tenant's quota of {quota} (quota foreach-items)"
            ))
        };
        match &each.values {
            Some(Value::Array(items)) if items.len() > quota => Err(too_many(items.len())),
            Some(Value::Array(items)) => {
                let mut values = Vec::with_capacity(items.len());
                for item in items {
                    values.push(self.render_value(item, context).await?);
                }
                Ok(values)
            }
            Some(Value::String(text)) => {
                let rendered = self.render(text, context).await?;
                match serde_json::from_str(&rendered) {
                    Ok(Value::Array(items)) if items.len() > quota => Err(too_many(items.len())),
                    Ok(Value::Array(items)) => Ok(items),
                    _ if self.carries_secret(&Value::String(rendered.clone())) => Err(
                        Failure::Error("ForEach values must be a list or a JSON array".into()),
                    ),
                    _ => Err(Failure::Error(format!(
                        "ForEach values must be a list or a JSON array, got '{}'",
                        rendered.chars().take(100).collect::<String>()
                    ))),
                }
            }
            _ => Err(Failure::Error("ForEach values must be a list".into())),
        }
    }

    /// The KV key a kv task names, and its namespace (the flow's by default).
    async fn kv_address(
        &self,
        key: &str,
        namespace: Option<&String>,
        context: &Scope,
    ) -> Result<(String, String), Failure> {
        let key = self.render(key, context).await?;
        let namespace = match namespace {
            Some(ns) => self.render(ns, context).await?,
            None => self.namespace.clone(),
        };
        Ok((key, namespace))
    }

    async fn kv_set(&self, set: &tasks::KvSet, context: &Scope) -> Result<Done, Failure> {
        let (key, namespace) = self
            .kv_address(&set.key, set.namespace.as_ref(), context)
            .await?;
        let value = self.render_value(&set.value, context).await?;
        let ttl = match &set.ttl {
            Some(ttl) => self.render(ttl, context).await?,
            None => String::new(),
        };
        let request = aerie_proto::flow::internal::v1::PutKvForExecutionRequest {
            entry: Some(flow_pb::PutKvRequest {
                namespace,
                key,
                value_json: value.to_string(),
                r#type: set.kv_type.clone(),
                ttl,
            }),
            actor: format!("execution {}", self.id),
            flow_namespace: self.namespace.clone(),
            overwrite: set.overwrite,
        };
        self.engine
            .flows
            .clone()
            .put_kv_for_execution(self.engine.internal(self.tenant, request))
            .await
            .map_err(|status| format!("kv.Set: {}", status.message()))?;
        Ok(leaf(json!({})))
    }

    async fn kv_get(&self, get: &tasks::KvGet, context: &Scope) -> Result<Done, Failure> {
        let (key, namespace) = self
            .kv_address(&get.key, get.namespace.as_ref(), context)
            .await?;
        let request = aerie_proto::flow::internal::v1::GetKvForExecutionRequest {
            flow_namespace: self.namespace.clone(),
            namespace,
            key,
        };
        let found = self
            .engine
            .flows
            .clone()
            .get_kv_for_execution(self.engine.internal(self.tenant, request))
            .await;
        match found {
            Ok(entry) => Ok(leaf(json!({
                "value": serde_json::from_str::<Value>(&entry.into_inner().value_json).unwrap_or(Value::Null)
            }))),
            Err(status) if status.code() == tonic::Code::NotFound && !get.error_on_missing => {
                Ok(leaf(json!({"value": null})))
            }
            Err(status) => Err(Failure::Error(format!("kv.Get: {}", status.message()))),
        }
    }

    async fn write_file(
        &self,
        task: &Task,
        write: &tasks::Write,
        row: &task_runs::Model,
        context: &Scope,
    ) -> Result<Done, Failure> {
        let content = self.render(&write.content, context).await?;
        if content.len() > MAX_WRITE_BYTES {
            return Err(Failure::Error(format!(
                "content is larger than {MAX_WRITE_BYTES} bytes"
            )));
        }
        let extension = &write.extension;
        let name = crate::storage::safe_file_name(&format!(
            "{}{}{}",
            uuid::Uuid::new_v4().simple(),
            if extension.starts_with('.') { "" } else { "." },
            extension
        ));
        let path = format!(
            "{}/tasks/{}/{}/{name}",
            execution_folder(&self.namespace, &self.flow_id, self.id),
            task.id,
            row.id
        );
        let path = StoragePath::parse(&path).map_err(|e| e.to_string())?;
        self.engine
            .storage
            .put(self.tenant, &path, bytes::Bytes::from(content))
            .await
            .map_err(|e| format!("storage.Write: {e}"))?;
        Ok(leaf(json!({"uri": path.uri()})))
    }

    async fn flow_outputs(&self, plan: &Plan) -> Result<Value, String> {
        let context = self.base.scope(&self.outputs, &[]);
        let mut values = Map::new();
        for output in &plan.outputs {
            let value = self
                .render_value(&output.value, &context)
                .await
                .map_err(|f| match f {
                    Failure::Error(message) | Failure::Refused(message) => message,
                    Failure::Stopped => "stopped".into(),
                })?;
            // A refusal quotes the value, trimmed or cut where masking
            // would not find it: not when it carries a secret.
            let carries = self.carries_secret(&value);
            let value = output.convert(value).map_err(|why| {
                if carries {
                    format!(
                        "output '{}' is not a valid {}",
                        output.id,
                        output.kind.as_deref().unwrap_or("")
                    )
                } else {
                    why
                }
            })?;
            values.insert(output.id.clone(), self.masked_value(value));
        }
        // Bounded like a task run's outputs: they are stored with the
        // execution and read back whole (a ForEachItem gathers them).
        let values = Value::Object(values);
        let size = values.to_string().len();
        let quota = self.quotas.output_bytes_per_task_run as usize;
        if size > quota {
            aerie_common::metrics::instruments().quota_refusal("output-bytes-per-task-run");
            return Err(format!(
                "flow outputs of {size} bytes, more than the tenant's quota of {quota} (quota output-bytes-per-task-run)"
            ));
        }
        Ok(values)
    }

    /// The scope of one task run; its cost does not grow with the number
    /// of tasks that ran before (outputs are read in place).
    fn context(&self, row: &task_runs::Model, task: &Task) -> Scope {
        self.context_with(row, task, &[])
    }

    /// [`Run::context`] with more `taskrun` variables (a ForEachItem
    /// batch's `items` and `iteration`).
    fn context_with(&self, row: &task_runs::Model, task: &Task, more: &[(&str, Value)]) -> Scope {
        // Kestra's `parents`: the enclosing iterations, closest first.
        let parents: Vec<Value> = self
            .enclosing_values(&row.parent_id)
            .into_iter()
            .map(|value| json!({"taskrun": {"value": value}}))
            .collect();
        self.base.scope(
            &self.outputs,
            &[
                (
                    "taskrun",
                    {
                        let mut taskrun = json!({"id": row.id, "value": (!row.value.is_empty()).then_some(&row.value),
                               "attemptsCount": (row.attempts - 1).max(0),
                               "startDate": row.start_time.map(kestra_date)});
                        for (name, value) in more {
                            taskrun[*name] = value.clone();
                        }
                        taskrun
                    },
                ),
                ("task", json!({"id": task.id, "type": task.type_name})),
                ("parents", Value::Array(parents.clone())),
                ("parent", parents.first().cloned().unwrap_or(Value::Null)),
                // Labels a Labels task set are seen by the tasks after it.
                (
                    "labels",
                    crate::domain::template_labels(
                        &self.labels.lock().unwrap_or_else(|p| p.into_inner()),
                    ),
                ),
            ],
        )
    }

    async fn render(&self, text: &str, context: &Scope) -> Result<String, Failure> {
        // errorLogs() reads the log lines written so far: staged ones too.
        if text.contains("errorLogs") && !self.flush().await {
            return Err(Failure::Stopped);
        }
        if !needs_lookups(text) {
            return Ok(self.renderer.render(text, context)?);
        }
        let (renderer, text, context) = (self.renderer.clone(), text.to_owned(), context.clone());
        // secret() and kv() block on a gRPC call: render off the async threads.
        let rendered = tokio::task::spawn_blocking(move || renderer.render(&text, &context))
            .await
            .map_err(|e| format!("template: {e}"))?;
        Ok(rendered?)
    }

    async fn render_value(&self, value: &Value, context: &Scope) -> Result<Value, Failure> {
        let text = value.to_string();
        if text.contains("errorLogs") && !self.flush().await {
            return Err(Failure::Stopped);
        }
        if !needs_lookups(&text) {
            return Ok(self.renderer.render_value(value, context)?);
        }
        let (renderer, value, context) = (self.renderer.clone(), value.clone(), context.clone());
        let rendered = tokio::task::spawn_blocking(move || renderer.render_value(&value, &context))
            .await
            .map_err(|e| format!("template: {e}"))?;
        Ok(rendered?)
    }

    /// Records a task run's outputs where templates find them: under the
    /// values of the ForEach iterations around it, as Kestra keys them.
    fn record_outputs(&self, task: &Task, parent: &str, value_key: &str, outputs: Value) {
        let mut values = self.enclosing_values(parent);
        values.reverse();
        if !value_key.is_empty() {
            values.push(value_key.to_owned());
        }
        let values: Vec<&str> = values.iter().map(String::as_str).collect();
        self.outputs.record(&task.id, &values, &outputs);
    }

    /// The values of the task runs enclosing the run whose parent is
    /// `parent`, closest first, those without a value left out (Kestra's
    /// `parents`).
    fn enclosing_values(&self, parent: &str) -> Vec<String> {
        let lineage = self.lineage.lock().unwrap_or_else(|p| p.into_inner());
        let mut values = Vec::new();
        let mut at = parent;
        // Bounded by the nesting limit; the count guards against a cycle in
        // damaged stored rows.
        for _ in 0..=aerie_common::kestra::MAX_TASK_NESTING * 2 {
            let Some((up, value)) = lineage.get(at) else {
                break;
            };
            if !value.is_empty() {
                values.push(value.clone());
            }
            at = up;
        }
        values
    }

    fn lock_runs(&self) -> std::sync::MutexGuard<'_, HashMap<RunKey, task_runs::Model>> {
        self.runs.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn stopped(&self) -> Outcome {
        if matches!(self.stop.reason(), StopReason::Kill | StopReason::Sla) {
            Outcome::Killed
        } else {
            Outcome::Stopped
        }
    }

    fn log_line(
        &self,
        task_run_id: &str,
        task_id: &str,
        level: &'static str,
        message: String,
    ) -> NewLog {
        NewLog {
            task_run_id: task_run_id.to_owned(),
            task_id: task_id.to_owned(),
            level,
            time: repo::now(),
            message,
        }
    }

    /// Counts one log line of `bytes` against the execution's log quotas;
    /// past either the Log task fails, naming the quota. (Counted from the
    /// start of this worker's run: a resumed execution starts again at 0.)
    fn count_log(&self, bytes: usize) -> Result<(), Failure> {
        use std::sync::atomic::Ordering::Relaxed;
        let quotas = &self.quotas;
        let lines = self.log_lines.fetch_add(1, Relaxed) + 1;
        let total = self.log_bytes.fetch_add(bytes as u64, Relaxed) + bytes as u64;
        if lines > u64::from(quotas.log_lines_per_execution) {
            aerie_common::metrics::instruments().quota_refusal("log-lines-per-execution");
            return Err(Failure::Refused(format!(
                "more than {} log lines in this execution, the tenant's quota (log-lines-per-execution)",
                quotas.log_lines_per_execution
            )));
        }
        if total > quotas.log_bytes_per_execution {
            aerie_common::metrics::instruments().quota_refusal("log-bytes-per-execution");
            return Err(Failure::Refused(format!(
                "more than {} bytes of log in this execution, the tenant's quota (log-bytes-per-execution)",
                quotas.log_bytes_per_execution
            )));
        }
        Ok(())
    }

    /// `message` with every secret value resolved so far replaced, as it
    /// is and as JSON writes it (a value with quotes, backslashes or line
    /// breaks is escaped in `{{ inputs | json }}`).
    fn masked(&self, mut message: String) -> String {
        for secret in self.masks.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            for form in secret_forms(secret) {
                message = message.replace(form.as_str(), "******");
            }
        }
        message
    }

    /// Whether `value` (its strings and keys) holds a secret value resolved
    /// so far, in any form [`Run::masked`] replaces.
    pub(crate) fn carries_secret(&self, value: &Value) -> bool {
        let masks = self.masks.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if masks.is_empty() {
            return false;
        }
        let text = value.to_string();
        masks
            .iter()
            .flat_map(|secret| secret_forms(secret))
            .any(|form| text.contains(form.as_str()))
    }

    /// `value` with every secret value resolved so far replaced inside its
    /// strings and keys (a JSON output, or a ForEach's outputs keyed by
    /// its values, can have a secret as a key).
    fn masked_value(&self, value: Value) -> Value {
        if self
            .masks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_empty()
        {
            return value;
        }
        match value {
            Value::String(text) => Value::String(self.masked(text)),
            Value::Array(items) => {
                Value::Array(items.into_iter().map(|v| self.masked_value(v)).collect())
            }
            Value::Object(map) => Value::Object(
                map.into_iter()
                    .map(|(k, v)| (self.masked(k), self.masked_value(v)))
                    .collect(),
            ),
            other => other,
        }
    }

    /// The log lines a task keeps: those at or above its `logLevel`.
    fn kept_logs(&self, task: &Task, mut logs: Vec<NewLog>) -> Vec<NewLog> {
        if task.log_level > 0 {
            logs.retain(|line| {
                crate::domain::LOG_LEVELS
                    .iter()
                    .position(|l| *l == line.level)
                    .is_none_or(|rank| rank >= task.log_level)
            });
        }
        logs
    }

    /// Keeps a task run (and its log lines) to be written with the next
    /// durable write: the results of instant tasks cost no write of their own.
    fn stage(&self, row: task_runs::Model, logs: Vec<NewLog>) {
        let mut pending = self.lock_pending();
        pending.runs.insert(row.id.clone(), row);
        pending.logs.extend(logs.into_iter().map(|mut line| {
            line.message = self.masked(line.message);
            line
        }));
    }

    /// Writes a task run and everything staged while this worker holds the
    /// lease; false (and the run stops) otherwise.
    async fn persist(&self, row: task_runs::Model, logs: Vec<NewLog>) -> bool {
        self.stage(row, logs);
        self.flush().await
    }

    /// Writes everything staged while this worker holds the lease; false
    /// (and the run stops) otherwise.
    async fn flush(&self) -> bool {
        let written = async {
            let tx = TenantTxn::write(&self.engine.db, self.tenant).await?;
            self.write_held(&tx).await?;
            tx.commit().await?;
            Ok(())
        }
        .await;
        self.written(written)
    }

    /// Inside `tx`: checks that this worker holds the lease, then writes
    /// everything staged (and the move to RUNNING, the first time).
    async fn write_held(&self, tx: &TenantTxn) -> Result<(), RunError> {
        if !queue::hold(
            tx,
            self.id,
            self.engine.owner(),
            self.epoch,
            self.engine.lease_ms(),
        )
        .await?
        {
            return Err(RunError::LeaseLost);
        }
        if let Some(histories) = self.write_staged(tx).await? {
            let change = StateChange {
                state: State::Running.as_str(),
                histories,
                outputs: None,
                update_time: repo::now(),
            };
            let started = Some(self.state_at_start.as_str());
            if !repo::executions::set_state_if(tx, self.id, change, started).await? {
                // The one change others make while it runs: a kill.
                self.stop.stop(StopReason::Kill);
            } else if let Some(triggered) = self.take_running_triggered()
                && !triggered.is_empty()
                && self.engine.accept_triggered(tx, triggered).await?
            {
                self.engine.wake();
            }
            // Written once this transaction commits; if it does not, the
            // run stops anyway.
            self.running_written
                .store(true, std::sync::atomic::Ordering::SeqCst);
        }
        Ok(())
    }

    /// After a write: true when it was made; otherwise the run stops and
    /// is tried again (see [`Run::record_failure`]).
    fn written(&self, written: Result<(), RunError>) -> bool {
        match written {
            Ok(()) => {
                self.engine.changed(self.id);
                true
            }
            Err(err) => {
                self.record_failure(err);
                false
            }
        }
    }

    /// Stops the run after a failed write; the first failure is what the
    /// worker reports, and the job is tried again shortly.
    fn record_failure(&self, err: RunError) {
        self.stop.stop(StopReason::LeaseLost);
        let mut failure = self.failure.lock().unwrap_or_else(|p| p.into_inner());
        failure.get_or_insert(err);
    }

    /// Writes the staged task runs and log lines into `tx`. When the
    /// execution's RUNNING state is still to be recorded, answers its
    /// history with RUNNING appended (the caller writes the state).
    async fn write_staged(&self, tx: &TenantTxn) -> Result<Option<String>, RunError> {
        let staged = std::mem::take(&mut *self.lock_pending());
        let (known, new): (Vec<_>, Vec<_>) = {
            let stored = self.lock_stored();
            staged
                .runs
                .into_values()
                .partition(|r| stored.contains(&r.id))
        };
        for row in known {
            repo::executions::update_task_run(tx, row).await?;
        }
        let ids: Vec<String> = new.iter().map(|r| r.id.clone()).collect();
        repo::executions::insert_task_runs(tx, new).await?;
        self.lock_stored().extend(ids);
        repo::executions::append_logs(tx, self.id, staged.logs).await?;
        if let Some(labels) = staged.labels {
            repo::executions::set_labels(tx, self.id, labels).await?;
        }
        if !staged.running {
            return Ok(None);
        }
        let mut histories = self.histories.lock().unwrap_or_else(|p| p.into_inner());
        *histories = push_history(&histories, State::Running, repo::now());
        Ok(Some(histories.clone()))
    }

    fn lock_pending(&self) -> std::sync::MutexGuard<'_, Staged> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn lock_stored(&self) -> std::sync::MutexGuard<'_, std::collections::HashSet<String>> {
        self.stored.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Where this execution stands in its Flow-trigger tree, with what is
    /// left of its budget.
    fn trigger_chain(&self) -> crate::executor::flow_triggers::Chain {
        let mut chain = crate::executor::chain_of(&self.trigger);
        chain.budget = self
            .trigger_budget
            .load(std::sync::atomic::Ordering::SeqCst);
        chain
    }

    /// Looks up the executions the Flow triggers on RUNNING start; they
    /// are written with the move to RUNNING. Looked up before any write,
    /// which holds the database's write lock on SQLite.
    async fn prepare_running_triggers(&self) {
        let labels = self
            .labels
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let no_outputs = json!({});
        let running = crate::executor::Ended {
            id: self.id,
            namespace: &self.namespace,
            flow_id: &self.flow_id,
            flow_revision: self.flow_revision,
            state: State::Running,
            outputs: &no_outputs,
            labels: &labels,
            task_outputs: None,
            chain: self.trigger_chain(),
        };
        let triggered = self.engine.triggered_by(self.tenant, &running).await;
        self.trigger_budget.fetch_sub(
            triggered.spent.min(running.chain.budget),
            std::sync::atomic::Ordering::SeqCst,
        );
        for problem in &triggered.problems {
            let mut line = self.log_line("", "", "WARN", problem.clone());
            line.message = self.masked(line.message);
            self.lock_pending().logs.push(line);
        }
        *self
            .running_triggered
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(triggered);
    }

    fn take_running_triggered(&self) -> Option<super::Triggered> {
        self.running_triggered
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
    }

    /// Ends the execution and removes it from the queue, in one write
    /// together with everything staged.
    async fn end(
        &self,
        outcome: Outcome,
        outputs: Option<Value>,
        logs: Vec<NewLog>,
    ) -> Result<(), RunError> {
        let retried = match outcome {
            Outcome::Failed => self
                .retried
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take(),
            _ => None,
        };
        let state = match retried {
            Some(_) => State::Retried,
            None => outcome.state(),
        };
        // A paused execution looked at before its pause was over stays
        // PAUSED: no move, no Flow trigger fires.
        let moved = !(state == State::Paused && self.state_at_start == State::Paused.as_str());
        // RUNNING not written yet: its Flow triggers start with this write.
        let running_triggered = self.take_running_triggered().filter(|_| moved);
        // Flow triggers fired by this end (or pause) start with it (looked
        // up before the write, which holds the database's write lock on
        // SQLite).
        let mut triggered = if state.is_terminal() || (state == State::Paused && moved) {
            let labels = self
                .labels
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone();
            let no_outputs = json!({});
            let ended = crate::executor::Ended {
                id: self.id,
                namespace: &self.namespace,
                flow_id: &self.flow_id,
                flow_revision: self.flow_revision,
                state,
                outputs: outputs.as_ref().unwrap_or(&no_outputs),
                labels: &labels,
                task_outputs: Some(self.outputs.value()),
                chain: self.trigger_chain(),
            };
            let triggered = self.engine.triggered_by(self.tenant, &ended).await;
            self.trigger_budget.fetch_sub(
                triggered.spent.min(ended.chain.budget),
                std::sync::atomic::Ordering::SeqCst,
            );
            triggered
        } else {
            crate::executor::Triggered::default()
        };
        if let Some(mut running) = running_triggered {
            // Started first, as the RUNNING came first.
            running.append(triggered);
            triggered = running;
        }
        let mut logs = logs;
        logs.extend(
            triggered
                .problems
                .iter()
                .map(|problem| self.log_line("", "", "WARN", problem.clone())),
        );
        let tx = TenantTxn::write(&self.engine.db, self.tenant).await?;
        let wake = match outcome {
            Outcome::Paused => *self.wake.lock().unwrap_or_else(|p| p.into_inner()),
            _ => None,
        };
        let (owner, epoch) = (self.engine.owner(), self.epoch);
        // The parent waiting for this subflow looks at it again at once.
        let wakes_parent = state.is_terminal() && self.parent.is_some();
        if let Some(parent) = self.parent.as_ref().filter(|_| wakes_parent) {
            queue::wake(&tx, parent).await?;
        }
        let held = match wake {
            // A timed pause keeps its place in the queue, for later.
            Some(at) => queue::park(&tx, self.id, owner, epoch, at.timestamp_millis()).await?,
            None => queue::finish(&tx, self.id, owner, epoch).await?,
        };
        if !held {
            return Err(RunError::LeaseLost);
        }
        self.lock_pending()
            .logs
            .extend(logs.into_iter().map(|mut l| {
                l.message = self.masked(l.message);
                l
            }));
        self.write_staged(&tx).await?;
        let known_state = if self
            .running_written
            .load(std::sync::atomic::Ordering::SeqCst)
        {
            State::Running.as_str()
        } else {
            self.state_at_start.as_str()
        };
        let known = self
            .histories
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let now = repo::now();
        let outputs = outputs.map(|o| o.to_string());
        let change = |histories: &str| StateChange {
            state: state.as_str(),
            histories: push_history(histories, state, now),
            outputs: outputs.clone(),
            update_time: now,
        };
        // The history as this worker wrote it, unless someone else (a kill)
        // changed the execution meanwhile: then as stored.
        let unchanged =
            repo::executions::set_state_if(&tx, self.id, change(&known), Some(known_state)).await?;
        if !unchanged {
            let stored = repo::executions::find(&tx, self.id)
                .await?
                .map(|r| r.histories);
            repo::executions::set_state(&tx, self.id, change(stored.as_deref().unwrap_or("[]")))
                .await?;
        }
        let mut starts = self.engine.accept_triggered(&tx, triggered).await?;
        if let Some(retried) = retried {
            let id = retried.new.id.clone();
            self.engine.accept(&tx, retried.new).await?;
            queue::available_at(&tx, &id, retried.at_millis).await?;
            starts = true;
        }
        tx.commit().await?;
        self.engine.changed(self.id);
        if wakes_parent || starts {
            self.engine.wake();
        }
        tracing::debug!(execution = %self.id, tenant = %self.tenant, state = state.as_str(),
            owner = self.engine.owner(), "execution ended");
        Ok(())
    }
}

/// Writes not yet made durable.
#[derive(Default)]
struct Staged {
    /// By task run id: a run staged again replaces its earlier state.
    runs: HashMap<String, task_runs::Model>,
    logs: Vec<NewLog>,
    /// The execution's move to RUNNING is still to be recorded.
    running: bool,
    /// Labels a Labels task set, still to be written.
    labels: Option<String>,
}

/// Tasks that finish at once and touch nothing outside the execution: their
/// end is written with the next durable write (a crash before it re-runs
/// them, harmlessly, and their log lines are written once either way).
fn is_instant(kind: TaskKind) -> bool {
    matches!(
        kind,
        TaskKind::Log | TaskKind::Return | TaskKind::OutputValues | TaskKind::Fail
    )
}

/// Labels an execution may carry: bounded, since they are stored in its row
/// and listed with it.
/// Runs `branches`, at most `limit` at a time; the worst of their outcomes.
async fn concurrently(branches: Vec<BoxFuture<'_, Outcome>>, limit: usize) -> Outcome {
    stream::iter(branches)
        .buffer_unordered(limit.max(1))
        .collect::<Vec<Outcome>>()
        .await
        .into_iter()
        .fold(Outcome::Success, Outcome::max)
}

/// The key of a ForEach value among task runs: strings as they are, other
/// values as JSON; empty outside ForEach.
fn value_key(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn parse_object(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| json!({}))
}

/// A date as Kestra prints one: UTC, milliseconds, `Z`
/// (`2026-01-01T10:00:00.123Z`).
fn kestra_date(date: chrono::DateTime<chrono::Utc>) -> String {
    date.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A renderer whose `secret()` and `kv()` answer from `tenant` and
/// `namespace` (a webhook's key and conditions, before any execution
/// exists). It blocks on those calls: render off the async threads.
pub(crate) fn tenant_renderer(engine: &Engine, tenant: &TenantId, namespace: &str) -> Renderer {
    Renderer::new(Arc::new(TenantLookups {
        handle: tokio::runtime::Handle::current(),
        engine: engine.clone(),
        tenant: tenant.clone(),
        namespace: namespace.to_owned(),
        execution: None,
        parent: None,
        masks: Arc::new(Mutex::new(Vec::new())),
    }))
}

/// `secret()` and `kv()` of one execution: its tenant, its namespace.
struct TenantLookups {
    handle: tokio::runtime::Handle,
    engine: Engine,
    tenant: TenantId,
    namespace: String,
    /// The running execution, for `errorLogs()`; None outside one.
    execution: Option<ExecutionId>,
    /// The execution that started the running one, whose files `read()`
    /// may read too (a ForEachItem's batches).
    parent: Option<ExecutionId>,
    masks: Arc<Mutex<Vec<String>>>,
}

impl Lookups for TenantLookups {
    fn read(&self, uri: &str) -> Result<String, String> {
        let execution = self
            .execution
            .as_ref()
            .ok_or("read() is only available while an execution runs")?;
        let path = StoragePath::from_uri(uri).map_err(|e| format!("read('{uri}'): {e}"))?;
        // This execution's files or its parent's, as in Kestra.
        let mut readers = vec![execution.as_str()];
        readers.extend(self.parent.as_ref().map(ExecutionId::as_str));
        if !path.belongs_to_any(&readers) {
            return Err(format!(
                "read('{uri}'): an execution reads only its own files and those of the execution that started it"
            ));
        }
        let content = self
            .handle
            .block_on(
                self.engine
                    .storage
                    .get(&self.tenant, &path, MAX_WRITE_BYTES),
            )
            .map_err(|e| format!("read('{uri}'): {e}"))?;
        Ok(String::from_utf8_lossy(&content).into_owned())
    }

    fn error_logs(&self) -> Result<Value, String> {
        let execution = self
            .execution
            .as_ref()
            .ok_or("errorLogs() is only available while an execution runs")?;
        let lines = self
            .handle
            .block_on(async {
                let tx = TenantTxn::read(&self.engine.db, &self.tenant).await?;
                let lines = repo::executions::logs(&tx, execution, &["ERROR"], 0).await?;
                tx.commit().await?;
                Ok::<_, DbErr>(lines)
            })
            .map_err(|e| format!("errorLogs(): {e}"))?;
        Ok(Value::Array(
            lines
                .into_iter()
                .map(|line| {
                    json!({
                        "executionId": line.execution_id,
                        "taskRunId": line.task_run_id,
                        "taskId": line.task_id,
                        "level": line.level,
                        "timestamp": kestra_date(line.time),
                        "message": line.message,
                    })
                })
                .collect(),
        ))
    }

    fn secret(&self, key: &str) -> Result<String, String> {
        let request = aerie_proto::flow::internal::v1::ResolveSecretRequest {
            namespace: self.namespace.clone(),
            key: key.to_owned(),
            flow_namespace: self.namespace.clone(),
        };
        let value = self
            .handle
            .block_on(
                self.engine
                    .flows
                    .clone()
                    .resolve_secret(self.engine.internal(&self.tenant, request)),
            )
            .map_err(|status| format!("secret('{key}'): {}", status.message()))?
            .into_inner()
            .value;
        self.masks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(value.clone());
        Ok(value)
    }

    fn kv(&self, key: &str, namespace: Option<&str>) -> Result<Option<Value>, String> {
        let request = aerie_proto::flow::internal::v1::GetKvForExecutionRequest {
            flow_namespace: self.namespace.clone(),
            namespace: namespace.unwrap_or(&self.namespace).to_owned(),
            key: key.to_owned(),
        };
        let entry = self.handle.block_on(
            self.engine
                .flows
                .clone()
                .get_kv_for_execution(self.engine.internal(&self.tenant, request)),
        );
        let entry = match entry {
            Ok(entry) => entry.into_inner(),
            Err(status) if status.code() == tonic::Code::NotFound => return Ok(None),
            Err(status) => return Err(format!("kv('{key}'): {}", status.message())),
        };
        serde_json::from_str(&entry.value_json)
            .map(Some)
            .map_err(|e| format!("kv('{key}'): {e}"))
    }
}
