//! sea-orm queries on tenant-svc's own tables. Tenants are instance-level
//! rows keyed by their [`TenantId`]; only valid ids reach this module.

use aerie_common::TenantId;
use aerie_common::paging::{PageRequest, Sort};
use chrono::{DateTime, SubsecRound, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, Order,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, SqlErr,
};

use aerie_common::quota::QuotaOverrides;

use crate::domain::Tenant;

/// The `tenants` table.
pub mod tenants {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "tenants")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub name: String,
        pub deleted: bool,
        pub create_time: ChronoDateTimeUtc,
        pub update_time: ChronoDateTimeUtc,
        /// [`aerie_common::quota::QuotaOverrides`] as JSON.
        pub quotas: String,
        /// Deleted through DeleteTenant, so restorable (never an
        /// unfinished import).
        pub restorable: bool,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

use tenants::{ActiveModel, Column, Entity};

impl From<tenants::Model> for Tenant {
    fn from(row: tenants::Model) -> Self {
        let quotas = serde_json::from_str(&row.quotas).unwrap_or_else(|err| {
            tracing::error!(tenant = %row.id, %err, "unreadable quota overrides; defaults apply");
            QuotaOverrides::default()
        });
        Tenant {
            id: row.id,
            name: row.name,
            deleted: row.deleted,
            create_time: row.create_time,
            update_time: row.update_time,
            quotas,
        }
    }
}

/// Why an insert did not happen.
#[derive(Debug)]
pub enum InsertError {
    /// The id is taken (see [`is_deleted`] for by whom). On PostgreSQL the
    /// surrounding transaction is aborted and must be dropped.
    Taken,
    Db(DbErr),
}

/// Now, at the precision every backend stores (microseconds), so that what
/// an insert returns equals what a later read returns.
fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// Inserts a new tenant. Two racing inserts of one id: exactly one succeeds,
/// the other gets [`InsertError::Taken`] (the primary key decides).
pub async fn insert(
    db: &impl ConnectionTrait,
    id: &TenantId,
    name: &str,
) -> Result<Tenant, InsertError> {
    let key = id.storage_key().to_owned();
    let time = now();
    let row = ActiveModel {
        id: Set(key.clone()),
        name: Set(name.to_owned()),
        deleted: Set(false),
        create_time: Set(time),
        update_time: Set(time),
        quotas: Set("{}".to_owned()),
        restorable: Set(false),
    };
    match Entity::insert(row).exec_without_returning(db).await {
        Ok(_) => Ok(Tenant {
            id: key,
            name: name.to_owned(),
            deleted: false,
            create_time: time,
            update_time: time,
            quotas: QuotaOverrides::default(),
        }),
        Err(err) if matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
            Err(InsertError::Taken)
        }
        Err(err) => Err(InsertError::Db(err)),
    }
}

/// Whether a tenant with this id exists and was deleted.
pub async fn is_deleted(db: &impl ConnectionTrait, id: &TenantId) -> Result<bool, DbErr> {
    Ok(Entity::find_by_id(id.storage_key())
        .one(db)
        .await?
        .is_some_and(|row| row.deleted))
}

/// The tenant if it exists and is not deleted.
pub async fn find_live(db: &impl ConnectionTrait, id: &TenantId) -> Result<Option<Tenant>, DbErr> {
    Ok(Entity::find_by_id(id.storage_key())
        .filter(Column::Deleted.eq(false))
        .one(db)
        .await?
        .map(Tenant::from))
}

/// The storage keys of every live named tenant (the scheduler's round).
pub async fn live_ids(db: &DatabaseConnection) -> Result<Vec<String>, DbErr> {
    use sea_orm::QuerySelect;
    Entity::find()
        .select_only()
        .column(Column::Id)
        .filter(Column::Deleted.eq(false))
        .order_by_asc(Column::Id)
        .into_tuple()
        .all(db)
        .await
}

/// Which tenants a listing may show.
pub enum Visible<'a> {
    /// Every tenant (a super admin's view).
    All,
    /// Only these (the tenants a user holds bindings in).
    Among(&'a [TenantId]),
}

/// One page of the visible live tenants and how many there are.
pub async fn list_live(
    db: &DatabaseConnection,
    visible: Visible<'_>,
    page: PageRequest,
    sort: Sort<'_>,
) -> Result<(Vec<Tenant>, u64), DbErr> {
    let mut live = Entity::find().filter(Column::Deleted.eq(false));
    if let Visible::Among(ids) = visible {
        live = live.filter(Column::Id.is_in(ids.iter().map(|t| t.storage_key().to_owned())));
    }
    let total = live.clone().count(db).await?;
    let column = match sort.field {
        "name" => Column::Name,
        "createTime" => Column::CreateTime,
        _ => Column::Id,
    };
    let order = if sort.descending {
        Order::Desc
    } else {
        Order::Asc
    };
    let rows = live
        .order_by(column, order.clone())
        // Ties (same name or time) still page deterministically.
        .order_by(Column::Id, order)
        .offset(page.offset())
        .limit(u64::from(page.size))
        .all(db)
        .await?;
    Ok((rows.into_iter().map(Tenant::from).collect(), total))
}

/// Renames a live tenant; `None` when there is none.
pub async fn rename(
    db: &impl ConnectionTrait,
    id: &TenantId,
    name: &str,
) -> Result<Option<Tenant>, DbErr> {
    let updated = Entity::update_many()
        .col_expr(Column::Name, Expr::value(name))
        .col_expr(Column::UpdateTime, Expr::value(now()))
        .filter(Column::Id.eq(id.storage_key()))
        .filter(Column::Deleted.eq(false))
        .exec(db)
        .await?;
    if updated.rows_affected == 0 {
        return Ok(None);
    }
    // Announced like every other change of a tenant, so that whatever
    // holds its record (a name in a cache) reads it again.
    changed(db, id).await?;
    find_live(db, id).await
}

/// Replaces a live tenant's quota overrides; `None` when there is none.
pub async fn set_quotas(
    db: &impl ConnectionTrait,
    id: &TenantId,
    quotas: &QuotaOverrides,
) -> Result<Option<Tenant>, DbErr> {
    let text = serde_json::to_string(quotas).map_err(|e| DbErr::Custom(e.to_string()))?;
    let updated = Entity::update_many()
        .col_expr(Column::Quotas, Expr::value(text))
        .col_expr(Column::UpdateTime, Expr::value(now()))
        .filter(Column::Id.eq(id.storage_key()))
        .filter(Column::Deleted.eq(false))
        .exec(db)
        .await?;
    if updated.rows_affected == 0 {
        return Ok(None);
    }
    changed(db, id).await?;
    find_live(db, id).await
}

/// Announces, in the same transaction, that a tenant changed, so that
/// every process drops what it cached about it.
async fn changed(db: &impl ConnectionTrait, id: &TenantId) -> Result<(), DbErr> {
    aerie_common::changes::record(db, &aerie_common::changes::Change::Tenant(id.clone())).await
}

/// Reserves `id` for an import: the tenant exists, deleted (unreachable,
/// its id taken) until [`reveal`] makes it live. An import that fails or
/// never finishes leaves it so: its id is never handed out again, so no
/// later tenant can inherit what the import wrote.
pub async fn insert_reserved(
    db: &impl ConnectionTrait,
    id: &TenantId,
    name: &str,
) -> Result<(), InsertError> {
    let time = now();
    let row = ActiveModel {
        id: Set(id.storage_key().to_owned()),
        name: Set(name.to_owned()),
        deleted: Set(true),
        create_time: Set(time),
        update_time: Set(time),
        quotas: Set("{}".to_owned()),
        restorable: Set(false),
    };
    match Entity::insert(row).exec_without_returning(db).await {
        Ok(_) => Ok(()),
        Err(err) if matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
            Err(InsertError::Taken)
        }
        Err(err) => Err(InsertError::Db(err)),
    }
}

/// Makes a reserved tenant live with its quotas; `None` unless it was
/// reserved.
pub async fn reveal(
    db: &impl ConnectionTrait,
    id: &TenantId,
    quotas: &QuotaOverrides,
) -> Result<Option<Tenant>, DbErr> {
    let text = serde_json::to_string(quotas).map_err(|e| DbErr::Custom(e.to_string()))?;
    let updated = Entity::update_many()
        .col_expr(Column::Deleted, Expr::value(false))
        .col_expr(Column::Quotas, Expr::value(text))
        .col_expr(Column::UpdateTime, Expr::value(now()))
        .filter(Column::Id.eq(id.storage_key()))
        .filter(Column::Deleted.eq(true))
        .exec(db)
        .await?;
    if updated.rows_affected == 0 {
        return Ok(None);
    }
    changed(db, id).await?;
    find_live(db, id).await
}

/// Removes a tenant created moments ago whose set-up failed, so that a
/// failed create leaves nothing behind.
pub async fn remove_unfinished(db: &impl ConnectionTrait, id: &TenantId) -> Result<(), DbErr> {
    Entity::delete_by_id(id.storage_key()).exec(db).await?;
    changed(db, id).await
}

/// Whether a tenant with this id exists, whatever its state.
pub async fn exists(db: &impl ConnectionTrait, id: &TenantId) -> Result<bool, DbErr> {
    Ok(Entity::find_by_id(id.storage_key())
        .one(db)
        .await?
        .is_some())
}

/// Makes a tenant deleted through [`soft_delete`] live again; `None` when
/// there is no such tenant (live, unknown, or an unfinished import).
pub async fn restore(db: &impl ConnectionTrait, id: &TenantId) -> Result<Option<Tenant>, DbErr> {
    let updated = Entity::update_many()
        .col_expr(Column::Deleted, Expr::value(false))
        .col_expr(Column::Restorable, Expr::value(false))
        .col_expr(Column::UpdateTime, Expr::value(now()))
        .filter(Column::Id.eq(id.storage_key()))
        .filter(Column::Deleted.eq(true))
        .filter(Column::Restorable.eq(true))
        .exec(db)
        .await?;
    if updated.rows_affected == 0 {
        return Ok(None);
    }
    changed(db, id).await?;
    find_live(db, id).await
}

/// Marks a live tenant deleted (and restorable); false when there was none.
pub async fn soft_delete(db: &impl ConnectionTrait, id: &TenantId) -> Result<bool, DbErr> {
    let updated = Entity::update_many()
        .col_expr(Column::Deleted, Expr::value(true))
        .col_expr(Column::Restorable, Expr::value(true))
        .col_expr(Column::UpdateTime, Expr::value(now()))
        .filter(Column::Id.eq(id.storage_key()))
        .filter(Column::Deleted.eq(false))
        .exec(db)
        .await?;
    if updated.rows_affected > 0 {
        changed(db, id).await?;
    }
    Ok(updated.rows_affected > 0)
}
