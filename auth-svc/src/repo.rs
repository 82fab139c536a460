//! sea-orm queries on auth-svc's own tables. Users and signing keys are
//! instance-level; every query of roles and bindings takes the tenant.

use aerie_common::TenantId;
use aerie_common::paging::PageRequest;
use chrono::{DateTime, SubsecRound, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection,
    DatabaseTransaction, DbErr, EntityTrait, Order, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, SqlErr,
};

/// Now, at the precision every backend stores.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// True when `err` is a unique-constraint violation.
pub fn is_conflict(err: &DbErr) -> bool {
    matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

pub mod users {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "users")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        #[sea_orm(unique)]
        pub username: String,
        pub password_hash: String,
        pub super_admin: bool,
        pub create_time: ChronoDateTimeUtc,
        pub update_time: ChronoDateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod signing_keys {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "signing_keys")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub kid: String,
        pub private_der: Vec<u8>,
        pub public_key: Vec<u8>,
        pub create_time: ChronoDateTimeUtc,
        pub retire_time: Option<ChronoDateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod roles {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "roles")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub name: String,
        /// Comma-separated `PERMISSION:ACTION` grants.
        pub permissions: String,
        pub create_time: ChronoDateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod bindings {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "bindings")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub tenant: String,
        pub subject_type: String,
        /// The user id (never the username, so a re-created username
        /// inherits nothing).
        pub subject_id: String,
        pub role: String,
        pub namespace: Option<String>,
        pub create_time: ChronoDateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod groups {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "groups")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub tenant: String,
        pub name: String,
        pub create_time: ChronoDateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod group_members {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "group_members")]
    pub struct Model {
        pub tenant: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub group_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub user_id: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

// ---- users (instance level) ----

pub async fn insert_user(db: &impl ConnectionTrait, user: users::Model) -> Result<(), DbErr> {
    let row = users::ActiveModel {
        id: Set(user.id),
        username: Set(user.username),
        password_hash: Set(user.password_hash),
        super_admin: Set(user.super_admin),
        create_time: Set(user.create_time),
        update_time: Set(user.update_time),
    };
    users::Entity::insert(row)
        .exec_without_returning(db)
        .await?;
    Ok(())
}

pub async fn find_user_by_name(
    db: &impl ConnectionTrait,
    username: &str,
) -> Result<Option<users::Model>, DbErr> {
    users::Entity::find()
        .filter(users::Column::Username.eq(username))
        .one(db)
        .await
}

pub async fn find_user(db: &impl ConnectionTrait, id: &str) -> Result<Option<users::Model>, DbErr> {
    users::Entity::find_by_id(id).one(db).await
}

pub async fn list_users(
    db: &DatabaseConnection,
    page: PageRequest,
) -> Result<(Vec<users::Model>, u64), DbErr> {
    let total = users::Entity::find().count(db).await?;
    let rows = users::Entity::find()
        .order_by(users::Column::Username, Order::Asc)
        .offset(page.offset())
        .limit(u64::from(page.size))
        .all(db)
        .await?;
    Ok((rows, total))
}

pub async fn update_user(
    db: &impl ConnectionTrait,
    id: &str,
    password_hash: Option<String>,
    super_admin: Option<bool>,
) -> Result<(), DbErr> {
    let mut update = users::Entity::update_many()
        .col_expr(users::Column::UpdateTime, Expr::value(now()))
        .filter(users::Column::Id.eq(id));
    if let Some(hash) = password_hash {
        update = update.col_expr(users::Column::PasswordHash, Expr::value(hash));
    }
    if let Some(flag) = super_admin {
        update = update.col_expr(users::Column::SuperAdmin, Expr::value(flag));
    }
    update.exec(db).await?;
    Ok(())
}

/// Deletes a user and, in the same transaction, every binding naming it
/// and every group membership.
pub async fn delete_user(txn: &DatabaseTransaction, id: &str) -> Result<bool, DbErr> {
    group_members::Entity::delete_many()
        .filter(group_members::Column::UserId.eq(id))
        .exec(txn)
        .await?;
    bindings::Entity::delete_many()
        .filter(bindings::Column::SubjectType.eq("USER"))
        .filter(bindings::Column::SubjectId.eq(id))
        .exec(txn)
        .await?;
    let deleted = users::Entity::delete_by_id(id).exec(txn).await?;
    Ok(deleted.rows_affected > 0)
}

// ---- signing keys (instance level) ----

pub async fn insert_key(db: &impl ConnectionTrait, key: signing_keys::Model) -> Result<(), DbErr> {
    let row = signing_keys::ActiveModel {
        kid: Set(key.kid),
        private_der: Set(key.private_der),
        public_key: Set(key.public_key),
        create_time: Set(key.create_time),
        retire_time: Set(key.retire_time),
    };
    signing_keys::Entity::insert(row)
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// Keys not retired, newest first: the first one signs.
pub async fn active_keys(db: &DatabaseConnection) -> Result<Vec<signing_keys::Model>, DbErr> {
    signing_keys::Entity::find()
        .filter(signing_keys::Column::RetireTime.is_null())
        .order_by(signing_keys::Column::CreateTime, Order::Desc)
        .all(db)
        .await
}

/// Keys that can still verify a live token: active ones, and retired ones
/// retired after `since`.
pub async fn published_keys(
    db: &DatabaseConnection,
    since: DateTime<Utc>,
) -> Result<Vec<signing_keys::Model>, DbErr> {
    signing_keys::Entity::find()
        .filter(
            Condition::any()
                .add(signing_keys::Column::RetireTime.is_null())
                .add(signing_keys::Column::RetireTime.gt(since)),
        )
        .order_by(signing_keys::Column::CreateTime, Order::Desc)
        .all(db)
        .await
}

/// Retires every active key except `keep`.
/// Stores `key` unless a key with its kid exists.
pub async fn insert_key_if_absent(
    db: &impl ConnectionTrait,
    key: signing_keys::Model,
) -> Result<(), DbErr> {
    let row = signing_keys::ActiveModel {
        kid: Set(key.kid),
        private_der: Set(key.private_der),
        public_key: Set(key.public_key),
        create_time: Set(key.create_time),
        retire_time: Set(None),
    };
    signing_keys::Entity::insert(row)
        .on_conflict(
            sea_orm::sea_query::OnConflict::column(signing_keys::Column::Kid)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// Makes a stored key active again (a configured key that was rotated away).
pub async fn activate_key(db: &impl ConnectionTrait, kid: &str) -> Result<(), DbErr> {
    signing_keys::Entity::update_many()
        .col_expr(
            signing_keys::Column::RetireTime,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .filter(signing_keys::Column::Kid.eq(kid))
        .exec(db)
        .await?;
    Ok(())
}

pub async fn retire_keys_except(db: &impl ConnectionTrait, keep: &str) -> Result<(), DbErr> {
    signing_keys::Entity::update_many()
        .col_expr(signing_keys::Column::RetireTime, Expr::value(now()))
        .filter(signing_keys::Column::RetireTime.is_null())
        .filter(signing_keys::Column::Kid.ne(keep))
        .exec(db)
        .await?;
    Ok(())
}

// ---- roles (per tenant) ----

pub async fn insert_role(
    db: &impl ConnectionTrait,
    tenant: &TenantId,
    name: &str,
    permissions: &str,
) -> Result<(), DbErr> {
    let row = roles::ActiveModel {
        tenant: Set(tenant.storage_key().to_owned()),
        name: Set(name.to_owned()),
        permissions: Set(permissions.to_owned()),
        create_time: Set(now()),
    };
    roles::Entity::insert(row)
        .exec_without_returning(db)
        .await?;
    Ok(())
}

pub async fn list_roles(
    db: &DatabaseConnection,
    tenant: &TenantId,
) -> Result<Vec<roles::Model>, DbErr> {
    roles::Entity::find()
        .filter(roles::Column::Tenant.eq(tenant.storage_key()))
        .order_by(roles::Column::Name, Order::Asc)
        .all(db)
        .await
}

pub async fn find_role(
    db: &impl ConnectionTrait,
    tenant: &TenantId,
    name: &str,
) -> Result<Option<roles::Model>, DbErr> {
    roles::Entity::find_by_id((tenant.storage_key().to_owned(), name.to_owned()))
        .one(db)
        .await
}

/// Deletes a role unless a binding uses it: `Ok(None)` when it does not
/// exist, `Ok(Some(false))` when it is in use.
pub async fn delete_unused_role(
    txn: &DatabaseTransaction,
    tenant: &TenantId,
    name: &str,
) -> Result<Option<bool>, DbErr> {
    if find_role(txn, tenant, name).await?.is_none() {
        return Ok(None);
    }
    let in_use = bindings::Entity::find()
        .filter(bindings::Column::Tenant.eq(tenant.storage_key()))
        .filter(bindings::Column::Role.eq(name))
        .count(txn)
        .await?;
    if in_use > 0 {
        return Ok(Some(false));
    }
    roles::Entity::delete_by_id((tenant.storage_key().to_owned(), name.to_owned()))
        .exec(txn)
        .await?;
    Ok(Some(true))
}

// ---- bindings (per tenant) ----

pub async fn insert_binding(
    db: &impl ConnectionTrait,
    tenant: &TenantId,
    binding: bindings::Model,
) -> Result<(), DbErr> {
    let row = bindings::ActiveModel {
        id: Set(binding.id),
        tenant: Set(tenant.storage_key().to_owned()),
        subject_type: Set(binding.subject_type),
        subject_id: Set(binding.subject_id),
        role: Set(binding.role),
        namespace: Set(binding.namespace),
        create_time: Set(binding.create_time),
    };
    bindings::Entity::insert(row)
        .exec_without_returning(db)
        .await?;
    Ok(())
}

pub async fn list_bindings(
    db: &DatabaseConnection,
    tenant: &TenantId,
) -> Result<Vec<bindings::Model>, DbErr> {
    bindings::Entity::find()
        .filter(bindings::Column::Tenant.eq(tenant.storage_key()))
        .order_by(bindings::Column::CreateTime, Order::Asc)
        .all(db)
        .await
}

/// A user's bindings in one tenant: its own and those of its groups there.
pub async fn user_bindings(
    db: &impl ConnectionTrait,
    tenant: &TenantId,
    user_id: &str,
) -> Result<Vec<bindings::Model>, DbErr> {
    let group_ids: Vec<String> = group_members::Entity::find()
        .select_only()
        .column(group_members::Column::GroupId)
        .filter(group_members::Column::Tenant.eq(tenant.storage_key()))
        .filter(group_members::Column::UserId.eq(user_id))
        .into_tuple()
        .all(db)
        .await?;
    bindings::Entity::find()
        .filter(bindings::Column::Tenant.eq(tenant.storage_key()))
        .filter(subjects_of(user_id, group_ids))
        .all(db)
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
    db: &impl ConnectionTrait,
    tenant: &TenantId,
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
        .filter(bindings::Column::Tenant.eq(tenant.storage_key()))
        .filter(bindings::Column::SubjectType.eq(subject_type))
        .filter(bindings::Column::SubjectId.eq(subject_id))
        .filter(bindings::Column::Role.eq(role))
        .filter(scope)
        .one(db)
        .await
}

/// One binding of `tenant` by id.
pub async fn find_binding_by_id(
    db: &impl ConnectionTrait,
    tenant: &TenantId,
    id: &str,
) -> Result<Option<bindings::Model>, DbErr> {
    bindings::Entity::find()
        .filter(bindings::Column::Tenant.eq(tenant.storage_key()))
        .filter(bindings::Column::Id.eq(id))
        .one(db)
        .await
}

pub async fn delete_binding(
    db: &impl ConnectionTrait,
    tenant: &TenantId,
    id: &str,
) -> Result<bool, DbErr> {
    let deleted = bindings::Entity::delete_many()
        .filter(bindings::Column::Tenant.eq(tenant.storage_key()))
        .filter(bindings::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(deleted.rows_affected > 0)
}

/// System scan named as such: the tenants in which one user holds any
/// binding, its own or through a group (for `/me` and tenant listing).
pub async fn tenants_of_user(
    db: &DatabaseConnection,
    user_id: &str,
) -> Result<Vec<TenantId>, DbErr> {
    let group_ids: Vec<String> = group_members::Entity::find()
        .select_only()
        .column(group_members::Column::GroupId)
        .filter(group_members::Column::UserId.eq(user_id))
        .into_tuple()
        .all(db)
        .await?;
    let keys: Vec<String> = bindings::Entity::find()
        .select_only()
        .column(bindings::Column::Tenant)
        .distinct()
        .filter(subjects_of(user_id, group_ids))
        .into_tuple()
        .all(db)
        .await?;
    Ok(keys
        .iter()
        .filter_map(|key| TenantId::from_storage_key(key).ok())
        .collect())
}

// ---- groups (per tenant) ----

pub async fn insert_group(
    db: &impl ConnectionTrait,
    tenant: &TenantId,
    name: &str,
) -> Result<groups::Model, DbErr> {
    let group = groups::Model {
        id: uuid::Uuid::new_v4().to_string(),
        tenant: tenant.storage_key().to_owned(),
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
        .exec_without_returning(db)
        .await?;
    Ok(group)
}

pub async fn find_group(
    db: &impl ConnectionTrait,
    tenant: &TenantId,
    name: &str,
) -> Result<Option<groups::Model>, DbErr> {
    groups::Entity::find()
        .filter(groups::Column::Tenant.eq(tenant.storage_key()))
        .filter(groups::Column::Name.eq(name))
        .one(db)
        .await
}

pub async fn find_group_by_id(
    db: &impl ConnectionTrait,
    tenant: &TenantId,
    id: &str,
) -> Result<Option<groups::Model>, DbErr> {
    groups::Entity::find()
        .filter(groups::Column::Tenant.eq(tenant.storage_key()))
        .filter(groups::Column::Id.eq(id))
        .one(db)
        .await
}

pub async fn list_groups(
    db: &DatabaseConnection,
    tenant: &TenantId,
) -> Result<Vec<groups::Model>, DbErr> {
    groups::Entity::find()
        .filter(groups::Column::Tenant.eq(tenant.storage_key()))
        .order_by(groups::Column::Name, Order::Asc)
        .all(db)
        .await
}

/// Deletes a group with its members and bindings, in one transaction.
pub async fn delete_group(
    txn: &DatabaseTransaction,
    tenant: &TenantId,
    name: &str,
) -> Result<bool, DbErr> {
    let Some(group) = find_group(txn, tenant, name).await? else {
        return Ok(false);
    };
    group_members::Entity::delete_many()
        .filter(group_members::Column::Tenant.eq(tenant.storage_key()))
        .filter(group_members::Column::GroupId.eq(&group.id))
        .exec(txn)
        .await?;
    bindings::Entity::delete_many()
        .filter(bindings::Column::Tenant.eq(tenant.storage_key()))
        .filter(bindings::Column::SubjectType.eq("GROUP"))
        .filter(bindings::Column::SubjectId.eq(&group.id))
        .exec(txn)
        .await?;
    groups::Entity::delete_by_id(group.id).exec(txn).await?;
    Ok(true)
}

/// Adds a member; adding an existing member changes nothing.
pub async fn add_member(
    db: &impl ConnectionTrait,
    tenant: &TenantId,
    group_id: &str,
    user_id: &str,
) -> Result<(), DbErr> {
    let row = group_members::ActiveModel {
        tenant: Set(tenant.storage_key().to_owned()),
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
        .exec_without_returning(db)
        .await?;
    Ok(())
}

pub async fn remove_member(
    db: &impl ConnectionTrait,
    tenant: &TenantId,
    group_id: &str,
    user_id: &str,
) -> Result<bool, DbErr> {
    let deleted = group_members::Entity::delete_many()
        .filter(group_members::Column::Tenant.eq(tenant.storage_key()))
        .filter(group_members::Column::GroupId.eq(group_id))
        .filter(group_members::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    Ok(deleted.rows_affected > 0)
}

/// The usernames of a group's members.
pub async fn member_names(
    db: &DatabaseConnection,
    tenant: &TenantId,
    group_id: &str,
) -> Result<Vec<String>, DbErr> {
    let ids: Vec<String> = group_members::Entity::find()
        .select_only()
        .column(group_members::Column::UserId)
        .filter(group_members::Column::Tenant.eq(tenant.storage_key()))
        .filter(group_members::Column::GroupId.eq(group_id))
        .into_tuple()
        .all(db)
        .await?;
    users::Entity::find()
        .select_only()
        .column(users::Column::Username)
        .filter(users::Column::Id.is_in(ids))
        .order_by(users::Column::Username, Order::Asc)
        .into_tuple()
        .all(db)
        .await
}

// ---- audit log (per tenant) ----

pub mod audit_logs {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "audit_logs")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub tenant: String,
        pub resource_type: String,
        pub resource_id: String,
        pub action: String,
        pub actor: String,
        pub time: ChronoDateTimeUtc,
        pub details: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Stores an entry unless its id is already stored; true when new.
pub async fn insert_audit(
    db: &impl ConnectionTrait,
    tenant: &TenantId,
    entry: audit_logs::Model,
) -> Result<bool, DbErr> {
    let row = audit_logs::ActiveModel {
        id: Set(entry.id),
        tenant: Set(tenant.storage_key().to_owned()),
        resource_type: Set(entry.resource_type),
        resource_id: Set(entry.resource_id),
        action: Set(entry.action),
        actor: Set(entry.actor),
        time: Set(entry.time),
        details: Set(entry.details),
    };
    let insert = audit_logs::Entity::insert(row)
        .on_conflict(
            sea_orm::sea_query::OnConflict::column(audit_logs::Column::Id)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(insert > 0)
}

/// One page of a tenant's entries, newest first, optionally filtered.
pub async fn search_audit(
    db: &DatabaseConnection,
    tenant: &TenantId,
    resource_type: Option<&str>,
    resource_id: Option<&str>,
    page: PageRequest,
) -> Result<(Vec<audit_logs::Model>, u64), DbErr> {
    let mut query =
        audit_logs::Entity::find().filter(audit_logs::Column::Tenant.eq(tenant.storage_key()));
    if let Some(kind) = resource_type {
        query = query.filter(audit_logs::Column::ResourceType.eq(kind));
    }
    if let Some(id) = resource_id {
        query = query.filter(audit_logs::Column::ResourceId.eq(id));
    }
    let total = query.clone().count(db).await?;
    let rows = query
        .order_by(audit_logs::Column::Time, Order::Desc)
        .order_by(audit_logs::Column::Id, Order::Desc)
        .offset(page.offset())
        .limit(u64::from(page.size))
        .all(db)
        .await?;
    Ok((rows, total))
}

/// Writes one of auth-svc's own entries; call it inside the mutation's transaction.
pub async fn record(
    db: &impl ConnectionTrait,
    entry: aerie_common::audit::AuditEntry,
) -> Result<(), DbErr> {
    let tenant = entry.tenant.clone();
    let row = audit_logs::Model {
        id: uuid::Uuid::new_v4().to_string(),
        tenant: tenant.storage_key().to_owned(),
        resource_type: entry.resource_type.to_owned(),
        resource_id: entry.resource_id,
        action: entry.action.to_owned(),
        actor: entry.actor,
        time: now(),
        details: entry.details.to_string(),
    };
    insert_audit(db, &tenant, row).await?;
    Ok(())
}

// ---- service accounts and API tokens (per tenant) ----

pub mod service_accounts {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "service_accounts")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub tenant: String,
        pub name: String,
        pub super_admin: bool,
        pub create_time: ChronoDateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod api_tokens {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "api_tokens")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub tenant: String,
        pub service_account_id: String,
        pub name: String,
        pub prefix: String,
        /// SHA-256 of the token, hex.
        pub hash: String,
        pub create_time: ChronoDateTimeUtc,
        pub expire_time: Option<ChronoDateTimeUtc>,
        pub revoked: bool,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub async fn insert_service_account(
    db: &impl ConnectionTrait,
    tenant: &TenantId,
    name: &str,
    super_admin: bool,
) -> Result<service_accounts::Model, DbErr> {
    let account = service_accounts::Model {
        id: uuid::Uuid::new_v4().to_string(),
        tenant: tenant.storage_key().to_owned(),
        name: name.to_owned(),
        super_admin,
        create_time: now(),
    };
    let row = service_accounts::ActiveModel {
        id: Set(account.id.clone()),
        tenant: Set(account.tenant.clone()),
        name: Set(account.name.clone()),
        super_admin: Set(super_admin),
        create_time: Set(account.create_time),
    };
    service_accounts::Entity::insert(row)
        .exec_without_returning(db)
        .await?;
    Ok(account)
}

pub async fn find_service_account(
    db: &impl ConnectionTrait,
    tenant: &TenantId,
    name: &str,
) -> Result<Option<service_accounts::Model>, DbErr> {
    service_accounts::Entity::find()
        .filter(service_accounts::Column::Tenant.eq(tenant.storage_key()))
        .filter(service_accounts::Column::Name.eq(name))
        .one(db)
        .await
}

/// A service account by id; the row carries its tenant.
pub async fn find_service_account_by_id(
    db: &impl ConnectionTrait,
    id: &str,
) -> Result<Option<service_accounts::Model>, DbErr> {
    service_accounts::Entity::find_by_id(id).one(db).await
}

pub async fn list_service_accounts(
    db: &DatabaseConnection,
    tenant: &TenantId,
) -> Result<Vec<service_accounts::Model>, DbErr> {
    service_accounts::Entity::find()
        .filter(service_accounts::Column::Tenant.eq(tenant.storage_key()))
        .order_by(service_accounts::Column::Name, Order::Asc)
        .all(db)
        .await
}

/// Deletes a service account with its tokens and bindings.
pub async fn delete_service_account(
    txn: &DatabaseTransaction,
    tenant: &TenantId,
    name: &str,
) -> Result<bool, DbErr> {
    let Some(account) = find_service_account(txn, tenant, name).await? else {
        return Ok(false);
    };
    api_tokens::Entity::delete_many()
        .filter(api_tokens::Column::Tenant.eq(tenant.storage_key()))
        .filter(api_tokens::Column::ServiceAccountId.eq(&account.id))
        .exec(txn)
        .await?;
    bindings::Entity::delete_many()
        .filter(bindings::Column::Tenant.eq(tenant.storage_key()))
        .filter(bindings::Column::SubjectType.eq("SERVICE_ACCOUNT"))
        .filter(bindings::Column::SubjectId.eq(&account.id))
        .exec(txn)
        .await?;
    service_accounts::Entity::delete_by_id(account.id)
        .exec(txn)
        .await?;
    Ok(true)
}

/// A service account's bindings in one tenant.
pub async fn service_account_bindings(
    db: &impl ConnectionTrait,
    tenant: &TenantId,
    account_id: &str,
) -> Result<Vec<bindings::Model>, DbErr> {
    bindings::Entity::find()
        .filter(bindings::Column::Tenant.eq(tenant.storage_key()))
        .filter(bindings::Column::SubjectType.eq("SERVICE_ACCOUNT"))
        .filter(bindings::Column::SubjectId.eq(account_id))
        .all(db)
        .await
}

pub async fn insert_api_token(
    db: &impl ConnectionTrait,
    tenant: &TenantId,
    token: api_tokens::Model,
) -> Result<(), DbErr> {
    let row = api_tokens::ActiveModel {
        id: Set(token.id),
        tenant: Set(tenant.storage_key().to_owned()),
        service_account_id: Set(token.service_account_id),
        name: Set(token.name),
        prefix: Set(token.prefix),
        hash: Set(token.hash),
        create_time: Set(token.create_time),
        expire_time: Set(token.expire_time),
        revoked: Set(false),
    };
    api_tokens::Entity::insert(row)
        .exec_without_returning(db)
        .await?;
    Ok(())
}

pub async fn list_api_tokens(
    db: &DatabaseConnection,
    tenant: &TenantId,
    account_id: &str,
) -> Result<Vec<api_tokens::Model>, DbErr> {
    api_tokens::Entity::find()
        .filter(api_tokens::Column::Tenant.eq(tenant.storage_key()))
        .filter(api_tokens::Column::ServiceAccountId.eq(account_id))
        .order_by(api_tokens::Column::CreateTime, Order::Asc)
        .all(db)
        .await
}

/// Marks a token revoked; `None` when the account has no such token.
pub async fn revoke_api_token(
    db: &impl ConnectionTrait,
    tenant: &TenantId,
    account_id: &str,
    id: &str,
) -> Result<Option<api_tokens::Model>, DbErr> {
    let updated = api_tokens::Entity::update_many()
        .col_expr(api_tokens::Column::Revoked, Expr::value(true))
        .filter(api_tokens::Column::Tenant.eq(tenant.storage_key()))
        .filter(api_tokens::Column::ServiceAccountId.eq(account_id))
        .filter(api_tokens::Column::Id.eq(id))
        .exec(db)
        .await?;
    if updated.rows_affected == 0 {
        return Ok(None);
    }
    api_tokens::Entity::find_by_id(id).one(db).await
}

/// System lookup named as such: the token with this hash, whatever its
/// tenant (the row carries it).
pub async fn find_api_token_by_hash(
    db: &DatabaseConnection,
    hash: &str,
) -> Result<Option<api_tokens::Model>, DbErr> {
    api_tokens::Entity::find()
        .filter(api_tokens::Column::Hash.eq(hash))
        .one(db)
        .await
}
