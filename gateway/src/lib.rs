//! The REST gateway: resolves the tenant from the URL, forwards gRPC to the
//! services, maps errors to JSON and serves the OpenAPI document of exactly
//! the routes it serves.

pub mod access;
pub mod authn;
pub mod error;
pub mod grpc_proxy;
pub mod routes;
pub mod state;
pub mod tenant_scope;
pub mod ui;

use std::sync::Arc;

use aerie_common::config::Config;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router, middleware};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_http::limit::RequestBodyLimitLayer;
use utoipa::openapi::{InfoBuilder, OpenApi};
use utoipa_axum::router::OpenApiRouter;

use crate::error::ApiError;
pub use crate::state::AppState;

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
    doc.merge(routes::executions::webhooks::documentation(
        policy.multi_tenancy,
    ));
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
        .layer(middleware::from_fn_with_state(limit, access::observe))
        .with_state(state)
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
