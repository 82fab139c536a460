//! The public gRPC endpoint: the gateway's gRPC port forwards calls of the
//! public services ([`aerie_proto::PUBLIC_SERVICES`]) to the service that
//! owns them, as they came: the caller's credential and `x-aerie-tenant`
//! travel on, and each service authenticates and scopes the call itself,
//! as it does a call that reaches it directly. Health and a reflection that
//! lists the public services are answered here; Aerie's internal calls are
//! UNIMPLEMENTED.
//!
//! Bodies are not decoded: streams (FollowExecution, FollowLogs) flow
//! through as they are produced, and no message size limit is added on top
//! of the services' own.

use std::net::SocketAddr;

use aerie_common::config::Config;
use aerie_common::grpc::{Channel, add_public_reflection, lazy_channel};
use aerie_common::net::TrustedProxies;
use axum::response::Response;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::service::RoutesBuilder;
use tonic_health::ServingStatus;
use tower::ServiceExt;

/// The call whose failures are counted per client: auth-svc learns the
/// client's address from the gateway, as the REST sign-in does.
const ISSUE_TOKEN: &str = "/aerie.auth.v1.AuthService/IssueToken";

/// The channel to each service, and what the sign-in forwarding needs.
#[derive(Clone)]
struct Backends {
    tenant: Channel,
    auth: Channel,
    flow: Channel,
    execution: Channel,
    service_token: String,
    trusted_proxies: TrustedProxies,
}

impl Backends {
    fn for_path(&self, path: &str) -> Option<Channel> {
        let package = path.strip_prefix("/aerie.")?.split('.').next()?;
        Some(match package {
            "tenant" => self.tenant.clone(),
            "auth" => self.auth.clone(),
            "flow" => self.flow.clone(),
            "execution" => self.execution.clone(),
            _ => return None,
        })
    }
}

/// Serves the public gRPC endpoint on `listener` until `shutdown`.
pub async fn serve_grpc(
    config: &Config,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let backends = Backends {
        tenant: lazy_channel(&config.tenant_endpoint())?,
        auth: lazy_channel(&config.auth_endpoint())?,
        flow: lazy_channel(&config.flow_endpoint())?,
        execution: lazy_channel(&config.execution_endpoint())?,
        service_token: config.service_token()?,
        trusted_proxies: TrustedProxies::parse(&config.security.trusted_proxies)?,
    };
    let (health, health_service) = tonic_health::server::health_reporter();
    tokio::spawn(follow_backends(
        health.clone(),
        backends.clone(),
        shutdown.clone(),
    ));
    let mut routes = RoutesBuilder::default();
    routes.add_service(health_service);
    add_public_reflection(&mut routes, aerie_proto::PUBLIC_SERVICES);
    let router = routes
        .routes()
        .into_axum_router()
        .fallback(move |request: axum::extract::Request| forward(backends.clone(), request));
    let names = aerie_proto::PUBLIC_SERVICES.iter().copied().chain([""]);

    let stop = async move {
        shutdown.cancelled().await;
        for name in names {
            health
                .set_service_status(name, ServingStatus::NotServing)
                .await;
        }
    };
    tonic::transport::Server::builder()
        .add_routes(tonic::service::Routes::from(router))
        .serve_with_incoming_shutdown(
            tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true)),
            stop,
        )
        .await?;
    Ok(())
}

/// How often the endpoint's health follows its backends'.
const HEALTH_INTERVAL: std::time::Duration = std::time::Duration::from_secs(2);

/// Keeps the endpoint's health true to the services behind it, as REST's
/// `/health` is: each public service is SERVING while the service that owns
/// it answers its own health check, and the whole endpoint ("") while all
/// four do. A client's health check then says whether its calls can work.
async fn follow_backends(
    health: tonic_health::server::HealthReporter,
    backends: Backends,
    shutdown: CancellationToken,
) {
    const PACKAGES: [&str; 4] = ["tenant", "auth", "flow", "execution"];
    let mut tick = tokio::time::interval(HEALTH_INTERVAL);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let mut up = std::collections::HashMap::new();
        for package in PACKAGES {
            let channel = backends
                .for_path(&format!("/aerie.{package}.v1.X/Y"))
                .expect("every package has a backend");
            let mut client = tonic_health::pb::health_client::HealthClient::new(channel);
            // The backend process as a whole (""): what it serves is its
            // own business, and a process going away says NOT_SERVING.
            let check = client.check(tonic_health::pb::HealthCheckRequest {
                service: String::new(),
            });
            let serving = matches!(
                tokio::time::timeout(crate::routes::meta::BACKEND_CHECK_TIMEOUT, check).await,
                Ok(Ok(answer)) if answer.get_ref().status() == tonic_health::pb::health_check_response::ServingStatus::Serving
            );
            up.insert(package, serving);
        }
        if shutdown.is_cancelled() {
            return;
        }
        let status = |serving: bool| {
            if serving {
                ServingStatus::Serving
            } else {
                ServingStatus::NotServing
            }
        };
        for name in aerie_proto::PUBLIC_SERVICES {
            let package = name
                .strip_prefix("aerie.")
                .and_then(|rest| rest.split('.').next())
                .unwrap_or_default();
            let serving = up.get(package).copied().unwrap_or(false);
            health.set_service_status(name, status(serving)).await;
        }
        health
            .set_service_status("", status(up.values().all(|u| *u)))
            .await;
    }
}

/// Forwards one call to the service owning it.
async fn forward(backends: Backends, request: axum::extract::Request) -> Response {
    let path = request.uri().path().to_owned();
    if !aerie_proto::is_public_call(&path) {
        return status(tonic::Status::unimplemented(format!(
            "{path} is not served on the public gRPC endpoint"
        )));
    }
    let Some(channel) = backends.for_path(&path) else {
        return status(tonic::Status::unimplemented(format!(
            "{path} has no service behind it"
        )));
    };
    let (mut parts, body) = request.into_parts();
    // Only the gateway vouches with the internal credential, and only for
    // the client address of a sign-in.
    parts
        .headers
        .remove(aerie_common::audit::SERVICE_TOKEN_HEADER);
    if path == ISSUE_TOKEN {
        let peer = parts
            .extensions
            .get::<tonic::transport::server::TcpConnectInfo>()
            .and_then(|info| info.remote_addr())
            .unwrap_or(SocketAddr::from(([0, 0, 0, 0], 0)));
        let forwarded = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect::<Vec<_>>()
            .join(",");
        let client = backends.trusted_proxies.client_ip(
            peer.ip(),
            Some(forwarded.as_str()).filter(|f| !f.is_empty()),
        );
        if let (Ok(client), Ok(token)) =
            (client.to_string().parse(), backends.service_token.parse())
        {
            parts.headers.insert("x-forwarded-for", client);
            parts
                .headers
                .insert(aerie_common::audit::SERVICE_TOKEN_HEADER, token);
        }
    } else {
        parts.headers.remove("x-forwarded-for");
    }
    let request = http::Request::from_parts(parts, tonic::body::Body::new(body));
    match channel.oneshot(request).await {
        Ok(response) => response.map(axum::body::Body::new),
        Err(err) => status(tonic::Status::unavailable(format!(
            "{path}: the service is unreachable: {err}"
        ))),
    }
}

fn status(status: tonic::Status) -> Response {
    status.into_http::<axum::body::Body>()
}
