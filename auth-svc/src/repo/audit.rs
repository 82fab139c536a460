//! The audit log of every tenant: entries written by auth-svc's own
//! mutations and those delivered by the other services' outboxes.

use aerie_common::db::TenantTxn;
use aerie_common::paging::PageRequest;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, Order, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect,
};

use super::entities::audit_logs;
use super::now;

// ---- audit log (per tenant) ----

/// Stores an entry of the transaction's tenant unless its id is already
/// stored; true when new.
pub async fn insert_audit(tx: &TenantTxn, entry: audit_logs::Model) -> Result<bool, DbErr> {
    let entry = audit_logs::Model {
        tenant: tx.tenant_key().to_owned(),
        ..entry
    };
    insert_row(tx.conn(), entry).await
}

async fn insert_row(db: &impl ConnectionTrait, entry: audit_logs::Model) -> Result<bool, DbErr> {
    Ok(insert_rows(db, vec![entry]).await? > 0)
}

/// Stores entries of the transaction's tenant whose ids are not stored yet,
/// in multi-row statements; answers how many were new.
pub async fn insert_audits(tx: &TenantTxn, entries: Vec<audit_logs::Model>) -> Result<u64, DbErr> {
    let entries = entries
        .into_iter()
        .map(|entry| audit_logs::Model {
            tenant: tx.tenant_key().to_owned(),
            ..entry
        })
        .collect();
    insert_rows(tx.conn(), entries).await
}

/// Inserts `entries` whose ids are not stored yet; answers how many were new.
async fn insert_rows(
    db: &impl ConnectionTrait,
    entries: Vec<audit_logs::Model>,
) -> Result<u64, DbErr> {
    let mut stored = 0;
    let mut entries = entries.into_iter().peekable();
    while entries.peek().is_some() {
        // Eight columns a row: 100 rows stay far below SQLite's 32,766
        // variables and PostgreSQL's 65,535 parameters.
        let rows: Vec<audit_logs::ActiveModel> = entries
            .by_ref()
            .take(100)
            .map(|entry| audit_logs::ActiveModel {
                id: Set(entry.id),
                tenant: Set(entry.tenant),
                resource_type: Set(entry.resource_type),
                resource_id: Set(entry.resource_id),
                action: Set(entry.action),
                actor: Set(entry.actor),
                time: Set(entry.time),
                details: Set(entry.details),
            })
            .collect();
        stored += audit_logs::Entity::insert_many(rows)
            .on_conflict(
                sea_orm::sea_query::OnConflict::column(audit_logs::Column::Id)
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(db)
            .await?;
    }
    Ok(stored)
}

/// The tenants (storage keys) with audit entries, inside a system scan.
pub async fn tenants_with_entries(db: &impl ConnectionTrait) -> Result<Vec<String>, DbErr> {
    audit_logs::Entity::find()
        .select_only()
        .column(audit_logs::Column::Tenant)
        .distinct()
        .into_tuple()
        .all(db)
        .await
}

/// Deletes up to `limit` entries of the transaction's tenant older than
/// `before`, oldest first; answers how many.
pub async fn delete_older(
    tx: &TenantTxn,
    before: chrono::DateTime<chrono::Utc>,
    limit: u64,
) -> Result<u64, DbErr> {
    let ids: Vec<String> = audit_logs::Entity::find()
        .select_only()
        .column(audit_logs::Column::Id)
        .filter(audit_logs::Column::Tenant.eq(tx.tenant_key()))
        .filter(audit_logs::Column::Time.lt(before))
        .order_by(audit_logs::Column::Time, Order::Asc)
        .limit(limit)
        .into_tuple()
        .all(tx.conn())
        .await?;
    if ids.is_empty() {
        return Ok(0);
    }
    let result = audit_logs::Entity::delete_many()
        .filter(audit_logs::Column::Tenant.eq(tx.tenant_key()))
        .filter(audit_logs::Column::Id.is_in(ids))
        .exec(tx.conn())
        .await?;
    Ok(result.rows_affected)
}

/// One page of a tenant's entries, newest first, optionally filtered.
pub async fn search_audit(
    tx: &TenantTxn,
    resource_type: Option<&str>,
    resource_id: Option<&str>,
    page: PageRequest,
) -> Result<(Vec<audit_logs::Model>, u64), DbErr> {
    let mut query =
        audit_logs::Entity::find().filter(audit_logs::Column::Tenant.eq(tx.tenant_key()));
    if let Some(kind) = resource_type {
        query = query.filter(audit_logs::Column::ResourceType.eq(kind));
    }
    if let Some(id) = resource_id {
        query = query.filter(audit_logs::Column::ResourceId.eq(id));
    }
    let total = query.clone().count(tx.conn()).await?;
    let rows = query
        .order_by(audit_logs::Column::Time, Order::Desc)
        .order_by(audit_logs::Column::Id, Order::Desc)
        .offset(page.offset())
        .limit(u64::from(page.size))
        .all(tx.conn())
        .await?;
    Ok((rows, total))
}

/// Writes one of auth-svc's own entries inside the mutation's transaction,
/// which must be the entry's tenant's (row-level security checks it).
pub async fn record(
    db: &impl ConnectionTrait,
    entry: aerie_common::audit::AuditEntry,
) -> Result<(), DbErr> {
    let row = audit_logs::Model {
        id: uuid::Uuid::new_v4().to_string(),
        tenant: entry.tenant.storage_key().to_owned(),
        resource_type: entry.resource_type.to_owned(),
        resource_id: entry.resource_id,
        action: entry.action.to_owned(),
        actor: entry.actor,
        time: now(),
        details: entry.details.to_string(),
    };
    insert_row(db, row).await?;
    Ok(())
}
