//! `aerie.auth.internal.v1.AuthInternalService`: what the gateway and the
//! other services ask: access decisions for their callers, API-token and
//! revocation checks, tenant creators, the change feed and audit entries
//! from their outboxes.

use aerie_common::db::SharedTxn;
use aerie_proto::auth::internal::v1 as ipb;
use aerie_proto::auth::internal::v1::auth_internal_service_server::AuthInternalService;

use super::*;

#[tonic::async_trait]
impl AuthInternalService for AuthApi {
    type WatchAccessChangesStream = tokio_stream::wrappers::ReceiverStream<
        Result<aerie_proto::changes::internal::v1::Change, Status>,
    >;

    async fn check_access(
        &self,
        request: Request<ipb::CheckAccessRequest>,
    ) -> Result<Response<ipb::CheckAccessResponse>, Status> {
        let user = self.caller_principal(&request).await?;
        let grant = Grant::from_wire_pair(request.get_ref().permission, request.get_ref().action)?;
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
        Ok(Response::new(ipb::CheckAccessResponse { allowed }))
    }

    async fn get_granted_namespaces(
        &self,
        request: Request<ipb::GetGrantedNamespacesRequest>,
    ) -> Result<Response<ipb::GetGrantedNamespacesResponse>, Status> {
        let user = self.caller_principal(&request).await?;
        let tenant = scoped_tenant(&request, &self.core.policy)?;
        let body = request.into_inner();
        let grant = Grant::from_wire_pair(body.permission, body.action)?.ok_or_else(|| {
            Status::invalid_argument("granted namespaces need a permission and an action")
        })?;
        let granted = self.core.granted_namespaces(&user, &tenant, grant).await?;
        Ok(Response::new(ipb::GetGrantedNamespacesResponse {
            everywhere: granted.is_none(),
            namespaces: granted.unwrap_or_default(),
        }))
    }

    async fn authenticate_api_token(
        &self,
        request: Request<ipb::AuthenticateApiTokenRequest>,
    ) -> Result<Response<ipb::Principal>, Status> {
        let rejected = || Status::unauthenticated("unknown, expired or revoked API token");
        let hash = crate::tokens::api_token_hash(&request.into_inner().token);
        let scan = SystemScan::begin(&self.core.db, "the account of an API token")
            .await
            .map_err(ServiceError::from)?;
        let token = repo::find_api_token_by_hash(&scan, &hash)
            .await
            .map_err(ServiceError::from)?
            .filter(|t| !t.revoked && t.expire_time.is_none_or(|e| e > chrono::Utc::now()))
            .ok_or_else(rejected)?;
        let account = repo::find_service_account_anywhere(&scan, &token.service_account_id)
            .await
            .map_err(ServiceError::from)?
            .filter(|a| a.tenant == token.tenant)
            .ok_or_else(rejected)?;
        Ok(Response::new(ipb::Principal {
            kind: aerie_proto::changes::internal::v1::PrincipalKind::ServiceAccount as i32,
            id: account.id,
            name: account.name,
            expire_time: token.expire_time.map(timestamp),
        }))
    }

    async fn grant_tenant_creator(
        &self,
        request: Request<ipb::GrantTenantCreatorRequest>,
    ) -> Result<Response<ipb::GrantTenantCreatorResponse>, Status> {
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
        // Checked before anything is bound, so that a refusal leaves nothing:
        // tenant-svc then removes the tenant row, and its id may be created
        // again by anyone.
        if !body.admin_username.is_empty() {
            let admin = repo::find_user_by_name(&self.core.db, &body.admin_username)
                .await
                .map_err(ServiceError::from)?
                .ok_or_else(|| {
                    ServiceError::InvalidArgument(format!(
                        "user '{}' does not exist",
                        body.admin_username
                    ))
                })?;
            guard_super_admin_target(&user, admin.super_admin, || {
                format!("user '{}'", admin.username)
            })?;
        }
        // The tenant was created a moment ago, so any binding under its id
        // is a leftover of an earlier create that failed after binding
        // (before the check above existed); it must not be inherited.
        self.core
            .drop_bindings(&tenant)
            .await
            .map_err(ServiceError::from)?;
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
        Ok(Response::new(ipb::GrantTenantCreatorResponse {}))
    }

    async fn check_token_revoked(
        &self,
        request: Request<ipb::CheckTokenRevokedRequest>,
    ) -> Result<Response<ipb::CheckTokenRevokedResponse>, Status> {
        let jti = request.into_inner().jti;
        if jti.is_empty() || jti.len() > 64 {
            return Err(Status::invalid_argument("jti is 1 to 64 characters"));
        }
        let revoked = repo::is_token_revoked(&self.core.db, &jti)
            .await
            .map_err(ServiceError::from)?;
        Ok(Response::new(ipb::CheckTokenRevokedResponse { revoked }))
    }

    async fn watch_access_changes(
        &self,
        request: Request<ipb::WatchAccessChangesRequest>,
    ) -> Result<Response<Self::WatchAccessChangesStream>, Status> {
        self.require_service(&request)?;
        Ok(Response::new(self.changes.watch()))
    }

    async fn record_audit_entries(
        &self,
        request: Request<ipb::RecordAuditEntriesRequest>,
    ) -> Result<Response<ipb::RecordAuditEntriesResponse>, Status> {
        self.require_service(&request)?;
        // Every entry is checked before anything is written: a bad one
        // refuses the batch, which its outbox keeps.
        let mut by_tenant: std::collections::BTreeMap<TenantId, Vec<repo::audit_logs::Model>> =
            Default::default();
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
                details: entry.details_json,
            };
            by_tenant.entry(tenant).or_default().push(row);
        }
        // One commit for the batch; each tenant's entries in a part bound
        // to that tenant, since row-level security admits them only there.
        // Entries are stored once by id, so a batch sent again after a
        // failure stores only what is missing.
        let shared = SharedTxn::write(&self.core.db)
            .await
            .map_err(ServiceError::from)?;
        let mut stored = 0;
        for (tenant, rows) in by_tenant {
            let part = TenantTxn::within(&shared, &tenant)
                .await
                .map_err(ServiceError::from)?;
            stored += repo::insert_audits(&part, rows)
                .await
                .map_err(ServiceError::from)?;
            part.commit().await.map_err(ServiceError::from)?;
        }
        shared.commit().await.map_err(ServiceError::from)?;
        let stored = u32::try_from(stored).unwrap_or(u32::MAX);
        Ok(Response::new(ipb::RecordAuditEntriesResponse { stored }))
    }
}
