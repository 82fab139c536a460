//! The gRPC face of auth-svc: decode, authorize the caller, call the core,
//! encode. AuthService, UserService and RbacService.

use aerie_common::audit::AuditEntry;
use aerie_common::auth::{PrincipalKind, caller_of};
use aerie_common::paging::PageRequest;
use aerie_common::tenant::scoped_tenant;
use aerie_common::time::to_timestamp as timestamp;
use aerie_common::{ServiceError, TenantId};
use aerie_proto::auth::v1 as pb;
use aerie_proto::auth::v1::audit_service_server::AuditService;
use aerie_proto::auth::v1::auth_service_server::AuthService;
use aerie_proto::auth::v1::rbac_service_server::RbacService;
use aerie_proto::auth::v1::user_service_server::UserService;
use sea_orm::{DatabaseTransaction, TransactionTrait};
use tonic::{Request, Response, Status};

use crate::core::{Core, Principal, User};
use crate::domain::{self, ADMIN_ROLE, Action, Grant, Permission, SubjectType};
use crate::repo;

/// Implements AuthService, UserService and RbacService over one core.
#[derive(Clone)]
pub struct AuthApi {
    core: Core,
}

impl AuthApi {
    pub fn new(core: Core) -> AuthApi {
        AuthApi { core }
    }

    /// The live principal behind the verified caller: a deleted user's or
    /// service account's tokens stop working here even before they expire.
    async fn caller_principal<T>(&self, request: &Request<T>) -> Result<Principal, Status> {
        let caller = caller_of(request)?;
        let gone = || Status::unauthenticated("this token's principal no longer exists");
        match caller.kind {
            PrincipalKind::User => repo::find_user(&self.core.db, &caller.id)
                .await
                .map_err(ServiceError::from)?
                .map(Principal::from)
                .ok_or_else(gone),
            PrincipalKind::ServiceAccount => {
                let account = repo::find_service_account_by_id(&self.core.db, &caller.id)
                    .await
                    .map_err(ServiceError::from)?
                    .ok_or_else(gone)?;
                Ok(Principal {
                    kind: PrincipalKind::ServiceAccount,
                    home: TenantId::from_storage_key(&account.tenant).ok(),
                    id: account.id,
                    name: account.name,
                    super_admin: account.super_admin,
                })
            }
        }
    }

    async fn require_super_admin<T>(&self, request: &Request<T>) -> Result<Principal, Status> {
        let user = self.caller_principal(request).await?;
        if user.super_admin {
            Ok(user)
        } else {
            Err(Status::permission_denied(
                "only a super admin may manage users and keys",
            ))
        }
    }

    /// The request's tenant and its live caller, authorized for
    /// `permission:action`. The tenant must exist, and a caller who may not
    /// use it at all finds it "not found", exactly as through the gateway.
    async fn authorize<T>(
        &self,
        request: &Request<T>,
        permission: Permission,
        action: Action,
    ) -> Result<(TenantId, Principal), Status> {
        let tenant = scoped_tenant(request, &self.core.policy)?;
        self.core
            .tenants
            .resolve(&tenant, &caller_of(request)?)
            .await?;
        let user = self.caller_principal(request).await?;
        let grant = Grant(permission, action);
        if self
            .core
            .evaluate(&user, &tenant, Some(grant), None)
            .await?
        {
            return Ok((tenant, user));
        }
        if !self.core.evaluate(&user, &tenant, None, None).await? {
            return Err(Status::not_found(format!("tenant {tenant} not found")));
        }
        Err(Status::permission_denied(format!(
            "{} may not {} {} in {tenant}",
            user.name,
            action.as_str(),
            permission.as_str()
        )))
    }
}

/// Only a super admin may act on a super-admin principal (create or revoke
/// its tokens, delete it, bind it, add it to or remove it from a group):
/// nothing a tenant Admin can do yields instance power.
fn guard_super_admin_target(
    me: &Principal,
    target_is_super_admin: bool,
    target: impl FnOnce() -> String,
) -> Result<(), Status> {
    if target_is_super_admin && !me.super_admin {
        return Err(Status::permission_denied(format!(
            "{} is a super admin: only a super admin may change it, its tokens, bindings or groups",
            target()
        )));
    }
    Ok(())
}

fn user_pb(user: User) -> pb::User {
    pb::User {
        id: user.id,
        username: user.username,
        super_admin: user.super_admin,
        create_time: Some(timestamp(user.create_time)),
    }
}

/// Where a login attempt comes from, for throttling: the client address
/// the gateway found (believed only with the internal service credential,
/// so a direct caller cannot choose the source its failures count against),
/// else the peer address.
fn source_of<T>(request: &Request<T>, service_token: &str) -> String {
    let from_gateway = aerie_common::audit::require_service_token(request, service_token).is_ok();
    request
        .metadata()
        .get("x-forwarded-for")
        .filter(|_| from_gateway)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<std::net::IpAddr>().ok())
        .map(|ip| ip.to_string())
        .or_else(|| request.remote_addr().map(|a| a.ip().to_string()))
        .unwrap_or_else(|| "unknown".to_owned())
}

#[tonic::async_trait]
impl AuthService for AuthApi {
    async fn issue_token(
        &self,
        request: Request<pb::IssueTokenRequest>,
    ) -> Result<Response<pb::IssueTokenResponse>, Status> {
        let source = source_of(&request, &self.core.service_token);
        let body = request.into_inner();
        let token = self
            .core
            .login(&body.username, &body.password, &source)
            .await?;
        Ok(Response::new(pb::IssueTokenResponse {
            access_token: token,
            token_type: "Bearer".to_owned(),
            expires_in: self.core.token_ttl.as_secs(),
        }))
    }

    async fn get_jwks(&self, _: Request<pb::GetJwksRequest>) -> Result<Response<pb::Jwks>, Status> {
        let keys = self.core.published_keys().await?;
        Ok(Response::new(pb::Jwks {
            keys: keys.iter().map(crate::tokens::jwk).collect(),
        }))
    }

    async fn rotate_signing_key(
        &self,
        request: Request<pb::RotateSigningKeyRequest>,
    ) -> Result<Response<pb::SigningKeyInfo>, Status> {
        let me = self.require_super_admin(&request).await?;
        let key = self.core.rotate_key(&me.name).await?;
        Ok(Response::new(pb::SigningKeyInfo {
            kid: key.kid,
            create_time: Some(timestamp(key.create_time)),
        }))
    }

    async fn get_me(&self, request: Request<pb::GetMeRequest>) -> Result<Response<pb::Me>, Status> {
        let user = self.caller_principal(&request).await?;
        let tenants = self.core.tenants_of(&user).await?;
        Ok(Response::new(pb::Me {
            username: user.name,
            super_admin: user.super_admin,
            tenants: tenants
                .iter()
                .map(|t| pb::TenantRef {
                    id: t.as_named().unwrap_or_default().to_owned(),
                    name: String::new(),
                })
                .collect(),
        }))
    }

    async fn check_access(
        &self,
        request: Request<pb::CheckAccessRequest>,
    ) -> Result<Response<pb::CheckAccessResponse>, Status> {
        let user = self.caller_principal(&request).await?;
        let grant = if request.get_ref().permission.is_empty() {
            None
        } else {
            Some(Grant(
                Permission::parse(&request.get_ref().permission)?,
                Action::parse(&request.get_ref().action)?,
            ))
        };
        let tenant_creation = grant == Some(Grant(Permission::Tenant, Action::Create));
        // Who may create tenants is decided in the default tenant, also when
        // the default tenant is not reachable for data.
        let tenant = if tenant_creation {
            TenantId::default_tenant()
        } else {
            scoped_tenant(&request, &self.core.policy)?
        };
        let body = request.into_inner();
        let namespace = (!body.namespace.is_empty()).then_some(body.namespace.as_str());
        let allowed = self.core.evaluate(&user, &tenant, grant, namespace).await?;
        Ok(Response::new(pb::CheckAccessResponse { allowed }))
    }

    async fn get_granted_namespaces(
        &self,
        request: Request<pb::GetGrantedNamespacesRequest>,
    ) -> Result<Response<pb::GetGrantedNamespacesResponse>, Status> {
        let user = self.caller_principal(&request).await?;
        let tenant = scoped_tenant(&request, &self.core.policy)?;
        let body = request.into_inner();
        let grant = Grant(
            Permission::parse(&body.permission)?,
            Action::parse(&body.action)?,
        );
        let granted = self.core.granted_namespaces(&user, &tenant, grant).await?;
        Ok(Response::new(pb::GetGrantedNamespacesResponse {
            everywhere: granted.is_none(),
            namespaces: granted.unwrap_or_default(),
        }))
    }

    async fn authenticate_api_token(
        &self,
        request: Request<pb::AuthenticateApiTokenRequest>,
    ) -> Result<Response<pb::Principal>, Status> {
        let rejected = || Status::unauthenticated("unknown, expired or revoked API token");
        let hash = crate::tokens::api_token_hash(&request.into_inner().token);
        let token = repo::find_api_token_by_hash(&self.core.db, &hash)
            .await
            .map_err(ServiceError::from)?
            .filter(|t| !t.revoked && t.expire_time.is_none_or(|e| e > chrono::Utc::now()))
            .ok_or_else(rejected)?;
        let account = repo::find_service_account_by_id(&self.core.db, &token.service_account_id)
            .await
            .map_err(ServiceError::from)?
            .filter(|a| a.tenant == token.tenant)
            .ok_or_else(rejected)?;
        Ok(Response::new(pb::Principal {
            kind: PrincipalKind::ServiceAccount.as_str().to_owned(),
            id: account.id,
            name: account.name,
        }))
    }

    async fn grant_tenant_creator(
        &self,
        request: Request<pb::GrantTenantCreatorRequest>,
    ) -> Result<Response<pb::GrantTenantCreatorResponse>, Status> {
        // Only tenant-svc, creating the tenant right now, may ask: otherwise
        // anyone allowed to create tenants could make themself Admin of an
        // existing one.
        self.require_service(&request)?;
        let user = self.caller_principal(&request).await?;
        let create = Grant(Permission::Tenant, Action::Create);
        if !self
            .core
            .evaluate(&user, &TenantId::default_tenant(), Some(create), None)
            .await?
        {
            return Err(Status::permission_denied(format!(
                "{} may not create tenants",
                user.name
            )));
        }
        let body = request.into_inner();
        let tenant = TenantId::parse(&body.tenant)
            .map_err(|e| ServiceError::InvalidArgument(e.to_string()))?;
        // Checked before anything is bound, so that a refusal leaves nothing.
        if let Some(admin) = repo::find_user_by_name(&self.core.db, &body.admin_username)
            .await
            .map_err(ServiceError::from)?
        {
            guard_super_admin_target(&user, admin.super_admin, || {
                format!("user '{}'", admin.username)
            })?;
        }
        // A super admin assigns roles explicitly; a user who creates a
        // tenant becomes its Admin. A service account belongs to its own
        // tenant and is bound nowhere else.
        if user.kind == PrincipalKind::User && !user.super_admin {
            self.core
                .bind(
                    &tenant,
                    SubjectType::User,
                    &user.id,
                    ADMIN_ROLE,
                    None,
                    &user.name,
                )
                .await?;
        }
        if !body.admin_username.is_empty() {
            self.core
                .grant_admin(&tenant, &body.admin_username, &user.name)
                .await?;
        }
        Ok(Response::new(pb::GrantTenantCreatorResponse {}))
    }
}

#[tonic::async_trait]
impl UserService for AuthApi {
    async fn create_user(
        &self,
        request: Request<pb::CreateUserRequest>,
    ) -> Result<Response<pb::User>, Status> {
        let me = self.require_super_admin(&request).await?;
        let body = request.into_inner();
        let user = self
            .core
            .create_user(&body.username, &body.password, body.super_admin, &me.name)
            .await?;
        Ok(Response::new(user_pb(user)))
    }

    async fn get_user(
        &self,
        request: Request<pb::GetUserRequest>,
    ) -> Result<Response<pb::User>, Status> {
        self.require_super_admin(&request).await?;
        let user = self.core.find_user(&request.into_inner().id).await?;
        Ok(Response::new(user_pb(user)))
    }

    async fn list_users(
        &self,
        request: Request<pb::ListUsersRequest>,
    ) -> Result<Response<pb::ListUsersResponse>, Status> {
        self.require_super_admin(&request).await?;
        let body = request.into_inner();
        let (users, total) = self
            .core
            .list_users(PageRequest::new(body.page, body.size)?)
            .await?;
        Ok(Response::new(pb::ListUsersResponse {
            results: users.into_iter().map(user_pb).collect(),
            total,
        }))
    }

    async fn update_user(
        &self,
        request: Request<pb::UpdateUserRequest>,
    ) -> Result<Response<pb::User>, Status> {
        let me = self.require_super_admin(&request).await?;
        let body = request.into_inner();
        let user = self.core.find_user(&body.id).await?;
        if user.id == me.id && body.super_admin == Some(false) {
            return Err(Status::failed_precondition(
                "a super admin cannot remove their own super-admin flag",
            ));
        }
        let hash = if body.password.is_empty() {
            None
        } else {
            domain::check_password(&body.password)?;
            Some(self.core.hash_password(body.password).await?)
        };
        let txn = self.begin().await?;
        let password_changed = hash.is_some();
        repo::update_user(&txn, &user.id, hash, body.super_admin)
            .await
            .map_err(ServiceError::from)?;
        let entry = AuditEntry::new(&TenantId::default_tenant(), "USER", &user.username, "UPDATE", &me.name)
            .with_details(serde_json::json!({"passwordChanged": password_changed, "superAdmin": body.super_admin}));
        self.commit(txn, entry).await?;
        let user = self.core.find_user(&user.id).await?;
        Ok(Response::new(user_pb(user)))
    }

    async fn delete_user(
        &self,
        request: Request<pb::DeleteUserRequest>,
    ) -> Result<Response<pb::DeleteUserResponse>, Status> {
        let me = self.require_super_admin(&request).await?;
        let user = self.core.find_user(&request.into_inner().id).await?;
        if user.id == me.id {
            return Err(Status::failed_precondition(
                "a super admin cannot delete themself",
            ));
        }
        let txn = self.begin().await?;
        repo::delete_user(&txn, &user.id)
            .await
            .map_err(ServiceError::from)?;
        let entry = AuditEntry::new(
            &TenantId::default_tenant(),
            "USER",
            &user.username,
            "DELETE",
            &me.name,
        );
        self.commit(txn, entry).await?;
        tracing::info!(username = %user.username, "user deleted");
        Ok(Response::new(pb::DeleteUserResponse {}))
    }
}

fn role_pb(name: String, permissions: Vec<String>, predefined: bool) -> pb::Role {
    pb::Role {
        name,
        permissions,
        predefined,
    }
}

#[tonic::async_trait]
impl RbacService for AuthApi {
    async fn create_role(
        &self,
        request: Request<pb::CreateRoleRequest>,
    ) -> Result<Response<pb::Role>, Status> {
        let (tenant, me) = self
            .authorize(&request, Permission::Role, Action::Create)
            .await?;
        let body = request.into_inner();
        let name = domain::parse_name("role", &body.name)?;
        if name == ADMIN_ROLE {
            return Err(Status::already_exists("role 'Admin' is predefined"));
        }
        let grants = domain::parse_grants(&body.permissions)?;
        let texts: Vec<String> = grants.iter().map(ToString::to_string).collect();
        let txn = self.begin().await?;
        match repo::insert_role(&txn, &tenant, &name, &texts.join(",")).await {
            Ok(()) => {
                let entry = AuditEntry::new(&tenant, "ROLE", &name, "CREATE", &me.name)
                    .with_details(serde_json::json!({"permissions": texts}));
                self.commit(txn, entry).await?;
                Ok(Response::new(role_pb(name, texts, false)))
            }
            Err(err) if repo::is_conflict(&err) => Err(Status::already_exists(format!(
                "role '{name}' already exists in {tenant}"
            ))),
            Err(err) => Err(ServiceError::from(err).into()),
        }
    }

    async fn list_roles(
        &self,
        request: Request<pb::ListRolesRequest>,
    ) -> Result<Response<pb::ListRolesResponse>, Status> {
        let (tenant, _) = self
            .authorize(&request, Permission::Role, Action::Read)
            .await?;
        let admin = role_pb(
            ADMIN_ROLE.to_owned(),
            domain::all_grants()
                .iter()
                .map(ToString::to_string)
                .collect(),
            true,
        );
        let custom = repo::list_roles(&self.core.db, &tenant)
            .await
            .map_err(ServiceError::from)?
            .into_iter()
            .map(|row| {
                role_pb(
                    row.name,
                    row.permissions.split(',').map(str::to_owned).collect(),
                    false,
                )
            });
        let results: Vec<pb::Role> = std::iter::once(admin).chain(custom).collect();
        Ok(Response::new(pb::ListRolesResponse {
            total: results.len() as u64,
            results,
        }))
    }

    async fn delete_role(
        &self,
        request: Request<pb::DeleteRoleRequest>,
    ) -> Result<Response<pb::DeleteRoleResponse>, Status> {
        let (tenant, me) = self
            .authorize(&request, Permission::Role, Action::Delete)
            .await?;
        let name = request.into_inner().name;
        if name == ADMIN_ROLE {
            return Err(Status::failed_precondition(
                "role 'Admin' is predefined and cannot be deleted",
            ));
        }
        let txn = self.begin().await?;
        match repo::delete_unused_role(&txn, &tenant, &name)
            .await
            .map_err(ServiceError::from)?
        {
            None => Err(Status::not_found(format!("role '{name}' not found"))),
            Some(false) => Err(Status::failed_precondition(format!(
                "role '{name}' is used by bindings; delete them first"
            ))),
            Some(true) => {
                let entry = AuditEntry::new(&tenant, "ROLE", &name, "DELETE", &me.name);
                self.commit(txn, entry).await?;
                Ok(Response::new(pb::DeleteRoleResponse {}))
            }
        }
    }

    async fn create_binding(
        &self,
        request: Request<pb::CreateBindingRequest>,
    ) -> Result<Response<pb::Binding>, Status> {
        let (tenant, me) = self
            .authorize(&request, Permission::Binding, Action::Create)
            .await?;
        let body = request.into_inner();
        let subject_type = SubjectType::parse(&body.r#type)?;
        let namespace = if body.namespace.is_empty() {
            None
        } else {
            Some(domain::parse_namespace(&body.namespace)?)
        };
        let (subject_id, subject_super_admin) = match subject_type {
            SubjectType::User => repo::find_user_by_name(&self.core.db, &body.subject)
                .await
                .map_err(ServiceError::from)?
                .map(|u| (u.id, u.super_admin))
                .ok_or_else(|| {
                    Status::invalid_argument(format!("user '{}' does not exist", body.subject))
                })?,
            SubjectType::Group => repo::find_group(&self.core.db, &tenant, &body.subject)
                .await
                .map_err(ServiceError::from)?
                .map(|g| (g.id, false))
                .ok_or_else(|| {
                    Status::invalid_argument(format!(
                        "group '{}' does not exist in {tenant}",
                        body.subject
                    ))
                })?,
            SubjectType::ServiceAccount => {
                repo::find_service_account(&self.core.db, &tenant, &body.subject)
                    .await
                    .map_err(ServiceError::from)?
                    .map(|a| (a.id, a.super_admin))
                    .ok_or_else(|| {
                        Status::invalid_argument(format!(
                            "service account '{}' does not exist in {tenant}",
                            body.subject
                        ))
                    })?
            }
        };
        guard_super_admin_target(&me, subject_super_admin, || {
            format!(
                "{} '{}'",
                subject_type.as_str().to_lowercase(),
                body.subject
            )
        })?;
        let binding = self
            .core
            .bind(
                &tenant,
                subject_type,
                &subject_id,
                &body.role,
                namespace,
                &me.name,
            )
            .await?;
        Ok(Response::new(pb::Binding {
            id: binding.id,
            r#type: binding.subject_type,
            subject: body.subject,
            role: binding.role,
            namespace: binding.namespace.unwrap_or_default(),
        }))
    }

    async fn list_bindings(
        &self,
        request: Request<pb::ListBindingsRequest>,
    ) -> Result<Response<pb::ListBindingsResponse>, Status> {
        let (tenant, _) = self
            .authorize(&request, Permission::Binding, Action::Read)
            .await?;
        let rows = repo::list_bindings(&self.core.db, &tenant)
            .await
            .map_err(ServiceError::from)?;
        let mut results = Vec::with_capacity(rows.len());
        for row in rows {
            let subject = match SubjectType::parse(&row.subject_type)? {
                SubjectType::Group => {
                    repo::find_group_by_id(&self.core.db, &tenant, &row.subject_id)
                        .await
                        .map_err(ServiceError::from)?
                        .map(|g| g.name)
                }
                SubjectType::ServiceAccount => {
                    repo::find_service_account_by_id(&self.core.db, &row.subject_id)
                        .await
                        .map_err(ServiceError::from)?
                        .map(|a| a.name)
                }
                SubjectType::User => repo::find_user(&self.core.db, &row.subject_id)
                    .await
                    .map_err(ServiceError::from)?
                    .map(|u| u.username),
            }
            .unwrap_or_default();
            results.push(pb::Binding {
                id: row.id,
                r#type: row.subject_type,
                subject,
                role: row.role,
                namespace: row.namespace.unwrap_or_default(),
            });
        }
        Ok(Response::new(pb::ListBindingsResponse {
            total: results.len() as u64,
            results,
        }))
    }

    async fn delete_binding(
        &self,
        request: Request<pb::DeleteBindingRequest>,
    ) -> Result<Response<pb::DeleteBindingResponse>, Status> {
        let (tenant, me) = self
            .authorize(&request, Permission::Binding, Action::Delete)
            .await?;
        let id = request.into_inner().id;
        if let Some(binding) = repo::find_binding_by_id(&self.core.db, &tenant, &id)
            .await
            .map_err(ServiceError::from)?
        {
            let super_admin = self.subject_is_super_admin(&binding).await?;
            guard_super_admin_target(&me, super_admin, || {
                format!("the subject of binding '{id}'")
            })?;
        }
        let txn = self.begin().await?;
        if !repo::delete_binding(&txn, &tenant, &id)
            .await
            .map_err(ServiceError::from)?
        {
            return Err(Status::not_found(format!("binding '{id}' not found")));
        }
        self.commit(
            txn,
            AuditEntry::new(&tenant, "BINDING", &id, "DELETE", &me.name),
        )
        .await?;
        tracing::info!(%tenant, binding = %id, "binding deleted");
        Ok(Response::new(pb::DeleteBindingResponse {}))
    }

    async fn create_group(
        &self,
        request: Request<pb::CreateGroupRequest>,
    ) -> Result<Response<pb::Group>, Status> {
        let (tenant, me) = self
            .authorize(&request, Permission::Group, Action::Create)
            .await?;
        let name = domain::parse_name("group", &request.into_inner().name)?;
        let txn = self.begin().await?;
        match repo::insert_group(&txn, &tenant, &name).await {
            Ok(_) => {
                self.commit(
                    txn,
                    AuditEntry::new(&tenant, "GROUP", &name, "CREATE", &me.name),
                )
                .await?;
                Ok(Response::new(pb::Group {
                    name,
                    members: Vec::new(),
                }))
            }
            Err(err) if repo::is_conflict(&err) => Err(Status::already_exists(format!(
                "group '{name}' already exists in {tenant}"
            ))),
            Err(err) => Err(ServiceError::from(err).into()),
        }
    }

    async fn list_groups(
        &self,
        request: Request<pb::ListGroupsRequest>,
    ) -> Result<Response<pb::ListGroupsResponse>, Status> {
        let (tenant, _) = self
            .authorize(&request, Permission::Group, Action::Read)
            .await?;
        let groups = repo::list_groups(&self.core.db, &tenant)
            .await
            .map_err(ServiceError::from)?;
        let mut results = Vec::with_capacity(groups.len());
        for group in groups {
            let members = repo::member_names(&self.core.db, &tenant, &group.id)
                .await
                .map_err(ServiceError::from)?;
            results.push(pb::Group {
                name: group.name,
                members,
            });
        }
        Ok(Response::new(pb::ListGroupsResponse {
            total: results.len() as u64,
            results,
        }))
    }

    async fn delete_group(
        &self,
        request: Request<pb::DeleteGroupRequest>,
    ) -> Result<Response<pb::DeleteGroupResponse>, Status> {
        let (tenant, me) = self
            .authorize(&request, Permission::Group, Action::Delete)
            .await?;
        let name = request.into_inner().name;
        let txn = self.begin().await?;
        if !repo::delete_group(&txn, &tenant, &name)
            .await
            .map_err(ServiceError::from)?
        {
            return Err(Status::not_found(format!("group '{name}' not found")));
        }
        self.commit(
            txn,
            AuditEntry::new(&tenant, "GROUP", &name, "DELETE", &me.name),
        )
        .await?;
        Ok(Response::new(pb::DeleteGroupResponse {}))
    }

    async fn add_group_member(
        &self,
        request: Request<pb::AddGroupMemberRequest>,
    ) -> Result<Response<pb::Group>, Status> {
        let (tenant, me) = self
            .authorize(&request, Permission::Group, Action::Update)
            .await?;
        let body = request.into_inner();
        let (group, user) = self
            .group_and_user(&tenant, &body.group, &body.username)
            .await?;
        guard_super_admin_target(&me, user.super_admin, || {
            format!("user '{}'", user.username)
        })?;
        let txn = self.begin().await?;
        repo::add_member(&txn, &tenant, &group.id, &user.id)
            .await
            .map_err(ServiceError::from)?;
        let entry = AuditEntry::new(&tenant, "GROUP", &group.name, "UPDATE", &me.name)
            .with_details(serde_json::json!({"added": user.username}));
        self.commit(txn, entry).await?;
        self.group_pb(&tenant, group).await
    }

    async fn remove_group_member(
        &self,
        request: Request<pb::RemoveGroupMemberRequest>,
    ) -> Result<Response<pb::Group>, Status> {
        let (tenant, me) = self
            .authorize(&request, Permission::Group, Action::Update)
            .await?;
        let body = request.into_inner();
        let (group, user) = self
            .group_and_user(&tenant, &body.group, &body.username)
            .await?;
        guard_super_admin_target(&me, user.super_admin, || {
            format!("user '{}'", user.username)
        })?;
        let txn = self.begin().await?;
        if !repo::remove_member(&txn, &tenant, &group.id, &user.id)
            .await
            .map_err(ServiceError::from)?
        {
            return Err(Status::not_found(format!(
                "user '{}' is not a member of group '{}'",
                body.username, body.group
            )));
        }
        let entry = AuditEntry::new(&tenant, "GROUP", &group.name, "UPDATE", &me.name)
            .with_details(serde_json::json!({"removed": user.username}));
        self.commit(txn, entry).await?;
        self.group_pb(&tenant, group).await
    }

    async fn create_service_account(
        &self,
        request: Request<pb::CreateServiceAccountRequest>,
    ) -> Result<Response<pb::ServiceAccount>, Status> {
        let (tenant, me) = self
            .authorize(&request, Permission::ServiceAccount, Action::Create)
            .await?;
        let body = request.into_inner();
        if body.super_admin && !me.super_admin {
            return Err(Status::permission_denied(
                "only a super admin may create a super-admin service account",
            ));
        }
        let name = domain::parse_name("service account", &body.name)?;
        let txn = self.begin().await?;
        match repo::insert_service_account(&txn, &tenant, &name, body.super_admin).await {
            Ok(account) => {
                let entry = AuditEntry::new(&tenant, "SERVICE_ACCOUNT", &name, "CREATE", &me.name)
                    .with_details(serde_json::json!({"superAdmin": body.super_admin}));
                self.commit(txn, entry).await?;
                Ok(Response::new(service_account_pb(account)))
            }
            Err(err) if repo::is_conflict(&err) => Err(Status::already_exists(format!(
                "service account '{name}' already exists in {tenant}"
            ))),
            Err(err) => Err(ServiceError::from(err).into()),
        }
    }

    async fn list_service_accounts(
        &self,
        request: Request<pb::ListServiceAccountsRequest>,
    ) -> Result<Response<pb::ListServiceAccountsResponse>, Status> {
        let (tenant, _) = self
            .authorize(&request, Permission::ServiceAccount, Action::Read)
            .await?;
        let accounts = repo::list_service_accounts(&self.core.db, &tenant)
            .await
            .map_err(ServiceError::from)?;
        Ok(Response::new(pb::ListServiceAccountsResponse {
            total: accounts.len() as u64,
            results: accounts.into_iter().map(service_account_pb).collect(),
        }))
    }

    async fn delete_service_account(
        &self,
        request: Request<pb::DeleteServiceAccountRequest>,
    ) -> Result<Response<pb::DeleteServiceAccountResponse>, Status> {
        let (tenant, me) = self
            .authorize(&request, Permission::ServiceAccount, Action::Delete)
            .await?;
        let name = request.into_inner().name;
        let account = self.service_account(&tenant, &name).await?;
        guard_super_admin_target(&me, account.super_admin, || {
            format!("service account '{name}'")
        })?;
        let txn = self.begin().await?;
        if !repo::delete_service_account(&txn, &tenant, &name)
            .await
            .map_err(ServiceError::from)?
        {
            return Err(Status::not_found(format!(
                "service account '{name}' not found"
            )));
        }
        let entry = AuditEntry::new(&tenant, "SERVICE_ACCOUNT", &name, "DELETE", &me.name);
        self.commit(txn, entry).await?;
        Ok(Response::new(pb::DeleteServiceAccountResponse {}))
    }

    async fn create_api_token(
        &self,
        request: Request<pb::CreateApiTokenRequest>,
    ) -> Result<Response<pb::CreatedApiToken>, Status> {
        let (tenant, me) = self
            .authorize(&request, Permission::ServiceAccount, Action::Update)
            .await?;
        let body = request.into_inner();
        let account = self.service_account(&tenant, &body.service_account).await?;
        guard_super_admin_target(&me, account.super_admin, || {
            format!("service account '{}'", account.name)
        })?;
        let name = if body.name.is_empty() {
            "token".to_owned()
        } else {
            domain::parse_name("token", &body.name)?
        };
        let value = crate::tokens::new_api_token();
        let created = repo::now();
        let expire_time = (body.expires_in > 0).then(|| {
            created
                + chrono::Duration::seconds(
                    i64::try_from(body.expires_in).unwrap_or(i64::MAX / 1000),
                )
        });
        let token = repo::api_tokens::Model {
            id: uuid::Uuid::new_v4().to_string(),
            tenant: tenant.storage_key().to_owned(),
            service_account_id: account.id,
            name,
            prefix: value.chars().take(12).collect(),
            hash: crate::tokens::api_token_hash(&value),
            create_time: created,
            expire_time,
            revoked: false,
        };
        let txn = self.begin().await?;
        repo::insert_api_token(&txn, &tenant, token.clone())
            .await
            .map_err(ServiceError::from)?;
        let entry = AuditEntry::new(&tenant, "API_TOKEN", &token.id, "CREATE", &me.name).with_details(
            serde_json::json!({"serviceAccount": account.name, "name": token.name, "prefix": token.prefix}),
        );
        self.commit(txn, entry).await?;
        Ok(Response::new(pb::CreatedApiToken {
            token: Some(api_token_pb(token)),
            value,
        }))
    }

    async fn list_api_tokens(
        &self,
        request: Request<pb::ListApiTokensRequest>,
    ) -> Result<Response<pb::ListApiTokensResponse>, Status> {
        let (tenant, _) = self
            .authorize(&request, Permission::ServiceAccount, Action::Read)
            .await?;
        let account = self
            .service_account(&tenant, &request.into_inner().service_account)
            .await?;
        let tokens = repo::list_api_tokens(&self.core.db, &tenant, &account.id)
            .await
            .map_err(ServiceError::from)?;
        Ok(Response::new(pb::ListApiTokensResponse {
            total: tokens.len() as u64,
            results: tokens.into_iter().map(api_token_pb).collect(),
        }))
    }

    async fn revoke_api_token(
        &self,
        request: Request<pb::RevokeApiTokenRequest>,
    ) -> Result<Response<pb::ApiToken>, Status> {
        let (tenant, me) = self
            .authorize(&request, Permission::ServiceAccount, Action::Update)
            .await?;
        let body = request.into_inner();
        let account = self.service_account(&tenant, &body.service_account).await?;
        guard_super_admin_target(&me, account.super_admin, || {
            format!("service account '{}'", account.name)
        })?;
        let txn = self.begin().await?;
        let token = repo::revoke_api_token(&txn, &tenant, &account.id, &body.id)
            .await
            .map_err(ServiceError::from)?
            .ok_or_else(|| Status::not_found(format!("API token '{}' not found", body.id)))?;
        let entry = AuditEntry::new(&tenant, "API_TOKEN", &token.id, "DELETE", &me.name)
            .with_details(serde_json::json!({"serviceAccount": account.name, "revoked": true}));
        self.commit(txn, entry).await?;
        Ok(Response::new(api_token_pb(token)))
    }
}

fn service_account_pb(account: repo::service_accounts::Model) -> pb::ServiceAccount {
    pb::ServiceAccount {
        name: account.name,
        super_admin: account.super_admin,
        create_time: Some(timestamp(account.create_time)),
    }
}

fn api_token_pb(token: repo::api_tokens::Model) -> pb::ApiToken {
    pb::ApiToken {
        id: token.id,
        name: token.name,
        prefix: token.prefix,
        create_time: Some(timestamp(token.create_time)),
        expire_time: token.expire_time.map(timestamp),
        revoked: token.revoked,
    }
}

#[tonic::async_trait]
impl AuditService for AuthApi {
    async fn record_audit_entries(
        &self,
        request: Request<pb::RecordAuditEntriesRequest>,
    ) -> Result<Response<pb::RecordAuditEntriesResponse>, Status> {
        self.require_service(&request)?;
        let mut stored = 0;
        for entry in request.into_inner().entries {
            let tenant = if entry.tenant.is_empty() {
                TenantId::default_tenant()
            } else {
                TenantId::parse(&entry.tenant)
                    .map_err(|e| Status::invalid_argument(e.to_string()))?
            };
            let row = repo::audit_logs::Model {
                id: entry.id,
                tenant: tenant.storage_key().to_owned(),
                resource_type: entry.resource_type,
                resource_id: entry.resource_id,
                action: entry.action,
                actor: entry.actor,
                time: aerie_common::time::from_timestamp(entry.time.as_ref())
                    .unwrap_or_else(repo::now),
                details: entry.details,
            };
            if repo::insert_audit(&self.core.db, &tenant, row)
                .await
                .map_err(ServiceError::from)?
            {
                stored += 1;
            }
        }
        Ok(Response::new(pb::RecordAuditEntriesResponse { stored }))
    }

    async fn search_audit_logs(
        &self,
        request: Request<pb::SearchAuditLogsRequest>,
    ) -> Result<Response<pb::SearchAuditLogsResponse>, Status> {
        let (tenant, _) = self
            .authorize(&request, Permission::Auditlog, Action::Read)
            .await?;
        let body = request.into_inner();
        let page = PageRequest::new(body.page, body.size)?;
        let filter = |text: &str| (!text.is_empty()).then_some(text.to_owned());
        let (rows, total) = repo::search_audit(
            &self.core.db,
            &tenant,
            filter(&body.resource_type).as_deref(),
            filter(&body.resource_id).as_deref(),
            page,
        )
        .await
        .map_err(ServiceError::from)?;
        Ok(Response::new(pb::SearchAuditLogsResponse {
            results: rows
                .into_iter()
                .map(|row| pb::AuditEntry {
                    id: row.id,
                    tenant: tenant.as_named().unwrap_or_default().to_owned(),
                    resource_type: row.resource_type,
                    resource_id: row.resource_id,
                    action: row.action,
                    actor: row.actor,
                    time: Some(timestamp(row.time)),
                    details: row.details,
                })
                .collect(),
            total,
        }))
    }
}

impl AuthApi {
    /// Calls only another Aerie service may make (internal credential).
    fn require_service<T>(&self, request: &Request<T>) -> Result<(), Status> {
        aerie_common::audit::require_service_token(request, &self.core.service_token)
    }

    async fn service_account(
        &self,
        tenant: &TenantId,
        name: &str,
    ) -> Result<repo::service_accounts::Model, Status> {
        repo::find_service_account(&self.core.db, tenant, name)
            .await
            .map_err(ServiceError::from)?
            .ok_or_else(|| Status::not_found(format!("service account '{name}' not found")))
    }

    /// Whether a binding's subject is a super-admin user or service account.
    async fn subject_is_super_admin(
        &self,
        binding: &repo::bindings::Model,
    ) -> Result<bool, Status> {
        let db = &self.core.db;
        Ok(match SubjectType::parse(&binding.subject_type)? {
            SubjectType::User => repo::find_user(db, &binding.subject_id)
                .await
                .map_err(ServiceError::from)?
                .is_some_and(|u| u.super_admin),
            SubjectType::ServiceAccount => {
                repo::find_service_account_by_id(db, &binding.subject_id)
                    .await
                    .map_err(ServiceError::from)?
                    .is_some_and(|a| a.super_admin)
            }
            SubjectType::Group => false,
        })
    }

    async fn begin(&self) -> Result<DatabaseTransaction, Status> {
        Ok(self.core.db.begin().await.map_err(ServiceError::from)?)
    }

    /// Records `entry` in `txn` and commits both: no change without its entry.
    async fn commit(&self, txn: DatabaseTransaction, entry: AuditEntry) -> Result<(), Status> {
        repo::record(&txn, entry)
            .await
            .map_err(ServiceError::from)?;
        txn.commit().await.map_err(ServiceError::from)?;
        Ok(())
    }

    async fn group_and_user(
        &self,
        tenant: &TenantId,
        group: &str,
        username: &str,
    ) -> Result<(repo::groups::Model, User), Status> {
        let group = repo::find_group(&self.core.db, tenant, group)
            .await
            .map_err(ServiceError::from)?
            .ok_or_else(|| Status::not_found(format!("group '{group}' not found")))?;
        let user = repo::find_user_by_name(&self.core.db, username)
            .await
            .map_err(ServiceError::from)?
            .ok_or_else(|| Status::invalid_argument(format!("user '{username}' does not exist")))?;
        Ok((group, user))
    }

    async fn group_pb(
        &self,
        tenant: &TenantId,
        group: repo::groups::Model,
    ) -> Result<Response<pb::Group>, Status> {
        let members = repo::member_names(&self.core.db, tenant, &group.id)
            .await
            .map_err(ServiceError::from)?;
        Ok(Response::new(pb::Group {
            name: group.name,
            members,
        }))
    }
}
