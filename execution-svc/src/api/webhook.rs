//! `aerie.execution.v1.WebhookService`: the key in the URL is the
//! credential. The flow is looked up in the tenant of the call only, so a
//! key of tenant A never starts tenant B's flow of the same namespace and id.

use aerie_common::ServiceError;
use aerie_common::audit::service_token_matches;
use aerie_common::kestra::trigger_types;
use aerie_proto::execution::v1 as pb;
use aerie_proto::execution::v1::webhook_service_server::WebhookService;
use aerie_proto::flow::v1 as flow_pb;
use serde_json::{Map, Value, json};
use tonic::{Code, Request, Response, Status};

use super::{ExecutionApi, execution_message};
use crate::domain::plan::Plan;
use crate::domain::{ExecutionId, inputs};
use crate::executor::{NewExecution, StartedBy};

/// The same answer for a missing flow, a missing trigger and a wrong key.
fn unknown_webhook(namespace: &str, flow_id: &str) -> Status {
    Status::not_found(format!("no webhook trigger of flow {namespace}/{flow_id} has this key"))
}

#[tonic::async_trait]
impl WebhookService for ExecutionApi {
    async fn trigger_webhook(
        &self,
        request: Request<pb::TriggerWebhookRequest>,
    ) -> Result<Response<pb::Execution>, Status> {
        let tenant = self.guard.anonymous_tenant(&request).await?;
        let body = request.into_inner();
        let (namespace, flow_id) = (body.namespace.as_str(), body.flow_id.as_str());
        if body.key.is_empty() || body.key.len() > 256 {
            return Err(unknown_webhook(namespace, flow_id));
        }
        let lookup = flow_pb::GetFlowTriggersRequest {
            namespace: namespace.to_owned(),
            flow_id: flow_id.to_owned(),
        };
        let triggers = match self
            .engine
            .flows
            .clone()
            .get_flow_triggers(self.engine.internal(&tenant, lookup))
            .await
        {
            Ok(found) => found.into_inner().triggers,
            Err(status) if matches!(status.code(), Code::NotFound | Code::InvalidArgument) => {
                return Err(unknown_webhook(namespace, flow_id));
            }
            Err(status) => return Err(status),
        };
        let trigger = triggers
            .into_iter()
            .filter(|t| t.r#type == trigger_types::WEBHOOK && !t.disabled)
            .find(|t| {
                serde_json::from_str::<Value>(&t.definition_json)
                    .ok()
                    .and_then(|d| d.get("key").and_then(Value::as_str).map(str::to_owned))
                    .is_some_and(|key| service_token_matches(&body.key, &key))
            })
            .ok_or_else(|| unknown_webhook(namespace, flow_id))?;
        let flow = self.flow_to_run(&tenant, namespace, flow_id, 0).await?;
        let plan = Plan::parse(&flow.source)
            .map_err(|err| Status::failed_precondition(format!("the flow cannot run: {err}")))?;
        let resolved = inputs::resolve(&plan.inputs, &Map::new(), &Default::default())
            .map_err(|problems| Status::invalid_argument(problems.join("; ")))?;
        let text = String::from_utf8_lossy(&body.body);
        let payload = if body.content_type.contains("json") || text.trim_start().starts_with(['{', '[']) {
            serde_json::from_str(&text).unwrap_or_else(|_| Value::String(text.to_string()))
        } else {
            Value::String(text.to_string())
        };
        let id = ExecutionId::generate();
        let new = NewExecution {
            id: id.clone(),
            namespace: flow.namespace,
            flow_id: flow.id,
            flow_revision: flow.revision,
            flow_source: flow.source,
            inputs: resolved,
            labels: Default::default(),
            started_by: StartedBy::Webhook(json!({
                "type": trigger.r#type,
                "id": trigger.trigger_id,
                "body": payload,
                "headers": body.headers,
                "parameters": body.parameters,
            })),
        };
        let tx = self.write(&tenant).await?;
        let row = self.engine.accept(&tx, new).await.map_err(ServiceError::from)?;
        tx.commit().await.map_err(ServiceError::from)?;
        self.engine.wake();
        if body.wait {
            return Ok(Response::new(self.wait_for_end(&tenant, &id).await?));
        }
        Ok(Response::new(execution_message(row, Vec::new())))
    }
}
