//! Trigger definitions, replaced whenever their flow is saved or deleted.

use aerie_common::auth::NamespaceScope;
use aerie_common::paging::PageRequest;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, DbErr, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect,
};

use super::entities::triggers;
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

/// The triggers of one flow.
pub async fn of_flow(tx: &TenantTxn, key: &FlowKey) -> Result<Vec<triggers::Model>, DbErr> {
    triggers::Entity::find()
        .filter(triggers::Column::TenantId.eq(tx.tenant_key()))
        .filter(triggers::Column::Namespace.eq(key.namespace.as_str()))
        .filter(triggers::Column::FlowId.eq(key.id.as_str()))
        .order_by_asc(triggers::Column::TriggerId)
        .all(tx.conn())
        .await
}

/// The enabled triggers of one type in the tenant (those of live flows:
/// deleting a flow removes its triggers).
pub async fn enabled_of_kind(tx: &TenantTxn, kind: &str) -> Result<Vec<triggers::Model>, DbErr> {
    triggers::Entity::find()
        .filter(triggers::Column::TenantId.eq(tx.tenant_key()))
        .filter(triggers::Column::Kind.eq(kind))
        .filter(triggers::Column::Disabled.eq(false))
        .order_by_asc(triggers::Column::Namespace)
        .order_by_asc(triggers::Column::FlowId)
        .order_by_asc(triggers::Column::TriggerId)
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
    Ok((rows, total))
}
