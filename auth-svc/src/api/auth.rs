//! `aerie.auth.v1.AuthService`: tokens, JWKS, `/me` and sign-out.

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
}
