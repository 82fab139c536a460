//! Instance-level tables: users and signing keys (no tenant, no RLS).

use aerie_common::auth::PrincipalKind;
use aerie_common::db::SystemScan;
use aerie_common::paging::PageRequest;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbErr,
    EntityTrait, Order, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};

use super::entities::{bindings, group_members, revoked_tokens, signing_keys, users};
use super::now;

// ---- revoked access tokens (instance level) ----

/// Records an access token as ended, dropping the rows of tokens that have
/// expired anyway (so the table holds at most a token lifetime of them).
pub async fn revoke_token(
    db: &impl ConnectionTrait,
    jti: &str,
    user_id: &str,
    expire_time: DateTime<Utc>,
) -> Result<(), DbErr> {
    revoked_tokens::Entity::delete_many()
        .filter(revoked_tokens::Column::ExpireTime.lt(now() - chrono::Duration::minutes(5)))
        .exec(db)
        .await?;
    let row = revoked_tokens::ActiveModel {
        jti: Set(jti.to_owned()),
        user_id: Set(user_id.to_owned()),
        expire_time: Set(expire_time),
    };
    revoked_tokens::Entity::insert(row)
        .on_conflict(
            sea_orm::sea_query::OnConflict::column(revoked_tokens::Column::Jti)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// Whether the access token `jti` was ended.
pub async fn is_token_revoked(db: &impl ConnectionTrait, jti: &str) -> Result<bool, DbErr> {
    Ok(revoked_tokens::Entity::find_by_id(jti.to_owned())
        .one(db)
        .await?
        .is_some())
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
    super::principal_changed(db, PrincipalKind::User, id).await?;
    Ok(())
}

/// Deletes a user and, in the same transaction, every binding naming it
/// and every group membership, in every tenant (a system scan).
pub async fn delete_user(scan: &SystemScan, id: &str) -> Result<bool, DbErr> {
    group_members::Entity::delete_many()
        .filter(group_members::Column::UserId.eq(id))
        .exec(scan.conn())
        .await?;
    bindings::Entity::delete_many()
        .filter(bindings::Column::SubjectType.eq("USER"))
        .filter(bindings::Column::SubjectId.eq(id))
        .exec(scan.conn())
        .await?;
    let deleted = users::Entity::delete_by_id(id).exec(scan.conn()).await?;
    super::principal_changed(scan.conn(), PrincipalKind::User, id).await?;
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
