//! `AERIE_TEST_TOPOLOGY=processes`: every `TestApp` runs as five
//! `aerie server <service>` processes on loopback instead of one in-process
//! standalone server, so that the whole suite also passes in multi-process
//! mode. Tests that call gRPC directly use one address: a router in front of
//! the processes sends each call to the process serving its package, as an
//! Ingress routing gRPC by path would.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use crate::cluster::{Processes, SERVICES, free_port};

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
    let grpc: HashMap<&str, u16> = SERVICES.iter().map(|s| (*s, free_port())).collect();
    let http_port = free_port();
    let endpoint = |service: &str| format!("http://127.0.0.1:{}", grpc[service]);
    let processes = Processes::new(
        SERVICES
            .iter()
            .map(|service| {
                let (port_var, port) = match *service {
                    "gateway" => ("AERIE_SERVER_HTTP_PORT", http_port),
                    other => ("AERIE_SERVER_GRPC_PORT", grpc[other]),
                };
                Command::new(env!("CARGO_BIN_EXE_aerie"))
                    .arg("-c")
                    .arg(config)
                    .args(["-l", "warn", "server", service])
                    .env(port_var, port.to_string())
                    .env("AERIE_ENDPOINTS_TENANT", endpoint("tenant"))
                    .env("AERIE_ENDPOINTS_AUTH", endpoint("auth"))
                    .env("AERIE_ENDPOINTS_FLOW", endpoint("flow"))
                    .env("AERIE_ENDPOINTS_EXECUTION", endpoint("execution"))
                    .stdout(Stdio::null())
                    .stderr(Stdio::inherit())
                    .spawn()
                    .expect("spawn")
            })
            .collect(),
    );
    let http: SocketAddr = ([127, 0, 0, 1], http_port).into();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let healthy = reqwest::get(format!("http://{http}/health"))
            .await
            .is_ok_and(|r| r.status() == 200);
        if healthy {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the five processes never became healthy"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let router = grpc_router(
        ["tenant", "auth", "flow", "execution"]
            .iter()
            .map(|s| (format!("/aerie.{s}."), endpoint(s)))
            .collect(),
        endpoint("tenant"),
        shutdown,
    )
    .await;
    (processes, http, router)
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
