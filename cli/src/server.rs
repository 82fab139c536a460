//! `aerie server ...`: every service in one process, or one per process.

use std::net::SocketAddr;

use aerie_common::config::Config;
use aerie_common::grpc::GrpcServices;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Any startup or serving failure, as a message for the operator.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A running standalone server.
pub struct Standalone {
    /// Where the REST gateway listens.
    pub http_addr: SocketAddr,
    /// Where every gRPC service listens.
    pub grpc_addr: SocketAddr,
    /// Ends when both servers have stopped.
    pub task: JoinHandle<Result<(), BoxError>>,
}

async fn bind(addr: SocketAddr, what: &str) -> Result<TcpListener, BoxError> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen for {what} on {addr}: {e}").into())
}

/// Starts every service and the gateway in this process: gRPC on
/// `grpc-port`, REST on `http-port` (0 picks a free port), SQLite and files
/// under `data-dir` unless configured otherwise. Returns once both listen.
pub async fn start_standalone(
    mut config: Config,
    shutdown: CancellationToken,
) -> Result<Standalone, BoxError> {
    aerie_common::local_secret::create_private_dir(&config.data_dir)
        .map_err(|e| format!("cannot create data-dir {}: {e}", config.data_dir.display()))?;
    aerie_common::local_secret::warn_if_exposed(&config.data_dir);
    let grpc = bind(config.grpc_addr(), "gRPC").await?;
    let http = bind(config.http_addr(), "HTTP").await?;
    let grpc_addr = grpc.local_addr()?;
    let http_addr = http.local_addr()?;
    // The gateway and the services reach each other at the port actually
    // bound, and call in-process there: the same layers, no socket.
    let local = config.default_endpoints_to(grpc_addr.port());
    let in_process = aerie_common::in_process::InProcess::claim(&local);

    let auth = aerie_auth_svc::open(&config).await?;
    aerie_auth_svc::retention::spawn(auth.db.clone(), &config, shutdown.clone())?;
    let tenants = aerie_tenant_svc::open(&config).await?;
    aerie_tenant_svc::spawn_audit_relay(&tenants, &config, shutdown.clone())?;
    let flows = aerie_flow_svc::open(&config).await?;
    aerie_flow_svc::spawn_audit_relay(&flows, &config, shutdown.clone())?;
    let executions = aerie_execution_svc::open(&config).await?;
    let executor = aerie_execution_svc::spawn_background(&executions, &config, shutdown.clone())?;
    let probes = [
        aerie_tenant_svc::metrics_probes(&tenants),
        aerie_flow_svc::metrics_probes(&flows),
        aerie_execution_svc::metrics_probes(&executions, &config),
    ]
    .concat();
    aerie_common::metrics::serve_probes(&config, probes, shutdown.clone()).await?;
    let mut services = GrpcServices::new(aerie_common::auth::verifier_for(&config)?);
    aerie_auth_svc::register(&mut services, auth);
    aerie_tenant_svc::register(&mut services, tenants);
    aerie_flow_svc::register(&mut services, flows);
    aerie_execution_svc::register(&mut services, executions);
    services.answer_in_process(in_process);

    let grpc_task = {
        let shutdown = shutdown.clone();
        tokio::spawn(async move { Ok(services.serve(grpc, shutdown).await?) })
    };
    let gateway = {
        let shutdown = shutdown.clone();
        async move { aerie_gateway::serve(&config, http, shutdown).await }
    };
    let gateway_task = tokio::spawn(gateway);
    // Whichever server stops first (shutdown, error or panic) stops the other:
    // a half-running standalone process would look healthy and serve nothing.
    let task = tokio::spawn(async move {
        let stop_after = |task: JoinHandle<Result<(), BoxError>>| {
            let shutdown = shutdown.clone();
            async move {
                let result = flatten(task.await);
                shutdown.cancel();
                result
            }
        };
        let (grpc, gateway) = tokio::join!(stop_after(grpc_task), stop_after(gateway_task));
        // The executor hands its work over (leases released) before we exit.
        let _ = executor.await;
        grpc.and(gateway)
    });
    Ok(Standalone {
        http_addr,
        grpc_addr,
        task,
    })
}

fn flatten(result: Result<Result<(), BoxError>, tokio::task::JoinError>) -> Result<(), BoxError> {
    match result {
        Ok(inner) => inner,
        Err(join) => Err(format!("server task failed: {join}").into()),
    }
}

/// `aerie server standalone`.
pub async fn run_standalone(config: Config, shutdown: CancellationToken) -> Result<(), BoxError> {
    let started = std::time::Instant::now();
    let server = start_standalone(config, shutdown).await?;
    tracing::info!(
        http = %server.http_addr,
        grpc = %server.grpc_addr,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "aerie standalone ready"
    );
    server.task.await?
}

/// `aerie server tenant`.
pub async fn run_tenant(config: Config, shutdown: CancellationToken) -> Result<(), BoxError> {
    let listener = bind(config.grpc_addr(), "gRPC").await?;
    tracing::info!(grpc = %listener.local_addr()?, "tenant service ready");
    aerie_tenant_svc::serve(&config, listener, shutdown).await
}

/// `aerie server auth`.
pub async fn run_auth(config: Config, shutdown: CancellationToken) -> Result<(), BoxError> {
    let listener = bind(config.grpc_addr(), "gRPC").await?;
    tracing::info!(grpc = %listener.local_addr()?, "auth service ready");
    aerie_auth_svc::serve(&config, listener, shutdown).await
}

/// `aerie server flow`.
pub async fn run_flow(config: Config, shutdown: CancellationToken) -> Result<(), BoxError> {
    let listener = bind(config.grpc_addr(), "gRPC").await?;
    tracing::info!(grpc = %listener.local_addr()?, "flow service ready");
    aerie_flow_svc::serve(&config, listener, shutdown).await
}

/// `aerie server execution`.
pub async fn run_execution(config: Config, shutdown: CancellationToken) -> Result<(), BoxError> {
    let listener = bind(config.grpc_addr(), "gRPC").await?;
    tracing::info!(grpc = %listener.local_addr()?, "execution service ready");
    aerie_execution_svc::serve(&config, listener, shutdown).await
}

/// `aerie server gateway`: REST (and the web UI) on `http-port`, the
/// public gRPC endpoint on `grpc-port`.
pub async fn run_gateway(config: Config, shutdown: CancellationToken) -> Result<(), BoxError> {
    let listener = bind(config.http_addr(), "HTTP").await?;
    let grpc = bind(config.grpc_addr(), "gRPC").await?;
    tracing::info!(http = %listener.local_addr()?, grpc = %grpc.local_addr()?,
        tenant = %config.tenant_endpoint(), "gateway ready");
    // The gateway's own numbers are its REST requests; it has no database.
    aerie_common::metrics::serve_probes(&config, Vec::new(), shutdown.clone()).await?;
    let public_grpc = {
        let (config, shutdown) = (config.clone(), shutdown.clone());
        tokio::spawn(
            async move { aerie_gateway::grpc_proxy::serve_grpc(&config, grpc, shutdown).await },
        )
    };
    let rest = aerie_gateway::serve(&config, listener, shutdown.clone()).await;
    // Either way in stops both.
    shutdown.cancel();
    let grpc = flatten(public_grpc.await);
    rest.and(grpc)
}
