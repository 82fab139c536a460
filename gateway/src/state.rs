//! What every handler shares: the clients of the backend services and the
//! tenant directory.

use aerie_common::config::Config;
use aerie_common::tenant_directory::TenantDirectory;
use aerie_proto::tenant::v1::tenant_service_client::TenantServiceClient;
use std::time::Duration;
use tonic::transport::{Channel, Endpoint};
use tonic_health::pb::health_client::HealthClient;

/// Shared state of the gateway.
#[derive(Clone)]
pub struct AppState {
    pub tenants: TenantServiceClient<Channel>,
    pub tenant_health: HealthClient<Channel>,
    pub directory: TenantDirectory,
    pub max_request_size: usize,
}

/// A lazily connected channel to a configured service endpoint.
fn channel(endpoint: &str) -> Result<Channel, tonic::transport::Error> {
    Ok(Endpoint::from_shared(endpoint.to_owned())?
        .connect_timeout(Duration::from_secs(3))
        .timeout(Duration::from_secs(30))
        .tcp_nodelay(true)
        .connect_lazy())
}

impl AppState {
    /// Connects (lazily) to the services named in `config.endpoints`.
    pub fn new(config: &Config) -> Result<Self, tonic::transport::Error> {
        let tenant = channel(&config.tenant_endpoint())?;
        Ok(AppState {
            tenants: TenantServiceClient::new(tenant.clone()),
            tenant_health: HealthClient::new(tenant.clone()),
            directory: TenantDirectory::new(config.tenant_policy(), tenant),
            max_request_size: config.server.max_request_size,
        })
    }
}
