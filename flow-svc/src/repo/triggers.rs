//! Trigger definitions, replaced whenever their flow is saved or deleted.

use aerie_common::auth::NamespaceScope;
use aerie_common::paging::PageRequest;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, DbErr, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect,
};

use super::entities::{disabled_triggers, triggers};
use super::{TenantTxn, contains_text, in_scope, within_namespace};
use crate::domain::FlowKey;
use crate::domain::validate::TriggerDefinition;

/// Replaces the triggers of one flow with `definitions` (none: removes them).
pub async fn replace(
    tx: &TenantTxn,
    key: &FlowKey,
    revision: i32,
    definitions: &[TriggerDefinition],
) -> Result<(), DbErr> {
    let removed = triggers::Entity::delete_many()
        .filter(triggers::Column::TenantId.eq(tx.tenant_key()))
        .filter(triggers::Column::Namespace.eq(key.namespace.as_str()))
        .filter(triggers::Column::FlowId.eq(key.id.as_str()))
        .exec(tx.conn())
        .await?;
    if removed.rows_affected > 0 || !definitions.is_empty() {
        // The schedulers re-read this tenant's triggers when told.
        let change = aerie_common::changes::Change::Tenant(tx.tenant().clone());
        aerie_common::changes::record(tx.conn(), &change).await?;
    }
    // A trigger that left the flow (or a deleted flow's) is no longer
    // disabled: a trigger of the same id added later starts enabled.
    disabled_triggers::Entity::delete_many()
        .filter(disabled_triggers::Column::TenantId.eq(tx.tenant_key()))
        .filter(disabled_triggers::Column::Namespace.eq(key.namespace.as_str()))
        .filter(disabled_triggers::Column::FlowId.eq(key.id.as_str()))
        .filter(
            disabled_triggers::Column::TriggerId
                .is_not_in(definitions.iter().map(|t| t.id.clone())),
        )
        .exec(tx.conn())
        .await?;
    if definitions.is_empty() {
        return Ok(());
    }
    triggers::Entity::insert_many(definitions.iter().map(|t| triggers::ActiveModel {
        tenant_id: Set(tx.tenant_key().to_owned()),
        namespace: Set(key.namespace.as_str().to_owned()),
        flow_id: Set(key.id.as_str().to_owned()),
        trigger_id: Set(t.id.clone()),
        kind: Set(t.kind.clone()),
        cron: Set(t.cron.clone()),
        timezone: Set(t.timezone.clone()),
        disabled: Set(t.disabled),
        flow_revision: Set(revision),
        definition: Set(t.definition.to_string()),
    }))
    .exec_without_returning(tx.conn())
    .await?;
    Ok(())
}

/// The triggers of one flow, as their source declares them.
pub async fn declared_of_flow(
    tx: &TenantTxn,
    key: &FlowKey,
) -> Result<Vec<triggers::Model>, DbErr> {
    triggers::Entity::find()
        .filter(triggers::Column::TenantId.eq(tx.tenant_key()))
        .filter(triggers::Column::Namespace.eq(key.namespace.as_str()))
        .filter(triggers::Column::FlowId.eq(key.id.as_str()))
        .order_by_asc(triggers::Column::TriggerId)
        .all(tx.conn())
        .await
}

/// The triggers of one flow, disabled when their source or the API says so.
pub async fn of_flow(tx: &TenantTxn, key: &FlowKey) -> Result<Vec<triggers::Model>, DbErr> {
    let rows = declared_of_flow(tx, key).await?;
    with_api_state(tx, rows).await
}

/// A trigger's address in its tenant: namespace, flow id, trigger id.
type TriggerKey = (String, String, String);

/// `rows` with `disabled` set on every trigger disabled through the API.
async fn with_api_state(
    tx: &TenantTxn,
    mut rows: Vec<triggers::Model>,
) -> Result<Vec<triggers::Model>, DbErr> {
    if rows.is_empty() {
        return Ok(rows);
    }
    let flows: std::collections::BTreeSet<(String, String)> = rows
        .iter()
        .map(|r| (r.namespace.clone(), r.flow_id.clone()))
        .collect();
    let mut query = disabled_triggers::Entity::find()
        .filter(disabled_triggers::Column::TenantId.eq(tx.tenant_key()));
    if flows.len() == 1 {
        let (namespace, flow_id) = flows.into_iter().next().unwrap_or_default();
        query = query
            .filter(disabled_triggers::Column::Namespace.eq(namespace))
            .filter(disabled_triggers::Column::FlowId.eq(flow_id));
    }
    let off: std::collections::HashSet<TriggerKey> = query
        .all(tx.conn())
        .await?
        .into_iter()
        .map(|d| (d.namespace, d.flow_id, d.trigger_id))
        .collect();
    for row in &mut rows {
        if off.contains(&(
            row.namespace.clone(),
            row.flow_id.clone(),
            row.trigger_id.clone(),
        )) {
            row.disabled = true;
        }
    }
    Ok(rows)
}

/// Disables or enables one trigger through the API; true when that
/// changed anything. The schedulers hear of it like a flow change.
pub async fn set_disabled(
    tx: &TenantTxn,
    key: &FlowKey,
    trigger_id: &str,
    disabled: bool,
) -> Result<bool, DbErr> {
    let changed = if disabled {
        let inserted = disabled_triggers::Entity::insert(disabled_triggers::ActiveModel {
            tenant_id: Set(tx.tenant_key().to_owned()),
            namespace: Set(key.namespace.as_str().to_owned()),
            flow_id: Set(key.id.as_str().to_owned()),
            trigger_id: Set(trigger_id.to_owned()),
            disable_time: Set(super::now()),
        })
        .on_conflict_do_nothing()
        .exec_without_returning(tx.conn())
        .await?;
        matches!(inserted, sea_orm::TryInsertResult::Inserted(n) if n > 0)
    } else {
        disabled_triggers::Entity::delete_many()
            .filter(disabled_triggers::Column::TenantId.eq(tx.tenant_key()))
            .filter(disabled_triggers::Column::Namespace.eq(key.namespace.as_str()))
            .filter(disabled_triggers::Column::FlowId.eq(key.id.as_str()))
            .filter(disabled_triggers::Column::TriggerId.eq(trigger_id))
            .exec(tx.conn())
            .await?
            .rows_affected
            > 0
    };
    if changed {
        let change = aerie_common::changes::Change::Tenant(tx.tenant().clone());
        aerie_common::changes::record(tx.conn(), &change).await?;
    }
    Ok(changed)
}

/// The enabled triggers of one type in the tenant (those of live flows:
/// deleting a flow removes its triggers).
pub async fn enabled_of_kind(tx: &TenantTxn, kind: &str) -> Result<Vec<triggers::Model>, DbErr> {
    let rows = triggers::Entity::find()
        .filter(triggers::Column::TenantId.eq(tx.tenant_key()))
        .filter(triggers::Column::Kind.eq(kind))
        .filter(triggers::Column::Disabled.eq(false))
        .order_by_asc(triggers::Column::Namespace)
        .order_by_asc(triggers::Column::FlowId)
        .order_by_asc(triggers::Column::TriggerId)
        .all(tx.conn())
        .await?;
    let rows = with_api_state(tx, rows).await?;
    Ok(rows.into_iter().filter(|r| !r.disabled).collect())
}

/// When a trigger fires, without its definition: what the schedulers read.
#[derive(Debug, sea_orm::FromQueryResult)]
pub struct Timing {
    pub namespace: String,
    pub flow_id: String,
    pub trigger_id: String,
    pub kind: String,
    pub cron: String,
    pub timezone: String,
    pub flow_revision: i32,
}

/// The timing of the tenant's enabled triggers of one type (neither their
/// source nor the API disables them), in one statement. The schedulers
/// read every tenant's at start; leaving each definition out of the read
/// (copied by SQLite, then dropped) halves its cost.
pub async fn enabled_timings(tx: &TenantTxn, kind: &str) -> Result<Vec<Timing>, DbErr> {
    use sea_orm::sea_query::{ExprTrait, Query};
    use triggers::Column;
    // The same trigger among those disabled through the API.
    let mut disabled_through_api = Query::select()
        .expr(Expr::val(1))
        .from(disabled_triggers::Entity)
        .to_owned();
    for (theirs, ours) in [
        (disabled_triggers::Column::TenantId, Column::TenantId),
        (disabled_triggers::Column::Namespace, Column::Namespace),
        (disabled_triggers::Column::FlowId, Column::FlowId),
        (disabled_triggers::Column::TriggerId, Column::TriggerId),
    ] {
        disabled_through_api.and_where(
            Expr::col((disabled_triggers::Entity, theirs)).equals((triggers::Entity, ours)),
        );
    }
    triggers::Entity::find()
        .select_only()
        .columns([
            Column::Namespace,
            Column::FlowId,
            Column::TriggerId,
            Column::Kind,
            Column::Cron,
            Column::Timezone,
            Column::FlowRevision,
        ])
        .filter(Column::TenantId.eq(tx.tenant_key()))
        .filter(Column::Kind.eq(kind))
        .filter(Column::Disabled.eq(false))
        .filter(Expr::not_exists(disabled_through_api))
        .order_by_asc(Column::Namespace)
        .order_by_asc(Column::FlowId)
        .order_by_asc(Column::TriggerId)
        .into_model()
        .all(tx.conn())
        .await
}

/// One page of triggers inside `scope` (and `namespace` and its children),
/// whose flow or trigger id contains `text`.
pub async fn search(
    tx: &TenantTxn,
    scope: &NamespaceScope,
    namespace: Option<&str>,
    text: &str,
    page: PageRequest,
) -> Result<(Vec<triggers::Model>, u64), DbErr> {
    let column = || Expr::col((triggers::Entity, triggers::Column::Namespace));
    let mut query = triggers::Entity::find().filter(triggers::Column::TenantId.eq(tx.tenant_key()));
    if let Some(scope) = in_scope(column, scope) {
        query = query.filter(scope);
    }
    if let Some(namespace) = namespace {
        query = query.filter(within_namespace(column(), namespace));
    }
    if !text.is_empty() {
        query = query.filter(
            Condition::any()
                .add(contains_text(
                    Expr::col((triggers::Entity, triggers::Column::FlowId)),
                    text,
                ))
                .add(contains_text(
                    Expr::col((triggers::Entity, triggers::Column::TriggerId)),
                    text,
                )),
        );
    }
    let total = query.clone().count(tx.conn()).await?;
    let rows = query
        .order_by_asc(triggers::Column::Namespace)
        .order_by_asc(triggers::Column::FlowId)
        .order_by_asc(triggers::Column::TriggerId)
        .offset(page.offset())
        .limit(u64::from(page.size))
        .all(tx.conn())
        .await?;
    Ok((with_api_state(tx, rows).await?, total))
}
