//! Accepting an execution: the row, its queue entry and its audit entry
//! are written in one transaction, so an accepted execution is never lost
//! and never unaudited.

use std::collections::{BTreeMap, HashMap};

use aerie_common::audit::{self, AuditEntry};
use aerie_common::kestra::concurrency::{Behavior, Concurrency};
use sea_orm::DbErr;
use serde_json::{Map, Value, json};

use super::Engine;
use crate::domain::{ExecutionId, State, push_history};
use crate::repo::entities::executions;
use crate::repo::{self, TenantTxn, queue};

/// The label Kestra puts on every execution to follow related ones.
pub const CORRELATION_ID: &str = "system.correlationId";

/// What started an execution.
pub enum StartedBy {
    /// A user or service account, by name.
    Caller(String),
    /// A Webhook trigger: `trigger` holds its id, body, headers and parameters.
    Webhook(Value),
    /// A Schedule trigger: `trigger` holds its id and the tick's date.
    Schedule(Value),
    /// A Subflow task of the execution `parent`; `trigger` holds the task's
    /// id and type and the parent's ids, as Kestra shows them.
    Subflow {
        parent: ExecutionId,
        /// The parent's task run that started it.
        task_run: String,
        trigger: Value,
    },
    /// A Flow trigger: `trigger` holds its id and the ended execution's ids
    /// and state.
    Flow(Value),
    /// A retry (`CREATE_NEW_EXECUTION`) of a failed execution: its trigger,
    /// this attempt's number and when the first attempt was created.
    Retry {
        trigger: Value,
        attempt: i32,
        first: chrono::DateTime<chrono::Utc>,
        /// The execution whose Subflow task waits for every attempt.
        parent: Option<ExecutionId>,
        parent_task_run: Option<String>,
    },
}

/// An execution to accept.
pub struct NewExecution {
    pub id: ExecutionId,
    pub namespace: String,
    pub flow_id: String,
    pub flow_revision: i32,
    pub flow_source: String,
    pub inputs: Map<String, Value>,
    pub labels: BTreeMap<String, String>,
    pub started_by: StartedBy,
    /// The flow's concurrency limit, when it has one.
    pub concurrency: Option<Concurrency>,
}

impl Engine {
    /// Writes `new` into `tx` (the caller commits, then calls
    /// [`Engine::wake`]).
    pub async fn accept(
        &self,
        tx: &TenantTxn,
        new: NewExecution,
    ) -> Result<executions::Model, DbErr> {
        let mut rows = self.accept_many(tx, vec![new]).await?;
        Ok(rows.pop().expect("one row per execution"))
    }

    /// Writes every execution of `batch` into `tx`, in a few statements
    /// whatever their number (the scheduler fires a tenant's due ticks
    /// this way).
    pub async fn accept_many(
        &self,
        tx: &TenantTxn,
        batch: Vec<NewExecution>,
    ) -> Result<Vec<executions::Model>, DbErr> {
        let now = repo::now();
        let running_quota = self.quotas.overrides(tx.tenant()).await.running_executions;
        let mut sources: BTreeMap<(String, String, i32), String> = BTreeMap::new();
        let (mut rows, mut jobs, mut audits) = (Vec::new(), Vec::new(), Vec::new());
        // Queued or running executions of each flow with a concurrency
        // limit, this batch's included.
        let mut unfinished: HashMap<String, u64> = HashMap::new();
        for new in batch {
            let flow_key = queue::flow_key(&new.namespace, &new.flow_id);
            let refused = match new.concurrency {
                Some(limit) => {
                    let count = match unfinished.get(&flow_key) {
                        Some(count) => *count,
                        None => {
                            queue::lock_flow(tx, &flow_key).await?;
                            queue::unfinished_of_flow(tx, &flow_key).await?
                        }
                    };
                    let full = count >= u64::from(limit.limit);
                    // A queued one waits among the unfinished; a refused one
                    // ends at once.
                    let waits = !full || limit.behavior == Behavior::Queue;
                    unfinished.insert(flow_key.clone(), count + u64::from(waits));
                    full.then_some(match limit.behavior {
                        Behavior::Cancel => State::Cancelled,
                        Behavior::Fail => State::Failed,
                        // Waits its turn, QUEUED, as Kestra shows it.
                        Behavior::Queue => State::Queued,
                    })
                }
                None => None,
            };
            let histories = push_history("[]", State::Created, now);
            // Kestra's correlation label: the execution's own id, unless
            // the caller carries one on.
            let mut labels = new.labels;
            labels
                .entry(CORRELATION_ID.to_owned())
                .or_insert_with(|| new.id.as_str().to_owned());
            let mut attempt = (1, None);
            let (actor, trigger, (parent, parent_task_run)) = match new.started_by {
                StartedBy::Caller(name) => (name, json!({}), (None, None)),
                StartedBy::Webhook(trigger) => ("webhook".to_owned(), trigger, (None, None)),
                StartedBy::Schedule(trigger) => ("schedule".to_owned(), trigger, (None, None)),
                StartedBy::Flow(trigger) => ("flow-trigger".to_owned(), trigger, (None, None)),
                StartedBy::Subflow {
                    parent,
                    task_run,
                    trigger,
                } => (
                    "subflow".to_owned(),
                    trigger,
                    (Some(parent.as_str().to_owned()), Some(task_run)),
                ),
                StartedBy::Retry {
                    trigger,
                    attempt: number,
                    first,
                    parent,
                    parent_task_run,
                } => {
                    attempt = (number, Some(first));
                    (
                        "retry".to_owned(),
                        trigger,
                        (parent.map(|p| p.as_str().to_owned()), parent_task_run),
                    )
                }
            };
            let row = executions::Model {
                tenant_id: tx.tenant_key().to_owned(),
                id: new.id.as_str().to_owned(),
                namespace: new.namespace,
                flow_id: new.flow_id,
                flow_revision: new.flow_revision,
                // Stored once per revision (see below), not in every row.
                flow_source: String::new(),
                state: refused.unwrap_or(State::Created).as_str().to_owned(),
                // Past its flow's limit, an execution ends as it is created,
                // or waits QUEUED.
                histories: match refused {
                    Some(state) => push_history(&histories, state, now),
                    None => histories,
                },
                inputs: Value::Object(new.inputs).to_string(),
                outputs: "{}".to_owned(),
                labels: serde_json::to_string(&labels).unwrap_or_else(|_| "{}".into()),
                trigger: trigger.to_string(),
                create_time: now,
                update_time: now,
                parent_execution_id: parent,
                parent_task_run_id: parent_task_run,
                attempt_number: attempt.0,
                first_attempt_time: attempt.1,
            };
            sources
                .entry((
                    row.namespace.clone(),
                    row.flow_id.clone(),
                    row.flow_revision,
                ))
                .or_insert(new.flow_source);
            audits.push(
                AuditEntry::new(tx.tenant(), "EXECUTION", new.id.as_str(), "CREATE", actor)
                    .with_details(json!({
                        "namespace": row.namespace,
                        "flowId": row.flow_id,
                        "flowRevision": row.flow_revision,
                        "trigger": trigger.get("type").cloned().unwrap_or(Value::Null),
                    })),
            );
            if matches!(refused, None | Some(State::Queued)) {
                jobs.push(queue::Job {
                    execution: new.id,
                    flow_key,
                    flow_limit: new.concurrency.map_or(0, |c| c.limit),
                });
            }
            rows.push(row);
        }
        for ((namespace, flow_id, revision), source) in sources {
            let key = (tx.tenant_key().to_owned(), namespace, flow_id, revision);
            if self.stored_source(&key).is_none() {
                let (_, namespace, flow_id, revision) = &key;
                repo::executions::keep_flow_source(tx, namespace, flow_id, *revision, &source)
                    .await?;
            }
        }
        repo::executions::insert_many(tx, rows.clone()).await?;
        queue::enqueue_many(tx, &jobs, repo::now_millis(), running_quota).await?;
        audit::enqueue_many(tx.conn(), audits).await?;
        Ok(rows)
    }
}
