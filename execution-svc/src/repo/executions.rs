//! Executions, task runs and log lines of one tenant.

use aerie_common::auth::NamespaceScope;
use aerie_common::db::{in_scope, within_namespace};
use aerie_common::paging::PageRequest;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DbErr, EntityTrait, Order, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect,
};

use super::TenantTxn;
use super::entities::{execution_logs, executions, flow_sources, idempotency_keys, task_runs};
use crate::domain::ExecutionId;

/// Stores new executions (their tenant is the transaction's).
pub async fn insert_many(tx: &TenantTxn, rows: Vec<executions::Model>) -> Result<(), DbErr> {
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<executions::ActiveModel> = rows
            .by_ref()
            .take(super::ROWS_PER_INSERT)
            .map(|mut row| {
                row.tenant_id = tx.tenant_key().to_owned();
                executions::ActiveModel::from(row)
            })
            .collect();
        let states: Vec<String> = chunk.iter().map(|row| row.state.clone().unwrap()).collect();
        executions::Entity::insert_many(chunk)
            .exec_without_returning(tx.conn())
            .await?;
        for state in states {
            aerie_common::metrics::instruments().execution_state(&state);
        }
    }
    Ok(())
}

pub async fn find(tx: &TenantTxn, id: &ExecutionId) -> Result<Option<executions::Model>, DbErr> {
    executions::Entity::find_by_id((tx.tenant_key().to_owned(), id.as_str().to_owned()))
        .one(tx.conn())
        .await
}

/// The latest attempt of a subflow execution that retries created
/// (`CREATE_NEW_EXECUTION`): the attempts share their parent and the first
/// attempt's creation time.
pub async fn latest_attempt(
    tx: &TenantTxn,
    parent: &str,
    first_created: chrono::DateTime<chrono::Utc>,
) -> Result<Option<executions::Model>, DbErr> {
    use sea_orm::QueryOrder;
    executions::Entity::find()
        .filter(executions::Column::TenantId.eq(tx.tenant_key()))
        .filter(executions::Column::ParentExecutionId.eq(parent))
        .filter(executions::Column::FirstAttemptTime.eq(first_created))
        .order_by_desc(executions::Column::AttemptNumber)
        .one(tx.conn())
        .await
}

/// Inside a write: true when `id` is not being killed, and then its row
/// is locked until the transaction ends, so a kill made meanwhile waits for
/// it (and then sees what it wrote, such as a new subflow execution).
pub async fn lock_unless_killed(tx: &TenantTxn, id: &ExecutionId) -> Result<bool, DbErr> {
    use crate::domain::State;
    let result = executions::Entity::update_many()
        .col_expr(
            executions::Column::UpdateTime,
            sea_orm::sea_query::Expr::col(executions::Column::UpdateTime),
        )
        .filter(executions::Column::TenantId.eq(tx.tenant_key()))
        .filter(executions::Column::Id.eq(id.as_str()))
        .filter(
            executions::Column::State.is_not_in([State::Killing.as_str(), State::Killed.as_str()]),
        )
        .exec(tx.conn())
        .await?;
    Ok(result.rows_affected == 1)
}

/// The executions a Subflow task of `parent` started that have not ended.
pub async fn unfinished_children(
    tx: &TenantTxn,
    parent: &ExecutionId,
) -> Result<Vec<String>, DbErr> {
    let ended = crate::domain::State::ALL
        .into_iter()
        .filter(|s| s.is_terminal())
        .map(crate::domain::State::as_str);
    executions::Entity::find()
        .select_only()
        .column(executions::Column::Id)
        .filter(executions::Column::TenantId.eq(tx.tenant_key()))
        .filter(executions::Column::ParentExecutionId.eq(parent.as_str()))
        .filter(executions::Column::State.is_not_in(ended))
        .into_tuple()
        .all(tx.conn())
        .await
}

/// How many executions the task run `task_run` started since `since` (its
/// current attempt's start: a restarted run starts its own), by state; the
/// attempts a retry replaced (RETRIED) are left out.
pub async fn children_by_state(
    tx: &TenantTxn,
    task_run: &str,
    since: DateTime<Utc>,
) -> Result<Vec<(String, i64)>, DbErr> {
    executions::Entity::find()
        .select_only()
        .column(executions::Column::State)
        .column_as(
            Expr::expr(sea_orm::sea_query::Func::count(Expr::col(
                executions::Column::Id,
            ))),
            "count",
        )
        .filter(executions::Column::TenantId.eq(tx.tenant_key()))
        .filter(executions::Column::ParentTaskRunId.eq(task_run))
        .filter(executions::Column::CreateTime.gte(since))
        .filter(executions::Column::State.ne(crate::domain::State::Retried.as_str()))
        .group_by(executions::Column::State)
        .into_tuple()
        .all(tx.conn())
        .await
}

/// The trigger and outputs of the executions the task run `task_run`
/// started since `since` (RETRIED attempts left out), a page of `limit`
/// from `offset`, oldest first.
pub async fn children_of_task_run(
    tx: &TenantTxn,
    task_run: &str,
    since: DateTime<Utc>,
    offset: u64,
    limit: u64,
) -> Result<Vec<(String, String)>, DbErr> {
    executions::Entity::find()
        .select_only()
        .column(executions::Column::Trigger)
        .column(executions::Column::Outputs)
        .filter(executions::Column::TenantId.eq(tx.tenant_key()))
        .filter(executions::Column::ParentTaskRunId.eq(task_run))
        .filter(executions::Column::CreateTime.gte(since))
        .filter(executions::Column::State.ne(crate::domain::State::Retried.as_str()))
        .order_by_asc(executions::Column::CreateTime)
        .order_by_asc(executions::Column::Id)
        .offset(offset)
        .limit(limit)
        .into_tuple()
        .all(tx.conn())
        .await
}

/// A change of an execution's state (and, when given, its outputs).
#[derive(Clone)]
pub struct StateChange<'a> {
    pub state: &'a str,
    pub histories: String,
    pub outputs: Option<String>,
    pub update_time: chrono::DateTime<chrono::Utc>,
}

pub async fn set_state(
    tx: &TenantTxn,
    id: &ExecutionId,
    change: StateChange<'_>,
) -> Result<(), DbErr> {
    set_state_if(tx, id, change, None).await.map(|_| ())
}

/// [`set_state`] only while the execution is still in `expected` (when
/// given); false when another writer changed it first.
pub async fn set_state_if(
    tx: &TenantTxn,
    id: &ExecutionId,
    change: StateChange<'_>,
    expected: Option<&str>,
) -> Result<bool, DbErr> {
    let mut update = executions::Entity::update_many()
        .col_expr(executions::Column::State, change.state.into())
        .col_expr(executions::Column::Histories, change.histories.into())
        .col_expr(executions::Column::UpdateTime, change.update_time.into())
        .filter(executions::Column::TenantId.eq(tx.tenant_key()))
        .filter(executions::Column::Id.eq(id.as_str()));
    if let Some(outputs) = change.outputs {
        update = update.col_expr(executions::Column::Outputs, outputs.into());
    }
    if let Some(expected) = expected {
        update = update.filter(executions::Column::State.eq(expected));
    }
    let changed = update.exec(tx.conn()).await?.rows_affected == 1;
    if changed {
        aerie_common::metrics::instruments().execution_state(change.state);
    }
    Ok(changed)
}

/// Replaces the labels of one execution of the transaction's tenant.
pub async fn set_labels(tx: &TenantTxn, id: &ExecutionId, labels: String) -> Result<(), DbErr> {
    executions::Entity::update_many()
        .col_expr(executions::Column::Labels, labels.into())
        .filter(executions::Column::TenantId.eq(tx.tenant_key()))
        .filter(executions::Column::Id.eq(id.as_str()))
        .exec(tx.conn())
        .await?;
    Ok(())
}

/// Search filters.
pub struct Filter<'a> {
    pub scope: &'a NamespaceScope,
    pub namespace: Option<&'a str>,
    pub flow_id: Option<&'a str>,
    pub states: &'a [String],
    /// Created at or after.
    pub created_from: Option<DateTime<Utc>>,
    /// Created before.
    pub created_before: Option<DateTime<Utc>>,
}

/// Sortable fields and their columns.
pub const SORT_FIELDS: &[&str] = &["created", "updated", "state", "namespace", "flowId"];

/// Stores the source of a flow revision of the transaction's tenant unless
/// it is stored already.
pub async fn keep_flow_source(
    tx: &TenantTxn,
    namespace: &str,
    flow_id: &str,
    revision: i32,
    source: &str,
) -> Result<(), DbErr> {
    flow_sources::Entity::insert(flow_sources::ActiveModel {
        tenant_id: Set(tx.tenant_key().to_owned()),
        namespace: Set(namespace.to_owned()),
        flow_id: Set(flow_id.to_owned()),
        revision: Set(revision),
        source: Set(source.to_owned()),
    })
    .on_conflict_do_nothing()
    .exec_without_returning(tx.conn())
    .await?;
    Ok(())
}

/// The source of an execution's flow revision: stored once per revision,
/// or in the row itself for executions created before that.
pub async fn flow_source(tx: &TenantTxn, row: &executions::Model) -> Result<String, DbErr> {
    if !row.flow_source.is_empty() {
        return Ok(row.flow_source.clone());
    }
    let found = flow_sources::Entity::find_by_id((
        tx.tenant_key().to_owned(),
        row.namespace.clone(),
        row.flow_id.clone(),
        row.flow_revision,
    ))
    .one(tx.conn())
    .await?;
    Ok(found.map(|f| f.source).unwrap_or_default())
}

/// An ended execution to purge: its id, namespace and flow id.
pub type Purgeable = (String, String, String);

/// Up to `limit` executions of the transaction's tenant that ended (their
/// last change) before `before`, oldest first.
pub async fn ended_before(
    tx: &TenantTxn,
    before: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<Purgeable>, DbErr> {
    let ended = crate::domain::State::ALL
        .into_iter()
        .filter(|s| s.is_terminal())
        .map(crate::domain::State::as_str);
    executions::Entity::find()
        .select_only()
        .columns([
            executions::Column::Id,
            executions::Column::Namespace,
            executions::Column::FlowId,
        ])
        .filter(executions::Column::TenantId.eq(tx.tenant_key()))
        .filter(executions::Column::State.is_in(ended))
        .filter(executions::Column::UpdateTime.lt(before))
        .order_by(executions::Column::UpdateTime, Order::Asc)
        .limit(limit)
        .into_tuple()
        .all(tx.conn())
        .await
}

/// Deletes executions of the transaction's tenant with their task runs,
/// log lines and idempotency keys.
pub async fn delete_executions(tx: &TenantTxn, ids: &[String]) -> Result<(), DbErr> {
    if ids.is_empty() {
        return Ok(());
    }
    let key = tx.tenant_key();
    task_runs::Entity::delete_many()
        .filter(task_runs::Column::TenantId.eq(key))
        .filter(task_runs::Column::ExecutionId.is_in(ids.iter().cloned()))
        .exec(tx.conn())
        .await?;
    execution_logs::Entity::delete_many()
        .filter(execution_logs::Column::TenantId.eq(key))
        .filter(execution_logs::Column::ExecutionId.is_in(ids.iter().cloned()))
        .exec(tx.conn())
        .await?;
    idempotency_keys::Entity::delete_many()
        .filter(idempotency_keys::Column::TenantId.eq(key))
        .filter(idempotency_keys::Column::ExecutionId.is_in(ids.iter().cloned()))
        .exec(tx.conn())
        .await?;
    executions::Entity::delete_many()
        .filter(executions::Column::TenantId.eq(key))
        .filter(executions::Column::Id.is_in(ids.iter().cloned()))
        .exec(tx.conn())
        .await?;
    Ok(())
}

/// Executions of the transaction's tenant created at or after `since`.
pub async fn created_since(tx: &TenantTxn, since: DateTime<Utc>) -> Result<u64, DbErr> {
    executions::Entity::find()
        .filter(executions::Column::TenantId.eq(tx.tenant_key()))
        .filter(executions::Column::CreateTime.gte(since))
        .count(tx.conn())
        .await
}

pub async fn search(
    tx: &TenantTxn,
    filter: Filter<'_>,
    page: PageRequest,
    sort: &aerie_common::paging::Sort<'_>,
) -> Result<(Vec<executions::Model>, u64), DbErr> {
    let column = || Expr::col((executions::Entity, executions::Column::Namespace));
    let mut query =
        executions::Entity::find().filter(executions::Column::TenantId.eq(tx.tenant_key()));
    if let Some(scope) = in_scope(column, filter.scope) {
        query = query.filter(scope);
    }
    if let Some(namespace) = filter.namespace {
        query = query.filter(within_namespace(column(), namespace));
    }
    if let Some(flow_id) = filter.flow_id {
        query = query.filter(executions::Column::FlowId.eq(flow_id));
    }
    if !filter.states.is_empty() {
        query = query.filter(executions::Column::State.is_in(filter.states.iter().cloned()));
    }
    if let Some(from) = filter.created_from {
        query = query.filter(executions::Column::CreateTime.gte(from));
    }
    if let Some(before) = filter.created_before {
        query = query.filter(executions::Column::CreateTime.lt(before));
    }
    let total = query.clone().count(tx.conn()).await?;
    let by = match sort.field {
        "updated" => executions::Column::UpdateTime,
        "state" => executions::Column::State,
        "namespace" => executions::Column::Namespace,
        "flowId" => executions::Column::FlowId,
        _ => executions::Column::CreateTime,
    };
    let order = if sort.descending {
        Order::Desc
    } else {
        Order::Asc
    };
    let rows = query
        .order_by(by, order.clone())
        .order_by(executions::Column::Id, order)
        .offset(page.offset())
        .limit(u64::from(page.size))
        .all(tx.conn())
        .await?;
    Ok((rows, total))
}

/// The task runs of an execution, in the order they were created.
pub async fn task_runs(
    tx: &TenantTxn,
    execution: &ExecutionId,
) -> Result<Vec<task_runs::Model>, DbErr> {
    task_runs::Entity::find()
        .filter(task_runs::Column::TenantId.eq(tx.tenant_key()))
        .filter(task_runs::Column::ExecutionId.eq(execution.as_str()))
        .order_by_asc(task_runs::Column::StartTime)
        .order_by_asc(task_runs::Column::Id)
        .all(tx.conn())
        .await
}

/// Creates task runs, in statements of bounded size.
pub async fn insert_task_runs(tx: &TenantTxn, rows: Vec<task_runs::Model>) -> Result<(), DbErr> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk = rows.by_ref().take(super::ROWS_PER_INSERT).map(|mut row| {
            row.tenant_id = tx.tenant_key().to_owned();
            task_runs::ActiveModel::from(row).reset_all()
        });
        task_runs::Entity::insert_many(chunk)
            .exec_without_returning(tx.conn())
            .await?;
    }
    Ok(())
}

/// Replaces a stored task run.
pub async fn update_task_run(tx: &TenantTxn, mut row: task_runs::Model) -> Result<(), DbErr> {
    row.tenant_id = tx.tenant_key().to_owned();
    // Every column is written: an update only writes columns marked changed.
    let active = task_runs::ActiveModel::from(row).reset_all();
    task_runs::Entity::update(active).exec(tx.conn()).await?;
    Ok(())
}

/// A log line to store.
pub struct NewLog {
    pub task_run_id: String,
    pub task_id: String,
    pub level: &'static str,
    pub time: chrono::DateTime<chrono::Utc>,
    pub message: String,
}

pub async fn append_logs(
    tx: &TenantTxn,
    execution: &ExecutionId,
    lines: Vec<NewLog>,
) -> Result<(), DbErr> {
    if lines.is_empty() {
        return Ok(());
    }
    let mut lines = lines.into_iter().peekable();
    while lines.peek().is_some() {
        let chunk =
            lines
                .by_ref()
                .take(super::ROWS_PER_INSERT)
                .map(|line| execution_logs::ActiveModel {
                    tenant_id: Set(tx.tenant_key().to_owned()),
                    execution_id: Set(execution.as_str().to_owned()),
                    task_run_id: Set(line.task_run_id),
                    task_id: Set(line.task_id),
                    level: Set(line.level.to_owned()),
                    time: Set(line.time),
                    message: Set(line.message),
                    ..Default::default()
                });
        execution_logs::Entity::insert_many(chunk)
            .exec_without_returning(tx.conn())
            .await?;
    }
    Ok(())
}

/// The log lines of an execution at one of `levels` stored after line
/// `after` (0: from the first), oldest first.
pub async fn logs(
    tx: &TenantTxn,
    execution: &ExecutionId,
    levels: &[&str],
    after: i64,
) -> Result<Vec<execution_logs::Model>, DbErr> {
    execution_logs::Entity::find()
        .filter(execution_logs::Column::TenantId.eq(tx.tenant_key()))
        .filter(execution_logs::Column::ExecutionId.eq(execution.as_str()))
        .filter(execution_logs::Column::Level.is_in(levels.iter().copied()))
        .filter(execution_logs::Column::Seq.gt(after))
        .order_by_asc(execution_logs::Column::Seq)
        .all(tx.conn())
        .await
}

/// Log search filters.
pub struct LogFilter<'a> {
    /// The namespaces the caller may read executions of.
    pub scope: &'a NamespaceScope,
    pub namespace: Option<&'a str>,
    pub flow_id: Option<&'a str>,
    pub execution_id: Option<&'a str>,
    pub levels: &'a [&'a str],
    /// Message contains, ignoring case.
    pub text: Option<&'a str>,
    /// Logged at or after.
    pub from: Option<DateTime<Utc>>,
    /// Logged before.
    pub before: Option<DateTime<Utc>>,
}

/// A page of the transaction's tenant's log lines, newest first, each with
/// its execution's namespace and flow id, and how many match.
pub async fn search_logs(
    tx: &TenantTxn,
    filter: LogFilter<'_>,
    page: PageRequest,
) -> Result<(Vec<(execution_logs::Model, String, String)>, u64), DbErr> {
    use sea_orm::sea_query::Query;
    let key = tx.tenant_key();
    // The executions whose lines may be shown: in the caller's scope and
    // the filter's namespace and flow, always within the tenant.
    let namespace = || Expr::col((executions::Entity, executions::Column::Namespace));
    let mut owners = Query::select();
    owners
        .column(executions::Column::Id)
        .from(executions::Entity)
        .and_where(executions::Column::TenantId.eq(key));
    if let Some(scope) = in_scope(namespace, filter.scope) {
        owners.cond_where(scope);
    }
    if let Some(wanted) = filter.namespace {
        owners.cond_where(within_namespace(namespace(), wanted));
    }
    if let Some(flow_id) = filter.flow_id {
        owners.and_where(executions::Column::FlowId.eq(flow_id));
    }
    let mut query = execution_logs::Entity::find()
        .filter(execution_logs::Column::TenantId.eq(key))
        .filter(execution_logs::Column::ExecutionId.in_subquery(owners))
        .filter(execution_logs::Column::Level.is_in(filter.levels.iter().copied()));
    if let Some(id) = filter.execution_id {
        query = query.filter(execution_logs::Column::ExecutionId.eq(id));
    }
    if let Some(text) = filter.text {
        query = query.filter(aerie_common::db::contains_text(
            Expr::col((execution_logs::Entity, execution_logs::Column::Message)),
            text,
        ));
    }
    if let Some(from) = filter.from {
        query = query.filter(execution_logs::Column::Time.gte(from));
    }
    if let Some(before) = filter.before {
        query = query.filter(execution_logs::Column::Time.lt(before));
    }
    let total = query.clone().count(tx.conn()).await?;
    let lines = query
        .order_by_desc(execution_logs::Column::Seq)
        .offset(page.offset())
        .limit(u64::from(page.size))
        .all(tx.conn())
        .await?;
    let ids: std::collections::BTreeSet<String> =
        lines.iter().map(|l| l.execution_id.clone()).collect();
    let owners: std::collections::HashMap<String, (String, String)> = executions::Entity::find()
        .select_only()
        .columns([
            executions::Column::Id,
            executions::Column::Namespace,
            executions::Column::FlowId,
        ])
        .filter(executions::Column::TenantId.eq(key))
        .filter(executions::Column::Id.is_in(ids))
        .into_tuple::<(String, String, String)>()
        .all(tx.conn())
        .await?
        .into_iter()
        .map(|(id, namespace, flow_id)| (id, (namespace, flow_id)))
        .collect();
    let results = lines
        .into_iter()
        .filter_map(|line| {
            let (namespace, flow_id) = owners.get(&line.execution_id)?.clone();
            Some((line, namespace, flow_id))
        })
        .collect();
    Ok((results, total))
}

/// The execution an idempotency key named since `since`, if any.
pub async fn find_idempotency_key(
    tx: &TenantTxn,
    key: &str,
    since: chrono::DateTime<chrono::Utc>,
) -> Result<Option<idempotency_keys::Model>, DbErr> {
    idempotency_keys::Entity::find()
        .filter(idempotency_keys::Column::TenantId.eq(tx.tenant_key()))
        .filter(idempotency_keys::Column::Key.eq(key))
        .filter(idempotency_keys::Column::CreateTime.gt(since))
        .one(tx.conn())
        .await
}

/// Records that `key` created `row`, replacing a use of the key from
/// before `expired_before`. A live use by another request is a conflict.
pub async fn insert_idempotency_key(
    tx: &TenantTxn,
    key: &str,
    row: &executions::Model,
    expired_before: chrono::DateTime<chrono::Utc>,
) -> Result<(), DbErr> {
    idempotency_keys::Entity::delete_many()
        .filter(idempotency_keys::Column::TenantId.eq(tx.tenant_key()))
        .filter(idempotency_keys::Column::Key.eq(key))
        .filter(idempotency_keys::Column::CreateTime.lte(expired_before))
        .exec(tx.conn())
        .await?;
    idempotency_keys::Entity::insert(idempotency_keys::ActiveModel {
        tenant_id: Set(tx.tenant_key().to_owned()),
        key: Set(key.to_owned()),
        execution_id: Set(row.id.clone()),
        namespace: Set(row.namespace.clone()),
        flow_id: Set(row.flow_id.clone()),
        create_time: Set(row.create_time),
    })
    .exec_without_returning(tx.conn())
    .await?;
    Ok(())
}
