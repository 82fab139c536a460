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
use crate::routes::kestra_fields::{Kept, Object as KObject, refuse_unless_empty};
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
    /// Where this tenant's quotas differ from the instance defaults.
    pub quotas: Quotas,
}

/// Per-tenant quotas. In a tenant and in `PUT .../quotas`: the overrides,
/// an absent field following the instance default
/// (`aerie.tenants.quotas.*`). In usage: the quotas in force, every field
/// set.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Quotas {
    /// Executions running at once, over every replica.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub running_executions: Option<u32>,
    /// Executions waiting for a worker; creating more is 429.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queued_executions: Option<u32>,
    /// Executions created per minute through the API and webhooks; past it 429.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub executions_per_minute: Option<u32>,
    /// Items one ForEach may loop over.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub foreach_items: Option<u32>,
    /// Task runs one execution may create in all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_runs_per_execution: Option<u32>,
    /// Branches one Parallel may have (and ForEach iterations at once).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parallel_branches: Option<u32>,
    /// Log lines per execution.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_lines_per_execution: Option<u32>,
    /// Bytes of log messages per execution.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_bytes_per_execution: Option<u64>,
    /// Bytes of outputs (as JSON) one task run may keep.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_bytes_per_task_run: Option<u64>,
    /// How long ended executions are kept with their task runs, logs and
    /// files: a positive ISO-8601 duration (`P30D`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution_retention: Option<String>,
    /// How long audit log entries are kept (`P365D`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audit_retention: Option<String>,
}

impl From<pb::TenantQuotas> for Quotas {
    fn from(q: pb::TenantQuotas) -> Self {
        Quotas {
            running_executions: q.running_executions,
            queued_executions: q.queued_executions,
            executions_per_minute: q.executions_per_minute,
            foreach_items: q.foreach_items,
            task_runs_per_execution: q.task_runs_per_execution,
            parallel_branches: q.parallel_branches,
            log_lines_per_execution: q.log_lines_per_execution,
            log_bytes_per_execution: q.log_bytes_per_execution,
            output_bytes_per_task_run: q.output_bytes_per_task_run,
            execution_retention: q.execution_retention,
            audit_retention: q.audit_retention,
        }
    }
}

impl From<Quotas> for pb::TenantQuotas {
    fn from(q: Quotas) -> Self {
        pb::TenantQuotas {
            running_executions: q.running_executions,
            queued_executions: q.queued_executions,
            executions_per_minute: q.executions_per_minute,
            foreach_items: q.foreach_items,
            task_runs_per_execution: q.task_runs_per_execution,
            parallel_branches: q.parallel_branches,
            log_lines_per_execution: q.log_lines_per_execution,
            log_bytes_per_execution: q.log_bytes_per_execution,
            output_bytes_per_task_run: q.output_bytes_per_task_run,
            execution_retention: q.execution_retention,
            audit_retention: q.audit_retention,
        }
    }
}

/// A tenant's use of its execution quotas now, over every replica.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    /// Executions a worker holds now.
    pub running_executions: u64,
    /// Executions waiting for a worker.
    pub queued_executions: u64,
    /// Executions created in the last 60 seconds.
    pub executions_last_minute: u64,
    /// The quotas in force: instance defaults with the tenant's overrides.
    pub quotas: Quotas,
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
    /// Accepted for Kestra's clients, which send it: only `false`.
    pub deleted: Option<bool>,
    // Kestra's tenant fields (no `flatten`: it would void
    // deny_unknown_fields).
    /// Kestra's worker group: not supported, only empty.
    #[schema(value_type = Option<Object>)]
    pub worker_group: Option<KObject>,
    /// Kestra's per-tenant storage: not supported, only empty.
    pub storage_type: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub storage_configuration: Option<KObject>,
    /// Kestra's per-tenant secret backend: not supported, only empty.
    pub secret_type: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub secret_configuration: Option<KObject>,
    /// More of Kestra's tenant settings, accepted only as Aerie behaves
    /// anyway (`false` or empty): Aerie never requires a namespace to
    /// exist first, keeps outputs with their task runs, lets secrets be
    /// written, and isolates every tenant's storage and secrets already.
    pub require_existing_namespace: Option<bool>,
    pub outputs_in_internal_storage: Option<bool>,
    pub secret_read_only: Option<bool>,
    #[schema(value_type = Option<Object>)]
    pub secret_isolation: Option<KObject>,
    #[schema(value_type = Option<Object>)]
    pub storage_isolation: Option<KObject>,
}

/// Kestra's tenant fields beyond id and name: accepted empty, refused when
/// set (see `kestra_fields`).
fn refuse_kestra_tenant_fields(
    worker_group: &Option<KObject>,
    storage: (&Option<String>, &Option<KObject>),
    secrets: (&Option<String>, &Option<KObject>),
    settings: [(&str, &dyn Kept); 5],
) -> Result<(), ApiError> {
    for (name, value) in settings {
        refuse_unless_empty(&[(
            name,
            value,
            "only `false` or empty: Aerie does not require namespaces to exist, keeps outputs with their task runs, lets secrets be written, and isolates each tenant's storage and secrets already",
        )])?;
    }
    const STORAGE: &str = "every tenant uses the instance's storage (aerie.storage.*)";
    const SECRETS: &str =
        "every tenant's secrets are sealed in its own database rows under the instance's key";
    refuse_unless_empty(&[
        (
            "workerGroup",
            worker_group,
            "it has no worker groups; every worker serves every tenant, shared fairly",
        ),
        ("storageType", storage.0, STORAGE),
        ("storageConfiguration", storage.1, STORAGE),
        ("secretType", secrets.0, SECRETS),
        ("secretConfiguration", secrets.1, SECRETS),
    ])
}

/// Body of `PUT /api/v1/tenants/{id}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateTenant {
    /// Optional; when given it must equal the id in the path.
    pub id: Option<String>,
    pub name: String,
    /// Accepted for Kestra's clients, which send the whole tenant: only
    /// `false` (a tenant is deleted with DELETE, never by an update).
    pub deleted: Option<bool>,
    /// Read-only fields of a tenant as GET answers it, accepted so that a
    /// client may send that answer back; they change nothing.
    pub create_time: Option<String>,
    pub update_time: Option<String>,
    /// As GET answers it: accepted when equal to the tenant's quotas, which
    /// change only through `PUT /api/v1/tenants/{id}/quotas`.
    pub quotas: Option<Quotas>,
    // Kestra's tenant fields (no `flatten`: it would void
    // deny_unknown_fields).
    /// Kestra's worker group: not supported, only empty.
    #[schema(value_type = Option<Object>)]
    pub worker_group: Option<KObject>,
    /// Kestra's per-tenant storage: not supported, only empty.
    pub storage_type: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub storage_configuration: Option<KObject>,
    /// Kestra's per-tenant secret backend: not supported, only empty.
    pub secret_type: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub secret_configuration: Option<KObject>,
    /// More of Kestra's tenant settings, accepted only as Aerie behaves
    /// anyway (`false` or empty): Aerie never requires a namespace to
    /// exist first, keeps outputs with their task runs, lets secrets be
    /// written, and isolates every tenant's storage and secrets already.
    pub require_existing_namespace: Option<bool>,
    pub outputs_in_internal_storage: Option<bool>,
    pub secret_read_only: Option<bool>,
    #[schema(value_type = Option<Object>)]
    pub secret_isolation: Option<KObject>,
    #[schema(value_type = Option<Object>)]
    pub storage_isolation: Option<KObject>,
}

/// Kestra's tenant bodies carry `deleted`. `false` says what every live
/// tenant is, so it changes nothing; `true` would ask for something a body
/// cannot do, so it is refused rather than ignored.
fn refuse_deleted(deleted: Option<bool>) -> Result<(), ApiError> {
    if deleted == Some(true) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "`deleted: true` is not accepted here; delete a tenant with DELETE /api/v1/tenants/{id}",
        ));
    }
    Ok(())
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
            quotas: tenant.quotas.map(Into::into).unwrap_or_default(),
        }
    }
}

/// The routes of this module, with their OpenAPI descriptions.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_tenant, list_tenants))
        .routes(routes!(get_tenant, update_tenant, delete_tenant))
        .routes(routes!(set_tenant_quotas))
        .routes(routes!(restore_tenant))
        .routes(routes!(get_tenant_usage))
        .routes(routes!(export_tenant))
        .routes(routes!(import_tenant))
}

/// The header that carries a transfer key (base64 of 32 bytes), which
/// seals a tenant's secrets in its archive.
const TRANSFER_KEY: &str = "x-aerie-transfer-key";

fn transfer_key(headers: &axum::http::HeaderMap) -> String {
    headers
        .get(TRANSFER_KEY)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .trim()
        .to_owned()
}

/// Query of `POST /api/v1/tenants/{id}/import`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// Display name; the exported tenant's when absent.
    pub name: Option<String>,
}

/// What an import did.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Imported {
    pub tenant: Tenant,
    /// What was left out, and why (a user this instance lacks, ...).
    pub notes: Vec<String>,
}

/// Download an archive (a zstd-compressed tar) of everything the tenant
/// owns (super admin only). Its secrets are sealed under the key in the
/// `x-aerie-transfer-key` header, required when it has any.
#[utoipa::path(get, path = "/api/v1/tenants/{id}/export", tag = "tenants",
    params(("id" = String, Path), ("x-aerie-transfer-key" = Option<String>, Header, description = "base64 of 32 bytes")),
    responses((status = 200, description = "the archive", content_type = "application/octet-stream"),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 412, body = ErrorBody)))]
async fn export_tenant(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
    headers: axum::http::HeaderMap,
) -> Result<axum::response::Response, ApiError> {
    let request = pb::ExportTenantRequest {
        id: id.clone(),
        transfer_key: transfer_key(&headers),
    };
    let mut stream = state
        .tenants
        .clone()
        .export_tenant(caller.request(request, None))
        .await?
        .into_inner();
    let mut archive = Vec::new();
    while let Some(chunk) = stream.message().await? {
        archive.extend_from_slice(&chunk.data);
    }
    Ok(super::executions::attachment(
        &format!("{id}.tar.zst"),
        archive,
    ))
}

/// Create tenant `id` from an archive sent as the body (super admin only;
/// at most the gateway's largest request body: larger archives go through
/// the CLI or gRPC). The key its secrets were sealed with travels in
/// `x-aerie-transfer-key`. Nothing stays of a refused import.
#[utoipa::path(post, path = "/api/v1/tenants/{id}/import", tag = "tenants",
    params(("id" = String, Path), ImportQuery, ("x-aerie-transfer-key" = Option<String>, Header, description = "base64 of 32 bytes")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 201, body = Imported), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 412, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn import_tenant(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
    Query(query): Query<ImportQuery>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<Imported>), ApiError> {
    use pb::import_tenant_request::Part;
    let mut chunks = vec![pb::ImportTenantRequest {
        part: Some(Part::Header(pb::ImportTenantHeader {
            id,
            name: query.name.unwrap_or_default(),
            transfer_key: transfer_key(&headers),
        })),
    }];
    chunks.extend(body.chunks(1 << 20).map(|data| pb::ImportTenantRequest {
        part: Some(Part::Data(data.to_vec())),
    }));
    let imported = state
        .tenants
        .clone()
        .import_tenant(caller.request(futures::stream::iter(chunks), None))
        .await?
        .into_inner();
    Ok((
        StatusCode::CREATED,
        Json(Imported {
            tenant: imported.tenant.map(Into::into).ok_or_else(|| {
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the import answered no tenant",
                )
            })?,
            notes: imported.notes,
        }),
    ))
}

/// Replace a tenant's quota overrides (super admin only). Absent fields
/// follow the instance defaults; `{}` removes every override.
#[utoipa::path(put, path = "/api/v1/tenants/{id}/quotas", tag = "tenants", params(("id" = String, Path)),
    request_body = Quotas,
    responses((status = 200, body = Tenant), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn set_tenant_quotas(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Quotas>,
) -> Result<Json<Tenant>, ApiError> {
    let request = pb::SetTenantQuotasRequest {
        id,
        quotas: Some(body.into()),
    };
    let tenant = state
        .tenants
        .clone()
        .set_tenant_quotas(caller.request(request, None))
        .await?
        .into_inner();
    Ok(Json(tenant.into()))
}

/// A tenant's executions running and queued now, created in the last
/// minute, and the quotas in force. For a super admin or anyone bound in
/// the tenant.
#[utoipa::path(get, path = "/api/v1/tenants/{id}/usage", tag = "tenants", params(("id" = String, Path)),
    responses((status = 200, body = Usage), (status = 404, body = ErrorBody)))]
async fn get_tenant_usage(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
) -> Result<Json<Usage>, ApiError> {
    let tenant = TenantId::parse(&id)
        .map_err(|_| ApiError::new(StatusCode::NOT_FOUND, format!("tenant {id} not found")))?;
    let usage = state
        .executions
        .clone()
        .get_usage(caller.request(
            aerie_proto::execution::v1::GetUsageRequest {},
            Some(&tenant),
        ))
        .await?
        .into_inner();
    Ok(Json(Usage {
        running_executions: usage.running_executions,
        queued_executions: usage.queued_executions,
        executions_last_minute: usage.executions_last_minute,
        quotas: usage.quotas.map(Into::into).unwrap_or_default(),
    }))
}

/// `?dryRun=true` on a create.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CreateQuery {
    /// Check everything a create checks (the caller's TENANT:CREATE, the id
    /// and name, that the id is free) and create nothing: 200 with the
    /// tenant that would be made, or the create's own error.
    pub dry_run: Option<bool>,
}

/// Create a tenant (or, with `?dryRun=true`, only check that it could be).
#[utoipa::path(post, path = "/api/v1/tenants", tag = "tenants", request_body = CreateTenant, params(CreateQuery),
    responses((status = 201, body = Tenant), (status = 200, description = "dry run: it could be created", body = Tenant),
              (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_tenant(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Query(query): Query<CreateQuery>,
    JsonBody(body): JsonBody<CreateTenant>,
) -> Result<(StatusCode, Json<Tenant>), ApiError> {
    refuse_deleted(body.deleted)?;
    refuse_kestra_tenant_fields(
        &body.worker_group,
        (&body.storage_type, &body.storage_configuration),
        (&body.secret_type, &body.secret_configuration),
        [
            ("requireExistingNamespace", &body.require_existing_namespace),
            (
                "outputsInInternalStorage",
                &body.outputs_in_internal_storage,
            ),
            ("secretReadOnly", &body.secret_read_only),
            ("secretIsolation", &body.secret_isolation),
            ("storageIsolation", &body.storage_isolation),
        ],
    )?;
    let validate_only = query.dry_run.unwrap_or(false);
    let request = pb::CreateTenantRequest {
        id: body.id,
        name: body.name,
        admin_username: body.admin_username.unwrap_or_default(),
        validate_only,
    };
    let tenant = state
        .tenants
        .clone()
        .create_tenant(caller.request(request, None))
        .await?
        .into_inner();
    let status = if validate_only {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(tenant.into())))
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
    refuse_deleted(body.deleted)?;
    refuse_kestra_tenant_fields(
        &body.worker_group,
        (&body.storage_type, &body.storage_configuration),
        (&body.secret_type, &body.secret_configuration),
        [
            ("requireExistingNamespace", &body.require_existing_namespace),
            (
                "outputsInInternalStorage",
                &body.outputs_in_internal_storage,
            ),
            ("secretReadOnly", &body.secret_read_only),
            ("secretIsolation", &body.secret_isolation),
            ("storageIsolation", &body.storage_isolation),
        ],
    )?;
    if body.id.as_ref().is_some_and(|body_id| *body_id != id) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "the id in the body differs from the id in the path; tenant ids cannot change",
        ));
    }
    if let Some(sent) = &body.quotas {
        let current: Quotas = state
            .tenants
            .clone()
            .get_tenant(caller.request(pb::GetTenantRequest { id: id.clone() }, None))
            .await?
            .into_inner()
            .quotas
            .map(Into::into)
            .unwrap_or_default();
        if serde_json::to_value(sent).ok() != serde_json::to_value(&current).ok() {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "`quotas` differ from the tenant's: a tenant's quotas change only through PUT /api/v1/tenants/{id}/quotas (super admin)",
            ));
        }
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

/// Restore a tenant deleted with DELETE, with the data and bindings its
/// deletion kept (super admin only).
#[utoipa::path(post, path = "/api/v1/tenants/{id}/restore", tag = "tenants", params(("id" = String, Path)),
    responses((status = 200, body = Tenant), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 400, body = ErrorBody)))]
async fn restore_tenant(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
) -> Result<Json<Tenant>, ApiError> {
    let tenant = state
        .tenants
        .clone()
        .restore_tenant(caller.request(pb::RestoreTenantRequest { id: id.clone() }, None))
        .await?
        .into_inner();
    if let Ok(tenant) = TenantId::parse(&id) {
        state.directory.forget(&tenant);
    }
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
