//! `aerie.flow.internal.v1.FlowInternalService`: for Aerie's own services, which
//! prove themselves with the internal service credential and always act in
//! the tenant of the job they run (x-aerie-tenant).

use aerie_common::ServiceError;
use aerie_common::audit::require_service_token;
use aerie_common::tenant::scoped_tenant;
use aerie_proto::flow::internal::v1 as ipb;
use aerie_proto::flow::internal::v1::flow_internal_service_server::FlowInternalService;
use aerie_proto::flow::v1 as pb;
use tonic::{Request, Response, Status};

use super::triggers::{timing_message, trigger_message};
use super::{FlowApi, kv};
use crate::domain::reach::Reach;
use crate::domain::validate::trigger_types;
use crate::domain::{EntryKey, FlowKey, Namespace};
use crate::repo::{flows, stores, triggers};

impl FlowApi {
    /// The enabled triggers of one type of the caller's tenant's live flows,
    /// webhook keys included (for Aerie's own services only).
    async fn enabled_triggers<T>(
        &self,
        request: Request<T>,
        kind: &str,
    ) -> Result<Vec<crate::repo::entities::triggers::Model>, Status> {
        require_service_token(&request, &self.service_token)?;
        let tenant = scoped_tenant(&request, &self.policy)?;
        let tx = self.read(&tenant).await?;
        Ok(triggers::enabled_of_kind(&tx, kind)
            .await
            .map_err(ServiceError::from)?)
    }
}

#[tonic::async_trait]
impl FlowInternalService for FlowApi {
    type WatchFlowChangesStream = tokio_stream::wrappers::ReceiverStream<
        Result<aerie_proto::changes::internal::v1::Change, Status>,
    >;

    async fn watch_flow_changes(
        &self,
        request: Request<ipb::WatchFlowChangesRequest>,
    ) -> Result<Response<Self::WatchFlowChangesStream>, Status> {
        require_service_token(&request, &self.service_token)?;
        let feed = self
            .changes
            .as_ref()
            .ok_or_else(|| Status::unavailable("this process does not serve trigger changes"))?;
        Ok(Response::new(feed.watch()))
    }

    async fn resolve_secret(
        &self,
        request: Request<ipb::ResolveSecretRequest>,
    ) -> Result<Response<ipb::ResolveSecretResponse>, Status> {
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
        // Checked where the secret was found: a parent of an allowed
        // namespace does not lend its secrets along.
        let found = Namespace::parse(&row.namespace)?;
        self.check_reach(&tx, Reach::Read, &body.flow_namespace, &found)
            .await?;
        let value = self
            .secrets
            .open(&tenant, &row.namespace, &row.key, &row.sealed)
            .map_err(|err| ServiceError::Internal(format!("secret {namespace}/{key}: {err}")))?;
        Ok(Response::new(ipb::ResolveSecretResponse {
            value,
            namespace: row.namespace,
        }))
    }

    async fn get_flow_triggers(
        &self,
        request: Request<ipb::GetFlowTriggersRequest>,
    ) -> Result<Response<ipb::GetFlowTriggersResponse>, Status> {
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
        Ok(Response::new(ipb::GetFlowTriggersResponse {
            triggers: rows
                .into_iter()
                .map(|row| trigger_message(row, true))
                .collect(),
        }))
    }

    async fn get_flow_for_execution(
        &self,
        request: Request<ipb::GetFlowForExecutionRequest>,
    ) -> Result<Response<pb::Flow>, Status> {
        require_service_token(&request, &self.service_token)?;
        let tenant = scoped_tenant(&request, &self.policy)?;
        let body = request.into_inner();
        let key = FlowKey::parse(&body.namespace, &body.id)?;
        let flow = self.flow_at(&tenant, &key, body.revision).await?;
        if flow.deleted {
            return Err(Status::not_found(format!("flow {key} not found")));
        }
        Ok(Response::new(flow))
    }

    async fn get_subflow(
        &self,
        request: Request<ipb::GetSubflowRequest>,
    ) -> Result<Response<pb::Flow>, Status> {
        require_service_token(&request, &self.service_token)?;
        let tenant = scoped_tenant(&request, &self.policy)?;
        let body = request.into_inner();
        let key = FlowKey::parse(&body.namespace, &body.id)?;
        // The rule first: a refused caller learns nothing of the flows there.
        let tx = self.read(&tenant).await?;
        self.check_reach(&tx, Reach::Execute, &body.flow_namespace, &key.namespace)
            .await?;
        drop(tx);
        let flow = self.flow_at(&tenant, &key, body.revision).await?;
        if flow.deleted {
            return Err(Status::not_found(format!("flow {key} not found")));
        }
        Ok(Response::new(flow))
    }

    async fn list_flow_triggers(
        &self,
        request: Request<ipb::ListFlowTriggersRequest>,
    ) -> Result<Response<ipb::ListFlowTriggersResponse>, Status> {
        let triggers = self
            .enabled_triggers(request, trigger_types::FLOW)
            .await?
            .into_iter()
            .map(|row| trigger_message(row, true))
            .collect();
        Ok(Response::new(ipb::ListFlowTriggersResponse { triggers }))
    }

    async fn get_flow_for_trigger(
        &self,
        request: Request<ipb::GetFlowForTriggerRequest>,
    ) -> Result<Response<pb::Flow>, Status> {
        require_service_token(&request, &self.service_token)?;
        let tenant = scoped_tenant(&request, &self.policy)?;
        let body = request.into_inner();
        let key = FlowKey::parse(&body.namespace, &body.id)?;
        let observed = Namespace::parse(&body.observed_namespace)?;
        // Seeing an execution end (and its outputs) is reading its namespace.
        let tx = self.read(&tenant).await?;
        self.check_reach(&tx, Reach::Read, key.namespace.as_str(), &observed)
            .await?;
        drop(tx);
        let flow = self.flow_at(&tenant, &key, 0).await?;
        Ok(Response::new(flow))
    }

    async fn list_schedule_triggers(
        &self,
        request: Request<ipb::ListScheduleTriggersRequest>,
    ) -> Result<Response<ipb::ListScheduleTriggersResponse>, Status> {
        require_service_token(&request, &self.service_token)?;
        let tenant = scoped_tenant(&request, &self.policy)?;
        let tx = self.read(&tenant).await?;
        let triggers = triggers::enabled_timings(&tx, trigger_types::SCHEDULE)
            .await
            .map_err(ServiceError::from)?
            .into_iter()
            .map(timing_message)
            .collect();
        Ok(Response::new(ipb::ListScheduleTriggersResponse {
            triggers,
        }))
    }

    async fn get_kv_for_execution(
        &self,
        request: Request<ipb::GetKvForExecutionRequest>,
    ) -> Result<Response<pb::KvEntry>, Status> {
        require_service_token(&request, &self.service_token)?;
        let tenant = scoped_tenant(&request, &self.policy)?;
        let body = request.into_inner();
        let namespace = Namespace::parse(&body.namespace)?;
        let key = EntryKey::parse("KV key", &body.key)?;
        let tx = self.read(&tenant).await?;
        self.check_reach(&tx, Reach::Read, &body.flow_namespace, &namespace)
            .await?;
        let row = stores::live_kv(&tx, namespace.as_str(), key.as_str())
            .await
            .map_err(ServiceError::from)?
            .ok_or_else(|| Status::not_found(kv::not_found(&namespace, &key)))?;
        Ok(Response::new(kv::entry_message(row, true)))
    }

    async fn put_kv_for_execution(
        &self,
        request: Request<ipb::PutKvForExecutionRequest>,
    ) -> Result<Response<pb::KvEntry>, Status> {
        require_service_token(&request, &self.service_token)?;
        let tenant = scoped_tenant(&request, &self.policy)?;
        let body = request.into_inner();
        let entry = kv::KvEntryWrite::parse(&body.entry.unwrap_or_default())?;
        {
            let tx = self.read(&tenant).await?;
            self.check_reach(&tx, Reach::Write, &body.flow_namespace, &entry.namespace)
                .await?;
        }
        let actor = if body.actor.is_empty() {
            "system"
        } else {
            &body.actor
        };
        let row = self.store_kv(&tenant, actor, entry, body.overwrite).await?;
        Ok(Response::new(kv::entry_message(row, true)))
    }
}
