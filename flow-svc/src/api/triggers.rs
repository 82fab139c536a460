//! `aerie.flow.v1.TriggerService`.

use aerie_common::ServiceError;
use aerie_common::auth::{Action, Grant, Permission};
use aerie_common::paging::PageRequest;
use aerie_proto::flow::v1 as pb;
use aerie_proto::flow::v1::trigger_service_server::TriggerService;
use tonic::{Request, Response, Status};

use super::FlowApi;
use crate::domain::Namespace;
use crate::domain::validate::trigger_types;
use crate::repo::entities::triggers;
use crate::repo::triggers as repo;

/// A trigger as the API shows it; `with_secrets` keeps a webhook's key,
/// which is a credential and only leaves through `FlowInternalService`.
pub(super) fn trigger_message(row: triggers::Model, with_secrets: bool) -> pb::Trigger {
    // Only a webhook's key is ever taken out; other definitions pass as
    // stored (the scheduler lists every trigger of every tenant).
    let definition = if !with_secrets && row.kind == trigger_types::WEBHOOK {
        let mut definition: serde_json::Value =
            serde_json::from_str(&row.definition).unwrap_or_default();
        if let Some(object) = definition.as_object_mut() {
            object.remove("key");
        }
        definition.to_string()
    } else {
        row.definition
    };
    pb::Trigger {
        namespace: row.namespace,
        flow_id: row.flow_id,
        trigger_id: row.trigger_id,
        r#type: row.kind,
        cron: row.cron,
        timezone: row.timezone,
        disabled: row.disabled,
        flow_revision: row.flow_revision,
        definition_json: definition,
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
}
