//! `aerie.flow.v1.KvService`.

use aerie_common::ServiceError;
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

fn not_found(namespace: &Namespace, key: &EntryKey) -> String {
    format!("KV entry {key} not found in namespace {namespace}")
}

fn entry_message(row: kv_entries::Model, with_value: bool) -> pb::KvEntry {
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
        let call = self.call(&request).await?;
        let body = request.into_inner();
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
        let exists = {
            let tx = self.read(&call.tenant).await?;
            stores::live_kv(&tx, namespace.as_str(), key.as_str())
                .await
                .map_err(ServiceError::from)?
                .is_some()
        };
        let action = if exists { "UPDATE" } else { "CREATE" };
        self.authorize(&call, "KVSTORE", action, namespace.as_str(), || {
            format!("namespace {namespace} not found")
        })
        .await?;
        let tx = self.write(&call.tenant).await?;
        let write = KvWrite {
            kind: typed.kind,
            value_json: typed.value.to_string(),
            expire_time,
        };
        let row = stores::put_kv(&tx, namespace.as_str(), key.as_str(), write)
            .await
            .map_err(ServiceError::from)?;
        self.audit_entry(&tx, &call, "KVSTORE", &namespace, &key, action)
            .await?;
        tx.commit().await.map_err(ServiceError::from)?;
        Ok(Response::new(entry_message(row, true)))
    }

    async fn get_kv(
        &self,
        request: Request<pb::GetKvRequest>,
    ) -> Result<Response<pb::KvEntry>, Status> {
        let call = self.call(&request).await?;
        let body = request.into_inner();
        let namespace = Namespace::parse(&body.namespace)?;
        let key = EntryKey::parse("KV key", &body.key)?;
        self.authorize(&call, "KVSTORE", "READ", namespace.as_str(), || {
            not_found(&namespace, &key)
        })
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
        let call = self.call(&request).await?;
        let namespace = Namespace::parse(&request.into_inner().namespace)?;
        self.authorize(&call, "KVSTORE", "READ", namespace.as_str(), || {
            format!("namespace {namespace} not found")
        })
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
        let call = self.call(&request).await?;
        let body = request.into_inner();
        let namespace = Namespace::parse(&body.namespace)?;
        let key = EntryKey::parse("KV key", &body.key)?;
        self.authorize(&call, "KVSTORE", "DELETE", namespace.as_str(), || {
            not_found(&namespace, &key)
        })
        .await?;
        let tx = self.write(&call.tenant).await?;
        if !stores::delete_kv(&tx, namespace.as_str(), key.as_str())
            .await
            .map_err(ServiceError::from)?
        {
            return Err(Status::not_found(not_found(&namespace, &key)));
        }
        self.audit_entry(&tx, &call, "KVSTORE", &namespace, &key, "DELETE")
            .await?;
        tx.commit().await.map_err(ServiceError::from)?;
        Ok(Response::new(pb::DeleteKvResponse {}))
    }
}
