//! tenant-svc: owns tenants (id, name, soft delete) in its own schema and
//! serves `aerie.tenant.v1.TenantService`, and
//! `aerie.tenant.internal.v1.TenantInternalService` to the other services.

pub mod api;
pub mod domain;
pub mod migration;
pub mod repo;
pub mod transfer;

use aerie_common::config::Config;
use aerie_common::db;
use aerie_common::grpc::GrpcServices;
use aerie_proto::tenant::internal::v1::tenant_internal_service_server::TenantInternalServiceServer;
use aerie_proto::tenant::v1::tenant_service_server::TenantServiceServer;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use api::TenantApi;

/// Connects to this service's database, migrates it and builds the API.
pub async fn open(config: &Config) -> Result<TenantApi, Box<dyn std::error::Error + Send + Sync>> {
    let db = db::connect_and_migrate::<migration::Migrator>(
        &config.tenant_database_url(),
        &config.migration_url("tenant"),
        "tenant",
    )
    .await?;
    let auth = aerie_common::grpc::lazy_channel(&config.auth_endpoint())?;
    Ok(TenantApi::new(
        db,
        config.tenant_policy(),
        auth,
        config.service_token()?,
        &aerie_common::changes::ChangeWatch::for_config(config)?,
    )
    .with_parts(transfer::Parts {
        auth: aerie_common::grpc::lazy_channel(&config.auth_endpoint())?,
        flow: aerie_common::grpc::lazy_channel(&config.flow_endpoint())?,
        execution: aerie_common::grpc::lazy_channel(&config.execution_endpoint())?,
    }))
}

/// Starts delivering this service's audit outbox to auth-svc until `shutdown`.
pub fn spawn_audit_relay(
    api: &TenantApi,
    config: &Config,
    shutdown: CancellationToken,
) -> Result<tokio::task::JoinHandle<()>, Box<dyn std::error::Error + Send + Sync>> {
    aerie_common::audit::spawn_relay(api.db().clone(), config, shutdown)
}

/// Adds this service to a gRPC server being assembled.
pub fn register(services: &mut GrpcServices, api: TenantApi) {
    let api = api.announcing_changes(services.stopping());
    services.add(TenantServiceServer::new(api.clone()));
    services.add(TenantInternalServiceServer::new(api));
}

/// Gauges sampled at each scrape: the audit outbox.
pub fn metrics_probes(api: &TenantApi) -> Vec<aerie_common::metrics::Probe> {
    vec![aerie_common::metrics::outbox_probe(
        "tenant",
        api.db().clone(),
    )]
}

/// Runs tenant-svc alone on `listener` until `shutdown` (`aerie server tenant`).
pub async fn serve(
    config: &Config,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let api = open(config).await?;
    spawn_audit_relay(&api, config, shutdown.clone())?;
    aerie_common::metrics::serve_probes(config, metrics_probes(&api), shutdown.clone()).await?;
    let mut services = GrpcServices::new(aerie_common::auth::verifier_for(config)?);
    register(&mut services, api);
    services.serve(listener, shutdown).await?;
    Ok(())
}
