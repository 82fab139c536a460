//! The windows of Flow triggers' sets of conditions (Kestra's
//! preconditions and MultipleCondition): what executions met of a set,
//! kept until the window ends or the trigger fires.

use aerie_common::kestra::flow_trigger::Marks;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DbErr, EntityTrait, QueryFilter, QuerySelect, Set};

use super::TenantTxn;
use super::entities::flow_trigger_windows as windows;

/// The trigger a window belongs to (its tenant is the transaction's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TriggerKey {
    pub namespace: String,
    pub flow_id: String,
    pub trigger_id: String,
}

impl TriggerKey {
    pub fn of(trigger: &aerie_proto::flow::v1::Trigger) -> TriggerKey {
        TriggerKey {
            namespace: trigger.namespace.clone(),
            flow_id: trigger.flow_id.clone(),
            trigger_id: trigger.trigger_id.clone(),
        }
    }
}

/// The keys of what is met in the window `marks` counts in, as stored at
/// `now_ms` (nothing when no window is open).
pub async fn met(
    tx: &TenantTxn,
    trigger: &TriggerKey,
    window_id: &str,
    now_ms: i64,
) -> Result<Vec<String>, DbErr> {
    let row = by_key(trigger, window_id, tx.tenant_key())
        .one(tx.conn())
        .await?;
    Ok(row
        .filter(|r| r.start_ms <= now_ms && now_ms < r.end_ms)
        .map(|r| parse(&r.met))
        .unwrap_or_default())
}

/// Adds what an execution met to its window (opening a new one when none
/// is open at `now_ms`), holding the row until the transaction ends so
/// that two executions ending at once both count; the keys now met.
pub async fn record(
    tx: &TenantTxn,
    trigger: &TriggerKey,
    marks: &Marks,
    now_ms: i64,
) -> Result<Vec<String>, DbErr> {
    let key = tx.tenant_key().to_owned();
    // What an earlier definition of the same set met no longer counts.
    if let Some((id, _)) = marks.window_id.split_once('~') {
        let stale: Vec<String> = of_trigger(windows::Entity::find(), &key, trigger)
            .all(tx.conn())
            .await?
            .into_iter()
            .map(|row| row.window_id)
            .filter(|w| w.split_once('~').is_some_and(|(i, _)| i == id) && *w != marks.window_id)
            .collect();
        if !stale.is_empty() {
            of_trigger(windows::Entity::delete_many(), &key, trigger)
                .filter(windows::Column::WindowId.is_in(stale))
                .exec(tx.conn())
                .await?;
        }
    }
    let fresh = windows::ActiveModel {
        tenant_id: Set(key.clone()),
        namespace: Set(trigger.namespace.clone()),
        flow_id: Set(trigger.flow_id.clone()),
        trigger_id: Set(trigger.trigger_id.clone()),
        window_id: Set(marks.window_id.clone()),
        start_ms: Set(marks.start_ms),
        end_ms: Set(marks.end_ms),
        met: Set("[]".into()),
    };
    // A concurrent first record waits here for the other to commit (on
    // PostgreSQL); SQLite has one writer at a time.
    windows::Entity::insert(fresh)
        .on_conflict_do_nothing()
        .exec_without_returning(tx.conn())
        .await?;
    let row = by_key(trigger, &marks.window_id, &key)
        .lock_exclusive()
        .one(tx.conn())
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("flow trigger window".into()))?;
    let open = row.start_ms <= now_ms && now_ms < row.end_ms;
    let mut met = if open { parse(&row.met) } else { Vec::new() };
    for key in &marks.met {
        if !met.contains(key) {
            met.push(key.clone());
        }
    }
    let (start_ms, end_ms) = match open {
        true => (row.start_ms, row.end_ms),
        false => (marks.start_ms, marks.end_ms),
    };
    save(tx, trigger, &marks.window_id, start_ms, end_ms, &met).await?;
    Ok(met)
}

/// Forgets what was met in a window (the trigger fired).
pub async fn reset(tx: &TenantTxn, trigger: &TriggerKey, window_id: &str) -> Result<(), DbErr> {
    of_trigger(windows::Entity::delete_many(), tx.tenant_key(), trigger)
        .filter(windows::Column::WindowId.eq(window_id))
        .exec(tx.conn())
        .await?;
    Ok(())
}

/// Removes the tenant's windows that ended before `now_ms`: what they
/// held no longer counts.
pub async fn purge_ended(tx: &TenantTxn, now_ms: i64) -> Result<(), DbErr> {
    windows::Entity::delete_many()
        .filter(windows::Column::TenantId.eq(tx.tenant_key()))
        .filter(windows::Column::EndMs.lte(now_ms))
        .exec(tx.conn())
        .await?;
    Ok(())
}

async fn save(
    tx: &TenantTxn,
    trigger: &TriggerKey,
    window_id: &str,
    start_ms: i64,
    end_ms: i64,
    met: &[String],
) -> Result<(), DbErr> {
    let met = serde_json::to_string(met).expect("a list of strings serialises");
    let update = windows::Entity::update_many()
        .col_expr(windows::Column::StartMs, Expr::value(start_ms))
        .col_expr(windows::Column::EndMs, Expr::value(end_ms))
        .col_expr(windows::Column::Met, Expr::value(met));
    of_trigger(update, tx.tenant_key(), trigger)
        .filter(windows::Column::WindowId.eq(window_id))
        .exec(tx.conn())
        .await?;
    Ok(())
}

fn by_key(
    trigger: &TriggerKey,
    window_id: &str,
    tenant_key: &str,
) -> sea_orm::Select<windows::Entity> {
    of_trigger(windows::Entity::find(), tenant_key, trigger)
        .filter(windows::Column::WindowId.eq(window_id))
}

/// `query` narrowed to the windows of `trigger` in the tenant.
fn of_trigger<Q: QueryFilter>(query: Q, tenant_key: &str, trigger: &TriggerKey) -> Q {
    query
        .filter(windows::Column::TenantId.eq(tenant_key))
        .filter(windows::Column::Namespace.eq(&trigger.namespace))
        .filter(windows::Column::FlowId.eq(&trigger.flow_id))
        .filter(windows::Column::TriggerId.eq(&trigger.trigger_id))
}

fn parse(met: &str) -> Vec<String> {
    serde_json::from_str(met).unwrap_or_default()
}
