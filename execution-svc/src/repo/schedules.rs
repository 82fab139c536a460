//! The last tick each Schedule trigger fired for. Moving a cursor is a
//! compare-and-set inside the transaction that creates the tick's
//! execution, so of several replicas seeing the same tick exactly one fires.

use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, QueryFilter,
    Statement,
};

use super::TenantTxn;
use super::entities::schedule_cursors;

/// Which trigger, inside the transaction's tenant.
pub struct TriggerRef<'a> {
    pub namespace: &'a str,
    pub flow_id: &'a str,
    pub trigger_id: &'a str,
}

/// Moves the cursor from `from` to `to`; false when another replica moved
/// it first.
async fn advance(
    tx: &TenantTxn,
    trigger: &TriggerRef<'_>,
    from: i64,
    to: i64,
) -> Result<bool, DbErr> {
    let result = schedule_cursors::Entity::update_many()
        .col_expr(schedule_cursors::Column::LastTick, to.into())
        .filter(schedule_cursors::Column::TenantId.eq(tx.tenant_key()))
        .filter(schedule_cursors::Column::Namespace.eq(trigger.namespace))
        .filter(schedule_cursors::Column::FlowId.eq(trigger.flow_id))
        .filter(schedule_cursors::Column::TriggerId.eq(trigger.trigger_id))
        .filter(schedule_cursors::Column::LastTick.eq(from))
        .exec(tx.conn())
        .await?;
    Ok(result.rows_affected == 1)
}

/// What [`claim`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// The trigger is new: its cursor now starts at the tick, which does
    /// not fire.
    Started,
    /// Another replica holds the cursor now (PostgreSQL): it fires the tick.
    Taken,
    /// The tick (or a later one) has fired.
    AlreadyFired,
    /// The cursor moved to the tick inside this transaction: fire it here.
    Due,
}

/// Moves the trigger's cursor to `tick` inside `tx` when the tick has not
/// fired yet. On PostgreSQL the cursor row stays locked until `tx` ends,
/// and a replica that finds it locked skips it rather than waiting.
pub async fn claim(tx: &TenantTxn, trigger: &TriggerRef<'_>, tick: i64) -> Result<Claim, DbErr> {
    let created = schedule_cursors::Entity::insert(schedule_cursors::ActiveModel {
        tenant_id: Set(tx.tenant_key().to_owned()),
        namespace: Set(trigger.namespace.to_owned()),
        flow_id: Set(trigger.flow_id.to_owned()),
        trigger_id: Set(trigger.trigger_id.to_owned()),
        last_tick: Set(tick),
    })
    .on_conflict_do_nothing()
    .exec_without_returning(tx.conn())
    .await?;
    if matches!(created, sea_orm::TryInsertResult::Inserted(n) if n > 0) {
        return Ok(Claim::Started);
    }
    let backend = tx.conn().get_database_backend();
    let lock = match backend {
        DbBackend::Postgres => " FOR UPDATE SKIP LOCKED",
        // One process per SQLite file, whose writes are serialised.
        _ => "",
    };
    let row = tx
        .conn()
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            format!(
                "SELECT last_tick FROM schedule_cursors \
                 WHERE tenant_id = $1 AND namespace = $2 AND flow_id = $3 AND trigger_id = $4{lock}"
            ),
            [
                tx.tenant_key().into(),
                trigger.namespace.into(),
                trigger.flow_id.into(),
                trigger.trigger_id.into(),
            ],
        ))
        .await?;
    let Some(row) = row else {
        return Ok(Claim::Taken);
    };
    let last: i64 = row.try_get("", "last_tick")?;
    if last >= tick {
        return Ok(Claim::AlreadyFired);
    }
    Ok(if advance(tx, trigger, last, tick).await? {
        Claim::Due
    } else {
        Claim::AlreadyFired
    })
}
