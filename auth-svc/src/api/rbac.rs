//! `aerie.auth.v1.RbacService`: a tenant's roles, bindings, groups,
//! service accounts and API tokens.

use aerie_proto::auth::v1::rbac_service_server::RbacService;

use super::*;

/// The longest lifetime of an API token: ten years.
const MAX_TOKEN_LIFETIME_SECS: u64 = 315_360_000;

/// A role on the wire, from its grants as stored ("FLOW:READ", ...).
fn role_pb(name: String, grants: &[String], predefined: bool) -> pb::Role {
    pb::Role {
        name,
        grants: grants
            .iter()
            .filter_map(|text| Grant::parse(text).ok())
            .map(Grant::to_wire)
            .collect(),
        predefined,
    }
}

/// A binding type as stored ("USER", ...) on the wire.
fn binding_type_pb(stored: &str) -> i32 {
    pb::BindingType::from_short_name(stored).unwrap_or_default() as i32
}

/// A binding type from the wire; UNSPECIFIED or unknown is refused.
fn binding_type_of(wire: i32) -> Result<SubjectType, Status> {
    let known = pb::BindingType::try_from(wire)
        .ok()
        .and_then(|t| SubjectType::parse(t.short_name()).ok())
        .ok_or_else(|| {
            Status::invalid_argument(
                "binding type must be BINDING_TYPE_USER, BINDING_TYPE_GROUP or BINDING_TYPE_SERVICE_ACCOUNT",
            )
        })?;
    Ok(known)
}

#[tonic::async_trait]
impl RbacService for AuthApi {
    async fn sync_access(
        &self,
        request: Request<pb::SyncAccessRequest>,
    ) -> Result<Response<pb::SyncAccessResponse>, Status> {
        // It reads the default tenant's bindings: only for the instance's
        // administrators, never a tenant's own Admin.
        let me = self.require_super_admin(&request).await?;
        let tenant = scoped_tenant(&request, &self.core.policy)?;
        self.core.tenants.exists(&tenant).await?;
        let synced = self.core.sync_access(&tenant, &me.name).await?;
        Ok(Response::new(pb::SyncAccessResponse {
            bindings: synced
                .into_iter()
                .map(|s| pb::SyncedBinding {
                    r#type: binding_type_pb(s.subject_type.as_str()),
                    subject: s.subject,
                    role: s.role,
                    namespace: s.namespace.unwrap_or_default(),
                    outcome: pb::SyncOutcome::from_short_name(s.outcome.as_str())
                        .unwrap_or_default() as i32,
                    reason: match s.outcome {
                        crate::sync_access::Outcome::Skipped(reason) => reason,
                        _ => String::new(),
                    },
                })
                .collect(),
        }))
    }

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
        let given = body
            .grants
            .iter()
            .map(|g| Grant::from_wire(g).map(|g| g.to_string()))
            .collect::<Result<Vec<_>, _>>()?;
        let grants = domain::parse_grants(&given)?;
        let texts: Vec<String> = grants.iter().map(ToString::to_string).collect();
        let txn = self.begin(&tenant).await?;
        match repo::insert_role(&txn, &name, &texts.join(",")).await {
            Ok(()) => {
                let entry = AuditEntry::new(&tenant, "ROLE", &name, "CREATE", &me.name)
                    .with_details(serde_json::json!({"permissions": texts}));
                self.commit(txn, entry).await?;
                Ok(Response::new(role_pb(name, &texts, false)))
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
            &domain::all_grants()
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            true,
        );
        let custom = repo::list_roles(&self.read(&tenant).await?)
            .await
            .map_err(ServiceError::from)?
            .into_iter()
            .map(|row| {
                role_pb(
                    row.name,
                    &row.permissions
                        .split(',')
                        .map(str::to_owned)
                        .collect::<Vec<_>>(),
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
        let txn = self.begin(&tenant).await?;
        match repo::delete_unused_role(&txn, &name)
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
        let subject_type = binding_type_of(body.r#type)?;
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
            SubjectType::Group => repo::find_group(&self.read(&tenant).await?, &body.subject)
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
                repo::find_service_account(&self.read(&tenant).await?, &body.subject)
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
            r#type: binding_type_pb(&binding.subject_type),
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
        let tx = self.read(&tenant).await?;
        let rows = repo::list_bindings(&tx).await.map_err(ServiceError::from)?;
        let mut results = Vec::with_capacity(rows.len());
        for row in rows {
            let subject = match SubjectType::parse(&row.subject_type)? {
                SubjectType::Group => repo::find_group_by_id(&tx, &row.subject_id)
                    .await
                    .map_err(ServiceError::from)?
                    .map(|g| g.name),
                SubjectType::ServiceAccount => {
                    repo::find_service_account_by_id(&tx, &row.subject_id)
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
                r#type: binding_type_pb(&row.subject_type),
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
        if let Some(binding) = repo::find_binding_by_id(&self.read(&tenant).await?, &id)
            .await
            .map_err(ServiceError::from)?
        {
            let super_admin = self.subject_is_super_admin(&tenant, &binding).await?;
            guard_super_admin_target(&me, super_admin, || {
                format!("the subject of binding '{id}'")
            })?;
        }
        let txn = self.begin(&tenant).await?;
        if !repo::delete_binding(&txn, &id)
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
        let txn = self.begin(&tenant).await?;
        match repo::insert_group(&txn, &name).await {
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
        let tx = self.read(&tenant).await?;
        let groups = repo::list_groups(&tx).await.map_err(ServiceError::from)?;
        let mut results = Vec::with_capacity(groups.len());
        for group in groups {
            let members = repo::member_names(&tx, &group.id)
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
        let txn = self.begin(&tenant).await?;
        if !repo::delete_group(&txn, &name)
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
        let txn = self.begin(&tenant).await?;
        repo::add_member(&txn, &group.id, &user.id)
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
        let txn = self.begin(&tenant).await?;
        if !repo::remove_member(&txn, &group.id, &user.id)
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
        let txn = self.begin(&tenant).await?;
        match repo::insert_service_account(&txn, &name, body.super_admin).await {
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
        let accounts = repo::list_service_accounts(&self.read(&tenant).await?)
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
        let txn = self.begin(&tenant).await?;
        if !repo::delete_service_account(&txn, &name)
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
        if body.expires_in > MAX_TOKEN_LIFETIME_SECS {
            return Err(Status::invalid_argument(format!(
                "expiresIn {} is too long: at most {MAX_TOKEN_LIFETIME_SECS} seconds (ten years)",
                body.expires_in
            )));
        }
        let value = crate::tokens::new_api_token();
        let created = repo::now();
        // Bounded above, so neither conversion nor addition can overflow.
        let expire_time = (body.expires_in > 0)
            .then(|| created + chrono::Duration::seconds(body.expires_in as i64));
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
        let txn = self.begin(&tenant).await?;
        repo::insert_api_token(&txn, token.clone())
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
        let tokens = repo::list_api_tokens(&self.read(&tenant).await?, &account.id)
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
        let txn = self.begin(&tenant).await?;
        let token = repo::revoke_api_token(&txn, &account.id, &body.id)
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
