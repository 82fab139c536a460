//! `aerie.execution.v1.WebhookService`: the key in the URL is the
//! credential. The flow is looked up in the tenant of the call only, so a
//! key of tenant A never starts tenant B's flow of the same namespace and id.

use aerie_common::audit::constant_time_eq;
use aerie_common::kestra::{condition_types, trigger_types};
use aerie_common::{ServiceError, TenantId};
use aerie_proto::execution::v1 as pb;
use aerie_proto::execution::v1::webhook_service_server::WebhookService;
use serde_json::{Map, Value, json};
use tonic::{Code, Request, Response, Status};

use super::{ExecutionApi, execution_message};
use crate::domain::ExecutionId;
use crate::domain::plan::Webhook;
use crate::domain::scope::{Base, Outputs};
use crate::domain::template::is_template;
use crate::executor::{NewExecution, StartedBy};
use aerie_proto::flow::v1::Flow;

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
    ) -> Result<Response<pb::TriggerWebhookResponse>, Status> {
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
        let plan = self.plan_of(&tenant, &flow)?;
        let trigger = self
            .matching_webhook(&tenant, &flow, &plan.webhooks, &body.key)
            .await
            .ok_or_else(|| unknown_webhook(namespace, flow_id))?;
        // A webhook disabled through the API (not in the source) is no
        // webhook at all, as a disabled one in the source is not.
        if self
            .disabled_by_api(&tenant, namespace, flow_id, &trigger.id)
            .await?
        {
            return Err(unknown_webhook(namespace, flow_id));
        }
        // Only a caller holding the key learns that the flow is disabled,
        // that its conditions are false, or that its tenant is at a quota.
        super::runnable(&flow)?;
        let text = String::from_utf8_lossy(&body.body);
        // No body (a GET) is null, as in Kestra.
        let payload = if body.body.is_empty() {
            Value::Null
        } else if body.content_type.contains("json") || text.trim_start().starts_with(['{', '[']) {
            serde_json::from_str(&text).unwrap_or_else(|_| Value::String(text.to_string()))
        } else {
            Value::String(text.to_string())
        };
        let lists = |map: &std::collections::HashMap<String, pb::Values>| {
            map.iter()
                .map(|(name, values)| (name.clone(), json!(values.values)))
                .collect::<Map<_, _>>()
        };
        let given = json!({
            "body": payload,
            "headers": lists(&body.headers),
            "parameters": lists(&body.parameters),
        });
        if !self
            .conditions_hold(&tenant, &flow, trigger, &given)
            .await?
        {
            return Ok(Response::new(pb::TriggerWebhookResponse {
                execution: None,
            }));
        }
        self.engine.admission.admit(&tenant).await?;
        let resolved = self
            .engine
            .resolve_inputs(
                &tenant,
                (&flow.namespace, &flow.id, flow.revision),
                &plan.inputs,
                &Map::new(),
                &Default::default(),
            )
            .map_err(|problems| Status::invalid_argument(problems.join("; ")))?;
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
                "body": given["body"],
                "headers": given["headers"],
                "parameters": given["parameters"],
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
        let execution = if body.wait {
            self.wait_for_end(&tenant, &id).await?
        } else {
            execution_message(row, Vec::new())
        };
        Ok(Response::new(pb::TriggerWebhookResponse {
            execution: Some(execution),
        }))
    }
}

impl ExecutionApi {
    /// Whether the flow's trigger `trigger_id` was disabled through the
    /// API (`PUT /triggers`), asked of flow-svc on each call so that it
    /// takes effect at once.
    async fn disabled_by_api(
        &self,
        tenant: &TenantId,
        namespace: &str,
        flow_id: &str,
        trigger_id: &str,
    ) -> Result<bool, Status> {
        let request = aerie_proto::flow::internal::v1::GetFlowTriggersRequest {
            namespace: namespace.to_owned(),
            flow_id: flow_id.to_owned(),
        };
        let triggers = self
            .engine
            .flows
            .clone()
            .get_flow_triggers(self.engine.internal(tenant, request))
            .await?
            .into_inner()
            .triggers;
        Ok(triggers
            .iter()
            .any(|t| t.trigger_id == trigger_id && t.disabled))
    }

    /// The flow's webhook whose key is `key`. A templated key (`{{ flow.id }}`,
    /// `{{ secret('K') }}`) is rendered in the flow's own tenant and
    /// namespace; one that cannot be rendered matches nothing.
    async fn matching_webhook<'p>(
        &self,
        tenant: &TenantId,
        flow: &Flow,
        webhooks: &'p [Webhook],
        key: &str,
    ) -> Option<&'p Webhook> {
        for hook in webhooks {
            let expected = if is_template(&hook.key) {
                let cached = (
                    tenant.clone(),
                    flow.namespace.clone(),
                    flow.id.clone(),
                    flow.revision,
                    hook.id.clone(),
                );
                let rendered = self
                    .webhook_keys
                    .get_with(cached, async {
                        self.render(tenant, flow, &hook.key, Value::Null).await.ok()
                    })
                    .await;
                match rendered {
                    Some(rendered) => rendered,
                    None => continue,
                }
            } else {
                hook.key.clone()
            };
            if constant_time_eq(key, &expected) {
                return Some(hook);
            }
        }
        None
    }

    /// Whether every condition of `hook` holds for this call.
    async fn conditions_hold(
        &self,
        tenant: &TenantId,
        flow: &Flow,
        hook: &Webhook,
        given: &Value,
    ) -> Result<bool, Status> {
        for condition in &hook.conditions {
            let rendered = self
                .render(tenant, flow, condition, given.clone())
                .await
                .map_err(|why| {
                    Status::failed_precondition(format!(
                        "the webhook's condition cannot be evaluated: {why}"
                    ))
                })?;
            if !condition_types::holds(&rendered) {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// `template` rendered with the flow's variables and `trigger`, off the
    /// async threads (secret() and kv() block on a call to flow-svc).
    async fn render(
        &self,
        tenant: &TenantId,
        flow: &Flow,
        template: &str,
        trigger: Value,
    ) -> Result<String, String> {
        let renderer = crate::executor::tenant_renderer(&self.engine, tenant, &flow.namespace);
        let mut variables = Map::new();
        variables.insert(
            "flow".into(),
            json!({"id": flow.id, "namespace": flow.namespace, "revision": flow.revision,
                   "tenantId": tenant.as_named()}),
        );
        if !trigger.is_null() {
            variables.insert("trigger".into(), crate::domain::trigger_view(trigger));
        }
        let scope = Base::new(&variables).scope(&Outputs::default(), &[]);
        let template = template.to_owned();
        tokio::task::spawn_blocking(move || renderer.render(&template, &scope))
            .await
            .map_err(|e| format!("template: {e}"))?
    }
}
