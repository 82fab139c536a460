//! Authentication and authorization, enforced the same way by the gateway
//! and by every service: a verified caller per request, and one call for
//! handlers to authorize an action in the request's tenant.

pub mod access;
pub mod guard;
pub mod jwt_crypto;
pub mod layer;
pub mod permission;
pub mod token;

use std::sync::Arc;

use tonic::Status;
use tonic::metadata::MetadataValue;

pub use access::{AccessClient, NamespaceScope};
pub use guard::{Call, TenantGuard};
pub use layer::AuthLayer;
pub use permission::{Action, Grant, Permission};
pub use token::{Claims, TokenVerifier};

use crate::tenant::{TENANT_HEADER, TenantId};

/// Issuer of every Aerie access token.
pub const ISSUER: &str = "aerie";
/// Audience of every Aerie access token.
pub const AUDIENCE: &str = "aerie-api";
/// The only signing algorithm accepted (Ed25519).
pub const ALGORITHM: jsonwebtoken::Algorithm = jsonwebtoken::Algorithm::EdDSA;
/// Prefix of service-account API tokens, which are opaque, not JWTs.
pub const API_TOKEN_PREFIX: &str = "aerie_";
/// What kind of principal is calling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrincipalKind {
    User,
    ServiceAccount,
}

impl PrincipalKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PrincipalKind::User => "USER",
            PrincipalKind::ServiceAccount => "SERVICE_ACCOUNT",
        }
    }
}

/// A verified caller: who it is and the credential to forward on its behalf.
#[derive(Clone)]
pub struct Caller {
    pub kind: PrincipalKind,
    /// The user id or service-account id.
    pub id: Arc<str>,
    /// The username or service-account name.
    pub name: Arc<str>,
    /// The `authorization` value this caller sent, forwarded as is.
    bearer: Arc<str>,
}

impl std::fmt::Debug for Caller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Caller")
            .field("kind", &self.kind)
            .field("id", &self.id)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Caller {
    pub fn new(kind: PrincipalKind, id: &str, name: &str, bearer: &str) -> Caller {
        Caller {
            kind,
            id: Arc::from(id),
            name: Arc::from(name),
            bearer: Arc::from(bearer),
        }
    }

    /// A gRPC request on this caller's behalf: the message plus its
    /// `authorization`, and `x-aerie-tenant` when a tenant is given.
    pub fn request<T>(&self, message: T, tenant: Option<&TenantId>) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        self.decorate(request.metadata_mut(), tenant);
        request
    }

    /// Adds this caller's credential (and the tenant) to outgoing metadata.
    pub fn decorate(&self, metadata: &mut tonic::metadata::MetadataMap, tenant: Option<&TenantId>) {
        if let Ok(value) = MetadataValue::try_from(&*self.bearer) {
            metadata.insert("authorization", value);
        }
        if let Some(id) = tenant.and_then(TenantId::as_named)
            && let Ok(value) = MetadataValue::try_from(id)
        {
            metadata.insert(TENANT_HEADER, value);
        }
    }
}

/// A verifier fetching keys from the configured auth endpoint, told of
/// changes by the process's [`ChangeWatch`](crate::changes::ChangeWatch).
pub fn verifier_for(
    config: &crate::config::Config,
) -> Result<Arc<TokenVerifier>, Box<dyn std::error::Error + Send + Sync>> {
    let channel = crate::grpc::lazy_channel(&config.auth_endpoint())?;
    let watch = crate::changes::ChangeWatch::for_config(config)?;
    Ok(Arc::new(TokenVerifier::new(channel, &watch)))
}

/// The caller the auth layer verified for this gRPC request.
pub fn caller_of<T>(request: &tonic::Request<T>) -> Result<Caller, Status> {
    request
        .extensions()
        .get::<Caller>()
        .cloned()
        .ok_or_else(|| Status::unauthenticated("authentication required"))
}
