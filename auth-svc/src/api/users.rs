//! `aerie.auth.v1.UserService`: instance-level users, for super admins.

use aerie_proto::auth::v1::user_service_server::UserService;

use super::*;

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
        let txn = self.core.instance_txn().await?;
        let password_changed = hash.is_some();
        repo::update_user(txn.conn(), &user.id, hash, body.super_admin)
            .await
            .map_err(ServiceError::from)?;
        let entry = AuditEntry::new(&TenantId::default_tenant(), "USER", &user.username, "UPDATE", &me.name)
            .with_details(serde_json::json!({"passwordChanged": password_changed, "superAdmin": body.super_admin}));
        self.commit(txn, entry).await?;
        let user = self.core.find_user(&user.id).await?;
        Ok(Response::new(user_pb(user)))
    }

    async fn list_user_access(
        &self,
        request: Request<pb::ListUserAccessRequest>,
    ) -> Result<Response<pb::ListUserAccessResponse>, Status> {
        self.require_super_admin(&request).await?;
        let mut users = Vec::new();
        for user in self.core.access_report().await? {
            let mut tenants = Vec::new();
            for (tenant, roles) in user.tenants {
                let id = match &tenant {
                    Some(named) => {
                        TenantId::parse(named).map_err(|e| Status::internal(e.to_string()))?
                    }
                    None => TenantId::default_tenant(),
                };
                // A deleted tenant's bindings give no access.
                match self.core.tenants.exists(&id).await {
                    Ok(()) => tenants.push(pb::TenantAccess { tenant, roles }),
                    Err(status) if status.code() == tonic::Code::NotFound => {}
                    Err(status) => return Err(status),
                }
            }
            users.push(pb::UserAccess {
                username: user.username,
                super_admin: user.super_admin,
                tenants,
            });
        }
        Ok(Response::new(pb::ListUserAccessResponse { users }))
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
        // Its bindings and memberships go in every tenant, with the user.
        let default = TenantId::default_tenant();
        let scan = SystemScan::begin_writing_as(&self.core.db, &default, "deleting a user")
            .await
            .map_err(ServiceError::from)?;
        repo::delete_user(&scan, &user.id)
            .await
            .map_err(ServiceError::from)?;
        let entry = AuditEntry::new(&default, "USER", &user.username, "DELETE", &me.name);
        repo::record(scan.conn(), entry)
            .await
            .map_err(ServiceError::from)?;
        scan.commit().await.map_err(ServiceError::from)?;
        tracing::info!(username = %user.username, "user deleted");
        Ok(Response::new(pb::DeleteUserResponse {}))
    }
}
