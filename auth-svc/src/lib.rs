//! auth-svc: users (argon2id), the super admin, Ed25519 signing keys and
//! JWKS, tokens, per-tenant roles and bindings, and access decisions.

pub mod api;
pub mod core;
pub mod domain;
pub mod migration;
pub mod passwords;
pub mod repo;
pub mod retention;
pub mod sync_access;
pub mod throttle;
pub mod tokens;
pub mod transfer;

use std::sync::Arc;
use std::time::Duration;

use aerie_common::config::Config;
use aerie_common::db;
use aerie_common::grpc::GrpcServices;
use aerie_proto::auth::v1::audit_service_server::AuditServiceServer;
use aerie_proto::auth::v1::auth_service_server::AuthServiceServer;
use aerie_proto::auth::v1::rbac_service_server::RbacServiceServer;
use aerie_proto::auth::v1::user_service_server::UserServiceServer;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use api::AuthApi;
pub use core::{AuthCore, Core};

/// Connects, migrates, makes sure a signing key exists and the configured
/// super admin is present.
pub async fn open(config: &Config) -> Result<Core, Box<dyn std::error::Error + Send + Sync>> {
    let db = db::connect_and_migrate::<migration::Migrator>(
        &config.auth_database_url(),
        &config.migration_url("auth"),
        "auth",
    )
    .await?;
    let service_token = config.service_token()?;
    let tenants = aerie_common::tenant_directory::TenantDirectory::for_service(
        config.tenant_policy(),
        aerie_common::grpc::lazy_channel(&config.tenant_endpoint())?,
        service_token.clone(),
        &aerie_common::changes::ChangeWatch::for_config(config)?,
    );
    let core = Arc::new(AuthCore {
        db,
        tenants,
        policy: config.tenant_policy(),
        token_ttl: Duration::from_secs(config.security.token_ttl.max(1)),
        throttle: throttle::LoginGuard::default(),
        service_token,
    });
    core.ensure_signing_key(config.security.jwt_signing_key.as_deref())
        .await?;
    core.prepare_dummy_hash().await?;
    if let (Some(username), Some(password)) = (
        &config.security.super_admin.username,
        &config.security.super_admin.password,
    ) {
        core.ensure_super_admin(username, password).await?;
    }
    Ok(core)
}

/// Adds this service's gRPC APIs to a server being assembled.
pub fn register(services: &mut GrpcServices, core: Core) {
    let changes = aerie_common::changes::ChangeFeed::start(core.db.clone(), services.stopping());
    services.add(
        aerie_proto::transfer::internal::v1::auth_transfer_service_server::AuthTransferServiceServer::new(
            transfer::TransferPart(core.clone()),
        ),
    );
    let api = AuthApi::new(core, changes);
    services.add(AuthServiceServer::new(api.clone()));
    services.add(UserServiceServer::new(api.clone()));
    services.add(RbacServiceServer::new(api.clone()));
    services.add(AuditServiceServer::new(api.clone()));
    services.add(aerie_proto::auth::internal::v1::auth_internal_service_server::AuthInternalServiceServer::new(api));
}

/// Runs auth-svc alone on `listener` until `shutdown` (`aerie server auth`).
pub async fn serve(
    config: &Config,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let core = open(config).await?;
    retention::spawn(core.db.clone(), config, shutdown.clone())?;
    // auth-svc receives audit entries and has no outbox: request metrics only.
    aerie_common::metrics::serve_probes(config, Vec::new(), shutdown.clone()).await?;
    let mut services = GrpcServices::new(aerie_common::auth::verifier_for(config)?);
    register(&mut services, core);
    services.serve(listener, shutdown).await?;
    Ok(())
}
