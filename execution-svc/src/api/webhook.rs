//! `aerie.execution.v1.WebhookService`: the key in the URL is the
//! credential. The flow is looked up in the tenant of the call only, so a
//! key of tenant A never starts tenant B's flow of the same namespace and id.

use aerie_common::ServiceError;
use aerie_common::audit::constant_time_eq;
use aerie_common::kestra::trigger_types;
use aerie_proto::execution::v1 as pb;
use aerie_proto::execution::v1::webhook_service_server::WebhookService;
use serde_json::{Map, Value, json};
use tonic::{Code, Request, Response, Status};

use super::{ExecutionApi, execution_message};
use crate::domain::plan::Plan;
use crate::domain::{ExecutionId, inputs};
use crate::executor::{NewExecution, StartedBy};

/// The same answer for a missing flow, a missing trigger and a wrong key.
fn unknown_webhook(namespace: &str, flow_id: &str) -> Status {
    Status::not_found(format!(
        "no webhook trigger of flow {namespace}/{flow_id} has this key"
    ))
}

#[tonic::async_trait]
impl WebhookService for ExecutionApi {
    async fn trigger_webhook(
        &self,
        request: Request<pb::TriggerWebhookRequest>,
    ) -> Result<Response<pb::Execution>, Status> {
        let tenant = match self.guard.anonymous_tenant(&request).await {
            Ok(tenant) => tenant,
            // An unknown or unreachable tenant reads like a wrong key.
            Err(status)
                if status.code() != Code::Unavailable && status.code() != Code::Internal =>
            {
                let body = request.get_ref();
                return Err(unknown_webhook(&body.namespace, &body.flow_id));
            }
            Err(status) => return Err(status),
        };
        let body = request.into_inner();
        let (namespace, flow_id) = (body.namespace.as_str(), body.flow_id.as_str());
        if body.key.is_empty() || body.key.len() > 256 {
            return Err(unknown_webhook(namespace, flow_id));
        }
        // The flow's own source names its webhooks: one lookup, in this
        // tenant only.
        let flow = match self.live_flow(&tenant, namespace, flow_id, 0).await {
            Ok(flow) => flow,
            Err(status) if matches!(status.code(), Code::NotFound | Code::InvalidArgument) => {
                return Err(unknown_webhook(namespace, flow_id));
            }
            Err(status) => return Err(status),
        };
        let plan = Plan::parse(&flow.source)
            .map_err(|err| Status::failed_precondition(format!("the flow cannot run: {err}")))?;
        let trigger = plan
            .webhooks
            .iter()
            .find(|hook| constant_time_eq(&body.key, &hook.key))
            .ok_or_else(|| unknown_webhook(namespace, flow_id))?;
        // Only a caller holding the key learns that the flow is disabled,
        // or that its tenant is at a quota.
        super::runnable(&flow)?;
        self.admission.admit(&tenant).await?;
        let resolved = inputs::resolve(&plan.inputs, &Map::new(), &Default::default())
            .map_err(|problems| Status::invalid_argument(problems.join("; ")))?;
        let text = String::from_utf8_lossy(&body.body);
        let payload =
            if body.content_type.contains("json") || text.trim_start().starts_with(['{', '[']) {
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
            labels: plan.labels.clone(),
            concurrency: plan.concurrency,
            started_by: StartedBy::Webhook(json!({
                "type": trigger_types::WEBHOOK,
                "id": trigger.id,
                "body": payload,
                "headers": body.headers,
                "parameters": body.parameters,
            })),
        };
        let tx = self.write(&tenant).await?;
        let row = self
            .engine
            .accept(&tx, new)
            .await
            .map_err(ServiceError::from)?;
        tx.commit().await.map_err(ServiceError::from)?;
        self.engine.wake();
        if body.wait {
            return Ok(Response::new(self.wait_for_end(&tenant, &id).await?));
        }
        Ok(Response::new(execution_message(row, Vec::new())))
    }
}
