//! `aerie.flow.v1.FlowService`.

use aerie_common::audit::{self, AuditEntry};
use aerie_common::auth::{Action, Grant, Permission};
use aerie_common::paging::{PageRequest, Sort};
use aerie_common::{ServiceError, TenantId};
use aerie_proto::flow::v1 as pb;
use aerie_proto::flow::v1::flow_service_server::FlowService;
use tonic::{Request, Response, Status};

use super::{FlowApi, timestamp};
use crate::domain::document::Finding;
use crate::domain::validate::{self, ParsedFlow};
use crate::domain::{self, FLOW_SORT_FIELDS, Flow, FlowKey, MAX_SOURCE_BYTES, Namespace};
use crate::repo::entities::flow_revisions;
use crate::repo::flows::{self as repo, SaveError, SearchFilter};

/// How many findings an error message lists before "and N more".
const FINDINGS_IN_MESSAGE: usize = 10;

fn not_found(key: &FlowKey) -> String {
    format!("flow {} not found", key)
}

pub(super) fn flow_message(flow: Flow) -> pb::Flow {
    pb::Flow {
        tenant_id: flow.tenant.as_named().map(str::to_owned),
        id: flow.id,
        namespace: flow.namespace,
        revision: flow.revision,
        source: flow.source,
        disabled: flow.disabled,
        deleted: flow.deleted,
        description: flow.description,
        labels: flow.labels.into_iter().collect(),
        update_time: timestamp(flow.update_time),
    }
}

/// A stored revision as a flow; its description and labels are read back
/// from its own source.
fn past_revision(tenant: &TenantId, row: flow_revisions::Model, deleted: bool) -> Flow {
    let summary = validate::summarize(&row.source).unwrap_or_default();
    Flow {
        tenant: tenant.clone(),
        namespace: row.namespace,
        id: row.flow_id,
        revision: row.revision,
        description: summary.description,
        labels: summary.labels,
        disabled: summary.disabled,
        source: row.source,
        deleted,
        update_time: row.create_time,
    }
}

impl FlowApi {
    /// The live flow (`revision` <= 0), or one of its revisions, which stay
    /// readable after a delete.
    pub(super) async fn flow_at(
        &self,
        tenant: &TenantId,
        key: &FlowKey,
        revision: i32,
    ) -> Result<pb::Flow, Status> {
        let tx = self.read(tenant).await?;
        let current = repo::find(&tx, key).await.map_err(ServiceError::from)?;
        if revision <= 0 {
            let live = current
                .filter(|f| !f.deleted)
                .ok_or_else(|| ServiceError::NotFound(not_found(key)))?;
            return Ok(flow_message(repo::to_flow(&tx, live)));
        }
        let (Some(current), Some(old)) = (
            current,
            repo::revision(&tx, key, revision)
                .await
                .map_err(ServiceError::from)?,
        ) else {
            return Err(
                ServiceError::NotFound(format!("flow {key} has no revision {revision}")).into(),
            );
        };
        Ok(flow_message(past_revision(tenant, old, current.deleted)))
    }
}

fn finding_message(finding: Finding) -> pb::Finding {
    pb::Finding {
        path: finding.path,
        line: finding.line,
        column: finding.column,
        message: finding.message,
    }
}

/// A flow source checked on a blocking thread: a megabyte of tenant YAML
/// and templates takes CPU time that must not hold up the async threads
/// (every other request of every tenant).
pub(super) async fn checked(source: &str) -> Result<validate::Report, ServiceError> {
    let source = source.to_owned();
    tokio::task::spawn_blocking(move || validate::check(&source))
        .await
        .map_err(|e| ServiceError::Internal(format!("flow validation stopped: {e}")))
}

/// A valid flow from `source`, or INVALID_ARGUMENT listing where and why;
/// checked on a blocking thread (see [`checked`]).
pub(super) async fn parse_source(source: &str) -> Result<ParsedFlow, ServiceError> {
    let source = source.to_owned();
    tokio::task::spawn_blocking(move || parse_source_here(&source))
        .await
        .map_err(|e| ServiceError::Internal(format!("flow validation stopped: {e}")))?
}

/// A source that says `deleted: true` is a deletion, which an import
/// carries out (as Kestra's loading of exported flows does); saving one
/// flow with it is refused by name.
fn live_source(parsed: ParsedFlow) -> Result<ParsedFlow, ServiceError> {
    match parsed.deleted {
        false => Ok(parsed),
        true => Err(ServiceError::InvalidArgument(
            "deleted: true: a source that says so deletes its flow when imported (POST .../flows/import or the namespace update); to delete one flow use DELETE .../flows/{namespace}/{id}, or save it with deleted: false".into(),
        )),
    }
}

/// [`parse_source`] on the calling thread, for callers already off the
/// async threads.
pub(super) fn parse_source_here(source: &str) -> Result<ParsedFlow, ServiceError> {
    if source.len() > MAX_SOURCE_BYTES {
        return Err(ServiceError::InvalidArgument(format!(
            "a flow source is at most {MAX_SOURCE_BYTES} bytes; this one has {}",
            source.len()
        )));
    }
    let report = validate::check(source);
    if let Some(flow) = report.flow {
        return Ok(flow);
    }
    let count = report.findings.len();
    let mut listed: Vec<String> = report
        .findings
        .iter()
        .take(FINDINGS_IN_MESSAGE)
        .map(ToString::to_string)
        .collect();
    if count > FINDINGS_IN_MESSAGE {
        listed.push(format!("and {} more", count - FINDINGS_IN_MESSAGE));
    }
    Err(ServiceError::InvalidArgument(format!(
        "invalid flow: {}",
        listed.join("; ")
    )))
}

pub(super) fn save_failed(key: &FlowKey, err: SaveError, creating: bool) -> ServiceError {
    match err {
        SaveError::Conflict if creating => {
            ServiceError::AlreadyExists(format!("flow {key} already exists"))
        }
        SaveError::Conflict => ServiceError::Conflict(format!(
            "flow {key} was changed by another request at the same time; read it again and retry"
        )),
        SaveError::Db(err) => err.into(),
    }
}

/// Audits a change of a flow in the transaction making it.
pub(super) async fn audit_flow_change(
    tx: &crate::repo::TenantTxn,
    call: &aerie_common::auth::Call,
    key: &FlowKey,
    action: &'static str,
    revision: i32,
) -> Result<(), Status> {
    let entry = AuditEntry::new(
        &call.tenant,
        "FLOW",
        key.to_string(),
        action,
        &*call.caller.name,
    )
    .with_details(serde_json::json!({
        "namespace": key.namespace.as_str(),
        "flowId": key.id.as_str(),
        "revision": revision,
    }));
    audit::enqueue(tx.conn(), entry)
        .await
        .map_err(|e| ServiceError::from(e).into())
}

impl FlowApi {
    /// Audits a change of a flow in its transaction, commits both and logs it.
    async fn commit_flow_change(
        &self,
        tx: crate::repo::TenantTxn,
        call: &aerie_common::auth::Call,
        key: &FlowKey,
        action: &'static str,
        revision: i32,
    ) -> Result<(), Status> {
        audit_flow_change(&tx, call, key, action, revision).await?;
        tx.commit().await.map_err(ServiceError::from)?;
        tracing::info!(tenant = %call.tenant, flow = %key, revision, action, "flow changed");
        Ok(())
    }
}

#[tonic::async_trait]
impl FlowService for FlowApi {
    async fn create_flow(
        &self,
        request: Request<pb::CreateFlowRequest>,
    ) -> Result<Response<pb::Flow>, Status> {
        let call = self.guard.call(&request).await?;
        // Outsiders learn nothing, not even what is wrong with their YAML.
        self.guard.require_tenant_use(&call).await?;
        let source = request.into_inner().source;
        let parsed = live_source(parse_source(&source).await?)?;
        let key = FlowKey::parse(&parsed.namespace, &parsed.id)?;
        self.guard
            .authorize(
                &call,
                Grant(Permission::Flow, Action::Create),
                key.namespace.as_str(),
                || format!("{} not found", call.tenant),
            )
            .await?;
        let tx = self.write(&call.tenant).await?;
        let existing = repo::find(&tx, &key).await.map_err(ServiceError::from)?;
        if existing.as_ref().is_some_and(|f| !f.deleted) {
            return Err(ServiceError::AlreadyExists(format!("flow {key} already exists")).into());
        }
        // A deleted flow created again continues its revision history.
        let flow = repo::save(&tx, &key, &parsed, &source, existing.as_ref())
            .await
            .map_err(|e| save_failed(&key, e, true))?;
        self.commit_flow_change(tx, &call, &key, "CREATE", flow.revision)
            .await?;
        Ok(Response::new(flow_message(flow)))
    }

    async fn get_flow(
        &self,
        request: Request<pb::GetFlowRequest>,
    ) -> Result<Response<pb::Flow>, Status> {
        let call = self.guard.call(&request).await?;
        let body = request.into_inner();
        let key = FlowKey::parse(&body.namespace, &body.id)?;
        self.guard
            .authorize(
                &call,
                Grant(Permission::Flow, Action::Read),
                key.namespace.as_str(),
                || not_found(&key),
            )
            .await?;
        Ok(Response::new(
            self.flow_at(&call.tenant, &key, body.revision).await?,
        ))
    }

    async fn list_flows(
        &self,
        request: Request<pb::ListFlowsRequest>,
    ) -> Result<Response<pb::ListFlowsResponse>, Status> {
        let call = self.guard.call(&request).await?;
        let namespace = Namespace::parse(&request.into_inner().namespace)?;
        self.guard
            .authorize(
                &call,
                Grant(Permission::Flow, Action::Read),
                namespace.as_str(),
                || format!("namespace {namespace} not found"),
            )
            .await?;
        let tx = self.read(&call.tenant).await?;
        let flows = repo::in_namespace(&tx, namespace.as_str())
            .await
            .map_err(ServiceError::from)?;
        Ok(Response::new(pb::ListFlowsResponse {
            flows: flows.into_iter().map(flow_message).collect(),
        }))
    }

    async fn update_flow(
        &self,
        request: Request<pb::UpdateFlowRequest>,
    ) -> Result<Response<pb::Flow>, Status> {
        let call = self.guard.call(&request).await?;
        let body = request.into_inner();
        let key = FlowKey::parse(&body.namespace, &body.id)?;
        self.guard
            .authorize(
                &call,
                Grant(Permission::Flow, Action::Update),
                key.namespace.as_str(),
                || not_found(&key),
            )
            .await?;
        let parsed = live_source(parse_source(&body.source).await?)?;
        if parsed.namespace != key.namespace.as_str() || parsed.id != key.id.as_str() {
            return Err(ServiceError::InvalidArgument(format!(
                "the source names flow {}.{}, not {key}: a flow's namespace and id cannot change",
                domain::shorten(&parsed.namespace),
                domain::shorten(&parsed.id)
            ))
            .into());
        }
        let tx = self.write(&call.tenant).await?;
        let current = repo::find(&tx, &key)
            .await
            .map_err(ServiceError::from)?
            .filter(|f| !f.deleted)
            .ok_or_else(|| ServiceError::NotFound(not_found(&key)))?;
        if current.source == body.source {
            // Nothing changed: no new revision, no audit entry.
            return Ok(Response::new(flow_message(repo::to_flow(&tx, current))));
        }
        let flow = repo::save(&tx, &key, &parsed, &body.source, Some(&current))
            .await
            .map_err(|e| save_failed(&key, e, false))?;
        self.commit_flow_change(tx, &call, &key, "UPDATE", flow.revision)
            .await?;
        Ok(Response::new(flow_message(flow)))
    }

    async fn delete_flow(
        &self,
        request: Request<pb::DeleteFlowRequest>,
    ) -> Result<Response<pb::DeleteFlowResponse>, Status> {
        let call = self.guard.call(&request).await?;
        let body = request.into_inner();
        let key = FlowKey::parse(&body.namespace, &body.id)?;
        self.guard
            .authorize(
                &call,
                Grant(Permission::Flow, Action::Delete),
                key.namespace.as_str(),
                || not_found(&key),
            )
            .await?;
        let tx = self.write(&call.tenant).await?;
        let revision = repo::soft_delete(&tx, &key)
            .await
            .map_err(ServiceError::from)?
            .ok_or_else(|| ServiceError::NotFound(not_found(&key)))?;
        self.commit_flow_change(tx, &call, &key, "DELETE", revision)
            .await?;
        Ok(Response::new(pb::DeleteFlowResponse {}))
    }

    async fn list_flow_revisions(
        &self,
        request: Request<pb::ListFlowRevisionsRequest>,
    ) -> Result<Response<pb::ListFlowRevisionsResponse>, Status> {
        let call = self.guard.call(&request).await?;
        let body = request.into_inner();
        let key = FlowKey::parse(&body.namespace, &body.id)?;
        self.guard
            .authorize(
                &call,
                Grant(Permission::Flow, Action::Read),
                key.namespace.as_str(),
                || not_found(&key),
            )
            .await?;
        let tx = self.read(&call.tenant).await?;
        let deleted = repo::find(&tx, &key)
            .await
            .map_err(ServiceError::from)?
            .ok_or_else(|| ServiceError::NotFound(not_found(&key)))?
            .deleted;
        let rows = repo::revisions(&tx, &key)
            .await
            .map_err(ServiceError::from)?;
        let revisions = rows
            .into_iter()
            .map(|row| flow_message(past_revision(&call.tenant, row, deleted)))
            .collect();
        Ok(Response::new(pb::ListFlowRevisionsResponse { revisions }))
    }

    async fn search_flows(
        &self,
        request: Request<pb::SearchFlowsRequest>,
    ) -> Result<Response<pb::SearchFlowsResponse>, Status> {
        let call = self.guard.call(&request).await?;
        let body = request.into_inner();
        let page = PageRequest::new(body.page, body.size)?;
        let sort = Sort::parse(&body.sort, FLOW_SORT_FIELDS)?;
        let namespace = if body.namespace.is_empty() {
            None
        } else {
            Some(Namespace::parse(&body.namespace)?)
        };
        let labels = body
            .labels
            .iter()
            .map(|l| domain::parse_label_filter(l))
            .collect::<Result<Vec<_>, _>>()?;
        let scope = self
            .guard
            .scope(&call, Grant(Permission::Flow, Action::Read))
            .await?;
        let tx = self.read(&call.tenant).await?;
        let filter = SearchFilter {
            text: &body.q,
            namespace: namespace.as_ref().map(Namespace::as_str),
            labels: &labels,
            scope: &scope,
        };
        let (flows, total) = repo::search(&tx, &filter, page, sort)
            .await
            .map_err(ServiceError::from)?;
        Ok(Response::new(pb::SearchFlowsResponse {
            results: flows.into_iter().map(flow_message).collect(),
            total,
        }))
    }

    async fn validate_flow(
        &self,
        request: Request<pb::ValidateFlowRequest>,
    ) -> Result<Response<pb::ValidateFlowResponse>, Status> {
        let call = self.guard.call(&request).await?;
        self.guard.require_tenant_use(&call).await?;
        let source = request.into_inner().source;
        if source.len() > MAX_SOURCE_BYTES {
            return Err(parse_source(&source).await.err().map_or_else(
                || Status::invalid_argument("flow source too large"),
                Status::from,
            ));
        }
        let report = checked(&source).await?;
        Ok(Response::new(pb::ValidateFlowResponse {
            valid: report.findings.is_empty(),
            id: report.id,
            namespace: report.namespace,
            findings: report.findings.into_iter().map(finding_message).collect(),
        }))
    }

    async fn import_flows(
        &self,
        request: Request<pb::ImportFlowsRequest>,
    ) -> Result<Response<pb::ImportFlowsResponse>, Status> {
        let call = self.guard.call(&request).await?;
        let imported = self.import(&call, request.into_inner()).await?;
        Ok(Response::new(imported))
    }

    async fn list_namespaces(
        &self,
        request: Request<pb::ListNamespacesRequest>,
    ) -> Result<Response<pb::ListNamespacesResponse>, Status> {
        let call = self.guard.call(&request).await?;
        let text = request.into_inner().q;
        let scope = self
            .guard
            .scope(&call, Grant(Permission::Flow, Action::Read))
            .await?;
        let tx = self.read(&call.tenant).await?;
        let namespaces = repo::namespaces(&tx, &text, &scope)
            .await
            .map_err(ServiceError::from)?;
        Ok(Response::new(pb::ListNamespacesResponse { namespaces }))
    }
}
