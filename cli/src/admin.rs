//! Admin commands that work with only the config file: each opens the
//! owning service's database through that service's own code and calls the
//! same API methods the server runs.

use aerie_common::config::Config;
use aerie_proto::tenant::v1 as pb;
use aerie_proto::tenant::v1::tenant_service_server::TenantService;
use tonic::Request;

use crate::server::BoxError;

/// `aerie tenants create`.
pub async fn create_tenant(config: &Config, id: &str, name: &str) -> Result<pb::Tenant, BoxError> {
    let api = aerie_tenant_svc::open(config).await?;
    let request = Request::new(pb::CreateTenantRequest {
        id: id.to_owned(),
        name: name.to_owned(),
    });
    Ok(api
        .create_tenant(request)
        .await
        .map_err(message)?
        .into_inner())
}

/// `aerie tenants list`: every live tenant, all pages.
pub async fn list_tenants(config: &Config) -> Result<Vec<pb::Tenant>, BoxError> {
    let api = aerie_tenant_svc::open(config).await?;
    let mut all = Vec::new();
    for page in 1.. {
        let request = Request::new(pb::ListTenantsRequest {
            page,
            size: 1000,
            sort: String::new(),
        });
        let response = api
            .list_tenants(request)
            .await
            .map_err(message)?
            .into_inner();
        let done = response.results.len() < 1000;
        all.extend(response.results);
        if done {
            break;
        }
    }
    Ok(all)
}

/// `aerie tenants delete`.
pub async fn delete_tenant(config: &Config, id: &str) -> Result<(), BoxError> {
    let api = aerie_tenant_svc::open(config).await?;
    let request = Request::new(pb::DeleteTenantRequest { id: id.to_owned() });
    api.delete_tenant(request).await.map_err(message)?;
    Ok(())
}

/// The operator needs the reason, not the gRPC envelope.
fn message(status: tonic::Status) -> BoxError {
    status.message().to_owned().into()
}
