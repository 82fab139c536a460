//! `/api/v1/auths/users/access` and `/sync-access`: Kestra's `auths users
//! sync-access` for super admins moving an instance onto named tenants.

use aerie_common::TenantId;
use aerie_proto::auth::v1 as pb;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::authn::Authenticated;
use crate::error::{ApiError, ErrorBody, JsonBody};
use crate::state::AppState;

/// A user's roles in one tenant.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TenantAccess {
    /// `null` for the default tenant.
    pub tenant: Option<String>,
    /// "Role", "Role on <namespace>" or "Role via group <name>".
    pub roles: Vec<String>,
}

/// Who holds what where.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserAccess {
    pub username: String,
    pub super_admin: bool,
    /// Empty: no access to any tenant.
    pub tenants: Vec<TenantAccess>,
}

/// Every user with the live tenants and roles it holds (super admin).
#[utoipa::path(get, path = "/api/v1/auths/users/access", tag = "users",
    responses((status = 200, body = [UserAccess]), (status = 403, body = ErrorBody)))]
async fn access(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
) -> Result<Json<Vec<UserAccess>>, ApiError> {
    let report = state
        .users
        .clone()
        .list_user_access(caller.request(pb::ListUserAccessRequest {}, None))
        .await?
        .into_inner();
    Ok(Json(
        report
            .users
            .into_iter()
            .map(|u| UserAccess {
                username: u.username,
                super_admin: u.super_admin,
                tenants: u
                    .tenants
                    .into_iter()
                    .map(|t| TenantAccess {
                        tenant: t.tenant,
                        roles: t.roles,
                    })
                    .collect(),
            })
            .collect(),
    ))
}

/// Body of `POST /api/v1/auths/users/sync-access`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SyncAccess {
    /// The named tenant to give the default tenant's bindings to.
    pub tenant: String,
}

/// One binding of the default tenant, and what became of it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SyncedBinding {
    /// USER, GROUP or SERVICE_ACCOUNT.
    #[serde(rename = "type")]
    pub kind: String,
    pub subject: String,
    pub role: String,
    pub namespace: Option<String>,
    /// ADDED, PRESENT (held already) or SKIPPED (see reason).
    pub outcome: String,
    pub reason: Option<String>,
}

/// Give every user, group and service account of a tenant the bindings it holds in the default tenant (super admin): groups and service accounts are matched by name, a custom role missing in the tenant is copied; running it again adds nothing.
#[utoipa::path(post, path = "/api/v1/auths/users/sync-access", tag = "users",
    request_body = SyncAccess,
    responses((status = 200, body = [SyncedBinding]), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn sync_access(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    JsonBody(body): JsonBody<SyncAccess>,
) -> Result<Json<Vec<SyncedBinding>>, ApiError> {
    let tenant = TenantId::parse(&body.tenant)
        .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, format!("tenant: {e}")))?;
    let synced = state
        .rbac
        .clone()
        .sync_access(caller.request(pb::SyncAccessRequest {}, Some(&tenant)))
        .await?
        .into_inner();
    let some = |text: String| (!text.is_empty()).then_some(text);
    Ok(Json(
        synced
            .bindings
            .into_iter()
            .map(|b| SyncedBinding {
                kind: crate::routes::rbac::binding_type_name(b.r#type),
                subject: b.subject,
                role: b.role,
                namespace: some(b.namespace),
                outcome: pb::SyncOutcome::try_from(b.outcome)
                    .unwrap_or_default()
                    .short_name()
                    .to_owned(),
                reason: some(b.reason),
            })
            .collect(),
    ))
}

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(access))
        .routes(routes!(sync_access))
}
