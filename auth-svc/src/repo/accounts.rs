//! Service accounts and their API tokens: per tenant, except the named
//! system scans that find an account or a token before its tenant is known.

use aerie_common::auth::PrincipalKind;
use aerie_common::db::{SystemScan, TenantTxn};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, DbErr, EntityTrait, Order, QueryFilter, QueryOrder};

use super::entities::{api_tokens, bindings, service_accounts};
use super::now;

// ---- service accounts and API tokens (per tenant) ----

pub async fn insert_service_account(
    tx: &TenantTxn,
    name: &str,
    super_admin: bool,
) -> Result<service_accounts::Model, DbErr> {
    let account = service_accounts::Model {
        id: uuid::Uuid::new_v4().to_string(),
        tenant: tx.tenant_key().to_owned(),
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
        .exec_without_returning(tx.conn())
        .await?;
    Ok(account)
}

pub async fn find_service_account(
    tx: &TenantTxn,
    name: &str,
) -> Result<Option<service_accounts::Model>, DbErr> {
    service_accounts::Entity::find()
        .filter(service_accounts::Column::Tenant.eq(tx.tenant_key()))
        .filter(service_accounts::Column::Name.eq(name))
        .one(tx.conn())
        .await
}

/// A service account by id; the row carries its tenant.
/// A service account of this tenant by id.
pub async fn find_service_account_by_id(
    tx: &TenantTxn,
    id: &str,
) -> Result<Option<service_accounts::Model>, DbErr> {
    service_accounts::Entity::find()
        .filter(service_accounts::Column::Tenant.eq(tx.tenant_key()))
        .filter(service_accounts::Column::Id.eq(id))
        .one(tx.conn())
        .await
}

/// System scan named as such: a service account by id, whatever its
/// tenant (a caller's account, before its tenant is known); the row
/// carries its tenant.
pub async fn find_service_account_anywhere(
    scan: &SystemScan,
    id: &str,
) -> Result<Option<service_accounts::Model>, DbErr> {
    service_accounts::Entity::find_by_id(id)
        .one(scan.conn())
        .await
}

pub async fn list_service_accounts(tx: &TenantTxn) -> Result<Vec<service_accounts::Model>, DbErr> {
    service_accounts::Entity::find()
        .filter(service_accounts::Column::Tenant.eq(tx.tenant_key()))
        .order_by(service_accounts::Column::Name, Order::Asc)
        .all(tx.conn())
        .await
}

/// Deletes a service account with its tokens and bindings.
pub async fn delete_service_account(tx: &TenantTxn, name: &str) -> Result<bool, DbErr> {
    let Some(account) = find_service_account(tx, name).await? else {
        return Ok(false);
    };
    api_tokens::Entity::delete_many()
        .filter(api_tokens::Column::Tenant.eq(tx.tenant_key()))
        .filter(api_tokens::Column::ServiceAccountId.eq(&account.id))
        .exec(tx.conn())
        .await?;
    bindings::Entity::delete_many()
        .filter(bindings::Column::Tenant.eq(tx.tenant_key()))
        .filter(bindings::Column::SubjectType.eq("SERVICE_ACCOUNT"))
        .filter(bindings::Column::SubjectId.eq(&account.id))
        .exec(tx.conn())
        .await?;
    service_accounts::Entity::delete_by_id(&account.id)
        .exec(tx.conn())
        .await?;
    super::principal_changed(tx.conn(), PrincipalKind::ServiceAccount, &account.id).await?;
    Ok(true)
}

/// A service account's bindings in one tenant.
pub async fn service_account_bindings(
    tx: &TenantTxn,
    account_id: &str,
) -> Result<Vec<bindings::Model>, DbErr> {
    bindings::Entity::find()
        .filter(bindings::Column::Tenant.eq(tx.tenant_key()))
        .filter(bindings::Column::SubjectType.eq("SERVICE_ACCOUNT"))
        .filter(bindings::Column::SubjectId.eq(account_id))
        .all(tx.conn())
        .await
}

pub async fn insert_api_token(tx: &TenantTxn, token: api_tokens::Model) -> Result<(), DbErr> {
    let row = api_tokens::ActiveModel {
        id: Set(token.id),
        tenant: Set(tx.tenant_key().to_owned()),
        service_account_id: Set(token.service_account_id),
        name: Set(token.name),
        prefix: Set(token.prefix),
        hash: Set(token.hash),
        create_time: Set(token.create_time),
        expire_time: Set(token.expire_time),
        revoked: Set(false),
    };
    api_tokens::Entity::insert(row)
        .exec_without_returning(tx.conn())
        .await?;
    Ok(())
}

pub async fn list_api_tokens(
    tx: &TenantTxn,
    account_id: &str,
) -> Result<Vec<api_tokens::Model>, DbErr> {
    api_tokens::Entity::find()
        .filter(api_tokens::Column::Tenant.eq(tx.tenant_key()))
        .filter(api_tokens::Column::ServiceAccountId.eq(account_id))
        .order_by(api_tokens::Column::CreateTime, Order::Asc)
        .all(tx.conn())
        .await
}

/// Marks a token revoked; `None` when the account has no such token.
pub async fn revoke_api_token(
    tx: &TenantTxn,
    account_id: &str,
    id: &str,
) -> Result<Option<api_tokens::Model>, DbErr> {
    let updated = api_tokens::Entity::update_many()
        .col_expr(api_tokens::Column::Revoked, Expr::value(true))
        .filter(api_tokens::Column::Tenant.eq(tx.tenant_key()))
        .filter(api_tokens::Column::ServiceAccountId.eq(account_id))
        .filter(api_tokens::Column::Id.eq(id))
        .exec(tx.conn())
        .await?;
    if updated.rows_affected == 0 {
        return Ok(None);
    }
    super::principal_changed(tx.conn(), PrincipalKind::ServiceAccount, account_id).await?;
    api_tokens::Entity::find_by_id(id).one(tx.conn()).await
}

/// System lookup named as such: the token with this hash, whatever its
/// tenant (the row carries it).
pub async fn find_api_token_by_hash(
    scan: &SystemScan,
    hash: &str,
) -> Result<Option<api_tokens::Model>, DbErr> {
    api_tokens::Entity::find()
        .filter(api_tokens::Column::Hash.eq(hash))
        .one(scan.conn())
        .await
}
