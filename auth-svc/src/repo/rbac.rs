//! Roles, bindings and groups: per tenant, every function takes the
//! tenant's transaction; the one cross-tenant question (a user's tenants)
//! is a named system scan.

use aerie_common::TenantId;
use aerie_common::db::{SystemScan, TenantTxn};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, DbErr, EntityTrait, Order, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect,
};

use super::entities::{bindings, group_members, groups, roles, users};
use super::now;

// ---- roles ----

pub async fn insert_role(tx: &TenantTxn, name: &str, permissions: &str) -> Result<(), DbErr> {
    let row = roles::ActiveModel {
        tenant: Set(tx.tenant_key().to_owned()),
        name: Set(name.to_owned()),
        permissions: Set(permissions.to_owned()),
        create_time: Set(now()),
    };
    roles::Entity::insert(row)
        .exec_without_returning(tx.conn())
        .await?;
    Ok(())
}

pub async fn list_roles(tx: &TenantTxn) -> Result<Vec<roles::Model>, DbErr> {
    roles::Entity::find()
        .filter(roles::Column::Tenant.eq(tx.tenant_key()))
        .order_by(roles::Column::Name, Order::Asc)
        .all(tx.conn())
        .await
}

pub async fn find_role(tx: &TenantTxn, name: &str) -> Result<Option<roles::Model>, DbErr> {
    roles::Entity::find_by_id((tx.tenant_key().to_owned(), name.to_owned()))
        .one(tx.conn())
        .await
}

/// The roles of these names that exist, in one query.
pub async fn find_roles(tx: &TenantTxn, names: &[&str]) -> Result<Vec<roles::Model>, DbErr> {
    if names.is_empty() {
        return Ok(Vec::new());
    }
    roles::Entity::find()
        .filter(roles::Column::Tenant.eq(tx.tenant_key()))
        .filter(roles::Column::Name.is_in(names.iter().copied()))
        .all(tx.conn())
        .await
}

/// Deletes a role unless a binding uses it: `Ok(None)` when it does not
/// exist, `Ok(Some(false))` when it is in use.
pub async fn delete_unused_role(tx: &TenantTxn, name: &str) -> Result<Option<bool>, DbErr> {
    if find_role(tx, name).await?.is_none() {
        return Ok(None);
    }
    let in_use = bindings::Entity::find()
        .filter(bindings::Column::Tenant.eq(tx.tenant_key()))
        .filter(bindings::Column::Role.eq(name))
        .count(tx.conn())
        .await?;
    if in_use > 0 {
        return Ok(Some(false));
    }
    roles::Entity::delete_by_id((tx.tenant_key().to_owned(), name.to_owned()))
        .exec(tx.conn())
        .await?;
    Ok(Some(true))
}

// ---- bindings (per tenant) ----

pub async fn insert_binding(tx: &TenantTxn, binding: bindings::Model) -> Result<(), DbErr> {
    let row = bindings::ActiveModel {
        id: Set(binding.id),
        tenant: Set(tx.tenant_key().to_owned()),
        subject_type: Set(binding.subject_type),
        subject_id: Set(binding.subject_id),
        role: Set(binding.role),
        namespace: Set(binding.namespace),
        create_time: Set(binding.create_time),
    };
    bindings::Entity::insert(row)
        .exec_without_returning(tx.conn())
        .await?;
    Ok(())
}

pub async fn list_bindings(tx: &TenantTxn) -> Result<Vec<bindings::Model>, DbErr> {
    bindings::Entity::find()
        .filter(bindings::Column::Tenant.eq(tx.tenant_key()))
        .order_by(bindings::Column::CreateTime, Order::Asc)
        .all(tx.conn())
        .await
}

/// A user's bindings in one tenant: its own and those of its groups there.
pub async fn user_bindings(tx: &TenantTxn, user_id: &str) -> Result<Vec<bindings::Model>, DbErr> {
    let group_ids: Vec<String> = group_members::Entity::find()
        .select_only()
        .column(group_members::Column::GroupId)
        .filter(group_members::Column::Tenant.eq(tx.tenant_key()))
        .filter(group_members::Column::UserId.eq(user_id))
        .into_tuple()
        .all(tx.conn())
        .await?;
    bindings::Entity::find()
        .filter(bindings::Column::Tenant.eq(tx.tenant_key()))
        .filter(subjects_of(user_id, group_ids))
        .all(tx.conn())
        .await
}

/// Bindings naming the user itself or one of `group_ids`.
fn subjects_of(user_id: &str, group_ids: Vec<String>) -> Condition {
    let mut subjects = Condition::any().add(
        Condition::all()
            .add(bindings::Column::SubjectType.eq("USER"))
            .add(bindings::Column::SubjectId.eq(user_id)),
    );
    if !group_ids.is_empty() {
        subjects = subjects.add(
            Condition::all()
                .add(bindings::Column::SubjectType.eq("GROUP"))
                .add(bindings::Column::SubjectId.is_in(group_ids)),
        );
    }
    subjects
}

/// The binding of exactly this subject, role and namespace, if any.
pub async fn find_binding(
    tx: &TenantTxn,
    subject_type: &str,
    subject_id: &str,
    role: &str,
    namespace: Option<&str>,
) -> Result<Option<bindings::Model>, DbErr> {
    let scope = match namespace {
        Some(ns) => bindings::Column::Namespace.eq(ns),
        None => bindings::Column::Namespace.is_null(),
    };
    bindings::Entity::find()
        .filter(bindings::Column::Tenant.eq(tx.tenant_key()))
        .filter(bindings::Column::SubjectType.eq(subject_type))
        .filter(bindings::Column::SubjectId.eq(subject_id))
        .filter(bindings::Column::Role.eq(role))
        .filter(scope)
        .one(tx.conn())
        .await
}

/// One binding of `tenant` by id.
pub async fn find_binding_by_id(
    tx: &TenantTxn,
    id: &str,
) -> Result<Option<bindings::Model>, DbErr> {
    bindings::Entity::find()
        .filter(bindings::Column::Tenant.eq(tx.tenant_key()))
        .filter(bindings::Column::Id.eq(id))
        .one(tx.conn())
        .await
}

pub async fn delete_binding(tx: &TenantTxn, id: &str) -> Result<bool, DbErr> {
    let deleted = bindings::Entity::delete_many()
        .filter(bindings::Column::Tenant.eq(tx.tenant_key()))
        .filter(bindings::Column::Id.eq(id))
        .exec(tx.conn())
        .await?;
    if deleted.rows_affected > 0 {
        super::tenant_changed(tx).await?;
    }
    Ok(deleted.rows_affected > 0)
}

/// System scan named as such: the tenants in which one user holds any
/// binding, its own or through a group (for `/me` and tenant listing).
pub async fn tenants_of_user(scan: &SystemScan, user_id: &str) -> Result<Vec<TenantId>, DbErr> {
    let group_ids: Vec<String> = group_members::Entity::find()
        .select_only()
        .column(group_members::Column::GroupId)
        .filter(group_members::Column::UserId.eq(user_id))
        .into_tuple()
        .all(scan.conn())
        .await?;
    let keys: Vec<String> = bindings::Entity::find()
        .select_only()
        .column(bindings::Column::Tenant)
        .distinct()
        .filter(subjects_of(user_id, group_ids))
        .into_tuple()
        .all(scan.conn())
        .await?;
    Ok(keys
        .iter()
        .filter_map(|key| TenantId::from_storage_key(key).ok())
        .collect())
}

// ---- groups (per tenant) ----

pub async fn insert_group(tx: &TenantTxn, name: &str) -> Result<groups::Model, DbErr> {
    let group = groups::Model {
        id: uuid::Uuid::new_v4().to_string(),
        tenant: tx.tenant_key().to_owned(),
        name: name.to_owned(),
        create_time: now(),
    };
    let row = groups::ActiveModel {
        id: Set(group.id.clone()),
        tenant: Set(group.tenant.clone()),
        name: Set(group.name.clone()),
        create_time: Set(group.create_time),
    };
    groups::Entity::insert(row)
        .exec_without_returning(tx.conn())
        .await?;
    Ok(group)
}

pub async fn find_group(tx: &TenantTxn, name: &str) -> Result<Option<groups::Model>, DbErr> {
    groups::Entity::find()
        .filter(groups::Column::Tenant.eq(tx.tenant_key()))
        .filter(groups::Column::Name.eq(name))
        .one(tx.conn())
        .await
}

pub async fn find_group_by_id(tx: &TenantTxn, id: &str) -> Result<Option<groups::Model>, DbErr> {
    groups::Entity::find()
        .filter(groups::Column::Tenant.eq(tx.tenant_key()))
        .filter(groups::Column::Id.eq(id))
        .one(tx.conn())
        .await
}

pub async fn list_groups(tx: &TenantTxn) -> Result<Vec<groups::Model>, DbErr> {
    groups::Entity::find()
        .filter(groups::Column::Tenant.eq(tx.tenant_key()))
        .order_by(groups::Column::Name, Order::Asc)
        .all(tx.conn())
        .await
}

/// Deletes a group with its members and bindings, in one transaction.
pub async fn delete_group(tx: &TenantTxn, name: &str) -> Result<bool, DbErr> {
    let Some(group) = find_group(tx, name).await? else {
        return Ok(false);
    };
    group_members::Entity::delete_many()
        .filter(group_members::Column::Tenant.eq(tx.tenant_key()))
        .filter(group_members::Column::GroupId.eq(&group.id))
        .exec(tx.conn())
        .await?;
    bindings::Entity::delete_many()
        .filter(bindings::Column::Tenant.eq(tx.tenant_key()))
        .filter(bindings::Column::SubjectType.eq("GROUP"))
        .filter(bindings::Column::SubjectId.eq(&group.id))
        .exec(tx.conn())
        .await?;
    groups::Entity::delete_by_id(group.id)
        .exec(tx.conn())
        .await?;
    super::tenant_changed(tx).await?;
    Ok(true)
}

/// Adds a member; adding an existing member changes nothing.
pub async fn add_member(tx: &TenantTxn, group_id: &str, user_id: &str) -> Result<(), DbErr> {
    let row = group_members::ActiveModel {
        tenant: Set(tx.tenant_key().to_owned()),
        group_id: Set(group_id.to_owned()),
        user_id: Set(user_id.to_owned()),
    };
    // ON CONFLICT, not a caught error: on PostgreSQL a failed statement
    // would abort the surrounding transaction.
    group_members::Entity::insert(row)
        .on_conflict(
            sea_orm::sea_query::OnConflict::columns([
                group_members::Column::GroupId,
                group_members::Column::UserId,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(tx.conn())
        .await?;
    Ok(())
}

pub async fn remove_member(tx: &TenantTxn, group_id: &str, user_id: &str) -> Result<bool, DbErr> {
    let deleted = group_members::Entity::delete_many()
        .filter(group_members::Column::Tenant.eq(tx.tenant_key()))
        .filter(group_members::Column::GroupId.eq(group_id))
        .filter(group_members::Column::UserId.eq(user_id))
        .exec(tx.conn())
        .await?;
    if deleted.rows_affected > 0 {
        super::tenant_changed(tx).await?;
    }
    Ok(deleted.rows_affected > 0)
}

/// The usernames of a group's members.
pub async fn member_names(tx: &TenantTxn, group_id: &str) -> Result<Vec<String>, DbErr> {
    let ids: Vec<String> = group_members::Entity::find()
        .select_only()
        .column(group_members::Column::UserId)
        .filter(group_members::Column::Tenant.eq(tx.tenant_key()))
        .filter(group_members::Column::GroupId.eq(group_id))
        .into_tuple()
        .all(tx.conn())
        .await?;
    users::Entity::find()
        .select_only()
        .column(users::Column::Username)
        .filter(users::Column::Id.is_in(ids))
        .order_by(users::Column::Username, Order::Asc)
        .into_tuple()
        .all(tx.conn())
        .await
}
