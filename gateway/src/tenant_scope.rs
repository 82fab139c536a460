//! Tenant resolution from the URL, written once for every tenant-scoped
//! route: `/api/v1/{tenant}/...` names a tenant, `/api/v1/...` the default
//! tenant. Which of the two forms exist follows `aerie.tenants.*`:
//!
//! | enabled | default-tenant | `/api/v1/{tenant}/...` | `/api/v1/...` |
//! |---|---|---|---|
//! | false | any | absent (404) | default tenant |
//! | true | true | named tenant | default tenant |
//! | true | false | named tenant | 404, says the default tenant is disabled |
//!
//! An unknown, deleted, invisible or malformed tenant answers 404 naming
//! it. Handlers read the result with the [`Tenant`] extractor and forward
//! it as `x-aerie-tenant` together with the caller's credential.

use std::collections::HashMap;

use aerie_common::TenantId;
use aerie_common::auth::Caller;
use axum::Router;
use axum::extract::{FromRequestParts, Path, Request, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::middleware::{self, Next};
use axum::response::Response;

use crate::error::ApiError;
use crate::state::AppState;

/// The tenant a request was resolved to, and the caller acting in it.
#[derive(Debug, Clone)]
pub struct Tenant {
    pub id: TenantId,
    pub caller: Caller,
}

impl Tenant {
    /// A gRPC request in this tenant on the caller's behalf: the message
    /// plus `authorization` and `x-aerie-tenant` (absent for the default tenant).
    pub fn request<T>(&self, message: T) -> tonic::Request<T> {
        self.caller.request(message, Some(&self.id))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Tenant {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Tenant>().cloned().ok_or_else(|| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "route is not mounted behind tenant resolution",
            )
        })
    }
}

/// Mounts `routes` (paths relative to the tenant, e.g. `/flows/{namespace}`)
/// under the URL forms that the configuration allows, each behind
/// resolution of its tenant.
pub fn mount(routes: Router<AppState>, state: &AppState) -> Router<AppState> {
    if !routes.has_routes() {
        return Router::new();
    }
    let policy = state.directory.policy();
    let mut router = Router::new().nest(
        "/api/v1",
        routes.clone().route_layer(middleware::from_fn_with_state(
            state.clone(),
            default_tenant,
        )),
    );
    if policy.multi_tenancy {
        router = router.nest(
            "/api/v1/{tenant}",
            routes.route_layer(middleware::from_fn_with_state(state.clone(), named_tenant)),
        );
    }
    router
}

async fn default_tenant(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    resolve(&state, TenantId::default_tenant(), request, next).await
}

async fn named_tenant(
    State(state): State<AppState>,
    Path(params): Path<HashMap<String, String>>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let segment = params.get("tenant").map(String::as_str).unwrap_or_default();
    // A malformed id cannot name an existing tenant: same answer as unknown.
    let tenant = TenantId::parse(segment).map_err(|_| {
        let shown: String = segment.chars().take(100).collect();
        ApiError::new(StatusCode::NOT_FOUND, format!("tenant '{shown}' not found"))
    })?;
    resolve(&state, tenant, request, next).await
}

async fn resolve(
    state: &AppState,
    tenant: TenantId,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let caller = request
        .extensions()
        .get::<Caller>()
        .cloned()
        .ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "authentication required"))?;
    state.directory.resolve(&tenant, &caller).await?;
    request
        .extensions_mut()
        .insert(Tenant { id: tenant, caller });
    Ok(next.run(request).await)
}
