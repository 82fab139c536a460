//! Per-namespace stores: sealed secrets and typed KV entries. Writes are
//! upserts: whether the key existed decides CREATE or UPDATE permission.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, DbErr, EntityTrait, QueryFilter, QueryOrder,
};

use super::entities::{kv_entries, namespace_settings, secrets};
use super::{TenantTxn, now};

fn secret_at(tx: &TenantTxn, namespace: &str, key: &str) -> Condition {
    Condition::all()
        .add(secrets::Column::TenantId.eq(tx.tenant_key()))
        .add(secrets::Column::Namespace.eq(namespace))
        .add(secrets::Column::Key.eq(key))
}

fn kv_at(tx: &TenantTxn, namespace: &str, key: &str) -> Condition {
    Condition::all()
        .add(kv_entries::Column::TenantId.eq(tx.tenant_key()))
        .add(kv_entries::Column::Namespace.eq(namespace))
        .add(kv_entries::Column::Key.eq(key))
}

/// Whether the secret exists.
pub async fn secret_exists(tx: &TenantTxn, namespace: &str, key: &str) -> Result<bool, DbErr> {
    Ok(secrets::Entity::find()
        .filter(secret_at(tx, namespace, key))
        .one(tx.conn())
        .await?
        .is_some())
}

/// Creates or replaces a sealed secret; returns its update time.
pub async fn put_secret(
    tx: &TenantTxn,
    namespace: &str,
    key: &str,
    sealed: Vec<u8>,
) -> Result<DateTime<Utc>, DbErr> {
    let time = now();
    secrets::Entity::insert(secrets::ActiveModel {
        tenant_id: Set(tx.tenant_key().to_owned()),
        namespace: Set(namespace.to_owned()),
        key: Set(key.to_owned()),
        sealed: Set(sealed),
        update_time: Set(time),
    })
    .on_conflict(
        OnConflict::columns([
            secrets::Column::TenantId,
            secrets::Column::Namespace,
            secrets::Column::Key,
        ])
        .update_columns([secrets::Column::Sealed, secrets::Column::UpdateTime])
        .to_owned(),
    )
    .exec_without_returning(tx.conn())
    .await?;
    Ok(time)
}

/// The secrets of one namespace (sealed values included: callers list keys).
pub async fn secrets_in(tx: &TenantTxn, namespace: &str) -> Result<Vec<secrets::Model>, DbErr> {
    secrets::Entity::find()
        .filter(secrets::Column::TenantId.eq(tx.tenant_key()))
        .filter(secrets::Column::Namespace.eq(namespace))
        .order_by_asc(secrets::Column::Key)
        .all(tx.conn())
        .await
}

/// Deletes a secret; false when there was none.
pub async fn delete_secret(tx: &TenantTxn, namespace: &str, key: &str) -> Result<bool, DbErr> {
    let deleted = secrets::Entity::delete_many()
        .filter(secret_at(tx, namespace, key))
        .exec(tx.conn())
        .await?;
    Ok(deleted.rows_affected > 0)
}

/// The secret `key` in the nearest of `namespaces` (nearest first).
pub async fn nearest_secret(
    tx: &TenantTxn,
    namespaces: &[String],
    key: &str,
) -> Result<Option<secrets::Model>, DbErr> {
    let mut found = secrets::Entity::find()
        .filter(secrets::Column::TenantId.eq(tx.tenant_key()))
        .filter(secrets::Column::Key.eq(key))
        .filter(secrets::Column::Namespace.is_in(namespaces.iter().cloned()))
        .all(tx.conn())
        .await?;
    found.sort_by_key(|row| namespaces.iter().position(|n| *n == row.namespace));
    Ok(found.into_iter().next())
}

/// The KV entry if it exists and has not expired.
pub async fn live_kv(
    tx: &TenantTxn,
    namespace: &str,
    key: &str,
) -> Result<Option<kv_entries::Model>, DbErr> {
    Ok(kv_entries::Entity::find()
        .filter(kv_at(tx, namespace, key))
        .one(tx.conn())
        .await?
        .filter(|row| row.expire_time.is_none_or(|t| t > Utc::now())))
}

/// A KV value to store.
pub struct KvWrite<'a> {
    pub kind: &'a str,
    pub value_json: String,
    pub expire_time: Option<DateTime<Utc>>,
}

/// Creates or replaces a KV entry.
pub async fn put_kv(
    tx: &TenantTxn,
    namespace: &str,
    key: &str,
    write: KvWrite<'_>,
) -> Result<kv_entries::Model, DbErr> {
    let row = kv_entries::Model {
        tenant_id: tx.tenant_key().to_owned(),
        namespace: namespace.to_owned(),
        key: key.to_owned(),
        kind: write.kind.to_owned(),
        value_json: write.value_json,
        expire_time: write.expire_time,
        update_time: now(),
    };
    kv_entries::Entity::insert(kv_entries::ActiveModel {
        tenant_id: Set(row.tenant_id.clone()),
        namespace: Set(row.namespace.clone()),
        key: Set(row.key.clone()),
        kind: Set(row.kind.clone()),
        value_json: Set(row.value_json.clone()),
        expire_time: Set(row.expire_time),
        update_time: Set(row.update_time),
    })
    .on_conflict(
        OnConflict::columns([
            kv_entries::Column::TenantId,
            kv_entries::Column::Namespace,
            kv_entries::Column::Key,
        ])
        .update_columns([
            kv_entries::Column::Kind,
            kv_entries::Column::ValueJson,
            kv_entries::Column::ExpireTime,
            kv_entries::Column::UpdateTime,
        ])
        .to_owned(),
    )
    .exec_without_returning(tx.conn())
    .await?;
    Ok(row)
}

/// The live KV entries of one namespace.
pub async fn kv_in(tx: &TenantTxn, namespace: &str) -> Result<Vec<kv_entries::Model>, DbErr> {
    kv_entries::Entity::find()
        .filter(kv_entries::Column::TenantId.eq(tx.tenant_key()))
        .filter(kv_entries::Column::Namespace.eq(namespace))
        .filter(
            Condition::any()
                .add(kv_entries::Column::ExpireTime.is_null())
                .add(Expr::col(kv_entries::Column::ExpireTime).gt(now())),
        )
        .order_by_asc(kv_entries::Column::Key)
        .all(tx.conn())
        .await
}

/// Deletes a live KV entry (an expired one counts as gone); false when none.
pub async fn delete_kv(tx: &TenantTxn, namespace: &str, key: &str) -> Result<bool, DbErr> {
    let live = live_kv(tx, namespace, key).await?.is_some();
    kv_entries::Entity::delete_many()
        .filter(kv_at(tx, namespace, key))
        .exec(tx.conn())
        .await?;
    Ok(live)
}

/// The namespaces `namespace` allows to reach it (none when never set).
pub async fn allowed_namespaces(tx: &TenantTxn, namespace: &str) -> Result<Vec<String>, DbErr> {
    let row = namespace_settings::Entity::find()
        .filter(namespace_settings::Column::TenantId.eq(tx.tenant_key()))
        .filter(namespace_settings::Column::Namespace.eq(namespace))
        .one(tx.conn())
        .await?;
    Ok(row
        .and_then(|row| serde_json::from_str(&row.allowed_namespaces).ok())
        .unwrap_or_default())
}

/// Replaces the namespaces `namespace` allows.
pub async fn put_allowed_namespaces(
    tx: &TenantTxn,
    namespace: &str,
    allowed: &[String],
) -> Result<(), DbErr> {
    let json = serde_json::to_string(allowed).map_err(|e| DbErr::Custom(e.to_string()))?;
    namespace_settings::Entity::insert(namespace_settings::ActiveModel {
        tenant_id: Set(tx.tenant_key().to_owned()),
        namespace: Set(namespace.to_owned()),
        allowed_namespaces: Set(json),
        update_time: Set(now()),
    })
    .on_conflict(
        OnConflict::columns([
            namespace_settings::Column::TenantId,
            namespace_settings::Column::Namespace,
        ])
        .update_columns([
            namespace_settings::Column::AllowedNamespaces,
            namespace_settings::Column::UpdateTime,
        ])
        .to_owned(),
    )
    .exec_without_returning(tx.conn())
    .await?;
    Ok(())
}
