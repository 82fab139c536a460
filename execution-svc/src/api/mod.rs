//! The gRPC face of execution-svc: decode, authorize the caller in the
//! tenant of the call, run the repository in a tenant transaction, audit,
//! encode.

mod executions;
mod logs;
mod webhook;

use std::time::Duration;

use aerie_common::auth::TenantGuard;
use aerie_common::db::TenantTxn;
use aerie_common::{ServiceError, TenantId};
use aerie_proto::execution::v1 as pb;
use aerie_proto::flow::v1 as flow_pb;
use aerie_proto::wire::{struct_from_text, to_struct};
use sea_orm::DatabaseConnection;
use tonic::Status;

use crate::domain::{ExecutionId, State, parse_histories};
use crate::executor::Engine;
use crate::repo::entities::{executions as execution_rows, task_runs};

/// Implements every execution-svc gRPC service.
#[derive(Clone)]
pub struct ExecutionApi {
    db: DatabaseConnection,
    guard: TenantGuard,
    engine: Engine,
    /// Templated webhook keys as rendered, by tenant, flow revision and
    /// trigger (None: the key cannot be rendered). Webhook calls carry no
    /// credential: without this, every call would render every templated
    /// key of the flow, each a secret lookup.
    webhook_keys: moka::future::Cache<WebhookKeyRef, Option<String>>,
}

/// Tenant, namespace, flow id, revision and trigger id of a webhook key.
pub(crate) type WebhookKeyRef = (aerie_common::TenantId, String, String, i32, String);

/// How long a rendered webhook key is kept: a changed secret takes effect
/// within this time.
const WEBHOOK_KEY_TTL: std::time::Duration = std::time::Duration::from_secs(10);

impl ExecutionApi {
    /// The API over an already migrated database; `guard` checks callers.
    pub fn new(db: DatabaseConnection, guard: TenantGuard, engine: Engine) -> ExecutionApi {
        ExecutionApi {
            db,
            guard,
            engine,
            webhook_keys: moka::future::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(WEBHOOK_KEY_TTL)
                .build(),
        }
    }

    /// The database, for the audit relay.
    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    /// The tenant of a call only Aerie's own services make.
    pub(crate) fn internal_tenant<T>(
        &self,
        request: &tonic::Request<T>,
    ) -> Result<aerie_common::TenantId, tonic::Status> {
        aerie_common::audit::require_service_token(request, self.engine.service_token())?;
        aerie_common::tenant::scoped_tenant(request, self.guard.policy())
    }

    /// The executor behind this API.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Deletes `tenant`'s executions that ended before `before` (the CLI's
    /// `executions purge`, trusted by holding the configuration).
    pub async fn purge(
        &self,
        tenant: &aerie_common::TenantId,
        before: chrono::DateTime<chrono::Utc>,
    ) -> Result<u64, aerie_common::ServiceError> {
        crate::retention::purge(&self.db, &self.engine.storage, tenant, before, "cli").await
    }

    async fn read(&self, tenant: &TenantId) -> Result<TenantTxn, ServiceError> {
        Ok(TenantTxn::read(&self.db, tenant).await?)
    }

    async fn write(&self, tenant: &TenantId) -> Result<TenantTxn, ServiceError> {
        Ok(TenantTxn::write(&self.db, tenant).await?)
    }

    /// The live flow to execute, read by Aerie itself in `tenant` (the
    /// caller's own right to execute it was checked before).
    async fn flow_to_run(
        &self,
        tenant: &TenantId,
        namespace: &str,
        flow_id: &str,
        revision: i32,
    ) -> Result<flow_pb::Flow, Status> {
        let flow = self.live_flow(tenant, namespace, flow_id, revision).await?;
        runnable(&flow)?;
        Ok(flow)
    }

    /// The parsed plan of `flow`, a revision of `tenant`'s, parsed once
    /// per process (see [`Engine::plan`]).
    fn plan_of(
        &self,
        tenant: &TenantId,
        flow: &flow_pb::Flow,
    ) -> Result<std::sync::Arc<crate::domain::plan::Plan>, Status> {
        let revision = (
            tenant.storage_key().to_owned(),
            flow.namespace.clone(),
            flow.id.clone(),
            flow.revision,
        );
        self.engine
            .plan(revision, &flow.source)
            .map_err(|err| Status::failed_precondition(format!("the flow cannot run: {err}")))
    }

    /// The live flow (or one of its revisions), enabled or not.
    async fn live_flow(
        &self,
        tenant: &TenantId,
        namespace: &str,
        flow_id: &str,
        revision: i32,
    ) -> Result<flow_pb::Flow, Status> {
        let request = aerie_proto::flow::internal::v1::GetFlowForExecutionRequest {
            namespace: namespace.to_owned(),
            id: flow_id.to_owned(),
            revision,
        };
        Ok(self
            .engine
            .flows
            .clone()
            .get_flow_for_execution(self.engine.internal(tenant, request))
            .await?
            .into_inner())
    }

    /// The execution with its task runs.
    async fn load(
        &self,
        tenant: &TenantId,
        id: &ExecutionId,
    ) -> Result<Option<(execution_rows::Model, Vec<task_runs::Model>)>, ServiceError> {
        let tx = self.read(tenant).await?;
        let Some(row) = crate::repo::executions::find(&tx, id).await? else {
            return Ok(None);
        };
        let runs = crate::repo::executions::task_runs(&tx, id).await?;
        Ok(Some((row, runs)))
    }

    /// Waits until the execution has ended; changes made in this process
    /// wake the wait at once, others are seen within half a second.
    async fn wait_for_end(
        &self,
        tenant: &TenantId,
        id: &ExecutionId,
    ) -> Result<pb::Execution, Status> {
        let mut changes = self.engine.subscribe();
        loop {
            let (row, runs) = self
                .load(tenant, id)
                .await?
                .ok_or_else(|| Status::not_found(format!("execution {id} not found")))?;
            if State::parse(&row.state).is_some_and(State::is_terminal) {
                return Ok(execution_message(row, runs));
            }
            tokio::select! {
                _ = next_change(&mut changes, id, Duration::from_millis(500)) => {}
                _ = self.engine.closing().cancelled() => return Err(shutting_down(id)),
            }
        }
    }
}

/// What a waiting or following caller hears when this process stops: the
/// execution was accepted and goes on elsewhere.
pub(crate) fn shutting_down(id: &ExecutionId) -> Status {
    Status::unavailable(format!(
        "this server is shutting down; execution {id} was accepted and goes on: read it again, or retry with the same Idempotency-Key"
    ))
}

/// FAILED_PRECONDITION for a disabled flow.
fn runnable(flow: &flow_pb::Flow) -> Result<(), Status> {
    if flow.disabled {
        return Err(Status::failed_precondition(format!(
            "flow {}/{} is disabled",
            flow.namespace, flow.id
        )));
    }
    Ok(())
}

/// Returns when `id` changes in this process, or after `at_most`.
async fn next_change(
    changes: &mut tokio::sync::broadcast::Receiver<String>,
    id: &ExecutionId,
    at_most: Duration,
) {
    let wait = async {
        loop {
            match changes.recv().await {
                Ok(changed) if changed == id.as_str() => return,
                Ok(_) => {}
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => return,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => {
                    tokio::time::sleep(at_most).await;
                    return;
                }
            }
        }
    };
    let _ = tokio::time::timeout(at_most, wait).await;
}

/// How often a long stream (follow) checks its caller's access again.
const REAUTHORIZE: Duration = Duration::from_secs(2);

fn not_found(id: &ExecutionId) -> String {
    format!("execution {id} not found")
}

/// A stored state name on the wire (only Aerie writes them, so every one
/// is known).
fn state_enum(name: &str) -> i32 {
    pb::ExecutionState::from_short_name(name).unwrap_or_default() as i32
}

fn state_message(state: &str, histories: &str) -> pb::State {
    pb::State {
        current: state_enum(state),
        histories: parse_histories(histories)
            .into_iter()
            .map(|h| pb::StateHistory {
                state: state_enum(&h.state),
                date: Some(aerie_common::time::to_timestamp(h.date)),
            })
            .collect(),
    }
}

/// An execution as every API shows it (`runs` empty in listings).
fn execution_message(row: execution_rows::Model, runs: Vec<task_runs::Model>) -> pb::Execution {
    let tenant = TenantId::from_storage_key(&row.tenant_id).ok();
    pb::Execution {
        state: Some(state_message(&row.state, &row.histories)),
        task_runs: runs
            .into_iter()
            .map(|run| pb::TaskRun {
                state: Some(state_message(&run.state, &run.histories)),
                id: run.id,
                task_id: run.task_id,
                parent_task_run_id: run.parent_id,
                value: run.value,
                outputs: struct_from_text(&run.outputs),
                attempts: run.attempts.max(0) as u32,
            })
            .collect(),
        labels: serde_json::from_str(&row.labels).unwrap_or_default(),
        tenant_id: tenant.and_then(|t| t.as_named().map(str::to_owned)),
        attempt_number: row.attempt_number.max(1) as u32,
        original_created_date: row
            .first_attempt_time
            .unwrap_or(row.create_time)
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        id: row.id,
        namespace: row.namespace,
        flow_id: row.flow_id,
        flow_revision: row.flow_revision,
        inputs: struct_from_text(&row.inputs),
        outputs: struct_from_text(&row.outputs),
        trigger: match serde_json::from_str(&row.trigger) {
            Ok(stored) if row.trigger != "{}" => to_struct(crate::domain::trigger_view(stored)),
            _ => None,
        },
    }
}
