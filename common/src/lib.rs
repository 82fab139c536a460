//! What every Aerie service shares, written once: the tenant type and its
//! propagation, error mapping, configuration, database set-up, telemetry,
//! gRPC server assembly and graceful shutdown.

pub mod audit;
pub mod auth;
pub mod cache;
pub mod changes;
pub mod config;
pub mod crypto;
pub mod db;
pub mod error;
pub mod fair_turns;
pub mod grpc;
pub mod in_process;
pub mod kestra;
pub mod local_secret;
pub mod metrics;
pub mod net;
pub mod observe;
pub mod paging;
pub mod quota;
pub mod rate;
pub mod shutdown;
pub mod telemetry;
pub mod tenant;
pub mod tenant_directory;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod time;
pub mod transfer;

pub use error::ServiceError;

/// The future type of the tower middlewares here (tenant, auth).
pub(crate) type BoxFuture<T, E> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<T, E>> + Send + 'static>>;
pub use tenant::{TenantId, TenantPolicy};
