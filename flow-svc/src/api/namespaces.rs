//! `aerie.flow.v1.NamespaceService`: a namespace's settings, and the check
//! every KV and secret access of a running flow passes (see
//! `domain::reach`).

use aerie_common::ServiceError;
use aerie_common::auth::{Action, Grant, Permission};
use aerie_common::db::TenantTxn;
use aerie_proto::flow::v1 as pb;
use aerie_proto::flow::v1::namespace_service_server::NamespaceService;
use tonic::{Request, Response, Status};

use super::FlowApi;
use crate::domain::Namespace;
use crate::domain::reach::{self, Reach};
use crate::repo::stores;

/// Allowed namespaces one namespace may list at most.
const MAX_ALLOWED: usize = 100;

impl FlowApi {
    /// Refuses (PERMISSION_DENIED, naming the rule) a flow of `flow` that
    /// would `reach` beyond what `target` lets it.
    pub(super) async fn check_reach(
        &self,
        tx: &TenantTxn,
        reach: Reach,
        flow: &str,
        target: &Namespace,
    ) -> Result<(), Status> {
        if flow.is_empty() {
            return Err(Status::invalid_argument(
                "flow_namespace is required: a running flow acts with its own namespace's reach",
            ));
        }
        let flow = Namespace::parse(flow)?;
        let allowed = stores::allowed_namespaces(tx, target.as_str())
            .await
            .map_err(ServiceError::from)?;
        if reach::flow_may(reach, &flow, target, &allowed) {
            Ok(())
        } else {
            Err(Status::permission_denied(reach::refusal(
                reach, &flow, target,
            )))
        }
    }
}

fn settings_message(namespace: &Namespace, allowed: Vec<String>) -> pb::NamespaceSettings {
    pb::NamespaceSettings {
        namespace: namespace.as_str().to_owned(),
        allowed_namespaces: allowed,
    }
}

#[tonic::async_trait]
impl NamespaceService for FlowApi {
    async fn get_namespace_settings(
        &self,
        request: Request<pb::GetNamespaceSettingsRequest>,
    ) -> Result<Response<pb::NamespaceSettings>, Status> {
        let call = self.guard.call(&request).await?;
        let namespace = Namespace::parse(&request.into_inner().namespace)?;
        self.guard
            .authorize(
                &call,
                Grant(Permission::Namespace, Action::Read),
                namespace.as_str(),
                || format!("namespace {namespace} not found"),
            )
            .await?;
        let tx = self.read(&call.tenant).await?;
        let allowed = stores::allowed_namespaces(&tx, namespace.as_str())
            .await
            .map_err(ServiceError::from)?;
        Ok(Response::new(settings_message(&namespace, allowed)))
    }

    async fn update_namespace_settings(
        &self,
        request: Request<pb::UpdateNamespaceSettingsRequest>,
    ) -> Result<Response<pb::NamespaceSettings>, Status> {
        let call = self.guard.call(&request).await?;
        let body = request.into_inner();
        let namespace = Namespace::parse(&body.namespace)?;
        if body.allowed_namespaces.len() > MAX_ALLOWED {
            return Err(Status::invalid_argument(format!(
                "allowedNamespaces lists at most {MAX_ALLOWED} namespaces"
            )));
        }
        let mut allowed = Vec::with_capacity(body.allowed_namespaces.len());
        for entry in &body.allowed_namespaces {
            let entry = Namespace::parse(entry)
                .map_err(|e| Status::invalid_argument(format!("allowedNamespaces: {e}")))?;
            allowed.push(entry.as_str().to_owned());
        }
        allowed.sort();
        allowed.dedup();
        self.guard
            .authorize(
                &call,
                Grant(Permission::Namespace, Action::Update),
                namespace.as_str(),
                || format!("namespace {namespace} not found"),
            )
            .await?;
        let tx = self.write(&call.tenant).await?;
        stores::put_allowed_namespaces(&tx, namespace.as_str(), &allowed)
            .await
            .map_err(ServiceError::from)?;
        let entry = aerie_common::audit::AuditEntry::new(
            tx.tenant(),
            "NAMESPACE",
            namespace.as_str(),
            "UPDATE",
            call.caller.name.as_ref(),
        )
        .with_details(serde_json::json!({"allowedNamespaces": allowed}));
        aerie_common::audit::enqueue(tx.conn(), entry)
            .await
            .map_err(ServiceError::from)?;
        tx.commit().await.map_err(ServiceError::from)?;
        Ok(Response::new(settings_message(&namespace, allowed)))
    }
}
