//! Assembles a gRPC server the same way for every process: the given
//! services behind [`TenantLayer`] and [`AuthLayer`], plus `grpc.health.v1.Health` and server
//! reflection (v1 and v1alpha) so that `grpcurl` works without proto files.

use std::convert::Infallible;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::server::NamedService;
use tonic::service::RoutesBuilder;
use tonic_health::ServingStatus;

use crate::auth::{AuthLayer, TokenVerifier};
use crate::observe::ObserveLayer;
use crate::tenant::TenantLayer;

/// Largest gRPC message of the calls that carry files (execution inputs
/// and downloads): above tonic's 4 MiB default, so that any file the
/// gateway accepts (`server.max-request-size`) or storage serves fits.
pub const MAX_FILE_MESSAGE_BYTES: usize = 80 * 1024 * 1024;

/// A channel to another service that carries the caller's trace context
/// (`traceparent`) on every call, so one trace spans every process.
pub type Channel =
    tower::util::MapRequest<tonic::transport::Channel, fn(GrpcRequest) -> GrpcRequest>;

type GrpcRequest = http::Request<tonic::body::Body>;

fn with_trace_context(mut request: GrpcRequest) -> GrpcRequest {
    crate::telemetry::inject(request.headers_mut());
    request
}

/// A lazily connected channel to a configured service endpoint.
pub fn lazy_channel(endpoint: &str) -> Result<Channel, tonic::transport::Error> {
    let channel = tonic::transport::Endpoint::from_shared(endpoint.to_owned())?
        .connect_timeout(std::time::Duration::from_secs(3))
        .timeout(std::time::Duration::from_secs(30))
        .tcp_nodelay(true)
        .connect_lazy();
    Ok(tower::util::MapRequest::new(
        channel,
        with_trace_context as fn(GrpcRequest) -> GrpcRequest,
    ))
}

/// The services one process serves over gRPC.
pub struct GrpcServices {
    routes: RoutesBuilder,
    names: Vec<&'static str>,
    verifier: Arc<TokenVerifier>,
    stopping: CancellationToken,
}

impl GrpcServices {
    /// An empty server whose calls are authenticated by `verifier`.
    pub fn new(verifier: Arc<TokenVerifier>) -> GrpcServices {
        GrpcServices {
            routes: RoutesBuilder::default(),
            names: Vec::new(),
            verifier,
            stopping: CancellationToken::new(),
        }
    }

    /// Cancelled when the server starts to shut down: long-lived streams
    /// end on it, since in-flight calls are waited for.
    pub fn stopping(&self) -> CancellationToken {
        self.stopping.clone()
    }

    /// Adds one service; health reports it SERVING while the server runs.
    pub fn add<S>(&mut self, service: S) -> &mut Self
    where
        S: tower::Service<
                http::Request<tonic::body::Body>,
                Response = http::Response<tonic::body::Body>,
                Error = Infallible,
            > + NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        self.routes.add_service(service);
        self.names.push(S::NAME);
        self
    }

    /// Serves until `shutdown` is cancelled; health turns NOT_SERVING first,
    /// then in-flight calls finish.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: CancellationToken,
    ) -> Result<(), tonic::transport::Error> {
        let (health, health_service) = tonic_health::server::health_reporter();
        let reflection_v1 = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(aerie_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .build_v1()
            .expect("descriptor sets are generated at build time and always decode");
        let reflection_v1alpha = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(aerie_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .build_v1alpha()
            .expect("descriptor sets are generated at build time and always decode");

        let mut routes = self.routes;
        routes
            .add_service(health_service)
            .add_service(reflection_v1)
            .add_service(reflection_v1alpha);
        for name in self.names.iter().copied().chain([""]) {
            health
                .set_service_status(name, ServingStatus::Serving)
                .await;
        }

        let names = self.names;
        let stopping = self.stopping;
        let stop = async move {
            shutdown.cancelled().await;
            stopping.cancel();
            for name in names.iter().copied().chain([""]) {
                health
                    .set_service_status(name, ServingStatus::NotServing)
                    .await;
            }
        };
        tonic::transport::Server::builder()
            .layer(ObserveLayer)
            .layer(TenantLayer)
            .layer(AuthLayer::new(self.verifier))
            .add_routes(routes.routes())
            // Without TCP_NODELAY small responses wait for delayed ACKs (~40 ms).
            .serve_with_incoming_shutdown(
                tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true)),
                stop,
            )
            .await
    }
}
