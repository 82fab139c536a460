//! The last tick each Schedule trigger fired for. Moving a cursor is a
//! compare-and-set inside the transaction that creates the tick's
//! execution, so of several replicas seeing the same tick exactly one fires.

use sea_orm::{ActiveValue::Set, ColumnTrait, DbErr, EntityTrait, QueryFilter};

use super::TenantTxn;
use super::entities::schedule_cursors;

/// Which trigger, inside the transaction's tenant.
pub struct TriggerRef<'a> {
    pub namespace: &'a str,
    pub flow_id: &'a str,
    pub trigger_id: &'a str,
}

/// The cursor, created at `initial` when the trigger is new.
pub async fn cursor_or_start(
    tx: &TenantTxn,
    trigger: &TriggerRef<'_>,
    initial: i64,
) -> Result<i64, DbErr> {
    if let Some(row) = find(tx, trigger).await? {
        return Ok(row.last_tick);
    }
    let insert = schedule_cursors::Entity::insert(schedule_cursors::ActiveModel {
        tenant_id: Set(tx.tenant_key().to_owned()),
        namespace: Set(trigger.namespace.to_owned()),
        flow_id: Set(trigger.flow_id.to_owned()),
        trigger_id: Set(trigger.trigger_id.to_owned()),
        last_tick: Set(initial),
    })
    .on_conflict_do_nothing()
    .exec_without_returning(tx.conn())
    .await;
    insert?;
    Ok(find(tx, trigger)
        .await?
        .map_or(initial, |row| row.last_tick))
}

async fn find(
    tx: &TenantTxn,
    trigger: &TriggerRef<'_>,
) -> Result<Option<schedule_cursors::Model>, DbErr> {
    schedule_cursors::Entity::find_by_id((
        tx.tenant_key().to_owned(),
        trigger.namespace.to_owned(),
        trigger.flow_id.to_owned(),
        trigger.trigger_id.to_owned(),
    ))
    .one(tx.conn())
    .await
}

/// Moves the cursor from `from` to `to`; false when another replica moved
/// it first.
pub async fn advance(
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
