//! `aerie.flow.v1.SecretService`: values go in sealed and never come out
//! (only `FlowInternalService.ResolveSecret` opens them, for Aerie itself).

use aerie_common::ServiceError;
use aerie_common::auth::{Action, Grant, Permission};
use aerie_proto::flow::v1 as pb;
use aerie_proto::flow::v1::secret_service_server::SecretService;
use tonic::{Request, Response, Status};

use super::{FlowApi, timestamp};
use crate::domain::{EntryKey, MAX_SECRET_BYTES, Namespace};
use crate::repo::stores;

fn not_found(namespace: &Namespace, key: &EntryKey) -> String {
    format!("secret {key} not found in namespace {namespace}")
}

#[tonic::async_trait]
impl SecretService for FlowApi {
    async fn put_secret(
        &self,
        request: Request<pb::PutSecretRequest>,
    ) -> Result<Response<pb::SecretKey>, Status> {
        let call = self.guard.call(&request).await?;
        let body = request.into_inner();
        let namespace = Namespace::parse(&body.namespace)?;
        let key = EntryKey::parse("secret key", &body.key)?;
        if body.value.is_empty() || body.value.len() > MAX_SECRET_BYTES {
            return Err(Status::invalid_argument(format!(
                "a secret value is 1 to {MAX_SECRET_BYTES} bytes"
            )));
        }
        let exists = {
            let tx = self.read(&call.tenant).await?;
            stores::secret_exists(&tx, namespace.as_str(), key.as_str())
                .await
                .map_err(ServiceError::from)?
        };
        let action = if exists {
            Action::Update
        } else {
            Action::Create
        };
        self.guard
            .authorize(
                &call,
                Grant(Permission::Secret, action),
                namespace.as_str(),
                || format!("namespace {namespace} not found"),
            )
            .await?;
        let sealed = self
            .secrets
            .seal(&call.tenant, namespace.as_str(), key.as_str(), &body.value);
        let tx = self.write(&call.tenant).await?;
        let time = stores::put_secret(&tx, namespace.as_str(), key.as_str(), sealed)
            .await
            .map_err(ServiceError::from)?;
        self.audit_entry(
            &tx,
            &call.caller.name,
            "SECRET",
            &namespace,
            &key,
            action.as_str(),
        )
        .await?;
        tx.commit().await.map_err(ServiceError::from)?;
        tracing::info!(tenant = %call.tenant, %namespace, %key, "secret stored");
        Ok(Response::new(pb::SecretKey {
            namespace: namespace.to_string(),
            key: key.to_string(),
            update_time: timestamp(time),
        }))
    }

    async fn list_secrets(
        &self,
        request: Request<pb::ListSecretsRequest>,
    ) -> Result<Response<pb::ListSecretsResponse>, Status> {
        let call = self.guard.call(&request).await?;
        let namespace = Namespace::parse(&request.into_inner().namespace)?;
        self.guard
            .authorize(
                &call,
                Grant(Permission::Secret, Action::Read),
                namespace.as_str(),
                || format!("namespace {namespace} not found"),
            )
            .await?;
        let tx = self.read(&call.tenant).await?;
        let rows = stores::secrets_in(&tx, namespace.as_str())
            .await
            .map_err(ServiceError::from)?;
        Ok(Response::new(pb::ListSecretsResponse {
            secrets: rows
                .into_iter()
                .map(|row| pb::SecretKey {
                    namespace: row.namespace,
                    key: row.key,
                    update_time: timestamp(row.update_time),
                })
                .collect(),
        }))
    }

    async fn delete_secret(
        &self,
        request: Request<pb::DeleteSecretRequest>,
    ) -> Result<Response<pb::DeleteSecretResponse>, Status> {
        let call = self.guard.call(&request).await?;
        let body = request.into_inner();
        let namespace = Namespace::parse(&body.namespace)?;
        let key = EntryKey::parse("secret key", &body.key)?;
        self.guard
            .authorize(
                &call,
                Grant(Permission::Secret, Action::Delete),
                namespace.as_str(),
                || not_found(&namespace, &key),
            )
            .await?;
        let tx = self.write(&call.tenant).await?;
        if !stores::delete_secret(&tx, namespace.as_str(), key.as_str())
            .await
            .map_err(ServiceError::from)?
        {
            return Err(Status::not_found(not_found(&namespace, &key)));
        }
        self.audit_entry(&tx, &call.caller.name, "SECRET", &namespace, &key, "DELETE")
            .await?;
        tx.commit().await.map_err(ServiceError::from)?;
        tracing::info!(tenant = %call.tenant, %namespace, %key, "secret deleted");
        Ok(Response::new(pb::DeleteSecretResponse {}))
    }
}
