//! The REST gateway: resolves the tenant from the URL, forwards gRPC to the
//! services, maps errors to JSON and serves the OpenAPI document of exactly
//! the routes it serves.

pub mod authn;
pub mod error;
pub mod grpc_proxy;
pub mod routes;
pub mod state;
pub mod tenant_scope;
pub mod ui;

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
    document_common_errors(&mut doc);
    complete_document(&mut doc);
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
        .merge(ui::routes(&state))
        .route(
            "/api/v1/openapi.json",
            get(move || async move { Json(doc.as_ref().clone()) }),
        )
        .fallback(|uri: axum::http::Uri| async move {
            if ui::is_ui_path(uri.path()) {
                ui::secured(ui::UiError::new(StatusCode::NOT_FOUND, "no such page").into_response())
            } else {
                ApiError::new(StatusCode::NOT_FOUND, "no such route").into_response()
            }
        })
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

/// Tenant-scoped paths are documented once per URL form that exists; the
/// `{tenant}` form declares its path parameter and has operation ids of its
/// own.
fn add_tenant_forms(doc: &mut OpenApi, mut scoped: OpenApi, multi_tenancy: bool) {
    use utoipa::openapi::path::{ParameterBuilder, ParameterIn};
    use utoipa::openapi::{ObjectBuilder, Required, Type};
    let paths = std::mem::take(&mut scoped.paths.paths);
    doc.merge(scoped);
    for (path, item) in paths {
        if multi_tenancy {
            let mut named = item.clone();
            for operation in operations(&mut named) {
                let tenant = ParameterBuilder::new()
                    .name("tenant")
                    .parameter_in(ParameterIn::Path)
                    .required(Required::True)
                    .description(Some("the tenant id"))
                    .schema(Some(
                        ObjectBuilder::new()
                            .schema_type(Type::String)
                            .pattern(Some("^[a-z0-9][a-z0-9_-]{0,99}$")),
                    ))
                    .build();
                operation
                    .parameters
                    .get_or_insert_with(Vec::new)
                    .insert(0, tenant.into());
                if let Some(id) = &mut operation.operation_id {
                    id.push_str("_in_tenant");
                }
            }
            doc.paths
                .paths
                .insert(format!("/api/v1/{{tenant}}{path}"), named);
        }
        doc.paths.paths.insert(format!("/api/v1{path}"), item);
    }
}

/// The operations of a path item.
fn operations(
    item: &mut utoipa::openapi::PathItem,
) -> impl Iterator<Item = &mut utoipa::openapi::path::Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.patch,
    ]
    .into_iter()
    .flatten()
}

/// What a valid OpenAPI 3.1 document needs beyond the routes' own
/// annotations: unique operation ids (handlers of different modules share
/// names), a description on every response, and the bearer scheme every
/// route but the public ones requires.
fn complete_document(doc: &mut OpenApi) {
    use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityRequirement, SecurityScheme};
    const PUBLIC: &[&str] = &["/api/v1/auths/token", "/health", "/.well-known/jwks.json"];
    let mut seen = std::collections::HashSet::new();
    for (path, item) in doc.paths.paths.iter_mut() {
        let public = PUBLIC.contains(&path.as_str());
        for operation in operations(item) {
            if let Some(id) = &mut operation.operation_id {
                let tag = operation
                    .tags
                    .as_ref()
                    .and_then(|t| t.first())
                    .cloned()
                    .unwrap_or_default();
                if !seen.insert(id.clone()) {
                    *id = format!("{tag}_{id}");
                    let mut n = 2;
                    while !seen.insert(id.clone()) {
                        *id = format!("{tag}_{id}_{n}");
                        n += 1;
                    }
                }
            }
            for (code, response) in operation.responses.responses.iter_mut() {
                if let utoipa::openapi::RefOr::T(response) = response
                    && response.description.is_empty()
                {
                    response.description = code
                        .parse::<u16>()
                        .ok()
                        .and_then(|c| StatusCode::from_u16(c).ok())
                        .and_then(|c| c.canonical_reason())
                        .unwrap_or("response")
                        .to_owned();
                }
            }
            if public {
                operation.security = Some(vec![SecurityRequirement::default()]);
            }
        }
    }
    let mut bearer = Http::new(HttpAuthScheme::Bearer);
    bearer.description = Some(
        "an access token from POST /api/v1/auths/token, or a service account's API token"
            .to_owned(),
    );
    doc.components
        .get_or_insert_with(Default::default)
        .add_security_scheme("bearer", SecurityScheme::Http(bearer));
    doc.security = Some(vec![SecurityRequirement::new(
        "bearer",
        Vec::<String>::new(),
    )]);
}

/// The errors any route may answer, documented on every operation that
/// does not document them itself: they are all `{"message"}`.
fn document_common_errors(doc: &mut OpenApi) {
    use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
    let common: &[(&str, &str, bool)] = &[
        ("400", "malformed request (query, path or body)", false),
        ("401", "no, an expired or a forged credential", false),
        ("403", "the caller may not do this", false),
        (
            "404",
            "no such resource, or a tenant the caller cannot use",
            false,
        ),
        ("413", "request body too large", true),
        ("415", "wrong Content-Type for the body", true),
        ("422", "invalid value, naming the field", false),
        ("429", "too many requests; see Retry-After", false),
        ("503", "a backend service is unavailable; retry", false),
    ];
    for item in doc.paths.paths.values_mut() {
        for operation in operations(item) {
            let has_body = operation.request_body.is_some();
            for (code, description, body_only) in common {
                if *body_only && !has_body {
                    continue;
                }
                operation
                    .responses
                    .responses
                    .entry((*code).to_owned())
                    .or_insert_with(|| {
                        ResponseBuilder::new()
                            .description(*description)
                            .content(
                                "application/json",
                                ContentBuilder::new()
                                    .schema(Some(Ref::from_schema_name("ErrorBody")))
                                    .build(),
                            )
                            .build()
                            .into()
                    });
            }
        }
    }
}

/// Errors made outside our handlers (405, 413, axum's own) become
/// `{"message"}` like every other error.
async fn json_errors(response: Response, body_limit: usize) -> Response {
    use http_body_util::BodyExt;
    let status = response.status();
    // JSON errors are the API's; HTML ones are the UI's pages.
    let shaped = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| {
            v.as_bytes().starts_with(b"application/json") || v.as_bytes().starts_with(b"text/html")
        });
    if !(status.is_client_error() || status.is_server_error()) || shaped {
        return response;
    }
    let allow = response.headers().get(header::ALLOW).cloned();
    // axum's rejections say what was wrong in plain text ("unknown field
    // `x`"); keep that, bounded, instead of a bare reason phrase.
    let said = http_body_util::Limited::new(response.into_body(), 4096)
        .collect()
        .await
        .ok()
        .and_then(|body| String::from_utf8(body.to_bytes().to_vec()).ok())
        .map(|text| text.trim().to_owned())
        .filter(|text| !text.is_empty());
    let message = match (status, said) {
        (StatusCode::PAYLOAD_TOO_LARGE, _) => {
            format!("request body is too large: at most {body_limit} bytes")
        }
        (StatusCode::METHOD_NOT_ALLOWED, _) => "method not allowed on this route".to_owned(),
        (_, Some(said)) => said,
        (other, None) => other
            .canonical_reason()
            .unwrap_or("request failed")
            .to_lowercase(),
    };
    let mut json = ApiError::new(status, message).into_response();
    if let Some(allow) = allow {
        json.headers_mut().insert(header::ALLOW, allow);
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
