//! The gRPC face of auth-svc, one file per service: decode, authorize the
//! caller, call the core or the repository in the tenant's transaction,
//! audit, encode.

mod audit;
mod auth;
mod internal;
mod rbac;
mod users;

use aerie_common::audit::AuditEntry;
use aerie_common::auth::{PrincipalKind, caller_of};
use aerie_common::paging::PageRequest;
use aerie_common::tenant::scoped_tenant;
use aerie_common::time::to_timestamp as timestamp;
use aerie_common::{ServiceError, TenantId};
use aerie_proto::auth::v1 as pb;
use tonic::{Request, Response, Status};

use crate::core::{Core, Principal, User};
use crate::domain::{self, ADMIN_ROLE, Action, Grant, Permission, SubjectType};
use crate::repo::{self, SystemScan, TenantTxn};

/// Implements AuthService, UserService, RbacService, AuditService and
/// AuthInternalService over one core.
#[derive(Clone)]
pub struct AuthApi {
    core: Core,
    /// Access taken away, for other processes' caches.
    changes: aerie_common::changes::ChangeFeed,
}

impl AuthApi {
    pub fn new(core: Core, changes: aerie_common::changes::ChangeFeed) -> AuthApi {
        AuthApi { core, changes }
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
                let scan = SystemScan::begin(&self.core.db, "the account of a caller")
                    .await
                    .map_err(ServiceError::from)?;
                let account = repo::find_service_account_anywhere(&scan, &caller.id)
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
        repo::find_service_account(&self.read(tenant).await?, name)
            .await
            .map_err(ServiceError::from)?
            .ok_or_else(|| Status::not_found(format!("service account '{name}' not found")))
    }

    /// Whether a binding's subject is a super-admin user or service account.
    async fn subject_is_super_admin(
        &self,
        tenant: &TenantId,
        binding: &repo::bindings::Model,
    ) -> Result<bool, Status> {
        let db = &self.core.db;
        Ok(match SubjectType::parse(&binding.subject_type)? {
            SubjectType::User => repo::find_user(db, &binding.subject_id)
                .await
                .map_err(ServiceError::from)?
                .is_some_and(|u| u.super_admin),
            SubjectType::ServiceAccount => {
                repo::find_service_account_by_id(&self.read(tenant).await?, &binding.subject_id)
                    .await
                    .map_err(ServiceError::from)?
                    .is_some_and(|a| a.super_admin)
            }
            SubjectType::Group => false,
        })
    }

    /// A write transaction in `tenant` (row-level security set to it).
    async fn begin(&self, tenant: &TenantId) -> Result<TenantTxn, Status> {
        Ok(TenantTxn::write(&self.core.db, tenant)
            .await
            .map_err(ServiceError::from)?)
    }

    /// A read transaction in `tenant`.
    async fn read(&self, tenant: &TenantId) -> Result<TenantTxn, Status> {
        Ok(TenantTxn::read(&self.core.db, tenant)
            .await
            .map_err(ServiceError::from)?)
    }

    /// Records `entry` in `tx` and commits both: no change without its entry.
    async fn commit(&self, tx: TenantTxn, entry: AuditEntry) -> Result<(), Status> {
        repo::record(tx.conn(), entry)
            .await
            .map_err(ServiceError::from)?;
        tx.commit().await.map_err(ServiceError::from)?;
        Ok(())
    }

    async fn group_and_user(
        &self,
        tenant: &TenantId,
        group: &str,
        username: &str,
    ) -> Result<(repo::groups::Model, User), Status> {
        let group = repo::find_group(&self.read(tenant).await?, group)
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
        let members = repo::member_names(&self.read(tenant).await?, &group.id)
            .await
            .map_err(ServiceError::from)?;
        Ok(Response::new(pb::Group {
            name: group.name,
            members,
        }))
    }
}
