//! The tenant as a type, and how it travels between processes.
//!
//! A [`TenantId`] is either a valid tenant id or the default tenant (Kestra's
//! null tenant); no other value can be built, so code that holds one never
//! re-validates it. It travels in the `x-aerie-tenant` gRPC metadata entry
//! (absent means the default tenant); [`TenantLayer`] parses that entry once
//! per request and puts the result into the request extensions.

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use serde::{Serialize, Serializer};
use tonic::Status;

/// The metadata / HTTP header that names the tenant of a call.
pub const TENANT_HEADER: &str = "x-aerie-tenant";

/// How the default tenant is stored: a real, non-null key that no valid
/// tenant id can equal (ids never start with `_`), so uniqueness constraints
/// hold for the default tenant too.
const DEFAULT_STORAGE_KEY: &str = "_default";

/// Longest tenant id.
pub const MAX_TENANT_ID_LEN: usize = 100;

/// First path segments of the REST API that a tenant id can never be, or
/// `/api/v1/{tenant}/...` and `/api/v1/...` would be ambiguous.
pub const RESERVED_TENANT_IDS: &[&str] = &[
    "api",
    "apps",
    "auditlogs",
    "auths",
    "bindings",
    "blueprints",
    "configs",
    "dashboards",
    "default",
    "executions",
    "files",
    "flows",
    "groups",
    "health",
    "kv",
    "logs",
    "me",
    "metrics",
    "namespaces",
    "null",
    "openapi.json",
    "plugins",
    "roles",
    "secrets",
    "security",
    "service-accounts",
    "settings",
    "stats",
    "taskruns",
    "templates",
    "tenants",
    "triggers",
    "users",
    "webhooks",
];

/// A tenant: a valid named tenant or the default tenant, nothing else.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TenantId(Option<Arc<str>>);

/// Why a string is not a tenant id; the message says what is allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidTenantId {
    #[error("tenant id must not be empty")]
    Empty,
    #[error("tenant id '{0}' is longer than {MAX_TENANT_ID_LEN} characters")]
    TooLong(String),
    #[error("tenant id '{0}' must match ^[a-z0-9][a-z0-9_-]{{0,99}}$")]
    Syntax(String),
    #[error("tenant id '{0}' is reserved: it is a path segment of the API")]
    Reserved(String),
}

impl TenantId {
    /// The default tenant (no identifier).
    pub const fn default_tenant() -> Self {
        TenantId(None)
    }

    /// Parses a named tenant id: `^[a-z0-9][a-z0-9_-]{0,99}$`, not reserved.
    pub fn parse(id: &str) -> Result<Self, InvalidTenantId> {
        if id.is_empty() {
            return Err(InvalidTenantId::Empty);
        }
        if id.len() > MAX_TENANT_ID_LEN {
            // Cut what we echo back so that a huge id does not make a huge message.
            let shown: String = id.chars().take(20).collect();
            return Err(InvalidTenantId::TooLong(format!("{shown}...")));
        }
        let mut bytes = id.bytes();
        let first_ok = bytes
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        let rest_ok =
            bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if !first_ok || !rest_ok {
            return Err(InvalidTenantId::Syntax(id.to_owned()));
        }
        if RESERVED_TENANT_IDS.contains(&id) {
            return Err(InvalidTenantId::Reserved(id.to_owned()));
        }
        Ok(TenantId(Some(Arc::from(id))))
    }

    /// Reads the tenant of an `x-aerie-tenant` value: absent is the default tenant.
    pub fn from_header(value: Option<&str>) -> Result<Self, InvalidTenantId> {
        match value {
            None => Ok(Self::default_tenant()),
            Some(id) => Self::parse(id),
        }
    }

    /// Rebuilds a tenant from the key a repository stored.
    pub fn from_storage_key(key: &str) -> Result<Self, InvalidTenantId> {
        if key == DEFAULT_STORAGE_KEY {
            Ok(Self::default_tenant())
        } else {
            Self::parse(key)
        }
    }

    /// The non-null key under which repositories store this tenant's rows.
    pub fn storage_key(&self) -> &str {
        self.0.as_deref().unwrap_or(DEFAULT_STORAGE_KEY)
    }

    /// The id of a named tenant; `None` for the default tenant.
    pub fn as_named(&self) -> Option<&str> {
        self.0.as_deref()
    }

    /// True for the default tenant.
    pub fn is_default(&self) -> bool {
        self.0.is_none()
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Some(id) => write!(f, "'{id}'"),
            None => f.write_str("the default tenant"),
        }
    }
}

impl fmt::Debug for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Some(id) => write!(f, "TenantId({id})"),
            None => f.write_str("TenantId(<default>)"),
        }
    }
}

/// JSON shows the default tenant as `null`, like Kestra.
impl Serialize for TenantId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match &self.0 {
            Some(id) => serializer.serialize_str(id),
            None => serializer.serialize_none(),
        }
    }
}

/// Which tenants exist in URLs and calls, from `aerie.tenants.*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TenantPolicy {
    /// `aerie.tenants.enabled`: named tenants exist at all.
    pub multi_tenancy: bool,
    /// `aerie.tenants.default-tenant`: the default tenant is reachable.
    pub default_tenant: bool,
}

impl TenantPolicy {
    /// Whether this tenant may be addressed under this policy; the error
    /// says why not. Existence of a named tenant is checked elsewhere.
    pub fn admit(&self, tenant: &TenantId) -> Result<(), String> {
        match (tenant.is_default(), self.multi_tenancy, self.default_tenant) {
            (false, false, _) => Err(format!(
                "tenant {tenant} not found: multi-tenancy is disabled (aerie.tenants.enabled: false)"
            )),
            // With multi-tenancy off the default tenant holds everything, whatever
            // default-tenant says.
            (true, false, _) | (true, true, true) | (false, true, _) => Ok(()),
            (true, true, false) => Err(
                "the default tenant is disabled (aerie.tenants.default-tenant: false); \
                 use /api/v1/{tenant}/... or the x-aerie-tenant header"
                    .to_owned(),
            ),
        }
    }
}

/// Tower layer for gRPC servers: parses `x-aerie-tenant` once and stores the
/// [`TenantId`] in the request extensions; a malformed value answers
/// INVALID_ARGUMENT before any handler runs.
#[derive(Debug, Clone, Copy, Default)]
pub struct TenantLayer;

impl<S> tower::Layer<S> for TenantLayer {
    type Service = TenantMiddleware<S>;

    fn layer(&self, inner: S) -> Self::Service {
        TenantMiddleware { inner }
    }
}

/// The service [`TenantLayer`] wraps around a gRPC router.
#[derive(Debug, Clone)]
pub struct TenantMiddleware<S> {
    inner: S,
}

impl<S, B> tower::Service<http::Request<B>> for TenantMiddleware<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<tonic::body::Body>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = crate::BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        let parsed = match request.headers().get(TENANT_HEADER) {
            None => Ok(TenantId::default_tenant()),
            Some(raw) => match raw.to_str() {
                Ok(text) => TenantId::parse(text).map_err(|e| e.to_string()),
                Err(_) => Err(format!("{TENANT_HEADER} must be ASCII")),
            },
        };
        match parsed {
            Ok(tenant) => {
                request.extensions_mut().insert(tenant);
                let future = self.inner.call(request);
                Box::pin(future)
            }
            Err(message) => {
                let response = Status::invalid_argument(message).into_http();
                Box::pin(async move { Ok(response) })
            }
        }
    }
}

/// The tenant of this call, admitted by `policy` (NOT_FOUND otherwise).
pub fn scoped_tenant<T>(
    request: &tonic::Request<T>,
    policy: &TenantPolicy,
) -> Result<TenantId, Status> {
    let tenant = tenant_of(request)?;
    policy.admit(&tenant).map_err(Status::not_found)?;
    Ok(tenant)
}

/// The tenant [`TenantLayer`] stored for this call.
pub fn tenant_of<T>(request: &tonic::Request<T>) -> Result<TenantId, Status> {
    request
        .extensions()
        .get::<TenantId>()
        .cloned()
        .ok_or_else(|| Status::internal("tenant layer missing from this server"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_valid_ids() {
        for id in ["a", "stage", "prod-1", "team_a", "0", &"a".repeat(100)] {
            let tenant = TenantId::parse(id).expect(id);
            assert_eq!(tenant.as_named(), Some(id));
            assert_eq!(tenant.storage_key(), id);
        }
    }

    #[test]
    fn rejects_each_invalid_class() {
        assert_eq!(TenantId::parse(""), Err(InvalidTenantId::Empty));
        assert!(matches!(
            TenantId::parse(&"a".repeat(101)),
            Err(InvalidTenantId::TooLong(_))
        ));
        for bad in [
            "Stage", "-stage", "_stage", "st age", "stage.x", "é", "st/age",
        ] {
            assert!(
                matches!(TenantId::parse(bad), Err(InvalidTenantId::Syntax(_))),
                "{bad}"
            );
        }
        for reserved in ["tenants", "flows", "me", "health", "service-accounts"] {
            assert!(
                matches!(TenantId::parse(reserved), Err(InvalidTenantId::Reserved(_))),
                "{reserved}"
            );
        }
    }

    #[test]
    fn default_tenant_round_trips_through_storage_and_is_null_in_json() {
        let default = TenantId::default_tenant();
        assert_eq!(
            TenantId::from_storage_key(default.storage_key()),
            Ok(default.clone())
        );
        assert_eq!(serde_json::to_string(&default).expect("json"), "null");
        let named = TenantId::parse("stage").expect("valid");
        assert_eq!(serde_json::to_string(&named).expect("json"), "\"stage\"");
        assert_ne!(default.storage_key(), "");
        assert!(TenantId::parse(default.storage_key()).is_err());
    }

    #[test]
    fn policy_admits_per_mode() {
        let default = TenantId::default_tenant();
        let stage = TenantId::parse("stage").expect("valid");
        let off = TenantPolicy {
            multi_tenancy: false,
            default_tenant: false,
        };
        assert!(off.admit(&default).is_ok());
        assert!(off.admit(&stage).is_err());
        let both = TenantPolicy {
            multi_tenancy: true,
            default_tenant: true,
        };
        assert!(both.admit(&default).is_ok() && both.admit(&stage).is_ok());
        let named_only = TenantPolicy {
            multi_tenancy: true,
            default_tenant: false,
        };
        assert!(named_only.admit(&default).is_err());
        assert!(named_only.admit(&stage).is_ok());
    }
}
