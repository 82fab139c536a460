//! The gRPC face of tenant-svc: decode, authorize the caller, call the
//! repository, encode. The admin CLI calls the `TenantApi` operations
//! directly (it is trusted by holding the configuration).

use aerie_common::audit::{self, AuditEntry};
use aerie_common::auth::{AccessClient, Caller, caller_of};
use aerie_common::auth::{Action, Grant, Permission};
use aerie_common::grpc::Channel;
use aerie_common::paging::{PageRequest, Sort};
use aerie_common::quota::QuotaOverrides;
use aerie_common::{ServiceError, TenantId, TenantPolicy};
use aerie_proto::auth::internal::v1::GrantTenantCreatorRequest;
use aerie_proto::auth::internal::v1::auth_internal_service_client::AuthInternalServiceClient;
use aerie_proto::auth::v1::GetMeRequest;
use aerie_proto::auth::v1::auth_service_client::AuthServiceClient;
use aerie_proto::tenant::internal::v1 as ipb;
use aerie_proto::tenant::v1 as pb;
use aerie_proto::tenant::v1::tenant_service_server::TenantService;
use sea_orm::{DatabaseConnection, TransactionTrait};
use tonic::{Request, Response, Status};

use crate::domain::{self, SORT_FIELDS, Tenant};
use crate::repo::{self, InsertError, Visible};

/// Implements `aerie.tenant.v1.TenantService`.
#[derive(Clone)]
pub struct TenantApi {
    pub(crate) db: DatabaseConnection,
    policy: TenantPolicy,
    access: AccessClient,
    auth: AuthServiceClient<Channel>,
    /// For creator grants.
    auth_internal: AuthInternalServiceClient<Channel>,
    /// Proves to auth-svc that a creator grant comes from tenant creation.
    pub(crate) service_token: String,
    /// Tenants changed, for other processes' caches (set when served).
    changes: Option<aerie_common::changes::ChangeFeed>,
    /// The services holding the other parts of a tenant, for archives.
    pub(crate) parts: Option<crate::transfer::Parts>,
}

fn parse_id(id: &str) -> Result<TenantId, ServiceError> {
    TenantId::parse(id).map_err(|e| ServiceError::InvalidArgument(e.to_string()))
}

fn not_found(id: &TenantId) -> ServiceError {
    ServiceError::NotFound(format!("tenant {id} not found"))
}

impl TenantApi {
    /// The API over an already migrated database; `auth` reaches auth-svc.
    pub fn new(
        db: DatabaseConnection,
        policy: TenantPolicy,
        auth: Channel,
        service_token: String,
        watch: &aerie_common::changes::ChangeWatch,
    ) -> Self {
        TenantApi {
            db,
            policy,
            access: AccessClient::new(auth.clone(), watch),
            auth: AuthServiceClient::new(auth.clone()),
            auth_internal: AuthInternalServiceClient::new(auth),
            service_token,
            changes: None,
            parts: None,
        }
    }

    /// Serves tenant archives, gathering the other parts from these.
    pub fn with_parts(mut self, parts: crate::transfer::Parts) -> Self {
        self.parts = Some(parts);
        self
    }

    /// Serves the stream of tenant changes until `stopping`.
    pub fn announcing_changes(mut self, stopping: tokio_util::sync::CancellationToken) -> Self {
        self.changes = Some(aerie_common::changes::ChangeFeed::start(
            self.db.clone(),
            stopping,
        ));
        self
    }

    /// Tenant management exists only with multi-tenancy on.
    pub(crate) fn require_multi_tenancy(&self) -> Result<(), ServiceError> {
        if self.policy.multi_tenancy {
            Ok(())
        } else {
            Err(ServiceError::FailedPrecondition(
                "multi-tenancy is disabled (aerie.tenants.enabled: false): there are no tenants to manage"
                    .to_owned(),
            ))
        }
    }

    /// The database, for the audit relay.
    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Creates a tenant (no caller check: callers are checked by the gRPC
    /// method, the CLI is trusted); `actor` goes into the audit entry.
    pub async fn create(&self, id: &str, name: &str, actor: &str) -> Result<Tenant, ServiceError> {
        self.require_multi_tenancy()?;
        let id = parse_id(id)?;
        let name = domain::parse_name(name)?;
        let txn = self.db.begin().await?;
        match repo::insert(&txn, &id, &name).await {
            Ok(tenant) => {
                let entry = AuditEntry::new(&id, "TENANT", &tenant.id, "CREATE", actor)
                    .with_details(serde_json::json!({"name": tenant.name}));
                audit::enqueue(&txn, entry).await?;
                txn.commit().await?;
                tracing::info!(tenant = %id, "tenant created");
                Ok(tenant)
            }
            Err(InsertError::Taken) => {
                // The failed insert aborted the transaction (PostgreSQL): ask outside it.
                drop(txn);
                let message = if repo::is_deleted(&self.db, &id).await? {
                    format!("tenant {id} was deleted; ids of deleted tenants are not reused")
                } else {
                    format!("tenant {id} already exists")
                };
                Err(ServiceError::AlreadyExists(message))
            }
            Err(InsertError::Db(err)) => Err(err.into()),
        }
    }

    /// What a create of `id` would answer, writing nothing: the id and the
    /// name checked, and the id free (the same messages as a create).
    async fn check_create(&self, id: &str, name: &str) -> Result<pb::Tenant, ServiceError> {
        let id = parse_id(id)?;
        let name = domain::parse_name(name)?;
        if repo::exists(&self.db, &id).await? {
            let message = if repo::is_deleted(&self.db, &id).await? {
                format!("tenant {id} was deleted; ids of deleted tenants are not reused")
            } else {
                format!("tenant {id} already exists")
            };
            return Err(ServiceError::AlreadyExists(message));
        }
        Ok(pb::Tenant {
            id: id.as_named().unwrap_or_default().to_owned(),
            name,
            ..Default::default()
        })
    }

    /// Brings back a tenant deleted through DeleteTenant (no caller check:
    /// the gRPC method checks its caller, the CLI is trusted).
    pub async fn restore(&self, id: &str, actor: &str) -> Result<Tenant, ServiceError> {
        self.require_multi_tenancy()?;
        let id = parse_id(id)?;
        let txn = self.db.begin().await?;
        let Some(tenant) = repo::restore(&txn, &id).await? else {
            drop(txn);
            return Err(if repo::find_live(&self.db, &id).await?.is_some() {
                ServiceError::FailedPrecondition(format!("tenant {id} is not deleted"))
            } else if repo::exists(&self.db, &id).await? {
                ServiceError::FailedPrecondition(format!(
                    "tenant {id} cannot be restored: it is an unfinished import, or was deleted before restores existed"
                ))
            } else {
                not_found(&id)
            });
        };
        let entry = AuditEntry::new(&id, "TENANT", &tenant.id, "RESTORE", actor);
        audit::enqueue(&txn, entry).await?;
        txn.commit().await?;
        tracing::info!(tenant = %id, "tenant restored");
        Ok(tenant)
    }

    /// Reserves `id` for an import (see [`repo::insert_reserved`]): refused
    /// like a create when the id is taken, also by a deleted tenant.
    pub async fn reserve_for_import(
        &self,
        id: &str,
        name: &str,
        actor: &str,
    ) -> Result<TenantId, ServiceError> {
        self.require_multi_tenancy()?;
        let id = parse_id(id)?;
        let name = domain::parse_name(name)?;
        let txn = self.db.begin().await?;
        match repo::insert_reserved(&txn, &id, &name).await {
            Ok(()) => {
                let entry = AuditEntry::new(
                    &id,
                    "TENANT",
                    id.as_named().unwrap_or_default(),
                    "IMPORT",
                    actor,
                )
                .with_details(serde_json::json!({"name": name, "state": "started"}));
                audit::enqueue(&txn, entry).await?;
                txn.commit().await?;
                Ok(id)
            }
            Err(InsertError::Taken) => {
                drop(txn);
                let message = if repo::is_deleted(&self.db, &id).await? {
                    format!("tenant {id} was deleted; ids of deleted tenants are not reused")
                } else {
                    format!("tenant {id} already exists")
                };
                Err(ServiceError::AlreadyExists(message))
            }
            Err(InsertError::Db(err)) => Err(err.into()),
        }
    }

    /// Makes an imported tenant live, with its quotas.
    pub async fn reveal_imported(
        &self,
        id: &TenantId,
        quotas: &QuotaOverrides,
        source: &str,
        actor: &str,
    ) -> Result<Tenant, ServiceError> {
        quotas.validate()?;
        let txn = self.db.begin().await?;
        let tenant = repo::reveal(&txn, id, quotas).await?.ok_or_else(|| {
            ServiceError::FailedPrecondition(format!("tenant {id} is not being imported"))
        })?;
        let entry = AuditEntry::new(id, "TENANT", &tenant.id, "IMPORT", actor)
            .with_details(serde_json::json!({"state": "done", "from": source, "quotas": quotas}));
        audit::enqueue(&txn, entry).await?;
        txn.commit().await?;
        tracing::info!(tenant = %id, from = source, "tenant imported");
        Ok(tenant)
    }

    /// Records an import that failed: the tenant stays deleted, its id
    /// never reused.
    pub async fn abandon_import(
        &self,
        id: &TenantId,
        why: &str,
        actor: &str,
    ) -> Result<(), ServiceError> {
        let entry = AuditEntry::new(
            id,
            "TENANT",
            id.as_named().unwrap_or_default(),
            "IMPORT",
            actor,
        )
        .with_details(serde_json::json!({"state": "failed", "reason": why}));
        audit::enqueue(&self.db, entry).await?;
        tracing::warn!(tenant = %id, reason = why, "tenant import failed; the id stays taken");
        Ok(())
    }

    /// Records an export of a tenant in its audit log.
    pub async fn record_export(
        &self,
        id: &TenantId,
        entries: usize,
        actor: &str,
    ) -> Result<(), ServiceError> {
        let entry = AuditEntry::new(
            id,
            "TENANT",
            id.as_named().unwrap_or_default(),
            "EXPORT",
            actor,
        )
        .with_details(serde_json::json!({"entries": entries}));
        audit::enqueue(&self.db, entry).await?;
        Ok(())
    }

    /// Undoes a create whose set-up failed, and says so in the audit log.
    pub async fn remove_unfinished(&self, id: &str, actor: &str) -> Result<(), ServiceError> {
        let id = parse_id(id)?;
        let txn = self.db.begin().await?;
        repo::remove_unfinished(&txn, &id).await?;
        let entry = AuditEntry::new(
            &id,
            "TENANT",
            id.as_named().unwrap_or_default(),
            "DELETE",
            actor,
        )
        .with_details(serde_json::json!({"reason": "creation rolled back"}));
        audit::enqueue(&txn, entry).await?;
        txn.commit().await?;
        Ok(())
    }

    /// Every live tenant (the CLI's listing).
    pub async fn list_all(&self) -> Result<Vec<Tenant>, ServiceError> {
        self.require_multi_tenancy()?;
        let mut all = Vec::new();
        for page in 1.. {
            let page = PageRequest::new(page, 1000)?;
            let (tenants, _) =
                repo::list_live(&self.db, Visible::All, page, Sort::parse("", SORT_FIELDS)?)
                    .await?;
            let done = tenants.len() < 1000;
            all.extend(tenants);
            if done {
                break;
            }
        }
        Ok(all)
    }

    /// Soft-deletes a tenant.
    pub async fn delete(&self, id: &str, actor: &str) -> Result<(), ServiceError> {
        self.require_multi_tenancy()?;
        let id = parse_id(id)?;
        let txn = self.db.begin().await?;
        if !repo::soft_delete(&txn, &id).await? {
            return Err(not_found(&id));
        }
        let entry = AuditEntry::new(
            &id,
            "TENANT",
            id.as_named().unwrap_or_default(),
            "DELETE",
            actor,
        );
        audit::enqueue(&txn, entry).await?;
        txn.commit().await?;
        tracing::info!(tenant = %id, "tenant deleted");
        Ok(())
    }

    /// Replaces a tenant's quota overrides (no caller check: the gRPC
    /// method checks its caller, the CLI is trusted).
    pub async fn set_quotas(
        &self,
        id: &TenantId,
        quotas: &QuotaOverrides,
        actor: &str,
    ) -> Result<Tenant, ServiceError> {
        self.require_multi_tenancy()?;
        quotas.validate()?;
        let txn = self.db.begin().await?;
        let tenant = repo::set_quotas(&txn, id, quotas)
            .await?
            .ok_or_else(|| not_found(id))?;
        let entry = AuditEntry::new(id, "TENANT", &tenant.id, "UPDATE", actor)
            .with_details(serde_json::json!({"quotas": quotas}));
        audit::enqueue(&txn, entry).await?;
        txn.commit().await?;
        tracing::info!(tenant = %id, ?quotas, "tenant quotas changed");
        Ok(tenant)
    }

    /// A live tenant's quota overrides (the CLI's `tenants quotas show`).
    pub async fn quotas(&self, id: &str) -> Result<QuotaOverrides, ServiceError> {
        self.require_multi_tenancy()?;
        let id = parse_id(id)?;
        repo::find_live(&self.db, &id)
            .await?
            .map(|tenant| tenant.quotas)
            .ok_or_else(|| not_found(&id))
    }

    /// Who the caller is to auth-svc: super admin or not, and its tenants.
    pub(crate) async fn me(&self, caller: &Caller) -> Result<aerie_proto::auth::v1::Me, Status> {
        Ok(self
            .auth
            .clone()
            .get_me(caller.request(GetMeRequest {}, None))
            .await?
            .into_inner())
    }

    /// Whether the caller may see this tenant at all: a super admin or a
    /// holder of any binding there. Others get NOT_FOUND, never a hint.
    async fn require_visible(&self, caller: &Caller, id: &TenantId) -> Result<(), Status> {
        if self.access.may_use_tenant(caller, id).await? {
            Ok(())
        } else {
            Err(not_found(id).into())
        }
    }
}

#[tonic::async_trait]
impl TenantService for TenantApi {
    async fn create_tenant(
        &self,
        request: Request<pb::CreateTenantRequest>,
    ) -> Result<Response<pb::Tenant>, Status> {
        self.require_multi_tenancy()?;
        let caller = caller_of(&request)?;
        self.access
            .require(
                &caller,
                &TenantId::default_tenant(),
                Grant(Permission::Tenant, Action::Create),
                None,
            )
            .await?;
        let body = request.into_inner();
        if body.validate_only {
            return Ok(Response::new(
                self.check_create(&body.id, &body.name).await?,
            ));
        }
        let tenant = self.create(&body.id, &body.name, &caller.name).await?;
        let grant = caller.request(
            GrantTenantCreatorRequest {
                tenant: tenant.id.clone(),
                admin_username: body.admin_username,
            },
            None,
        );
        let mut grant = grant;
        if let Ok(value) = self.service_token.parse() {
            grant
                .metadata_mut()
                .insert(aerie_common::audit::SERVICE_TOKEN_HEADER, value);
        }
        if let Err(status) = self.auth_internal.clone().grant_tenant_creator(grant).await {
            // A tenant nobody was meant to administer must not linger.
            if let Err(err) = self.remove_unfinished(&tenant.id, &caller.name).await {
                tracing::error!(tenant = %tenant.id, %err, "cannot undo a failed tenant create");
            }
            return Err(status);
        }
        Ok(Response::new(tenant.into()))
    }

    async fn get_tenant(
        &self,
        request: Request<pb::GetTenantRequest>,
    ) -> Result<Response<pb::Tenant>, Status> {
        self.require_multi_tenancy()?;
        let caller = caller_of(&request)?;
        // Aerie's own services ask only whether a tenant exists; they check
        // the caller's access themselves.
        let from_service =
            aerie_common::audit::require_service_token(&request, &self.service_token).is_ok();
        let id = parse_id(&request.into_inner().id)?;
        if !from_service {
            self.require_visible(&caller, &id).await?;
        }
        let tenant = repo::find_live(&self.db, &id)
            .await
            .map_err(ServiceError::from)?
            .ok_or_else(|| not_found(&id))?;
        Ok(Response::new(tenant.into()))
    }

    async fn list_tenants(
        &self,
        request: Request<pb::ListTenantsRequest>,
    ) -> Result<Response<pb::ListTenantsResponse>, Status> {
        self.require_multi_tenancy()?;
        let caller = caller_of(&request)?;
        let me = self.me(&caller).await?;
        let body = request.into_inner();
        let page = PageRequest::new(body.page, body.size)?;
        let sort = Sort::parse(&body.sort, SORT_FIELDS)?;
        let accessible: Vec<TenantId> = me
            .tenants
            .iter()
            .filter_map(|t| TenantId::parse(&t.id).ok())
            .collect();
        let visible = if me.super_admin {
            Visible::All
        } else {
            Visible::Among(&accessible)
        };
        let (tenants, total) = repo::list_live(&self.db, visible, page, sort)
            .await
            .map_err(ServiceError::from)?;
        Ok(Response::new(pb::ListTenantsResponse {
            results: tenants.into_iter().map(Into::into).collect(),
            total,
        }))
    }

    async fn update_tenant(
        &self,
        request: Request<pb::UpdateTenantRequest>,
    ) -> Result<Response<pb::Tenant>, Status> {
        self.require_multi_tenancy()?;
        let caller = caller_of(&request)?;
        let body = request.into_inner();
        let id = parse_id(&body.id)?;
        self.require_visible(&caller, &id).await?;
        self.access
            .require(
                &caller,
                &id,
                Grant(Permission::Tenant, Action::Update),
                None,
            )
            .await?;
        let name = domain::parse_name(&body.name)?;
        let txn = self.db.begin().await.map_err(ServiceError::from)?;
        let tenant = repo::rename(&txn, &id, &name)
            .await
            .map_err(ServiceError::from)?
            .ok_or_else(|| not_found(&id))?;
        let entry = AuditEntry::new(&id, "TENANT", &tenant.id, "UPDATE", &*caller.name)
            .with_details(serde_json::json!({"name": tenant.name}));
        audit::enqueue(&txn, entry)
            .await
            .map_err(ServiceError::from)?;
        txn.commit().await.map_err(ServiceError::from)?;
        tracing::info!(tenant = %id, "tenant renamed");
        Ok(Response::new(tenant.into()))
    }

    async fn delete_tenant(
        &self,
        request: Request<pb::DeleteTenantRequest>,
    ) -> Result<Response<pb::DeleteTenantResponse>, Status> {
        self.require_multi_tenancy()?;
        let caller = caller_of(&request)?;
        let id = request.into_inner().id;
        let tenant = parse_id(&id)?;
        self.require_visible(&caller, &tenant).await?;
        self.access
            .require(
                &caller,
                &tenant,
                Grant(Permission::Tenant, Action::Delete),
                None,
            )
            .await?;
        self.delete(&id, &caller.name).await?;
        Ok(Response::new(pb::DeleteTenantResponse {}))
    }

    async fn restore_tenant(
        &self,
        request: Request<pb::RestoreTenantRequest>,
    ) -> Result<Response<pb::Tenant>, Status> {
        self.require_multi_tenancy()?;
        let caller = caller_of(&request)?;
        if !self.me(&caller).await?.super_admin {
            // TENANT:CREATE is not enough: a restored tenant's bindings and
            // tokens work again, which is the instance owner's call.
            return Err(ServiceError::PermissionDenied(format!(
                "{} may not restore tenants: only a super admin may",
                caller.name
            ))
            .into());
        }
        let tenant = self.restore(&request.into_inner().id, &caller.name).await?;
        Ok(Response::new(tenant.into()))
    }

    async fn set_tenant_quotas(
        &self,
        request: Request<pb::SetTenantQuotasRequest>,
    ) -> Result<Response<pb::Tenant>, Status> {
        self.require_multi_tenancy()?;
        let caller = caller_of(&request)?;
        let me = self.me(&caller).await?;
        let body = request.into_inner();
        let id = parse_id(&body.id)?;
        self.require_visible(&caller, &id).await?;
        if !me.super_admin {
            // A tenant's own Admin may not lift the limits that keep it
            // from taking its neighbours' capacity.
            return Err(ServiceError::PermissionDenied(
                "only a super admin may change a tenant's quotas".to_owned(),
            )
            .into());
        }
        let quotas = QuotaOverrides::from(body.quotas.unwrap_or_default());
        let tenant = self.set_quotas(&id, &quotas, &caller.name).await?;
        Ok(Response::new(tenant.into()))
    }

    type ExportTenantStream = crate::transfer::ChunkStream;

    async fn export_tenant(
        &self,
        request: Request<pb::ExportTenantRequest>,
    ) -> Result<Response<Self::ExportTenantStream>, Status> {
        self.export_archive(request).await
    }

    async fn import_tenant(
        &self,
        request: Request<tonic::Streaming<pb::ImportTenantRequest>>,
    ) -> Result<Response<pb::ImportTenantResponse>, Status> {
        self.import_archive(request).await
    }
}

#[tonic::async_trait]
impl ipb::tenant_internal_service_server::TenantInternalService for TenantApi {
    type WatchTenantChangesStream = tokio_stream::wrappers::ReceiverStream<
        Result<aerie_proto::changes::internal::v1::Change, Status>,
    >;

    async fn watch_tenant_changes(
        &self,
        request: Request<ipb::WatchTenantChangesRequest>,
    ) -> Result<Response<Self::WatchTenantChangesStream>, Status> {
        aerie_common::audit::require_service_token(&request, &self.service_token)?;
        let feed = self
            .changes
            .as_ref()
            .ok_or_else(|| Status::unavailable("this process does not serve tenant changes"))?;
        Ok(Response::new(feed.watch()))
    }

    async fn list_live_tenant_ids(
        &self,
        request: Request<ipb::ListLiveTenantIdsRequest>,
    ) -> Result<Response<ipb::ListLiveTenantIdsResponse>, Status> {
        aerie_common::audit::require_service_token(&request, &self.service_token)?;
        let ids = repo::live_ids(&self.db).await.map_err(ServiceError::from)?;
        Ok(Response::new(ipb::ListLiveTenantIdsResponse { ids }))
    }

    async fn tenant_exists(
        &self,
        request: Request<ipb::TenantExistsRequest>,
    ) -> Result<Response<ipb::TenantExistsResponse>, Status> {
        aerie_common::audit::require_service_token(&request, &self.service_token)?;
        let id = parse_id(&request.into_inner().id)?;
        let exists = repo::find_live(&self.db, &id)
            .await
            .map_err(ServiceError::from)?
            .is_some();
        Ok(Response::new(ipb::TenantExistsResponse { exists }))
    }

    async fn get_tenant_quotas(
        &self,
        request: Request<ipb::GetTenantQuotasRequest>,
    ) -> Result<Response<pb::TenantQuotas>, Status> {
        aerie_common::audit::require_service_token(&request, &self.service_token)?;
        let quotas = self.quotas(&request.into_inner().id).await?;
        Ok(Response::new(quotas.into()))
    }
}
