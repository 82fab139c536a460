//! The REST gateway: resolves the tenant from the URL, forwards gRPC to the
//! services, maps errors to JSON and serves the OpenAPI document of exactly
//! the routes it serves.

pub mod authn;
pub mod error;
pub mod routes;
pub mod state;
pub mod tenant_scope;

use std::sync::Arc;

use aerie_common::config::Config;
use axum::body::Body;
use axum::extract::DefaultBodyLimit;
use axum::extract::MatchedPath;
use axum::http::{Method, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router, middleware};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;
use utoipa::openapi::{InfoBuilder, OpenApi};
use utoipa_axum::router::OpenApiRouter;

use crate::error::ApiError;
pub use crate::state::AppState;

/// Header carrying the request id, set when the caller sends none.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The gateway with every route Aerie serves.
pub fn app(state: AppState) -> Router {
    let scoped = routes::rbac::routes()
        .merge(routes::audit::routes())
        .merge(routes::flows::routes())
        .merge(routes::namespaces::routes())
        .merge(routes::triggers::routes())
        .merge(routes::executions::routes());
    app_with_scoped_routes(state, scoped)
}

/// The gateway, with `scoped` (paths relative to the tenant) mounted behind
/// tenant resolution under the URL forms the configuration allows.
pub fn app_with_scoped_routes(state: AppState, scoped: OpenApiRouter<AppState>) -> Router {
    let policy = state.directory.policy();
    let mut api = OpenApiRouter::new()
        .merge(routes::meta::routes())
        .merge(routes::auth::routes())
        .merge(routes::users::routes());
    if policy.multi_tenancy {
        api = api.merge(routes::tenants::routes());
    }
    let (router, mut doc) = api.split_for_parts();
    let (scoped, scoped_doc) = scoped.split_for_parts();
    add_tenant_forms(&mut doc, scoped_doc, policy.multi_tenancy);
    doc.info = InfoBuilder::new()
        .title("Aerie")
        .version(env!("CARGO_PKG_VERSION"))
        .description(Some("Multi-tenant workflow orchestration control plane"))
        .build();
    let doc = Arc::new(doc);

    let limit = state.max_request_size;
    router
        .merge(tenant_scope::mount(scoped, &state))
        .merge(routes::executions::webhooks::routes(policy.multi_tenancy))
        .route(
            "/api/v1/openapi.json",
            get(move || async move { Json(doc.as_ref().clone()) }),
        )
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "no such route") })
        .layer(middleware::from_fn_with_state(
            state.clone(),
            authn::authenticate,
        ))
        .layer(DefaultBodyLimit::max(limit))
        .layer(RequestBodyLimitLayer::new(limit))
        .layer(middleware::map_response(move |response| {
            json_errors(response, limit)
        }))
        .layer(middleware::from_fn(record_metrics))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &Request<Body>| {
                    let id = request
                        .headers()
                        .get(REQUEST_ID_HEADER)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("-");
                    let name = format!(
                        "{} {}",
                        method_label(request.method()),
                        route_label(request)
                    );
                    let span = tracing::info_span!(
                        "http",
                        otel.name = %name,
                        otel.kind = "server",
                        method = %request.method(),
                        uri = %routes::executions::webhooks::loggable_uri(request.uri()),
                        request_id = %id,
                    );
                    // A caller's `traceparent` makes this request part of its trace.
                    aerie_common::telemetry::extract(request.headers(), &span);
                    span
                })
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .with_state(state)
}

/// The route template a request matched (`/api/v1/{tenant}/flows/{namespace}/{id}`),
/// never its raw path: ids would make metric labels unbounded.
fn route_label<B>(request: &Request<B>) -> &str {
    request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
}

/// Standard methods by name; anything else is one label.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

/// Counts and times every request by method, route template and status.
async fn record_metrics(request: Request<Body>, next: middleware::Next) -> Response {
    let method = method_label(request.method());
    let route = route_label(&request).to_owned();
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    aerie_common::metrics::instruments().http_request(
        method,
        &route,
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

/// Tenant-scoped paths are documented once per URL form that exists.
fn add_tenant_forms(doc: &mut OpenApi, mut scoped: OpenApi, multi_tenancy: bool) {
    let paths = std::mem::take(&mut scoped.paths.paths);
    doc.merge(scoped);
    for (path, item) in paths {
        if multi_tenancy {
            doc.paths
                .paths
                .insert(format!("/api/v1/{{tenant}}{path}"), item.clone());
        }
        doc.paths.paths.insert(format!("/api/v1{path}"), item);
    }
}

/// Errors made outside our handlers (405, 413, axum's own) become
/// `{"message"}` like every other error.
async fn json_errors(response: Response, body_limit: usize) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let message = match status {
        StatusCode::PAYLOAD_TOO_LARGE => {
            format!("request body is too large: at most {body_limit} bytes")
        }
        StatusCode::METHOD_NOT_ALLOWED => "method not allowed on this route".to_owned(),
        other => other
            .canonical_reason()
            .unwrap_or("request failed")
            .to_lowercase(),
    };
    let mut json = ApiError::new(status, message).into_response();
    if let Some(allow) = response.headers().get(header::ALLOW) {
        json.headers_mut().insert(header::ALLOW, allow.clone());
    }
    json
}

/// Runs the gateway on `listener` until `shutdown`.
pub async fn serve(
    config: &Config,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let state = AppState::new(config)?;
    let app = app(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    // Small JSON answers must not wait for delayed ACKs.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        if let Err(err) = tcp.set_nodelay(true) {
            tracing::debug!(%err, "cannot set TCP_NODELAY");
        }
    });
    axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await?;
    Ok(())
}
