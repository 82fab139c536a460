//! `/api/v1{t}/auditlogs/search`: the tenant's audit log, newest first.

use aerie_proto::auth::v1 as pb;
use axum::Json;
use axum::extract::{Query, State};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ErrorBody};
use crate::routes::tenants::rfc3339;
use crate::state::AppState;
use crate::tenant_scope::Tenant;

/// One audited mutation.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditLog {
    pub id: String,
    /// `null` for the default tenant.
    pub tenant_id: Option<String>,
    pub resource_type: String,
    pub resource_id: String,
    pub action: String,
    pub actor: String,
    /// RFC 3339.
    pub time: Option<String>,
    pub details: serde_json::Value,
}

/// Paging and filters of the search.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    pub page: Option<u32>,
    pub size: Option<u32>,
    /// e.g. TENANT, USER, ROLE, BINDING, GROUP, SIGNING_KEY.
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
}

/// A page of entries.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AuditPage {
    pub results: Vec<AuditLog>,
    pub total: u64,
}

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(search))
}

/// Search the tenant's audit log (AUDITLOG:READ).
#[utoipa::path(get, path = "/auditlogs/search", tag = "audit", params(AuditQuery),
    responses((status = 200, body = AuditPage), (status = 403, body = ErrorBody)))]
async fn search(
    State(state): State<AppState>,
    tenant: Tenant,
    Query(query): Query<AuditQuery>,
) -> Result<Json<AuditPage>, ApiError> {
    let request = tenant.request(pb::SearchAuditLogsRequest {
        page: query.page.unwrap_or(0),
        size: query.size.unwrap_or(0),
        resource_type: query.resource_type.unwrap_or_default(),
        resource_id: query.resource_id.unwrap_or_default(),
    });
    let page = state
        .audit
        .clone()
        .search_audit_logs(request)
        .await?
        .into_inner();
    Ok(Json(AuditPage {
        results: page.results.into_iter().map(Into::into).collect(),
        total: page.total,
    }))
}

impl From<pb::AuditEntry> for AuditLog {
    fn from(entry: pb::AuditEntry) -> Self {
        AuditLog {
            id: entry.id,
            tenant_id: (!entry.tenant.is_empty()).then_some(entry.tenant),
            resource_type: entry.resource_type,
            resource_id: entry.resource_id,
            action: entry.action,
            actor: entry.actor,
            time: rfc3339(entry.time),
            details: aerie_proto::wire::from_struct(entry.details),
        }
    }
}
