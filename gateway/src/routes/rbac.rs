//! `/api/v1{t}/roles`, `/bindings` and `/groups`: per-tenant RBAC, mounted
//! behind tenant resolution and forwarded to auth-svc.

use aerie_common::auth::Grant;
use aerie_proto::auth::v1 as pb;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ErrorBody, JsonBody};
use crate::routes::kestra_fields::{Object as KObject, refuse_renamed, refuse_unless_empty};
use crate::routes::tenants::rfc3339;
use crate::state::AppState;
use crate::tenant_scope::Tenant;

/// A role: a named set of `PERMISSION:ACTION` grants.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Role {
    pub name: String,
    pub permissions: Vec<String>,
    /// True for the built-in Admin role.
    pub predefined: bool,
}

/// Body of `POST .../roles`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateRole {
    pub name: String,
    /// e.g. `["FLOW:READ", "EXECUTION:CREATE"]`, or as Kestra's clients
    /// send them, `{"FLOW": ["READ"], "EXECUTION": ["CREATE"]}`.
    pub permissions: Permissions,
    /// Kestra's: accepted empty only.
    pub description: Option<String>,
    /// Kestra's role namespace: accepted empty only (a binding carries
    /// the namespace in Aerie).
    pub namespace_id: Option<String>,
    /// Kestra's default role: accepted `false` only.
    pub is_default: Option<bool>,
    /// Accepted for Kestra's clients: only `false`.
    pub deleted: Option<bool>,
}

/// A role's permissions, in either form.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum Permissions {
    /// `"PERMISSION:ACTION"` texts.
    List(Vec<String>),
    /// Kestra's form: actions by permission.
    ByPermission(std::collections::BTreeMap<String, Vec<String>>),
}

impl Permissions {
    /// The `"PERMISSION:ACTION"` texts.
    fn texts(&self) -> Vec<String> {
        match self {
            Permissions::List(texts) => texts.clone(),
            Permissions::ByPermission(map) => map
                .iter()
                .flat_map(|(permission, actions)| {
                    actions.iter().map(move |a| format!("{permission}:{a}"))
                })
                .collect(),
        }
    }
}

/// A binding of a role to a subject, optionally limited to a namespace
/// and its children.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Binding {
    pub id: String,
    /// USER, GROUP or SERVICE_ACCOUNT.
    #[serde(rename = "type")]
    pub type_: String,
    pub subject: String,
    pub role: String,
    pub namespace: Option<String>,
}

/// Body of `POST .../bindings`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateBinding {
    #[serde(rename = "type")]
    pub type_: String,
    /// A username, group name or service-account name.
    #[serde(default)]
    pub subject: String,
    /// A role's name.
    #[serde(default)]
    pub role: String,
    pub namespace: Option<String>,
    /// Kestra's name for `namespace`, accepted as it.
    #[serde(rename = "namespaceId")]
    pub namespace_id: Option<String>,
    /// Kestra's subject id: refused with what to send instead.
    #[serde(rename = "externalId")]
    pub external_id: Option<String>,
    /// Kestra's role id: refused with what to send instead.
    #[serde(rename = "roleId")]
    pub role_id: Option<String>,
    /// Accepted for Kestra's clients: only `false`.
    pub deleted: Option<bool>,
}

/// The role named in the path.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct RoleName {
    pub name: String,
}

/// The binding named in the path.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct BindingId {
    pub id: String,
}

/// A list of roles or bindings.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Page<T> {
    pub results: Vec<T>,
    pub total: u64,
}

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_role, list_roles))
        .routes(routes!(delete_role))
        .routes(routes!(create_binding, list_bindings))
        .routes(routes!(delete_binding))
        .routes(routes!(create_group, list_groups))
        .routes(routes!(delete_group))
        .routes(routes!(add_member))
        .routes(routes!(remove_member))
        .routes(routes!(create_service_account, list_service_accounts))
        .routes(routes!(delete_service_account))
        .routes(routes!(create_api_token, list_api_tokens))
        .routes(routes!(revoke_api_token))
}

/// A service account: a principal of this tenant that authenticates with
/// API tokens.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceAccount {
    pub name: String,
    pub super_admin: bool,
    pub create_time: Option<String>,
}

/// Body of `POST .../service-accounts`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateServiceAccount {
    pub name: String,
    /// Only a super admin may set it.
    #[serde(default)]
    pub super_admin: bool,
}

/// An API token as listed: never its value.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiToken {
    pub id: String,
    pub name: String,
    /// First characters of the value.
    pub prefix: String,
    pub create_time: Option<String>,
    pub expire_time: Option<String>,
    pub revoked: bool,
}

/// A new API token; `token` is shown this once.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CreatedApiToken {
    #[serde(flatten)]
    pub info: ApiToken,
    pub token: String,
}

/// Body of `POST .../service-accounts/{name}/tokens`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateApiToken {
    pub name: Option<String>,
    /// Lifetime in seconds, at most ten years; absent: no expiry.
    #[schema(maximum = 315_360_000)]
    pub expires_in: Option<u64>,
}

/// The service account named in the path.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct AccountName {
    pub name: String,
}

/// The service account and token named in the path.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct AccountToken {
    pub name: String,
    pub id: String,
}

fn service_account(account: pb::ServiceAccount) -> ServiceAccount {
    ServiceAccount {
        name: account.name,
        super_admin: account.super_admin,
        create_time: rfc3339(account.create_time),
    }
}

fn api_token(token: pb::ApiToken) -> ApiToken {
    ApiToken {
        id: token.id,
        name: token.name,
        prefix: token.prefix,
        create_time: rfc3339(token.create_time),
        expire_time: rfc3339(token.expire_time),
        revoked: token.revoked,
    }
}

/// Create a service account in the tenant.
#[utoipa::path(post, path = "/service-accounts", tag = "rbac", request_body = CreateServiceAccount,
    responses((status = 201, body = ServiceAccount), (status = 409, body = ErrorBody)))]
async fn create_service_account(
    State(state): State<AppState>,
    tenant: Tenant,
    JsonBody(body): JsonBody<CreateServiceAccount>,
) -> Result<(StatusCode, Json<ServiceAccount>), ApiError> {
    let created = state
        .rbac
        .clone()
        .create_service_account(tenant.request(pb::CreateServiceAccountRequest {
            name: body.name,
            super_admin: body.super_admin,
        }))
        .await?
        .into_inner();
    Ok((StatusCode::CREATED, Json(service_account(created))))
}

/// List the tenant's service accounts.
#[utoipa::path(get, path = "/service-accounts", tag = "rbac", responses((status = 200, body = Page<ServiceAccount>)))]
async fn list_service_accounts(
    State(state): State<AppState>,
    tenant: Tenant,
) -> Result<Json<Page<ServiceAccount>>, ApiError> {
    let accounts = state
        .rbac
        .clone()
        .list_service_accounts(tenant.request(pb::ListServiceAccountsRequest {}))
        .await?
        .into_inner();
    Ok(Json(Page {
        results: accounts.results.into_iter().map(service_account).collect(),
        total: accounts.total,
    }))
}

/// Delete a service account with its tokens and bindings.
#[utoipa::path(delete, path = "/service-accounts/{name}", tag = "rbac", params(AccountName),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn delete_service_account(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(AccountName { name }): Path<AccountName>,
) -> Result<StatusCode, ApiError> {
    state
        .rbac
        .clone()
        .delete_service_account(tenant.request(pb::DeleteServiceAccountRequest { name }))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Create an API token for a service account; its value is shown once.
#[utoipa::path(post, path = "/service-accounts/{name}/tokens", tag = "rbac", params(AccountName),
    request_body = CreateApiToken, responses((status = 201, body = CreatedApiToken), (status = 404, body = ErrorBody)))]
async fn create_api_token(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(AccountName { name }): Path<AccountName>,
    JsonBody(body): JsonBody<CreateApiToken>,
) -> Result<(StatusCode, Json<CreatedApiToken>), ApiError> {
    let created = state
        .rbac
        .clone()
        .create_api_token(tenant.request(pb::CreateApiTokenRequest {
            service_account: name,
            name: body.name.unwrap_or_default(),
            expires_in: body.expires_in.unwrap_or(0),
        }))
        .await?
        .into_inner();
    let info = created.token.map(api_token).ok_or_else(|| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "auth-svc answered without the token",
        )
    })?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedApiToken {
            info,
            token: created.value,
        }),
    ))
}

/// List a service account's API tokens (never their values).
#[utoipa::path(get, path = "/service-accounts/{name}/tokens", tag = "rbac", params(AccountName),
    responses((status = 200, body = Page<ApiToken>)))]
async fn list_api_tokens(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(AccountName { name }): Path<AccountName>,
) -> Result<Json<Page<ApiToken>>, ApiError> {
    let tokens = state
        .rbac
        .clone()
        .list_api_tokens(tenant.request(pb::ListApiTokensRequest {
            service_account: name,
        }))
        .await?
        .into_inner();
    Ok(Json(Page {
        results: tokens.results.into_iter().map(api_token).collect(),
        total: tokens.total,
    }))
}

/// Revoke an API token; it stops working everywhere within seconds.
#[utoipa::path(delete, path = "/service-accounts/{name}/tokens/{id}", tag = "rbac", params(AccountToken),
    responses((status = 200, body = ApiToken), (status = 404, body = ErrorBody)))]
async fn revoke_api_token(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(AccountToken { name, id }): Path<AccountToken>,
) -> Result<Json<ApiToken>, ApiError> {
    let revoked = state
        .rbac
        .clone()
        .revoke_api_token(tenant.request(pb::RevokeApiTokenRequest {
            service_account: name,
            id,
        }))
        .await?
        .into_inner();
    Ok(Json(api_token(revoked)))
}

/// A group of users; bindings to the group apply to every member.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Group {
    pub name: String,
    /// Usernames.
    pub members: Vec<String>,
}

/// Body of `POST .../groups`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateGroup {
    pub name: String,
    /// Kestra's: accepted empty only.
    pub description: Option<String>,
    /// Kestra's roles of a group: accepted empty only (Aerie grants a
    /// group roles through bindings).
    #[schema(value_type = Option<Object>)]
    pub namespace_roles: Option<KObject>,
    pub global_roles: Option<Vec<String>>,
    /// Accepted for Kestra's clients: only `false`.
    pub deleted: Option<bool>,
}

/// Body of `POST .../groups/{group}/members`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddMember {
    pub username: String,
}

/// The group named in the path.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct GroupName {
    pub group: String,
}

/// The group and member named in the path.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct GroupMember {
    pub group: String,
    pub username: String,
}

fn group(group: pb::Group) -> Group {
    Group {
        name: group.name,
        members: group.members,
    }
}

/// Create a group in the tenant.
#[utoipa::path(post, path = "/groups", tag = "rbac", request_body = CreateGroup,
    responses((status = 201, body = Group), (status = 409, body = ErrorBody)))]
async fn create_group(
    State(state): State<AppState>,
    tenant: Tenant,
    JsonBody(body): JsonBody<CreateGroup>,
) -> Result<(StatusCode, Json<Group>), ApiError> {
    const BINDINGS: &str =
        "a group gets roles through bindings: POST /bindings {\"type\": \"GROUP\", ...}";
    refuse_unless_empty(&[
        (
            "description",
            &body.description,
            "a group is a name and its members",
        ),
        ("deleted", &body.deleted, "only `false`: delete with DELETE"),
        ("namespaceRoles", &body.namespace_roles, BINDINGS),
        ("globalRoles", &body.global_roles, BINDINGS),
    ])?;
    let created = state
        .rbac
        .clone()
        .create_group(tenant.request(pb::CreateGroupRequest { name: body.name }))
        .await?
        .into_inner();
    Ok((StatusCode::CREATED, Json(group(created))))
}

/// List the tenant's groups with their members.
#[utoipa::path(get, path = "/groups", tag = "rbac", responses((status = 200, body = Page<Group>)))]
async fn list_groups(
    State(state): State<AppState>,
    tenant: Tenant,
) -> Result<Json<Page<Group>>, ApiError> {
    let groups = state
        .rbac
        .clone()
        .list_groups(tenant.request(pb::ListGroupsRequest {}))
        .await?
        .into_inner();
    Ok(Json(Page {
        results: groups.results.into_iter().map(group).collect(),
        total: groups.total,
    }))
}

/// Delete a group, its memberships and its bindings.
#[utoipa::path(delete, path = "/groups/{group}", tag = "rbac", params(GroupName),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn delete_group(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(GroupName { group }): Path<GroupName>,
) -> Result<StatusCode, ApiError> {
    state
        .rbac
        .clone()
        .delete_group(tenant.request(pb::DeleteGroupRequest { name: group }))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Add a user to a group.
#[utoipa::path(post, path = "/groups/{group}/members", tag = "rbac", params(GroupName), request_body = AddMember,
    responses((status = 200, body = Group), (status = 404, body = ErrorBody)))]
async fn add_member(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(GroupName { group: name }): Path<GroupName>,
    JsonBody(body): JsonBody<AddMember>,
) -> Result<Json<Group>, ApiError> {
    let updated = state
        .rbac
        .clone()
        .add_group_member(tenant.request(pb::AddGroupMemberRequest {
            group: name,
            username: body.username,
        }))
        .await?
        .into_inner();
    Ok(Json(group(updated)))
}

/// Remove a user from a group.
#[utoipa::path(delete, path = "/groups/{group}/members/{username}", tag = "rbac", params(GroupMember),
    responses((status = 200, body = Group), (status = 404, body = ErrorBody)))]
async fn remove_member(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(GroupMember {
        group: name,
        username,
    }): Path<GroupMember>,
) -> Result<Json<Group>, ApiError> {
    let updated = state
        .rbac
        .clone()
        .remove_group_member(tenant.request(pb::RemoveGroupMemberRequest {
            group: name,
            username,
        }))
        .await?
        .into_inner();
    Ok(Json(group(updated)))
}

fn role(role: pb::Role) -> Role {
    Role {
        name: role.name,
        permissions: grant_texts(&role.grants),
        predefined: role.predefined,
    }
}

/// A role's grants as REST writes them (`FLOW:READ`).
pub fn grant_texts(grants: &[pb::Grant]) -> Vec<String> {
    grants
        .iter()
        .filter_map(|g| Grant::from_wire(g).ok())
        .map(|g| g.to_string())
        .collect()
}

/// REST's `FLOW:READ` texts on the wire; a malformed one is refused by
/// name (INVALID_ARGUMENT, as auth-svc refuses an incomplete role).
pub fn wire_grants(texts: &[String]) -> Result<Vec<pb::Grant>, tonic::Status> {
    texts
        .iter()
        .map(|text| Grant::parse(text).map(Grant::to_wire).map_err(Into::into))
        .collect()
}

/// A binding type as REST names it (`USER`).
pub fn binding_type_name(wire: i32) -> String {
    pb::BindingType::try_from(wire)
        .unwrap_or_default()
        .short_name()
        .to_owned()
}

/// REST's binding type on the wire; an unknown one is refused by name.
pub fn binding_type_of(name: &str) -> Result<i32, tonic::Status> {
    pb::BindingType::from_short_name(name)
        .map(|t| t as i32)
        .ok_or_else(|| {
            tonic::Status::invalid_argument(format!(
                "binding type '{}' must be USER, GROUP or SERVICE_ACCOUNT",
                name.chars().take(100).collect::<String>()
            ))
        })
}

fn binding(binding: pb::Binding) -> Binding {
    Binding {
        id: binding.id,
        type_: binding_type_name(binding.r#type),
        subject: binding.subject,
        role: binding.role,
        namespace: (!binding.namespace.is_empty()).then_some(binding.namespace),
    }
}

/// Create a custom role in the tenant.
#[utoipa::path(post, path = "/roles", tag = "rbac", request_body = CreateRole,
    responses((status = 201, body = Role), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn create_role(
    State(state): State<AppState>,
    tenant: Tenant,
    JsonBody(body): JsonBody<CreateRole>,
) -> Result<(StatusCode, Json<Role>), ApiError> {
    refuse_unless_empty(&[
        (
            "description",
            &body.description,
            "a role is a name and its permissions",
        ),
        ("deleted", &body.deleted, "only `false`: delete with DELETE"),
        (
            "namespaceId",
            &body.namespace_id,
            "roles are tenant-wide; a binding limits a role to a namespace",
        ),
        (
            "isDefault",
            &body.is_default,
            "no role is given by default; bind it, or run `aerie auths users sync-access`",
        ),
    ])?;
    let request = tenant.request(pb::CreateRoleRequest {
        name: body.name,
        grants: wire_grants(&body.permissions.texts())?,
    });
    let created = state.rbac.clone().create_role(request).await?.into_inner();
    Ok((StatusCode::CREATED, Json(role(created))))
}

/// List the tenant's roles, Admin included.
#[utoipa::path(get, path = "/roles", tag = "rbac", responses((status = 200, body = Page<Role>)))]
async fn list_roles(
    State(state): State<AppState>,
    tenant: Tenant,
) -> Result<Json<Page<Role>>, ApiError> {
    let roles = state
        .rbac
        .clone()
        .list_roles(tenant.request(pb::ListRolesRequest {}))
        .await?
        .into_inner();
    Ok(Json(Page {
        results: roles.results.into_iter().map(role).collect(),
        total: roles.total,
    }))
}

/// Delete an unused custom role.
#[utoipa::path(delete, path = "/roles/{name}", tag = "rbac", params(RoleName),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn delete_role(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(RoleName { name }): Path<RoleName>,
) -> Result<StatusCode, ApiError> {
    state
        .rbac
        .clone()
        .delete_role(tenant.request(pb::DeleteRoleRequest { name }))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Bind a role to a user in the tenant.
#[utoipa::path(post, path = "/bindings", tag = "rbac", request_body = CreateBinding,
    responses((status = 201, body = Binding), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_binding(
    State(state): State<AppState>,
    tenant: Tenant,
    JsonBody(body): JsonBody<CreateBinding>,
) -> Result<(StatusCode, Json<Binding>), ApiError> {
    refuse_renamed(&[
        (
            "externalId",
            &body.external_id,
            "`subject`: a username, group name or service-account name",
        ),
        ("roleId", &body.role_id, "`role`: the role's name"),
    ])?;
    refuse_unless_empty(&[("deleted", &body.deleted, "only `false`: delete with DELETE")])?;
    for (field, value) in [("subject", &body.subject), ("role", &body.role)] {
        if value.is_empty() {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("`{field}` is required"),
            ));
        }
    }
    let namespace = match (body.namespace, body.namespace_id) {
        (Some(a), Some(b)) if a != b => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "`namespace` and `namespaceId` differ; send one",
            ));
        }
        (a, b) => a.or(b).unwrap_or_default(),
    };
    let request = tenant.request(pb::CreateBindingRequest {
        r#type: binding_type_of(&body.type_)?,
        subject: body.subject,
        role: body.role,
        namespace,
    });
    let created = state
        .rbac
        .clone()
        .create_binding(request)
        .await?
        .into_inner();
    Ok((StatusCode::CREATED, Json(binding(created))))
}

/// List the tenant's bindings.
#[utoipa::path(get, path = "/bindings", tag = "rbac", responses((status = 200, body = Page<Binding>)))]
async fn list_bindings(
    State(state): State<AppState>,
    tenant: Tenant,
) -> Result<Json<Page<Binding>>, ApiError> {
    let bindings = state
        .rbac
        .clone()
        .list_bindings(tenant.request(pb::ListBindingsRequest {}))
        .await?
        .into_inner();
    Ok(Json(Page {
        results: bindings.results.into_iter().map(binding).collect(),
        total: bindings.total,
    }))
}

/// Delete a binding; access it gave ends within seconds everywhere.
#[utoipa::path(delete, path = "/bindings/{id}", tag = "rbac", params(BindingId),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn delete_binding(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(BindingId { id }): Path<BindingId>,
) -> Result<StatusCode, ApiError> {
    state
        .rbac
        .clone()
        .delete_binding(tenant.request(pb::DeleteBindingRequest { id }))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
