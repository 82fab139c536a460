//! `AERIE_TEST_TOPOLOGY=processes`: every `TestApp` runs as five
//! `aerie server <service>` processes on loopback instead of one in-process
//! standalone server, so that the whole suite also passes in multi-process
//! mode. Tests that call gRPC directly use one address: a router in front of
//! the processes sends each call to the process serving its package, as an
//! Ingress routing gRPC by path would.

use std::net::SocketAddr;
use std::path::Path;

use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use crate::cluster::{Processes, spawn_five};

/// The variable selecting the topology; `processes` or unset (in-process).
pub const TOPOLOGY_VAR: &str = "AERIE_TEST_TOPOLOGY";

pub fn processes_requested() -> bool {
    std::env::var(TOPOLOGY_VAR).is_ok_and(|v| v == "processes")
}

/// Five processes sharing `config` (a file the test wrote); returns them,
/// the gateway's address and the gRPC router's address.
pub async fn start(
    config: &Path,
    shutdown: CancellationToken,
) -> (Processes, SocketAddr, SocketAddr) {
    let five = spawn_five(config, |_| Vec::new()).await;
    let endpoint = |service: &str| format!("http://127.0.0.1:{}", five.grpc[service]);
    let router = grpc_router(
        ["tenant", "auth", "flow", "execution"]
            .iter()
            .map(|s| (format!("/aerie.{s}."), endpoint(s)))
            .collect(),
        endpoint("tenant"),
        shutdown,
    )
    .await;
    let http: SocketAddr = ([127, 0, 0, 1], five.http_port).into();
    (five.processes, http, router)
}

/// A gRPC server that forwards each call, streams and trailers included, to
/// the backend whose path prefix matches (else to `fallback`).
async fn grpc_router(
    prefixes: Vec<(String, String)>,
    fallback: String,
    shutdown: CancellationToken,
) -> SocketAddr {
    let connect = |url: &str| {
        tonic::transport::Endpoint::from_shared(url.to_owned())
            .expect("endpoint")
            .connect_lazy()
    };
    let backends: Vec<(String, tonic::transport::Channel)> = prefixes
        .iter()
        .map(|(prefix, url)| (prefix.clone(), connect(url)))
        .collect();
    let fallback = connect(&fallback);
    let router = axum::Router::new().fallback(move |request: axum::extract::Request| {
        let channel = backends
            .iter()
            .find(|(prefix, _)| request.uri().path().starts_with(prefix.as_str()))
            .map_or(fallback.clone(), |(_, channel)| channel.clone());
        async move {
            let (parts, body) = request.into_parts();
            let forwarded = http::Request::from_parts(parts, tonic::body::Body::new(body));
            match channel.oneshot(forwarded).await {
                Ok(response) => response.map(axum::body::Body::new),
                Err(err) => {
                    tonic::Status::unavailable(err.to_string()).into_http::<axum::body::Body>()
                }
            }
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_routes(tonic::service::Routes::from(router))
            .serve_with_incoming_shutdown(
                tokio_stream::wrappers::TcpListenerStream::new(listener),
                shutdown.cancelled_owned(),
            )
            .await
    });
    addr
}
