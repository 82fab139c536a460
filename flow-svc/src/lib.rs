//! flow-svc: owns flows (YAML source, revisions), namespaces, secrets, KV
//! and trigger definitions in its own schema, and serves
//! `aerie.flow.v1.{FlowService, SecretService, KvService, TriggerService,
//! NamespaceService}`, and `aerie.flow.internal.v1.FlowInternalService` and
//! its part of tenant archives to the other services.

pub mod api;
pub mod domain;
pub mod migration;
pub mod repo;
pub mod transfer;

use aerie_common::config::Config;
use aerie_common::db;
use aerie_common::grpc::GrpcServices;
use aerie_proto::flow::internal::v1::flow_internal_service_server::FlowInternalServiceServer;
use aerie_proto::flow::v1::flow_service_server::FlowServiceServer;
use aerie_proto::flow::v1::kv_service_server::KvServiceServer;
use aerie_proto::flow::v1::namespace_service_server::NamespaceServiceServer;
use aerie_proto::flow::v1::secret_service_server::SecretServiceServer;
use aerie_proto::flow::v1::trigger_service_server::TriggerServiceServer;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use api::FlowApi;

/// Connects to this service's database, migrates it and builds the API.
pub async fn open(config: &Config) -> Result<FlowApi, Box<dyn std::error::Error + Send + Sync>> {
    let secrets = aerie_common::crypto::SecretBox::new(&config.secrets_master_key()?)?;
    let db = db::connect_and_migrate::<migration::Migrator>(
        &config.flow_database_url(),
        &config.migration_url("flow"),
        "flow",
    )
    .await?;
    let auth = aerie_common::grpc::lazy_channel(&config.auth_endpoint())?;
    let tenants = aerie_common::grpc::lazy_channel(&config.tenant_endpoint())?;
    Ok(FlowApi::new(
        db,
        config.tenant_policy(),
        auth,
        tenants,
        secrets,
        config.service_token()?,
        &aerie_common::changes::ChangeWatch::for_config(config)?,
    ))
}

/// Starts delivering this service's audit outbox to auth-svc until `shutdown`.
pub fn spawn_audit_relay(
    api: &FlowApi,
    config: &Config,
    shutdown: CancellationToken,
) -> Result<tokio::task::JoinHandle<()>, Box<dyn std::error::Error + Send + Sync>> {
    aerie_common::audit::spawn_relay(api.db().clone(), config, shutdown)
}

/// Adds this service's gRPC services to a server being assembled.
pub fn register(services: &mut GrpcServices, api: FlowApi) {
    let api = api.announcing_changes(services.stopping());
    // An import carries many flows, up to the gateway's largest body, and
    // an export reads many back.
    services.add(
        FlowServiceServer::new(api.clone())
            .max_decoding_message_size(aerie_common::grpc::MAX_FILE_MESSAGE_BYTES)
            .max_encoding_message_size(aerie_common::grpc::MAX_FILE_MESSAGE_BYTES),
    );
    services.add(SecretServiceServer::new(api.clone()));
    services.add(
        aerie_proto::transfer::internal::v1::flow_transfer_service_server::FlowTransferServiceServer::new(
            api.clone(),
        ),
    );
    services.add(KvServiceServer::new(api.clone()));
    services.add(TriggerServiceServer::new(api.clone()));
    services.add(NamespaceServiceServer::new(api.clone()));
    services.add(FlowInternalServiceServer::new(api));
}

/// Gauges sampled at each scrape: the audit outbox.
pub fn metrics_probes(api: &FlowApi) -> Vec<aerie_common::metrics::Probe> {
    vec![aerie_common::metrics::outbox_probe(
        "flow",
        api.db().clone(),
    )]
}

/// Runs flow-svc alone on `listener` until `shutdown` (`aerie server flow`).
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
