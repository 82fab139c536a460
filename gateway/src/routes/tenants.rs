//! `/api/v1/tenants`: instance-level tenant management, forwarded to
//! tenant-svc. Mounted only when multi-tenancy is enabled.

use aerie_common::TenantId;
use aerie_proto::tenant::v1 as pb;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::authn::Authenticated;
use crate::error::{ApiError, ErrorBody, JsonBody};
use crate::state::AppState;

/// A tenant.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Tenant {
    pub id: String,
    pub name: String,
    pub deleted: bool,
    /// RFC 3339.
    pub create_time: Option<String>,
    /// RFC 3339.
    pub update_time: Option<String>,
}

/// Body of `POST /api/v1/tenants`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateTenant {
    /// `^[a-z0-9][a-z0-9_-]{0,99}$`, not a reserved path segment.
    pub id: String,
    /// 1 to 200 characters.
    pub name: String,
    /// Optional: this user gets the tenant's Admin role at once.
    pub admin_username: Option<String>,
}

/// Body of `PUT /api/v1/tenants/{id}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateTenant {
    /// Optional; when given it must equal the id in the path.
    pub id: Option<String>,
    pub name: String,
}

/// Paging and sorting of a list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Page number from 1.
    pub page: Option<u32>,
    /// Page size, at most 1000 (default 25).
    pub size: Option<u32>,
    /// `field:asc` or `field:desc`; fields id, name, createTime.
    pub sort: Option<String>,
}

/// A page of tenants.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TenantPage {
    pub results: Vec<Tenant>,
    /// Tenants in all pages.
    pub total: u64,
}

/// A protobuf timestamp as RFC 3339 (milliseconds, UTC).
pub fn rfc3339(time: Option<prost_types::Timestamp>) -> Option<String> {
    aerie_common::time::rfc3339(time.as_ref())
}

impl From<pb::Tenant> for Tenant {
    fn from(tenant: pb::Tenant) -> Self {
        Tenant {
            id: tenant.id,
            name: tenant.name,
            deleted: tenant.deleted,
            create_time: rfc3339(tenant.create_time),
            update_time: rfc3339(tenant.update_time),
        }
    }
}

/// The routes of this module, with their OpenAPI descriptions.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_tenant, list_tenants))
        .routes(routes!(get_tenant, update_tenant, delete_tenant))
}

/// Create a tenant.
#[utoipa::path(post, path = "/api/v1/tenants", tag = "tenants", request_body = CreateTenant,
    responses((status = 201, body = Tenant), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_tenant(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    JsonBody(body): JsonBody<CreateTenant>,
) -> Result<(StatusCode, Json<Tenant>), ApiError> {
    let request = pb::CreateTenantRequest {
        id: body.id,
        name: body.name,
        admin_username: body.admin_username.unwrap_or_default(),
    };
    let tenant = state
        .tenants
        .clone()
        .create_tenant(caller.request(request, None))
        .await?
        .into_inner();
    Ok((StatusCode::CREATED, Json(tenant.into())))
}

/// List live tenants, one page at a time.
#[utoipa::path(get, path = "/api/v1/tenants", tag = "tenants", params(ListQuery),
    responses((status = 200, body = TenantPage), (status = 422, body = ErrorBody)))]
async fn list_tenants(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Query(query): Query<ListQuery>,
) -> Result<Json<TenantPage>, ApiError> {
    let request = pb::ListTenantsRequest {
        page: query.page.unwrap_or(0),
        size: query.size.unwrap_or(0),
        sort: query.sort.unwrap_or_default(),
    };
    let page = state
        .tenants
        .clone()
        .list_tenants(caller.request(request, None))
        .await?
        .into_inner();
    Ok(Json(TenantPage {
        results: page.results.into_iter().map(Into::into).collect(),
        total: page.total,
    }))
}

/// Read one tenant.
#[utoipa::path(get, path = "/api/v1/tenants/{id}", tag = "tenants", params(("id" = String, Path)),
    responses((status = 200, body = Tenant), (status = 404, body = ErrorBody)))]
async fn get_tenant(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
) -> Result<Json<Tenant>, ApiError> {
    let tenant = state
        .tenants
        .clone()
        .get_tenant(caller.request(pb::GetTenantRequest { id }, None))
        .await?
        .into_inner();
    Ok(Json(tenant.into()))
}

/// Rename a tenant.
#[utoipa::path(put, path = "/api/v1/tenants/{id}", tag = "tenants", params(("id" = String, Path)),
    request_body = UpdateTenant,
    responses((status = 200, body = Tenant), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_tenant(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<UpdateTenant>,
) -> Result<Json<Tenant>, ApiError> {
    if body.id.as_ref().is_some_and(|body_id| *body_id != id) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "the id in the body differs from the id in the path; tenant ids cannot change",
        ));
    }
    let tenant = state
        .tenants
        .clone()
        .update_tenant(caller.request(
            pb::UpdateTenantRequest {
                id,
                name: body.name,
            },
            None,
        ))
        .await?
        .into_inner();
    Ok(Json(tenant.into()))
}

/// Delete a tenant (soft: data is kept, the id is never reused).
#[utoipa::path(delete, path = "/api/v1/tenants/{id}", tag = "tenants", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn delete_tenant(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state
        .tenants
        .clone()
        .delete_tenant(caller.request(pb::DeleteTenantRequest { id: id.clone() }, None))
        .await?;
    if let Ok(tenant) = TenantId::parse(&id) {
        state.directory.forget(&tenant);
    }
    Ok(StatusCode::NO_CONTENT)
}
