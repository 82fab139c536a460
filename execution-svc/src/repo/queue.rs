//! The work queue. A worker claims rows whose lease is free or expired and
//! holds them by renewing the lease; a worker that dies stops renewing, and
//! once its leases expire another worker claims the same executions and
//! resumes them. Claims share workers fairly between tenants, up to a quota
//! of running executions per tenant (see [`claim`]); replicas claiming the
//! same row at once on PostgreSQL re-check its lease on the locked row, so
//! one wins. SQLite serves one process, whose writes are serialised anyway.
//!
//! Enqueueing and finishing happen inside the tenant transaction that
//! creates or ends the execution, so an execution is never accepted without
//! its queue row nor left queued after it ended.

use aerie_common::TenantId;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, Statement,
};

use super::TenantTxn;
use super::entities::execution_queue;
use crate::domain::ExecutionId;

/// A job handed to a worker, with the tenant it was created for.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub tenant: TenantId,
    pub execution: ExecutionId,
    /// The fencing token of this claim: a later claim of the same job has
    /// a larger one, and every write made under this claim checks it.
    pub epoch: i64,
    /// A pause was asked for before this claim (its worker stopped first).
    pub pause_requested: bool,
}

/// One execution to queue, with its flow's concurrency limit.
pub struct Job {
    pub execution: ExecutionId,
    /// [`flow_key`] of its namespace and flow id.
    pub flow_key: String,
    /// Executions of the flow that may run at once; 0: no limit.
    pub flow_limit: u32,
}

/// The key grouping a flow's jobs for its concurrency limit: a digest, so
/// the queue (which every replica scans, outside row-level security) holds
/// ids and leases only, never names.
pub fn flow_key(namespace: &str, flow_id: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::new()
        .chain_update(namespace.as_bytes())
        .chain_update([0])
        .chain_update(flow_id.as_bytes())
        .finalize();
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// Executions of one flow of the transaction's tenant that are queued or
/// running.
pub async fn unfinished_of_flow(tx: &TenantTxn, flow_key: &str) -> Result<u64, DbErr> {
    use sea_orm::PaginatorTrait;
    execution_queue::Entity::find()
        .filter(execution_queue::Column::TenantId.eq(tx.tenant_key()))
        .filter(execution_queue::Column::FlowKey.eq(flow_key))
        .count(tx.conn())
        .await
}

/// Makes concurrent transactions accepting executions of one flow take
/// turns (PostgreSQL; SQLite's writes take turns anyway), so two callers
/// cannot both take a flow's last slot.
pub async fn lock_flow(tx: &TenantTxn, flow_key: &str) -> Result<(), DbErr> {
    let conn = tx.conn();
    if conn.get_database_backend() != sea_orm::DbBackend::Postgres {
        return Ok(());
    }
    // A digest of tenant and flow, as a 60-bit lock number.
    let digest = self::flow_key(tx.tenant_key(), flow_key);
    let lock = i64::from_str_radix(&digest[..15], 16).unwrap_or(0);
    conn.execute_raw(Statement::from_sql_and_values(
        sea_orm::DbBackend::Postgres,
        "SELECT pg_advisory_xact_lock($1)",
        [lock.into()],
    ))
    .await?;
    Ok(())
}

/// Queues executions of the transaction's tenant; `running_quota` is the
/// tenant's own quota of running executions, when it has one.
pub async fn enqueue_many(
    tx: &TenantTxn,
    jobs: &[Job],
    available_at: i64,
    running_quota: Option<u32>,
) -> Result<(), DbErr> {
    for chunk in jobs.chunks(super::ROWS_PER_INSERT) {
        execution_queue::Entity::insert_many(chunk.iter().map(|job| {
            execution_queue::ActiveModel {
                execution_id: Set(job.execution.as_str().to_owned()),
                tenant_id: Set(tx.tenant_key().to_owned()),
                available_at: Set(available_at),
                lease_owner: Set(None),
                lease_until: Set(None),
                kill_requested: Set(false),
                pause_requested: Set(false),
                lease_epoch: Set(0),
                running_quota: Set(running_quota.map_or(0, i64::from)),
                flow_key: Set(job.flow_key.clone()),
                flow_limit: Set(i64::from(job.flow_limit)),
            }
        }))
        .exec_without_returning(tx.conn())
        .await?;
    }
    Ok(())
}

/// Removes the job of an execution of the transaction's tenant that no
/// worker holds (queued, or its worker's lease ran out); false when a
/// worker holds it or it is not queued.
pub async fn take_unheld(tx: &TenantTxn, execution: &ExecutionId) -> Result<bool, DbErr> {
    let now = super::now_millis();
    let result = execution_queue::Entity::delete_many()
        .filter(execution_queue::Column::TenantId.eq(tx.tenant_key()))
        .filter(execution_queue::Column::ExecutionId.eq(execution.as_str()))
        .filter(
            sea_orm::Condition::any()
                .add(execution_queue::Column::LeaseUntil.is_null())
                .add(execution_queue::Column::LeaseUntil.lt(now)),
        )
        .exec(tx.conn())
        .await?;
    Ok(result.rows_affected == 1)
}

/// Flags a running execution of the transaction's tenant for pausing;
/// false when it is not queued.
pub async fn request_pause(tx: &TenantTxn, execution: &ExecutionId) -> Result<bool, DbErr> {
    let result = execution_queue::Entity::update_many()
        .col_expr(execution_queue::Column::PauseRequested, true.into())
        .filter(execution_queue::Column::TenantId.eq(tx.tenant_key()))
        .filter(execution_queue::Column::ExecutionId.eq(execution.as_str()))
        .exec(tx.conn())
        .await?;
    Ok(result.rows_affected == 1)
}

/// Flags a queued execution of the transaction's tenant for killing; false
/// when it is not queued. A parked job (waiting for its subflows) is taken
/// at once, to end.
pub async fn request_kill(tx: &TenantTxn, execution: &ExecutionId) -> Result<bool, DbErr> {
    let result = execution_queue::Entity::update_many()
        .col_expr(execution_queue::Column::KillRequested, true.into())
        .filter(execution_queue::Column::TenantId.eq(tx.tenant_key()))
        .filter(execution_queue::Column::ExecutionId.eq(execution.as_str()))
        .exec(tx.conn())
        .await?;
    wake(tx, execution).await?;
    Ok(result.rows_affected == 1)
}

/// Makes a parked job of the transaction's tenant claimable now (a
/// subflow it waits for ended). Setting it on a job a worker holds is
/// harmless: the lease decides who runs it. The update is unconditional
/// on purpose: it locks the row even when the job is not parked yet, so a
/// worker parking it at the same moment waits for this transaction and
/// then sees the subflow's end (see `Run::park_for_subflows`).
pub async fn wake(tx: &TenantTxn, execution: &ExecutionId) -> Result<(), DbErr> {
    available_at(tx, execution, super::now_millis()).await
}

/// Makes the job of an execution of the transaction's tenant wait until
/// `at` (epoch milliseconds) before a worker takes it.
pub async fn available_at(tx: &TenantTxn, execution: &ExecutionId, at: i64) -> Result<(), DbErr> {
    execution_queue::Entity::update_many()
        .col_expr(execution_queue::Column::AvailableAt, at.into())
        .filter(execution_queue::Column::TenantId.eq(tx.tenant_key()))
        .filter(execution_queue::Column::ExecutionId.eq(execution.as_str()))
        .exec(tx.conn())
        .await?;
    Ok(())
}

/// Takes up to `limit` free jobs for `owner` until `now + lease_ms`, shared
/// fairly between tenants: no tenant gets more than its quota running at
/// once (its own, stored with each job, or the default `quota`; leases
/// held anywhere count), and among tenants with queued work the one
/// with the fewest running goes first, round-robin, oldest job first within
/// a tenant. A flood of one tenant's work never keeps another's waiting for
/// a worker. A job whose flow already runs its concurrency limit waits,
/// and takes no slot from its tenant's other jobs.
pub async fn claim(
    db: &DatabaseConnection,
    owner: &str,
    lease_ms: i64,
    limit: usize,
    quota: u32,
) -> Result<Vec<Claimed>, DbErr> {
    let _turn = aerie_common::db::sqlite_writer(db, aerie_common::fair_turns::INSTANCE_LANE).await;
    let backend = db.get_database_backend();
    let now = super::now_millis();
    // `slot` is how many of its tenant's executions would run once this
    // one does. Replicas racing for a row: the outer lease condition is
    // checked again on the row PostgreSQL locks, so one of them wins.
    // `flow_slot` is the same count among its flow's jobs, for flows
    // with a concurrency limit only.
    // The leased jobs are read once for both counts.
    let sql = "WITH leased AS ( \
           SELECT tenant_id, flow_key FROM execution_queue \
           WHERE lease_until IS NOT NULL AND lease_until >= $3), \
         busy AS ( \
           SELECT tenant_id, COUNT(*) AS running FROM leased GROUP BY tenant_id), \
         flow_busy AS ( \
           SELECT tenant_id, flow_key, COUNT(*) AS running FROM leased \
           GROUP BY tenant_id, flow_key), \
         limited AS ( \
           SELECT q.execution_id, q.flow_limit, \
             ROW_NUMBER() OVER (PARTITION BY q.tenant_id, q.flow_key \
               ORDER BY q.available_at, q.execution_id) + COALESCE(f.running, 0) AS flow_slot \
           FROM execution_queue q LEFT JOIN flow_busy f \
             ON f.tenant_id = q.tenant_id AND f.flow_key = q.flow_key \
           WHERE q.flow_limit > 0 AND NOT q.kill_requested AND q.available_at <= $3 \
             AND (q.lease_until IS NULL OR q.lease_until < $3)), \
         ranked AS ( \
           SELECT q.execution_id, q.available_at, q.running_quota, \
             ROW_NUMBER() OVER (PARTITION BY q.tenant_id ORDER BY q.available_at, q.execution_id) \
               + COALESCE(b.running, 0) AS slot \
           FROM execution_queue q LEFT JOIN busy b ON b.tenant_id = q.tenant_id \
           WHERE q.available_at <= $3 AND (q.lease_until IS NULL OR q.lease_until < $3) \
             AND (q.flow_limit = 0 OR q.kill_requested OR q.execution_id IN ( \
               SELECT execution_id FROM limited WHERE flow_slot <= flow_limit))) \
         UPDATE execution_queue SET lease_owner = $1, lease_until = $2, \
           lease_epoch = lease_epoch + 1 \
         WHERE (lease_until IS NULL OR lease_until < $3) AND execution_id IN ( \
           SELECT execution_id FROM ranked \
           WHERE slot <= CASE WHEN running_quota > 0 THEN running_quota ELSE $5 END \
           ORDER BY slot, available_at LIMIT $4) \
         RETURNING execution_id, tenant_id, lease_epoch, pause_requested";
    let statement = Statement::from_sql_and_values(
        backend,
        sql,
        [
            owner.into(),
            (now + lease_ms).into(),
            now.into(),
            (limit as i64).into(),
            i64::from(quota).into(),
        ],
    );
    let rows = db.query_all_raw(statement).await?;
    let mut claimed = Vec::with_capacity(rows.len());
    for row in rows {
        let id: String = row.try_get("", "execution_id")?;
        let tenant: String = row.try_get("", "tenant_id")?;
        let epoch: i64 = row.try_get("", "lease_epoch")?;
        let pause_requested: bool = row.try_get("", "pause_requested")?;
        match (TenantId::from_storage_key(&tenant), ExecutionId::parse(&id)) {
            (Ok(tenant), Ok(execution)) => claimed.push(Claimed {
                tenant,
                execution,
                epoch,
                pause_requested,
            }),
            _ => tracing::error!(%id, %tenant, "queue row with an invalid id is ignored"),
        }
    }
    Ok(claimed)
}

/// The executions of `tenant` waiting for a worker (queued, not leased).
/// A parked job (a timed pause, a wait for subflows) waits for no worker.
pub async fn queued_count(db: &DatabaseConnection, tenant: &TenantId) -> Result<u64, DbErr> {
    use sea_orm::{Condition, PaginatorTrait};
    execution_queue::Entity::find()
        .filter(execution_queue::Column::TenantId.eq(tenant.storage_key()))
        .filter(execution_queue::Column::AvailableAt.lte(super::now_millis()))
        .filter(
            Condition::any()
                .add(execution_queue::Column::LeaseUntil.is_null())
                .add(execution_queue::Column::LeaseUntil.lt(super::now_millis())),
        )
        .count(db)
        .await
}

/// The executions of `tenant` held by a worker and waiting for one.
pub async fn usage(db: &DatabaseConnection, tenant: &TenantId) -> Result<QueueDepth, DbErr> {
    use sea_orm::{Condition, PaginatorTrait};
    let queued = queued_count(db, tenant).await?;
    let running = execution_queue::Entity::find()
        .filter(execution_queue::Column::TenantId.eq(tenant.storage_key()))
        .filter(
            Condition::all()
                .add(execution_queue::Column::LeaseUntil.is_not_null())
                .add(execution_queue::Column::LeaseUntil.gte(super::now_millis())),
        )
        .count(db)
        .await?;
    Ok(QueueDepth { queued, running })
}

/// A job still held by its worker after a renewal.
#[derive(Debug, Clone)]
pub struct Held {
    pub execution_id: String,
    /// The claim holding it: not the worker's own if it was claimed again.
    pub epoch: i64,
    pub kill_requested: bool,
    pub pause_requested: bool,
}

/// Extends the leases `owner` still holds on `running`; answers which (and
/// whether a kill was asked for each). A job missing from the answer was lost.
pub async fn renew(
    db: &DatabaseConnection,
    owner: &str,
    lease_ms: i64,
    running: &[String],
) -> Result<Vec<Held>, DbErr> {
    let _turn = aerie_common::db::sqlite_writer(db, aerie_common::fair_turns::INSTANCE_LANE).await;
    let backend = db.get_database_backend();
    let now = super::now_millis();
    let placeholders: Vec<String> = (0..running.len()).map(|i| format!("${}", i + 4)).collect();
    let mut values: Vec<sea_orm::Value> = vec![(now + lease_ms).into(), owner.into(), now.into()];
    values.extend(running.iter().map(|id| id.as_str().into()));
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            format!(
                "UPDATE execution_queue SET lease_until = $1 \
                 WHERE lease_owner = $2 AND lease_until >= $3 AND execution_id IN ({}) \
                 RETURNING execution_id, lease_epoch, kill_requested, pause_requested",
                placeholders.join(", ")
            ),
            values,
        ))
        .await?;
    rows.into_iter()
        .map(|row| {
            Ok(Held {
                execution_id: row.try_get("", "execution_id")?,
                epoch: row.try_get("", "lease_epoch")?,
                kill_requested: row.try_get("", "kill_requested")?,
                pause_requested: row.try_get("", "pause_requested")?,
            })
        })
        .collect()
}

/// Inside a write of the execution: whether `owner`'s claim `epoch` still
/// holds its lease (renewed on the way). A worker that lost it must not
/// write.
pub async fn hold(
    tx: &TenantTxn,
    execution: &ExecutionId,
    owner: &str,
    epoch: i64,
    lease_ms: i64,
) -> Result<bool, DbErr> {
    let now = super::now_millis();
    let result = execution_queue::Entity::update_many()
        .col_expr(execution_queue::Column::LeaseUntil, (now + lease_ms).into())
        .filter(execution_queue::Column::TenantId.eq(tx.tenant_key()))
        .filter(execution_queue::Column::ExecutionId.eq(execution.as_str()))
        .filter(execution_queue::Column::LeaseOwner.eq(owner))
        .filter(execution_queue::Column::LeaseEpoch.eq(epoch))
        .filter(execution_queue::Column::LeaseUntil.gte(now))
        .exec(tx.conn())
        .await?;
    Ok(result.rows_affected == 1)
}

/// Releases every lease `owner` holds except those of `still_running`
/// (shutdown: the others' runs have stopped); answers how many.
pub async fn release(
    db: &DatabaseConnection,
    owner: &str,
    still_running: &[String],
) -> Result<u64, DbErr> {
    let _turn = aerie_common::db::sqlite_writer(db, aerie_common::fair_turns::INSTANCE_LANE).await;
    let mut update = execution_queue::Entity::update_many()
        .col_expr(
            execution_queue::Column::LeaseOwner,
            sea_orm::sea_query::Expr::value(Option::<String>::None),
        )
        .col_expr(
            execution_queue::Column::LeaseUntil,
            sea_orm::sea_query::Expr::value(Option::<i64>::None),
        )
        .filter(execution_queue::Column::LeaseOwner.eq(owner));
    if !still_running.is_empty() {
        update = update
            .filter(execution_queue::Column::ExecutionId.is_not_in(still_running.iter().cloned()));
    }
    Ok(update.exec(db).await?.rows_affected)
}

/// Gives a job back to the queue after a failure of this worker's claim
/// `epoch`, to be tried again after `delay_ms` (nothing if it was claimed
/// again meanwhile).
pub async fn retry_later(
    db: &DatabaseConnection,
    execution: &ExecutionId,
    owner: &str,
    epoch: i64,
    delay_ms: i64,
) -> Result<(), DbErr> {
    let _turn = aerie_common::db::sqlite_writer(db, aerie_common::fair_turns::INSTANCE_LANE).await;
    execution_queue::Entity::update_many()
        .col_expr(
            execution_queue::Column::AvailableAt,
            (super::now_millis() + delay_ms).into(),
        )
        .col_expr(
            execution_queue::Column::LeaseOwner,
            sea_orm::sea_query::Expr::value(Option::<String>::None),
        )
        .col_expr(
            execution_queue::Column::LeaseUntil,
            sea_orm::sea_query::Expr::value(Option::<i64>::None),
        )
        .filter(execution_queue::Column::ExecutionId.eq(execution.as_str()))
        .filter(execution_queue::Column::LeaseOwner.eq(owner))
        .filter(execution_queue::Column::LeaseEpoch.eq(epoch))
        .exec(db)
        .await?;
    Ok(())
}

/// Gives back a paused execution's job, to be taken again at
/// `available_at` (its pause's delay or timeout); false when `owner`'s
/// claim `epoch` no longer held it.
pub async fn park(
    tx: &TenantTxn,
    execution: &ExecutionId,
    owner: &str,
    epoch: i64,
    available_at: i64,
) -> Result<bool, DbErr> {
    let result = execution_queue::Entity::update_many()
        .col_expr(execution_queue::Column::AvailableAt, available_at.into())
        .col_expr(
            execution_queue::Column::LeaseOwner,
            sea_orm::sea_query::Expr::value(Option::<String>::None),
        )
        .col_expr(
            execution_queue::Column::LeaseUntil,
            sea_orm::sea_query::Expr::value(Option::<i64>::None),
        )
        .filter(execution_queue::Column::TenantId.eq(tx.tenant_key()))
        .filter(execution_queue::Column::ExecutionId.eq(execution.as_str()))
        .filter(execution_queue::Column::LeaseOwner.eq(owner))
        .filter(execution_queue::Column::LeaseEpoch.eq(epoch))
        .exec(tx.conn())
        .await?;
    Ok(result.rows_affected == 1)
}

/// Removes a finished job; false when `owner`'s claim `epoch` no longer
/// held it.
pub async fn finish(
    tx: &TenantTxn,
    execution: &ExecutionId,
    owner: &str,
    epoch: i64,
) -> Result<bool, DbErr> {
    let result = execution_queue::Entity::delete_many()
        .filter(execution_queue::Column::TenantId.eq(tx.tenant_key()))
        .filter(execution_queue::Column::ExecutionId.eq(execution.as_str()))
        .filter(execution_queue::Column::LeaseOwner.eq(owner))
        .filter(execution_queue::Column::LeaseEpoch.eq(epoch))
        .exec(tx.conn())
        .await?;
    Ok(result.rows_affected == 1)
}

/// Drops a job without an owner check (an execution that ended while
/// queued, e.g. killed before any worker took it).
pub async fn remove(tx: &TenantTxn, execution: &ExecutionId) -> Result<(), DbErr> {
    execution_queue::Entity::delete_many()
        .filter(execution_queue::Column::TenantId.eq(tx.tenant_key()))
        .filter(execution_queue::Column::ExecutionId.eq(execution.as_str()))
        .exec(tx.conn())
        .await?;
    Ok(())
}

/// Frees every lease. Only for SQLite at start: its one process is the
/// only worker, so leases left by a previous run of it are stale.
pub async fn release_all(db: &DatabaseConnection) -> Result<u64, DbErr> {
    let _turn = aerie_common::db::sqlite_writer(db, aerie_common::fair_turns::INSTANCE_LANE).await;
    let result = execution_queue::Entity::update_many()
        .col_expr(
            execution_queue::Column::LeaseOwner,
            sea_orm::sea_query::Expr::value(Option::<String>::None),
        )
        .col_expr(
            execution_queue::Column::LeaseUntil,
            sea_orm::sea_query::Expr::value(Option::<i64>::None),
        )
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

/// How many jobs wait for a worker and how many a worker holds, in every
/// tenant (the queue is a system table: it holds ids and leases only).
pub async fn depth(db: &DatabaseConnection) -> Result<QueueDepth, DbErr> {
    use sea_orm::PaginatorTrait;
    let running = execution_queue::Entity::find()
        .filter(execution_queue::Column::LeaseOwner.is_not_null())
        .count(db)
        .await?;
    let all = execution_queue::Entity::find().count(db).await?;
    Ok(QueueDepth {
        queued: all.saturating_sub(running),
        running,
    })
}

/// [`depth`] of each tenant with queued or running work.
pub async fn depth_by_tenant(
    db: &DatabaseConnection,
) -> Result<Vec<(TenantId, QueueDepth)>, DbErr> {
    let backend = db.get_database_backend();
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            "SELECT tenant_id, COUNT(*) AS total, \
               SUM(CASE WHEN lease_until IS NOT NULL AND lease_until >= $1 THEN 1 ELSE 0 END) AS running \
             FROM execution_queue GROUP BY tenant_id",
            [super::now_millis().into()],
        ))
        .await?;
    let mut depths = Vec::with_capacity(rows.len());
    for row in rows {
        let tenant: String = row.try_get("", "tenant_id")?;
        let total: i64 = row.try_get("", "total")?;
        let running: i64 = row.try_get("", "running")?;
        if let Ok(tenant) = TenantId::from_storage_key(&tenant) {
            let running = running.max(0) as u64;
            depths.push((
                tenant,
                QueueDepth {
                    queued: (total.max(0) as u64).saturating_sub(running),
                    running,
                },
            ));
        }
    }
    Ok(depths)
}

/// See [`depth`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueDepth {
    pub queued: u64,
    pub running: u64,
}
