//! Tower layer for gRPC servers: every call except the public ones (token
//! issuing, JWKS, health, reflection) must carry a valid bearer credential;
//! the verified [`Caller`] goes into the request extensions.

use std::sync::Arc;
use std::task::{Context, Poll};

use tonic::Status;

use super::TokenVerifier;

/// gRPC paths callable without a credential.
const PUBLIC_PREFIXES: &[&str] = &[
    "/aerie.auth.v1.AuthService/IssueToken",
    "/aerie.auth.v1.AuthService/GetJwks",
    // Asked while verifying a token, so it cannot need one.
    "/aerie.auth.internal.v1.AuthInternalService/CheckTokenRevoked",
    // The token in the body is the credential.
    "/aerie.auth.internal.v1.AuthInternalService/AuthenticateApiToken",
    // Checked against the internal service credential by their handlers.
    "/aerie.auth.internal.v1.AuthInternalService/RecordAuditEntries",
    "/aerie.auth.internal.v1.AuthInternalService/WatchAccessChanges",
    "/aerie.flow.internal.v1.",
    "/aerie.tenant.internal.v1.",
    "/aerie.transfer.internal.v1.",
    // The webhook key in the request is the credential.
    "/aerie.execution.v1.WebhookService/",
    "/grpc.health.v1.Health/",
    "/grpc.reflection.v1.ServerReflection/",
    "/grpc.reflection.v1alpha.ServerReflection/",
];

/// Whether a gRPC path needs no credential.
pub fn is_public(path: &str) -> bool {
    PUBLIC_PREFIXES
        .iter()
        .any(|prefix| path.starts_with(prefix))
}

/// Authenticates every non-public gRPC call.
#[derive(Clone)]
pub struct AuthLayer {
    verifier: Arc<TokenVerifier>,
}

impl AuthLayer {
    pub fn new(verifier: Arc<TokenVerifier>) -> AuthLayer {
        AuthLayer { verifier }
    }
}

impl<S> tower::Layer<S> for AuthLayer {
    type Service = AuthMiddleware<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthMiddleware {
            inner,
            verifier: self.verifier.clone(),
        }
    }
}

/// The service [`AuthLayer`] wraps around a gRPC router.
#[derive(Clone)]
pub struct AuthMiddleware<S> {
    inner: S,
    verifier: Arc<TokenVerifier>,
}

impl<S, B> tower::Service<http::Request<B>> for AuthMiddleware<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<tonic::body::Body>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = crate::BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        // The clone is the one polled ready; keep it and leave a fresh clone behind.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        if is_public(request.uri().path()) {
            return Box::pin(inner.call(request));
        }
        let verifier = self.verifier.clone();
        Box::pin(async move {
            let header = request.headers().get(http::header::AUTHORIZATION).map(|v| {
                v.to_str()
                    .map_err(|_| Status::unauthenticated("authorization must be ASCII"))
            });
            let authenticated = match header.transpose() {
                Ok(value) => verifier.authenticate(value).await,
                Err(status) => Err(status),
            };
            match authenticated {
                Ok(caller) => {
                    request.extensions_mut().insert(caller);
                    inner.call(request).await
                }
                Err(status) => Ok(status.into_http()),
            }
        })
    }
}
