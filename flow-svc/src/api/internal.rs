//! `aerie.flow.v1.FlowInternalService`: for Aerie's own services, which
//! prove themselves with the internal service credential and always act in
//! the tenant of the job they run (x-aerie-tenant).

use aerie_common::ServiceError;
use aerie_common::audit::require_service_token;
use aerie_common::tenant::scoped_tenant;
use aerie_proto::flow::v1 as pb;
use aerie_proto::flow::v1::flow_internal_service_server::FlowInternalService;
use tonic::{Request, Response, Status};

use super::FlowApi;
use super::triggers::trigger_message;
use crate::domain::{EntryKey, FlowKey, Namespace};
use crate::repo::{flows, stores, triggers};

#[tonic::async_trait]
impl FlowInternalService for FlowApi {
    async fn resolve_secret(
        &self,
        request: Request<pb::ResolveSecretRequest>,
    ) -> Result<Response<pb::ResolveSecretResponse>, Status> {
        require_service_token(&request, &self.service_token)?;
        let tenant = scoped_tenant(&request, &self.policy)?;
        let body = request.into_inner();
        let namespace = Namespace::parse(&body.namespace)?;
        let key = EntryKey::parse("secret key", &body.key)?;
        let tx = self.read(&tenant).await?;
        let row = stores::nearest_secret(&tx, &namespace.with_parents(), key.as_str())
            .await
            .map_err(ServiceError::from)?
            .ok_or_else(|| {
                Status::not_found(format!(
                    "secret {key} not found in namespace {namespace} or its parents"
                ))
            })?;
        let value = self
            .secrets
            .open(&tenant, &row.namespace, &row.key, &row.sealed)
            .map_err(|err| ServiceError::Internal(format!("secret {namespace}/{key}: {err}")))?;
        Ok(Response::new(pb::ResolveSecretResponse {
            value,
            namespace: row.namespace,
        }))
    }

    async fn get_flow_triggers(
        &self,
        request: Request<pb::GetFlowTriggersRequest>,
    ) -> Result<Response<pb::GetFlowTriggersResponse>, Status> {
        require_service_token(&request, &self.service_token)?;
        let tenant = scoped_tenant(&request, &self.policy)?;
        let body = request.into_inner();
        let key = FlowKey::parse(&body.namespace, &body.flow_id)?;
        let tx = self.read(&tenant).await?;
        let live = flows::find(&tx, &key)
            .await
            .map_err(ServiceError::from)?
            .is_some_and(|f| !f.deleted);
        if !live {
            return Err(Status::not_found(format!("flow {key} not found")));
        }
        let rows = triggers::of_flow(&tx, &key)
            .await
            .map_err(ServiceError::from)?;
        Ok(Response::new(pb::GetFlowTriggersResponse {
            triggers: rows
                .into_iter()
                .map(|row| trigger_message(row, true))
                .collect(),
        }))
    }
}
