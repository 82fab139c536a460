//! The gRPC face of tenant-svc: decode, check, call the repository, encode.
//! The CLI calls these same methods in-process, so both share every rule.

use aerie_common::paging::{PageRequest, Sort};
use aerie_common::{ServiceError, TenantId, TenantPolicy};
use aerie_proto::tenant::v1 as pb;
use aerie_proto::tenant::v1::tenant_service_server::TenantService;
use sea_orm::DatabaseConnection;
use tonic::{Request, Response, Status};

use crate::domain::{self, SORT_FIELDS};
use crate::repo::{self, InsertError};

/// Implements `aerie.tenant.v1.TenantService`.
#[derive(Clone)]
pub struct TenantApi {
    db: DatabaseConnection,
    policy: TenantPolicy,
}

impl TenantApi {
    /// The API over an already migrated database.
    pub fn new(db: DatabaseConnection, policy: TenantPolicy) -> Self {
        TenantApi { db, policy }
    }

    /// Tenant management exists only with multi-tenancy on.
    fn require_multi_tenancy(&self) -> Result<(), ServiceError> {
        if self.policy.multi_tenancy {
            Ok(())
        } else {
            Err(ServiceError::FailedPrecondition(
                "multi-tenancy is disabled (aerie.tenants.enabled: false): there are no tenants to manage"
                    .to_owned(),
            ))
        }
    }
}

fn parse_id(id: &str) -> Result<TenantId, ServiceError> {
    TenantId::parse(id).map_err(|e| ServiceError::InvalidArgument(e.to_string()))
}

fn not_found(id: &TenantId) -> ServiceError {
    ServiceError::NotFound(format!("tenant {id} not found"))
}

#[tonic::async_trait]
impl TenantService for TenantApi {
    async fn create_tenant(
        &self,
        request: Request<pb::CreateTenantRequest>,
    ) -> Result<Response<pb::Tenant>, Status> {
        self.require_multi_tenancy()?;
        let request = request.into_inner();
        let id = parse_id(&request.id)?;
        let name = domain::parse_name(&request.name)?;
        match repo::insert(&self.db, &id, &name).await {
            Ok(tenant) => {
                tracing::info!(tenant = %id, "tenant created");
                Ok(Response::new(tenant.into()))
            }
            Err(InsertError::Taken { deleted: false }) => {
                Err(ServiceError::AlreadyExists(format!("tenant {id} already exists")).into())
            }
            Err(InsertError::Taken { deleted: true }) => Err(ServiceError::AlreadyExists(format!(
                "tenant {id} was deleted; ids of deleted tenants are not reused"
            ))
            .into()),
            Err(InsertError::Db(err)) => Err(ServiceError::from(err).into()),
        }
    }

    async fn get_tenant(
        &self,
        request: Request<pb::GetTenantRequest>,
    ) -> Result<Response<pb::Tenant>, Status> {
        self.require_multi_tenancy()?;
        let id = parse_id(&request.into_inner().id)?;
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
        let request = request.into_inner();
        let page = PageRequest::new(request.page, request.size)?;
        let sort = Sort::parse(&request.sort, SORT_FIELDS)?;
        let (tenants, total) = repo::list_live(&self.db, page, sort)
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
        let request = request.into_inner();
        let id = parse_id(&request.id)?;
        let name = domain::parse_name(&request.name)?;
        let tenant = repo::rename(&self.db, &id, &name)
            .await
            .map_err(ServiceError::from)?
            .ok_or_else(|| not_found(&id))?;
        tracing::info!(tenant = %id, "tenant renamed");
        Ok(Response::new(tenant.into()))
    }

    async fn delete_tenant(
        &self,
        request: Request<pb::DeleteTenantRequest>,
    ) -> Result<Response<pb::DeleteTenantResponse>, Status> {
        self.require_multi_tenancy()?;
        let id = parse_id(&request.into_inner().id)?;
        if !repo::soft_delete(&self.db, &id)
            .await
            .map_err(ServiceError::from)?
        {
            return Err(not_found(&id).into());
        }
        tracing::info!(tenant = %id, "tenant deleted");
        Ok(Response::new(pb::DeleteTenantResponse {}))
    }
}
