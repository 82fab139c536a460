//! `aerie.flow.v1.KvService`.

use aerie_common::ServiceError;
use aerie_common::auth::{Action, Grant, Permission};
use aerie_proto::flow::v1 as pb;
use aerie_proto::flow::v1::kv_service_server::KvService;
use chrono::Utc;
use tonic::{Request, Response, Status};

use super::{FlowApi, timestamp};
use crate::domain::duration::parse_iso_duration;
use crate::domain::kv::typed_value;
use crate::domain::{EntryKey, MAX_KV_BYTES, Namespace};
use crate::repo::entities::kv_entries;
use crate::repo::stores::{self, KvWrite};

pub(super) fn not_found(namespace: &Namespace, key: &EntryKey) -> String {
    format!("KV entry {key} not found in namespace {namespace}")
}

/// A checked KV write: where, and the typed value with its expiry.
pub(super) struct KvEntryWrite {
    pub namespace: Namespace,
    pub key: EntryKey,
    kind: &'static str,
    value: serde_json::Value,
    expire_time: Option<chrono::DateTime<Utc>>,
}

impl KvEntryWrite {
    pub fn parse(body: &pb::PutKvRequest) -> Result<KvEntryWrite, Status> {
        let namespace = Namespace::parse(&body.namespace)?;
        let key = EntryKey::parse("KV key", &body.key)?;
        if body.value_json.len() > MAX_KV_BYTES {
            return Err(Status::invalid_argument(format!(
                "a KV value is at most {MAX_KV_BYTES} bytes"
            )));
        }
        let typed = typed_value(&body.value_json, &body.r#type)?;
        let expire_time = if body.ttl.is_empty() {
            None
        } else {
            let ttl = parse_iso_duration(&body.ttl)
                .filter(|d| !d.is_zero())
                .and_then(|d| chrono::Duration::from_std(d).ok())
                .ok_or_else(|| {
                    Status::invalid_argument(format!(
                        "ttl '{}' must be a positive ISO-8601 duration such as PT1H or P7D",
                        crate::domain::shorten(&body.ttl)
                    ))
                })?;
            Some(Utc::now() + ttl)
        };
        Ok(KvEntryWrite {
            namespace,
            key,
            kind: typed.kind,
            value: typed.value,
            expire_time,
        })
    }
}

impl FlowApi {
    /// Stores a checked entry and audits it as `actor`'s. Without
    /// `overwrite`, a live entry already there is FAILED_PRECONDITION.
    pub(super) async fn store_kv(
        &self,
        tenant: &aerie_common::TenantId,
        actor: &str,
        entry: KvEntryWrite,
        overwrite: bool,
    ) -> Result<kv_entries::Model, Status> {
        let tx = self.write(tenant).await?;
        let (namespace, key) = (&entry.namespace, &entry.key);
        let existing = stores::live_kv(&tx, namespace.as_str(), key.as_str())
            .await
            .map_err(ServiceError::from)?;
        if existing.is_some() && !overwrite {
            return Err(Status::failed_precondition(format!(
                "KV entry {key} already exists in namespace {namespace}"
            )));
        }
        let action = if existing.is_some() {
            "UPDATE"
        } else {
            "CREATE"
        };
        let write = KvWrite {
            kind: entry.kind,
            value_json: entry.value.to_string(),
            expire_time: entry.expire_time,
        };
        let row = stores::put_kv(&tx, namespace.as_str(), key.as_str(), write)
            .await
            .map_err(ServiceError::from)?;
        self.audit_entry(&tx, actor, "KVSTORE", namespace, key, action)
            .await?;
        tx.commit().await.map_err(ServiceError::from)?;
        Ok(row)
    }
}

pub(super) fn entry_message(row: kv_entries::Model, with_value: bool) -> pb::KvEntry {
    pb::KvEntry {
        namespace: row.namespace,
        key: row.key,
        r#type: row.kind,
        value_json: if with_value {
            row.value_json
        } else {
            String::new()
        },
        expiration_date: row.expire_time.and_then(timestamp),
        update_time: timestamp(row.update_time),
    }
}

#[tonic::async_trait]
impl KvService for FlowApi {
    async fn put_kv(
        &self,
        request: Request<pb::PutKvRequest>,
    ) -> Result<Response<pb::KvEntry>, Status> {
        let call = self.guard.call(&request).await?;
        let body = request.into_inner();
        let entry = KvEntryWrite::parse(&body)?;
        let exists = {
            let tx = self.read(&call.tenant).await?;
            stores::live_kv(&tx, entry.namespace.as_str(), entry.key.as_str())
                .await
                .map_err(ServiceError::from)?
                .is_some()
        };
        let action = if exists {
            Action::Update
        } else {
            Action::Create
        };
        let namespace = &entry.namespace;
        self.guard
            .authorize(
                &call,
                Grant(Permission::Kvstore, action),
                namespace.as_str(),
                || format!("namespace {namespace} not found"),
            )
            .await?;
        let row = self
            .store_kv(&call.tenant, &call.caller.name, entry, true)
            .await?;
        Ok(Response::new(entry_message(row, true)))
    }

    async fn get_kv(
        &self,
        request: Request<pb::GetKvRequest>,
    ) -> Result<Response<pb::KvEntry>, Status> {
        let call = self.guard.call(&request).await?;
        let body = request.into_inner();
        let namespace = Namespace::parse(&body.namespace)?;
        let key = EntryKey::parse("KV key", &body.key)?;
        self.guard
            .authorize(
                &call,
                Grant(Permission::Kvstore, Action::Read),
                namespace.as_str(),
                || not_found(&namespace, &key),
            )
            .await?;
        let tx = self.read(&call.tenant).await?;
        let row = stores::live_kv(&tx, namespace.as_str(), key.as_str())
            .await
            .map_err(ServiceError::from)?
            .ok_or_else(|| Status::not_found(not_found(&namespace, &key)))?;
        Ok(Response::new(entry_message(row, true)))
    }

    async fn list_kv(
        &self,
        request: Request<pb::ListKvRequest>,
    ) -> Result<Response<pb::ListKvResponse>, Status> {
        let call = self.guard.call(&request).await?;
        let namespace = Namespace::parse(&request.into_inner().namespace)?;
        self.guard
            .authorize(
                &call,
                Grant(Permission::Kvstore, Action::Read),
                namespace.as_str(),
                || format!("namespace {namespace} not found"),
            )
            .await?;
        let tx = self.read(&call.tenant).await?;
        let rows = stores::kv_in(&tx, namespace.as_str())
            .await
            .map_err(ServiceError::from)?;
        Ok(Response::new(pb::ListKvResponse {
            entries: rows
                .into_iter()
                .map(|row| entry_message(row, false))
                .collect(),
        }))
    }

    async fn delete_kv(
        &self,
        request: Request<pb::DeleteKvRequest>,
    ) -> Result<Response<pb::DeleteKvResponse>, Status> {
        let call = self.guard.call(&request).await?;
        let body = request.into_inner();
        let namespace = Namespace::parse(&body.namespace)?;
        let key = EntryKey::parse("KV key", &body.key)?;
        self.guard
            .authorize(
                &call,
                Grant(Permission::Kvstore, Action::Delete),
                namespace.as_str(),
                || not_found(&namespace, &key),
            )
            .await?;
        let tx = self.write(&call.tenant).await?;
        if !stores::delete_kv(&tx, namespace.as_str(), key.as_str())
            .await
            .map_err(ServiceError::from)?
        {
            return Err(Status::not_found(not_found(&namespace, &key)));
        }
        self.audit_entry(
            &tx,
            &call.caller.name,
            "KVSTORE",
            &namespace,
            &key,
            "DELETE",
        )
        .await?;
        tx.commit().await.map_err(ServiceError::from)?;
        Ok(Response::new(pb::DeleteKvResponse {}))
    }
}
