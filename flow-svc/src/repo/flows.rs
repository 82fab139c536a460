//! Flows, their revisions and labels.

use std::collections::BTreeMap;

use aerie_common::auth::NamespaceScope;
use aerie_common::paging::{PageRequest, Sort};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, DbErr, EntityTrait, Order, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect,
};

use super::entities::{flow_labels, flow_revisions, flows};
use super::{TenantTxn, contains_text, in_scope, is_conflict, now, within_namespace};
use crate::domain::validate::ParsedFlow;
use crate::domain::{Flow, FlowKey};

/// Why a flow was not saved.
#[derive(Debug)]
pub enum SaveError {
    /// Another request created or changed the flow first. On PostgreSQL the
    /// transaction is aborted and must be dropped.
    Conflict,
    Db(DbErr),
}

impl From<DbErr> for SaveError {
    fn from(err: DbErr) -> Self {
        if is_conflict(&err) {
            SaveError::Conflict
        } else {
            SaveError::Db(err)
        }
    }
}

/// The flow as an API shows it.
pub fn to_flow(tx: &TenantTxn, row: flows::Model) -> Flow {
    Flow {
        tenant: tx.tenant().clone(),
        labels: serde_json::from_str(&row.labels).unwrap_or_default(),
        namespace: row.namespace,
        id: row.flow_id,
        revision: row.revision,
        source: row.source,
        description: row.description,
        disabled: row.disabled,
        deleted: row.deleted,
        update_time: row.update_time,
    }
}

fn by_key(key: &FlowKey, tx: &TenantTxn) -> Condition {
    Condition::all()
        .add(flows::Column::TenantId.eq(tx.tenant_key()))
        .add(flows::Column::Namespace.eq(key.namespace.as_str()))
        .add(flows::Column::FlowId.eq(key.id.as_str()))
}

/// The flow's row, live or deleted.
pub async fn find(tx: &TenantTxn, key: &FlowKey) -> Result<Option<flows::Model>, DbErr> {
    flows::Entity::find()
        .filter(by_key(key, tx))
        .one(tx.conn())
        .await
}

/// Stores `parsed` as the next revision after `previous` (revision 1 when
/// there is none), with its labels and triggers. A concurrent save of the
/// same flow makes one of the two fail with [`SaveError::Conflict`].
pub async fn save(
    tx: &TenantTxn,
    key: &FlowKey,
    parsed: &ParsedFlow,
    source: &str,
    previous: Option<&flows::Model>,
) -> Result<Flow, SaveError> {
    let revision = previous.map_or(1, |p| p.revision + 1);
    let time = now();
    let labels = serde_json::to_string(&parsed.labels)
        .map_err(|e| SaveError::Db(DbErr::Custom(e.to_string())))?;
    match previous {
        None => {
            flows::Entity::insert(flows::ActiveModel {
                tenant_id: Set(tx.tenant_key().to_owned()),
                namespace: Set(key.namespace.as_str().to_owned()),
                flow_id: Set(key.id.as_str().to_owned()),
                revision: Set(revision),
                source: Set(source.to_owned()),
                description: Set(parsed.description.clone()),
                labels: Set(labels.clone()),
                disabled: Set(parsed.disabled),
                deleted: Set(false),
                update_time: Set(time),
            })
            .exec_without_returning(tx.conn())
            .await?;
        }
        Some(previous) => {
            let updated = flows::Entity::update_many()
                .col_expr(flows::Column::Revision, Expr::value(revision))
                .col_expr(flows::Column::Source, Expr::value(source))
                .col_expr(
                    flows::Column::Description,
                    Expr::value(parsed.description.clone()),
                )
                .col_expr(flows::Column::Labels, Expr::value(labels.clone()))
                .col_expr(flows::Column::Disabled, Expr::value(parsed.disabled))
                .col_expr(flows::Column::Deleted, Expr::value(false))
                .col_expr(flows::Column::UpdateTime, Expr::value(time))
                .filter(by_key(key, tx))
                .filter(flows::Column::Revision.eq(previous.revision))
                .filter(flows::Column::Deleted.eq(previous.deleted))
                .exec(tx.conn())
                .await?;
            if updated.rows_affected == 0 {
                return Err(SaveError::Conflict);
            }
        }
    }
    flow_revisions::Entity::insert(flow_revisions::ActiveModel {
        tenant_id: Set(tx.tenant_key().to_owned()),
        namespace: Set(key.namespace.as_str().to_owned()),
        flow_id: Set(key.id.as_str().to_owned()),
        revision: Set(revision),
        source: Set(source.to_owned()),
        create_time: Set(time),
    })
    .exec_without_returning(tx.conn())
    .await?;
    replace_labels(tx, key, &parsed.labels).await?;
    super::triggers::replace(tx, key, revision, &parsed.triggers).await?;
    Ok(Flow {
        tenant: tx.tenant().clone(),
        namespace: key.namespace.as_str().to_owned(),
        id: key.id.as_str().to_owned(),
        revision,
        source: source.to_owned(),
        description: parsed.description.clone(),
        labels: parsed.labels.clone(),
        disabled: parsed.disabled,
        deleted: false,
        update_time: time,
    })
}

async fn replace_labels(
    tx: &TenantTxn,
    key: &FlowKey,
    labels: &BTreeMap<String, String>,
) -> Result<(), DbErr> {
    remove_labels(tx, key).await?;
    if labels.is_empty() {
        return Ok(());
    }
    flow_labels::Entity::insert_many(labels.iter().map(|(k, v)| flow_labels::ActiveModel {
        tenant_id: Set(tx.tenant_key().to_owned()),
        namespace: Set(key.namespace.as_str().to_owned()),
        flow_id: Set(key.id.as_str().to_owned()),
        key: Set(k.clone()),
        value: Set(v.clone()),
    }))
    .exec_without_returning(tx.conn())
    .await?;
    Ok(())
}

async fn remove_labels(tx: &TenantTxn, key: &FlowKey) -> Result<(), DbErr> {
    flow_labels::Entity::delete_many()
        .filter(flow_labels::Column::TenantId.eq(tx.tenant_key()))
        .filter(flow_labels::Column::Namespace.eq(key.namespace.as_str()))
        .filter(flow_labels::Column::FlowId.eq(key.id.as_str()))
        .exec(tx.conn())
        .await?;
    Ok(())
}

/// Marks a live flow deleted and drops its labels and triggers; false when
/// there was no live flow. Its revisions stay.
pub async fn soft_delete(tx: &TenantTxn, key: &FlowKey) -> Result<Option<i32>, DbErr> {
    let Some(live) = find(tx, key).await?.filter(|f| !f.deleted) else {
        return Ok(None);
    };
    let updated = flows::Entity::update_many()
        .col_expr(flows::Column::Deleted, Expr::value(true))
        .col_expr(flows::Column::UpdateTime, Expr::value(now()))
        .filter(by_key(key, tx))
        .filter(flows::Column::Deleted.eq(false))
        .exec(tx.conn())
        .await?;
    if updated.rows_affected == 0 {
        return Ok(None);
    }
    remove_labels(tx, key).await?;
    super::triggers::replace(tx, key, live.revision, &[]).await?;
    Ok(Some(live.revision))
}

/// One stored revision of a flow.
pub async fn revision(
    tx: &TenantTxn,
    key: &FlowKey,
    revision: i32,
) -> Result<Option<flow_revisions::Model>, DbErr> {
    flow_revisions::Entity::find()
        .filter(flow_revisions::Column::TenantId.eq(tx.tenant_key()))
        .filter(flow_revisions::Column::Namespace.eq(key.namespace.as_str()))
        .filter(flow_revisions::Column::FlowId.eq(key.id.as_str()))
        .filter(flow_revisions::Column::Revision.eq(revision))
        .one(tx.conn())
        .await
}

/// Every revision of a flow, oldest first.
pub async fn revisions(tx: &TenantTxn, key: &FlowKey) -> Result<Vec<flow_revisions::Model>, DbErr> {
    flow_revisions::Entity::find()
        .filter(flow_revisions::Column::TenantId.eq(tx.tenant_key()))
        .filter(flow_revisions::Column::Namespace.eq(key.namespace.as_str()))
        .filter(flow_revisions::Column::FlowId.eq(key.id.as_str()))
        .order_by_asc(flow_revisions::Column::Revision)
        .all(tx.conn())
        .await
}

/// The live flows of exactly one namespace, by id.
pub async fn in_namespace(tx: &TenantTxn, namespace: &str) -> Result<Vec<Flow>, DbErr> {
    let rows = flows::Entity::find()
        .filter(flows::Column::TenantId.eq(tx.tenant_key()))
        .filter(flows::Column::Namespace.eq(namespace))
        .filter(flows::Column::Deleted.eq(false))
        .order_by_asc(flows::Column::FlowId)
        .all(tx.conn())
        .await?;
    Ok(rows.into_iter().map(|row| to_flow(tx, row)).collect())
}

/// What a flow search filters on.
pub struct SearchFilter<'a> {
    pub text: &'a str,
    /// This namespace and its children.
    pub namespace: Option<&'a str>,
    pub labels: &'a [(String, String)],
    /// Where the caller may read flows.
    pub scope: &'a NamespaceScope,
}

/// One page of live flows matching `filter`, and how many match.
pub async fn search(
    tx: &TenantTxn,
    filter: &SearchFilter<'_>,
    page: PageRequest,
    sort: Sort<'_>,
) -> Result<(Vec<Flow>, u64), DbErr> {
    let column = || Expr::col((flows::Entity, flows::Column::Namespace));
    let mut query = flows::Entity::find()
        .filter(flows::Column::TenantId.eq(tx.tenant_key()))
        .filter(flows::Column::Deleted.eq(false));
    if let Some(scope) = in_scope(column, filter.scope) {
        query = query.filter(scope);
    }
    if let Some(namespace) = filter.namespace {
        query = query.filter(within_namespace(column(), namespace));
    }
    if !filter.text.is_empty() {
        query = query.filter(
            Condition::any()
                .add(contains_text(
                    Expr::col((flows::Entity, flows::Column::FlowId)),
                    filter.text,
                ))
                .add(contains_text(column(), filter.text))
                .add(contains_text(
                    Expr::col((flows::Entity, flows::Column::Description)),
                    filter.text,
                )),
        );
    }
    for (key, value) in filter.labels {
        let carries = Query::select()
            .expr(Expr::val(1))
            .from(flow_labels::Entity)
            .and_where(
                Expr::col((flow_labels::Entity, flow_labels::Column::TenantId))
                    .equals((flows::Entity, flows::Column::TenantId)),
            )
            .and_where(
                Expr::col((flow_labels::Entity, flow_labels::Column::Namespace))
                    .equals((flows::Entity, flows::Column::Namespace)),
            )
            .and_where(
                Expr::col((flow_labels::Entity, flow_labels::Column::FlowId))
                    .equals((flows::Entity, flows::Column::FlowId)),
            )
            .and_where(Expr::col((flow_labels::Entity, flow_labels::Column::Key)).eq(key.as_str()))
            .and_where(
                Expr::col((flow_labels::Entity, flow_labels::Column::Value)).eq(value.as_str()),
            )
            .to_owned();
        query = query.filter(Expr::exists(carries));
    }
    let total = query.clone().count(tx.conn()).await?;
    let order = if sort.descending {
        Order::Desc
    } else {
        Order::Asc
    };
    let first = match sort.field {
        "namespace" => flows::Column::Namespace,
        "revision" => flows::Column::Revision,
        "updated" => flows::Column::UpdateTime,
        _ => flows::Column::FlowId,
    };
    let rows = query
        .order_by(first, order.clone())
        // Ties still page deterministically.
        .order_by(flows::Column::Namespace, order.clone())
        .order_by(flows::Column::FlowId, order)
        .offset(page.offset())
        .limit(u64::from(page.size))
        .all(tx.conn())
        .await?;
    Ok((
        rows.into_iter().map(|row| to_flow(tx, row)).collect(),
        total,
    ))
}

/// The distinct namespaces of live flows inside `scope`, containing `text`.
pub async fn namespaces(
    tx: &TenantTxn,
    text: &str,
    scope: &NamespaceScope,
) -> Result<Vec<String>, DbErr> {
    let column = || Expr::col((flows::Entity, flows::Column::Namespace));
    let mut query = flows::Entity::find()
        .select_only()
        .column(flows::Column::Namespace)
        .distinct()
        .filter(flows::Column::TenantId.eq(tx.tenant_key()))
        .filter(flows::Column::Deleted.eq(false));
    if let Some(scope) = in_scope(column, scope) {
        query = query.filter(scope);
    }
    if !text.is_empty() {
        query = query.filter(contains_text(column(), text));
    }
    query
        .order_by_asc(flows::Column::Namespace)
        .into_tuple::<String>()
        .all(tx.conn())
        .await
}
