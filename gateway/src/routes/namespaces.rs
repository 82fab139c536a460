//! `/api/v1{t}/namespaces/{namespace}/secrets`, `/kv` and `/settings`:
//! per-namespace secrets (keys out, values never), typed KV entries and the
//! namespaces allowed to reach them, in flow-svc.

use aerie_proto::flow::v1 as pb;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ErrorBody, JsonBody, TextBody};
use crate::routes::tenants::rfc3339;
use crate::state::AppState;
use crate::tenant_scope::Tenant;

/// A secret's or KV entry's address in the path.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct EntryPath {
    pub namespace: String,
    pub key: String,
}

/// A namespace in the path.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct NamespacePath {
    pub namespace: String,
}

/// Body of `PUT .../secrets/{key}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SecretValue {
    /// Stored encrypted; never returned by any API.
    pub value: String,
}

/// A secret's key (its value never leaves Aerie through the API).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SecretKey {
    pub namespace: String,
    pub key: String,
    /// RFC 3339.
    pub updated: Option<String>,
}

/// The keys of a namespace's secrets.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SecretKeys {
    pub results: Vec<SecretKey>,
    pub total: u64,
}

/// A KV entry (the value is absent in listings).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KvEntry {
    pub namespace: String,
    pub key: String,
    /// STRING, NUMBER, BOOLEAN, DATETIME, DATE, DURATION or JSON.
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<serde_json::Value>,
    /// RFC 3339; absent: never expires.
    pub expiration_date: Option<String>,
    /// RFC 3339.
    pub updated: Option<String>,
}

impl KvEntry {
    pub fn from_message(entry: pb::KvEntry, with_value: bool) -> KvEntry {
        KvEntry {
            namespace: entry.namespace,
            key: entry.key,
            kind: entry.r#type,
            value: with_value.then(|| {
                serde_json::from_str(&entry.value_json).unwrap_or(serde_json::Value::Null)
            }),
            expiration_date: rfc3339(entry.expiration_date),
            updated: rfc3339(entry.update_time),
        }
    }
}

/// Header giving a KV entry a time to live (ISO-8601, e.g. `PT1H`).
const TTL_HEADER: &str = "ttl";
/// Header declaring a KV value's type instead of inferring it.
const TYPE_HEADER: &str = "kv-type";

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(put_secret, delete_secret))
        .routes(routes!(list_secrets))
        .routes(routes!(put_kv, get_kv, delete_kv))
        .routes(routes!(list_kv))
        .routes(routes!(get_settings, put_settings))
        .routes(routes!(search))
}

/// A namespace, as Kestra's namespace search lists it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Namespace {
    pub id: String,
}

/// A page of namespaces.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct NamespacePage {
    pub results: Vec<Namespace>,
    pub total: u64,
}

/// Filters and paging of a namespace search.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct NamespaceSearch {
    /// Namespaces whose name contains this text, ignoring case.
    pub q: Option<String>,
    pub page: Option<u32>,
    pub size: Option<u32>,
    /// `id:asc` (the default) or `id:desc`.
    pub sort: Option<String>,
    /// Only namespaces holding flows themselves, not their parents.
    pub existing: Option<bool>,
}

/// Namespaces holding the tenant's flows and their parents, as the caller
/// may see them (FLOW:READ), sorted by name.
#[utoipa::path(get, path = "/namespaces/search", tag = "namespaces", params(NamespaceSearch),
    responses((status = 200, body = NamespacePage), (status = 400, body = ErrorBody)))]
async fn search(
    State(state): State<AppState>,
    tenant: Tenant,
    Query(query): Query<NamespaceSearch>,
) -> Result<Json<NamespacePage>, ApiError> {
    let descending = match query.sort.as_deref() {
        None | Some("id") | Some("id:asc") => false,
        Some("id:desc") => true,
        Some(other) => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                format!("cannot sort namespaces by '{other}': use id:asc or id:desc"),
            ));
        }
    };
    let page =
        aerie_common::paging::PageRequest::new(query.page.unwrap_or(0), query.size.unwrap_or(0))
            .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.to_string()))?;
    let request = tenant.request(pb::ListNamespacesRequest { q: String::new() });
    let holding = state
        .flows
        .clone()
        .list_namespaces(request)
        .await?
        .into_inner()
        .namespaces;
    let mut names = std::collections::BTreeSet::new();
    for namespace in holding {
        if query.existing != Some(true) {
            // company.team also lists company, as Kestra's tree does.
            for (at, _) in namespace.match_indices('.') {
                names.insert(namespace[..at].to_owned());
            }
        }
        names.insert(namespace);
    }
    let needle = query.q.unwrap_or_default().to_lowercase();
    let mut names: Vec<String> = names
        .into_iter()
        .filter(|name| name.to_lowercase().contains(&needle))
        .collect();
    if descending {
        names.reverse();
    }
    let total = names.len() as u64;
    let results = names
        .into_iter()
        .skip(page.offset() as usize)
        .take(page.size as usize)
        .map(|id| Namespace { id })
        .collect();
    Ok(Json(NamespacePage { results, total }))
}

/// A namespace's settings.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NamespaceSettings {
    /// Namespaces (each with its children) whose flows may read and write
    /// this namespace's KV and read its secrets; a flow always reaches its
    /// own namespace and reads its parents.
    pub allowed_namespaces: Vec<String>,
}

/// A namespace's settings (NAMESPACE:READ).
#[utoipa::path(get, path = "/namespaces/{namespace}/settings", tag = "namespaces", params(NamespacePath),
    responses((status = 200, body = NamespaceSettings), (status = 404, body = ErrorBody)))]
async fn get_settings(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(NamespacePath { namespace }): Path<NamespacePath>,
) -> Result<Json<NamespaceSettings>, ApiError> {
    let request = tenant.request(pb::GetNamespaceSettingsRequest { namespace });
    let settings = state
        .namespaces
        .clone()
        .get_namespace_settings(request)
        .await?
        .into_inner();
    Ok(Json(NamespaceSettings {
        allowed_namespaces: settings.allowed_namespaces,
    }))
}

/// Replace a namespace's settings (NAMESPACE:UPDATE).
#[utoipa::path(put, path = "/namespaces/{namespace}/settings", tag = "namespaces", params(NamespacePath),
    request_body = NamespaceSettings,
    responses((status = 200, body = NamespaceSettings), (status = 422, body = ErrorBody)))]
async fn put_settings(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(NamespacePath { namespace }): Path<NamespacePath>,
    JsonBody(body): JsonBody<NamespaceSettings>,
) -> Result<Json<NamespaceSettings>, ApiError> {
    let request = tenant.request(pb::UpdateNamespaceSettingsRequest {
        namespace,
        allowed_namespaces: body.allowed_namespaces,
    });
    let settings = state
        .namespaces
        .clone()
        .update_namespace_settings(request)
        .await?
        .into_inner();
    Ok(Json(NamespaceSettings {
        allowed_namespaces: settings.allowed_namespaces,
    }))
}

/// Create or replace a secret (SECRET:CREATE or UPDATE).
#[utoipa::path(put, path = "/namespaces/{namespace}/secrets/{key}", tag = "secrets", params(EntryPath),
    request_body = SecretValue,
    responses((status = 200, body = SecretKey), (status = 422, body = ErrorBody)))]
async fn put_secret(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(EntryPath { namespace, key }): Path<EntryPath>,
    JsonBody(body): JsonBody<SecretValue>,
) -> Result<Json<SecretKey>, ApiError> {
    let request = tenant.request(pb::PutSecretRequest {
        namespace,
        key,
        value: body.value,
    });
    let stored = state
        .secrets
        .clone()
        .put_secret(request)
        .await?
        .into_inner();
    Ok(Json(SecretKey {
        namespace: stored.namespace,
        key: stored.key,
        updated: rfc3339(stored.update_time),
    }))
}

/// The keys of a namespace's secrets, never their values.
#[utoipa::path(get, path = "/namespaces/{namespace}/secrets", tag = "secrets", params(NamespacePath),
    responses((status = 200, body = SecretKeys)))]
async fn list_secrets(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(NamespacePath { namespace }): Path<NamespacePath>,
) -> Result<Json<SecretKeys>, ApiError> {
    let request = tenant.request(pb::ListSecretsRequest { namespace });
    let list = state
        .secrets
        .clone()
        .list_secrets(request)
        .await?
        .into_inner();
    let results: Vec<SecretKey> = list
        .secrets
        .into_iter()
        .map(|s| SecretKey {
            namespace: s.namespace,
            key: s.key,
            updated: rfc3339(s.update_time),
        })
        .collect();
    Ok(Json(SecretKeys {
        total: results.len() as u64,
        results,
    }))
}

/// Delete a secret.
#[utoipa::path(delete, path = "/namespaces/{namespace}/secrets/{key}", tag = "secrets", params(EntryPath),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn delete_secret(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(EntryPath { namespace, key }): Path<EntryPath>,
) -> Result<StatusCode, ApiError> {
    let request = tenant.request(pb::DeleteSecretRequest { namespace, key });
    state.secrets.clone().delete_secret(request).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Create or replace a KV entry. The body is the value: JSON is typed
/// (number, boolean, date-time, date, duration, JSON), other text is a
/// STRING; the `ttl` header sets an expiry, `kv-type` forces a type.
#[utoipa::path(put, path = "/namespaces/{namespace}/kv/{key}", tag = "kv",
    request_body(content = String, content_type = "text/plain"),
    params(EntryPath, ("ttl" = Option<String>, Header, description = "ISO-8601 time to live"),
        ("kv-type" = Option<String>, Header, description = "declared type")),
    responses((status = 200, body = KvEntry), (status = 422, body = ErrorBody)))]
async fn put_kv(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(EntryPath { namespace, key }): Path<EntryPath>,
    headers: HeaderMap,
    TextBody(value): TextBody,
) -> Result<Json<KvEntry>, ApiError> {
    let header = |name: &str| -> Result<String, ApiError> {
        headers.get(name).map_or(Ok(String::new()), |v| {
            v.to_str().map(str::to_owned).map_err(|_| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    format!("header {name} is not text"),
                )
            })
        })
    };
    if value.is_empty() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "the KV value is the request body: send JSON (\"\" for an empty string) or text",
        ));
    }
    let request = tenant.request(pb::PutKvRequest {
        namespace,
        key,
        value_json: value,
        r#type: header(TYPE_HEADER)?,
        ttl: header(TTL_HEADER)?,
    });
    let entry = state.kv.clone().put_kv(request).await?.into_inner();
    Ok(Json(KvEntry::from_message(entry, true)))
}

/// Read a KV entry with its type; 404 when absent or expired.
#[utoipa::path(get, path = "/namespaces/{namespace}/kv/{key}", tag = "kv", params(EntryPath),
    responses((status = 200, body = KvEntry), (status = 404, body = ErrorBody)))]
async fn get_kv(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(EntryPath { namespace, key }): Path<EntryPath>,
) -> Result<Json<KvEntry>, ApiError> {
    let request = tenant.request(pb::GetKvRequest { namespace, key });
    let entry = state.kv.clone().get_kv(request).await?.into_inner();
    Ok(Json(KvEntry::from_message(entry, true)))
}

/// The live KV entries of a namespace, without values.
#[utoipa::path(get, path = "/namespaces/{namespace}/kv", tag = "kv", params(NamespacePath),
    responses((status = 200, body = [KvEntry])))]
async fn list_kv(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(NamespacePath { namespace }): Path<NamespacePath>,
) -> Result<Json<Vec<KvEntry>>, ApiError> {
    let request = tenant.request(pb::ListKvRequest { namespace });
    let list = state.kv.clone().list_kv(request).await?.into_inner();
    Ok(Json(
        list.entries
            .into_iter()
            .map(|e| KvEntry::from_message(e, false))
            .collect(),
    ))
}

/// Delete a KV entry.
#[utoipa::path(delete, path = "/namespaces/{namespace}/kv/{key}", tag = "kv", params(EntryPath),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn delete_kv(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(EntryPath { namespace, key }): Path<EntryPath>,
) -> Result<StatusCode, ApiError> {
    let request = tenant.request(pb::DeleteKvRequest { namespace, key });
    state.kv.clone().delete_kv(request).await?;
    Ok(StatusCode::NO_CONTENT)
}
