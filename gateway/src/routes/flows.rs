//! `/api/v1{t}/flows`: Kestra flows as YAML, forwarded to flow-svc.

use aerie_proto::flow::v1 as pb;
use axum::Json;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ErrorBody, YamlBody};
use crate::routes::tenants::rfc3339;
use crate::state::AppState;
use crate::tenant_scope::Tenant;

pub mod bulk;

/// A label, as Kestra lists them.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct Label {
    pub key: String,
    pub value: String,
}

/// A flow revision.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Flow {
    pub id: String,
    pub namespace: String,
    pub revision: i32,
    /// The YAML exactly as it was sent.
    pub source: String,
    /// `null` for the default tenant.
    pub tenant_id: Option<String>,
    pub disabled: bool,
    pub deleted: bool,
    pub description: String,
    pub labels: Vec<Label>,
    /// RFC 3339.
    pub updated: Option<String>,
}

impl From<pb::Flow> for Flow {
    fn from(flow: pb::Flow) -> Self {
        let mut labels: Vec<Label> = flow
            .labels
            .into_iter()
            .map(|(key, value)| Label { key, value })
            .collect();
        labels.sort_by(|a, b| a.key.cmp(&b.key));
        Flow {
            id: flow.id,
            namespace: flow.namespace,
            revision: flow.revision,
            source: flow.source,
            tenant_id: flow.tenant_id,
            disabled: flow.disabled,
            deleted: flow.deleted,
            description: flow.description,
            labels,
            updated: rfc3339(flow.update_time),
        }
    }
}

/// A page of flows.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct FlowPage {
    pub results: Vec<Flow>,
    pub total: u64,
}

/// One problem found in a flow.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Finding {
    /// Where, e.g. `tasks[1].type`.
    pub path: String,
    /// 1-based; 0 when unknown.
    pub line: u32,
    pub column: u32,
    pub message: String,
}

/// What validation found in one document of the body.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Validation {
    /// The document's position in the body, from 0.
    pub index: usize,
    pub valid: bool,
    /// Every finding's message, one per line, as Kestra's `constraints`;
    /// `null` when the flow is valid.
    pub constraints: Option<String>,
    pub id: Option<String>,
    pub namespace: Option<String>,
    pub findings: Vec<Finding>,
}

/// A flow's address in the path.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct FlowPath {
    pub namespace: String,
    pub id: String,
}

/// A namespace in the path.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct NamespacePath {
    pub namespace: String,
}

/// `?revision=N` of a read.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RevisionQuery {
    /// A past revision; absent means the latest.
    pub revision: Option<i32>,
}

/// Filters, paging and sorting of a flow search.
#[derive(Debug, Default, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// Text matched in id, namespace and description.
    pub q: Option<String>,
    /// This namespace and its children.
    pub namespace: Option<String>,
    /// `key:value`; repeat for several (all must match).
    pub labels: Vec<String>,
    pub page: Option<u32>,
    pub size: Option<u32>,
    /// `id|namespace|revision|updated` with `:asc|:desc`.
    pub sort: Option<String>,
}

impl SearchQuery {
    /// Parses the raw query, where `labels` may repeat.
    pub(crate) fn parse(raw: Option<&str>) -> Result<SearchQuery, ApiError> {
        let mut query = SearchQuery::default();
        let number = |name: &str, value: &str| {
            value.parse::<u32>().map_err(|_| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    format!("{name} must be a whole number"),
                )
            })
        };
        for (key, value) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
            match key.as_ref() {
                "q" => query.q = Some(value.into_owned()),
                "namespace" => query.namespace = Some(value.into_owned()),
                "labels" => query.labels.push(value.into_owned()),
                "page" => query.page = Some(number("page", &value)?),
                "size" => query.size = Some(number("size", &value)?),
                "sort" => query.sort = Some(value.into_owned()),
                other => {
                    return Err(ApiError::new(
                        StatusCode::BAD_REQUEST,
                        format!(
                            "unknown query parameter '{other}': use q, namespace, labels, page, size, sort"
                        ),
                    ));
                }
            }
        }
        Ok(query)
    }
}

/// Text filter of the namespace listing.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct NamespacesQuery {
    pub q: Option<String>,
}

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create))
        .routes(routes!(search))
        .routes(routes!(distinct_namespaces))
        .routes(routes!(list_namespace))
        .routes(routes!(get, update, delete))
        .routes(routes!(revisions))
        .merge(bulk::routes())
}

/// Create a flow from YAML (FLOW:CREATE in its namespace).
#[utoipa::path(post, path = "/flows", tag = "flows",
    request_body(content = String, content_type = "application/x-yaml"),
    responses((status = 200, body = Flow), (status = 409, body = ErrorBody),
        (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create(
    State(state): State<AppState>,
    tenant: Tenant,
    YamlBody(source): YamlBody,
) -> Result<Json<Flow>, ApiError> {
    let request = tenant.request(pb::CreateFlowRequest { source });
    let flow = state.flows.clone().create_flow(request).await?.into_inner();
    Ok(Json(flow.into()))
}

/// Read a flow: the latest revision, or `?revision=N`.
#[utoipa::path(get, path = "/flows/{namespace}/{id}", tag = "flows", params(FlowPath, RevisionQuery),
    responses((status = 200, body = Flow), (status = 404, body = ErrorBody)))]
async fn get(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(FlowPath { namespace, id }): Path<FlowPath>,
    Query(query): Query<RevisionQuery>,
) -> Result<Json<Flow>, ApiError> {
    let revision = match query.revision {
        Some(n) if n < 1 => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "revision starts at 1",
            ));
        }
        other => other.unwrap_or(0),
    };
    let request = tenant.request(pb::GetFlowRequest {
        namespace,
        id,
        revision,
    });
    let flow = state.flows.clone().get_flow(request).await?.into_inner();
    Ok(Json(flow.into()))
}

/// Replace a flow's YAML; a changed source becomes the next revision.
#[utoipa::path(put, path = "/flows/{namespace}/{id}", tag = "flows", params(FlowPath),
    request_body(content = String, content_type = "application/x-yaml"),
    responses((status = 200, body = Flow), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(FlowPath { namespace, id }): Path<FlowPath>,
    YamlBody(source): YamlBody,
) -> Result<Json<Flow>, ApiError> {
    let request = tenant.request(pb::UpdateFlowRequest {
        namespace,
        id,
        source,
    });
    let flow = state.flows.clone().update_flow(request).await?.into_inner();
    Ok(Json(flow.into()))
}

/// Soft-delete a flow; its revisions stay readable.
#[utoipa::path(delete, path = "/flows/{namespace}/{id}", tag = "flows", params(FlowPath),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn delete(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(FlowPath { namespace, id }): Path<FlowPath>,
) -> Result<StatusCode, ApiError> {
    let request = tenant.request(pb::DeleteFlowRequest { namespace, id });
    state.flows.clone().delete_flow(request).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Every revision of a flow, oldest first.
#[utoipa::path(get, path = "/flows/{namespace}/{id}/revisions", tag = "flows", params(FlowPath),
    responses((status = 200, body = [Flow]), (status = 404, body = ErrorBody)))]
async fn revisions(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(FlowPath { namespace, id }): Path<FlowPath>,
) -> Result<Json<Vec<Flow>>, ApiError> {
    let request = tenant.request(pb::ListFlowRevisionsRequest { namespace, id });
    let list = state
        .flows
        .clone()
        .list_flow_revisions(request)
        .await?
        .into_inner();
    Ok(Json(list.revisions.into_iter().map(Into::into).collect()))
}

/// The live flows of one namespace.
#[utoipa::path(get, path = "/flows/{namespace}", tag = "flows", params(NamespacePath),
    responses((status = 200, body = [Flow])))]
async fn list_namespace(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(NamespacePath { namespace }): Path<NamespacePath>,
) -> Result<Json<Vec<Flow>>, ApiError> {
    let request = tenant.request(pb::ListFlowsRequest { namespace });
    let list = state.flows.clone().list_flows(request).await?.into_inner();
    Ok(Json(list.flows.into_iter().map(Into::into).collect()))
}

/// Search live flows by text, namespace prefix and labels.
#[utoipa::path(get, path = "/flows/search", tag = "flows", params(SearchQuery),
    responses((status = 200, body = FlowPage), (status = 422, body = ErrorBody)))]
async fn search(
    State(state): State<AppState>,
    tenant: Tenant,
    RawQuery(raw): RawQuery,
) -> Result<Json<FlowPage>, ApiError> {
    let query = SearchQuery::parse(raw.as_deref())?;
    let request = tenant.request(pb::SearchFlowsRequest {
        q: query.q.unwrap_or_default(),
        namespace: query.namespace.unwrap_or_default(),
        labels: query.labels,
        page: query.page.unwrap_or(0),
        size: query.size.unwrap_or(0),
        sort: query.sort.unwrap_or_default(),
    });
    let page = state
        .flows
        .clone()
        .search_flows(request)
        .await?
        .into_inner();
    Ok(Json(FlowPage {
        results: page.results.into_iter().map(Into::into).collect(),
        total: page.total,
    }))
}

/// The distinct namespaces of live flows.
#[utoipa::path(get, path = "/flows/distinct-namespaces", tag = "flows", params(NamespacesQuery),
    responses((status = 200, body = [String])))]
async fn distinct_namespaces(
    State(state): State<AppState>,
    tenant: Tenant,
    Query(query): Query<NamespacesQuery>,
) -> Result<Json<Vec<String>>, ApiError> {
    let request = tenant.request(pb::ListNamespacesRequest {
        q: query.q.unwrap_or_default(),
    });
    let list = state
        .flows
        .clone()
        .list_namespaces(request)
        .await?
        .into_inner();
    Ok(Json(list.namespaces))
}
