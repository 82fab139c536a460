//! `aerie.flow.v1.TriggerService`.

use aerie_common::ServiceError;
use aerie_common::audit::{self, AuditEntry};
use aerie_common::auth::{Action, Grant, Permission};
use aerie_common::paging::PageRequest;
use aerie_proto::flow::v1 as pb;
use aerie_proto::flow::v1::trigger_service_server::TriggerService;
use tonic::{Request, Response, Status};

use super::FlowApi;
use crate::domain::validate::trigger_types;
use crate::domain::{FlowKey, Namespace};
use crate::repo::entities::triggers;
use crate::repo::triggers as repo;

/// A trigger as the API shows it; `with_secrets` keeps a webhook's key,
/// which is a credential and only leaves through `FlowInternalService`.
pub(super) fn trigger_message(row: triggers::Model, with_secrets: bool) -> pb::Trigger {
    // Only a webhook's key is ever taken out; other definitions pass as
    // stored.
    let mut definition: serde_json::Value =
        serde_json::from_str(&row.definition).unwrap_or_default();
    if !with_secrets
        && row.kind == trigger_types::WEBHOOK
        && let Some(object) = definition.as_object_mut()
    {
        object.remove("key");
    }
    pb::Trigger {
        namespace: row.namespace,
        flow_id: row.flow_id,
        trigger_id: row.trigger_id,
        r#type: row.kind,
        cron: row.cron,
        timezone: row.timezone,
        disabled: row.disabled,
        flow_revision: row.flow_revision,
        definition: aerie_proto::wire::to_struct(definition),
    }
}

/// A trigger without its definition: what the scheduler reads (cron and
/// time zone).
pub(super) fn timing_message(row: repo::Timing) -> pb::Trigger {
    pb::Trigger {
        namespace: row.namespace,
        flow_id: row.flow_id,
        trigger_id: row.trigger_id,
        r#type: row.kind,
        cron: row.cron,
        timezone: row.timezone,
        disabled: false,
        flow_revision: row.flow_revision,
        definition: None,
    }
}

#[tonic::async_trait]
impl TriggerService for FlowApi {
    async fn search_triggers(
        &self,
        request: Request<pb::SearchTriggersRequest>,
    ) -> Result<Response<pb::SearchTriggersResponse>, Status> {
        let call = self.guard.call(&request).await?;
        let body = request.into_inner();
        let page = PageRequest::new(body.page, body.size)?;
        let namespace = if body.namespace.is_empty() {
            None
        } else {
            Some(Namespace::parse(&body.namespace)?)
        };
        let scope = self
            .guard
            .scope(&call, Grant(Permission::Flow, Action::Read))
            .await?;
        let tx = self.read(&call.tenant).await?;
        let (rows, total) = repo::search(
            &tx,
            &scope,
            namespace.as_ref().map(Namespace::as_str),
            &body.q,
            page,
        )
        .await
        .map_err(ServiceError::from)?;
        Ok(Response::new(pb::SearchTriggersResponse {
            results: rows
                .into_iter()
                .map(|row| trigger_message(row, false))
                .collect(),
            total,
        }))
    }

    async fn set_trigger_disabled(
        &self,
        request: Request<pb::SetTriggerDisabledRequest>,
    ) -> Result<Response<pb::Trigger>, Status> {
        let call = self.guard.call(&request).await?;
        let body = request.into_inner();
        let key = FlowKey::parse(&body.namespace, &body.flow_id)?;
        let missing = || format!("flow {key} has no trigger '{}'", body.trigger_id);
        self.guard
            .authorize(
                &call,
                Grant(Permission::Flow, Action::Update),
                key.namespace.as_str(),
                missing,
            )
            .await?;
        let tx = self.write(&call.tenant).await?;
        let declared = repo::declared_of_flow(&tx, &key)
            .await
            .map_err(ServiceError::from)?
            .into_iter()
            .find(|t| t.trigger_id == body.trigger_id)
            .ok_or_else(|| Status::not_found(missing()))?;
        if declared.disabled && !body.disabled {
            return Err(Status::failed_precondition(format!(
                "trigger '{}' of flow {key} is disabled in the flow's source: edit the flow to enable it",
                body.trigger_id
            )));
        }
        let changed = repo::set_disabled(&tx, &key, &body.trigger_id, body.disabled)
            .await
            .map_err(ServiceError::from)?;
        if changed {
            let entry = AuditEntry::new(
                &call.tenant,
                "TRIGGER",
                format!("{key}.{}", body.trigger_id),
                "UPDATE",
                &*call.caller.name,
            )
            .with_details(serde_json::json!({
                "namespace": key.namespace.as_str(),
                "flowId": key.id.as_str(),
                "triggerId": body.trigger_id,
                "disabled": body.disabled,
            }));
            audit::enqueue(tx.conn(), entry)
                .await
                .map_err(ServiceError::from)?;
        }
        let now = repo::of_flow(&tx, &key)
            .await
            .map_err(ServiceError::from)?
            .into_iter()
            .find(|t| t.trigger_id == body.trigger_id)
            .ok_or_else(|| Status::not_found(missing()))?;
        tx.commit().await.map_err(ServiceError::from)?;
        if changed {
            tracing::info!(tenant = %call.tenant, flow = %key, trigger = %body.trigger_id,
                disabled = body.disabled, by = %call.caller.name, "trigger toggled");
        }
        Ok(Response::new(trigger_message(now, false)))
    }
}
