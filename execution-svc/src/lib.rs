//! execution-svc: owns executions, task runs, logs and internal storage in
//! its own schema, runs them (the executor) and fires Schedule and Webhook
//! triggers; serves `aerie.execution.v1.{ExecutionService, WebhookService}`.

pub mod api;
pub mod domain;
pub mod executor;
pub mod live_tenants;
pub mod migration;
pub mod quota;
pub mod repo;
pub mod retention;
pub mod scheduler;
pub mod storage;
pub mod transfer;

use std::sync::Arc;

use aerie_common::config::Config;
use aerie_common::db;
use aerie_common::grpc::GrpcServices;
use aerie_common::metrics::{self, Probe, Sample};
use aerie_proto::execution::v1::execution_service_server::ExecutionServiceServer;
use aerie_proto::execution::v1::webhook_service_server::WebhookServiceServer;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use api::ExecutionApi;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Connects to this service's database, migrates it and builds the API
/// and its executor (not started yet: see [`spawn_background`]).
pub async fn open(config: &Config) -> Result<ExecutionApi, BoxError> {
    let db = db::connect_and_migrate::<migration::Migrator>(
        &config.execution_database_url(),
        &config.migration_url("execution"),
        "execution",
    )
    .await?;
    // A retention period that is not a duration stops the start, naming its key.
    config.tenants.quotas.retention()?;
    let storage = storage::Storage::from_config(config)?;
    let flows = aerie_common::grpc::lazy_channel(&config.flow_endpoint())?;
    let tenants = aerie_common::grpc::lazy_channel(&config.tenant_endpoint())?;
    let watch = aerie_common::changes::ChangeWatch::for_config(config)?;
    let quotas = Arc::new(quota::QuotaBook::new(
        &config.tenants.quotas,
        tenants.clone(),
        config.service_token()?,
        &watch,
    ));
    let engine = executor::Engine::new(
        db.clone(),
        storage,
        flows,
        config.service_token()?,
        &config.executor,
        quotas.clone(),
        aerie_common::crypto::SecretBox::new(&config.secrets_master_key()?)?,
    );
    let auth = aerie_common::grpc::lazy_channel(&config.auth_endpoint())?;
    let guard = aerie_common::auth::TenantGuard::new(
        config.tenant_policy(),
        auth,
        tenants,
        config.service_token()?,
        &watch,
    );
    Ok(ExecutionApi::new(db, guard, engine))
}

/// Starts the executor, the scheduler (unless turned off) and the audit
/// relay until `shutdown`.
/// Answers the executor's task: await it after `shutdown` so that it
/// stops its runs and releases their leases before the process exits.
pub fn spawn_background(
    api: &ExecutionApi,
    config: &Config,
    shutdown: CancellationToken,
) -> Result<tokio::task::JoinHandle<()>, BoxError> {
    let executor = api.engine().spawn(shutdown.clone());
    let tenants = live_tenants::LiveTenants::new(
        api.engine().clone(),
        aerie_common::grpc::lazy_channel(&config.tenant_endpoint())?,
        config.tenant_policy(),
    );
    if config.executor.scheduler {
        scheduler::Scheduler::new(api.engine().clone(), tenants.clone(), config)
            .spawn(shutdown.clone());
    }
    if config.executor.workers > 0 {
        // Where executions run, old ones are deleted too.
        retention::spawn(
            api.engine().clone(),
            tenants,
            std::time::Duration::from_secs(config.executor.retention_interval_seconds.max(1)),
            shutdown.clone(),
        );
    }
    aerie_common::audit::spawn_relay(api.db().clone(), config, shutdown)?;
    Ok(executor)
}

/// Gauges sampled at each scrape: the queue and the audit outbox (and each
/// tenant's executions with `aerie.server.metrics-tenant-labels`).
pub fn metrics_probes(api: &ExecutionApi, config: &Config) -> Vec<Probe> {
    let db = api.db().clone();
    let queue: Probe = Arc::new(move || {
        let db = db.clone();
        Box::pin(async move {
            match repo::queue::depth(&db).await {
                Ok(depth) => [("queued", depth.queued), ("running", depth.running)]
                    .into_iter()
                    .map(|(state, count)| Sample {
                        name: "execution_queue",
                        help: "Executions waiting for a worker (queued) or held by one (running)",
                        labels: vec![("state", state.to_owned())],
                        value: i64::try_from(count).unwrap_or(i64::MAX),
                    })
                    .collect(),
                Err(err) => {
                    tracing::warn!(%err, "queue depth not sampled");
                    Vec::new()
                }
            }
        })
    });
    let mut probes = vec![queue, metrics::outbox_probe("execution", api.db().clone())];
    if config.server.metrics_tenant_labels {
        probes.push(tenant_usage_probe(api.db().clone()));
    }
    probes
}

/// `aerie_tenant_executions{tenant,state}`: one series per tenant with work.
fn tenant_usage_probe(db: sea_orm::DatabaseConnection) -> Probe {
    Arc::new(move || {
        let db = db.clone();
        Box::pin(async move {
            match repo::queue::depth_by_tenant(&db).await {
                Ok(depths) => depths
                    .into_iter()
                    .flat_map(|(tenant, depth)| {
                        [("queued", depth.queued), ("running", depth.running)].map(
                            |(state, count)| Sample {
                                name: "tenant_executions",
                                help: "Executions of one tenant waiting for a worker (queued) or held by one (running)",
                                labels: vec![
                                    // The default tenant has no id: an empty label.
                                    ("tenant", tenant.as_named().unwrap_or_default().to_owned()),
                                    ("state", state.to_owned()),
                                ],
                                value: i64::try_from(count).unwrap_or(i64::MAX),
                            },
                        )
                    })
                    .collect(),
                Err(err) => {
                    tracing::warn!(%err, "tenant usage not sampled");
                    Vec::new()
                }
            }
        })
    })
}

/// Adds this service's gRPC services to a server being assembled.
pub fn register(services: &mut GrpcServices, api: ExecutionApi) {
    services.add(
        ExecutionServiceServer::new(api.clone())
            .max_decoding_message_size(aerie_common::grpc::MAX_FILE_MESSAGE_BYTES)
            .max_encoding_message_size(aerie_common::grpc::MAX_FILE_MESSAGE_BYTES),
    );
    services.add(
        aerie_proto::transfer::internal::v1::execution_transfer_service_server::ExecutionTransferServiceServer::new(
            api.clone(),
        ),
    );
    services.add(WebhookServiceServer::new(api));
}

/// Runs execution-svc alone on `listener` until `shutdown` (`aerie server execution`).
pub async fn serve(
    config: &Config,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), BoxError> {
    let api = open(config).await?;
    let executor = spawn_background(&api, config, shutdown.clone())?;
    metrics::serve_probes(config, metrics_probes(&api, config), shutdown.clone()).await?;
    let mut services = GrpcServices::new(aerie_common::auth::verifier_for(config)?);
    register(&mut services, api);
    let served = services.serve(listener, shutdown.clone()).await;
    // The executor hands its work over (leases released) before we exit.
    shutdown.cancel();
    let _ = executor.await;
    served?;
    Ok(())
}
