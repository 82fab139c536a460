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
use crate::in_process::{GrpcRequest, InProcess};
use crate::observe::ObserveLayer;
use crate::tenant::TenantLayer;

/// Largest gRPC message of the calls that carry files (execution inputs
/// and downloads): above tonic's 4 MiB default, so that any file the
/// gateway accepts (`server.max-request-size`) or storage serves fits.
pub const MAX_FILE_MESSAGE_BYTES: usize = 80 * 1024 * 1024;

/// A channel to another service. It carries the caller's trace context
/// (`traceparent`) on every call, so one trace spans every process, and
/// calls in-process when the endpoint is this process's own
/// ([`InProcess`]).
#[derive(Clone)]
pub struct Channel {
    route: Route,
}

#[derive(Clone)]
enum Route {
    Network(tonic::transport::Channel),
    InProcess(std::sync::Weak<crate::in_process::Slot>),
}

/// A lazily connected channel to a configured service endpoint.
pub fn lazy_channel(endpoint: &str) -> Result<Channel, tonic::transport::Error> {
    // Parsed either way, so that a bad endpoint is refused the same in
    // every topology.
    let network = tonic::transport::Endpoint::from_shared(endpoint.to_owned())?
        .connect_timeout(crate::in_process::START_WAIT)
        .timeout(crate::in_process::CALL_TIMEOUT)
        .tcp_nodelay(true);
    let route = match crate::in_process::find(endpoint) {
        Some(slot) => Route::InProcess(slot),
        None => Route::Network(network.connect_lazy()),
    };
    Ok(Channel { route })
}

impl tower::Service<GrpcRequest> for Channel {
    type Response = http::Response<tonic::body::Body>;
    type Error = Box<dyn std::error::Error + Send + Sync>;
    type Future = crate::BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        match &mut self.route {
            Route::Network(channel) => channel.poll_ready(cx).map_err(Into::into),
            Route::InProcess(_) => std::task::Poll::Ready(Ok(())),
        }
    }

    fn call(&mut self, mut request: GrpcRequest) -> Self::Future {
        crate::telemetry::inject(request.headers_mut());
        match &mut self.route {
            Route::Network(channel) => {
                let call = channel.call(request);
                Box::pin(async move { call.await.map_err(Into::into) })
            }
            Route::InProcess(slot) => {
                let call = crate::in_process::call(slot.clone(), request);
                Box::pin(async move { call.await.map_err(Into::into) })
            }
        }
    }
}

/// The services one process serves over gRPC.
pub struct GrpcServices {
    routes: RoutesBuilder,
    names: Vec<&'static str>,
    verifier: Arc<TokenVerifier>,
    stopping: CancellationToken,
    in_process: Option<InProcess>,
}

impl GrpcServices {
    /// An empty server whose calls are authenticated by `verifier`.
    pub fn new(verifier: Arc<TokenVerifier>) -> GrpcServices {
        GrpcServices {
            routes: RoutesBuilder::default(),
            names: Vec::new(),
            verifier,
            stopping: CancellationToken::new(),
            in_process: None,
        }
    }

    /// Cancelled when the server starts to shut down: long-lived streams
    /// end on it, since in-flight calls are waited for.
    pub fn stopping(&self) -> CancellationToken {
        self.stopping.clone()
    }

    /// Also answers in-process calls to the endpoint `claim` names, from
    /// the moment the server starts until it has stopped.
    pub fn answer_in_process(&mut self, claim: InProcess) -> &mut Self {
        self.in_process = Some(claim);
        self
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
        let mut routes = self.routes;
        routes.add_service(health_service);
        add_public_reflection(&mut routes, &self.names);
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
        let routes = routes.routes();
        // One stack for both ways in, so in-process calls meet exactly the
        // checks a network call does.
        let layers = tower::ServiceBuilder::new()
            .layer(ObserveLayer)
            .layer(TenantLayer)
            .layer(AuthLayer::new(self.verifier));
        if let Some(claim) = &self.in_process {
            claim.serve(layers.service(routes.clone()));
        }
        let served = tonic::transport::Server::builder()
            .layer(layers)
            .add_routes(routes)
            // Without TCP_NODELAY small responses wait for delayed ACKs (~40 ms).
            .serve_with_incoming_shutdown(
                tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true)),
                stop,
            )
            .await;
        // In-process calls are answered until the network's in-flight calls
        // have finished, so that a draining gateway can end its requests.
        if let Some(claim) = &self.in_process {
            claim.stop();
        }
        served
    }
}

/// Server reflection (v1 and v1alpha, for older clients) listing the
/// public services among `served`, health and reflection v1: `grpcurl list` shows what a client may
/// call, never Aerie's internal services.
pub fn add_public_reflection(routes: &mut RoutesBuilder, served: &[&str]) {
    let names: Vec<&str> = served
        .iter()
        .copied()
        .filter(|name| aerie_proto::PUBLIC_SERVICES.contains(name))
        .chain([
            "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection",
        ])
        .collect();
    let builder = || {
        names.iter().fold(
            tonic_reflection::server::Builder::configure()
                .register_encoded_file_descriptor_set(aerie_proto::public_descriptor_set())
                .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET),
            |builder, name| builder.with_service_name(*name),
        )
    };
    routes
        .add_service(
            builder()
                .build_v1()
                .expect("descriptor sets are generated at build time and always decode"),
        )
        .add_service(
            builder()
                .build_v1alpha()
                .expect("descriptor sets are generated at build time and always decode"),
        );
}

#[cfg(test)]
mod tests {
    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::pb::health_client::HealthClient;

    use super::*;
    use crate::changes::ChangeWatch;

    async fn check(endpoint: &str) -> Result<i32, tonic::Status> {
        let channel = lazy_channel(endpoint).expect("endpoint");
        let response = HealthClient::new(channel)
            .check(HealthCheckRequest::default())
            .await?;
        Ok(response.into_inner().status)
    }

    /// The claimed endpoint names a port nothing listens on: only an
    /// in-process call can answer, and it runs through the server's stack.
    #[tokio::test]
    async fn a_claimed_endpoint_is_answered_in_process_until_the_server_stops() {
        let claimed = "http://127.0.0.1:9";
        let claim = InProcess::claim(claimed);
        let verifier = Arc::new(TokenVerifier::new(
            lazy_channel(claimed).expect("endpoint"),
            &ChangeWatch::unwatched(),
        ));
        let mut services = GrpcServices::new(verifier);
        services.answer_in_process(claim);
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let shutdown = CancellationToken::new();
        let server = tokio::spawn(services.serve(listener, shutdown.clone()));

        let serving = ServingStatus::Serving as i32;
        assert_eq!(check(claimed).await.expect("in-process call"), serving);
        assert!(
            check("http://127.0.0.1:10").await.is_err(),
            "an endpoint nobody claimed goes to the network"
        );

        shutdown.cancel();
        server.await.expect("join").expect("served");
        let after = check(claimed).await.expect_err("stopped");
        assert_eq!(after.code(), tonic::Code::Unavailable);
    }

    /// Services hold channels to each other: if a channel kept the server
    /// alive, a server whose task was dropped (a test's runtime ending, say)
    /// would keep its services and database pools for good.
    #[tokio::test]
    async fn channels_do_not_keep_a_dropped_server_alive() {
        let claimed = "http://127.0.0.1:11";
        let claim = InProcess::claim(claimed);
        let channel = lazy_channel(claimed).expect("endpoint");
        let verifier = Arc::new(TokenVerifier::new(
            channel.clone(),
            &ChangeWatch::unwatched(),
        ));
        let mut services = GrpcServices::new(verifier);
        services.answer_in_process(claim);
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let server = tokio::spawn(services.serve(listener, CancellationToken::new()));
        assert!(check(claimed).await.is_ok(), "serving");

        server.abort();
        let _ = server.await;
        assert!(
            crate::in_process::find(claimed).is_none(),
            "the server is gone although a channel to it remains"
        );
        drop(channel);
    }
}
