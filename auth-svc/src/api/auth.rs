//! `aerie.auth.v1.AuthService`: tokens, JWKS, `/me`, access decisions for
//! the other services, API-token authentication and tenant creators.

use aerie_proto::auth::v1::auth_service_server::AuthService;

use super::*;

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
    type WatchAccessChangesStream =
        tokio_stream::wrappers::ReceiverStream<Result<aerie_proto::changes::v1::Change, Status>>;

    async fn watch_access_changes(
        &self,
        request: Request<aerie_proto::auth::v1::WatchAccessChangesRequest>,
    ) -> Result<Response<Self::WatchAccessChangesStream>, Status> {
        aerie_common::audit::require_service_token(&request, &self.core.service_token)?;
        Ok(Response::new(self.changes.watch()))
    }

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

    async fn revoke_token(
        &self,
        request: Request<pb::RevokeTokenRequest>,
    ) -> Result<Response<pb::RevokeTokenResponse>, Status> {
        let caller = caller_of(&request)?;
        if caller.kind != PrincipalKind::User {
            return Err(Status::failed_precondition(
                "signing out ends a user's access token; revoke an API token on its service account",
            ));
        }
        let claims = request
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(crate::tokens::verified_claims)
            .filter(|claims| *claims.sub == *caller.id)
            .ok_or_else(|| Status::unauthenticated("not an access token"))?;
        // Kept until the token would be refused anyway (expiry plus leeway).
        let until = i64::try_from(claims.exp + aerie_common::auth::token::LEEWAY_SECS)
            .ok()
            .and_then(|secs| chrono::DateTime::from_timestamp(secs, 0))
            .ok_or_else(|| Status::invalid_argument("token expiry out of range"))?;
        let txn = self.core.instance_txn().await?;
        repo::revoke_token(txn.conn(), &claims.jti, &claims.sub, until)
            .await
            .map_err(ServiceError::from)?;
        // Every process drops what it cached for this user, the verified
        // token included, and asks again.
        repo::principal_changed(txn.conn(), PrincipalKind::User, &claims.sub)
            .await
            .map_err(ServiceError::from)?;
        let entry = AuditEntry::new(
            &TenantId::default_tenant(),
            "SESSION",
            &claims.name,
            "DELETE",
            &claims.name,
        );
        self.commit(txn, entry).await?;
        Ok(Response::new(pb::RevokeTokenResponse {}))
    }

    async fn check_token_revoked(
        &self,
        request: Request<pb::CheckTokenRevokedRequest>,
    ) -> Result<Response<pb::CheckTokenRevokedResponse>, Status> {
        let jti = request.into_inner().jti;
        if jti.is_empty() || jti.len() > 64 {
            return Err(Status::invalid_argument("jti is 1 to 64 characters"));
        }
        let revoked = repo::is_token_revoked(&self.core.db, &jti)
            .await
            .map_err(ServiceError::from)?;
        Ok(Response::new(pb::CheckTokenRevokedResponse { revoked }))
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
        Ok(Response::new(pb::CheckAccessResponse { allowed }))
    }

    async fn get_granted_namespaces(
        &self,
        request: Request<pb::GetGrantedNamespacesRequest>,
    ) -> Result<Response<pb::GetGrantedNamespacesResponse>, Status> {
        let user = self.caller_principal(&request).await?;
        let tenant = scoped_tenant(&request, &self.core.policy)?;
        let body = request.into_inner();
        let grant = Grant::from_wire_pair(body.permission, body.action)?.ok_or_else(|| {
            Status::invalid_argument("granted namespaces need a permission and an action")
        })?;
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
        Ok(Response::new(pb::Principal {
            kind: aerie_proto::changes::v1::PrincipalKind::ServiceAccount as i32,
            id: account.id,
            name: account.name,
            expire_time: token.expire_time.map(timestamp),
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
        Ok(Response::new(pb::GrantTenantCreatorResponse {}))
    }
}
