//! Authentication at the edge: every route except the public ones needs a
//! valid bearer token; the verified caller goes into the request for
//! handlers ([`Authenticated`]) and is forwarded to the services, which
//! verify it again.

use aerie_common::auth::Caller;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::state::AppState;

/// Paths served without a token.
const PUBLIC_PATHS: &[&str] = &[
    "/health",
    "/api/v1/openapi.json",
    "/.well-known/jwks.json",
    "/api/v1/auths/token",
];

/// The verified caller of this request.
#[derive(Debug, Clone)]
pub struct Authenticated(pub Caller);

impl<S: Send + Sync> FromRequestParts<S> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .map(Authenticated)
            .ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "authentication required"))
    }
}

/// Middleware: verifies the bearer token of every non-public request.
pub async fn authenticate(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    // The UI authenticates by its own session cookie.
    if PUBLIC_PATHS.contains(&path)
        || crate::routes::executions::webhooks::is_webhook_path(path)
        || crate::ui::is_ui_path(path)
    {
        return next.run(request).await;
    }
    let header = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    match state.verifier.authenticate(header).await {
        Ok(caller) => {
            request.extensions_mut().insert(caller);
            next.run(request).await
        }
        Err(status) => {
            let mut response = ApiError::from(status).into_response();
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            response
        }
    }
}
